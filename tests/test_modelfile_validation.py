"""Crafted model files (issue 16): files with a valid checksum whose content is hostile or
inconsistent are refused with one ModelFileError line naming the file and the member,
through load_model and the CLI; decompression bombs cost bounded memory; the same checks
guard trusted pickles and save_model; a structural fuzz re-signs mutated files."""

import hashlib
import io
import json
import struct
import subprocess
import sys
import warnings
import zlib

import joblib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trajhmm import HMMClassifier, ModelFileError, load_model, persistence, save_model
from trajhmm.cli import main

from conftest import FAST, ROOT

TYPES = [(ct, m) for m in (1, 2) for ct in ("spherical", "diag", "full", "tied")]
TYPE_IDS = [f"{ct}-mix{m}" for ct, m in TYPES]


# ------------------------------------------------------------------ helpers
def members(path):
    """The arrays of a safe model file (meta.json decoded to a dict)."""
    with np.load(io.BytesIO(path.read_bytes()[persistence._HEADER:])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["meta.json"] = json.loads(arrays["meta.json"].tobytes())
    return arrays


def sign(path, payload):
    path.write_bytes(persistence.MAGIC + hashlib.sha256(payload).digest() + payload)
    return path


def write_members(path, arrays):
    """Write arrays (meta.json as a dict) as an npz payload with a correct checksum."""
    arrays = dict(arrays)
    if isinstance(arrays.get("meta.json"), dict):
        arrays["meta.json"] = np.frombuffer(json.dumps(arrays["meta.json"]).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return sign(path, buf.getvalue())


def raw_zip(entries):
    """A zip archive from (name, data, method, crc, file_size) with data already stored
    or raw-deflated: full control over the sizes the directory declares."""
    out, directory = bytearray(), bytearray()
    for name, data, method, crc, size in entries:
        name = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(name), 0)
        out += name + data
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data),
                                 size, len(name), 0, 0, 0, 0, 0, offset) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), len(out), 0)
    return bytes(out + directory + end)


def npy_entry(name, arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    data = buf.getvalue()
    return (name + ".npy", data, 0, zlib.crc32(data), len(data))


def bomb_entry(name, shape, zeros, declared=None):
    """A deflated .npy member: a header for ``shape`` then ``zeros`` zero bytes (> 1 GB
    in a ~1 MB stream: identical blocks after full flushes, computed once)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(buf.getvalue()) + comp.flush(zlib.Z_FULL_FLUSH)
    chunk = 1 << 22
    block = comp.compress(bytes(chunk)) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = head + block * (zeros // chunk) + comp.flush()
    size = len(buf.getvalue()) + chunk * (zeros // chunk)
    return (name + ".npy", stream, 8, 0, size if declared is None else declared)


def bomb_file(path, arrays, member, shape, zeros, declared=None):
    entries = [npy_entry(k, np.frombuffer(json.dumps(v).encode(), dtype=np.uint8) if k == "meta.json" else v)
               for k, v in arrays.items() if k != member]
    entries.append(bomb_entry(member, shape, zeros, declared))
    return sign(path, raw_zip(entries))


def refused(path, *parts, **kwargs):
    with pytest.raises(ModelFileError) as info:
        load_model(path, **kwargs)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path)), text
    for part in parts:
        assert part in text, (part, text)
    return text


def cli_refuses(path, trajectory, capsys, *parts):
    code = main(["predict", str(path), str(trajectory)])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert err.startswith("trajhmm: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""
    for part in (str(path), *parts):
        assert part in err, (part, err)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def small(dataset):
    X, y = dataset
    keep = [i for i, label in enumerate(y) if label in ("reach_x", "wave")]
    return [X[i] for i in keep], y[keep]


@pytest.fixture(scope="module")
def models(tmp_path_factory, small):
    """One tiny fitted model per covariance type, Gaussian and mixture, without a prefix
    view (the class models' own checks), and one with it (key "view"): (clf, path)."""
    X, y = small
    root = tmp_path_factory.mktemp("models")
    out = {}
    params = {(ct, m): dict(covariance_type=ct, n_mix=m, prefix_view=False) for ct, m in TYPES}
    for key, kwargs in {**params, "view": {}}.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = HMMClassifier(**{**FAST, "n_iter": 5}, **kwargs).fit(X, y)
        path = root / ("view.npz" if key == "view" else "{}-{}.npz".format(*key))
        save_model(clf, path)
        out[key] = clf, path
    from trajhmm import HMMClassifierCV  # a format-2 file: the model search's members too

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = HMMClassifierCV(HMMClassifier(**{**FAST, "n_iter": 5}), {"n_states": [2, 3]}, cv=2).fit(X, y)
    save_model(clf, root / "cv.npz")
    out["cv"] = clf, root / "cv.npz"
    return out


@pytest.fixture(scope="module")
def trajectory(tmp_path_factory, small):
    path = tmp_path_factory.mktemp("traj") / "t.csv"
    np.savetxt(path, small[0][0], delimiter=",")
    return path


@pytest.fixture
def full(models):
    return models[("full", 1)][1]


def mutate(src, dst, change):
    arrays = members(src)
    change(arrays)
    return write_members(dst, arrays)


# ------------------------------------------------------------------ valid files
@pytest.mark.parametrize("kind", TYPES, ids=TYPE_IDS)
def test_valid_files_load_and_predict_the_same(models, small, kind):
    clf, path = models[kind]
    X, _ = small
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    # a re-signed copy with nothing changed loads too (the helpers are faithful)
    copy = mutate(path, path.with_name(f"copy-{path.name}"), lambda a: None)
    np.testing.assert_array_equal(load_model(copy).predict_proba(X), clf.predict_proba(X))


# ------------------------------------------------------------------ shapes and dtypes
def _array_members(arrays):
    return sorted(k for k in arrays if k != "meta.json" and not k.startswith(("model1.", "history1")))


@pytest.mark.parametrize("kind", TYPES, ids=TYPE_IDS)
def test_every_member_with_a_bad_shape_is_refused(models, kind, tmp_path, trajectory, capsys):
    """One element more, one axis more, and an empty array: every array kind, every
    covariance type; the error names the member."""
    path = models[kind][1]
    arrays = members(path)
    for name in _array_members(arrays):
        a = arrays[name]
        for bad in (np.concatenate([a, a[:1]]), a[None], a[:0]):
            out = mutate(path, tmp_path / "bad.npz", lambda m, n=name, b=bad: m.update({n: b}))
            refused(out, f": {name}: ")
    cli_refuses(out, trajectory, capsys, name)


def test_covariances_in_another_layout_are_refused(models, tmp_path):
    """The covars of one covariance type in a file of another (shapes the issue saw load)."""
    for kind in TYPES:
        path = models[kind][1]
        for other in TYPES:
            covars = members(models[other][1])["model0.covars"]
            if covars.shape != members(path)["model0.covars"].shape:
                out = mutate(path, tmp_path / "bad.npz", lambda m, c=covars: m.update({"model0.covars": c}))
                refused(out, ": model0.covars: expected shape")


def test_means_of_another_width_are_refused(full, tmp_path, trajectory, capsys):
    out = mutate(full, tmp_path / "bad.npz", lambda m: m.update({"model0.means": m["model0.means"][:, :-1]}))
    refused(out, "model0.means: expected shape (4, 6), got (4, 5)")
    cli_refuses(out, trajectory, capsys, "model0.means")


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.complex128, "U3", object])
def test_wrong_dtypes_are_refused(full, tmp_path, dtype):
    for name in ("model0.covars", "feature_scale_", "class_prior_"):
        def change(m, n=name):
            m[n] = m[n].astype(dtype)

        arrays = members(full)
        change(arrays)
        arrays["meta.json"] = np.frombuffer(json.dumps(arrays["meta.json"]).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # object arrays are pickled into the member
        refused(sign(tmp_path / "bad.npz", buf.getvalue()), f": {name}: expected float64, got dtype")
    out = mutate(full, tmp_path / "bad.npz", lambda m: m.update(feature_mask_=m["feature_mask_"].astype(float)))
    refused(out, "feature_mask_: expected bool")


def test_missing_extra_and_foreign_members(full, tmp_path, trajectory, capsys):
    out = mutate(full, tmp_path / "bad.npz", lambda m: m.pop("model1.transmat"))
    refused(out, "model1.transmat: missing member")
    cli_refuses(out, trajectory, capsys, "model1.transmat: missing member")
    out = mutate(full, tmp_path / "bad.npz", lambda m: m.update(extra=np.zeros(3)))
    refused(out, "extra: unexpected member")
    out = mutate(full, tmp_path / "bad.npz", lambda m: m.update({"model2.startprob": m["model0.startprob"]}))
    refused(out, "model2.startprob: unexpected member")
    arrays = members(full)
    entries = [npy_entry(k, np.frombuffer(json.dumps(v).encode(), dtype=np.uint8) if k == "meta.json" else v)
               for k, v in arrays.items()]
    refused(sign(tmp_path / "dup.npz", raw_zip(entries + [entries[3]])), "duplicate member")
    notes = ("notes.txt", b"hello", 0, zlib.crc32(b"hello"), 5)
    refused(sign(tmp_path / "txt.npz", raw_zip(entries + [notes])), "notes.txt: unexpected member")


# ------------------------------------------------------------------ values
def _float_members(arrays):
    return [k for k in _array_members(arrays) if arrays[k].dtype.kind == "f"]


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_in_any_float_member_is_refused(models, tmp_path, value, trajectory, capsys):
    for kind in [("full", 1), ("diag", 2)]:
        path = models[kind][1]
        for name in _float_members(members(path)):
            def change(m, n=name):
                m[n] = m[n].copy()
                m[n].flat[0] = value

            if name == "rejection_threshold_" and value == -np.inf:
                # -inf is "rejection off", but only as the one pooled threshold of every class
                refused(mutate(path, tmp_path / "bad.npz", change), f": {name}: expected one pooled threshold")
                continue
            if name == "likelihood_threshold_" and value == -np.inf:
                # -inf is "no far-out test", but only with rejection off (both from one calibration)
                refused(mutate(path, tmp_path / "bad.npz", change), f": {name}: expected -inf exactly when")
                continue
            if name == "stream_threshold_" and np.isnan(value):
                continue  # NaN: no stream threshold fitted, streams use -0.5 (test_streaming.py)
            refused(mutate(path, tmp_path / "bad.npz", change), f": {name}: non-finite value")
    bad = mutate(path, tmp_path / "bad.npz", lambda m: m.update(covariance_floor_=np.full_like(m["covariance_floor_"], value)))
    cli_refuses(bad, trajectory, capsys, "non-finite value")


def test_rejection_off_is_a_threshold_of_minus_infinity_for_every_class(models, tmp_path, small):
    path = models[("full", 1)][1]

    def change(m):
        m["rejection_threshold_"] = np.full_like(m["rejection_threshold_"], -np.inf)
        m["likelihood_threshold_"] = np.full_like(m["likelihood_threshold_"], -np.inf)  # (off together)

    loaded = load_model(mutate(path, tmp_path / "off.npz", change))
    assert not loaded.is_unknown(small[0]).any()


@pytest.mark.parametrize("kind", TYPES, ids=TYPE_IDS)
def test_non_positive_definite_covariances_of_every_type(models, kind, tmp_path, small, trajectory, capsys):
    """Negative, zero, below the floor, and (full/tied) indefinite with a positive
    diagonal: all refused, through the API and the CLI; a covariance above the floor
    with a positive change still loads and predicts finite results."""
    path = models[kind][1]
    ct = kind[0]
    arrays = members(path)
    floor = arrays["covariance_floor_"]
    c = arrays["model0.covars"]
    F = len(floor)
    bads = []
    if ct in ("diag", "spherical"):
        for value in (-1.0, 0.0, 0.5 * floor.min()):
            b = c.copy()
            b[0] = value
            bads.append(b)
    else:
        mats = c.reshape(-1, F, F)
        for scale in (-1.0, 0.0, 0.5):
            b = mats.copy()
            b[0] = scale * np.diag(floor)
            bads.append(b.reshape(c.shape))
        b = mats.copy()  # positive diagonal, indefinite: a strong correlation beyond 1
        d = np.sqrt(np.diag(b[0]))
        b[0, 0, 1] = b[0, 1, 0] = 2 * d[0] * d[1]
        bads.append(b.reshape(c.shape))
        b = mats.copy()
        b[0, 0, 1] += 0.1 * np.sqrt(b[0, 0, 0] * b[0, 1, 1])  # not symmetric
        bads.append(b.reshape(c.shape))
    for b in bads:
        out = mutate(path, tmp_path / "bad.npz", lambda m, b=b: m.update({"model0.covars": b}))
        refused(out, "model0.covars: ")
    cli_refuses(out, trajectory, capsys, "model0.covars")
    out = mutate(path, tmp_path / "ok.npz", lambda m: m.update({"model0.covars": 2 * c}))
    assert np.isfinite(load_model(out).predict_proba(small[0])).all()


def test_probabilities_must_be_non_negative_and_sum_to_one(models, tmp_path):
    path = models[("diag", 2)][1]
    arrays = members(path)
    for name in ("model0.startprob", "model0.transmat", "model1.weights", "background.transmat", "class_prior_"):
        a = arrays[name]
        row = a.reshape(-1, a.shape[-1])
        neg = row.copy()
        neg[0, :2] = [-0.5, 1.5 - row[0, 2:].sum()]  # sums to 1, one negative value
        half = row * 0.5
        for bad in (neg.reshape(a.shape), half.reshape(a.shape)):
            refused(mutate(path, tmp_path / "bad.npz", lambda m, n=name, b=bad: m.update({n: b})), f": {name}: ")


def test_inconsistent_lengths_and_scales(full, tmp_path, trajectory, capsys):
    cases = {
        "history0": lambda m: m.update(history0=m["history0"][:-1]),
        "n_iter_": lambda m: m.update(n_iter_=np.zeros_like(m["n_iter_"])),
        "feature_mask_": lambda m: m["feature_mask_"].__setitem__(0, not m["feature_mask_"][0]),
        "feature_scale_": lambda m: m["feature_scale_"].__setitem__(0, 0.0),
        "feature_mean_": lambda m: m["feature_mean_"].__setitem__(0, 1e300),
        "covariance_floor_": lambda m: m["covariance_floor_"].__setitem__(0, -1.0),
        "class_count_": lambda m: m["class_count_"].__setitem__(0, 0),
        "classes_": lambda m: m.update(classes_=np.array([m["classes_"][0]] * 2)),
        "model1.means": lambda m: m["model1.means"].__setitem__((0, 0), 1e200),
    }
    for name, change in cases.items():
        def writable(m, change=change):
            for k, v in m.items():
                if isinstance(v, np.ndarray):
                    m[k] = v.copy()
            change(m)

        out = mutate(full, tmp_path / "bad.npz", writable)
        refused(out, f": {name}: ")
    cli_refuses(out, trajectory, capsys, "model1.means")
    neg = mutate(full, tmp_path / "neg.npz", lambda m: m.update(feature_scale_=-m["feature_scale_"]))
    refused(neg, "feature_scale_: expected scales in")


def test_inconsistent_json_is_refused(full, tmp_path, trajectory, capsys):
    cases = [
        (lambda p: p.update(n_classes=3), "model2.startprob: missing member"),
        (lambda p: p.update(n_classes=1), "n_classes: expected an integer >= 2"),
        (lambda p: p.update(n_features_in=2), "n_model_features=6 is more than the 4 resampled features"),
        (lambda p: p.update(n_model_features=5), "covariance_floor_: expected shape"),
        (lambda p: p.update(n_model_features=99), "n_model_features=99"),
        (lambda p: p.update(n_features_in="3"), "n_features_in: expected an integer"),
        (lambda p: p["params"].update(n_states=5), "class_end_states_: expected shape (2, 5), got (2, 4)"),
        (lambda p: p["params"].update(covariance_type="diag"), "model0.covars: expected shape"),
        (lambda p: p["params"].update(n_mix=2), "model0.weights: missing member"),
        (lambda p: p["params"].update(derivatives=2), "feature_mask_: expected shape"),
        (lambda p: p["params"].update(n_states=-1), "meta.json: params: n_states"),
        (lambda p: p["params"].update(bogus=1), "meta.json: params: "),
        (lambda p: p["params"].update(n_jobs="all"), "meta.json: params: n_jobs: expected an integer or"),
        (lambda p: p.update(params=[1, 2]), "meta.json: params: expected an object"),
    ]
    for change, part in cases:
        out = mutate(full, tmp_path / "bad.npz", lambda m, c=change: c(m["meta.json"]))
        refused(out, part)
    cli_refuses(out, trajectory, capsys, "meta.json")


# ------------------------------------------------------------------ sizes and bombs
def test_a_file_that_declares_an_enormous_model_is_refused_before_reading(full, tmp_path):
    def huge(m):
        m["meta.json"]["params"].update(n_states=10000, n_points=10000)  # the largest n_points allowed

    refused(mutate(full, tmp_path / "huge.npz", huge), "meta.json: declares a model of at least")
    refused(full, "meta.json: declares a model of at least", max_bytes=1000)
    with pytest.raises(ValueError, match="max_bytes"):
        load_model(full, max_bytes=0)


_BOMB = 1_100_000_000  # bytes of zeros: a loader that decompressed it would need > 1 GB

_MEASURE = """
import resource, sys
from trajhmm import ModelFileError, load_model
from trajhmm.cli import main
path, trajectory, max_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    load_model(path, max_bytes=max_bytes)
except ModelFileError as exc:
    print("refused:", exc)
else:
    print("LOADED")
print("cli exit", main(["predict", path, trajectory]))
print("peak_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


@pytest.mark.parametrize("case", ["shape", "declared", "lying"])
def test_decompression_bombs_cost_bounded_memory(full, tmp_path, trajectory, case):
    """feature_mean_ as > 1 GB of compressed zeros (a ~1 MB file): with a header shape to
    match and honest zip sizes ("shape"; refused by the byte cap, and with max_bytes raised
    by the shape check), with the right header shape but an honest > 1 GB declared size
    ("declared"), or with a zip entry that lies about its size ("lying": bounded read, then
    the CRC). Refused by load_model and the CLI in a fresh process whose peak RSS stays
    far below what decompressing would take."""
    arrays = members(full)
    D = arrays["feature_mean_"].shape
    if case == "shape":
        entry = dict(shape=(_BOMB // 8,), zeros=_BOMB)
    elif case == "declared":
        entry = dict(shape=D, zeros=_BOMB)
    else:
        entry = dict(shape=D, zeros=_BOMB, declared=128 + 8 * D[0])
    bomb = bomb_file(tmp_path / "bomb.npz", arrays, "feature_mean_", **entry)
    assert bomb.stat().st_size < 5_000_000
    for max_bytes in ([persistence.MAX_MODEL_BYTES] if case == "lying" else [persistence.MAX_MODEL_BYTES, 4 << 30]):
        proc = subprocess.run([sys.executable, "-c", _MEASURE, str(bomb), str(trajectory), str(max_bytes)],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
        lines = proc.stdout.splitlines()
        assert proc.returncode == 0, proc.stderr
        assert lines[0].startswith(f"refused: {bomb}: "), lines
        assert lines[1] == "cli exit 1", lines
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        peak = float(lines[2].split()[1])
        print(f"{case} (max_bytes={max_bytes}): {lines[0]} / peak {peak:.0f} MB")
        assert peak < 400, peak
        if max_bytes > persistence.MAX_MODEL_BYTES:  # past the byte cap: the header checks
            assert {"shape": "feature_mean_: expected shape (6,)",
                    "declared": "feature_mean_: zip entry declares"}[case] in lines[0]


def test_huge_central_directory_is_refused_cheaply(full, tmp_path):
    arrays = members(full)
    entries = [npy_entry(k, np.frombuffer(json.dumps(v).encode(), dtype=np.uint8) if k == "meta.json" else v)
               for k, v in arrays.items()]
    many = [(f"{i:080d}.npy", b"", 0, 0, 0) for i in range(40000)]  # a 5 MB directory
    refused(sign(tmp_path / "many.npz", raw_zip(entries + many)), "zip directory")


# ------------------------------------------------------------------ pickles and save_model
def _break(clf):
    """A fitted classifier with one covariance made indefinite."""
    import copy

    bad = copy.deepcopy(clf)
    cov = np.array(bad.models_[0]._covars_)
    cov[0] = -np.eye(cov.shape[-1])
    bad.models_[0]._covars_ = cov
    return bad


def test_trusted_pickles_are_validated(models, tmp_path, trajectory, capsys):
    clf, _ = models[("full", 1)]
    bad = _break(clf)
    path = tmp_path / "bad.joblib"
    joblib.dump(bad, path)
    refused(path, "model0.covars: not positive definite", trusted=True)
    code = main(["predict", str(path), str(trajectory), "--trust-pickle"])
    _, err = capsys.readouterr()
    assert code == 1 and err.count("\n") == 1 and "model0.covars" in err, err
    wrong = _break(clf)
    wrong.models_[1].n_components = 3
    wrong.models_[0]._covars_ = clf.models_[0]._covars_
    joblib.dump(wrong, path)
    refused(path, "models_[1]: (n_states, covariance_type, n_features, n_mix)", trusted=True)
    unfitted = tmp_path / "unfitted.joblib"
    joblib.dump(HMMClassifier(), unfitted)
    refused(unfitted, "not fitted", trusted=True)
    save_model(clf, tmp_path / "ok.joblib", format="pickle")
    load_model(tmp_path / "ok.joblib", trusted=True)


@pytest.mark.parametrize("fmt", ["npz", "pickle"])
def test_save_model_refuses_an_invalid_model(models, tmp_path, fmt):
    clf, _ = models[("full", 1)]
    path = tmp_path / "m.out"
    with pytest.raises(ModelFileError, match="cannot save an invalid model: model0.covars: not positive definite"):
        save_model(_break(clf), path, format=fmt)
    assert not path.exists()
    import copy

    short = copy.deepcopy(clf)
    short.class_prior_ = short.class_prior_[:1]
    with pytest.raises(ModelFileError, match="class_prior_: expected shape"):
        save_model(short, path, format=fmt)
    assert not path.exists()


# ------------------------------------------------------------------ structural fuzz
def _mutation(draw, arrays):
    """One structural change to the members of a model file (a description, a function)."""
    names = sorted(k for k in arrays if k != "meta.json")
    kinds = ["value", "shape", "value", "dtype", "value", "missing", "extra", "json", "json_type"]
    what = draw(st.sampled_from(kinds + (["search", "search"] if "search" in arrays["meta.json"] else [])))
    if what == "search":
        return _search_mutation(draw, arrays)
    if what == "value":
        names = [k for k in names if arrays[k].dtype.kind in "fb"]
    name = draw(st.sampled_from(names))
    a = arrays[name]
    if what == "shape":
        new = draw(st.sampled_from(["grow", "shrink", "axis", "flat", "transpose", "scalar"]))
        b = {"grow": lambda: np.concatenate([a, a[:1]]), "shrink": lambda: a[:-1], "axis": lambda: a[..., None],
             "flat": lambda: a.ravel(), "transpose": lambda: a.T.copy(), "scalar": lambda: a.ravel()[:1].reshape(())}
        return f"{what}:{new}:{name}", lambda m: m.update({name: b[new]()})
    if what == "dtype":
        dt = draw(st.sampled_from(["f4", "f8", "i8", "u1", "?", "U4", "c16", ">f8"]))
        return f"{what}:{dt}:{name}", lambda m: m.update({name: a.astype(dt)})
    if what == "value":
        value = draw(st.sampled_from([np.nan, np.inf, -1.0, 0.0, 1e-300, 1e300, 2.0, 0.5, -1e-9, 1e-12, 1e12]))
        index = draw(st.integers(0, max(a.size - 1, 0)))

        def set_value(m):
            b = np.array(a, copy=True)
            if b.size:
                b.flat[index] = value if b.dtype.kind in "fc" else (value == value and value > 0.5)
            m[name] = b
        return f"{what}:{value}:{name}[{index}]", set_value
    if what == "missing":
        return f"{what}:{name}", lambda m: m.pop(name)
    if what == "extra":
        extra = draw(st.sampled_from(["model2.means", "history9", "background.weights", "foo"]))
        return f"{what}:{extra}", lambda m: m.update({extra: a})
    key = draw(st.sampled_from(["n_classes", "n_features_in", "n_model_features", "n_states", "n_mix",
                                "covariance_type", "derivatives", "n_points", "topology", "format_version"]))
    value = draw(st.sampled_from([0, 1, 2, 3, 5, 7, -1, "full", "diag", None, 2.5, True, [1]]))

    def set_json(m):
        meta = json.loads(json.dumps(m["meta.json"]))
        where = meta if key in meta else meta["params"]
        if what == "json_type" and key in where:
            where.pop(key)
        else:
            where[key] = value
        m["meta.json"] = meta
    return f"{what}:{key}={value}", set_json


def _search_mutation(draw, arrays):
    """A change to the JSON part of an HMMClassifierCV file: a field replaced, removed or
    given another type, anywhere in "search"."""
    search = arrays["meta.json"]["search"]
    paths = [("search", k) for k in search] + [("params", k) for k in search["params"]] + \
            [("cv_results", k) for k in search["cv_results"]]
    where, key = draw(st.sampled_from(paths))
    value = draw(st.sampled_from([None, 0, -1, 7, 10 ** 9, 2.5, "x", True, [], [1], {}, {"n_states": 3}, [{}],
                                  "remove"]))

    def change(m):
        meta = json.loads(json.dumps(m["meta.json"]))
        target = meta["search"] if where == "search" else meta["search"][where]
        if value == "remove":
            target.pop(key)
        else:
            target[key] = value
        m["meta.json"] = meta
    return f"search:{where}.{key}={value}", change


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_re_signed_structural_mutations(models, small, tmp_path_factory, trajectory, data):
    """Valid files of every covariance type, one or two structural mutations, re-signed:
    either a model that predicts finite results, or a one-line ModelFileError, through
    load_model and the CLI. Never another exception, never a traceback."""
    kind = data.draw(st.sampled_from([*TYPES, "cv", "cv"]))
    path = models[kind][1]
    arrays = members(path)
    done = []
    for _ in range(data.draw(st.integers(1, 2))):
        label, change = _mutation(data.draw, arrays)
        try:
            change(arrays)
        except (ValueError, TypeError, OverflowError):  # e.g. nan cast to int: not a file we can write
            continue
        done.append(label)
    out = tmp_path_factory.mktemp("fuzz") / "m.npz"
    try:
        write_members(out, arrays)
    except (ValueError, TypeError):
        return
    X, _ = small
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = load_model(out)
    except ModelFileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(out)), (done, exc)
        code = main(["predict", str(out), str(trajectory)])
        assert code == 1, done
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = clf.predict_proba(X)
        jll = clf.predict_joint_log_proba(X)
        unknown = clf.is_unknown(X)
    assert np.isfinite(proba).all() and np.isfinite(jll).all(), done
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert unknown.dtype == bool
    assert main(["predict", str(out), str(trajectory)]) == 0, done
    assert main(["info", str(out)]) == 0, done


def test_npy_headers_in_another_spelling_go_through_numpys_parser(full, tmp_path, small):
    """The fast header path only takes what np.save writes; any other valid spelling is
    parsed by numpy (and still checked), a broken one is refused naming the member."""
    arrays = members(full)
    entries = [npy_entry(k, np.frombuffer(json.dumps(v).encode(), dtype=np.uint8) if k == "meta.json" else v)
               for k, v in arrays.items() if k != "feature_scale_"]

    def entry(header):
        header = header.encode("latin1")
        data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + arrays["feature_scale_"].tobytes()
        return ("feature_scale_.npy", data, 0, zlib.crc32(data), len(data))

    other = entry("{'shape': (6,), 'fortran_order': False, 'descr': '<f8'}\n")
    clf = load_model(sign(tmp_path / "other.npz", raw_zip(entries + [other])))
    np.testing.assert_array_equal(clf.feature_scale_, arrays["feature_scale_"])
    for header, part in [("{'descr': '<q5', 'fortran_order': False, 'shape': (6,), }\n", "invalid .npy header (unknown dtype"),
                         ("{'descr': '<f8', 'fortran_order': False, 'shape': (6,)\n", "invalid .npy header"),
                         ("{'descr': '<U0', 'fortran_order': False, 'shape': (6,), }\n", "expected float64"),
                         ("x" * 5000, ".npy header of 5000 bytes is too large")]:
        refused(sign(tmp_path / "bad.npz", raw_zip(entries + [entry(header)])), "feature_scale_: " + part)


def test_object_labels_keep_their_message_and_pickle(models, tmp_path):
    import copy

    clf = copy.deepcopy(models[("full", 1)][0])
    clf.classes_ = np.array([1, "a"], dtype=object)
    with pytest.raises(ModelFileError, match="labels of mixed or object type cannot be stored in the safe format"):
        save_model(clf, tmp_path / "m.npz")
    save_model(clf, tmp_path / "m.joblib", format="pickle")
    assert load_model(tmp_path / "m.joblib", trusted=True).classes_.tolist() == [1, "a"]


@pytest.mark.parametrize("kind", TYPES, ids=TYPE_IDS)
def test_models_at_the_magnitude_bounds_still_give_finite_scores(models, kind, tmp_path, small):
    """The largest accepted means and variances (just inside the bounds): the model loads
    and scores the training data, and far-off inputs, with finite values."""
    path = models[kind][1]
    arrays = members(path)
    floor = arrays["covariance_floor_"]
    F = len(floor)
    c = arrays["model0.covars"]
    big = 0.5 * persistence._MAX_COV_RATIO / F
    if kind[0] == "diag":
        c = np.broadcast_to(big * floor, c.shape).copy()
    elif kind[0] == "spherical":
        c = np.full(c.shape, big * floor.mean())
    else:
        c = np.broadcast_to(big * np.diag(floor), c.reshape(-1, F, F).shape).reshape(c.shape).copy()

    def change(m):
        m["model0.covars"] = c
        m["model1.means"] = np.broadcast_to(0.5 * persistence._MAX_SPREAD * np.sqrt(floor),
                                            m["model1.means"].shape).copy()

    clf = load_model(mutate(path, tmp_path / "edge.npz", change))
    X, _ = small
    for data in (X, [1e3 * x for x in X]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert np.isfinite(clf.predict_joint_log_proba(data)).all()
            assert np.isfinite(clf.predict_proba(data)).all()


# ------------------------------------------------------------------ the prefix view (format 11)
def test_the_prefix_view_is_validated_like_a_model_of_its_own(models, tmp_path, small):
    clf, path = models["view"]
    arrays = members(path)
    assert arrays["meta.json"]["prefix"]["params"] == {**arrays["meta.json"]["params"], "derivatives": 2,
                                                       "prefix_view": False}
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_prefix_proba(small[0]), clf.predict_prefix_proba(small[0]))
    view = sorted(k for k in arrays if k.startswith("prefix/") and arrays[k].dtype.kind == "f")
    assert "prefix/model0.means" in view and "prefix/stream_threshold_" in view
    for name in view:  # +inf is invalid everywhere, thresholds included
        def change(m, n=name):
            m[n] = m[n].copy()
            m[n].flat[0] = np.inf

        refused(mutate(path, tmp_path / "bad.npz", change), f": {name}: non-finite value")


def test_the_prefix_view_must_be_the_model_s_with_one_more_derivative(models, tmp_path):
    path = models["view"][1]
    other = [k for k in members(path)["classes_"]][::-1]
    cases = [
        (lambda m: m["meta.json"]["prefix"]["params"].update(n_states=5), "prefix/meta.json: params are not the "
         "model's with derivatives + 1 and prefix_view false (n_states differ)"),
        (lambda m: m["meta.json"]["prefix"]["params"].update(tol=0.5), "(tol differ)"),
        (lambda m: m["meta.json"]["prefix"].update(n_classes=10**6), "prefix/meta.json: n_classes=1000000, the model "
         "has 2"),
        (lambda m: m["meta.json"]["prefix"].update(estimator="HMMClassifierCV"), "prefix/meta.json: expected a plain "
         "HMMClassifier's metadata of format 14"),
        (lambda m: m["meta.json"]["prefix"].update(prefix=json.loads(json.dumps(m["meta.json"]["prefix"]))),
         "prefix/meta.json: expected a plain"),
        (lambda m: m["meta.json"]["params"].update(prefix_view=False), "meta.json: prefix: a prefix view is only in "
         "files of format 11 or later, with prefix_view true"),
        (lambda m: m["meta.json"].pop("prefix"), "prefix/background.covars: unexpected member"),
        (lambda m: m.update({"prefix/classes_": np.array(other)}), "prefix/classes_: the classes or their priors "
         "differ from the model"),
        (lambda m: m.update({"prefix/rejection_threshold_": np.zeros(2)}), "prefix/rejection_threshold_: expected "
         "-inf (the model alone rejects)"),
    ]
    for change, part in cases:
        refused(mutate(path, tmp_path / "bad.npz", change), part)


def test_a_file_before_prefix_views_reads_prefixes_with_its_class_models(models, tmp_path, small, capsys):
    from conftest import as_format, resign

    clf, path = models["view"]
    old = tmp_path / "ten.npz"
    old.write_bytes(path.read_bytes())
    resign(old, as_format(10))
    loaded = load_model(old)
    assert loaded.prefix_view is False and not hasattr(loaded, "prefix_model_")
    alone = HMMClassifier(**{**clf.get_params(), "prefix_view": False})
    alone.__dict__.update({k: v for k, v in clf.__dict__.items() if k.endswith("_") and k != "prefix_model_"})
    np.testing.assert_allclose(loaded.predict_prefix_log_proba(small[0]), alone.predict_prefix_log_proba(small[0]),
                               rtol=1e-12)
    assert not np.allclose(clf.predict_prefix_log_proba(small[0]), alone.predict_prefix_log_proba(small[0]))
    assert main(["info", str(old)]) == 0
    out = capsys.readouterr()[0]
    assert "format: trajhmm-model version 10" in out
    assert "prefixes (predict_prefix): the class models alone (a model fitted before format 11: retrain for a " \
           "prefix view)" in out
    assert main(["info", str(models[("full", 1)][1])]) == 0
    assert "prefixes (predict_prefix): the class models alone (prefix_view=False)" in capsys.readouterr()[0]


def test_a_file_before_format_11_never_has_a_prefix_view(models, tmp_path):
    """Whatever its parameters say: a format-10 file that claims prefix_view loads without
    one, and one that holds a view is refused (its arrays are not in that format)."""
    path = models["view"][1]

    def claims(m):
        m["meta.json"]["format_version"] = 10
        m["meta.json"].pop("prefix")
        for name in [n for n in m if n.startswith("prefix/") or n == "likelihood_threshold_"]:  # (format 12's)
            del m[name]
        assert m["meta.json"]["params"]["prefix_view"] is True

    assert load_model(mutate(path, tmp_path / "claims.npz", claims)).prefix_view is False
    refused(mutate(path, tmp_path / "holds.npz", lambda m: m["meta.json"].update(format_version=10)),
            "meta.json: prefix: a prefix view is only in files of format 11 or later")


def test_a_trusted_pickle_whose_view_is_itself_is_refused(models, tmp_path):
    import copy

    clf = copy.deepcopy(models["view"][0])
    clf.prefix_model_ = clf
    joblib.dump(clf, tmp_path / "loop.joblib")
    with pytest.raises(ModelFileError, match="not a complete fitted HMMClassifier"):
        load_model(tmp_path / "loop.joblib", trusted=True)

"""The cache of finished EM runs: content keys, atomic entries, safe removal, and a fit
that resumes after an interruption with exactly the model an uninterrupted fit gives."""

import io
import threading
import zipfile

import numpy as np
import pytest
from joblib import parallel_config

import trajhmm.classifier
import trajhmm.persistence
from trajhmm import HMMClassifier
from trajhmm._cache import CACHEDIR_TAG, FitCache, fingerprint
from trajhmm.classifier import rejection_folds
from trajhmm.exceptions import DataError
from trajhmm.hmm import model_arrays

from conftest import FAST

KEY = fingerprint("a key")
OTHER_KEY = fingerprint("another key")


# ------------------------------------------------------------------ fingerprint
def test_fingerprint_is_hex_sha256_and_depends_on_content_only():
    a = np.arange(12.0).reshape(3, 4)
    key = fingerprint("x", a, {"b": 1, "a": [1.5, None, True]}, b"raw")
    assert len(key) == 64 and int(key, 16) >= 0 and key == key.lower()
    # the same content in another memory layout, another dict order
    same = fingerprint("x", np.asfortranarray(a), {"a": [1.5, None, True], "b": 1}, b"raw")
    assert same == key
    assert fingerprint("x", a[:, ::2]) == fingerprint("x", np.ascontiguousarray(a[:, ::2]))


@pytest.mark.parametrize(("one", "other"), [
    (np.arange(4.0), np.array([0.0, 1.0, 2.0, 3.5])),           # a value
    (np.arange(4.0), np.arange(4.0).astype(np.float32)),        # the dtype
    (np.arange(4.0), np.arange(4.0).reshape(2, 2)),             # the shape
    (np.arange(4.0), np.arange(4.0).astype(">f8")),             # the byte order
    (1, 1.0), (1, True), (0, False), (1, "1"), (b"1", "1"),      # the type
    (1.0, np.float64(1.0)), (None, "None"), (0.0, -0.0),
    ([1, 2], (1, 2)), ([1, 2], [2, 1]), ([[1], 2], [1, [2]]),    # the structure and order
    ({"a": 1}, {"a": 1.0}), ({"a": 1}, {"b": 1}), ({1: "a"}, {"1": "a"}),
    (("ab", "c"), ("a", "bc")), ([], ()), ({}, []),
])
def test_fingerprint_changes_with_any_value_dtype_shape_type_or_order(one, other):
    assert fingerprint(one) != fingerprint(other)
    assert fingerprint("p", one) == fingerprint("p", one)


def test_fingerprint_counts_its_parts():
    assert fingerprint(1, 2) != fingerprint([1, 2]) != fingerprint((1, 2))
    assert fingerprint() != fingerprint(None)


@pytest.mark.parametrize("part", [object(), {1, 2}, 1j, np.array([object()]), [1, object()]])
def test_fingerprint_names_the_type_it_cannot_hash(part):
    with pytest.raises(TypeError, match=r"fingerprint: cannot hash"):
        fingerprint("x", part)


# ------------------------------------------------------------------ FitCache
ARRAYS = {
    "means": np.arange(6.0).reshape(2, 3),
    "small": np.arange(4, dtype=np.float32),
    "count": np.int64(7),
    "flag": np.bool_(True),
    "empty": np.empty((0, 3)),
}


def test_put_then_get_gives_the_same_arrays_and_tags_the_directory(tmp_path):
    cache = FitCache(tmp_path / "cache")
    assert cache.get(KEY) is None and len(cache) == 0 and KEY not in cache
    cache.put(KEY, ARRAYS)
    got = cache.get(KEY)
    assert set(got) == set(ARRAYS)
    for name, value in ARRAYS.items():
        assert isinstance(got[name], np.ndarray)
        assert got[name].dtype == np.asarray(value).dtype and got[name].shape == np.shape(value)
        np.testing.assert_array_equal(got[name], value)
    assert KEY in cache and OTHER_KEY not in cache and "not a key" not in cache and len(cache) == 1
    tag = (cache.directory / CACHEDIR_TAG).read_text().splitlines()
    assert tag[0] == "Signature: 8a477f597d28d172789f06886806bc55"
    assert tag[1].startswith("#") and "trajhmm" in tag[1]
    assert sorted(p.name for p in cache.directory.iterdir()) == sorted([CACHEDIR_TAG, f"{KEY}.npz"])


def test_repr_names_the_directory(tmp_path):
    assert repr(FitCache(tmp_path / "c")) == f"FitCache({str(tmp_path / 'c')!r})"


def test_an_entry_is_plain_npz(tmp_path):
    cache = FitCache(tmp_path)
    cache.put(KEY, ARRAYS)
    with np.load(tmp_path / f"{KEY}.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(ARRAYS)


@pytest.mark.parametrize("key", ["", "abc", KEY.upper(), KEY + "0", "../" + KEY[3:], 12, None])
def test_keys_are_fingerprints(tmp_path, key):
    cache = FitCache(tmp_path)
    with pytest.raises(ValueError, match="64 lowercase hexadecimal"):
        cache.put(key, ARRAYS)
    with pytest.raises(ValueError, match="64 lowercase hexadecimal"):
        cache.get(key)


def _npz_bytes(arrays, **savez_kw):
    buf = io.BytesIO()
    np.savez(buf, **arrays, **savez_kw)
    return buf.getvalue()


BAD_ENTRIES = {
    "truncated": _npz_bytes(ARRAYS)[:150],
    "truncated_end": _npz_bytes(ARRAYS)[:-30],
    "garbage": b"this is not an archive at all\n" * 10,
    "empty": b"",
    "npy_not_npz": b"\x93NUMPY" + _npz_bytes({})[6:],
    "pickled_member": _npz_bytes({"objects": np.array([{"a": 1}], dtype=object)}, allow_pickle=True),
}


@pytest.mark.parametrize("content", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_an_unreadable_entry_is_a_miss_and_is_deleted(tmp_path, content):
    cache = FitCache(tmp_path)
    cache.put(OTHER_KEY, ARRAYS)
    (tmp_path / f"{KEY}.npz").write_bytes(content)
    assert cache.get(KEY) is None
    assert not (tmp_path / f"{KEY}.npz").exists()
    assert cache.get(OTHER_KEY) is not None  # the good entry is untouched
    cache.put(KEY, ARRAYS)  # and the key can be stored again
    assert set(cache.get(KEY)) == set(ARRAYS)


def test_a_truncated_member_is_a_miss(tmp_path):
    raw = bytearray(_npz_bytes({"big": np.arange(1000.0)}))
    # keep the archive's directory but cut the member's data short: a bad CRC / short read
    raw[200:300] = b"\x00" * 100
    (tmp_path / f"{KEY}.npz").write_bytes(bytes(raw))
    assert zipfile.is_zipfile(tmp_path / f"{KEY}.npz")
    assert FitCache(tmp_path).get(KEY) is None
    assert not (tmp_path / f"{KEY}.npz").exists()


def _interrupt_second_member(monkeypatch):
    real = np.lib.format.write_array
    calls = []

    def write_array(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            fp.write(b"\x93NUMPY partial")
            raise KeyboardInterrupt
        return real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)


def test_an_interrupted_put_leaves_no_entry_and_no_temp_file(tmp_path, monkeypatch):
    cache = FitCache(tmp_path / "cache")
    _interrupt_second_member(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        cache.put(KEY, ARRAYS)
    assert sorted(p.name for p in cache.directory.iterdir()) == [CACHEDIR_TAG]
    assert cache.get(KEY) is None and len(cache) == 0


def test_an_interrupted_rewrite_keeps_the_old_entry(tmp_path, monkeypatch):
    cache = FitCache(tmp_path)
    cache.put(KEY, {"a": np.arange(3)})
    _interrupt_second_member(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        cache.put(KEY, ARRAYS)
    np.testing.assert_array_equal(cache.get(KEY)["a"], np.arange(3))
    assert not list(tmp_path.glob("*.tmp"))


def test_object_arrays_are_not_stored(tmp_path):
    cache = FitCache(tmp_path)
    with pytest.raises(ValueError, match="[Oo]bject"):
        cache.put(KEY, {"a": np.arange(3), "o": np.array([None, 1], dtype=object)})
    assert KEY not in cache and not list(tmp_path.glob("*.tmp"))


def test_remove_deletes_its_own_directory_with_leftover_temp_files(tmp_path):
    cache = FitCache(tmp_path / "cache")
    cache.put(KEY, ARRAYS)
    cache.put(OTHER_KEY, ARRAYS)
    (cache.directory / f"{KEY}.npz.abc_12.tmp").write_bytes(b"half")
    cache.remove()
    assert not cache.directory.exists()
    assert list(tmp_path.iterdir()) == []
    cache.remove()  # nothing left to remove: no error


@pytest.mark.parametrize("foreign", ["notes.txt", "thesis.npz", f"{KEY}.npy", "sub/", ".hidden"])
def test_remove_refuses_and_deletes_nothing_when_a_foreign_file_is_inside(tmp_path, foreign):
    cache = FitCache(tmp_path / "cache")
    cache.put(KEY, ARRAYS)
    if foreign.endswith("/"):
        (cache.directory / foreign).mkdir()
    else:
        (cache.directory / foreign).write_text("mine")
    before = sorted(p.name for p in cache.directory.iterdir())
    with pytest.raises(DataError, match=rf"cache.*unexpected .*{foreign.rstrip('/')}"):
        cache.remove()
    assert sorted(p.name for p in cache.directory.iterdir()) == before
    assert cache.get(KEY) is not None


def test_remove_refuses_a_directory_without_the_tag(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / f"{KEY}.npz").write_bytes(_npz_bytes(ARRAYS))
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=rf"{folder.name}.*no {CACHEDIR_TAG} written by trajhmm"):
        FitCache(folder).remove()
    assert (folder / f"{KEY}.npz").exists()


def test_remove_leaves_entries_whose_tag_is_gone(tmp_path):
    """Another run with the same cache removed the tag first (it is removing the folder):
    nothing deleted here, and no error."""
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / f"{KEY}.npz").write_bytes(_npz_bytes(ARRAYS))
    FitCache(folder).remove()
    assert (folder / f"{KEY}.npz").exists()


def test_remove_refuses_another_programs_tag(tmp_path):
    cache = FitCache(tmp_path)
    cache.put(KEY, ARRAYS)
    (tmp_path / CACHEDIR_TAG).write_text("Signature: 8a477f597d28d172789f06886806bc55\n# another tool\n")
    with pytest.raises(DataError, match=f"a {CACHEDIR_TAG} not written by trajhmm"):
        cache.remove()
    assert KEY in cache


def test_remove_refuses_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("mine")
    with pytest.raises(DataError, match="not a directory"):
        FitCache(path).remove()
    assert path.read_text() == "mine"


# ------------------------------------------------------------------ HMMClassifier.fit
PARAMS = dict(FAST, n_init=2)  # 4 classes x 2 restarts + the background: 9 EM runs, then the same for
FOLDS = rejection_folds(np.repeat(np.arange(4), 8))  # the folds that calibrate open-set rejection (32 trajectories, 8 a class)
MAIN_AND_FOLDS = 9 * (1 + FOLDS)  # each of them
N_RUNS = MAIN_AND_FOLDS + 9  # and the prefix view (one more derivative) last


@pytest.fixture
def em_runs(monkeypatch):
    """Count the EM runs fit starts (in process: n_jobs=None)."""
    calls = []
    real = trajhmm.classifier._hmm.fit_hmm

    def counting(*args, **kwargs):
        calls.append((args[3], args[0].shape[2]))  # the seed and the features (the prefix view has more)
        return real(*args, **kwargs)

    monkeypatch.setattr(trajhmm.classifier._hmm, "fit_hmm", counting)
    return calls


@pytest.fixture(scope="module")
def reference(dataset):
    """The uncached fit every cached fit must reproduce exactly."""
    X, y = dataset
    return HMMClassifier(**PARAMS).fit(X, y)


def assert_same_fit(clf, ref, X):
    np.testing.assert_array_equal(clf.predict_joint_log_proba(X), ref.predict_joint_log_proba(X))
    np.testing.assert_array_equal(clf.predict_prefix_proba(X), ref.predict_prefix_proba(X))
    for model, ref_model in zip(clf.models_ + [clf.background_model_] + clf.prefix_model_.models_,
                                ref.models_ + [ref.background_model_] + ref.prefix_model_.models_, strict=True):
        got, want = model_arrays(model), model_arrays(ref_model)
        assert set(got) == set(want)
        for name in want:
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)
        assert model.monitor_.history == ref_model.monitor_.history
        assert model.monitor_.iter == ref_model.monitor_.iter
        assert model.monitor_.converged == ref_model.monitor_.converged
    np.testing.assert_array_equal(clf.converged_, ref.converged_)
    np.testing.assert_array_equal(clf.n_iter_, ref.n_iter_)
    np.testing.assert_array_equal(clf.rejection_threshold_, ref.rejection_threshold_)
    for hist, ref_hist in zip(clf.log_likelihood_history_, ref.log_likelihood_history_, strict=True):
        np.testing.assert_array_equal(hist, ref_hist)


def test_a_second_fit_with_the_cache_runs_no_em_and_gives_the_same_model(dataset, reference, tmp_path, em_runs):
    X, y = dataset
    first = HMMClassifier(**PARAMS).fit(X, y, cache_dir=tmp_path / "cache")
    assert len(em_runs) == N_RUNS and len(FitCache(tmp_path / "cache")) == N_RUNS
    assert_same_fit(first, reference, X)
    reports = []
    second = HMMClassifier(**PARAMS).fit(X, y, cache_dir=tmp_path / "cache",
                                         progress=lambda done, total, info: reports.append((done, total, info)))
    assert len(em_runs) == N_RUNS  # no new run
    assert_same_fit(second, reference, X)
    # cached runs still count as done, in the order of the runs
    # the folds' runs join the total when they start, then the prefix view's
    assert [(done, total) for done, total, _ in reports] == [(k, 9) for k in range(1, 10)] + \
        [(k, MAIN_AND_FOLDS) for k in range(10, MAIN_AND_FOLDS + 1)] + \
        [(k, N_RUNS) for k in range(MAIN_AND_FOLDS + 1, N_RUNS + 1)]
    assert [info["label"] for _, _, info in reports][8::9] == ["(background)"] * (2 + FOLDS)
    assert [info.get("rejection_fold") for _, _, info in reports][::9] == [None, *range(FOLDS), None]
    assert [info.get("prefix_view") for _, _, info in reports][::9] == [None] * (1 + FOLDS) + [True]
    assert all(info["n_iter"] >= 1 for _, _, info in reports)


class Interrupt:
    """A progress callback that interrupts fit once ``after`` runs have finished."""

    def __init__(self, after):
        self.after = after

    def __call__(self, done, total, info):
        if done >= self.after:
            raise KeyboardInterrupt


def test_an_interrupted_fit_resumes_where_it_stopped(dataset, reference, tmp_path, em_runs):
    X, y = dataset
    cache_dir = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        HMMClassifier(**PARAMS).fit(X, y, cache_dir=cache_dir, progress=Interrupt(2))
    assert len(em_runs) == 2 and len(FitCache(cache_dir)) == 2  # the finished runs are kept
    reports = []
    resumed = HMMClassifier(**PARAMS).fit(X, y, cache_dir=cache_dir,
                                          progress=lambda done, total, info: reports.append((done, info)))
    assert len(em_runs) == N_RUNS  # only the runs not in the cache
    assert em_runs[2:] == sorted(set(em_runs[2:]), key=em_runs[2:].index)  # each once
    assert_same_fit(resumed, reference, X)
    assert len(FitCache(cache_dir)) == N_RUNS
    finished = [done for done, info in reports if "n_iter" in info]
    assert finished == list(range(1, N_RUNS + 1))
    # the live per-iteration reports of the third run come after the two cached runs
    assert [done for done, info in reports if "iteration" in info][0] == 2


def test_a_run_is_stored_when_it_finishes_not_when_its_turn_comes(dataset, reference, tmp_path, em_runs, monkeypatch):
    """Two threads: the first run waits until a later run has been stored (so the runs
    finish out of order), then the interrupt comes as the first run is reported. Every run
    that had finished is kept, the rest are cancelled, and the resumed fit runs only the
    runs the cache lacks."""
    X, y = dataset
    cache_dir = tmp_path / "cache"
    stored = threading.Event()
    real_put, real_fit = FitCache.put, trajhmm.classifier._indexed_fit_hmm

    def put(self, key, arrays):
        real_put(self, key, arrays)
        stored.set()

    def first_run_last(index, *args):
        if index == 0:
            assert stored.wait(timeout=120), "no later run was stored while the first one was running"
        return real_fit(index, *args)

    monkeypatch.setattr(FitCache, "put", put)
    monkeypatch.setattr(trajhmm.classifier, "_indexed_fit_hmm", first_run_last)
    with parallel_config(backend="threading", n_jobs=2), pytest.raises(KeyboardInterrupt):
        HMMClassifier(**PARAMS, n_jobs=2).fit(X, y, cache_dir=cache_dir, progress=Interrupt(1))
    n_stored, n_started = len(FitCache(cache_dir)), len(em_runs)
    assert 2 <= n_stored <= n_started < N_RUNS
    with parallel_config(backend="threading", n_jobs=2):
        resumed = HMMClassifier(**PARAMS, n_jobs=2).fit(X, y, cache_dir=cache_dir)
    assert len(em_runs) - n_started == N_RUNS - n_stored
    assert_same_fit(resumed.set_params(n_jobs=None), reference, X)  # scoring in process, no workers to start


def _other_data(X, y):
    X = list(X)
    X[0] = X[0] + 1e-6
    return X, y


@pytest.mark.parametrize("change", ["data", "reg_covar", "tol", "random_state", "library_versions"])
def test_any_change_of_what_a_run_depends_on_is_a_miss(dataset, tmp_path, em_runs, monkeypatch, change):
    X, y = dataset
    cache_dir = tmp_path / "cache"
    HMMClassifier(**PARAMS).fit(X, y, cache_dir=cache_dir)
    assert len(em_runs) == N_RUNS
    params = dict(PARAMS)
    if change == "data":
        X, y = _other_data(X, y)
    elif change == "library_versions":
        versions = trajhmm.persistence.library_versions()
        monkeypatch.setattr(trajhmm.persistence, "library_versions", lambda: {**versions, "hmmlearn": "0.0.1"})
    else:
        params[change] = {"reg_covar": 5e-2, "tol": 2e-3, "random_state": 1}[change]
    HMMClassifier(**params).fit(X, y, cache_dir=cache_dir)
    # every run again; except, when one trajectory changes, the 9 runs of the rejection fold
    # that held it out: their data (and standardisation) are the same, so they are hits
    again = N_RUNS - 9 if change == "data" else N_RUNS
    assert len(em_runs) == N_RUNS + again
    assert len(FitCache(cache_dir)) == N_RUNS + again


def test_a_damaged_entry_is_run_again(dataset, reference, tmp_path, em_runs):
    X, y = dataset
    cache_dir = tmp_path / "cache"
    HMMClassifier(**PARAMS).fit(X, y, cache_dir=cache_dir)
    entry = sorted(cache_dir.glob("*.npz"))[0]
    entry.write_bytes(entry.read_bytes()[:100])
    clf = HMMClassifier(**PARAMS).fit(X, y, cache_dir=cache_dir)
    assert len(em_runs) == N_RUNS + 1
    assert_same_fit(clf, reference, X)

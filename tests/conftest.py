"""Small deterministic data for the tests, made by the same generator as sample_data/."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from hmmlearn import hmm
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"

_spec = importlib.util.spec_from_file_location("make_sample_data", ROOT / "scripts" / "make_sample_data.py")
make_sample_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_sample_data)

# Hypothesis: "ci" (chosen when the CI variable is set) draws the same examples on every run
# and keeps no database, and prints the blob that reproduces a failure; "dev" (local runs)
# explores afresh each run but keeps every failing example in .hypothesis/ at the repository
# root (gitignored) and replays it first next time. HYPOTHESIS_PROFILE=ci forces one.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", database=DirectoryBasedExampleDatabase(str(ROOT / ".hypothesis" / "examples")),
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

# Fast model settings for tests that are about behaviour, not accuracy (and the same as CLI flags).
FAST = dict(n_states=4, n_points=20, n_iter=50, tol=1e-3, random_state=0)
FLAGS = ["--n-states", "4", "--n-points", "20", "--n-iter", "50", "--tol", "1e-3"]


def cli(argv, capsys):
    """Run ``trajhmm ARGV`` in this process: (exit code, stdout, stderr)."""
    from trajhmm.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# Malformed text files: (file name, content, regex of the error message). Shared by
# test_datasets (the readers) and test_hostile_input (the same files through API and CLI).
BAD_FILES = [
    ("empty.csv", "", "empty file"),
    ("blank.csv", "\n\n  \n", "empty file"),
    ("header.csv", "x,y,z\n", "header only"),
    ("word.csv", "x,y,z\n1,2,3\n4,five,6\n", r"line 3, column 2 \('y'\): expected a number, got 'five'"),
    ("nan.csv", "1,2,3\n4,nan,6\n", r"line 2, column 2: expected a finite number, got nan"),
    ("inf.txt", "1 2 3\n4 5 inf\n", r"line 2, column 3: expected a finite number"),
    ("ragged.csv", "1,2,3\n4,5\n", r"line 2: expected 3 columns like the first data row, got 2"),
    ("one.csv", "x,y,z\n1,2,3\n", "expected at least 2 points, got 1"),
    ("traj.json", "[1, 2]", "unknown file type '.json'"),
    ("bin.csv", "1,2\x00,3\n", "binary content"),
]


def resign(path, edit):
    """Rewrite a model file with ``edit(arrays, meta)`` applied and a valid checksum (what
    a crafted, or a newer or older trajhmm's, file looks like)."""
    from trajhmm.persistence import _rewrite

    _rewrite(path, edit)


def assert_refused(model, path, edit, match):
    """Save ``model`` to ``path``, apply ``edit(arrays, meta)`` with a valid checksum
    (:func:`resign`): load_model must refuse it with a ModelFileError matching ``match``."""
    from trajhmm import load_model, save_model
    from trajhmm.exceptions import ModelFileError

    save_model(model, path)
    resign(path, edit)
    with pytest.raises(ModelFileError, match=match):
        load_model(path)


# Arrays a format added to every model of a file (its ensemble members' too, under "member<j>/").
_ADDED_ARRAYS = ((12, ("likelihood_threshold_",)), (10, ("class_part_motion_",)),
                 (9, ("motion_scale_", "class_motion_quantiles_")),
                 (8, ("class_end_states_",)))


def _without_prefix_views(arrays, meta):
    """A file before format 11: no prefix view, nor its parameter (anywhere)."""
    meta.pop("prefix", None)
    for name in [n for n in arrays if n.startswith("prefix/")]:
        del arrays[name]
    search = meta.get("search")
    holders = [meta["params"]]
    if isinstance(search, dict):
        holders.append(search.get("params", {}).get("estimator"))
        holders.extend(m["params"] for m in search.get("ensemble", {}).get("members", []))
    for params in holders:
        if isinstance(params, dict):
            params.pop("prefix_view", None)


def _set_nested_versions(meta, version):
    """A prefix view's and the ensemble members' metadata say the file's format too."""
    search = meta.get("search")
    nested = [meta.get("prefix")]
    if isinstance(search, dict):
        for member in search.get("ensemble", {}).get("members", []):
            nested += [member, member.get("prefix")]
    for sub in nested:
        if isinstance(sub, dict):
            sub["format_version"] = version


def _without_later_meta(arrays, meta, version):
    """What formats after ``version`` added to the JSON document (and prefix views)."""
    if version < 14 and isinstance(meta.get("reader"), dict):
        meta["reader"].pop("header_names", None)
    if version < 13:
        meta.pop("feature_names_in", None)
    if version < 11:
        _without_prefix_views(arrays, meta)


def as_format(version):
    """An edit for :func:`resign` that makes a current model file look written in format
    ``version``: what later formats added is taken out."""
    def edit(arrays, meta):
        meta["format_version"] = version
        search = meta.get("search")
        _set_nested_versions(meta, version)
        _without_later_meta(arrays, meta, version)
        for added, names in _ADDED_ARRAYS:
            if version < added:
                for name in [n for n in arrays if n.rsplit("/", 1)[-1] in names]:
                    del arrays[name]
        if version < 7 and isinstance(search, dict):  # an HMMClassifierCV: no ensemble
            search.pop("ensemble", None)
            search.get("params", {}).pop("ensemble", None)
            for name in [n for n in arrays if n.startswith("member")]:
                del arrays[name]
        if version < 6:
            arrays.pop("stream_threshold_", None)
        if version < 5:
            arrays.pop("class_length_quantiles_", None)
        if version < 4:
            meta.pop("reader", None)
            meta["params"].pop("time_column", None)
            estimator = meta.get("search", {}).get("params", {}).get("estimator")
            if isinstance(estimator, dict):
                estimator.pop("time_column", None)
    return edit


def far_behind_case():
    """(model, segments): a left-right model and sequences that sit in the *last* state's
    region at first (so the state-0 path is thousands of nats behind), then in state 0's
    region: a scaled forward pass drops the state-0 path to underflow, an exact pass keeps it."""
    means = np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]])
    model = hmm.GaussianHMM(n_components=3, covariance_type="diag", init_params="", params="")
    model.startprob_ = np.array([1.0, 0.0, 0.0])
    model.transmat_ = np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    model.means_ = means
    model.covars_ = np.full((3, 2), 0.05)
    seq = np.r_[np.tile(means[2], (6, 1)), np.tile(means[0], (30, 1))]
    return model, np.stack([seq, seq[::-1], np.tile(means[1], (36, 1))])


def diag_hmm(startprob, transmat, means, covars):
    """A hmmlearn GaussianHMM (diagonal) with the given parameters, as fit leaves them."""
    m = hmm.GaussianHMM(n_components=len(startprob), covariance_type="diag", init_params="", params="")
    m.startprob_, m.transmat_ = np.asarray(startprob, dtype=float), np.asarray(transmat, dtype=float)
    m.means_, m.covars_ = np.asarray(means, dtype=float), np.asarray(covars, dtype=float)
    return m


def far_but_clean_case():
    """(models, segments): a 2-state model whose states are far (hundreds of nats per
    point) from segments that sit where a 3-state model's states and the 2-state model's
    padding in a stack are: its scaled forward values keep their full precision (no state
    is far behind another) while its step scales multiply to far below e^-600."""
    def model(means):
        m = hmm.GaussianHMM(n_components=len(means), covariance_type="diag", init_params="", params="")
        m.startprob_ = np.eye(len(means))[0]
        m.transmat_ = np.triu(np.full((len(means), len(means)), 1.0 / len(means)))
        m.transmat_ /= m.transmat_.sum(axis=1, keepdims=True)
        m.means_ = np.asarray(means, dtype=float)
        m.covars_ = np.full(m.means_.shape, 0.05)
        return m

    rng = np.random.RandomState(0)
    near = model([[0.0, 0.0], [0.5, 0.0], [1.0, 0.0]])
    far = model([[5.0, 0.0], [5.5, 0.0]])
    segs = np.linspace([0.0, 0.0], [1.0, 0.0], 30)[None] + 0.1 * rng.randn(12, 30, 2)
    return [far, near], segs


class Marker:
    """Unpickling this creates a file: the proof that pickles run code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="session")
def dataset():
    """4 classes x 8 trajectories of 101 x 3 points (labels are strings)."""
    X, y = make_sample_data.make_dataset(per_class=8, seed=1, n_points=101)
    keep = [i for i, label in enumerate(y) if label in ("reach_x", "arc_up", "helix_ccw", "wave")]
    return [X[i] for i in keep], np.array([y[i] for i in keep])


@pytest.fixture(scope="session")
def fitted(dataset):
    from trajhmm import HMMClassifier

    X, y = dataset
    return HMMClassifier(**FAST).fit(X, y)


@pytest.fixture(scope="session")
def model_file(tmp_path_factory, fitted):
    """``fitted`` saved as a model file (for the CLI)."""
    from trajhmm import save_model

    path = tmp_path_factory.mktemp("model") / "m.npz"
    save_model(fitted, path)
    return path


def write_folder(root, X, y, fmt="%.5f"):
    """Write trajectories as root/<label>/<label>_<i>.csv; returns the paths."""
    paths = []
    for i, (traj, label) in enumerate(zip(X, y)):
        d = Path(root) / str(label)
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"{label}_{i:03d}.csv"
        np.savetxt(p, traj, fmt=fmt, delimiter=",", header="x,y,z", comments="")
        paths.append(p)
    return paths


@pytest.fixture
def data_dir(tmp_path, dataset):
    X, y = dataset
    write_folder(tmp_path / "data", X, y)
    return tmp_path / "data"


def covariance_ratios(model, floor):
    """Every quantity the floor constrains, divided by its floor (all must be >= 1):
    spherical variances / mean floor; diagonal variances / per-feature floor; for full
    and tied the eigenvalues of F^-1/2 Sigma F^-1/2 (Sigma >= diag(F) in Loewner order)."""
    ct, floor = model.covariance_type, np.asarray(floor, dtype=float)
    d = len(floor)
    if isinstance(model, hmm.GMMHMM):
        c = np.asarray(model.covars_, dtype=float)
    else:
        c = np.asarray(model._covars_, dtype=float)
    if ct == "spherical":
        return (c / floor.mean()).ravel()
    if ct == "diag":
        return (c.reshape(-1, d) / floor).ravel()
    s = 1.0 / np.sqrt(floor)
    return np.linalg.eigvalsh(c.reshape(-1, d, d) * s[:, None] * s[None, :]).ravel()


def assert_statistics_equal_hmmlearns(model, flat, lengths, ours, ll_ours, atol):
    """``ours, ll_ours``, the batched E-step's sufficient statistics and log-likelihood, equal
    hmmlearn's own per-sequence E-step on the same model (rtol 1e-9; ``atol`` relative to
    each statistic's largest magnitude)."""
    model._batched_estep = False
    try:
        ref, ll_ref = model._do_estep(flat, lengths)
    finally:
        model._batched_estep = True
    assert set(ours) == set(ref)
    for key in ref:
        np.testing.assert_allclose(ours[key], ref[key], rtol=1e-9, atol=atol * np.abs(ref[key]).max(), err_msg=key)
    assert ll_ours == pytest.approx(ll_ref, rel=1e-12)

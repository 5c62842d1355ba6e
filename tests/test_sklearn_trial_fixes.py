"""Fixes from a scikit-learn power user's trial: joblib's "multiprocessing" backend, column
names of DataFrame trajectories (scikit-learn's ``feature_names_in_``, model format 13)
and sparse input."""

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from trajhmm import HMMClassifier, HMMClassifierCV, load_model, save_model
from trajhmm.exceptions import DataError
from trajhmm.persistence import model_metadata

from conftest import FAST, as_format, assert_refused, cli, resign

QUICK = dict(FAST, rejection_rate=0, prefix_view=False)


_UNDER_MULTIPROCESSING = """
import sys
import joblib
from trajhmm._parallel import launch

def square(i):
    return i, i * i

if __name__ == "__main__":
    with joblib.parallel_backend("multiprocessing", n_jobs=2):
        got = list(launch(2, (joblib.delayed(square)(i) for i in range(6)), unordered=sys.argv[1] == "1"))
    print(got)
"""


@pytest.mark.parametrize("unordered", [False, True])
def test_launch_runs_under_a_backend_without_generators(unordered, tmp_path):
    # joblib's "multiprocessing" backend returns lists only: fits refused to run under it.
    # Run in a fresh process: its workers are forked, and threads other tests leave in this
    # one (Dask's, loky's) may hold locks at the fork and hang a worker (seen once)
    import ast
    import subprocess
    import sys

    script = tmp_path / "under_multiprocessing.py"
    script.write_text(_UNDER_MULTIPROCESSING)
    proc = subprocess.run([sys.executable, str(script), str(int(unordered))], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = ast.literal_eval(proc.stdout.strip())
    assert sorted(got) == [(i, i * i) for i in range(6)]
    if not unordered:
        assert got == sorted(got)


def test_every_parallel_call_goes_through_launch():
    # one place knows which return types a backend supports
    package = Path(__file__).resolve().parent.parent / "trajhmm"
    calls = [p.name for p in package.rglob("*.py") if p.name != "_parallel.py" and re.search(r"\bParallel\(", p.read_text())]
    assert calls == []


def test_sparse_input_is_refused_plainly():
    dense = np.ones((5, 2))
    with pytest.raises(DataError, match=r"X\[0\]: expected a dense array .* sparse csr_matrix; pass its \.toarray\(\)"):
        HMMClassifier().fit([sp.csr_matrix(dense)] * 4, ["a", "a", "b", "b"])
    with pytest.raises(DataError, match=r"X: expected a sequence of dense .* sparse csr_array"):
        HMMClassifier().fit(sp.csr_array(dense), ["a"] * 5)


@pytest.fixture(scope="module")
def frames(dataset):
    X, y = dataset
    return [pd.DataFrame(x, columns=["x", "y", "z"]) for x in X], np.asarray(y)


@pytest.fixture(scope="module")
def named(frames):
    X, y = frames
    return HMMClassifier(**QUICK).fit(X, y)


def test_fit_on_dataframes_records_their_column_names(named, frames):
    X, y = frames
    assert named.feature_names_in_.tolist() == ["x", "y", "z"] and named.feature_names_in_.dtype == object
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same names: no warning
        same = named.predict(X)
    assert len(same) == len(X)
    refit = HMMClassifier(**QUICK).fit([x.to_numpy() for x in X], y)
    assert not hasattr(refit, "feature_names_in_")
    named_again = HMMClassifier(**QUICK).fit(X, y).fit([x.to_numpy() for x in X], y)
    assert not hasattr(named_again, "feature_names_in_")  # a refit on arrays forgets them, as scikit-learn


def test_reordered_or_renamed_columns_are_refused(named, frames):
    X, _ = frames
    with pytest.raises(DataError, match=r"X: expected the feature names seen at fit, in that order \('x', 'y', 'z'\), "
                                         r"got \('z', 'y', 'x'\)"):
        named.predict([x[["z", "y", "x"]] for x in X[:3]])
    with pytest.raises(DataError, match="feature names seen at fit"):
        named.predict_proba([x.rename(columns={"z": "w"}) for x in X[:3]])
    with pytest.raises(DataError, match="feature names seen at fit"):
        named.predict_prefix([x[["z", "y", "x"]][:20] for x in X[:3]])


def test_missing_or_unexpected_names_are_warned_about(named, frames):
    X, y = frames
    with pytest.warns(UserWarning, match=r"X does not have valid feature names, but HMMClassifier was fitted with"):
        named.predict([x.to_numpy() for x in X[:2]])
    plain = HMMClassifier(**QUICK).fit([x.to_numpy() for x in X], y)
    with pytest.warns(UserWarning, match=r"X has feature names, but HMMClassifier was fitted without"):
        plain.predict(X[:2])


def test_columns_must_agree_within_one_x(frames):
    X, y = frames
    mixed = [*X[:3], X[3][["y", "x", "z"]], *X[4:]]
    with pytest.raises(DataError, match=r"X\[3\]: expected the columns of X\[0\] \('x', 'y', 'z'\), got \('y', 'x', 'z'\)"):
        HMMClassifier(**QUICK).fit(mixed, y)
    with pytest.raises(DataError, match=r"X\[0\]: expected column names that are all strings"):
        HMMClassifier(**QUICK).fit([x.set_axis(["x", 1, "z"], axis=1) for x in X], y)
    numbered = HMMClassifier(**QUICK).fit([pd.DataFrame(x.to_numpy()) for x in X], y)  # integer names: none
    assert not hasattr(numbered, "feature_names_in_")


def test_the_search_records_and_checks_names(frames):
    X, y = frames
    search = HMMClassifierCV(estimator=HMMClassifier(**QUICK), param_grid={"n_states": [3, 4]}, cv=2).fit(X, y)
    assert search.feature_names_in_.tolist() == ["x", "y", "z"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # its members, fitted on arrays, are not asked about names
        search.predict_proba(X[:3])
        search.transform(X[:3])
        search.predict_prefix_proba([x[:20] for x in X[:3]])
    with pytest.raises(DataError, match="feature names seen at fit"):
        search.predict([x[["z", "y", "x"]] for x in X[:3]])
    with pytest.raises(DataError, match="feature names seen at fit"):
        search.transform([x[["z", "y", "x"]] for x in X[:3]])


def test_model_files_keep_the_names(named, frames, tmp_path, capsys):
    X, _ = frames
    path = tmp_path / "m.npz"
    save_model(named, path)
    meta = model_metadata(path)
    assert meta["format_version"] == 14 and meta["feature_names_in"] == ["x", "y", "z"]
    loaded = load_model(path)
    assert loaded.feature_names_in_.tolist() == ["x", "y", "z"] and loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.predict_proba(X), named.predict_proba(X))
    with pytest.raises(DataError, match="feature names seen at fit"):
        loaded.predict([x[["z", "y", "x"]] for x in X[:3]])
    code, out, _ = cli(["info", str(path)], capsys)
    assert code == 0 and "column names (fitted on DataFrames): x, y, z" in out
    resign(path, as_format(12))  # an older file: no names, the same model
    old = load_model(path)
    assert not hasattr(old, "feature_names_in_")
    np.testing.assert_array_equal(old.predict_proba([x.to_numpy() for x in X]), named.predict_proba(X))


@pytest.mark.parametrize(("names", "version", "match"), [
    (["x", "y"], 13, r"feature_names_in: expected a list of 3 column names \(strings\)"),
    (["x", "y", 3], 13, "feature_names_in: expected a list of 3 column names"),
    ("xyz", 13, "feature_names_in: expected a list of 3 column names"),
    (["x", "y", "z"], 12, "feature_names_in: only in files of format 13 or later"),
])
def test_crafted_names_are_refused(named, tmp_path, names, version, match):
    def edit(arrays, meta):
        as_format(version)(arrays, meta)
        meta["feature_names_in"] = names
    assert_refused(named, tmp_path / "m.npz", edit, match)


def test_files_are_read_without_names_and_without_a_warning(named, dataset, tmp_path, capsys):
    # files and tables are read by position (or --columns): a model fitted on DataFrames
    # reads them without the warning meant for arrays passed in Python
    from trajhmm import predict_files

    from conftest import write_folder

    X, y = dataset
    write_folder(tmp_path / "new", X[:3], y[:3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(predict_files(named, tmp_path / "new"))) == 3
    save_model(named, tmp_path / "m.npz")
    code, out, err = cli(["predict", str(tmp_path / "m.npz"), str(tmp_path / "new")], capsys)
    assert code == 0 and len(out.splitlines()) == 3 and "warning" not in err


def test_the_search_checks_it_is_fitted_before_reading_names(dataset):
    # the column-name check runs first in these methods: an unfitted search still says NotFittedError
    from sklearn.exceptions import NotFittedError

    X, y = dataset
    search = HMMClassifierCV()
    for call in (lambda: search.transform(X), lambda: search.predict_prefix_proba(X), lambda: search.bic(X, y),
                 lambda: search.aic(X, y), lambda: search.predict(X)):
        with pytest.raises(NotFittedError):
            call()

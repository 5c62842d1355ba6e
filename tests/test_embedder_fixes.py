"""Defects found by a user embedding trained models in other Python code (session 17's
trial): each test failed on the code before its fix."""

import warnings

import numpy as np
import pytest

import trajhmm
import trajhmm._parallel as parallel_module
import trajhmm.classifier as classifier_module
from trajhmm import DataError, HMMClassifier, ParameterError, load_model, save_model
from trajhmm.exceptions import ConvergenceWarning, ParameterTypeError, ParameterValueError

from conftest import FAST


# ------------------------------------------------------------------ bic / aic
def test_information_criteria_refuse_labels_the_model_has_no_class_for(fitted, dataset):
    X, y = dataset
    assert fitted.bic(X, y) > 0
    for bad in (np.where(y == y[0], "nope", y), np.arange(len(y))):  # one class renamed; numbers for strings
        for criterion in (fitted.bic, fitted.aic):
            with pytest.raises(DataError, match=r"^y: labels the model has no class for: .*\(classes: 'arc_up'"):
                criterion(X, bad)


# ------------------------------------------------------------------ labels
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_short_float_labels_are_kept_as_numbers_in_model_files(tmp_path, dataset, dtype):
    X, y = dataset
    numeric = np.unique(y, return_inverse=True)[1].astype(dtype)
    clf = HMMClassifier(**FAST, rejection_rate=0, prefix_view=False).fit(X, numeric)
    assert clf.classes_.dtype == np.float64
    save_model(clf, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.classes_, [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


@pytest.mark.parametrize("labels, match", [
    (np.array([b"\xff", b"b"]), r"got bytes that are not UTF-8 text \(b'\\xff', ...\)"),
    (np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"), r"got dtype datetime64\[D\]"),
    (np.array([1 + 1j, 2j]), r"got complex numbers"),
])
def test_labels_no_model_file_can_keep_are_refused_at_fit(dataset, labels, match):
    X, _ = dataset
    with pytest.raises(DataError, match="^y: expected labels as " + ".*" + match):
        HMMClassifier(**FAST).fit(X[:8], np.repeat(labels, 4))


def test_bytes_labels_are_text(dataset):
    """scikit-learn's metrics (score) refuse bytes labels: they are decoded at fit."""
    X, y = dataset
    clf = HMMClassifier(**FAST, rejection_rate=0, prefix_view=False).fit(X, np.char.encode(y.astype(str), "utf-8"))
    assert clf.classes_.tolist() == sorted(set(y)) and clf.score(X, y) > 0.9


def test_python_numbers_held_as_objects_are_numbers(dataset):
    X, y = dataset
    labels = np.array([int(i) for i in np.unique(y, return_inverse=True)[1]], dtype=object)
    clf = HMMClassifier(**FAST, rejection_rate=0, prefix_view=False).fit(X, labels)
    assert clf.classes_.dtype.kind == "i"


# ------------------------------------------------------------------ parameter errors
def test_load_model_takes_only_a_bool_for_trusted(tmp_path, fitted):
    save_model(fitted, tmp_path / "m.pkl", format="pickle")
    for value in ("false", "True", 1, None):
        with pytest.raises(ParameterTypeError, match=r"^trusted: expected True or False, got "):
            load_model(tmp_path / "m.pkl", trusted=value)
    assert load_model(tmp_path / "m.pkl", trusted=np.True_).classes_.tolist() == fitted.classes_.tolist()


def test_model_file_paths_must_be_paths(tmp_path, fitted, model_file):
    for call in (lambda p: load_model(p), lambda p: save_model(fitted, p), lambda p: trajhmm.persistence.model_metadata(p)):
        for bad in (bytes(str(model_file), "utf-8"), 3):
            with pytest.raises(ParameterTypeError, match=r"^path: expected a file path \(str or pathlib.Path\), got "):
                call(bad)
    with open(model_file, "rb") as fh, pytest.raises(ParameterTypeError, match="got BufferedReader"):
        load_model(fh)


@pytest.mark.parametrize("call, kind, match", [
    (lambda m: save_model(m, "r.npz", reader={"foo": 1}), ParameterValueError, r"^reader: expected some of .*got unknown "),
    (lambda m: save_model(m, "r.npz", reader=[1]), ParameterTypeError, r"^reader: expected a dict of reading options"),
    (lambda m: load_model("m.npz", max_bytes="x"), ParameterTypeError, r"^max_bytes: expected a positive integer, got "),
    (lambda m: load_model("m.npz", max_bytes=0), ParameterValueError, r"^max_bytes: expected a positive integer, got 0"),
    (lambda m: trajhmm.resample(np.zeros((5, 2)), 10, method="x"), ParameterValueError, r"^method: expected one of "),
    (lambda m: trajhmm.load_trajectories("nowhere", on_invalid="bogus"), ParameterValueError, r"^on_invalid: expected"),
    (lambda m: trajhmm.read_trajectory("f.csv", layout="bogus"), ParameterValueError, r"^layout: expected one of "),
    (lambda m: trajhmm.read_trajectory("f.csv", delimiter="ab"), ParameterValueError, r"^delimiter: expected one "),
    (lambda m: trajhmm.read_trajectory("f.csv", columns="x"), ParameterTypeError, r"^columns: expected a list "),
    (lambda m: trajhmm.read_trajectory("f.csv", columns=["x", "x"]), ParameterValueError, r"^columns: expected each "),
    (lambda m: trajhmm.read_trajectory("f.csv", encoding="no-such"), ParameterValueError, r"^encoding: expected a "),
    (lambda m: trajhmm.read_trajectory("f.csv", delimiter=",", decimal=","), ParameterValueError, r"^decimal: "),
    (lambda m: trajhmm.datasets.load_dataset("nowhere", colums=["x"]), ParameterTypeError, r"^colums: expected a reading "),
])
def test_bad_arguments_are_parameter_errors(fitted, call, kind, match):
    """README: every bad parameter is a ParameterError (so a TrajHMMError) naming it;
    these were plain ValueError / TypeError."""
    with pytest.raises(kind, match=match) as info:
        call(fitted)
    assert isinstance(info.value, ParameterError)


def test_a_nan_parameter_is_a_value_error_and_the_seed_message_lists_every_kind(dataset):
    X, y = dataset
    with pytest.raises(ParameterValueError, match=r"^reg_covar: expected a finite real number, got nan"):
        HMMClassifier(reg_covar=float("nan")).fit(X, y)
    with pytest.raises(ParameterTypeError, match=r"^random_state: expected an integer, a RandomState or None, got "):
        HMMClassifier(random_state=np.random.default_rng(0)).fit(X, y)


# ------------------------------------------------------------------ predict in blocks
def test_predict_transforms_a_bounded_block_at_a_time(monkeypatch, fitted, dataset):
    """Memory does not grow with the batch: at most _TRANSFORM_CHUNK trajectories become
    segments at once; the numbers are those of one pass, and a bad row is still named by
    its place in X."""
    X, _ = dataset
    monkeypatch.setattr(classifier_module, "_SCORE_CHUNK", 3)
    monkeypatch.setattr(classifier_module, "_TRANSFORM_CHUNK", len(X))
    expected_proba, expected_unknown = fitted.predict_proba(X), fitted.is_unknown(X)
    monkeypatch.setattr(classifier_module, "_TRANSFORM_CHUNK", 6)
    sizes = []
    segments = classifier_module.HMMClassifier._segments

    def recorded(self, trajectories, times):
        sizes.append(len(trajectories))
        return segments(self, trajectories, times)

    monkeypatch.setattr(classifier_module.HMMClassifier, "_segments", recorded)
    np.testing.assert_array_equal(fitted.predict_proba(X), expected_proba)
    np.testing.assert_array_equal(fitted.is_unknown(X), expected_unknown)
    assert max(sizes) == 6 and sum(sizes) == 2 * len(X)
    bad = list(X)
    bad[20] = X[20] * 1e200
    with pytest.raises(DataError, match=r"^X\[20\]: its values are too large"):
        fitted.predict(bad)


def test_scores_that_overflow_give_no_numpy_warning_with_n_jobs(dataset):
    X, y = dataset
    clf = HMMClassifier(**FAST, n_jobs=2, rejection_rate=0, prefix_view=False).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"^X\[0\]: its values are too large"):
            clf.predict([X[0] * 1e155])


# ------------------------------------------------------------------ warnings point at the caller
def test_warnings_from_deep_inside_point_at_the_users_line(dataset):
    X, y = dataset
    search = trajhmm.HMMClassifierCV(HMMClassifier(**{**FAST, "n_iter": 1, "tol": 0.0}), {}, cv=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert convergence and {w.filename for w in convergence} == {__file__}


def test_arrays_in_the_shape_of_dims_by_time_are_warned_about_before_any_work(monkeypatch, dataset):
    """A list of 3 x 501 arrays (MATLAB's layout) fitted as given is 3 points of 501 dims:
    a MemoryError after minutes. The warning comes first and names the fix."""
    X, y = dataset
    started = []
    monkeypatch.setattr(HMMClassifier, "_fit_features", lambda self, *a: started.append(1) or 1 / 0)
    wide = [np.tile(x[:3], (1, 6)) for x in X]  # 3 points of 18 dims each
    for estimator in (HMMClassifier(**FAST), trajhmm.HMMClassifierCV(HMMClassifier(**FAST), {}, cv=2)):
        with pytest.warns(UserWarning, match=r"^X: every trajectory has 2 to 16 points of more than 16 dims \(X\[0\]: 3 "
                                             r"points of 18 dims\).*pass \[x\.T for x in X\]") as record, \
                pytest.raises(ZeroDivisionError):
            estimator.fit(wide, y)
        assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ZeroDivisionError):
            HMMClassifier(**FAST).fit([x[:17] for x in X], y)  # 17 points: a trajectory


def test_parallel_scoring_keeps_one_chunk_per_worker(monkeypatch, fitted, dataset):
    """The blocks of predict hold a scoring chunk per worker: n_jobs workers still score
    in parallel (blocks of two chunks had capped every Parallel call at two tasks)."""
    from sklearn.base import clone

    X, _ = dataset
    monkeypatch.setattr(classifier_module, "_SCORE_CHUNK", 2)
    monkeypatch.setattr(classifier_module, "_TRANSFORM_CHUNK", 4)
    monkeypatch.setattr("trajhmm._parallel.cores", lambda: 8)
    calls = []
    real = parallel_module.Parallel  # (every joblib call of trajhmm is made there)

    class Recorded(real):
        def __call__(self, tasks):
            tasks = list(tasks)
            calls.append(len(tasks))
            return super().__call__(tasks)

    expected = fitted.predict_proba(X)
    monkeypatch.setattr(parallel_module, "Parallel", Recorded)
    parallel = clone(fitted).set_params(n_jobs=8)
    parallel.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
    from joblib import parallel_config

    with parallel_config(backend="threading"):  # workers without processes
        np.testing.assert_array_equal(parallel.predict_proba(X), expected)
    assert calls and max(calls) == 8 and sum(calls) == -(-len(X) // 2)


@pytest.mark.parametrize("labels, match", [
    (lambda: [__import__("datetime").date(2020, 1, 1 + i % 2) for i in range(8)], r"got date values"),
    (lambda: np.array([True, 2] * 4, dtype=object), r"got booleans and numbers"),  # True and 1: one class
    (lambda: np.array([1 + 1j, 2] * 4, dtype=object), r"got complex and numbers"),
])
def test_labels_held_as_objects_are_checked_like_arrays(dataset, labels, match):
    X, _ = dataset
    with pytest.raises(DataError, match=match):
        HMMClassifier(**FAST).fit(X[:8], labels())


def test_bytes_held_as_objects_are_text_too(dataset):
    X, y = dataset
    objects = np.array([s.encode() for s in y], dtype=object)  # a pandas object column of bytes
    clf = HMMClassifier(**FAST, rejection_rate=0, prefix_view=False).fit(X, objects)
    assert clf.classes_.tolist() == sorted(set(y))


def test_the_dims_by_time_warning_comes_once_per_fit(dataset):
    X, y = dataset
    wide = [np.tile(x[:3], (1, 6)) for x in X]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            HMMClassifier(**{**FAST, "n_states": 2, "n_points": 3, "n_iter": 2}).fit(wide, y)
        except DataError:
            pass
    assert sum("dims x time" in str(w.message) for w in caught) == 1

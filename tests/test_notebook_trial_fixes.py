"""Defects found by a user trial preparing a teaching notebook (the Python API, model
introspection, plots): time stamps named by file, parameters set after fit, the plots'
input and annotations, warnings said once at the caller's line."""

import warnings

import numpy as np
import pytest

from trajhmm import HMMClassifier, predict_files
from trajhmm.exceptions import DataError, ParameterValueError
from trajhmm.prediction import SkippedFile

from conftest import FAST

pytest.importorskip("matplotlib")
from trajhmm import plotting


@pytest.fixture(scope="module")
def timed():
    """A model of two classes whose trajectories carry time stamps in column 0."""
    rng = np.random.RandomState(0)
    t = np.linspace(0, 1, 80)[:, None]
    X = [np.hstack([t, (-1) ** k * t ** 2]) + 0.01 * rng.randn(80, 2) for k in range(20)]
    X = [np.c_[np.cumsum(rng.uniform(0.5, 1.5, 80)), x] for x in X]
    return HMMClassifier(n_states=3, time_column=0, random_state=0, prefix_view=False).fit(X, ["up", "down"] * 10), X


def test_a_bad_time_stamp_names_its_file_and_is_skipped_on_request(timed, tmp_path):
    clf, X = timed
    bad = X[0].copy()
    bad[5, 0] = bad[4, 0]
    np.savetxt(tmp_path / "bad.csv", bad, delimiter=",")
    np.savetxt(tmp_path / "good.csv", X[1], delimiter=",")
    # was: "X[0] (time column 0): expected strictly increasing ...", and skip did not skip
    with pytest.raises(DataError, match=r"bad\.csv: time column 0: expected strictly increasing time stamps"):
        list(predict_files(clf, tmp_path))
    results = list(predict_files(clf, tmp_path, on_invalid="skip"))
    assert [type(r).__name__ for r in results] == ["SkippedFile", "FilePrediction"]
    assert isinstance(results[0], SkippedFile) and results[0].path.endswith("bad.csv")
    assert results[1].path.endswith("good.csv") and results[1].label == "down"


@pytest.mark.parametrize("name, value", [("translation", "start"), ("derivatives", 2), ("n_points", 30),
                                         ("resample", "arclength"), ("scaling", "std")])
def test_a_reading_parameter_set_after_fit_is_refused_until_set_back(fitted, dataset, name, value):
    X, y = dataset
    clf = HMMClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    before = clf.get_params()[name]
    clf.set_params(**{name: value})
    # was: predictions from the new preprocessing and the old models (0.90 -> 0.43 on ERing), or a numpy error
    with pytest.raises(ParameterValueError, match=rf"^{name}: expected {before!r}, its value at fit"):
        clf.predict(X)
    clf.set_params(**{name: before})
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    clf.set_params(n_states=3)  # (not a reading parameter: takes effect at the next fit)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)


def test_a_refit_after_set_params_reads_with_the_new_value(dataset):
    X, y = dataset
    clf = HMMClassifier(**FAST).fit(X, y)
    clf.set_params(translation="start").fit(X, y)
    assert clf.predict(X).shape == (len(X),)


def test_a_column_vector_y_is_warned_about_once_at_the_callers_line(dataset):
    X, y = dataset
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        HMMClassifier(**FAST).fit(X, y[:, None])
    conversions = [w for w in caught if w.category.__name__ == "DataConversionWarning"]
    assert len(conversions) == 1 and conversions[0].filename == __file__  # was: twice, in trajhmm/_validation.py


def test_confusion_plots_annotate_fractions_and_refuse_nan():
    fig = plotting.plot_confusion([[0.9, 0.1], [0.25, 0.75]], ["a", "b"])
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0.10", "0.25", "0.75", "0.90"]  # was: all "0"
    fig = plotting.plot_confusion([[3, 1], [0, 4]], ["a", "b"])
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1", "3", "4"]
    with pytest.raises(DataError, match=r"confusion: expected counts or fractions \(finite, >= 0\), got nan"):
        plotting.plot_confusion([[3, float("nan")], [0, 4]], ["a", "b"])  # was: ValueError from int(nan)


def test_trajectory_plots_check_their_input(dataset):
    X, y = dataset
    with pytest.raises(DataError, match=r"got an array of shape \(101, 3\) \(one trajectory: pass \[x\]\)"):
        plotting.plot_trajectories(X[0], ["a"])  # was: "labels: expected 101 (one per trajectory)"
    class Dataset:  # (what load_trajectories returns: its arrays and labels)
        trajectories, labels = X, y

    with pytest.raises(DataError, match="got a Dataset; pass its arrays"):
        plotting.plot_trajectories(Dataset(), y)  # was: TypeError, not iterable


def test_trajectory_plots_leave_out_the_time_column_and_order_the_legend():
    t = np.cumsum(np.full(40, 0.01))
    s = np.linspace(0, 1, 40)
    X = [np.c_[t, s, k * s] for k in (10, 2, 1)]
    fig = plotting.plot_trajectories(X, [10, 2, 1], time_column=0)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), s)  # was: the time stamps drawn as "x"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["1", "2", "10"]  # was: 10, 2, 1


def test_state_paths_of_mixtures_go_through_the_weighted_means(dataset):
    X, y = dataset
    clf = HMMClassifier(**{**FAST, "n_mix": 2}, prefix_view=False).fit(X, y)
    fig = plotting.plot_states(clf, y[0])
    hmm = clf.models_[list(clf.classes_).index(y[0])]
    expected = np.einsum("sm,smf->sf", hmm.weights_, np.asarray(hmm.means_))
    path = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"][0]
    np.testing.assert_allclose(path.get_xdata(), expected[:, 0])  # was: the plain mean of the components


def test_convergence_plots_number_iterations_as_whole_numbers(fitted):
    fig = plotting.plot_convergence(fitted)
    fig.canvas.draw()
    ticks = fig.axes[0].get_xticks()
    assert np.all(ticks == np.round(ticks))

"""Defects found by a user trial reporting figures for a paper: the margin of the class
printed, scikit-learn's log loss, the calibration error given labels, numeric and bool
classes in evaluate and plots, the same model for any n_jobs, bytes labels in score."""

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.metrics import log_loss

from trajhmm import HMMClassifier, save_model
from trajhmm.calibration import expected_calibration_error
from trajhmm.exceptions import ParameterValueError
from trajhmm.prediction import prediction_rows

from conftest import FAST, cli, write_folder


class _Calibrated(BaseEstimator):
    """A model whose calibrated probabilities (priors weigh more than in the raw joint
    log-likelihoods) choose another class than the raw argmax."""

    classes_ = np.array(["a", "b", "c"])
    models_ = [None] * 3  # fitted (no motion figures: the motion check is off)

    def fit(self, X, y):  # pragma: no cover - what makes it an estimator for check_is_fitted
        return self


    def predict_joint_log_proba(self, X):
        return np.array([[0.0, -1.0, -5.0]] * len(X))

    def _log_proba_from_joint(self, jll):
        return np.log(np.array([[0.2, 0.7, 0.1]] * len(jll)))


def test_the_margin_is_that_of_the_class_printed():
    (label, margin, proba, rejected, still, oversized), = prediction_rows(_Calibrated(), [np.zeros((5, 3))])
    # was: label b with margin +1.0, the gap of a over b (b is 1 nat below a)
    assert label == "b" and margin == -1.0 and not rejected and not still and not oversized


def test_the_margin_of_a_plain_model_is_the_gap_of_the_two_best(fitted, dataset):
    X, _ = dataset
    jll = fitted.predict_joint_log_proba(X[:6])
    ordered = np.sort(jll, axis=1)
    margins = [row[1] for row in prediction_rows(fitted, X[:6])]
    np.testing.assert_allclose(margins, ordered[:, -1] - ordered[:, -2], rtol=1e-12)


def test_evaluate_reports_scikit_learns_log_loss(fitted, dataset, model_file, tmp_path, capsys):
    X, y = dataset
    swapped = np.where(y == "wave", "arc_up", np.where(y == "arc_up", "wave", y))  # sure and wrong: p ~ 0
    write_folder(tmp_path / "data", X, swapped)
    code, _, err = cli(["evaluate", model_file, tmp_path / "data", "--report", tmp_path / "r.json"], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    from trajhmm import load_trajectories

    ds = load_trajectories(tmp_path / "data")
    expected = log_loss(ds.labels, fitted.predict_proba(ds.trajectories), labels=fitted.classes_)
    # was: probabilities clipped at 1e-15, not at scikit-learn's machine epsilon
    assert report["log_loss"] == pytest.approx(expected, rel=1e-9)


def test_the_calibration_error_takes_labels_with_classes_and_refuses_them_without():
    proba = [[0.9, 0.1], [0.8, 0.2]]
    assert expected_calibration_error(["a", "b"], proba, classes=["a", "b"]) == pytest.approx(0.45)
    assert expected_calibration_error([1, 2], proba, classes=[1, 2]) == pytest.approx(0.45)
    # was: 0.85 and 0.65, labels compared with column indices, no error
    with pytest.raises(ParameterValueError, match=r"y_true_idx: expected column indices of proba, 0 to 1 \(for "
                       r"labels, pass classes=clf.classes_\), got labels such as 'a'"):
        expected_calibration_error(["a", "b"], proba)
    with pytest.raises(ParameterValueError, match="got values from 1 to 2"):
        expected_calibration_error([1, 2], proba)
    with pytest.raises(ParameterValueError, match=r"y_true_idx: expected labels among classes \['a', 'b'\], got 'c'"):
        expected_calibration_error(["a", "c"], proba, classes=["a", "b"])
    with pytest.raises(ParameterValueError, match=r"one class per row of proba \(2\)"):
        expected_calibration_error([0], proba)


@pytest.fixture
def numeric(dataset, tmp_path):
    """A model of the classes 1, 2, 10, 11 (fitted in Python on numbers) and a folder of
    the same data whose class folders are named 1, 2, 10, 11."""
    X, y = dataset
    names = {"reach_x": 1, "arc_up": 2, "helix_ccw": 10, "wave": 11}
    y_num = np.array([names[label] for label in y])
    save_model(HMMClassifier(**FAST, prefix_view=False).fit(X, y_num), tmp_path / "num.npz")
    write_folder(tmp_path / "data", X, y_num.astype(str))
    return tmp_path / "num.npz", tmp_path / "data"


def test_evaluate_orders_numeric_classes_as_the_model_does(numeric, tmp_path, capsys):
    model, data = numeric
    code, out, err = cli(["evaluate", model, data, "--report", tmp_path / "r.json"], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    # was: ["1", "10", "11", "2"] (sorted as text, and text)
    assert report["labels"] == [1, 2, 10, 11]
    table = out[out.index("confusion matrix"):].splitlines()
    assert table[1].split()[-4:] == ["1", "2", "10", "11"]
    assert [line.split()[0] for line in table[2:6]] == ["1", "2", "10", "11"]


def test_plots_match_float_classes_by_value(dataset, tmp_path, capsys, monkeypatch):
    from trajhmm import plotting

    X, y = dataset
    names = {"reach_x": 1.0, "arc_up": 2.0, "helix_ccw": 10.0, "wave": 11.0}
    save_model(HMMClassifier(**FAST, prefix_view=False).fit(X, np.array([names[v] for v in y])), tmp_path / "f.npz")
    write_folder(tmp_path / "data", X, np.array([str(int(names[v])) for v in y]))  # folders 1, 2, 10, 11
    seen = {}
    original = plotting.plot_trajectories

    def spy(X, labels, predicted=None, **kwargs):
        seen["wrong"] = sum(a != b for a, b in zip(labels, predicted))
        return original(X, labels, predicted=predicted, **kwargs)

    monkeypatch.setattr(plotting, "plot_trajectories", spy)
    code, _, err = cli(["plot", "trajectories", tmp_path / "data", "--model", tmp_path / "f.npz", "-o",
                        tmp_path / "t.png"], capsys)
    assert code == 0, err
    assert seen["wrong"] == 0  # was: all 32 ("1" against "1.0")
    code, _, err = cli(["plot", "states", tmp_path / "f.npz", "10", "-o", tmp_path / "s.png"], capsys)
    assert code == 0, err  # was: class '10': not in the model (classes: ['1.0', ...])


@pytest.mark.parametrize("names", [("0", "1"), ("false", "true"), ("False", "TRUE")])
def test_a_bool_model_evaluates_data_labelled_as_numbers_or_words(dataset, tmp_path, capsys, names):
    X, y = dataset
    keep = np.isin(y, ["reach_x", "wave"])
    X2, yb = [x for x, k in zip(X, keep) if k], y[keep] == "wave"
    save_model(HMMClassifier(**FAST, prefix_view=False).fit(X2, yb), tmp_path / "b.npz")
    write_folder(tmp_path / "data", X2, np.where(yb, names[1], names[0]))
    code, out, err = cli(["evaluate", tmp_path / "b.npz", tmp_path / "data"], capsys)
    # was: "none of its labels (0, 1) is a class of the model (classes: False, True)", exit 1
    assert code == 0, err
    assert out.startswith("accuracy: 1.0000 (16/16 trajectories)")


def test_the_same_model_for_any_n_jobs():
    rng = np.random.default_rng(0)  # 6-D: the background model's sums are long enough for BLAS to split
    X = [np.cumsum(rng.normal(size=(65, 6)), 0) + c for c in range(4) for _ in range(10)]
    y = np.repeat(["a", "b", "c", "d"], 10)
    fits = [HMMClassifier(random_state=0, n_jobs=n, prefix_view=False).fit(X, y) for n in (1, 2)]
    a, b = (f.background_model_ for f in fits)
    for name in ("means_", "covars_", "transmat_"):  # was: 1e-14 apart (BLAS on 2 threads here, 1 in workers)
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(fits[0].rejection_threshold_, fits[1].rejection_threshold_)


def test_score_takes_bytes_labels_as_fit_does(fitted, dataset):
    X, y = dataset
    yb = np.char.encode(y, "utf-8")
    clf = HMMClassifier(**FAST, rejection_rate=0, prefix_view=False).fit(X, yb)
    assert clf.score(X, yb) == clf.score(X, y) == pytest.approx(np.mean(clf.predict(X) == y))  # was: TypeError

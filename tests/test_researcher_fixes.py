"""Fixes from a model-selection user's trial: the search's table (cv_results_), what
`trajhmm info` and `train` say about it, tune's agreement with HMMClassifierCV, and the
errors of grids, Stages and flags that do not apply."""

import numpy as np
import pytest

from trajhmm import HMMClassifier, HMMClassifierCV, load_model, save_model
from trajhmm.exceptions import DataError, ParameterTypeError
from trajhmm.model_selection import tune
from trajhmm.search import Stages

from conftest import FAST, FLAGS, cli, resign

QUICK = dict(FAST, rejection_rate=0.0, prefix_view=False)


@pytest.fixture(scope="module")
def halved(dataset):
    """A search whose grid has more than three candidates: some stop after the first fold."""
    X, y = dataset
    grid = {"n_states": [2, 3, 4, 5, 6]}
    return HMMClassifierCV(HMMClassifier(**QUICK), grid, cv=3, ensemble=False, random_state=0).fit(X, y)


def test_a_candidate_stopped_after_one_fold_has_no_spread(halved, tmp_path):
    res = halved.cv_results_
    one = res["n_folds"] == 1
    assert one.any() and (~one).any()
    assert np.isnan(res["std_test_score"][one]).all() and np.isfinite(res["std_test_score"][~one]).all()
    save_model(halved, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz").cv_results_
    np.testing.assert_array_equal(loaded["std_test_score"], res["std_test_score"])

    def as_before(arrays, meta):  # files written before this change stored 0.0 there
        table = meta["search"]["cv_results"]
        table["std_test_score"] = [0.0 if v is None else v for v in table["std_test_score"]]

    resign(tmp_path / "m.npz", as_before)
    np.testing.assert_array_equal(load_model(tmp_path / "m.npz").cv_results_["std_test_score"], res["std_test_score"])


def test_the_table_has_scikit_learns_dtypes(halved, tmp_path):
    """rank_test_score int32, numeric param_<name> columns in their own dtype (masked
    arrays), also after a round trip through a model file."""
    save_model(halved, tmp_path / "m.npz")
    for res in (halved.cv_results_, load_model(tmp_path / "m.npz").cv_results_):
        assert res["rank_test_score"].dtype == np.int32
        col = res["param_n_states"]
        assert isinstance(col, np.ma.MaskedArray) and col.dtype.kind == "i" and not np.ma.is_masked(col)
        assert col.tolist() == [p["n_states"] for p in res["params"]]


def test_info_says_when_probabilities_are_not_calibrated_and_claims_no_fold_kind(dataset, tmp_path, capsys):
    X, y = dataset
    for calibrate, said in ((False, "probabilities not calibrated)"), (True, "probabilities calibrated, temperature")):
        clf = HMMClassifierCV(HMMClassifier(**QUICK), {"n_states": [2, 3]}, cv=2, calibrate=calibrate,
                              ensemble=False, random_state=0).fit(X, y)
        save_model(clf, tmp_path / "m.npz")
        code, out, err = cli(["info", tmp_path / "m.npz"], capsys)
        assert code == 0, err
        assert said in out
        assert "2 candidates, 2-fold cross-validation" in out  # the file does not keep how the folds were made


def test_tune_with_one_candidate_says_so(data_dir, tmp_path, capsys):
    code, out, err = cli(["tune", data_dir, "-o", tmp_path / "m.npz", *FLAGS, "--cv", "2"], capsys)
    assert code == 0, err
    assert "1 candidate, 2-fold stratified cross-validation" in out
    assert "chosen: the given parameters (cross-validated accuracy" in out


def test_tune_reduces_folds_like_the_class(dataset):
    """model_selection.tune is the class underneath: a class smaller than cv reduces the
    folds with a warning (it refused before)."""
    X, y = dataset
    keep = np.r_[np.flatnonzero(y != "wave"), np.flatnonzero(y == "wave")[:2]]
    with pytest.warns(UserWarning, match="the search cross-validates 2 folds"):
        _, ranking = tune([X[i] for i in keep], y[keep], {"n_states": [2]}, cv=3, **QUICK)
    assert ranking[0]["n_folds"] == 2


def test_bad_stages_grid_values_and_tune_keywords_are_parameter_errors(dataset):
    X, y = dataset
    with pytest.raises(ParameterTypeError, match=r"Stages: expected a list of \(name, grid\) pairs"):
        Stages({"n_states": [4]})
    assert Stages(s for s in [("size", {"n_states": [2, 3]})]) == (("size", {"n_states": [2, 3]}),)  # a generator
    with pytest.raises(ParameterTypeError, match=r"param_grid: expected a list of values for 'covariance_type'"):
        Stages([("g", {"covariance_type": {"diag", "full"}})])  # a set has no order
    with pytest.raises(ParameterTypeError, match=r"n_stat: expected a keyword of tune or a parameter of HMMClassifier"):
        tune(X, y, {"n_states": [4]}, n_stat=6)


def test_search_only_flags_are_refused_with_no_search(data_dir, tmp_path, capsys):
    for flags, said in ((["--cv", "4"], "argument --cv: expected to be left out with --no-search"),
                        (["--no-ensemble"], "argument --no-ensemble: expected to be left out with --no-search")):
        code, _, err = cli(["train", data_dir, "-o", tmp_path / "m.npz", "--no-search", *flags], capsys)
        assert code == 2 and said in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "m.npz").exists()


def test_a_test_size_that_leaves_one_to_train_on_says_so(dataset):
    from trajhmm.model_selection import _fit_held_out

    X, y = dataset
    keep = np.r_[np.flatnonzero(y != "wave"), np.flatnonzero(y == "wave")[:2]]
    search = HMMClassifierCV(HMMClassifier(**QUICK), {"n_states": [2]}, cv=2)
    with pytest.raises(DataError, match=r"^data: holding out 0.3 of the data leaves 1 trajectory of class 'wave' to "
                       r"train on, and the model search needs at least 2 of every class; use a smaller --test-size"):
        _fit_held_out(search, [X[i] for i in keep], y[keep], 0.3)


def test_evaluate_reports_log_loss_and_calibration_error(fitted, model_file, data_dir, dataset, tmp_path, capsys):
    import json

    from trajhmm.calibration import expected_calibration_error

    X, y = dataset
    code, out, err = cli(["evaluate", model_file, data_dir, "--report", tmp_path / "r.json"], capsys)
    assert code == 0, err
    log_proba = fitted.predict_log_proba(X)
    y_idx = np.searchsorted(fitted.classes_, y)
    loss = -np.maximum(log_proba[np.arange(len(y)), y_idx], np.log(1e-15)).mean() + 0.0
    ece = expected_calibration_error(y_idx, np.exp(log_proba))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["log_loss"] == pytest.approx(loss, rel=1e-9)
    assert report["expected_calibration_error"] == pytest.approx(ece, rel=1e-9)
    assert f"probabilities: log loss {loss:.4f}; expected calibration error {ece:.4f} (15 bins, top label)" in out


def test_param_columns_take_scikit_learns_dtypes_for_mixed_numbers_and_bools():
    from trajhmm.search import param_columns

    assert param_columns([{"p": 0.01}, {"p": 1}])["param_p"].dtype == np.float64
    assert param_columns([{"b": True}, {"b": False}])["param_b"].dtype == np.bool_
    assert param_columns([{"s": "diag"}, {"s": "full"}])["param_s"].dtype == object


def test_evaluate_never_reports_a_negative_zero_log_loss(fitted, dataset):
    from trajhmm.metrics import _probability_scores

    X, y = dataset
    classes = [str(c) for c in fitted.classes_]
    sure = np.where(np.arange(len(classes))[None, :] == np.searchsorted(classes, y)[:, None], 0.0, -np.inf)
    scores = _probability_scores(sure, list(y), classes)
    # scikit-learn's log loss (probabilities clipped at 1 - eps): 2.2e-16 here, never -0.0
    assert scores["log_loss"] == pytest.approx(0.0, abs=1e-15) and not str(scores["log_loss"]).startswith("-")

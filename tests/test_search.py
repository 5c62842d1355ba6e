"""HMMClassifierCV: the estimator contract, the staged search with successive halving,
calibration, the model file and the CLI (issue: choose the model from the data)."""

import json
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from trajhmm import HMMClassifier, HMMClassifierCV, load_model, save_model
from trajhmm._params import ParameterError
from trajhmm.calibration import calibrated_log_proba, expected_calibration_error, fit_temperature
from trajhmm.classifier import rejection_folds
from trajhmm.exceptions import DataError, ModelFileError, ParameterTypeError
from trajhmm.search import Stages, default_param_grid

from conftest import FAST, FLAGS, as_format, assert_refused, cli, resign, write_folder

SMALL = {k: v for k, v in FAST.items() if k != "random_state"}


def _noisy(n_per_class=10, noise=0.35, seed=0, offsets=0.0):
    """Two overlapping classes (a parabola up or down), so that some items are confused."""
    rng = np.random.RandomState(seed)
    t = np.linspace(0, 1, 30)[:, None]
    X, y = [], []
    for k, sign in enumerate((1, -1)):
        for _ in range(n_per_class):
            shift = offsets * rng.randn(1, 2)
            X.append(np.hstack([t, 0.3 * sign * t ** 2]) + noise * rng.randn(30, 2) + shift)
            y.append(f"c{k}")
    return X, np.array(y)


@pytest.fixture(scope="module")
def searched(dataset):
    X, y = dataset
    grid = {"n_states": [2, 3, 4, 5], "covariance_type": ["diag"]}
    return HMMClassifierCV(HMMClassifier(**SMALL), grid, cv=2, random_state=0).fit(X, y)


# ---------------------------------------------------------------- estimator contract
def test_clone_get_set_params_and_defaults():
    clf = HMMClassifierCV(random_state=0)
    assert clf.get_params(deep=False) == {"estimator": None, "param_grid": None, "cv": 3, "calibrate": True, "ensemble": True,
                                          "n_jobs": None, "random_state": 0}
    other = clone(clf).set_params(cv=4)
    assert other.cv == 4 and clf.cv == 3


def test_gridsearchcv_around_it_and_pickle(dataset):
    X, y = dataset
    inner = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2, 3]}, cv=2, random_state=0)
    outer = GridSearchCV(inner, {"calibrate": [True, False]}, cv=2).fit(X, y)
    assert set(outer.cv_results_["param_calibrate"]) == {True, False}
    again = pickle.loads(pickle.dumps(outer.best_estimator_))
    np.testing.assert_array_equal(again.predict_proba(X), outer.best_estimator_.predict_proba(X))


def test_cv_results_are_scikit_learns_cross_validation(searched, dataset):
    """Every fully evaluated candidate's fold scores equal cross_val_score of the same
    HMMClassifier on the same folds (an independent computation); the search's fold fits
    stop EM at tol 3e-3 (the classes here are below the per-class cap)."""
    X, y = dataset
    res = searched.cv_results_
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    full = np.flatnonzero(res["n_folds"] == 2)
    assert len(full) >= 2
    for i in full:
        est = HMMClassifier(**{**SMALL, "tol": 3e-3}, random_state=0).set_params(**res["params"][i])
        ref = cross_val_score(est, X, y, cv=folds)
        np.testing.assert_allclose([res["split0_test_score"][i], res["split1_test_score"][i]], ref)
        assert res["mean_test_score"][i] == pytest.approx(ref.mean())
    for key in ("params", "mean_test_score", "std_test_score", "rank_test_score", "mean_fit_time", "std_fit_time",
                "mean_test_log_loss", "n_folds", "stage", "param_n_states"):
        assert len(res[key]) == 4, key
    best = res["params"][searched.best_index_]
    assert best == searched.best_params_ and res["rank_test_score"][searched.best_index_] == 1
    assert searched.best_score_ == pytest.approx(res["mean_test_score"][searched.best_index_])


def test_successive_halving_stops_candidates_after_the_first_fold(searched):
    """Four candidates: all on fold 0, at most half (2) go on, ranked by fold-0 accuracy."""
    res = searched.cv_results_
    assert sorted(res["n_folds"].tolist()) == [1, 1, 2, 2]
    stopped = res["n_folds"] == 1
    assert np.isnan(res["split1_test_score"][stopped]).all()
    assert res["split0_test_score"][~stopped].min() >= res["split0_test_score"][stopped].max()
    assert (res["rank_test_score"][stopped] > res["rank_test_score"][~stopped].max()).all()


def test_result_does_not_depend_on_n_jobs(dataset, searched):
    X, y = dataset
    other = clone(searched).set_params(n_jobs=2).fit(X, y)
    assert other.best_params_ == searched.best_params_
    np.testing.assert_array_equal(other.cv_results_["mean_test_score"], searched.cv_results_["mean_test_score"])
    np.testing.assert_allclose(other.predict_proba(X), searched.predict_proba(X))


def test_refit_is_the_best_candidate_on_all_data(searched, dataset):
    X, y = dataset
    ref = HMMClassifier(**SMALL, random_state=0).set_params(**searched.best_params_).fit(X, y)
    np.testing.assert_array_equal(searched.predict_joint_log_proba(X), ref.predict_joint_log_proba(X))
    assert searched.best_estimator_.n_jobs is None


def test_bic_and_aic_are_those_of_an_independent_refit(searched, dataset):
    """The refitted best candidate's criteria: an HMMClassifier fitted here with the same
    parameters gives the same values; an unfitted search refuses."""
    from sklearn.exceptions import NotFittedError

    X, y = dataset
    ref = HMMClassifier(**SMALL, random_state=0).set_params(**searched.best_params_).fit(X, y)
    assert searched.bic(X, y) == pytest.approx(ref.bic(X, y), rel=1e-12)
    assert searched.aic(X, y) == pytest.approx(ref.aic(X, y), rel=1e-12)
    assert searched.bic(X, y) != pytest.approx(searched.aic(X, y))
    for criterion in ("bic", "aic"):
        with pytest.raises(NotFittedError):
            getattr(HMMClassifierCV(), criterion)(X, y)


def test_fit_times_are_durations_within_the_search(dataset):
    """mean_fit_time and std_fit_time are durations of fold fits: positive, and no fold
    fit can take longer than the whole search around it."""
    import time

    X, y = dataset
    t0 = time.perf_counter()
    clf = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2, 3]}, cv=2, random_state=0).fit(X, y)
    elapsed = time.perf_counter() - t0
    res = clf.cv_results_
    assert (res["mean_fit_time"] > 0).all() and (res["mean_fit_time"] <= elapsed).all()
    assert (res["std_fit_time"] >= 0).all() and (res["std_fit_time"] <= elapsed).all()


def test_progress_counts_to_the_planned_total(dataset):
    """4 candidates on 2 folds: all 4 on fold 0, at most ceil(4 / 2) + 1 = 3 (the best half
    and an incumbent) on fold 1, then the refit's EM runs (one per class and restart, plus
    the background model, for the refit and each cross-fitting fold): the plan of the
    halving, whatever the survivors; the last step reaches it. The refit's prefix view
    comes last, its runs joining the total when they start (as in HMMClassifier.fit)."""
    X, y = dataset
    calls = []
    est = HMMClassifier(**SMALL)
    HMMClassifierCV(est, {"n_states": [2, 3, 4, 5]}, cv=2, random_state=0).fit(
        X, y, progress=lambda done, total, info: calls.append((done, total, info["stage"])))
    folds = rejection_folds(np.unique(y, return_inverse=True)[1])  # 8 trajectories a class: 8 folds
    assert folds == 8
    runs = len(set(y)) * est.n_init + 1
    total = 4 + 3 + runs * (1 + folds)  # and again for each cross-fitting fold
    # two went on to fold 1: 6 fold fits, then the refit's runs count up to the total
    assert calls[:6] == [(i, total, "grid") for i in range(1, 7)]
    refit = calls[6:]
    assert {stage for _, _, stage in refit} == {"refit"}
    assert [d for d, _, _ in refit] == sorted(d for d, _, _ in refit) and refit[-1][:2] == (total + runs, total + runs)
    totals = [t for _, t, _ in refit]  # the view's runs raise it once, when they start
    assert totals == sorted(totals) and set(totals) == {total, total + runs}


def test_the_refit_runs_with_the_searchs_n_jobs(dataset, monkeypatch):
    """n_jobs is passed to the final refit (its EM runs in parallel) and the returned
    estimator (and its prefix view) keeps the n_jobs of the given one."""
    from joblib import parallel_config

    X, y = dataset
    seen = []
    original = HMMClassifier._fit

    def _fit(self, *args, **kwargs):
        seen.append(self.n_jobs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HMMClassifier, "_fit", _fit)
    with parallel_config(backend="threading"):
        clf = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2]}, cv=2, n_jobs=2, random_state=0).fit(X, y)
    # the 2 fold fits (the search parallelises over them), then the refit, its 8 cross-fitting
    # folds and its prefix view
    assert seen == [None, None] + [2] * (1 + 8 + 1)
    assert clf.best_estimator_.n_jobs is None and clf.best_estimator_.prefix_model_.n_jobs is None


# ---------------------------------------------------------------- the search space
def test_default_space_covers_what_decides_accuracy():
    names = default_param_grid().names
    for name in ("translation", "scaling", "resample", "derivatives", "n_states", "covariance_type", "topology",
                 "reg_covar"):
        assert name in names
    assert "translation" not in default_param_grid(fixed=["translation"]).names


def test_staged_search_keeps_the_winner_of_each_stage(dataset):
    """Stage 2 searches around stage 1's winner: every stage-2 candidate carries it."""
    X, y = dataset
    stages = Stages([("a", {"derivatives": [0, 1]}), ("b", {"n_states": [2, 3]})])
    clf = HMMClassifierCV(HMMClassifier(**SMALL), stages, cv=2, random_state=0).fit(X, y)
    res = clf.cv_results_
    assert all(p["derivatives"] == clf.best_params_["derivatives"] for p, s in zip(res["params"], res["stage"]) if s == "b")
    assert set(clf.best_params_) == {"derivatives", "n_states"}
    assert res["mean_test_score"][clf.best_index_] >= max(res["mean_test_score"][res["n_folds"] == 2]) - 1e-12


def test_parameters_set_on_the_estimator_are_held_fixed(dataset):
    X, y = dataset
    est = HMMClassifier(translation="start", scaling="std", derivatives=0, resample="arclength",
                        covariance_type="diag", n_states=3, reg_covar=0.1, topology="ergodic", n_points=20)
    clf = HMMClassifierCV(est, cv=2, random_state=0).fit(X, y)
    assert clf.best_params_ == {}  # everything the built-in space searches was set
    kept = clf.best_estimator_.get_params()
    assert (kept["translation"], kept["n_states"], kept["topology"]) == ("start", 3, "ergodic")
    assert clf.cv_results_["params"] == [{}] and clf.cv_results_["stage"].tolist() == ["given parameters"]


def test_built_in_space_drops_values_the_fixed_parameters_rule_out(dataset):
    X, y = dataset
    est = HMMClassifier(n_points=8, translation="none", scaling="none", derivatives=1, resample="time",
                        reg_covar=0.03 + 1e-9, n_iter=20)
    clf = HMMClassifierCV(est, cv=2, random_state=0).fit(X[:16], y[:16])
    assert all(p["n_states"] <= 8 for p in clf.cv_results_["params"])


def test_bad_grids_are_refused_before_any_fit(dataset, monkeypatch):
    X, y = dataset
    calls = []
    monkeypatch.setattr(HMMClassifier, "fit", lambda *a, **k: calls.append(1))
    with pytest.raises(ParameterError, match="n_states"):
        HMMClassifierCV(param_grid={"n_states": [2, 0]}).fit(X, y)
    with pytest.raises(ParameterError, match="param_grid: expected names of HMMClassifier parameters"):
        HMMClassifierCV(param_grid={"n_statez": [2]}).fit(X, y)
    for grid in ("n_states", [{"n_states": [2]}, "n_states"]):
        expected = f"param_grid: expected a dict, a list of dicts, Stages or None, got {type(grid).__name__}"
        with pytest.raises(TypeError, match=expected):
            HMMClassifierCV(param_grid=grid).fit(X, y)
    with pytest.raises(TypeError, match="estimator"):
        HMMClassifierCV(estimator="HMMClassifier").fit(X, y)
    assert calls == []


def test_grid_values_must_be_lists_and_folds_must_hold_every_class(dataset):
    from sklearn.model_selection import GroupKFold

    X, y = dataset
    with pytest.raises(ParameterError, match="param_grid: expected a list of values for 'n_states', got 2"):
        HMMClassifierCV(param_grid={"n_states": 2}).fit(X, y)
    groups = (y == "wave").astype(int)  # one class entirely in one group
    with pytest.raises(DataError, match="the training part of fold 0 lacks some classes"):
        HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2]}, cv=GroupKFold(2)).fit(X, y, groups=groups)


def test_a_cv_that_is_neither_an_int_nor_a_splitter_is_refused(dataset):
    X, y = dataset
    for cv, shown in (("five", "'five'"), (2.5, "2.5"), (True, "True")):  # a str has a split method too
        with pytest.raises(ParameterTypeError, match=f"cv: expected an int >= 2, a cross-validation splitter or an "
                           f"iterable of \\(train, test\\) index arrays, got {shown}"):
            HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2]}, cv=cv).fit(X, y)


def test_the_estimators_random_state_seeds_the_search_when_none_is_given(dataset):
    """random_state=None on the search: the estimator's seed decides the folds and the
    models, exactly as if it had been given to the search."""
    X, y = dataset
    grid = {"n_states": [2, 3]}
    own = HMMClassifierCV(HMMClassifier(**SMALL, random_state=3), grid, cv=2).fit(X, y)
    given = HMMClassifierCV(HMMClassifier(**SMALL), grid, cv=2, random_state=3).fit(X, y)
    for key in ("split0_test_score", "split1_test_score", "mean_test_log_loss"):
        np.testing.assert_array_equal(own.cv_results_[key], given.cv_results_[key])
    np.testing.assert_array_equal(own.predict_proba(X), given.predict_proba(X))


def test_a_cache_without_a_seed_warns_that_nothing_can_resume(dataset, tmp_path):
    X, y = dataset
    with pytest.warns(UserWarning, match="random_state=None .* rerun finds nothing to resume; give an int random_state"):
        HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2]}, cv=2).fit(X, y, cache_dir=tmp_path)


def test_rejection_is_decided_for_the_returned_class(dataset):
    """Under empirical priors the calibrated winner can differ from the plain model's; the
    open-set test follows the label predict returns."""
    X, y = dataset
    keep = np.r_[np.flatnonzero(y == "wave")[:3], np.flatnonzero(y != "wave")]
    Xk, yk = [X[i] for i in keep], y[keep]
    clf = HMMClassifierCV(HMMClassifier(**SMALL, priors="empirical"), {"n_states": [3]}, cv=3, random_state=0).fit(Xk, yk)
    labels = clf.predict_or_reject(X, unknown=None)
    accepted = np.array([v is not None for v in labels])
    np.testing.assert_array_equal(labels[accepted], clf.predict(X)[accepted])
    est = clf.best_estimator_
    ll, llb = est._log_likelihoods(est.transform(X), background=True)
    winner = np.searchsorted(clf.classes_, clf.predict(X))
    expected = est._rejection_ratio(ll, llb, winner) < est.rejection_threshold_[winner]
    np.testing.assert_array_equal(clf.is_unknown(X), expected)


def test_small_classes(dataset):
    X, y = dataset
    keep = np.r_[np.flatnonzero(y == "wave")[:1], np.flatnonzero(y != "wave")]
    with pytest.raises(DataError, match="at least 2 trajectories of every class"):
        HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2]}).fit([X[i] for i in keep], y[keep])
    keep = np.r_[np.flatnonzero(y == "wave")[:2], np.flatnonzero(y != "wave")]
    clf = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2]}, cv=3).fit([X[i] for i in keep], y[keep])
    assert clf.n_splits_ == 2  # the smallest class has 2


def test_translation_is_found_when_positions_are_shifted():
    """Shapes recorded at random places: the search picks a translation, and beats the
    defaults on held-out data."""
    X, y = _noisy(n_per_class=16, noise=0.03, seed=1, offsets=3.0)
    Xt, yt = _noisy(n_per_class=16, noise=0.03, seed=2, offsets=3.0)
    grid = Stages([("position", {"translation": ["none", "start"]})])
    clf = HMMClassifierCV(HMMClassifier(**SMALL, derivatives=0), grid, random_state=0).fit(X, y)
    assert clf.best_params_ == {"translation": "start"}
    plain = HMMClassifier(**SMALL, derivatives=0, random_state=0).fit(X, y)
    assert clf.score(Xt, yt) > plain.score(Xt, yt)


# ---------------------------------------------------------------- calibration
def test_fit_temperature_recovers_a_known_overconfidence():
    rng = np.random.RandomState(0)
    z = 2 * rng.randn(4000)
    y = (rng.rand(4000) < 1 / (1 + np.exp(-z))).astype(int)
    for factor in (5.0, 80.0):
        t = fit_temperature(np.c_[np.zeros(4000), factor * z], y, np.log([0.5, 0.5]))
        assert t == pytest.approx(factor, rel=0.1)


def test_calibrated_log_proba_by_hand():
    ll, prior = np.array([[-3.0, -7.0, -5.0]]), np.log([0.2, 0.3, 0.5])
    logits = ll[0] / 2.0 + prior
    expected = logits - np.log(np.exp(logits).sum())
    np.testing.assert_allclose(calibrated_log_proba(ll, prior, 2.0)[0], expected)


def test_ece_by_hand():
    # bins of width 1/15: 0.95 and 0.97 share a bin (accuracy 1/2, confidence 0.96), 0.5 alone
    proba = [[0.95, 0.05], [0.03, 0.97], [0.5, 0.5]]
    ece = expected_calibration_error([0, 0, 0], proba)
    assert ece == pytest.approx((2 * abs(0.5 - 0.96) + abs(1.0 - 0.5)) / 3)


def _coherent(n_per_class, seed, spread=0.3):
    """Two classes whose trajectories differ by a smooth random amplitude: the points of
    one trajectory move together, which the per-point independence of an HMM ignores, so
    its plain posteriors are far too sure (a deliberately overconfident case)."""
    rng = np.random.RandomState(seed)
    t = np.linspace(0, 1, 30)[:, None]
    X, y = [], []
    for k, sign in enumerate((1, -1)):
        for _ in range(n_per_class):
            a = 0.3 * sign + spread * rng.randn()
            X.append(np.hstack([t, a * t ** 2]) + 0.02 * rng.randn(30, 2))
            y.append(f"c{k}")
    return X, np.array(y)


def test_calibration_lowers_the_ece_of_an_overconfident_model():
    X, y = _coherent(30, seed=3)
    Xt, yt = _coherent(60, seed=4)
    est = HMMClassifier(**SMALL, derivatives=0, covariance_type="diag")
    plain = clone(est).set_params(random_state=0).fit(X, y)
    cv = HMMClassifierCV(est, {"n_states": [4]}, random_state=0).fit(X, y)
    truth = np.searchsorted(plain.classes_, yt)
    ece_plain = expected_calibration_error(truth, plain.predict_proba(Xt))
    ece_cv = expected_calibration_error(truth, cv.predict_proba(Xt))
    assert plain.score(Xt, yt) < 0.9  # there are errors to be sure about
    assert ece_plain > 0.1 and ece_cv < ece_plain / 2
    wrong = cv.predict(Xt) != yt
    assert np.median(cv.predict_proba(Xt).max(axis=1)[wrong]) < 0.9 < np.median(plain.predict_proba(Xt).max(axis=1)[wrong])
    # one temperature: the same class wins as in the plain model (uniform priors)
    np.testing.assert_array_equal(cv.predict(Xt), cv.best_estimator_.predict(Xt))
    uncalibrated = clone(cv).set_params(calibrate=False).fit(X, y)
    assert uncalibrated.temperature_ == 1.0
    np.testing.assert_allclose(uncalibrated.predict_proba(Xt), uncalibrated.best_estimator_.predict_proba(Xt))


# ---------------------------------------------------------------- model files
def test_save_load_round_trip(searched, dataset, tmp_path):
    X, _ = dataset
    save_model(searched, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert isinstance(loaded, HMMClassifierCV)
    np.testing.assert_array_equal(loaded.predict_proba(X), searched.predict_proba(X))
    assert loaded.best_params_ == searched.best_params_ and loaded.temperature_ == searched.temperature_
    assert loaded.cv_results_["params"] == searched.cv_results_["params"]
    assert set(loaded.cv_results_) == set(searched.cv_results_)
    assert loaded.cv_results_["param_n_states"].tolist() == searched.cv_results_["param_n_states"].tolist()
    np.testing.assert_array_equal(loaded.cv_results_["split1_test_score"], searched.cv_results_["split1_test_score"])
    assert loaded.get_params()["param_grid"] == searched.param_grid
    staged = clone(searched).set_params(param_grid=default_param_grid())
    staged.__dict__.update({k: v for k, v in searched.__dict__.items() if k.endswith("_")})
    save_model(staged, tmp_path / "s.npz")
    grid = load_model(tmp_path / "s.npz").param_grid
    assert isinstance(grid, Stages) and grid.builtin is True and grid == default_param_grid()


@pytest.mark.parametrize("edit, member", [
    (lambda a, m: a.update(temperature_=np.array([-1.0])), "temperature_"),
    (lambda a, m: a.update(temperature_=np.array([np.nan])), "temperature_"),
    (lambda a, m: a.update(temperature_=np.array([1.0, 2.0])), "temperature_"),
    (lambda a, m: a.pop("temperature_"), "temperature_"),
    (lambda a, m: m["search"].update(best_params={"n_states": 99}), "meta.json"),
    (lambda a, m: m["search"]["cv_results"]["mean_test_score"].pop(), "meta.json"),
    (lambda a, m: m["search"].update(best_index=57), "meta.json"),
    (lambda a, m: m.update(format_version=1), "meta.json"),
    (lambda a, m: m.pop("search"), "meta.json"),
    (lambda a, m: m["search"]["cv_results"].update(params=[1, 2, 3, 4]), "meta.json"),
    (lambda a, m: m["search"]["cv_results"].update(params=[{}, {}, {}, {}]), "meta.json"),
    (lambda a, m: m["search"]["cv_results"].update(mean_fit_time=["x"] * 4), "meta.json"),
    (lambda a, m: m["search"]["cv_results"]["split0_test_score"].pop(), "meta.json"),
    (lambda a, m: m["search"]["cv_results"].pop("split1_test_score"), "meta.json"),
    (lambda a, m: m["search"].update(n_splits=10 ** 9), "meta.json"),
    (lambda a, m: m["search"]["params"].update(estimator={"n_states": -5}), "meta.json"),
    (lambda a, m: m["search"]["params"].update(cv="abc"), "meta.json"),
    (lambda a, m: m["search"]["params"].update(surprise=1), "meta.json"),
    (lambda a, m: m["search"]["params"].update(param_grid={"n_states": 3}), "meta.json"),
])
def test_crafted_search_members_are_refused(searched, tmp_path, edit, member):
    assert_refused(searched, tmp_path / "m.npz", edit, f"^{tmp_path / 'm.npz'}: {member}: ")


def test_a_plain_classifiers_file_is_not_taken_for_a_search(searched, tmp_path):
    path = tmp_path / "m.npz"
    save_model(searched, path)
    resign(path, lambda a, m: m.pop("search"))
    with pytest.raises(ModelFileError, match="search: expected the search results of an HMMClassifierCV"):
        load_model(path)


def test_crafted_search_files_are_one_line_in_the_cli(searched, tmp_path, capsys):
    path = tmp_path / "m.npz"
    save_model(searched, path)
    resign(path, lambda a, m: m["search"]["cv_results"].update(params=[{}, {}, {}, {}]))
    code, out, err = cli(["info", path], capsys)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err and "meta.json: search" in err


def test_numpy_grid_values_are_saved_as_plain_values(dataset, tmp_path):
    X, y = dataset
    clf = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": np.arange(2, 4)}, cv=2, random_state=0).fit(X, y)
    assert type(clf.best_params_["n_states"]) is int
    save_model(clf, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.param_grid == {"n_states": [2, 3]} and loaded.best_params_ == clf.best_params_


def test_version_1_files_still_load(fitted, dataset, tmp_path):
    path = tmp_path / "v1.npz"
    save_model(fitted, path)
    resign(path, as_format(1))
    X, _ = dataset
    np.testing.assert_array_equal(load_model(path).predict_proba(X), fitted.predict_proba(X))


def test_the_refit_threshold_is_the_rate_quantile_of_the_searchs_out_of_fold_scores(dataset, monkeypatch):
    """The search's fold models (with their background models) score the held-out part;
    the refit takes its open-set threshold from those scores, not from its own
    cross-fitting (which sets its stream_threshold_)."""
    from trajhmm import search

    X, y = dataset
    rows = {id(x): i for i, x in enumerate(X)}
    captured = []
    real = search._fold_fit

    def spy(index, params, X_train, y_train, X_test):
        out = real(index, params, X_train, y_train, X_test)
        captured.append(([rows[id(x)] for x in X_test], out[1]))
        return out

    monkeypatch.setattr(search, "_fold_fit", spy)
    clf = HMMClassifierCV(HMMClassifier(**SMALL, rejection_rate=0.2), {"n_states": [3]}, cv=2, random_state=0).fit(X, y)
    idx = np.concatenate([r for r, _ in captured])
    assert sorted(idx) == list(range(len(X)))  # every trajectory held out once
    both = np.concatenate([ll for _, ll in captured])
    ll, ll_background = both[:, :-1], both[:, -1]
    est = clf.best_estimator_
    pred = np.argmax(calibrated_log_proba(ll, np.log(est.class_prior_), clf.temperature_), axis=1)
    score = (ll[np.arange(len(ll)), pred] - ll_background) / est.n_points
    np.testing.assert_allclose(est.rejection_threshold_, np.quantile(score, 0.2), rtol=1e-12)


@pytest.mark.parametrize("version", [1, 2])
def test_files_before_rejection_rate_load_with_their_thresholds(fitted, searched, dataset, tmp_path, version):
    """Format 1/2 files hold rejection_quantile and per-class thresholds (the earlier rule,
    same score): they load as rejection_rate and reject exactly what they did."""
    X, _ = dataset
    model = fitted if version == 1 else searched
    est = getattr(model, "best_estimator_", model)
    old = np.linspace(-3.0, -1.0, len(est.classes_))

    def edit(arrays, meta):
        as_format(version)(arrays, meta)
        meta["params"]["rejection_quantile"] = meta["params"].pop("rejection_rate")
        if version == 2:
            estimator = meta["search"]["params"]["estimator"]
            estimator["rejection_quantile"] = estimator.pop("rejection_rate")
        arrays["rejection_threshold_"] = old

    path = tmp_path / "old.npz"
    save_model(model, path)
    resign(path, edit)
    loaded = load_model(path)
    loaded_est = getattr(loaded, "best_estimator_", loaded)
    assert loaded_est.rejection_rate == est.rejection_rate and "rejection_quantile" not in loaded_est.get_params()
    np.testing.assert_array_equal(loaded_est.rejection_threshold_, old)
    ll, ll_background = est._log_likelihoods(est.transform(X), background=True)
    best = np.argmax(loaded.predict_proba(X), axis=1)
    score = (ll[np.arange(len(X)), best] - ll_background) / est.n_points
    np.testing.assert_array_equal(loaded.is_unknown(X), score < old[best])
    # a current file holds one pooled threshold
    save_model(model, path)
    resign(path, lambda arrays, meta: arrays.update(rejection_threshold_=old))
    with pytest.raises(ModelFileError, match="rejection_threshold_: expected one pooled threshold"):
        load_model(path)


# ---------------------------------------------------------------- command line
def test_cli_train_searches_by_default_and_holds_given_flags(data_dir, tmp_path, capsys):
    model = tmp_path / "m.npz"
    code, out, err = cli(["train", data_dir, "-o", model, *FLAGS, "--derivatives", "1", "--translation", "none",
                          "--scaling", "none", "--resample", "time", "--reg-covar", "0.03", "--topology", "left-right",
                          "--covariance-type", "diag", "--cv", "2", "--n-jobs", "1"], capsys)
    assert code == 0, err
    clf = load_model(model)
    assert isinstance(clf, HMMClassifierCV) and clf.best_params_ == {}
    assert clf.best_estimator_.n_states == 4 and clf.best_estimator_.covariance_type == "diag"
    assert "chosen: the given parameters (cross-validated accuracy" in out
    code, out, _ = cli(["info", model], capsys)
    assert code == 0 and "model search (HMMClassifierCV):" in out and "temperature" in out
    code, out, _ = cli(["predict", model, data_dir, "--proba", "--format", "json"], capsys)
    assert code == 0
    from trajhmm.datasets import load_dataset

    ds = load_dataset(data_dir)
    recs = [json.loads(line) for line in out.splitlines()]
    expected = clf.predict_proba(ds.trajectories)
    by_path = {str(p): i for i, p in enumerate(ds.paths)}
    for r in recs:
        np.testing.assert_allclose(list(r["proba"].values()), expected[by_path[r["path"]]], rtol=1e-9)
        jll = clf.predict_joint_log_proba([ds.trajectories[by_path[r["path"]]]])[0]
        assert r["margin"] == pytest.approx(np.sort(jll)[-1] - np.sort(jll)[-2], rel=1e-9)  # nats, raw


def test_cli_train_searches_what_was_not_given(tmp_path, capsys):
    X, y = _noisy(n_per_class=8, noise=0.05, seed=5, offsets=2.0)
    write_folder(tmp_path / "d", [np.c_[x, np.zeros(len(x))] for x in X], y)
    code, out, err = cli(["train", tmp_path / "d", "-o", tmp_path / "m.npz", "--n-points", "20", "--n-iter", "30",
                          "--cv", "2", "--n-jobs", "1", "-q"], capsys)
    assert code == 0, err
    clf = load_model(tmp_path / "m.npz")
    assert {"translation", "scaling", "n_states", "covariance_type"} <= set(clf.best_params_)
    assert "n_points" not in clf.best_params_ and clf.best_estimator_.n_points == 20
    assert out.startswith("chosen: ")  # -q: the chosen parameters, not the table


def test_cli_search_with_few_points_drops_the_state_counts_they_rule_out(data_dir, tmp_path, capsys):
    code, out, err = cli(["train", data_dir, "-o", tmp_path / "m.npz", "--n-points", "8", "--n-iter", "20", "--cv", "2",
                          "--n-jobs", "1", "-q"], capsys)
    assert code == 0, err
    clf = load_model(tmp_path / "m.npz")
    assert all(p["n_states"] <= 8 for p in clf.cv_results_["params"]) and clf.best_estimator_.n_points == 8
    code, _, err = cli(["train", data_dir, "-o", tmp_path / "x.npz", "--n-points", "8", "--n-states", "12"], capsys)
    assert code == 2 and "argument --n-states: expected an integer <= --n-points (8), got 12" in err


def test_tune_in_python_takes_a_cache(dataset, tmp_path, monkeypatch):
    from trajhmm.model_selection import tune

    X, y = dataset
    best, ranking = tune(X, y, {"n_states": [2, 3]}, cv=2, cache_dir=tmp_path, **SMALL)
    calls = _counting_fold_fits(monkeypatch)
    again, _ = tune(X, y, {"n_states": [2, 3]}, cv=2, cache_dir=tmp_path, **SMALL)
    assert calls == [] and again.n_states == best.n_states


def test_cli_no_search_trains_exactly_the_given_parameters(data_dir, tmp_path, capsys):
    code, _, err = cli(["train", data_dir, "-o", tmp_path / "m.npz", *FLAGS, "--no-search"], capsys)
    assert code == 0, err
    clf = load_model(tmp_path / "m.npz")
    assert type(clf) is HMMClassifier and clf.n_states == 4
    code, out, _ = cli(["info", tmp_path / "m.npz"], capsys)
    assert "not calibrated" in out


# ---------------------------------------------------------------- interrupted searches
def _counting_fold_fits(monkeypatch):
    import trajhmm.search

    calls = []
    original = trajhmm.search._fold_fit

    def counting(*args):
        calls.append(args[1])
        return original(*args)

    monkeypatch.setattr(trajhmm.search, "_fold_fit", counting)
    return calls


def test_an_interrupted_search_resumes_from_the_cache(dataset, tmp_path, monkeypatch):
    X, y = dataset
    search = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2, 3, 4, 5]}, cv=2, random_state=0)
    reference = clone(search).fit(X, y)

    def interrupt(done, total, info):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        clone(search).fit(X, y, progress=interrupt, cache_dir=tmp_path / "c")
    calls = _counting_fold_fits(monkeypatch)
    resumed = clone(search).fit(X, y, cache_dir=tmp_path / "c")
    n_fits = int(reference.cv_results_["n_folds"].sum())
    assert len(calls) == n_fits - 3
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))
    assert resumed.cv_results_["params"] == reference.cv_results_["params"]
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"])
    calls.clear()
    clone(search).fit(X, y, cache_dir=tmp_path / "c")  # everything is there now, the refit's runs too
    assert calls == []


def test_a_rerun_logs_how_many_fits_came_from_the_cache(dataset, tmp_path, caplog):
    X, y = dataset
    search = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2, 3]}, cv=2, random_state=0)
    with caplog.at_level("INFO", logger="trajhmm.search"):
        first = clone(search).fit(X, y, cache_dir=tmp_path)
        assert "resumed" not in caplog.text
        clone(search).fit(X, y, cache_dir=tmp_path)
    n_fits = int(first.cv_results_["n_folds"].sum())
    assert caplog.messages == [f"resumed: {n_fits} finished (candidate, fold) fits taken from the cache {tmp_path}"]


def test_the_cache_is_keyed_by_data_and_parameters(dataset, tmp_path, monkeypatch):
    X, y = dataset
    search = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2, 3]}, cv=2, random_state=0)
    clone(search).fit(X, y, cache_dir=tmp_path)
    calls = _counting_fold_fits(monkeypatch)
    clone(search).set_params(estimator=HMMClassifier(**{**SMALL, "reg_covar": 0.1})).fit(X, y, cache_dir=tmp_path)
    assert len(calls) == 4
    calls.clear()
    clone(search).fit([x * 2 for x in X], y, cache_dir=tmp_path)
    assert len(calls) == 4
    calls.clear()
    clone(search).fit(X, y[::-1], cache_dir=tmp_path)
    assert len(calls) == 4


def _default_sigint():
    """In the child before exec: SIGINT back to its default action (pytest may have been
    started with SIGINT ignored, which a child would inherit)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_cli_sigint_then_rerun_skips_the_finished_fits_and_writes_the_same_model(data_dir, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    model = tmp_path / "m.npz"
    cmd = [sys.executable, "-m", "trajhmm", "-v", "tune", str(data_dir), "-o", str(model), "--n-states", "2", "3", "4",
           "5", "6", "7", "--n-points", "30", "--n-iter", "60", "--tol", "0", "--cv", "2", "--n-jobs", "1"]
    cache = tmp_path / "m.npz.cache"
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 120
        while len(list(cache.glob("*.npz"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for a state: two finished fits on disk
        assert proc.poll() is None, "the search ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert not model.exists() and len(list(cache.glob("*.npz"))) >= 2
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resumed: " in done.stderr and "fits taken from the cache" in done.stderr
    assert not cache.exists()  # removed once the run completed
    fresh = tmp_path / "fresh.npz"
    cmd2 = [*cmd[:7], str(fresh), *cmd[8:], "--keep-cache"]
    assert subprocess.run(cmd2, capture_output=True, text=True, cwd=ROOT, timeout=300).returncode == 0
    assert (tmp_path / "fresh.npz.cache" / "CACHEDIR.TAG").exists()
    from trajhmm.datasets import load_dataset

    X = load_dataset(data_dir).trajectories
    np.testing.assert_array_equal(load_model(model).predict_proba(X), load_model(fresh).predict_proba(X))


def test_two_groups_give_two_folds_to_the_search_and_to_its_refit(dataset):
    """Two subjects: the search cuts 2 folds, and the refit's cross-fitting (for the stream
    threshold) cuts at most one fold per group instead of failing after the whole search."""
    import warnings

    X, y = dataset
    groups = np.arange(len(y)) % 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cv = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2, 3]}, cv=2, random_state=0).fit(
            X, y, groups=groups)
    assert np.isfinite(cv.best_estimator_.stream_threshold_)  # cross-fitted on the two groups
    assert np.isfinite(cv.best_estimator_.rejection_threshold_).all()
    assert not [w for w in caught if "open-set rejection is off" in str(w.message)]
    with pytest.warns(UserWarning, match="only one group"):
        clf = HMMClassifier(**SMALL).fit(X, y, groups=np.zeros(len(y)))
    assert np.isnan(clf.stream_threshold_) and np.isneginf(clf.rejection_threshold_).all()

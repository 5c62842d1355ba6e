"""HMMClassifierCV's ensemble: forward selection on the search's out-of-fold scores, the
pooled log-likelihood, what rejection and the model file make of it."""

import pickle

import numpy as np
import pytest

import trajhmm.search as search_module
from trajhmm import HMMClassifier, HMMClassifierCV, load_model, save_model
from trajhmm.calibration import calibrated_log_proba
from trajhmm.exceptions import ModelFileError
from trajhmm.persistence import FORMAT_VERSION, model_metadata
from trajhmm.search import select_ensemble

from conftest import FAST, FLAGS, as_format, assert_refused, cli, resign

SMALL = {k: v for k, v in FAST.items() if k != "random_state"}
GRID = {"n_states": [2, 3, 4, 5], "covariance_type": ["diag"]}
UNIFORM = np.log([0.5, 0.5])


def _views(n=400, seed=0):
    """Labels and two independent noisy views of the same evidence (the true class 2 nats
    ahead), as out-of-fold log-likelihoods."""
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    truth = -2.0 * np.c_[y == 1, y == 0]
    return y, truth + rng.randn(n, 2), truth + rng.randn(n, 2), rng


# ---------------------------------------------------------------- selection
def test_an_independent_view_is_pooled_and_a_copy_is_not():
    y, a, b, _ = _views()
    w = select_ensemble([a, b, a.copy()], y, UNIFORM, first=0)
    assert w[0] > 0 and w[1] > 0 and w[2] == 0 and w.sum() == pytest.approx(1.0)
    assert select_ensemble([a, a.copy()], y, UNIFORM, first=0).tolist() == [1.0, 0.0]


def test_noise_is_never_picked_and_no_steps_keep_the_first_alone():
    y, a, b, rng = _views()
    noise = rng.randn(len(y), 2)
    assert select_ensemble([a, noise], y, UNIFORM, first=0).tolist() == [1.0, 0.0]
    assert select_ensemble([a, b], y, UNIFORM, first=0, steps=0).tolist() == [1.0, 0.0]
    assert select_ensemble([a, b], y, UNIFORM, first=1, steps=0).tolist() == [0.0, 1.0]


def test_weights_are_the_picks_over_each_candidates_temperature():
    """A candidate 10x overconfident (its log-likelihoods x 10) gets a tenth of the weight
    of the same evidence at its own scale: the pool is the same."""
    y, a, b, _ = _views()
    plain = select_ensemble([a, b], y, UNIFORM, first=0)
    scaled = select_ensemble([a, 10 * b], y, UNIFORM, first=0)
    assert scaled[1] / scaled[0] == pytest.approx(plain[1] / plain[0] / 10, rel=1e-3)
    pooled = plain[0] * a + plain[1] * b
    np.testing.assert_allclose(scaled[0] * a + scaled[1] * 10 * b, pooled * scaled[0] / plain[0], rtol=1e-3)  # T to 1e-4


# ---------------------------------------------------------------- the fitted pool
def _force_pool(monkeypatch, rows=(0, 1)):
    """select_ensemble as if candidates ``rows`` (of the fully evaluated ones) had been
    picked: equal counts, each over its temperature (what the real one returns)."""
    def forced(oof, y_idx, log_prior, first):
        picked = [first] + [r for r in rows if r != first][: len(rows) - 1]
        return _weights(oof, y_idx, log_prior, picked)

    monkeypatch.setattr(search_module, "select_ensemble", forced)


def _weights(oof, y_idx, log_prior, picked):
    from trajhmm.calibration import fit_temperature

    w = np.zeros(len(oof))
    for i in picked:
        w[i] = 1.0 / fit_temperature(oof[i], y_idx, log_prior)
    return w / w.sum()


@pytest.fixture(scope="module")
def pooled(dataset):
    X, y = dataset
    with pytest.MonkeyPatch.context() as mp:
        _force_pool(mp)
        return HMMClassifierCV(HMMClassifier(**SMALL), GRID, cv=2, random_state=0).fit(X, y)


def test_only_the_refitted_best_model_fits_a_prefix_view(pooled, dataset, tmp_path):
    """Prefixes read the best model (and its view); the pool's other members fit none."""
    X, _ = dataset
    best, *others = pooled.ensemble_estimators_
    assert best.prefix_model_.derivatives == best.derivatives + 1 and others
    assert all(m.prefix_view and not hasattr(m, "prefix_model_") for m in others)
    save_model(pooled, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert [hasattr(m, "prefix_model_") for m in loaded.ensemble_estimators_] == [True] + [False] * len(others)
    halves = [x[: len(x) // 2] for x in X]
    np.testing.assert_array_equal(loaded.predict_prefix_proba(halves), pooled.predict_prefix_proba(halves))
    np.testing.assert_array_equal(pooled.predict_prefix_proba(halves), best.predict_prefix_proba(halves))


def test_a_file_whose_other_members_hold_a_prefix_view_is_refused(pooled, tmp_path):
    def graft(arrays, meta):  # the best model's view given to member 1 too
        _member_meta(meta)["prefix"] = meta["prefix"]
        arrays.update({f"member1/{k}": v for k, v in arrays.items() if k.startswith("prefix/")})

    assert_refused(pooled, tmp_path / "m.npz", graft, r"member1/meta.json: expected a plain HMMClassifier's metadata "
                   r"of format 14 \(without a prefix view: the best model alone has one\)")


def test_the_pool_is_the_weighted_mean_of_its_members(pooled, dataset):
    X, _ = dataset
    assert len(pooled.ensemble_estimators_) == 2 and pooled.ensemble_estimators_[0] is pooled.best_estimator_
    assert pooled.ensemble_weights_.sum() == pytest.approx(1.0) and (pooled.ensemble_weights_ > 0).all()
    log_prior = np.log(pooled.best_estimator_.class_prior_)
    ll = sum(w * (m.predict_joint_log_proba(X) - log_prior)
             for w, m in zip(pooled.ensemble_weights_, pooled.ensemble_estimators_))
    np.testing.assert_allclose(pooled.predict_joint_log_proba(X), ll + log_prior, rtol=1e-12)
    np.testing.assert_allclose(pooled.predict_log_proba(X), calibrated_log_proba(ll, log_prior, pooled.temperature_),
                               rtol=1e-12, atol=1e-12)
    assert (pooled.predict(X) == pooled.classes_[pooled.predict_proba(X).argmax(1)]).all()


def test_members_are_their_table_rows_refitted_on_all_the_data(pooled, dataset):
    X, y = dataset
    res = pooled.cv_results_
    assert pooled.ensemble_indices_[0] == pooled.best_index_
    for index, member in zip(pooled.ensemble_indices_, pooled.ensemble_estimators_):
        params = res["params"][index]
        assert {k: member.get_params()[k] for k in params} == params and res["n_folds"][index] == 2
    other = pooled.ensemble_estimators_[1]
    alone = HMMClassifier(**{**SMALL, **res["params"][pooled.ensemble_indices_[1]]}, random_state=0,
                          rejection_rate=0).fit(X, y)
    np.testing.assert_allclose(other.predict_joint_log_proba(X), alone.predict_joint_log_proba(X), rtol=1e-9)
    assert np.isneginf(other.rejection_threshold_).all()  # the best model alone rejects


def test_rejection_is_the_best_models_test_for_the_pools_class(pooled, dataset):
    X, _ = dataset
    best = pooled.best_estimator_
    ll, ll_background = best._log_likelihoods(best.transform(X), background=True)
    pred = pooled.predict_proba(X).argmax(1)
    expected = best._rejection_ratio(ll, ll_background, pred) < best.rejection_threshold_[pred]
    np.testing.assert_array_equal(pooled.is_unknown(X), expected)
    out = pooled.predict_or_reject(X, unknown="?")
    assert (out[expected] == "?").all() and (out[~expected] == pooled.predict(X)[~expected]).all()


def test_ensemble_false_keeps_the_best_candidate_alone(dataset, monkeypatch):
    X, y = dataset
    _force_pool(monkeypatch)  # would pool: ensemble=False never asks
    clf = HMMClassifierCV(HMMClassifier(**SMALL), GRID, cv=2, ensemble=False, random_state=0).fit(X, y)
    assert clf.ensemble_estimators_ == [clf.best_estimator_] and clf.ensemble_weights_.tolist() == [1.0]
    np.testing.assert_array_equal(clf.predict_joint_log_proba(X), clf.best_estimator_.predict_joint_log_proba(X))


def test_the_pool_does_not_depend_on_n_jobs(pooled, dataset, monkeypatch):
    X, y = dataset
    _force_pool(monkeypatch)
    other = HMMClassifierCV(HMMClassifier(**SMALL), GRID, cv=2, n_jobs=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(other.ensemble_indices_, pooled.ensemble_indices_)
    np.testing.assert_array_equal(other.ensemble_weights_, pooled.ensemble_weights_)
    np.testing.assert_array_equal(other.predict_joint_log_proba(X), pooled.predict_joint_log_proba(X))


def test_member_refits_report_progress_after_the_refit(dataset, monkeypatch):
    X, y = dataset
    _force_pool(monkeypatch)
    calls = []
    HMMClassifierCV(HMMClassifier(**SMALL), GRID, cv=2, random_state=0).fit(
        X, y, progress=lambda done, total, info: calls.append((done, total, info["stage"])))
    stages = [s for _, _, s in calls]
    first = stages.index("ensemble")
    assert set(stages[first:]) == {"ensemble"} and "refit" in stages[:first]
    assert [d for d, _, _ in calls] == sorted(d for d, _, _ in calls) and calls[-1][0] == calls[-1][1]
    assert calls[-1][0] - calls[first - 1][0] == len(set(y)) * SMALL.get("n_init", 1) + 1  # classes and background


# ---------------------------------------------------------------- model files
def test_a_pool_round_trips_through_the_safe_format(pooled, dataset, tmp_path):
    X, _ = dataset
    path = tmp_path / "m.npz"
    save_model(pooled, path)
    loaded = load_model(path)
    assert model_metadata(path)["format_version"] == FORMAT_VERSION
    np.testing.assert_array_equal(loaded.predict_proba(X), pooled.predict_proba(X))
    np.testing.assert_array_equal(loaded.is_unknown(X), pooled.is_unknown(X))
    np.testing.assert_array_equal(loaded.ensemble_weights_, pooled.ensemble_weights_)
    np.testing.assert_array_equal(loaded.ensemble_indices_, pooled.ensemble_indices_)
    assert [m.get_params() for m in loaded.ensemble_estimators_] == [m.get_params()
                                                                      for m in pooled.ensemble_estimators_]
    assert loaded.ensemble is True


def _member_meta(m):
    return m["search"]["ensemble"]["members"][0]


@pytest.mark.parametrize("edit, member", [
    (lambda a, m: m["search"]["ensemble"].update(weights=[0.5, 0.6]), "meta.json: search: ensemble: weights"),
    (lambda a, m: m["search"]["ensemble"].update(weights=[1.0, 0.0]), "meta.json: search: ensemble: weights"),
    (lambda a, m: m["search"]["ensemble"]["indices"].reverse(), "meta.json: search: ensemble: indices"),
    (lambda a, m: m["search"]["ensemble"].update(indices=[0, 0]), "meta.json: search: ensemble: indices"),
    (lambda a, m: m["search"]["ensemble"]["members"].append({}), "meta.json: search: ensemble: expected as many"),
    (lambda a, m: m["search"]["ensemble"].pop("members"), "meta.json: search: ensemble: expected an object"),
    (lambda a, m: m["search"].pop("ensemble"), "meta.json: search: ensemble: expected an object"),
    (lambda a, m: m["search"]["params"].update(ensemble="yes"), "meta.json: search: params: ensemble"),
    (lambda a, m: _member_meta(m).update(estimator="HMMClassifierCV"), "member1/meta.json: expected a plain"),
    (lambda a, m: _member_meta(m).update(format_version=6), "member1/meta.json: expected a plain"),
    (lambda a, m: _member_meta(m)["params"].update(n_states=7), "member1/meta.json: params are not the best model's"),
    (lambda a, m: _member_meta(m)["params"].update(n_points=50), "member1/meta.json: params are not the best model's"),
    (lambda a, m: a.update({"member1/rejection_threshold_": np.zeros(4)}), "member1/rejection_threshold_: expected -inf"),
    (lambda a, m: _member_meta(m).update(n_classes=3), "member1/meta.json: n_classes=3"),
    (lambda a, m: a.update({"member1/model0.transmat": 2 * a["member1/model0.transmat"]}),
     "member1/model0.transmat: probabilities do not sum to 1"),
    (lambda a, m: a.pop("member1/model1.means"), "member1/model1.means: missing member"),
    (lambda a, m: a.update({"member1/classes_": a["member1/classes_"][::-1].copy()}),
     "member1/classes_: the classes or their priors differ"),
    (lambda a, m: a.update({"member2/classes_": a["classes_"]}), "member2/classes_: unexpected member"),
])
def test_crafted_ensembles_are_refused_naming_the_member(pooled, tmp_path, edit, member):
    assert_refused(pooled, tmp_path / "m.npz", edit, f"^{tmp_path / 'm.npz'}: {member}")


def test_a_format_6_search_file_loads_as_its_best_model_alone(pooled, dataset, tmp_path):
    X, _ = dataset
    path = tmp_path / "six.npz"
    save_model(pooled, path)
    resign(path, as_format(6))
    loaded = load_model(path)
    assert loaded.ensemble_estimators_ == [loaded.best_estimator_] and loaded.ensemble_weights_.tolist() == [1.0]
    assert loaded.ensemble is False  # it was fitted without: a refit of the loaded model pools nothing either
    log_prior = np.log(pooled.best_estimator_.class_prior_)
    jll = pooled.best_estimator_.predict_joint_log_proba(X)
    np.testing.assert_allclose(loaded.predict_log_proba(X), calibrated_log_proba(jll - log_prior, log_prior,
                                                                                 pooled.temperature_), atol=1e-12)
    resign(path, lambda a, m: m["search"].update(ensemble={"weights": [1.0], "indices": [0], "members": []}))
    with pytest.raises(ModelFileError, match="search: ensemble: only in files of format 7"):
        load_model(path)


# ---------------------------------------------------------------- command line
def test_info_names_the_pool_and_train_no_ensemble_keeps_one_model(pooled, data_dir, tmp_path, capsys):
    save_model(pooled, tmp_path / "pool.npz")
    code, out, _ = cli(["info", tmp_path / "pool.npz"], capsys)
    assert code == 0 and "ensemble of 2 models (out-of-fold log loss): the chosen one, weight" in out
    model = tmp_path / "one.npz"
    code, out, err = cli(["train", data_dir, "-o", model, *FLAGS, "--derivatives", "1", "--translation", "none",
                          "--scaling", "none", "--resample", "time", "--reg-covar", "0.03", "--topology",
                          "left-right", "--covariance-type", "diag", "--cv", "2", "--n-jobs", "1", "--no-ensemble"],
                         capsys)
    assert code == 0, err
    loaded = load_model(model)
    assert loaded.ensemble is False and len(loaded.ensemble_estimators_) == 1 and "ensemble of" not in out
    code, out, err = cli(["tune", data_dir, "-o", model, *FLAGS, "--n-states", "2", "3", "--cv", "2", "--n-jobs", "1",
                          "--no-ensemble"], capsys)
    assert code == 0, err
    loaded = load_model(model)
    assert loaded.ensemble is False and len(loaded.ensemble_estimators_) == 1 and loaded.best_params_.keys() == {"n_states"}


def test_the_class_count_of_every_model_is_bounded_by_the_files_members(pooled, tmp_path):
    """Each of the 3 models (best, its prefix view and member) claims 60 classes: 180 > the
    ~120 arrays the file holds, refused from the metadata before any layout is built."""
    def edit(arrays, meta):
        meta["n_classes"] = _member_meta(meta)["n_classes"] = meta["prefix"]["n_classes"] = 60

    assert_refused(pooled, tmp_path / "m.npz", edit, r"meta.json: n_classes=60 in 3 models but the file holds \d+")


def test_a_search_fitted_before_streams_is_still_written_in_its_own_format(pooled, dataset, tmp_path):
    X, _ = dataset
    old = pickle.loads(pickle.dumps(pooled))
    del old.best_estimator_.stream_threshold_, old.ensemble_estimators_, old.ensemble_weights_, old.ensemble_indices_
    save_model(old, tmp_path / "five.npz")
    assert model_metadata(tmp_path / "five.npz")["format_version"] == 5
    loaded = load_model(tmp_path / "five.npz")
    assert loaded.ensemble is False and len(loaded.ensemble_estimators_) == 1
    np.testing.assert_array_equal(loaded.predict_joint_log_proba(X), pooled.best_estimator_.predict_joint_log_proba(X))


def test_a_search_pickled_before_ensembles_loads_as_its_best_model_alone(pooled, dataset, tmp_path):
    import joblib

    X, _ = dataset
    old = pickle.loads(pickle.dumps(pooled))
    for name in ("ensemble", "ensemble_estimators_", "ensemble_weights_", "ensemble_indices_"):
        delattr(old, name)
    joblib.dump(old, tmp_path / "old.pkl")
    loaded = load_model(tmp_path / "old.pkl", trusted=True)
    assert loaded.ensemble is False
    np.testing.assert_array_equal(loaded.predict_joint_log_proba(X), pooled.best_estimator_.predict_joint_log_proba(X))
    save_model(loaded, tmp_path / "now.npz")  # and it can be re-saved in the safe format
    assert len(load_model(tmp_path / "now.npz").ensemble_estimators_) == 1

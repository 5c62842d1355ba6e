"""Stacked scoring (all models' states in one pass, the path of every predict method):
equal to the per-model path and to hmmlearn's ``score`` on every emission family,
covariance type and topology, on adversarial rows, for one segment and for batches;
its cache never serves stale parameters; every API path of the classifier. No timing."""

import itertools
import pickle

import numpy as np
import pytest
from sklearn.base import clone

from trajhmm import hmm as _hmm
from trajhmm import load_model, save_model
from trajhmm.exceptions import DataError
from trajhmm.hmm import stacked

from conftest import diag_hmm, far_behind_case, far_but_clean_case

CONFIGS = list(itertools.product(_hmm.COVARIANCE_TYPES, (1, 2), _hmm.TOPOLOGIES))


def _segments(n=12, T=25, d=3, seed=0):
    rng = np.random.RandomState(seed)
    t = np.linspace(0, 1, T)
    base = np.c_[np.sin(3 * t), np.cos(2 * t), t][:, :d]
    return base + 0.05 * rng.randn(n, T, d)


def _adversarial(X):
    """Well fitting rows, then rows far from every model: reversed in time (impossible
    paths for left-right models), shifted, scaled up a thousandfold."""
    return np.concatenate([X[:3], X[:3, ::-1] * 5 + 10, X[:2] * 1e3, X[:2] + 40.0])


def _fit(ct, n_mix, topology, seed, n_states=4, X=None):
    X = _segments(seed=seed) if X is None else X
    floor = _hmm.covariance_floor(X.reshape(-1, X.shape[2]), 1e-3)
    cfg = _hmm.HMMConfig(n_states=n_states, n_mix=n_mix, covariance_type=ct, topology=topology, n_iter=10)
    return _hmm.fit_hmm(X, cfg, floor, seed=seed).model


def _hmmlearn(models, segs):
    return np.array([[m.score(s) for m in models] for s in segs])


@pytest.fixture(autouse=True)
def _empty_cache():
    stacked._cache.clear()
    yield
    stacked._cache.clear()


@pytest.mark.parametrize("ct, n_mix, topology", CONFIGS)
def test_stacked_equals_per_model_and_hmmlearn(ct, n_mix, topology):
    models = [_fit(ct, n_mix, topology, seed) for seed in range(3)]
    Y = _adversarial(_segments(n=12, seed=9))
    ref = _hmmlearn(models, Y)
    old = _hmm.log_likelihoods(models, Y)
    batch = _hmm.stacked_log_likelihoods(models, Y)  # more segments than the small path takes
    one = np.concatenate([_hmm.stacked_log_likelihoods(models, Y[i : i + 1]) for i in range(len(Y))])
    assert len(Y) > stacked._SMALL
    direct = _hmm.stacked_models(models).log_likelihoods(Y)  # no fallback to the per-model path
    for got in (batch, one, direct):
        np.testing.assert_allclose(got, ref, rtol=1e-9)
        np.testing.assert_allclose(got, old, rtol=1e-9)


def test_models_of_different_sizes_and_families_stack_together():
    """Padded states (unreachable) and padded mixture components (weight 0) change nothing."""
    models = [_fit("full", 1, "left-right", 0, n_states=3), _fit("diag", 2, "ergodic", 1, n_states=5),
              _fit("spherical", 3, "left-right", 2, n_states=2), _fit("tied", 1, "ergodic", 3, n_states=4)]
    Y = _adversarial(_segments(n=12, seed=4))
    ref = _hmmlearn(models, Y)
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y), ref, rtol=1e-9)
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y[:1]), ref[:1], rtol=1e-9)
    stack = _hmm.stacked_models(models)  # the stacked passes themselves, not the fallback
    np.testing.assert_allclose(stack.log_likelihoods(Y), ref, rtol=1e-9)
    np.testing.assert_allclose(stack.log_likelihoods(Y[:1]), ref[:1], rtol=1e-9)


@pytest.mark.parametrize("ct", _hmm.COVARIANCE_TYPES)
def test_quadratic_forms_give_the_same_densities_for_gaussian_states(ct):
    """The streams' emission path (one product with the quadratic forms) equals the
    whitened one near the data, for models of different sizes (padding included), and is
    refused (None) for mixtures."""
    models = [_fit(ct, 1, "left-right", 0, n_states=3), _fit(ct, 1, "ergodic", 1, n_states=5)]
    stack = _hmm.stacked_models(models)
    Y = _segments(n=4, seed=5)  # (n, T, d)
    points = np.ascontiguousarray(Y.transpose(2, 1, 0)).reshape(3, -1)
    want = stack.log_densities(points).reshape(2 * 5, -1)
    got = stack.quadratic_log_densities(points)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    batched = stack.quadratic_log_densities(Y.transpose(1, 2, 0))  # (T, d, n) -> (T, G, n)
    np.testing.assert_allclose(batched, want.reshape(10, Y.shape[1], -1).transpose(1, 0, 2), rtol=1e-9, atol=1e-9)
    assert _hmm.stacked_models([_fit(ct, 2, "left-right", 0)]).quadratic_forms() is None


def test_a_path_far_behind_that_later_wins_is_not_lost():
    """tests/test_hmm.py's case through both stacked passes (one segment and a batch)."""
    model, segs = far_behind_case()
    ref = np.array([model.score(s) for s in segs])
    other = _fit("full", 1, "ergodic", 0, X=_segments(d=2))
    for models in ([model], [model, other]):
        for part in (segs, segs[:1], segs[1:2], np.repeat(segs, 5, axis=0)):
            got = _hmm.stacked_log_likelihoods(models, part)[:, 0]
            np.testing.assert_allclose(got, [model.score(s) for s in part], rtol=1e-9)
    assert np.isfinite(ref).all()


def test_the_scaled_batch_pass_defers_far_models_to_the_exact_pass(monkeypatch):
    """The batched pass (probability space) hands the pairs of model and segment whose
    error bound is not negligible to the exact log-space pass, and only those: without
    that hand-over the far-behind case loses its path (so this case exercises it), with it
    every score equals hmmlearn's; a well fitting model keeps its scaled score."""
    model, segs = far_behind_case()
    other = _fit("full", 1, "ergodic", 0, X=_segments(d=2))
    models = [model, other]
    Y = np.repeat(segs, 4, axis=0)  # more segments than the small pass takes
    assert len(Y) > stacked._SMALL
    ref = _hmmlearn(models, Y)
    stack = _hmm.stacked_models(models)
    np.testing.assert_allclose(stack.log_likelihoods(Y), ref, rtol=1e-9)
    T = Y.shape[1]
    points = np.ascontiguousarray(Y.transpose(2, 1, 0)).reshape(2, -1)
    log_b = stack.log_densities(points).reshape(2, stack.n_states, T, len(Y))
    with np.errstate(all="ignore"):
        scores, bad = stack._scaled_scores(log_b)
    assert bad[0].any() and not bad[0].all()  # the far-behind rows, not the well fitting ones
    np.testing.assert_allclose(scores[0, ~bad[0]], ref[~bad[0], 0], rtol=1e-12)
    monkeypatch.setattr(stacked, "scaled_exact", lambda ll, upper: np.ones(ll.shape, dtype=bool))  # no hand-over
    stacked._cache.clear()
    with np.errstate(all="ignore"):
        lost = _hmm.stacked_models(models).log_likelihoods(Y)
    assert not np.allclose(lost[:, 0], ref[:, 0], rtol=1e-9)


def test_the_scaled_pass_keeps_far_scores_that_lost_nothing():
    """The error bound, not the size of the scales, decides the hand-over: a model far from
    every point (its step scales multiply to far below e^-600) whose forward values never
    came near the floor keeps its scaled score, exact to rounding."""
    models, Y = far_but_clean_case()
    stack = _hmm.stacked_models(models)
    T = Y.shape[1]
    log_b = stack.log_densities(np.ascontiguousarray(Y.transpose(2, 1, 0)).reshape(2, -1))
    log_b = log_b.reshape(2, stack.n_states, T, len(Y))
    with np.errstate(all="ignore"):
        scores, bad = stack._scaled_scores(log_b)
    assert (scores[0] - log_b[0].max(axis=0).sum(axis=0) < -600).all()
    assert not bad.any()
    ref = _hmmlearn(models, Y)
    np.testing.assert_allclose(scores.T, ref, rtol=1e-12)
    np.testing.assert_allclose(stack.log_likelihoods(Y), ref, rtol=1e-9)


def test_the_scaled_pass_hands_over_scores_its_bound_does_not_pin_down():
    """Two cases the error bound must catch (found in review): a glitch so large that the
    bound, small against |log p|, still exceeds p (a floored first state: the score must be
    right on both sides, not only below the bound), and a floored state whose value
    rounding lifts just above e^-700 (normalised values summing to 1 + ulp)."""
    glitch = diag_hmm([1, 0, 0], [[0.99, 0.01, 0], [0, 0.99, 0.01], [0, 0, 1]], [[0.0], [1.0], [2.0]],
                      [[0.01], [1.0], [1.0]])
    Y = np.zeros((16, 50, 1))
    Y[:, 0, 0] = 5e6
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods([glitch, glitch], Y), _hmmlearn([glitch, glitch], Y),
                               rtol=1e-9)
    funnel = diag_hmm([0.3, 0.7], [[0, 1], [0, 1]], [[0.0], [10.0]], [[1.0], [1.0]])
    stack = _hmm.stacked_models([funnel])
    rng = np.random.RandomState(0)
    for p in rng.uniform(0.01, 1, 2000):  # state 1's emission relative to state 0's at the first point
        e = np.array([[[[1.0], [p]]], [[[1.0], [np.exp(stacked._EXP_FLOOR)]]]])  # (T, C, K, n): then floored
        alpha = stack.start[0, :, 0] * e[0, 0, :, 0]
        if (stack.A_to[0] @ (alpha / alpha.sum()))[1] > 1.0:  # rounding: above 1
            break
    else:
        pytest.skip("no rounding case on this machine")
    ll, upper = stack.scaled_forward(e)
    assert not stacked.scaled_exact(ll, upper).any() and (upper > ll).all()


def test_long_segments_take_the_batched_pass_and_stay_exact():
    """Few segments too long for the small pass (K**T bound) use the batched one."""
    models = [_fit("full", 1, "left-right", s, n_states=6, X=_segments(n=10, T=300, seed=s)) for s in range(2)]
    Y = _adversarial(_segments(n=4, T=300, seed=7))
    assert (300 - 1) * np.log(6) >= 400
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y[:1]), _hmmlearn(models, Y[:1]), rtol=1e-9)
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y), _hmmlearn(models, Y), rtol=1e-9)


def test_chunk_boundaries_and_the_batched_pass_for_few_segments(monkeypatch):
    """Chunk boundaries anywhere, and few segments through the batched pass, give the
    per-model path's scores."""
    models = [_fit(ct, 1, "left-right", s) for s, ct in enumerate(_hmm.COVARIANCE_TYPES)]
    Y = _adversarial(_segments(n=20, seed=3))
    ref = _hmm.log_likelihoods(models, Y)
    monkeypatch.setattr(stacked, "_CHUNK", 7)
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y), ref, rtol=1e-9)
    monkeypatch.setattr(stacked, "_SMALL", 0)  # every chunk through the batched pass
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y[:3]), ref[:3], rtol=1e-9)
    monkeypatch.setattr(stacked, "_CHUNK", 128)
    sizes = []
    real = stacked.StackedModels.log_densities
    monkeypatch.setattr(stacked.StackedModels, "log_densities",
                        lambda self, points: sizes.append(points.shape[1]) or real(self, points))
    monkeypatch.setattr(stacked, "_CHUNK_FLOATS", 4 * len(models) * 4 * 25)  # long segments: 4 per pass here
    stacked._cache.clear()
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y), ref, rtol=1e-9)
    assert max(sizes) == 4 * 25 and len(sizes) == -(-len(Y) // 4)
    calls = []
    real_exact = stacked.StackedModels._score_exactly
    monkeypatch.setattr(stacked.StackedModels, "_score_exactly",
                        lambda self, pairs, out: calls.append(len(pairs)) or real_exact(self, pairs, out))
    monkeypatch.setattr(stacked, "_CHUNK_FLOATS", 1)  # the hand-over is scored as soon as it holds anything
    stacked._cache.clear()
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y), ref, rtol=1e-9)
    assert len(calls) > 2 and calls[-1] == 0  # flushed chunk by chunk, nothing left at the end


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_inputs_beyond_the_fast_passes_fall_back_to_the_per_model_path():
    """Points so far away that the squared distances overflow: the stacked passes give
    NaN there and defer to the per-model path, so both paths agree on every input."""
    models = [_fit("full", 1, "left-right", 0), _fit("diag", 1, "ergodic", 1)]
    Y = np.concatenate([_segments(n=2), np.full((1, 25, 3), 1e160), _segments(n=2) * 1e200])
    old = _hmm.log_likelihoods(models, Y)
    assert not np.isfinite(old[2:]).all()
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y), old, rtol=1e-9)  # NaN == NaN here
    for i in range(len(Y)):
        np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y[i : i + 1]), old[i : i + 1], rtol=1e-9)


def test_cache_is_reused_and_never_stale():
    models = [_fit("full", 1, "left-right", s) for s in range(2)]
    Y = _segments(n=3, seed=5)
    first = _hmm.stacked_models(models)
    assert _hmm.stacked_models(models) is first
    before = _hmm.stacked_log_likelihoods(models, Y)
    models[0].means_[0] += 0.5  # changed in place: same objects, same arrays
    changed = _hmm.stacked_log_likelihoods(models, Y)
    assert _hmm.stacked_models(models) is not first
    np.testing.assert_allclose(changed, _hmmlearn(models, Y), rtol=1e-9)
    assert not np.allclose(changed[:, 0], before[:, 0])
    np.testing.assert_array_equal(changed[:, 1], before[:, 1])
    models[1].transmat_ = np.array(models[1].transmat_[::-1, ::-1])  # a new array
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y), _hmmlearn(models, Y), rtol=1e-9)
    models[0] = _fit("diag", 2, "ergodic", 3)  # a new model object
    np.testing.assert_allclose(_hmm.stacked_log_likelihoods(models, Y), _hmmlearn(models, Y), rtol=1e-9)
    for _ in range(2 * stacked._CACHE_SIZE):  # bounded
        _hmm.stacked_models([_fit("full", 1, "ergodic", 0, n_states=2)])
    assert len(stacked._cache) <= stacked._CACHE_SIZE


# ---------------------------------------------------------------------- the classifier


@pytest.fixture
def clf(fitted):
    return fitted


def _reference(clf, X):
    """hmmlearn's score of the transformed trajectories under every class model and the
    background model."""
    segs = clf.transform(X)
    return _hmmlearn(clf.models_, segs) + np.log(clf.class_prior_), _hmmlearn([clf.background_model_], segs)[:, 0]


def test_every_predict_method_equals_hmmlearn_for_one_trajectory_and_a_batch(clf, dataset):
    X, _ = dataset
    for part in ([X[0]], [X[5]], X[:13], X):
        jll, ll_bg = _reference(clf, part)
        np.testing.assert_allclose(clf.predict_joint_log_proba(part), jll, rtol=1e-9)
        log_proba = jll - np.logaddexp.reduce(jll, axis=1)[:, None]
        np.testing.assert_allclose(clf.predict_log_proba(part), log_proba, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(clf.predict_proba(part), np.exp(log_proba), rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(clf.predict(part), clf.classes_[np.argmax(jll, axis=1)])
        ll, got_bg = clf._log_likelihoods(clf.transform(part), background=True)
        np.testing.assert_allclose(ll, jll - np.log(clf.class_prior_), rtol=1e-9)
        np.testing.assert_allclose(got_bg, ll_bg, rtol=1e-9)
        best = np.argmax(jll, axis=1)
        ratio = (ll[np.arange(len(ll)), best] - ll_bg) / clf.n_points
        unknown = ratio < clf.rejection_threshold_[best]
        np.testing.assert_array_equal(clf.is_unknown(part), unknown)
        expected = clf.classes_[best].astype(object)
        expected[unknown] = "unknown"
        np.testing.assert_array_equal(clf.predict_or_reject(part), expected)


def test_far_away_trajectory_scores_like_hmmlearn(clf, dataset):
    X, _ = dataset
    far = [X[0][::-1] * 30.0 + 100.0, X[1] * 1e3]
    jll, ll_bg = _reference(clf, far)
    np.testing.assert_allclose(clf.predict_joint_log_proba(far), jll, rtol=1e-9)
    np.testing.assert_allclose(clf.predict_joint_log_proba(far[:1]), jll[:1], rtol=1e-9)
    np.testing.assert_allclose(clf._log_likelihoods(clf.transform(far), background=True)[1], ll_bg, rtol=1e-9)


def test_joblib_chunks_equal_the_in_process_loop(clf, dataset, monkeypatch):
    from trajhmm import classifier

    X, _ = dataset
    here = clf.predict_joint_log_proba(X)
    monkeypatch.setattr(classifier, "_SCORE_CHUNK", 5)
    parallel = clone(clf).set_params(n_jobs=2)
    for name in ("models_", "background_model_", "class_prior_", "classes_", "feature_mean_", "feature_scale_",
                 "feature_mask_", "n_features_in_"):
        setattr(parallel, name, getattr(clf, name))
    np.testing.assert_allclose(parallel.predict_joint_log_proba(X), here, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_joint_log_proba(X), here, rtol=1e-12)


def test_validation_of_one_trajectory_is_kept(clf, dataset):
    X, _ = dataset
    bad = np.array(X[0], dtype=float)
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="finite"):
        clf.predict([bad])
    with pytest.raises(DataError, match="dims"):
        clf.predict_proba([X[0][:, :2]])
    with pytest.raises(DataError, match="at least 2 points"):
        clf.predict([X[0][:1]])
    with pytest.raises(DataError, match="pass \\[x\\]"):
        clf.predict(X[0])


def test_pickle_clone_and_model_files_after_scoring(clf, dataset, tmp_path):
    X, _ = dataset
    before = clf.predict_proba(X[:4])  # builds and caches the stacked models
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X[:4]), before)
    assert not any("stack" in name for name in vars(clf))  # nothing cached on the estimator
    assert clone(clf).get_params() == clf.get_params()
    save_model(clf, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    np.testing.assert_allclose(loaded.predict_joint_log_proba(X[:4]), clf.predict_joint_log_proba(X[:4]), rtol=1e-12)
    # a model changed after scoring is scored with its new parameters
    changed = pickle.loads(pickle.dumps(clf))
    changed.models_[0].means_ = changed.models_[0].means_ + 1.0
    jll, _ = _reference(changed, X[:4])
    np.testing.assert_allclose(changed.predict_joint_log_proba(X[:4]), jll, rtol=1e-9)

"""The hmmlearn wrapper: exact batched scoring, robust EM, structure, parameter counts."""

import itertools

import numpy as np
import pytest
from hmmlearn import hmm

from trajhmm import hmm as _hmm
from trajhmm.hmm import em, models

from conftest import assert_statistics_equal_hmmlearns, far_behind_case


def _segments(n=12, T=25, d=3, seed=0):
    rng = np.random.RandomState(seed)
    t = np.linspace(0, 1, T)
    base = np.c_[np.sin(3 * t), np.cos(2 * t), t][:, :d]
    X = base + 0.05 * rng.randn(n, T, d)
    X[:, -1] = 0.0  # every segment ends at the same point
    return X


CONFIGS = list(itertools.product(_hmm.COVARIANCE_TYPES, (1, 2), _hmm.TOPOLOGIES))


@pytest.mark.parametrize("ct, n_mix, topology", CONFIGS)
def test_fit_is_finite_monotone_and_scoring_is_exact(ct, n_mix, topology):
    X = _segments()
    floor = _hmm.covariance_floor(X.reshape(-1, 3), 1e-3)
    cfg = _hmm.HMMConfig(n_states=4, n_mix=n_mix, covariance_type=ct, topology=topology, n_iter=30)
    res = _hmm.fit_hmm(X, cfg, floor, seed=3)
    model = res.model
    assert type(model) is (hmm.GaussianHMM if n_mix == 1 else hmm.GMMHMM)
    for v in _hmm.model_arrays(model).values():
        assert np.isfinite(v).all()
    h = np.array(res.history)
    assert np.isfinite(h).all()
    assert (np.diff(h) >= -1e-8 * np.abs(h[1:])).all(), np.diff(h)
    # adversarial rows: far from the model, reversed in time (impossible for left-right)
    Y = np.concatenate([X[:3], X[:3, ::-1] * 5 + 10, X[:2] * 1e3])
    ours = _hmm.log_likelihood(model, Y)
    ref = np.array([model.score(y) for y in Y])
    np.testing.assert_allclose(ours, ref, rtol=1e-9)
    if topology == "left-right":
        assert model.startprob_[0] == 1.0 and (model.startprob_[1:] == 0).all()
        assert (np.tril(model.transmat_, -1) == 0).all()


def _training_model(X, cfg, floor, seed=0):
    cls = em._TrainingGaussianHMM if cfg.n_mix == 1 else em._TrainingGMMHMM
    m = models.new_model(cfg, cls=cls)
    for name, value in em.initial_parameters(X, cfg, floor, np.random.RandomState(seed)).items():
        setattr(m, name, value)
    m._floor = floor
    m._init(X.reshape(-1, X.shape[2]))
    return m


@pytest.mark.parametrize("ct, n_mix, topology", CONFIGS)
def test_batched_estep_equals_hmmlearns(ct, n_mix, topology):
    """The batched E-step gives hmmlearn's per-sequence sufficient statistics."""
    X = _segments(n=10, T=20)
    X[-2:] = X[-2:, ::-1] * 4 + 3  # two badly fitting segments
    floor = _hmm.covariance_floor(X.reshape(-1, 3), 1e-3)
    cfg = _hmm.HMMConfig(n_states=4, n_mix=n_mix, covariance_type=ct, topology=topology)
    m = _training_model(X, cfg, floor)
    flat, lengths = X.reshape(-1, 3), np.full(len(X), X.shape[1])
    ours, ll_ours = m._do_estep(flat, lengths)
    assert_statistics_equal_hmmlearns(m, flat, lengths, ours, ll_ours, atol=1e-9)


@pytest.mark.parametrize("ct", _hmm.COVARIANCE_TYPES)
def test_batched_em_equals_hmmlearn_fit(ct):
    """Same initial parameters and iterations: trajhmm's EM == plain hmmlearn's fit.

    The covariance floor is set far below the data's variance so both solve the same
    unconstrained problem."""
    X = _segments(n=15, T=30)
    floor = _hmm.covariance_floor(X.reshape(-1, 3), 1e-10)
    cfg = _hmm.HMMConfig(n_states=4, covariance_type=ct, n_iter=15, tol=-np.inf)
    init = em.initial_parameters(X, cfg, floor, np.random.RandomState(5))
    ref = hmm.GaussianHMM(n_components=4, covariance_type=ct, min_covar=0.0, covars_prior=0.0,
                          covars_weight=1.0, params="stmc", init_params="", n_iter=15, tol=-np.inf)
    for name, value in init.items():
        setattr(ref, name, np.array(value, copy=True))
    ref.fit(X.reshape(-1, 3), np.full(len(X), X.shape[1]))
    ours = _hmm.fit_hmm(X, cfg, floor, seed=5)
    assert ours.n_iter == len(ref.monitor_.history) == 15
    a, b = _hmm.model_arrays(ours.model), _hmm.model_arrays(ref)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-6 * np.abs(b[key]).max(), err_msg=key)


def test_a_path_far_behind_that_later_wins_is_not_lost():
    """conftest.far_behind_case: the exact pass must keep the path far behind."""
    model, segs = far_behind_case()
    np.testing.assert_allclose(_hmm.log_likelihood(model, segs), [model.score(s) for s in segs], rtol=1e-9)


def test_left_right_max_jump_band_survives_training():
    X = _segments()
    floor = _hmm.covariance_floor(X.reshape(-1, 3), 1e-3)
    cfg = _hmm.HMMConfig(n_states=5, topology="left-right", max_jump=1, n_iter=20)
    A = _hmm.fit_hmm(X, cfg, floor, seed=0).model.transmat_
    assert (np.triu(A, 2) == 0).all() and (np.tril(A, -1) == 0).all()
    np.testing.assert_allclose(A.sum(axis=1), 1)


def test_monitor_is_honest_about_the_iteration_cap():
    X = _segments()
    floor = _hmm.covariance_floor(X.reshape(-1, 3), 1e-3)
    res = _hmm.fit_hmm(X, _hmm.HMMConfig(n_states=4, n_iter=2, tol=1e-12), floor, seed=0)
    assert res.n_iter == 2 and not res.converged and len(res.history) == 2
    assert not res.model.monitor_.converged


def test_no_global_rng_and_seed_determinism():
    X = _segments()
    floor = _hmm.covariance_floor(X.reshape(-1, 3), 1e-3)
    cfg = _hmm.HMMConfig(n_states=3, n_mix=3, covariance_type="diag", topology="ergodic", n_iter=10)
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    a = _hmm.fit_hmm(X, cfg, floor, seed=7)
    assert (np.random.get_state()[1] == state).all(), "global numpy RNG was used"
    np.random.seed(123)
    b = _hmm.fit_hmm(X, cfg, floor, seed=7)
    for k, v in _hmm.model_arrays(a.model).items():
        np.testing.assert_array_equal(v, _hmm.model_arrays(b.model)[k])


def test_n_free_parameters_by_hand():
    X = _segments(d=2)
    floor = _hmm.covariance_floor(X.reshape(-1, 2), 1e-3)
    # left-right, 3 states, max_jump 1, full covariance, d = 2:
    # start 0 free; transitions rows [a, 1-a, 0], [0, b, 1-b], [0, 0, 1] -> 2 free;
    # means 3 * 2 = 6; covariances 3 * 3 = 9 -> 17
    cfg = _hmm.HMMConfig(n_states=3, topology="left-right", max_jump=1, n_iter=3)
    m = _hmm.fit_hmm(X, cfg, floor, 0).model
    assert _hmm.n_free_parameters(m, cfg) == 17
    m.transmat_[0] = [1.0, 0.0, 0.0]  # a probability EM drove to 0 is still a parameter
    assert _hmm.n_free_parameters(m, cfg) == 17
    # ergodic, 2 states, 2 mixtures, diag, d = 2: start 1; trans 2; means 2*2*2 = 8;
    # covariances 8; weights 2 -> 21
    cfg = _hmm.HMMConfig(n_states=2, n_mix=2, covariance_type="diag", topology="ergodic", n_iter=3)
    m = _hmm.fit_hmm(X, cfg, floor, 0).model
    assert _hmm.n_free_parameters(m, cfg) == 21


@pytest.mark.parametrize("kw, d, expected", [
    # ergodic 3 states: start 2, transitions 3 * 2 = 6; means 3 * 2 = 6
    (dict(n_states=3, covariance_type="spherical", topology="ergodic"), 2, 2 + 6 + 6 + 3),
    (dict(n_states=3, covariance_type="diag", topology="ergodic"), 2, 2 + 6 + 6 + 6),
    (dict(n_states=3, covariance_type="full", topology="ergodic"), 2, 2 + 6 + 6 + 9),
    # tied, one Gaussian per state: ONE shared 2x2 covariance (3 values)
    (dict(n_states=3, covariance_type="tied", topology="ergodic"), 2, 2 + 6 + 6 + 3),
    # tied with mixtures: one covariance per state shared by its components (hmmlearn)
    (dict(n_states=3, n_mix=2, covariance_type="tied", topology="ergodic"), 2, 2 + 6 + 12 + 9 + 3),
    # left-right 4 states, jumps up to K-1: rows with 4, 3, 2, 1 targets -> 3+2+1+0
    (dict(n_states=4, covariance_type="diag", topology="left-right"), 3, 0 + 6 + 12 + 12),
    # left-right 4 states, max_jump 2: rows with 3, 3, 2, 1 targets -> 2+2+1+0
    (dict(n_states=4, covariance_type="diag", topology="left-right", max_jump=2), 3, 0 + 5 + 12 + 12),
    # spherical mixtures, d = 3: means 2*3*3 = 18, variances 6, weights 2 * 2 = 4
    (dict(n_states=2, n_mix=3, covariance_type="spherical", topology="left-right"), 3, 0 + 1 + 18 + 6 + 4),
])
def test_n_free_parameters_by_hand_for_every_structure(kw, d, expected):
    cfg = _hmm.HMMConfig(**kw)
    model = models.new_model(cfg)
    model.n_features = d
    assert _hmm.n_free_parameters(model, cfg) == expected

"""Issue 18.2: the invariants of robust EM asserted directly, and its repair paths run.

* the covariance floor: its value by hand, and every fitted covariance above it, on data
  where it is active (so a weaker floor fails the test, not only an accuracy threshold);
* the repairs of ``_RobustEM._do_mstep`` (a starved state, a starved transition row, a
  starved mixture component) are reached (a spy records every M-step) and keep exactly
  the previous values, while everything else is hmmlearn's own M-step;
* the exact-xi branch of the batched E-step is reached (line tracing) and gives
  hmmlearn's per-sequence statistics;
* log-likelihood never decreases and left-right structural zeros stay exactly 0.
"""

import inspect
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from trajhmm import HMMClassifier
from trajhmm import hmm as _hmm
from trajhmm.hmm import em, emissions, kernels, models

from conftest import assert_statistics_equal_hmmlearns, covariance_ratios

CONFIGS = list(itertools.product(_hmm.COVARIANCE_TYPES, (1, 2)))


# ---------------------------------------------------------------- helpers
def _step_segments(n=12, T=20, noise=1e-4, seed=0):
    """Nearly identical piecewise-constant segments in 2-D with features of different
    spread (x 0..3, y +-10): within each piece the variance is ~noise^2, far below any
    floor, so the floor is active for every covariance."""
    rng = np.random.RandomState(seed)
    levels = np.array([[0.0, 0.0], [1.0, 10.0], [2.0, 0.0], [3.0, -10.0]])
    base = levels[(np.arange(T) * 4) // T]
    return base + noise * rng.randn(n, T, 2)


class _MStepSpy:
    """Records, for every M-step of robust EM: the statistics, the parameters before it
    (``old``), hmmlearn's raw M-step output (``raw``) and the repaired result (``new``)."""

    def __init__(self, monkeypatch):
        self.calls = []
        orig_mstep, orig_repair = em._RobustEM._do_mstep, em._RobustEM._repair_transitions
        spy = self

        def repair_transitions(model, old):
            # called right after hmmlearn's M-step, before any repair
            spy.calls[-1]["raw"] = spy._params(model)
            spy.calls[-1]["old"] = {k: np.array(v, copy=True) for k, v in old.items()}
            return orig_repair(model, old)

        def do_mstep(model, stats):
            spy.calls.append({"stats": {k: np.array(v, copy=True) for k, v in stats.items()}})
            orig_mstep(model, stats)
            spy.calls[-1]["new"] = spy._params(model)
            spy.calls[-1]["floor"] = np.array(model._floor)

        monkeypatch.setattr(em._RobustEM, "_do_mstep", do_mstep)
        monkeypatch.setattr(em._RobustEM, "_repair_transitions", repair_transitions)

    @staticmethod
    def _params(model):
        names = ("startprob_", "transmat_") + emissions.family_of(model).param_names
        return {name: np.array(getattr(model, name), copy=True) for name in names}


def _covar_name(n_mix):
    return "_covars_" if n_mix == 1 else "covars_"


def _lines_run(func, call):
    """Run ``call()`` and return the set of source lines of ``func`` that executed."""
    code, hit = func.__code__, set()

    def local(frame, event, arg):
        if event == "line":
            hit.add(frame.f_lineno)
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code is code else None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = call()
    finally:
        sys.settrace(previous)
    return hit, result


def _line_of(func, text):
    lines, start = inspect.getsourcelines(func)
    found = [start + i for i, line in enumerate(lines) if text in line]
    assert len(found) == 1, (text, found)
    return found[0]


# ---------------------------------------------------------------- the floor
def test_covariance_floor_by_hand():
    rng = np.random.RandomState(0)
    P = rng.randn(200, 3) * [1.0, 10.0, 0.1] + [5.0, -2.0, 1e3]
    hand = np.array([np.mean((P[:, j] - np.mean(P[:, j])) ** 2) for j in range(3)])
    np.testing.assert_allclose(_hmm.covariance_floor(P, 1e-3), 1e-3 * hand, rtol=1e-12)
    np.testing.assert_allclose(_hmm.covariance_floor(P, 0.5), 0.5 * hand, rtol=1e-12)
    # follows the units: x 1e4 in every coordinate -> x 1e8 in every floor
    np.testing.assert_allclose(_hmm.covariance_floor(P * 1e4, 1e-3), 1e-3 * hand * 1e8, rtol=1e-10)
    # a constant feature (planar data: z = 5) gets the largest feature's variance, not ~0
    P[:, 2] = 5.0
    np.testing.assert_allclose(_hmm.covariance_floor(P, 1e-3), 1e-3 * np.array([hand[0], hand[1], hand[1]]), rtol=1e-12)
    # every feature constant: reg_covar itself
    np.testing.assert_array_equal(_hmm.covariance_floor(np.full((5, 2), 3.0), 1e-3), [1e-3, 1e-3])


def test_clip_covariance_by_hand():
    floor = np.array([1.0, 4.0])
    # diag: each variance clipped at its own floor
    np.testing.assert_array_equal(_hmm.clip_covariance([[0.5, 9.0], [2.0, 1.0]], floor, "diag"), [[1.0, 9.0], [2.0, 4.0]])
    # spherical: at the mean floor (2.5), not the smallest (1) or the largest (4)
    np.testing.assert_array_equal(_hmm.clip_covariance([0.1, 2.0, 3.0], floor, "spherical"), [2.5, 2.5, 3.0])
    # full: Sigma >= diag(F); a diagonal matrix is clipped entrywise ...
    out = _hmm.clip_covariance(np.diag([0.25, 100.0])[None], floor, "full")
    np.testing.assert_allclose(out[0], np.diag([1.0, 100.0]), atol=1e-12)
    # ... a matrix already above the floor is unchanged ...
    ok = np.array([[3.0, 1.0], [1.0, 9.0]])
    np.testing.assert_allclose(_hmm.clip_covariance(ok[None], floor, "full")[0], ok, rtol=1e-12)
    # ... and a rank-one matrix gets exactly the floor across its null direction:
    # in whitened coordinates v v^T with v = (1, 1): eigenvalues 2 (kept) and 0 (-> 1)
    v = np.array([1.0, 1.0]) * np.sqrt(floor)
    hand = np.outer(v, v) + np.diag(np.sqrt(floor)) @ (np.eye(2) - np.outer([1, 1], [1, 1]) / 2) @ np.diag(np.sqrt(floor))
    np.testing.assert_allclose(_hmm.clip_covariance(np.outer(v, v)[None], floor, "tied")[0], hand, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ct, n_mix", CONFIGS)
@pytest.mark.parametrize("topology", _hmm.TOPOLOGIES)
def test_every_covariance_is_above_an_active_floor(ct, n_mix, topology, monkeypatch):
    X = _step_segments()
    floor = _hmm.covariance_floor(X.reshape(-1, 2), 1e-2)
    assert floor[1] > 30 * floor[0]  # unequal floors: "mean" and "min" differ for spherical
    spy = _MStepSpy(monkeypatch)
    cfg = _hmm.HMMConfig(n_states=4, n_mix=n_mix, covariance_type=ct, topology=topology, n_iter=10)
    res = _hmm.fit_hmm(X, cfg, floor, seed=0)
    np.testing.assert_array_equal(spy.calls[0]["floor"], floor)  # the floor EM was given
    r = covariance_ratios(res.model, floor)
    assert r.min() >= 1 - 1e-9, r.min()
    # the floor is active: without it the variances (~1e-8) would be far below it
    assert abs(r.min() - 1) < 1e-9, r.min()
    for call in spy.calls:  # in every M-step, not only at the end
        m = _hmm.model_from_arrays(cfg, {"startprob": call["new"]["startprob_"], "transmat": call["new"]["transmat_"],
                                        "means": call["new"]["means_"], "covars": call["new"][_covar_name(n_mix)],
                                        **({"weights": call["new"]["weights_"]} if n_mix > 1 else {})}, 2)
        assert covariance_ratios(m, floor).min() >= 1 - 1e-9


@pytest.mark.parametrize("standardize", [True, False])
def test_classifier_floor_is_stored_by_hand_and_respected(standardize):
    """A class of nearly identical trajectories: its model sits on the floor."""
    rng = np.random.RandomState(3)
    t = np.linspace(0, 1, 40)
    tight = [np.c_[t, 10 * t ** 2, np.sin(3 * t)] + 1e-6 * rng.randn(40, 3) for _ in range(6)]
    loose = [np.c_[t, -5 * t, np.cos(4 * t)] + 0.2 * rng.randn(40, 3) for _ in range(6)]
    X, y = tight + loose, ["tight"] * 6 + ["loose"] * 6
    clf = HMMClassifier(n_states=4, n_points=15, n_iter=20, reg_covar=0.1, covariance_type="spherical", derivatives=0,
                        standardize=standardize, random_state=0).fit(X, y)
    points = clf.transform(X).reshape(-1, clf.n_model_features_)
    hand = 0.1 * ((points - points.mean(axis=0)) ** 2).mean(axis=0)
    np.testing.assert_allclose(clf.covariance_floor_, hand, rtol=1e-10)
    if not standardize:
        assert np.ptp(hand) > 0.1 * hand.max()  # unequal floors
    for model in clf.models_:
        assert covariance_ratios(model, clf.covariance_floor_).min() >= 1 - 1e-9
    tight_model = clf.models_[list(clf.classes_).index("tight")]
    assert abs(covariance_ratios(tight_model, clf.covariance_floor_).min() - 1) < 1e-9


# ---------------------------------------------------------------- repair paths
def _two_regime_segments(n=8, T=15, seed=0):
    """Segments that visit two regimes (x near 0, then near 1): a third state has no data."""
    rng = np.random.RandomState(seed)
    base = np.where(np.arange(T)[:, None] < T // 2, [0.0, 0.0], [1.0, 2.0])
    return base + 0.05 * rng.randn(n, T, 2)


def _check_history(history):
    h = np.asarray(history)
    assert np.isfinite(h).all()
    assert (np.diff(h) >= -1e-10 * np.abs(h[1:])).all(), np.diff(h).min()


def _check_structure(params, topology):
    if topology == "left-right":
        assert params["startprob_"][0] == 1.0 and (params["startprob_"][1:] == 0).all()
        assert (np.tril(params["transmat_"], -1) == 0).all()


@pytest.mark.parametrize("ct, n_mix", CONFIGS)
@pytest.mark.parametrize("topology", _hmm.TOPOLOGIES)
def test_a_starved_state_keeps_its_previous_parameters(ct, n_mix, topology, monkeypatch):
    """The last state starts 1000 units away from all data: it gets no responsibility, so
    hmmlearn's M-step gives 0/0 for its mean, covariance and transition row."""
    X = _two_regime_segments()
    floor = _hmm.covariance_floor(X.reshape(-1, 2), 1e-3)
    original = em.initial_parameters

    def far_last_state(segments, config, floor, rng):
        params = original(segments, config, floor, rng)
        params["means_"][-1] += 1e3
        if "weights_" in params:
            params["weights_"][-1] = [0.3, 0.7]  # not what a 0/0 -> uniform repair would give
        return params

    monkeypatch.setattr(em, "initial_parameters", far_last_state)
    spy = _MStepSpy(monkeypatch)
    cfg = _hmm.HMMConfig(n_states=3, n_mix=n_mix, covariance_type=ct, topology=topology, n_iter=8, tol=-np.inf)
    res = _hmm.fit_hmm(X, cfg, floor, seed=0)
    cov = _covar_name(n_mix)
    n_starved = 0
    for call in spy.calls:
        post = call["stats"]["post" if n_mix == 1 else "post_sum"]
        starved = post < emissions.MIN_OCCUPANCY
        old, raw, new = call["old"], call["raw"], call["new"]
        for params in (old, new):
            for v in params.values():
                assert np.isfinite(v).all()
        _check_structure(new, topology)
        if not starved.any():
            continue
        n_starved += 1
        assert not np.isfinite(raw["means_"][starved]).all()  # what the repair replaced: 0/0
        np.testing.assert_array_equal(new["means_"][starved], old["means_"][starved])
        kept = ~starved if n_mix == 1 else ~starved[:, None] & (call["stats"]["post_mix_sum"] >= emissions.MIN_OCCUPANCY)
        np.testing.assert_array_equal(new["means_"][kept], raw["means_"][kept])  # only that
        if ct != "tied":
            np.testing.assert_allclose(new[cov][starved], old[cov][starved], rtol=1e-12, atol=0)
        if n_mix > 1:
            np.testing.assert_array_equal(new["weights_"][starved], old["weights_"][starved])
        # its transition row has no counts: the previous row is kept
        assert raw["transmat_"][starved].sum(axis=1).max() == 0
        np.testing.assert_array_equal(new["transmat_"][starved], old["transmat_"][starved])
        np.testing.assert_array_equal(new["transmat_"][~starved], raw["transmat_"][~starved])
    assert n_starved == len(spy.calls) == res.n_iter  # the repair ran in every iteration
    _check_history(res.history)


def test_a_starved_transition_row_keeps_its_previous_row(monkeypatch):
    """State 1 is only ever visited at the last point of each segment: it has data
    (not starved) but no transition out of it, so its row has no counts at all."""
    rng = np.random.RandomState(1)
    T = 10
    X = np.zeros((8, T, 2)) + 0.05 * rng.randn(8, T, 2)
    X[:, -1] += [100.0, 100.0]
    floor = _hmm.covariance_floor(X.reshape(-1, 2), 1e-4)
    original = em.initial_parameters

    def state_1_at_the_end(segments, config, floor, rng):
        params = original(segments, config, floor, rng)
        params["means_"] = np.array([[0.0, 0.0], [100.0, 100.0]])
        params["transmat_"] = np.array([[0.8, 0.2], [0.3, 0.7]])
        return params

    monkeypatch.setattr(em, "initial_parameters", state_1_at_the_end)
    spy = _MStepSpy(monkeypatch)
    cfg = _hmm.HMMConfig(n_states=2, covariance_type="diag", topology="ergodic", n_iter=6, tol=-np.inf)
    res = _hmm.fit_hmm(X, cfg, floor, seed=0)
    for call in spy.calls:
        assert (call["stats"]["post"] > 7.9).all()  # both states have data
        assert call["stats"]["trans"][1].sum() == 0  # no transition out of state 1
        np.testing.assert_array_equal(call["raw"]["transmat_"][1], [0.0, 0.0])
        np.testing.assert_array_equal(call["new"]["transmat_"][1], [0.3, 0.7])
        np.testing.assert_array_equal(call["new"]["transmat_"][0], call["raw"]["transmat_"][0])
        np.testing.assert_array_equal(call["new"]["means_"], call["raw"]["means_"])
    np.testing.assert_array_equal(res.model.transmat_[1], [0.3, 0.7])
    _check_history(res.history)


@pytest.mark.parametrize("ct", _hmm.COVARIANCE_TYPES)
def test_a_starved_mixture_component_keeps_its_previous_parameters(ct, monkeypatch):
    X = _two_regime_segments()
    floor = _hmm.covariance_floor(X.reshape(-1, 2), 1e-3)
    original = em.initial_parameters

    def far_second_component(segments, config, floor, rng):
        params = original(segments, config, floor, rng)
        params["means_"][:, 1] += 1e3
        return params

    monkeypatch.setattr(em, "initial_parameters", far_second_component)
    spy = _MStepSpy(monkeypatch)
    cfg = _hmm.HMMConfig(n_states=2, n_mix=2, covariance_type=ct, topology="left-right", n_iter=6, tol=-np.inf)
    res = _hmm.fit_hmm(X, cfg, floor, seed=0)
    for call in spy.calls:
        stats, old, raw, new = call["stats"], call["old"], call["raw"], call["new"]
        assert (stats["post_sum"] > 1).all()  # the states are not starved ...
        assert (stats["post_mix_sum"][:, 1] < emissions.MIN_OCCUPANCY).all()  # ... their 2nd component is
        assert (raw["means_"][:, 1] != old["means_"][:, 1]).all()  # hmmlearn moved them (to 0)
        np.testing.assert_array_equal(new["means_"][:, 1], old["means_"][:, 1])
        np.testing.assert_array_equal(new["means_"][:, 0], raw["means_"][:, 0])
        if ct != "tied":
            np.testing.assert_allclose(new["covars_"][:, 1], old["covars_"][:, 1], rtol=1e-12, atol=0)
        # its weight is held at the minimum, so log(weight) stays finite
        w = new["weights_"]
        np.testing.assert_allclose(w[:, 1], emissions._MIN_WEIGHT, rtol=1e-6)
        np.testing.assert_allclose(w.sum(axis=1), 1, rtol=1e-15)
        _check_structure(new, "left-right")
    _check_history(res.history)


# ---------------------------------------------------------------- the batched E-step
def _far_behind_segments(n=6, T=30, seed=0):
    """(ordinary, all): left-right data through three regions, and two segments that first
    sit where the last state is, then where the first state is: for the left-right model
    learned from the ordinary ones, the path that wins is thousands of nats behind at
    first, the case the exact-xi branch exists for."""
    rng = np.random.RandomState(seed)
    means = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    ordinary = means[(np.arange(T) * 3) // T] + 0.1 * rng.randn(n, T, 2)
    odd = np.r_[np.tile(means[2], (T // 5, 1)), np.tile(means[0], (T - T // 5, 1))] + 0.1 * rng.randn(2, T, 2)
    return ordinary, np.concatenate([ordinary, odd])


def _init_from(ordinary, floor):
    """Initial parameters fitted to the ordinary segments only (tight states); a tied
    covariance is set to a tight one as well (the default is the global covariance)."""
    original = em.initial_parameters

    def init(segments, config, _floor, rng):
        params = original(ordinary, config, floor, rng)
        if config.covariance_type == "tied" and config.n_mix == 1:
            params["_covars_"] = np.diag(floor) + 0.01 * np.eye(len(floor))
        return params
    return init


# the exact-xi branch of the batched E-step lives in kernels._xi_sum (called by
# forward_backward); this source line only runs in that branch
EXACT_XI_FUNC = kernels._xi_sum
# Under mutmut (scripts/mutation.py) the package runs from ./mutants/ with every function
# replaced by a trampoline, so source lines cannot be traced; the value checks still run.
UNDER_MUTMUT = "mutants" in Path(kernels.__file__).parts
EXACT_XI_LINE = "terms = (u[ts"


@pytest.mark.parametrize("ct, n_mix", CONFIGS)
def test_batched_estep_exact_xi_branch_equals_hmmlearns(ct, n_mix):
    ordinary, X = _far_behind_segments()
    floor = _hmm.covariance_floor(X.reshape(-1, 2), 1e-3)
    cfg = _hmm.HMMConfig(n_states=3, n_mix=n_mix, covariance_type=ct, topology="left-right")
    cls = em._TrainingGaussianHMM if n_mix == 1 else em._TrainingGMMHMM
    m = models.new_model(cfg, cls=cls)
    for name, value in _init_from(ordinary, floor)(X, cfg, floor, np.random.RandomState(0)).items():
        setattr(m, name, value)
    m._floor = floor
    m._init(X.reshape(-1, 2))
    flat, lengths = X.reshape(-1, 2), np.full(len(X), X.shape[1])
    hit, (ours, ll_ours) = _lines_run(EXACT_XI_FUNC, lambda: m._do_estep(flat, lengths))
    assert UNDER_MUTMUT or _line_of(EXACT_XI_FUNC, EXACT_XI_LINE) in hit, "the exact-xi branch did not run"
    assert_statistics_equal_hmmlearns(m, flat, lengths, ours, ll_ours, atol=1e-12)
    # a left-right model never starts elsewhere nor goes back: structural zeros in the counts
    assert (ours["start"][1:] == 0).all() and (np.tril(ours["trans"], -1) == 0).all()


@pytest.mark.parametrize("ct, n_mix", [("full", 1), ("diag", 2)])
def test_em_through_the_exact_xi_branch_is_monotone_and_keeps_structure(ct, n_mix, monkeypatch):
    ordinary, X = _far_behind_segments()
    floor = _hmm.covariance_floor(X.reshape(-1, 2), 1e-3)
    monkeypatch.setattr(em, "initial_parameters", _init_from(ordinary, floor))
    spy = _MStepSpy(monkeypatch)
    cfg = _hmm.HMMConfig(n_states=3, n_mix=n_mix, covariance_type=ct, topology="left-right", max_jump=1,
                         n_iter=10, tol=-np.inf)
    hit, res = _lines_run(EXACT_XI_FUNC, lambda: _hmm.fit_hmm(X, cfg, floor, seed=0))
    assert UNDER_MUTMUT or _line_of(EXACT_XI_FUNC, EXACT_XI_LINE) in hit
    _check_history(res.history)
    assert res.n_iter == 10
    for call in spy.calls:
        _check_structure(call["new"], "left-right")
        assert (np.triu(call["new"]["transmat_"], 2) == 0).all()  # max_jump 1

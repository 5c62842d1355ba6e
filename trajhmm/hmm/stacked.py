"""Several models scored in one pass: every state of every model stacked into one block
model (the classifier's class models, and the background model with them).

* emissions: the Gaussians of all states of all models, their inverse Cholesky factors,
  whitened means and normalising constants computed once (:class:`StackedModels`), so the
  log-densities of all of them are one matrix product over the points (a few, of
  cache-sized blocks, for large batches);
* forward pass: all models, states and segments at once, exact in log space like
  hmmlearn's (each output a log-sum-exp over its predecessors, shifted by its own
  maximum: :func:`_forward`), in a few array operations per time step. Batches take
  :meth:`StackedModels.scaled_forward` (the scaled forward pass in probability space, one
  exp per state and point, with a bound of its error: :func:`_forward` for the pairs of
  model and segment where that bound is not negligible; the streams' window scorer uses
  the same pass); few segments (one
  trajectory) take :func:`_forward_small`: the forward variables carried relative to the
  Viterbi scores, exact too, with a third of the numpy calls;
* a segment whose score is NaN here (an input so large that its log-densities are -inf
  for every state) is scored again by the per-model path of :func:`.models.log_likelihoods`,
  so the two paths agree on every input.

:func:`stacked_models` builds a :class:`StackedModels` once per set of parameters: a small
cache keyed on the models' identity and checked against a copy of all their parameters
(bytes), so a changed model (new arrays, or arrays changed in place) is never served
stale. The cache lives here, not on the estimators: nothing to save, pickle or clone.
"""

import os
import threading
from collections import OrderedDict

import numpy as np
from hmmlearn.hmm import GMMHMM

from .emissions import family_of
from .kernels import logsumexp, reachable_states
from .models import log_likelihoods

__all__ = ["StackedModels", "relative_emissions", "scaled_exact", "stacked_log_likelihoods", "stacked_models"]

# log(0) in the forward passes: finite, so a log-sum-exp over predecessors never meets
# -inf - -inf; exp(_LOG_ZERO - anything finite) is exactly 0, like exp(-inf).
_LOG_ZERO = -1e300
# Floor of the exponents given to exp (see _forward_small, StackedModels.scaled_forward and
# _forward).
_EXP_FLOOR = -700.0
# In the scaled pass, a reachable state whose scaled forward value is at most e^_NEAR_FLOOR
# may be inexact (its emission floored, its value underflowed): one nat above the floor,
# so that rounding (normalised values summing to 1 + ulp) cannot lift a floored one past it.
_NEAR_FLOOR = _EXP_FLOOR + 1.0
# A scaled score is taken where its error bound is at most this fraction of |log p| (and
# never more than _SCALED_MAX_ERROR of p itself, so that the score is right on both sides).
_SCALED_RTOL = 1e-12
_SCALED_MAX_ERROR = 1e-3
# At most this many segments take _forward_small (one trajectory).
_SMALL = 8
# Segments per pass of the batched path (keeps the emission block in cache-sized pieces),
# fewer when their emission log-likelihoods (models x states x points each) would exceed
# _CHUNK_FLOATS: long segments (n_points up to 10000) stay within a few tens of MB.
_CHUNK = 128
_CHUNK_FLOATS = 1 << 22
# Largest whitened block (floats) computed in one matrix product (fits in cache).
_BLOCK = 1 << 17
_CACHE_SIZE = 8
_cache = OrderedDict()
_lock = threading.Lock()


def _after_fork():
    """In a child process: a new lock (a thread of the parent may have held it at the fork,
    and no thread of the child would ever release it: a pre-forking server hung)."""
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _parameters(model):
    """Every array that determines a model's scores (hmmlearn attributes, no copies)."""
    arrays = [model.startprob_, model.transmat_, model.means_]
    if isinstance(model, GMMHMM):
        return [*arrays, model.covars_, model.weights_]
    return [*arrays, model._covars_]


def _fingerprint(models):
    """(structure, bytes of every parameter): equal fingerprints score identically."""
    meta, raw = [], []
    for m in models:
        meta.append((type(m), m.covariance_type))
        for a in _parameters(m):
            a = np.asarray(a)
            meta.append((a.shape, a.dtype.str))
            raw.append(a.tobytes())
    return tuple(meta), b"".join(raw)


def stacked_models(models):
    """The :class:`StackedModels` of ``models``, from the cache when their parameters are
    byte for byte those it was built from."""
    models = list(models)
    key = tuple(map(id, models))
    fp = _fingerprint(models)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == fp:
            _cache.move_to_end(key)
            return hit[1]
    stack = StackedModels(models)
    with _lock:
        _cache[key] = (fp, stack)
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return stack


def _padded(values, shape, fill):
    out = np.full(shape, fill, dtype=float)
    out[tuple(slice(0, n) for n in np.shape(values))] = values
    return out


class StackedModels:
    """Precomputed arrays of ``C`` models padded to ``K`` states of ``M`` Gaussians each
    (a padded state is unreachable, a padded Gaussian has weight 0)."""

    def __init__(self, models):
        self.n_models = C = len(models)
        self.n_features = d = int(np.shape(models[0].means_)[-1])
        comps = [family_of(m).components(m, d) for m in models]
        self.n_states = K = max(m.n_components for m in models)
        self.n_mix = M = max(c[0].shape[1] for c in comps)
        covs = np.tile(np.eye(d), (C, K, M, 1, 1))
        means = np.zeros((C, K, M, d))
        log_w = np.full((C, K, M), -np.inf)
        A = np.zeros((C, K, K))
        startprob = np.zeros((C, K))
        for c, (m, (mu, cov, lw)) in enumerate(zip(models, comps)):
            k, j = lw.shape
            covs[c, :k, :j], means[c, :k, :j], log_w[c, :k, :j] = cov, mu, lw
            log_w[c, k:, 0] = 0.0  # a padded state: finite emissions (it is never reached)
            A[c] = _padded(np.asarray(m.transmat_, dtype=float), (K, K), 0.0)
            startprob[c] = _padded(np.asarray(m.startprob_, dtype=float), (K,), 0.0)
        # as kernels.gaussian_log_density: residuals whitened by the inverse Cholesky factor
        L = np.linalg.cholesky(covs.reshape(-1, d, d))
        Linv = np.linalg.inv(L)
        shift = np.einsum("gij,gj->gi", Linv, means.reshape(-1, d))
        self.whiten = np.concatenate([Linv, -shift[:, :, None]], axis=2).reshape(-1, d + 1)  # (C*K*M*d, d+1)
        log_det = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        self.const = (d * np.log(2 * np.pi) + log_det)[:, None]  # (G, 1)
        self.log_weights = log_w[..., None] if M > 1 else None
        self._quadratic = None
        with np.errstate(divide="ignore"):
            log_start, log_A = np.log(startprob), np.log(A)  # log_A[c, i, j] = log A_c[i -> j]
        self.log_start_small = np.maximum(log_start, _LOG_ZERO)[:, None, :]  # (C, 1, K)
        self.log_A_small = np.maximum(log_A, _LOG_ZERO)[:, None]  # (C, 1, K_from, K_to)
        self.log_A_from = np.ascontiguousarray(self.log_A_small.transpose(2, 0, 1, 3))  # (K_from, C, 1, K_to)
        self.log_A_dense = np.ascontiguousarray(self.log_A_from.transpose(0, 1, 3, 2))  # (K_from, C, K_to, 1)
        self.A_to = np.ascontiguousarray(A.transpose(0, 2, 1))  # (C, K_to, K_from): alpha_t = A_to @ alpha_{t-1}
        self.start = startprob[:, :, None]  # (C, K, 1)
        self._reach = {}

    def reachable(self, T):
        """(T, C, K, 1) bool: the states with a path of positive probability at each step
        (padded states: never)."""
        if T not in self._reach:
            R = [reachable_states(self.start[c, :, 0], self.A_to[c].T, T) for c in range(self.n_models)]
            self._reach[T] = np.stack(R, axis=1)[..., None]
        return self._reach[T]

    def scaled_forward(self, e, end=None):
        """``(ll, upper)`` (C, n): every model's log-likelihood of every segment by Rabiner's
        scaled forward pass in probability space, and an upper bound of its error, both
        relative to ``sum_t top_t``. ``e`` (T, C, K, n): the emissions ``exp(max(log_b - top,
        _EXP_FLOOR))``, ``top`` (T, C, n) the maximum of ``log_b`` over each model's states
        (time first: each step reads one contiguous block). ``end`` (C, K): weights of the
        last step's states (None: the segment ends anywhere).

        One batched matrix product per step and one exp per state and point (the exact
        log-space pass, :func:`_forward`, takes one per pair of states). The forward values
        are renormalised at every step; ``L_t`` is the log of the product of the scales
        before step t. A reachable state whose scaled value falls to ``e^_NEAR_FLOOR`` or
        below (its emission floored, or the value underflowed; the margin of one nat over
        the floor covers rounding) may be wrong, too high or too low, by at most that much,
        which is ``e^(L_t + _NEAR_FLOOR)`` unscaled, and no later step can enlarge it (the
        emissions are <= 1, the transitions stochastic); so ``|p - p_scaled| <= K * T *
        e^(W + _NEAR_FLOOR)``, W the largest ``L_t`` of a step with such a state: ``upper``
        is ``log(p_scaled + that)``, an upper bound of log p. Where no reachable state came
        near the floor, ``upper == ll`` and ``ll`` is exact to rounding, however far the
        model is from the segment (the scales multiply to anything); :func:`scaled_exact`
        says where the bound is small enough on both sides, and elsewhere :func:`_forward`
        gives the exact value."""
        T = len(e)
        reach = self.reachable(T)
        low = np.exp(_NEAR_FLOOR)
        alpha = self.start * e[0]
        worst = np.where((reach[0] & (alpha <= low)).any(axis=1), 0.0, -np.inf)
        log_scale = np.zeros(worst.shape)
        total = np.empty(worst.shape)
        near = np.empty(alpha.shape, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            for t in range(1, T):
                np.add.reduce(alpha, axis=1, out=total)
                alpha /= total[:, None]
                log_scale += np.log(total)
                alpha = np.matmul(self.A_to, alpha)
                alpha *= e[t]
                np.less_equal(alpha, low, out=near)
                near &= reach[t]
                if near.any():  # rare: only then per model and segment
                    worst = np.where(near.any(axis=1), np.maximum(worst, log_scale), worst)
            if end is not None:
                alpha *= end[:, :, None]
            final = np.log(alpha.sum(axis=1)) + log_scale
            bound = worst + _NEAR_FLOOR + np.log(self.n_states * T)  # weights <= 1: a bound of the weighted sum too
            upper = np.where(np.isfinite(final), np.logaddexp(final, bound), np.inf)
        return final, upper

    def log_densities(self, points):
        """(C, K, N) emission log-likelihoods of points (d, N)."""
        d, N = points.shape
        G = len(self.const)
        step = max(1, _BLOCK // max(1, d * N))
        points = np.vstack([points, np.ones((1, N))])  # a row of ones: the shift is in the product
        dens = np.empty((G, N))
        for g0 in range(0, G, step):
            g1 = min(G, g0 + step)
            W = (self.whiten[g0 * d : g1 * d] @ points).reshape(g1 - g0, d, N)  # Linv @ x - Linv @ mean
            W *= W
            np.add.reduce(W, axis=1, out=dens[g0:g1])
        dens += self.const
        dens *= -0.5
        C, K = self.n_models, self.n_states
        if self.log_weights is None:
            return dens.reshape(C, K, N)
        with np.errstate(under="ignore"):
            dens = dens.reshape(C, K, self.n_mix, N) + self.log_weights
        return logsumexp(dens, axis=2)

    def quadratic_forms(self):
        """The Gaussians as columns of one matrix ``W`` (n_models * n_states, q) with
        ``log N(x | mu, S) = phi(x) @ W[g]``, ``phi(x)`` the monomials ``x_i x_j`` (i <= j),
        ``x_i`` and 1 (:meth:`quadratic_log_densities`); None for mixtures. Built once, from
        the same whitening factors as :meth:`log_densities`."""
        if self.log_weights is not None:
            return None
        if self._quadratic is None:
            d = self.n_features
            W = self.whiten.reshape(-1, d, d + 1)
            Linv, shift = W[:, :, :d], -W[:, :, d]  # shift = Linv @ mean
            prec = np.einsum("gki,gkj->gij", Linv, Linv)
            pmu = np.einsum("gki,gk->gi", Linv, shift)
            iu = np.triu_indices(d)
            quad = -0.5 * prec * (2.0 - np.eye(d))  # off-diagonal pairs counted once
            const = -0.5 * (self.const[:, 0] + np.einsum("gk,gk->g", shift, shift))
            self._quadratic = iu, np.concatenate([quad[:, iu[0], iu[1]], pmu, const[:, None]], axis=1)
        return self._quadratic

    def quadratic_log_densities(self, x):
        """(..., n_models * n_states, n) emission log-likelihoods of points ``x`` (..., d, n)
        as one matrix product with :meth:`quadratic_forms` (Gaussian states only). Fewer
        operations than :meth:`log_densities` (d(d+3)/2 + 1 per state and point instead of
        d(d+2)) but it loses precision far from the means (the terms cancel): for the
        streams' many windows, not for the predictions' exact scores."""
        iu, W = self.quadratic_forms()
        ones = np.ones(x.shape[:-2] + (1, x.shape[-1]))
        phi = np.concatenate([x[..., iu[0], :] * x[..., iu[1], :], x, ones], axis=-2)
        return np.matmul(W, phi)

    def log_likelihoods(self, segments):
        """(n, C) log p(segment | model) of segments (n, T, d) whose features are finite."""
        n, T, d = segments.shape
        out = np.empty((n, self.n_models))
        small = (T - 1) * np.log(self.n_states) < 400.0
        exact = []  # (model, segment indices, their log_b (1, K, T, k)): for _forward
        chunk = max(1, min(_CHUNK, _CHUNK_FLOATS // (self.n_models * self.n_states * T)))
        for i in range(0, n, chunk):
            part = segments[i : i + chunk]
            m = len(part)
            points = np.ascontiguousarray(part.transpose(2, 1, 0)).reshape(d, T * m)
            log_b = self.log_densities(points).reshape(self.n_models, self.n_states, T, m)
            with np.errstate(divide="ignore", under="ignore", invalid="ignore", over="ignore"):
                if m <= _SMALL and small:
                    out[i : i + m] = _forward_small(self, log_b).T
                    continue
                scores, bad = self._scaled_scores(log_b)
            out[i : i + m] = scores.T
            for c in np.flatnonzero(bad.any(axis=1)):
                cols = np.flatnonzero(bad[c])
                exact.append((c, i + cols, log_b[c : c + 1][..., cols]))
            if sum(p[2].size for p in exact) > _CHUNK_FLOATS:  # bounded memory: score them now
                self._score_exactly(exact, out)
                exact = []
        self._score_exactly(exact, out)
        return out

    def _scaled_scores(self, log_b):
        """(scores, inexact), both (C, n), from log_b (C, K, T, n): :meth:`scaled_forward`,
        and the pairs of model and segment it may have got wrong (or NaN), which the
        caller scores with :func:`_forward`, exact in log space."""
        e, top = relative_emissions(log_b.transpose(2, 0, 1, 3))
        ll, upper = self.scaled_forward(e)
        shift = top.sum(axis=0)
        ll += shift
        upper += shift
        return ll, ~scaled_exact(ll, upper)

    def _score_exactly(self, pairs, out):
        """``out[rows, c]`` by :func:`_forward` for the (model c, rows, log_b) of ``pairs``:
        one pass per model over all its rows."""
        for c in sorted({p[0] for p in pairs}):
            rows = np.concatenate([p[1] for p in pairs if p[0] == c])
            log_b = np.concatenate([p[2] for p in pairs if p[0] == c], axis=-1)
            with np.errstate(divide="ignore", under="ignore", invalid="ignore", over="ignore"):
                out[rows, c] = _forward(self.log_start_small[c : c + 1], self.log_A_dense[:, c : c + 1], log_b)[0]


def relative_emissions(log_b):
    """``(e, top)``: the input of :meth:`StackedModels.scaled_forward` from time-first
    emission log-likelihoods ``log_b`` (T, C, K, n): ``top`` (T, C, n) their maximum over
    each model's states and ``e = exp(max(log_b - top, _EXP_FLOOR))`` (T, C, K, n)."""
    top = np.maximum.reduce(log_b, axis=2)
    with np.errstate(under="ignore", invalid="ignore"):
        e = np.subtract(log_b, top[:, :, None])
        np.maximum(e, _EXP_FLOOR, out=e)
        np.exp(e, out=e)
    return e, top


def scaled_exact(ll, upper):
    """Where the scaled pass's log-likelihoods ``ll`` are exact enough, given its bound
    ``upper`` (both as :meth:`StackedModels.scaled_forward` returns them, shifted alike):
    the error bound is at most ``_SCALED_RTOL * |ll|`` and ``_SCALED_MAX_ERROR`` of p, so
    ``|log p - ll|`` is at most about the smaller of the two, on either side (NaN: False)."""
    with np.errstate(invalid="ignore"):
        return upper - ll <= np.log1p(np.minimum(_SCALED_RTOL * np.abs(ll), _SCALED_MAX_ERROR))


def _forward_small(stack, log_b):
    """log p(segment | model) (C, n) from log_b (C, K, T, n), for few segments.

    Each state's forward variable is carried relative to its best path (the Viterbi
    score v), so one step is a product with entries in [0, 1]: with ``P_t[i, j] =
    v_{t-1}[i] + log A[i, j]`` and ``M_t[j] = max_i P_t[i, j]`` (v_t = M_t + log_b_t),
    ``y_t = y_{t-1} @ exp(P_t - M_t)`` and the forward variable is ``log y_t + v_t``. Every
    column of exp(P_t - M_t) holds a 1 and y >= 1, so each sum is at least 1 and a term
    floored at exp(-700) differs by less than e^-700 * K**T from it (the caller keeps
    K**T below e^400):
    exact to rounding for any spread of values, like hmmlearn's log-sum-exp per output,
    with a third of its numpy calls. log(0) is :data:`_LOG_ZERO`, so P_t - M_t is never
    -inf - -inf (a padded or not yet reachable state carries a harmless finite value
    whose contribution is exactly 0)."""
    C, K, T, n = log_b.shape
    b = np.ascontiguousarray(log_b.transpose(2, 0, 3, 1))  # (T, C, n, K)
    P = np.empty((K, C, n, K))  # P_t, K_from first: the reduction runs over the outer axis (fast)
    V = np.empty((T, C, n, K))  # the Viterbi scores v_t
    M = np.empty((T, C, n, K))
    np.add(stack.log_start_small, b[0], out=V[0])
    for t in range(1, T):
        np.add(V[t - 1].transpose(2, 0, 1)[..., None], stack.log_A_from, out=P)
        np.maximum.reduce(P, axis=0, out=M[t])
        np.add(M[t], b[t], out=V[t])
    B = np.add(V[:-1, :, :, :, None], stack.log_A_small)  # P_t for every t: (T-1, C, n, K_from, K_to)
    B -= M[1:, :, :, None, :]
    # exp(<-708) is subnormal or 0 and ~20x slower to compute; the floor adds at most
    # K * e^-700 * max(y) <= e^-297 of a sum >= 1 (the caller keeps K**T below e^400)
    np.maximum(B, _EXP_FLOOR, out=B)
    np.exp(B, out=B)
    y = np.ones((C, n, 1, K))
    for t in range(T - 1):
        y = np.matmul(y, B[t])
    v = V[-1]
    return logsumexp(np.log(y[:, :, 0]) + v, axis=2)


def _forward(log_start, log_A_dense, log_b):
    """log p(segment | model) (C, n) from log_b (C, K, T, n) (``log_start`` (C, 1, K) and
    ``log_A_dense`` (K_from, C, K_to, 1) of :class:`StackedModels`), all models at once: at every
    step an exact log-sum-exp over each state's predecessors, each output shifted by its
    own maximum (as hmmlearn's forward pass), for all models, states and segments in a
    few array operations. Exponents are floored at ``_EXP_FLOOR`` (exp of a subnormal
    result is ~20x slower): a floored term adds less than K * e^-700 to a sum of at least
    1. log(0) is :data:`_LOG_ZERO`, so no -inf - -inf arises."""
    C, K, T, n = log_b.shape
    terms = np.empty((K, C, K, n))  # (K_from, C, K_to, n): the reductions run over the outer axis
    top = np.empty((C, K, n))
    x = log_start.transpose(0, 2, 1) + log_b[:, :, 0]
    for t in range(1, T):
        np.add(x.transpose(1, 0, 2)[:, :, None, :], log_A_dense, out=terms)
        np.maximum.reduce(terms, axis=0, out=top)
        terms -= top
        np.maximum(terms, _EXP_FLOOR, out=terms)
        np.exp(terms, out=terms)
        x = np.add.reduce(terms, axis=0)
        np.log(x, out=x)
        x += top
        x += log_b[:, :, t]
    return logsumexp(x, axis=1)


def stacked_log_likelihoods(models, segments, stack=None):
    """(n_samples, n_models) log p(segment | model): :func:`.models.log_likelihoods` with
    every model scored in one pass (``stack``: :func:`stacked_models` of ``models``,
    looked up when not given)."""
    segments = np.asarray(segments, dtype=float)
    if stack is None:
        stack = stacked_models(models)
    out = stack.log_likelihoods(segments)
    bad = np.isnan(out).any(axis=1)
    if bad.any():
        out[bad] = log_likelihoods(models, segments[bad])
    return out

"""Batched HMM kernels in pure numpy (no hmmlearn): Gaussian log-densities, exact
log-space forward / backward passes over many equal-length segments, and the package's
one log-sum-exp.

Arrays are state-major, ``(n_states, n_points, n_segments)``, so every reduction over
states is an elementwise operation over long rows.
"""

import numpy as np

__all__ = ["forward_backward", "forward_log_likelihood", "gaussian_log_density", "logsumexp", "reachable_states"]

# A column sum of the scaled product below this is recomputed exactly (see _log_matmul).
_SAFE_SUM = 1e-250


def logsumexp(x, axis):
    """log(sum(exp(x), axis)), exact for any spread of values; all -inf gives -inf.

    The one log-sum-exp of trajhmm (the kernels and ``predict_log_proba`` alike): a row of
    -inf (a segment impossible under every model) gives -inf without a warning.
    """
    top = x.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore", under="ignore"):
        return np.log(np.exp(x - top).sum(axis=axis)) + np.squeeze(top, axis=axis)


def gaussian_log_density(XT, means, covs):
    """log N(x | means[g], covs[g]) for points XT (d, N), means (G, d), covs (G, d, d)
    -> (G, N). Residuals are whitened by the inverse Cholesky factor, as hmmlearn does
    (stable far from the means)."""
    d, N = XT.shape
    L = np.linalg.cholesky(covs)
    Linv = np.linalg.inv(L)
    log_det = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    out = np.empty((len(means), N))
    for g in range(len(means)):
        W = Linv[g] @ XT
        W -= (Linv[g] @ means[g])[:, None]
        W *= W
        W.sum(axis=0, out=out[g])
    out += (d * np.log(2 * np.pi) + log_det)[:, None]
    out *= -0.5
    return out


def _log_matmul(x, M, log_M_T, reach, out):
    """Exact ``log(M @ exp(x))`` for x (K, n) of log values and M (J, K) non-negative
    (``log_M_T`` = log(M).T, C-ordered), written to ``out`` (J, n), C-ordered.

    Fast path: shift each column of x by its maximum, exponentiate, one matrix product.
    Terms that underflow there are each < 2.3e-308, so an output whose scaled sum is at
    least ``_SAFE_SUM`` is exact to rounding (lost part < 1e-55 of it). Every other output
    whose state is reachable (``reach``, (J,) bool: not structurally -inf) is recomputed
    as an exact log-sum-exp over its predecessors. This is what keeps very poor fits
    exact: a path that is thousands of nats behind is never dropped.
    """
    top = x.max(axis=0)
    if not np.isfinite(top).all():
        top[~np.isfinite(top)] = 0.0
    e = np.subtract(x, top)
    np.exp(e, out=e)
    s = np.matmul(M, e)
    risky = s < _SAFE_SUM
    np.log(s, out=out)
    out += top
    if reach is not None:
        risky &= reach[:, None]
    flat = np.flatnonzero(risky)
    if flat.size:
        # exact log-sum-exp over predecessors; at least one term is finite (reachable).
        # Gathered (K, m), C-ordered, so the reductions run over long contiguous rows.
        j, r = np.divmod(flat, x.shape[1])
        terms = np.take(x, r, axis=1)
        terms += np.take(log_M_T, j, axis=1)
        # logsumexp(terms, axis=0), in place: this is the hot loop of EM and scoring, its
        # maxima are finite (reachable), and the general version's errstate and
        # temporaries cost ~10% of EM time here
        top_r = terms.max(axis=0)
        terms -= top_r
        np.exp(terms, out=terms)
        out.ravel()[flat] = np.log(terms.sum(axis=0)) + top_r
    return out


def reachable_states(startprob, transmat, T):
    """(T, K) bool: states with a path of positive probability at each time (data-free)."""
    R = np.empty((T, len(startprob)), dtype=bool)
    R[0] = np.asarray(startprob) > 0
    step = (np.asarray(transmat) > 0).astype(float)
    for t in range(1, T):
        R[t] = (R[t - 1].astype(float) @ step) > 0
    return R


def _log_passes(log_b, startprob, transmat, backward):
    """Exact log forward (and backward) variables, (T, K, n) each, from (K, T, n) emission
    log-likelihoods (state-major)."""
    K, T, n = log_b.shape
    A = np.asarray(transmat, dtype=float)
    reach = reachable_states(startprob, A, T)
    # backward values are never structurally -inf: every state has a successor
    co_reach = A.sum(axis=1) > 0
    with np.errstate(divide="ignore", under="ignore"):
        log_A = np.log(A)
        AT, log_AT = np.ascontiguousarray(A.T), np.ascontiguousarray(log_A.T)
        # _log_matmul takes M and log(M).T: forward M = A.T, backward M = A
        # forward only: two buffers instead of all T steps
        log_alpha = np.empty((T if backward else 2, K, n))
        log_alpha[0] = np.log(startprob)[:, None] + log_b[:, 0]
        for t in range(1, T):
            prev, cur = (t - 1, t) if backward else ((t - 1) % 2, t % 2)
            _log_matmul(log_alpha[prev], AT, log_A, None if reach[t].all() else reach[t], log_alpha[cur])
            log_alpha[cur] += log_b[:, t]
        if not backward:
            return log_alpha[(T - 1) % 2][None], None
        log_beta = np.empty((T, K, n))
        log_beta[-1] = 0.0
        for t in range(T - 2, -1, -1):
            _log_matmul(log_b[:, t + 1] + log_beta[t + 1], A, log_AT, None if co_reach.all() else co_reach, log_beta[t])
    return log_alpha, log_beta


def forward_log_likelihood(log_b, startprob, transmat, end=None):
    """log p(segment) for (K, T, n) emission log-likelihoods (state-major), exact (see
    :func:`_log_matmul`). ``end`` (K,): weights of the last step's states (the segment
    must end in state j with weight ``end[j]``); None: it ends anywhere (weights 1)."""
    log_alpha, _ = _log_passes(log_b, startprob, transmat, backward=False)
    if end is None:
        return logsumexp(log_alpha[-1], axis=0)
    with np.errstate(divide="ignore"):
        return logsumexp(log_alpha[-1] + np.log(np.asarray(end, dtype=float))[:, None], axis=0)


def _xi_sum(log_alpha, log_beta, log_b, A, logprob):
    """Expected transition counts summed over segments and time: per (t, segment) shifts,
    one contraction; a (t, segment) whose shift could make an underflowed term matter is
    done exactly."""
    u = log_alpha[:-1]
    v = np.swapaxes(log_b[:, 1:], 0, 1) + log_beta[1:]
    mu, mv = u.max(axis=1), v.max(axis=1)
    log_scale = mu + mv - logprob
    exact = ~(log_scale < 575.0)  # lost terms < 2.3e-308 * e^575 < 1e-57
    with np.errstate(under="ignore", invalid="ignore", over="ignore"):
        U = np.exp(u - mu[:, None, :])
        V = np.exp(v - (mv - log_scale)[:, None, :])
        if exact.any():
            ts, rows = np.nonzero(exact)
            U[ts, :, rows] = 0.0
            V[ts, :, rows] = 0.0
        xi_sum = A * np.tensordot(U, V, axes=([0, 2], [0, 2]))
        if exact.any():
            with np.errstate(divide="ignore"):
                log_A = np.log(A)
            terms = (u[ts, :, rows][:, :, None] + log_A + v[ts, :, rows][:, None, :]
                     - logprob[rows][:, None, None])
            xi_sum = xi_sum + np.exp(terms).sum(axis=0)
    return xi_sum


def forward_backward(log_b, startprob, transmat):
    """Batched E-step over (K, T, n) emission log-likelihoods (state-major).

    Returns ``(logprob (n,), posteriors (T, K, n), xi_sum (K, K))``: the quantities
    hmmlearn's per-sequence ``_fit_log`` + ``compute_log_xi_sum`` give, summed over
    segments, from exact log-space forward and backward variables (:func:`_log_matmul`).
    """
    A = np.asarray(transmat, dtype=float)
    log_alpha, log_beta = _log_passes(log_b, startprob, A, backward=True)
    logprob = logsumexp(log_alpha[-1], axis=0)
    log_gamma = log_alpha + log_beta
    with np.errstate(under="ignore", invalid="ignore"):
        gamma = np.exp(log_gamma - logsumexp(log_gamma, axis=1)[:, None, :])
    return logprob, gamma, _xi_sum(log_alpha, log_beta, log_b, A, logprob)

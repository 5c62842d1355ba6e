"""The only module that imports hmmlearn: builds, initialises, fits and scores HMMs.

hmmlearn's EM skeleton (``fit``: init -> E-step -> M-step -> monitor) is reused through
subclass hooks; what is wrapped here are its traps:

* ``_init``: our own seeded initialisation (k-means or uniform time segmentation), never
  the global numpy RNG, and left-right structural zeros that EM then preserves;
* ``_do_mstep``: hmmlearn's M-step, then repaired: states and mixture components that got
  no responsibility keep their previous parameters instead of 0/0, transition rows with no
  counts keep their previous row, and every covariance is held above a floor in every
  M-step (the role of ``cov_prior`` in Murphy's toolbox), as a constrained maximisation so
  EM stays monotone, so variances never collapse;
* ``_do_estep``: hmmlearn loops over sequences in Python; segments here all have the
  same length, so the E-step is one batched forward-backward over all of them (scaled,
  with an exact log-space pass for rows at risk of underflow), same statistics;
* ``monitor_``: converged only when the relative improvement fell below ``tol`` (not when
  the iteration cap was hit), with the full log-likelihood history kept;
* hmmlearn's log messages are captured and returned, not printed.

Fitted models are returned as plain ``hmmlearn.hmm.GaussianHMM`` / ``GMMHMM`` objects so
users can decode, sample and score them with hmmlearn's own API.
"""

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from hmmlearn import __version__ as HMMLEARN_VERSION
from hmmlearn import hmm as _hmm
from hmmlearn.base import ConvergenceMonitor
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "HMMLEARN_VERSION",
    "COVARIANCE_TYPES",
    "TOPOLOGIES",
    "HMMConfig",
    "FitResult",
    "covariance_floor",
    "clip_covariance",
    "fit_hmm",
    "log_likelihood",
    "log_likelihoods",
    "forward_log_likelihood",
    "forward_backward",
    "model_arrays",
    "model_from_arrays",
    "n_free_parameters",
]

logger = logging.getLogger(__name__)

COVARIANCE_TYPES = ("spherical", "diag", "full", "tied")
TOPOLOGIES = ("ergodic", "left-right")
# A state or mixture component whose expected number of points falls below this is
# "starved": its parameters are kept from the previous iteration instead of 0 / 0.
_MIN_OCCUPANCY = 1e-3
# Mixture weights are kept at least this large so log(weight) stays finite.
_MIN_WEIGHT = 1e-10


@dataclass(frozen=True)
class HMMConfig:
    """Everything needed to build and train one class model."""

    n_states: int
    n_mix: int = 1
    covariance_type: str = "full"
    topology: str = "left-right"
    max_jump: int | None = None
    n_iter: int = 100
    tol: float = 1e-3


@dataclass
class FitResult:
    """One EM run: the fitted plain hmmlearn model and how training went."""

    model: object
    history: list
    converged: bool
    n_iter: int
    log_messages: list = field(default_factory=list)

    @property
    def log_likelihood(self):
        return self.history[-1] if self.history else -np.inf


class _Monitor(ConvergenceMonitor):
    """Honest convergence: true only when the last relative gain was below ``tol``."""

    def __init__(self, tol, n_iter):
        super().__init__(tol, n_iter, verbose=False)
        self.history = []

    def _reset(self):
        self.iter = 0
        self.history = []

    on_iteration = None  # optional callable(iteration, log_likelihood), for progress bars

    def report(self, log_prob):
        self.history.append(float(log_prob))
        self.iter += 1
        if self.on_iteration is not None:
            self.on_iteration(self.iter, float(log_prob))

    @property
    def converged(self):
        h = self.history
        return len(h) >= 2 and (h[-1] - h[-2]) < self.tol * abs(h[-2])


class _RobustEM:
    """Mixin over hmmlearn's EM: a batched E-step, and an M-step that keeps starved
    parameters and holds covariances above the floor."""

    _floor = None  # (n_features,) covariance floor, set before fit
    # False: hmmlearn's own per-sequence E-step (kept for the exactness tests and benchmark)
    _batched_estep = True

    def _do_estep(self, X, lengths):
        """All segments at once when they have equal length (always, after resampling):
        the same sufficient statistics as hmmlearn's loop over sequences, from one
        emission evaluation, one batched forward-backward and one accumulation."""
        lengths = np.asarray(lengths)
        if not self._batched_estep or len(lengths) == 0 or lengths.min() != lengths.max():
            return super()._do_estep(X, lengths)
        n, T, K = len(lengths), int(lengths[0]), self.n_components
        stats = self._initialize_sufficient_statistics()
        self._estep_begin()
        XT = np.ascontiguousarray(X.reshape(n, T, -1).transpose(2, 1, 0)).reshape(-1, T * n)
        with np.errstate(under="ignore"):
            log_b = _emissions_state_major(self, XT).reshape(K, T, n)
        logprob, gamma, xi_sum = forward_backward(log_b, self.startprob_, self.transmat_)
        # Emission statistics are sums over points, so one call over all points (time-major
        # order) gives the sum of hmmlearn's per-sequence calls; a one-row lattice makes the
        # base class skip the transition counts, which are set from the batched pass below.
        posteriors = np.swapaxes(gamma, 1, 2).reshape(T * n, K)
        self._accumulate_emissions(stats, XT.T, log_b[:, 0, :1].T, posteriors)
        stats["nobs"] = n
        if "s" in self.params:
            stats["start"] = gamma[0].sum(axis=1)
        if "t" in self.params:
            stats["trans"] = xi_sum
        return stats, float(logprob.sum())

    def _do_mstep(self, stats):
        old = {name: np.array(getattr(self, name), copy=True) for name in self._param_names}
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            super()._do_mstep(stats)
        self._repair_transitions(stats, old)
        self._repair_emissions(stats, old)

    def _repair_transitions(self, stats, old):
        if "s" in self.params:
            s = self.startprob_
            if not (np.isfinite(s).all() and abs(s.sum() - 1) < 1e-6):
                self.startprob_ = old["startprob_"]
        if "t" in self.params:
            A = self.transmat_
            bad = ~(np.isfinite(A).all(axis=1) & (np.abs(A.sum(axis=1) - 1) < 1e-6))
            if bad.any():
                A[bad] = old["transmat_"][bad]
                self.transmat_ = A


class _TrainingGaussianHMM(_RobustEM, _hmm.GaussianHMM):
    _param_names = ("startprob_", "transmat_", "means_", "_covars_")

    def _accumulate_emissions(self, stats, X, lattice, posteriors):
        # hmmlearn's GaussianHMM statistics, with the outer products as one matrix product
        # instead of a three-operand einsum (the slowest line of its E-step)
        if self.covariance_type not in ("tied", "full") or not self._needs_sufficient_statistics_for_covars():
            return self._accumulate_sufficient_statistics(stats, X, lattice, posteriors, None, None)
        params = self.params
        self.params = params.replace("c", "")
        try:
            self._accumulate_sufficient_statistics(stats, X, lattice, posteriors, None, None)
        finally:
            self.params = params
        d = X.shape[1]
        outer = (X[:, :, None] * X[:, None, :]).reshape(len(X), d * d)
        stats["obs*obs.T"] += (posteriors.T @ outer).reshape(-1, d, d)
        if self._needs_sufficient_statistics_for_mean() is False:
            stats["post"] += posteriors.sum(axis=0)
            stats["obs"] += posteriors.T @ X

    def _init(self, X, lengths=None):
        # Parameters are set by fit_hmm before fit; only the bookkeeping is left.
        self._check_and_set_n_features(X)

    def _repair_emissions(self, stats, old):
        starved = ~(stats["post"] >= _MIN_OCCUPANCY)
        if "m" in self.params:
            self.means_[starved] = old["means_"][starved]
        if "c" not in self.params:
            return
        cov = np.array(self._covars_, copy=True)
        if self.covariance_type != "tied":
            cov[starved] = old["_covars_"][starved]
        elif starved.any():
            # hmmlearn's tied covariance sums every state's scatter around its new mean, so
            # one 0/0 mean of a starved state makes it NaN: recomputed around the repaired
            # means (the same maximiser; a starved state's terms carry its ~0 weight).
            mu, post = self.means_, stats["post"]
            cross = stats["obs"].T @ mu
            cov = (stats["obs*obs.T"].sum(axis=0) - cross - cross.T
                   + np.einsum("k,ki,kj->ij", post, mu, mu)) / post.sum()
        self._covars_ = clip_covariance(cov, self._floor, self.covariance_type)


class _TrainingGMMHMM(_RobustEM, _hmm.GMMHMM):
    _param_names = ("startprob_", "transmat_", "weights_", "means_", "covars_")

    def _accumulate_emissions(self, stats, X, lattice, posteriors):
        self._accumulate_sufficient_statistics(stats, X, lattice, posteriors, None, None)

    def _init(self, X, lengths=None):
        # hmmlearn's GMMHMM._init always runs k-means and may draw from the global numpy
        # RNG; parameters are set by fit_hmm, only the priors' shapes are filled here.
        self._check_and_set_n_features(X)
        if self.covariance_type == "spherical":
            # hmmlearn's default spherical prior (-(n_mix + 2) / 2) makes the M-step
            # divide by n_features * (N + 1) - n_mix instead of n_features * N, which is
            # not maximum likelihood and lets EM decrease; this prior gives the exact step.
            self.covars_prior = -(self.n_features / 2.0 + 1.0)
        self._init_covar_priors()
        self._fix_priors_shape()

    def _repair_emissions(self, stats, old):
        state_starved = ~(stats["post_sum"] >= _MIN_OCCUPANCY)
        comp_starved = ~(stats["post_mix_sum"] >= _MIN_OCCUPANCY) | state_starved[:, None]
        if "w" in self.params:
            w = self.weights_
            w[state_starved] = old["weights_"][state_starved]
            w = np.where(np.isfinite(w), w, 0.0)
            w = np.maximum(w, _MIN_WEIGHT)
            self.weights_ = w / w.sum(axis=1, keepdims=True)
        if "m" in self.params:
            self.means_[comp_starved] = old["means_"][comp_starved]
        if "c" not in self.params:
            return
        ct = self.covariance_type
        cov = np.array(self.covars_, copy=True)
        starved = state_starved if ct == "tied" else comp_starved
        cov[starved] = old["covars_"][starved]
        self.covars_ = clip_covariance(cov, self._floor, ct)


def clip_covariance(cov, floor, covariance_type):
    """Constrain covariances to ``Sigma >= diag(floor)`` (in the Loewner order).

    This is the exact maximiser of the EM objective over that constraint set, so EM stays
    monotone while no variance can collapse: for "diag" every variance is clipped at its
    floor; for "spherical" at the mean floor; for "full" and "tied" the eigenvalues of
    ``F^-1/2 Sigma F^-1/2`` are clipped at 1.
    """
    cov = np.array(cov, dtype=float, copy=True)
    if covariance_type == "diag":
        return np.maximum(cov, floor)
    if covariance_type == "spherical":
        return np.maximum(cov, floor.mean())
    s = 1.0 / np.sqrt(floor)
    scaled = cov * s[:, None] * s[None, :]
    scaled = 0.5 * (scaled + np.swapaxes(scaled, -1, -2))
    w, v = np.linalg.eigh(scaled)
    scaled = (v * np.maximum(w, 1.0)[..., None, :]) @ np.swapaxes(v, -1, -2)
    scaled = 0.5 * (scaled + np.swapaxes(scaled, -1, -2))
    return scaled / s[:, None] / s[None, :]


@contextmanager
def _captured_hmmlearn_logs():
    """Collect hmmlearn's log messages instead of letting them reach the user."""
    records = []

    class _Catch(logging.Filter):
        def filter(self, record):
            records.append(record.getMessage())
            return False

    catcher = _Catch()
    loggers = [logging.getLogger(n) for n in ("hmmlearn", "hmmlearn.base", "hmmlearn.hmm")]
    for lg in loggers:
        lg.addFilter(catcher)
    try:
        yield records
    finally:
        for lg in loggers:
            lg.removeFilter(catcher)


def covariance_floor(points, reg_covar):
    """The covariance floor of every M-step: ``reg_covar`` x each feature's variance.

    ``points`` is (n_points_total, n_features). A constant feature (variance 0, e.g. the
    z of planar trajectories) gets the largest variance among the features instead; if
    every feature is constant, 1. So the floor follows the data's units (metres or
    micrometres alike) and is never zero.
    """
    var = np.var(points, axis=0)
    top = var.max() if var.size else 0.0
    if not np.isfinite(top) or top <= 0:
        return np.full(points.shape[1], float(reg_covar))
    var = np.where(var > 1e-12 * top, var, top)
    return reg_covar * var


def _transition_structure(n_states, n_points, topology, max_jump):
    """Initial startprob and transmat; zeros in them are structural and survive EM."""
    K = n_states
    stay = max(0.0, 1.0 - K / n_points) if n_points > K else 0.5
    if topology == "left-right":
        startprob = np.zeros(K)
        startprob[0] = 1.0
        transmat = np.zeros((K, K))
        jump = K - 1 if max_jump is None else max_jump
        for i in range(K):
            targets = np.arange(i + 1, min(K, i + jump + 1))
            if targets.size == 0:
                transmat[i, i] = 1.0
                continue
            transmat[i, i] = stay
            # geometric preference for short jumps
            w = 0.5 ** np.arange(targets.size)
            transmat[i, targets] = (1.0 - stay) * w / w.sum()
    else:
        startprob = np.full(K, 1.0 / K)
        if K == 1:
            transmat = np.ones((1, 1))
        else:
            transmat = np.full((K, K), (1.0 - stay) / (K - 1))
            np.fill_diagonal(transmat, stay)
    return startprob, transmat


def _kmeans_labels(X, k, rng):
    distinct = np.unique(X, axis=0)
    if len(distinct) < k:
        # Fewer distinct points than clusters: spread labels over the distinct points.
        idx = np.unique(X, axis=0, return_inverse=True)[1].ravel()
        return idx % k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=k, n_init=3, random_state=rng.randint(2**31 - 1))
        return km.fit_predict(X)


def _cov(points, floor):
    if len(points) >= 2:
        c = np.atleast_2d(np.cov(points, rowvar=False))
    else:
        c = np.zeros((len(floor), len(floor)))
    return c + np.diag(floor)


def _initial_parameters(segments, config, floor, rng):
    """Seeded initial parameters (Murphy's mixgauss_init, per state)."""
    n, T, d = segments.shape
    K, M, ct = config.n_states, config.n_mix, config.covariance_type
    X = segments.reshape(-1, d)
    if config.topology == "left-right":
        # Uniform segmentation in time: point t of every segment starts in state t*K//T.
        labels = np.tile((np.arange(T) * K) // T, n)
    else:
        labels = _kmeans_labels(X, K, rng)
    global_cov = _cov(X, floor)
    means = np.empty((K, M, d))
    covs = np.empty((K, M, d, d))
    for k in range(K):
        pts = X[labels == k]
        if len(pts) == 0:
            pts = X[rng.choice(len(X), size=min(len(X), max(M, 2)), replace=False)]
        state_cov = _cov(pts, floor) if len(pts) >= 2 else global_cov
        if M == 1:
            means[k, 0] = pts.mean(axis=0)
            covs[k, 0] = state_cov
            continue
        sub = _kmeans_labels(pts, M, rng)
        for m in range(M):
            cp = pts[sub == m]
            if len(cp) == 0:
                cp = pts[rng.randint(len(pts))][None]
            means[k, m] = cp.mean(axis=0)
            covs[k, m] = state_cov
        # Components placed on identical points would stay identical: nudge them apart.
        jitter = rng.standard_normal((M, d)) * np.sqrt(np.diag(state_cov)) * 0.1
        same = np.all(np.isclose(means[k][:, None], means[k][None]), axis=2).sum(axis=1) > 1
        means[k][same] += jitter[same]
    startprob, transmat = _transition_structure(K, T, config.topology, config.max_jump)
    params = {"startprob_": startprob, "transmat_": transmat}
    if M == 1:
        params["means_"] = means[:, 0]
        c = covs[:, 0]
        params["_covars_"] = {
            "spherical": np.tile(np.einsum("kii->k", c)[:, None] / d, (1, d)),
            "diag": np.einsum("kii->ki", c).copy(),
            "full": c,
            "tied": global_cov,
        }[ct]
    else:
        params["weights_"] = np.full((K, M), 1.0 / M)
        params["means_"] = means
        params["covars_"] = {
            "spherical": np.einsum("kmii->km", covs) / d,
            "diag": np.einsum("kmii->kmi", covs).copy(),
            "full": covs,
            "tied": covs[:, 0],
        }[ct]
    return params


def _new_model(config, cls=None, random_state=None):
    if config.n_mix == 1:
        cls = cls or _hmm.GaussianHMM
        return cls(
            n_components=config.n_states,
            covariance_type=config.covariance_type,
            covars_prior=0.0,
            covars_weight=1.0,
            min_covar=0.0,
            n_iter=config.n_iter,
            tol=config.tol,
            params="stmc",
            init_params="",
            random_state=random_state,
        )
    cls = cls or _hmm.GMMHMM
    return cls(
        n_components=config.n_states,
        n_mix=config.n_mix,
        covariance_type=config.covariance_type,
        min_covar=0.0,
        n_iter=config.n_iter,
        tol=config.tol,
        params="stmcw",
        init_params="",
        random_state=random_state,
    )


def fit_hmm(segments, config, floor, seed, on_iteration=None):
    """Train one HMM with EM on equal-length segments (n_samples, n_points, n_features).

    ``seed`` (an int) drives every random choice of the initialisation;
    ``on_iteration(iteration, log_likelihood)`` is called after every EM iteration.
    """
    rng = np.random.RandomState(seed)
    n, T, d = segments.shape
    train_cls = _TrainingGaussianHMM if config.n_mix == 1 else _TrainingGMMHMM
    model = _new_model(config, cls=train_cls, random_state=seed)
    for name, value in _initial_parameters(segments, config, floor, rng).items():
        setattr(model, name, value)
    model.n_features = d
    model._floor = np.asarray(floor, dtype=float)
    monitor = _Monitor(config.tol, config.n_iter)
    monitor.on_iteration = on_iteration
    model.monitor_ = monitor
    with _captured_hmmlearn_logs() as records:
        model.fit(segments.reshape(-1, d), np.full(n, T))
    monitor.on_iteration = None  # the model is returned, possibly pickled: no callbacks in it
    plain = model_from_arrays(config, model_arrays(model), n_features=d)
    plain.monitor_ = monitor
    return FitResult(
        model=plain,
        history=list(monitor.history),
        converged=bool(monitor.converged),
        n_iter=monitor.iter,
        log_messages=records,
    )


def model_arrays(model):
    """The fitted parameters of a model as a dict of arrays (for persistence)."""
    out = {"startprob": model.startprob_, "transmat": model.transmat_, "means": model.means_}
    if isinstance(model, _hmm.GMMHMM):
        out["weights"] = model.weights_
        out["covars"] = model.covars_
    else:
        out["covars"] = model._covars_
    return {k: np.array(v, dtype=float, copy=True) for k, v in out.items()}


def model_from_arrays(config, arrays, n_features):
    """Rebuild a plain hmmlearn model from :func:`model_arrays` output."""
    model = _new_model(config)
    model.n_features = int(n_features)
    model.startprob_ = np.asarray(arrays["startprob"], dtype=float)
    model.transmat_ = np.asarray(arrays["transmat"], dtype=float)
    model.means_ = np.asarray(arrays["means"], dtype=float)
    if config.n_mix == 1:
        model._covars_ = np.asarray(arrays["covars"], dtype=float)
    else:
        model.weights_ = np.asarray(arrays["weights"], dtype=float)
        model.covars_ = np.asarray(arrays["covars"], dtype=float)
        model._init_covar_priors()
        model._fix_priors_shape()
    return model


def log_likelihood(model, segments):
    """log p(segment | model) for every segment of (n_samples, n_points, n_features).

    Equals hmmlearn's ``model.score`` of each segment (max relative difference ~1e-12,
    tested, including very poor fits): emissions of all points at once, then one batched
    exact log-space forward pass over all segments (see :func:`_log_matmul`).
    """
    return log_likelihoods([model], segments)[:, 0]


def log_likelihoods(models, segments):
    """(n_samples, n_models) matrix of log p(segment | model), see :func:`log_likelihood`."""
    segments = np.asarray(segments, dtype=float)
    n, T, d = segments.shape
    points = np.ascontiguousarray(segments.transpose(2, 1, 0)).reshape(d, T * n)  # (d, T*n)
    out = np.empty((n, len(models)))
    for k, model in enumerate(models):
        log_b = _emissions_state_major(model, points).reshape(model.n_components, T, n)
        out[:, k] = forward_log_likelihood(log_b, np.asarray(model.startprob_), np.asarray(model.transmat_))
    return out


def _full_covariances(covars, covariance_type, n_features):
    """Covariances of (n_gaussians, ...) in any hmmlearn layout as (n_gaussians, d, d)."""
    c = np.asarray(covars, dtype=float)
    if covariance_type == "full":
        return c
    if covariance_type == "diag":
        return c[..., :, None] * np.eye(n_features)
    if covariance_type == "spherical":
        return c[..., None, None] * np.eye(n_features)
    return c  # tied, already broadcast per state by the caller


def _gaussian_log_density(XT, means, covs):
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


def _emissions_state_major(model, XT):
    """(n_states, N) log p(x | state) for points XT (d, N): hmmlearn's
    ``_compute_log_likelihood``, transposed, with batched linear algebra."""
    K, d = model.n_components, XT.shape[0]
    ct = model.covariance_type
    if isinstance(model, _hmm.GMMHMM):
        M = model.n_mix
        covs = model.covars_
        if ct == "tied":
            covs = np.repeat(np.asarray(covs)[:, None], M, axis=1)
            ct = "full"
        covs = _full_covariances(covs, ct, d).reshape(K * M, d, d)
        dens = _gaussian_log_density(XT, np.asarray(model.means_).reshape(K * M, d), covs)
        with np.errstate(divide="ignore", under="ignore"):
            dens = dens.reshape(K, M, -1) + np.log(model.weights_)[:, :, None]
        return _logsumexp(dens, axis=1)
    c = np.asarray(model._covars_, dtype=float)
    if ct == "tied":
        c = np.broadcast_to(c, (K, d, d))
    elif ct != "full":  # diag (K, d); spherical (K,) or (K, d)
        c = _full_covariances(np.broadcast_to(c.reshape(K, -1), (K, d)), "diag", d)
    return _gaussian_log_density(XT, np.asarray(model.means_), c)


# A column sum of the scaled product below this is recomputed exactly (see _log_matmul).
_SAFE_SUM = 1e-250


def _log_matmul(x, M, log_M_T, reach, out):
    """Exact ``log(M @ exp(x))`` for x (K, n) of log values and M (J, K) non-negative
    (``log_M_T`` = log(M).T, C-ordered), written to ``out`` (J, n), C-ordered. Arrays are state-major so every reduction over states is an
    elementwise operation over long rows.

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
        top_r = terms.max(axis=0)
        terms -= top_r
        np.exp(terms, out=terms)
        out.ravel()[flat] = np.log(terms.sum(axis=0)) + top_r
    return out


def _reachable(startprob, transmat, T):
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
    reach = _reachable(startprob, A, T)
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


def _logsumexp(x, axis):
    """log(sum(exp(x), axis)), exact for any spread of values; all -inf gives -inf."""
    top = x.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore", under="ignore"):
        return np.log(np.exp(x - top).sum(axis=axis)) + np.squeeze(top, axis=axis)


def forward_log_likelihood(log_b, startprob, transmat):
    """log p(segment) for (K, T, n) emission log-likelihoods (state-major), exact (see
    :func:`_log_matmul`)."""
    log_alpha, _ = _log_passes(log_b, startprob, transmat, backward=False)
    return _logsumexp(log_alpha[-1], axis=0)


def forward_backward(log_b, startprob, transmat):
    """Batched E-step over (K, T, n) emission log-likelihoods (state-major).

    Returns ``(logprob (n,), posteriors (T, K, n), xi_sum (K, K))``: the quantities
    hmmlearn's per-sequence ``_fit_log`` + ``compute_log_xi_sum`` give, summed over
    segments, from exact log-space forward and backward variables (:func:`_log_matmul`).
    """
    A = np.asarray(transmat, dtype=float)
    log_alpha, log_beta = _log_passes(log_b, startprob, A, backward=True)
    logprob = _logsumexp(log_alpha[-1], axis=0)
    log_gamma = log_alpha + log_beta
    with np.errstate(under="ignore", invalid="ignore"):
        gamma = np.exp(log_gamma - _logsumexp(log_gamma, axis=1)[:, None, :])
    # xi summed over segments and time: per (t, segment) shifts, one contraction; a
    # (t, segment) whose shift could make an underflowed term matter is done exactly.
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
    return logprob, gamma, xi_sum


def n_free_parameters(model, config):
    """Number of free scalar parameters of a model, for BIC / AIC.

    Counted from the configured structure, not from the fitted values: the zeros of a
    left-right topology (start in state 0, no backward or too-long jumps) are not free,
    while a probability that EM happened to drive to 0 still is. A start distribution
    with s allowed states has s - 1 free values, a transition row with r allowed targets
    r - 1.
    """
    K, d = model.n_components, model.n_features
    startprob, transmat = _transition_structure(K, K + 1, config.topology, config.max_jump)
    n = int(np.count_nonzero(startprob)) - 1
    n += int(sum(np.count_nonzero(row) - 1 for row in transmat))
    M = config.n_mix
    cov_per = {"spherical": 1, "diag": d, "full": d * (d + 1) // 2}
    ct = config.covariance_type
    n += K * M * d  # means
    if ct == "tied":
        n += (K if M > 1 else 1) * d * (d + 1) // 2
    else:
        n += K * M * cov_per[ct]
    if M > 1:
        n += K * (M - 1)  # mixture weights
    return n

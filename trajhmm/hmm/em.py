"""Robust EM on top of hmmlearn's skeleton (``fit``: init -> E-step -> M-step -> monitor).

What is wrapped here are hmmlearn's traps, through subclass hooks:

* ``_init``: parameters come from our own seeded initialisation
  (:func:`initial_parameters`: k-means or uniform time segmentation), never the global
  numpy RNG, and left-right structural zeros that EM then preserves;
* ``_do_mstep``: hmmlearn's M-step, then repaired: states and mixture components that got
  no responsibility keep their previous parameters instead of 0/0, transition rows with no
  counts keep their previous row, and every covariance is held above a floor in every
  M-step (the role of ``cov_prior`` in Murphy's toolbox), as a constrained maximisation so
  EM stays monotone, so variances never collapse;
* ``_do_estep``: hmmlearn loops over sequences in Python; segments here all have the
  same length, so the E-step is one batched forward-backward over all of them
  (:mod:`.kernels`), same statistics;
* ``monitor_``: converged only when the relative improvement fell below ``tol`` (not when
  the iteration cap was hit), with the full log-likelihood history kept;
* hmmlearn's log messages are captured and returned, not printed.

The emission-specific parts of each hook belong to the model's emission family
(:mod:`.emissions`). Fitted models are returned as plain hmmlearn objects.
"""

import functools
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from hmmlearn.base import ConvergenceMonitor

from .emissions import Gaussian, GaussianMixture, emission_family, family_of, kmeans_labels
from .kernels import forward_backward
from .models import model_arrays, model_from_arrays, new_model, transition_structure

__all__ = ["FitResult", "clip_covariance", "covariance_floor", "fit_hmm", "initial_parameters", "restore_fit"]


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


class _RobustEM:
    """Mixin over hmmlearn's EM: a batched E-step, and an M-step that keeps starved
    parameters and holds covariances above the floor."""

    _floor = None  # (n_features,) covariance floor, set before fit
    # False: hmmlearn's own per-sequence E-step (kept for the exactness tests and benchmark)
    _batched_estep = True

    def _init(self, X, lengths=None):
        # Parameters are set by fit_hmm before fit; only the bookkeeping is left.
        self._check_and_set_n_features(X)
        family_of(self).prepare_training(self)

    def _do_estep(self, X, lengths):
        """All segments at once when they have equal length (always, after resampling):
        the same sufficient statistics as hmmlearn's loop over sequences, from one
        emission evaluation, one batched forward-backward and one accumulation."""
        lengths = np.asarray(lengths)
        if not self._batched_estep or len(lengths) == 0 or lengths.min() != lengths.max():
            return super()._do_estep(X, lengths)
        n, T, K = len(lengths), int(lengths[0]), self.n_components
        family = family_of(self)
        stats = self._initialize_sufficient_statistics()
        self._estep_begin()
        XT = np.ascontiguousarray(X.reshape(n, T, -1).transpose(2, 1, 0)).reshape(-1, T * n)
        with np.errstate(under="ignore"):
            log_b = family.log_densities(self, XT).reshape(K, T, n)
        logprob, gamma, xi_sum = forward_backward(log_b, self.startprob_, self.transmat_)
        # Emission statistics are sums over points, so one call over all points (time-major
        # order) gives the sum of hmmlearn's per-sequence calls; a one-row lattice makes the
        # base class skip the transition counts, which are set from the batched pass below.
        posteriors = np.swapaxes(gamma, 1, 2).reshape(T * n, K)
        family.accumulate_statistics(self, stats, XT.T, log_b[:, 0, :1].T, posteriors)
        stats["nobs"] = n
        if "s" in self.params:
            stats["start"] = gamma[0].sum(axis=1)
        if "t" in self.params:
            stats["trans"] = xi_sum
        return stats, float(logprob.sum())

    def _do_mstep(self, stats):
        family = family_of(self)
        names = ("startprob_", "transmat_") + family.param_names
        old = {name: np.array(getattr(self, name), copy=True) for name in names}
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            super()._do_mstep(stats)
        self._repair_transitions(old)
        family.repair_starved(self, stats, old)
        if "c" in self.params:
            cov = getattr(self, family.covariance_attr)
            setattr(self, family.covariance_attr, clip_covariance(cov, self._floor, self.covariance_type))

    def _repair_transitions(self, old):
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


@functools.cache
def training_class(model_class):
    """``model_class`` (a family's hmmlearn class) with the robust EM hooks."""
    return type(f"_Training{model_class.__name__}", (_RobustEM, model_class), {"__module__": __name__})


# named for the tests, which build training models by hand
_TrainingGaussianHMM = training_class(Gaussian.model_class)
_TrainingGMMHMM = training_class(GaussianMixture.model_class)


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


def initial_parameters(segments, config, floor, rng):
    """Seeded initial parameters (hmmlearn attribute name -> array) from equal-length
    segments (n_samples, n_points, n_features): each point is given a state (uniform
    segmentation in time for left-right, k-means otherwise), the emission family
    initialises each state from its points (Murphy's mixgauss_init), and the transition
    structure comes from the topology."""
    n, T, d = segments.shape
    K = config.n_states
    X = segments.reshape(-1, d)
    if config.topology == "left-right":
        # Uniform segmentation in time: point t of every segment starts in state t*K//T.
        labels = np.tile((np.arange(T) * K) // T, n)
    else:
        labels = kmeans_labels(X, K, rng)
    emissions = emission_family(config).initial_parameters(X, labels, K, floor, rng)
    startprob, transmat = transition_structure(K, T, config.topology, config.max_jump)
    return {"startprob_": startprob, "transmat_": transmat, **emissions}


def fit_hmm(segments, config, floor, seed, on_iteration=None):
    """Train one HMM with EM on equal-length segments (n_samples, n_points, n_features).

    ``seed`` (an int) drives every random choice of the initialisation;
    ``on_iteration(iteration, log_likelihood)`` is called after every EM iteration.
    """
    rng = np.random.RandomState(seed)
    n, T, d = segments.shape
    cls = training_class(emission_family(config).model_class)
    model = new_model(config, cls=cls, random_state=seed)
    for name, value in initial_parameters(segments, config, floor, rng).items():
        setattr(model, name, value)
    model.n_features = d
    model._floor = np.asarray(floor, dtype=float)
    monitor = _Monitor(config.tol, config.n_iter)
    monitor.on_iteration = on_iteration
    model.monitor_ = monitor
    with _captured_hmmlearn_logs() as records:
        model.fit(segments.reshape(-1, d), np.full(n, T))
    monitor.on_iteration = None  # the model is returned, possibly pickled: no callbacks in it
    return _finished_run(config, model_arrays(model), d, monitor, bool(monitor.converged), records)


def _finished_run(config, arrays, n_features, monitor, converged, log_messages):
    """The :class:`FitResult` of a run: a plain model rebuilt from its arrays, with the
    run's convergence monitor as ``monitor_``."""
    plain = model_from_arrays(config, arrays, n_features=n_features)
    plain.monitor_ = monitor
    return FitResult(
        model=plain,
        history=list(monitor.history),
        converged=converged,
        n_iter=monitor.iter,
        log_messages=log_messages,
    )


def restore_fit(config, arrays, n_features, history, converged):
    """A finished run rebuilt from what :func:`fit_hmm` returned: the model's arrays
    (:func:`model_arrays`), its log-likelihood history and whether it converged. It equals
    the original :class:`FitResult` (the model, its ``monitor_``, history, converged and
    n_iter) except for the log messages, which are not kept."""
    monitor = _Monitor(config.tol, config.n_iter)
    monitor.history = [float(v) for v in np.asarray(history, dtype=float).reshape(-1)]
    monitor.iter = len(monitor.history)
    monitor.on_iteration = None
    return _finished_run(config, arrays, n_features, monitor, bool(converged), [])

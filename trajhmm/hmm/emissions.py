"""Emission families: one object per family of state-conditional densities.

A family knows everything about its emissions that the rest of the package needs:

* ``model_class`` and :meth:`~EmissionFamily.build`: the plain hmmlearn model (or a
  training subclass of it) with the family's hyper-parameters;
* :meth:`~EmissionFamily.initial_parameters`: seeded initial emission parameters from the
  points of each state of a segmentation (Murphy's mixgauss_init, per state);
* :meth:`~EmissionFamily.to_arrays` / :meth:`~EmissionFamily.set_arrays`: the fitted
  emission parameters as the arrays a model file stores, and back;
* :meth:`~EmissionFamily.log_densities`: log p(x | state) for all states and points at
  once, state-major (what the batched kernels consume);
* :meth:`~EmissionFamily.n_free_parameters`: free emission parameters (BIC / AIC);
* training hooks for the robust EM of :mod:`.em`: ``param_names`` (what an M-step may
  change), :meth:`~EmissionFamily.prepare_training`,
  :meth:`~EmissionFamily.accumulate_statistics` (the batched E-step) and
  :meth:`~EmissionFamily.repair_starved` (states / components without responsibility
  keep their previous parameters); ``covariance_attr`` names the covariances that EM
  holds above the floor.

:func:`emission_family` picks the family of a configuration, :func:`family_of` that of a
model. A new family is one subclass plus its entries there.
"""

import warnings

import numpy as np
from hmmlearn.hmm import GMMHMM, GaussianHMM
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from .kernels import gaussian_log_density, logsumexp

__all__ = ["EmissionFamily", "Gaussian", "GaussianMixture", "emission_family", "family_of"]

# A state or mixture component whose expected number of points falls below this is
# "starved": its parameters are kept from the previous iteration instead of 0 / 0.
MIN_OCCUPANCY = 1e-3
# Mixture weights are kept at least this large so log(weight) stays finite.
_MIN_WEIGHT = 1e-10


def kmeans_labels(X, k, rng):
    """Seeded k-means cluster labels of the rows of X (n, d); fewer distinct points than
    clusters spread the labels over the distinct points."""
    distinct = np.unique(X, axis=0)
    if len(distinct) < k:
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


class EmissionFamily:
    """Base of the emission families; ``covariance_type`` in hmmlearn's vocabulary."""

    model_class = None  # the plain hmmlearn class of fitted models
    param_names = ()  # emission attributes an M-step may change
    covariance_attr = None  # the attribute EM holds above the covariance floor

    def __init__(self, covariance_type, n_mix=1):
        self.covariance_type = covariance_type
        self.n_mix = n_mix

    def __repr__(self):
        return f"{type(self).__name__}({self.covariance_type!r}, n_mix={self.n_mix})"

    # -- build
    def build(self, config, cls=None, random_state=None):
        """An unfitted model of ``cls`` (default :attr:`model_class`); init_params is
        empty: parameters are always set explicitly."""
        cls = cls or self.model_class
        return cls(n_components=config.n_states, covariance_type=config.covariance_type, min_covar=0.0,
                   n_iter=config.n_iter, tol=config.tol, init_params="", random_state=random_state,
                   **self._model_kwargs())

    def _model_kwargs(self):
        raise NotImplementedError

    # -- initialise
    def initial_parameters(self, X, labels, n_states, floor, rng):
        """Initial emission parameters (hmmlearn attribute name -> array) from the points
        X (n_points_total, d) and their state ``labels``; a state without points gets a
        random few. Every random choice comes from ``rng``."""
        d, M = X.shape[1], self.n_mix
        global_cov = _cov(X, floor)
        means = np.empty((n_states, M, d))
        covs = np.empty((n_states, M, d, d))
        for k in range(n_states):
            pts = X[labels == k]
            if len(pts) == 0:
                pts = X[rng.choice(len(X), size=min(len(X), max(M, 2)), replace=False)]
            state_cov = _cov(pts, floor) if len(pts) >= 2 else global_cov
            means[k], covs[k] = self._initial_state(pts, state_cov, rng)
        return self._initial_layout(means, covs, global_cov)

    def _initial_state(self, pts, state_cov, rng):
        """(means (n_mix, d), covs (n_mix, d, d)) of one state from its points."""
        raise NotImplementedError

    def _initial_layout(self, means, covs, global_cov):
        """hmmlearn's parameter layout of (n_states, n_mix, ...) means and covariances."""
        raise NotImplementedError

    # -- to / from arrays
    def to_arrays(self, model):
        """The emission parameters a model file stores, name -> array."""
        raise NotImplementedError

    def set_arrays(self, model, arrays):
        """Set the emission parameters of ``model`` from :meth:`to_arrays` output."""
        raise NotImplementedError

    # -- scoring
    def components(self, model, n_features):
        """The Gaussians of every state: ``(means (K, n_mix, d), covariances (K, n_mix, d, d),
        log_weights (K, n_mix))`` (a single Gaussian is a mixture of one, log weight 0)."""
        raise NotImplementedError

    def log_densities(self, model, XT):
        """(n_states, N) log p(x | state) for points XT (d, N)."""
        raise NotImplementedError

    def n_free_parameters(self, n_states, n_features):
        raise NotImplementedError

    # -- training hooks
    def prepare_training(self, model):
        """Called by the training model's ``_init``, after n_features is known."""

    def accumulate_statistics(self, model, stats, X, lattice, posteriors):
        """Add the emission statistics of points X (N, d) with state posteriors (N, K)."""
        model._accumulate_sufficient_statistics(stats, X, lattice, posteriors, None, None)

    def repair_starved(self, model, stats, old):
        """After an M-step: parameters without responsibility back to ``old`` (copies of
        :attr:`param_names` before the step)."""
        raise NotImplementedError


def _covariance_count(covariance_type, d):
    return {"spherical": 1, "diag": d, "full": d * (d + 1) // 2}[covariance_type]


class Gaussian(EmissionFamily):
    """One Gaussian per state: ``hmmlearn.hmm.GaussianHMM``."""

    model_class = GaussianHMM
    param_names = ("means_", "_covars_")
    covariance_attr = "_covars_"

    def _model_kwargs(self):
        return {"covars_prior": 0.0, "covars_weight": 1.0, "params": "stmc"}

    def _initial_state(self, pts, state_cov, rng):
        return pts.mean(axis=0), state_cov

    def _initial_layout(self, means, covs, global_cov):
        c, d = covs[:, 0], means.shape[2]
        covars = {
            "spherical": lambda: np.tile(np.einsum("kii->k", c)[:, None] / d, (1, d)),
            "diag": lambda: np.einsum("kii->ki", c).copy(),
            "full": lambda: c,
            "tied": lambda: global_cov,
        }[self.covariance_type]()
        return {"means_": means[:, 0], "_covars_": covars}

    def to_arrays(self, model):
        return {"means": model.means_, "covars": model._covars_}

    def set_arrays(self, model, arrays):
        model.means_ = np.asarray(arrays["means"], dtype=float)
        model._covars_ = np.asarray(arrays["covars"], dtype=float)

    def components(self, model, n_features):
        K, d = model.n_components, n_features
        ct = self.covariance_type
        c = np.asarray(model._covars_, dtype=float)
        if ct == "tied":
            c = np.broadcast_to(c, (K, d, d))
        elif ct != "full":  # diag (K, d); spherical (K,) or (K, d)
            c = _full_covariances(np.broadcast_to(c.reshape(K, -1), (K, d)), "diag", d)
        return np.asarray(model.means_, dtype=float)[:, None], c[:, None], np.zeros((K, 1))

    def log_densities(self, model, XT):
        means, covs, _ = self.components(model, XT.shape[0])
        return gaussian_log_density(XT, means[:, 0], covs[:, 0])

    def n_free_parameters(self, n_states, n_features):
        d, ct = n_features, self.covariance_type
        covs = d * (d + 1) // 2 if ct == "tied" else n_states * _covariance_count(ct, d)
        return n_states * d + covs

    def accumulate_statistics(self, model, stats, X, lattice, posteriors):
        # hmmlearn's GaussianHMM statistics, with the outer products as one matrix product
        # instead of a three-operand einsum (the slowest line of its E-step)
        if self.covariance_type not in ("tied", "full") or not model._needs_sufficient_statistics_for_covars():
            return super().accumulate_statistics(model, stats, X, lattice, posteriors)
        params = model.params
        model.params = params.replace("c", "")
        try:
            super().accumulate_statistics(model, stats, X, lattice, posteriors)
        finally:
            model.params = params
        d = X.shape[1]
        outer = (X[:, :, None] * X[:, None, :]).reshape(len(X), d * d)
        stats["obs*obs.T"] += (posteriors.T @ outer).reshape(-1, d, d)
        if model._needs_sufficient_statistics_for_mean() is False:
            stats["post"] += posteriors.sum(axis=0)
            stats["obs"] += posteriors.T @ X

    def repair_starved(self, model, stats, old):
        starved = ~(stats["post"] >= MIN_OCCUPANCY)
        if "m" in model.params:
            model.means_[starved] = old["means_"][starved]
        if "c" not in model.params:
            return
        cov = np.array(model._covars_, copy=True)
        if self.covariance_type != "tied":
            cov[starved] = old["_covars_"][starved]
        elif starved.any():
            # hmmlearn's tied covariance sums every state's scatter around its new mean, so
            # one 0/0 mean of a starved state makes it NaN: recomputed around the repaired
            # means (the same maximiser; a starved state's terms carry its ~0 weight).
            mu, post = model.means_, stats["post"]
            cross = stats["obs"].T @ mu
            cov = (stats["obs*obs.T"].sum(axis=0) - cross - cross.T
                   + np.einsum("k,ki,kj->ij", post, mu, mu)) / post.sum()
        model._covars_ = cov


class GaussianMixture(EmissionFamily):
    """A mixture of ``n_mix`` Gaussians per state: ``hmmlearn.hmm.GMMHMM``."""

    model_class = GMMHMM
    param_names = ("weights_", "means_", "covars_")
    covariance_attr = "covars_"

    def _model_kwargs(self):
        return {"n_mix": self.n_mix, "params": "stmcw"}

    def _initial_state(self, pts, state_cov, rng):
        M, d = self.n_mix, pts.shape[1]
        means = np.empty((M, d))
        sub = kmeans_labels(pts, M, rng)
        for m in range(M):
            cp = pts[sub == m]
            if len(cp) == 0:
                cp = pts[rng.randint(len(pts))][None]
            means[m] = cp.mean(axis=0)
        # Components placed on identical points would stay identical: nudge them apart.
        jitter = rng.standard_normal((M, d)) * np.sqrt(np.diag(state_cov)) * 0.1
        same = np.all(np.isclose(means[:, None], means[None]), axis=2).sum(axis=1) > 1
        means[same] += jitter[same]
        return means, state_cov

    def _initial_layout(self, means, covs, global_cov):
        K, M, d = means.shape
        covars = {
            "spherical": lambda: np.einsum("kmii->km", covs) / d,
            "diag": lambda: np.einsum("kmii->kmi", covs).copy(),
            "full": lambda: covs,
            "tied": lambda: covs[:, 0],
        }[self.covariance_type]()
        return {"weights_": np.full((K, M), 1.0 / M), "means_": means, "covars_": covars}

    def to_arrays(self, model):
        return {"means": model.means_, "weights": model.weights_, "covars": model.covars_}

    def set_arrays(self, model, arrays):
        model.means_ = np.asarray(arrays["means"], dtype=float)
        model.weights_ = np.asarray(arrays["weights"], dtype=float)
        model.covars_ = np.asarray(arrays["covars"], dtype=float)
        model._init_covar_priors()
        model._fix_priors_shape()

    def components(self, model, n_features):
        d, M = n_features, self.n_mix
        ct, covs = self.covariance_type, model.covars_
        if ct == "tied":
            covs = np.repeat(np.asarray(covs)[:, None], M, axis=1)
            ct = "full"
        with np.errstate(divide="ignore"):
            log_weights = np.log(np.asarray(model.weights_, dtype=float))
        return np.asarray(model.means_, dtype=float), _full_covariances(covs, ct, d), log_weights

    def log_densities(self, model, XT):
        K, d, M = model.n_components, XT.shape[0], self.n_mix
        means, covs, log_weights = self.components(model, d)
        dens = gaussian_log_density(XT, means.reshape(K * M, d), covs.reshape(K * M, d, d))
        with np.errstate(under="ignore"):
            dens = dens.reshape(K, M, -1) + log_weights[:, :, None]
        return logsumexp(dens, axis=1)

    def n_free_parameters(self, n_states, n_features):
        K, M, d, ct = n_states, self.n_mix, n_features, self.covariance_type
        covs = K * d * (d + 1) // 2 if ct == "tied" else K * M * _covariance_count(ct, d)
        return K * M * d + covs + K * (M - 1)

    def prepare_training(self, model):
        # hmmlearn's GMMHMM._init always runs k-means and may draw from the global numpy
        # RNG; parameters are set before fit, only the priors' shapes are filled here.
        if self.covariance_type == "spherical":
            # hmmlearn's default spherical prior (-(n_mix + 2) / 2) makes the M-step
            # divide by n_features * (N + 1) - n_mix instead of n_features * N, which is
            # not maximum likelihood and lets EM decrease; this prior gives the exact step.
            model.covars_prior = -(model.n_features / 2.0 + 1.0)
        model._init_covar_priors()
        model._fix_priors_shape()

    def repair_starved(self, model, stats, old):
        state_starved = ~(stats["post_sum"] >= MIN_OCCUPANCY)
        comp_starved = ~(stats["post_mix_sum"] >= MIN_OCCUPANCY) | state_starved[:, None]
        if "w" in model.params:
            w = model.weights_
            w[state_starved] = old["weights_"][state_starved]
            w = np.where(np.isfinite(w), w, 0.0)
            w = np.maximum(w, _MIN_WEIGHT)
            model.weights_ = w / w.sum(axis=1, keepdims=True)
        if "m" in model.params:
            model.means_[comp_starved] = old["means_"][comp_starved]
        if "c" in model.params:
            starved = state_starved if self.covariance_type == "tied" else comp_starved
            cov = np.array(model.covars_, copy=True)
            cov[starved] = old["covars_"][starved]
            model.covars_ = cov


def emission_family(config):
    """The emission family of a configuration (anything with ``n_mix`` and
    ``covariance_type``): the one place that tells the families apart."""
    if config.n_mix == 1:
        return Gaussian(config.covariance_type)
    return GaussianMixture(config.covariance_type, config.n_mix)


_FAMILIES = (GaussianMixture, Gaussian)  # most derived hmmlearn class first


def family_of(model):
    """The emission family of an hmmlearn model (plain or a training subclass)."""
    for family in _FAMILIES:
        if isinstance(model, family.model_class):
            return family(model.covariance_type, getattr(model, "n_mix", 1))
    raise TypeError(f"model: expected one of {[f.model_class.__name__ for f in _FAMILIES]}, got {type(model).__name__}")

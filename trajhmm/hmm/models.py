"""One class model as a whole: its configuration, transition structure, the plain
hmmlearn object, its arrays (what model files store), batched scoring and free-parameter
count. Everything emission-specific is delegated to the model's emission family."""

from dataclasses import dataclass

import numpy as np

from .emissions import emission_family, family_of
from .kernels import forward_backward, forward_log_likelihood

__all__ = [
    "COVARIANCE_TYPES",
    "TOPOLOGIES",
    "HMMConfig",
    "end_state_probabilities",
    "log_likelihood",
    "log_likelihoods",
    "model_arrays",
    "model_from_arrays",
    "n_free_parameters",
    "new_model",
    "transition_structure",
]

COVARIANCE_TYPES = ("spherical", "diag", "full", "tied")
TOPOLOGIES = ("ergodic", "left-right")


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


def _left_right(K, stay, max_jump):
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
    return startprob, transmat


def transition_structure(n_states, n_points, topology, max_jump):
    """Initial startprob and transmat; zeros in them are structural and survive EM."""
    K = n_states
    stay = max(0.0, 1.0 - K / n_points) if n_points > K else 0.5
    if topology == "left-right":
        return _left_right(K, stay, max_jump)
    startprob = np.full(K, 1.0 / K)
    if K == 1:
        return startprob, np.ones((1, 1))
    transmat = np.full((K, K), (1.0 - stay) / (K - 1))
    np.fill_diagonal(transmat, stay)
    return startprob, transmat


def new_model(config, cls=None, random_state=None):
    """An unfitted hmmlearn model of the configuration's emission family (``cls``: a
    subclass of the family's hmmlearn class, e.g. a training model)."""
    return emission_family(config).build(config, cls=cls, random_state=random_state)


def model_arrays(model):
    """The fitted parameters of a model as a dict of arrays (for persistence)."""
    out = {"startprob": model.startprob_, "transmat": model.transmat_, **family_of(model).to_arrays(model)}
    return {k: np.array(v, dtype=float, copy=True) for k, v in out.items()}


def model_from_arrays(config, arrays, n_features):
    """Rebuild a plain hmmlearn model from :func:`model_arrays` output."""
    family = emission_family(config)
    model = family.build(config)
    model.n_features = int(n_features)
    model.startprob_ = np.asarray(arrays["startprob"], dtype=float)
    model.transmat_ = np.asarray(arrays["transmat"], dtype=float)
    family.set_arrays(model, arrays)
    return model


def log_likelihood(model, segments):
    """log p(segment | model) for every segment of (n_samples, n_points, n_features).

    Equals hmmlearn's ``model.score`` of each segment (max relative difference ~1e-12,
    tested, including very poor fits): emissions of all points at once, then one batched
    exact log-space forward pass over all segments (see :mod:`.kernels`).
    """
    return log_likelihoods([model], segments)[:, 0]


def log_likelihoods(models, segments):
    """(n_samples, n_models) matrix of log p(segment | model), see :func:`log_likelihood`."""
    segments = np.asarray(segments, dtype=float)
    n, T, d = segments.shape
    points = np.ascontiguousarray(segments.transpose(2, 1, 0)).reshape(d, T * n)  # (d, T*n)
    out = np.empty((n, len(models)))
    for k, model in enumerate(models):
        log_b = family_of(model).log_densities(model, points).reshape(model.n_components, T, n)
        out[:, k] = forward_log_likelihood(log_b, np.asarray(model.startprob_), np.asarray(model.transmat_))
    return out


_END_CHUNK = 2048  # segments per forward-backward pass of end_state_probabilities


def end_state_probabilities(model, segments):
    """(K,) where the segments (n_samples, n_points, n_features) end: the posterior
    probability of each state at their last point (forward-backward), averaged over them."""
    segments = np.asarray(segments, dtype=float)
    n, T, d = segments.shape
    total = np.zeros(model.n_components)
    for i in range(0, n, _END_CHUNK):  # the posteriors of a chunk: (T, K, chunk)
        part = segments[i : i + _END_CHUNK]
        points = np.ascontiguousarray(part.transpose(2, 1, 0)).reshape(d, T * len(part))
        log_b = family_of(model).log_densities(model, points).reshape(model.n_components, T, len(part))
        _, posteriors, _ = forward_backward(log_b, np.asarray(model.startprob_), np.asarray(model.transmat_))
        total += np.nansum(posteriors[-1], axis=1)
    if not total.sum() > 0:  # no segment scored (cannot happen for the model's own training data)
        return np.full(model.n_components, 1.0 / model.n_components)
    return total / total.sum()


def n_free_parameters(model, config):
    """Number of free scalar parameters of a model, for BIC / AIC.

    Counted from the configured structure, not from the fitted values: the zeros of a
    left-right topology (start in state 0, no backward or too-long jumps) are not free,
    while a probability that EM happened to drive to 0 still is. A start distribution
    with s allowed states has s - 1 free values, a transition row with r allowed targets
    r - 1.
    """
    K, d = model.n_components, model.n_features
    startprob, transmat = transition_structure(K, K + 1, config.topology, config.max_jump)
    n = int(np.count_nonzero(startprob)) - 1
    n += int(sum(np.count_nonzero(row) - 1 for row in transmat))
    return n + emission_family(config).n_free_parameters(K, d)

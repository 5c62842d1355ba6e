"""Hidden Markov models for trajhmm: the only package that imports hmmlearn.

* :mod:`.kernels`   batched forward / backward and log-densities in pure numpy;
* :mod:`.emissions` one object per emission family (Gaussian, Gaussian mixture);
* :mod:`.models`    one class model: configuration, structure, arrays, scoring;
* :mod:`.stacked`   several models scored in one pass (all their states stacked);
* :mod:`.em`        robust EM on top of hmmlearn's skeleton.

Below is the small internal API the classifier and the model files use. Fitted models are
plain ``hmmlearn.hmm.GaussianHMM`` / ``GMMHMM`` objects so users can decode, sample and
score them with hmmlearn's own API.
"""

from hmmlearn import __version__ as HMMLEARN_VERSION

from .em import FitResult, clip_covariance, covariance_floor, fit_hmm, restore_fit
from .kernels import forward_backward, forward_log_likelihood, logsumexp
from .models import (
    COVARIANCE_TYPES,
    TOPOLOGIES,
    HMMConfig,
    end_state_probabilities,
    log_likelihood,
    log_likelihoods,
    model_arrays,
    model_from_arrays,
    n_free_parameters,
)
from .stacked import stacked_log_likelihoods, stacked_models

__all__ = [
    "COVARIANCE_TYPES",
    "HMMLEARN_VERSION",
    "TOPOLOGIES",
    "FitResult",
    "HMMConfig",
    "clip_covariance",
    "covariance_floor",
    "end_state_probabilities",
    "fit_hmm",
    "forward_backward",
    "forward_log_likelihood",
    "log_likelihood",
    "log_likelihoods",
    "logsumexp",
    "model_arrays",
    "model_from_arrays",
    "n_free_parameters",
    "restore_fit",
    "stacked_log_likelihoods",
    "stacked_models",
]

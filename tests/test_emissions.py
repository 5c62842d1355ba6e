"""Emission families (trajhmm.hmm.emissions): the contract every family fulfils."""

import itertools

import numpy as np
import pytest

from trajhmm.hmm import HMMConfig, covariance_floor, fit_hmm, model_arrays, model_from_arrays
from trajhmm.hmm.emissions import Gaussian, GaussianMixture, emission_family, family_of

CASES = list(itertools.product(("spherical", "diag", "full", "tied"), (1, 3)))


def _fitted(ct, n_mix, seed=0):
    rng = np.random.RandomState(seed)
    t = np.linspace(0, 1, 20)
    X = np.c_[np.sin(3 * t), np.cos(2 * t), t] + 0.05 * rng.randn(8, 20, 3)
    cfg = HMMConfig(n_states=3, n_mix=n_mix, covariance_type=ct, topology="ergodic", n_iter=5)
    return fit_hmm(X, cfg, covariance_floor(X.reshape(-1, 3), 1e-3), seed=seed).model, cfg, X


@pytest.mark.parametrize("ct, n_mix", CASES)
def test_family_is_chosen_once_and_recognised_from_its_model(ct, n_mix):
    model, cfg, _ = _fitted(ct, n_mix)
    family = emission_family(cfg)
    assert type(family) is (Gaussian if n_mix == 1 else GaussianMixture)
    assert type(family_of(model)) is type(family)
    assert type(model) is family.model_class  # fitted models are plain hmmlearn objects


@pytest.mark.parametrize("ct, n_mix", CASES)
def test_log_densities_equal_hmmlearns(ct, n_mix):
    model, cfg, X = _fitted(ct, n_mix)
    points = X.reshape(-1, 3)
    far = np.r_[points, points[:5] * 40 - 7]
    ours = emission_family(cfg).log_densities(model, np.ascontiguousarray(far.T))
    np.testing.assert_allclose(ours.T, model._compute_log_likelihood(far), rtol=1e-10)


@pytest.mark.parametrize("ct, n_mix", CASES)
def test_arrays_round_trip(ct, n_mix):
    model, cfg, X = _fitted(ct, n_mix)
    again = model_from_arrays(cfg, model_arrays(model), n_features=3)
    for key, value in model_arrays(model).items():
        np.testing.assert_array_equal(model_arrays(again)[key], value)
    np.testing.assert_array_equal(again.score(X[0]), model.score(X[0]))


@pytest.mark.parametrize("ct, n_mix", CASES)
def test_free_parameters_count_the_stored_emission_values(ct, n_mix):
    """Without ties between parameters, the free emission parameters are the stored
    values minus the constraints (weights sum to 1; symmetric covariances)."""
    model, cfg, _ = _fitted(ct, n_mix)
    family, K, d = emission_family(cfg), 3, 3
    arrays = family.to_arrays(model)
    n = arrays["means"].size + (arrays["weights"].size - K if "weights" in arrays else 0)
    cov = np.asarray(arrays["covars"])
    if ct in ("full", "tied"):
        n += cov.size // (d * d) * d * (d + 1) // 2
    elif ct == "spherical" and n_mix == 1:
        n += K  # hmmlearn stores (K, d) copies of one variance per state
    else:
        n += cov.size
    assert family.n_free_parameters(K, d) == n

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


def test_mixture_components_on_identical_points_are_pulled_apart():
    """k-means puts both components of a state whose points are all equal on the same
    point; they would stay identical through EM, so they start nudged apart."""
    means, _ = GaussianMixture("diag", 2)._initial_state(np.ones((6, 3)), np.eye(3), np.random.RandomState(0))
    assert not np.allclose(means[0], means[1])
    assert np.abs(means - 1).max() < 1  # nudged by a fraction of the state's spread


def test_spherical_mixture_variances_are_maximum_likelihood():
    """Two far clusters, one state, two spherical components: at convergence each variance
    is its cluster's mean squared distance to its mean over the d dimensions (hmmlearn's
    default spherical prior would divide by d (N + 1) - n_mix instead of d N)."""
    rng = np.random.RandomState(0)
    a, b = rng.randn(40, 3) + 10.0, 2.0 * rng.randn(40, 3) - 10.0
    X = np.r_[a, b][rng.permutation(80)].reshape(4, 20, 3)
    cfg = HMMConfig(n_states=1, n_mix=2, covariance_type="spherical", topology="ergodic", n_iter=50, tol=1e-10)
    model = fit_hmm(X, cfg, covariance_floor(X.reshape(-1, 3), 1e-6), seed=0).model
    order = np.argsort(model.means_[0, :, 0])  # the component near -10 first
    np.testing.assert_allclose(model.means_[0, order], [b.mean(0), a.mean(0)], rtol=1e-6)
    expected = [((c - c.mean(0)) ** 2).sum(1).mean() / 3 for c in (b, a)]
    np.testing.assert_allclose(model.covars_[0, order], expected, rtol=1e-5)

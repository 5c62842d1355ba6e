"""Temperature scaling and the expected calibration error against closed forms and
hand computations (trajhmm.calibration; the end-to-end calibration tests are in
test_search.py)."""

import warnings

import numpy as np
import pytest
from scipy.special import softmax

from trajhmm.calibration import calibrated_log_proba, expected_calibration_error, fit_temperature


# ---------------------------------------------------------------- calibrated_log_proba
def test_calibrated_log_proba_is_a_tempered_softmax_row_by_row():
    """scipy's softmax of ll / T + log prior, for every row separately (several rows and
    a list input: the normalisation is over classes, never over samples)."""
    ll = [[-3.0, -7.0, -5.0], [-1.0, -1.0, -20.0]]
    prior = np.log([0.2, 0.3, 0.5])
    for t in (0.5, 1.0, 4.0):
        expected = np.log(softmax(np.asarray(ll) / t + prior, axis=1))
        np.testing.assert_allclose(calibrated_log_proba(ll, prior, t), expected)
    np.testing.assert_allclose(calibrated_log_proba(ll, prior), np.log(softmax(np.asarray(ll) + prior, axis=1)))


def test_calibrated_log_proba_of_integer_scores():
    ll = np.array([[0, -2], [-2, 0]])  # integer log-likelihoods divide as floats
    got = np.exp(calibrated_log_proba(ll, np.log([0.5, 0.5]), 4.0))
    np.testing.assert_allclose(got, [[1 / (1 + np.exp(-0.5)), 1 / (1 + np.exp(0.5))],
                                     [1 / (1 + np.exp(0.5)), 1 / (1 + np.exp(-0.5))]])


def test_calibrated_log_proba_is_double_precision_for_single_precision_scores():
    ll = np.array([[-3.1, -7.3], [-1.7, -1.2]], dtype=np.float32)
    got = calibrated_log_proba(ll, np.log([0.4, 0.6]), 3.0)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, calibrated_log_proba(ll.astype(np.float64), np.log([0.4, 0.6]), 3.0))


# ---------------------------------------------------------------- fit_temperature
# n held-out rows, every one right with the same margin: the smoothed target of the true
# class is 1 - eps, eps = 1 / (n + 2), and the loss is least where the calibrated
# probability of the true class equals it, i.e. at a closed-form temperature.
def test_fit_temperature_two_classes_closed_form():
    """ll = (m, 0) for the true class 0 or (0, m) for class 1, uniform priors:
    sigmoid(m / T) = 1 - 1/(n+2) gives T = m / log(n + 1)."""
    m = 10.0
    for n in (1, 3, 8):
        y = np.arange(n) % 2
        ll = np.where(np.eye(2)[y] == 1, m, 0.0)
        t = fit_temperature(ll, y, np.log([0.5, 0.5]))
        assert t == pytest.approx(m / np.log(n + 1), rel=1e-3)


def test_fit_temperature_three_classes_and_priors_closed_form():
    """Three classes, ll = m for the true class and 0 for the other two: the other two
    share the eps of the target ("any other class"). p_true = pi_t e^(m/T) / (pi_t e^(m/T)
    + rest of the prior mass) = 1 - eps gives T = m / log((n + 1) (1 - pi_t) / pi_t)."""
    m, n = 12.0, 4
    y = np.array([0, 1, 2, 0])
    ll = np.where(np.eye(3)[y] == 1, m, 0.0)
    t = fit_temperature(ll, y, np.log([1 / 3, 1 / 3, 1 / 3]))
    assert t == pytest.approx(m / np.log((n + 1) * 2), rel=1e-3)
    # every row's true class has prior 1/2, the other two 1/4 each: (1 - pi) / pi = 1
    y = np.zeros(n, int)
    ll = np.where(np.eye(3)[y] == 1, m, 0.0)
    t = fit_temperature(ll, y, np.log([0.5, 0.25, 0.25]))
    assert t == pytest.approx(m / np.log(n + 1), rel=1e-3)


def test_fit_temperature_minimises_the_smoothed_log_loss():
    """On noisy scores (some errors) the fitted temperature is the minimum of the smoothed
    log loss computed here with numpy over a fine grid of temperatures."""
    rng = np.random.RandomState(0)
    n = 40
    y = rng.randint(0, 3, n)
    ll = 6 * rng.randn(n, 3) + 8 * np.eye(3)[y]
    log_prior = np.log([0.5, 0.3, 0.2])
    eps = 1 / (n + 2)

    def loss(t):
        z = ll / t + log_prior
        z -= z.max(1, keepdims=True)
        true = np.eye(3, dtype=bool)[y]
        log_total = np.log(np.exp(z).sum(1))
        log_true = z[true] - log_total
        log_others = np.log(np.where(true, 0.0, np.exp(z)).sum(1)) - log_total
        return -np.mean((1 - eps) * log_true + eps * log_others)

    grid = np.exp(np.linspace(np.log(0.05), np.log(500), 20001))
    best = grid[np.argmin([loss(t) for t in grid])]
    t = fit_temperature(ll, y, log_prior)
    assert t == pytest.approx(best, rel=2e-3)
    assert loss(t) <= loss(best) + 1e-9


def test_fit_temperature_bounds_and_empty_input():
    assert fit_temperature(np.empty((0, 3)), np.array([], int), np.log([1 / 3] * 3)) == 1.0
    # scores that carry no information about the class: the flattest posterior, T at its upper bound
    y = np.array([0, 1, 0, 1])
    ll = np.array([[5.0, 0.0], [5.0, 0.0], [0.0, 5.0], [0.0, 5.0]])
    assert fit_temperature(ll, y, np.log([0.5, 0.5])) == pytest.approx(1e6, rel=1e-3)
    # far too cautious scores (tiny margins, always right): T at its lower bound
    y = np.arange(6) % 2
    ll = np.where(np.eye(2)[y] == 1, 1e-3, 0.0)
    assert fit_temperature(ll, y, np.log([0.5, 0.5])) == pytest.approx(1e-2, rel=1e-3)


def test_fit_temperature_warns_nothing():
    y = np.arange(6) % 2
    ll = np.where(np.eye(2)[y] == 1, 3.0, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_temperature(ll, y, np.log([0.5, 0.5]))


# ---------------------------------------------------------------- expected_calibration_error
def _ece_reference(y, proba, n_bins):
    """The definition, bin by bin with explicit edges (the last bin closed at 1)."""
    proba = np.asarray(proba, float)
    conf, correct = proba.max(1), proba.argmax(1) == np.asarray(y)
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for b in range(n_bins):
        upper = conf <= edges[b + 1] if b == n_bins - 1 else conf < edges[b + 1]
        sel = (conf >= edges[b]) & upper
        if sel.any():
            total += sel.sum() / len(conf) * abs(correct[sel].mean() - conf[sel].mean())
    return total


def test_ece_several_bins_by_hand():
    """10 bins: [0.6, 0.7) holds 0.62 (right) and 0.68 (wrong), [0.8, 0.9) 0.85 (right), the
    last bin [0.9, 1] 0.95 (right) and 1.0 (wrong): confidence 1 belongs to the last bin."""
    y = [0, 1, 1, 2, 2]
    proba = [[0.62, 0.38, 0.0], [0.68, 0.32, 0.0], [0.1, 0.85, 0.05], [0.05, 0.0, 0.95], [1.0, 0.0, 0.0]]
    expected = (2 * abs(0.5 - 0.65) + abs(1.0 - 0.85) + 2 * abs(0.5 - 0.975)) / 5
    assert expected_calibration_error(y, proba, n_bins=10) == pytest.approx(expected)
    # 2 bins: all five in [0.5, 1]
    assert expected_calibration_error(y, proba, n_bins=2) == pytest.approx(abs(3 / 5 - 4.1 / 5))


def test_ece_matches_the_definition_on_random_probabilities():
    """Right 80 % of the time at every confidence: under-confident bins below 0.8 and
    over-confident ones above, so the binning matters. The default is 15 bins."""
    rng = np.random.RandomState(1)
    proba = rng.dirichlet([0.5, 0.5, 0.5], 300)
    proba[:5] = np.eye(3)[[0, 1, 2, 0, 1]]  # confidence exactly 1: the last bin
    pred = proba.argmax(1)
    y = np.where(rng.rand(300) < 0.8, pred, (pred + 1) % 3)
    for n_bins in (1, 5, 15, 16):
        assert expected_calibration_error(y, proba, n_bins) == pytest.approx(_ece_reference(y, proba, n_bins))
    assert expected_calibration_error(y, proba) == pytest.approx(_ece_reference(y, proba, 15))
    assert _ece_reference(y, proba, 15) != pytest.approx(_ece_reference(y, proba, 16))


def test_ece_of_perfect_and_of_no_predictions():
    assert expected_calibration_error([0, 1], [[1.0, 0.0], [0.0, 1.0]]) == 0.0
    assert expected_calibration_error([1, 0], [[1.0, 0.0], [0.0, 1.0]]) == 1.0
    assert expected_calibration_error([], np.empty((0, 2))) == 0.0


def test_ece_is_computed_in_double_precision():
    """Single-precision probabilities give the ECE of the same values in double precision."""
    rng = np.random.RandomState(2)
    proba = rng.dirichlet([1.0, 1.0], 200).astype(np.float32)
    y = rng.randint(0, 2, 200)
    assert expected_calibration_error(y, proba) == expected_calibration_error(y, proba.astype(np.float64))

"""Calibrated class probabilities from HMM log-likelihoods.

The log-likelihood of a 50-point segment is a sum of 50 strongly correlated terms, so the
posterior ``softmax(log p(x | c) + log prior)`` is far too sure of itself: on real data
nearly every error carries a probability above 0.99. One temperature ``T`` fixes most of
it: ``p(c | x) = softmax(log p(x | c) / T + log prior_c)``. ``T`` is fitted by minimising
the log loss of out-of-fold scores (temperature scaling, Guo et al. 2017): one parameter,
so it cannot overfit the folds, and it never changes which class wins under uniform
priors.
"""

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, logsumexp

from .exceptions import ParameterValueError

__all__ = ["fit_temperature", "calibrated_log_proba", "expected_calibration_error"]

# The smoothed target of the true class is 1 - a / (n + 2a) for n held-out rows: a = 1 is
# Laplace's rule of succession.
_PSEUDO_COUNT = 1.0
# The search interval of log T: from 1/100 (a model that is not sure enough) to 1e6.
_LOG_T_BOUNDS = (np.log(1e-2), np.log(1e6))


def calibrated_log_proba(log_likelihood, log_prior, temperature=1.0):
    """``log softmax(log_likelihood / temperature + log_prior)`` over classes.

    Parameters
    ----------
    log_likelihood : ndarray of shape (n_samples, n_classes)
    log_prior : ndarray of shape (n_classes,)
    temperature : float > 0

    Examples
    --------
    >>> ll = np.array([[0.0, -10.0]])
    >>> np.exp(calibrated_log_proba(ll, np.log([0.5, 0.5]), 10.0)).round(3).tolist()
    [[0.731, 0.269]]
    """
    return log_softmax(np.asarray(log_likelihood, dtype=float) / temperature + log_prior, axis=1)


def fit_temperature(log_likelihood, y_idx, log_prior):
    """The temperature that minimises the log loss of ``calibrated_log_proba`` on
    held-out scores, with the true class's target smoothed to ``1 - 1/(n + 2)`` (the
    rest on "any other class"): with few or no held-out errors the plain log loss would
    drive the temperature to 0 and make every future error certain; the smoothed target
    is the Laplace estimate of being right.

    Parameters
    ----------
    log_likelihood : ndarray of shape (n_samples, n_classes)
        Out-of-fold log-likelihoods (finite).
    y_idx : ndarray of int, shape (n_samples,)
        The true class of each row (column index).
    log_prior : ndarray of shape (n_classes,)

    Returns
    -------
    float
        In [0.01, 1e6]; 1.0 when there is nothing to fit (no rows).

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> z = 3 * rng.randn(2000)                              # true log-odds of class 1
    >>> y = (rng.rand(2000) < 1 / (1 + np.exp(-z))).astype(int)
    >>> ll = np.c_[np.zeros(2000), 50 * z]                   # 50x overconfident scores
    >>> round(fit_temperature(ll, y, np.log([0.5, 0.5])), -1)
    50.0
    """
    ll = np.asarray(log_likelihood, dtype=float)
    y_idx = np.asarray(y_idx)
    if len(ll) == 0:
        return 1.0
    rows = np.arange(len(ll))
    eps = _PSEUDO_COUNT / (len(ll) + 2 * _PSEUDO_COUNT)
    others = np.ones(ll.shape, bool)
    others[rows, y_idx] = False

    def loss(log_t):
        logp = calibrated_log_proba(ll, log_prior, np.exp(log_t))
        log_rest = logsumexp(np.where(others, logp, -np.inf), axis=1)
        return -((1 - eps) * logp[rows, y_idx] + eps * log_rest).mean()

    res = minimize_scalar(loss, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def expected_calibration_error(y_true_idx, proba, n_bins=15, *, classes=None):
    """Expected calibration error of the top label: the bins of the maximum probability
    (``n_bins`` equal widths on [0, 1]), the weighted mean of |accuracy - confidence|.

    ``y_true_idx`` are the true classes' column indices in ``proba`` (0 to n_classes - 1);
    with ``classes`` (the columns' labels, e.g. ``clf.classes_``) they are labels instead,
    as scikit-learn's metrics take them. Anything else (labels without ``classes``, an
    index out of range, a label that is no class) is a ValueError, not a figure.

    Examples
    --------
    >>> expected_calibration_error([0, 1], [[0.9, 0.1], [0.8, 0.2]])  # right at 0.9, wrong at 0.8
    0.45
    >>> expected_calibration_error(["a", "b"], [[0.9, 0.1], [0.8, 0.2]], classes=["a", "b"])
    0.45
    """
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2:
        raise ParameterValueError("proba", "a 2-D array (n_samples, n_classes)", f"shape {proba.shape}")
    y_true_idx = _column_indices(y_true_idx, proba.shape, classes)
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true_idx
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        sel = bins == b
        total += sel.sum() * abs(correct[sel].mean() - conf[sel].mean())
    return float(total / len(conf)) if len(conf) else 0.0


def _column_indices(y, shape, classes):
    """``y`` as column indices of a ``shape`` probability array (see
    :func:`expected_calibration_error`)."""
    y = np.asarray(y)
    if y.shape != (shape[0],):
        raise ParameterValueError("y_true_idx", f"one class per row of proba ({shape[0]})", f"shape {y.shape}")
    if classes is not None:
        classes = list(np.asarray(classes).tolist())
        if len(classes) != shape[1]:
            raise ParameterValueError("classes", f"one label per column of proba ({shape[1]})", f"{len(classes)}")
        index = {c: k for k, c in enumerate(classes)}
        missing = next((v for v in y.tolist() if v not in index), None)
        if missing is not None:
            raise ParameterValueError("y_true_idx", f"labels among classes {classes}", repr(missing))
        return np.array([index[v] for v in y.tolist()], dtype=int)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(int)  # whole-number floats (a pandas column of indices): indices
    if y.size and (y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= shape[1]):
        found = (f"labels such as {y.flat[0].item()!r}" if y.dtype.kind in "USO" else f"{y.dtype} values"
                 if y.dtype.kind not in "iu" else f"values from {y.min()} to {y.max()}")
        raise ParameterValueError("y_true_idx", f"column indices of proba, 0 to {shape[1] - 1} (for labels, pass "
                                  "classes=clf.classes_)", found)
    return y

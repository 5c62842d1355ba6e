"""Choosing hyper-parameters (n_states, n_mix, covariance_type, ...) per data set by
stratified cross-validation: a thin layer over :class:`~trajhmm.HMMClassifierCV`."""

import math
import warnings

import numpy as np

from ._params import ParameterTypeError, check_param, validate_params
from ._validation import smallest_class
from .classifier import HMMClassifier
from .exceptions import DataError

__all__ = ["tune"]


def tune(X, y, param_grid, *, cv=3, random_state=0, n_jobs=None, progress=None, cache_dir=None, **fixed):
    """Cross-validate the combinations of ``param_grid`` and refit the best on all data:
    :class:`~trajhmm.HMMClassifierCV` with that grid, returning its refitted model and
    its table (the one search path; see :mod:`trajhmm.search` for the successive halving
    that stops hopeless candidates after the first fold when there are more than three).

    Parameters
    ----------
    X, y : trajectories and labels, as for :meth:`HMMClassifier.fit`
    param_grid : dict of parameter name -> list of values
    cv : int, default=3
        Stratified folds (shuffled with ``random_state``); classes smaller than ``cv``
        reduce them, with a warning, as in :class:`~trajhmm.HMMClassifierCV`.
    random_state : int, default=0
        Seeds the folds and every model.
    n_jobs : int or None
        Parallel (candidate, fold) fits.
    progress, cache_dir : as for :meth:`HMMClassifierCV.fit` (progress reports; finished
        fits kept on disk, so that a rerun after an interrupt resumes).
    **fixed : other HMMClassifier parameters, the same for every candidate.

    Returns
    -------
    best : HMMClassifier
        Fitted on all of X with the best parameters (plain posteriors: the calibrated
        model is ``HMMClassifierCV(...).fit(X, y)``).
    ranking : list of dict
        One entry per candidate, best first (the search's order: accuracy, then the lower
        calibrated log loss; rank 1 is the chosen one and no two share a rank): ``rank``, ``params`` (the searched ones),
        ``mean_accuracy``, ``std_accuracy``, ``mean_fit_seconds``, ``n_folds``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> t = np.linspace(0, 1, 30)[:, None]
    >>> X = [np.hstack([t, s * t]) + 0.02 * rng.randn(30, 2) for s in (1, -1) for _ in range(6)]
    >>> y = ["up"] * 6 + ["down"] * 6
    >>> best, ranking = tune(X, y, {"n_states": [2, 3]}, cv=2)
    >>> sorted((r["rank"], r["params"]["n_states"], r["mean_accuracy"]) for r in ranking)
    [(1, 3, 1.0), (2, 2, 1.0)]
    >>> best.n_states == ranking[0]["params"]["n_states"]  # ties: the lower calibrated log loss
    True
    """
    from .search import HMMClassifierCV

    check_param("cv", cv)  # (the grid is validated by HMMClassifierCV.fit, before any fit)
    y = np.asarray(y)
    try:
        estimator = HMMClassifier(**fixed)
    except TypeError:
        unknown = sorted(set(fixed) - set(HMMClassifier().get_params()))
        raise ParameterTypeError(unknown[0], f"a keyword of tune or a parameter of HMMClassifier "
                                 f"({', '.join(HMMClassifier().get_params())})", "an unknown name") from None
    # the best candidate alone: an ensemble's other members would be refitted for nothing
    search = HMMClassifierCV(estimator, param_grid, cv=cv, ensemble=False, n_jobs=n_jobs,
                             random_state=random_state)
    search.fit(list(X), y, progress=progress, cache_dir=cache_dir)
    res = search.cv_results_
    ranking = [
        {
            "rank": int(res["rank_test_score"][i]),
            "params": res["params"][i],
            "mean_accuracy": float(res["mean_test_score"][i]),
            "std_accuracy": float(res["std_test_score"][i]),
            "mean_fit_seconds": float(res["mean_fit_time"][i]),
            "n_folds": int(res["n_folds"][i]),
        }
        for i in np.argsort(res["rank_test_score"])
    ]
    return search.best_estimator_, ranking


def _candidates(param_grid):
    """Every combination of ``param_grid`` (a dict of lists), as dicts."""
    from sklearn.model_selection import ParameterGrid

    return list(ParameterGrid({name: list(values) for name, values in param_grid.items()}))


def _check_grid(param_grid, fixed):
    """Validate every candidate (grid combination plus ``fixed``) before the first fit:
    raises the ParameterError of the first bad one."""
    base = HMMClassifier(**{k: v for k, v in fixed.items() if k not in param_grid}).get_params(deep=False)
    for combo in _candidates(param_grid):
        validate_params({**base, **combo})


def _groups_held_out(y, groups, test_size, random_state, source):
    """``(train, test)`` rows with no group on both sides (new recordings come from new
    people). Whole groups allow no finer cut than scikit-learn's StratifiedGroupKFold into
    k parts: the held-out part is one of k = round(1 / test_size) parts, or, for a
    test_size above 0.5, all but one of k = round(1 / (1 - test_size)); so 0.25 holds out
    a quarter, 0.4 a third (the command line prints how many held out). Every class
    stays in training."""
    from sklearn.model_selection import StratifiedGroupKFold

    groups = np.asarray(groups)
    k = max(2, math.floor(1 / min(test_size, 1 - test_size) + 0.5))
    n_groups = len(np.unique(groups))
    if n_groups < k:
        raise DataError(f"{source}: cannot hold out {test_size:g} of the data as whole groups: the {k} parts this takes "
                        f"need at least {k} groups, got {n_groups}; use a test size nearer 0.5 or more groups")
    cut = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():  # "the least populated class has fewer members than n_splits": said below
        warnings.simplefilter("ignore", UserWarning)
        tr, te = next(cut.split(np.zeros((len(y), 1)), y, groups))
    if test_size > 0.5:
        tr, te = te, tr
    missing = np.setdiff1d(np.unique(y), y[tr])
    if len(missing):
        raise DataError(f"{source}: cannot hold out {test_size:g} of the data as whole groups: class "
                        f"{missing[0].item()!r} would have no trajectory left to train on")
    return tr, te


def _fit_held_out(clf, X, y, test_size, *, random_state=0, progress=None, source="data", cache_dir=None, groups=None):
    """Fit ``clf``, holding out a stratified ``test_size`` fraction of (X, y) (0: none);
    with ``groups``, whole groups (:func:`_groups_held_out`).

    Returns ``(n_train, held_out)``: the number of training trajectories, and None or
    ``(accuracy, n_test)`` on the held-out part.
    """
    check_param("test_size", test_size)
    y = np.asarray(y)
    if test_size == 0:
        clf.fit(X, y, groups, progress=progress, cache_dir=cache_dir)
        return len(X), None
    from sklearn.model_selection import train_test_split

    n_test, n_classes = int(np.ceil(test_size * len(y))), len(np.unique(y))
    for part, n in (("held-out", n_test), ("training", len(y) - n_test)):
        if n < n_classes:
            raise DataError(f"{source}: cannot hold out {test_size:g} of the {len(y)} trajectories: expected at least "
                            f"one of each of the {n_classes} classes in the {part} part, got {n} trajectories there")
    if groups is not None:
        tr, te = _groups_held_out(y, groups, test_size, random_state, source)
    else:
        try:
            tr, te = train_test_split(np.arange(len(X)), test_size=test_size, stratify=y, random_state=random_state)
        except ValueError as exc:  # e.g. a class of one trajectory
            raise DataError(f"{source}: cannot hold out {test_size:g} of the data: {exc}") from None
    if not isinstance(clf, HMMClassifier):  # the model search cross-validates what is left
        labels, y_idx = np.unique(y[tr], return_inverse=True)
        count, label = smallest_class(y_idx, labels)
        if count < 2:
            raise DataError(f"{source}: holding out {test_size:g} of the data leaves {count} trajectory of class "
                            f"{label!r} to train on, and the model search needs at least 2 of every class; use a "
                            "smaller --test-size (test_size), or --no-search")
    clf.fit([X[i] for i in tr], y[tr], None if groups is None else np.asarray(groups)[tr], progress=progress,
            cache_dir=cache_dir)
    return len(tr), (clf.score([X[i] for i in te], y[te]), len(te))

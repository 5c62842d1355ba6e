"""HMMClassifierCV: HMMClassifier with its parameters chosen from the data by
cross-validation, and calibrated probabilities.

The search (:class:`HMMClassifierCV`)
-------------------------------------
The built-in space (:func:`default_param_grid`) is searched in stages, each a small grid
around the best candidate so far (coordinate-wise: the parameters that decide accuracy on
trajectories interact little across stages):

1. position and size invariance: ``translation`` x ``scaling``;
2. what the models see: ``derivatives``, or resampling along the path (``resample``);
3. model size: ``n_states`` x ``covariance_type``;
4. regularisation and topology: ``reg_covar``, ``topology``.

Within a stage, hopeless candidates stop early (successive halving over folds): when a
stage has more than three candidates, all of them are first fitted on one fold; only those
within two standard errors of the best first-fold accuracy (at least two, at most half)
and the incumbent (the best of the stages before) go on to the other folds. The decisions are taken at these
fixed points on complete rounds, so the result does not depend on ``n_jobs`` or on the
order in which fits finish. Candidates are ranked by out-of-fold accuracy, ties broken by
the calibrated out-of-fold log loss (smoother than accuracy on small data), then by the
order of the grid (the defaults come first).

The ensemble
------------
With ``ensemble=True`` (the default) the refitted model is pooled with other candidates
when that helps on the out-of-fold scores the search already holds: ensemble selection
(Caruana et al., 2004), forward and with replacement, starting from the best candidate.
Each step adds the fully evaluated candidate that most lowers the calibrated out-of-fold
log loss of the pool, and the selection stops when none lowers it by more than
``_ENSEMBLE_TOL`` nats per trajectory, or after ``_ENSEMBLE_STEPS`` steps. The pool's
log-likelihood is the weighted mean of its members' ``log p(x | c)`` (a log-linear
pool), member m weighted by the number of times it was picked over its own calibration
temperature (so that members on different feature scales count alike), the weights
normalised to sum to 1. Every member is refitted on all the data; the best candidate
is ``best_estimator_`` and stays what open-set rejection, streams and prefixes use.
Chosen on the train splits only (nested cross-validation, README "Accuracy").

Calibration
-----------
The pool's (or the best candidate's) out-of-fold log-likelihoods give one temperature
(see :mod:`trajhmm.calibration`): ``predict_proba`` is ``softmax(log p(x | c) / T + log
prior)``. ``predict`` is its argmax (the same class as the plain pool under uniform
priors). ``predict_joint_log_proba`` stays in nats (the pool's weighted mean of the
members' log-likelihoods, plus the log prior; not calibrated).
"""

import logging
import math
import time
import warnings

import numpy as np
from joblib import delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import ParameterGrid
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _validation as _v
from . import calibration
from ._cache import FitCache, fingerprint
from ._parallel import bounded_jobs, launch, one_blas_thread
from ._params import ParameterError, ParameterTypeError, ParameterValueError, check_param, validate_params
from ._validation import (
    check_groups,
    check_labels,
    check_trajectories,
    check_unknown_label,
    plain_value,
    smallest_class,
    with_unknown,
)
from .classifier import (
    HMMClassifier,
    _cancelled_when_left,
    label_accuracy,
    likelihood_threshold,
    rejection_folds,
    rejection_threshold,
    stratified_folds,
    trajectory_tags,
)
from .exceptions import ConvergenceWarning, DataError

__all__ = ["HMMClassifierCV", "Stages", "default_param_grid", "select_ensemble"]

logger = logging.getLogger(__name__)


class Stages(tuple):
    """A staged search space: a tuple of ``(name, grid)``, each grid a dict of parameter
    -> list of values or a list of such dicts (scikit-learn's ``param_grid`` layout).
    Stage s searches its grid around the best candidate of the stages before it.
    ``builtin`` (set by :func:`default_param_grid`): values that the estimator's fixed
    parameters rule out (n_states above n_points) are dropped instead of refused. Values
    are kept as plain Python lists (``np.arange(2, 4)`` gives ``[2, 3]``), so that the
    chosen parameters are JSON data."""

    def __new__(cls, stages, builtin=False):
        if isinstance(stages, (dict, str, bytes)) or not hasattr(stages, "__iter__"):
            raise ParameterTypeError("Stages", "a list of (name, grid) pairs, e.g. [('size', {'n_states': [4, 8]})]",
                                     _short(repr(stages)))
        stages = list(stages)  # (a generator is read once)
        if any(not isinstance(stage, (tuple, list)) or len(stage) != 2 for stage in stages):
            raise ParameterTypeError("Stages", "a list of (name, grid) pairs, e.g. [('size', {'n_states': [4, 8]})]",
                                     _short(repr(stages)))
        stages = tuple((str(name), _checked_grid(str(name), grid)) for name, grid in stages)
        self = super().__new__(cls, stages)
        self.builtin = bool(builtin)
        return self

    def __getnewargs__(self):  # pickling and copying keep the flag
        return (tuple(self), self.builtin)

    @property
    def names(self):
        """Every parameter some stage searches, in order of appearance."""
        return _names(self)


def _names(stages):
    out = []
    for _, grid in stages:
        for part in _grid_parts(grid):
            out.extend(k for k in part if k not in out)
    return out


# The built-in space. Every value was chosen on the development data only (the train
# splits of ../shared/data and sample_data, nested cross-validation: README,
# "Choosing the model from the data").
_DEFAULT_STAGES = (
    ("position and size", {"translation": ["none", "start"], "scaling": ["none", "std"]}),
    ("derivatives and resampling", [{"derivatives": [0, 1, 2]}, {"resample": ["arclength"]}]),
    ("states and covariance", {"n_states": [6, 12, 20], "covariance_type": ["diag", "full"]}),
    ("regularisation and topology", [{"reg_covar": [0.01, 0.03, 0.1, 0.3]}, {"topology": ["ergodic"]}]),
)


def default_param_grid(fixed=()):
    """The built-in staged search space, without the parameters named in ``fixed``
    (they keep the estimator's value).

    Examples
    --------
    >>> [name for name, _ in default_param_grid()]
    ['position and size', 'derivatives and resampling', 'states and covariance', 'regularisation and topology']
    >>> default_param_grid(fixed=["translation", "scaling", "resample"])[0]
    ('derivatives and resampling', [{'derivatives': [0, 1, 2]}])
    """
    fixed = set(fixed)
    stages = []
    for name, grid in _DEFAULT_STAGES:
        parts = [{k: list(v) for k, v in part.items() if k not in fixed}
                 for part in (grid if isinstance(grid, list) else [grid])]
        parts = [p for p in parts if p]
        if parts:
            stages.append((name, parts if isinstance(grid, list) else parts[0]))
    return Stages(stages, builtin=True)


def _checked_grid(name, grid):
    """One stage's grid (a dict of parameter -> values, or a list of such dicts), checked,
    with every list of values made a plain Python list."""
    parts = grid if isinstance(grid, (list, tuple)) else [grid]
    out = []
    for part in parts:  # an empty dict is the incumbent alone (scikit-learn: ParameterGrid({}) is one candidate)
        if not isinstance(part, dict):
            raise ParameterTypeError("param_grid", f"stage {name!r}: a dict of parameter -> list of values",
                                     _short(repr(part)))
        for key, values in part.items():
            if isinstance(values, (str, bytes, set, frozenset, dict)) or not hasattr(values, "__iter__"):
                # a set has no order, and the grid's order breaks ties (scikit-learn refuses it too)
                raise ParameterTypeError("param_grid", f"a list of values for {key!r}", repr(values))
        out.append({key: [plain_value(v) for v in values] for key, values in part.items()})
    return out if isinstance(grid, (list, tuple)) else out[0]


_DEFAULT_CV = 3  # HMMClassifierCV's folds, also for cv=None


def _short(text, limit=80):
    """``text`` cut to ``limit`` characters for a message (a list of folds can be long)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _given_splits(cv, n_samples):
    """``cv`` given as an iterable of (train, test) index arrays (scikit-learn's third
    form of ``cv``), checked: two integer index arrays within the data, train and test
    apart, test not empty."""
    folds = []
    for k, split in enumerate(cv):
        try:
            train, test = (np.asarray(part) for part in split)
        except (TypeError, ValueError):
            raise ParameterValueError("cv", "(train, test) pairs of index arrays",
                                      f"{_short(repr(split))} as split {k}") from None
        for part in (train, test):
            if part.ndim != 1 or not (part.size == 0 or np.issubdtype(part.dtype, np.integer)) or \
                    (part.size and (part.min() < 0 or part.max() >= n_samples)):
                raise ParameterValueError("cv", f"integer indices in [0, {n_samples}) in every split",
                                          f"{_short(repr(part))} in split {k}")
        if not test.size or np.intersect1d(train, test).size:
            raise ParameterValueError("cv", "a non-empty test part apart from its training part in every split",
                                      f"split {k} with {test.size} test and {np.intersect1d(train, test).size} shared "
                                      "indices")
        folds.append((train, test))
    if not folds:
        raise ParameterValueError("cv", "at least one (train, test) split", "none")
    return folds


def _grid_parts(grid):
    return list(grid) if isinstance(grid, (list, tuple)) else [grid]


def _stage_candidates(grid, current):
    """The candidates of one stage: ``current`` updated with each combination of the
    grid, duplicates removed, in grid order (``current`` itself first when it is one)."""
    out = []
    for part in _grid_parts(grid):
        for combo in ParameterGrid({k: list(v) for k, v in part.items()}):
            cand = {**current, **combo}
            if cand not in out:
                out.append(cand)
    if current in out:
        out.remove(current)
        out.insert(0, current)
    return out


class _Candidate:
    """One evaluated parameter set: its out-of-fold log-likelihoods fold by fold."""

    def __init__(self, params, stage):
        self.params, self.stage = params, stage
        self.ll, self.ll_background, self.seconds = {}, {}, {}

    def rows(self, folds, background=False):
        """``(rows, ll)`` over the folds evaluated so far: the held-out rows and their
        log-likelihoods under the class models (or, ``background``, the background model)."""
        scores = self.ll_background if background else self.ll
        idx = [f for f in range(len(folds)) if f in self.ll]
        return np.concatenate([folds[f][1] for f in idx]), np.concatenate([scores[f] for f in idx])

    def fold_accuracy(self, folds, y_idx):
        return {f: float((ll.argmax(1) == y_idx[folds[f][1]]).mean()) for f, ll in self.ll.items()}

    def summary(self, folds, y_idx, log_prior):
        """(accuracy, calibrated log loss) over the folds evaluated so far (computed once
        per set of folds: rankings ask for it many times)."""
        done = tuple(sorted(self.ll))
        if getattr(self, "_summary", (None,))[0] != done:
            self._summary = (done, self._compute_summary(folds, y_idx, log_prior))
        return self._summary[1]

    def _compute_summary(self, folds, y_idx, log_prior):
        rows, ll = self.rows(folds)
        acc = float((ll.argmax(1) == y_idx[rows]).mean())
        t = calibration.fit_temperature(ll, y_idx[rows], log_prior)
        loss = -calibration.calibrated_log_proba(ll, log_prior, t)[np.arange(len(rows)), y_idx[rows]].mean()
        return acc, float(loss)


def _fold_fit(index, params, X_train, y_train, X_test):
    """Fit one candidate on one fold: ``(index, log-likelihoods of X_test, fit seconds)``,
    the log-likelihoods under the class models and, in the last column, under the
    background model (the out-of-fold scores of open-set rejection). BLAS on one thread,
    scoring too: the same scores in this process as in a worker (one_blas_thread)."""
    clf = HMMClassifier(**params)
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fold models are thrown away
        t0 = time.perf_counter()
        clf._fit(X_train, y_train, rejection="background")
        seconds = time.perf_counter() - t0
        ll, ll_background = clf._log_likelihoods(clf.transform(X_test), background=True)
    return index, np.column_stack([ll, ll_background]), seconds


class HMMClassifierCV(ClassifierMixin, BaseEstimator):
    """HMMClassifier whose parameters are chosen by stratified cross-validation on the
    training data (the pattern of scikit-learn's LogisticRegressionCV), refitted on all
    of it, with probabilities calibrated on the out-of-fold scores.

    Parameters
    ----------
    estimator : HMMClassifier or None, default=None
        The parameters not searched. With the built-in space, every parameter of
        ``estimator`` that differs from HMMClassifier's default is held fixed (left out of
        the search); pass ``param_grid=default_param_grid(fixed=[...])`` to hold others.
        None: HMMClassifier().
    param_grid : dict, list of dicts, Stages or None, default=None
        A dict (or list of dicts) of parameter -> values is one grid, searched with the
        successive halving described in :mod:`trajhmm.search`; :class:`Stages` is a
        staged space; None is the built-in staged space (:func:`default_param_grid`).
    cv : int, cross-validation splitter, iterable of splits or None, default=3
        Folds (stratified and shuffled with ``random_state``; with ``fit(..., groups=)``
        no group is on both sides of a split; None: 3), a scikit-learn splitter, or
        (train, test) index arrays (scikit-learn's three forms of ``cv``). With an int,
        classes smaller than ``cv`` reduce the folds to the smallest class size (at least 2).
        The same out-of-fold scores calibrate the probabilities and set the refitted
        model's open-set threshold (its ``rejection_rate`` quantile).
    calibrate : bool, default=True
        Fit the temperature of :mod:`trajhmm.calibration` (False: the plain posteriors).
    ensemble : bool, default=True
        Pool the best candidate with the others that lower the out-of-fold log loss
        (ensemble selection, :mod:`trajhmm.search`); False: the best candidate alone.
    n_jobs : int or None, default=None
        Parallel (candidate, fold) fits, and the final refit's runs.
    random_state : int, RandomState or None, default=None
        Seeds the folds and every model (overrides ``estimator.random_state``).

    Attributes
    ----------
    best_params_ : dict
        The chosen value of every searched parameter.
    best_estimator_ : HMMClassifier
        Refitted on all the training data with ``best_params_``, cross-fitted like
        :meth:`HMMClassifier.fit` for its ``stream_threshold_`` (when ``rejection_rate``
        > 0: the refit's fits again for each of 3 to 10 folds,
        :func:`~trajhmm.classifier.rejection_folds`); its rejection threshold comes from
        the search's own folds.
    best_score_ : float
        Its mean cross-validated accuracy.
    best_index_ : int
        Its row in ``cv_results_``.
    cv_results_ : dict of arrays
        scikit-learn's layout, one entry per evaluated candidate: ``params`` (every
        parameter some stage searches: a stage's candidates carry the values chosen before
        it, so nothing is masked), ``param_<name>``, ``split<k>_test_score`` (nan for folds
        a stopped candidate never reached), ``mean_test_score``, ``std_test_score`` (nan
        for a candidate stopped after one fold),
        ``rank_test_score`` (the search's order: candidates evaluated on every fold first,
        then accuracy, then calibrated log loss; rank 1 is ``best_index_``, no two alike), ``mean_fit_time``,
        ``std_fit_time``, ``mean_test_log_loss`` (calibrated), ``n_folds`` and ``stage``
        (no score times: scoring a fold is not timed apart from its fit).
    ensemble_estimators_ : list of HMMClassifier
        The pooled models, ``best_estimator_`` first (it alone when ``ensemble=False`` or
        no other candidate helped); the others are refitted without open-set rejection.
    ensemble_weights_ : ndarray of shape (n_members,)
        Their weights in the pooled log-likelihood (positive, summing to 1).
    ensemble_indices_ : ndarray of int, shape (n_members,)
        Their rows in ``cv_results_`` (``best_index_`` first).
    temperature_ : float
        The calibration temperature (1.0 when ``calibrate=False``).
    classes_, n_features_in_, feature_names_in_ : as HMMClassifier's (the names: when fitted on DataFrames).
    n_splits_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> t = np.linspace(0, 1, 40)[:, None]
    >>> X = [np.hstack([t, s * t ** 2]) + 0.05 * rng.randn(40, 2) for s in (1, -1) for _ in range(6)]
    >>> y = ["up"] * 6 + ["down"] * 6
    >>> clf = HMMClassifierCV(param_grid={"n_states": [2, 4]}, random_state=0).fit(X, y)
    >>> sorted(clf.best_params_), clf.predict(X[:1]).tolist(), clf.cv_results_["rank_test_score"].tolist()
    (['n_states'], ['up'], [1, 2])
    """

    def __init__(self, estimator=None, param_grid=None, *, cv=_DEFAULT_CV, calibrate=True, ensemble=True, n_jobs=None,
                 random_state=None):
        self.estimator = estimator
        self.param_grid = param_grid
        self.cv = cv
        self.calibrate = calibrate
        self.ensemble = ensemble
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ setup
    def _check_own_params(self):
        """This search's own parameters (the estimator's are checked by its own rules), as
        HMMClassifier checks its: a ParameterError naming the parameter, before any work."""
        check_param("n_jobs", self.n_jobs)
        check_param("random_state", self.random_state)
        for name in ("calibrate", "ensemble"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ParameterTypeError(name, "True or False", repr(value))

    def _base(self):
        if self.estimator is None:
            return HMMClassifier()
        if not isinstance(self.estimator, HMMClassifier):
            raise ParameterTypeError("estimator", "an HMMClassifier or None", type(self.estimator).__name__)
        return clone(self.estimator)

    def _stages(self, base):
        """The staged space, and whether it is the built-in one."""
        grid = self.param_grid
        if grid is None:
            defaults = HMMClassifier().get_params()
            fixed = [k for k, v in base.get_params().items() if not _same(v, defaults[k])]
            return default_param_grid(fixed=fixed), True
        if isinstance(grid, Stages):
            return grid, grid.builtin
        if isinstance(grid, (dict, list, tuple)) and len(grid) == 0:
            return Stages([]), False  # nothing to search: the estimator is cross-validated as it is
        if isinstance(grid, dict) or (isinstance(grid, (list, tuple)) and all(isinstance(g, dict) for g in grid)):
            return Stages([("grid", grid)]), False
        raise ParameterTypeError("param_grid", "a dict, a list of dicts, Stages or None", type(grid).__name__)

    def _check_stages(self, stages, base, builtin):
        """Every candidate valid before the first fit. A user grid raises the first
        ParameterError; the built-in space drops values the fixed parameters rule out
        (n_states above n_points)."""
        params = base.get_params()
        for name in stages.names:
            if name not in params or name in ("random_state", "n_jobs"):
                raise ParameterValueError("param_grid", "names of HMMClassifier parameters to search", repr(name))
        if builtin and not _valid(params, True):
            # a default the fixed parameters rule out (n_states=12 with n_points=8): start
            # from the first value of the space that they allow
            for k in stages.names:
                values = [v for _, grid in stages for part in _grid_parts(grid) for v in part.get(k, [])]
                ok = [v for v in values if _valid({**params, k: v}, True)]
                if ok and not _valid(params, True):
                    params[k] = ok[0]
                    base.set_params(**{k: ok[0]})
        out = []
        for name, grid in stages:
            parts = []
            for part in _grid_parts(grid):
                part = {k: list(v) for k, v in part.items()}
                for k, values in part.items():
                    if not values:
                        raise ParameterValueError("param_grid", f"at least one value of {k}", "[]")
                    ok = [v for v in values if _valid({**params, k: v}, builtin)]
                    part[k] = ok or [params[k]]
                parts.append(part)
            for combo in (c for part in parts for c in ParameterGrid(part)):
                validate_params({**params, **combo})
            out.append((name, parts))
        return Stages(out)

    def _folds(self, X, y_idx, groups, seed, classes):
        cv = _DEFAULT_CV if self.cv is None else self.cv  # scikit-learn's None: the default number of folds
        if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
            check_param("cv", int(cv))
            smallest, label = smallest_class(y_idx, classes)
            if smallest < 2:
                raise DataError("y: cross-validation needs at least 2 trajectories of every class, got "
                                f"{smallest} of class {label!r}; use HMMClassifier (trajhmm train --no-search)")
            if int(cv) > smallest:
                warnings.warn(f"cv={int(cv)}: the smallest class (class {label!r}) has {smallest} trajectories, "
                              f"so the search cross-validates {smallest} folds", UserWarning, stacklevel=_v.user_stacklevel())
            # with groups, no group on both sides of a split (StratifiedGroupKFold)
            folds = stratified_folds(y_idx, min(int(cv), smallest), groups, seed)
        elif hasattr(self.cv, "split") and not isinstance(self.cv, (str, bytes)):  # str has a split method
            try:
                folds = [(np.asarray(tr), np.asarray(te)) for tr, te in self.cv.split(np.zeros(len(y_idx)), y_idx, groups)]
            except ValueError as exc:  # e.g. a group splitter without groups
                raise ParameterValueError("cv", "a splitter that can split this data (a group splitter needs "
                                          "fit(..., groups=...))", f"{type(self.cv).__name__}: {exc}") from None
        elif hasattr(self.cv, "__iter__") and not isinstance(self.cv, (str, bytes, dict)):
            folds = _given_splits(self.cv, len(y_idx))
        else:
            raise ParameterTypeError("cv", "an int >= 2, a cross-validation splitter or an iterable of (train, test) "
                                     "index arrays", _short(repr(self.cv)))
        n_classes = len(np.unique(y_idx))
        for k, (train, _) in enumerate(folds):
            if len(np.unique(y_idx[train])) < n_classes:
                raise DataError(f"cv: the training part of fold {k} lacks some classes ({len(np.unique(y_idx[train]))} "
                                f"of {n_classes}): every class needs trajectories in every training part")
        return folds

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, groups=None, *, progress=None, cache_dir=None):
        """Search, refit the best candidate on all of (X, y), calibrate.

        Parameters
        ----------
        X, y : as :meth:`HMMClassifier.fit`.
        groups : array-like of shape (n_samples,), optional
            Who or what recorded each trajectory (subject, session): the folds keep each
            group on one side (also for a group-aware ``cv`` splitter).
        progress : callable, optional
            ``progress(done, total, info)`` after every finished (candidate, fold) fit
            (``info``: ``stage``, ``params``, ``fold``) and every run of the final refit
            (``info`` as HMMClassifier.fit gives it, plus ``stage="refit"``). ``total``
            is the planned number of steps.
        cache_dir : str or Path, optional
            Every finished (candidate, fold) fit and every EM run of the refit is kept
            there (:class:`trajhmm._cache.FitCache`: plain npz files keyed by the data,
            the folds, the parameters and the library versions, so nothing stale is
            ever served); a rerun after an interrupt skips them and ends with the same
            model. The directory is left in place (``trajhmm train`` removes it when the
            run completes, unless ``--keep-cache``).
        """
        self._check_own_params()
        if cache_dir is not None:
            FitCache(cache_dir).check()
        base = self._base()
        stages, builtin = self._stages(base)
        # nothing left to search (every parameter held fixed): the one candidate is still
        # cross-validated, for the calibration
        stages = self._check_stages(stages, base, builtin) if stages else (("given parameters", {}),)
        names = _v.feature_names(X)
        X = check_trajectories(X)
        _v.warn_if_transposed(X)
        y = check_labels(y, len(X))
        groups = check_groups(groups, len(X))
        classes, y_idx = np.unique(y, return_inverse=True)
        seed = self._seed(base)
        base.set_params(random_state=seed, n_jobs=None)
        folds = self._folds(X, y_idx, groups, seed, classes)
        log_prior = np.log(base._class_prior(np.bincount(y_idx, minlength=len(classes)).astype(float)))
        runner = _Runner(X, y, _capped(folds, y_idx, seed), self.n_jobs, progress, stages, _refit_runs(base, y_idx, groups))
        runner.cache = None if cache_dir is None else _FoldCache(cache_dir, X, y_idx, classes)
        if cache_dir is not None and seed is None:
            warnings.warn("cache_dir: with random_state=None the folds and models differ on every run, so a "
                          "rerun finds nothing to resume; give an int random_state", UserWarning, stacklevel=_v.user_stacklevel())
        searched = _names(stages)
        current = {k: base.get_params()[k] for k in searched}
        evaluated = []
        for name, grid in stages:
            cands = [self._candidate(evaluated, c, name) for c in _stage_candidates(grid, current)]
            best = self._run_stage(cands, base, runner, y_idx, log_prior, name)
            current = dict(best.params)
        if runner.hits:
            logger.info("resumed: %d finished (candidate, fold) fits taken from the cache %s", runner.hits, cache_dir)
        self._finish(X, y, groups, base, current, evaluated, folds, y_idx, log_prior, runner, cache_dir)
        _v.set_feature_names(self, names)
        return self

    def _seed(self, base):
        rs = self.random_state if self.random_state is not None else base.random_state
        if rs is None or isinstance(rs, (int, np.integer)):
            return None if rs is None else int(rs)
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    @staticmethod
    def _candidate(evaluated, params, stage):
        for cand in evaluated:
            if cand.params == params:
                return cand
        cand = _Candidate(params, stage)
        evaluated.append(cand)
        return cand

    def _run_stage(self, cands, base, runner, y_idx, log_prior, name):
        """Successive halving over folds; returns the best fully evaluated candidate."""
        n_folds = len(runner.folds)
        if len(cands) > 3 and n_folds > 1:
            runner.run(cands, [0], base, name)
            cands = _survivors(cands, runner.folds, y_idx, log_prior)
        runner.run(cands, range(n_folds), base, name)
        return min(enumerate(cands), key=lambda ic: _rank_key(ic[1], ic[0], runner.folds, y_idx, log_prior))[1]

    def _finish(self, X, y, groups, base, best_params, evaluated, folds, y_idx, log_prior, runner, cache_dir=None):
        """Refit the best on everything, calibrate, and fill the fitted attributes."""
        best = next(c for c in evaluated if c.params == best_params and len(c.ll) == len(folds))
        est = clone(base).set_params(**best_params, n_jobs=self.n_jobs)
        # the refit cross-fits like HMMClassifier.fit for its stream_threshold_; its rejection
        # threshold is then replaced by the one of the search's out-of-fold scores below
        with warnings.catch_warnings():
            # "open-set rejection is off" would be false here: its threshold comes from the search
            warnings.filterwarnings("ignore", message="open-set rejection is off", category=UserWarning)
            est._fit(X, y, groups, progress=runner.refit_progress(), cache_dir=cache_dir)
        est.set_params(n_jobs=self._base().n_jobs)  # (its prefix view's too: HMMClassifier.set_params)
        self.best_estimator_ = est
        self.best_params_ = dict(best_params)
        self.n_splits_ = len(folds)
        log_prior = np.log(est.class_prior_)
        full = [c for c in evaluated if len(c.ll) == len(folds)]
        y_oof = y_idx[np.sort(np.concatenate([test for _, test in folds]))]
        oof = [_out_of_fold(c, folds) for c in full]
        weights = (select_ensemble(oof, y_oof, log_prior, full.index(best)) if self.ensemble
                   else np.eye(len(full))[full.index(best)])
        members = [full.index(best)] + [i for i in np.flatnonzero(weights) if full[i] is not best]
        ll = sum(weights[i] * oof[i] for i in members)
        self.temperature_ = calibration.fit_temperature(ll, y_oof, log_prior) if self.calibrate else 1.0
        if est.rejection_rate > 0:
            # the open-set test of the class predict returns (the calibrated argmax of the pool)
            # with the best candidate's score
            ll_background = _out_of_fold(best, folds, background=True)
            pred = np.argmax(calibration.calibrated_log_proba(ll, log_prior, self.temperature_), axis=1)
            est.rejection_threshold_[:] = rejection_threshold(
                est._rejection_ratio(oof[members[0]], ll_background, pred), est.rejection_rate)
            est.likelihood_threshold_ = likelihood_threshold(est._point_log_likelihood(oof[members[0]], pred))
        self.ensemble_estimators_ = [est] + [self._refit_member(base, full[i].params, X, y, runner, cache_dir)
                                             for i in members[1:]]
        self.ensemble_weights_ = weights[members]
        self.ensemble_indices_ = np.array([evaluated.index(full[i]) for i in members])
        self.best_index_ = evaluated.index(best)
        self.cv_results_ = _cv_results(evaluated, folds, y_idx, log_prior, self.best_index_)
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])

    def _refit_member(self, base, params, X, y, runner, cache_dir):
        """One more member of the ensemble, refitted on all of (X, y): class models and the
        background model (a complete HMMClassifier), no open-set threshold (-inf)."""
        est = clone(base).set_params(**params, n_jobs=self.n_jobs)
        est._fit(X, y, progress=runner.member_progress(), cache_dir=cache_dir, rejection="background")
        return est.set_params(n_jobs=self._base().n_jobs)

    # ------------------------------------------------------------------ predict
    def _pooled_log_likelihoods(self, X, background=False):
        """``(ll, ll_best, ll_background)``: the pool's log p(x | class) (weighted mean over
        the members), the best model's own, and (when ``background``) its background
        model's (else None)."""
        check_is_fitted(self, "best_estimator_")
        members = getattr(self, "ensemble_estimators_", [self.best_estimator_])
        weights = getattr(self, "ensemble_weights_", np.ones(1))
        X = self._checked(X)
        best = members[0]
        ll_best, ll_background = best._scores(X, background=background)
        ll = weights[0] * ll_best
        for w, member in zip(weights[1:], members[1:]):
            ll = ll + w * member._scores(X)[0]
        return ll, ll_best, ll_background

    def _checked(self, X):
        """New trajectories as arrays, their column names checked against the fit's (the
        members, fitted on arrays, have none)."""
        check_is_fitted(self, "best_estimator_")
        _v.check_feature_names(self, X)
        return check_trajectories(X, n_dims=self.n_features_in_, dims_source="the model's training data")

    @property
    def classes_(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.n_features_in_

    def _log_proba_from_joint(self, jll):
        """Calibrated log-probabilities from the plain joint log-likelihoods."""
        log_prior = np.log(self.best_estimator_.class_prior_)
        return calibration.calibrated_log_proba(jll - log_prior, log_prior, self.temperature_)

    def __sklearn_tags__(self):
        """scikit-learn's estimator tags (scikit-learn >= 1.6): see :func:`trajectory_tags`."""
        return trajectory_tags(super().__sklearn_tags__())

    def transform(self, X):
        """The segments the class models see (see HMMClassifier.transform)."""
        X = self._checked(X)  # (fitted, column names)
        return self.best_estimator_.transform(X)

    def predict_joint_log_proba(self, X):
        """The pool's log p(x | class) + log prior (nats, not calibrated): the weighted mean
        of the members' log-likelihoods (the refitted model's own when it is alone)."""
        return self._pooled_log_likelihoods(X)[0] + np.log(self.best_estimator_.class_prior_)

    def predict_log_proba(self, X):
        """Calibrated posterior log-probabilities, shape (n_samples, n_classes)."""
        return self._log_proba_from_joint(self.predict_joint_log_proba(X))

    def predict_proba(self, X):
        """Calibrated posterior probabilities, shape (n_samples, n_classes)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The most probable class (argmax of :meth:`predict_proba`)."""
        return self.classes_[np.argmax(self.predict_log_proba(X), axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` (see HMMClassifier.score)."""
        return label_accuracy(self, X, y, sample_weight)

    def predict_prefix_log_proba(self, X):
        """The refitted model's :meth:`HMMClassifier.predict_prefix_log_proba` (beginnings
        of trajectories; not calibrated)."""
        X = self._checked(X)  # (fitted, column names)
        return self.best_estimator_.predict_prefix_log_proba(X)

    def predict_prefix_proba(self, X):
        """The exponential of :meth:`predict_prefix_log_proba`."""
        return np.exp(self.predict_prefix_log_proba(X))

    def predict_prefix(self, X):
        """The most likely class of each beginning of a trajectory."""
        return self.classes_[np.argmax(self.predict_prefix_log_proba(X), axis=1)]

    def predict_with_unknown(self, X):
        """``(jll, unknown)``: :meth:`predict_joint_log_proba` and :meth:`is_unknown` from
        one scoring pass; the open-set test is the refitted best model's
        (HMMClassifier.is_unknown) for the class :meth:`predict` returns."""
        ll, ll_best, ll_background = self._pooled_log_likelihoods(X, background=True)
        est = self.best_estimator_
        jll = ll + np.log(est.class_prior_)
        pred = np.argmax(self._log_proba_from_joint(jll), axis=1)
        return jll, est._unknown(ll_best, ll_background, pred)

    def bic(self, X, y):
        """The refitted model's BIC (see HMMClassifier.bic)."""
        X = self._checked(X)  # (fitted, column names)
        return self.best_estimator_.bic(X, y)

    def aic(self, X, y):
        """The refitted model's AIC (see HMMClassifier.aic)."""
        X = self._checked(X)  # (fitted, column names)
        return self.best_estimator_.aic(X, y)

    def is_unknown(self, X):
        """See HMMClassifier.is_unknown."""
        return self.predict_with_unknown(X)[1]

    def predict_or_reject(self, X, unknown="unknown"):
        """:meth:`predict`, with ``unknown`` where :meth:`is_unknown` is True."""
        check_unknown_label(unknown, self.classes_)
        jll, rejected = self.predict_with_unknown(X)
        return with_unknown(self.classes_[np.argmax(self._log_proba_from_joint(jll), axis=1)], rejected, unknown)


def _out_of_fold(cand, folds, background=False):
    """A fully evaluated candidate's out-of-fold log-likelihoods (:meth:`_Candidate.rows`)
    in the order of the rows."""
    rows, ll = cand.rows(folds, background)
    return ll[np.argsort(rows)]


# Ensemble selection: at most _ENSEMBLE_STEPS picks after the best candidate, each kept
# only when it lowers the calibrated out-of-fold log loss by more than _ENSEMBLE_TOL nats
# per trajectory. Not tuned; a longer selection (10 picks, any gain), checked by nested CV
# on the train splits, gained on two sets and lost on one (README, "Accuracy"): not kept.
_ENSEMBLE_STEPS = 5
_ENSEMBLE_TOL = 1e-4


def _pool_loss(oof, counts, scales, y_idx, log_prior):
    w = counts * scales
    ll = sum(w[i] * oof[i] for i in np.flatnonzero(w)) / w.sum()
    logp = calibration.calibrated_log_proba(ll, log_prior, calibration.fit_temperature(ll, y_idx, log_prior))
    return -logp[np.arange(len(y_idx)), y_idx].mean()


def select_ensemble(oof, y_idx, log_prior, first, steps=_ENSEMBLE_STEPS, tol=_ENSEMBLE_TOL):
    """Weights of a log-linear pool of candidates, by forward selection with replacement
    (Caruana et al., 2004) on out-of-fold scores.

    Parameters
    ----------
    oof : list of ndarray (n_samples, n_classes)
        Each candidate's out-of-fold log-likelihoods (rows in the same order).
    y_idx : ndarray of int (n_samples,)
    log_prior : ndarray (n_classes,)
    first : int
        The candidate the pool starts from (the search's best).
    steps, tol : the most picks after ``first``, and the least gain in calibrated log loss
        (nats per trajectory) a pick must bring.

    Returns
    -------
    weights : ndarray (n_candidates,)
        Non-negative, summing to 1: each candidate's count of picks over its own
        calibration temperature, normalised (zero for candidates never picked).

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=400)
    >>> truth = -2.0 * np.c_[y == 1, y == 0]                      # the true class 2 nats ahead
    >>> a, b = (truth + rng.randn(400, 2) for _ in range(2))       # two noisy views of it
    >>> w = select_ensemble([a, b, a], y, np.log([0.5, 0.5]), first=0)  # b adds evidence, a again does not
    >>> w.round(2).tolist(), float(w.sum())
    ([0.48, 0.52, 0.0], 1.0)
    """
    scales = np.array([1.0 / calibration.fit_temperature(ll, y_idx, log_prior) for ll in oof])
    counts = np.zeros(len(oof))
    counts[first] = 1
    loss = _pool_loss(oof, counts, scales, y_idx, log_prior)
    for _ in range(steps):
        trials = [(_pool_loss(oof, counts + np.eye(len(oof))[j], scales, y_idx, log_prior), j) for j in range(len(oof))]
        best_loss, j = min(trials)
        if best_loss > loss - tol:
            break
        counts[j] += 1
        loss = best_loss
    weights = counts * scales
    return weights / weights.sum()


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    return type(a) is type(b) and a == b


def _valid(params, builtin):
    if not builtin:
        return True
    try:
        validate_params(params)
    except ParameterError:
        return False
    return True


def _survivors(cands, folds, y_idx, log_prior):
    """The candidates of a stage that go on after the first fold: those within two
    standard errors of the best first-fold accuracy (at least two, at most half, best
    first), and always the incumbent (a candidate already evaluated on every fold), in
    grid order."""
    keys = [_rank_key(c, i, folds, y_idx, log_prior) for i, c in enumerate(cands)]
    order = sorted(range(len(cands)), key=keys.__getitem__)
    best, n_test = -keys[order[0]][0], len(folds[0][1])
    tolerance = 2 * max(math.sqrt(best * (1 - best) / n_test), 1 / n_test)
    close = [i for i in order if -keys[i][0] >= best - tolerance]
    keep = set(order[: min(max(2, len(close)), math.ceil(len(cands) / 2))])
    keep.update(i for i, c in enumerate(cands) if len(c.ll) == len(folds))
    return [cands[i] for i in sorted(keep)]


def _rank_key(cand, index, folds, y_idx, log_prior):
    """Higher accuracy, then lower calibrated log loss, then earlier in the grid."""
    acc, loss = cand.summary(folds, y_idx, log_prior)
    return (-acc, round(loss, 12), index)


class _Runner:
    """Runs (candidate, fold) fits as joblib tasks and reports progress. Each task's
    result is kept by its candidate, so finished work is never redone."""

    def __init__(self, X, y, folds, n_jobs, progress, stages, refit_runs):
        self.X, self.y, self.folds, self.n_jobs, self.progress = X, y, folds, n_jobs, progress
        self.done, self.cache, self.hits = 0, None, 0
        self.refit_runs = refit_runs
        self.total = sum(_planned(stage, len(folds)) for stage in stages) + refit_runs

    def run(self, cands, fold_ids, base, stage):
        """Fit every (candidate, fold) of ``cands`` x ``fold_ids`` not done yet: from
        the cache when it holds them, else as joblib tasks whose results are cached as
        they arrive (in any order: the decisions wait for the whole round)."""
        todo = [(c, f, _fold_params(base, c.params)) for c in cands for f in fold_ids if f not in c.ll]
        keys = [self.cache.key(params, self.folds[f]) if self.cache else None for _, f, params in todo]
        missing = []
        for i, (cand, f, _) in enumerate(todo):
            hit = self.cache.get(keys[i]) if self.cache else None
            if hit is None:
                missing.append(i)
            else:
                self.hits += 1
                self._done(cand, f, *hit, stage)
        tasks = (delayed(_fold_fit)(i, todo[i][2], [self.X[j] for j in self.folds[todo[i][1]][0]],
                                    self.y[self.folds[todo[i][1]][0]], [self.X[j] for j in self.folds[todo[i][1]][1]])
                 for i in missing)
        if missing:
            stream = launch(bounded_jobs(self.n_jobs, len(missing)), tasks, unordered=True)
            with _cancelled_when_left(stream):  # an interrupt cancels the fits not finished yet
                for i, ll, seconds in stream:
                    if self.cache:
                        self.cache.put(keys[i], ll, seconds)
                    self._done(todo[i][0], todo[i][1], ll, seconds, stage)

    def _done(self, cand, fold, ll, seconds, stage):
        cand.ll[fold], cand.ll_background[fold], cand.seconds[fold] = ll[:, :-1], ll[:, -1], seconds
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, {"stage": stage, "params": cand.params, "fold": fold})

    def member_progress(self):
        """The ``progress`` of a refit of an ensemble member: its runs count after
        everything reported so far, raising the total."""
        if self.progress is None:
            return None
        start = self.total

        def report(done, total, info):
            self.total = max(self.total, start + total)
            self.progress(start + done, self.total, {**info, "stage": "ensemble"})
        return report

    def refit_progress(self):
        """The refit's ``progress``: its runs (the cross-fitting's included) count from
        where the plan put them; a refit with more runs than planned raises the total."""
        if self.progress is None:
            return None
        start = self.total - self.refit_runs

        def report(done, total, info):
            self.total = max(self.total, start + total)
            self.progress(start + done, self.total, {**info, "stage": "refit"})
        return report


def _refit_runs(base, y_idx, groups=None):
    """The EM runs the final refit plans: every class x restart and the background model,
    again for each cross-fitting fold when the rejection is on (HMMClassifier.fit). The
    prefix view's runs, last, join the total when they start, as in HMMClassifier.fit:
    whether it is fitted depends on the chosen candidate and on the view's data."""
    runs = (int(y_idx.max()) + 1) * base.n_init + 1
    folds = rejection_folds(y_idx, groups) if base.rejection_rate > 0 else 0
    return runs * (1 + folds)


# The fold fits of the search are cheaper than the refit: EM stops at a relative gain of
# _SEARCH_TOL (unless the estimator's tol is larger), and each class contributes at most
# _SEARCH_MAX_PER_CLASS training trajectories per fold (a fixed subsample). Chosen on the
# development data (train splits only); the nested-CV figures of the README were measured
# with these values.
_SEARCH_TOL = 3e-3
_SEARCH_MAX_PER_CLASS = 150


def _fold_params(base, params):
    out = {**base.get_params(), **params}
    out["tol"] = max(out["tol"], _SEARCH_TOL)
    return out


def _capped(folds, y_idx, seed):
    """The folds with each class's training part cut to _SEARCH_MAX_PER_CLASS (a seeded
    random subset, sorted); test parts unchanged."""
    rng = np.random.RandomState(0 if seed is None else seed)
    out = []
    for train, test in folds:
        keep = [rng.permutation(train[y_idx[train] == k])[:_SEARCH_MAX_PER_CLASS] for k in np.unique(y_idx[train])]
        out.append((np.sort(np.concatenate(keep)), test))
    return out


class _FoldCache:
    """Out-of-fold log-likelihoods of finished (candidate, fold) fits on disk."""

    def __init__(self, directory, X, y_idx, classes):
        from .persistence import library_versions

        self.cache = FitCache(directory)
        self.data = fingerprint(X, y_idx, [repr(c) for c in classes.tolist()])
        self.versions = library_versions()

    def key(self, params, fold):
        # "/2": the entries hold the background model's column too
        return fingerprint("trajhmm-cv-fold/2", self.data, fold[0], fold[1], _plain(params), self.versions)

    def get(self, key):
        hit = self.cache.get(key)
        if hit is None or set(hit) != {"ll", "seconds"} or hit["seconds"].shape != (1,):
            return None
        return hit["ll"], float(hit["seconds"][0])

    def put(self, key, ll, seconds):
        self.cache.put(key, {"ll": ll, "seconds": np.array([seconds])})


def _plain(params):
    """Parameters as fingerprint takes them (numpy scalars and RandomState made plain)."""
    out = {}
    for k, v in params.items():
        if isinstance(v, np.random.RandomState):
            v = repr(v.get_state()[1].tobytes())
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def _planned(stage, n_folds):
    """The (candidate, fold) fits a stage plans at most (before duplicates are reused)."""
    n = sum(len(ParameterGrid(part)) for part in _grid_parts(stage[1]))
    return n * n_folds if n <= 3 or n_folds == 1 else n + (math.ceil(n / 2) + 1) * (n_folds - 1)


def param_columns(params):
    """scikit-learn's ``param_<name>`` columns of cv_results_ for a list of parameter
    dicts: masked arrays; ints, floats (ints among floats as floats) and bools in their
    own dtype, anything else as objects."""
    out = {}
    for name in sorted({k for p in params for k in p}):
        col = np.ma.masked_all(len(params), dtype=object)
        for i, p in enumerate(params):
            if name in p:
                col[i] = p[name]
        kinds = {type(v) for v in col.tolist()}
        if not np.ma.is_masked(col) and kinds and (kinds <= {int, float} or kinds == {bool}):
            dtype = bool if kinds == {bool} else float if float in kinds else int
            col = np.ma.MaskedArray(np.array(col.tolist(), dtype=dtype), mask=np.zeros(len(params), dtype=bool))
        out[f"param_{name}"] = col
    return out


def _cv_results(evaluated, folds, y_idx, log_prior, best):
    """scikit-learn's cv_results_ layout over every evaluated candidate (``best``: the
    index of the chosen one)."""
    n, k = len(evaluated), len(folds)
    split = np.full((n, k), np.nan)
    for i, cand in enumerate(evaluated):
        for f, acc in cand.fold_accuracy(folds, y_idx).items():
            split[i, f] = acc
    summaries = [cand.summary(folds, y_idx, log_prior) for cand in evaluated]
    n_folds = np.array([len(c.ll) for c in evaluated])
    mean = np.nanmean(split, axis=1)
    # the search's own order (accuracy, then calibrated log loss), the chosen candidate
    # first: rank 1 is best_index_, and no two candidates share a rank
    order = sorted(range(n), key=lambda i: (i != best, -n_folds[i], -summaries[i][0], summaries[i][1], i))
    rank = np.empty(n, np.int32)  # scikit-learn's dtype
    rank[order] = np.arange(1, n + 1)
    seconds = [np.array(list(c.seconds.values())) for c in evaluated]
    out = {"params": [dict(c.params) for c in evaluated], **param_columns([c.params for c in evaluated])}
    for f in range(k):
        out[f"split{f}_test_score"] = split[:, f]
    spread = np.where(n_folds > 1, np.nanstd(split, axis=1), np.nan)  # one fold has no spread
    out.update(mean_test_score=mean, std_test_score=spread, rank_test_score=rank,
               mean_fit_time=np.array([s.mean() for s in seconds]), std_fit_time=np.array([s.std() for s in seconds]),
               mean_test_log_loss=np.array([s[1] for s in summaries]), n_folds=n_folds,
               stage=np.array([c.stage for c in evaluated]))
    return out


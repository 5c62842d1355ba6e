"""HMMClassifier: one hidden Markov model per class, the class with the highest
log-likelihood plus log prior wins.

The decision rule, in four steps:

1. every trajectory (n_points_i, n_dims) is resampled to ``n_points`` points and turned
   into features (optional translation / scaling, time derivatives, standardisation
   fitted on the training data): :meth:`HMMClassifier.transform`;
2. for each class c, one HMM (Gaussian emissions for ``n_mix=1``, Gaussian mixtures
   otherwise) is trained with EM on that class's segments: ``models_[c]``;
3. a new trajectory x scores ``jll[c] = log p(x | models_[c]) + log class_prior_[c]``:
   :meth:`HMMClassifier.predict_joint_log_proba`;
4. ``predict`` is the argmax of jll, ``predict_log_proba`` is ``jll - logsumexp(jll)``.
"""

import contextlib
import dataclasses
import logging
import warnings

import numpy as np
from joblib import delayed, effective_n_jobs
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import hmm as _hmm
from . import preprocessing, streaming
from ._cache import FitCache, fingerprint
from ._parallel import bounded_jobs, launch, one_blas_thread, runs_in_process
from ._params import PARAMS, validate_params
from ._validation import (
    SCALE_RANGE,
    TOO_LARGE,
    check_feature_names,
    check_finite_rows,
    check_groups,
    check_labels,
    check_trajectories,
    check_unknown_label,
    feature_names,
    plain_value,
    set_feature_names,
    smallest_class,
    too_large_error,
    user_stacklevel,
    warn_if_transposed,
    with_unknown,
)
from .exceptions import ConvergenceWarning, DataError, ParameterTypeError, ParameterValueError

__all__ = ["HMMClassifier"]

logger = logging.getLogger(__name__)

_SCORE_CHUNK = 8192
# predict* turn raw trajectories into segments this many at a time (a multiple of
# _SCORE_CHUNK, so the scoring chunks are those of one whole pass): the segments take
# n_points x features floats each, about 2.4 KB for 3-D data with the defaults, and a
# batch of a million trajectories must not hold them all (with the intermediate arrays,
# about three times that) at once.
_TRANSFORM_CHUNK = 2 * _SCORE_CHUNK
# Open-set rejection: the background model is trained on at most this many segments; the
# threshold is the rejection_rate quantile of out-of-fold scores from _REJECTION_FOLDS
# folds, more (up to _REJECTION_MAX_FOLDS) on small data, as many as a budget of
# _REJECTION_BUDGET trajectories fitted by the folds allows (rejection_folds; README,
# "Open-set rejection": chosen on the train splits of ../shared/data).
_BACKGROUND_MAX_SEGMENTS = 400
_REJECTION_FOLDS = 3
_REJECTION_MAX_FOLDS = 10
_REJECTION_BUDGET = 3000
# The second open-set test, for input outside anything the classes were trained on: a
# trajectory whose per-point log-likelihood under its predicted class's model lies below
# Tukey's far-out fence of the out-of-fold ones (first quartile minus this many
# interquartile ranges, and never above their minimum) is unknown (likelihood_threshold;
# README, "Open-set rejection": the convention's 3, checked on the train splits).
_FAR_OUT_IQR = 3.0


def rejection_folds(y_idx, groups=None):
    """The number of cross-fitting folds of the open-set threshold for the class indices
    ``y_idx`` (and ``groups``, one per trajectory, or None): 3, or more on small data,
    where fold models trained on two thirds of it score the held-out trajectories far
    lower than the final model scores new ones (the threshold came out too lax):
    ``_REJECTION_BUDGET // n_samples`` folds, between 3 and 10, so that the folds fit
    about ``_REJECTION_BUDGET`` trajectories at most (2 x n_samples above that). At most
    the smallest class's size (each fold holds out one of its trajectories) and the
    number of groups (a group stays on one side); below 2, there is no cross-fitting (0)."""
    y_idx = np.asarray(y_idx)
    k = min(max(_REJECTION_FOLDS, _REJECTION_BUDGET // max(len(y_idx), 1)), _REJECTION_MAX_FOLDS)
    k = min(k, int(np.bincount(y_idx).min()))
    if groups is not None and len(groups) == len(y_idx):  # no group on both sides of a fold
        k = min(k, len(np.unique(np.asarray(groups))))
    return k if k >= 2 else 0


# The parameters that say how trajectories are read: set after fit, predict refuses (the
# fitted models read them as at fit).
_READ_AS_FITTED = ("n_points", "resample", "time_column", "translation", "scaling", "derivatives")


def label_accuracy(model, X, y, sample_weight=None):
    """``accuracy_score(y, model.predict(X))``, with bytes labels decoded as ``fit`` decodes
    them (scikit-learn's metrics refuse bytes)."""
    from sklearn.metrics import accuracy_score

    y = np.asarray(y)
    if y.dtype.kind == "S" or (y.dtype == object and any(isinstance(v, bytes) for v in y.ravel())):
        y = check_labels(y, len(y))
    return accuracy_score(y, model.predict(X), sample_weight=sample_weight)


def stratified_folds(y_idx, n_splits, groups=None, random_state=None):
    """``[(train, test), ...]`` index pairs, stratified by class; with ``groups`` (subjects,
    sessions) no group is on both sides of a split. The one place both the model search
    and the rejection's cross-fitting cut their folds."""
    if groups is None:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    else:
        groups = np.asarray(groups)  # checked by fit (check_groups)
        n_groups = len(np.unique(groups))
        if n_groups < n_splits:
            raise DataError(f"groups: {n_splits} folds need at least {n_splits} groups, got {n_groups}; use fewer "
                            "folds (cv=, --cv) or more groups")
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only k members"
        return [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(np.zeros(len(y_idx)), y_idx, groups)]


class _RunProgress:
    """Progress of fit's EM runs: ``progress(done, total, info)`` once per finished run,
    in order, and, when ``live`` (the runs happen in this process one at a time), after
    every EM iteration too; a callback cannot follow a run into another process or onto a
    cluster."""

    def __init__(self, progress, total, live):
        self.progress, self.total, self.live, self.done = progress, total, live, 0

    def on_iteration(self, label, restart):
        """The per-iteration callback of one run, or None when not live."""
        if not self.live:
            return None

        def report(iteration, log_likelihood):
            self.progress(self.done, self.total, {"label": label, "restart": restart, "iteration": iteration,
                                                  "log_likelihood": log_likelihood})
        return report

    def finished(self, label, restart, run):
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, {"label": label, "restart": restart, "log_likelihood": run.log_likelihood,
                                                  "n_iter": run.n_iter, "converged": run.converged})
        return run

    def report_ready(self, runs, results):
        """Report, in order, every finished run (``results[i]`` not None) not reported yet
        whose predecessors are all reported: runs may finish in any order."""
        while self.done < len(results) and results[self.done] is not None:
            label, restart = runs[self.done][:2]
            self.finished(label, restart, results[self.done])


def _counted(progress):
    """``(report, last)``: ``progress`` wrapped to remember the last ``done`` it was
    given, and a function returning it (0 before any report, and without ``progress``)."""
    if progress is None:
        return None, lambda: 0
    last = [0]

    def report(done, total, info):
        last[0] = done
        progress(done, total, info)

    return report, lambda: last[0]


@contextlib.contextmanager
def _cancelled_when_left(stream):
    """Close a joblib result generator on leaving the block, so an interrupted fit cancels
    the runs not finished yet (without joblib's advice about unused tasks: the tasks are
    unused because the user stopped)."""
    try:
        yield stream
    finally:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".* tasks .*(successfully executed|cancelled)", category=UserWarning)
            stream.close()


def _indexed_fit_hmm(index, *args):
    """``(index, fit_hmm(*args))``: one EM run and its place among fit's runs (they finish
    in any order). The name keeps "fit_hmm" in the task names a Dask dashboard shows.
    BLAS on one thread: the same sums whatever n_jobs (:func:`trajhmm._parallel.one_blas_thread`)."""
    with one_blas_thread():
        return index, _hmm.fit_hmm(*args)


class _RunCache:
    """fit's finished EM runs on disk (a :class:`trajhmm._cache.FitCache`), one entry per
    run. The key is everything a run's result depends on: the segments it trains on, the
    model configuration, the covariance floor, its seed and the library versions; an entry
    holds the model's arrays, the log-likelihood history and whether it converged."""

    _MODEL = "model_"

    def __init__(self, directory, config, floor):
        from .persistence import library_versions  # persistence imports this module

        self.store, self.config, self.floor = FitCache(directory), config, floor
        self.versions = library_versions()

    def key(self, data, seed):
        fields = {name: plain_value(value) for name, value in dataclasses.asdict(self.config).items()}
        return fingerprint("trajhmm-fit-run", data, fields, self.floor, int(seed), self.versions)

    def get(self, key, n_features):
        """The cached :class:`FitResult` of ``key``, or None."""
        arrays = self.store.get(key)
        if arrays is None:
            return None
        model = {name[len(self._MODEL):]: a for name, a in arrays.items() if name.startswith(self._MODEL)}
        try:
            history, converged, n_iter = arrays["history"], arrays["converged"], int(arrays["n_iter"])
            if history.ndim != 1 or len(history) != n_iter:
                return None
            return _hmm.restore_fit(self.config, model, n_features, history, bool(converged))
        except (KeyError, TypeError, ValueError):  # an entry of another layout: a miss
            return None

    def put(self, key, run):
        arrays = {self._MODEL + name: a for name, a in _hmm.model_arrays(run.model).items()}
        self.store.put(key, {**arrays, "history": np.asarray(run.history, dtype=float),
                             "converged": np.bool_(run.converged), "n_iter": np.int64(run.n_iter)})


def trajectory_tags(tags):
    """The estimator tags of a trajectory classifier: ``X`` is a list of (n_points, n_dims)
    arrays or one 3-D array, never one 2-D array (so scikit-learn's ``check_estimator``,
    whose checks feed 2-D arrays, skips it with a warning instead of failing on them), and
    ``transform`` (the segments the class models see) makes it a transformer too."""
    from sklearn.utils import TransformerTags

    tags.input_tags.two_d_array = False
    tags.input_tags.three_d_array = True
    tags.transformer_tags = TransformerTags(preserves_dtype=["float64"])
    return tags


def _some(values, n=5):
    """The first ``n`` values for a message, '...' for the rest."""
    return ", ".join(map(repr, values[:n])) + (", ..." if len(values) > n else "")


def _chunk_log_likelihoods(models, segs, stack):
    """:func:`trajhmm.hmm.stacked_log_likelihoods`, quietly (in a worker too): non-finite
    scores are refused by the caller, naming the trajectory, not warned about by numpy."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _hmm.stacked_log_likelihoods(models, segs, stack)


def _worker_log_likelihoods(models, segs, stack):
    """:func:`_chunk_log_likelihoods` in a worker process, BLAS on one thread as in fit (in
    this process, scoring leaves the BLAS threads alone: an application may score from
    several threads at once)."""
    with one_blas_thread():
        return _chunk_log_likelihoods(models, segs, stack)


class HMMClassifier(ClassifierMixin, BaseEstimator):
    """Classify trajectories with one hidden Markov model per class.

    Parameters
    ----------
    n_states : int, default=12
        Hidden states per class model.
    n_mix : int, default=1
        Gaussians per state: 1 gives a Gaussian HMM, more a Gaussian-mixture HMM.
    covariance_type : {"full", "diag", "spherical", "tied"}, default="full"
    topology : {"left-right", "ergodic"}, default="left-right"
        "left-right" (Bakis): start in the first state, move only to the same or a later
        state. Trajectories that run from a start to a target are left-right processes,
        and this topology is both more accurate and cheaper to train on them.
        "ergodic": any state can follow any state.
    max_jump : int or None, default=None
        Left-right only: the largest forward jump (1 allows only the next state);
        None allows any later state.
    n_points : int, default=50
        Every trajectory is resampled to this many points.
    resample : {"time", "arclength"}, default="time"
        Resampling evenly in time (keeps the speed profile) or along the path
        (speed-invariant). See :func:`trajhmm.preprocessing.resample`. "time" means the
        time stamps when ``time_column`` names them, the sample index otherwise.
    time_column : int or None, default=None
        The column of every trajectory that holds its time stamps (strictly increasing,
        any unit and origin), or None when there are none. The time column is never a
        feature: it places the resampled points evenly in real time (irregular sampling,
        gaps). The readers put the time stamps first when given ``time_column=``, so a
        data set read with one is fitted with ``time_column=0``
        (``HMMClassifier(time_column=ds.time_column)``). The trajectories stay plain
        arrays, so Pipeline, GridSearchCV and cross_val_score work unchanged.
    translation : {"none", "start", "end", "center"}, default="none"
        Per-trajectory translation applied after resampling.
    scaling : {"none", "path_length", "std"}, default="none"
        Per-trajectory scaling applied after translation.
    derivatives : int, default=1
        Number of time derivatives appended as features (1: velocity).
    standardize : bool, default=True
        Standardise every feature with the mean and standard deviation of the training
        points (fitted in ``fit``, stored as ``feature_mean_`` / ``feature_scale_``).
    reg_covar : float, default=3e-2
        Covariance floor held after every M-step: every covariance is kept above
        ``diag(reg_covar * var_d)``, ``var_d`` each feature's variance over all training
        points (clipped, not added: EM stays monotone; see README, "Robust EM").
    n_iter : int, default=100
        Maximum EM iterations per model.
    tol : float, default=1e-3
        EM stops when the relative gain in training log-likelihood falls below ``tol``.
    n_init : int, default=1
        EM restarts per class with different seeds; the run with the best training
        log-likelihood is kept. Seeds change the start of ergodic models (k-means) and of
        mixtures (``n_mix`` > 1) only: a left-right Gaussian model starts from the uniform
        segmentation in time, so its restarts repeat the same fit.
    priors : {"uniform", "empirical"} or array-like of shape (n_classes,), default="uniform"
        Class priors: equal, the training class frequencies, or given (aligned with the
        sorted class labels, normalised to sum to 1).
    rejection_rate : float, default=0.01
        Open-set rejection (see :meth:`is_unknown`): the fraction of known-class
        trajectories one accepts to see rejected. The threshold is this quantile of
        out-of-fold scores: :meth:`fit` cross-fits 3 folds (stratified; by ``groups``
        when given) on top of the model itself, about twice the cost of the fit; on small
        data up to 10 folds (about 3000 trajectories fitted by the folds at most:
        :func:`rejection_folds`). 0 turns rejection off (no cross-fitting; nothing is ever
        unknown); at most 0.5.
    prefix_view : bool, default=True
        Also fit a second set of class models on one more time derivative
        (``derivatives + 1``; ``prefix_model_``) for early answers:
        :meth:`predict_prefix` and ``predict_prefix_proba`` average the evidence of both
        sets, which tells apart beginnings that the first derivatives alone confuse. One
        more fit of the class models (and of a background model); nothing else uses it.
        Not fitted when ``derivatives`` is 3 (the most) or ``time_column`` is set
        (prefixes refuse time stamps). False: prefixes read the class models alone.
    random_state : int, RandomState or None, default=None
        Seeds every initialisation. All per-task seeds are drawn before work is handed to
        joblib, so results do not depend on ``n_jobs``.
    n_jobs : int or None, default=None
        Parallel jobs over classes x restarts (joblib semantics; None means 1).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    models_ : list of hmmlearn models
        One fitted ``hmmlearn.hmm.GaussianHMM`` (or ``GMMHMM``) per class, aligned with
        ``classes_``. They see the output of :meth:`transform`.
    class_prior_ : ndarray of shape (n_classes,)
    class_count_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Number of columns of the input trajectories (the time column included).
    feature_names_in_ : ndarray of str (object)
        The column names of the trajectories, when ``fit`` was given DataFrames with string
        column names (the same for every trajectory); the predict methods check new
        DataFrames against them. Absent after a fit on arrays.
    n_model_features_ : int
        Number of features the class models see.
    feature_mask_ : ndarray of bool
        Which of the resampled features (dims, then derivatives) the models see: features
        constant over all training points are dropped.
    feature_mean_, feature_scale_ : ndarray
        Standardisation of each resampled feature (before the mask).
    converged_ : ndarray of bool, shape (n_classes,)
    n_iter_ : ndarray of int, shape (n_classes,)
    log_likelihood_history_ : list of ndarray
        Per class, the training log-likelihood at every EM iteration of the kept run.
    class_length_quantiles_ : ndarray of shape (n_classes, 5)
        Per class, the quantiles 0, 0.05, 0.5, 0.95 and 1 of the number of points of its
        training trajectories: the durations that bound the windows of
        :class:`~trajhmm.StreamClassifier` and set the reading of prefixes.
    motion_scale_ : ndarray of shape (n_dims,)
        The standard deviation of each coordinate over all resampled training points (1
        where it is 0): the units of :func:`trajhmm.streaming.motion`.
    class_motion_quantiles_ : ndarray of shape (n_classes, 5)
        Per class, the quantiles (0, 0.05, 0.5, 0.95, 1) of how much its resampled training
        trajectories move; streams skip windows that move less than half the least
        (``trajhmm.streaming``, "Still windows").
    class_part_motion_ : ndarray of shape (n_classes, 3)
        Per class, the least motion of the first, middle and last third of its resampled
        training trajectories; streams skip windows of which a third moves less than half
        that (a window half in a pause).
    class_end_states_ : ndarray of shape (n_classes, n_states)
        Per class, where its training segments end: the posterior probability of each
        state at their last point, averaged over them. :class:`~trajhmm.StreamClassifier`
        scores a window as a whole gesture of the class only when it ends in the state where
        most of them end (a pause or the first part of a gesture does not). Prefixes end
        anywhere.
    covariance_floor_ : ndarray of shape (n_model_features_,)
    background_model_ : hmmlearn model
        One HMM trained on the segments of all classes pooled (a subsample of at most 400),
        the reference of open-set rejection.
    rejection_threshold_ : ndarray of shape (n_classes,)
        Thresholds of open-set rejection on the per-point log-likelihood ratio between
        the class model and the background model: one pooled value for every class
        (model files of format 1 and 2 hold per-class thresholds of the earlier rule).
    likelihood_threshold_ : float
        The far-out test of open-set rejection: a trajectory whose per-point log-likelihood
        under its predicted class's model is below it is unknown (Tukey's far-out fence of
        the cross-fitting's out-of-fold values, at most their minimum; see
        :meth:`is_unknown`). -inf when rejection is off (as ``rejection_threshold_``);
        absent from models loaded from files of format 11 or older (no far-out test).
    stream_threshold_ : float
        The default ``threshold`` of :class:`~trajhmm.StreamClassifier`: the 0.3 quantile
        of the stream ratios (per point, to the reference) of the training trajectories
        to their own class under the cross-fitting's fold models, at most -0.5 (module
        :mod:`trajhmm.streaming`, "The threshold"). NaN when there was no cross-fitting
        (``rejection_rate=0``, too few trajectories, a fold that could not be fitted) or
        the model has a ``time_column``; streams then use -0.5.
    prefix_model_ : HMMClassifier
        With ``prefix_view``: the second set of class models, an HMMClassifier with the
        same parameters but ``derivatives + 1`` (and ``prefix_view=False``), fitted on the
        same data (class and background models; it rejects nothing). Only the prefix
        methods use it; absent when it was not fitted (see ``prefix_view``).

    Examples
    --------
    >>> import numpy as np
    >>> from trajhmm import HMMClassifier
    >>> rng = np.random.RandomState(0)
    >>> t = np.linspace(0, 1, 80)[:, None]
    >>> X = [np.hstack([t, (-1) ** k * t ** 2]) + 0.01 * rng.randn(80, 2) for k in range(20)]
    >>> y = ["up" if k % 2 == 0 else "down" for k in range(20)]
    >>> clf = HMMClassifier(n_states=3, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).tolist()
    ['up', 'down']
    """

    def __init__(
        self,
        n_states=12,
        n_mix=1,
        covariance_type="full",
        topology="left-right",
        max_jump=None,
        n_points=50,
        resample="time",
        time_column=None,
        translation="none",
        scaling="none",
        derivatives=1,
        standardize=True,
        reg_covar=3e-2,
        n_iter=100,
        tol=1e-3,
        n_init=1,
        priors="uniform",
        rejection_rate=0.01,
        prefix_view=True,
        random_state=None,
        n_jobs=None,
    ):
        self.n_states = n_states
        self.n_mix = n_mix
        self.covariance_type = covariance_type
        self.topology = topology
        self.max_jump = max_jump
        self.n_points = n_points
        self.resample = resample
        self.time_column = time_column
        self.translation = translation
        self.scaling = scaling
        self.derivatives = derivatives
        self.standardize = standardize
        self.reg_covar = reg_covar
        self.n_iter = n_iter
        self.tol = tol
        self.n_init = n_init
        self.priors = priors
        self.rejection_rate = rejection_rate
        self.prefix_view = prefix_view
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ validation
    def __setstate__(self, state):
        state.setdefault("prefix_view", False)  # pickled before prefix views: it has none
        super().__setstate__(state)

    def _check_params(self):
        """Every parameter against its one declaration (trajhmm._params.PARAMS)."""
        validate_params(self.get_params(deep=False))

    def _config(self):
        return _hmm.HMMConfig(
            n_states=self.n_states,
            n_mix=self.n_mix,
            covariance_type=self.covariance_type,
            topology=self.topology,
            max_jump=self.max_jump,
            n_iter=self.n_iter,
            tol=self.tol,
        )

    def _class_prior(self, counts):
        if isinstance(self.priors, str):
            if self.priors == "uniform":
                return np.full(len(counts), 1.0 / len(counts))
            return counts / counts.sum()
        expected = (f"'uniform', 'empirical' or {len(counts)} positive numbers (one per class, in the order of "
                    "classes_)")
        try:
            p = np.asarray(self.priors, dtype=float)
        except (TypeError, ValueError):
            raise ParameterTypeError("priors", expected, repr(self.priors)[:80]) from None
        if p.shape != counts.shape or not np.isfinite(p).all() or (p <= 0).any():
            raise ParameterValueError("priors", expected, repr(self.priors)[:80])
        return p / p.sum()

    # ------------------------------------------------------------------ features
    def _resampled(self, X, warn=False):
        """The raw trajectories (time column taken out) resampled to ``n_points`` (as
        streams resample their windows); an overflow is refused once the features are made.
        ``warn``: the user's own fit (not a fold's), warned about dims x time arrays."""
        trajectories = check_trajectories(X, dims_source="the training data")
        if warn:
            warn_if_transposed(trajectories)
        trajectories, times = self._split_times(trajectories)
        with np.errstate(over="ignore", invalid="ignore"):
            return preprocessing.resample_all(trajectories, self.n_points, self.resample, times)

    def _shaped_finite(self, raw):
        """:meth:`_shaped`, refusing non-finite values (naming the trajectory)."""
        with np.errstate(over="ignore", invalid="ignore"):
            segs = self._shaped(raw)
        check_finite_rows(segs)
        return segs

    def _shaped(self, segs):
        """Resampled segments (n, n_points, n_dims) translated, scaled, with derivatives."""
        segs = preprocessing.translate(segs, self.translation)
        segs = preprocessing.scale(segs, self.scaling)
        return preprocessing.add_derivatives(segs, self.derivatives)

    def _standardized(self, segs):
        """Shaped segments -> what the class models see (the fitted standardisation and mask)."""
        with np.errstate(over="ignore", invalid="ignore"):
            segs = ((segs - self.feature_mean_) / self.feature_scale_)[:, :, self.feature_mask_]
        check_finite_rows(segs)
        return segs

    def _split_times(self, trajectories):
        """``(coordinates, times)``: the time column taken out of every trajectory and
        checked (None when there is none)."""
        c = self.time_column
        if c is None:
            return trajectories, None
        width = trajectories[0].shape[1]
        if c >= width or width < 2:
            raise DataError(f"time_column: expected the index of a column of X besides at least one coordinate, "
                            f"got {c} for trajectories of {width} columns")
        times = []
        for i, t in enumerate(trajectories):
            try:
                times.append(preprocessing.check_times(t[:, c], len(t), name=f"time column {c}"))
            except ValueError as exc:  # X[i]: ..., with .index: a caller that knows the file names it
                raise too_large_error(i, str(exc)) from None
        return [np.delete(t, c, axis=1) for t in trajectories], times

    def __sklearn_tags__(self):
        """scikit-learn's estimator tags (scikit-learn >= 1.6): see :func:`trajectory_tags`."""
        return trajectory_tags(super().__sklearn_tags__())

    def transform(self, X):
        """The segments the class models see.

        Parameters
        ----------
        X : sequence of array-like (n_points_i, n_dims) or array (n_samples, n_points, n_dims)

        Returns
        -------
        segments : ndarray of shape (n_samples, n_points, n_model_features_)
            ``models_[k].score(clf.transform([x])[0]) + log(class_prior_[k])`` equals
            ``predict_joint_log_proba([x])[0, k]``.
        """
        check_is_fitted(self, "models_")
        return self._segments(*self._inputs(X))

    def _inputs(self, X):
        """``(coordinates, times)`` of new trajectories, checked against the model (and the
        model's reading parameters against those of its fit)."""
        self._check_read_as_fitted()
        checked = check_trajectories(X, n_dims=self.n_features_in_, dims_source="the training data")
        check_feature_names(self, X)  # (after: X that is no sequence of trajectories is refused without a warning)
        trajectories, times = self._split_times(checked)
        self._check_magnitude(trajectories)
        return trajectories, times

    def _check_magnitude(self, trajectories):
        """A size-invariant model (``scaling`` other than "none") refuses values more than
        ``SCALE_RANGE[1]`` times the training data's largest spread (``motion_scale_``), as
        the other models do (their scores overflow) and as prefixes and streams do: the
        spread of such a trajectory overflows, and it was read, silently, as one that does
        not move. The error names the trajectory (``index``: a caller names its file)."""
        scale = getattr(self, "motion_scale_", None)
        if self.scaling == "none" or scale is None or not np.size(scale):
            return
        limit = SCALE_RANGE[1] * float(np.max(scale))
        for i, t in enumerate(trajectories):
            top = float(np.max(np.abs(t))) if t.size else 0.0
            if top > limit:
                raise too_large_error(i, f"expected values within {SCALE_RANGE[1]:g} times the spread of the "
                                         f"training data, got {top:.3g}: its spread overflows")

    def _segments(self, trajectories, times):
        """Checked trajectories (:meth:`_inputs`) -> what the class models see."""
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite feature is refused once, below
            raw = preprocessing.resample_all(trajectories, self.n_points, self.resample, times)
            return self._standardized(self._shaped(raw))

    def _scores(self, X, background=False):
        """:meth:`_log_likelihoods` of ``transform(X)``, made :data:`_TRANSFORM_CHUNK`
        trajectories at a time (or one scoring chunk per parallel worker, when there are
        more workers) so that memory does not grow with the batch (the same numbers: the
        scoring chunks are the same)."""
        check_is_fitted(self, "models_")
        trajectories, times = self._inputs(X)
        workers = 1 if runs_in_process(self.n_jobs) else effective_n_jobs(bounded_jobs(self.n_jobs))
        block = _SCORE_CHUNK * max(_TRANSFORM_CHUNK // _SCORE_CHUNK, workers)
        parts = []
        for start in range(0, len(trajectories), block):
            part = slice(start, start + block)
            try:
                segs = self._segments(trajectories[part], None if times is None else times[part])
                parts.append(self._log_likelihoods(segs, background))
            except DataError as exc:  # a row too large for the model: named by its place in X
                if getattr(exc, "index", None) is None or not start:
                    raise
                raise too_large_error(exc.index + start, exc.reason) from None
        ll = np.concatenate([p[0] for p in parts])
        return ll, (np.concatenate([p[1] for p in parts]) if background else None)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, groups=None, *, progress=None, cache_dir=None):
        """Train one HMM per class, the background model, the rejection threshold and the
        prefix view (``prefix_view``).

        Parameters
        ----------
        X : sequence of array-like (n_points_i, n_dims) or array (n_samples, n_points, n_dims)
            Trajectories of any lengths (at least 2 points each).
        y : array-like of shape (n_samples,)
            Class labels of any type (strings from folder names, ints, ...).
        groups : array-like of shape (n_samples,), optional
            Who or what recorded each trajectory (subject, session): the folds that
            calibrate open-set rejection never split a group, so the threshold reflects
            recordings of new people.
        progress : callable, optional
            Called as ``progress(done, total, info)`` each time one EM run (a class x
            restart, or the background model; then the same for each rejection fold, with
            ``info["rejection_fold"]``, and for the prefix view, with ``info["prefix_view"]``;
            each phase's runs join ``total`` when it starts) has finished, in the order of the runs;
            ``info`` is a dict with ``label``, ``restart``, ``log_likelihood``, ``n_iter``
            and ``converged``. When the runs happen one at a time in this process
            (``n_jobs`` 1 or None, no cluster backend), it is also called after every EM
            iteration with ``info`` = ``label``, ``restart``, ``iteration`` and the current
            ``log_likelihood`` (``done`` unchanged). The CLI draws its progress bar with it.
        cache_dir : str or Path, optional
            A directory of finished EM runs (created when needed; see
            :class:`trajhmm._cache.FitCache`). Each run is looked up there before it is
            started and stored as soon as it has finished, so a fit interrupted after k runs
            and started again with the same ``cache_dir`` skips those k runs and ends with
            exactly the model an uninterrupted fit gives. Runs are keyed by their data, the
            model parameters, their seed and the library versions: any change is a miss,
            never a stale result. A cached run keeps no hmmlearn log messages.

        Returns
        -------
        self : HMMClassifier
        """
        if cache_dir is not None:
            FitCache(cache_dir).check()
        names = feature_names(X)
        self._fit(X, y, groups, progress=progress, cache_dir=cache_dir)
        set_feature_names(self, names)
        return self

    def _fit(self, X, y, groups=None, *, progress=None, cache_dir=None, rejection="oof"):
        """:meth:`fit`. ``rejection``: "oof" (fit's: background model, threshold from
        cross-fitted scores), "background" (background model; the threshold, -inf, is
        left to the caller: the model search sets it from its own out-of-fold scores) or
        None (class models only). The class models are the same in every case. BLAS runs
        on one thread, here as in the worker processes, so that the sums, and so the
        model, are the same whatever ``n_jobs`` (:func:`trajhmm._parallel.one_blas_thread`)."""
        with one_blas_thread():
            return self._fit_one_thread(X, y, groups, progress=progress, cache_dir=cache_dir, rejection=rejection)

    def _fit_one_thread(self, X, y, groups, *, progress, cache_dir, rejection):
        self._check_params()
        self.__dict__.pop("_params_at_fit", None)  # (this fit's parameters read the data; recorded at the end)
        self.__dict__.pop("prefix_model_", None)  # a refit's own view, if any, comes last
        progress, reported = _counted(progress)
        raw = self._resampled(X, warn=rejection == "oof")
        segs = self._shaped_finite(raw)
        classes, y_idx, counts, prior = self._prepare_labels(y, len(segs))
        groups = check_groups(groups, len(segs))
        segs, features = self._fit_features(segs)
        runs = self._fit_runs(segs, y_idx, classes, features["covariance_floor_"], progress, cache_dir,
                              rejection is not None)
        best = self._keep_best_runs(runs, classes)

        self.classes_ = classes
        self.class_count_ = counts
        self.class_prior_ = prior
        for name, value in features.items():
            setattr(self, name, value)
        self.models_ = [run.model for run in best]
        self.converged_ = np.array([run.converged for run in best])
        self.n_iter_ = np.array([run.n_iter for run in best])
        self.log_likelihood_history_ = [np.array(run.history) for run in best]
        self.class_length_quantiles_ = streaming.length_quantiles(X, y_idx, len(classes))  # X checked by _resampled
        self.class_end_states_ = np.array([_hmm.end_state_probabilities(model, segs[y_idx == k])
                                           for k, model in enumerate(self.models_)])
        self.motion_scale_, self.class_motion_quantiles_ = streaming.motion_quantiles(raw, y_idx, len(classes))
        self.class_part_motion_ = streaming.part_motion_minima(raw, y_idx, len(classes), self.motion_scale_)
        self.stream_threshold_ = np.nan
        if rejection is not None:
            self.background_model_ = runs[-1].model
            self.rejection_threshold_ = np.full(len(classes), -np.inf)
            self.likelihood_threshold_ = -np.inf
            if rejection == "oof" and self.rejection_rate > 0:
                oof = self._oof_rejection_scores(X, y_idx, groups, progress, cache_dir, len(runs))
                if oof is not None:
                    self.rejection_threshold_[:] = rejection_threshold(oof[0], self.rejection_rate)
                    self.likelihood_threshold_ = likelihood_threshold(oof[2])
                    self.stream_threshold_ = np.nan if oof[1] is None else streaming.fitted_threshold(oof[1])
        self._warn_not_converged()
        if rejection == "oof":
            self._fit_prefix_view(X, classes[y_idx], progress, cache_dir, reported())  # (y checked: said once)
        self._params_at_fit = self.get_params(deep=False)  # (save_model refuses a model changed after fit)
        return self

    def _changed_since_fit(self):
        """``[(name, at fit, now)]`` of the parameters set after fit, but ``n_jobs`` (how it
        runs) and ``prefix_view`` (a switch that reads the fitted view or not); empty for a
        model fitted before this record was kept (a pickle)."""
        before, now = getattr(self, "_params_at_fit", None), self.get_params(deep=False)
        if before is None:
            return []
        return [(k, before[k], now[k]) for k in now
                if k not in ("n_jobs", "prefix_view") and not _same_param(before[k], now[k])]

    def _check_read_as_fitted(self):
        """ParameterValueError when a parameter that says how trajectories are read
        (:data:`_READ_AS_FITTED`) was set after fit: the fitted models read them as at fit,
        so scoring them otherwise would mix the two (silently wrong, or a numpy error)."""
        for name, before, now in self._changed_since_fit():
            if name in _READ_AS_FITTED:
                raise ParameterValueError(name, f"{before!r}, its value at fit (the fitted models read trajectories "
                                          "so): fit again to use another, or set it back", repr(now))

    def set_params(self, **params):
        """scikit-learn's ``set_params``; a fitted prefix view (``prefix_model_``) follows a
        new ``n_jobs``, its only parameter that may differ from the model's after fit. As in
        scikit-learn, other parameters take effect at the next ``fit``: until then the
        fitted attributes (the models, ``rejection_threshold_``) are those of the last fit,
        and :func:`~trajhmm.save_model` refuses to save the mix. A parameter that says how
        trajectories are read (``n_points``, ``resample``, ``time_column``, ``translation``,
        ``scaling``, ``derivatives``) set after fit makes every predict method refuse, until
        it is set back or the model is fitted again."""
        super().set_params(**params)
        if "n_jobs" in params and hasattr(self, "prefix_model_"):
            self.prefix_model_.set_params(n_jobs=self.n_jobs)
        return self

    def _fits_prefix_view(self):
        """Whether :meth:`fit` fits ``prefix_model_`` with these parameters: with
        ``prefix_view``, below the most derivatives, without a time column (prefixes
        refuse time stamps)."""
        return bool(self.prefix_view) and self.derivatives < PARAMS["derivatives"].high and self.time_column is None

    def _fit_prefix_view(self, X, y, progress, cache_dir, done):
        """``prefix_model_`` (see ``prefix_view``): the same parameters with one more
        derivative, class and background models, on the same data, when
        :meth:`_fits_prefix_view`. Its EM warnings are said as the view's; a view that
        cannot be fitted is left out with a warning."""
        if not self._fits_prefix_view():
            return
        # a plain HMMClassifier (what model files store) of this one's parameters, whatever subclass this is
        own = {k: v for k, v in clone(self).get_params(deep=False).items() if k in HMMClassifier._get_param_names()}
        view = HMMClassifier(**{**own, "derivatives": self.derivatives + 1, "prefix_view": False})
        report = None
        if progress is not None:
            def report(d, t, info):
                progress(done + d, done + t, {**info, "prefix_view": True})
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                view._fit(X, y, progress=report, cache_dir=cache_dir, rejection="background")
        except DataError as exc:
            warnings.warn(f"prefix_view: the second set of class models could not be fitted ({exc}); prefixes "
                          "read the class models alone", UserWarning, stacklevel=user_stacklevel())
            return
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                warnings.warn(f"prefix view (derivatives={view.derivatives}): {w.message}", ConvergenceWarning,
                              stacklevel=user_stacklevel())
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.prefix_model_ = view

    def _oof_rejection_scores(self, X, y_idx, groups, progress, cache_dir, done):
        """``(scores, stream, fit)``: the open-set scores of every training trajectory from
        models that did not see it (:func:`rejection_folds` stratified folds, by ``groups``
        when given, each fitted like this model), its per-point log-likelihood under its
        predicted class there (the far-out test's score); and the per-point stream ratios
        (:func:`streaming.whole_ratios`) of every training trajectory to its own class
        under those models (None for a model with ``time_column``: streams refuse it). With ``groups``, at most one fold per
        group. None, with a warning, when a class is too small to be held out, there is
        one group, or a fold cannot be fitted."""
        count, label = smallest_class(y_idx, self.classes_)
        if count < 2:
            warnings.warn(f"open-set rejection is off: it needs at least 2 trajectories of every class to "
                          f"calibrate, got {count} of class {label!r}", UserWarning, stacklevel=user_stacklevel())
            return None
        n_folds = rejection_folds(y_idx, groups)
        if n_folds < 2:  # the smallest class has 2 or more: one group
            warnings.warn("open-set rejection is off: its calibration folds keep each group on one side, and "
                          "the training data have only one group", UserWarning, stacklevel=user_stacklevel())
            return None
        trajectories = check_trajectories(X)
        rng = check_random_state(self.random_state)
        split_seed, *fold_seeds = rng.randint(np.iinfo(np.int32).max, size=n_folds + 1)
        folds = stratified_folds(y_idx, n_folds, groups, int(split_seed))
        scores, fit = np.empty(len(y_idx)), np.empty(len(y_idx))
        stream = None if self.time_column is not None else np.empty(len(y_idx))
        for k, (train, test) in enumerate(folds):
            report = None
            if progress is not None:
                def report(d, t, info, k=k):
                    progress(done + k * t + d, done + len(folds) * t, {**info, "rejection_fold": k})
            fold = self._rejection_fold(k, int(fold_seeds[k]), [trajectories[i] for i in train],
                                        self.classes_[y_idx[train]], report, cache_dir)
            if fold is None:
                return None
            held = [trajectories[i] for i in test]
            ll, ll_background = fold._log_likelihoods(fold.transform(held), background=True)
            best = np.argmax(ll + np.log(fold.class_prior_), axis=1)
            scores[test] = fold._rejection_ratio(ll, ll_background, best)
            fit[test] = fold._point_log_likelihood(ll, best)
            if stream is not None:
                stream[test] = streaming.whole_ratios(fold, held)[np.arange(len(test)), y_idx[test]]
        return scores, stream, fit

    def _rejection_fold(self, k, seed, X, y, report, cache_dir):
        """The classifier of cross-fitting fold ``k``, fitted on its training part like
        this model (background model, no threshold); None, with a warning, when it cannot
        be fitted or misses a class."""
        fold = clone(self).set_params(random_state=seed)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # the model's own fit warns
                fold._fit(X, y, progress=report, cache_dir=cache_dir, rejection="background")
        except DataError as exc:  # e.g. every feature constant in a fold's part of the data
            warnings.warn(f"open-set rejection is off: its calibration fold {k} could not be fitted ({exc})",
                          UserWarning, stacklevel=user_stacklevel())
            return None
        if len(fold.classes_) != len(self.classes_):
            warnings.warn(f"open-set rejection is off: the training part of its calibration fold {k} has no "
                          "trajectory of some class (with groups: every class needs trajectories of at least "
                          "2 groups)", UserWarning, stacklevel=user_stacklevel())
            return None
        return fold

    def _prepare_labels(self, y, n_samples):
        """``(classes, y_idx, counts, prior)``: the sorted labels, each sample's class
        index, the class counts and the class priors."""
        y = check_labels(y, n_samples)
        classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(classes) < 2:
            raise DataError(
                f"y: expected at least 2 classes, got only {classes.tolist()!r}"
            )
        return classes, y_idx, counts, self._class_prior(counts.astype(float))

    def _fit_features(self, segs):
        """Fit the feature mask, the standardisation and the covariance floor on the
        training segments (n_samples, n_points, n_features); returns the segments the
        class models see and the fitted attributes (name -> value)."""
        points = segs.reshape(-1, segs.shape[2])
        std = _spread(points)
        # A feature constant over all training data (the z of planar trajectories) carries
        # no information and would distort spherical/tied covariances: it is dropped.
        # (relative to the largest magnitude of any feature: interpolation leaves ~1e-16
        # round-off in the derivatives of a constant coordinate)
        mask = std > 1e-10 * max(np.abs(points).max(), 1e-300)
        if not mask.any():
            raise DataError("X: every feature is constant over the training trajectories")
        if self.standardize:
            mean = points.mean(axis=0)
            scale_ = np.where(mask, std, 1.0)
        else:
            mean = np.zeros(segs.shape[2])
            scale_ = np.ones(segs.shape[2])
        n_dims = segs.shape[2] // (self.derivatives + 1) + (self.time_column is not None)
        segs = ((segs - mean) / scale_)[:, :, mask]
        floor = _hmm.covariance_floor(segs.reshape(-1, segs.shape[2]), self.reg_covar)
        _check_scale(scale_[mask], floor)
        return segs, {"n_features_in_": n_dims, "n_model_features_": segs.shape[2], "feature_mask_": mask,
                      "feature_mean_": mean, "feature_scale_": scale_, "covariance_floor_": floor}

    def _plan_runs(self, segs, y_idx, classes, background):
        """Every EM run as ``(label, restart, segments, seed)``: ``n_init`` restarts per class
        (class-major), then the background model on a subsample of all segments. Every seed
        is drawn here, before any work, so the results depend neither on ``n_jobs`` nor on
        which runs a cache already holds."""
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=(len(classes), self.n_init))
        background_seed = rng.randint(np.iinfo(np.int32).max)
        subset = np.sort(rng.permutation(len(segs))[:_BACKGROUND_MAX_SEGMENTS])
        labels = classes.tolist()
        runs = [(labels[k], r, segs[y_idx == k], int(seeds[k, r]))
                for k in range(len(classes)) for r in range(self.n_init)]
        if background:
            runs.append(("(background)", 0, segs[subset], int(background_seed)))
        return runs

    def _fit_runs(self, segs, y_idx, classes, floor, progress, cache_dir, background):
        """Every EM run of :meth:`_plan_runs`, as joblib tasks; returns the runs'
        :class:`FitResult` in that order. With ``cache_dir``, runs found there are not
        started, and every other run is stored there as soon as its result reaches this
        process (whatever the order they finish in), before ``progress`` hears of it."""
        config = self._config()
        runs = self._plan_runs(segs, y_idx, classes, background)
        cache = None if cache_dir is None else _RunCache(cache_dir, config, floor)
        keys = [None if cache is None else cache.key(data, seed) for _, _, data, seed in runs]
        results = [None if key is None else cache.get(key, segs.shape[2]) for key in keys]
        reporter = _RunProgress(progress, len(runs), live=progress is not None and runs_in_process(self.n_jobs))
        n_tasks = sum(r is None for r in results)
        stream = launch(bounded_jobs(self.n_jobs, n_tasks), (
            delayed(_indexed_fit_hmm)(i, data, config, floor, seed, reporter.on_iteration(label, r))
            for i, (label, r, data, seed) in enumerate(runs) if results[i] is None
        ), unordered=True)
        with _cancelled_when_left(stream):
            reporter.report_ready(runs, results)
            for i, run in stream:
                if cache is not None:
                    cache.put(keys[i], run)
                results[i] = run
                reporter.report_ready(runs, results)
        return results

    def _keep_best_runs(self, runs, classes):
        """Per class, the restart with the best final training log-likelihood (the first
        on ties). hmmlearn's messages of the class runs are logged at debug level."""
        best = []
        for k in range(len(classes)):
            restarts = runs[k * self.n_init : (k + 1) * self.n_init]
            for r, run in enumerate(restarts):
                for msg in run.log_messages:
                    logger.debug("class %r, restart %d: hmmlearn: %s", plain_value(classes[k]), r, msg)
            best.append(max(restarts, key=lambda run: run.log_likelihood))
        return best

    def _warn_not_converged(self):
        for k in np.flatnonzero(~self.converged_):
            label = plain_value(self.classes_[k])
            warnings.warn(
                f"EM for class {label!r} did not converge in {self.n_iter} iterations "
                f"(relative tol={self.tol}); increase n_iter or tol (--n-iter, --tol)",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )

    # ------------------------------------------------------------------ scoring
    def _log_likelihoods(self, segs, background=False):
        """The scoring primitive every predict method uses: ``(ll, ll_background)``.

        ``ll`` (n_segments, n_classes) is log p(segment | models_[k]); ``ll_background``
        (n_segments,) is log p(segment | background_model_) when ``background`` is True,
        else None. One pass over chunks of segments, all models scored together on each
        chunk (their states stacked, :func:`trajhmm.hmm.stacked_log_likelihoods`, built once
        per set of parameters); the chunks are joblib tasks when n_jobs or a joblib backend
        such as Dask says so, a plain loop here otherwise (no joblib cost per prediction).
        """
        self._check_read_as_fitted()
        models = self.models_ + [self.background_model_] if background else self.models_
        if len(segs) == 0:
            ll = np.empty((0, len(models)))
        else:
            stack = _hmm.stacked_models(models)
            chunks = [segs[i : i + _SCORE_CHUNK] for i in range(0, len(segs), _SCORE_CHUNK)]
            if runs_in_process(self.n_jobs, len(chunks)):
                parts = [_chunk_log_likelihoods(models, chunk, stack) for chunk in chunks]
            else:
                parts = list(launch(bounded_jobs(self.n_jobs, len(chunks)),
                                   (delayed(_worker_log_likelihoods)(models, chunk, stack) for chunk in chunks)))
            ll = np.concatenate(parts)
        # finite features so far from the training data that no model gives a finite score
        # (or a NaN one): the values are too large for the model, not a prediction
        bad = np.isnan(ll).any(axis=1) | ~np.isfinite(ll).any(axis=1)
        if bad.any():
            check_finite_rows(np.where(bad, np.nan, 0.0), TOO_LARGE.replace("overflow", "give scores that overflow"))
        n_classes = len(self.models_)
        return ll[:, :n_classes], (ll[:, n_classes] if background else None)

    def _rejection_ratio(self, ll, ll_background, classes):
        """Per-point log-likelihood ratio of class ``classes[i]``'s model to the background."""
        return (ll[np.arange(len(ll)), classes] - ll_background) / self.n_points

    def _point_log_likelihood(self, ll, classes):
        """Per-point log-likelihood of each trajectory under class ``classes[i]``'s model."""
        return ll[np.arange(len(ll)), classes] / self.n_points

    def _unknown(self, ll, ll_background, classes):
        """The open-set test of class ``classes[i]`` (see :meth:`is_unknown`) from the
        scores ``ll`` of the class models (this model's: the ratio's and the far-out test's
        scores are those of the models their thresholds were fitted with)."""
        ratio = self._rejection_ratio(ll, ll_background, classes) < self.rejection_threshold_[classes]
        # a model of format 11 or older, or pickled before the far-out test, has none
        return ratio | (self._point_log_likelihood(ll, classes) < getattr(self, "likelihood_threshold_", -np.inf))

    def predict_joint_log_proba(self, X):
        """log p(x | class) + log prior for every trajectory and class.

        Returns
        -------
        jll : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``. Every predict method derives from these scores.
        """
        return self._scores(X)[0] + np.log(self.class_prior_)

    def _log_proba_from_joint(self, jll):
        """Posterior log-probabilities from joint log-likelihoods (HMMClassifierCV:
        calibrated)."""
        return jll - _hmm.logsumexp(jll, axis=1)[:, None]

    def predict_log_proba(self, X):
        """Posterior log-probabilities, shape (n_samples, n_classes).

        These are the plain posteriors of the class models, which are far too sure of
        themselves on real data; :class:`~trajhmm.HMMClassifierCV` calibrates them."""
        return self._log_proba_from_joint(self.predict_joint_log_proba(X))

    def predict_proba(self, X):
        """Posterior probabilities, shape (n_samples, n_classes); rows sum to 1."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The class with the highest joint log-likelihood, shape (n_samples,)."""
        jll = self.predict_joint_log_proba(X)
        return self.classes_[np.argmax(jll, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` on ``X`` against ``y`` (scikit-learn's), with
        bytes labels decoded as UTF-8 text, as ``fit`` reads them."""
        return label_accuracy(self, X, y, sample_weight)

    def _information_criterion(self, X, y, penalty):
        check_is_fitted(self, "models_")
        segs = self.transform(X)
        y = check_labels(y, len(segs))
        classes = self.classes_.tolist()
        unknown = sorted(set(y.tolist()) - set(classes), key=str)
        if unknown:  # their trajectories would be left out of the sum without a word
            raise DataError(f"y: labels the model has no class for: {_some(unknown)} (classes: {_some(classes)})")
        total = 0.0
        config = self._config()
        for k, c in enumerate(self.classes_):
            own = segs[y == c]
            if len(own) == 0:
                continue
            log_lik = _hmm.log_likelihood(self.models_[k], own).sum()
            n_obs = own.shape[0] * own.shape[1]
            total += -2.0 * log_lik + penalty(n_obs) * _hmm.n_free_parameters(self.models_[k], config)
        return float(total)

    def bic(self, X, y):
        """Bayesian information criterion of the class models on labelled data (lower is
        better): the sum over classes of ``-2 log L_c + p_c log n_c``, where ``L_c`` is the
        likelihood of class c's trajectories under its model, ``p_c`` its free parameters
        (structural zeros of left-right models not counted) and ``n_c`` its number of
        observed points (trajectories x n_points)."""
        return self._information_criterion(X, y, np.log)

    def aic(self, X, y):
        """Akaike information criterion, ``sum_c -2 log L_c + 2 p_c`` (see :meth:`bic`)."""
        return self._information_criterion(X, y, lambda n: 2.0)

    def predict_with_unknown(self, X):
        """``(jll, unknown)``: :meth:`predict_joint_log_proba` and :meth:`is_unknown` from
        one transform and one scoring pass (class models and background model together).
        The open-set test is that of the class :meth:`predict` returns."""
        ll, ll_background = self._scores(X, background=True)
        jll = ll + np.log(self.class_prior_)
        best = np.argmax(self._log_proba_from_joint(jll), axis=1)
        return jll, self._unknown(ll, ll_background, best)

    def is_unknown(self, X):
        """Open-set test, shape (n_samples,): True where the trajectory fits no class well.

        Two tests of the predicted class, either one flags. The ratio: the per-point
        log-likelihood ratio between the predicted class's model and ``background_model_``
        (one HMM of all classes pooled): a trajectory of a known class fits its class much
        better than the background, one of an unseen class about as well. Below
        ``rejection_threshold_`` it is unknown: the threshold is the ``rejection_rate``
        quantile of the training trajectories' out-of-fold scores, so about that fraction of
        new trajectories of known classes is rejected. The far-out test: the per-point
        log-likelihood under the predicted class's model below ``likelihood_threshold_``
        (Tukey's far-out fence of the out-of-fold ones, below their minimum), for input
        outside anything the classes were trained on, which the ratio can pass (far from
        every class, the class model with the widest Gaussians explains it much better
        than the background).
        """
        return self.predict_with_unknown(X)[1]

    def predict_prefix_log_proba(self, X):
        """Log probabilities for trajectories of which only the beginning has been seen
        (an unknown fraction of the movement), shape (n_samples, n_classes): each class
        reads the prefix at its own typical duration (``class_length_quantiles_``). Not
        calibrated. See :mod:`trajhmm.streaming`."""
        return streaming.prefix_log_proba(self, X)

    def predict_prefix_proba(self, X):
        """The exponential of :meth:`predict_prefix_log_proba`."""
        return streaming.prefix_proba(self, X)

    def predict_prefix(self, X):
        """The most likely class of each beginning of a trajectory (see
        :meth:`predict_prefix_log_proba`)."""
        return streaming.predict_prefix(self, X)

    def predict_or_reject(self, X, unknown="unknown"):
        """Like :meth:`predict`, with ``unknown`` where :meth:`is_unknown` is True.

        Returns an array of shape (n_samples,): numeric when the classes are numbers and
        ``unknown`` is one (``unknown=-1`` for integer classes, as scikit-learn's metrics
        need), else of objects.
        """
        check_is_fitted(self, "models_")
        check_unknown_label(unknown, self.classes_)
        jll, rejected = self.predict_with_unknown(X)
        return with_unknown(self.classes_[np.argmax(jll, axis=1)], rejected, unknown)


def _same_param(a, b):
    """Whether a parameter kept its value (an object such as a RandomState: the same one)."""
    if a is b:
        return True
    try:
        return bool(np.all(a == b)) and type(a) is type(b)
    except (TypeError, ValueError):
        return False


def _spread(points):
    """The standard deviation of every column of ``points``, without the overflow or
    underflow of squaring values far from 1 (computed on the values divided by their
    largest magnitude when that is outside [1e-100, 1e100])."""
    top = float(np.abs(points).max()) if points.size else 0.0
    if top == 0.0 or SCALE_RANGE[0] < top < SCALE_RANGE[1]:
        return points.std(axis=0)
    with np.errstate(over="ignore"):
        return (points / top).std(axis=0) * top


def _check_scale(scales, floor):
    """DataError unless the training data's feature scales and covariance floor lie in
    :data:`SCALE_RANGE` (values far outside it cannot be modelled, or saved)."""
    values = np.concatenate([np.ravel(scales), np.ravel(floor)])
    low, high = SCALE_RANGE
    if not (np.isfinite(values).all() and (values >= low).all() and (values <= high).all()):
        raise DataError(f"X: the training data's values are too {'small' if values.min() < low else 'large'}: "
                        f"their feature scales and covariance floor range from {values.min():.3g} to "
                        f"{values.max():.3g}; expected between {low:g} and {high:g}: rescale the data "
                        "(e.g. change its units)")


def likelihood_threshold(fit):
    """The far-out test's threshold from out-of-fold per-point log-likelihoods ``fit`` of
    known trajectories under their predicted class: Tukey's far-out fence (first quartile
    minus ``_FAR_OUT_IQR`` interquartile ranges), and at most their minimum."""
    fit = np.asarray(fit, dtype=float)
    q1, q3 = np.quantile(fit, [0.25, 0.75])
    return float(min(fit.min(), q1 - _FAR_OUT_IQR * (q3 - q1)))


def rejection_threshold(scores, rate):
    """The open-set threshold: the ``rate`` quantile of out-of-fold scores of known
    trajectories (a trajectory is unknown below it)."""
    return float(np.quantile(np.asarray(scores, dtype=float), rate))

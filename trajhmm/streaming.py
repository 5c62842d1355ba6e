"""Streams and early classification with a fitted :class:`~trajhmm.HMMClassifier`.

Three things live here:

* :func:`length_quantiles`: the durations seen in training, per class (the fitted
  attribute ``class_length_quantiles_`` the stream decoder and the prefixes read);
* :func:`prefix_log_proba` / :func:`predict_prefix`: early classification of trajectories
  of which only the beginning has been seen (an unknown fraction of it);
* :class:`StreamClassifier` / :func:`spot`: gestures spotted in a continuous stream.

The score (streams and prefixes alike)
--------------------------------------
Every piece of stream is scored like a whole trajectory: resampled to ``n_points``
points, turned into features by the model's own transform, and scored by every class
model. Its score for class c is the per-point log-likelihood ratio

    r_c = (log p(segment | class c) - log p(segment | reference)) / n_points

against a reference that explains everything that is not a whole gesture: the mixture
(equal weights) of the model's background model (one HMM of all classes pooled) and a
*threshold model* (Lee and Kim, 1999) built from the class models themselves: an ergodic
HMM of every state of every class, each keeping its emission and self-loop (at most
1 - 1/n_points, so that every state can be left), with the rest of its probability spread
over all states. Whatever some state of some class explains
(a pause, a stroke shared by letters, a part of a gesture) the threshold model explains
as well, in any order; a class model only wins by the order and the durations of its
states: the evidence of a whole gesture. The background model alone is not enough: a
class state fitted to a near standstill scores a pause several nats per point above it,
so windows holding a pause won (on streams of held-out training letters, F1 0.39 with
pauses and 0.72 with scribble against the background model alone, 0.97-0.98 against
the threshold model or the mixture). Every window has ``n_points`` points, so the score
is comparable across window lengths.

A window is a whole gesture, so a class model scores it only by the paths that end in
the state where most of the class's training segments end (``class_end_states_``, the
posterior of each state at their last point; a left-right model's last state): a pause
or the first part of a gesture, which a class model would otherwise explain by stopping
early in a matching state, scores low. Chosen on the train splits (nested mean F1 of the
fitted threshold rule below, README "Streams and early answers"). Prefixes (below) end
anywhere, and so do models fitted before model format 8.

Streams
-------
Every ``step`` samples the decoder scores the windows that end there, of a geometric
grid of lengths covering the durations seen in training (``class_length_quantiles_``,
widened by ``duration_slack``); a class competes only on windows within its own range.
A window whose best score passes ``threshold`` is a candidate. Candidates are decided
greedily (non-maximum suppression): a candidate is accepted when every window that could
overlap it has been scored (``max_length`` samples after its end) and no overlapping
candidate scores higher; accepted, it removes every candidate it overlaps. A candidate
still blocked by a better one ``max_length`` samples later is decided then by the same
rule over every candidate scored so far: kept when each better one that overlaps it loses
to a better one of its own (exact, unless such a chain of three meets a still better
window that is not scored yet; before, it was dropped). So every decision
is made at most ``2 * max_length + block * step`` samples after the window's end,
whatever the stream. Windows are scored in fixed blocks of ``block`` end points, so
pushing the points one at a time or all at once computes exactly the same numbers.
Memory is bounded: only the last ``max_length + block * step`` samples are kept.

Nested gestures (a 'd' holds a 'c', a 'w' a 'u'): the window of the inner gesture and the
window of the whole one overlap, and the better per-point score wins. The inner gesture's
window, resampled to a whole segment, is compared with a whole inner gesture, while the
whole one is compared with its own class model at its own durations, so the whole one
usually wins. No rule prefers longer windows: on the character data the greedy choice by
score found 97-98 % of the letters (scripts/benchmark_streaming.py).

Still windows: a window that moves less than half as much as the least moving training
segment of a class (:func:`motion`: the spread of its points, each dimension divided by
its spread over all training points; ``motion_scale_`` and ``class_motion_quantiles_``,
model format 9) is not scored for that class, so a class whose model explains rest well
cannot claim a pause, while a class of still gestures keeps its own low bar. Models with a
``scaling`` (size-invariant) and files of format 8 or older score every window. The factor
(one half) was chosen on the train splits only: on one fold of each, it removed no true
detection of the decoder before and most false ones in RacketSports' pauses (three
quarters removed true ones on JapaneseVowels). Mean F1 on 3 folds of each train split,
both fillers, at the fitted threshold rule: 0.759 before, 0.798 with it (RacketSports
0.617 -> 0.740, ERing 0.645 -> 0.701, BasicMotions 0.707 -> 0.725, the others equal;
``scripts/benchmark_streaming.py --threshold-rule [--motion-gate off]``).

Windows half in a pause: the same test per third of the window (:func:`part_motion`: its
first and last ``n_points // 3`` points and those between), against the least motion of that third
over the class's training segments (``class_part_motion_``, model format 10): a window
of which a third moves less than half that is not scored for the class. The whole-window
test lets through a window that holds the end of a gesture and the pause after it (the
gesture's part moves enough); where a class model explains rest well, such a window beat
the gesture's own window and the detection came out shifted by half a gesture (IoU below
0.5: a false detection and a miss at once). Same factor, not tuned again: on the 3 folds
of each train split (the decoder before, its detections at the fitted threshold), a half
removed 36 of 60 false detections and 2 of 105 true ones in RacketSports' streams with
pauses, a quarter the same; elsewhere a half removed a few more false ones than a
quarter (ERing 4 more, JapaneseVowels 3, RacketSports with random motion 1) and one more
true one (ERing); three quarters removed true ones on four sets (JapaneseVowels 21 of
156 with pauses). Mean F1 on 3 folds of each train split, both fillers, at the fitted
threshold rule: 0.798 with the whole-window test alone, 0.812 with the thirds
(RacketSports 0.740 -> 0.772, ERing 0.701 -> 0.734, BasicMotions 0.725 -> 0.730,
JapaneseVowels 0.868 -> 0.870, the character data equal; nested, each fold model's own
threshold: 0.794 -> 0.811; ``scripts/benchmark_streaming.py --threshold-rule
[--motion-gate whole]``).

:meth:`StreamClassifier.current` reads the samples since the last detection as the
beginning of a gesture (starts on a grid, each scored as a prefix, below).

The threshold
-------------
``threshold=None`` (the default) takes the model's fitted ``stream_threshold_``:
HMMClassifier.fit, when it cross-fits for open-set rejection (``rejection_rate > 0``),
scores every training trajectory, resampled like a window, with the fold model that did
not see it (:func:`whole_ratios`), and keeps the 0.3 quantile of the ratios to the true
class, at most -0.5 (:func:`fitted_threshold`). HMMClassifierCV refits its best model
with that cross-fitting. Without it (rejection off, too few trajectories, a model with
``time_column``: NaN; a model file of format 5 or older: absent) the threshold is -0.5,
the cautious end of the flat range cross-validation found on the character data (F1
0.953 from -3 to -0.75, 0.950 at -0.5; 3 folds of its training split, both fillers).
Fixed, -0.5 misses most gestures on small or noisy data sets, whose class models score
held-out gestures much lower. Chosen on the train splits only (3 stratified folds inside
each train split; fold models ``HMMClassifier(random_state=0, rejection_rate=0)``;
streams of the held-out fold with both fillers; mean F1): ERing 0.283 at -0.5, 0.614 with
the rule (-8.9, the best); BasicMotions 0.567, 0.716 (-2.55; best 0.783); RacketSports
0.582 (the best), 0.549 (-0.89); JapaneseVowels 0.487, 0.804 (-12.4, the best); the
character data 0.961 (its quantile, +0.77, capped at -0.5; best 0.962). Mean over the
five: 0.729 against 0.576 for -0.5 (``scripts/benchmark_streaming.py --threshold-rule``).

Prefixes
--------
A prefix of m samples of a class whose typical (median training) length is L covers
about a fraction m / L of that class's movement: for each class it is resampled to
``round(n_points * min(1, m / L))`` points (the class's own point density) and scored by
the forward algorithm without any end state (the prefix ends anywhere), against the
reference on the same points, per point: r_c. A class that saw k_c of the ``n_points``
points weighs it by ``sqrt(n_points * k_c)``, between counting it over a whole trajectory
(``n_points``: a quarter of a movement would weigh as much as a whole one) and over its
own k_c points (a shorter class, which reads the same samples as more of its movement,
would gain weight); a prefix at least L long gets ``n_points * r_c``. The joint
scores are this plus the log class prior; probabilities are their softmax (like
``predict_proba``, uncalibrated). Chosen on held-out folds of the character data's train
split (3 folds, accuracy at 25 / 50 % of each letter; ``python
scripts/study_derivatives.py``): 0.665 / 0.873 with the square root, 0.658 / 0.865 with
``n_points``, 0.643 / 0.873 with k_c. No gain on those folds
from a duration term (log P(L_c >= m)), another length quantile setting the speed,
resampling at the model's exact spacing, or averaging or maximising over speeds.

The prefix view (model format 11): a classifier fitted with ``prefix_view=True`` (the
default) also holds ``prefix_model_``, the same classifier on one more time derivative.
Each class's evidence above is computed under both, and the two are averaged before the
prior is added. A second derivative tells apart beginnings that letters share (w and u, n
and h), which velocity alone confuses, while the class models keep the quarter prefixes
they read better. On 3 folds of each train split (``python scripts/study_derivatives.py
--prefix-view``), the mean accuracy over the character data and four UEA sets at 25 / 50
/ 75 / 100 % of each trajectory went from 0.817 / 0.887 / 0.931 / 0.940 (class models
alone) to 0.824 / 0.888 / 0.951 / 0.943; on the character data alone from 0.665 / 0.873 /
0.963 / 0.975 to 0.665 / 0.899 / 0.977 / 0.981. :meth:`StreamClassifier.current` reads
the movement in progress with the class models alone.

A prefix is translated and scaled by its own statistics, which only ``translation="start"``
shares with the whole trajectory: a model fitted with ``translation="center"`` or
``"end"`` or with any ``scaling`` reads prefixes badly (one fold of the character data at
50 %: 0.51 with "center", 0.70 with scaling "std", 0.46 with "path_length", against 0.88
with the defaults, "none").

Time columns are not supported here: samples are taken as evenly spaced in time, and a
model fitted with ``time_column`` set is refused with a DataError.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np

from . import preprocessing
from ._validation import (
    SCALE_RANGE,
    check_choice,
    check_feature_names,
    check_int,
    check_real,
    check_trajectories,
    is_number,
    user_stacklevel,
)
from .exceptions import DataError, ModelFileError
from .hmm.kernels import forward_log_likelihood, logsumexp
from .hmm.stacked import relative_emissions, scaled_exact, stacked_models

__all__ = ["Detection", "Guess", "StreamClassifier", "length_quantiles", "predict_prefix", "prefix_log_proba",
           "prefix_proba", "spot", "spot_lines"]

_QUANTILES = (0.0, 0.05, 0.5, 0.95, 1.0)
# The stream threshold a model fits (``stream_threshold_``, HMMClassifier.fit with open-set
# rejection on): the _THRESHOLD_QUANTILE quantile of the ratios of held-out training
# trajectories to their own class (the cross-fitting's folds), never stricter than
# DEFAULT_THRESHOLD, the threshold of models without one. Both chosen on the train splits
# only (3 folds inside each, five data sets): mean F1 0.729 against 0.576 for -0.5 alone.
DEFAULT_THRESHOLD = -0.5
_THRESHOLD_QUANTILE = 0.3
_WHOLE_CHUNK = 256  # held-out trajectories scored together by whole_ratios
# A window that moves less than _MOTION_CUT times the least moving training segment of a
# class is not scored for that class (module docstring, "Still windows").
_MOTION_CUT = 0.5
# A whole trajectory that moves less than _MOTION_CUT times the least moving training
# trajectory of any class, or more than 1 / _MOTION_CUT times the most moving one, is out
# of what the model has seen: other units, another sensor (:func:`motion_flags`).


def _class_quantiles(values, y_idx, n_classes):
    """Per class, the quantiles ``_QUANTILES`` of ``values`` (one per trajectory):
    (n_classes, 5); a class without trajectories gets NaN."""
    y_idx = np.asarray(y_idx)
    if len(y_idx) != len(values):
        raise DataError(f"y_idx: expected {len(values)} class indices (one per trajectory), got {len(y_idx)}")
    out = np.full((int(n_classes), len(_QUANTILES)), np.nan)
    for k in range(int(n_classes)):
        own = values[y_idx == k]
        if own.size:
            out[k] = np.quantile(own, _QUANTILES)
    return out


def length_quantiles(X, y_idx, n_classes):
    """Per class, the quantiles (0, 0.05, 0.5, 0.95, 1) of the number of points of its
    training trajectories: ndarray (n_classes, 5). A class without trajectories gets NaN."""
    return _class_quantiles(np.array([len(x) for x in X], dtype=float), y_idx, n_classes)


def motion(raw_segments, scale):
    """How much each resampled raw segment (n, T, n_dims) moves: the root mean square over
    dimensions of its points' standard deviation, each dimension divided by ``scale``."""
    segs = np.asarray(raw_segments, dtype=float) / scale
    return np.sqrt(np.mean(np.var(segs, axis=1), axis=1))


def part_motion(raw_segments, scale):
    """:func:`motion` of each third of each resampled raw segment (n, T, n_dims): (n, 3),
    its beginning, middle and end (the first and last ``T // 3`` points, the rest between);
    zeros for segments of fewer than 3 points."""
    segs = np.asarray(raw_segments, dtype=float)
    T, k = segs.shape[1], segs.shape[1] // 3
    if k < 1:
        return np.zeros((len(segs), 3))
    return np.stack([motion(segs[:, :k], scale), motion(segs[:, k : T - k], scale), motion(segs[:, T - k :], scale)],
                    axis=1)


def part_motion_minima(raw_segments, y_idx, n_classes, scale):
    """Per class, the least :func:`part_motion` of each third over its resampled raw
    training segments (n_classes, 3), with the ``scale`` of :func:`motion_quantiles`; a
    class without segments gets NaN."""
    parts = part_motion(raw_segments, scale)
    y_idx = np.asarray(y_idx)
    return np.array([parts[y_idx == k].min(axis=0) if (y_idx == k).any() else np.full(3, np.nan)
                     for k in range(int(n_classes))])


def motion_quantiles(raw_segments, y_idx, n_classes):
    """``(scale, quantiles)``: the standard deviation of every dimension over all training
    points of resampled raw segments (n, T, n_dims) (1 where it is below the scales fit
    accepts: a constant dimension), and per class the quantiles (0, 0.05, 0.5, 0.95, 1) of
    its segments' :func:`motion` (n_classes, 5); a class without segments gets NaN."""
    segs = np.asarray(raw_segments, dtype=float)
    scale = segs.reshape(-1, segs.shape[2]).std(axis=0)
    low, high = SCALE_RANGE
    scale = np.where(scale >= low, np.minimum(scale, high), 1.0)
    return scale, _class_quantiles(motion(segs, scale), y_idx, n_classes)


class _Scorer:
    """Scores many equal-length feature segments under every class model, the background
    model and the threshold model at once.

    The threshold model (Lee and Kim's, 1999) is an ergodic HMM made of every state of
    every class model: each state keeps its emission and its self-loop, and the rest of its
    probability goes to any state (uniformly). It explains any stretch that some state of
    some class explains, in any order, so a class model beats it only by the order of its
    states: the evidence of a whole gesture."""

    def __init__(self, clf):
        background = getattr(clf, "background_model_", None)
        self.models = list(clf.models_) + ([] if background is None else [background])
        sizes = {m.n_components for m in self.models}
        self.n_classes = len(clf.models_)
        self.K = max(sizes)  # models with fewer states are padded with unreachable states
        M, K = len(self.models), self.K
        # where whole windows must end (weight 1; elsewhere 0): the state where most of the
        # class's training segments end (class_end_states_; a left-right model's last state).
        # A model without them, and the background model: anywhere.
        self.end = np.ones((M, K))
        ends = getattr(clf, "class_end_states_", None)
        if ends is not None:
            for i, m in enumerate(clf.models_):
                q = np.asarray(ends[i][: m.n_components], dtype=float)
                self.end[i, : m.n_components] = q >= q.max()
        sizes = [m.n_components for m in clf.models_]
        # an absorbing state (self-loop 1, the last state of a left-right model) may leave
        # the threshold model's state after n_points steps on average: every state can be
        # left, so the threshold model's scaled forward values never all underflow
        self.self_loop = np.minimum(np.concatenate([np.diag(m.transmat_) for m in clf.models_]),
                                    1.0 - 1.0 / clf.n_points)
        self.n_threshold_states = sum(sizes)
        self.real = np.concatenate([np.arange(k) + i * K for i, k in enumerate(sizes)])
        self._stack = stacked_models(self.models)
        self._padding = np.arange(self.K)[None, :] >= np.array([m.n_components for m in self.models])[:, None]

    def log_emissions(self, segs):
        """(T, M, K, n) log densities of every state of every model (padding: -inf), time
        first so that each step of the forward passes reads one contiguous block. The
        densities are :class:`~trajhmm.hmm.stacked.StackedModels`' (the predictions' own)."""
        n, T, d = segs.shape
        M = len(self.models)
        if self._stack.quadratic_forms() is not None:  # Gaussian states: one product, time first
            out = self._stack.quadratic_log_densities(segs.transpose(1, 2, 0)).reshape(T, M, self.K, n)
            out[:, self._padding] = -np.inf
            return out
        points = np.ascontiguousarray(segs.transpose(2, 1, 0)).reshape(d, T * n)
        with np.errstate(under="ignore"):
            out = self._stack.log_densities(points).reshape(M, self.K, T, n)
        out[self._padding] = -np.inf
        return np.ascontiguousarray(out.transpose(2, 0, 1, 3))

    def exact(self, log_b, i, cols, whole):
        """Exact log-likelihoods under model ``i`` of segments ``cols`` (the package's kernel;
        ``whole``: ending where the scaled pass makes them end, ``end``)."""
        k = self.models[i].n_components
        return forward_log_likelihood(np.ascontiguousarray(log_b[:, i, :k][:, :, cols].transpose(1, 0, 2)),
                                      np.asarray(self.models[i].startprob_), np.asarray(self.models[i].transmat_),
                                      end=self.end[i, :k] if whole else None)

    def threshold(self, e, top):
        """(n,) log-likelihood under the threshold model, scaled forward pass on the class
        emissions ``e`` (``top`` per model). Every state can be left and any state entered
        at every step, so the scaled values never all underflow."""
        C, T = self.n_classes, len(e)
        shift = top[:, :C].max(axis=1)  # (T, n)
        with np.errstate(under="ignore"):
            b = (e[:, :C] * np.exp(top[:, :C] - shift[:, None])[:, :, None]).reshape(T, C * self.K, -1)
        if len(self.real) < b.shape[1]:
            b = b[:, self.real]
        S = b.shape[1]
        stay = self.self_loop[:, None]
        leave = (1.0 - self.self_loop) / S
        alpha = b[0] / S
        log_scale = np.zeros(b.shape[2])
        for t in range(1, T):
            total = alpha.sum(axis=0)
            log_scale += np.log(total)
            alpha = stay * alpha + leave @ alpha
            alpha /= total
            alpha *= b[t]
        return np.log(alpha.sum(axis=0)) + log_scale + shift.sum(axis=0)

    def score(self, segs, bar=-np.inf, relevant=None, whole=True):
        """``(ratios (n, n_classes), ll_threshold (n,))``: every class's per-point
        log-likelihood ratio to the reference (the mixture of the background and threshold
        models, module docstring); ``whole``: the segments are whole gestures, which end
        where the class's training gestures end (``class_end_states_``), else prefixes,
        which end anywhere.

        Exact wherever it can matter: the background model wherever it could weigh in the
        reference, and every class (``relevant`` (n, n_classes), default all) whose upper
        bound reaches ``bar`` ((n,) or a number); elsewhere an approximation below ``bar``."""
        log_b = self.log_emissions(segs)
        n_points = log_b.shape[0]
        e, top = relative_emissions(log_b)  # top (T, M, n)
        ll, upper = self._stack.scaled_forward(e, self.end if whole else None)
        shift = top.sum(axis=0)
        ll += shift
        upper += shift
        ll_threshold = self.threshold(e, top)
        C = self.n_classes
        loose = ~scaled_exact(ll, upper)  # a path may be missing or floored (NaN: all were)
        if len(ll) > C:  # the background model's share of the reference
            cols = np.flatnonzero(loose[C] & (upper[C] > ll_threshold - 40.0))
            if len(cols):
                ll[C, cols] = self.exact(log_b, C, cols, whole)
            with np.errstate(invalid="ignore"):
                reference = np.logaddexp(ll[C], ll_threshold) - np.log(2.0)
        else:
            reference = ll_threshold
        ratio_upper = (upper[:C] - reference) / n_points
        need = (ratio_upper >= bar) & loose[:C]
        if relevant is not None:
            need &= np.asarray(relevant).T
        for i in np.flatnonzero(need.any(axis=1)):
            cols = np.flatnonzero(need[i])
            ll[i, cols] = self.exact(log_b, i, cols, whole)
        return ((ll[:C] - reference) / n_points).T, ll_threshold


def _features(clf, segs):
    """Resampled raw segments (n, T, n_dims) -> what the class models see."""
    return clf._standardized(clf._shaped(segs))


def _window_segments(buf, starts, lengths, n_points):
    """Windows ``buf[s : s + L]`` resampled (evenly in time) to ``n_points`` points:
    (n_windows, n_points, n_dims)."""
    starts = np.asarray(starts, dtype=float)
    lengths = np.asarray(lengths, dtype=float)
    pos = starts[:, None] + np.linspace(0.0, 1.0, n_points)[None] * (lengths - 1.0)[:, None]
    return preprocessing.interpolate(buf, pos)


def _windows(clf, buf, starts, lengths):
    """Raw windows ``buf[s : s + L]`` resampled like the model's transform."""
    if clf.resample == "time":
        return _window_segments(buf, starts, lengths, clf.n_points)
    return np.stack([preprocessing.resample(buf[s : s + n], clf.n_points, clf.resample)
                     for s, n in zip(np.asarray(starts, dtype=int), np.asarray(lengths, dtype=int))])


# ---------------------------------------------------------------------------- the model
def _fitted_classifier(model):
    """The HMMClassifier behind ``model`` (an HMMClassifierCV gives its best estimator)."""
    from sklearn.utils.validation import check_is_fitted

    inner = getattr(model, "best_estimator_", model)
    check_is_fitted(inner, "models_")
    return inner


def motion_flags(model, X):
    """``(still, oversized)``, two bool arrays of ``len(X)``: the trajectories that move
    less than half as much as the least moving training trajectory of any class, and those
    that move more than twice as much as the most moving one (:func:`motion`, each resampled
    to the model's ``n_points``, with ``motion_scale_``). Such input is likely in other
    units than the training data (millimetres for metres), and its label a guess: the class
    models still score it, often confidently. Models made size-invariant (``scaling`` other
    than "none": sizes do not count) and files of format 8 or older flag nothing; an
    ensemble of the search (``HMMClassifierCV``) flags what any of its members whose sizes
    count flags (one such member, weighed in, can change the pooled class).
    ``X`` as the model's ``predict`` takes it (its time column included; DataFrames with
    the names seen at fit)."""
    best = _fitted_classifier(model)
    members = getattr(model, "ensemble_estimators_", None) or [best]
    still, oversized = np.zeros(len(X), dtype=bool), np.zeros(len(X), dtype=bool)
    for clf in members:
        q = getattr(clf, "class_motion_quantiles_", None)
        if q is None or clf.scaling != "none":
            continue
        trajectories, times = clf._inputs(X)
        with np.errstate(over="ignore", invalid="ignore"):
            raw = preprocessing.resample_all(trajectories, clf.n_points, clf.resample, times)
            moved = motion(raw, clf.motion_scale_)
        q = np.asarray(q, dtype=float)
        still |= moved < _MOTION_CUT * np.nanmin(q[:, 0])
        oversized |= moved > np.nanmax(q[:, -1]) / _MOTION_CUT
    return still, oversized


# A recording whose most moving window (of a training trajectory's median length) moves
# more than this many times the most moving training trajectory is in other units
# (:func:`stream_motion_flag`; a window may span two gestures, so the bar is higher than
# predict's 1 / _MOTION_CUT).
_STREAM_OVERSIZED = 10.0


def stream_motion_flag(model, stream):
    """"still", "oversized" or None for a whole recording (n_samples, n_dims): "still" when
    even its most moving window, of the median length of the training trajectories, moves
    less than half as much as the least moving training trajectory of any class (nothing in
    it can be detected: other units?), "oversized" when that window moves more than
    :data:`_STREAM_OVERSIZED` times the most moving one. None for models made
    size-invariant, files of format 8 or older, and recordings shorter than one window."""
    clf = _fitted_classifier(model)
    q = getattr(clf, "class_motion_quantiles_", None)
    lengths = getattr(clf, "class_length_quantiles_", None)
    stream = np.asarray(stream, dtype=float)
    if q is None or lengths is None or clf.scaling != "none" or stream.ndim != 2:
        return None
    width = max(2, int(np.nanmedian(np.asarray(lengths)[:, 2])))
    if len(stream) < width:
        return None
    starts = np.arange(0, len(stream) - width + 1, max(1, width // 2))
    with np.errstate(over="ignore", invalid="ignore"):
        raw = preprocessing.resample_all([stream[i : i + width] for i in starts], clf.n_points, clf.resample)
        top = float(np.nanmax(motion(raw, clf.motion_scale_)))
    q = np.asarray(q, dtype=float)
    if top < _MOTION_CUT * np.nanmin(q[:, 0]):
        return "still"
    return "oversized" if top > _STREAM_OVERSIZED * np.nanmax(q[:, -1]) else None


def _length_quantiles_of(model, clf):
    q = getattr(model, "class_length_quantiles_", None)
    if q is None:
        q = getattr(clf, "class_length_quantiles_", None)
    if q is None:
        raise ModelFileError(
            "model: has no class_length_quantiles_ (the durations seen in training, which streams and "
            "prefixes need): it was fitted by, or its model file written by, a version of trajhmm without "
            "streams; fit it again (retrain) to use it on streams and prefixes")
    q = np.asarray(q, dtype=float)
    if q.shape != (len(clf.classes_), len(_QUANTILES)) or not np.isfinite(q).all() or (q[:, 0] < 2).any():
        raise ModelFileError(f"model: class_length_quantiles_ should be finite lengths >= 2 of shape "
                             f"({len(clf.classes_)}, {len(_QUANTILES)}), got {q.shape}")
    return q


class _Model:
    """What streams and prefixes need of a fitted classifier: the classifier, its scorer,
    the training durations and the class priors."""

    def __init__(self, model):
        self.model = model
        self.clf = _fitted_classifier(model)
        if getattr(self.clf, "time_column", None) is not None:
            raise DataError(f"model: time_column={self.clf.time_column!r}: streams and prefixes take evenly spaced "
                            "samples without time stamps; use a model fitted without time_column")
        self.quantiles = _length_quantiles_of(model, self.clf)
        self.scorer = _Scorer(self.clf)
        self.log_prior = np.log(self.clf.class_prior_)
        self.classes = self.clf.classes_
        self.n_dims = int(self.clf.n_features_in_)
        q = getattr(self.clf, "class_motion_quantiles_", None)
        parts = getattr(self.clf, "class_part_motion_", None)  # format 10 on
        # the gate reads raw sizes: not for models made size-invariant, nor older files
        self.motion = None if q is None or self.clf.scaling != "none" else (
            self.clf.motion_scale_, _MOTION_CUT * np.asarray(q)[:, 0],
            None if parts is None else _MOTION_CUT * np.asarray(parts))

    def prefix_view(self):
        """The :class:`_Model` of the classifier's ``prefix_model_`` (made on first use),
        or None when it has none or its ``prefix_view`` is off."""
        if not hasattr(self, "_view"):
            view = getattr(self.clf, "prefix_model_", None) if getattr(self.clf, "prefix_view", False) else None
            self._view = None if view is None else _Model(view)
        return self._view

    def moving(self, raw_segments):
        """(n, n_classes) bool: the resampled raw windows that move enough to be scored for
        each class (module docstring, "Still windows"); all True without the gate."""
        if self.motion is None:
            return np.ones((len(raw_segments), len(self.classes)), dtype=bool)
        scale, floor, part_floor = self.motion
        out = motion(raw_segments, scale)[:, None] >= floor[None, :]
        if part_floor is not None:
            out &= (part_motion(raw_segments, scale)[:, None, :] >= part_floor[None]).all(axis=2)
        return out

    def ratios(self, raw_segments, bar=-np.inf, relevant=None, whole=True):
        """Per-point log-likelihood ratio of every class to the reference, (n, n_classes),
        of raw resampled segments (n, T, n_dims); exact where the class is ``relevant`` and
        could reach ``bar``; ``whole`` gestures or prefixes (:meth:`_Scorer.score`)."""
        return self.scorer.score(_features(self.clf, raw_segments), bar, relevant, whole)[0]

    def check_points(self, points, name="points"):
        """``points`` as a finite float array (k, n_dims); one point (n_dims,) gives k = 1.
        A DataFrame's column names must be those the model was fitted with, in that order
        (as ``predict`` checks them), when it was fitted with names."""
        if getattr(points, "columns", None) is not None and getattr(self.clf, "feature_names_in_", None) is not None:
            try:
                check_feature_names(self.clf, [points])
            except DataError as exc:
                raise DataError(f"{name}: {str(exc).removeprefix('X: ')}") from None
        if np.iscomplexobj(points):
            raise DataError(f"{name}: expected real numbers, got complex values")
        try:
            arr = np.asarray(points, dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name}: expected numbers, one point ({self.n_dims},) or many (k, {self.n_dims}), "
                            f"got {exc}") from None
        if arr.ndim == 1:
            arr = arr.reshape(0, self.n_dims) if arr.size == 0 else arr[None]  # [] pushes nothing
        if arr.ndim != 2 or arr.shape[1] != self.n_dims:
            raise DataError(f"{name}: expected one point ({self.n_dims},) or many (k, {self.n_dims}) "
                            f"({self.n_dims} dims, like the model's training data), got shape {np.shape(points)}")
        if not np.isfinite(arr).all():
            row = int(np.argwhere(~np.isfinite(arr))[0, 0])
            raise DataError(f"{name}: expected finite numbers, got {arr[row].tolist()}{_at(row, arr)}")
        return self.check_size(arr, name)

    def check_size(self, arr, name):
        """``arr`` (k, n_dims), unless a value is more than ``SCALE_RANGE[1]`` times the
        training data's spread (``motion_scale_``): its scores would overflow (NaN
        probabilities, no detection), so it is refused as :meth:`HMMClassifier.predict`
        refuses it."""
        scale = getattr(self.clf, "motion_scale_", None)
        if scale is not None:
            far = np.abs(arr) > SCALE_RANGE[1] * np.asarray(scale, dtype=float)
            if far.any():
                row = int(np.argwhere(far)[0, 0])
                raise DataError(f"{name}: expected values within {SCALE_RANGE[1]:g} times the spread of the training "
                                f"data, got {arr[row].tolist()}{_at(row, arr)}: its scores would overflow")
        return arr


# ---------------------------------------------------------------------------- prefixes
def _prefix_ratios(m, prefixes):
    """``(ratios, points)``, both (n, n_classes): per-point ratios of prefixes (raw arrays),
    each class seeing the prefix at its own point density, and the number of points it saw."""
    n_points = m.clf.n_points
    sizes = np.array([len(p) for p in prefixes], dtype=float)
    k = np.rint(n_points * np.minimum(1.0, sizes[:, None] / m.quantiles[None, :, 2])).astype(int)
    k = np.clip(k, 2, n_points)
    out = np.empty(k.shape)
    for size in np.unique(k):
        rows = np.flatnonzero((k == size).any(axis=1))
        segs = preprocessing.resample_all([prefixes[i] for i in rows], size, m.clf.resample)
        hit = k[rows] == size
        out[rows] = np.where(hit, m.ratios(segs, relevant=hit, whole=False), out[rows])
    return out, k


def _prefix_evidence(n_points, ratios, points):
    """Each class's evidence: its per-point ratio times ``sqrt(n_points * points)``, between
    the whole trajectory's ``n_points`` and the ``points`` the class saw (module docstring)."""
    return np.sqrt(n_points * points) * ratios


def _prefix_joint(m, prefixes):
    """Joint log-scores of prefixes: the evidence of the class models, averaged with that
    of the prefix view's (``prefix_model_``) when the model has one, plus the log prior."""
    evidence = _prefix_evidence(m.clf.n_points, *_prefix_ratios(m, prefixes))
    view = m.prefix_view()
    if view is not None:
        evidence = 0.5 * (evidence + _prefix_evidence(view.clf.n_points, *_prefix_ratios(view, prefixes)))
    return evidence + m.log_prior


def prefix_log_proba(model, X):
    """Log-probabilities of every class for trajectories of which only the beginning has
    been seen (any fraction, unknown): (n_samples, n_classes), columns follow ``classes_``.

    Each class compares the prefix with the first part of its own model, the part the
    prefix covers at the class's typical speed (module docstring, "Prefixes"). A whole
    trajectory is scored nearly like :meth:`~trajhmm.HMMClassifier.predict` scores it (against
    the reference instead of alone)."""
    m = _Model(model)
    prefixes = _checked_prefixes(m, X)
    jll = _prefix_joint(m, prefixes)
    return jll - logsumexp(jll, axis=1)[:, None]


def prefix_proba(model, X):
    """:func:`prefix_log_proba` as probabilities; rows sum to 1."""
    return np.exp(prefix_log_proba(model, X))


def predict_prefix(model, X):
    """The most probable class of each prefix (see :func:`prefix_log_proba`)."""
    m = _Model(model)
    return m.classes[np.argmax(_prefix_joint(m, _checked_prefixes(m, X)), axis=1)]


def _checked_prefixes(m, X):
    check_feature_names(m.model, X)
    prefixes = check_trajectories(X, n_dims=m.n_dims, dims_source="the model's training data")
    for i, p in enumerate(prefixes):
        m.check_size(p, f"X[{i}]")
    return prefixes


# ---------------------------------------------------------------------------- streams
@dataclass(frozen=True)
class Detection:
    """One gesture found in a stream: samples ``start`` (inclusive) to ``end`` (exclusive),
    counted from the first sample pushed since the last reset; ``score`` is its per-point
    log-likelihood ratio to the reference (module docstring)."""

    start: int
    end: int
    label: object
    score: float


@dataclass(frozen=True)
class Guess:
    """:meth:`StreamClassifier.current`: the movement in progress since sample ``start``,
    its most probable class and every class's probability (``proba``, label -> p, in the
    order of ``classes_``); ``score`` is the best class's per-point ratio as a prefix."""

    start: int
    end: int
    label: object
    score: float
    proba: dict = field(compare=False)


class StreamClassifier:
    """Spot gestures in a continuous stream, point by point (module docstring, "Streams").

    Parameters
    ----------
    model : fitted HMMClassifier (or HMMClassifierCV)
        It must have ``class_length_quantiles_`` (the durations seen in training).
    threshold : float or None, default=None
        A window is a candidate when its best per-point log-likelihood ratio to the
        reference is above this (higher: fewer false alarms, more misses). None: the
        model's fitted ``stream_threshold_`` (module docstring, "The threshold") when it
        has a finite one, else -0.5. ``scripts/benchmark_streaming.py`` also chooses it
        by cross-validation for any data set.
    step : int or None, default=None
        Windows end every ``step`` samples; None: a fifteenth of the shortest typical
        duration (the smallest 5 % length quantile of any class), at least 1.
    length_ratio : float, default=1.12
        Ratio between successive window lengths of the grid.
    duration_slack : float, default=0.1
        A class competes on windows from ``(1 - slack)`` times its shortest to
        ``(1 + slack)`` times its longest training duration.
    block : int, default=8
        Window ends scored together; adds up to ``block * step`` samples of delay.
    """

    def __init__(self, model, *, threshold=None, step=None, length_ratio=1.12, duration_slack=0.1, block=8):
        self._m = _Model(model)
        q = self._m.quantiles
        length_ratio = check_real(length_ratio, "length_ratio", lambda v: 1.0 < v < np.inf, "a finite number > 1")
        duration_slack = check_real(duration_slack, "duration_slack", lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")
        self.threshold = (_model_threshold(model) if threshold is None else
                          check_real(threshold, "threshold", np.isfinite, "a finite number (nats per point) or None"))
        self.step = max(1, round(float(q[:, 1].min()) / 15.0)) if step is None else check_int(step, "step", min_val=1)
        self.block = check_int(block, "block", min_val=1)
        lo = np.maximum(2, np.floor(q[:, 0] * (1.0 - duration_slack)))
        hi = np.ceil(q[:, 4] * (1.0 + duration_slack))
        n = int(np.ceil(np.log(hi.max() / lo.min()) / np.log(length_ratio))) + 1
        self.lengths = np.unique(np.rint(np.geomspace(lo.min(), hi.max(), max(n, 2))).astype(int))
        # (n_lengths, n_classes): which class competes on which window length
        self._allowed = (self.lengths[:, None] >= lo[None]) & (self.lengths[:, None] <= hi[None])
        self.max_length = int(self.lengths.max())
        self.min_length = int(self.lengths.min())
        self.classes_ = self._m.classes
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self):
        """Forget the stream: the next point pushed is sample 0."""
        self._buf = np.empty((0, self._m.n_dims))
        self._t0 = 0  # stream index of _buf[0]
        self._n = 0  # samples pushed
        self._next_end = self.step * int(np.ceil(self.min_length / self.step))  # next window end to score
        self._pending = np.empty((0, 4))  # candidates: start, end, class index, score
        self._last_end = 0  # end of the last detection

    @property
    def delay_bound(self):
        """Samples after a gesture's end by which it is always decided."""
        return 2 * self.max_length + self.block * self.step

    def push(self, points):
        """Add one point (n_dims,) or many (k, n_dims); returns the :class:`Detection`
        list decided since the previous push (in order of start)."""
        pts = self._m.check_points(points)
        out = []
        done = 0
        while done < len(pts):
            # take points up to the end of the next full block of window ends
            block_end = self._next_end + (self.block - 1) * self.step
            take = min(len(pts) - done, max(block_end - self._n, 0))
            self._append(pts[done : done + take])
            done += take
            if self._n >= block_end:
                out += self._score_and_decide(block_end)
            elif take == 0:  # cannot happen: block_end > _n whenever a block is incomplete
                break
        return out

    def flush(self):
        """The recording has ended: score the last windows, decide every candidate, return
        the detections decided since the previous push, and reset."""
        out = []
        last = self._n - (self._n % self.step)
        if last >= self._next_end:
            out += self._score_and_decide(last)
        out += self._decide(final=True)
        self.reset()
        return out

    def _append(self, pts):
        keep = self.max_length + self.block * self.step + 1
        self._buf = np.concatenate([self._buf, pts])
        self._n += len(pts)
        if len(self._buf) > keep:
            self._t0 += len(self._buf) - keep
            self._buf = self._buf[-keep:]

    # ------------------------------------------------------------------ decoding
    def _score_and_decide(self, last_end):
        """Score the windows ending at ``_next_end .. last_end`` (every ``step``), add the
        candidates above ``threshold``, decide what can be decided."""
        ends = np.arange(self._next_end, last_end + 1, self.step)
        self._next_end = int(ends[-1]) + self.step
        rows = self._window_scores(ends)
        self._pending = np.concatenate([self._pending, rows[rows[:, 3] > self.threshold]])
        return self._decide()

    def _window_scores(self, ends):
        """Every window ending at ``ends`` (that starts at or after sample 0): rows of
        (start, end, best class index, its score), the class chosen among those whose
        training durations allow the window's length."""
        e, li = np.meshgrid(ends, np.arange(len(self.lengths)), indexing="ij")
        e, li = e.ravel(), li.ravel()
        keep = e - self.lengths[li] >= 0
        e, li = e[keep], li[keep]
        if not len(e):
            return np.empty((0, 4))
        starts = e - self.lengths[li]
        segs = _windows(self._m.clf, self._buf, starts - self._t0, self.lengths[li])
        allowed = self._allowed[li] & self._m.moving(segs)
        r = self._m.ratios(segs, bar=self.threshold, relevant=allowed)
        r = np.where(allowed, r, -np.inf)
        best = np.argmax(r, axis=1)
        return np.column_stack([starts, e, best, r[np.arange(len(r)), best]])

    def _decide(self, final=False):
        """Accept, in order of score, every candidate whose overlapping windows have all
        been scored and that no overlapping candidate beats; decide those blocked too long
        by the best-first rule over every candidate scored so far."""
        horizon = np.inf if final else self._next_end - self.max_length  # unscored windows start at or after
        out = []
        while len(self._pending):
            P = self._pending
            order = np.lexsort((P[:, 1], P[:, 0], -P[:, 3]))  # best first; ties: earlier
            rank = np.empty(len(P), dtype=int)
            rank[order] = np.arange(len(P))
            chosen = None
            for i in order[P[order, 1] <= horizon]:
                over = (P[:, 0] < P[i, 1]) & (P[:, 1] > P[i, 0])
                if not (over & (rank < rank[i])).any():
                    chosen, removed = i, over
                    break
            if chosen is None:
                break
            start, end, k, score = P[chosen]
            out.append(Detection(int(start), int(end), _plain(self.classes_[int(k)]), float(score)))
            self._last_end = max(self._last_end, int(end))
            self._pending = P[~removed]
        # Blocked for max_length samples after it settled: decided now by the best-first
        # rule over the candidates scored so far. Its blockers have settled; only theirs
        # (a chain of three) may still meet a better unscored window.
        P = self._pending
        expired = P[:, 1] <= horizon - self.max_length
        if expired.any():
            accepted = expired & _best_first(P)
            for i in np.flatnonzero(accepted):
                out.append(Detection(int(P[i, 0]), int(P[i, 1]), _plain(self.classes_[int(P[i, 2])]), float(P[i, 3])))
                self._last_end = max(self._last_end, int(P[i, 1]))
            hit = (P[:, None, 0] < P[None, accepted, 1]) & (P[:, None, 1] > P[None, accepted, 0])
            self._pending = P[~expired & ~hit.any(axis=1)]
        return sorted(out, key=lambda d: (d.start, d.end))

    def current(self):
        """The best guess for the movement in progress, a :class:`Guess`, or None.

        The samples since the end of the last detection are read as the beginning of a
        gesture that started at one of a grid of recent starts: each is scored as a prefix
        (:func:`prefix_log_proba`); the start and class with the best per-point ratio win.
        None when no prefix of at least a quarter of the shortest duration passes
        ``threshold`` (nothing in progress)."""
        first = max(self._last_end, self._t0)
        shortest = max(2, self.min_length // 4)
        if self._n - first < shortest:
            return None
        sizes = np.unique(np.rint(np.geomspace(shortest, self._n - first, 16)).astype(int))
        starts = self._n - sizes
        prefixes = [self._buf[s - self._t0 :] for s in starts]
        r, points = _prefix_ratios(self._m, prefixes)
        i, k = np.unravel_index(np.argmax(r), r.shape)
        if not r[i, k] > self.threshold:
            return None
        jll = _prefix_evidence(self._m.clf.n_points, r[i], points[i]) + self._m.log_prior
        proba = np.exp(jll - logsumexp(jll, axis=0))
        return Guess(int(starts[i]), self._n, _plain(self.classes_[k]), float(r[i, k]),
                     {_plain(c): float(p) for c, p in zip(self.classes_, proba)})


def _best_first(P):
    """Which candidates (rows of start, end, class, score) a best-first pass over all of
    them accepts: each in order of score (ties: earlier) unless it overlaps one accepted."""
    taken = np.zeros(len(P), dtype=bool)
    for i in np.lexsort((P[:, 1], P[:, 0], -P[:, 3])):
        taken[i] = not (taken & (P[:, 0] < P[i, 1]) & (P[:, 1] > P[i, 0])).any()
    return taken


def whole_ratios(model, X):
    """Per-point ratio of every class to the reference of whole trajectories, each
    resampled like a window of a stream: (n_samples, n_classes)."""
    m = _Model(model)
    trajectories = check_trajectories(X)
    out = np.empty((len(trajectories), len(m.classes)))
    for i in range(0, len(trajectories), _WHOLE_CHUNK):
        part = trajectories[i : i + _WHOLE_CHUNK]
        out[i : i + len(part)] = m.ratios(preprocessing.resample_all(part, m.clf.n_points, m.clf.resample))
    return out


def fitted_threshold(true_ratios):
    """The stream threshold fitted from the ratios of held-out trajectories to their own
    class: their ``_THRESHOLD_QUANTILE`` quantile, at most ``DEFAULT_THRESHOLD``."""
    return float(min(DEFAULT_THRESHOLD, np.quantile(true_ratios, _THRESHOLD_QUANTILE)))


def _model_threshold(model):
    """The threshold a model fitted (``stream_threshold_``) when it has a finite one, else
    ``DEFAULT_THRESHOLD`` (rejection off, a model file of format 5 or older)."""
    value = getattr(_fitted_classifier(model), "stream_threshold_", np.nan)
    return float(value) if np.isfinite(value) else DEFAULT_THRESHOLD


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def spot(model, stream, *, name="stream", **kwargs):
    """Gestures in a whole recording (T, n_dims): a :class:`StreamClassifier` (``kwargs``
    are its parameters) fed every point, then flushed; returns the list of
    :class:`Detection` in order of start, the same as pushing the points one by one.
    ``name``: what error messages call the recording (its file). A recording that moves far
    less or far more than the training data (:func:`stream_motion_flag`: other units?) is
    warned about."""
    clf = StreamClassifier(model, **kwargs)
    if np.ndim(stream) == 1 and clf._m.n_dims == 1:  # a recording of one dim, (T,)
        stream = np.reshape(stream, (-1, 1))
    stream = clf._m.check_points(stream, name=str(name))
    flag = stream_motion_flag(model, stream)
    if flag == "still":
        warnings.warn(f"{name}: nothing in it moves even half as much as the least moving training trajectory, so "
                      "nothing can be detected: a recording at rest, or other units or another sensor than the "
                      "training data (metres read where millimetres were trained)?", UserWarning,
                      stacklevel=user_stacklevel())
    elif flag == "oversized":
        warnings.warn(f"{name}: its most moving stretch moves more than {_STREAM_OVERSIZED:g} times as much as the most "
                      "moving training trajectory: other units or another sensor than the training data (millimetres "
                      "read where metres were trained)? What is detected in it is a guess", UserWarning,
                      stacklevel=user_stacklevel())
    return sorted(clf.push(stream) + clf.flush(), key=lambda d: (d.start, d.end))


def _at(row, arr):
    """Where in a chunk of pushed points a bad one is: nothing for a single point (its
    name, e.g. ``<stdin>:3``, says which), else its index among them."""
    return f" at point {row} of the {len(arr)} given" if len(arr) > 1 else ""


def spot_lines(model, lines, *, name="<stdin>", columns=None, on_invalid="error", header_names=None, **kwargs):
    """Gestures in a recording read one point per text line as it arrives (a live pipe:
    ``sensor | trajhmm spot model.npz -``): each line holds the point's numbers separated
    by commas, semicolons or whitespace; blank lines and lines starting with ``#`` are
    skipped, and so is a header (a first line of names only, such as ``x,y,z``). Yields
    every :class:`Detection` as soon as it is decided, then the ones the end of the input
    decides. A malformed line is a DataError naming ``name:line``; with
    ``on_invalid="skip"`` it is left out of the stream and yielded as a
    :class:`~trajhmm.prediction.SkippedFile` (``path`` is ``name:line``).

    ``columns``: the fields to read from each line (a time stamp or other sensors left
    out), by 0-based position, or by name from the header line; None: every field.
    ``header_names`` (without ``columns``; a model's reader keeps them, see
    :func:`trajhmm.read_trajectory`): a stream with a header line is read by these names,
    a stream without one by position."""
    from .prediction import SkippedFile

    check_choice(on_invalid, "on_invalid", ("error", "skip"))
    if header_names is not None and columns is None:
        from .datasets import check_options

        check_options(header_names=header_names)
    clf = StreamClassifier(model, **kwargs)
    reader = _LineReader(clf._m, name, columns, None if columns is not None else header_names)
    for line_no, line in enumerate(lines, start=1):
        fields = reader.fields(line_no, line)  # a --columns name missing from the header is never skipped
        if fields is None:
            continue
        try:
            point = reader.point(line_no, fields, line)
        except DataError as exc:
            if on_invalid == "error":
                raise
            yield SkippedFile(f"{name}:{line_no}", str(exc))
            continue
        yield from clf.push(point)
    yield from clf.flush()


class _LineReader:
    """The points of a stream's text lines (:func:`spot_lines`)."""

    def __init__(self, m, name, columns, header_names=None):
        self.m, self.name, self.columns, self.header_names = m, name, columns, header_names
        self.header, self.select, self.started = None, None, False

    def fields(self, line_no, line):
        """The fields of a point's line, or None for a blank, comment or header line (a
        first line of names only: empty names allowed, as pandas' index column; a line
        mixing names and numbers is a malformed point, not a header)."""
        text = line.strip().lstrip("\ufeff")  # a byte-order mark, as text files may start with
        if not text or text.startswith("#"):
            return None
        fields = _split_line(text)
        if not self.started and self.header is None and not any(is_number(f) for f in fields if f):
            self.header = fields
            return None
        if not self.started:
            if self.header is not None and len(self.header) != len(fields):
                raise DataError(f"{self.name}:{line_no}: expected {len(self.header)} fields like the header line "
                                f"{self.header}, got {len(fields)}: {text[:60]!r}")
            if self.columns is not None:
                self.select = _line_columns(self.columns, self.header, self.m.n_dims, self.name, line_no)
            elif self.header_names is not None and self.header is not None:
                self.select = self._by_header_names()
        self.started = True
        return fields

    def _by_header_names(self):
        missing = [v for v in self.header_names if v not in self.header]
        if missing:
            raise DataError(f"{self.name}: its header line has no column {missing[0]!r}; the coordinates are read by "
                            f"the training files' header names ({', '.join(self.header_names)}), and this stream's "
                            f"are {', '.join(self.header)}; choose the coordinates with --columns")
        return [self.header.index(v) for v in self.header_names]

    def point(self, line_no, fields, line):
        """The point (n_dims,) of a line's fields; DataError naming the line if malformed."""
        where, text, n_dims = f"{self.name}:{line_no}", line.strip()[:60], self.m.n_dims
        if self.select is not None:
            if max(self.select) >= len(fields):
                raise DataError(f"{where}: expected a field at position {max(self.select)} (--columns, 0-based), "
                                f"got {len(fields)} fields: {text!r}")
            fields = [fields[j] for j in self.select]
        if len(fields) != n_dims:
            raise DataError(f"{where}: expected {n_dims} numbers (the model's dims), got {len(fields)}: {text!r}")
        try:
            point = np.array(fields, dtype=float)
        except ValueError:
            raise DataError(f"{where}: expected {n_dims} numbers, got {text!r}") from None
        return self.m.check_points(point, name=where)


def _split_line(text):
    """A stream line's fields: separated by commas, else semicolons, else tabs (empty
    fields kept, so that a gap is an error, not a shift; one trailing separator
    allowed), else whitespace."""
    sep = next((s for s in (",", ";", "\t") if s in text), None)
    if sep is None:
        return text.split()
    fields = [f.strip() for f in text.split(sep)]
    return fields[:-1] if len(fields) > 1 and not fields[-1] else fields


def _line_columns(columns, header, n_dims, name, line_no):
    """The field positions ``columns`` (names or 0-based positions) select in a stream's lines."""
    from .datasets import check_options

    check_options(columns=columns)  # names or positions >= 0, each once (ParameterError)
    columns = list(columns)
    if len(columns) != n_dims:
        raise DataError(f"{name}: expected {n_dims} columns (the model's dims), got {len(columns)}: {columns}")
    if all(isinstance(c, (int, np.integer)) for c in columns):
        return [int(c) for c in columns]
    if header is None:
        raise DataError(f"{name}:{line_no}: columns {list(columns)} are names, expected a header line naming them "
                        "before the first point, got none; give 0-based positions instead (e.g. --columns "
                        f"{','.join(map(str, range(len(columns))))})")
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{name}: columns {missing} not in the header line {header}")
    return [header.index(c) for c in columns]


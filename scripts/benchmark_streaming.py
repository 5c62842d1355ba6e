"""Benchmark of streams and prefixes (trajhmm.streaming) on a labelled data set.

    python scripts/benchmark_streaming.py [--data PATH] [--letters 100] [--seeds 3] [--skip-streams]

1. The decoder's threshold is chosen by cross-validation on the TRAIN split only: 3
   stratified folds; a model (HMMClassifier(random_state=0), rejection off: the decoder
   does not use it) is fitted on two folds, streams are built from the held-out fold with
   both fillers, and every threshold of the grid is tried on the same window scores; the
   threshold with the best mean F1 is kept (ties: the median of the tied ones).
2. HMMClassifier(random_state=0) is fitted on the whole train split; streams of test
   trajectories (``--letters`` each, ``--seeds`` seeds, both fillers of the streams protocol)
   are spotted with the chosen threshold, with the model's default (its fitted
   ``stream_threshold_``: the fit cross-fits, rejection on) and with the former fixed
   default -0.5; precision, recall and F1.
3. Prefix accuracy at 25/50/75/100 % of every test trajectory (ours; ours with the class
   models alone, without the model's prefix view; and the naive rule: predict on the
   prefix as if it were whole).
4. Real-time factor on one core: stream seconds processed per wall second at ``--rate`` Hz,
   for spot() (whole recordings) and for live use (pushes of 10 samples).

``--skip-streams`` skips 1, 2 and 4: only the prefixes (3), with the model of 2.
``--derivatives D`` fits every model with ``derivatives=D`` instead of the default.
``--windows-end anywhere`` drops every fitted model's ``class_end_states_`` (windows then
end in any state, the decoder of model files before format 8), to compare with the
default ``fitted`` (a window scores as a whole gesture only where the class's training
gestures end). The stream thresholds the fits themselves cross-fit (the nested check of
``--threshold-rule``) still come from whole-gesture windows.
``--motion-gate off`` drops every fitted model's motion (``class_motion_quantiles_`` and
``class_part_motion_``): every window is scored for every class, the decoder of model
files before format 9; ``--motion-gate whole`` drops ``class_part_motion_`` only (windows
half in a pause are scored too), the decoder of format 9.

Data: an .npz with X (all sequences stacked), lengths, y, split ("train"/"test"), as in
../shared/data; the streams protocol is ../shared/streams.py (``make``, ``f1``).
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # one core
    os.environ[_var] = "1"

import argparse
import copy
import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trajhmm import HMMClassifier
from trajhmm.classifier import stratified_folds
from trajhmm.exceptions import ConvergenceWarning
from trajhmm.streaming import DEFAULT_THRESHOLD, StreamClassifier, fitted_threshold, predict_prefix, whole_ratios

THRESHOLDS = (-8.0, -6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0)
FILLERS = ("pause", "scribble")
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def _shared(name):
    """../shared/<name> of this repository or of the one it is a worktree of."""
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / name).exists():
            return base / "shared" / name
    return ROOT.parent / "shared" / name


def load_streams_module(path):
    spec = importlib.util.spec_from_file_location("streams", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_data(path):
    d = np.load(path, allow_pickle=False)
    X = np.split(np.asarray(d["X"], dtype=float), np.cumsum(d["lengths"])[:-1])
    return X, np.asarray(d["y"]), np.asarray(d["split"])


MODEL_PARAMS = {}  # HMMClassifier parameters other than the defaults (--derivatives)
WINDOWS_END = {"anywhere": False}  # --windows-end anywhere: drop class_end_states_
MOTION_GATE = {"mode": "on"}  # --motion-gate off: drop the motion arrays; whole: drop class_part_motion_


def fit(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = HMMClassifier(random_state=0, **MODEL_PARAMS, **params).fit(X, y)
    if WINDOWS_END["anywhere"]:
        del clf.class_end_states_
    if MOTION_GATE["mode"] != "on":
        del clf.class_part_motion_
    if MOTION_GATE["mode"] == "off":
        del clf.class_motion_quantiles_, clf.motion_scale_
    return clf


class _Replay(StreamClassifier):
    """A StreamClassifier that records its window scores once (``record``) and replays them
    (``replay``), so every threshold is tried on the same scores."""

    def __init__(self, model, **kwargs):
        super().__init__(model, **kwargs)
        self.tape, self.playing = [], False

    def _window_scores(self, ends):
        if self.playing:
            return self.tape[self._block_index]
        rows = super()._window_scores(ends)
        self.tape.append(rows)
        return rows

    def _score_and_decide(self, last_end):
        out = super()._score_and_decide(last_end)
        self._block_index += 1
        return out

    def reset(self):
        super().reset()
        self._block_index = 0

    def run(self, stream, threshold):
        self.threshold = threshold
        self.reset()
        return self.push(stream) + self.flush()


def _triples(detections):
    return [(d.start, d.end, d.label) for d in detections]


def _fold_models(X, y, seed, prefix_view=False):
    """(fold model, held-out X, held-out y) of 3 stratified folds of (X, y); the fold
    models read streams only, so they fit no prefix view unless asked to."""
    y_idx = np.unique(y, return_inverse=True)[1]
    return [(fit([X[i] for i in train], y[train], rejection_rate=0, prefix_view=prefix_view),
             [X[i] for i in test], y[test])
            for train, test in stratified_folds(y_idx, 3, random_state=seed)]


def _mean_f1(folds, thresholds, streams, n_letters):
    """Mean F1 of every threshold over the folds' held-out streams and both fillers, every
    threshold tried on the same window scores."""
    f1 = dict.fromkeys(thresholds, 0.0)
    for k, (clf, held, labels) in enumerate(folds):
        for filler in FILLERS:
            stream, truth = streams.make(held, labels, min(n_letters, len(held)), filler, 1000 + k)
            replay = _Replay(clf)
            replay.run(stream, min(thresholds))  # records the window scores
            replay.playing = True
            for t in thresholds:
                f1[t] += streams.f1(_triples(replay.run(stream, t)), truth)[2] / (len(folds) * len(FILLERS))
    return f1


def choose_threshold(X, y, streams, n_letters, seed=0):
    """The threshold with the best mean F1 over held-out folds of (X, y) (module docstring)."""
    f1 = _mean_f1(_fold_models(X, y, seed), THRESHOLDS, streams, n_letters)
    best = max(f1.values())
    tied = [t for t in THRESHOLDS if f1[t] >= best - 1e-12]
    return float(np.median(tied)), f1


def threshold_rule(X, y, streams, n_letters, seed=0):
    """The fitted default threshold (trajhmm.streaming.fitted_threshold of held-out
    own-class ratios) against -0.5 and the best threshold, mean F1 over 3 folds of (X, y)
    and both fillers: the study behind the default (README, "The threshold")."""
    folds = _fold_models(X, y, seed)
    own = []
    for clf, held, labels in folds:
        ratios = whole_ratios(clf, held)
        own.append(ratios[np.arange(len(held)), np.searchsorted(clf.classes_, labels)])
    rule = fitted_threshold(np.concatenate(own))
    grid = sorted(set(THRESHOLDS) | {rule})
    f1 = _mean_f1(folds, grid, streams, n_letters)
    best = max(grid, key=lambda t: (f1[t], -abs(t - rule)))
    return rule, f1, best


def own_threshold_f1(X, y, streams, n_letters, seed=0):
    """Nested check of the fitted default: 3 stratified folds of (X, y), each fold model
    fitted with the package's defaults (its own cross-fitting sets its stream_threshold_
    from its training part only), F1 on the held-out fold's streams (both fillers) at that
    threshold, at -0.5, and at the best of the grid. Returns the mean F1 of the three and
    the fold models' thresholds."""
    y_idx = np.unique(y, return_inverse=True)[1]
    out, own = np.zeros(3), []
    folds = stratified_folds(y_idx, 3, random_state=seed)
    for k, (train, test) in enumerate(folds):
        clf = fit([X[i] for i in train], y[train], prefix_view=False)
        t_own = float(clf.stream_threshold_) if np.isfinite(clf.stream_threshold_) else DEFAULT_THRESHOLD
        own.append(t_own)
        held, labels = [X[i] for i in test], y[test]
        grid = sorted(set(THRESHOLDS) | {t_own})
        for filler in FILLERS:
            stream, truth = streams.make(held, labels, min(n_letters, len(held)), filler, 1000 + k)
            replay = _Replay(clf)
            replay.run(stream, min(grid))
            replay.playing = True
            f1 = {t: streams.f1(_triples(replay.run(stream, t)), truth)[2] for t in grid}
            out += np.array([f1[t_own], f1[DEFAULT_THRESHOLD], max(f1.values())]) / (len(folds) * len(FILLERS))
    return out, own


def spotting(clf, X, y, streams, n_letters, seeds, threshold, rate):
    """Mean (precision, recall, F1) per filler, and the wall time and stream seconds."""
    out, wall, seconds = {}, 0.0, 0.0
    for filler in FILLERS:
        scores = []
        for seed in range(seeds):
            stream, truth = streams.make(X, y, min(n_letters, len(X)), filler, seed)
            sc = StreamClassifier(clf, threshold=threshold)
            t = time.perf_counter()
            found = sc.push(stream) + sc.flush()
            wall += time.perf_counter() - t
            seconds += len(stream) / rate
            scores.append(streams.f1(_triples(found), truth))
        out[filler] = np.mean(scores, axis=0)
    return out, seconds / wall


def live_factor(clf, X, y, streams, threshold, rate, chunk=10):
    """Stream seconds per wall second when points arrive ``chunk`` at a time."""
    stream, _ = streams.make(X, y, min(30, len(X)), "scribble", 99)
    sc = StreamClassifier(clf, threshold=threshold)
    t = time.perf_counter()
    for i in range(0, len(stream), chunk):
        sc.push(stream[i : i + chunk])
    sc.flush()
    return len(stream) / rate / (time.perf_counter() - t)


def prefixes(clf, X, y):
    """(fraction, predict_prefix, the same with the class models alone, the naive rule)
    accuracies; the second as the first when the model has no prefix view."""
    alone = copy.copy(clf)  # the same fitted model without its prefix view
    alone.__dict__.pop("prefix_model_", None)
    rows = []
    for f in FRACTIONS:
        cut = [x[: max(2, int(round(f * len(x))))] for x in X]
        rows.append((f, np.mean(predict_prefix(clf, cut) == y), np.mean(predict_prefix(alone, cut) == y),
                     np.mean(clf.predict(cut) == y)))
    return rows


def streams_part(args, streams, Xtr, ytr, Xte, yte):
    """Steps 1, 2 and 4 of the module docstring; returns the model fitted on the train split."""
    t = time.time()
    threshold, cv = choose_threshold(Xtr, ytr, streams, args.cv_letters)
    print(f"threshold chosen by 3-fold CV on the train split ({time.time() - t:.0f} s): {threshold} "
          f"(mean F1 over folds and fillers: " + ", ".join(f"{k}: {v:.3f}" for k, v in cv.items()) + ")")

    clf = fit(Xtr, ytr)
    sc = StreamClassifier(clf, threshold=threshold)
    print(f"decoder: step {sc.step} samples, window lengths {sc.lengths.tolist()}, delay bound {sc.delay_bound} "
          f"samples ({sc.delay_bound / args.rate:.2f} s at {args.rate:g} Hz)")
    fitted = StreamClassifier(clf).threshold  # threshold=None: the model's stream_threshold_
    print(f"the model's default threshold (stream_threshold_ {clf.stream_threshold_:.4g}): {fitted:.4g}")
    runs = [("chosen", threshold), ("default, fitted", fitted), ("former default", DEFAULT_THRESHOLD)]
    for name, value in [(n, v) for i, (n, v) in enumerate(runs) if v not in [w for _, w in runs[:i]]]:
        res, factor = spotting(clf, Xte, yte, streams, args.letters, args.seeds, value, args.rate)
        for filler, (p, r, f) in res.items():
            print(f"spotting, threshold {value} ({name}), {filler:8s}: precision {p:.3f} recall {r:.3f} F1 {f:.3f} "
                  f"({args.seeds} streams of {args.letters})")
        print(f"real-time factor, spot(), one core: {factor:.1f} x real time at {args.rate:g} Hz")
    print(f"real-time factor, live pushes of 10 samples, one core: "
          f"{live_factor(clf, Xte, yte, streams, threshold, args.rate):.1f} x real time")
    return clf


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(_shared("data") / "character_trajectories.npz"))
    parser.add_argument("--streams", default=str(_shared("streams.py")), help="the streams protocol module")
    parser.add_argument("--letters", type=int, default=100, help="gestures per test stream")
    parser.add_argument("--cv-letters", type=int, default=60, help="gestures per cross-validation stream")
    parser.add_argument("--seeds", type=int, default=3, help="test streams per filler")
    parser.add_argument("--rate", type=float, default=200.0, help="sampling rate (Hz) of the real-time factor")
    parser.add_argument("--skip-streams", action="store_true", help="print the prefix accuracies only")
    parser.add_argument("--derivatives", type=int, default=None,
                        help="the models' derivatives (default: HMMClassifier's default)")
    parser.add_argument("--windows-end", choices=("fitted", "anywhere"), default="fitted",
                        help="where scored windows may end: the classes' fitted end states, or any state")
    parser.add_argument("--motion-gate", choices=("on", "whole", "off"), default="on",
                        help="skip windows that move far less than a class's training gestures, as a whole or in a "
                             "third (on), as a whole only (whole), or score all (off)")
    parser.add_argument("--threshold-rule", action="store_true",
                        help="only the study of the fitted default threshold, on folds of the train split")
    args = parser.parse_args(argv)
    if args.derivatives is not None:
        MODEL_PARAMS["derivatives"] = args.derivatives
    WINDOWS_END["anywhere"] = args.windows_end == "anywhere"
    MOTION_GATE["mode"] = args.motion_gate
    streams = load_streams_module(args.streams)
    X, y, split = load_data(args.data)
    tr, te = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    Xtr, ytr, Xte, yte = [X[i] for i in tr], y[tr], [X[i] for i in te], y[te]
    print(f"data: {args.data}: {len(tr)} train / {len(te)} test trajectories, {len(np.unique(y))} classes")

    if args.threshold_rule:
        rule, f1, best = threshold_rule(Xtr, ytr, streams, args.cv_letters)
        print(f"train-split folds, mean F1: {DEFAULT_THRESHOLD}: {f1[DEFAULT_THRESHOLD]:.3f}; the fitted rule "
              f"({rule:.2f}): {f1[rule]:.3f}; best ({best:.2f}): {f1[best]:.3f}")
        (own, fixed, top), values = own_threshold_f1(Xtr, ytr, streams, args.cv_letters)
        print(f"nested, each fold model's own stream_threshold_ ({', '.join(f'{v:.2f}' for v in values)}): "
              f"mean F1 {own:.3f}; {DEFAULT_THRESHOLD}: {fixed:.3f}; best of the grid per fold: {top:.3f}")
        return 0
    clf = fit(Xtr, ytr) if args.skip_streams else streams_part(args, streams, Xtr, ytr, Xte, yte)
    for f, ours, alone, naive in prefixes(clf, Xte, yte):
        print(f"prefix {int(f * 100):3d} %: accuracy {ours:.3f} (class models alone, without the prefix view "
              f"{alone:.3f}; naive rule {naive:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""First time derivatives as features (``derivatives=1``, the default) against first and
second (2), and the weighting of prefix evidence: TRAIN splits only.

    python scripts/study_derivatives.py [--sets NAME ...] [--derivatives 1 2] [--skip-streams]

1. Whole trajectories: 3-fold stratified CV accuracy on each set's train split of
   ``HMMClassifier(random_state=0, rejection_rate=0, derivatives=d)`` for every d (the fold
   models of scripts/benchmark_streaming.py's cross-validation).
2. Prefixes (the character data): on the same 3 folds of its train split, accuracy at 25 and
   50 % of each held-out letter, the evidence of class c weighted by
   ``n_points ** e * k_c ** (1 - e)`` for every exponent e (trajhmm.streaming uses 0.5).
3. Streams (the character data): mean F1 over the 3 folds and both fillers of the streams
   protocol, at the former fixed threshold -0.5 and at the best of the grid
   (scripts/benchmark_streaming.py's cross-validation, with the given derivatives).

``--prefix-view`` instead studies the prefix view (``HMMClassifier(prefix_view=True)``,
the default: a second set of class models on one more derivative): on the same 3 folds
of every set's train split (the default models, whose fit also fits the view), prefix
accuracy at 25 / 50 / 75 / 100 % of each held-out trajectory, the evidence of the view
weighted w and that of the class models 1 - w (w = 0: the class models alone; 0.5: what
trajhmm.streaming does).

No test split is read.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

import benchmark_streaming as bs

from trajhmm import streaming

DATA = ROOT.parent.parent / "shared" / "data"
SETS = ["character_trajectories", "uea_basic_motions", "uea_ering", "uea_japanese_vowels", "uea_pen_digits",
        "uea_racket_sports"]
EXPONENTS = [0.0, 0.25, 0.5, 0.75, 1.0]


def train_split(name):
    X, y, split = bs.load_data(DATA / f"{name}.npz")
    tr = np.flatnonzero(split == "train")
    return [X[i] for i in tr], y[tr]


def fold_models(X, y, derivatives):
    """(model, held-out X, held-out y) of 3 stratified folds (seed 0) of (X, y): the folds
    and models of benchmark_streaming.py's cross-validation, with ``derivatives``."""
    bs.MODEL_PARAMS["derivatives"] = derivatives
    return bs._fold_models(X, y, 0)


def whole_accuracy(folds):
    hits = sum(np.sum(clf.predict(held) == labels) for clf, held, labels in folds)
    return hits / sum(len(labels) for _, _, labels in folds)


def prefix_accuracy(folds, fraction):
    """{exponent: accuracy} at ``fraction`` of every held-out trajectory."""
    hits = dict.fromkeys(EXPONENTS, 0)
    for clf, held, labels in folds:
        m = streaming._Model(clf)
        ratios, k = streaming._prefix_ratios(m, [x[: max(2, int(round(fraction * len(x))))] for x in held])
        for e in EXPONENTS:
            joint = clf.n_points**e * k ** (1 - e) * ratios + m.log_prior
            hits[e] += np.sum(clf.classes_[np.argmax(joint, axis=1)] == labels)
    n = sum(len(labels) for _, _, labels in folds)
    return {e: h / n for e, h in hits.items()}


VIEW_WEIGHTS = [0.0, 0.25, 0.5, 0.75, 1.0]


def prefix_view_accuracy(folds, fraction):
    """{w: accuracy} at ``fraction`` of every held-out trajectory, the evidence of the
    class models and of the prefix view mixed with weights 1 - w and w."""
    hits = dict.fromkeys(VIEW_WEIGHTS, 0)
    for clf, held, labels in folds:
        m = streaming._Model(clf)
        cut = [x[: max(2, int(round(fraction * len(x))))] for x in held]
        if m.prefix_view() is None:
            raise SystemExit(f"a fold model has no prefix view (its fit warned why): {clf!r}")
        own, view = (streaming._prefix_evidence(model.clf.n_points, *streaming._prefix_ratios(model, cut))
                     for model in (m, m.prefix_view()))
        for w in VIEW_WEIGHTS:
            joint = (1 - w) * own + w * view + m.log_prior
            hits[w] += np.sum(clf.classes_[np.argmax(joint, axis=1)] == labels)
    n = sum(len(labels) for _, _, labels in folds)
    return {w: h / n for w, h in hits.items()}


def study_prefix_view(sets):
    for name in sets:
        X, y = train_split(name)
        bs.MODEL_PARAMS.clear()
        folds = bs._fold_models(X, y, 0, prefix_view=True)
        for fraction in (0.25, 0.5, 0.75, 1.0):
            acc = prefix_view_accuracy(folds, fraction)
            print(f"{name}, prefixes at {fraction:.0%}: " + ", ".join(f"view weight {w}: {a:.4f}"
                                                                    for w, a in acc.items()), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=SETS)
    parser.add_argument("--derivatives", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--skip-streams", action="store_true")
    parser.add_argument("--prefix-view", action="store_true", help="study the prefix view instead (docstring)")
    args = parser.parse_args(argv)
    if args.prefix_view:
        study_prefix_view(args.sets)
        return 0
    streams = None if args.skip_streams else bs.load_streams_module(ROOT.parent.parent / "shared" / "streams.py")
    for name in args.sets:
        X, y = train_split(name)
        for d in args.derivatives:
            folds = fold_models(X, y, d)
            print(f"{name}, derivatives={d}: 3-fold CV accuracy {whole_accuracy(folds):.4f}", flush=True)
            if name != "character_trajectories":
                continue
            for fraction in (0.25, 0.5):
                acc = prefix_accuracy(folds, fraction)
                print(f"  prefixes at {fraction:.0%}: " + ", ".join(f"exponent {e}: {a:.4f}" for e, a in acc.items()))
            if streams is not None:
                f1 = bs._mean_f1(folds, bs.THRESHOLDS, streams, 60)
                best = max(f1, key=f1.get)
                print(f"  streams, mean F1: -0.5: {f1[-0.5]:.3f}; best {best}: {f1[best]:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

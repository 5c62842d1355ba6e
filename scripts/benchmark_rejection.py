"""Open-set rejection on held-out classes: train without one class, then count how often
its test trajectories are flagged unknown, and what rejection costs on the known classes.

    python scripts/benchmark_rejection.py [PATH.npz] [--classes b c d e | all] [--slacks 0.75 1 1.25]

PATH.npz as for benchmark_accuracy.py (default: the character trajectories). For each
held-out class (one fit per class, trajhmm defaults, random_state=0), prints the known-class
accuracy without rejection and, for the library's rejection rule (``is_unknown``), the
accuracy with rejection (a rejected trajectory counts as wrong), the drop in points and the
fraction of the held-out class flagged unknown. ``--slacks`` adds the same figures for other
values of the rule's slack (threshold = quantile - slack x (median - quantile) of each
class's training scores), computed from the same fits: this is how the default slack was
chosen (on the letters other than b c d e).
"""

import argparse
import warnings

import numpy as np
from benchmark_accuracy import DEFAULT

from trajhmm import HMMClassifier
from trajhmm.classifier import _REJECTION_SLACK
from trajhmm.datasets import load_npz


def class_score_stats(clf, X, y):
    """Per class: (quantile, median) of its training trajectories' rejection scores, as
    ``fit`` computes them."""
    y_idx = np.searchsorted(clf.classes_, y)
    scores = clf._rejection_scores(clf.transform(X), y_idx)
    return np.array([(np.quantile(scores[y_idx == k], clf.rejection_quantile), np.median(scores[y_idx == k]))
                     for k in range(len(clf.classes_))])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", nargs="?", default=str(DEFAULT))
    p.add_argument("--classes", nargs="+", default=["b", "c", "d", "e"], help="held-out classes, or 'all'")
    p.add_argument("--slacks", nargs="*", type=float, default=[], help="other slack values to report")
    p.add_argument("--n-jobs", type=int, default=2)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    tr, te = load_npz(args.path, split="train"), load_npz(args.path, split="test")
    ytr, yte = np.array(tr.labels), np.array(te.labels)
    held_out = sorted(set(ytr.tolist())) if args.classes == ["all"] else args.classes
    slacks = [_REJECTION_SLACK] + [s for s in args.slacks if s != _REJECTION_SLACK]
    print(f"{'held out':>8s} {'slack':>5s} {'known acc':>9s} {'with reject':>11s} {'drop (pts)':>10s} "
          f"{'held-out flagged':>16s}")
    table = {s: [] for s in slacks}
    for held in held_out:
        keep = ytr != held
        Xk = [x for x, k in zip(tr.trajectories, keep) if k]
        clf = HMMClassifier(random_state=0, n_jobs=args.n_jobs).fit(Xk, ytr[keep])
        jll, unknown = clf.predict_with_unknown(te.trajectories)
        best = jll.argmax(axis=1)
        correct = clf.classes_[best] == yte
        known = yte != held
        stats = class_score_stats(clf, Xk, ytr[keep])
        score = clf._rejection_scores(clf.transform(te.trajectories), best)
        before = correct[known].mean()
        for slack in slacks:
            threshold = stats[:, 0] - slack * (stats[:, 1] - stats[:, 0])
            flagged = unknown if slack == _REJECTION_SLACK else score < threshold[best]
            if slack == _REJECTION_SLACK:  # the library's rule, recomputed here as a check
                assert np.array_equal(flagged, score < threshold[best])
            after = (correct & ~flagged)[known].mean()
            table[slack].append((100 * (before - after), flagged[~known].mean()))
            print(f"{held:>8s} {slack:5.2f} {before:9.4f} {after:11.4f} {table[slack][-1][0]:10.2f} "
                  f"{table[slack][-1][1]:16.3f}", flush=True)
    for slack in slacks:
        drops, flagged = np.array(table[slack]).T
        print(f"slack {slack:.2f}: mean drop {drops.mean():.2f} points (max {drops.max():.2f}), mean flagged "
              f"{flagged.mean():.3f}, held-out classes flagged in most cases {(flagged > 0.5).sum()}/{len(flagged)}"
              + ("  <- default" if slack == _REJECTION_SLACK else ""))


if __name__ == "__main__":
    main()

"""Open-set rejection on held-out classes: train without one class, then count how often
its test trajectories are flagged unknown, and what rejection costs on the known classes.

    python scripts/benchmark_rejection.py [PATH.npz] [--classes b c d e]

PATH.npz as for benchmark_accuracy.py (default: the character trajectories). For each
held-out class, prints: known-class accuracy without and with rejection (a rejected
trajectory counts as wrong), the drop in points, and the fraction of the held-out class
flagged unknown. Everything is measured in this run, trajhmm defaults, random_state=0.
"""

import argparse
import warnings

import numpy as np

from trajhmm import HMMClassifier
from trajhmm.datasets import load_npz

from benchmark_accuracy import DEFAULT


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", nargs="?", default=str(DEFAULT))
    p.add_argument("--classes", nargs="+", default=["b", "c", "d", "e"])
    p.add_argument("--n-jobs", type=int, default=2)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    tr, te = load_npz(args.path, split="train"), load_npz(args.path, split="test")
    ytr, yte = np.array(tr.labels), np.array(te.labels)
    print(f"{'held out':>8s} {'known acc':>9s} {'with reject':>11s} {'drop (pts)':>10s} {'held-out flagged':>16s}")
    drops, flagged = [], []
    for held in args.classes:
        keep = ytr != held
        clf = HMMClassifier(random_state=0, n_jobs=args.n_jobs)
        clf.fit([x for x, k in zip(tr.trajectories, keep) if k], ytr[keep])
        jll, unknown = clf.predict_with_unknown(te.trajectories)
        correct = clf.classes_[jll.argmax(axis=1)] == yte
        known = yte != held
        before, after = correct[known].mean(), (correct & ~unknown)[known].mean()
        drops.append(100 * (before - after))
        flagged.append(unknown[~known].mean())
        print(f"{held:>8s} {before:9.4f} {after:11.4f} {drops[-1]:10.2f} {flagged[-1]:16.3f}", flush=True)
    print(f"{'mean':>8s} {'':9s} {'':11s} {np.mean(drops):10.2f} {np.mean(flagged):16.3f}")


if __name__ == "__main__":
    main()

"""Test accuracy on a real trajectory benchmark: trajhmm defaults, a tuned trajhmm
configuration and plain hmmlearn, side by side.

    python scripts/benchmark_accuracy.py [PATH.npz] [--tune n_states=10,12,16 ...]
    python scripts/benchmark_accuracy.py --ts TRAIN.ts TEST.ts

PATH.npz holds X, lengths, y, split (like ../shared/data/character_trajectories.npz,
the default). The .ts pair is a UEA archive problem, e.g. JapaneseVowels from the aeon
wheel (see README). --tune cross-validates the given grid on the training split only
(3 folds), then scores the best configuration on the test split. Prints one row per
method: test accuracy, training time and prediction time, all measured in this run.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from hmmlearn import hmm

from trajhmm import HMMClassifier
from trajhmm.datasets import load_npz, read_ts
from trajhmm.model_selection import tune
from trajhmm.preprocessing import resample_all

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "character_trajectories.npz"


def load(args):
    if args.ts:
        tr, te = read_ts(args.ts[0]), read_ts(args.ts[1])
    else:
        tr, te = load_npz(args.path, split="train"), load_npz(args.path, split="test")
    return tr.trajectories, np.array(tr.labels), te.trajectories, np.array(te.labels)


def parse_grid(items):
    grid = {}
    for item in items:
        name, _, values = item.partition("=")
        grid[name] = [_value(v) for v in values.split(",")]
    return grid


def _value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def plain_hmmlearn(Xtr, ytr, Xte, n_states=6):
    """The baseline: GaussianHMM per class, diag covariance, resampled to 50 points."""
    classes = np.unique(ytr)
    tr, te = resample_all(Xtr, 50), resample_all(Xte, 50)
    t0 = time.perf_counter()
    models = []
    for c in classes:
        seg = tr[ytr == c]
        m = hmm.GaussianHMM(n_components=n_states, covariance_type="diag", n_iter=100, random_state=0)
        m.fit(seg.reshape(-1, seg.shape[2]), np.full(len(seg), 50))
        models.append(m)
    t1 = time.perf_counter()
    scores = np.array([[m.score(x) for m in models] for x in te])
    t2 = time.perf_counter()
    return classes[scores.argmax(axis=1)], t1 - t0, t2 - t1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", nargs="?", default=str(DEFAULT))
    p.add_argument("--ts", nargs=2, metavar=("TRAIN.ts", "TEST.ts"))
    p.add_argument("--tune", nargs="+", metavar="NAME=V1,V2", help="grid to cross-validate on the training split")
    p.add_argument("--n-jobs", type=int, default=2)
    args = p.parse_args()
    Xtr, ytr, Xte, yte = load(args)
    print(f"{args.ts or args.path}: {len(Xtr)} train / {len(Xte)} test, {len(np.unique(ytr))} classes")
    warnings.simplefilter("ignore")
    print(f"{'method':44s} {'accuracy':>8s} {'train s':>8s} {'predict s':>9s}")

    def row(name, fit):
        t0 = time.perf_counter()
        clf = fit()
        t1 = time.perf_counter()
        acc = clf.score(Xte, yte)
        print(f"{name:44s} {acc:8.4f} {t1 - t0:8.1f} {time.perf_counter() - t1:9.1f}", flush=True)

    row("trajhmm defaults (random_state=0)", lambda: HMMClassifier(random_state=0, n_jobs=args.n_jobs).fit(Xtr, ytr))
    if args.tune:
        grid = parse_grid(args.tune)
        found = {}

        def fit_tuned():
            best, ranking = tune(Xtr, ytr, grid, cv=3, random_state=0, n_jobs=args.n_jobs)
            found.update(ranking[0]["params"])
            return best

        row("trajhmm tuned by 3-fold CV on train", fit_tuned)
        print(f"  tuned configuration: {found}")
    pred, t_fit, t_pred = plain_hmmlearn(Xtr, ytr, Xte)
    print(f"{'plain hmmlearn GaussianHMM, 6 states, diag':44s} {np.mean(pred == yte):8.4f} {t_fit:8.1f} {t_pred:9.1f}")


if __name__ == "__main__":
    main()

"""Test accuracy on a .npz trajectory benchmark (X, lengths, y, split), e.g. the UCI
character trajectories in ../shared/data: trajhmm defaults vs plain hmmlearn.

    python scripts/benchmark_accuracy.py [PATH.npz] [--n-jobs N]

Prints one row per method: test accuracy, training time and prediction time, all
measured in this run.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from hmmlearn import hmm

from trajhmm import HMMClassifier
from trajhmm.preprocessing import resample_all

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "character_trajectories.npz"


def load(path):
    d = np.load(path, allow_pickle=False)
    seqs = np.split(d["X"], np.cumsum(d["lengths"])[:-1])
    train = d["split"] == "train"
    pick = lambda mask: [s for s, m in zip(seqs, mask) if m]  # noqa: E731
    return pick(train), d["y"][train], pick(~train), d["y"][~train]


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
    p.add_argument("--n-jobs", type=int, default=2)
    args = p.parse_args()
    Xtr, ytr, Xte, yte = load(args.path)
    print(f"{args.path}: {len(Xtr)} train / {len(Xte)} test, {len(np.unique(ytr))} classes")
    warnings.simplefilter("ignore")
    print(f"{'method':44s} {'accuracy':>8s} {'train s':>8s} {'predict s':>9s}")
    rows = [("trajhmm defaults (random_state=0)", HMMClassifier(random_state=0, n_jobs=args.n_jobs))]
    for name, clf in rows:
        t0 = time.perf_counter()
        clf.fit(Xtr, ytr)
        t1 = time.perf_counter()
        acc = clf.score(Xte, yte)
        print(f"{name:44s} {acc:8.4f} {t1 - t0:8.1f} {time.perf_counter() - t1:9.1f}", flush=True)
    pred, t_fit, t_pred = plain_hmmlearn(Xtr, ytr, Xte)
    print(f"{'plain hmmlearn GaussianHMM, 6 states, diag':44s} {np.mean(pred == yte):8.4f} {t_fit:8.1f} {t_pred:9.1f}")


if __name__ == "__main__":
    main()

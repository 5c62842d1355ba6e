"""Open-set rejection across data sets: leave groups of classes out of training, then
measure what rejection costs the known classes and how many unseen items it flags.

    python scripts/benchmark_rejection.py                    # every set in ../shared/data
    python scripts/benchmark_rejection.py PATH.npz ...       # chosen sets
    python scripts/benchmark_rejection.py --rates 0.01 0.02 0.05 0.1 --plot tradeoff.png
    python scripts/benchmark_rejection.py --method search    # HMMClassifierCV (default rate only)

For each set (train/test splits as in ../shared/data/README.md) the classes are cut into
groups of max(1, round(n_classes / 5)) (sorted labels, consecutive) and each group is left
out in turn: the model is trained on the train split of the other classes; on the test
split, the known-class accuracy without rejection and with it (``predict_or_reject``; a
rejected known item counts as wrong), the fraction of the left-out classes' items flagged
unknown, and the fraction of known items rejected (the realised rate, to compare with
``rejection_rate``). Printed per set and rate: the mean and worst drop in points over the
groups, the mean fraction flagged and the realised rate pooled over the groups. This is the
protocol of issue 17. "noise flagged": the fraction of 20 trajectories of Gaussian noise
at 10 times the training data's spread (around its mean, of the median training length,
a seed per group) flagged unknown: input far outside the training range. ``--rates``
re-thresholds the same fits: the threshold is the rate quantile of the out-of-fold scores
each fit computed (HMMClassifier's cross-fitting), so every rate is what
``HMMClassifier(rejection_rate=rate)`` would do (the far-out test does not depend on it). ``--plot`` draws the
trade-off (drop vs unseen flagged, one line per set over the rates; needs matplotlib).
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from trajhmm import HMMClassifier, HMMClassifierCV
from trajhmm.classifier import rejection_threshold
from trajhmm.datasets import load_npz

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


class _KeepScores(HMMClassifier):
    """HMMClassifier that keeps the out-of-fold scores its threshold came from."""

    def _oof_rejection_scores(self, *args):
        out = super()._oof_rejection_scores(*args)  # (open-set scores, stream ratios) or None
        self.oof_scores = None if out is None else out[0]
        return out


def groups_of(classes):
    size = max(1, round(len(classes) / 5))
    return [classes[i : i + size] for i in range(0, len(classes), size)]


def far_noise(X, seed, n=20, spread=10.0):
    """``n`` trajectories of Gaussian noise at ``spread`` times the spread of the points of
    ``X`` (around their mean), each of the median length of ``X``."""
    points = np.concatenate(X)
    length = int(np.median([len(x) for x in X]))
    rng = np.random.default_rng(seed)
    return [points.mean(0) + spread * points.std(0) * rng.standard_normal((length, points.shape[1]))
            for _ in range(n)]


def one_group(make, rates, Xtr, ytr, Xte, yte, left_out, seed):
    """Per rate: (known accuracy, known accuracy with rejection, unseen flagged, known
    rejected count, known count, far-out noise flagged)."""
    known_tr = ~np.isin(ytr, left_out)
    X_known = [x for x, k in zip(Xtr, known_tr) if k]
    noise = far_noise(X_known, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make().fit(X_known, ytr[known_tr])
    est = getattr(clf, "best_estimator_", clf)
    known = ~np.isin(yte, left_out)
    plain = clf.predict(Xte)
    rows = []
    for rate in rates:
        if rate is not None:
            est.rejection_threshold_ = np.full(len(est.classes_), rejection_threshold(est.oof_scores, rate))
        unknown = clf.is_unknown(Xte)
        correct = plain[known] == yte[known]
        rows.append((correct.mean(), (correct & ~unknown[known]).mean(), unknown[~known].mean(),
                     unknown[known].sum(), known.sum(), clf.is_unknown(noise).mean()))
    return rows


def plot(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    for name, (rates, drops, flagged) in curves.items():
        ax.plot(drops, flagged, marker="o", label=name)
        for r, x, y in zip(rates, drops, flagged):
            ax.annotate(f"{r:g}", (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.axvline(2, color="grey", lw=0.8, ls="--")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("known-class accuracy lost (points, mean over left-out groups)")
    ax.set_ylabel("unseen-class items flagged (mean over left-out groups)")
    ax.set_title("Open-set rejection: cost vs catch (labels: rejection_rate)")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="*", help="npz bundles (default: every .npz in ../shared/data)")
    p.add_argument("--method", choices=("defaults", "search"), default="defaults")
    p.add_argument("--rates", type=float, nargs="+", default=None,
                   help="rejection rates to evaluate on the same fits (defaults only; default: the library's)")
    p.add_argument("--plot", metavar="FILE.png", help="draw the trade-off over --rates")
    p.add_argument("--n-jobs", type=int, default=-1)
    args = p.parse_args()
    if args.method == "search" and args.rates:
        p.error("--rates needs --method defaults (the search keeps its out-of-fold scores to itself)")
    bad = [r for r in args.rates or () if not 0 < r <= 0.5]
    if bad:  # before any fit; rate 0 is rejection off, which leaves nothing to measure
        p.error(f"--rates: expected rates in (0, 0.5] (HMMClassifier's rejection_rate, 0 being off), got {bad[0]:g}")
    paths = args.paths or sorted(str(f) for f in DATA.glob("*.npz"))
    if not paths:
        p.error(f"no data sets: {DATA} holds no .npz bundle; name them")
    rates = args.rates or [None]
    make = (lambda: _KeepScores(random_state=0, n_jobs=args.n_jobs)) if args.method == "defaults" else \
        (lambda: HMMClassifierCV(random_state=0, n_jobs=args.n_jobs))
    print(f"{'set':26s} {'rate':>6s} {'groups':>6s} {'known acc':>9s} {'w/ reject':>9s} {'drop mean':>9s} "
          f"{'drop max':>8s} {'unseen flagged':>14s} {'known rejected':>14s} {'noise flagged':>13s} {'s':>6s}", flush=True)
    curves = {}
    for path in paths:
        tr, te = load_npz(path, split="train"), load_npz(path, split="test")
        ytr, yte = np.asarray(tr.labels), np.asarray(te.labels)
        t0 = time.perf_counter()
        per_group = np.array([one_group(make, rates, tr.trajectories, ytr, te.trajectories, yte, g, seed)
                              for seed, g in enumerate(groups_of(sorted(set(ytr.tolist()))))])  # (groups, rates, 6)
        seconds = time.perf_counter() - t0
        name = Path(path).stem
        curve = ([], [], [])
        for j, rate in enumerate(rates):
            rows = per_group[:, j]
            drops = 100 * (rows[:, 0] - rows[:, 1])
            realised = rows[:, 3].sum() / rows[:, 4].sum()
            label = "default" if rate is None else f"{rate:g}"
            print(f"{name:26s} {label:>6s} {len(rows):6d} {rows[:, 0].mean():9.4f} {rows[:, 1].mean():9.4f} "
                  f"{drops.mean():9.2f} {drops.max():8.2f} {rows[:, 2].mean():14.3f} {realised:14.4f} {rows[:, 5].mean():13.3f} "
                  f"{seconds:6.1f}",
                  flush=True)
            for lst, v in zip(curve, (rate, drops.mean(), rows[:, 2].mean())):
                lst.append(v)
        curves[name] = curve
    if args.plot and args.rates:
        plot(curves, args.plot)


if __name__ == "__main__":
    main()

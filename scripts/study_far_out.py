"""How the far-out test of open-set rejection got its constant, on the train splits alone.

    python scripts/study_far_out.py                      # every set in ../shared/data
    python scripts/study_far_out.py PATH.npz ... --fences 0 1.5 3 5

The far-out test flags a trajectory whose per-point log-likelihood under its predicted
class's model lies below a fence of the out-of-fold values of the training trajectories
(HMMClassifier's cross-fitting): the first quartile minus FENCE interquartile ranges, and
never above their minimum (FENCE 0: the minimum alone). The library uses 3, Tukey's
"far out". Nested: only the train split of each set is read; it is cut into 3 stratified
folds, HMMClassifier(random_state=0) is fitted on two of them, and on the third the
fraction of known trajectories flagged by the far-out test alone (the cost; it should be
about 0) is printed with the fraction of 30 trajectories of Gaussian noise at 3 and at 10
times the spread of the training part (around its mean, of its median length) flagged
(the catch), pooled over the folds.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from trajhmm import HMMClassifier
from trajhmm.classifier import likelihood_threshold
from trajhmm.datasets import load_npz

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


class _KeepFit(HMMClassifier):
    """HMMClassifier that keeps the out-of-fold values its far-out threshold came from."""

    def _oof_rejection_scores(self, *args):
        out = super()._oof_rejection_scores(*args)  # (ratios, stream ratios, per-point log-likelihoods)
        self.oof_fit = None if out is None else out[2]
        return out


def fence(values, k):
    q1, q3 = np.quantile(values, [0.25, 0.75])
    return float(min(values.min(), q1 - k * (q3 - q1)))


def noise(X, spread, n, rng):
    points = np.concatenate(X)
    length = int(np.median([len(x) for x in X]))
    return [points.mean(0) + spread * points.std(0) * rng.standard_normal((length, points.shape[1]))
            for _ in range(n)]


def fit_values(clf, X):
    """Per-point log-likelihood of each trajectory under its predicted class."""
    ll = clf._scores(X)[0]
    return clf._point_log_likelihood(ll, np.argmax(ll + np.log(clf.class_prior_), axis=1))


def study(path, fences, n_jobs):
    tr = load_npz(path, split="train")
    X, y = tr.trajectories, np.asarray(tr.labels)
    rng = np.random.default_rng(1)
    counts = np.zeros((len(fences), 3))
    n_known = n_noise = 0
    for a, b in StratifiedKFold(3, shuffle=True, random_state=0).split(np.zeros(len(y)), y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = _KeepFit(random_state=0, n_jobs=n_jobs).fit([X[i] for i in a], y[a])
        assert clf.likelihood_threshold_ == fence(clf.oof_fit, 3.0) == likelihood_threshold(clf.oof_fit)
        part = [X[i] for i in a]
        scores = [fit_values(clf, [X[i] for i in b]), fit_values(clf, noise(part, 3, 30, rng)),
                  fit_values(clf, noise(part, 10, 30, rng))]
        n_known, n_noise = n_known + len(b), n_noise + 30
        for j, k in enumerate(fences):
            counts[j] += [(s < fence(clf.oof_fit, k)).sum() for s in scores]
    return counts, n_known, n_noise


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="*", help="npz bundles (default: every .npz in ../shared/data)")
    p.add_argument("--fences", type=float, nargs="+", default=[0, 1.5, 3, 5],
                   help="interquartile ranges below the first quartile (0: the minimum alone)")
    p.add_argument("--n-jobs", type=int, default=-1)
    args = p.parse_args()
    paths = args.paths or sorted(str(f) for f in DATA.glob("*.npz"))
    if not paths:
        p.error(f"no data sets: {DATA} holds no .npz bundle; name them")
    print(f"{'set':26s} {'fence':>5s} {'known flagged':>20s} {'noise 3x':>8s} {'noise 10x':>9s} {'s':>5s}", flush=True)
    for path in paths:
        t0 = time.perf_counter()
        counts, n_known, n_noise = study(path, args.fences, args.n_jobs)
        seconds = time.perf_counter() - t0
        for k, (known, n3, n10) in zip(args.fences, counts):
            print(f"{Path(path).stem:26s} {k:5g} {known / n_known:8.4f} ({int(known):4d}/{n_known:4d}) "
                  f"{n3 / n_noise:8.3f} {n10 / n_noise:9.3f} {seconds:5.0f}", flush=True)


if __name__ == "__main__":
    main()

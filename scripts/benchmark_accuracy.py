"""Accuracy and calibration on real data: trajhmm defaults, the model search
(HMMClassifierCV) and plain hmmlearn, side by side.

    python scripts/benchmark_accuracy.py                   # every set in ../shared/data, test splits
    python scripts/benchmark_accuracy.py PATH.npz ...      # chosen sets
    python scripts/benchmark_accuracy.py --nested 3 ...    # design mode: nested CV on the TRAIN splits only

A set is an .npz bundle with X, lengths, y, split (../shared/data/README.md). Per set and
method it prints test accuracy, log loss, expected calibration error (15 bins, top label),
the median maximum probability of the wrong predictions, and fit seconds; for the search,
its cost as a multiple of one default fit measured in the same run ("x default").

--nested K never touches a test split: the train split is cut into K stratified outer
folds; each method is fitted on K-1 and scored on the last (the search runs its own inner
CV inside), and the figures are pooled over the outer folds. The built-in search space and
its constants were chosen this way (README, "Choosing the model from the data").

Methods: "defaults" = HMMClassifier(random_state=0); "search" = HMMClassifierCV
(random_state=0); "single" = the search without its ensemble (HMMClassifierCV(random_state=0,
ensemble=False): the best candidate alone); "hmmlearn" = GaussianHMM per class, 6 states, diagonal covariance, 30 EM
iterations, random_state=0, on 50-point sequences resampled in time (the anchor in
../shared/data/README.md).
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from hmmlearn import hmm
from scipy.special import log_softmax
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

from trajhmm import HMMClassifier
from trajhmm.calibration import expected_calibration_error
from trajhmm.datasets import load_npz
from trajhmm.preprocessing import resample_all
from trajhmm.search import HMMClassifierCV

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


class PlainHMMLearn:
    """The baseline of ../shared/data/README.md, with the estimator interface used here."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        segs = resample_all(X, 50)
        self.models_ = []
        for c in self.classes_:
            seg = segs[np.asarray(y) == c]
            m = hmm.GaussianHMM(n_components=6, covariance_type="diag", n_iter=30, random_state=0)
            m.fit(seg.reshape(-1, seg.shape[2]), np.full(len(seg), 50))
            self.models_.append(m)
        return self

    def predict_log_proba(self, X):
        segs = resample_all(X, 50)
        jll = np.array([[m.score(s) for m in self.models_] for s in segs])
        return log_softmax(jll, axis=1)


METHODS = {
    "defaults": lambda n_jobs: HMMClassifier(random_state=0, n_jobs=n_jobs),
    "search": lambda n_jobs: HMMClassifierCV(random_state=0, n_jobs=n_jobs),
    "single": lambda n_jobs: HMMClassifierCV(random_state=0, ensemble=False, n_jobs=n_jobs),
    "hmmlearn": lambda n_jobs: PlainHMMLearn(),
}


def scores(y_idx, log_proba):
    """accuracy, log loss, ECE, median max probability of the errors."""
    proba = np.exp(log_proba)
    pred = proba.argmax(axis=1)
    wrong = pred != y_idx
    loss = log_loss(y_idx, proba, labels=np.arange(proba.shape[1]))  # scikit-learn's, as trajhmm evaluate
    return {"accuracy": float((~wrong).mean()), "log_loss": float(loss),
            "ece": expected_calibration_error(y_idx, proba),
            "median_max_p_errors": float(np.median(proba.max(axis=1)[wrong])) if wrong.any() else float("nan")}


def evaluate(make, splits, n_jobs):
    """Pool the held-out log-probabilities over ``splits`` of (X_train, y_train, X_test, y_test)."""
    logp, truth, seconds, extra = [], [], 0.0, []
    for Xtr, ytr, Xte, yte in splits:
        est = make(n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            est.fit(Xtr, ytr)
            seconds += time.perf_counter() - t0
        logp.append(est.predict_log_proba(Xte))
        truth.append(np.searchsorted(est.classes_, yte))
        if hasattr(est, "best_params_"):
            extra.append({**est.best_params_, "temperature": round(est.temperature_, 2),
                          "ensemble_weights": np.round(est.ensemble_weights_, 2).tolist()})
    out = scores(np.concatenate(truth), np.concatenate(logp))
    out["fit_seconds"] = seconds
    if extra:
        out["chosen"] = extra
    return out


def splits_of(path, nested):
    tr = load_npz(path, split="train")
    X, y = tr.trajectories, np.asarray(tr.labels)
    if not nested:
        te = load_npz(path, split="test")
        return [(X, y, te.trajectories, np.asarray(te.labels))]
    outer = StratifiedKFold(n_splits=nested, shuffle=True, random_state=0)
    return [([X[i] for i in a], y[a], [X[i] for i in b], y[b]) for a, b in outer.split(np.zeros(len(y)), y)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="*", help="npz bundles (default: every .npz in ../shared/data)")
    p.add_argument("--nested", type=int, default=0, metavar="K", help="nested CV on the train split (K outer folds)")
    p.add_argument("--methods", default="defaults,search,hmmlearn")
    p.add_argument("--n-jobs", type=int, default=-1)
    p.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    args = p.parse_args()
    paths = args.paths or sorted(str(f) for f in DATA.glob("*.npz"))
    report = {}
    print(f"{'set':26s} {'method':9s} {'accuracy':>8s} {'log loss':>8s} {'ECE':>6s} {'err p50':>7s} "
          f"{'fit s':>7s} {'x default':>9s}", flush=True)
    for path in paths:
        splits = splits_of(path, args.nested)
        name = Path(path).stem
        report[name] = {}
        for method in args.methods.split(","):
            r = evaluate(METHODS[method], splits, args.n_jobs)
            report[name][method] = r
            base = report[name].get("defaults", {}).get("fit_seconds")
            ratio = f"{r['fit_seconds'] / base:9.1f}" if base and method in ("search", "single") else " " * 9
            print(f"{name:26s} {method:9s} {r['accuracy']:8.4f} {r['log_loss']:8.3f} {r['ece']:6.3f} "
                  f"{r['median_max_p_errors']:7.3f} {r['fit_seconds']:7.1f} {ratio}", flush=True)
            for chosen in r.get("chosen", []):
                print(f"{'':36s}chosen: {chosen}", flush=True)
    for method in args.methods.split(","):
        mean = np.mean([report[n][method]["accuracy"] for n in report])
        ece = np.mean([report[n][method]["ece"] for n in report])
        print(f"{'mean over sets':26s} {method:9s} {mean:8.4f} {'':8s} {ece:6.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

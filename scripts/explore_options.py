"""One parameter at a time: 3-fold stratified CV accuracy on the TRAIN splits only (no test
split is read), each candidate = the defaults with one or two parameters changed. This is
the exploration behind the built-in search space (README, "Accuracy").

    python scripts/explore_options.py uea_ering uea_japanese_vowels ...   # names in ../shared/data
    python scripts/explore_options.py --data-dir DIR --cap 1500 --n-jobs -1 NAME ...

Sets with more than 1500 training trajectories are subsampled to 1500 (seeded). Prints per
set one line of accuracies and one of summed fit seconds per candidate.
"""
import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold

from trajhmm import HMMClassifier
from trajhmm.datasets import load_npz

D = str(Path(__file__).resolve().parent.parent.parent / "shared" / "data") + "/"
CANDS = {
 "default": {},
 "tr_start": {"translation": "start"}, "tr_center": {"translation": "center"}, "tr_end": {"translation": "end"},
 "sc_std": {"scaling": "std"}, "sc_path": {"scaling": "path_length"},
 "ctr_std": {"translation": "center", "scaling": "std"},
 "d0": {"derivatives": 0}, "d2": {"derivatives": 2},
 "arc": {"resample": "arclength"},
 "diag": {"covariance_type": "diag"}, "tied": {"covariance_type": "tied"},
 "s6": {"n_states": 6}, "s20": {"n_states": 20},
 "diag6": {"covariance_type": "diag", "n_states": 6},
 "reg01": {"reg_covar": 0.01}, "reg1": {"reg_covar": 0.1}, "reg3": {"reg_covar": 0.3},
 "ergodic": {"topology": "ergodic"}, "mix2": {"n_mix": 2},
}
def one(X, y, tr, te, params):
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    clf = HMMClassifier(random_state=0, **params).fit([X[i] for i in tr], y[tr])
    ft = time.perf_counter() - t0
    jll = clf.predict_joint_log_proba([X[i] for i in te])
    return jll, ft
def run(name, cap=None, n_jobs=-1, data_dir=D):
    tr = load_npz(str(Path(data_dir) / (name + ".npz")), split="train")
    X, y = tr.trajectories, np.array(tr.labels)
    if cap and len(X) > cap:
        idx = np.random.RandomState(0).choice(len(X), cap, replace=False)
        X, y = [X[i] for i in idx], y[idx]
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(np.zeros(len(y)), y))
    jobs = [(c, k) for c in CANDS for k in range(3)]
    out = Parallel(n_jobs=n_jobs)(delayed(one)(X, y, folds[k][0], folds[k][1], CANDS[c]) for c, k in jobs)
    classes = np.unique(y)
    res = {}
    for c in CANDS:
        ft = 0
        oof = np.zeros((len(y), len(classes)))
        for k in range(3):
            jll, t = out[jobs.index((c, k))]
            oof[folds[k][1]] = jll
            ft += t
        pred = classes[oof.argmax(1)]
        res[c] = (float((pred == y).mean()), ft)
    print(name, " ".join(f"{c}={a:.3f}" for c, (a, t) in res.items()), flush=True)
    print(name, "secs", " ".join(f"{c}={t:.1f}" for c, (a, t) in res.items()), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="+", metavar="NAME", help="data sets: NAME.npz in --data-dir")
    p.add_argument("--data-dir", default=D, help="folder of the .npz sets (default: ../shared/data)")
    p.add_argument("--cap", type=int, default=1500, help="subsample larger train splits to this many")
    p.add_argument("--n-jobs", type=int, default=-1, help="parallel fits (-1: all cores)")
    args = p.parse_args()
    missing = [n for n in args.names if not (Path(args.data_dir) / (n + ".npz")).is_file()]
    if missing:
        p.error(f"no such data set in {args.data_dir}: {', '.join(missing)}")
    for name in args.names:
        run(name, cap=args.cap, n_jobs=args.n_jobs, data_dir=args.data_dir)


if __name__ == "__main__":
    sys.exit(main())

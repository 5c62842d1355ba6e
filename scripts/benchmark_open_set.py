"""Open-set rejection across data sets: leave groups of classes out of training, then
measure what rejection costs the known classes and how many unseen items it flags.

    python scripts/benchmark_open_set.py                    # every set in ../shared/data
    python scripts/benchmark_open_set.py PATH.npz ...       # chosen sets
    python scripts/benchmark_open_set.py --method search    # HMMClassifierCV instead of the defaults

For each set (train/test splits as in ../shared/data/README.md) the classes are cut into
groups of max(1, round(n_classes / 5)) (sorted labels, consecutive) and each group is left
out in turn: the model is trained on the train split of the other classes; on the test
split, the known-class accuracy without rejection and with it (``predict_or_reject``; a
rejected known item counts as wrong) and the fraction of the left-out classes' items that
are flagged unknown. Printed per set: the mean and worst drop in points and the mean
fraction flagged, over the groups. This is the protocol of issue 17 (open-set rejection
that transfers); the figures describe the rejection rule of the library as it is.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from trajhmm import HMMClassifier, HMMClassifierCV
from trajhmm.datasets import load_npz

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def groups_of(classes):
    size = max(1, round(len(classes) / 5))
    return [classes[i : i + size] for i in range(0, len(classes), size)]


def one_group(make, Xtr, ytr, Xte, yte, left_out):
    known_tr = ~np.isin(ytr, left_out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make().fit([x for x, k in zip(Xtr, known_tr) if k], ytr[known_tr])
    out = clf.predict_or_reject(Xte, unknown=None)
    plain = clf.predict(Xte)
    known = ~np.isin(yte, left_out)
    before = float((plain[known] == yte[known]).mean())
    after = float(np.mean([o is not None and o == t for o, t in zip(out[known], yte[known])]))
    flagged = float(np.mean([o is None for o in out[~known]]))
    return before, after, flagged


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="*", help="npz bundles (default: every .npz in ../shared/data)")
    p.add_argument("--method", choices=("defaults", "search"), default="defaults")
    p.add_argument("--n-jobs", type=int, default=-1)
    args = p.parse_args()
    paths = args.paths or sorted(str(f) for f in DATA.glob("*.npz"))
    make = (lambda: HMMClassifier(random_state=0, n_jobs=args.n_jobs)) if args.method == "defaults" else \
        (lambda: HMMClassifierCV(random_state=0, n_jobs=args.n_jobs))
    print(f"{'set':26s} {'groups':>6s} {'known acc':>9s} {'w/ reject':>9s} {'drop mean':>9s} {'drop max':>8s} "
          f"{'unseen flagged':>14s} {'s':>6s}", flush=True)
    for path in paths:
        tr, te = load_npz(path, split="train"), load_npz(path, split="test")
        ytr, yte = np.asarray(tr.labels), np.asarray(te.labels)
        t0 = time.perf_counter()
        rows = np.array([one_group(make, tr.trajectories, ytr, te.trajectories, yte, g)
                         for g in groups_of(sorted(set(ytr.tolist())))])
        drops = 100 * (rows[:, 0] - rows[:, 1])
        print(f"{Path(path).stem:26s} {len(rows):6d} {rows[:, 0].mean():9.4f} {rows[:, 1].mean():9.4f} "
              f"{drops.mean():9.2f} {drops.max():8.2f} {rows[:, 2].mean():14.3f} {time.perf_counter() - t0:6.1f}",
              flush=True)


if __name__ == "__main__":
    main()

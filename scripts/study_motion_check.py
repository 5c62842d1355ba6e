"""How often the motion check of predict (``trajhmm.streaming.motion_flags``) flags known
trajectories, and input in other units, on the train splits alone.

    python scripts/study_motion_check.py                 # every set in ../shared/data, and sample_data
    python scripts/study_motion_check.py PATH.npz ...

A trajectory is "still" when it moves less than half as much as the least moving training
trajectory of any class, "oversized" when it moves more than twice as much as the most
moving one (the factor of the streams' still-window gate, chosen there on the train
splits). Nested: only the train split of each set is read (sample_data: all of it, it has
no test split); it is cut into 3 stratified folds, HMMClassifier(random_state=0) with the
default preprocessing is fitted on two (n_iter=5: the motion figures do not depend on EM),
and on the third the fraction of known trajectories flagged (the cost; it should be about
0) is printed, then the fraction flagged when the held-out trajectories are multiplied by
a factor (as if read in other units: x0.001 is metres read as millimetres' training data).

Then the range, over each set's train split, of how much each trajectory moves against the
median of its class (what the readers' warning about trajectories in other units than the
rest of their class compares with ``trajhmm.datasets.UNITS_FACTOR``, 30).

Last, spot's check of whole recordings (``trajhmm.streaming.stream_motion_flag``): on the
first fold, 20 held-out trajectories laid end to end with each filler of
../shared/streams.py; how much the most moving window moves against the most and the least
moving training trajectory, and the flag of the stream multiplied by each factor.
"""

import argparse
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from trajhmm import HMMClassifier, preprocessing
from trajhmm.datasets import load_dataset
from trajhmm.streaming import motion, motion_flags, stream_motion_flag

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
FACTORS = (1e-3, 1e-2, 0.1, 0.3, 3.0, 10.0, 1e3)


def study(path):
    split = "train" if path.suffix == ".npz" else None
    ds = load_dataset(path, split=split)
    X, y = ds.trajectories, np.asarray(ds.labels)
    flagged = {f: [] for f in (1.0, *FACTORS)}
    for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = HMMClassifier(n_iter=5, random_state=0).fit([X[i] for i in train], y[train])
        for f in flagged:
            still, big = motion_flags(clf, [X[i] * f for i in test])
            flagged[f].append(still | big)
    rates = {f: float(np.concatenate(v).mean()) for f, v in flagged.items()}
    print(f"{path.name:32s} known {rates[1.0]:.3f}  " + "  ".join(f"x{f:g} {rates[f]:.3f}" for f in FACTORS),
          flush=True)
    return rates


def stream_check(path):
    import sys

    sys.path.insert(0, str(ROOT.parent / "shared"))
    import streams

    ds = load_dataset(path, split="train" if path.suffix == ".npz" else None)
    X, y = ds.trajectories, np.asarray([str(label) for label in ds.labels])
    train, test = next(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = HMMClassifier(n_iter=5, random_state=0).fit([X[i] for i in train], y[train])
    q, width = clf.class_motion_quantiles_, max(2, int(np.nanmedian(clf.class_length_quantiles_[:, 2])))
    for filler in ("pause", "scribble"):
        s, _ = streams.make([X[i] for i in test], y[test], min(20, len(test)), filler, seed=0)
        starts = np.arange(0, len(s) - width + 1, max(1, width // 2))
        top = motion(preprocessing.resample_all([s[i : i + width] for i in starts], clf.n_points, clf.resample),
                     clf.motion_scale_).max()
        flags = "  ".join(f"x{f:g} {stream_motion_flag(clf, s * f)}" for f in (1.0, *FACTORS))
        print(f"{path.name:32s} {filler:8s} top window / most moving {top / np.nanmax(q[:, -1]):.2f}, / least "
              f"moving {top / np.nanmin(q[:, 0]):.2f};  {flags}", flush=True)


def class_ratios(path):
    ds = load_dataset(path, split="train" if path.suffix == ".npz" else None)
    moves = np.array([np.sqrt(np.mean(np.var(x, axis=0))) for x in ds.trajectories])
    labels = np.array([str(label) for label in ds.labels])
    ratio = np.ones(len(moves))
    for label in np.unique(labels):
        own = labels == label
        ratio[own] = moves[own] / np.median(moves[own])
    print(f"{path.name:32s} moves {ratio.min():.3f} to {ratio.max():.3f} times its class's median", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    paths = args.paths or [*sorted(DATA.glob("*.npz")), ROOT / "sample_data"]
    print("fraction flagged (still or oversized) of held-out train-split trajectories, 3 folds pooled")
    rates = [study(p) for p in paths]
    print(f"{'mean':32s} known {np.mean([r[1.0] for r in rates]):.3f}  "
          + "  ".join(f"x{f:g} {np.mean([r[f] for r in rates]):.3f}" for f in FACTORS))
    print("each training trajectory against the median of its class (train splits)")
    for p in paths:
        class_ratios(p)
    print("spot's check of whole recordings (streams of held-out train-split trajectories)")
    for p in paths:
        stream_check(p)


if __name__ == "__main__":
    main()

"""Peak memory of predict_proba on a large batch: blocks of trajectories against the whole
batch transformed at once (the reference, measured in the same run).

    python scripts/benchmark_memory.py [--n 100000] [--points 10]

A default HMMClassifier is trained on the sample_data generator (3-D); then predict_proba
scores --n short random-walk trajectories of --points points, first as the package does
(``trajhmm.classifier._TRANSFORM_CHUNK`` trajectories turned into segments at a time),
then with the block made larger than the batch (every segment in memory at once). The
peak is what Python's tracemalloc saw numpy allocate during the call (the input and the
model are allocated before it); the script prints both peaks, their ratio and whether the
two results are identical.
"""

import argparse
import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_sample_data import make_dataset

import trajhmm.classifier as classifier
from trajhmm import HMMClassifier


def peak_mb(clf, X):
    tracemalloc.start()
    try:
        proba = clf.predict_proba(X)
        return tracemalloc.get_traced_memory()[1] / 2**20, proba
    finally:
        tracemalloc.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="trajectories in the batch")
    p.add_argument("--points", type=int, default=10, help="points per trajectory")
    args = p.parse_args()
    X, y = make_dataset(per_class=10, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = HMMClassifier(random_state=0, rejection_rate=0, prefix_view=False).fit(X, y)
    rng = np.random.RandomState(0)
    batch = [rng.randn(args.points, 3).cumsum(0) for _ in range(args.n)]
    blocks, proba = peak_mb(clf, batch)
    saved = classifier._TRANSFORM_CHUNK
    classifier._TRANSFORM_CHUNK = args.n + classifier._SCORE_CHUNK  # one block: the whole batch at once
    try:
        whole, reference = peak_mb(clf, batch)
    finally:
        classifier._TRANSFORM_CHUNK = saved
    print(f"predict_proba on {args.n} trajectories of {args.points} x 3 points, peak memory allocated:")
    print(f"  in blocks of {saved}: {blocks:.0f} MB")
    print(f"  whole batch at once (reference): {whole:.0f} MB")
    print(f"  ratio (blocks / whole): {blocks / whole:.2f}; identical results: {np.array_equal(proba, reference)}")


if __name__ == "__main__":
    main()

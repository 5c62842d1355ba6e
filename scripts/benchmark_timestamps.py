"""Irregular sampling: are trajectories recorded at uneven instants classified as well as
the same shapes recorded regularly, when their time stamps are given?

    python scripts/benchmark_timestamps.py [--sets character_trajectories uea_basic_motions ...]

For each data set in ../shared/data (official train/test split): every trajectory gets
regular time stamps (epoch seconds, 200 Hz). An irregular copy of the test split is made
by sampling each test trajectory at random instants (steps uniform in 0.2-1.8 times the
regular step, the values linearly interpolated, the same number of points). One
``HMMClassifier(random_state=0, time_column=0)`` is trained on the regular training
split; the script prints its test accuracy on the regular test split, on the irregular
one, and on the irregular one with every clock moved by a year; then the same model
without time stamps (``time_column=None``: samples taken as evenly spaced) on the
regular and the irregular test split. Rejection is off (rate 0): it is not what this
measures, and it triples the fit time.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from trajhmm import HMMClassifier
from trajhmm.datasets import load_npz

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SETS = ["character_trajectories", "uea_basic_motions", "uea_ering", "uea_japanese_vowels", "uea_racket_sports",
        "uea_pen_digits"]
EPOCH, YEAR, RATE = 1.7e9, 365 * 86400.0, 200.0


def regular(X):
    return [np.column_stack([EPOCH + np.arange(len(x)) / RATE, x]) for x in X]


def irregular(X, rng):
    out = []
    for x in X:
        n = len(x)
        steps = rng.uniform(0.2, 1.8, n - 1)
        u = np.concatenate([[0.0], np.cumsum(steps)]) / steps.sum() * (n - 1)  # instants, in regular steps
        values = np.column_stack([np.interp(u, np.arange(n), x[:, d]) for d in range(x.shape[1])])
        out.append(np.column_stack([EPOCH + u / RATE, values]))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=SETS, choices=SETS)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    print("set | regular | irregular, with time stamps | irregular, clocks +1 year | no time stamps: regular | "
          "no time stamps: irregular | fit s")
    for name in args.sets:
        train, test = (load_npz(args.data / f"{name}.npz", split=s) for s in ("train", "test"))
        rng = np.random.RandomState(0)
        Xtr, Xte, Xir = regular(train.trajectories), regular(test.trajectories), irregular(test.trajectories, rng)
        later = [x + np.r_[YEAR, np.zeros(x.shape[1] - 1)] for x in Xir]
        t0 = time.perf_counter()
        timed = HMMClassifier(random_state=0, time_column=0, rejection_rate=0.0).fit(Xtr, train.labels)
        seconds = time.perf_counter() - t0
        blind = HMMClassifier(random_state=0, rejection_rate=0.0).fit(train.trajectories, train.labels)
        scores = [timed.score(Xte, test.labels), timed.score(Xir, test.labels), timed.score(later, test.labels),
                  blind.score(test.trajectories, test.labels), blind.score([x[:, 1:] for x in Xir], test.labels)]
        print(f"{name} | " + " | ".join(f"{s:.4f}" for s in scores) + f" | {seconds:.1f}", flush=True)


if __name__ == "__main__":
    main()

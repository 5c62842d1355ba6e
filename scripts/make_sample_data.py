"""Generate sample_data/: 10 classes of 3-D trajectories, 501 x 3 points, ending at (0, 0, 0).

Each class is a family of reaching movements towards the origin (a straight reach, an arc,
a helix, a hook, ...). Every trajectory gets its own amplitude jitter, small rotation,
start-point jitter, smooth time warping and measurement noise, so the classes are
learnable but not trivially separable. Deterministic for a given seed.

    python scripts/make_sample_data.py [OUT_DIR] [--per-class N] [--seed S]
"""

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

N_POINTS = 501


def _rot(axis, angle):
    c, s = np.cos(angle), np.sin(angle)
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    R = np.eye(3)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


def _base_curves():
    """Class name -> function of s in [0, 1] giving (len(s), 3) points, ending at 0."""

    def line(start):
        start = np.asarray(start, float)
        return lambda s: (1 - s)[:, None] * start

    def arc(start, bulge):
        start, bulge = np.asarray(start, float), np.asarray(bulge, float)
        return lambda s: (1 - s)[:, None] * start + (np.sin(np.pi * s) * (1 - s) ** 0.2)[:, None] * bulge

    def helix(radius, height, turns):
        def f(s):
            r = radius * (1 - s)
            a = 2 * np.pi * turns * s
            return np.c_[r * np.cos(a), r * np.sin(a), height * (1 - s)]

        return f

    def hook(start, side):
        start, side = np.asarray(start, float), np.asarray(side, float)
        return lambda s: (1 - s)[:, None] * start + (np.sin(2 * np.pi * s) * (1 - s))[:, None] * side

    def wave(start, side, cycles):
        start, side = np.asarray(start, float), np.asarray(side, float)
        return lambda s: (1 - s)[:, None] * start + (np.sin(2 * np.pi * cycles * s) * (1 - s))[:, None] * side

    return {
        "reach_x": line([1.0, 0.0, 0.3]),
        "reach_y": line([0.0, 1.0, 0.3]),
        "arc_up": arc([1.0, 0.0, 0.0], [0.0, 0.0, 0.6]),
        "arc_side": arc([0.0, 1.0, 0.0], [0.6, 0.0, 0.0]),
        "helix_ccw": helix(0.8, 0.8, 1.0),
        "helix_cw": helix(0.8, 0.8, -1.0),
        "hook_left": hook([0.7, 0.7, 0.2], [0.4, -0.4, 0.0]),
        "hook_right": hook([0.7, 0.7, 0.2], [-0.4, 0.4, 0.0]),
        "wave": wave([1.0, 0.5, 0.0], [0.0, 0.0, 0.3], 2.0),
        "drop": arc([0.3, 0.3, 1.0], [0.5, -0.5, 0.0]),
    }


def _time_warp(rng, n):
    """A smooth, monotone map of [0, 1] onto itself (speed profile of one movement)."""
    u = np.linspace(0, 1, n)
    a = rng.uniform(0.75, 1.35)
    knots = np.cumsum(rng.uniform(0.6, 1.4, size=6))
    knots = np.concatenate([[0], knots / knots[-1]])
    w = np.interp(u, np.linspace(0, 1, len(knots)), knots)
    return np.clip(w**a, 0, 1)


def make_trajectory(curve, rng, n_points=N_POINTS):
    """One noisy, warped, jittered trajectory of ``curve`` ending exactly at the origin."""
    s = _time_warp(rng, n_points)
    x = curve(s)
    x = x * rng.uniform(0.85, 1.15, size=3)
    R = _rot(2, rng.normal(0, 0.12)) @ _rot(1, rng.normal(0, 0.08)) @ _rot(0, rng.normal(0, 0.08))
    x = x @ R.T
    x = x + (1 - s)[:, None] * rng.normal(0, 0.05, size=3)
    x = x + rng.normal(0, 0.01, size=x.shape)
    x[-1] = 0.0
    return x


def make_dataset(per_class=12, seed=0, n_points=N_POINTS):
    """Return (trajectories, labels) with ``per_class`` trajectories of each of 10 classes."""
    rng = np.random.RandomState(seed)
    X, y = [], []
    for name, curve in _base_curves().items():
        for _ in range(per_class):
            X.append(make_trajectory(curve, rng, n_points))
            y.append(name)
    return X, y


def write_dataset(out_dir, per_class=12, seed=0):
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    X, y = make_dataset(per_class, seed)
    counters = {}
    for traj, label in zip(X, y):
        counters[label] = counters.get(label, 0) + 1
        folder = out / label
        folder.mkdir(parents=True, exist_ok=True)
        np.savetxt(folder / f"{label}_{counters[label]:03d}.csv", traj, fmt="%.4f", delimiter=",",
                   header="x,y,z", comments="")
    return len(X)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", nargs="?", default=str(Path(__file__).resolve().parent.parent / "sample_data"))
    p.add_argument("--per-class", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    n = write_dataset(args.out_dir, args.per_class, args.seed)
    print(f"wrote {n} trajectories to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

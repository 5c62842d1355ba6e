"""Time of load_trajectories on a folder of many small CSV files: the reader of this
checkout against the reader at --reference (before issue "Real data in, as users hold it").

    python scripts/benchmark_read.py [--n 10000] [--repeat 3] [--reference 25fd9e6]

The reference is trajhmm/datasets.py at commit --reference, taken with ``git show``, its
relative imports pointed at the installed trajhmm, and imported as a module from a
temporary directory. The data: --n CSV files of 50 to 500 rows x 3 columns in 4 class
folders, half with a header row "x,y,z" and half without, written with 8 decimals. Both
readers load the same tree in the same run, interleaved, --repeat times each; the script
prints the median time of each and their ratio (new / old). Target: ratio <= 1.1.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's trajhmm, not another installed one
sys.path.insert(0, str(HERE))

from _reference import median_times, module_at

from trajhmm import datasets


def old_reader(ref, tmp):
    """``load_trajectories`` of trajhmm/datasets.py at commit ``ref``."""
    return module_at(ref, "trajhmm/datasets.py", tmp, ()).load_trajectories


def make_tree(root, n, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        folder = root / f"class_{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        x = rng.standard_normal((int(rng.integers(50, 501)), 3)).cumsum(axis=0)
        header = "x,y,z\n" if i % 2 else ""
        (folder / f"traj_{i:05d}.csv").write_text(header + "\n".join(f"{a:.8f},{b:.8f},{c:.8f}" for a, b, c in x) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="number of CSV files")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", default="25fd9e6")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        loaders = {"old": old_reader(args.reference, tmp), "new": datasets.load_trajectories}
        root = Path(tmp) / "data"
        make_tree(root, args.n)
        first = {name: load(root) for name, load in loaders.items()}  # warm up (imports, file cache)
        assert all(np.array_equal(a, b) for a, b in zip(first["old"].trajectories, first["new"].trajectories))
        t = median_times(loaders, root, args.repeat)
        print(f"load_trajectories, {args.n} CSV files (50-500 x 3, half with a header), "
              f"median of {args.repeat} interleaved runs; old = {args.reference}")
        print(f"  old {t['old']:.3f} s, new {t['new']:.3f} s, ratio new / old {t['new'] / t['old']:.2f} (target <= 1.1)")


if __name__ == "__main__":
    main()

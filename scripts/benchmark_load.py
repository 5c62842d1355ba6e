"""Time of load_model on valid files: the validating loader against the loader before it.

    python scripts/benchmark_load.py [--repeat 200] [--reference ee0627c]

The reference is trajhmm/persistence.py at commit --reference (the loader before issue 16
added validation), taken with ``git show``, its relative imports pointed at the installed
trajhmm, and imported as a module from a temporary directory. Each loader reads the file
it accepts, in the same run, interleaved, --repeat times each: the new one the file as
saved (current format), the old one the same file relabelled format 1 (the old loader
refuses newer formats; the new one refuses a format-1 label on members that later formats
added). The two files hold the same arrays but for the few later members the old loader
would not read. The script prints the median time of each and their ratio (new / old)
for several model shapes, trained on the sample_data generator (small settings: the
benchmark is about reading, not training).
"""

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _reference import median_times, module_at
from make_sample_data import make_dataset

from trajhmm import HMMClassifier, load_model, save_model
from trajhmm.persistence import _rewrite

SHAPES = [
    dict(n_states=12, covariance_type="full"),  # the defaults
    dict(n_states=8, covariance_type="diag", n_mix=3),
    dict(n_states=20, covariance_type="full", n_mix=2),
]


def as_format_1(arrays, meta):
    """A current file labelled format 1 (the old loader refuses newer ones), without the
    members it cannot take; the parameters stay those of the installed HMMClassifier,
    which both loaders build."""
    meta["format_version"] = 1
    meta.pop("reader", None)
    arrays.pop("class_length_quantiles_", None)


def old_loader(ref, tmp):
    """``load_model`` of trajhmm/persistence.py at commit ``ref`` (its private _hmm module is the trajhmm.hmm
    package now, same functions)."""
    return module_at(ref, "trajhmm/persistence.py", tmp, (("from . import _hmm", "from trajhmm import hmm as _hmm"),)).load_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--reference", default="ee0627c")
    args = parser.parse_args()
    X, y = make_dataset(per_class=6, seed=0, n_points=60)
    with tempfile.TemporaryDirectory() as tmp:
        loaders = {"old": old_loader(args.reference, tmp), "new": load_model}
        print(f"load_model, median of {args.repeat} interleaved runs; old = {args.reference}")
        ratios = []
        for shape in SHAPES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # no prefix view: its second set of class models (format 11) the old loader would not read
                clf = HMMClassifier(**shape, n_iter=3, random_state=0, prefix_view=False).fit(X, y)
            path, old = Path(tmp) / "m.npz", Path(tmp) / "m1.npz"
            save_model(clf, path)
            shutil.copyfile(path, old)
            _rewrite(old, as_format_1)  # what the old loader reads
            files = {"old": old, "new": path}
            calls = {name: lambda f, load=load, name=name: load(f[name]) for name, load in loaders.items()}
            for load in calls.values():  # warm up (imports, caches)
                load(files)
            t = median_times(calls, files, args.repeat)
            ratios.append(t["new"] / t["old"])
            print(f"  {len(clf.classes_)} classes, {shape}: file {path.stat().st_size / 1e3:.0f} kB, "
                  f"old {1e3 * t['old']:.2f} ms, new {1e3 * t['new']:.2f} ms, ratio {ratios[-1]:.2f}")
        print(f"ratio new / old: max {max(ratios):.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()

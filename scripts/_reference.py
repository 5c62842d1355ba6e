"""What the benchmarks that compare this checkout with an earlier commit share: the module
of that commit, importable beside the installed trajhmm, and interleaved median timings."""

import importlib.util
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_at(ref, relpath, tmp, replacements=()):
    """trajhmm's module ``relpath`` (e.g. "trajhmm/datasets.py") at commit ``ref``, its
    relative imports pointed at the installed trajhmm (``replacements``: more (old, new)
    text substitutions), imported from the folder ``tmp``."""
    text = subprocess.run(["git", "show", f"{ref}:{relpath}"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout
    for old, new in replacements:
        text = text.replace(old, new)
    text = text.replace("from . import ", "from trajhmm import ").replace("from .", "from trajhmm.")
    name = Path(relpath).stem + "_old"
    path = Path(tmp) / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median_times(calls, arg, repeat):
    """``{name: median seconds of call(arg)}``, the calls interleaved ``repeat`` times so
    that every one sees the same machine state."""
    times = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call(arg)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}

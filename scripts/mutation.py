#!/usr/bin/env python3
"""Mutation testing of the core modules with mutmut (issue 18). Slow: not part of CI.

Usage (from anywhere; the venv that has mutmut, pytest and pytest-timeout):

    python scripts/mutation.py                          # every core module, one after the other
    python scripts/mutation.py trajhmm/preprocessing.py trajhmm/_validation.py
    python scripts/mutation.py trajhmm/hmm/             # a package: every module in it
    python scripts/mutation.py trajhmm/hmm/ --sample 80      # 80 random mutants (seeded), for a quick look;
                                                             # a larger --sample later adds to them
    python scripts/mutation.py --report-only            # summary and survivors of what has been run

The configuration (which files get mutants, which tests run, the pytest timeout) is in
pyproject.toml, [tool.mutmut]. mutmut copies the package into ./mutants/ (gitignored) and keeps its
results there: a second run only tests mutants that have no result yet (mutmut resets the results
of functions whose code changed); --fresh deletes ./mutants/ first to re-test everything. All the
modules go to one `mutmut run`; the minutes per module
are the summed test runs of its mutants (from mutmut's records), without mutmut's fixed costs (the
stats run, the whole selected suite, when the tests changed; one clean run of the tests involved).

Printed per module: mutants, checked, killed, timeout, survived, no tests (no selected test calls
the mutated function), other, score = (killed + timeout) / checked, minutes, and the minutes a full
run of the module would take at the same rate. The survivors
(name, `mutmut show` diff) go to mutation-survivors.txt (gitignored), grouped by module and function.
"""

import argparse
import fnmatch
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE_MODULES = [
    "trajhmm/preprocessing.py",
    "trajhmm/_validation.py",
    "trajhmm/hmm/",
    "trajhmm/classifier.py",
    "trajhmm/persistence.py",
    "trajhmm/datasets.py",
]
NOT_CHECKED = "not checked"


def module_glob(path):
    """trajhmm/_hmm.py -> trajhmm._hmm.*, trajhmm/hmm/ -> trajhmm.hmm.* (mutmut's mutant names)."""
    p = Path(path)
    if p.suffix == ".py":
        p = p.with_suffix("")
    dotted = ".".join(p.parts)
    if not (ROOT / path).exists():
        sys.exit(f"mutation.py: no such module or package: {path}")
    return dotted + ".*"


def mutmut(args, env, nice, capture=False, log=None):
    cmd = [sys.executable, "-m", "mutmut", *args]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    if capture:
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def generate_mutants(env):
    """Only generate mutants (mutmut has no command for this), so that a sample can be drawn."""
    code = (
        "from mutmut.__main__ import copy_src_dir, copy_also_copy_files, setup_source_paths, "
        "store_lines_covered_by_tests, create_mutants, set_mutant_under_test\n"
        "import os\n"
        "os.makedirs('mutants', exist_ok=True)\n"
        "set_mutant_under_test('mutant_generation')\n"
        "copy_src_dir(); copy_also_copy_files(); setup_source_paths(); store_lines_covered_by_tests()\n"
        "create_mutants(1)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def all_results(env):
    """{mutant name: status} from `mutmut results --all true`."""
    out = mutmut(["results", "--all", "true"], env, nice=0, capture=True)
    results = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\s+(\S+): (.+)$", line)
        if m:
            results[m.group(1)] = m.group(2).strip()
    return results


def mutant_seconds():
    """{mutant name: seconds its test run took}, from mutmut's files in ./mutants/."""
    out = {}
    for meta in (ROOT / "mutants").rglob("*.py.meta"):
        out.update(json.loads(meta.read_text()).get("durations_by_key", {}))
    return out


def function_of(name):
    """trajhmm.classifier.xǁHMMClassifierǁfit__mutmut_3 -> HMMClassifier.fit."""
    last = name.rsplit(".", 1)[-1]
    last = re.sub(r"__mutmut_\d+$", "", last)
    if last.startswith("xǁ"):
        return ".".join(last[2:].split("ǁ"))
    return last[2:] if last.startswith("x_") else last


def summarise(results, globs):
    seconds = mutant_seconds()
    header = (f"{'module':26} {'mutants':>7} {'checked':>7} {'killed':>6} {'timeout':>7} {'survived':>8} "
              f"{'no tests':>8} {'other':>5} {'score':>6} {'minutes':>7} {'all (est.)':>10}")
    lines = [header, "-" * len(header)]
    for module, pattern in globs.items():
        names = [n for n in results if fnmatch.fnmatch(n, pattern)]
        statuses = Counter(results[n] for n in names)
        total = len(names)
        checked = total - statuses[NOT_CHECKED]
        good = statuses["killed"] + statuses["timeout"]
        other = checked - good - statuses["survived"] - statuses["no tests"]
        score = f"{100 * good / checked:5.1f}%" if checked else "   -  "
        timed = [seconds[n] for n in names if n in seconds]
        minutes = sum(timed) / 60
        estimate = minutes / len(timed) * total if timed else float("nan")
        lines.append(f"{module:26} {total:7} {checked:7} {statuses['killed']:6} {statuses['timeout']:7} "
                     f"{statuses['survived']:8} {statuses['no tests']:8} {other:5} {score:>6} {minutes:7.1f} "
                     f"{estimate:10.0f}")
    lines.append("minutes: the test runs of the checked mutants (one at a time); all (est.): the same for every "
                 "mutant of the module")
    return "\n".join(lines)


def one_line(diff):
    """The changed line of a `mutmut show` diff as 'old -> new' (stripped)."""
    lines = diff.splitlines()
    minus = [line[1:].strip() for line in lines if line.startswith("-") and not line.startswith("---")]
    plus = [line[1:].strip() for line in lines if line.startswith("+") and not line.startswith("+++")]
    return f"{' / '.join(minus)}  ->  {' / '.join(plus)}"


def write_survivors(results, globs, env, path, markdown=None):
    """Survivors (and mutants no test reaches) grouped by module and function: the diffs to
    `path`, one line per mutant to `markdown` (a starting point for a notes file)."""
    text, md = [], []
    for module, pattern in globs.items():
        bad = sorted((n for n, s in results.items()
                      if fnmatch.fnmatch(n, pattern) and s in ("survived", "no tests", "suspicious")),
                     key=lambda n: (function_of(n), int(re.search(r"(\d+)$", n).group(1))))
        text.append(f"{'=' * 100}\n{module}: {len(bad)} not killed\n{'=' * 100}\n")
        md.append(f"\n## {module}: {len(bad)} not killed\n")
        by_function = defaultdict(list)
        for n in bad:
            by_function[function_of(n)].append(n)
        for func, names in sorted(by_function.items(), key=lambda kv: -len(kv[1])):
            text.append(f"\n--- {module} {func}: {len(names)}\n")
            md.append(f"\n### {func} ({len(names)})\n")
            for n in names:
                diff = mutmut(["show", n], env, nice=0, capture=True).stdout
                text.append(diff.rstrip() + "\n\n")
                status = "" if results[n] == "survived" else f" [{results[n]}]"
                md.append(f"- `{n.rsplit('__mutmut_', 1)[-1]}`{status}: `{one_line(diff)}`\n")
    Path(path).write_text("".join(text))
    if markdown:
        Path(markdown).write_text("".join(md))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="*", default=CORE_MODULES,
                    help="module files or packages to mutate (default: the core modules)")
    ap.add_argument("--max-children", type=int, default=1, help="parallel mutant runs (default 1)")
    ap.add_argument("--nice", type=int, default=10, help="niceness of the mutmut runs (default 10; 0: off)")
    ap.add_argument("--sample", type=int, default=0, metavar="N",
                    help="test only N random mutants per module (seeded); the others stay 'not checked'")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fresh", action="store_true", help="delete ./mutants/ (all previous results) first")
    ap.add_argument("--report-only", action="store_true", help="do not run, only summarise what has been run")
    ap.add_argument("--survivors", default="mutation-survivors.txt", help="where the survivor diffs go")
    ap.add_argument("--markdown", metavar="FILE", help="also write the survivors one line each (markdown)")
    ap.add_argument("--log", default="mutation-run.log", help="mutmut's own output (default mutation-run.log)")
    args = ap.parse_args(argv)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # mutmut runs the copy in ./mutants/
    # mutmut forks a process per mutant from one that has already run tests: an OpenMP thread
    # team (scikit-learn's k-means) inherited through fork() deadlocks in the child, and every
    # mutant that reaches k-means would end as a false "timeout". One thread: no team.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    globs = {m: module_glob(m) for m in args.modules}
    if args.fresh and (ROOT / "mutants").exists():
        shutil.rmtree(ROOT / "mutants")

    if not args.report_only:
        # One `mutmut run` for all the modules (its clean run and forced-fail run are paid once).
        # `mutmut run PATTERN` would re-test every mutant of a module; naming only the unchecked
        # ones lets an interrupted run (or a larger --sample) continue where it stopped.
        generate_mutants(env)
        current = all_results(env)
        names = []
        for module, pattern in globs.items():
            todo = sorted(n for n, s in current.items() if fnmatch.fnmatch(n, pattern) and s == NOT_CHECKED)
            if args.sample:
                done = sum(1 for n, s in current.items() if fnmatch.fnmatch(n, pattern) and s != NOT_CHECKED)
                k = max(0, min(args.sample - done, len(todo)))
                todo = sorted(random.Random(args.seed).sample(todo, k))
            print(f"{module}: {len(todo)} mutants to test", flush=True)
            names += todo
        if names:
            with open(ROOT / args.log, "a") as log:
                log.write(f"\n##### {time.strftime('%H:%M:%S')} mutmut run ({len(names)} mutants)\n")
                log.flush()
                start = time.monotonic()
                proc = mutmut(["run", "--max-children", str(args.max_children), *names], env, args.nice, log=log)
            print(f"mutmut exit code {proc.returncode}, {(time.monotonic() - start) / 60:.1f} min"
                  f"{'' if proc.returncode == 0 else f' (see {args.log})'}", flush=True)

    results = all_results(env)
    print()
    print(summarise(results, globs))
    write_survivors(results, globs, env, ROOT / args.survivors, args.markdown and ROOT / args.markdown)
    print(f"\nsurvivors and untested mutants (diffs): {args.survivors}")


if __name__ == "__main__":
    main()

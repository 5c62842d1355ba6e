"""Speed and memory of trajhmm against plain hmmlearn, measured in one run.

    python scripts/benchmark.py [--n-seq 5000] [--n-iter 20] [--files 1000] [--parts abcde]

Builds its own data (the sample_data generator, 10 classes) and models (8 states, full
covariance, left-right, 50 x 3 segments), then prints, each as a ratio against a reference
measured in the same run:

(a) scoring: the (n_seq x 10) log-likelihood matrix behind predict_joint_log_proba, against
    hmmlearn's ``model.score`` in a loop over sequences and classes; 10 % of the rows are
    adversarial (far from every model, time-reversed, scaled up); max relative difference
    over all rows;
(b) training: EM for the 10 class models from the same initial parameters and for the same
    number of iterations, against hmmlearn's ``GaussianHMM.fit``; max relative difference
    of the fitted parameters (the covariance floor is set far below the data's variance so
    both solve the same unconstrained problem);
(c) memory: peak resident memory of ``trajhmm predict`` over 10x more files (.npy), each
    in a fresh process;
(d) latency, one trajectory: ``clf.predict([x])`` end to end (validation, resampling,
    features, scoring), median of --calls calls, against hmmlearn's ``[m.score(s) for m in
    clf.models_]`` on the features computed beforehand, the two timed alternately (call
    after call) so both see the same machine; wall clock and CPU time (the CPU time is
    what to trust on a machine shared with other work); models: HMMClassifier(random_state=0) on 10
    classes of sample-like data (12 states, full covariance, velocity features) and the
    8-state variant (n_states=8);
(e) a batch of --n-seq raw trajectories end to end (``predict_joint_log_proba``) against
    the same hmmlearn loop on the features computed beforehand, same two models.

Timings of (a)-(c) and (e) are best of --repeat runs, single-threaded BLAS is not forced: both sides get the
same machine.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from hmmlearn import hmm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_sample_data import make_dataset

from trajhmm import HMMClassifier, save_model
from trajhmm import hmm as _hmm
from trajhmm.hmm import em


def best_of(repeat, fn):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def adversarial(X, rng):
    """Trajectories far from every class model."""
    out = []
    for i, x in enumerate(X):
        kind = i % 4
        if kind == 0:
            out.append(x[::-1] * 20.0)  # reversed and far too large
        elif kind == 1:
            out.append(x + 50.0)  # far away
        elif kind == 2:
            out.append(np.cumsum(rng.standard_normal(x.shape), axis=0))  # random walk
        else:
            out.append(np.tile(rng.uniform(-30, 30, size=(1, 3)), (len(x), 1)))  # standing still
    return out


def rel_diff(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def scoring(clf, n_seq, repeat, rng):
    n_adv = n_seq // 10
    X, _ = make_dataset(per_class=(n_seq - n_adv) // 10, seed=2)
    X = X + adversarial(X[:n_adv], rng)
    segs = clf.transform(X)
    log_prior = np.log(clf.class_prior_)

    def reference():
        return np.array([[m.score(s) for m in clf.models_] for s in segs]) + log_prior

    t_ref, ref = best_of(1, reference)
    t_ours, ours = best_of(repeat, lambda: clf._joint_log_proba(segs))
    t_e2e, _ = best_of(repeat, lambda: clf.predict_joint_log_proba(X))
    pairs = len(segs) * len(clf.models_)
    print(f"(a) scoring {len(segs)} sequences x {len(clf.models_)} classes ({n_adv} adversarial), "
          f"{clf.n_states} states, {clf.covariance_type} covariance, {clf.n_points}x{segs.shape[2]} segments")
    print(f"    hmmlearn score loop     {t_ref:8.3f} s  {1e6 * t_ref / pairs:8.2f} us per sequence x class")
    print(f"    trajhmm batched         {t_ours:8.3f} s  {1e6 * t_ours / pairs:8.2f} us per sequence x class")
    print(f"    speed-up                {t_ref / t_ours:8.1f} x")
    print(f"    (end to end, predict_joint_log_proba incl. resampling: {t_e2e:.3f} s, "
          f"{t_ref / t_e2e:.1f} x)")
    print(f"    max relative difference {rel_diff(ours, ref):8.1e} (all rows); adversarial rows "
          f"{rel_diff(ours[-n_adv:], ref[-n_adv:]):.1e}")
    return t_ref / t_ours, rel_diff(ours, ref)


def training(clf, X, y, n_iter, repeat):
    segs = clf.transform(X)
    y = np.asarray(y)
    config = _hmm.HMMConfig(n_states=clf.n_states, covariance_type=clf.covariance_type,
                            topology=clf.topology, n_iter=n_iter, tol=-np.inf)
    floor = _hmm.covariance_floor(segs.reshape(-1, segs.shape[2]), 1e-9)
    inits = [em.initial_parameters(segs[y == c], config, floor, np.random.RandomState(k))
             for k, c in enumerate(clf.classes_)]

    def reference():
        models = []
        for c, init in zip(clf.classes_, inits):
            s = segs[y == c]
            m = hmm.GaussianHMM(n_components=clf.n_states, covariance_type=clf.covariance_type,
                                min_covar=0.0, covars_prior=0.0, covars_weight=1.0, params="stmc",
                                init_params="", n_iter=n_iter, tol=-np.inf, implementation="log")
            for name, value in init.items():
                setattr(m, name, np.array(value, copy=True))
            m.fit(s.reshape(-1, s.shape[2]), np.full(len(s), s.shape[1]))
            models.append(m)
        return models

    def ours():
        return [_hmm.fit_hmm(segs[y == c], config, floor, k).model for k, c in enumerate(clf.classes_)]

    t_ref, ref = best_of(1, reference)
    t_ours, fitted = best_of(repeat, ours)
    n_iters = {len(m.monitor_.history) for m in ref} | {len(m.monitor_.history) for m in fitted}
    diff = max(rel_diff(_hmm.model_arrays(a)[k], _hmm.model_arrays(b)[k])
               for a, b in zip(fitted, ref) for k in ("startprob", "transmat", "means", "covars"))
    print(f"(b) EM training, {len(clf.classes_)} class models, {len(segs)} segments, "
          f"{sorted(n_iters)} iterations each, same initial parameters")
    print(f"    hmmlearn fit            {t_ref:8.3f} s  {1e6 * t_ref / (len(segs) * n_iter):8.1f} us per sequence x iteration")
    print(f"    trajhmm batched EM      {t_ours:8.3f} s  {1e6 * t_ours / (len(segs) * n_iter):8.1f} us per sequence x iteration")
    print(f"    speed-up                {t_ref / t_ours:8.1f} x")
    print(f"    max relative difference of fitted parameters {diff:.1e}")
    return t_ref / t_ours, diff


def peak_rss_mb(cmd):
    """Peak resident memory (MB) of a command run in a fresh process."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()}")
    return usage.ru_maxrss / 1024.0


def memory(clf, n_files, tmp):
    model = Path(tmp) / "model.npz"
    save_model(clf, model)
    X, _ = make_dataset(per_class=(10 * n_files) // 10 + 1, seed=3)
    peaks = []
    for n in (n_files, 10 * n_files):
        folder = Path(tmp) / f"files_{n}"
        folder.mkdir()
        for i in range(n):
            np.save(folder / f"t{i:07d}.npy", X[i % len(X)])
        out = Path(tmp) / f"pred_{n}.tsv"
        peaks.append(peak_rss_mb([sys.executable, "-m", "trajhmm", "predict", str(model), str(folder),
                                  "--output", str(out), "--batch-size", "512"]))
        with open(out) as fh:
            assert sum(1 for _ in fh) == n, "missing predictions"
    print("(c) peak memory of `trajhmm predict` (fresh process, --batch-size 512)")
    print(f"    {n_files:7d} files            {peaks[0]:8.1f} MB")
    print(f"    {10 * n_files:7d} files            {peaks[1]:8.1f} MB")
    print(f"    ratio (10x files)       {peaks[1] / peaks[0]:8.2f} x")
    return peaks[1] / peaks[0]


def latency(clf, X, calls):
    """(d): one trajectory at a time, ours end to end against hmmlearn's loop on features."""
    segs = clf.transform(X)
    models = clf.models_
    for i in range(5):  # warm-up (and the stacked models built once)
        clf.predict([X[i]])
        [m.score(segs[i]) for m in models]
    ours, ref = [], []  # (wall clock, CPU time) of every call
    for i in range(calls):
        k = i % len(X)
        t0, c0 = time.perf_counter(), time.process_time()
        clf.predict([X[k]])
        t1, c1 = time.perf_counter(), time.process_time()
        [m.score(segs[k]) for m in models]
        ref.append((time.perf_counter() - t1, time.process_time() - c1))
        ours.append((t1 - t0, c1 - c0))
    (t_ours, c_ours), (t_ref, c_ref) = np.median(ours, axis=0), np.median(ref, axis=0)
    k = np.arange(min(20, len(X)))
    got = np.array([clf.predict_joint_log_proba([X[i]])[0] for i in k])
    want = np.array([[m.score(segs[i]) for m in models] for i in k]) + np.log(clf.class_prior_)
    print(f"(d) one trajectory, {len(models)} classes, {clf.n_states} states, {clf.covariance_type} covariance, "
          f"{clf.n_points}x{segs.shape[2]} segments; median of {calls} calls, timed alternately")
    print("                                          wall clock     CPU time (a busy machine)")
    print(f"    hmmlearn score loop (features given) {1e3 * t_ref:8.3f} ms  {1e3 * c_ref:8.3f} ms")
    print(f"    trajhmm predict([x]), end to end     {1e3 * t_ours:8.3f} ms  {1e3 * c_ours:8.3f} ms")
    print(f"    speed-up                             {t_ref / t_ours:8.1f} x   {c_ref / c_ours:8.1f} x")
    print(f"    max relative difference of the scores {rel_diff(got, want):.1e}")
    return t_ref / t_ours, rel_diff(got, want)


def batch_end_to_end(clf, X, repeat):
    """(e): a batch of raw trajectories end to end against hmmlearn's loop on features."""
    segs = clf.transform(X)
    log_prior = np.log(clf.class_prior_)
    c0 = time.process_time()
    t_ref, ref = best_of(1, lambda: np.array([[m.score(s) for m in clf.models_] for s in segs]) + log_prior)
    c_ref, c0 = time.process_time() - c0, time.process_time()
    t_ours, ours = best_of(repeat, lambda: clf.predict_joint_log_proba(X))
    c_ours = (time.process_time() - c0) / repeat
    print(f"(e) batch of {len(X)} raw trajectories end to end, {len(clf.models_)} classes, {clf.n_states} states, "
          f"{clf.covariance_type} covariance, {clf.n_points}x{segs.shape[2]} segments")
    print("                                          wall clock     CPU time (mean)")
    print(f"    hmmlearn score loop (features given) {t_ref:8.3f} s   {c_ref:8.3f} s")
    print(f"    trajhmm predict_joint_log_proba(X)   {t_ours:8.3f} s   {c_ours:8.3f} s")
    print(f"    speed-up                             {t_ref / t_ours:8.1f} x   {c_ref / c_ours:8.1f} x")
    print(f"    max relative difference {rel_diff(ours, ref):.1e}")
    return t_ref / t_ours, rel_diff(ours, ref)


def latency_models(n_train):
    """The models of (d) and (e): HMMClassifier(random_state=0) and its 8-state variant."""
    X, y = make_dataset(per_class=n_train, seed=1)
    return [HMMClassifier(random_state=0).fit(X, y), HMMClassifier(n_states=8, random_state=0).fit(X, y)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-seq", type=int, default=5000, help="sequences scored in (a)")
    p.add_argument("--n-train", type=int, default=50, help="training trajectories per class")
    p.add_argument("--n-iter", type=int, default=20, help="EM iterations in (b)")
    p.add_argument("--files", type=int, default=1000, help="files in the small run of (c)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--calls", type=int, default=200, help="single-trajectory calls timed in (d)")
    p.add_argument("--parts", default="abcde", help="which measurements to run (letters a-e)")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)
    X, y = make_dataset(per_class=args.n_train, seed=1)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, hmmlearn {_hmm.HMMLEARN_VERSION}, "
          f"{os.cpu_count()} cpus")
    summary = []
    if set(args.parts) & set("abc"):
        clf = HMMClassifier(n_states=8, covariance_type="full", derivatives=0, random_state=0, n_jobs=1).fit(X, y)
    if "a" in args.parts:
        s, sd = scoring(clf, args.n_seq, args.repeat, rng)
        summary.append(f"scoring {s:.1f}x (rel diff {sd:.1e})")
    if "b" in args.parts:
        t, td = training(clf, X, y, args.n_iter, args.repeat)
        summary.append(f"training {t:.1f}x (param diff {td:.1e})")
    if "c" in args.parts:
        with tempfile.TemporaryDirectory() as tmp:
            summary.append(f"memory ratio {memory(clf, args.files, tmp):.2f}")
    if set(args.parts) & set("de"):
        X_test, _ = make_dataset(per_class=args.n_seq // 10, seed=2)
        for model in latency_models(args.n_train):
            name = f"{model.n_states} states"
            if "d" in args.parts:
                r, rd = latency(model, X_test, args.calls)
                summary.append(f"one trajectory ({name}) {r:.1f}x (rel diff {rd:.1e})")
            if "e" in args.parts:
                r, rd = batch_end_to_end(model, X_test, args.repeat)
                summary.append(f"batch end to end ({name}) {r:.1f}x (rel diff {rd:.1e})")
    print("summary: " + ", ".join(summary))


if __name__ == "__main__":
    main()

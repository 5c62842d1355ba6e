"""Training and prediction on a Dask cluster: a real distributed.LocalCluster (2 worker
processes, loopback only), results identical to a local run, a worker killed mid-run."""

import collections
import contextlib
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from dask.utils import key_split
from distributed import Client, LocalCluster, SchedulerPlugin
from joblib import parallel_config

from trajhmm import HMMClassifier
from trajhmm.cli import main

from conftest import FAST, FLAGS, cli


class TaskCounter(SchedulerPlugin):
    """Counts the tasks the scheduler saw finish, by task name (key prefix)."""

    def __init__(self):
        self.done = collections.Counter()

    def transition(self, key, start, finish, *args, **kwargs):
        if finish == "memory":
            self.done[key_split(key)] += 1


@contextlib.contextmanager
def local_cluster():
    """A LocalCluster of 2 single-threaded worker processes on loopback and a client whose
    ``counter`` counts finished tasks (the scheduler runs in this process)."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=50) as c, Client(c) as client:
        client.counter = TaskCounter()
        c.scheduler.add_plugin(client.counter, name="trajhmm-test-counter")
        yield c, client


@pytest.fixture(scope="module")
def cluster():
    """Shared by the module's tests, which must leave it as they found it: the same worker
    processes at the end (a test that kills workers gets its own cluster)."""
    with local_cluster() as (c, client):
        workers = client.run(os.getpid)
        yield c, client
        assert client.run(os.getpid) == workers, "a test changed the shared cluster's workers"


def seen(client, name):
    """How many finished tasks whose name contains ``name`` the scheduler saw."""
    return sum(n for prefix, n in list(client.counter.done.items()) if name in prefix)


def test_fit_and_predict_under_the_dask_backend_equal_a_local_run(cluster, dataset):
    _, client = cluster
    X, y = dataset
    local = HMMClassifier(**FAST).fit(X, y)
    before_fit = seen(client, "fit_hmm")
    with parallel_config(backend="dask"):
        remote = HMMClassifier(**FAST).fit(X, y)
        before = seen(client, "log_likelihoods")
        proba = remote.predict_proba(X)
        assert seen(client, "log_likelihoods") > before  # scored on the cluster
    assert seen(client, "fit_hmm") >= before_fit + 5  # 4 classes + background model
    np.testing.assert_array_equal(proba, local.predict_proba(X))
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))


def test_cli_train_and_predict_with_scheduler_print_the_same(cluster, tmp_path, data_dir, capsys):
    c, client = cluster
    address = c.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    local_model, remote_model = tmp_path / "local.npz", tmp_path / "remote.npz"
    code, out_local, err = cli(["train", data_dir, "-o", local_model, *FLAGS, "--no-search"], capsys)
    assert code == 0, err
    before = seen(client, "fit_hmm")
    code, out_remote, err = cli(["train", data_dir, "-o", remote_model, *FLAGS, "--no-search", "--scheduler", address], capsys)
    assert code == 0, err
    assert seen(client, "fit_hmm") > before
    assert out_remote.replace(str(remote_model), "M") == out_local.replace(str(local_model), "M")

    code, pred_local, err = cli(["predict", local_model, data_dir, "--proba"], capsys)
    assert code == 0, err
    before = seen(client, "_predict_batch")
    code, pred_remote, err = cli(["predict", remote_model, data_dir, "--proba", "--batch-size", "5",
                                  "--scheduler", address], capsys)
    assert code == 0, err
    assert seen(client, "_predict_batch") >= before + 7  # 32 files in batches of 5
    assert pred_remote == pred_local
    assert len(pred_local.splitlines()) == 32


class KillTheWorkerOfATask(SchedulerPlugin):
    """Once ``after`` tasks whose name contains ``name`` have finished, kills (SIGKILL) the
    worker process the next such task is sent to: a worker dies with a task of the run in
    hand. A state of the run, not a moment in time."""

    def __init__(self, scheduler, name, after):
        self.scheduler, self.name, self.after = scheduler, name, after
        self.done, self.victim, self.done_at_kill = 0, None, None

    def transition(self, key, start, finish, *args, **kwargs):
        if self.name not in key_split(key):
            return
        if finish == "memory":
            self.done += 1
        elif finish == "processing" and self.done >= self.after and self.victim is None:
            ts = self.scheduler.tasks.get(key)
            if ts is not None and ts.processing_on is not None and ts.processing_on.pid:
                self.victim, self.done_at_kill = ts.processing_on.pid, self.done
                os.kill(self.victim, signal.SIGKILL)


def test_a_worker_killed_during_predict_still_gives_complete_identical_output(tmp_path, fitted, dataset):
    """Its own cluster: killing a worker of the shared one would leave later tests a
    cluster in recovery."""
    X, _ = dataset
    from trajhmm import save_model

    save_model(fitted, tmp_path / "m.npz")
    files = tmp_path / "files"
    files.mkdir()
    for i in range(200):
        np.save(files / f"t{i:04d}.npy", X[i % len(X)])
    argv = ["predict", tmp_path / "m.npz", files, "--batch-size", "4"]  # 50 calls of 4 files
    expected = tmp_path / "expected.tsv"
    assert main([str(a) for a in argv + ["--output", expected]]) == 0

    with local_cluster() as (c, client):
        # joblib first sends a few tasks of one call each (later ones batch calls by timing):
        # the worker is killed with the third or a later task in hand, which has to be redone
        # elsewhere, and the output must still be complete and identical.
        killer = KillTheWorkerOfATask(c.scheduler, "_predict_batch", after=2)
        c.scheduler.add_plugin(killer, name="trajhmm-test-killer")
        got = tmp_path / "got.tsv"
        assert main([str(a) for a in argv + ["--output", got, "--scheduler", c.scheduler_address]]) == 0
        assert killer.victim is not None and killer.done > killer.done_at_kill  # work went on after it
        assert killer.victim not in client.run(os.getpid).values()  # the killed worker really died
    assert got.read_text() == expected.read_text()
    assert len(got.read_text().splitlines()) == 200


def test_core_commands_do_not_import_dask(tmp_path, fitted):
    from trajhmm import save_model

    save_model(fitted, tmp_path / "m.npz")
    code = ("import sys, trajhmm, trajhmm.cli\n"
            f"rc = trajhmm.cli.main(['info', {str(tmp_path / 'm.npz')!r}])\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
            "assert rc == 0 and not bad, (rc, bad)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_scheduler_without_the_extra_says_what_to_install(tmp_path, fitted):
    from trajhmm import save_model

    save_model(fitted, tmp_path / "m.npz")
    code = ("import sys\n"
            "sys.modules['distributed'] = None  # as if the dask extra were not installed\n"
            "import trajhmm.cli\n"
            f"sys.exit(trajhmm.cli.main(['predict', {str(tmp_path / 'm.npz')!r}, {str(tmp_path)!r}, "
            "'--scheduler', 'tcp://127.0.0.1:1']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "pip install 'trajhmm[dask]'" in proc.stderr


def test_unreachable_scheduler_is_one_line(tmp_path, fitted, capsys, monkeypatch):
    """Nothing listens on port 9: the client retries until its timeout (10 s in the
    product), shortened here so that the test does not wait on a closed port."""
    from trajhmm import save_model

    save_model(fitted, tmp_path / "m.npz")
    monkeypatch.setattr("trajhmm._cluster._CONNECT_TIMEOUT", "0.5s")
    code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path, "--scheduler", "tcp://127.0.0.1:9"], capsys)
    assert code == 1
    assert err.startswith("trajhmm: error: --scheduler tcp://127.0.0.1:9: cannot connect")
    assert err.count("\n") == 1


def test_relative_paths_are_read_by_workers_from_the_clients_directory(cluster, tmp_path, data_dir, fitted,
                                                                       monkeypatch, capsys):
    """Workers have their own working directory: relative paths given to the client must
    still name the client's files (and are printed as given)."""
    c, _ = cluster
    from trajhmm import save_model

    save_model(fitted, tmp_path / "m.npz")
    monkeypatch.chdir(tmp_path)  # the workers' directory stays where they were started
    rel = data_dir.relative_to(tmp_path)
    code, local, err = cli(["predict", "m.npz", rel], capsys)
    assert code == 0, err
    code, remote, err = cli(["predict", "m.npz", rel, "--scheduler", c.scheduler_address], capsys)
    assert code == 0, err
    assert remote == local and local.startswith(f"{rel}/")


def test_workers_with_another_trajhmm_version_are_refused(cluster, tmp_path, fitted, capsys, monkeypatch):
    c, _ = cluster
    from trajhmm import save_model

    save_model(fitted, tmp_path / "m.npz")
    monkeypatch.setattr("trajhmm.cli.__version__", "0.0.0-client")
    code, _, err = cli(["predict", tmp_path / "m.npz", tmp_path, "--scheduler", c.scheduler_address], capsys)
    assert code == 1 and "the workers run trajhmm" in err and "0.0.0-client" in err and err.count("\n") == 1


@pytest.mark.parametrize("close_after", [2, 4])
def test_a_lost_cluster_is_one_error_and_a_rerun_resumes_from_the_cache(tmp_path, dataset, close_after):
    """The scheduler goes away in the middle of a model search (after 2 of its 4 fold fits,
    or after all of them, before the refit): one DataError naming the address (the CLI
    prints it as one line, exit 1); the fits finished before are in the cache and a rerun
    (here locally) skips them and ends with the uninterrupted model."""
    from sklearn.base import clone

    import trajhmm.search
    from trajhmm import HMMClassifierCV
    from trajhmm._cache import FitCache
    from trajhmm._cluster import dask_backend
    from trajhmm.exceptions import DataError

    X, y = dataset
    small = {k: v for k, v in FAST.items() if k != "random_state"}
    search = HMMClassifierCV(HMMClassifier(**small), {"n_states": [2, 3]}, cv=2, random_state=0)
    cache = tmp_path / "cache"
    with local_cluster() as (c, client):
        address = c.scheduler_address

        def progress(done, total, info):
            if done == close_after:
                c.close()  # the cluster is gone after that many finished fits

        with pytest.raises(DataError, match=f"^--scheduler {address}: lost the Dask cluster"), \
                dask_backend(address, name="--scheduler"):
            clone(search).fit(X, y, progress=progress, cache_dir=cache)
    assert len(FitCache(cache)) >= close_after
    runs = []
    original = trajhmm.search._fold_fit

    def counting(*args):
        runs.append(1)
        return original(*args)

    trajhmm.search._fold_fit = counting
    try:
        resumed = clone(search).fit(X, y, cache_dir=cache)
    finally:
        trajhmm.search._fold_fit = original
    assert len(runs) <= 4 - close_after
    reference = clone(search).fit(X, y)
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))


def test_a_broken_pipe_is_not_a_lost_cluster():
    from trajhmm._cluster import _lost_cluster

    assert not _lost_cluster(BrokenPipeError()) and not _lost_cluster(KeyboardInterrupt())
    assert _lost_cluster(ConnectionResetError()) and _lost_cluster(TimeoutError())

"""One validation policy everywhere: every bad input through the API and the CLI, fuzzed
readers and model loading, an interrupted training run, a model shared by threads."""

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trajhmm import (
    DataError,
    HMMClassifier,
    TrajHMMError,
    load_model,
    load_trajectories,
    read_trajectory,
    save_model,
)
from trajhmm.datasets import SUFFIXES as TRAJECTORY_SUFFIXES

from conftest import BAD_FILES, FAST, FLAGS, ROOT, SAMPLE_DATA, Marker, cli, write_folder


def assert_one_line_error(code, err, *parts):
    assert code == 1, err
    assert err.startswith("trajhmm: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert str(part) in err, (part, err)


# ------------------------------------------------------------ the table, API and CLI
@pytest.mark.parametrize("name, text, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_every_bad_file_in_predict_and_train(tmp_path, name, text, message, fitted, dataset, capsys):
    """API (read_trajectory, load_trajectories) and CLI (predict, train) give the same
    one-line error naming the file; skip mode reports it and exits 3."""
    model = tmp_path / "m.npz"
    save_model(fitted, model)
    X, y = dataset
    data = tmp_path / "data"
    write_folder(data, X, y)
    bad = data / str(y[0]) / name
    bad.write_bytes(text.encode())
    import re

    plain = re.sub(r"\\(.)", r"\1", message)  # the regex of BAD_FILES as plain text
    with pytest.raises(DataError, match=message):
        read_trajectory(bad)
    code, _, err = cli(["predict", model, bad], capsys)
    assert_one_line_error(code, err, bad, plain)
    if bad.suffix not in TRAJECTORY_SUFFIXES:  # in a folder, a file that is not trajectory data is ignored, not an error
        assert load_trajectories(data).ignored == [str(bad)]
        return
    with pytest.raises(DataError, match=message):
        load_trajectories(data)
    code, _, err = cli(["train", data, "-o", tmp_path / "new.npz", *FLAGS, "--no-search"], capsys)
    assert_one_line_error(code, err, bad, plain)
    assert not (tmp_path / "new.npz").exists()
    code, out, err = cli(["predict", model, data, "--on-invalid", "skip"], capsys)
    assert code == 3 and len(out.splitlines()) == len(X)
    assert f"skipped: {bad}" in err and "1 input skipped" in err


def test_structural_bad_inputs_api_and_cli(tmp_path, fitted, dataset, capsys):
    """Wrong dims (vs the other files and vs the model), empty class folder, one class,
    directory vs file, missing path, huge file, unreadable file."""
    model = tmp_path / "m.npz"
    save_model(fitted, model)
    X, y = dataset
    data = tmp_path / "data"
    write_folder(data, X, y)
    out_model = tmp_path / "new.npz"

    flat = data / str(y[0]) / "flat.csv"
    np.savetxt(flat, X[0][:, :2], delimiter=",")
    with pytest.raises(DataError, match="expected 3 dims like"):
        load_trajectories(data)
    code, _, err = cli(["train", data, "-o", out_model, *FLAGS, "--no-search"], capsys)
    assert_one_line_error(code, err, flat, "expected 3 dims like")
    code, _, err = cli(["predict", model, flat], capsys)
    assert_one_line_error(code, err, flat, "expected 3 dims like the model, got 2")
    flat.unlink()

    (data / "empty").mkdir()
    code, _, err = cli(["train", data, "-o", out_model, *FLAGS, "--no-search"], capsys)
    assert_one_line_error(code, err, data / "empty", "empty class folder")
    (data / "empty").rmdir()

    one = tmp_path / "one"
    write_folder(one, X[:8], y[:8])
    with pytest.raises(DataError, match="at least 2 classes"):
        HMMClassifier(**FAST).fit(X[:8], y[:8])
    code, _, err = cli(["train", one, "-o", out_model, *FLAGS, "--no-search"], capsys)
    assert_one_line_error(code, err, "at least 2 classes")

    a_file = next((data / str(y[0])).iterdir())
    code, _, err = cli(["train", a_file, "-o", out_model, *FLAGS, "--no-search"], capsys)
    assert_one_line_error(code, err, a_file)
    with pytest.raises(DataError, match="got a directory"):
        read_trajectory(data)
    code, _, err = cli(["predict", data, a_file], capsys)  # a folder given as the model
    assert_one_line_error(code, err, data)
    code, _, err = cli(["predict", model, tmp_path / "missing"], capsys)
    assert_one_line_error(code, err, tmp_path / "missing", "no such file")

    huge = tmp_path / "huge.csv"
    with open(huge, "wb") as fh:  # sparse: 300 MB on the name, no disk, never read whole
        fh.truncate(300 * 2**20)
    with pytest.raises(DataError, match="larger than the limit"):
        read_trajectory(huge)
    code, _, err = cli(["predict", model, huge], capsys)
    assert_one_line_error(code, err, huge, "larger than the limit")
    assert not out_model.exists()


def test_unreadable_file(tmp_path, monkeypatch, fitted, capsys):
    """Permission denied (simulated: the tests may run as root, who reads everything)."""
    path = tmp_path / "locked.csv"
    path.write_text("1,2,3\n4,5,6\n")
    real_open = open

    def deny(file, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(DataError, match="Permission denied") as info:
        read_trajectory(path)
    assert str(path) in str(info.value)
    model = tmp_path / "m.npz"
    save_model(fitted, model)
    code, _, err = cli(["predict", model, path], capsys)
    assert_one_line_error(code, err, path, "Permission denied")


# ------------------------------------------------------- a file that crashes the parser
CRASH_MAT = Path(__file__).parent / "data" / "crash_scipy_loadmat.mat"  # kills scipy.io.loadmat (1.17)


def test_a_mat_file_that_crashes_scipy_is_a_data_error(tmp_path):
    """The file dies with SIGSEGV in scipy's compiled reader (shown here in a bare
    subprocess); through read_trajectory it is a DataError naming the file, and the next
    .mat file is read as usual by a fresh helper."""
    bare = subprocess.run([sys.executable, "-c", f"from scipy.io import loadmat; loadmat({str(CRASH_MAT)!r})"],
                          capture_output=True, timeout=120)
    with pytest.raises(DataError, match="not a valid MATLAB .mat file") as info:
        read_trajectory(CRASH_MAT)
    assert str(CRASH_MAT) in str(info.value)
    # scipy 1.17 reads through a wild pointer here: most runs die with SIGSEGV/SIGBUS, some
    # raise (ZeroDivisionError) instead, depending on what that memory holds. Either way the
    # reader must end in the same one-line DataError; the crash path itself is tested
    # deterministically below with a helper that kills itself.
    assert bare.returncode != 0
    from scipy.io import savemat

    savemat(tmp_path / "good.mat", {"traj": np.arange(12.0).reshape(4, 3)})
    np.testing.assert_array_equal(read_trajectory(tmp_path / "good.mat"), np.arange(12.0).reshape(4, 3))


def test_the_guard_whatever_scipy_does(tmp_path, monkeypatch):
    """The guard itself, independent of scipy's version: a helper that kills itself with
    SIGSEGV on the first request (or just exits) is a DataError naming the file."""
    from trajhmm import _matreader

    path = tmp_path / "t.mat"
    path.write_bytes(b"MATLAB")
    monkeypatch.setattr(_matreader, "_HELPER", None)
    for source, how in (("import os, signal, sys; sys.stdin.readline(); os.kill(os.getpid(), signal.SIGSEGV)",
                         "signal SIGSEGV"),
                        ("import sys; sys.stdin.readline(); sys.exit(7)", "exit status 7")):
        monkeypatch.setattr(_matreader, "_CHILD_SOURCE", source)
        with pytest.raises(DataError, match=f"crashed the MATLAB reader, scipy.io.loadmat: {how}") as info:
            read_trajectory(path)
        assert str(path) in str(info.value) and _matreader._HELPER is None  # the dead helper is dropped


def test_predict_on_the_crashing_mat_file_is_one_line_or_a_skip(tmp_path, fitted, dataset, capsys):
    model = tmp_path / "m.npz"
    save_model(fitted, model)
    bad = tmp_path / "bad.mat"
    bad.write_bytes(CRASH_MAT.read_bytes())
    code, out, err = cli(["predict", model, bad], capsys)
    assert_one_line_error(code, err, bad, "not a valid MATLAB .mat file")
    assert out == ""

    X, y = dataset
    data = tmp_path / "data"
    write_folder(data, X, y)
    (data / str(y[0]) / "bad.mat").write_bytes(CRASH_MAT.read_bytes())
    code, out, err = cli(["predict", model, data, "--on-invalid", "skip"], capsys)
    assert code == 3, err
    assert len(out.splitlines()) == len(X) and "bad.mat" not in out
    assert f"skipped: {data / str(y[0]) / 'bad.mat'}" in err and "1 input skipped" in err


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_the_mat_helper_does_not_outlive_its_parent(tmp_path):
    """A process that read a .mat file and then dies without cleanup (os._exit: no atexit)
    leaves no helper behind: the helper ends when its stdin closes."""
    from scipy.io import savemat

    savemat(tmp_path / "t.mat", {"traj": np.ones((5, 3))})
    code = ("import os, sys\n"
            "from trajhmm import read_trajectory, _matreader\n"
            f"read_trajectory({str(tmp_path / 't.mat')!r})\n"
            "print(_matreader._HELPER.proc.pid, flush=True)\n"
            "os._exit(0)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    helper = int(proc.stdout)
    deadline = time.monotonic() + 60
    while _alive(helper) and time.monotonic() < deadline:  # wait for the state, at most a minute
        time.sleep(0.05)
    assert not _alive(helper)


def _alive(pid):
    """True while ``pid`` runs (a zombie counts as gone: it is only waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------------------- fuzz
SUFFIXES = [".csv", ".txt", ".tsv", ".dat", ".npy", ".mat", ".npz", ".ts"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES[:6]))
def test_fuzz_readers_raise_only_data_errors(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("fuzz") / ("f" + suffix)
    path.write_bytes(data)
    try:
        traj = read_trajectory(path)
    except DataError as exc:
        assert str(path) in str(exc)
    else:
        assert traj.ndim == 2 and len(traj) >= 2 and np.isfinite(traj).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), suffix=st.sampled_from([".npy", ".mat", ".csv"]))
def test_fuzz_mutated_valid_files(tmp_path_factory, seed, suffix):
    """A valid file with random bytes overwritten, cut or inserted."""
    from scipy.io import savemat

    rng = np.random.RandomState(seed % 2**32)
    folder = tmp_path_factory.mktemp("mut")
    path = folder / ("t" + suffix)
    traj = rng.randn(20, 3)
    if suffix == ".npy":
        np.save(path, traj)
    elif suffix == ".mat":
        savemat(path, {"traj": traj})
    else:
        np.savetxt(path, traj, delimiter=",", header="x,y,z", comments="")
    raw = bytearray(path.read_bytes())
    for _ in range(rng.randint(1, 6)):
        op, at = rng.randint(3), rng.randint(len(raw))
        if op == 0:
            raw[at] = rng.randint(256)
        elif op == 1:
            del raw[at:]
        else:
            raw[at:at] = bytes(rng.randint(0, 256, size=rng.randint(1, 9)).astype(np.uint8))
        if not raw:
            break
    path.write_bytes(bytes(raw))
    try:
        read_trajectory(path)
    except DataError as exc:
        assert str(path) in str(exc)


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory, fitted):
    path = tmp_path_factory.mktemp("model") / "m.npz"
    save_model(fitted, path)
    return path.read_bytes()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_load_model_only_model_file_errors(tmp_path_factory, model_bytes, data):
    """Random bytes, a valid header with random bytes, or a valid file mutated: always a
    TrajHMMError subclass (or a good model when nothing changed), never anything else."""
    kind = data.draw(st.sampled_from(["random", "header", "mutated", "truncated"]))
    if kind == "random":
        raw = data.draw(st.binary(max_size=600))
    elif kind == "header":
        raw = model_bytes[:40] + data.draw(st.binary(max_size=600))
    elif kind == "truncated":
        raw = model_bytes[: data.draw(st.integers(0, len(model_bytes) - 1))]
    else:
        raw = bytearray(model_bytes)
        for at, value in data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)),
                                            min_size=1, max_size=4)):
            raw[at] = value
        raw = bytes(raw)
    path = tmp_path_factory.mktemp("fz") / "m.npz"
    path.write_bytes(raw)
    try:
        load_model(path)
    except TrajHMMError:
        pass
    else:
        assert raw == model_bytes


# --------------------------------------------------------------- interrupted training
def _default_sigint():
    """In the child before exec: SIGINT back to its default action, whatever this process
    inherited (pytest started with SIGINT ignored, e.g. `trap '' INT`, nohup or a background
    job, would hand the ignore on, and Python keeps an ignored SIGINT ignored); SIGTERM too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _train_until_interrupted(out, sig=signal.SIGINT):
    """Start `trajhmm train` in a process, send it ``sig`` once training has started; the
    process is always ended and reaped."""
    cmd = [sys.executable, "-m", "trajhmm", "-v", "train", str(SAMPLE_DATA), "-o", str(out),
           "--n-states", "20", "--n-init", "50", "--n-iter", "300", "--tol", "0", "--n-mix", "2", "--no-search"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, preexec_fn=_default_sigint)
    try:
        seen = []
        for line in proc.stderr:  # wait for the state "training has started", not for a time
            seen.append(line)
            if "training" in line:
                break
        assert "training" in "".join(seen) and proc.poll() is None, "".join(seen)  # minutes of work ahead
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        return proc.returncode, "".join(seen) + err
    finally:
        if proc.returncode is None:  # not reaped by communicate: a failed assertion above
            proc.kill()
            proc.communicate()


def test_interrupted_train_leaves_no_file_or_the_old_one(tmp_path, fitted):
    out = tmp_path / "m.npz"
    code, err = _train_until_interrupted(out)
    assert code == 130 and "interrupted" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary file left either

    save_model(fitted, out)
    before = out.read_bytes()
    code, err = _train_until_interrupted(out)
    assert code == 130
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_sigterm_is_answered_like_ctrl_c(tmp_path):
    """SIGTERM (kill, a job scheduler) runs the clean-up of Ctrl-C: one line, exit 143, no
    output and no temporary file left (Python's default would end the process on the spot,
    leaving the worker processes running)."""
    out = tmp_path / "m.npz"
    code, err = _train_until_interrupted(out, signal.SIGTERM)
    assert code == 143, err
    assert err.rstrip().splitlines()[-1] == "trajhmm: terminated" and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == []


# ---------------------------------------------------------------------- threads
def test_a_loaded_model_is_safe_to_share_between_threads(tmp_path, fitted, dataset):
    X, _ = dataset
    save_model(fitted, tmp_path / "m.npz")
    clf = load_model(tmp_path / "m.npz")
    expected = clf.predict_proba(X)
    expected_unknown = clf.is_unknown(X)

    def work(i):
        rows = [(i + k) % len(X) for k in range(len(X))]
        return rows, clf.predict_proba([X[r] for r in rows]), clf.is_unknown([X[r] for r in rows])

    with ThreadPoolExecutor(8) as pool:
        for rows, proba, unknown in pool.map(work, range(32)):
            np.testing.assert_array_equal(proba, expected[rows])
            np.testing.assert_array_equal(unknown, expected_unknown[rows])


def test_cli_refuses_a_pickle_that_would_run_code(tmp_path, data_dir, capsys):
    """`trajhmm predict` (and info, evaluate) on a joblib file whose unpickling would
    create a marker file: refused without --trust-pickle, marker never created."""
    import joblib

    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.joblib"
    joblib.dump(Marker(str(marker)), evil)
    for argv in (["predict", evil, data_dir], ["info", evil], ["evaluate", evil, data_dir],
                 ["plot", "convergence", evil, "-o", tmp_path / "c.png"]):
        code, out, err = cli(argv, capsys)
        assert_one_line_error(code, err, evil, "--trust-pickle")
        assert out == ""
        assert not marker.exists()

import json
import select
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from trajhmm import load_model, read_trajectory
from trajhmm.cli import build_parser, main

from conftest import FLAGS, cli


@pytest.fixture
def model_path(tmp_path, data_dir, capsys):
    path = tmp_path / "model.npz"
    code, out, err = cli(["train", data_dir, "-o", path, *FLAGS, "--no-search"], capsys)
    assert code == 0, err
    assert "trained 4 classes on 32 trajectories" in out
    return path


def test_train_predict_evaluate_info(model_path, data_dir, capsys):
    code, out, err = cli(["predict", model_path, data_dir], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 32
    clf = load_model(model_path)
    assert clf.n_states == 4 and clf.n_points == 20
    hand = {}  # path -> (margin, posterior), from hmmlearn's scores of the file as read
    for line in lines:
        path, label, margin = line.split("\t")
        assert f"/{label}/" in path  # right label for every file
        seg = clf.transform([read_trajectory(path)])[0]
        with threadpool_limits(1):  # hmmlearn's full-covariance density: many tiny BLAS calls
            jll = np.array([m.score(seg) for m in clf.models_]) + np.log(clf.class_prior_)
        top = np.sort(jll)
        post = np.exp(jll - top[-1]) / np.exp(jll - top[-1]).sum()
        hand[path] = (top[-1] - top[-2], post)
        # the margin in nats: best minus second-best joint log-likelihood
        assert float(margin) == pytest.approx(top[-1] - top[-2], rel=1e-5)  # printed with 6 digits
        assert float(margin) != pytest.approx(top[-1] - top[0], rel=1e-3)  # not best minus worst

    code, out, _ = cli(["predict", model_path, data_dir, "--format", "csv", "--proba"], capsys)
    rows = out.strip().splitlines()
    assert rows[0] == "path,label,margin,p_arc_up,p_helix_ccw,p_reach_x,p_wave"
    assert len(rows) == 33
    for row in rows[1:]:
        path, _, margin, *proba = row.split(",")
        assert float(margin) == pytest.approx(hand[path][0], rel=1e-5)
        np.testing.assert_allclose(np.array(proba, dtype=float), hand[path][1], rtol=1e-5, atol=1e-12)
    code, out, _ = cli(["predict", model_path, data_dir, "--format", "json", "--proba", "--batch-size", "5"], capsys)
    recs = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in recs] == [line.split("\t")[0] for line in lines]
    for r in recs:  # full precision in JSON
        assert r["margin"] == pytest.approx(hand[r["path"]][0], rel=1e-9)
        assert list(r["proba"]) == ["arc_up", "helix_ccw", "reach_x", "wave"]
        np.testing.assert_allclose(list(r["proba"].values()), hand[r["path"]][1], rtol=1e-9, atol=1e-15)

    code, out, _ = cli(["evaluate", model_path, data_dir, "--report", model_path.parent / "r.json"], capsys)
    assert code == 0 and "accuracy: 1.0000 (32/32 trajectories)" in out
    report = json.loads((model_path.parent / "r.json").read_text())
    assert report["confusion_matrix"] == np.diag([8, 8, 8, 8]).tolist()

    code, out, _ = cli(["info", model_path], capsys)
    assert code == 0 and "format: trajhmm-model version 14" in out and "arc_up: n=8" in out
    assert "prefixes (predict_prefix): the class models and a prefix view on derivatives=2, their evidence averaged" \
        in out
    assert (f"open-set rejection: threshold {np.max(clf.rejection_threshold_):.4g} nats per point (rate 0.01), "
            f"far out below {clf.likelihood_threshold_:.4g} nats per point; "
            f"streams: default threshold {clf.stream_threshold_:.4g} (fitted)") in out


def test_train_with_held_out_accuracy(tmp_path, data_dir, capsys):
    code, out, err = cli(["train", data_dir, "-o", tmp_path / "m", "--test-size", "0.25", *FLAGS, "--no-search"], capsys)
    assert code == 0, err
    acc = float(out.split("held-out accuracy: ")[1].split()[0])
    assert acc >= 0.95


def _one_line_error(code, err, *fragments):
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trajhmm: error: "), err
    assert "Traceback" not in err
    for f in fragments:
        assert str(f) in lines[0]


def test_user_errors_are_one_line_with_exit_1(tmp_path, data_dir, model_path, capsys):
    code, _, err = cli(["train", tmp_path / "missing", "-o", tmp_path / "m"], capsys)
    _one_line_error(code, err, tmp_path / "missing", "no such directory")
    (data_dir / "empty_class").mkdir()
    code, _, err = cli(["train", data_dir, "-o", tmp_path / "m"], capsys)
    _one_line_error(code, err, data_dir / "empty_class", "empty class folder")
    (data_dir / "empty_class").rmdir()
    bad = data_dir / "wave" / "bad.csv"
    bad.write_text("x,y,z\n1,2,3\n4,oops,6\n")
    code, _, err = cli(["train", data_dir, "-o", tmp_path / "m"], capsys)
    _one_line_error(code, err, bad, "line 3, column 2", "'oops'")
    assert not (tmp_path / "m").exists()
    code, _, err = cli(["predict", bad, data_dir], capsys)
    _one_line_error(code, err, bad, "not a trajhmm model file")
    code, _, err = cli(["predict", model_path, bad], capsys)
    _one_line_error(code, err, bad, "line 3, column 2")


def test_skip_mode_reports_and_uses_exit_code_3(tmp_path, data_dir, model_path, capsys):
    bad = data_dir / "wave" / "bad.csv"
    bad.write_text("x,y,z\n1,2,3\n4,oops,6\n")
    code, out, err = cli(["predict", model_path, data_dir, "--on-invalid", "skip"], capsys)
    assert code == 3
    assert len(out.strip().splitlines()) == 32
    assert f"skipped: {bad}: line 3, column 2" in err and "1 input skipped" in err


def test_usage_errors_exit_2(tmp_path, data_dir, capsys):
    assert main(["train"]) == 2
    assert main(["frobnicate"]) == 2
    code, _, err = cli(["train", data_dir, "-o", tmp_path / "m", "--n-states", "0"], capsys)
    assert code == 2 and "argument --n-states: expected an integer >= 1, got 0" in err


@pytest.mark.parametrize("argv, message", [
    (["train"], "trajhmm train: error: the following arguments are required: DATA_DIR, -o/--output"),
    (["train", "d", "-o", "m", "--n-states", "abc"], "trajhmm train: error: argument --n-states: expected an integer"),
    (["predict", "m"], "trajhmm predict: error: the following arguments are required: PATH"),
    (["frobnicate"], "trajhmm: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (["plot", "confusion"], "trajhmm plot confusion: error: the following arguments are required"),
])
def test_argparse_usage_errors_are_one_line(argv, message, capsys):
    """argparse's own errors (missing or malformed arguments) are one line on stderr, like
    every other user error, without argparse's usage block."""
    code, out, err = cli(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(message), err


def test_every_estimator_parameter_has_a_flag():
    from trajhmm import HMMClassifier

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    dests = {a.dest for a in train._actions}
    # time_column is set from --time-column NAME (the readers put the time stamps first)
    assert set(HMMClassifier().get_params()) - {"time_column"} <= dests and "time_column_name" in dests


@pytest.mark.parametrize("entry", [[sys.executable, "-m", "trajhmm"], ["trajhmm"]])
def test_entry_points(entry, model_path, data_dir):
    import shutil

    if entry == ["trajhmm"] and not shutil.which("trajhmm"):
        entry = [str(__import__("pathlib").Path(sys.executable).parent / "trajhmm")]
    out = subprocess.run([*entry, "predict", str(model_path), str(data_dir / "wave")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 8
    out = subprocess.run([*entry, "info", str(data_dir)], capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr.count("\n") == 1


def test_every_estimator_flag_reaches_the_saved_model(tmp_path, data_dir, capsys):
    from trajhmm import HMMClassifier

    values = {"n_states": 3, "n_mix": 2, "covariance_type": "diag", "topology": "ergodic", "max_jump": 2,
              "n_points": 15, "resample": "arclength", "translation": "center", "scaling": "std", "derivatives": 2,
              "standardize": False, "reg_covar": 0.05, "n_iter": 7, "tol": 0.01, "n_init": 2,
              "priors": "empirical", "rejection_rate": 0.05, "prefix_view": False, "random_state": 4, "n_jobs": 1}
    defaults = HMMClassifier().get_params()
    # time_column comes from --time-column NAME (test_tables: a timed folder's model has time_column 0)
    assert set(values) == set(defaults) - {"time_column"} and all(values[k] != defaults[k] for k in values)
    argv = ["train", data_dir, "-o", tmp_path / "m.npz", "-q", "--no-search"]
    for name, value in values.items():
        argv += ["--" + name.replace("_", "-"), str(value).lower() if isinstance(value, bool) else value]
    code, _, err = cli(argv, capsys)
    assert code == 0, err
    # n_jobs is how the training ran, not part of the model: a saved model predicts in this
    # process (n_jobs=None) unless its user says otherwise
    assert load_model(tmp_path / "m.npz").get_params() == {**values, "n_jobs": None, "time_column": None}


def test_predict_reads_json_lines_from_stdin(model_path, dataset, monkeypatch, capsys):
    import io

    X, y = dataset
    lines = [json.dumps({"id": f"q{i}", "points": X[i].tolist()}) for i in (0, 9)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join([lines[0], "", lines[1]]) + "\n"))
    code, out, err = cli(["predict", model_path, "-", "--format", "json"], capsys)
    assert code == 0, err
    got = [json.loads(line) for line in out.splitlines()]
    assert [(g["id"], g["label"]) for g in got] == [("q0", y[0]), ("q9", y[9])]  # an id, not a path
    bad = [lines[0], "{not json", json.dumps({"id": 3, "points": [[1, 2]]}), json.dumps({"points": X[1][:, :2].tolist()})]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(bad) + "\n"))
    code, out, err = cli(["predict", model_path, "-", "--on-invalid", "skip"], capsys)
    assert code == 3 and out.splitlines()[0].startswith(f"q0\t{y[0]}\t")
    assert "<stdin>:2: not valid JSON" in err and "<stdin>:3: points: expected at least 2 points, got 1" in err
    assert "<stdin>:4: expected 3 dims like the model, got 2" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO(bad[1] + "\n"))
    code, out, err = cli(["predict", model_path, "-"], capsys)
    assert code == 1 and err.startswith("trajhmm: error: <stdin>:1: not valid JSON") and len(err.splitlines()) == 1
    code, _, err = cli(["predict", model_path, "-", model_path], capsys)
    assert code == 2 and "standard input is read alone" in err  # a usage error


def test_predict_answers_each_stdin_line_before_the_input_ends(model_path, dataset):
    """One long-running process serves a pipe that stays open: the answer to a line comes
    before the next line is written."""
    X, y = dataset
    proc = subprocess.Popen([sys.executable, "-m", "trajhmm", "predict", str(model_path), "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for i in (0, 9):
            proc.stdin.write(json.dumps({"id": i, "points": X[i].tolist()}) + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 60)  # never hangs the suite
            assert ready, "no answer within 60 s while the pipe stays open"
            assert proc.stdout.readline().split("\t")[:2] == [str(i), y[i]]  # the pipe is still open
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()

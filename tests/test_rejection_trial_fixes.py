"""Fixes from an open-set rejection user's trial: the unknown label compared by value,
models changed after fit, skipped lines of a live pipe said when they come, and the
benchmark script's rates."""

import json
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trajhmm import HMMClassifier, load_model, save_model
from trajhmm.exceptions import ModelFileError, ParameterValueError

from conftest import FAST, cli, make_sample_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def numbered(dataset):
    """A model whose classes are the numbers 1..4, and its data."""
    X, y = dataset
    y_num = np.searchsorted(np.unique(y), y) + 1
    return HMMClassifier(**FAST).fit(X, y_num), X, y_num


def test_the_unknown_label_may_not_be_a_class_by_value(numbered):
    clf, X, _ = numbered
    for unknown in (3.0, True, "1.0", np.int64(2), ""):
        with pytest.raises(ParameterValueError, match="unknown: expected a label that is no class of the model"):
            clf.predict_or_reject(X[:2], unknown=unknown)
    assert clf.predict_or_reject(X[:2], unknown=-1).tolist() == clf.predict(X[:2]).tolist()


def test_cli_unknown_label_by_value_empty_and_default(numbered, dataset, tmp_path, capsys):
    clf, X, _ = numbered
    save_model(clf, tmp_path / "m.npz")
    np.savetxt(tmp_path / "a.csv", X[0], delimiter=",")
    for label, said in (("1.0", "got '1.0', the class '1'"), ("", "got an empty label")):
        code, _, err = cli(["predict", tmp_path / "m.npz", tmp_path / "a.csv", "--reject", "--unknown-label", label],
                           capsys)
        assert code == 2 and said in err and len(err.strip().splitlines()) == 1, err
    X2, y2 = dataset
    named = HMMClassifier(**FAST).fit(X2, np.where(y2 == "wave", "unknown", y2))
    save_model(named, tmp_path / "n.npz")
    code, _, err = cli(["predict", tmp_path / "n.npz", tmp_path / "a.csv", "--reject"], capsys)
    assert code == 2 and "got 'unknown' (the default: pass --unknown-label NAME), a class" in err


def test_standard_input_with_files_is_a_usage_error(model_file, tmp_path, capsys):
    np.savetxt(tmp_path / "a.csv", np.zeros((5, 3)), delimiter=",")
    code, _, err = cli(["predict", model_file, "-", tmp_path / "a.csv"], capsys)
    assert code == 2 and "standard input is read alone" in err


def test_a_skipped_stdin_line_is_said_before_the_input_ends(model_file, dataset):
    X, y = dataset
    proc = subprocess.Popen([sys.executable, "-m", "trajhmm", "predict", str(model_file), "-", "--on-invalid", "skip"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write('{"id": 7, "points": [[1, 2, 3]]}\n')
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stderr], [], [], 60)  # never hangs the suite
        assert ready, "no notice within 60 s while the pipe stays open"
        assert proc.stderr.readline().startswith("trajhmm: skipped: <stdin>:1: ")
        proc.stdin.write(json.dumps({"id": None, "points": X[0].tolist()}) + "\n")  # "id": null is no id
        proc.stdin.close()
        assert proc.stdout.read().splitlines() == [f"<stdin>:2\t{y[0]}\t" + proc_margin(model_file, X[0])]
        assert proc.stderr.read().splitlines() == ["trajhmm: 1 input skipped as invalid"]  # said once
        assert proc.wait(timeout=60) == 3
    finally:
        proc.kill()


def proc_margin(model_file, x):
    from trajhmm.prediction import predict_json_lines

    (r,) = predict_json_lines(load_model(model_file), [json.dumps({"points": x.tolist()})])
    return f"{r.margin:.6g}"


def test_a_model_changed_after_fit_is_not_saved(fitted, tmp_path):
    clf = load_model_copy(fitted, tmp_path)
    clf.set_params(n_jobs=2)  # how it runs, not what it is
    save_model(clf, tmp_path / "ok.npz")
    clf.set_params(rejection_rate=0.3)
    with pytest.raises(ModelFileError, match=r"cannot save: parameters set after fit \(rejection_rate 0.01 -> 0.3\)"):
        save_model(clf, tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()
    clf.set_params(rejection_rate=0.01)
    save_model(clf, tmp_path / "back.npz")
    fresh = HMMClassifier(**FAST).set_params(prefix_view=False)
    fresh.fit(*make_sample_data.make_dataset(per_class=4, seed=3, n_points=60)).set_params(n_states=3)
    with pytest.raises(ModelFileError, match=r"n_states 4 -> 3"):
        save_model(fresh, tmp_path / "fresh.npz")


def load_model_copy(fitted, tmp_path):
    save_model(fitted, tmp_path / "m.npz")
    return load_model(tmp_path / "m.npz")


def test_benchmark_rejection_refuses_rates_it_cannot_measure():
    for rate in ("0", "0.6"):
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark_rejection.py"), "x.npz", "--rates", rate],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "expected rates in (0, 0.5]" in proc.stderr

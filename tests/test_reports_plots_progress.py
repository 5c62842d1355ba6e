"""trajhmm evaluate reports, trajhmm plot figures, progress bars and -q."""

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from trajhmm import load_model, load_trajectories, save_model
from trajhmm.cli import main
from trajhmm.metrics import evaluation_report

from conftest import FAST, FLAGS, ROOT, SAMPLE_DATA, cli


@pytest.fixture(scope="module")
def weak_model(tmp_path_factory):
    """A deliberately weak model (2 states, 6 points) so that there are confusions."""
    path = tmp_path_factory.mktemp("weak") / "weak.npz"
    assert main(["-q", "train", str(SAMPLE_DATA), "-o", str(path), "--n-states", "2", "--n-points", "6",
                 "--derivatives", "0", "--covariance-type", "spherical", "--no-search"]) == 0
    return path


def test_evaluate_report_agrees_with_sklearn(tmp_path, weak_model, capsys):
    report_path = tmp_path / "r.json"
    code, out, err = cli(["evaluate", weak_model, SAMPLE_DATA, "--report", report_path], capsys)
    assert code == 0, err
    report = json.loads(report_path.read_text())
    ds = load_trajectories(SAMPLE_DATA)
    clf = load_model(weak_model)
    y_true, y_pred = np.asarray(ds.labels), clf.predict(ds.trajectories).astype(str)
    expected = confusion_matrix(y_true, y_pred, labels=report["labels"])
    assert report["confusion_matrix"] == expected.tolist()
    assert report["accuracy"] == pytest.approx((y_true == y_pred).mean())
    assert 0 < report["accuracy"] < 1, "the weak model should make some errors"
    # the printed matrix is the same matrix
    lines = out.splitlines()
    start = lines.index("confusion matrix (rows: true label, columns: predicted):") + 2
    printed = np.array([[int(v) for v in line.split()[1:]] for line in lines[start:start + len(report["labels"])]])
    np.testing.assert_array_equal(printed, expected)
    # per-class metrics and the most confused pair
    for k, label in enumerate(report["labels"]):
        support = int(expected[k].sum())
        recall = expected[k, k] / support
        assert report["per_class"][label]["support"] == support
        assert report["per_class"][label]["recall"] == pytest.approx(recall)
        assert f"{label}" in out
    off = expected - np.diag(np.diag(expected))
    i, j = np.unravel_index(np.argmax(off), off.shape)
    top = report["most_confused"][0]
    assert (top["true"], top["predicted"], top["count"]) == (report["labels"][i], report["labels"][j], off[i, j])
    assert f"{top['true']} -> {top['predicted']}: {top['count']}" in out


def test_evaluation_report_without_errors():
    r = evaluation_report([1, 2, 2], [1, 2, 2])
    assert r["accuracy"] == 1.0 and r["most_confused"] == [] and r["labels"] == [1, 2]


def _is_png(path):
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    img = matplotlib.image.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 200
    assert img[..., :3].std() > 0.01  # not a blank image
    return img


@pytest.mark.parametrize("kind, args", [
    ("confusion", ["{model}", "{data}"]),
    ("confusion", ["{model}", "{data}", "--normalize"]),
    ("trajectories", ["{data}"]),
    ("trajectories", ["{data}", "--model", "{model}"]),
    ("convergence", ["{model}"]),
    ("states", ["{model}", "helix_cw", "--data", "{data}"]),
    ("states", ["{model}", "wave"]),
])
def test_every_plot_kind_writes_a_png(tmp_path, weak_model, capsys, kind, args):
    out = tmp_path / f"{kind}.png"
    argv = ["plot", kind] + [a.format(model=weak_model, data=SAMPLE_DATA) for a in args] + ["-o", out]
    code, stdout, err = cli(argv, capsys)
    assert code == 0, err
    assert f"{kind} plot written to {out}" in stdout
    _is_png(out)


def test_plot_errors_are_one_line(tmp_path, weak_model, capsys):
    code, _, err = cli(["plot", "states", weak_model, "no_such_class", "-o", tmp_path / "s.png"], capsys)
    assert code == 1 and "no_such_class" in err and err.count("\n") == 1
    code, _, err = cli(["plot", "convergence", weak_model, "-o", tmp_path / "s.gif"], capsys)
    assert code == 2 and "expected a .png, .pdf or .svg" in err
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "s.gif").exists()


def test_plotting_api_returns_figures(fitted, dataset):
    from trajhmm import plotting

    X, y = dataset
    for fig in (plotting.plot_convergence(fitted), plotting.plot_states(fitted, y[0], X[:3]),
                plotting.plot_trajectories(X, y, predicted=fitted.predict(X))):
        assert fig.axes


def _run(args):
    return subprocess.run([sys.executable, "-m", "trajhmm", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


def test_progress_on_stderr_and_quiet(tmp_path):
    model = tmp_path / "m.npz"
    proc = _run(["train", SAMPLE_DATA, "-o", model, *FLAGS, "--no-search", "--progress"])
    assert proc.returncode == 0, proc.stderr
    # 10 classes + background, then the same 11 runs for each of the 10 folds that calibrate
    # rejection (120 trajectories, 12 a class: small data, the most folds) and for the prefix view
    assert "training: 100%" in proc.stderr and "132/132" in proc.stderr
    assert "log-likelihood" in proc.stderr
    proc = _run(["predict", model, SAMPLE_DATA, "--progress", "--output", tmp_path / "p.tsv"])
    assert proc.returncode == 0 and "predicting: 100%" in proc.stderr and "120/120" in proc.stderr
    # not a terminal and no --progress: no bar
    proc = _run(["train", SAMPLE_DATA, "-o", model, *FLAGS, "--no-search"])
    assert proc.returncode == 0 and "training:" not in proc.stderr
    # -q: nothing but errors
    for argv in (["train", SAMPLE_DATA, "-o", model, *FLAGS, "--no-search", "--progress", "-q"],
                 ["-q", "train", SAMPLE_DATA, "-o", model, *FLAGS, "--no-search", "--progress"]):
        proc = _run(argv)
        assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", proc.stderr
    proc = _run(["-q", "train", tmp_path / "missing", "-o", model])
    assert proc.returncode == 1 and proc.stderr.startswith("trajhmm: error:")


def test_written_files_get_normal_permissions(tmp_path, fitted):
    import os

    save_model(fitted, tmp_path / "m.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o666 & ~umask


def test_fit_progress_reports_runs_and_live_em_log_likelihoods(dataset):
    from trajhmm import HMMClassifier

    X, y = dataset
    calls = []
    # rejection off, no prefix view: the runs of the model itself (the rejection folds' and
    # the view's runs follow them, tests/test_cache.py)
    clf = HMMClassifier(**FAST, rejection_rate=0.0, prefix_view=False).fit(
        X, y, progress=lambda done, total, info: calls.append((done, total, dict(info))))
    finished = [c for c in calls if "iteration" not in c[2]]
    assert [c[0] for c in finished] == list(range(1, 6)) and {c[1] for c in calls} == {5}  # 4 classes + background
    assert [(c[2]["label"], c[2]["restart"]) for c in finished] == [(k, 0) for k in [*clf.classes_, "(background)"]]
    for k, label in enumerate(clf.classes_):
        live = [c[2]["log_likelihood"] for c in calls if c[2]["label"] == label and "iteration" in c[2]]
        np.testing.assert_array_equal(live, clf.log_likelihood_history_[k])  # every EM iteration, as it happened
    plain = HMMClassifier(**FAST, rejection_rate=0.0, prefix_view=False).fit(X, y)
    np.testing.assert_array_equal(plain.predict_proba(X), clf.predict_proba(X))


def test_live_progress_follows_joblib_running_the_runs_here(dataset):
    """Per-iteration reports need every run in this process, one at a time: so with
    joblib's sequential backend even when n_jobs asks for 2, never with 2 threads."""
    from joblib import parallel_config

    from trajhmm import HMMClassifier

    X, y = dataset

    def live_reports(backend):
        calls = []
        with parallel_config(backend=backend):
            HMMClassifier(**FAST, n_jobs=2, rejection_rate=0.0, prefix_view=False).fit(
                X, y, progress=lambda done, total, info: calls.append(info))
        assert sum("iteration" not in c for c in calls) == 5  # every finished run, in both cases
        return sum("iteration" in c for c in calls)

    assert live_reports("sequential") > 0
    assert live_reports("threading") == 0

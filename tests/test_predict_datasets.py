"""Predicting the trajectories of data set files (.ts, .npz bundles), labelled or not: the
API (predict_files, read_ts / load_npz with require_labels=False) and the CLI."""

import numpy as np
import pytest

from trajhmm import DataError, HMMClassifier, save_model
from trajhmm.datasets import load_npz, read_ts
from trajhmm.prediction import FilePrediction, SkippedFile, predict_files

from conftest import FAST, FLAGS, cli


def write_ts(path, X, y=None, encoding="utf-8"):
    """A UEA .ts file of equal-dims trajectories; unlabelled when ``y`` is None. Data lines
    start at line 5 (.ts ids are file:line)."""
    labels = "true " + " ".join(sorted(set(y))) if y is not None else "false"
    lines = ["@problemName test", f"@dimensions {X[0].shape[1]}", f"@classLabel {labels}", "@data"]
    for i, x in enumerate(X):
        dims = ":".join(",".join(f"{v:.6f}" for v in x[:, j]) for j in range(x.shape[1]))
        lines.append(dims + (f":{y[i]}" if y is not None else ""))
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def test_read_ts_without_labels_only_when_asked(tmp_path, dataset):
    X, y = dataset
    path = write_ts(tmp_path / "new.ts", X[:3])
    with pytest.raises(DataError, match=r"new\.ts: expected a labelled file"):
        read_ts(path)
    ds = read_ts(path, require_labels=False)
    assert ds.labels == [None, None, None]
    assert ds.paths == [f"{path}:5", f"{path}:6", f"{path}:7"]
    np.testing.assert_allclose(ds.trajectories[1], X[1], atol=1e-6)
    labelled = read_ts(write_ts(tmp_path / "old.ts", X[:2], y[:2]), require_labels=False)
    assert labelled.labels == list(y[:2])  # a labelled file keeps its labels


def test_a_ts_file_in_another_encoding_is_read_with_encoding(tmp_path, dataset, capsys):
    """Labels written in latin-1: refused as not UTF-8 (naming encoding=), read with it,
    in Python and on the command line (train and predict take --encoding for .ts files)."""
    X, y = dataset
    labels = np.where(np.asarray(y) == y[0], "\u00e9t\u00e9", "hiver")
    ts = write_ts(tmp_path / "l1.ts", X, labels, encoding="latin-1")
    with pytest.raises(DataError, match=r"l1\.ts: not UTF-8 text .*encoding='latin-1'"):
        read_ts(ts)
    ds = read_ts(ts, encoding="latin-1")
    assert ds.labels == list(labels)
    model = tmp_path / "m.npz"
    code, _, err = cli(["train", ts, "-o", model, "--encoding", "latin-1", "--no-search", "--rejection-rate", "0",
                        *FLAGS], capsys)
    assert code == 0, err
    code, out, err = cli(["predict", model, ts, "--format", "csv"], capsys)  # the model reads its files alike
    assert code == 0, err
    assert {row.split(",")[1] for row in out.strip().splitlines()[1:]} == {"\u00e9t\u00e9", "hiver"}


def test_load_npz_without_y_only_when_asked(tmp_path, dataset):
    X, _ = dataset
    path = tmp_path / "new.npz"
    np.savez(path, X=np.concatenate(X[:2]), lengths=[len(X[0]), len(X[1])])
    with pytest.raises(DataError, match=r"new\.npz: expected arrays X, lengths and y, missing y"):
        load_npz(path)
    ds = load_npz(path, require_labels=False)
    assert ds.labels == [None, None] and ds.paths == [f"{path}[0]", f"{path}[1]"]
    np.savez(path, X=np.concatenate(X[:2]))
    with pytest.raises(DataError, match=r"new\.npz: expected arrays X and lengths, missing lengths"):
        load_npz(path, require_labels=False)


def test_predict_files_reads_data_set_files_in_order(tmp_path, dataset, fitted):
    X, y = dataset
    one = tmp_path / "one.csv"
    np.savetxt(one, X[0], delimiter=",")
    ts = write_ts(tmp_path / "new.ts", X[1:4])
    npz = tmp_path / "new.npz"
    np.savez(npz, X=np.concatenate(X[4:6]), lengths=[len(X[4]), len(X[5])])
    got = list(predict_files(fitted, [one, ts, npz, one], batch_size=2))
    assert [g.path for g in got] == [str(one), f"{ts}:5", f"{ts}:6", f"{ts}:7", f"{npz}[0]", f"{npz}[1]", str(one)]
    assert all(isinstance(g, FilePrediction) for g in got)
    expected = fitted.predict([X[0], *X[1:6], X[0]])
    assert [g.label for g in got] == list(expected)
    np.testing.assert_allclose([g.proba for g in got], fitted.predict_proba([X[0], *X[1:6], X[0]]), atol=1e-6)  # .ts: 6 decimals


def test_predict_files_checks_every_path_first(tmp_path, dataset, fitted):
    ts = write_ts(tmp_path / "new.ts", dataset[0][:2])
    with pytest.raises(DataError, match=r"missing\.ts: no such file or directory"):
        next(predict_files(fitted, [ts, tmp_path / "missing.ts"]))


def test_predict_files_skips_bad_items_of_a_data_set_file(tmp_path, dataset, fitted):
    X, _ = dataset
    ts = write_ts(tmp_path / "new.ts", X[:3])
    lines = ts.read_text().splitlines()
    lines[5] = lines[5].replace(",", ",oops,", 1)  # line 6
    ts.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"new\.ts: line 6: expected a number, got 'oops'"):
        list(predict_files(fitted, ts))
    got = list(predict_files(fitted, ts, on_invalid="skip"))
    assert [type(g) for g in got] == [FilePrediction, FilePrediction, SkippedFile]
    assert [g.path for g in got] == [f"{ts}:5", f"{ts}:7", f"{ts}:6"]


def test_cli_predicts_an_unlabelled_ts_file(tmp_path, dataset, fitted, model_file, capsys):
    X, y = dataset
    ts = write_ts(tmp_path / "new.ts", X[:4])
    code, out, err = cli(["predict", model_file, ts, "--format", "csv"], capsys)
    assert code == 0, err
    rows = [line.split(",") for line in out.strip().splitlines()[1:]]
    assert [r[0] for r in rows] == [f"{ts}:{i}" for i in range(5, 9)]
    assert [r[1] for r in rows] == list(fitted.predict(X[:4]))


def test_cli_reports_a_skipped_ts_line_once_by_name(tmp_path, dataset, model_file, capsys):
    ts = write_ts(tmp_path / "new.ts", dataset[0][:3])
    lines = ts.read_text().splitlines()
    lines[4] = "1,x:1,2:1,2"  # line 5
    ts.write_text("\n".join(lines) + "\n")
    code, out, err = cli(["predict", model_file, ts, "--on-invalid", "skip"], capsys)
    assert code == 3
    assert len(out.strip().splitlines()) == 2
    assert err.strip().splitlines() == [
        f"trajhmm: skipped: {ts}: line 5: expected a number, got 'x'",
        "trajhmm: 1 input skipped as invalid",
    ]


def test_cli_names_a_data_set_file_of_other_dims(tmp_path, dataset, model_file, capsys):
    ts = write_ts(tmp_path / "flat.ts", [x[:, :2] for x in dataset[0][:2]])
    code, _, err = cli(["predict", model_file, ts], capsys)
    assert code == 1
    assert err.strip() == f"trajhmm: error: {ts}: expected 3 dims like the model, got 2"


def test_cli_says_a_timed_model_cannot_read_a_data_set_file(tmp_path, dataset, capsys):
    X, y = dataset
    timed = [np.column_stack([np.arange(len(x)) * 0.01, x]) for x in X]
    path = tmp_path / "timed.npz"
    save_model(HMMClassifier(time_column=0, **FAST).fit(timed, y), path)
    code, _, err = cli(["predict", path, write_ts(tmp_path / "new.ts", X[:2])], capsys)
    assert code == 1
    assert err.strip().endswith(
        "expected 4 dims like the model, got 3 (the model takes time stamps, which a data set file does not hold)"
    )


def test_cli_train_still_refuses_an_unlabelled_ts_file(tmp_path, dataset, capsys):
    ts = write_ts(tmp_path / "new.ts", dataset[0][:4])
    code, _, err = cli(["train", ts, "-o", tmp_path / "m.npz", "--no-search"], capsys)
    assert code == 1
    assert err.strip() == f"trajhmm: error: {ts}: expected a labelled file (@classLabel true ...)"

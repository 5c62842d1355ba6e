"""Files with a header row are read by name once a model has seen their header (model
format 14: the reader's ``header_names``). From a motion-capture trial: a model trained
without --columns read a new file whose columns came in another order by position, and
called a reach a run."""

import json
import warnings

import joblib
import numpy as np
import pytest

from trajhmm import DataError, load_model, load_trajectories, read_trajectory, save_model
from trajhmm.datasets import options_for
from trajhmm.exceptions import ModelFileError, ParameterValueError
from trajhmm.persistence import model_metadata

from conftest import FLAGS, as_format, cli, resign


def _write(path, X, header, order=None):
    """``X`` (time, x, y, z) written with ``header`` (names of X's columns), the columns in ``order``."""
    order = list(range(X.shape[1])) if order is None else order
    path.parent.mkdir(parents=True, exist_ok=True)
    names = header.split(",")
    np.savetxt(path, X[:, order], delimiter=",", header=",".join(names[j] for j in order), comments="", fmt="%.6f")
    return path


def _trajectory(kind, seed, n=40):
    """Two classes that differ by which axis moves: 'reach' along x, 'lift' along z."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    move = np.sin(np.pi * t / 2) * (1 + 0.05 * rng.normal())
    calm = 0.02 * rng.normal(size=n)
    x, z = (move, calm) if kind == "reach" else (calm, move)
    return np.c_[t, x, 0.3 * t + 0.01 * rng.normal(size=n), z]


@pytest.fixture
def tree(tmp_path):
    for kind in ("reach", "lift"):
        for i in range(6):
            _write(tmp_path / "data" / kind / f"{i}.csv", _trajectory(kind, 10 * i + (kind == "lift")), "time,x,y,z")
    return tmp_path / "data"


def test_a_tree_of_one_header_keeps_its_names(tree):
    assert load_trajectories(tree, time_column="time").reader == {"time_column": "time", "header_names": ["x", "y", "z"]}
    assert load_trajectories(tree, columns=["x", "z"]).reader == {"columns": ["x", "z"]}


def test_files_without_a_header_or_with_other_headers_keep_none(tmp_path):
    for kind in ("reach", "lift"):
        for i in range(3):
            _write(tmp_path / kind / f"{i}.csv", _trajectory(kind, i)[:, 1:], "x,y,z")
    assert load_trajectories(tmp_path).reader == {"header_names": ["x", "y", "z"]}
    np.savetxt(tmp_path / "lift" / "bare.csv", _trajectory("lift", 99)[:, 1:], delimiter=",")  # no header
    assert load_trajectories(tmp_path).reader == {}
    (tmp_path / "lift" / "bare.csv").unlink()
    _write(tmp_path / "lift" / "other.csv", _trajectory("lift", 98)[:, 1:], "a,b,c")  # other names: kept silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_trajectories(tmp_path).reader == {}


def test_training_files_with_the_same_names_in_other_orders_are_read_by_name(tree):
    # from a trial: 12 of 60 files with another column order were read by position, and
    # every reordered file predicted later was read the same wrong way
    X = _trajectory("lift", 97)
    _write(tree / "lift" / "swapped.csv", X, "time,x,y,z", order=[3, 0, 2, 1])  # z,time,y,x
    ds = load_trajectories(tree, time_column="time")
    assert ds.reader == {"time_column": "time", "header_names": ["x", "y", "z"]}  # the most common order
    np.testing.assert_allclose(ds.trajectories[ds.paths.index(str(tree / "lift" / "swapped.csv"))], X, atol=1e-6)
    with pytest.warns(UserWarning, match="looks like time stamps"):  # time read as a coordinate
        without_time = load_trajectories(tree)
    assert without_time.reader == {"header_names": ["time", "x", "y", "z"]}
    np.testing.assert_allclose(without_time.trajectories[ds.paths.index(str(tree / "lift" / "swapped.csv"))], X,
                               atol=1e-6)


def test_a_file_is_read_by_the_names_whatever_their_order(tree, tmp_path):
    X = _trajectory("reach", 5)
    reader = load_trajectories(tree, time_column="time").reader
    for order in ([0, 1, 2, 3], [3, 0, 2, 1], [2, 3, 1, 0]):
        path = _write(tmp_path / f"new{order[0]}.csv", X, "time,x,y,z", order)
        np.testing.assert_allclose(read_trajectory(path, **options_for(path, **reader)), X, atol=1e-6)
    extra = _write(tmp_path / "extra.csv", np.c_[X, X[:, 1]], "time,x,y,z,w", [4, 3, 2, 1, 0])  # one more: left out
    np.testing.assert_allclose(read_trajectory(extra, **options_for(extra, **reader)), X, atol=1e-6)
    bare = tmp_path / "bare.csv"  # no header (or pandas' bare numbers): by position, as before
    np.savetxt(bare, X[:, 1:], delimiter=",")
    np.testing.assert_allclose(read_trajectory(bare, header_names=["x", "y", "z"]), X[:, 1:])
    np.savetxt(bare, X[:, [3, 2, 1]], delimiter=",", header="0,1,2", comments="")
    np.testing.assert_allclose(read_trajectory(bare, header_names=["x", "y", "z"]), X[:, [3, 2, 1]], atol=1e-6)


def test_a_missing_name_is_an_error_naming_the_file_and_the_names(tree, tmp_path):
    reader = load_trajectories(tree, time_column="time").reader
    path = _write(tmp_path / "caps.csv", _trajectory("reach", 5), "time,X,Y,Z")  # names differ by case only
    with pytest.raises(DataError, match=r"caps\.csv: its header row has no column 'x'; the coordinates are read by "
                                        r"the training files' header names \(x, y, z\), and this file's are time, X, "
                                        r"Y, Z; choose the coordinates with columns= \(--columns\)"):
        read_trajectory(path, **options_for(path, **reader))
    np.testing.assert_allclose(read_trajectory(path, time_column="time", columns=["X", "Y", "Z"]),
                               _trajectory("reach", 5), atol=1e-6)


@pytest.mark.parametrize(("options", "match"), [
    ({"header_names": ["x"], "columns": ["x"]}, "header_names: expected None when columns= chooses the coordinates"),
    ({"header_names": ["t", "x"], "time_column": "t"}, "header_names: expected the coordinates only"),
    ({"header_names": ["x", "x"]}, "header_names: expected each name once, got 'x' twice"),
    ({"header_names": ["x", 1]}, r"header_names: expected a list of column names \(non-empty str\)"),
    ({"header_names": "xyz"}, "header_names: expected a list of column names"),
])
def test_bad_header_names_are_refused(tmp_path, options, match):
    path = _write(tmp_path / "a.csv", _trajectory("reach", 1), "t,x,y,z")
    with pytest.raises((ParameterValueError, TypeError), match=match):
        read_trajectory(path, **options)


def test_the_cli_reads_a_reordered_file_by_name(tree, tmp_path, capsys):
    model = tmp_path / "m.npz"
    code, _, err = cli(["train", tree, "-o", model, "--time-column", "time", "--no-search", "--n-jobs", "1", *FLAGS],
                       capsys)
    assert code == 0, err
    assert model_metadata(model)["format_version"] == 14
    assert model_metadata(model)["reader"] == {"time_column": "time", "header_names": ["x", "y", "z"]}
    X = _trajectory("reach", 123)
    same = _write(tmp_path / "same.csv", X, "time,x,y,z")
    swapped = _write(tmp_path / "swapped.csv", X, "time,x,y,z", order=[3, 0, 2, 1])  # z first: a lift if by position
    code, out, err = cli(["predict", model, same, swapped], capsys)
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[1] for r in rows] == ["reach", "reach"] and rows[0][2] == rows[1][2]
    code, out, _ = cli(["predict", model, swapped, "--columns", "x,y,z"], capsys)  # a flag wins: by those names
    assert code == 0 and out.split("\t")[1] == "reach"
    code, out, _ = cli(["info", model], capsys)
    assert code == 0 and "files read with: header_names=['x', 'y', 'z'], time_column='time'" in out
    for kind in ("reach", "lift"):  # evaluate: a folder of reordered files, read by name
        for i in range(3):
            _write(tmp_path / "eval" / kind / f"{i}.csv", _trajectory(kind, 500 + i), "time,x,y,z", [2, 3, 0, 1])
    code, out, err = cli(["evaluate", model, tmp_path / "eval"], capsys)
    assert code == 0 and "accuracy: 1.0000 (6/6 trajectories)" in out, out + err
    caps = _write(tmp_path / "caps.csv", X, "time,X,Y,Z")
    code, out, err = cli(["predict", model, caps], capsys)
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert "caps.csv: its header row has no column 'x'" in err


def _fit(tree):
    from trajhmm import HMMClassifier

    ds = load_trajectories(tree, time_column="time")
    return HMMClassifier(n_states=3, n_points=15, n_iter=20, random_state=0, time_column=0).fit(
        ds.trajectories, ds.labels), ds.reader


def test_model_files_keep_the_names_and_refuse_bad_ones(tree, tmp_path):
    clf, reader = _fit(tree)
    path = tmp_path / "m.npz"
    save_model(clf, path, reader=reader)
    assert load_model(path, return_reader=True)[1] == reader
    with pytest.raises(ParameterValueError, match=r"reader: header_names: expected 3 distinct column names \(one per "
                                                  r"coordinate of the model\), got \['x', 'y'\]"):
        save_model(clf, tmp_path / "bad.npz", reader={**reader, "header_names": ["x", "y"]})
    assert not (tmp_path / "bad.npz").exists()
    for names in (["x", "y"], ["x", "x", "z"], ["x", "y", 3], "xyz"):
        save_model(clf, path, reader=reader)
        resign(path, lambda arrays, meta, names=names: meta["reader"].update(header_names=names))
        with pytest.raises(ModelFileError, match="meta.json: reader: header_names: expected|list of names"):
            load_model(path)
    save_model(clf, path, reader=reader)
    resign(path, lambda arrays, meta: meta.update(format_version=13))  # an older file cannot hold them
    with pytest.raises(ModelFileError, match="reader: header_names is only in files of format 14 or later"):
        load_model(path)
    save_model(clf, path, reader=reader)
    resign(path, as_format(13))  # what trajhmm 13 wrote: loads, its files read by position
    assert load_model(path, return_reader=True)[1] == {"time_column": "time"}


def test_a_pickled_model_checks_the_names_too(tree, tmp_path):
    clf, reader = _fit(tree)
    path = tmp_path / "m.pkl"
    save_model(clf, path, format="pickle", reader=reader)
    assert load_model(path, trusted=True, return_reader=True)[1] == reader
    joblib.dump({"trajhmm_model": clf, "reader": {**reader, "header_names": ["x"]}}, path)
    with pytest.raises(ModelFileError, match=r"m\.pkl: reader: header_names: expected 3 distinct column names"):
        load_model(path, trusted=True)


def test_the_file_says_what_it_holds(tree, tmp_path):
    clf, reader = _fit(tree)
    path = tmp_path / "m.npz"
    save_model(clf, path, reader=reader)
    assert json.loads(json.dumps(model_metadata(path)["reader"])) == {"time_column": "time",
                                                                      "header_names": ["x", "y", "z"]}


def _rows(detections):
    return [(d.start, d.end, d.label) for d in detections]


def test_a_stream_with_a_header_line_is_read_by_the_names(fitted, dataset, tmp_path, capsys, monkeypatch):
    import io
    import sys

    from trajhmm.streaming import spot, spot_lines

    X, _ = dataset
    stream = np.vstack([X[0], X[9], X[17]])
    expected = _rows(spot(fitted, stream, threshold=-50))
    assert expected
    swapped = "z,x,y\n" + "".join(",".join(f"{v:.17g}" for v in p[[2, 0, 1]]) + "\n" for p in stream)
    bare = "".join(",".join(f"{v:.17g}" for v in p) + "\n" for p in stream)  # no header line: by position
    names = ["x", "y", "z"]
    assert _rows(spot_lines(fitted, io.StringIO(swapped), header_names=names, threshold=-50)) == expected
    assert _rows(spot_lines(fitted, io.StringIO(bare), header_names=names, threshold=-50)) == expected
    with pytest.raises(DataError, match=r"<stdin>: its header line has no column 'x'; the coordinates are read by the "
                                        r"training files' header names \(x, y, z\), and this stream's are X, Y, Z"):
        list(spot_lines(fitted, io.StringIO("X,Y,Z\n" + bare), header_names=names))
    model = tmp_path / "m.npz"
    save_model(fitted, model, reader={"header_names": names})
    monkeypatch.setattr(sys, "stdin", io.StringIO(swapped))
    code, out, err = cli(["spot", model, "-", "--threshold", "-50", "--format", "csv"], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == "start,end,label,score"
    assert [line.rsplit(",", 1)[0] for line in out.splitlines()[1:]] == [f"{a},{b},{c}" for a, b, c in expected]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    code, out, _ = cli(["spot", model, "-", "--format", "csv"], capsys)  # no detection: the header row alone
    assert code == 0 and out == "start,end,label,score\n"


def test_a_long_table_is_read_by_the_names_too(tree, tmp_path, capsys):
    model = tmp_path / "m.npz"
    code, _, err = cli(["train", tree, "-o", model, "--time-column", "time", "--no-search", "--n-jobs", "1", *FLAGS],
                       capsys)
    assert code == 0, err
    rows = ["id,z,time,battery,x,y"]  # another order, and one more column
    for ident, kind in enumerate(["reach", "lift", "reach"]):
        rows += [f"{ident},{p[3]},{p[0]},7.5,{p[1]},{p[2]}" for p in _trajectory(kind, 300 + ident)]
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    code, out, err = cli(["predict", model, tmp_path / "table.csv", "--id-column", "id"], capsys)
    assert code == 0, err  # was: TypeError from load_table (header_names)
    assert [line.split("\t")[:2] for line in out.splitlines()] == [["0", "reach"], ["1", "lift"], ["2", "reach"]]


@pytest.mark.parametrize("header", ["x,x,z", "x,,z", "x,y,z,w"])
def test_a_header_that_names_no_column_once_keeps_none(tmp_path, header, capsys):
    for kind in ("reach", "lift"):
        for i in range(3):
            path = tmp_path / "data" / kind / f"{i}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = _trajectory(kind, i)[:, 1:]
            path.write_text(header + "\n" + "".join(",".join(f"{v:.6f}" for v in r) + "\n" for r in rows))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_trajectories(tmp_path / "data")  # read (by position), the names not kept
    assert len(ds) == 6 and "header_names" not in ds.reader
    code, _, err = cli(["train", tmp_path / "data", "-o", tmp_path / "m.npz", "--no-search", "--n-jobs", "1", *FLAGS],
                       capsys)
    assert code == 0, err  # the model is saved (a stored name twice would be refused at the end)


def test_a_file_without_a_header_is_told_how_to_name_the_time_column(tree, tmp_path, capsys):
    model = tmp_path / "m.npz"
    code, _, err = cli(["train", tree, "-o", model, "--time-column", "time", "--no-search", "--n-jobs", "1", *FLAGS],
                       capsys)
    assert code == 0, err
    bare = tmp_path / "bare.csv"
    np.savetxt(bare, _trajectory("reach", 77), delimiter=",")
    code, out, err = cli(["predict", model, bare], capsys)
    # was: "... got the name 'time'; pass positions 0 to 3 (e.g. ... --columns 0,1,2)", which fails the same way
    assert code == 1 and err == (f"trajhmm: error: {bare}: has no header row, so the time column is chosen by 0-based "
                                 "position, got the name 'time' (time_column= / --time-column, given or stored in the "
                                 "model); pass its position, e.g. time_column=0 / --time-column 0\n")
    code, out, err = cli(["predict", model, bare, "--time-column", "0"], capsys)
    assert code == 0 and out.split("\t")[1] == "reach", err
    upper = _write(tmp_path / "upper.csv", _trajectory("reach", 78), "TIME,x,y,z")
    code, out, err = cli(["predict", model, upper], capsys)
    assert code == 1 and "no column named 'time' (the time column: time_column= / --time-column); the header names: " \
                         "TIME, x, y, z" in err

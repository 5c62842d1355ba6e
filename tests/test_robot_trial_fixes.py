"""Defects found by a user trial with robot end-effector logs (millimetres around a
workspace offset, time stamps, long tables, streams): a long table predicted whole as one
trajectory, and other messages."""

import warnings

import numpy as np
import pytest

from trajhmm import DataError, HMMClassifier, read_trajectory, save_model

from conftest import FAST, cli

TABLE = "id,label,t,x,y,z\n1,a,0,1,2,3\n1,a,1,2,3,4\n1,a,2,3,3,3\n2,b,0,1,1,1\n2,b,1,2,2,2\n2,b,2,3,1,0\n"
HINT = ("its column 'id' is not read: if the file holds many trajectories (a long table, one row per point), read it "
        "with --id-column (trajhmm.load_table(path, id_column=...))")


def test_a_long_table_read_as_one_trajectory_is_said(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text(TABLE)
    with pytest.warns(UserWarning, match=f"points.csv: {HINT}".replace("(", r"\(").replace(")", r"\)")
                      .replace(".", r"\.")):
        assert read_trajectory(path, columns=["x", "y", "z"]).shape == (6, 3)  # was: silent
    with pytest.raises(DataError) as info:
        read_trajectory(path, columns=["x", "y", "z"], time_column="t")
    assert str(info.value).endswith("sort the file by time, or pass another time_column= (--time-column); " + HINT)
    one = tmp_path / "one.csv"  # one trajectory with a constant id column: nothing to say
    one.write_text("".join(line + "\n" for line in TABLE.splitlines()[:4]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_trajectory(one, columns=["x", "y", "z"], time_column="t").shape == (3, 4)


def test_the_cli_says_it_for_a_model_with_stored_columns(dataset, tmp_path, capsys):
    X, y = dataset
    model = tmp_path / "m.npz"
    save_model(HMMClassifier(**FAST).fit(X, y), model, reader={"columns": ["x", "y", "z"]})
    path = tmp_path / "points.csv"
    path.write_text(TABLE)
    code, out, err = cli(["predict", model, path], capsys)
    assert code == 0 and len(out.splitlines()) == 1 and f"trajhmm: warning: {path}: {HINT}" in err


def test_spot_says_when_a_recording_is_in_other_units(dataset, tmp_path, capsys):
    X, y = dataset
    clf = HMMClassifier(**FAST).fit(X[::2], y[::2])
    model = tmp_path / "m.npz"
    save_model(clf, model)
    stream = np.vstack([X[1], X[3], X[5]])
    for factor, said in ((1.0, None), (1e-3, "nothing in it moves even half as much as the least moving training "
                                             "trajectory, so nothing can be detected"),
                         (1e3, "its most moving stretch moves more than 10 times as much as the most moving training "
                               "trajectory: other units")):
        path = tmp_path / f"s{factor:g}.csv"
        np.savetxt(path, stream * factor, delimiter=",")
        code, _, err = cli(["spot", model, path], capsys)  # was: nothing said (no output at all for x0.001)
        assert code == 0
        assert (f"trajhmm: warning: {path}: {said}" in err) if said else err == "", err


def test_info_says_how_a_model_without_time_stamps_resamples(model_file, capsys):
    code, out, _ = cli(["info", model_file], capsys)
    # was: "evenly in time", as for a model that reads time stamps
    assert code == 0 and "preprocessing: resample 20 points evenly in time (by sample: no time stamps)" in out


def test_a_ragged_json_record_names_the_point(model_file, capsys, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO('{"id": "a", "points": [[1, 2, 3], [4, 5, 6], [4, 5]]}\n'))
    code, out, err = cli(["predict", model_file, "-"], capsys)
    # was: "expected numbers, got '[[1, 2, 3], [4, 5, 6], [4, 5]]'"
    assert code == 1 and err == ("trajhmm: error: <stdin>:1: expected points of one size, got 3 values in point 1 and "
                                 "2 in point 3: '[4, 5]'\n")


def test_a_stream_without_a_header_is_told_the_flag(dataset, tmp_path, capsys, monkeypatch):
    import io
    import sys

    X, y = dataset
    model = tmp_path / "m.npz"
    save_model(HMMClassifier(**FAST).fit(X, y), model, reader={"columns": ["x", "y", "z"]})
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(",".join(map(str, p)) + "\n" for p in X[0])))
    code, _, err = cli(["spot", model, "-"], capsys)
    assert code == 1 and err.strip().endswith("got none; give 0-based positions instead (e.g. --columns 0,1,2)")


def test_time_stamps_a_model_does_not_take_are_said_once(model_file, capsys, monkeypatch):
    import io
    import json
    import sys

    lines = "".join(json.dumps({"id": i, "points": [[0, 0, 0], [1, 2, 3], [2, 3, 3]], "t": [0, 1, 5]}) + "\n"
                    for i in range(3))
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    code, out, err = cli(["predict", model_file, "-"], capsys)
    assert code == 0 and len(out.splitlines()) == 3
    assert err.count('"t" (time stamps) in a record is ignored: the model takes none') == 1  # was: silent


def test_number_labels_of_a_bundle_stay_numbers(dataset, tmp_path, capsys):
    # from a MATLAB user's trial: labels 1..10 became '1', '10', '2', ... (classes and the
    # --proba columns in that order), while fit in Python kept the numbers
    from trajhmm import load_model
    from trajhmm.datasets import load_npz

    X, y = dataset
    codes = {label: 10 * (i + 1) // 10 + (i == 3) * 6 for i, label in enumerate(sorted(set(y)))}  # 1, 2, 3, 10
    labels = np.array([codes[v] for v in y], dtype=float)  # MATLAB keeps label vectors as doubles
    np.savez(tmp_path / "d.npz", X=np.concatenate(X), lengths=[len(x) for x in X], y=labels)
    assert sorted(set(load_npz(tmp_path / "d.npz").labels)) == [1, 2, 3, 10]
    code, _, err = cli(["train", tmp_path / "d.npz", "-o", tmp_path / "m.npz", "--no-search", "--n-jobs", "1",
                        "--n-states", "3", "--n-iter", "5"], capsys)
    assert code == 0, err
    assert load_model(tmp_path / "m.npz").classes_.tolist() == [1, 2, 3, 10]
    code, out, _ = cli(["predict", tmp_path / "m.npz", tmp_path / "d.npz", "--proba", "--format", "csv"], capsys)
    assert code == 0 and out.splitlines()[0] == "path,label,margin,p_1,p_2,p_3,p_10"


def test_a_column_per_time_file_read_as_rows_is_told_the_layout(model_file, dataset, tmp_path, capsys):
    X, _ = dataset
    path = tmp_path / "wide.csv"
    np.savetxt(path, X[0].T, delimiter=",")  # 3 x 101: one column per time point
    code, _, err = cli(["predict", model_file, path, "--layout", "rows"], capsys)
    # was: "expected 3 dims like the model, got 101 (choose the columns with ...)"
    assert code == 1 and err.strip().endswith("expected 3 dims like the model, got 101; its 3 rows are as many as the "
                                              "model's dims: if it holds one column per time point, pass "
                                              "layout='columns' (--layout columns)")
    code, out, _ = cli(["predict", model_file, path], capsys)  # auto: transposed, with its warning
    assert code == 0 and len(out.splitlines()) == 1

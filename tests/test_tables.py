"""Long tables (one row per point): load_table and the CLI's table flags; the same
trajectories held as folders, timed folders, a shuffled CSV, Parquet and a DataFrame give
the same predictions."""

import json

import numpy as np
import pytest

from trajhmm import DataError, HMMClassifier, load_model, load_table

from conftest import FAST, FLAGS, cli

pd = pytest.importorskip("pandas")

EPOCH, YEAR, RATE = 1.7e9, 365 * 86400.0, 100.0


def _long(X, y, ids=None, origin=EPOCH):
    """The long table of trajectories X with labels y: id, label, t, x, y, z."""
    ids = range(len(X)) if ids is None else ids
    parts = [pd.DataFrame({"id": i, "label": lb, "t": origin + np.arange(len(x)) / RATE,
                           "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]}) for i, lb, x in zip(ids, y, X)]
    return pd.concat(parts, ignore_index=True)


def test_rows_in_any_order_are_sorted_by_time_within_each_id(dataset):
    X, y = dataset
    table = _long(X[:6], y[:6]).sample(frac=1.0, random_state=0)
    ds = load_table(table, id_column="id", label_column="label", time_column="t")
    assert ds.ids == list(range(6)) and ds.labels == list(y[:6]) and ds.time_column == 0
    for got, x in zip(ds.trajectories, X[:6]):
        np.testing.assert_array_equal(got[:, 1:], x)
        np.testing.assert_allclose(np.diff(got[:, 0]), 1 / RATE, atol=1e-6)  # epoch seconds: 2.4e-7 s resolution
    assert ds.reader == {"columns": ["x", "y", "z"], "time_column": "t", "id_column": "id"} and ds.paths[0] == "the table[id=0]"
    # without a time column the rows keep their order, and every other column is a coordinate
    plain = load_table(_long(X[:2], y[:2]).drop(columns="t"), id_column="id", label_column="label")
    np.testing.assert_array_equal(plain.trajectories[1], X[1])
    assert plain.time_column is None and plain.reader == {"columns": ["x", "y", "z"], "id_column": "id"}


def test_columns_choose_and_order_the_coordinates(dataset):
    X, y = dataset
    ds = load_table(_long(X[:2], y[:2]), id_column="id", label_column="label", time_column="t", columns=["z", "x"])
    np.testing.assert_array_equal(ds.trajectories[0][:, 1:], X[0][:, [2, 0]])
    assert ds.reader == {"columns": ["z", "x"], "time_column": "t", "id_column": "id"}


def test_dates_are_time_stamps_in_seconds(dataset):
    X, y = dataset
    table = _long(X[:2], y[:2])
    table["t"] = pd.to_datetime(table["t"], unit="s")
    ds = load_table(table, id_column="id", label_column="label", time_column="t")
    np.testing.assert_allclose(ds.trajectories[0][:4, 0], [0.0, 0.01, 0.02, 0.03], atol=1e-6)


def test_groups_and_unlabelled_tables(dataset):
    X, y = dataset
    table = _long(X[:4], y[:4])
    table["subject"] = table["id"] % 2
    ds = load_table(table, id_column="id", label_column="label", time_column="t", group_column="subject")
    assert ds.groups == [0, 1, 0, 1] and ds.trajectories[0].shape[1] == 4  # subject is not a coordinate
    assert load_table(table.drop(columns="label"), id_column="id", time_column="t", group_column="subject").labels == []


@pytest.mark.parametrize("edit, kwargs, message", [
    (lambda t: t, {"time_column": "time"}, r"time_column: no column 'time'; the table has 'id', 'label', 't', 'x'"),
    (lambda t: t, {"columns": ["x", "w"]}, r"columns: no column 'w'"),
    (lambda t: t.assign(note="a"), {}, r"column 'note' is not numeric \(.*\); choose the coordinates with columns= / "
                                       r"--columns"),
    (lambda t: t.assign(label=np.where(t.index % 7 == 0, "b", t["label"])), {},
     r"the table\[id=0\]: index 1, column 'label': expected one label per trajectory, got arc_up after b "
     r"\(values: \['arc_up', 'b'\]\)"),
    (lambda t: t.assign(t=t["t"].where(t.index != 3, t["t"][2])), {},
     r"the table\[id=0\]: index 3: time stamp .* repeats; expected one row per time"),
    (lambda t: t.assign(x=t["x"].where(t.index != 5)), {},
     r"the table\[id=0\]: index 5, column 'x': missing value; pass missing='interpolate' \(--missing interpolate\)"),
    (lambda t: t.assign(id=t["id"].where(t.index != 2)), {}, r"the table: index 2, column 'id': missing id \(an empty cell"),
    (lambda t: t.assign(y=t["y"].where(t.index != 4, np.inf)), {"missing": "interpolate"},
     r"the table\[id=0\]: index 4, column 'y': expected a finite number, got inf"),
    (lambda t: t.assign(z=np.nan), {"missing": "interpolate"},
     r"the table\[id=0\]: column 'z' has no values, nothing to interpolate from; leave it out with columns="),
    (lambda t: t[t.index != 1].iloc[:1], {}, r"expected at least 2 points, got 1"),
])
def test_table_errors_name_the_row_and_the_fix(dataset, edit, kwargs, message):
    X, y = dataset
    table = edit(_long(X[:2], ["arc_up", "arc_up"]))
    with pytest.raises(DataError, match=message):
        load_table(table, id_column="id", label_column="label", **{"time_column": "t", **kwargs})


def test_gaps_are_interpolated_on_request(dataset):
    X, y = dataset
    table = _long(X[:1], y[:1])
    table.loc[[0, 5, 6], "x"] = np.nan
    ds = load_table(table, id_column="id", label_column="label", time_column="t", missing="interpolate")
    got = ds.trajectories[0][:, 1]
    np.testing.assert_allclose(got[[0, 5, 6]], [X[0][1, 0], *np.interp([5, 6], [4, 7], X[0][[4, 7], 0])])
    assert ds.reader == {"columns": ["x", "y", "z"], "time_column": "t", "id_column": "id", "missing": "interpolate"}


def test_files_name_the_line(dataset, tmp_path):
    X, y = dataset
    table = _long(X[:2], y[:2])
    table.loc[3, "x"] = np.nan
    table.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=r"t.csv\[id=0\]: line 5, column 'x': missing value"):
        load_table(tmp_path / "t.csv", id_column="id", label_column="label", time_column="t")
    with pytest.raises(DataError, match=r"t.xlsx: unknown table type '.xlsx'; expected one of .csv, .tsv"):
        load_table(tmp_path / "t.xlsx", id_column="id")
    with pytest.raises(DataError, match=r"nothing.csv: no such file"):
        load_table(tmp_path / "nothing.csv", id_column="id")


def test_the_same_trajectories_in_every_shape_give_the_same_predictions(dataset, tmp_path, capsys):
    """(a) class folders of x,y,z CSVs; (b) class folders of t,x,y,z CSVs with epoch time
    stamps and --time-column t; (c) one long CSV, rows shuffled; (d) Parquet; (e) a
    DataFrame with category labels. Trained through the CLI (a-d) and the API (e) on the
    same trajectories, scored on the same held-out ones; clocks moved by a year change
    nothing."""
    pytest.importorskip("pyarrow")
    X, y = dataset
    train, test = np.arange(len(X)) % 4 != 0, np.arange(len(X)) % 4 == 0
    Xtr, ytr, Xte, yte = [X[i] for i in np.flatnonzero(train)], y[train], [X[i] for i in np.flatnonzero(test)], y[test]
    d = tmp_path
    for name, timed in (("a", False), ("b", True)):
        for i, (x, lb) in enumerate(zip(Xtr, ytr)):
            (d / name / lb).mkdir(parents=True, exist_ok=True)
            cols = np.column_stack([EPOCH + np.arange(len(x)) / RATE, x]) if timed else x
            np.savetxt(d / name / lb / f"{i:03d}.csv", cols, delimiter=",", fmt="%.10f", comments="",
                       header="t,x,y,z" if timed else "x,y,z")
    _long(Xtr, ytr).sample(frac=1.0, random_state=1).to_csv(d / "c.csv", index=False)
    _long(Xtr, ytr).to_parquet(d / "d.parquet")
    for name in ("te", "te_later"):
        _long(Xte, yte, ids=[f"q{i}" for i in range(len(Xte))],
              origin=EPOCH + (YEAR if name == "te_later" else 0)).to_csv(d / f"{name}.csv", index=False)
    table_flags = ["--id-column", "id", "--label-column", "label", "--time-column", "t"]
    runs = {"a": [d / "a"], "b": [d / "b", "--time-column", "t"], "c": [d / "c.csv", *table_flags],
            "d": [d / "d.parquet", *table_flags]}
    predictions = {}
    for name, args in runs.items():
        code, _, err = cli(["train", *args, "-o", d / f"{name}.npz", "--no-search", *FLAGS], capsys)
        assert code == 0, err
        for te in ("te", "te_later"):
            # c, d: the coordinates and the time column are stored with the model; a, b were
            # trained on files, so the table's columns are named here
            flags = {"a": ["--columns", "x,y,z"], "b": ["--columns", "x,y,z", "--time-column", "t"]}.get(name, [])
            code, out, err = cli(["predict", d / f"{name}.npz", d / f"{te}.csv", "--id-column", "id", *flags,
                                  "--format", "json"], capsys)
            assert code == 0, err
            predictions[name, te] = [line.split('"label": ')[1].split(",")[0] for line in out.splitlines()]
    frame = _long(Xtr, ytr).astype({"label": "category"})
    ds = load_table(frame, id_column="id", label_column="label", time_column="t")
    clf = HMMClassifier(**FAST, time_column=ds.time_column).fit(ds.trajectories, ds.labels)
    te = load_table(d / "te.csv", id_column="id", label_column="label", time_column="t")
    expected = [f'"{c}"' for c in clf.predict(te.trajectories)]
    for key, got in predictions.items():
        assert got == expected, key
    assert np.mean(np.array(expected) == np.array([f'"{c}"' for c in yte])) == 1.0
    model, reader = load_model(d / "b.npz", return_reader=True)
    assert reader == {"time_column": "t", "header_names": ["x", "y", "z"]} and model.time_column == 0


def test_cli_table_flags_errors(dataset, tmp_path, capsys):
    X, y = dataset
    _long(X[:4], y[:4]).to_csv(tmp_path / "t.csv", index=False)
    code, _, err = cli(["train", tmp_path / "t.csv", "-o", tmp_path / "m.npz", "--id-column", "id", "--no-search"],
                       capsys)
    assert code == 2 and "a table needs --label-column" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(["train", tmp_path, "-o", tmp_path / "m.npz", "--label-column", "label", "--no-search"], capsys)
    assert code == 2 and "--label-column applies to tables, with --id-column" in err


def test_cli_evaluate_predict_and_groups_on_tables(dataset, tmp_path, capsys):
    X, y = dataset
    table = _long(X, y)
    table["subject"] = np.where(table["label"] == "wave", "s1", "s" + (table["id"] % 3).astype(str))
    table.to_csv(tmp_path / "t.csv", index=False)
    flags = ["--id-column", "id", "--label-column", "label", "--time-column", "t"]
    # the groups reach the rejection's calibration folds: a class recorded by one subject only
    # cannot be held out by subject
    code, _, err = cli(["train", tmp_path / "t.csv", "-o", tmp_path / "m.npz", *flags, "--group-column", "subject",
                        "--no-search", *FLAGS, "--rejection-rate", "0.05"], capsys)
    assert code == 0 and "open-set rejection is off" in err and "with groups" in err
    code, out, err = cli(["evaluate", tmp_path / "m.npz", tmp_path / "t.csv", *flags], capsys)
    assert code == 0 and f"accuracy: 1.0000 ({len(X)}/{len(X)} trajectories)" in out
    code, out, _ = cli(["predict", tmp_path / "m.npz", tmp_path / "t.csv", "--id-column", "id"], capsys)
    lines = [line.split("\t")[:2] for line in out.splitlines()]
    assert code == 0 and lines == [[str(i), lb] for i, lb in enumerate(y)]
    code, _, err = cli(["train", tmp_path / "t.csv", "-o", tmp_path / "m.npz", "--group-column", "subject",
                        "--no-search"], capsys)
    assert code == 2 and "--group-column applies to tables, with --id-column" in err


def test_a_time_column_read_as_a_coordinate_warns(dataset):
    X, y = dataset
    with pytest.warns(UserWarning, match=r"the table: column 't' looks like time stamps and is read as a coordinate; "
                                         r"pass time_column='t' \(--time-column t\)"):
        load_table(_long(X[:2], y[:2]), id_column="id", label_column="label")


@pytest.mark.parametrize("write", [
    lambda t, p: t.to_csv(p, sep=";", decimal=",", index=False, encoding="utf-8-sig"),  # Excel, European locale
    lambda t, p: t.to_csv(p, sep="\t", decimal=",", index=False),
    lambda t, p: t.to_csv(p, index=False, encoding="utf-16"),
    lambda t, p: p.write_text(t.to_csv(index=False).replace("\n", "\nid,label,s,m,m,m\n", 1)),  # a units row
])
def test_tables_in_the_encodings_and_locales_the_file_reader_reads(dataset, tmp_path, write):
    X, y = dataset
    table = _long(X[:3], y[:3])
    write(table, tmp_path / "t.csv")
    ds = load_table(tmp_path / "t.csv", id_column="id", label_column="label", time_column="t")
    assert ds.labels == list(y[:3])
    for got, x in zip(ds.trajectories, X[:3]):
        np.testing.assert_allclose(got[:, 1:], x, rtol=1e-12)


def test_a_missing_label_is_named(dataset):
    X, y = dataset
    table = _long(X[:3], y[:3])
    table.loc[table["id"] == 1, "label"] = None
    with pytest.raises(DataError, match=rf"the table\[id=1\]: index {len(X[0])}, column 'label': missing label \(empty in all "
                                        rf"{len(X[1])} rows of the trajectory\)"):
        load_table(table, id_column="id", label_column="label", time_column="t")


def _subjects(X, y, path):
    """The long table of X, y with a subject column, written to the CSV ``path`` (row i
    is line i + 2); also (the first row of id 1, its third row)."""
    table = _long(X, y)
    table["subject"] = "s" + (table["id"] % 2).astype(str)
    table.to_csv(path, index=False)
    first = int(np.flatnonzero(table["id"] == 1)[0])
    return table, first, first + 2


@pytest.mark.parametrize("column, at, value, message", [
    # the first row of the id empty: was "got nan after nan (values: ['arc_up', 'nan'])"
    ("label", 0, "", r"\[id=1\]: line {line}, column 'label': missing label \(the trajectory's other rows say 'wave'\)$"),
    ("label", 2, "", r"\[id=1\]: line {line}, column 'label': missing label \(the trajectory's other rows say 'wave'\)$"),
    ("subject", 2, "", r"\[id=1\]: line {line}, column 'subject': missing group \(the trajectory's other rows say 's1'\)$"),
    ("id", 2, "", r"t.csv: line {line}, column 'id': missing id \(an empty cell; every row needs the id of its trajectory\)$"),
    ("label", 2, "b", r"\[id=1\]: line {line}, column 'label': expected one label per trajectory, got b after wave "
                      r"\(values: \['b', 'wave'\]\)$"),
])
def test_an_empty_label_group_or_id_cell_is_named_with_its_line(dataset, tmp_path, column, at, value, message):
    X, y = dataset
    table, first, _ = _subjects(X[:3], ["arc_up", "wave", "arc_up"], tmp_path / "t.csv")
    lines = (tmp_path / "t.csv").read_text().splitlines()
    cells = lines[first + at + 1].split(",")
    cells[list(table.columns).index(column)] = value
    lines[first + at + 1] = ",".join(cells)
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message.format(line=first + at + 2)):
        load_table(tmp_path / "t.csv", id_column="id", label_column="label", time_column="t", group_column="subject")


def test_a_cell_that_is_not_a_number_is_named_with_its_id_and_line(dataset, tmp_path):
    """A coordinate (or time) column of numbers with one stray word: the cell, not the
    column (was: "column 'x' is not numeric (str); choose the coordinates with columns=")."""
    X, y = dataset
    table, first, third = _subjects(X[:3], y[:3], tmp_path / "t.csv")
    kw = dict(id_column="id", label_column="label", time_column="t", group_column="subject")
    text = table.astype({"x": str, "t": str})
    text.loc[third, "x"] = "oops"
    text.to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(DataError, match=rf"x.csv\[id=1\]: line {third + 2}, column 'x': expected a number, got 'oops'$"):
        load_table(tmp_path / "x.csv", **kw)
    # Parquet and DataFrames have no lines: the row's index label, as their other messages
    text.to_parquet(tmp_path / "x.parquet")
    with pytest.raises(DataError, match=rf"x.parquet\[id=1\]: index {third}, column 'x': expected a number, got 'oops'$"):
        load_table(tmp_path / "x.parquet", **kw)
    with pytest.raises(DataError, match=rf"the table\[id=1\]: index {third}, column 'x': expected a number, got 'oops'$"):
        load_table(text, **kw)
    text.loc[third, "x"], text.loc[first, "t"] = str(table.loc[third, "x"]), "later"
    text.to_csv(tmp_path / "t2.csv", index=False)
    with pytest.raises(DataError, match=rf"t2.csv\[id=1\]: line {first + 2}, column 't': expected a number, got 'later'$"):
        load_table(tmp_path / "t2.csv", **kw)
    # a column of words is a column wrongly chosen: named as such, with the fix
    table.assign(x="left").to_parquet(tmp_path / "w.parquet")
    with pytest.raises(DataError, match=r"w.parquet: column 'x' is not numeric \(.*\); choose the coordinates with columns="):
        load_table(tmp_path / "w.parquet", **kw)


def test_a_decimal_comma_in_a_column_of_integers_says_so(dataset, tmp_path):
    X, y = dataset
    table = _long(X[:2], y[:2]).assign(x=lambda t: t["id"])
    text = table.astype({"x": str})
    text.loc[4, "x"] = "1,5"
    text.to_csv(tmp_path / "t.csv", sep=";", index=False)
    with pytest.raises(DataError, match=r"t.csv\[id=0\]: line 6, column 'x': expected a number, got '1,5'; it looks "
                                        r"like a decimal comma: pass decimal=',' \(--decimal ,\)$"):
        load_table(tmp_path / "t.csv", id_column="id", label_column="label", time_column="t")


@pytest.mark.parametrize("edit, line", [
    (lambda lines: [lines[0], "id,label,s,m,m,m", *lines[1:]], 7),      # a units row under the header
    (lambda lines: [lines[0], "", *lines[1:3], "   ", *lines[3:]], 8),   # blank lines, which pandas skips
])
def test_line_numbers_count_the_units_row_and_blank_lines(dataset, tmp_path, edit, line):
    X, y = dataset
    table = _long(X[:2], y[:2])
    table.loc[4, "x"] = np.nan  # line 6 of the plain file
    lines = edit(table.to_csv(index=False).splitlines())
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"t.csv\[id=0\]: line {line}, column 'x': missing value"):
        load_table(tmp_path / "t.csv", id_column="id", label_column="label", time_column="t")


def test_flags_that_contradict_the_stored_reading_are_one_line(dataset, tmp_path, capsys):
    X, y = dataset
    _long(X, y).to_csv(tmp_path / "t.csv", index=False)
    code, _, err = cli(["train", tmp_path / "t.csv", "-o", tmp_path / "m.npz", "--id-column", "id", "--label-column",
                        "label", "--time-column", "t", "--no-search", *FLAGS, "--rejection-rate", "0"], capsys)
    assert code == 0, err
    code, _, err = cli(["predict", tmp_path / "m.npz", tmp_path / "t.csv", "--id-column", "id", "--columns", "t,x,y"],
                       capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "columns: expected the coordinates only, not the time_column, got 't' (with the reading options stored in the " \
           "model: columns=['x', 'y', 'z'], id_column='id', time_column='t')" in err
    lines = [json.dumps({"id": 0, "points": X[0].tolist(), "t": list(range(len(X[0])))}),
             json.dumps({"id": 1, "points": X[1].tolist(), "t": [0.0] * len(X[1])}),
             json.dumps({"id": 2, "points": X[2].tolist()})]
    import io
    import sys

    sys_stdin = sys.stdin
    try:
        sys.stdin = io.StringIO("\n".join(lines) + "\n")
        code, out, err = cli(["predict", tmp_path / "m.npz", "-", "--on-invalid", "skip"], capsys)
    finally:
        sys.stdin = sys_stdin
    assert code == 3 and [line.split("\t")[0] for line in out.splitlines()] == ["0"]
    assert "<stdin>:2: t: expected strictly increasing time stamps, got 0.0 at point 1 after 0.0" in err
    assert '<stdin>:3: the model takes time stamps: expected "t"' in err

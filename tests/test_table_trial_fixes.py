"""Defects found by a user trial with long tables (pandas, CSV, Parquet): ids read as
written, the id column stored with the model, pandas' index column and trailing
delimiters, one role per column, index labels in DataFrame messages, ISO time stamps as
text, table flags refused by predict, paths checked before any output."""

import numpy as np
import pandas as pd
import pytest

from trajhmm import HMMClassifier, load_model, load_table, predict_files, save_model
from trajhmm.exceptions import DataError, ModelFileError, ParameterValueError

from conftest import FAST, FLAGS, cli

RATE = 100.0


def _long(X, y, ids):
    parts = [pd.DataFrame({"trip": i, "label": lb, "t": np.arange(len(x)) / RATE, "x": x[:, 0], "y": x[:, 1],
                           "z": x[:, 2]}) for i, lb, x in zip(ids, y, X)]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def trips(dataset, tmp_path):
    """A CSV long table of 8 trajectories whose ids look like numbers (``007``, ``7``)."""
    X, y = dataset
    ids = ["007", "7", "0020", "20.0", "3", "03", "a1", "10"]
    pick = [0, 8, 16, 24, 1, 9, 17, 25]  # two of each class
    X, y = [X[i] for i in pick], [y[i] for i in pick]
    table = _long(X, y, ids)
    table.to_csv(tmp_path / "trips.csv", index=False)
    return X, y, ids, table


def test_ids_that_look_like_numbers_are_read_as_written(trips, tmp_path):
    X, y, ids, _ = trips
    ds = load_table(tmp_path / "trips.csv", id_column="trip", label_column="label", time_column="t")
    # was: 007 and 7 (and 0020 and 20.0, 3 and 03) merged into one trajectory each, ids 7, 20, 3
    assert len(ds.trajectories) == 8
    assert ds.ids == ["03", "3", "007", "7", "10", "0020", "20.0", "a1"]  # numbers by value, then text
    for ident, traj, label in zip(ds.ids, ds.trajectories, ds.labels):
        k = ids.index(ident)
        np.testing.assert_allclose(traj[:, 1:], X[k], rtol=1e-12)
        assert label == y[k]


def test_a_model_trained_on_a_table_predicts_tables_without_repeating_the_id_column(trips, tmp_path, capsys):
    X, y, ids, table = trips
    flags = ["--label-column", "label", "--time-column", "t"]
    code, _, err = cli(["train", tmp_path / "trips.csv", "--id-column", "trip", *flags, "-o", tmp_path / "m.npz",
                        "--no-search", *FLAGS, "--rejection-rate", "0"], capsys)
    assert code == 0, err
    assert load_model(tmp_path / "m.npz", return_reader=True)[1]["id_column"] == "trip"
    code, out, err = cli(["info", tmp_path / "m.npz"], capsys)
    assert "id_column='trip'" in out
    # was: the whole table read as one trajectory, one line, exit 0
    code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path / "trips.csv"], capsys)
    assert code == 0, err
    assert [line.split("\t")[0] for line in out.splitlines()] == ["03", "3", "007", "7", "10", "0020", "20.0", "a1"]
    code, with_flag, _ = cli(["predict", tmp_path / "m.npz", tmp_path / "trips.csv", "--id-column", "trip"], capsys)
    assert with_flag == out
    # a file of one trajectory (no id column) is still read as one
    np.savetxt(tmp_path / "one.csv", np.column_stack([np.arange(len(X[0])) / RATE, X[0]]), delimiter=",",
               header="t,x,y,z", comments="")
    code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path / "one.csv"], capsys)
    assert code == 0 and out.startswith(f"{tmp_path / 'one.csv'}\t{y[0]}\t"), err
    code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path / "trips.csv", tmp_path / "one.csv"], capsys)
    assert code == 2 and out == "" and "one.csv: the model was trained on long tables with id column 'trip'" in err
    code, out, err = cli(["evaluate", tmp_path / "m.npz", tmp_path / "trips.csv", "--label-column", "label"], capsys)
    assert code == 0 and "(8/8 trajectories)" in out, err


def test_predict_files_refuses_a_reader_with_an_id_column(trips, tmp_path, fitted):
    with pytest.raises(ParameterValueError, match=r"reader: expected no id_column \(predict_files reads one trajectory "
                                                  r"per file: read a long table with trajhmm.load_table.*, got "
                                                  r"id_column='trip'$"):
        list(predict_files(fitted, [tmp_path / "trips.csv"], reader={"id_column": "trip"}))


def test_a_pandas_index_column_and_trailing_delimiters_are_not_coordinates(trips, tmp_path):
    _, _, _, table = trips
    table.to_csv(tmp_path / "indexed.csv")  # pandas' default: the index as an unnamed first column
    text = (tmp_path / "trips.csv").read_text().splitlines()
    (tmp_path / "trailing.csv").write_text("".join(line + ",\n" for line in text))
    (tmp_path / "ragged.csv").write_text(text[0] + "\n" + "".join(line + ",\n" for line in text[1:]))
    plain = load_table(tmp_path / "trips.csv", id_column="trip", label_column="label", time_column="t")
    for name in ("indexed.csv", "trailing.csv", "ragged.csv"):
        ds = load_table(tmp_path / name, id_column="trip", label_column="label", time_column="t")
        assert ds.reader["columns"] == ["x", "y", "z"], name  # was: 'Unnamed: 0' (or 'Unnamed: 7') a coordinate
        assert ds.ids == plain.ids
        for a, b in zip(ds.trajectories, plain.trajectories):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, what, got", [
    ({"label_column": "trip"}, "label_column", "'trip', already the id column"),
    ({"label_column": "label", "group_column": "label"}, "group_column", "'label', already the label column"),
    ({"label_column": "label", "columns": ["x", "t"]}, "columns", "'t', already the time column"),
    ({"label_column": "label", "columns": ["x", "x"]}, "columns", "'x', already a coordinate"),
])
def test_one_column_has_one_role(trips, tmp_path, kwargs, what, got):
    with pytest.raises(ParameterValueError, match=rf"^{what}: expected a column with no other role .*, got {got}$"):
        load_table(tmp_path / "trips.csv", id_column="trip", time_column="t", **kwargs)


def test_cli_one_column_for_two_roles_is_a_usage_error(trips, tmp_path, capsys):
    code, _, err = cli(["train", tmp_path / "trips.csv", "--id-column", "trip", "--label-column", "trip", "-o",
                        tmp_path / "m.npz", "--no-search"], capsys)
    assert code == 2 and "--label-column: expected a column with no other role" in err and not (tmp_path / "m.npz").exists()


def test_dataframe_messages_name_the_index_label(trips):
    _, _, _, table = trips
    shuffled = table.sample(frac=1.0, random_state=0)
    label = shuffled.index[17]
    shuffled.loc[label, "y"] = np.nan
    ident = shuffled.loc[label, "trip"]
    # was: "row k" with k the row's position within its id (neither .loc nor .iloc)
    with pytest.raises(DataError, match=rf"^the table\[id={ident}\]: index {label}, column 'y': missing value"):
        load_table(shuffled, id_column="trip", label_column="label", time_column="t")


def test_iso_time_stamps_as_text_are_read_as_dates(trips, tmp_path):
    _, _, _, table = trips
    start = pd.Timestamp("2024-05-01T12:00:00")
    stamped = table.assign(t=[(start + pd.Timedelta(seconds=s)).isoformat() for s in table["t"]])
    stamped.to_csv(tmp_path / "iso.csv", index=False)
    plain = load_table(tmp_path / "trips.csv", id_column="trip", label_column="label", time_column="t")
    ds = load_table(tmp_path / "iso.csv", id_column="trip", label_column="label", time_column="t")
    for a, b in zip(ds.trajectories, plain.trajectories):
        np.testing.assert_allclose(a[:, 0] - a[0, 0], b[:, 0] - b[0, 0], atol=1e-6)
        np.testing.assert_array_equal(a[:, 1:], b[:, 1:])
    stamped.loc[5, "t"] = "yesterday"
    stamped.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=rf"bad.csv\[id={stamped.loc[5, 'trip']}\]: line 7, column 't': expected a "
                                        r"number or an ISO 8601 date \(such as 2024-05-01T12:00:00.5\), got 'yesterday'$"):
        load_table(tmp_path / "bad.csv", id_column="trip", label_column="label", time_column="t")


def test_predict_on_tables_refuses_folder_flags_and_checks_paths_before_any_output(trips, tmp_path, capsys):
    _, _, ids, table = trips
    flags = ["--id-column", "trip", "--label-column", "label", "--time-column", "t"]
    code, _, err = cli(["train", tmp_path / "trips.csv", *flags, "-o", tmp_path / "m.npz", "--no-search", *FLAGS,
                        "--rejection-rate", "0"], capsys)
    assert code == 0, err
    for extra, flag in ((["--pattern", "x*"], "--pattern"), (["--layout", "columns"], "--layout")):
        code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path / "trips.csv", "--id-column", "trip", *extra],
                             capsys)
        assert code == 2 and out == "" and f"{flag} applies to" in err and "not to a table (--id-column trip)" in err
    (tmp_path / "folder").mkdir()
    code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path / "trips.csv", tmp_path / "folder", "--id-column",
                          "trip"], capsys)
    assert code == 1 and out == "" and "folder: expected a table file" in err  # was: the first table's lines, then exit 1


def test_saving_a_model_fitted_without_the_tables_time_column_says_how_to_fix_it(trips, tmp_path):
    ds = load_table(tmp_path / "trips.csv", id_column="trip", label_column="label", time_column="t")
    clf = HMMClassifier(**FAST).fit(ds.trajectories, ds.labels)  # time_column forgotten: time read as a coordinate
    with pytest.raises(ModelFileError, match=r"refit it with time_column=0") as info:
        save_model(clf, tmp_path / "m.npz", reader=ds.reader)
    assert "meta.json" not in str(info.value) and not (tmp_path / "m.npz").exists()


def test_the_id_column_is_in_files_of_format_12_only(trips, tmp_path):
    from conftest import as_format, resign

    ds = load_table(tmp_path / "trips.csv", id_column="trip", label_column="label", time_column="t")
    clf = HMMClassifier(**FAST, time_column=0).fit(ds.trajectories, ds.labels)
    save_model(clf, tmp_path / "m.npz", reader=ds.reader)
    resign(tmp_path / "m.npz", as_format(11))
    with pytest.raises(ModelFileError, match=r"m.npz: meta.json: reader: id_column is only in files of format 12 or "
                                             r"later$"):
        load_model(tmp_path / "m.npz")
    save_model(clf, tmp_path / "old.npz")
    resign(tmp_path / "old.npz", as_format(11))
    old = load_model(tmp_path / "old.npz")
    with pytest.raises(ModelFileError, match=r"old2.npz: cannot save: the model is of format 11 .* refit it, or pass "
                                             r"the reader without 'id_column'$"):
        save_model(old, tmp_path / "old2.npz", reader=ds.reader)
    save_model(old, tmp_path / "old2.npz", reader={k: v for k, v in ds.reader.items() if k != "id_column"})


# ------------------------------------------------------------------ found by the review of this change
def test_a_missing_date_is_a_missing_time_stamp(trips, tmp_path):
    _, _, _, table = trips
    start = pd.Timestamp("2024-05-01T12:00:00")
    stamped = table.assign(t=[(start + pd.Timedelta(seconds=s)).isoformat() for s in table["t"]])
    stamped.loc[2, "t"] = ""
    stamped.to_csv(tmp_path / "gap.csv", index=False)
    # was: NaT read as the most negative integer, times of -7.5e9 s and a prediction, exit 0
    with pytest.raises(DataError, match=r"gap.csv\[id=007\]: line 4: missing time stamp$"):
        load_table(tmp_path / "gap.csv", id_column="trip", label_column="label", time_column="t")
    dated = table.assign(t=start + pd.to_timedelta(table["t"], unit="s"))
    dated.loc[2, "t"] = pd.NaT
    with pytest.raises(DataError, match=r"the table\[id=007\]: index 2: missing time stamp$"):
        load_table(dated, id_column="trip", label_column="label", time_column="t")


def test_ids_and_groups_that_pandas_reads_as_missing_are_ids(trips, tmp_path):
    _, _, _, table = trips
    words = {"007": "NA", "7": "nan", "0020": "None", "20.0": "null"}
    table.assign(trip=table["trip"].replace(words), subject=table["trip"].replace(words)).to_csv(
        tmp_path / "words.csv", index=False)
    ds = load_table(tmp_path / "words.csv", id_column="trip", label_column="label", time_column="t",
                    group_column="subject")
    assert len(ds.trajectories) == 8 and set(words.values()) <= set(ds.ids) and ds.groups == ds.ids


def test_a_dataframe_read_with_its_index_column_reads_like_the_file(trips, tmp_path):
    _, _, _, table = trips
    table.to_csv(tmp_path / "indexed.csv")
    frame = pd.read_csv(tmp_path / "indexed.csv", dtype={"trip": str})
    assert frame.columns[0] == "Unnamed: 0"
    ds = load_table(frame, id_column="trip", label_column="label", time_column="t")
    assert ds.reader["columns"] == ["x", "y", "z"]


def test_predict_with_a_table_model_on_folders_and_missing_paths(trips, tmp_path, capsys):
    flags = ["--id-column", "trip", "--label-column", "label", "--time-column", "t"]
    code, _, err = cli(["train", tmp_path / "trips.csv", *flags, "-o", tmp_path / "m.npz", "--no-search", *FLAGS,
                        "--rejection-rate", "0"], capsys)
    assert code == 0, err
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "trips.csv").write_bytes((tmp_path / "trips.csv").read_bytes())
    # was: the table in the folder read as one trajectory, one line, exit 0
    code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path / "folder"], capsys)
    assert code == 2 and out == "" and "folder: holds long tables with the id column 'trip'" in err
    # was: exit 2, "the model was trained on long tables ..., which trips.csv has and this path has not"
    code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path / "trips.csv", tmp_path / "nope.csv"], capsys)
    assert code == 1 and out == "" and err.strip().endswith("nope.csv: no such file or directory")
    # a column given two roles by the model's stored columns and a flag: said as the model's (was: "--columns")
    code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path / "trips.csv", "--id-column", "x"], capsys)
    assert code == 2 and "trips.csv: columns stored in the model (['x', 'y', 'z']): expected a column with no other " \
        "role" in err and "already the id column" in err


def test_invalid_trajectories_of_a_table_are_skipped_on_request(trips, tmp_path, capsys):
    """One bad trip no longer stops a whole table: ``on_invalid="skip"`` / ``--on-invalid
    skip`` leave it out, name it, and the CLI exits 3 (was: refused for tables, exit 2;
    and in Python one bad trip stopped the table)."""
    _, y, _, table = trips
    bad = table.astype({"x": object})
    bad.loc[bad["trip"] == "7", "x"] = "oops"          # a stray word, in every row of one trip
    bad.loc[bad.index[bad["trip"] == "10"][3], "y"] = np.nan   # a gap
    bad = pd.concat([bad, pd.DataFrame({"trip": ["short"], "label": [y[0]], "t": [0.0], "x": [1.0], "y": [2.0],
                                        "z": [3.0]})], ignore_index=True)
    bad.to_csv(tmp_path / "bad.csv", index=False)
    kw = dict(id_column="trip", label_column="label", time_column="t")
    with pytest.raises(DataError, match=r"bad.csv\[id=7\]: line \d+, column 'x': expected a number, got 'oops'$"):
        load_table(tmp_path / "bad.csv", **kw)
    ds = load_table(tmp_path / "bad.csv", **kw, on_invalid="skip")
    assert ds.ids == ["03", "3", "007", "0020", "20.0", "a1"] and len(ds.labels) == len(ds.trajectories) == 6
    reasons = dict(ds.skipped)
    assert sorted(reasons) == [f"{tmp_path / 'bad.csv'}[id={i}]" for i in ("10", "7", "short")]
    assert "column 'y': missing value" in reasons[f"{tmp_path / 'bad.csv'}[id=10]"]
    assert "expected at least 2 points, got 1" in reasons[f"{tmp_path / 'bad.csv'}[id=short]"]
    code, _, err = cli(["train", tmp_path / "bad.csv", "--id-column", "trip", "--label-column", "label", "--time-column",
                        "t", "-o", tmp_path / "m.npz", "--no-search", *FLAGS, "--rejection-rate", "0",
                        "--on-invalid", "skip"], capsys)
    assert code == 3 and "3 inputs skipped as invalid" in err and (tmp_path / "m.npz").exists()
    code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path / "bad.csv", "--on-invalid", "skip"], capsys)
    assert code == 3 and [line.split("\t")[0] for line in out.splitlines()] == ds.ids
    assert "bad.csv[id=7]: line" in err and "3 inputs skipped as invalid" in err
    code, out, err = cli(["evaluate", tmp_path / "m.npz", tmp_path / "bad.csv", "--label-column", "label",
                          "--on-invalid", "skip"], capsys)
    assert code == 3 and "/6 trajectories)" in out, (out, err)
    with pytest.raises(DataError, match=r"every trajectory is invalid \(1 skipped; the first: .*expected at least 2 "):
        load_table(bad.tail(1), **kw, on_invalid="skip")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le"])
def test_has_column_reads_the_header_of_a_large_table(tmp_path, encoding):
    """``has_column`` reads the first 64 KiB only (cut at a line end; the whole file when
    that cuts a character, as in UTF-16)."""
    from trajhmm.tables import has_column

    text = "trip;t;x\n" + "".join(f"{i // 100};{i};{i / 2}\n" for i in range(20000))
    (tmp_path / "big.csv").write_bytes(text.encode(encoding))
    given = "utf-16-le" if encoding == "utf-16-le" else None
    assert has_column(tmp_path / "big.csv", "trip", encoding=given)
    assert not has_column(tmp_path / "big.csv", "id", encoding=given)
    assert not has_column(tmp_path / "big.npy", "trip") and not has_column(tmp_path, "trip")

"""Real data in, as users hold it: the file and folder readers on the files people have
(time columns, decimal commas, pandas output, units rows, UTF-16, gaps, README files in
the data folder, symbolic links, subject/label trees)."""

import json
import logging
import os
import re
import warnings

import numpy as np
import pytest

from trajhmm import DataError, list_trajectory_files, load_trajectories, read_trajectory
from trajhmm.datasets import iter_trajectory_files, load_dataset, options_for, reader_options

XYZ = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [0.5, -1.0, 2.5]])


def _write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def _tree(root, spec):
    for rel, text in spec.items():
        _write(root / rel, text)
    return root


def _no_warnings():
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("error")
    return ctx


# ------------------------------------------------------------------- columns=
def test_columns_by_name_in_the_given_order(tmp_path):
    p = _write(tmp_path / "a.csv", "x,y,z\n1,2,3\n4,5,6\n0.5,-1,2.5\n")
    np.testing.assert_array_equal(read_trajectory(p, columns=["z", "x"]), XYZ[:, [2, 0]])


def test_columns_by_position_without_a_header(tmp_path):
    p = _write(tmp_path / "a.csv", "1,2,3\n4,5,6\n0.5,-1,2.5\n")
    np.testing.assert_array_equal(read_trajectory(p, columns=[2, 1]), XYZ[:, [2, 1]])
    np.save(tmp_path / "a.npy", XYZ)
    np.testing.assert_array_equal(read_trajectory(tmp_path / "a.npy", columns=[1]), XYZ[:, [1]])


def test_names_for_a_headerless_file_say_to_use_positions(tmp_path):
    p = _write(tmp_path / "a.csv", "1,2,3\n4,5,6\n")
    with pytest.raises(DataError) as info:
        read_trajectory(p, columns=["x"])
    msg = str(info.value)
    assert msg.startswith(f"{p}: has no header row, so columns are chosen by 0-based position, got the name 'x'")
    assert "positions 0 to 2 (e.g. columns=[0, 1, 2] / --columns 0,1,2)" in msg
    np.save(tmp_path / "a.npy", XYZ)
    with pytest.raises(DataError, match=r"a\.npy: has no column names, so the time column is chosen by 0-based position"):
        read_trajectory(tmp_path / "a.npy", time_column="t")


def test_positions_for_a_headed_file_say_to_use_names(tmp_path):
    p = _write(tmp_path / "a.csv", "x,y,z\n1,2,3\n4,5,6\n")
    with pytest.raises(DataError) as info:
        read_trajectory(p, columns=[0, 1])
    assert str(info.value) == (f"{p}: has a header row, so columns are chosen by name, got the position 0; pass names "
                               "(columns= / --columns, time_column= / --time-column): x, y, z")


def test_unknown_name_lists_the_header(tmp_path):
    p = _write(tmp_path / "a.csv", "x,y,z\n1,2,3\n4,5,6\n")
    with pytest.raises(DataError) as info:
        read_trajectory(p, columns=["x", "w"])
    assert str(info.value) == f"{p}: no column named 'w'; the header names: x, y, z"
    with pytest.raises(DataError, match=r"a\.csv: column 3 is out of range: the array has 3 columns"):
        read_trajectory(_write(tmp_path / "b" / "a.csv", "1,2,3\n4,5,6\n"), columns=[3])


def test_bad_option_values_are_the_callers_errors(tmp_path):
    p = _write(tmp_path / "a.csv", "x,y,z\n1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="columns: expected names .* not both"):
        read_trajectory(p, columns=["x", 1])
    with pytest.raises(TypeError, match="columns: expected a list"):
        read_trajectory(p, columns="x")
    with pytest.raises(ValueError, match="columns: expected the coordinates only, not the time_column, got 't'"):
        read_trajectory(p, columns=["t", "x"], time_column="t")
    with pytest.raises(ValueError, match="delimiter: expected one character"):
        read_trajectory(p, delimiter=",,")
    with pytest.raises(ValueError, match="encoding: expected a codec name"):
        read_trajectory(p, encoding="klingon")
    with pytest.raises(ValueError, match="missing: expected one of 'error', 'interpolate'"):
        read_trajectory(p, missing="drop")


# --------------------------------------------------------------- time_column=
def test_time_column_comes_first_then_the_coordinates(tmp_path):
    p = _write(tmp_path / "a.csv", "x,t,y\n1,0.0,2\n3,0.1,4\n5,0.25,6\n")
    np.testing.assert_array_equal(read_trajectory(p, time_column="t"), [[0, 1, 2], [0.1, 3, 4], [0.25, 5, 6]])
    np.testing.assert_array_equal(read_trajectory(p, time_column="t", columns=["y"]), [[0, 2], [0.1, 4], [0.25, 6]])
    q = _write(tmp_path / "b.csv", "1,0.0,2\n3,0.1,4\n5,0.25,6\n")
    np.testing.assert_array_equal(read_trajectory(q, time_column=1), [[0, 1, 2], [0.1, 3, 4], [0.25, 5, 6]])


def test_time_stamps_out_of_order_name_the_line_and_both_values(tmp_path):
    p = _write(tmp_path / "a.csv", "t,x\n0.0,1\n0.2,2\n0.1,3\n0.3,4\n")
    with pytest.raises(DataError) as info:
        read_trajectory(p, time_column="t")
    msg = str(info.value)
    assert msg.startswith(f"{p}: line 4, column 1 ('t'): time stamps must increase strictly, got 0.1 after 0.2 (line 3)")
    assert "--time-column" in msg
    q = _write(tmp_path / "b.csv", "t,x\n0.0,1\n0.0,2\n")
    repeat = r"line 3, column 1 \('t'\): time stamps must increase strictly, got 0\.0 again \(line 2\): the time stamp repeats"
    with pytest.raises(DataError, match=repeat):
        read_trajectory(q, time_column="t")
    r = _write(tmp_path / "c.csv", "t,x\n0.0,1\n,2\n0.3,3\n")
    with pytest.raises(DataError, match=r"c\.csv: line 3, column 1 \('t'\): the time column 't' must hold finite "
                                        r"numbers, got nan"):
        read_trajectory(r, time_column="t", missing="interpolate")


@pytest.mark.parametrize("name", ["t", "Time", "timestamp", "time_ms", "TimeStamp_us"])
def test_a_time_like_column_read_as_a_coordinate_warns(tmp_path, name):
    p = _write(tmp_path / "a.csv", f"{name},x\n0,1\n1,2\n2,3\n")
    with pytest.warns(UserWarning, match=re.escape(f"{p}: column {name!r} looks like time stamps and is read as a "
                                                   f"coordinate; pass time_column={name!r} (--time-column {name}), "
                                                   "or columns= (--columns) to choose the coordinates")):
        arr = read_trajectory(p)
    np.testing.assert_array_equal(arr, [[0, 1], [1, 2], [2, 3]])
    ctx = _no_warnings()
    try:  # told which columns to read: no warning
        np.testing.assert_array_equal(read_trajectory(p, columns=["x"]), [[1], [2], [3]])
        np.testing.assert_array_equal(read_trajectory(p, columns=["x", name]), [[1, 0], [2, 1], [3, 2]])
        np.testing.assert_array_equal(read_trajectory(p, time_column=name), [[0, 1], [1, 2], [2, 3]])
    finally:
        ctx.__exit__(None, None, None)


# --------------------------------------------------------------- text quirks
QUIRKS = {
    "tab-separated .csv": ("a.csv", "x\ty\tz\n1\t2\t3\n4\t5\t6\n0.5\t-1\t2.5\n"),
    "decimal commas with ;": ("a.csv", "x;y;z\n1,0;2;3,00\n4;5,0;6\n0,5;-1;2,5\n"),
    "decimal commas with tabs": ("a.txt", "1,0\t2\t3\n4\t5\t6\n0,5\t-1\t2,5\n"),
    "a delimiter ending every line": ("a.csv", "x,y,z,\n1,2,3,\n4,5,6,\n0.5,-1,2.5,\n"),
    "the same without a header": ("a.csv", "1;2;3;\n4;5;6;\n0.5;-1;2.5;\n"),
    "quoted numbers": ("a.csv", '"x","y","z"\n"1","2","3"\n"4","5",6\n"0.5", "-1" ,"2.5"\n'),
    "units row": ("a.csv", "x,y,z\nm,m,m\n1,2,3\n4,5,6\n0.5,-1,2.5\n"),
    "bracketed units row": ("a.csv", "x,y,z\n[m],[m],[m]\n1,2,3\n4,5,6\n0.5,-1,2.5\n"),
    "bare-number header of pandas": ("a.csv", "0,1,2\n1.0,2.0,3.0\n4.0,5.0,6.0\n0.5,-1.0,2.5\n"),
    "pandas index column": ("a.csv", ",x,y,z\n0,1,2,3\n1,4,5,6\n2,0.5,-1,2.5\n"),
    "pandas index column, Unnamed: 0": ("a.csv", "Unnamed: 0,x,y,z\n0,1,2,3\n1,4,5,6\n2,0.5,-1,2.5\n"),
    "pandas index and bare numbers": ("a.csv", ",0,1,2\n0,1,2,3\n1,4,5,6\n2,0.5,-1,2.5\n"),
    "whitespace in a .csv": ("a.csv", "1 2 3\n4  5 6\n0.5 -1 2.5\n"),
}


@pytest.mark.parametrize("case", list(QUIRKS))
def test_text_quirks_read_correctly(tmp_path, case):
    name, text = QUIRKS[case]
    np.testing.assert_array_equal(read_trajectory(_write(tmp_path / name, text)), XYZ)


def test_pandas_bare_number_header_takes_names_or_positions(tmp_path):
    p = _write(tmp_path / "a.csv", "0,1,2\n1.0,2.0,3.0\n4.0,5.0,6.0\n0.5,-1.0,2.5\n")
    np.testing.assert_array_equal(read_trajectory(p, columns=["2", "0"]), XYZ[:, [2, 0]])
    np.testing.assert_array_equal(read_trajectory(p, columns=[2, 0]), XYZ[:, [2, 0]])
    # a first line of other integers (or with a decimal point) is data
    q = _write(tmp_path / "b.csv", "0,1,3\n4,5,6\n")
    np.testing.assert_array_equal(read_trajectory(q), [[0, 1, 3], [4, 5, 6]])
    r = _write(tmp_path / "c.csv", "0.0,1.0,2.0\n4,5,6\n")
    np.testing.assert_array_equal(read_trajectory(r), [[0, 1, 2], [4, 5, 6]])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_utf16_and_utf8_with_a_byte_order_mark(tmp_path, encoding):
    bom = {"utf-16-le": "\ufeff", "utf-16-be": "\ufeff"}.get(encoding, "")
    p = _write(tmp_path / "a.csv", bom + "x;y;z\n1;2;3\n4;5;6\n0,5;-1;2,5\n", encoding)
    np.testing.assert_array_equal(read_trajectory(p), XYZ)


def test_explicit_encoding_delimiter_and_decimal(tmp_path):
    p = _write(tmp_path / "a.csv", "Länge|Höhe|z\n1|2|3\n4|5|6\n0.5|-1|2.5\n", "latin-1")
    with pytest.raises(DataError) as info:
        read_trajectory(p)
    assert str(info.value) == (f"{p}: not UTF-8 text (byte 1: b'\\xe4'); pass the file's encoding, e.g. "
                               "encoding='latin-1' (--encoding latin-1)")
    np.testing.assert_array_equal(read_trajectory(p, encoding="latin-1", delimiter="|"), XYZ)
    np.testing.assert_array_equal(read_trajectory(p, encoding="latin-1", delimiter="|", columns=["Höhe"]), XYZ[:, [1]])
    q = _write(tmp_path / "b.txt", "1,0 2,0 3\n4 5 6\n0,5 -1 2,5\n")
    np.testing.assert_array_equal(read_trajectory(q, delimiter=" ", decimal=","), XYZ)
    r = _write(tmp_path / "c.csv", "x;y\n1,5;2\n3;4\n")
    with pytest.raises(DataError) as info:
        read_trajectory(r, decimal=".")
    assert str(info.value) == (f"{r}: line 2, column 1 ('x'): expected a number, got '1,5'; it looks like a decimal "
                               "comma: pass decimal=',' (--decimal ,)")
    u16 = _write(tmp_path / "d.csv", "1,2\n3,4\n", "utf-16-le")
    with pytest.raises(DataError, match=r"d\.csv: binary content .*encoding='utf-16-le' \(--encoding utf-16-le\)"):
        read_trajectory(u16)
    np.testing.assert_array_equal(read_trajectory(u16, encoding="utf-16-le"), [[1, 2], [3, 4]])


def test_still_unreadable_text_names_the_line_and_the_flag(tmp_path):
    p = _write(tmp_path / "a.csv", "x,y,subject\n1,2,s1\n4,5,s1\n")
    with pytest.raises(DataError) as info:
        read_trajectory(p)
    assert str(info.value) == (f"{p}: line 2, column 3 ('subject'): expected a number, got 's1'; column 3 is not numeric: "
                               "pass columns= (--columns) to read only the numeric columns")
    np.testing.assert_array_equal(read_trajectory(p, columns=["x", "y"]), [[1, 2], [4, 5]])
    q = _write(tmp_path / "b.csv", "x,y\n1|2,3\n4|5,6\n")
    with pytest.raises(DataError, match=r"b\.csv: line 2, column 1 \('x'\): expected a number, got '1\|2'; the columns "
                                        r"are split at ',': .*pass delimiter= \(--delimiter\)"):
        read_trajectory(q)
    r = _write(tmp_path / "c.csv", "x,y\n1,2\n4,oops\n")
    with pytest.raises(DataError) as info:  # no option reads a typo: no hint
        read_trajectory(r)
    assert str(info.value) == f"{r}: line 3, column 2 ('y'): expected a number, got 'oops'"


# ------------------------------------------------------------------ missing=
def test_missing_values_are_an_error_naming_the_cell_and_the_flag(tmp_path):
    p = _write(tmp_path / "a.csv", "x,y\n1,2\n,4\n5,6\n")
    with pytest.raises(DataError) as info:
        read_trajectory(p)
    assert str(info.value) == (f"{p}: line 3, column 1 ('x'): expected a finite number, got an empty cell (a missing "
                               "value); pass missing='interpolate' (--missing interpolate) to fill missing values "
                               "from their neighbours")
    q = _write(tmp_path / "b.csv", "1,2\n3,NA\n5,6\n")
    with pytest.raises(DataError, match=r"b\.csv: line 2, column 2: expected a finite number, got 'NA'"):
        read_trajectory(q)


def test_missing_interpolate_along_rows_and_time(tmp_path):
    p = _write(tmp_path / "a.csv", "x,y\n,10\n2,nan\n,30\n6,\n8,50\n,\n")
    np.testing.assert_array_equal(read_trajectory(p, missing="interpolate"),
                                  [[2, 10], [2, 20], [4, 30], [6, 40], [8, 50], [8, 50]])
    q = _write(tmp_path / "b.csv", "t,x\n0,0\n1,\n4,8\n")  # against time: 1/4 of the way
    np.testing.assert_array_equal(read_trajectory(q, time_column="t", missing="interpolate"), [[0, 0], [1, 2], [4, 8]])
    np.save(tmp_path / "c.npy", np.array([[1.0, np.nan], [np.nan, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(read_trajectory(tmp_path / "c.npy", missing="interpolate"), [[1, 2], [2, 2], [3, 4]])
    with pytest.raises(DataError, match=r"c\.npy: row 1, column 2: expected a finite number, got nan"):
        read_trajectory(tmp_path / "c.npy")


def test_a_column_without_values_or_an_infinity_is_an_error(tmp_path):
    p = _write(tmp_path / "a.csv", "x,y\n1,\n2,\n")
    with pytest.raises(DataError) as info:
        read_trajectory(p, missing="interpolate")
    assert str(info.value) == (f"{p}: column 'y' has no values (every cell is missing), nothing to interpolate from; "
                               "leave it out with columns= (--columns)")
    np.testing.assert_array_equal(read_trajectory(p, missing="interpolate", columns=["x"]), [[1], [2]])
    q = _write(tmp_path / "b.csv", "1,2\n,inf\n3,4\n")
    with pytest.raises(DataError, match=r"b\.csv: line 2, column 2: expected a finite number, got inf"):
        read_trajectory(q, missing="interpolate")


# ------------------------------------------------------------------ D8 layout
def test_d8_a_header_is_never_transposed_a_headerless_array_warns(tmp_path):
    x = np.arange(13 * 20, dtype=float).reshape(13, 20)
    header = ",".join(f"m{i}" for i in range(20))
    p = _write(tmp_path / "named.csv", header + "\n" + "\n".join(",".join(f"{v:g}" for v in r) for r in x) + "\n")
    ctx = _no_warnings()
    try:
        np.testing.assert_array_equal(read_trajectory(p), x)
    finally:
        ctx.__exit__(None, None, None)
    q = tmp_path / "bare.csv"
    np.savetxt(q, x, delimiter=",")
    with pytest.warns(UserWarning, match=re.escape(f"{q}: a 13 x 20 array without a header was read as 20 points of "
                                                   "13 dims") + r".*pass layout='rows' \(--layout rows\)"):
        np.testing.assert_array_equal(read_trajectory(q), x.T)
    np.testing.assert_array_equal(read_trajectory(q, layout="rows"), x)


# ------------------------------------------------------------------- folder trees
GOOD = "1,2,3\n4,5,6\n0.5,-1,2.5\n"


def test_files_that_are_not_data_are_ignored_with_one_summary(tmp_path, caplog):
    root = _tree(tmp_path / "data", {
        "README.md": "# my data", "NOTES.md": "x", "meta.json": "{}", "a/Thumbs.db": "x", "a/1.csv": GOOD,
        "b/1.csv": GOOD, "b/sub/info.md": "x", "a/README.txt": "recorded in 2024", "LICENSE": "CC BY 4.0",
    })
    with caplog.at_level(logging.WARNING, logger="trajhmm.datasets"):
        ds = load_trajectories(root)
    assert ds.labels == ["a", "b"]
    assert [r.getMessage() for r in caplog.records] == [
        f"{root}: ignored 7 files that are not trajectory data (2 .md, 2 README, 1 .json, 1 LICENSE, 1 Thumbs.db)"]
    assert sorted(ds.ignored) == sorted(str(root / f) for f in ("NOTES.md", "README.md", "meta.json", "a/Thumbs.db",
                                                                 "b/sub/info.md", "a/README.txt", "LICENSE"))
    _write(root / "stray.csv", GOOD)  # a trajectory file at the top is still an error
    with pytest.raises(DataError, match=r"stray\.csv: expected only class folders in"):
        load_trajectories(root)
    assert [p for p, _ in load_trajectories(root, on_invalid="skip").skipped] == [str(root / "stray.csv")]


def test_pattern_reads_only_matching_files(tmp_path, caplog):
    root = _tree(tmp_path / "data", {"a/run_1.txt": "1 2 3\n4 5 6\n", "a/run_2.csv": GOOD, "a/x.txt": "oops",
                                     "b/run_1.txt": "0 0 0\n1 1 1\n", "b/c.md": "x"})
    with caplog.at_level(logging.WARNING, logger="trajhmm.datasets"):
        ds = load_trajectories(root, pattern="run_*.txt")
    assert [os.path.relpath(p, root) for p in ds.paths] == ["a/run_1.txt", "b/run_1.txt"]
    assert caplog.records[-1].getMessage() == (f"{root}: ignored 3 files that are not trajectory data "
                                               "(2 not matching --pattern 'run_*.txt', 1 .md)")
    assert [os.path.basename(p) for p in list_trajectory_files(root, pattern="*.csv")] == ["run_2.csv"]
    assert len(load_dataset(root, pattern="run_*")) == 3


def test_symlinked_folders_and_files_are_followed_loops_are_not(tmp_path):
    outside = _tree(tmp_path / "outside", {"walk/1.csv": GOOD, "one.csv": GOOD})
    root = _tree(tmp_path / "data", {"a/1.csv": GOOD})
    os.symlink(outside / "walk", root / "b")
    os.symlink(outside / "one.csv", root / "a" / "2.csv")
    os.symlink(root, root / "a" / "loop")  # a/loop -> data: walking it would never end
    with pytest.warns(UserWarning, match=re.escape(f"{root / 'a' / 'loop'}: a symbolic link loop (it leads back to "
                                                   f"{os.path.realpath(root)}); not followed")):
        ds = load_trajectories(root)
    assert [os.path.relpath(p, root) for p in ds.paths] == ["a/1.csv", "a/2.csv", "b/1.csv"]
    assert ds.labels == ["a", "a", "b"]
    with pytest.warns(UserWarning, match="symbolic link loop"):
        files = list_trajectory_files(root / "a")
    # a/loop leads to data: its folder b is listed, its folder a (being walked) is the loop
    assert [os.path.relpath(f, root / "a") for f in files] == ["1.csv", "2.csv", "loop/b/1.csv"]


def test_d13_a_folder_without_trajectory_files_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as info:
        load_trajectories(empty)
    assert str(info.value) == f"{empty}: no trajectory files (an empty folder); expected class folders, one per label"
    docs = _tree(tmp_path / "docs", {"README.md": "x", "notes.json": "{}"})
    with pytest.raises(DataError) as info:
        load_trajectories(docs)
    assert str(info.value).startswith(f"{docs}: no trajectory files (ignored 2 files that are not trajectory data "
                                      "(1 .json, 1 README))")
    with pytest.raises(DataError) as info:
        list(iter_trajectory_files([docs]))
    assert str(info.value) == f"{docs}: no trajectory files (ignored 2 files that are not trajectory data (1 .json, 1 README))"
    with pytest.raises(DataError, match=re.escape(f"{empty}: no trajectory files (an empty folder)")):
        list_trajectory_files(empty)
    _tree(docs, {"a/1.csv": GOOD, "b/README.md": "x"})  # a class folder with only a README
    with pytest.raises(DataError) as info:
        load_trajectories(docs)
    assert str(info.value) == (f"{docs / 'b'}: empty class folder (no trajectory files; ignored 1 file that is not "
                               "trajectory data (1 README))")


def test_iter_trajectory_files_is_lazy_and_ignores_non_data(tmp_path, caplog):
    root = _tree(tmp_path / "d", {"x/1.csv": GOOD, "x/README.md": "x", "y/2.txt": "1 2\n3 4\n"})
    files = iter_trajectory_files(root)
    assert os.path.relpath(next(files), root) == "x/1.csv"  # the first file before the rest is listed
    with caplog.at_level(logging.WARNING, logger="trajhmm.datasets"):
        assert [os.path.relpath(f, root) for f in files] == ["y/2.txt"]
    assert caplog.records[-1].getMessage() == f"{root}: ignored 1 file that is not trajectory data (1 README)"


def test_d15_subject_label_trees_warn_and_label_level_reads_them(tmp_path):
    root = _tree(tmp_path / "DATA", {f"{s}/{lab}/{i}.csv": GOOD for s in ("s1", "s2") for lab in ("a", "b", "c", "d")
                                     for i in range(2)})
    with pytest.warns(UserWarning, match=re.escape(
            f"{root}: the class folders hold sub-folders with the same names (a, b, c, ...): labels are taken from "
            "the first level (s1, s2); if the labels are the sub-folders, pass label_level=2 (--label-level 2)")):
        ds = load_trajectories(root)
    assert sorted(set(ds.labels)) == ["s1", "s2"]
    ctx = _no_warnings()
    try:
        ds = load_trajectories(root, label_level=2)
    finally:
        ctx.__exit__(None, None, None)
    assert ds.labels == ["a", "a", "b", "b", "c", "c", "d", "d"] * 2
    assert os.path.relpath(ds.paths[2], root) == "s1/b/0.csv"
    _write(root / "s1" / "shallow.csv", GOOD)
    with pytest.raises(DataError, match=re.escape(f"{root / 's1' / 'shallow.csv'}: expected a file at least 2 folders "
                                                  f"below {root} (label_level=2")):
        load_trajectories(root, label_level=2)
    assert len(load_trajectories(root, label_level=2, on_invalid="skip")) == 16


def test_tree_warnings_once_naming_the_first_file(tmp_path):
    root = _tree(tmp_path / "data", {f"{c}/{i}.csv": "t,x,y\n0,1,2\n1,3,4\n" for c in "ab" for i in range(3)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_trajectories(root)
    messages = [str(w.message) for w in caught]
    assert messages == [f"{root / 'a' / '0.csv'}: column 't' looks like time stamps and is read as a coordinate; pass "
                        "time_column='t' (--time-column t), or columns= (--columns) to choose the coordinates "
                        f"(and 5 more files like it in {root})"]


def test_dataset_reader_reads_new_files_like_the_training_files(tmp_path):
    root = _tree(tmp_path / "data", {f"{c}/{i}.csv": "time;x;y;label\n0;1,5;2;q\n1;3;4,5;q\n" for c in "ab"
                                     for i in range(2)})
    ds = load_trajectories(root, time_column="time", columns=["y", "x"])
    assert ds.time_column == 0
    assert ds.reader == {"columns": ["y", "x"], "time_column": "time"}
    assert json.loads(json.dumps(ds.reader)) == ds.reader
    np.testing.assert_array_equal(ds.trajectories[0], [[0, 2, 1.5], [1, 4.5, 3]])
    new = _write(tmp_path / "new.csv", "time;x;y;label\n0;7;8;q\n2;9;10;q\n")
    np.testing.assert_array_equal(read_trajectory(new, **ds.reader), [[0, 8, 7], [2, 10, 9]])
    plain = load_trajectories(root, columns=["x", "y"])
    assert plain.time_column is None and plain.reader == {"columns": ["x", "y"]}
    assert options_for("a.npy", **reader_options(delimiter=";", missing="interpolate")) == {"missing": "interpolate"}
    assert reader_options(columns=(np.int64(2), 0), time_column=np.int64(1), layout="auto", decimal=",",
                          encoding="latin-1", variable="v", pattern="*.csv") == {
        "columns": [2, 0], "time_column": 1, "decimal": ",", "encoding": "latin-1", "variable": "v"}


def test_reading_options_are_refused_for_ts_and_npz(tmp_path):
    ts = _write(tmp_path / "t.ts", "@problemName T\n@timeStamps false\n@classLabel true a b\n@data\n1,2,3:a\n")
    for option, value in {"columns": [0], "delimiter": ";", "pattern": "*.csv", "label_level": 2}.items():
        flag = option.replace("_", "-")
        with pytest.raises(DataError, match=re.escape(f"{ts}: {option}= (--{flag}) applies to ") + ".* only, got a .ts file"):
            load_dataset(ts, **{option: value})


def test_d18_npz_labels_saved_as_objects_say_how_to_save_them(tmp_path):
    p = tmp_path / "b.npz"
    np.savez(p, X=np.zeros((4, 2)), lengths=[2, 2], y=np.array(["a", None], dtype=object))
    with pytest.raises(DataError) as info:
        load_dataset(p)
    assert str(info.value) == (f"{p}: the array 'y' holds Python objects, which are not read (that would need "
                               "pickle); save the labels as strings: np.savez(path, X=X, lengths=lengths, "
                               "y=np.asarray(y, dtype=str))")

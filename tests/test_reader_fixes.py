"""Fixes to the readers found by a user trial: cache folders in a data tree, the .ts header
(class labels, dimensions, missing values) and the time-stamp hint of a dims mismatch."""

import re
import warnings

import numpy as np
import pytest

from trajhmm import DataError, datasets
from trajhmm.datasets import fill_gaps as _fill_gaps
from trajhmm.datasets import list_trajectory_files, load_dataset, load_trajectories, read_ts

from conftest import FLAGS, cli

SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"


def _csv(path, n=6, dims=3, header=None, offset=0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = np.arange(n * dims, dtype=float).reshape(n, dims) + offset
    text = "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows)
    path.write_text((header + "\n" if header else "") + text)
    return path


def _cache(folder, signature=SIGNATURE):
    """A cache folder as `trajhmm train` leaves it: CACHEDIR.TAG plus <sha>.npz entries
    (and a .csv, which must not be read either)."""
    folder.mkdir(parents=True)
    (folder / "CACHEDIR.TAG").write_text(f"{signature}\n# This file is a cache directory tag.\n")
    for i in range(3):
        np.savez(folder / f"{i:040x}.npz", X=np.zeros((2, 3)))
    (folder / "stray.csv").write_text("not,a,trajectory\n1,2\n")
    return folder


# ------------------------------------------------------------------ 1. cache folders
def test_a_tagged_cache_folder_is_not_a_class_at_any_level(tmp_path):
    root = tmp_path / "DATA"
    for label in ("a", "b"):
        _csv(root / label / "1.csv")
        _csv(root / label / "sub" / "2.csv", offset=1)
    top = _cache(root / "model.npz.cache")
    nested = _cache(root / "a" / "sub" / "old.cache")
    ds = load_trajectories(root)
    assert sorted(set(ds.labels)) == ["a", "b"] and len(ds) == 4
    assert not any(".cache" in p for p in ds.paths)
    assert str(top) in ds.ignored and str(nested) in ds.ignored
    assert not any(p.startswith((str(top) + "/", str(nested) + "/")) for p in ds.ignored)  # never entered
    assert len(load_dataset(root)) == 4
    listed = list_trajectory_files(root)
    assert len(listed) == 4 and not any(".cache" in p for p in listed)


def test_a_cache_folder_is_reported_among_the_ignored(tmp_path, caplog):
    root = tmp_path / "DATA"
    _csv(root / "a" / "1.csv")
    _csv(root / "b" / "1.csv")
    _cache(root / "model.npz.cache")
    load_trajectories(root)
    assert "ignored 1 file that is not trajectory data (1 folder tagged CACHEDIR.TAG)" in caplog.text


def test_a_cache_folder_with_a_wrong_signature_is_read_as_data(tmp_path):
    root = tmp_path / "DATA"
    _csv(root / "a" / "1.csv")
    _cache(root / "b", signature="Signature: 0000")
    (root / "b" / "stray.csv").unlink()
    with pytest.raises(DataError, match=re.escape(f"{root / 'b'}: empty class folder (no trajectory files; ignored")):
        load_trajectories(root)


def test_a_tree_holding_only_a_cache_folder_has_no_class_folders(tmp_path):
    root = tmp_path / "DATA"
    _cache(root / "model.npz.cache")
    with pytest.raises(DataError, match=re.escape(f"{root}: no trajectory files (ignored 1 file") + ".*expected class folders"):
        load_trajectories(root)


# ------------------------------------------------------------------ 2. the .ts header
TS_HEADER = ("@problemName Tiny\n@timeStamps false\n{missing}@univariate false\n@dimensions 2\n"
             "@classLabel true up down\n@data\n")  # data from line 8 (line 7 without @missing)


def _ts(path, lines, missing="@missing true\n", header=TS_HEADER):
    path.write_text(header.format(missing=missing) + "\n".join(lines) + "\n")
    return path


def test_ts_a_label_not_declared_by_classlabel_is_an_error_naming_the_line(tmp_path):
    p = _ts(tmp_path / "t.ts", ["0,1,2:0,1,2:up", "0,1,2:2,1,0:sideways", "1,2,3:3,2,1:down"])
    message = f"{p}: line 9: expected a class label declared by @classLabel (up, down), got 'sideways'"
    with pytest.raises(DataError, match=re.escape(message)):
        read_ts(p)
    ds = read_ts(p, on_invalid="skip")  # a per-line problem, like a cell that is not a number
    assert ds.labels == ["up", "down"] and ds.skipped == [(f"{p}:9", message)]


def test_ts_labels_are_matched_without_case_and_numbers_by_value(tmp_path):
    """As other .ts readers do (they lower-case header and data): the data's spelling is kept."""
    p = _ts(tmp_path / "t.ts", ["0,1,2:0,1,2:Up", "0,1,2:0,1,2:down"])
    assert read_ts(p).labels == ["Up", "down"]
    numbers = tmp_path / "n.ts"
    numbers.write_text("@problemName n\n@timeStamps false\n@classLabel true 1.0 2.0\n@data\n0,1,2:1\n0,1,2:2.0\n")
    assert read_ts(numbers).labels == ["1", "2.0"]
    other = tmp_path / "m.ts"
    other.write_text(numbers.read_text().replace("0,1,2:2.0", "0,1,2:3"))
    with pytest.raises(DataError, match=r"line 6: expected a class label declared by @classLabel \(1.0, 2.0\), got '3'"):
        read_ts(other)


def test_ts_dims_other_than_declared_are_an_error_naming_the_line(tmp_path):
    p = _ts(tmp_path / "t.ts", ["0,1,2:0,1,2:up", "0,1,2:down", "1,2,3:3,2,1:down"])
    message = f"{p}: line 9: expected 2 dimensions (@dimensions 2), got 1"
    with pytest.raises(DataError, match=re.escape(message)):
        read_ts(p)
    ds = read_ts(p, on_invalid="skip")
    assert len(ds) == 2 and ds.skipped == [(f"{p}:9", message)]
    every = _ts(tmp_path / "three.ts", ["0,1:0,1:1,2:up", "0,1:0,1:1,2:down"])  # consistent, but not as declared
    with pytest.raises(DataError, match=r"line 8: expected 2 dimensions \(@dimensions 2\), got 3"):
        read_ts(every)


def test_ts_a_bad_dimensions_header_is_an_error(tmp_path):
    p = _ts(tmp_path / "t.ts", ["0,1,2:0,1,2:up"], header=TS_HEADER.replace("@dimensions 2", "@dimensions two"))
    with pytest.raises(DataError, match=re.escape(f"{p}: line 5: @dimensions: expected a positive integer, got 'two'")):
        read_ts(p, on_invalid="skip")


def test_ts_missing_values_are_an_error_that_says_how_to_fill_them(tmp_path):
    p = _ts(tmp_path / "t.ts", ["0,1,2,3:0,1,2,3:up", "0,?,2,3:0,1,2,3:down"])
    with pytest.raises(DataError, match=re.escape(
            f"{p}: line 9, dimension 1, point 2: expected a finite number, got '?' (a missing value); "
            "pass missing='interpolate' (--missing interpolate) to fill")):
        read_ts(p)
    undeclared = _ts(tmp_path / "u.ts", ["0,1,2,3:0,1,2,3:up", "0,1,2,3:0,1,?,3:down"], missing="")
    with pytest.raises(DataError, match=re.escape(
            f"{undeclared}: line 8, dimension 2, point 3: expected a finite number, got '?' (a missing value, and the "
            "header does not declare @missing true); pass missing='interpolate' (--missing interpolate)")):
        load_dataset(undeclared)


def test_ts_missing_interpolate_fills_with_the_text_readers_helper(tmp_path, monkeypatch):
    p = _ts(tmp_path / "t.ts", ["0,1,2,3:0,1,2,3:up", "?,2,?,6,?:1,1,1,1,1:down", "0,1,NaN,3:0,1,2,3:up"])
    calls = []
    monkeypatch.setattr(datasets, "fill_gaps", lambda *a: calls.append(a) or _fill_gaps(*a))
    ds = read_ts(p, missing="interpolate")
    assert len(calls) == 2  # the one gap filler of the text readers, for the two lines with gaps
    np.testing.assert_array_equal(ds.trajectories[1], [[2, 1], [2, 1], [4, 1], [6, 1], [6, 1]])
    np.testing.assert_array_equal(ds.trajectories[2], [[0, 0], [1, 1], [2, 2], [3, 3]])
    assert ds.reader == {"missing": "interpolate"}  # stored in a model, so that it reads new files alike
    assert len(load_dataset(p, missing="interpolate")) == 3
    empty = _ts(tmp_path / "e.ts", ["0,1,2:?,?,?:up"])
    with pytest.raises(DataError, match=re.escape(f"{empty}: line 8: dimension 2 has no values (every value is "
                                                  "missing), nothing to interpolate from")):
        read_ts(empty, missing="interpolate")


def test_ts_missing_interpolate_from_the_command_line(tmp_path, capsys):
    rng = np.random.RandomState(0)
    lines = []
    for i in range(12):
        x = np.cumsum(rng.randn(2, 25) + (1 if i % 2 else -1), axis=1)
        cells = [[f"{v:.4f}" for v in d] for d in x]
        cells[i % 2][3 + i] = "?"
        lines.append(":".join(",".join(c) for c in cells) + (":up" if i % 2 else ":down"))
    p = _ts(tmp_path / "X.ts", lines)
    code, _, err = cli(["train", p, "-o", tmp_path / "m.npz", "--no-search", *FLAGS], capsys)
    assert code == 1 and "pass missing='interpolate' (--missing interpolate)" in err
    code, out, err = cli(["train", p, "--missing", "interpolate", "-o", tmp_path / "m.npz", "--no-search", *FLAGS], capsys)
    assert code == 0, err
    assert "trained 2 classes on 12 trajectories" in out
    code, out, err = cli(["evaluate", tmp_path / "m.npz", p], capsys)  # the model read it with missing=interpolate
    assert code == 0, err


# ------------------------------------------------------------------ 3. the time-stamp hint of a dims mismatch
def _timed_tree(root):
    _csv(root / "a" / "traj.csv", header="x,y,z")
    _csv(root / "b" / "traj.csv", dims=4, header="Time,x,y,z")  # column 0: 0, 4, 8, ...: increasing
    _csv(root / "b" / "2.csv", header="x,y,z")
    _csv(root / "c" / "traj.csv", header="x,y,z")
    return root


def test_a_dims_mismatch_repeats_the_time_column_hint(tmp_path):
    root = _timed_tree(tmp_path / "DATA")
    b = root / "b" / "traj.csv"
    message = (f"{b}: expected 3 dims like {root / 'a' / 'traj.csv'}, got 4; its column 'Time' looks like time "
               "stamps: pass time_column='Time' (--time-column Time)")
    with pytest.raises(DataError, match=re.escape(message) + "$"):
        load_trajectories(root)
    with pytest.warns(UserWarning, match="looks like time stamps"):
        ds = load_trajectories(root, on_invalid="skip")
    assert ds.skipped == [(str(b), f"{b}: expected 3 dims like the majority, got 4; its column 'Time' looks like time "
                                   "stamps: pass time_column='Time' (--time-column Time)")]


def test_a_dims_mismatch_without_a_time_column_has_no_hint(tmp_path):
    root = tmp_path / "DATA"
    _csv(root / "a" / "traj.csv", header="x,y,z")
    _csv(root / "b" / "traj.csv", dims=4, header="w,x,y,z")
    _csv(root / "b" / "time.csv", header="Time,x,y")  # hinted, but of the right dims
    with pytest.raises(DataError, match=re.escape(f"{root / 'b' / 'traj.csv'}: expected 3 dims like ") + ".*got 4$"):
        load_trajectories(root)


def test_the_time_column_hint_is_not_left_in_the_warnings(tmp_path):
    root = tmp_path / "DATA"
    _csv(root / "a" / "1.csv", header="Time,x,y")
    _csv(root / "b" / "1.csv", header="time,x,y")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_trajectories(root)
    assert [str(w.message) for w in caught] == [
        f"{root / 'a' / '1.csv'}: column 'Time' looks like time stamps and is read as a coordinate; pass "
        f"time_column='Time' (--time-column Time), or columns= (--columns) to choose the coordinates (and 1 more file "
        f"like it in {root})"]

"""Fixes to the readers found by a user trial: cache folders in a data tree, the .ts header
(class labels, dimensions, missing values) and the time-stamp hint of a dims mismatch."""

import re

import numpy as np
import pytest

from trajhmm import DataError
from trajhmm.datasets import list_trajectory_files, load_dataset, load_trajectories

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

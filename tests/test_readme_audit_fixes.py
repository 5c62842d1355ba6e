"""Fixes from a trial that followed the README literally: spot's advice on a time column,
the help of the flags it refuses, and the files the README's first snippet opens."""

import re
from pathlib import Path

import numpy as np

from conftest import cli

ROOT = Path(__file__).resolve().parent.parent


def _recording(path, dataset):
    X, _ = dataset
    points = np.concatenate(X[:3])
    t = np.arange(len(points)) / 50.0
    np.savetxt(path, np.column_stack([t, points]), delimiter=",", header="t,x,y,z", comments="", fmt="%.5f")
    return path


def test_spot_advises_columns_not_the_time_column_it_refuses(model_file, dataset, tmp_path, capsys):
    rec = _recording(tmp_path / "rec.csv", dataset)
    code, _, err = cli(["spot", str(model_file), str(rec)], capsys)
    assert code == 1  # 4 columns for a 3-D model
    assert "column 't' looks like time stamps" in err and "choose the coordinates with --columns" in err
    assert "--time-column" not in err and "time_column=" not in err
    code, _, err = cli(["spot", str(model_file), str(rec), "--columns", "x,y,z"], capsys)
    assert code == 0 and "looks like time stamps" not in err


def test_spot_help_says_the_time_column_is_refused(capsys):
    code, out, _ = cli(["spot", "--help"], capsys)
    text = " ".join(out.split())
    assert code == 0 and "--time-column NAME refused (exit 2): a stream is evenly spaced samples" in text
    code, _, err = cli(["spot", "m.npz", "r.csv", "--time-column", "t"], capsys)
    assert code == 2 and "expected none" in err


def test_the_first_snippet_opens_files_that_ship():
    readme = (ROOT / "README.md").read_text()
    first = readme[readme.index("```python"):].split("```", 2)[1]
    paths = re.findall(r'"(sample_data[^"]*)"', first)
    assert len(paths) == 3, paths
    assert all((ROOT / p).exists() for p in paths), paths

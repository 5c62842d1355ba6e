"""Defects found by a user trial wiring the command line into scripts and schedulers
(exit codes, one-line errors, what is written and when)."""

import numpy as np
import pandas as pd
import pytest

from trajhmm import load_table
from trajhmm.exceptions import DataError

from conftest import FLAGS, cli


@pytest.fixture
def table(dataset, tmp_path):
    """A CSV long table of 8 trajectories (two of each class) with a time column."""
    X, y = dataset
    parts = [pd.DataFrame({"trip": k, "label": y[i], "t": np.arange(len(X[i])) / 100.0, "x": X[i][:, 0],
                           "y": X[i][:, 1], "z": X[i][:, 2]}) for k, i in enumerate([0, 8, 16, 24, 1, 9, 17, 25])]
    path = tmp_path / "trips.csv"
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("flag, value", [("--time-column", "tim"), ("--label-column", "lab"),
                                         ("--group-column", "subject"), ("--columns", "x,w")])
def test_a_misspelled_table_column_is_said_with_its_flag(table, tmp_path, capsys, flag, value):
    flags = {"--label-column": "label", "--time-column": "t", flag: value}
    argv = ["train", table, "--id-column", "trip", *[a for kv in flags.items() for a in kv], "-o", tmp_path / "m.npz",
            "--no-search", *FLAGS]
    code, out, err = cli(argv, capsys)
    # was: "trips.csv: time_column: no column 'tim'" (the Python parameter's name)
    assert code == 1 and out == ""
    assert err.strip() == (f"trajhmm: error: {table}: {flag}: no column {value.split(',')[-1]!r}; the table has "
                           "'trip', 'label', 't', 'x', 'y', 'z'")
    assert not (tmp_path / "m.npz").exists()


def test_a_column_the_model_stored_is_said_as_the_models(table, tmp_path, capsys):
    code, _, err = cli(["train", table, "--id-column", "trip", "--label-column", "label", "--time-column", "t",
                        "-o", tmp_path / "m.npz", "--no-search", *FLAGS, "--rejection-rate", "0"], capsys)
    assert code == 0, err
    renamed = tmp_path / "renamed.csv"
    pd.read_csv(table).rename(columns={"t": "clock"}).to_csv(renamed, index=False)
    code, out, err = cli(["predict", tmp_path / "m.npz", renamed], capsys)
    assert code == 1 and out == ""
    assert err.strip() == (f"trajhmm: error: {renamed}: the model's time_column: no column 't'; the table has "
                           "'trip', 'label', 'clock', 'x', 'y', 'z'")
    code, out, _ = cli(["predict", tmp_path / "m.npz", renamed, "--time-column", "clock"], capsys)
    assert code == 0 and len(out.splitlines()) == 8


def test_the_python_reader_names_its_parameter(table):
    with pytest.raises(DataError, match=r"trips\.csv: time_column: no column 'tim'; the table has 'trip'"):
        load_table(table, id_column="trip", label_column="label", time_column="tim")

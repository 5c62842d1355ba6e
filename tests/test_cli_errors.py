"""One exit-code policy for every subcommand (issue 12): parameter errors exit 2 with one
line naming the flag, outputs are checked before any work, data errors name the file."""

import re

import numpy as np
import pytest

from trajhmm import DataError, HMMClassifier, load_model, save_model
from trajhmm._params import PARAMS, params_for
from trajhmm.cli import build_parser

from conftest import FLAGS, cli, write_folder

# A valid command line of every subcommand (paths need not exist: a parameter error
# must stop it before anything is read).
BASE = {
    "train": ["train", "data", "-o", "m.npz"],
    "predict": ["predict", "m.npz", "data"],
    "evaluate": ["evaluate", "m.npz", "data"],
    "tune": ["tune", "data", "-o", "m.npz"],
    "plot confusion": ["plot", "confusion", "m.npz", "data", "-o", "c.png"],
    "plot trajectories": ["plot", "trajectories", "data", "-o", "t.png"],
    "plot convergence": ["plot", "convergence", "m.npz", "-o", "c.png"],
    "plot states": ["plot", "states", "m.npz", "a", "-o", "s.png"],
    "info": ["info", "m.npz"],
}

# how a wrong number of dims in a file or table ends (the columns can be chosen there)
HINT = " (choose the columns with columns= / --columns, time_column= / --time-column)"


def bad_values(p):
    """Values the declaration of ``p`` refuses: wrong type, out of range, not a choice,
    above the parameter that bounds it."""
    if p.kind == "text":
        return []
    if p.kind in ("choice", "bool"):
        return ["banana"]
    bad = ["abc", "nan" if p.kind == "float" else "1.5"]
    if p.kind == "seed":
        bad += ["-1", str(2**32)]
    if p.low is not None:
        bad.append(str(p.low) if p.low_open else str(p.low - 1))
    if p.nonzero:
        bad.append("0")
    if isinstance(p.high, str):
        bad.append(str(PARAMS[p.high].default * 2))  # n_states 100 > n_points 50
    elif p.high is not None:
        bad.append(str(p.high) if p.high_open else str(p.high + 1))
    return bad


CASES = [(command, p.flag, value) for command in BASE for p in params_for(command) for value in bad_values(p)]


def test_the_enumeration_covers_every_subcommand_and_valued_flag():
    assert {c for c, _, _ in CASES} == set(BASE) - {"info"}  # info has no valued flag
    assert len(CASES) > 100
    assert ("tune", "--n-states", "100") in CASES and ("train", "--test-size", "1.0") in CASES


@pytest.mark.parametrize("command, flag, value", CASES, ids=[f"{c}{f}={v}".replace(" ", "-") for c, f, v in CASES])
def test_every_bad_value_of_every_flag_exits_2_naming_the_flag(tmp_path, monkeypatch, capsys, command, flag, value):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(BASE[command] + [flag, value], capsys)
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"trajhmm {command}: error: argument {flag}: expected "), err
    assert value.lower() in last.lower(), last  # what was given
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_every_declared_flag_is_in_the_parser_with_its_help_and_default():
    parser = build_parser()
    subs = parser._subparsers._group_actions[0].choices
    kinds = subs["plot"]._subparsers._group_actions[0].choices
    for command in BASE:
        sub = kinds[command.split()[1]] if command.startswith("plot ") else subs[command]
        actions = {a.dest: a for a in sub._actions}
        for p in params_for(command):
            action = actions[p.name]
            assert action.option_strings == [p.flag]
            assert action.default == p.cli_default.get(command, p.default)
            assert p.cli_help.get(command, p.help) in action.help
    assert "exit codes: 0 ok; 1 data, model or file error; 2 usage or parameter error" in subs["train"].epilog


def test_n_jobs_defaults_to_all_cores_for_train_and_tune_only():
    parser = build_parser()
    assert parser.parse_args(["train", "d", "-o", "m"]).n_jobs == -1
    assert parser.parse_args(["tune", "d", "-o", "m"]).n_jobs == -1
    assert parser.parse_args(["predict", "m", "d"]).n_jobs is None
    assert HMMClassifier().n_jobs is None


# ------------------------------------------------------------------ D3, D17
@pytest.mark.parametrize("flag, value, expected", [
    ("--n-states", "100", "argument --n-states: expected an integer <= --n-points (50), got 100"),
    ("--cv", "1", "argument --cv: expected an integer >= 2, got 1"),
    ("--n-mix", "0", "argument --n-mix: expected an integer >= 1, got 0"),
    ("--tol", "-1", "argument --tol: expected a number >= 0.0, got -1.0"),
    ("--n-init", "0", "argument --n-init: expected an integer >= 1, got 0"),
    ("--max-jump", "0", "argument --max-jump: expected an integer >= 1, got 0"),
    ("--rejection-rate", "0.9", "argument --rejection-rate: expected a number <= 0.5, got 0.9"),
    ("--n-jobs", "0", "argument --n-jobs: expected an integer other than 0, got 0"),
])
def test_d3_tune_bad_values_are_one_line_exit_2(data_dir, tmp_path, capsys, flag, value, expected):
    code, _, err = cli(["tune", data_dir, "-o", tmp_path / "best.npz", flag, value], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"trajhmm tune: error: {expected}"
    assert not (tmp_path / "best.npz").exists()


def test_d3_every_tune_candidate_is_validated_before_the_first_fit(data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(HMMClassifier, "fit", lambda *a, **k: pytest.fail("fitted before validating"))
    code, _, err = cli(["tune", data_dir, "-o", tmp_path / "b.npz", "--n-states", "4", "8", "12",
                        "--n-points", "20", "10"], capsys)
    assert code == 2
    assert err.strip() == "trajhmm tune: error: argument --n-states: expected an integer <= --n-points (10), got 12"


@pytest.mark.parametrize("argv, expected", [
    (["train", "{data}", "-o", "{tmp}/m.npz", "--test-size", "30"],
     "trajhmm train: error: argument --test-size: expected a number < 1.0, got 30.0"),
    (["train", "{data}", "-o", "{tmp}/m.npz", "--n-jobs", "0"], "trajhmm train: error: argument --n-jobs:"),
    (["predict", "{model}", "{data}", "--n-jobs", "0"], "trajhmm predict: error: argument --n-jobs:"),
    (["predict", "{model}", "{data}", "--batch-size", "0"],
     "trajhmm predict: error: argument --batch-size: expected an integer >= 1, got 0"),
    (["plot", "convergence", "{model}", "-o", "{tmp}/c.png", "--dpi", "0"],
     "trajhmm plot convergence: error: argument --dpi: expected an integer >= 1, got 0"),
    (["train", "{data}", "-o", "{tmp}/m.npz", "--n-points", "10", "--n-states", "12"],
     "trajhmm train: error: argument --n-states: expected an integer <= --n-points (10), got 12"),
])
def test_d17_parameter_errors_of_every_command_exit_2(data_dir, tmp_path, fitted, capsys, argv, expected):
    save_model(fitted, tmp_path / "model.npz")
    argv = [a.format(data=data_dir, tmp=tmp_path, model=tmp_path / "model.npz") for a in argv]
    code, out, err = cli(argv, capsys)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(expected), err


# ------------------------------------------------------------------ D5: outputs first
@pytest.mark.parametrize("argv", [
    ["train", "{data}", "-o", "{out}", *FLAGS, "--no-search"],
    ["tune", "{data}", "-o", "{out}", *FLAGS, "--n-states", "2", "3"],
    ["predict", "{model}", "{data}", "--output", "{out}"],
    ["evaluate", "{model}", "{data}", "--report", "{out}"],
    ["plot", "confusion", "{model}", "{data}", "-o", "{out}"],
])
@pytest.mark.parametrize("where", ["missing_dir/out.png", "a_folder"])
def test_d5_outputs_are_checked_before_any_work(data_dir, tmp_path, fitted, capsys, monkeypatch, argv, where):
    save_model(fitted, tmp_path / "model.npz")
    (tmp_path / "a_folder").mkdir()
    out = tmp_path / where
    for name in ("fit", "predict"):  # no training, no prediction before the output is known good
        monkeypatch.setattr(HMMClassifier, name, lambda *a, **k: pytest.fail("work before checking the output"))
    argv = [a.format(data=data_dir, model=tmp_path / "model.npz", out=out) for a in argv]
    code, stdout, err = cli(argv, capsys)
    assert code == 1 and stdout == "", err
    assert err.startswith(f"trajhmm: error: {out}: ") and err.count("\n") == 1, err
    assert ("does not exist" if "missing" in where else "names a folder") in err
    assert ".tmp" not in err  # never the name of an internal temporary file


# ------------------------------------------------------------------ D4: 1-D data
def test_d4_plot_trajectories_of_1d_data_draws_them_against_time(tmp_path, capsys):
    rng = np.random.RandomState(0)
    for label, sign in (("up", 1), ("down", -1)):
        (tmp_path / "d" / label).mkdir(parents=True)
        for i in range(3):
            np.savetxt(tmp_path / "d" / label / f"{i}.csv", sign * np.linspace(0, 1, 30 + i) + 0.01 * rng.randn(30 + i))
    code, out, err = cli(["plot", "trajectories", tmp_path / "d", "-o", tmp_path / "t.png"], capsys)
    assert code == 0, err
    assert "Traceback" not in err and (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"

    from trajhmm.plotting import plot_trajectories

    fig = plot_trajectories([np.arange(5.0)[:, None], np.arange(8.0)[:, None]], ["a", "b"])
    first, second = fig.axes[0].lines
    np.testing.assert_allclose(first.get_xdata(), np.linspace(0, 1, 5))  # time, start 0, end 1
    np.testing.assert_allclose(second.get_ydata(), np.arange(8.0))


# ------------------------------------------------------------------ D6: wrong dims
@pytest.fixture
def model_and_mixed_dims(tmp_path, fitted, dataset):
    """A 3-D model, and a folder whose last wave file has 2 dims."""
    save_model(fitted, tmp_path / "m.npz")
    X, y = dataset
    write_folder(tmp_path / "data", X, y)
    flat = sorted((tmp_path / "data" / "wave").iterdir())[-1]
    np.savetxt(flat, X[-1][:, :2], delimiter=",", header="x,y", comments="")
    write_folder(tmp_path / "flat", [x[:, :2] for x in X[::4]], y[::4])
    return tmp_path / "m.npz", tmp_path / "data", flat, tmp_path / "flat"


@pytest.mark.parametrize("command", ["evaluate", "plot confusion", "plot trajectories"])
def test_d6_wrong_dims_name_the_file_and_honour_skip(tmp_path, capsys, model_and_mixed_dims, command):
    model, data, flat, all_flat = model_and_mixed_dims

    def argv(folder, *more):
        if command == "plot trajectories":
            return ["plot", "trajectories", folder, "--model", model, "-o", tmp_path / "c.png", *more]
        return command.split() + [model, folder] + (["-o", tmp_path / "c.png"] if "plot" in command else []) + [*more]

    code, _, err = cli(argv(all_flat), capsys)
    first = sorted(sorted(all_flat.iterdir())[0].iterdir())[0]
    assert code == 1 and err.count("\n") == 1, err
    assert err == f"trajhmm: error: {first}: expected 3 dims like the model, got 2{HINT}\n"
    code, out, err = cli(argv(all_flat, "--on-invalid", "skip"), capsys)
    assert code == 1 and err.strip().splitlines()[-1].startswith(f"trajhmm: error: {all_flat}: no trajectory")
    # a folder whose files disagree: the odd one out is skipped (by the reader: majority)
    code, out, err = cli(argv(data, "--on-invalid", "skip"), capsys)
    assert code == 3, err
    assert err.count(str(flat)) == 1 and "1 input skipped" in err
    assert not (tmp_path / "c.png").exists() or "plot" in command


def test_d6_evaluate_skips_trajectories_whose_dims_differ_from_the_model(fitted, dataset):
    from trajhmm import TrajectoryDataset
    from trajhmm.metrics import _evaluate

    X, y = dataset
    ds = TrajectoryDataset(trajectories=[x[:, :2] for x in X[:2]] + list(X[2:]), labels=list(y),
                           paths=[f"f{i}.csv" for i in range(len(X))], skipped=[("g.csv", "g.csv: unreadable")])
    with pytest.raises(DataError, match=r"^f0.csv: expected 3 dims like the model, got 2" + re.escape(HINT) + "$"):
        _evaluate(fitted, ds)
    report, skipped = _evaluate(fitted, ds, on_invalid="skip")
    assert [p for p, _ in skipped] == ["g.csv", "f0.csv", "f1.csv"] and report["n_samples"] == len(X) - 2


# ------------------------------------------------------------------ D7: unknown labels
def test_d7_evaluate_labels_the_model_does_not_know(tmp_path, capsys, fitted, dataset):
    X, y = dataset
    save_model(fitted, tmp_path / "m.npz")
    write_folder(tmp_path / "none", X[:8], ["circle"] * 4 + ["square"] * 4)
    code, out, err = cli(["evaluate", tmp_path / "m.npz", tmp_path / "none"], capsys)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"trajhmm: error: {tmp_path / 'none'}: none of its labels (circle, square)")
    write_folder(tmp_path / "some", X, [lb if lb != "wave" else "circle" for lb in y])
    code, out, err = cli(["evaluate", tmp_path / "m.npz", tmp_path / "some"], capsys)
    assert code == 0, err
    assert err.strip() == (f"trajhmm: warning: {tmp_path / 'some'}: labels the model does not know, "
                           "their 8 trajectories count as errors: circle")
    assert "accuracy: 0.7500 (24/32 trajectories)" in out


# ------------------------------------------------------------------ D12: skips once
def test_d12_every_skipped_file_is_reported_once_with_its_name(tmp_path, capsys, dataset):
    X, y = dataset
    write_folder(tmp_path / "d", X, y)
    stray = tmp_path / "d" / "stray.txt"
    stray.write_text("not a trajectory\n")
    bad = tmp_path / "d" / "wave" / "bad.csv"
    bad.write_text("x,y,z\n1,2,3\n4,oops,6\n")
    code, out, err = cli(["train", tmp_path / "d", "-o", tmp_path / "m.npz", "--on-invalid", "skip",
                          "--n-jobs", "1", *FLAGS], capsys)
    assert code == 3, err
    assert err.strip().splitlines() == [f"trajhmm: skipped: {stray}: expected only class folders in {stray.parent}, got a file",
                                        f"trajhmm: skipped: {bad}: line 3, column 2 ('y'): expected a number, got 'oops'",
                                        "trajhmm: 2 inputs skipped as invalid"]
    assert load_model(tmp_path / "m.npz").n_jobs is None  # --n-jobs is the run's, not the model's


@pytest.mark.parametrize("flags, message", [
    (["--delimiter", "ab"], "argument --delimiter: expected one character such as"),
    (["--encoding", "foo"], "argument --encoding: expected a codec name such as 'utf-8'"),
    (["--pattern="], "argument --pattern: expected a file name pattern such as '*.csv', got ''"),
    (["--columns", "x,x"], "argument --columns: expected each column once, got 'x' twice"),
    (["--columns", "x,,y"], "argument --columns: expected column names separated by commas, got 'x,,y'"),
    (["--time-column", "t,u"], "argument --time-column: expected one column, got 't,u'"),
    (["--columns", "x,t", "--time-column", "t"], "argument --columns: expected the coordinates only, not the time_column, "
                                                 "got 't'"),
    (["--decimal", ";"], "argument --decimal: expected one of"),
    (["--label-level", "0"], "argument --label-level: expected an integer >= 1, got 0"),
])
def test_reading_flags_are_usage_errors_before_any_work(tmp_path, capsys, flags, message):
    code, out, err = cli(["train", tmp_path / "nothing", "-o", tmp_path / "m.npz", "--no-search", *flags], capsys)
    assert code == 2 and message in err.strip().splitlines()[-1], err
    assert not (tmp_path / "m.npz").exists()

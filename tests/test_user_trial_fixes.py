"""What a user trial of the command line and the API found (session 15): cache folders that
were someone else's, a model written over a folder, flags that do not apply to the input
they were given for, messages that did not name the class."""

import numpy as np
import pytest

from trajhmm import HMMClassifier, HMMClassifierCV, ModelFileError, save_model
from trajhmm._cache import CACHEDIR_TAG, FitCache
from trajhmm.exceptions import DataError, OptionError
from trajhmm.model_selection import tune

from conftest import FAST, FLAGS, cli

QUICK = ["--no-search", "--n-states", "2", "--n-iter", "3", "--rejection-rate", "0", "--prefix-view", "false", "-q"]


# ---------------------------------------------------------------- cache folders
def test_a_cache_folder_is_new_empty_or_trajhmms(tmp_path):
    assert FitCache(tmp_path / "new").unusable() is None
    (tmp_path / "empty").mkdir()
    assert FitCache(tmp_path / "empty").unusable() is None
    (tmp_path / "file").write_text("x")
    assert FitCache(tmp_path / "file").unusable() == "it is not a folder"
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("notes.txt", "a.csv", "b.csv", "c.csv"):
        (mine / name).write_text("x")
    assert FitCache(mine).unusable() == "it holds files trajhmm did not write ('a.csv', 'b.csv', 'c.csv' and 1 more)"
    ours = FitCache(tmp_path / "ours")
    ours.put("0" * 64, {"a": np.zeros(2)})
    assert ours.unusable() is None and (tmp_path / "ours" / CACHEDIR_TAG).is_file()
    (tmp_path / "ours" / "notes.txt").write_text("x")
    assert ours.unusable() == "it has the unexpected file 'notes.txt'"


def test_nothing_is_written_into_a_folder_of_the_users(tmp_path, dataset):
    X, y = dataset
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    with pytest.raises(DataError, match=r"mine: cache_dir: expected a new or empty folder or a trajhmm cache, but it "
                                        r"holds files trajhmm did not write \('notes.txt'\)"):
        FitCache(folder).put("0" * 64, {"a": np.zeros(2)})
    for fit in (lambda: HMMClassifier(**FAST).fit(X, y, cache_dir=folder),
                lambda: HMMClassifierCV(HMMClassifier(**FAST), {"n_states": [2]}, cv=2).fit(X, y, cache_dir=folder),
                lambda: tune(X, y, {"n_states": [2]}, cv=2, cache_dir=folder, **FAST)):
        with pytest.raises(DataError, match="cache_dir: expected a new or empty folder"):
            fit()
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("where", ["data", "file", "default"])
def test_cli_refuses_a_cache_folder_that_is_not_a_cache_before_any_work(data_dir, tmp_path, capsys, where):
    (tmp_path / "taken.npz.cache").mkdir()
    (tmp_path / "taken.npz.cache" / "notes.txt").write_text("keep")
    (tmp_path / "f.npz").write_text("x")
    flags = {"data": ["--cache-dir", data_dir], "file": ["--cache-dir", tmp_path / "f.npz"], "default": []}[where]
    model = tmp_path / ("taken.npz" if where == "default" else "m.npz")
    before = sorted(p.name for p in data_dir.rglob("*"))
    code, out, err = cli(["train", data_dir, "-o", model, *QUICK, *flags], capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith("trajhmm train: error: argument --cache-dir: expected a new or empty folder, or a cache "
                          "trajhmm made, got ")
    assert {"data": "it holds files trajhmm did not write", "file": "it is not a folder",
            "default": "(the default: the model file's name + .cache), but it holds"}[where] in err
    assert not model.exists() and sorted(p.name for p in data_dir.rglob("*")) == before


# ---------------------------------------------------------------- model files and flags
def test_save_model_over_a_folder_is_a_model_file_error(tmp_path, fitted):
    (tmp_path / "m.npz").mkdir()
    with pytest.raises(ModelFileError, match=r"m.npz: cannot write, it is a folder; expected a file name"):
        save_model(fitted, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == [tmp_path / "m.npz"]  # no temporary file left


def test_spot_refuses_a_time_column_with_a_usage_error(tmp_path, fitted, capsys):
    model = tmp_path / "m.npz"
    save_model(fitted, model)
    stream = tmp_path / "s.csv"
    np.savetxt(stream, np.zeros((20, 4)), delimiter=",", header="t,x,y,z", comments="")
    code, out, err = cli(["spot", model, stream, "--time-column", "t"], capsys)
    assert code == 2 and out == ""
    assert err == ("trajhmm spot: error: argument --time-column: expected none (a stream is evenly spaced samples "
                   "without time stamps), got 't'; leave that column out with --columns\n")


def test_flags_that_do_not_apply_to_the_input_are_usage_errors(data_dir, tmp_path, capsys, fitted):
    code, _, err = cli(["train", data_dir, "-o", tmp_path / "m.npz", "--group-column", "g", *QUICK], capsys)
    assert code == 2 and err == (f"trajhmm train: error: {data_dir}: --group-column applies to tables, with "
                                 "--id-column\n")
    save_model(fitted, tmp_path / "model.npz")
    code, _, err = cli(["plot", "confusion", tmp_path / "model.npz", data_dir, "-o", tmp_path / "c.jpg"], capsys)
    assert code == 2 and "argument -o/--output: expected a .png, .pdf or .svg file name, got" in err
    assert issubclass(OptionError, DataError)


def test_reject_on_a_model_without_rejection_says_so(tmp_path, dataset, data_dir, capsys):
    X, y = dataset
    model = tmp_path / "m.npz"
    save_model(HMMClassifier(**{**FAST, "rejection_rate": 0}).fit(X, y), model)
    code, out, err = cli(["predict", model, next(data_dir.rglob("*.csv")), "--reject"], capsys)
    assert code == 0 and out
    assert "warning:" in err and "--reject: this model's open-set rejection is off" in err
    save_model(HMMClassifier(**FAST).fit(X, y), model)
    assert cli(["predict", model, next(data_dir.rglob("*.csv")), "--reject"], capsys)[2] == ""


def test_verbose_goes_after_the_command_too(data_dir, tmp_path, capsys):
    argv = ["train", data_dir, "-o", tmp_path / "m.npz", "--no-search", "--rejection-rate", "0", *FLAGS]
    assert cli(argv, capsys)[2] == ""  # converged, nothing to say without -v
    code, _, err = cli([*argv, "-v"], capsys)
    assert code == 0 and "trajhmm: training 4 classes on 32 trajectories" in err


def test_too_small_classes_are_named(dataset):
    X, y = dataset
    keep = [i for i in range(len(y)) if y[i] != "wave"] + [int(np.flatnonzero(y == "wave")[0])]
    Xs, ys = [X[i] for i in keep], y[keep]
    with pytest.raises(DataError, match="needs at least 2 trajectories of every class, got 1 of class 'wave'"):
        HMMClassifierCV(HMMClassifier(**FAST), {"n_states": [2]}, cv=2).fit(Xs, ys)
    with pytest.raises(DataError, match="needs at least 2 trajectories of every class, got 1 of class 'wave'"):
        tune(Xs, ys, {"n_states": [2]}, cv=3)


def test_a_table_without_id_column_is_told_how_to_read_it(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("id,label,x,y,z\n" + "".join(f"{i // 5},{'ab'[i // 10]},{i},{i % 3},1\n" for i in range(20)))
    code, _, err = cli(["train", table, "-o", tmp_path / "m.npz", *QUICK], capsys)
    assert code == 1 and err == (f"trajhmm: error: {table}: expected a folder DATA/<label>/<files>, an .npz bundle or a "
                                 ".ts file, got one .csv file; a long table (one row per point) is read with --id-column "
                                 "ID --label-column LABEL\n")


def test_a_model_and_its_cache_written_inside_the_data_folder_do_not_disturb_a_rerun(data_dir, capsys):
    """`train DATA -o DATA/model.npz` kept its cache (as after Ctrl-C) in DATA/model.npz.cache:
    the rerun reads the same data (the tagged cache folder is not a class) and resumes."""
    model = data_dir / "model.npz"
    argv = ["train", data_dir, "-o", model, "--no-search", "--n-states", "2", "--n-iter", "3", "--keep-cache", "-v"]
    assert cli(argv, capsys)[0] == 0 and (data_dir / "model.npz.cache" / CACHEDIR_TAG).is_file()
    first = model.read_bytes()
    code, _, err = cli(argv, capsys)
    assert code == 0 and "ignored 2 files that are not trajectory data (1 .npz, 1 folder tagged CACHEDIR.TAG)" in err
    assert model.read_bytes() == first


def test_a_reading_flag_for_another_format_is_a_usage_error(data_dir, tmp_path, capsys):
    code, _, err = cli(["train", data_dir, "-o", tmp_path / "m.npz", "--split", "train", *QUICK], capsys)
    assert code == 2 and err.startswith(f"trajhmm train: error: {data_dir}: split= (--split) applies to ")
    assert "only, got a " in err


def test_a_stream_on_standard_input_may_start_with_a_header(fitted, dataset):
    from trajhmm.streaming import spot, spot_lines

    X, _ = dataset
    stream = np.vstack([X[0], X[9]])
    lines = [" ".join(f"{v:.17g}" for v in p) + "\n" for p in stream]
    expected = [(d.start, d.end, d.label) for d in spot(fitted, stream)]
    for header in ("x,y,z\n", "# comment\n\nx y z\n"):
        got = [(d.start, d.end, d.label) for d in spot_lines(fitted, [header, *lines])]
        assert got == expected
    with pytest.raises(DataError, match=r"<stdin>:2: expected 3 numbers, got 'x,y,z'"):
        list(spot_lines(fitted, [lines[0], "x,y,z\n", *lines[1:]]))  # names after a point are not a header
    with pytest.raises(DataError, match=r"<stdin>:1: expected 3 numbers, got 'x,2,z'"):
        list(spot_lines(fitted, ["x,2,z\n", *lines]))


@pytest.mark.parametrize("size, part, n", [(0.99, "training", 0), (0.05, "held-out", 2)])
def test_a_held_out_part_too_small_for_every_class_says_which(data_dir, tmp_path, capsys, size, part, n):
    code, _, err = cli(["train", data_dir, "-o", tmp_path / "m.npz", "--test-size", size, *QUICK], capsys)
    assert code == 1 and err == (f"trajhmm: error: {data_dir}: cannot hold out {size:g} of the 32 trajectories: "
                                 f"expected at least one of each of the 4 classes in the {part} part, got {n} "
                                 "trajectories there\n")


# ---------------------------------------------------------------- review of the fixes
@pytest.mark.parametrize("cache", ["out", "out/m.npz"])
def test_a_cache_folder_that_would_hold_an_output_is_refused_before_any_work(data_dir, tmp_path, capsys, cache):
    (tmp_path / "out").mkdir()
    code, _, err = cli(["train", data_dir, "-o", tmp_path / "out" / "m.npz", "--cache-dir", tmp_path / cache, *QUICK],
                       capsys)
    assert code == 2 and err == (f"trajhmm train: error: argument --cache-dir: expected a folder apart from the outputs, "
                                 f"got '{tmp_path / cache}', which would hold the --output '{tmp_path / 'out' / 'm.npz'}'\n")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_symbolic_link_is_never_a_cache_folder(tmp_path, dataset):
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    assert FitCache(tmp_path / "link").unusable() == "it is a symbolic link; give the folder it points to"
    X, y = dataset
    with pytest.raises(DataError, match="link: cache_dir: .* it is a symbolic link"):
        HMMClassifier(**FAST).fit(X, y, cache_dir=tmp_path / "link")
    assert list((tmp_path / "target").iterdir()) == []


def test_reading_options_of_the_model_that_another_format_does_not_take_are_dropped(tmp_path, dataset, capsys):
    """A model trained on CSV files with --columns evaluates an .npz bundle (it has no columns to choose)."""
    X, y = dataset
    folder = tmp_path / "wide"
    for i, (x, label) in enumerate(zip(X, y)):
        (folder / label).mkdir(parents=True, exist_ok=True)
        np.savetxt(folder / label / f"{i}.csv", np.column_stack([x, np.arange(len(x))]), delimiter=",",
                   header="x,y,z,n", comments="")
    model = tmp_path / "m.npz"
    assert cli(["train", folder, "-o", model, "--columns", "x,y,z", *QUICK], capsys)[0] == 0
    np.savez(tmp_path / "b.npz", X=np.vstack(X), lengths=[len(x) for x in X], y=y)
    code, out, err = cli(["evaluate", model, tmp_path / "b.npz"], capsys)
    assert code == 0 and "accuracy:" in out, err
    code, _, err = cli(["evaluate", model, tmp_path / "b.npz", "--columns", "x,y,z"], capsys)  # given here: refused
    assert code == 2 and "columns= (--columns) applies to " in err


@pytest.mark.parametrize("flag, value, what", [
    ("--label-level", "2", "folders"), ("--split", "train", ".npz bundles"), ("--pattern", "*.csv", "folders"),
    ("--layout", "columns", "files of one trajectory"), ("--variable", "v", ".mat files"),
])
def test_reading_flags_that_tables_do_not_take_are_refused(tmp_path, capsys, flag, value, what):
    table = tmp_path / "t.csv"
    table.write_text("id,label,x,y,z\n" + "".join(f"{i // 5},{'ab'[i // 10]},{i},{i % 3},1\n" for i in range(20)))
    code, _, err = cli(["train", table, "-o", tmp_path / "m.npz", "--id-column", "id", "--label-column", "label",
                        flag, value, *QUICK], capsys)
    assert code == 2 and err == f"trajhmm train: error: {table}: {flag} applies to {what}, not to a table (--id-column id)\n"


def test_the_prefix_view_follows_n_jobs(dataset, tmp_path):
    X, y = dataset
    clf = HMMClassifier(**{**FAST, "n_jobs": 2}).fit(X, y)
    assert clf.prefix_model_.n_jobs == 2
    clf.set_params(n_jobs=None)
    assert clf.prefix_model_.n_jobs is None
    save_model(clf.set_params(n_jobs=3), tmp_path / "m.npz")
    from trajhmm import load_model

    loaded = load_model(tmp_path / "m.npz")
    assert loaded.prefix_model_.n_jobs == loaded.n_jobs


def test_a_bad_cell_of_a_decimal_comma_table_is_named(tmp_path):
    from trajhmm.tables import load_table

    rows = [f"{i // 4};{'ab'[i // 8]};{i},5;{i % 3},25" for i in range(16)]
    rows[9] = "2;b;BAD;1,5"
    table = tmp_path / "t.csv"
    table.write_text("id;label;x;y\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"t.csv\[id=2\]: line 11, column 'x': expected a number, got 'BAD'$"):
        load_table(table, id_column="id", label_column="label")


def test_line_numbers_after_a_quoted_cell_over_several_lines(tmp_path):
    from trajhmm.tables import load_table

    rows = [f'{i // 4},{"ab"[i // 8]},{i},{i % 3}' for i in range(16)]
    rows[1] = '0,"a",1,1'
    rows[2] = '0,"a\nstill a",2,2'  # the label cell spans lines 4 and 5 (then "expected one label" at line 4)
    rows[11] = "2,b,BAD,1"
    table = tmp_path / "t.csv"
    table.write_text("id,label,x,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"t.csv\[id=0\]: line 4, column 'label': expected one label per trajectory"):
        load_table(table, id_column="id", label_column="label")  # (the first id's error first)
    ds = load_table(table, id_column="id", label_column="label", on_invalid="skip")
    reasons = dict(ds.skipped)
    assert reasons[f"{table}[id=2]"] == f"{table}[id=2]: line 14, column 'x': expected a number, got 'BAD'"
    assert reasons[f"{table}[id=0]"].startswith(f"{table}[id=0]: line 4, column 'label': expected one label")
    assert ds.ids == ["1", "3"]  # (ids read as written)


# ---------------------------------------------------------------- second trial: streams and outputs
def test_bytes_labels_reach_json_as_text(dataset, tmp_path, capsys, data_dir):
    import json

    X, y = dataset
    model = tmp_path / "m.npz"
    save_model(HMMClassifier(**{**FAST, "rejection_rate": 0}).fit(X, np.array([s.encode() for s in y])), model)
    code, out, err = cli(["predict", model, next(data_dir.rglob("*.csv")), "--format", "json", "--proba"], capsys)
    assert code == 0, err
    record = json.loads(out)
    assert record["label"] in set(y) and set(record["proba"]) == set(y)
    stream = tmp_path / "s.csv"
    np.savetxt(stream, np.vstack([X[0], X[9]]), delimiter=",")
    code, out, err = cli(["spot", model, stream, "--format", "json"], capsys)
    assert code == 0 and all(json.loads(line)["label"] in set(y) for line in out.splitlines()), err


def test_spot_csv_quotes_labels(dataset, tmp_path, capsys):
    import csv
    import io

    X, y = dataset
    odd = np.array([f'{s},"x"' for s in y])
    model = tmp_path / "m.npz"
    clf = HMMClassifier(**FAST).fit(X, odd)
    save_model(clf, model)
    stream = tmp_path / "s.csv"
    np.savetxt(stream, np.vstack([X[0], X[9], X[17]]), delimiter=",")
    code, out, err = cli(["spot", model, stream, "--format", "csv", "--threshold", "-50"], capsys)
    header, *rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and header == ["start", "end", "label", "score"], (out, err)
    assert rows and all(len(r) == 4 and r[2] in set(odd) for r in rows), (out, err)


def test_outputs_to_dev_stdout_are_written_in_place(tmp_path, fitted, data_dir):
    import subprocess
    import sys

    model = tmp_path / "m.npz"
    save_model(fitted, model)
    target = tmp_path / "o.txt"
    with open(target, "w") as fh:
        proc = subprocess.run([sys.executable, "-m", "trajhmm", "evaluate", str(model), str(data_dir), "--report",
                               "/dev/stdout"], stdout=fh, stderr=subprocess.PIPE, text=True)
    text = target.read_text()
    assert proc.returncode == 0, proc.stderr
    assert text.startswith("accuracy:") and '"accuracy"' in text  # the summary, then the JSON report after it


def test_values_too_large_for_the_model_are_refused_by_streams_and_prefixes(fitted):
    from trajhmm import spot

    huge = np.full((30, 3), 1e300)
    with pytest.raises(DataError, match=r"X\[0\]: expected values within 1e\+100 times the spread of the training data"):
        fitted.predict_prefix_proba([huge])
    with pytest.raises(DataError, match=r"stream: expected values within 1e\+100 times the spread"):
        spot(fitted, np.vstack([np.zeros((5, 3)), huge]))


def test_spot_refuses_a_timed_model_before_reading_the_recording(tmp_path, dataset, capsys):
    X, y = dataset
    timed = [np.column_stack([np.arange(len(x)) * 0.01, x]) for x in X]
    model = tmp_path / "m.npz"
    save_model(HMMClassifier(**{**FAST, "time_column": 0}).fit(timed, y), model)
    stream = tmp_path / "s.csv"
    np.savetxt(stream, X[0], delimiter=",", header="x,y,z", comments="")
    code, _, err = cli(["spot", model, stream], capsys)
    assert code == 1 and err == (f"trajhmm: error: {model}: expected a model fitted without time stamps, got one with "
                                 "time_column=0: streams take evenly spaced samples (train it without --time-column to "
                                 "spot)\n")
    code, out, _ = cli(["info", model], capsys)
    assert "streams: none (streams and prefixes take no time stamps)" in out
    assert "prefixes (predict_prefix): none (a model with a time column" in out


def test_parameter_errors_are_trajhmm_errors():
    import trajhmm

    with pytest.raises(trajhmm.TrajHMMError, match="n_states"):
        HMMClassifier(n_states=0).fit([np.zeros((5, 2)), np.ones((5, 2))], ["a", "b"])
    assert issubclass(trajhmm.ParameterValueError, ValueError) and issubclass(trajhmm.ParameterTypeError, TypeError)


@pytest.mark.parametrize("params, match", [
    ({"calibrate": "False"}, "calibrate: expected True or False, got 'False'"),
    ({"ensemble": 2}, "ensemble: expected True or False, got 2"),
    ({"n_jobs": 0}, "n_jobs"),
    ({"random_state": "a"}, "random_state"),
    ({"param_grid": {"n_states": 4}}, "param_grid: expected a list of values for 'n_states', got 4"),
])
def test_the_search_checks_its_own_parameters_before_any_work(dataset, params, match):
    from trajhmm import ParameterError

    X, y = dataset
    with pytest.raises(ParameterError, match=match):
        HMMClassifierCV(**params).fit(X, y)


def test_the_search_says_when_it_cuts_fewer_folds_or_a_splitter_needs_groups(dataset):
    from sklearn.model_selection import GroupKFold

    from trajhmm import ParameterValueError

    X, y = dataset
    search = HMMClassifierCV(HMMClassifier(**FAST), {"n_states": [2]}, cv=9, ensemble=False)
    with pytest.warns(UserWarning, match=r"cv=9: the smallest class \(class '\w+'\) has 8 trajectories, so the search "
                                         "cross-validates 8 folds"):
        search.fit(X, y)
    assert search.n_splits_ == 8
    with pytest.raises(ParameterValueError, match="cv: expected a splitter that can split this data .*GroupKFold"):
        HMMClassifierCV(HMMClassifier(**FAST), {"n_states": [2]}, cv=GroupKFold(2)).fit(X, y)


def test_a_file_browsers_leftovers_do_not_spoil_a_cache(tmp_path):
    fresh = tmp_path / "new"
    fresh.mkdir()
    (fresh / ".DS_Store").write_bytes(b"\0")
    assert FitCache(fresh).unusable() is None
    cache = FitCache(tmp_path / "c")
    cache.put("0" * 64, {"a": np.zeros(2)})
    (tmp_path / "c" / ".DS_Store").write_bytes(b"\0")
    assert cache.unusable() is None
    cache.remove()
    assert not (tmp_path / "c").exists()


def test_stream_parameters_are_parameter_errors(fitted):
    from trajhmm import ParameterError, StreamClassifier

    for kwargs, match in (({"step": 0}, "step: expected an integer >= 1, got 0"),
                          ({"block": 1.5}, "block: expected an integer"),
                          ({"threshold": np.nan}, "threshold: expected a finite number"),
                          ({"threshold": True}, "threshold: expected a finite number"),
                          ({"threshold": "-1"}, "threshold: expected a finite number"),
                          ({"length_ratio": np.inf}, "length_ratio: expected a finite number > 1"),
                          ({"duration_slack": 1.0}, r"duration_slack: expected a number in \[0, 1\)")):
        with pytest.raises(ParameterError, match=match):
            StreamClassifier(fitted, **kwargs)


def test_an_unknown_flag_names_the_command(capsys, tmp_path):
    code, _, err = cli(["spot", tmp_path / "m.npz", tmp_path / "r.csv", "--bogus"], capsys)
    assert code == 2 and err == "trajhmm spot: error: unrecognized arguments: --bogus\n"

"""Defects found by a user trial wiring the command line into scripts and schedulers
(exit codes, one-line errors, what is written and when)."""

import numpy as np
import pandas as pd
import pytest

from trajhmm import load_table
from trajhmm.exceptions import DataError

from conftest import FLAGS, cli, write_folder


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


# ---------------------------------------------------------------- two runs, one cache
def test_a_cache_removed_under_a_write_is_written_anew(tmp_path, monkeypatch):
    """Two runs writing one model file share MODEL.cache: the first to finish removes it,
    also the other's entry being written (was: that run failed, "No such file or directory")."""
    from trajhmm import _cache

    cache = _cache.FitCache(tmp_path / "m.npz.cache")
    cache.put("a" * 64, {"x": np.arange(3)})
    real, calls = _cache._write_npz, []

    def interrupted_by_the_other_run(f, arrays):
        calls.append(1)
        if len(calls) == 1:
            _cache.FitCache(tmp_path / "m.npz.cache").remove()  # the other run finished meanwhile
        real(f, arrays)

    monkeypatch.setattr(_cache, "_write_npz", interrupted_by_the_other_run)
    cache.put("b" * 64, {"x": np.arange(4)})
    assert len(calls) == 2
    np.testing.assert_array_equal(cache.get("b" * 64)["x"], np.arange(4))
    assert cache.unusable() is None


def test_a_cache_another_run_writes_into_while_it_is_removed_is_left_to_it(tmp_path, monkeypatch):
    from trajhmm import _cache

    cache = _cache.FitCache(tmp_path / "c")
    cache.put("a" * 64, {"x": np.arange(3)})
    real = _cache._unlink_quietly

    def the_other_run_writes(path):
        real(path)
        if str(path).endswith(_cache.CACHEDIR_TAG):
            (tmp_path / "c" / ("b" * 64 + ".npz.x1y2.tmp")).write_bytes(b"")  # its write in progress

    monkeypatch.setattr(_cache, "_unlink_quietly", the_other_run_writes)
    cache.remove()  # was: OSError, directory not empty
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["b" * 64 + ".npz.x1y2.tmp"]
    assert cache.unusable() is None  # (the other run's folder: its entries only, usable)


def test_a_temp_file_renamed_during_the_check_is_not_a_foreign_file(tmp_path, monkeypatch):
    from pathlib import Path

    from trajhmm import _cache

    cache = _cache.FitCache(tmp_path / "c")
    cache.put("a" * 64, {"x": np.arange(3)})
    temp = tmp_path / "c" / ("b" * 64 + ".npz.k3j4.tmp")
    temp.write_bytes(b"")
    real, calls = Path.iterdir, []

    def listed_then_renamed(self):  # the other run renames its temp file after each listing
        names = list(real(self))
        calls.append(self)
        if len(calls) == 2:
            temp.rename(tmp_path / "c" / ("b" * 64 + ".npz"))
        return iter(names)

    monkeypatch.setattr(Path, "iterdir", listed_then_renamed)
    # was: "it has the unexpected entry 'bbb...npz.k3j4.tmp'" (exit 2 in the CLI)
    assert cache.unusable() is None


# ---------------------------------------------------------------- streams and outputs
def test_closed_standard_streams_are_one_line_errors(model_file, data_dir, monkeypatch, capsys):
    import sys

    monkeypatch.setattr(sys, "stdout", None)  # `>&-`
    code, _, err = cli(["predict", model_file, data_dir], capsys)
    assert code == 1 and err.strip() == ("trajhmm: error: standard output is closed: write the results to a file "
                                         "with --output FILE")  # was: AttributeError, a traceback
    monkeypatch.undo()
    monkeypatch.setattr(sys, "stdin", None)  # `<&-`
    code, _, err = cli(["predict", model_file, "-"], capsys)
    assert code == 1 and err.strip() == "trajhmm: error: -: standard input is closed"


def test_a_closed_stderr_does_not_stop_the_work(model_file, data_dir, monkeypatch):
    import io
    import sys

    from trajhmm.cli import main

    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", None)  # `2>&-`
    # was: exit 1 and nothing (sys.stderr.isatty() on None)
    assert main(["predict", str(model_file), str(data_dir)], stdout=out) == 0
    assert len(out.getvalue().splitlines()) == 32
    sys.stderr.close()  # (main's stand-in, /dev/null)


def test_an_output_the_stream_cannot_encode_is_one_line(fitted, dataset, tmp_path, capsys):
    import io

    from trajhmm import save_model
    from trajhmm.cli import main

    X, y = dataset
    save_model(fitted, tmp_path / "m.npz")
    write_folder(tmp_path / "wäve", X[:2], y[:2])
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    code = main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "wäve")], stdout=ascii_out)
    err = capsys.readouterr().err
    assert code == 1  # was: UnicodeEncodeError, a traceback
    assert err.strip() == ("trajhmm: error: cannot write 'ä' in the output's encoding (ascii): set "
                           "PYTHONIOENCODING=utf-8 (or a UTF-8 locale, LC_ALL=C.UTF-8)")


def test_pattern_with_standard_input_is_a_usage_error(model_file, monkeypatch, capsys):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO('{"id": "a", "points": [[1, 2, 3], [2, 3, 4], [3, 4, 6]]}\n'))
    code, out, err = cli(["predict", model_file, "-", "--pattern", "zz*"], capsys)
    assert code == 2 and out == ""  # was: 0, the flag ignored
    assert err.strip() == ("trajhmm predict: error: -: --pattern applies to files, not to standard input (one JSON "
                           "object per line)")


def test_a_byte_order_mark_before_json_lines_is_skipped(model_file, monkeypatch, capsys):
    import io
    import sys

    line = '{"id": "a", "points": [[1, 2, 3], [2, 3, 4], [3, 4, 6]]}\n'
    monkeypatch.setattr(sys, "stdin", io.StringIO("\ufeff" + line + line.replace('"a"', '"b"')))
    code, out, err = cli(["predict", model_file, "-"], capsys)
    assert code == 0, err  # was: "<stdin>:1: not valid JSON (Unexpected UTF-8 BOM ...)"
    assert [row.split("\t")[0] for row in out.splitlines()] == ["a", "b"]


@pytest.mark.parametrize("argv, flag, hint", [
    (["predict", "{model}", "{data}", "--output", "-"], "--output",
     "standard output is the default: leave the flag out"),
    (["evaluate", "{model}", "{data}", "--report", "-"], "--report", "for a file named -, write ./-"),
    (["train", "{data}", "-o", "-", "--no-search"], "-o/--output", "for a file named -, write ./-"),
])
def test_dash_is_no_output_file(model_file, data_dir, tmp_path, capsys, monkeypatch, argv, flag, hint):
    monkeypatch.chdir(tmp_path)
    argv = [a.format(model=model_file, data=data_dir) for a in argv]
    code, out, err = cli(argv, capsys)
    assert code == 2 and out == ""  # was: a file named "-" written, exit 0
    assert err.strip() == f"trajhmm {argv[0]}: error: argument {flag}: expected a file name, got '-' ({hint})"
    assert not (tmp_path / "-").exists()


def test_a_dangling_symlink_output_is_refused_before_any_work(data_dir, tmp_path, capsys):
    link = tmp_path / "m.npz"
    link.symlink_to(tmp_path / "nowhere" / "m.npz")
    code, out, err = cli(["train", data_dir, "-o", link, "--no-search", *FLAGS], capsys)
    # was: the whole fit, its output printed, then "cannot write" (and the cache left behind)
    assert code == 1 and out == ""
    assert err.strip() == (f"trajhmm: error: {link}: cannot write --output: it is a symbolic link to "
                           f"{tmp_path / 'nowhere' / 'm.npz'}, whose directory {tmp_path / 'nowhere'} does not exist")
    assert not (tmp_path / "m.npz.cache").exists()


def test_text_output_escapes_backslashes_and_csv_ends_lines_with_lf(fitted, dataset, tmp_path, capsys):
    from trajhmm import save_model

    X, y = dataset
    save_model(fitted, tmp_path / "m.npz")
    folder = tmp_path / "names"
    folder.mkdir()
    np.savetxt(folder / "c\nd.csv", X[0], delimiter=",")
    np.savetxt(folder / "c\\nd.csv", X[0], delimiter=",")
    code, out, err = cli(["predict", tmp_path / "m.npz", folder], capsys)
    assert code == 0, err
    names = sorted(line.split("\t")[0] for line in out.splitlines())
    # was: both written as .../c\nd.csv
    assert names == [f"{folder}/c\\\\nd.csv", f"{folder}/c\\nd.csv"]
    code, out, err = cli(["predict", tmp_path / "m.npz", folder, "--format", "csv"], capsys)
    assert code == 0 and "\r" not in out  # was: CRLF line ends


def test_the_report_ends_with_a_newline(model_file, data_dir, tmp_path, capsys):
    code, _, err = cli(["evaluate", model_file, data_dir, "--report", tmp_path / "r.json"], capsys)
    assert code == 0, err
    assert (tmp_path / "r.json").read_text().endswith("}\n")


def test_worker_processes_start_with_ctrl_c_ignored():
    """A terminal's Ctrl-C reaches the whole process group: a worker still importing numpy
    printed a KeyboardInterrupt traceback beside "trajhmm: interrupted" (this process stops
    its workers itself). A fresh process, so that no worker is reused from other tests."""
    import subprocess
    import sys

    code = ("import signal; from joblib import delayed; from trajhmm._parallel import launch; "
            "print({h == signal.SIG_IGN for h in launch(2, "
            "(delayed(signal.getsignal)(signal.SIGINT) for _ in range(4)))} == {True}, "
            "signal.getsignal(signal.SIGINT) is signal.default_int_handler)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]  # the workers ignore it, this process does not


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_files_warning_names_it_as_given_and_comes_from_workers_too(fitted, tmp_path, monkeypatch, n_jobs):
    from trajhmm import predict_files

    monkeypatch.chdir(tmp_path)
    (tmp_path / "pf").mkdir()
    (tmp_path / "pf" / "timey.csv").write_text("t,x,y,z\n1,1,1,1\n2,2,2,2\n")
    # was: the absolute path in the warning (the relative one in the error), and with
    # n_jobs=2 the warning printed by the worker process, not raised here
    with (pytest.warns(UserWarning, match=r"^pf/timey\.csv: column 't' looks like time stamps"),
          pytest.raises(DataError, match=r"^pf/timey\.csv: expected 3 dims like the model, got 4")):
        list(predict_files(fitted, ["pf/timey.csv"], n_jobs=n_jobs))


def test_cli_warnings_from_workers_are_one_line(model_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pf").mkdir()
    (tmp_path / "pf" / "timey.csv").write_text("t,x,y,z\n1,1,1,1\n2,2,2,2\n")
    code, out, err = cli(["predict", model_file, "pf", "--n-jobs", "2"], capsys)
    assert code == 1 and out == ""
    assert err.splitlines()[0].startswith("trajhmm: warning: pf/timey.csv: column 't' looks like time stamps")
    assert len(err.splitlines()) == 2


# ---------------------------------------------------------------- found by reviewing the fixes above
def test_blas_limits_that_overlap_leave_the_blas_threads_as_they_were(fitted):  # (fitted: BLAS loaded)
    """Two fits in two threads (a threading backend): the first enters, the second enters,
    the first leaves, the second leaves (here in one thread, in that order)."""
    from threadpoolctl import threadpool_info

    from trajhmm._parallel import one_blas_thread

    def counts():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = counts()
    first, second = one_blas_thread(), one_blas_thread()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    inside = counts()
    second.__exit__(None, None, None)
    assert inside == [1] * len(before)  # limited while a block holds it
    assert counts() == before  # was: 1 thread for the rest of the process (the second restored the first's 1)


def test_a_closed_stderr_keeps_diagnostics_out_of_the_results(model_file, data_dir, tmp_path, monkeypatch):
    import io
    import shutil
    import sys

    from trajhmm.cli import main

    mixed = tmp_path / "mixed"
    shutil.copytree(data_dir, mixed)
    (mixed / "wave" / "bad.csv").write_text("garbage,,x\n")
    monkeypatch.setattr(sys, "stderr", None)  # `2>&-`
    out = io.StringIO()
    assert main(["predict", str(model_file), str(mixed), "--on-invalid", "skip", "--progress"], stdout=out) == 3
    # was: "trajhmm: skipped: ..." and the count among the predictions on stdout (with --progress: exit 1)
    assert len(out.getvalue().splitlines()) == 32 and "trajhmm" not in out.getvalue()
    out = io.StringIO()
    assert main(["predict", str(model_file), str(tmp_path / "nowhere")], stdout=out) == 1
    assert out.getvalue() == ""
    sys.stderr.close()  # (main's stand-in, /dev/null)


@pytest.mark.parametrize("argv", [["evaluate", "{model}", "{data}"], ["info", "{model}"]])
def test_results_for_a_closed_stdout_are_refused(model_file, data_dir, monkeypatch, capsys, argv):
    import sys

    monkeypatch.setattr(sys, "stdout", None)
    code, _, err = cli([a.format(model=model_file, data=data_dir) for a in argv], capsys)
    assert code == 1 and err.startswith("trajhmm: error: standard output is closed: nothing would be written")


def test_a_name_that_is_not_utf8_gets_advice_that_works(tmp_path, capsys):
    from trajhmm.cli import _io_error

    text = "w\udcff.csv"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = _io_error(exc)
    # was: "set PYTHONIOENCODING=utf-8", which the user had
    assert line == ("cannot write '\\udcff', a byte of a file name that is not valid utf-8: set "
                    "PYTHONIOENCODING=utf-8:surrogateescape to write the name's bytes as they are")


def test_a_cache_another_run_removes_meanwhile_is_no_error(tmp_path, monkeypatch):
    import shutil

    from trajhmm import _cache

    for step in ("listing", "tag"):
        cache = _cache.FitCache(tmp_path / step)
        cache.put("a" * 64, {"x": np.arange(3)})
        real = _cache.FitCache._foreign_content

        def other_run_first(self, step=step, real=real):
            reason = real(self)
            if step == "listing":  # the whole folder, after the check
                shutil.rmtree(self.directory)
            return reason

        def tag_gone(self, real=real):
            (self.directory / _cache.CACHEDIR_TAG).unlink(missing_ok=True)  # the other run got that far
            return real(self)

        monkeypatch.setattr(_cache.FitCache, "_foreign_content", other_run_first if step == "listing" else tag_gone)
        cache.remove()  # was: FileNotFoundError (exit 1 after the model was written), or a DataError "not a cache"
        monkeypatch.undo()


def test_the_calibration_error_takes_whole_number_float_indices():
    from trajhmm.calibration import expected_calibration_error

    assert expected_calibration_error(np.array([0.0, 1.0]), [[0.9, 0.1], [0.8, 0.2]]) == pytest.approx(0.45)


def test_other_libraries_deprecation_notices_are_not_the_commands_warnings(model_file, capsys, monkeypatch):
    import warnings

    from trajhmm import cli as cli_module

    real = cli_module._COMMANDS["info"]

    def noisy(args, out):
        for _ in range(3):  # (hmmlearn under numpy 2.5: once per EM iteration)
            warnings.warn_explicit("Setting the shape on a NumPy array has been deprecated", DeprecationWarning,
                                   "hmmlearn/utils.py", 27, module="hmmlearn.utils")
            warnings.warn_explicit("parseString deprecated", FutureWarning, "pyparsing/util.py", 1, module="pyparsing")
        warnings.warn_explicit("a trajhmm notice", FutureWarning, "trajhmm/cli.py", 1, module="trajhmm.cli")
        return real(args, out)

    monkeypatch.setitem(cli_module._COMMANDS, "info", noisy)
    code, out, err = cli(["info", model_file], capsys)
    assert code == 0
    # was: every one of them, each time, as "trajhmm: warning: ..."
    assert [line for line in err.splitlines() if "warning" in line] == ["trajhmm: warning: a trajhmm notice"]

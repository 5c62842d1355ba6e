"""Defects found by the review of the command line, the writers and the loaders: outputs
that would overwrite inputs, non-regular outputs, overflowing inputs, unbounded model-file
parameters, negative lengths, tracebacks instead of one line, and message wording."""

import numpy as np
import pytest

from trajhmm import save_model

from conftest import cli, write_folder


@pytest.fixture
def setup(tmp_path, fitted, dataset):
    """(model path, data folder, one data file) in tmp_path."""
    X, y = dataset
    save_model(fitted, tmp_path / "m.npz")
    paths = write_folder(tmp_path / "d", X[:4] + X[8:12], list(y[:4]) + list(y[8:12]))
    return tmp_path / "m.npz", tmp_path / "d", paths[0]


def _usage_line(code, err, flag):
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"argument {flag}: expected" in err, err


# ------------------------------------------------------------------ 1: an output is an input
@pytest.mark.parametrize("argv, flag", [
    (["predict", "{m}", "{d}", "--output", "{m}"], "--output"),
    (["evaluate", "{m}", "{d}", "--report", "{m}"], "--report"),
    (["train", "{d}", "-o", "{f}", "--no-search"], "-o/--output"),
    (["train", "{d}", "-o", "{d}/new_one.csv", "--no-search"], "-o/--output"),
    (["predict", "{m}", "{f}", "--output", "{link}"], "--output"),
    (["plot", "convergence", "{m}", "-o", "{m}"], "-o/--output"),
])
def test_an_output_that_is_an_input_is_refused(setup, tmp_path, capsys, argv, flag):
    m, d, f = setup
    (tmp_path / "link.csv").symlink_to(f)
    before = {p: p.read_bytes() for p in (m, f)}
    argv = [a.format(m=m, d=d, f=f, link=tmp_path / "link.csv") for a in argv]
    code, out, err = cli(argv, capsys)
    _usage_line(code, err, flag)
    assert {p: p.read_bytes() for p in (m, f)} == before
    assert not (d / "new_one.csv").exists()


def test_an_npz_bundle_is_not_overwritten_by_train(tmp_path, capsys, dataset):
    X, y = dataset
    bundle = tmp_path / "b.npz"
    np.savez(bundle, X=np.concatenate(X), lengths=[len(x) for x in X], y=y)
    before = bundle.read_bytes()
    code, out, err = cli(["train", bundle, "-o", bundle, "--no-search"], capsys)
    _usage_line(code, err, "-o/--output")
    assert bundle.read_bytes() == before


def test_an_output_in_the_data_folder_that_is_not_data_is_allowed(setup, capsys):
    m, d, f = setup
    code, out, err = cli(["predict", m, d, "--output", d / "predictions.json", "--format", "json"], capsys)
    assert code == 0, err
    assert (d / "predictions.json").read_text().count("\n") == 8


@pytest.mark.parametrize("argv, flag", [
    (["train", "{d}", "-o", "", "--no-search"], "-o/--output"),
    (["train", "{d}", "-o", "{tmp}/m2.npz/", "--no-search"], "-o/--output"),
    (["evaluate", "{m}", "{d}", "--report", ""], "--report"),
])
def test_empty_or_folder_like_output_names_are_usage_errors(setup, tmp_path, capsys, argv, flag):
    m, d, f = setup
    code, out, err = cli([a.format(m=m, d=d, tmp=tmp_path) for a in argv], capsys)
    _usage_line(code, err, flag)
    assert ".tmp" not in err and ".cache" not in err


# ------------------------------------------------------------------ 2: outputs that are not regular files
def test_a_fifo_output_is_written_not_replaced(setup, tmp_path, capsys):
    import os
    import threading

    m, d, f = setup
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    code, out, err = cli(["predict", m, f, "--output", fifo], capsys)
    reader.join(10)
    assert code == 0, err
    assert fifo.is_fifo() and got and got[0].startswith(str(f))


def test_a_symlink_output_writes_its_target_and_stays_a_link(setup, tmp_path, capsys):
    from trajhmm.persistence import atomic_write

    m, d, f = setup
    target, link = tmp_path / "target.tsv", tmp_path / "link.tsv"
    target.write_text("old\n")
    link.symlink_to(target)
    code, out, err = cli(["predict", m, f, "--output", link], capsys)
    assert code == 0, err
    assert link.is_symlink() and target.read_text().startswith(str(f))
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "new_target")
    with atomic_write(dangling, "w") as fh:
        fh.write("x")
    assert dangling.is_symlink() and (tmp_path / "new_target").read_text() == "x"


# ------------------------------------------------------------------ 3: values too large or too small
@pytest.mark.parametrize("factor", [1e160, 1e300])
def test_predicting_values_too_large_is_a_data_error_not_nan(fitted, dataset, factor):
    from trajhmm import DataError

    X, y = dataset
    with pytest.raises(DataError, match=r"^X\[1\]: its values are too large"):
        fitted.predict([X[0], X[1] * factor])
    with pytest.raises(DataError, match=r"^X\[0\]: its values are too large"):
        fitted.predict_with_unknown([X[0] * factor])


@pytest.mark.parametrize("factor, word", [(1e200, "large"), (1e-200, "small")])
def test_fitting_values_far_from_1_is_a_clear_data_error(dataset, factor, word):
    import warnings

    from trajhmm import DataError, HMMClassifier

    X, y = dataset
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings on the way
        with pytest.raises(DataError, match=f"^X: the training data's values are too {word}: .*rescale"):
            HMMClassifier(n_states=2, n_points=10, n_iter=5, random_state=0).fit([x * factor for x in X], y)


def test_the_cli_names_the_file_whose_values_are_too_large_and_json_stays_valid(setup, tmp_path, capsys):
    import json

    m, d, f = setup
    huge = tmp_path / "huge.csv"
    np.savetxt(huge, np.loadtxt(f, delimiter=",", skiprows=1) * 1e160, delimiter=",")
    code, out, err = cli(["predict", m, huge, "--proba", "--reject"], capsys)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"trajhmm: error: {huge}: its values are too large"), err
    code, out, err = cli(["predict", m, huge, f, "--format", "json", "--on-invalid", "skip"], capsys)
    assert code == 3 and f"skipped: {huge}: its values are too large" in err
    records = [json.loads(line, parse_constant=pytest.fail) for line in out.splitlines()]
    assert [r["path"] for r in records] == [str(f)]


def test_json_output_has_no_nan_or_infinity_tokens():
    from trajhmm.cli import _json

    assert _json({"margin": float("inf"), "p": [float("nan"), 0.5]}) == '{"margin": null, "p": [null, 0.5]}'


# ------------------------------------------------------------------ 4: model-file parameters are bounded
@pytest.mark.parametrize("params, match", [
    ({"n_points": 10**10}, r"meta.json: params: n_points: expected an integer <= 10000, got 10000000000"),
    ({"n_jobs": 10**9}, r"meta.json: params: n_jobs: expected an integer between -4096 and 4096"),
    ({"n_jobs": 0}, r"meta.json: params: n_jobs"),
])
def test_absurd_parameters_in_a_model_file_are_refused(fitted, tmp_path, params, match):
    from conftest import assert_refused

    path = tmp_path / "m.npz"
    assert_refused(fitted, path, lambda arrays, meta: meta["params"].update(params), f"^{path}: {match}")


def test_a_model_files_n_jobs_is_clamped_to_the_cores_here(fitted, tmp_path):
    from trajhmm import load_model
    from trajhmm._parallel import cores

    from conftest import resign

    path = tmp_path / "m.npz"
    save_model(fitted, path)
    resign(path, lambda arrays, meta: meta["params"].update(n_jobs=4000))
    assert load_model(path).n_jobs == cores()


# ------------------------------------------------------------------ 6: bounds on what sizes memory
@pytest.mark.parametrize("argv, flag", [
    (["train", "{d}", "-o", "{tmp}/p.npz", "--no-search", "--n-points", "10000000000"], "--n-points"),
    (["predict", "{m}", "{d}", "--batch-size", "99999999999999999999"], "--batch-size"),
    (["plot", "convergence", "{m}", "-o", "{tmp}/c.png", "--dpi", "100000"], "--dpi"),
])
def test_values_that_size_memory_have_upper_bounds(setup, tmp_path, capsys, argv, flag):
    m, d, f = setup
    code, out, err = cli([a.format(m=m, d=d, tmp=tmp_path) for a in argv], capsys)
    assert code == 2 and "Traceback" not in err and f"argument {flag}: expected an integer <=" in err, err


def test_out_of_memory_is_one_line(setup, tmp_path, capsys, monkeypatch):
    from trajhmm import HMMClassifier

    m, d, f = setup

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(HMMClassifier, "fit", no_memory)
    code, out, err = cli(["train", d, "-o", tmp_path / "p.npz", "--no-search"], capsys)
    assert code == 1 and err.startswith("trajhmm: error: out of memory") and err.count("\n") == 1, err
    assert not (tmp_path / "p.npz").exists()


def test_a_file_name_that_is_not_utf8_is_written_as_its_bytes(setup, tmp_path, capsys):
    import os
    import shutil

    m, d, f = setup
    folder = tmp_path / "nu"
    folder.mkdir()
    shutil.copy(f, os.path.join(os.fsencode(folder), b"a\xff.csv"))
    code, out, err = cli(["predict", m, folder, "--output", tmp_path / "nu.tsv"], capsys)
    assert code == 0, err
    assert (tmp_path / "nu.tsv").read_bytes().startswith(os.fsencode(folder) + b"/a\xff.csv\t")


# ------------------------------------------------------------------ 5: lengths of an .npz bundle
@pytest.mark.parametrize("lengths, got", [([-5, 25], "-5 at index 0"), ([20, 0], "0 at index 1"),
                                          ([10.5, 9.5], "10.5 at index 0")])
def test_lengths_that_are_not_positive_integers_are_refused(tmp_path, lengths, got):
    from trajhmm import DataError
    from trajhmm.datasets import load_dataset

    path = tmp_path / "b.npz"
    np.savez(path, X=np.random.RandomState(0).rand(20, 3), lengths=np.array(lengths), y=np.array(["a", "b"]))
    with pytest.raises(DataError, match=f"^{path}: lengths: expected positive integers summing to len.X. .20., got {got}$"):
        load_dataset(path)


# ------------------------------------------------------------------ 8: spot names the files, reads like predict
def test_spot_names_the_recording_and_the_model_file(setup, tmp_path, capsys):
    from conftest import as_format, resign

    m, d, f = setup
    rows = np.loadtxt(f, delimiter=",", skiprows=1)
    one = tmp_path / "onecol.csv"
    np.savetxt(one, rows[:, :1], delimiter=",")
    code, out, err = cli(["spot", m, one], capsys)
    assert code == 1 and err.startswith(f"trajhmm: error: {one}: expected one point") and err.count("\n") == 1, err
    old = tmp_path / "old.npz"
    old.write_bytes(m.read_bytes())
    resign(old, as_format(4))
    code, out, err = cli(["spot", old, f], capsys)
    assert code == 1 and err.startswith(f"trajhmm: error: {old}: has no class_length_quantiles_"), err


def test_spot_takes_the_reading_options_its_hints_name(setup, tmp_path, capsys):
    m, d, f = setup
    wide = tmp_path / "wide.tsv"
    rows = np.loadtxt(f, delimiter=",", skiprows=1)
    np.savetxt(wide, np.c_[rows, np.full(len(rows), 7.0)], delimiter="\t")
    code, out, err = cli(["spot", m, wide, "--columns", "0,1,2", "--delimiter", "\t"], capsys)
    assert code == 0, err


# ------------------------------------------------------------------ 9: messages
def test_epoch_time_stamps_are_printed_with_every_digit_and_repeats_are_called_so(tmp_path):
    from trajhmm import DataError, read_trajectory

    path = tmp_path / "t.csv"
    path.write_text("t,x,y\n1700000000.25,0,0\n1700000000.5,1,1\n1700000000.375,2,2\n")
    with pytest.raises(DataError, match=r"got 1700000000\.375 after 1700000000\.5 .*rows are not sorted"):
        read_trajectory(path, time_column="t")
    path.write_text("t,x,y\n0.01,0,0\n0.03,1,1\n0.03,2,2\n")
    with pytest.raises(DataError, match=r"line 4, column 1 \('t'\): .*got 0\.03 again \(line 3\): the time stamp repeats"):
        read_trajectory(path, time_column="t")


def test_table_messages_name_the_id_and_line_in_plain_numbers(tmp_path):
    pytest.importorskip("pandas")
    from trajhmm import DataError
    from trajhmm.tables import load_table

    path = tmp_path / "long.csv"
    path.write_text("id,label,t,x\na,up,0.01,0\na,up,0.03,1\na,up,0.03,2\n")
    with pytest.raises(DataError, match=r"\[id=a\]: line 4: time stamp 0\.03 repeats") as info:
        load_table(path, id_column="id", label_column="label", time_column="t")
    assert "np.float64" not in str(info.value)
    path.write_text("id,label,x\na,up,0\na,up,1\na,down,2\n")
    with pytest.raises(DataError, match=r"\[id=a\]: line 4, column 'label': expected one label per trajectory, "
                                        r"got down after up"):
        load_table(path, id_column="id", label_column="label")


def test_huge_n_jobs_starts_no_more_workers_than_cores_or_tasks(dataset, tmp_path, monkeypatch):
    """joblib starts every worker n_jobs asks for: n_jobs=100000 would start thousands of
    processes. Every joblib call of trajhmm asks for at most the tasks it has and this
    machine's cores; -1 and None keep joblib's meaning."""
    import joblib

    from trajhmm import HMMClassifier, HMMClassifierCV, _parallel, predict_files
    from trajhmm._parallel import bounded_jobs
    from trajhmm._parallel import cores as usable

    cores = usable()
    assert cores == max(1, joblib.cpu_count())  # what joblib may use here (CPU limits respected)
    assert bounded_jobs(100000) == cores and bounded_jobs(100000, 1) == 1 and bounded_jobs(2, 10**6) == min(2, cores)
    assert bounded_jobs(-1, 3) == -1 and bounded_jobs(None, 3) is None and bounded_jobs(5, 0) == 1
    asked = []

    class Recording(joblib.Parallel):
        def __init__(self, n_jobs=None, **kwargs):
            asked.append(n_jobs)
            super().__init__(n_jobs=1, **kwargs)

    monkeypatch.setattr(_parallel, "Parallel", Recording)  # every joblib call of trajhmm is made there
    X, y = dataset
    clf = HMMClassifier(n_states=3, n_iter=3, n_jobs=100000, random_state=0).fit(X, y)
    clf.predict_proba(X * 1)
    write_folder(tmp_path, X[:3], y[:3])
    assert len(list(predict_files(clf, tmp_path, n_jobs=100000))) == 3
    HMMClassifierCV(HMMClassifier(n_iter=3, n_jobs=100000), {"n_states": [2, 3]}, cv=2, n_jobs=100000,
                    random_state=0).fit(X, y)
    asked = [n for n in asked if n is not None]
    assert len(asked) >= 4 and max(asked) <= cores, asked

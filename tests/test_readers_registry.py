"""The reader registry (trajhmm.datasets.FORMATS): every (format, option) pair is either
honoured (with an observable effect) or refused with an error naming the option and the
format; one file check for every reader."""

import inspect
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.io import savemat

from trajhmm import DataError, datasets
from trajhmm.datasets import FOLDER, FORMATS, OPTIONS, load_dataset, load_npz, read_trajectory, read_ts

RNG = np.random.RandomState(0)
X = RNG.randn(20, 3)
TS_HEADER = "@problemName Tiny\n@timeStamps false\n@dimensions 2\n@classLabel true up down\n@data\n"
TS_LINES = ["0,1,2,3:0,1,2,3:up", "0,-1,-2:0,0.5,1:down", "1,2,3:3,2,1:up", "0,0,1:1,1,0:down"]


# ------------------------------------------------------------------ one sample per format
def _text(path, bad=False):
    sep = {".csv": ",", ".tsv": "\t"}.get(path.suffix, " ")
    np.savetxt(path, X, delimiter=sep)


def _npy(path, bad=False):
    np.save(path, X)


def _mat(path, bad=False, two_variables=False):
    savemat(path, {"traj": X, **({"other": X + 1} if two_variables else {})})


def _npz(path, bad=False):
    seqs = [X + i for i in range(6)]
    if bad:
        seqs[2] = seqs[2].copy()
        seqs[2][5, 1] = np.nan
    np.savez(path, X=np.concatenate(seqs), lengths=[len(s) for s in seqs], y=["a", "b"] * 3,
             split=["train", "test", "train", "test", "test", "test"])


def _ts(path, bad=False):
    lines = TS_LINES[:1] + ["0,x,2:0,1,1:down"] + TS_LINES[1:] if bad else TS_LINES
    path.write_text(TS_HEADER + "\n".join(lines) + "\n")


def _folder(path, bad=False, two_variables=False):
    for label in ("a", "b"):
        (path / label).mkdir(parents=True)
        _text(path / label / "1.csv")
        _mat(path / label / "2.mat", two_variables=two_variables)
    if bad:
        (path / "a" / "bad.csv").write_text("1,2,3\n1,x,3\n")


SAMPLES = {**{s: _text for s in (".csv", ".txt", ".tsv", ".dat")},
           ".npy": _npy, ".mat": _mat, ".npz": _npz, ".ts": _ts, "folder": _folder}
REGISTRY = {**FORMATS, "folder": FOLDER}
# A non-default value for each option.
VALUES = {"variable": "traj", "layout": "columns", "split": "train", "on_invalid": "skip", "max_bytes": 8,
          "columns": [0, 2], "time_column": 0, "delimiter": "|", "decimal": ",", "encoding": "utf-16-le",
          "missing": "interpolate", "pattern": "*.mat", "label_level": 2, "header_names": ["a", "b", "c"]}


def _rewrite(key, path, data=X, sep=None, encoding="utf-8", decimal="."):
    """The sample ``key`` at ``path`` (every .csv and .mat file of the folder) holding ``data``."""
    files = [path] if key != "folder" else sorted(path.rglob("*.csv")) + sorted(path.rglob("*.mat"))
    for f in files:
        if f.suffix == ".npy":
            np.save(f, data)
        elif f.suffix == ".mat":
            savemat(f, {"traj": data})
        else:
            sep_f = sep or {".csv": ",", ".tsv": "\t"}.get(f.suffix, " ")
            text = "".join(sep_f.join(f"{v:.17g}".replace(".", decimal) for v in row) + "\n" for row in data)
            f.write_bytes(text.encode(encoding))


def test_every_format_has_a_sample_and_every_option_a_value():
    assert set(SAMPLES) == set(REGISTRY)  # a new format needs a sample here
    assert set(VALUES) == set(OPTIONS)
    assert all(set(f.options) <= set(OPTIONS) for f in REGISTRY.values())
    assert datasets.SUFFIXES == (".csv", ".txt", ".tsv", ".dat", ".npy", ".mat")


def _make(tmp_path, key, option, bad=False):
    path = tmp_path / ("data" if key == "folder" else "data" + key)
    extra = {"two_variables": True} if option == "variable" and key in (".mat", "folder") else {}
    SAMPLES[key](path, bad=bad, **extra)
    return path


def _load(key, path, **options):
    if REGISTRY[key].kind == "trajectory":
        return read_trajectory(path, **options)
    return load_dataset(path, **options)


def _first(result):
    return result if isinstance(result, np.ndarray) else result.trajectories[0]


def _honoured(tmp_path, key, option):
    path = _make(tmp_path, key, option, bad=option == "on_invalid")
    if option == "variable":  # two 2-D variables: the default is ambiguous, the name is not
        with pytest.raises(DataError, match="exactly one 2-D numeric variable"):
            _load(key, path)
        got = _load(key, path, variable="other")
        assert any(np.array_equal(t, X + 1) for t in ([got] if isinstance(got, np.ndarray) else got.trajectories))
    elif option == "layout":
        rows, columns = _first(_load(key, path, layout="rows")), _first(_load(key, path, layout="columns"))
        np.testing.assert_array_equal(columns, rows.T)
    elif option == "split":
        assert len(_load(key, path, split="train")) == 2 < len(_load(key, path))
    elif option == "on_invalid":
        with pytest.raises(DataError):
            _load(key, path)
        ds = _load(key, path, on_invalid="skip")
        assert len(ds.skipped) == 1 and len(ds) >= 2
    elif option == "max_bytes":
        with pytest.raises(DataError, match="larger than the limit of 8 bytes"):
            _load(key, path, max_bytes=8)
    else:
        _honoured_reading(tmp_path, key, path, option)


def _honoured_reading(tmp_path, key, path, option):
    """The reading options of issue "Real data in, as users hold it"."""
    if option == "columns":
        np.testing.assert_array_equal(_first(_load(key, path, columns=[0, 2])), X[:, [0, 2]])
    elif option == "time_column":  # X[:, 0] is not sorted: honoured means checked
        with pytest.raises(DataError, match="time stamps must increase strictly"):
            _load(key, path, time_column=0)
        _rewrite(key, path, np.hstack([np.arange(20.0)[:, None], X]))
        np.testing.assert_array_equal(_first(_load(key, path, time_column=0, columns=[3, 1])),
                                      np.hstack([np.arange(20.0)[:, None], X[:, [2, 0]]]))
    elif option == "encoding" and key == ".ts":  # a file in that encoding: unreadable as UTF-8
        path.write_bytes((TS_HEADER.replace("Tiny", "Caf\u00e9") + "\n".join(TS_LINES) + "\n").encode(VALUES[option]))
        with pytest.raises(DataError, match="encoding="):
            _load(key, path)
        np.testing.assert_array_equal(_first(_load(key, path, encoding=VALUES[option])), [[0, 0], [1, 1], [2, 2], [3, 3]])
    elif option in ("delimiter", "decimal", "encoding"):
        value = VALUES[option]
        write = {"delimiter": {"sep": "|"}, "decimal": {"sep": ";", "decimal": ","}, "encoding": {"encoding": value}}
        _rewrite(key, path, **write[option])
        with pytest.raises(DataError):
            _load(key, path, **{option: {"decimal": "."}.get(option)})
        np.testing.assert_array_equal(_first(_load(key, path, **{option: value})), X)
    elif option == "missing" and key == ".ts":  # the UEA mark of a missing value
        path.write_text(TS_HEADER + "\n".join(["0,?,2,3:0,1,2,3:up", *TS_LINES[1:]]) + "\n")
        with pytest.raises(DataError, match="missing value"):
            _load(key, path)
        np.testing.assert_array_equal(_first(_load(key, path, missing="interpolate")), [[0, 0], [1, 1], [2, 2], [3, 3]])
    elif option == "missing":
        gap = X.copy()
        gap[5, 1] = np.nan
        _rewrite(key, path, gap)
        with pytest.raises(DataError, match="missing value"):
            _load(key, path)
        filled = X.copy()
        filled[5, 1] = (X[4, 1] + X[6, 1]) / 2
        np.testing.assert_allclose(_first(_load(key, path, missing="interpolate")), filled, rtol=1e-15)
    elif option == "pattern":
        assert [Path(p).name for p in _load(key, path, pattern="*.mat").paths] == ["2.mat", "2.mat"]
    elif option == "header_names":  # text files with the columns in another order: read by name
        for f in [path] if key != "folder" else sorted(path.rglob("*.csv")):
            sep = {".csv": ",", ".tsv": "\t"}.get(f.suffix, " ")
            f.write_text(sep.join("cba") + "\n" + "".join(sep.join(f"{v:.17g}" for v in row) + "\n" for row in X[:, ::-1]))
        assert not np.array_equal(_first(_load(key, path)), X)
        got = _load(key, path, header_names=["a", "b", "c"])
        assert all(np.array_equal(t, X) for t in ([got] if isinstance(got, np.ndarray) else got.trajectories))
    elif option == "label_level":  # data/a/1.csv is one folder down: no label at level 2
        with pytest.raises(DataError, match=r"a/1\.csv: expected a file at least 2 folders below .*label_level=2"):
            _load(key, path, label_level=2)
    else:  # pragma: no cover - a new option needs its check here
        raise AssertionError(f"no check for option {option!r}")


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("key", list(REGISTRY))
def test_every_option_is_honoured_or_refused(tmp_path, key, option):
    fmt = REGISTRY[key]
    if option in fmt.options:
        _honoured(tmp_path, key, option)
        return
    path = _make(tmp_path, key, option)
    loader = read_trajectory if fmt.kind == "trajectory" else load_dataset
    if option not in inspect.signature(loader).parameters and loader is read_trajectory:
        with pytest.raises(TypeError, match=option):  # a single file has no such option
            _load(key, path, **{option: VALUES[option]})
        return
    flag = "" if option == "header_names" else f" \\(--{option.replace('_', '-')}\\)"  # a model's option: no flag
    with pytest.raises(DataError, match=f"{option}={flag} applies to .* only, got {fmt.what}") as info:
        _load(key, path, **{option: VALUES[option]})
    assert str(path) in str(info.value)


def test_the_refusal_names_who_uses_the_option(tmp_path):
    _ts(tmp_path / "t.ts")
    with pytest.raises(DataError, match=r"t\.ts: variable= \(--variable\) applies to \.mat files and folder trees only, "
                                        r"got a \.ts file"):
        load_dataset(tmp_path / "t.ts", variable="traj")
    with pytest.raises(DataError, match=r"split= \(--split\) applies to \.npz bundles only, got a \.ts file"):
        load_dataset(tmp_path / "t.ts", split="train")
    with pytest.raises(DataError, match=r"split= \(--split\) applies to \.npz bundles only, got a folder tree"):
        load_dataset(tmp_path, split="train")
    with pytest.raises(TypeError, match="colour"):
        load_dataset(tmp_path / "t.ts", colour="red")
    with pytest.raises(ValueError, match="on_invalid"):
        load_dataset(tmp_path / "t.ts", on_invalid="ignore")


# ------------------------------------------------------------------------ .ts options
def test_ts_on_invalid_skip_records_the_line(tmp_path, caplog):
    p = tmp_path / "t.ts"
    _ts(p, bad=True)  # line 7: "0,x,2:..."
    with pytest.raises(DataError, match=r"t\.ts: line 7: expected a number, got 'x'"):
        read_ts(p)
    ds = read_ts(p, on_invalid="skip")
    assert ds.labels == ["up", "down", "up", "down"]
    assert ds.paths == [f"{p}:6", f"{p}:8", f"{p}:9", f"{p}:10"]
    assert ds.skipped == [(f"{p}:7", f"{p}: line 7: expected a number, got 'x'")]
    assert "line 7" in caplog.text
    assert len(load_dataset(p, on_invalid="skip")) == 4


def test_ts_lines_with_other_dims_follow_on_invalid(tmp_path):
    p = tmp_path / "t.ts"
    p.write_text(TS_HEADER + "\n".join(TS_LINES + ["1,2,3:up"]) + "\n")  # line 10: 1 dim
    with pytest.raises(DataError, match=rf"{p}: line 10: expected 2 dimensions \(@dimensions 2\), got 1"):
        read_ts(p)
    ds = read_ts(p, on_invalid="skip")
    assert len(ds) == 4 and [name for name, _ in ds.skipped] == [f"{p}:10"]


def test_ts_header_problems_are_errors_even_when_skipping(tmp_path):
    p = tmp_path / "t.ts"
    p.write_text(TS_HEADER.replace("@timeStamps false", "@timeStamps true") + TS_LINES[0])
    with pytest.raises(DataError, match="time-stamped"):
        read_ts(p, on_invalid="skip")
    p.write_text(TS_HEADER)
    with pytest.raises(DataError, match="no data lines after @data"):
        read_ts(p, on_invalid="skip")
    p.write_text(TS_HEADER + "0,x:1,1:up\n")
    with pytest.raises(DataError, match=r"t\.ts: no readable trajectories \(1 skipped\)"):
        read_ts(p, on_invalid="skip")


def test_npz_on_invalid_skip_records_the_item(tmp_path):
    p = tmp_path / "b.npz"
    _npz(p, bad=True)
    with pytest.raises(DataError, match=rf"{p}\[2\]"):
        load_npz(p)
    ds = load_npz(p, on_invalid="skip")
    assert len(ds) == 5 and ds.skipped[0][0] == f"{p}[2]"
    assert len(load_npz(p, split="train", on_invalid="skip")) == 1


def test_folder_variable_applies_to_its_mat_files_only(tmp_path):
    _folder(tmp_path / "d", two_variables=True)
    ds = load_dataset(tmp_path / "d", variable="other")
    assert [Path(p).name for p in ds.paths] == ["1.csv", "2.mat", "1.csv", "2.mat"]
    np.testing.assert_array_equal(ds.trajectories[1], X + 1)
    for p in (tmp_path / "d").rglob("*.mat"):
        p.unlink()
    with pytest.raises(DataError, match=r"variable= \(--variable\) applies to .mat files, and this folder tree holds none"):
        load_dataset(tmp_path / "d", variable="other")
    assert datasets.options_for("a.csv", variable="v", layout="columns") == {"layout": "columns"}
    assert datasets.options_for("a.mat", variable="v", layout="auto") == {"variable": "v"}


# -------------------------------------------------------------------- one file check
LOADERS = {
    "read_trajectory": (read_trajectory, ".csv"),
    "read_ts": (read_ts, ".ts"),
    "load_npz": (load_npz, ".npz"),
    "load_dataset .ts": (load_dataset, ".ts"),
    "load_dataset .npz": (load_dataset, ".npz"),
}


@pytest.mark.parametrize("name", list(LOADERS))
def test_one_file_check_for_every_reader(tmp_path, name):
    loader, suffix = LOADERS[name]
    missing = tmp_path / ("missing" + suffix)
    with pytest.raises(DataError, match=rf"{missing}: no such file"):
        loader(missing)
    folder = tmp_path / ("folder" + suffix)
    folder.mkdir()
    if loader is not load_dataset:  # for load_dataset, a directory is a folder tree
        with pytest.raises(DataError, match=rf"{folder}: expected an? \S+ \w+, got a directory"):
            loader(folder)
    empty = tmp_path / ("empty" + suffix)
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=rf"{empty}: empty file"):
        loader(empty)
    big = tmp_path / ("big" + suffix)
    SAMPLES[suffix](big)
    with pytest.raises(DataError, match=rf"{big}: file is \d+ bytes, larger than the limit of 8 bytes"):
        loader(big, max_bytes=8)


def _open_denying(path, real_open=open):
    """An open() that refuses ``path`` as file permissions would (the tests may run as root)."""

    def patched(file, *args, **kwargs):
        if Path(file) != path:
            return real_open(file, *args, **kwargs)
        raise PermissionError(13, "Permission denied", str(path))

    return patched


@pytest.mark.parametrize("suffix", [".csv", ".ts", ".npz"])
def test_an_unreadable_file_names_itself(tmp_path, monkeypatch, suffix):
    path = tmp_path / ("locked" + suffix)
    SAMPLES[suffix](path)
    monkeypatch.setattr("builtins.open", _open_denying(path))
    loader = read_trajectory if suffix == ".csv" else load_dataset
    with pytest.raises(DataError, match=rf"{path}: cannot read file \(Permission denied\)"):
        loader(path)


# ------------------------------------------------------------------------------- fuzz
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".ts", ".npz"]),
       on_invalid=st.sampled_from(["error", "skip"]))
def test_fuzz_data_set_files_raise_only_data_errors(tmp_path_factory, data, suffix, on_invalid):
    path = tmp_path_factory.mktemp("fuzz") / ("f" + suffix)
    path.write_bytes(data)
    try:
        ds = load_dataset(path, on_invalid=on_invalid)
    except DataError as exc:
        assert str(path) in str(exc)
    else:
        assert len(ds) >= 1 and all(np.isfinite(t).all() and len(t) >= 2 for t in ds.trajectories)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 400), junk=st.text(max_size=20))
def test_fuzz_mutated_ts_files(tmp_path_factory, cut, junk):
    """A valid .ts file with text inserted anywhere: a DataError naming it, or a data set."""
    path = tmp_path_factory.mktemp("ts") / "t.ts"
    text = TS_HEADER + "\n".join(TS_LINES) + "\n"
    path.write_text(text[:cut] + junk + text[cut:])
    for on_invalid in ("error", "skip"):
        try:
            ds = read_ts(path, on_invalid=on_invalid)
        except DataError as exc:
            assert str(path) in str(exc)
        else:
            assert len(ds) + len(ds.skipped) >= 1

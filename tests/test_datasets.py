from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from trajhmm import DataError, load_trajectories, read_trajectory
from trajhmm.datasets import load_dataset

from conftest import BAD_FILES


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "name, text",
    [
        ("a.csv", "x,y,z\n1,2,3\n4,5,6\n0,0,0\n"),
        ("b.csv", "1,2,3\n4,5,6\n0,0,0\n"),
        ("c.csv", "x;y;z\n1;2;3\n4;5;6\n0;0;0\n"),
        ("d.txt", "1 2 3\n4  5 6\n0 0 0\n"),
        ("e.tsv", "x\ty\tz\n1\t2\t3\n4\t5\t6\n0\t0\t0\n"),
        ("f.csv", "\ufeff# comment\n1, 2, 3\r\n4, 5, 6\r\n\r\n0, 0, 0\r\n"),
    ],
)
def test_read_text_formats(tmp_path, name, text):
    arr = read_trajectory(_write(tmp_path / name, text))
    np.testing.assert_array_equal(arr, [[1, 2, 3], [4, 5, 6], [0, 0, 0]])


def test_read_npy_and_mat(tmp_path):
    x = np.arange(120, dtype=float).reshape(40, 3)
    np.save(tmp_path / "t.npy", x)
    np.testing.assert_array_equal(read_trajectory(tmp_path / "t.npy"), x)
    savemat(tmp_path / "one.mat", {"traj": x})
    np.testing.assert_array_equal(read_trajectory(tmp_path / "one.mat"), x)
    # MATLAB habit: 3 x n, one column per time point -> transposed
    savemat(tmp_path / "wide.mat", {"traj": x.T})
    np.testing.assert_array_equal(read_trajectory(tmp_path / "wide.mat"), x)
    savemat(tmp_path / "two.mat", {"a": x, "b": x + 1, "label": "foo"})
    with pytest.raises(DataError, match=r"two\.mat.*exactly one 2-D numeric variable.*a \(40, 3\)"):
        read_trajectory(tmp_path / "two.mat")
    np.testing.assert_array_equal(read_trajectory(tmp_path / "two.mat", variable="b"), x + 1)
    with pytest.raises(DataError, match="expected a numeric variable 'c'"):
        read_trajectory(tmp_path / "two.mat", variable="c")
    np.testing.assert_array_equal(read_trajectory(tmp_path / "wide.mat", layout="rows"), x.T)


def _murphy_mat(path, n=6):
    """A .mat file as a user of Murphy's toolbox holds it: a cell array data{i} of dims x time
    trajectories, a cell array of label names, a 3-D array and a struct."""
    rng = np.random.default_rng(0)
    data, labels = np.empty((1, n), dtype=object), np.empty((1, n), dtype=object)
    for i in range(n):
        data[0, i] = rng.normal(size=(3, 30 + i)) + (i % 2) * np.linspace(0, 5, 30 + i)
        labels[0, i] = "ab"[i % 2]
    savemat(path, {"data": data, "labels": labels, "A": rng.normal(size=(30, 3, 4)), "s": {"x": 1}})
    return path


def test_mat_file_of_many_trajectories_names_what_it_holds(tmp_path):
    path = _murphy_mat(tmp_path / "data.mat")
    with pytest.raises(DataError, match=r"data\.mat: expected exactly one 2-D numeric variable, found 0 \(none\).*"
                       r"other variables: data \(a cell array \(1, 6\)\), labels \(a cell array \(1, 6\)\), "
                       r"s \(a struct \(1, 1\)\), A \(a 3-D numeric array \(30, 3, 4\)\).*Murphy"):
        read_trajectory(path)
    with pytest.raises(DataError, match=r"variable 'data' is a cell array \(1, 6\), expected a 2-D numeric.*\.npz"):
        read_trajectory(path, variable="data")
    with pytest.raises(DataError, match=r"variable 'A' has shape \(30, 3, 4\), expected a 2-D array.*Murphy"):
        read_trajectory(path, variable="A")
    with pytest.raises(DataError, match=r"expected a numeric variable 'x', found numeric variables: A; other "
                       r"variables: data \(a cell array"):
        read_trajectory(path, variable="x")
    with pytest.raises(DataError, match=r"a file of one trajectory \(a \.mat file\).*Murphy"):
        load_trajectories(path)


def test_a_sparse_mat_variable_is_named_with_its_shape(tmp_path):
    from scipy.sparse import csc_matrix

    savemat(tmp_path / "s.mat", {"X": csc_matrix(np.eye(40, 3))})
    with pytest.raises(DataError, match=r"other variables: X \(a sparse matrix \(40, 3\)\)"):
        read_trajectory(tmp_path / "s.mat")
    with pytest.raises(DataError, match=r"variable 'X' is a sparse matrix \(40, 3\).*save it as a full matrix"):
        read_trajectory(tmp_path / "s.mat", variable="X")


def test_readme_converts_a_murphy_mat_file(tmp_path, monkeypatch):
    """The README's conversion of a cell-array .mat file to an .npz bundle runs, and the
    bundle reads back as the same trajectories (time x dims) and labels."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## For users of Murphy's HMM toolbox")[1]
    code = section.split("```python\n")[1].split("```")[0]
    _murphy_mat(tmp_path / "data.mat")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    ds = load_dataset(tmp_path / "data.npz")
    assert list(ds.labels) == list("ababab")
    assert [t.shape for t in ds.trajectories] == [(30 + i, 3) for i in range(6)]
    # the toolbox's 3-D layout data(:,t,ex), dims x time x trajectories
    three_d = next(line for line in section.splitlines() if "np.moveaxis" in line)
    data = np.random.default_rng(0).normal(size=(3, 30, 4))
    seqs = eval(three_d.split("becomes `")[1].split("seqs = ")[1].rstrip("`."), {"np": np, "data": data})
    assert [s.shape for s in seqs] == [(30, 3)] * 4 and np.array_equal(seqs[1], data[:, :, 1].T)


def test_object_npy_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"o\.npy"):
        read_trajectory(tmp_path / "o.npy")




@pytest.mark.parametrize("name, text, message", BAD_FILES)
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, text, message):
    path = _write(tmp_path / name, text)
    with pytest.raises(DataError, match=message) as info:
        read_trajectory(path)
    assert str(path) in str(info.value)


def test_directory_and_missing_and_huge(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataError, match="got a directory"):
        read_trajectory(tmp_path / "d.csv")
    with pytest.raises(DataError, match="no such file"):
        read_trajectory(tmp_path / "missing.csv")
    big = _write(tmp_path / "big.csv", "1,2,3\n" * 1000)
    with pytest.raises(DataError, match="larger than the limit"):
        read_trajectory(big, max_bytes=100)


def _tree(root, spec):
    for rel, text in spec.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


GOOD = "1,2,3\n4,5,6\n0,0,0\n"


def test_load_trajectories_order_labels_hidden(tmp_path):
    _tree(tmp_path, {
        "b/2.csv": GOOD, "b/1.csv": GOOD, "a/x.txt": "1 2 3\n0 0 0\n",
        "a/.hidden.csv": "garbage", ".git/config": "x", "b/sub/3.csv": GOOD,
    })
    ds = load_trajectories(tmp_path)
    assert ds.labels == ["a", "b", "b", "b"]
    assert [p.split(str(tmp_path))[1] for p in ds.paths] == ["/a/x.txt", "/b/1.csv", "/b/2.csv", "/b/sub/3.csv"]
    assert len(ds) == 4 and ds.skipped == []


def test_load_trajectories_errors(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        load_trajectories(tmp_path / "nope")
    _tree(tmp_path, {"f.csv": GOOD})
    with pytest.raises(DataError, match=r"expected a directory of class folders \(DATA/<label>/<files>\), got a file "
                                        r"of one trajectory \(a \.csv file\); labelled data in one file is an \.npz "
                                        r"bundle \(X, lengths, y\), a \.ts file or a long table"):
        load_trajectories(tmp_path / "f.csv")
    (tmp_path / "f.csv").unlink()
    with pytest.raises(DataError, match="expected class folders"):
        load_trajectories(tmp_path)
    _tree(tmp_path, {"a/1.csv": GOOD})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty.*empty class folder"):
        load_trajectories(tmp_path)


def test_load_trajectories_dims_mismatch_and_skip_mode(tmp_path):
    _tree(tmp_path, {
        "a/1.csv": GOOD, "a/2.csv": GOOD, "a/bad.csv": "1,2,3\n1,x,3\n",
        "b/1.csv": GOOD, "b/flat.csv": "1,2\n3,4\n0,0\n",
    })
    with pytest.raises(DataError, match=r"a/bad\.csv: line 2, column 2"):
        load_trajectories(tmp_path)
    (tmp_path / "a/bad.csv").unlink()
    with pytest.raises(DataError, match=r"b/flat\.csv: expected 3 dims like .*a/1\.csv, got 2"):
        load_trajectories(tmp_path)
    (tmp_path / "a/bad.csv").write_text("1,2,3\n1,x,3\n")
    ds = load_trajectories(tmp_path, on_invalid="skip")
    assert len(ds) == 3
    reasons = dict(ds.skipped)
    assert set(reasons) == {str(tmp_path / "a/bad.csv"), str(tmp_path / "b/flat.csv")}
    assert "column 2" in reasons[str(tmp_path / "a/bad.csv")]
    with pytest.raises(ValueError, match="on_invalid"):
        load_trajectories(tmp_path, on_invalid="ignore")

"""Reading trajectories: one file (:func:`read_trajectory`) or a labelled folder tree
(:func:`load_trajectories`).

Every reader returns a float array of shape (n_points, n_dims): one row per time point.
Every problem raises :class:`~trajhmm.exceptions.DataError` naming the file (and the line
and column for text files).
"""

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._validation import check_choice, check_trajectory
from .exceptions import DataError

__all__ = [
    "SUFFIXES",
    "TrajectoryDataset",
    "read_trajectory",
    "load_trajectories",
    "list_trajectory_files",
    "iter_trajectory_files",
    "read_ts",
    "load_npz",
    "load_dataset",
]

logger = logging.getLogger(__name__)

#: File suffixes :func:`read_trajectory` understands (lower case).
SUFFIXES = (".csv", ".txt", ".tsv", ".dat", ".npy", ".mat")

#: Default cap on the size of one trajectory file; a larger file is refused unread.
MAX_BYTES = 256 * 2**20

_ON_INVALID = ("error", "skip")
# "auto" layout: an array with 2.._MAX_WIDE_ROWS rows and more columns than that is
# column-per-time.
_MAX_WIDE_ROWS = 16


def read_trajectory(path, *, variable=None, layout="auto", max_bytes=MAX_BYTES):
    """Read one trajectory file as a float array of shape (n_points, n_dims).

    Parameters
    ----------
    path : str or Path
        A ``.csv`` file (comma or semicolon separated, with or without one header row),
        a ``.txt``/``.tsv``/``.dat`` file (whitespace or tab separated), a ``.npy`` file
        (read without pickle) or a MATLAB ``.mat`` file (v4 to v7.2, via scipy.io).
    variable : str, optional
        For ``.mat`` files: the variable to read. By default the file must hold exactly one
        2-D numeric variable.
    layout : {"auto", "rows", "columns"}, default="auto"
        How time is laid out. "rows": one row per time point. "columns": one column per
        time point (MATLAB's habit of storing a 3 x n array); the array is transposed.
        "auto": rows, unless the array has 2 to 16 rows and more than 16 columns (the
        shape of a 3 x 501 MATLAB array): then it is taken as column-per-time and
        transposed. Small ambiguous arrays (a 2 x 3 file) are read as rows; pass
        ``layout="columns"`` for short column-per-time trajectories.
    max_bytes : int, default=256 MiB
        Files larger than this are refused without being read.

    Returns
    -------
    trajectory : ndarray of shape (n_points, n_dims)

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "t.csv")
    >>> _ = open(p, "w").write("x,y,z\\n1,2,3\\n4,5,6\\n0,0,0\\n")
    >>> read_trajectory(p).shape
    (3, 3)
    """
    check_choice(layout, "layout", ("auto", "rows", "columns"))
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: expected a trajectory file, got a directory")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"{path}: unknown file type {path.suffix!r}; expected one of {', '.join(SUFFIXES)}"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if size > max_bytes:
        raise DataError(f"{path}: file is {size} bytes, larger than the limit of {max_bytes} bytes")
    if size == 0:
        raise DataError(f"{path}: empty file")
    try:
        if suffix == ".npy":
            arr = _read_npy(path)
        elif suffix == ".mat":
            arr = _read_mat(path, variable)
        else:
            arr = _read_text(path, suffix)
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if arr.ndim == 1:
        # A single column is a 1-D trajectory; a single row of a text file is ambiguous
        # and is rejected by check_trajectory below (fewer than 2 points).
        arr = arr[:, None]
    wide = arr.ndim == 2 and 2 <= arr.shape[0] <= _MAX_WIDE_ROWS < arr.shape[1]
    if arr.ndim == 2 and (layout == "columns" or (layout == "auto" and wide)):
        arr = arr.T
    return check_trajectory(arr, name=str(path))


def _read_npy(path):
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{path}: not a numeric .npy array ({exc})") from None
    except Exception as exc:  # numpy raises several types for corrupt headers
        raise DataError(f"{path}: not a valid .npy file ({exc})") from None
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        raise DataError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise DataError(f"{path}: expected a 2-D array (n_points, n_dims), got shape {arr.shape}")
    return arr.astype(float)


def _read_mat(path, variable):
    from . import _matreader  # scipy parses in a guarded child process: a hostile file cannot crash us

    arrays = _matreader.load_numeric_variables(path)
    if variable is not None:
        if variable not in arrays:
            found = ", ".join(sorted(arrays)) or "none"
            raise DataError(
                f"{path}: expected a numeric variable {variable!r}, found numeric variables: {found}"
            )
        arr = arrays[variable]
    else:
        two_d = {k: v for k, v in arrays.items() if v.ndim == 2 and min(v.shape) >= 1 and v.size > 1}
        if len(two_d) != 1:
            found = ", ".join(f"{k} {v.shape}" for k, v in sorted(two_d.items())) or "none"
            raise DataError(
                f"{path}: expected exactly one 2-D numeric variable, found {len(two_d)} ({found}); "
                "name the one to read (variable=... / --variable)"
            )
        arr = next(iter(two_d.values()))
    if arr.ndim != 2:
        raise DataError(f"{path}: variable has shape {arr.shape}, expected a 2-D array")
    if np.iscomplexobj(arr):
        raise DataError(f"{path}: expected real numbers, got a complex array")
    return arr.astype(float)


_SPLIT = {
    ",": re.compile(r"\s*,\s*"),
    ";": re.compile(r"\s*;\s*"),
    "\t": re.compile(r"\s*\t\s*"),
    None: re.compile(r"\s+"),
}


def _detect_delimiter(line, suffix):
    if suffix == ".csv":
        return ";" if line.count(";") > line.count(",") else ","
    if "\t" in line.strip():
        return "\t"
    if "," in line:
        return ","
    if ";" in line:
        return ";"
    return None


def _read_text(path, suffix):
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except IsADirectoryError:
        raise DataError(f"{path}: expected a trajectory file, got a directory") from None
    if b"\x00" in raw:
        raise DataError(f"{path}: binary content in a text file (a NUL byte)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{path}: empty file (no data lines)")
    delimiter = _detect_delimiter(lines[0][1], suffix)
    split = _SPLIT[delimiter]

    def cells(line):
        return split.split(line.strip())

    first_no, first = lines[0]
    has_header = False
    try:
        [float(c) for c in cells(first)]
    except ValueError:
        has_header = True
    if has_header:
        lines = lines[1:]
        if not lines:
            raise DataError(f"{path}: header only (line {first_no}), no data rows")
    n_cols = None
    rows = []
    for line_no, line in lines:
        parts = cells(line)
        if n_cols is None:
            n_cols = len(parts)
        elif len(parts) != n_cols:
            raise DataError(
                f"{path}: line {line_no}: expected {n_cols} columns like the first data row, "
                f"got {len(parts)}"
            )
        try:
            rows.append([float(c) for c in parts])
        except ValueError:
            for col, c in enumerate(parts):
                try:
                    float(c)
                except ValueError:
                    raise DataError(
                        f"{path}: line {line_no}, column {col + 1}: expected a number, got {c!r}"
                    ) from None
    arr = np.asarray(rows, dtype=float)
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(
            f"{path}: line {lines[r][0]}, column {c + 1}: expected a finite number, got {arr[r, c]}"
        )
    return arr


@dataclass
class TrajectoryDataset:
    """Trajectories read from a folder tree, in a deterministic order.

    Attributes
    ----------
    trajectories : list of ndarray, each (n_points_i, n_dims)
    labels : list of str
        The class folder each trajectory came from.
    paths : list of str
    skipped : list of (str, str)
        ``(path, reason)`` for each file left out with ``on_invalid="skip"``.
    """

    trajectories: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    paths: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def __len__(self):
        return len(self.trajectories)


def _visible_sorted(entries):
    return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def list_trajectory_files(paths):
    """Expand files and folders into a sorted list of trajectory file paths.

    Folders are walked recursively; hidden files and folders (names starting with ".")
    are ignored. A path that does not exist raises :class:`DataError`.
    """
    return list(iter_trajectory_files(paths))


def iter_trajectory_files(paths):
    """Like :func:`list_trajectory_files`, lazily: one folder listed at a time, so a
    stream over many files never holds more than one folder's names."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    for p in paths:  # every argument checked before the first file is yielded
        if not p.exists():
            raise DataError(f"{p}: no such file or directory")
    for p in paths:
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for f in sorted(filenames):
                    if not f.startswith("."):
                        yield str(Path(dirpath) / f)
        else:
            yield str(p)


def load_trajectories(root, *, on_invalid="error", variable=None, layout="auto", max_bytes=MAX_BYTES):
    """Read a labelled folder tree ``root/<label>/<trajectory file>``.

    Class folders and files are read in sorted order; hidden entries (starting with ".")
    are ignored. Files directly inside ``root`` are not allowed (each file must be in a
    class folder).

    Parameters
    ----------
    root : str or Path
    on_invalid : {"error", "skip"}, default="error"
        "error": the first unreadable or malformed file raises :class:`DataError` naming it.
        "skip": such files are left out and listed in ``dataset.skipped`` with the reason
        (and logged as warnings); files whose number of dims differs from the majority are
        skipped too.
    variable, layout, max_bytes
        Passed to :func:`read_trajectory`.

    Returns
    -------
    TrajectoryDataset
    """
    check_choice(on_invalid, "on_invalid", _ON_INVALID)
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such directory")
    if not root.is_dir():
        raise DataError(f"{root}: expected a directory of class folders, got a file")
    entries = _visible_sorted(root.iterdir())
    stray = [e for e in entries if not e.is_dir()]
    classes = [e for e in entries if e.is_dir()]
    ds = TrajectoryDataset()
    if stray:
        msg = f"{stray[0]}: expected only class folders in {root}, got a file"
        if on_invalid == "error":
            raise DataError(msg)
        ds.skipped.extend((str(e), "not inside a class folder") for e in stray)
    if not classes:
        raise DataError(f"{root}: expected class folders (one per label), found none")
    for cls in classes:
        files = list_trajectory_files(cls)
        if not files:
            raise DataError(f"{cls}: empty class folder (no trajectory files)")
        for f in files:
            try:
                arr = read_trajectory(f, variable=variable, layout=layout, max_bytes=max_bytes)
            except DataError as exc:
                if on_invalid == "error":
                    raise
                ds.skipped.append((f, str(exc)))
                continue
            ds.trajectories.append(arr)
            ds.labels.append(cls.name)
            ds.paths.append(f)
    _check_consistent_dims(ds, on_invalid)
    for path, reason in ds.skipped:
        logger.warning("skipped %s", reason if reason.startswith(path) else f"{path}: {reason}")
    if not ds.trajectories:
        raise DataError(f"{root}: no readable trajectory files ({len(ds.skipped)} skipped)")
    for cls in classes:
        if cls.name not in ds.labels:
            raise DataError(f"{cls}: every file in this class folder was skipped as invalid")
    return ds


def _check_consistent_dims(ds, on_invalid):
    if not ds.trajectories:
        return
    dims = np.array([t.shape[1] for t in ds.trajectories])
    values, counts = np.unique(dims, return_counts=True)
    if len(values) == 1:
        return
    if on_invalid == "error":
        first = ds.trajectories[0].shape[1]
        i = int(np.argmax(dims != first))
        raise DataError(
            f"{ds.paths[i]}: expected {first} dims like {ds.paths[0]}, got {dims[i]}"
        )
    majority = values[np.argmax(counts)]
    keep = dims == majority
    for i in np.flatnonzero(~keep):
        ds.skipped.append((ds.paths[i], f"{ds.paths[i]}: expected {majority} dims like the majority, got {dims[i]}"))
    ds.trajectories = [t for t, k in zip(ds.trajectories, keep) if k]
    ds.labels = [t for t, k in zip(ds.labels, keep) if k]
    ds.paths = [t for t, k in zip(ds.paths, keep) if k]


def read_ts(path, *, max_bytes=1 << 30):
    """Read a labelled UEA / sktime ``.ts`` file (the format of the public time-series
    classification archives, e.g. JapaneseVowels_TRAIN.ts shipped in the aeon wheel).

    Each data line holds the dimensions separated by ``:``, the values of one dimension
    separated by ``,``, and the class label last. Returns a :class:`TrajectoryDataset`
    whose trajectories are (n_points, n_dims) arrays and whose paths are ``file:line``.
    Time-stamped and unlabelled files are refused with a clear error.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such .ts file" if not path.exists() else f"{path}: expected a .ts file, got a directory")
    if path.stat().st_size > max_bytes:
        raise DataError(f"{path}: file is larger than the limit of {max_bytes} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read .ts file ({exc})") from None
    ds = TrajectoryDataset()
    header, in_data, labelled = {}, False, False
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataError(f"{path}: line {line_no}: expected a @header or @data, got {line[:40]!r}")
            key, _, value = line[1:].partition(" ")
            key = key.lower()
            header[key] = value.strip()
            if key == "timestamps" and value.strip().lower() == "true":
                raise DataError(f"{path}: time-stamped .ts files are not supported")
            if key == "classlabel":
                labelled = value.strip().lower().startswith("true")
            if key == "data":
                in_data = True
                if not labelled:
                    raise DataError(f"{path}: expected a labelled file (@classLabel true ...)")
            continue
        *dims, label = line.split(":")
        if not dims:
            raise DataError(f"{path}: line {line_no}: expected dimensions separated by ':' and a label")
        try:
            cols = [np.array([float(v) for v in d.split(",")]) for d in dims]
        except ValueError:
            bad = next(v for d in dims for v in d.split(",") if not _is_float(v))
            raise DataError(f"{path}: line {line_no}: expected a number, got {bad!r}") from None
        if len({len(c) for c in cols}) != 1:
            raise DataError(f"{path}: line {line_no}: dimensions have different lengths {[len(c) for c in cols]}")
        name = f"{path}:{line_no}"
        ds.trajectories.append(check_trajectory(np.stack(cols, axis=1), name=name))
        ds.labels.append(label.strip())
        ds.paths.append(name)
    if not ds.trajectories:
        raise DataError(f"{path}: no data lines after @data")
    return ds


def _is_float(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def load_npz(path, *, split=None):
    """Read a trajectory bundle: an .npz with ``X`` (all points stacked), ``lengths``, ``y``
    and optionally ``split`` (like ../shared/data/character_trajectories.npz). Read without
    pickle. ``split`` selects the rows whose ``split`` value equals it.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:
        raise DataError(f"{path}: not a readable .npz bundle ({type(exc).__name__}: {exc})") from None
    missing = [k for k in ("X", "lengths", "y") if k not in arrays]
    if missing:
        raise DataError(f"{path}: expected arrays X, lengths and y, missing {', '.join(missing)}")
    X, lengths, y = arrays["X"], arrays["lengths"], arrays["y"]
    if X.ndim != 2 or lengths.ndim != 1 or lengths.sum() != len(X) or len(y) != len(lengths):
        raise DataError(
            f"{path}: expected X (n_points_total, n_dims), lengths summing to len(X) and one y per "
            f"length; got X {X.shape}, sum(lengths) {lengths.sum()}, {len(y)} labels for {len(lengths)} lengths"
        )
    keep = np.ones(len(y), bool)
    if split is not None:
        if "split" not in arrays:
            raise DataError(f"{path}: has no 'split' array to select {split!r} from")
        keep = arrays["split"] == split
        if not keep.any():
            raise DataError(f"{path}: no rows with split == {split!r} (found {sorted(set(arrays['split'].tolist()))})")
    ds = TrajectoryDataset()
    for i, seq in enumerate(np.split(X, np.cumsum(lengths)[:-1])):
        if keep[i]:
            name = f"{path}[{i}]"
            ds.trajectories.append(check_trajectory(seq, name=name))
            ds.labels.append(str(y[i]))
            ds.paths.append(name)
    return ds


def load_dataset(path, *, split=None, **kwargs):
    """A labelled data set from a folder tree (:func:`load_trajectories`), an .npz bundle
    (:func:`load_npz`) or a .ts file (:func:`read_ts`)."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() == ".npz":
        return load_npz(p, split=split)
    if p.is_file() and p.suffix.lower() == ".ts":
        return read_ts(p)
    if split is not None:
        raise DataError(f"{p}: split= applies to .npz bundles only")
    return load_trajectories(p, **kwargs)

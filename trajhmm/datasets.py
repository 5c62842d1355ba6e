"""Reading trajectories: one file (:func:`read_trajectory`), a labelled folder tree
(:func:`load_trajectories`), a UEA ``.ts`` file (:func:`read_ts`) or an ``.npz`` bundle
(:func:`load_npz`); :func:`load_dataset` picks among the last three.

Every format is one entry of :data:`FORMATS` (its reader and the options it honours);
every file goes through one check (:func:`_check_file`: exists, is a file, within
``max_bytes``, not empty, readable). An option given to a format that does not use it is
refused with a :class:`~trajhmm.exceptions.DataError` naming the option and the format.

Every trajectory reader returns a float array of shape (n_points, n_dims): one row per
time point. Every problem raises :class:`~trajhmm.exceptions.DataError` naming the file
(and the line and column for text files).
"""

import logging
import os
import re
import stat
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._validation import check_choice, check_trajectory
from .exceptions import DataError

__all__ = [
    "FOLDER",
    "FORMATS",
    "SUFFIXES",
    "Format",
    "TrajectoryDataset",
    "iter_trajectory_files",
    "list_trajectory_files",
    "load_dataset",
    "load_npz",
    "load_trajectories",
    "options_for",
    "read_trajectory",
    "read_ts",
]

logger = logging.getLogger(__name__)

#: Default cap on the size of one trajectory file; a larger file is refused unread.
MAX_BYTES = 256 * 2**20
#: Default cap on the size of a whole data set file (.ts, .npz).
DATASET_MAX_BYTES = 1 << 30

#: Every reading option and the value that means "not given".
OPTIONS = types.MappingProxyType(
    {"variable": None, "layout": "auto", "split": None, "on_invalid": "error", "max_bytes": None}
)
ON_INVALID = ("error", "skip")
_CHOICES = {"layout": ("auto", "rows", "columns"), "on_invalid": ON_INVALID}
# "auto" layout: an array with 2.._MAX_WIDE_ROWS rows and more columns than that is
# column-per-time.
_MAX_WIDE_ROWS = 16


@dataclass(frozen=True)
class Format:
    """One entry of the reader registry.

    what : how messages name it ("a .mat file").
    kind : "trajectory" (one array per file, :func:`read_trajectory`), "dataset" (a file of
        labelled trajectories) or "tree" (a folder of class folders).
    read : the parser. It receives the entry's options except the ones the common code
        applies to every format of its kind (:data:`_COMMON`). A trajectory parser returns
        an array; a dataset or tree parser yields ``(name, (label, array) or DataError)``
        items (:func:`_collect` raises or skips the errors, as ``on_invalid`` says).
    options : the options the format honours; any other option, when given, is refused.
    max_bytes : the default size limit of one file.
    """

    what: str
    kind: str
    read: object
    options: tuple
    max_bytes: int = MAX_BYTES


# Options applied by the common code (file check, orientation, skipping), per kind.
_COMMON = {
    "trajectory": ("layout", "max_bytes"),
    "dataset": ("on_invalid", "max_bytes"),
    "tree": ("on_invalid",),
}


def _unknown_suffix(path, kind):
    expected = ", ".join(s for s, f in FORMATS.items() if f.kind == kind)
    raise DataError(f"{path}: unknown file type {path.suffix!r}; expected one of {expected}")


def _check_file(path, max_bytes, what):
    """The one file check every reader starts with: exists, is not a directory, holds at
    most ``max_bytes`` and at least one byte, can be opened. Every message names the path."""
    try:
        info = path.stat()
        problem = (
            f"expected {what}, got a directory" if stat.S_ISDIR(info.st_mode)
            else f"file is {info.st_size} bytes, larger than the limit of {max_bytes} bytes"
            if info.st_size > max_bytes
            else "empty file" if info.st_size == 0
            else None
        )
        if problem is None:
            open(path, "rb").close()  # readable (permissions)
    except FileNotFoundError:
        problem = "no such file"
    except OSError as exc:
        problem = f"cannot read file ({exc.strerror or exc})"
    if problem is not None:
        raise DataError(f"{path}: {problem}")


def _users_of(option):
    """Which formats honour ``option``, from the registry: ".mat files and folder trees"."""
    names = list(dict.fromkeys(f.what.split(" ", 1)[1] + "s" for f in (*FORMATS.values(), FOLDER)
                               if option in f.options))
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _own_options(fmt, path, given):
    """Validate ``given`` against ``fmt``: refuse what it does not use; return what its
    parser takes."""
    for name, value in given.items():
        if name not in OPTIONS:
            raise TypeError(f"unexpected keyword argument {name!r}")
        if name in _CHOICES:
            check_choice(value, name, _CHOICES[name])
        if name not in fmt.options and value is not None and value != OPTIONS[name]:
            raise DataError(f"{path}: {name}= applies to {_users_of(name)} only, got {fmt.what}")
    return {k: given.get(k, OPTIONS[k]) for k in fmt.options if k not in _COMMON[fmt.kind]}


def _open(path, fmt, given, kind="trajectory"):
    """File check, then the format (an unknown suffix is refused), then its options."""
    limit = given.get("max_bytes")
    if limit is None:
        limit = fmt.max_bytes if fmt else MAX_BYTES
    _check_file(path, limit, fmt.what if fmt else f"a {kind} file")
    if fmt is None or fmt.kind != kind:
        _unknown_suffix(path, kind)
    return _own_options(fmt, path, given)


def _parse(path, read, **options):
    """``read(path, **options)``; an OSError while reading is a DataError naming the path."""
    try:
        return read(path, **options)
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None


def options_for(path, **options):
    """The subset of ``options`` that the format of ``path`` honours (options left at
    their default dropped). For collections of files: an option such as ``variable``
    given for a folder applies to the ``.mat`` files in it."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    return {k: v for k, v in options.items() if fmt is not None and k in fmt.options and v != OPTIONS.get(k)}


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
        2-D numeric variable. Refused for the other formats.
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
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    own = _open(path, fmt, {"variable": variable, "layout": layout, "max_bytes": max_bytes})
    arr = _parse(path, fmt.read, **own)
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
    except Exception as exc:  # noqa: BLE001 (untrusted bytes) - numpy raises several types for corrupt headers
        raise DataError(f"{path}: not a valid .npy file ({exc})") from None
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        raise DataError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise DataError(f"{path}: expected a 2-D array (n_points, n_dims), got shape {arr.shape}")
    return arr.astype(float)


def _read_mat(path, variable=None):
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


def _read_lines(path):
    """The numbered lines of a UTF-8 text file (a byte-order mark is dropped)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if b"\x00" in raw:
        raise DataError(f"{path}: binary content in a text file (a NUL byte)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return list(enumerate(text.splitlines(), start=1))


def _read_text(path):
    lines = [(i, ln) for i, ln in _read_lines(path) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{path}: empty file (no data lines)")
    split = _SPLIT[_detect_delimiter(lines[0][1], path.suffix.lower())]

    def cells(line):
        return split.split(line.strip())

    first_no, first = lines[0]
    if not all(_is_float(c) for c in cells(first)):  # a header row
        lines = lines[1:]
        if not lines:
            raise DataError(f"{path}: header only (line {first_no}), no data rows")
    n_cols = len(cells(lines[0][1]))
    rows = []
    for line_no, line in lines:
        parts = cells(line)
        if len(parts) != n_cols:
            raise DataError(
                f"{path}: line {line_no}: expected {n_cols} columns like the first data row, "
                f"got {len(parts)}"
            )
        bad = next((col for col, c in enumerate(parts) if not _is_float(c)), None)
        if bad is not None:
            raise DataError(f"{path}: line {line_no}, column {bad + 1}: expected a number, got {parts[bad]!r}")
        rows.append([float(c) for c in parts])
    arr = np.asarray(rows, dtype=float)
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(
            f"{path}: line {lines[r][0]}, column {c + 1}: expected a finite number, got {arr[r, c]}"
        )
    return arr


def _is_float(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


@dataclass
class TrajectoryDataset:
    """Labelled trajectories (from a folder tree, a .ts file or an .npz bundle), in a
    deterministic order.

    Attributes
    ----------
    trajectories : list of ndarray, each (n_points_i, n_dims)
    labels : list of str
        The class folder (or label) of each trajectory.
    paths : list of str
        The file of each trajectory (``file:line`` in a .ts file, ``file[i]`` in a bundle).
    skipped : list of (str, str)
        ``(path, reason)`` for each item left out with ``on_invalid="skip"``.
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


def _attempt(read, *args, **kwargs):
    """``read(...)``, or the DataError it raised (an item that ``on_invalid`` decides on)."""
    try:
        return read(*args, **kwargs)
    except DataError as exc:
        return exc


def _collect(items, on_invalid, where):
    """A :class:`TrajectoryDataset` from ``(name, (label, array) or DataError)`` items:
    a bad item raises (``on_invalid="error"``) or is recorded in ``skipped``; then the
    number of dims is checked across items."""
    ds = TrajectoryDataset()
    for name, got in items:
        if isinstance(got, DataError):
            if on_invalid == "error":
                raise got
            ds.skipped.append((name, str(got)))
            continue
        ds.labels.append(got[0])
        ds.trajectories.append(got[1])
        ds.paths.append(name)
    _check_consistent_dims(ds, on_invalid)
    for path, reason in ds.skipped:
        logger.warning("skipped %s", reason if reason.startswith(path) else f"{path}: {reason}")
    if not ds.trajectories:
        raise DataError(f"{where}: no readable trajectories ({len(ds.skipped)} skipped)")
    return ds


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
    variable : str, optional
        Read from every ``.mat`` file in the tree (the other files have no variables); a
        tree without ``.mat`` files refuses it.
    layout, max_bytes
        Passed to :func:`read_trajectory` for every file.

    Returns
    -------
    TrajectoryDataset
    """
    root = Path(root)
    given = {"on_invalid": on_invalid, "variable": variable, "layout": layout, "max_bytes": max_bytes}
    own = _own_options(FOLDER, root, given)
    if not root.exists():
        raise DataError(f"{root}: no such directory")
    if not root.is_dir():
        raise DataError(f"{root}: expected a directory of class folders, got a file")
    ds = _collect(FOLDER.read(root, **own), on_invalid, root)
    for cls in _visible_sorted(root.iterdir()):
        if cls.is_dir() and cls.name not in ds.labels:
            raise DataError(f"{cls}: every file in this class folder was skipped as invalid")
    return ds


def _tree_items(root, *, variable, layout, max_bytes):
    entries = _visible_sorted(root.iterdir())
    for stray in (e for e in entries if not e.is_dir()):
        yield str(stray), DataError(f"{stray}: expected only class folders in {root}, got a file")
    classes = [e for e in entries if e.is_dir()]
    if not classes:
        raise DataError(f"{root}: expected class folders (one per label), found none")
    used_variable = False
    for cls in classes:
        files = list_trajectory_files(cls)
        if not files:
            raise DataError(f"{cls}: empty class folder (no trajectory files)")
        for f in files:
            own = options_for(f, variable=variable)
            used_variable = used_variable or bool(own)
            got = _attempt(read_trajectory, f, layout=layout, max_bytes=max_bytes, **own)
            yield f, got if isinstance(got, DataError) else (cls.name, got)
    if variable is not None and not used_variable:
        raise DataError(f"{root}: variable= applies to .mat files, and this folder tree holds none")


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


def _load_file(path, fmt, given):
    """A data set file (.ts, .npz): the file check, its options, its items collected."""
    path = Path(path)
    own = _open(path, fmt, given, kind="dataset")
    on_invalid = given.get("on_invalid") or "error"
    return _parse(path, lambda p: _collect(fmt.read(p, **own), on_invalid, p))


def read_ts(path, *, max_bytes=DATASET_MAX_BYTES, on_invalid="error"):
    """Read a labelled UEA / sktime ``.ts`` file (the format of the public time-series
    classification archives, e.g. JapaneseVowels_TRAIN.ts shipped in the aeon wheel).

    Each data line holds the dimensions separated by ``:``, the values of one dimension
    separated by ``,``, and the class label last. Returns a :class:`TrajectoryDataset`
    whose trajectories are (n_points, n_dims) arrays and whose paths are ``file:line``.
    Time-stamped and unlabelled files are refused with a clear error.

    on_invalid : {"error", "skip"}, default="error"
        "skip": a malformed data line (or one whose number of dims differs from the
        majority) is left out and listed in ``skipped`` as ``(file:line, reason)``. A bad
        header is always an error: it makes every line unreadable.
    """
    return _load_file(path, FORMATS[".ts"], {"max_bytes": max_bytes, "on_invalid": on_invalid})


def _ts_header(path, lines):
    """Consume the header lines up to @data; refuse time-stamped and unlabelled files."""
    labelled = False
    for line_no, line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("@"):
            raise DataError(f"{path}: line {line_no}: expected a @header or @data, got {line[:40]!r}")
        key, _, value = line[1:].partition(" ")
        key, value = key.lower(), value.strip().lower()
        if key == "timestamps" and value == "true":
            raise DataError(f"{path}: time-stamped .ts files are not supported")
        if key == "classlabel":
            labelled = value.startswith("true")
        if key == "data":
            if not labelled:
                raise DataError(f"{path}: expected a labelled file (@classLabel true ...)")
            return
    raise DataError(f"{path}: no data lines after @data")


def _ts_line(path, line_no, line):
    *dims, label = line.split(":")
    if not dims:
        raise DataError(f"{path}: line {line_no}: expected dimensions separated by ':' and a label")
    values = [d.split(",") for d in dims]
    bad = next((v for vs in values for v in vs if not _is_float(v)), None)
    if bad is not None:
        raise DataError(f"{path}: line {line_no}: expected a number, got {bad!r}")
    if len({len(vs) for vs in values}) != 1:
        raise DataError(f"{path}: line {line_no}: dimensions have different lengths {[len(vs) for vs in values]}")
    arr = np.array(values, dtype=float).T
    return label.strip(), check_trajectory(arr, name=f"{path}:{line_no}")


def _ts_items(path):
    lines = iter(_read_lines(path))
    _ts_header(path, lines)
    n_data = 0
    for line_no, line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            n_data += 1
            yield f"{path}:{line_no}", _attempt(_ts_line, path, line_no, line)
    if not n_data:
        raise DataError(f"{path}: no data lines after @data")


def load_npz(path, *, split=None, on_invalid="error", max_bytes=DATASET_MAX_BYTES):
    """Read a trajectory bundle: an .npz with ``X`` (all points stacked), ``lengths``, ``y``
    and optionally ``split`` (like ../shared/data/character_trajectories.npz). Read without
    pickle. ``split`` selects the rows whose ``split`` value equals it.

    on_invalid : {"error", "skip"}, default="error"
        "skip": a trajectory that is not usable (non-finite values, fewer than 2 points)
        is left out and listed in ``skipped`` as ``(file[i], reason)``. A malformed bundle
        (missing or inconsistent arrays) is always an error.
    max_bytes : int, default=1 GiB
        Files larger than this are refused without being read.
    """
    given = {"split": split, "on_invalid": on_invalid, "max_bytes": max_bytes}
    return _load_file(path, FORMATS[".npz"], given)


def _read_npz_arrays(path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as exc:  # noqa: BLE001 (untrusted bytes) - zipfile/numpy raise many types
        raise DataError(f"{path}: not a readable .npz bundle ({type(exc).__name__}: {exc})") from None


def _npz_items(path, split=None):
    arrays = _read_npz_arrays(path)
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
    for i, seq in enumerate(np.split(X, np.cumsum(lengths)[:-1])):
        if keep[i]:
            got = _attempt(check_trajectory, seq, name=f"{path}[{i}]")
            yield f"{path}[{i}]", got if isinstance(got, DataError) else (str(y[i]), got)


#: The reader registry: file suffix (lower case) -> :class:`Format`.
FORMATS = types.MappingProxyType({
    **{s: Format(f"a {s} file", "trajectory", _read_text, ("layout", "max_bytes"))
       for s in (".csv", ".txt", ".tsv", ".dat")},
    ".npy": Format("a .npy file", "trajectory", _read_npy, ("layout", "max_bytes")),
    ".mat": Format("a .mat file", "trajectory", _read_mat, ("variable", "layout", "max_bytes")),
    ".npz": Format("an .npz bundle", "dataset", _npz_items, ("split", "on_invalid", "max_bytes"),
                   DATASET_MAX_BYTES),
    ".ts": Format("a .ts file", "dataset", _ts_items, ("on_invalid", "max_bytes"), DATASET_MAX_BYTES),
})
#: A folder of class folders (:func:`load_trajectories`); not a suffix.
FOLDER = Format("a folder tree", "tree", _tree_items, ("on_invalid", "variable", "layout", "max_bytes"))

#: File suffixes :func:`read_trajectory` understands (lower case).
SUFFIXES = tuple(s for s, f in FORMATS.items() if f.kind == "trajectory")


def load_dataset(path, *, split=None, **kwargs):
    """A labelled data set from a folder tree (:func:`load_trajectories`), an .npz bundle
    (:func:`load_npz`) or a .ts file (:func:`read_ts`), chosen through :data:`FORMATS`.

    Options (``split``, ``on_invalid``, ``variable``, ``layout``, ``max_bytes``) that the
    chosen format does not use are refused, not ignored; see :class:`Format`.
    """
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    given = {"split": split, **kwargs}
    if p.is_dir() or fmt is None or fmt.kind != "dataset":
        _own_options(FOLDER, p, given)  # refuses split= and unknown options
        return load_trajectories(p, **{k: v for k, v in given.items() if k in FOLDER.options})
    return _load_file(p, fmt, given)

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

import codecs
import fnmatch
import logging
import os
import re
import stat
import types
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._cache import CACHEDIR_SIGNATURE, CACHEDIR_TAG
from ._validation import (
    MAX_WIDE_ROWS,
    check_choice,
    check_int,
    check_trajectory,
    is_number,
    skipped_reason,
    user_stacklevel,
)
from .exceptions import DataError, OptionError, ParameterTypeError, ParameterValueError

__all__ = [
    "FOLDER",
    "FORMATS",
    "READER_OPTIONS",
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
    "reader_options",
]

logger = logging.getLogger(__name__)

#: Default cap on the size of one trajectory file; a larger file is refused unread.
MAX_BYTES = 256 * 2**20
#: Default cap on the size of a whole data set file (.ts, .npz).
DATASET_MAX_BYTES = 1 << 30

#: Every reading option and the value that means "not given".
OPTIONS = types.MappingProxyType({
    "variable": None, "layout": "auto", "split": None, "on_invalid": "error", "max_bytes": None,
    "columns": None, "time_column": None, "delimiter": None, "decimal": None, "encoding": None,
    "missing": "error", "pattern": None, "label_level": 1, "header_names": None,
})
#: The options that decide how one file becomes an array (:attr:`TrajectoryDataset.reader`).
READER_OPTIONS = ("columns", "time_column", "layout", "delimiter", "decimal", "encoding", "missing", "variable",
                  "header_names")
ON_INVALID = ("error", "skip")
_CHOICES = {"layout": ("auto", "rows", "columns"), "on_invalid": ON_INVALID, "missing": ("error", "interpolate")}
# Header names that look like time stamps (lower case; any name starting with "time" too).
_TIME_NAMES = {"t", "time", "timestamp", "timestamps", "time_s", "time_ms"}
# Cells read as a missing value (lower case), besides "nan".
_MISSING = {"", "na", "n/a", "nan", "null", "none"}
# Files that are never trajectory data, whatever their suffix (lower case).
_JUNK = {".ds_store", "thumbs.db", "desktop.ini"}
# Documents that sit beside data whatever their suffix: never read as trajectories.
_DOC_NAMES = ("readme", "license", "licence", "changelog")
# A folder holding a file CACHEDIR.TAG that starts with this line is a cache, not data
# (the Cache Directory Tagging standard, https://bford.info/cachedir/): e.g. the resumable
# cache of `trajhmm train DATA -o DATA/model.npz`, DATA/model.npz.cache/.
_CACHEDIR_TAG = (CACHEDIR_TAG, CACHEDIR_SIGNATURE.encode())
_CACHE_KIND = "folder tagged CACHEDIR.TAG"


@dataclass(frozen=True)
class Format:
    """One entry of the reader registry.

    what : how messages name it ("a .mat file").
    kind : "trajectory" (one array per file, :func:`read_trajectory`), "dataset" (a file of
        labelled trajectories) or "tree" (a folder of class folders).
    read : the parser. It receives the entry's options except the ones the common code
        applies to every format of its kind (:data:`_COMMON`). A trajectory parser returns
        an array (or a table of cells, for text); a dataset or tree parser yields
        ``(name, (label, array) or DataError)`` items (:func:`_collect` raises or skips the
        errors, as ``on_invalid`` says); a dataset parser also takes ``require_labels``
        (False: a file without labels is read, each label None).
    options : the options the format honours; any other option, when given, is refused.
    max_bytes : the default size limit of one file.
    """

    what: str
    kind: str
    read: object
    options: tuple
    max_bytes: int = MAX_BYTES


# Options applied by the common code (file check, orientation, column selection, missing
# values, skipping), per kind.
_COMMON = {
    "trajectory": ("layout", "max_bytes", "columns", "time_column", "missing", "header_names"),
    "dataset": ("on_invalid", "max_bytes"),
    "tree": ("on_invalid",),
}


def _column_kind(value, name):
    if isinstance(value, str) and value:
        return str
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value >= 0:
        return int
    raise ParameterValueError(name, "a column name (str) or a 0-based position (int >= 0)", repr(value))


def _check_columns(value):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ParameterTypeError("columns", "a list of column names or 0-based positions", repr(value))
    items = list(value)
    if not items:
        raise ParameterValueError("columns", "at least one column", "an empty list")
    if len({_column_kind(v, "columns") for v in items}) > 1:
        raise ParameterValueError("columns", "names (str) or 0-based positions (int), not both", repr(items))
    twice = [v for v, n in Counter(items).items() if n > 1]
    if twice:
        raise ParameterValueError("columns", "each column once", f"{twice[0]!r} twice")


def _check_header_names(value):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ParameterTypeError("header_names", "a list of column names", repr(value))
    items = list(value)
    if not items or not all(isinstance(v, str) and v for v in items):
        raise ParameterValueError("header_names", "a list of column names (non-empty str)", repr(items))
    twice = [v for v, n in Counter(items).items() if n > 1]
    if twice:
        raise ParameterValueError("header_names", "each name once", f"{twice[0]!r} twice")


def _check_delimiter(value):
    if not isinstance(value, str) or len(value) != 1 or value in "\"'.-+0123456789eE\n\r":
        raise ParameterValueError("delimiter", "one character such as ',', ';', '\\t' or ' '", repr(value))


def _check_encoding(value):
    try:
        codecs.lookup(value)
    except (LookupError, TypeError):
        raise ParameterValueError("encoding", "a codec name such as 'utf-8', 'utf-16' or 'latin-1'", repr(value)) from None


def _check_pattern(value):
    if not isinstance(value, str) or not value:
        raise ParameterValueError("pattern", "a file name pattern such as '*.csv'", repr(value))


# Checks of option values (given, not the default): a wrong value is the caller's error.
_CHECKS = {
    "columns": _check_columns,
    "header_names": _check_header_names,
    "time_column": lambda v: _column_kind(v, "time_column"),
    "delimiter": _check_delimiter,
    "decimal": lambda v: check_choice(v, "decimal", (".", ",")),
    "encoding": _check_encoding,
    "pattern": _check_pattern,
    "label_level": lambda v: check_int(v, "label_level", min_val=1),
}


def _check_together(given):
    delimiter, decimal = given.get("delimiter"), given.get("decimal")
    if delimiter is not None and delimiter == decimal:
        raise ParameterValueError("decimal", "a decimal mark other than the delimiter", repr(decimal))
    columns, time_column = given.get("columns"), given.get("time_column")
    if columns is not None and time_column is not None and time_column in list(columns):
        raise ParameterValueError("columns", "the coordinates only, not the time_column", repr(time_column))
    header_names = given.get("header_names")
    if header_names is not None and columns is not None:
        raise ParameterValueError("header_names", "None when columns= chooses the coordinates (pass one of them)",
                                  repr(list(header_names)))
    if header_names is not None and time_column is not None and time_column in list(header_names):
        raise ParameterValueError("header_names", "the coordinates only, not the time_column", repr(time_column))


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


def check_options(**given):
    """The checks of reading options that need no file: unknown names (TypeError), values
    out of their range and options that contradict each other (ValueError naming the
    option). The command line runs them before any work."""
    for name, value in given.items():
        if name not in OPTIONS:
            raise ParameterTypeError(name, f"a reading option ({', '.join(OPTIONS)})", "an unknown keyword argument")
        if name in _CHOICES:
            check_choice(value, name, _CHOICES[name])
        if value is not None and not _is_default(name, value) and name in _CHECKS:
            _CHECKS[name](value)
    _check_together(given)


def _own_options(fmt, path, given):
    """``given`` (checked by :func:`check_options`) against ``fmt``: refuse what it does not
    use; return what its parser takes."""
    for name, value in given.items():
        if value is not None and not _is_default(name, value) and name not in fmt.options:
            flag = "" if name == "header_names" else f" (--{name.replace('_', '-')})"  # a model's, no flag
            raise OptionError(f"{path}: {name}={flag} applies to {_users_of(name)} only, got {fmt.what}")
    return {k: given.get(k, OPTIONS[k]) for k in fmt.options if k not in _COMMON[fmt.kind]}


def _open(path, fmt, given, kind="trajectory"):
    """The options' values (the caller's arguments before the data, as scikit-learn checks
    parameters), the file check, the format (an unknown suffix is refused), then the
    options it takes."""
    check_options(**given)
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
    given for a folder applies to the ``.mat`` files in it, ``delimiter`` to its text files.
    ``read_trajectory(path, **options_for(path, **dataset.reader))`` reads a new file the
    way the files of ``dataset`` were read."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    return {k: v for k, v in options.items() if fmt is not None and k in fmt.options and not _is_default(k, v)}


def _is_default(name, value):
    default = OPTIONS.get(name)
    return value is default or (isinstance(value, str | int) and value == default)


def reader_options(**options):
    """The reading options among ``options`` that decide how one file becomes an array
    (:data:`READER_OPTIONS`: columns, time_column, layout, delimiter, decimal, encoding,
    missing, variable, header_names), without those left at their default, as plain JSON values (a list
    for ``columns``). :func:`load_trajectories` keeps them in ``dataset.reader``."""
    out = {}
    for name in READER_OPTIONS:
        value = options.get(name, OPTIONS[name])
        if not _is_default(name, value):
            plain = lambda v: v if isinstance(v, str) else int(v)  # noqa: E731 (numpy ints too)
            listed = name in ("columns", "header_names")
            out[name] = [plain(v) for v in value] if listed else plain(value) if name == "time_column" else value
    return out


def read_trajectory(path, *, variable=None, layout="auto", max_bytes=MAX_BYTES, columns=None, time_column=None,
                    delimiter=None, decimal=None, encoding=None, missing="error", header_names=None):
    """Read one trajectory file as a float array of shape (n_points, n_dims).

    Parameters
    ----------
    path : str or Path
        A ``.csv`` file or a ``.txt``/``.tsv``/``.dat`` file (comma, semicolon, tab or
        whitespace separated, with or without one header row), a ``.npy`` file (read
        without pickle) or a MATLAB ``.mat`` file (v4 to v7.2, via scipy.io).
    variable : str, optional
        For ``.mat`` files: the variable to read. By default the file must hold exactly one
        2-D numeric variable. Refused for the other formats.
    layout : {"auto", "rows", "columns"}, default="auto"
        How time is laid out. "rows": one row per time point. "columns": one column per
        time point (MATLAB's habit of storing a 3 x n array); the array is transposed.
        "auto": rows, unless the array has no header row, 2 to 16 rows and more than 16
        columns (the shape of a 3 x 501 MATLAB array): then it is taken as column-per-time
        and transposed, with a warning. A file with a header row of names is never
        transposed by "auto" (names mean one column per variable). Small ambiguous arrays
        (a 2 x 3 file) are read as rows; pass ``layout="columns"`` for short
        column-per-time trajectories.
    max_bytes : int, default=256 MiB
        Files larger than this are refused without being read.
    columns : list of str or int, optional
        The coordinates to read, in this order: header names for a text file with a header
        row, 0-based positions for a file without one (and for ``.npy``/``.mat``). A file
        whose header is the bare numbers 0..n-1 takes either. By default every column
        (except the time column).
    time_column : str or int, optional
        The column of time stamps (a name, or a 0-based position as for ``columns``). The
        returned array then holds the time stamps in column 0 and the coordinates after
        it. The time stamps must be finite and strictly increasing: rows out of order are
        an error naming the line, they are not sorted. Without ``time_column``, a header
        column named like time (t, time, timestamp, time_s, ...) that is read as a
        coordinate is warned about.
    delimiter : str, optional
        Text files: the one character between columns (" " means any run of whitespace).
        By default the first line decides: tab, else ";", else ",", else whitespace.
    decimal : {".", ","}, optional
        Text files: the decimal mark. By default ".", or "," when the columns are
        separated by ";" or tabs and the cells look like ``1,0686``.
    encoding : str, optional
        Text files: the codec. By default UTF-8 (a byte-order mark is dropped), or UTF-16
        when the file starts with a UTF-16 byte-order mark.
    missing : {"error", "interpolate"}, default="error"
        Missing values (empty cells, NaN, NA, null): an error naming the line and column,
        or filled by linear interpolation along the rows (against the time stamps when
        ``time_column`` is given, else the row number); leading and trailing gaps take the
        nearest value. A column without any value is an error.
    header_names : list of str, optional
        Text files: the header names of the coordinates the training files were read with
        (:func:`load_trajectories` keeps them in ``dataset.reader`` when every file had the
        same header and ``columns`` was not given). A file with a header row is read by
        these names, in this order, whatever the order of its columns (a name it lacks is
        an error; its other columns are left out); a file without a header row (or whose
        header is the bare numbers 0..n-1) is read by position, as before. Not with
        ``columns``.

    Text files are read forgivingly: blank lines and lines starting with ``#`` are
    skipped; the first line is a header when one of its cells is not a number, or when it
    is exactly the integers ``0,1,...,n-1`` (n >= 2, no decimal point: the header pandas
    writes for an unnamed frame); a line of units directly under a header (``s,m,m`` or
    ``[s],[m],[m]``: no cell a number) is skipped; a first header cell that is empty or
    ``Unnamed: 0`` marks a pandas index column, which is dropped; a delimiter at the end of
    every line is dropped; quoted numbers are read as numbers.

    Returns
    -------
    trajectory : ndarray of shape (n_points, n_dims)

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "t.csv")
    >>> _ = open(p, "w").write("t,x,y,z\\n0.0,1,2,3\\n0.1,4,5,6\\n0.2,0,0,0\\n")
    >>> read_trajectory(p, time_column="t", columns=["x", "z"])
    array([[0. , 1. , 3. ],
           [0.1, 4. , 6. ],
           [0.2, 0. , 0. ]])
    """
    given = {"variable": variable, "layout": layout, "max_bytes": max_bytes, "columns": columns,
             "time_column": time_column, "delimiter": delimiter, "decimal": decimal, "encoding": encoding,
             "missing": missing, "header_names": header_names}
    return _read(Path(path), given)


def _read(path, given, notes=None):
    """:func:`read_trajectory` with the options as a dict; warnings go to ``notes`` (a
    folder tree: one warning per kind for the whole tree) or are issued now (None)."""
    fmt = FORMATS.get(path.suffix.lower())
    own = _open(path, fmt, given)
    got = _parse(path, fmt.read, **own)
    table = got if isinstance(got, _Table) else _Table(got if got.ndim == 2 else got[:, None])
    return _finish(path, table, given, notes)


@dataclass
class _Table:
    """One file's numbers, with what messages need to point at a cell.

    values : (rows, columns) floats as stored in the file; NaN for missing and non-number cells.
    names : the header row (text files with one), else None.
    lines : the file line of each row (text files), else None (rows are counted).
    cols : the file column (1-based) of each column, else None.
    bad : (row, column, cell) of each cell that is not a number, in file order.
    tokens : (row, column) -> the text of each missing cell read as NaN (slow path only).
    """

    values: np.ndarray
    names: list = None
    lines: list = None
    cols: list = None
    bad: list = field(default_factory=list)
    tokens: dict = field(default_factory=dict)
    transposed: bool = False
    split: tuple = None  # text files: (delimiter, decimal), for the hint of a bad cell

    def where(self, i, j):
        """Where element (i, j) of the (possibly transposed) array is in the file: line and
        column numbers, and the column's name when the file has a header."""
        r, c = (j, i) if self.transposed else (i, j)
        line = f"line {self.lines[r]}" if self.lines is not None else f"row {r + 1}"
        name = f" ({self.names[c]!r})" if self.names is not None and c < len(self.names) and self.names[c] else ""
        return f"{line}, column {self.cols[c] if self.cols is not None else c + 1}{name}"


def _note(notes, path, key, message):
    """A warning now (``notes`` None), or kept for the tree: the first file's message, and a count."""
    if notes is None:
        warnings.warn(f"{path}: {message}", UserWarning, stacklevel=user_stacklevel())
    elif key in notes:
        notes[key][1] += 1
    else:
        notes[key] = [f"{path}: {message}", 1]


def _emit_notes(notes, root):
    for message, count in (v for k, v in notes.items() if k not in (_TIME_HINTS, _HEADERS)):
        more = f" (and {count - 1} more file{'s' * (count > 2)} like it in {root})" if count > 1 else ""
        warnings.warn(message + more, UserWarning, stacklevel=user_stacklevel())


def _orient(path, table, given, notes):
    layout = given.get("layout", "auto")
    rows, cols = table.values.shape
    wide = table.names is None and 2 <= rows <= MAX_WIDE_ROWS < cols
    if layout == "columns" or (layout == "auto" and wide):
        if table.names is not None and any(isinstance(v, str) for v in _selected(given)):
            raise DataError(f"{path}: layout='columns' reads each column as a time point, so the header names "
                            "no variables; select columns by 0-based position, or pass layout='rows' (--layout rows)")
        if layout == "auto":
            _note(notes, path, "layout", f"a {rows} x {cols} array without a header was read as {cols} points of "
                  f"{rows} dims (layout='auto': 2 to {MAX_WIDE_ROWS} rows and more columns is one column per "
                  "time point); if the rows are time points, pass layout='rows' (--layout rows)")
        table.values, table.transposed, table.names = table.values.T, True, None


def _selected(given):
    columns, time_column = given.get("columns"), given.get("time_column")
    return [*(columns if columns is not None else ()), *(() if time_column is None else (time_column,))]


def _bare_numbers(names):
    return len(names) >= 2 and names == [str(i) for i in range(len(names))]


def _positions(path, table, given):
    """The columns of ``table`` to read (time first) from ``columns``/``time_column``."""
    n = table.values.shape[1]
    wanted = _selected(given)
    if table.names is not None:
        names = table.names
        if len(names) != n and wanted:
            raise DataError(f"{path}: the header row has {len(names)} names ({', '.join(names)}) but the rows have "
                            f"{n} columns; fix the header, or pass layout/delimiter= (--delimiter)")
        if _bare_numbers(names):
            wanted = [str(v) for v in wanted]
        lookup = {name: i for i, name in reversed(list(enumerate(names)))}
        for v in wanted:
            if not isinstance(v, str):
                raise DataError(f"{path}: has a header row, so columns are chosen by name, got the position {v}; "
                                f"pass names (columns= / --columns, time_column= / --time-column): {', '.join(names)}")
            if v not in lookup:
                role = " (the time column: time_column= / --time-column)" if v == given.get("time_column") else ""
                raise DataError(f"{path}: no column named {v!r}{role}; the header names: {', '.join(names)}")
        index = [lookup[v] for v in wanted]
    else:
        for v in wanted:
            if isinstance(v, str):
                what = "header row" if path.suffix.lower() in _TEXT else "column names"
                if v == given.get("time_column"):
                    raise DataError(f"{path}: has no {what}, so the time column is chosen by 0-based position, got "
                                    f"the name {v!r} (time_column= / --time-column, given or stored in the model); "
                                    f"pass its position, e.g. time_column=0 / --time-column 0")
                raise DataError(f"{path}: has no {what}, so columns are chosen by 0-based position, got the name "
                                f"{v!r}; pass positions 0 to {n - 1} (e.g. columns={list(range(min(n, 3)))} / "
                                f"--columns {','.join(map(str, range(min(n, 3))))})")
            if v >= n:
                raise DataError(f"{path}: column {v} is out of range: the array has {n} columns (positions 0 to {n - 1})")
        index = [int(v) for v in wanted]
    t = index.pop() if given.get("time_column") is not None else None
    coords = index if given.get("columns") is not None else [j for j in range(n) if j != t]
    return ([] if t is None else [t]) + coords


def _finish(path, table, given, notes):
    """Orientation, column selection, bad cells, time stamps, missing values, then the
    one trajectory check."""
    _orient(path, table, given, notes)
    given = _by_header_names(path, table, given, notes)
    has_time = given.get("time_column") is not None
    plain = not table.transposed and given.get("columns") is None and not has_time
    sel = list(range(table.values.shape[1])) if plain else _positions(path, table, given)
    if table.bad:
        _check_bad(path, table, sel)
    arr = table.values if plain else table.values[:, sel]
    if has_time:
        _check_time(path, table, arr[:, 0], sel[0], sel)
    if not np.isfinite(arr).all():
        arr = _fill(path, table, arr.copy(), sel, has_time, given.get("missing", "error"))
    if table.names is not None and not has_time and given.get("columns") is None:
        _time_like(path, table, sel, notes)
    if table.names is not None and given.get("columns") is None:
        _counter_like(path, table, arr, sel[int(has_time):], int(has_time), notes)
    elif table.names is not None and _table_hint(table, sel):  # columns chosen: a long table read whole?
        _note(notes, path, "table", _table_hint(table, sel).removeprefix("; "))
    return check_trajectory(arr, name=str(path))


def _by_header_names(path, table, given, notes):
    """``given`` with ``columns`` set to ``header_names`` when the file has a header row of
    names (they were given, or are recorded for the tree: :data:`_HEADERS`)."""
    wanted = given.get("header_names")
    named = table.names is not None and not table.transposed and not _bare_numbers(table.names)
    if wanted is None:
        if notes is not None and given.get("columns") is None:
            t = given.get("time_column")
            names = tuple(n for j, n in enumerate(table.names or ()) if n != t and j != t)
            usable = named and len(table.names) == table.values.shape[1] and all(names) and len(set(names)) == len(names)
            notes.setdefault(_HEADERS, {})[str(path)] = names if usable else None
        return given
    if not named:
        return given
    missing = [v for v in wanted if v not in table.names]
    if missing:
        raise DataError(f"{path}: its header row has no column {missing[0]!r}; the coordinates are read by the "
                        f"training files' header names ({', '.join(wanted)}), and this file's are "
                        f"{', '.join(table.names)}; choose the coordinates with columns= (--columns)")
    return {**given, "columns": list(wanted)}


def _counter_like(path, table, arr, sel, first, notes):
    """Warn about a coordinate that counts samples (1, 2, 3, ...: a motion-capture export's
    Frame column): it grows with the length of the recording and is no position."""
    if len(arr) < 5:
        return
    for k, j in enumerate(sel, first):
        column = arr[:, k]
        if column[0] == np.round(column[0]) and np.all(np.diff(column) == 1):
            name = table.names[j] if j < len(table.names) else str(j)
            _note(notes, path, "counter", f"column {name!r} counts samples (consecutive integers from "
                  f"{column[0]:g}) and is read as a coordinate; leave it out with columns= (--columns)")
            return


def _check_bad(path, table, sel):
    """The first cell that is not a number in a column that is read."""
    keep = set(sel)
    for r, c, cell in table.bad:
        i, j = (c, r) if table.transposed else (r, c)
        if j in keep:
            hint = _hint(table, c, cell) if table.split is not None else ""
            raise DataError(f"{path}: {table.where(i, j)}: expected a number, got {cell!r}{hint}")


def _hint(table, c, cell):
    """The option that would read a cell that is not a number, when one would."""
    delimiter, decimal = table.split
    text = cell.strip().strip("\"'")
    if decimal != "," and _DECIMAL_COMMA.match(text):
        return "; it looks like a decimal comma: pass decimal=',' (--decimal ,)"
    if any(ch in text for ch in ",;\t|") or (delimiter is not None and " " in text):
        return (f"; the columns are split at {_DELIMITER_NAMES.get(delimiter, repr(delimiter))}: if they are "
                "separated by another character, pass delimiter= (--delimiter)")
    if sum(1 for _, cc, _ in table.bad if cc == c) == len(table.lines):
        return f"; column {table.cols[c]} is not numeric: pass columns= (--columns) to read only the numeric columns"
    return ""


# Header names of a long table's id or label column (lower case): a file of one trajectory
# that has one may hold many trajectories (:func:`_table_hint`).
_ID_NAMES = {"id", "traj_id", "trajectory", "trajectory_id", "track_id", "track", "trial", "trial_id", "sequence",
             "sequence_id", "seq_id", "sample_id", "label", "class"}


def _table_hint(table, sel):
    """"; its column 'id' ... a long table ..." when the header names an id or label column
    that is not read and holds more than one value: such a file may hold many trajectories,
    one row per point."""
    def values(j):
        column = table.values[:, j] if j < table.values.shape[1] else np.array([])
        return {*column[np.isfinite(column)].tolist(), *(cell for _, c, cell in table.bad if c == j)}

    names = [n for j, n in enumerate(table.names or ()) if j not in sel and str(n).lower() in _ID_NAMES
             and len(values(j)) > 1]
    if table.transposed or not names:
        return ""
    return (f"; its column {names[0]!r} is not read: if the file holds many trajectories (a long table, one row per "
            f"point), read it with --id-column (trajhmm.load_table(path, id_column=...))")


def _check_time(path, table, t, j, sel=()):
    name = repr(table.names[j]) if table.names is not None else str(j)
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        i = bad[0]
        raise DataError(f"{path}: {table.where(i, j)}: the time column {name} must hold finite numbers, got {t[i]}")
    down = np.flatnonzero(np.diff(t) <= 0)
    if down.size:
        i = down[0] + 1
        before = table.where(i - 1, j).split(",")[0]
        if t[i] == t[i - 1]:
            raise DataError(f"{path}: {table.where(i, j)}: time stamps must increase strictly, got {float(t[i])!r} "
                            f"again ({before}): the time stamp repeats; keep one row per time, or pass another "
                            f"time_column= (--time-column){_table_hint(table, sel)}")
        raise DataError(f"{path}: {table.where(i, j)}: time stamps must increase strictly, got {float(t[i])!r} after "
                        f"{float(t[i - 1])!r} ({before}); rows are not sorted: sort the file "
                        f"by time, or pass another time_column= (--time-column){_table_hint(table, sel)}")


def _fill(path, table, arr, sel, has_time, missing):
    """Infinite values are errors; missing ones (NaN) too, or interpolated along the rows."""
    first = 1 if has_time else 0
    body = arr[:, first:]
    bad = np.argwhere(np.isinf(body) | (np.isnan(body) if missing == "error" else False))
    if bad.size:
        i, k = bad[0]
        j = sel[k + first]
        if np.isinf(body[i, k]):
            raise DataError(f"{path}: {table.where(i, j)}: expected a finite number, got {body[i, k]}")
        r, c = (j, i) if table.transposed else (i, j)
        cell = table.tokens.get((r, c), "nan")
        got = "nan" if cell.strip().lower() == "nan" else "an empty cell" if not cell.strip() else repr(cell.strip())
        raise DataError(f"{path}: {table.where(i, j)}: expected a finite number, got {got} (a missing value); "
                        "pass missing='interpolate' (--missing interpolate) to fill missing values from their neighbours")
    empty = fill_gaps(body, arr[:, 0] if has_time else None)
    if empty is not None:
        j = sel[empty + first]
        name = repr(table.names[j]) if table.names is not None else f"at position {j}"
        raise DataError(f"{path}: column {name} has no values (every cell is missing), nothing to interpolate "
                        "from; leave it out with columns= (--columns)")
    return arr


def fill_gaps(values, times=None):
    """Fill the NaN cells of ``values`` (n_points, n_cols) in place by linear interpolation
    along ``times`` (default: the row index) within each column; leading and trailing
    gaps take the nearest value. Returns None, or the index of the first column without
    any value (left as it is)."""
    x = np.arange(len(values), dtype=float) if times is None else np.asarray(times, dtype=float)
    for k in np.flatnonzero(np.isnan(values).any(axis=0)):
        ok = ~np.isnan(values[:, k])
        if not ok.any():
            return int(k)
        values[~ok, k] = np.interp(x[~ok], x[ok], values[ok, k])
    return None


def looks_like_time(name):
    """A column name that usually holds time stamps (t, time, timestamp, time_s, ...)."""
    low = str(name).lower()
    return low in _TIME_NAMES or low.startswith("time")


def time_column_warning(column):
    """The advice when a column that :func:`looks_like_time` is read as a coordinate."""
    return (f"column {column!r} looks like time stamps and is read as a coordinate; pass time_column={column!r} "
            f"(--time-column {column}), or columns= (--columns) to choose the coordinates")


# The key of ``notes`` (a folder tree) that keeps, per file, the name of its column that
# looks like time: a dims mismatch error for that file repeats the hint (:func:`_dims_hint`).
_TIME_HINTS = "time columns"
# The key of ``notes`` that keeps, per file, the header names of its coordinates (None:
# no header row): a tree whose files share one header records it (``header_names``).
_HEADERS = "header names"


def _time_like(path, table, sel, notes):
    for j in sel:
        name = table.names[j] if j < len(table.names) else ""
        if looks_like_time(name):
            _note(notes, path, "time", time_column_warning(name))
            if notes is not None:
                notes.setdefault(_TIME_HINTS, {})[str(path)] = name
            return


def _dims_hint(path, notes):
    """"; its column 'Time' looks like time stamps: ..." when reading ``path`` warned so."""
    name = (notes or {}).get(_TIME_HINTS, {}).get(str(path))
    if name is None:
        return ""
    return f"; its column {name!r} looks like time stamps: pass time_column={name!r} (--time-column {name})"


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
    if np.iscomplexobj(arr):
        raise DataError(f"{path}: expected real numbers, got a complex array")
    return arr.astype(float)


def _read_mat(path, variable=None):
    from . import _matreader  # scipy parses in a guarded child process: a hostile file cannot crash us

    arrays, others = _matreader.load_variables(path)
    kinds = {name: (kind, shape) for name, kind, shape in others}
    if variable is not None:
        if variable in kinds:
            kind, shape = kinds[variable]
            full = "; save it as a full matrix (full(X) in MATLAB)" if kind == "sparse matrix" else ""
            raise DataError(f"{path}: variable {variable!r} is {_a(kind)} {shape}, expected a 2-D numeric array "
                            f"(one trajectory){full}{_mat_hint(arrays, others)}")
        if variable not in arrays:
            found = ", ".join(sorted(arrays)) or "none"
            raise DataError(
                f"{path}: expected a numeric variable {variable!r}, found numeric variables: {found}"
                f"{_mat_others(arrays, others, numeric_listed=True)}"
            )
        arr = arrays[variable]
    else:
        two_d = {k: v for k, v in arrays.items() if v.ndim == 2 and min(v.shape) >= 1 and v.size > 1}
        if len(two_d) != 1:
            found = ", ".join(f"{k} {v.shape}" for k, v in sorted(two_d.items())) or "none"
            raise DataError(
                f"{path}: expected exactly one 2-D numeric variable, found {len(two_d)} ({found}); "
                f"name the one to read (variable=... / --variable){_mat_others(arrays, others)}"
            )
        variable, arr = next(iter(two_d.items()))
    if arr.ndim != 2:
        raise DataError(f"{path}: variable {variable!r} has shape {arr.shape}, expected a 2-D array (one trajectory)"
                        f"{_mat_hint(arrays, others)}")
    if np.iscomplexobj(arr):
        raise DataError(f"{path}: expected real numbers, got a complex array")
    return arr.astype(float)


def _a(kind):
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _mat_others(arrays, others, numeric_listed=False):
    """What else a .mat file holds (the variables that are not 2-D numeric arrays, less the
    numeric ones when the message lists them), for a message: '; other variables: data (a
    cell array (1, 10)), ...' and the hint."""
    parts = [f"{k} ({_a(kind)} {shape})" for k, kind, shape in others]
    if not numeric_listed:
        parts += [f"{k} (a {v.ndim}-D numeric array {v.shape})" for k, v in sorted(arrays.items()) if v.ndim > 2]
    return f"; other variables: {', '.join(parts)}{_mat_hint(arrays, others)}" if parts else ""


def _mat_hint(arrays, others):
    """How to read many trajectories held in one .mat file, when the file holds them."""
    if any(kind == "cell array" for _, kind, _ in others) or any(v.ndim > 2 for v in arrays.values()):
        return ("; a .mat file is one trajectory: save a cell array or 3-D array of them as one file each "
                "(DATA/<label>/...) or as an .npz bundle (README: \"For users of Murphy's HMM toolbox\")")
    return ""


_TEXT = (".csv", ".txt", ".tsv", ".dat")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tabs", None: "whitespace"}
_DECIMAL_COMMA = re.compile(r"^[-+]?\d*,\d+(?:[eE][-+]?\d+)?$")
_SPACES = " \r\n\f\v"  # what is stripped from a line split at tabs


def _decode(path, raw, encoding):
    """Text from bytes: the given codec, else UTF-16 with a byte-order mark, else UTF-8."""
    if encoding is None and raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif encoding is None:
        if b"\x00" in raw:
            raise DataError(f"{path}: binary content in a text file (a NUL byte at byte {raw.index(0)}); for UTF-16 "
                            "text without a byte-order mark pass encoding='utf-16-le' (--encoding utf-16-le)")
        encoding = "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding == "utf-8-sig" else encoding
        raise DataError(f"{path}: not {name} text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); pass the file's "
                        "encoding, e.g. encoding='latin-1' (--encoding latin-1)") from None
    return text[1:] if text.startswith("\ufeff") else text


def _read_lines(path, encoding=None):
    """The numbered lines of a text file (UTF-8 unless ``encoding``; see :func:`_decode`)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    return list(enumerate(_decode(path, raw, encoding).splitlines(), start=1))


def _detect_delimiter(line):
    """Tab, else ";" (never a decimal mark, so "1,5;2,5" is split at ";"), else ",", else whitespace."""
    line = line.strip()
    return next((d for d in ("\t", ";", ",") if d in line), None)


def _cutter(delimiter):
    """A function: line -> its cells."""
    if delimiter is None or delimiter == " ":
        return str.split
    strip = _SPACES if delimiter == "\t" else None
    return lambda line: line.strip(strip).split(delimiter)


def _unquote(cell):
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == cell[-1] and cell[0] in "\"'":
        cell = cell[1:-1].strip()
    return cell


def _number(cell, decimal):
    """The float in a cell (quotes, a decimal comma allowed), or None."""
    cell = _unquote(cell)
    if decimal == ",":
        if "." in cell:
            return None
        cell = cell.replace(",", ".")
    try:
        return float(cell)
    except ValueError:
        return None


def _is_missing(cell):
    return _unquote(cell).lower() in _MISSING


def _is_header(cells, decimal):
    """A header: a cell that is neither a number nor a missing value, or the bare numbers 0..n-1."""
    names = cells[1:] if cells and cells[0] in ("", "Unnamed: 0") else cells
    return _bare_numbers(names) or any(_number(c, decimal) is None and not _is_missing(c) for c in cells)


def _read_text(path, delimiter=None, decimal=None, encoding=None):
    lines = [(i, ln) for i, ln in _read_lines(path, encoding) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{path}: empty file (no data lines)")
    delimiter = _detect_delimiter(lines[0][1]) if delimiter is None else delimiter
    cut = _cutter(delimiter)
    names = [_unquote(c) for c in cut(lines[0][1])]
    decimal = decimal or _detect_decimal(lines, cut, delimiter)
    if _is_header(names, decimal):
        first_no = lines[0][0]
        lines = lines[2:] if len(lines) > 1 and _is_units(cut(lines[1][1]), decimal) else lines[1:]
        if not lines:
            raise DataError(f"{path}: header only (line {first_no}), no data rows")
    else:
        names = None
    if _trailing(lines, names, cut, delimiter):
        lines = [(i, ln.rstrip(_SPACES)[:-1]) for i, ln in lines]  # a delimiter ending every line
        names = names[:-1] if names and names[-1] == "" else names
    table = _fast_table(lines, cut, decimal) or _slow_table(path, lines, cut, decimal)
    table.names, table.split = names, (delimiter, decimal)
    if names is not None and len(names) >= 2 and names[0] in ("", "Unnamed: 0"):
        _drop_index_column(table)
    return table


def _detect_decimal(lines, cut, delimiter):
    """"," when the columns are split at ";" or tabs and a cell of a line after the first
    (which may be a header) looks like 1,0686, else "."."""
    if delimiter not in (";", "\t"):
        return "."
    comma = any(_DECIMAL_COMMA.match(_unquote(c)) for _, ln in lines[1:] if "," in ln for c in cut(ln))
    return "," if comma else "."


def _trailing(lines, names, cut, delimiter):
    """Every data line ends with the delimiter, and the header (if any) has no name for the
    empty column that this makes: the delimiter is a line end, not an empty last column."""
    if delimiter is None or delimiter == " " or not all(ln.rstrip(_SPACES).endswith(delimiter) for _, ln in lines):
        return False
    return names is None or names[-1] == "" or len(names) == len(cut(lines[0][1])) - 1


def _is_units(cells, decimal):
    """A line of units under the header ("s,m,m" or "[s],[m],[m]"): no cell is a number."""
    return any(_unquote(c) for c in cells) and all(_number(c, decimal) is None for c in cells)


def _fast_table(lines, cut, decimal):
    """The common case, parsed by numpy: every cell a plain number, every row as wide; else None."""
    try:
        if decimal == ",":
            values = np.array([cut(ln.replace(",", ".")) for _, ln in lines], dtype=float)
        else:
            values = np.array([cut(ln) for _, ln in lines], dtype=float)
    except ValueError:
        return None
    if values.ndim != 2:
        return None
    return _Table(values, lines=[i for i, _ in lines], cols=list(range(1, values.shape[1] + 1)))


def _slow_table(path, lines, cut, decimal):
    """Cell by cell: quotes, missing cells (NaN), cells that are not numbers (NaN, listed
    in ``bad``); a row of another width is an error."""
    width = len(cut(lines[0][1]))
    values = np.empty((len(lines), width))
    bad, tokens = [], {}
    for r, (line_no, line) in enumerate(lines):
        cells = cut(line)
        if len(cells) != width:
            raise DataError(f"{path}: line {line_no}: expected {width} columns like the first data row, got {len(cells)}")
        for c, cell in enumerate(cells):
            x = _number(cell, decimal)
            if x is None:
                x = np.nan
                if _is_missing(cell):
                    tokens[r, c] = cell
                else:
                    bad.append((r, c, cell.strip()))
            values[r, c] = x
    return _Table(values, lines=[i for i, _ in lines], cols=list(range(1, width + 1)), bad=bad, tokens=tokens)


def _drop_index_column(table):
    """A pandas index column (header cell "" or "Unnamed: 0") is not data."""
    table.values, table.names, table.cols = table.values[:, 1:], table.names[1:], table.cols[1:]
    table.bad = [(r, c - 1, cell) for r, c, cell in table.bad if c > 0]
    table.tokens = {(r, c - 1): cell for (r, c), cell in table.tokens.items() if c > 0}


@dataclass
class TrajectoryDataset:
    """Labelled trajectories (from a folder tree, a .ts file, an .npz bundle or a table),
    in a deterministic order.

    Attributes
    ----------
    trajectories : list of ndarray, each (n_points_i, n_dims)
    labels : list of str
        The class folder (or label) of each trajectory; numbers for an .npz bundle whose
        ``y`` holds numbers (as ``fit`` keeps them: classes 1, 2, ..., 10 in that order;
        whole-number floats, as MATLAB saves label vectors, as integers).
    paths : list of str
        The file of each trajectory (``file:line`` in a .ts file, ``file[i]`` in a bundle).
    skipped : list of (str, str)
        ``(path, reason)`` for each item left out with ``on_invalid="skip"``.
    ignored : list of str
        Files of a folder tree that were not read: not trajectory data (README.md,
        Thumbs.db, any suffix that is not a trajectory format, hidden files), not
        matching ``pattern``, or cache folders (tagged with a CACHEDIR.TAG file, such as
        the resumable cache of ``trajhmm train``; listed once, not entered).
    time_column : int or None
        0 when the trajectories were read with ``time_column``: column 0 of every array
        holds the time stamps; None otherwise.
    reader : dict
        The reading options (not left at their default) that decide how one file became
        an array (see :func:`reader_options`), as plain JSON values: a model trained on
        this data set can read new files the same way with
        ``read_trajectory(path, **options_for(path, **dataset.reader))``.
    ids : list or None
        Tables (:func:`trajhmm.load_table`): the id of each trajectory.
    groups : list or None
        Tables read with ``group_column``: who or what recorded each trajectory, for
        ``fit(X, y, groups=dataset.groups)``.
    """

    trajectories: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    paths: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    time_column: int = None
    reader: dict = field(default_factory=dict)
    ids: list = None
    groups: list = None

    def __len__(self):
        return len(self.trajectories)

    def __repr__(self):
        """A summary, not every array (a notebook cell showing the data set stays short)."""
        dims = sorted({t.shape[1] for t in self.trajectories if np.ndim(t) == 2})
        points = [len(t) for t in self.trajectories]
        labelled = [label for label in self.labels if label is not None]
        parts = [f"{len(self)} trajectories", f"{len(set(map(str, labelled)))} classes" if labelled else "no labels",
                 *([f"dims {', '.join(map(str, dims))}", f"points {min(points)}-{max(points)}"] if points else []),
                 *([f"time_column={self.time_column}"] if self.time_column is not None else []),
                 *([f"reader={self.reader!r}"] if self.reader else []),
                 *([f"skipped {len(self.skipped)}"] if self.skipped else []),
                 *([f"ignored {len(self.ignored)}"] if self.ignored else [])]
        return f"TrajectoryDataset({', '.join(parts)})"


def _visible_sorted(entries):
    return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


class _Ignored:
    """The files of a tree left unread, by kind (".md", "Thumbs.db", "not matching --pattern ...")."""

    def __init__(self, pattern=None):
        self.pattern, self.paths, self.kinds = pattern, [], []

    def kind(self, name):
        """Why a file is not read (None: it is read)."""
        low = name.lower()
        if low in _JUNK:
            return name
        if low.startswith(_DOC_NAMES):  # README.txt is not data, though .txt is a trajectory format
            return name.split(".")[0]
        if name.startswith("."):
            return "hidden"
        suffix = os.path.splitext(low)[1]
        if suffix not in SUFFIXES:
            return suffix or name
        if self.pattern is not None and not fnmatch.fnmatch(name, self.pattern):
            return f"not matching --pattern {self.pattern!r}"
        return None

    def add(self, path, kind):
        self.paths.append(str(path))
        self.kinds.append(kind)

    def describe(self, start=0):
        """"ignored 4 files that are not trajectory data (2 .md, 1 .json, 1 Thumbs.db)", for
        the files added since the ``start``-th."""
        counts = Counter(self.kinds[start:])
        n = sum(counts.values())
        kinds = ", ".join(f"{k} {name}" for name, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"ignored {n} file{'s' * (n != 1)} that {'are' if n != 1 else 'is'} not trajectory data ({kinds})"

    def nothing(self, folder, start=0):
        """The error for a folder without a trajectory file."""
        return DataError(f"{folder}: no trajectory files ({self.describe(start) if self.paths[start:] else 'an empty folder'})")

    def log(self, root):
        if self.paths:
            logger.warning("%s: %s", root, self.describe())


def _is_dir(entry):
    try:
        return entry.is_dir()  # follows symbolic links
    except OSError:
        return False


def _is_cache_dir(folder):
    """``folder`` is tagged as a cache (:data:`_CACHEDIR_TAG`): never data, at any level of a tree."""
    name, signature = _CACHEDIR_TAG
    try:
        with open(os.path.join(folder, name), "rb") as f:
            return f.read(len(signature)) == signature
    except OSError:
        return False


def _walk(folder, ignored, ancestors=()):
    """The trajectory files under ``folder`` (a str), sorted, files before sub-folders,
    listing one folder at a time. Symbolic links are followed; a link back to a folder
    being walked (a loop) is not, with a warning. Hidden folders are not entered; cache
    folders (:func:`_is_cache_dir`) are not either and go to ``ignored``, as other files do."""
    real = os.path.realpath(folder)
    if real in ancestors:
        warnings.warn(f"{folder}: a symbolic link loop (it leads back to {real}); not followed", UserWarning,
                      stacklevel=user_stacklevel())
        return
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name)
    folders = []
    for e in entries:
        path = os.path.join(folder, e.name)
        if _is_dir(e):
            if _is_cache_dir(path):
                ignored.add(path, _CACHE_KIND)
            elif not e.name.startswith("."):
                folders.append(path)
            continue
        kind = ignored.kind(e.name)
        if kind is None:
            yield path
        else:
            ignored.add(path, kind)
    for sub in folders:
        yield from _walk(sub, ignored, (*ancestors, real))


def list_trajectory_files(paths, *, pattern=None):
    """Expand files and folders into a sorted list of trajectory file paths.

    Folders are walked recursively, following symbolic links (a link loop is not followed,
    with a warning). Hidden folders and cache folders (holding a CACHEDIR.TAG file, see
    https://bford.info/cachedir/; ignored) are not entered; files that are not trajectory data
    (README.md, Thumbs.db, any suffix :func:`read_trajectory` does not read, hidden files)
    or whose name does not match ``pattern`` (a glob such as ``"*.csv"``) are ignored, with
    one logged summary per folder. A path that does not exist, or a folder without any
    trajectory file, raises :class:`DataError`. Files named directly are always listed.
    """
    return list(iter_trajectory_files(paths, pattern=pattern))


def iter_trajectory_files(paths, *, pattern=None, log_ignored=True):
    """Like :func:`list_trajectory_files`, lazily: one folder listed at a time, so a
    stream over many files never holds more than one folder's names. ``log_ignored=False``:
    no summary of the ignored files (a second pass over the same folders, to count them)."""
    if pattern is not None:
        _check_pattern(pattern)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    for p in paths:  # every argument checked before the first file is yielded
        if not p.exists():
            raise DataError(f"{p}: no such file or directory")
    for p in paths:
        if p.is_dir():
            ignored, n = _Ignored(pattern), 0
            for f in _walk(str(p), ignored):
                n += 1
                yield f
            if log_ignored:
                ignored.log(p)
            if not n:
                raise ignored.nothing(p)
        else:
            yield str(p)


def _attempt(read, *args, **kwargs):
    """``read(...)``, or the DataError it raised (an item that ``on_invalid`` decides on)."""
    try:
        return read(*args, **kwargs)
    except DataError as exc:
        return exc


def _collect(items, on_invalid, where, notes=None):
    """A :class:`TrajectoryDataset` from ``(name, (label, array) or DataError)`` items:
    a bad item raises (``on_invalid="error"``) or is recorded in ``skipped``; then the
    number of dims is checked across items (``notes``: a folder tree's warnings, whose
    time-column hint a dims mismatch repeats)."""
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
    _check_consistent_dims(ds, on_invalid, notes)
    for path, reason in ds.skipped:
        logger.warning("skipped %s", skipped_reason(path, reason))
    if not ds.trajectories:
        raise DataError(f"{where}: no readable trajectories ({len(ds.skipped)} skipped)")
    return ds


def load_trajectories(root, *, on_invalid="error", variable=None, layout="auto", max_bytes=MAX_BYTES, columns=None,
                      time_column=None, delimiter=None, decimal=None, encoding=None, missing="error", pattern=None,
                      label_level=1, header_names=None):
    """Read a labelled folder tree ``root/<label>/<trajectory files>``.

    Class folders and files are read in sorted order, sub-folders of a class folder too;
    symbolic links are followed (a link loop is not, with a warning); hidden folders are
    not entered. Files that are not trajectory data (README.md, notes.json, Thumbs.db,
    .DS_Store, any suffix that :func:`read_trajectory` does not read) and cache folders
    (holding a CACHEDIR.TAG file, such as the resumable cache ``model.npz.cache`` of
    ``trajhmm train``; not entered), anywhere in the tree, are ignored: listed in
    ``dataset.ignored`` and summed up in one logged warning.
    Trajectory files directly inside ``root`` are not allowed (each file must be in a
    class folder). A tree without any trajectory file is an error.

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
    layout, max_bytes, columns, time_column, delimiter, decimal, encoding, missing, header_names
        Passed to :func:`read_trajectory` for every file (to the files of the formats that
        use them: ``delimiter`` to text files, ...). A warning that concerns every file
        (a time column read as a coordinate, an array transposed by ``layout="auto"``) is
        issued once for the tree, naming the first file.
    pattern : str, optional
        Read only the files whose name matches this glob (``"*.csv"``, ``"run_*.txt"``);
        the others are ignored.
    label_level : int, default=1
        The folder level below ``root`` that holds the labels: 1 for ``root/<label>/...``,
        2 for ``root/<subject>/<label>/...``. Files less deep than that are invalid. With
        the default, a tree whose class folders all hold sub-folders of the same names is
        warned about (the labels may be the sub-folders).

    Returns
    -------
    TrajectoryDataset
        With ``time_column`` (0 when ``time_column`` was given) and ``reader`` (the
        reading options, see :func:`reader_options`). Without ``columns``, when every file
        read has the same header row of names, ``reader`` keeps them as ``header_names``:
        new files read with that reader are read by name, whatever the order of their
        columns (not when a header repeats a name or leaves one empty). Files whose header
        rows name the same columns in other orders are read by name too, in the most common
        order.
    """
    root = Path(root)
    given = {"on_invalid": on_invalid, "variable": variable, "layout": layout, "max_bytes": max_bytes,
             "columns": columns, "time_column": time_column, "delimiter": delimiter, "decimal": decimal,
             "encoding": encoding, "missing": missing, "pattern": pattern, "label_level": label_level,
             "header_names": header_names}
    check_options(**given)
    own = _own_options(FOLDER, root, given)
    if not root.exists():
        raise DataError(f"{root}: no such directory")
    if not root.is_dir():
        fmt = FORMATS.get(root.suffix.lower())
        one = f"a file of one trajectory ({fmt.what})" if fmt is not None and fmt.kind == "trajectory" else "a file"
        raise DataError(f"{root}: expected a directory of class folders (DATA/<label>/<files>), got {one}; labelled "
                        "data in one file is an .npz bundle (X, lengths, y), a .ts file or a long table"
                        + (" (a .mat file of many: README, \"For users of Murphy's HMM toolbox\")"
                           if root.suffix.lower() == ".mat" else ""))
    ignored, notes = _Ignored(pattern), {}
    ds = _collect(FOLDER.read(root, ignored=ignored, notes=notes, **own), on_invalid, root, notes)
    ignored.log(root)
    headers = _shared_header(ds, notes.pop(_HEADERS, {}), root)
    _emit_notes(notes, root)
    for cls in _visible_sorted(root.iterdir()) if label_level == 1 else ():
        if cls.is_dir() and cls.name not in ds.labels and not _is_cache_dir(cls):
            raise DataError(f"{cls}: every file in this class folder was skipped as invalid")
    ds.ignored, ds.reader = ignored.paths, reader_options(**{**given, **({"header_names": headers} if headers else {})})
    ds.time_column = None if time_column is None else 0
    warn_unit_outliers(ds, root)
    return ds


# A labelled trajectory that moves more than this many times less (or more) than the median
# trajectory of its class is warned about: other units than the rest (metres among
# millimetres; centimetres among metres is 100 times). On the train splits of the seven sets
# (../shared/data and sample_data) every trajectory moves 0.28 to 1.64 times its class's
# median (scripts/study_motion_check.py); 30 leaves room for a trajectory cut short.
UNITS_FACTOR = 30.0


def warn_unit_outliers(ds, where):
    """Warn about labelled trajectories of ``ds`` that move more than :data:`UNITS_FACTOR`
    times less or more than the median of their class (the root mean square over the
    coordinates of their standard deviation; the time column, when ``ds`` has one, left
    out; classes of at least 3 trajectories)."""
    if len(ds.labels) != len(ds.trajectories) or any(label is None for label in ds.labels):
        return
    first = 0 if ds.time_column is None else 1
    moves = np.array([np.sqrt(np.mean(np.var(x[:, first:], axis=0))) for x in ds.trajectories])
    labels = np.array([str(label) for label in ds.labels])
    ratio = np.ones(len(moves))
    for label in np.unique(labels):
        own = labels == label
        middle = np.median(moves[own])
        if own.sum() >= 3 and middle > 0:
            ratio[own] = moves[own] / middle
    odd = np.flatnonzero((ratio < 1 / UNITS_FACTOR) | (ratio > UNITS_FACTOR))
    if odd.size:
        i, n = odd[0], odd.size
        warnings.warn(f"{where}: {n} trajector{'y moves' if n == 1 else 'ies move'} more than {UNITS_FACTOR:g} times "
                      f"less or more than the median of {'its' if n == 1 else 'their'} class (the first: {ds.paths[i]}, "
                      f"class {str(labels[i])!r}, {ratio[i]:.3g} times): other units than the rest (metres among "
                      f"millimetres), or cut short? Such trajectories distort their class's model", UserWarning,
                      stacklevel=user_stacklevel())


def _shared_header(ds, headers, root):
    """The header names of the coordinates when every file read has a header row naming the
    same columns (``headers``: file -> names, or None for a file without one), else None.
    When their orders differ, the most common order is kept and every other file's
    coordinates are put in it (all its columns were read, in its own order): each file is
    read by name."""
    got = [headers.get(str(Path(p))) for p in ds.paths]
    if not got or any(h is None for h in got) or len({tuple(sorted(h)) for h in got}) != 1:
        return None
    names = Counter(got).most_common(1)[0][0]  # (a tie: the first file's order)
    moved = 0
    for i, h in enumerate(got):
        if h != names:
            t = ds.trajectories[i]
            first = t.shape[1] - len(names)  # the time column, when one was read
            ds.trajectories[i] = np.concatenate([t[:, :first], t[:, first:][:, [h.index(n) for n in names]]], axis=1)
            moved += 1
    if moved:
        logger.info("%s: %d files name the same columns in another order than %s; each was read by name", root,
                    moved, ", ".join(names))
    return list(names)


def _tree_items(root, *, ignored, notes, pattern, label_level, **reading):
    """``(file, (label, array) or DataError)`` for every trajectory file of the tree."""
    del pattern  # applied by ``ignored``
    files = _class_files(root, ignored) if label_level == 1 else _level_files(root, ignored, label_level)
    used_variable = False
    for f, label in files:
        if isinstance(label, DataError):
            yield f, label
            continue
        own = options_for(f, **reading)
        used_variable = used_variable or "variable" in own
        got = _attempt(_read, Path(f), own, notes)
        yield f, got if isinstance(got, DataError) else (label, got)
    if reading["variable"] is not None and not used_variable:
        raise OptionError(f"{root}: variable= (--variable) applies to .mat files, and this folder tree holds none")


def _class_files(root, ignored):
    """``(file, label)`` for ``root/<label>/...``; a file directly in ``root`` is ``(file, DataError)``."""
    classes = []
    for e in sorted(root.iterdir(), key=lambda e: e.name):
        if e.is_dir() and _is_cache_dir(e):
            ignored.add(e, _CACHE_KIND)
        elif e.is_dir():
            classes += [] if e.name.startswith(".") else [e]
        elif ignored.kind(e.name) is not None:
            ignored.add(e, ignored.kind(e.name))
        else:
            yield str(e), DataError(f"{e}: expected only class folders in {root}, got a file")
    if not classes:
        raise DataError(f"{ignored.nothing(root)}; expected class folders, one per label")
    _warn_nested(root, classes)
    top = (os.path.realpath(root),)
    for cls in classes:
        n, start = 0, len(ignored.paths)
        for f in _walk(str(cls), ignored, top):
            n += 1
            yield f, cls.name
        if not n:
            also = f"; {ignored.describe(start)}" if ignored.paths[start:] else ""
            raise DataError(f"{cls}: empty class folder (no trajectory files{also})")


def _level_files(root, ignored, level):
    """``(file, label)`` with the label the folder ``level`` levels below ``root``."""
    n = 0
    for f in _walk(str(root), ignored):
        n += 1
        parts = Path(f).relative_to(root).parts
        if len(parts) > level:
            yield f, parts[level - 1]
        else:
            yield f, DataError(f"{f}: expected a file at least {level} folders below {root} (label_level={level} "
                               f"takes the labels from the folders at level {level}), got {len(parts) - 1} "
                               "folder(s) below; pass another label_level= (--label-level)")
    if not n:
        raise ignored.nothing(root)


def _warn_nested(root, classes):
    """D15: every class folder holds only sub-folders, with the same names across them:
    the labels may be one level down (root/<subject>/<label>/...)."""
    subs = []
    for cls in classes:
        with os.scandir(cls) as it:
            entries = [e for e in it if not e.name.startswith(".")]
        if any(not _is_dir(e) and os.path.splitext(e.name.lower())[1] in SUFFIXES for e in entries):
            return
        subs.append({e.name for e in entries if _is_dir(e) and not _is_cache_dir(e.path)})
    repeated = sorted(name for name, n in Counter(n for s in subs for n in s).items() if n > 1)
    if not repeated or not all(subs):
        return
    shown = lambda names: ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")  # noqa: E731
    warnings.warn(f"{root}: the class folders hold sub-folders with the same names ({shown(repeated)}): labels are "
                  f"taken from the first level ({shown([c.name for c in classes])}); if the labels are the "
                  "sub-folders, pass label_level=2 (--label-level 2)", UserWarning, stacklevel=user_stacklevel())


def _check_consistent_dims(ds, on_invalid, notes=None):
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
            f"{ds.paths[i]}: expected {first} dims like {ds.paths[0]}, got {dims[i]}{_dims_hint(ds.paths[i], notes)}"
        )
    majority = values[np.argmax(counts)]
    keep = dims == majority
    for i in np.flatnonzero(~keep):
        ds.skipped.append((ds.paths[i], f"{ds.paths[i]}: expected {majority} dims like the majority, got {dims[i]}"
                                        f"{_dims_hint(ds.paths[i], notes)}"))
    ds.trajectories = [t for t, k in zip(ds.trajectories, keep) if k]
    ds.labels = [t for t, k in zip(ds.labels, keep) if k]
    ds.paths = [t for t, k in zip(ds.paths, keep) if k]


def _load_file(path, fmt, given, require_labels=True):
    """A data set file (.ts, .npz): the file check, its options, its items collected
    (``require_labels=False``: a file without labels is read, its labels are None)."""
    path = Path(path)
    own = _open(path, fmt, given, kind="dataset")
    on_invalid = given.get("on_invalid") or "error"
    ds = _parse(path, lambda p: _collect(fmt.read(p, require_labels=require_labels, **own), on_invalid, p))
    ds.reader = reader_options(**given)  # .ts: missing=, so that a model reads new files alike
    warn_unit_outliers(ds, path)
    return ds


def read_ts(path, *, max_bytes=DATASET_MAX_BYTES, on_invalid="error", missing="error", require_labels=True,
            encoding=None):
    """Read a labelled UEA / sktime ``.ts`` file (the format of the public time-series
    classification archives, e.g. JapaneseVowels_TRAIN.ts shipped in the aeon wheel).

    Each data line holds the dimensions separated by ``:``, the values of one dimension
    separated by ``,``, and the class label last. Returns a :class:`TrajectoryDataset`
    whose trajectories are (n_points, n_dims) arrays and whose paths are ``file:line``.
    Time-stamped files are refused with a clear error, and so are unlabelled ones
    (``@classLabel false``) unless ``require_labels=False`` (new data to predict: every
    field of a line is then a dimension, and the labels are None). The header is
    checked: a label not listed by ``@classLabel true ...``, or a number of dimensions
    other than ``@dimensions``, is an error naming the line.

    on_invalid : {"error", "skip"}, default="error"
        "skip": a malformed data line (or one whose number of dims differs from the
        majority) is left out and listed in ``skipped`` as ``(file:line, reason)``. A bad
        header is always an error: it makes every line unreadable.
    missing : {"error", "interpolate"}, default="error"
        Missing values (``?``, the UEA mark, and NaN): an error naming the line and the
        value, or filled by linear interpolation along time within each dimension, as the
        text readers do (:func:`fill_gaps`); a dimension without any value is an error.
    encoding : str, optional
        The text encoding, as for the text readers: UTF-8 (a byte-order mark allowed, and
        UTF-16 with one) unless given, e.g. ``"latin-1"`` for labels written in it.
    """
    return _load_file(path, FORMATS[".ts"], {"max_bytes": max_bytes, "on_invalid": on_invalid, "missing": missing,
                                             "encoding": encoding}, require_labels)


@dataclass
class _TsHeader:
    """What a .ts header declares: whether lines end with a label, the class labels
    (empty: none listed), the number of dimensions (None: not declared) and whether values
    may be missing."""

    labelled: bool = False
    labels: tuple = ()
    dims: int = None
    missing: bool = False


def _ts_key(path, line_no, key, value, header):
    """One header line ``@key value`` into ``header``."""
    low = value.lower()
    if key == "timestamps" and low == "true":
        raise DataError(f"{path}: time-stamped .ts files are not supported")
    if key == "dimensions":
        if not value.isdigit() or int(value) < 1:
            raise DataError(f"{path}: line {line_no}: @dimensions: expected a positive integer, got {value!r}")
        header.dims = int(value)
    if key == "missing":
        header.missing = low == "true"
    if key == "classlabel":
        header.labelled = low.startswith("true")
        header.labels = tuple(value.split()[1:]) if header.labelled else ()


def _ts_header(path, lines, require_labels=True):
    """Consume the header lines up to @data; refuse time-stamped files, and unlabelled
    ones when ``require_labels``."""
    header = _TsHeader()
    for line_no, line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("@"):
            raise DataError(f"{path}: line {line_no}: expected a @header or @data, got {line[:40]!r}")
        key, _, value = line[1:].partition(" ")
        key = key.lower()
        if key == "data":
            if require_labels and not header.labelled:
                raise DataError(f"{path}: expected a labelled file (@classLabel true ...)")
            return header
        _ts_key(path, line_no, key, value.strip(), header)
    raise DataError(f"{path}: no data lines after @data")


def _ts_line(path, line_no, line, header, missing="error"):
    dims, label = line.split(":"), None
    if header.labelled:
        *dims, label = dims
        if not dims:
            raise DataError(f"{path}: line {line_no}: expected dimensions separated by ':' and a label")
        label = label.strip()
    if header.labels and _ts_label_key(label) not in {_ts_label_key(k) for k in header.labels}:
        raise DataError(f"{path}: line {line_no}: expected a class label declared by @classLabel "
                        f"({', '.join(header.labels)}), got {label!r}")
    if header.dims is not None and len(dims) != header.dims:
        raise DataError(f"{path}: line {line_no}: expected {header.dims} dimensions (@dimensions {header.dims}), "
                        f"got {len(dims)}")
    values = [d.split(",") for d in dims]
    bad = next((v for vs in values for v in vs if not is_number(v) and v.strip() != "?"), None)
    if bad is not None:
        raise DataError(f"{path}: line {line_no}: expected a number, got {bad!r}")
    if len({len(vs) for vs in values}) != 1:
        raise DataError(f"{path}: line {line_no}: dimensions have different lengths {[len(vs) for vs in values]}")
    arr = np.array([[np.nan if v.strip() == "?" else float(v) for v in vs] for vs in values]).T
    if np.isnan(arr).any():
        _ts_gaps(path, line_no, arr, values, header, missing)
    return label, check_trajectory(arr, name=f"{path}:{line_no}")


def _ts_label_key(label):
    """How a .ts label is matched against ``@classLabel``: without case, numbers by value
    ("1" is "1.0"), as other .ts readers lower-case header and data alike. The data
    lines' own spelling is the label kept."""
    return float(label) if is_number(label) else label.lower()


def _ts_gaps(path, line_no, arr, values, header, missing):
    """Missing values (``?``, NaN) of one data line: an error naming the first, or filled
    in place along time by :func:`fill_gaps` (the text readers' gap filler)."""
    if missing == "error":
        i, d = np.argwhere(np.isnan(arr))[0]
        undeclared = "" if header.missing else ", and the header does not declare @missing true"
        raise DataError(f"{path}: line {line_no}, dimension {d + 1}, point {i + 1}: expected a finite number, got "
                        f"{values[d][i].strip()!r} (a missing value{undeclared}); pass missing='interpolate' "
                        "(--missing interpolate) to fill missing values from their neighbours")
    empty = fill_gaps(arr)
    if empty is not None:
        raise DataError(f"{path}: line {line_no}: dimension {empty + 1} has no values (every value is missing), "
                        "nothing to interpolate from")


def _ts_items(path, missing="error", require_labels=True, encoding=None):
    lines = iter(_read_lines(path, encoding))
    header = _ts_header(path, lines, require_labels)
    n_data = 0
    for line_no, line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            n_data += 1
            yield f"{path}:{line_no}", _attempt(_ts_line, path, line_no, line, header, missing)
    if not n_data:
        raise DataError(f"{path}: no data lines after @data")


def load_npz(path, *, split=None, on_invalid="error", max_bytes=DATASET_MAX_BYTES, require_labels=True):
    """Read a trajectory bundle: an .npz with ``X`` (all points stacked), ``lengths``, ``y``
    and optionally ``split`` (like ../shared/data/character_trajectories.npz). Read without
    pickle. ``split`` selects the rows whose ``split`` value equals it. With
    ``require_labels=False`` (new data to predict) ``y`` may be left out; the labels are
    then None.

    on_invalid : {"error", "skip"}, default="error"
        "skip": a trajectory that is not usable (non-finite values, fewer than 2 points)
        is left out and listed in ``skipped`` as ``(file[i], reason)``. A malformed bundle
        (missing or inconsistent arrays) is always an error.
    max_bytes : int, default=1 GiB
        Files larger than this are refused without being read.
    """
    given = {"split": split, "on_invalid": on_invalid, "max_bytes": max_bytes}
    return _load_file(path, FORMATS[".npz"], given, require_labels)


def _read_npz_arrays(path):
    key = None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {}
            for key in npz.files:
                arrays[key] = npz[key]
            return arrays
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise DataError(f"{path}: not a readable .npz bundle (ValueError: {exc})") from None
        raise DataError(f"{path}: the array {key!r} holds Python objects, which are not read (that would need "
                        "pickle); save the labels as strings: np.savez(path, X=X, lengths=lengths, "
                        "y=np.asarray(y, dtype=str))") from None
    except Exception as exc:  # noqa: BLE001 (untrusted bytes) - zipfile/numpy raise many types
        raise DataError(f"{path}: not a readable .npz bundle ({type(exc).__name__}: {exc})") from None


def _check_lengths(path, lengths, n_rows):
    """An .npz bundle's ``lengths``: positive integers (a negative one would be read as a
    split point counted from the end)."""
    expected = f"{path}: lengths: expected positive integers summing to len(X) ({n_rows})"
    if lengths.ndim != 1 or not (np.issubdtype(lengths.dtype, np.integer) or np.issubdtype(lengths.dtype, np.floating)):
        raise DataError(f"{expected}, got an array of {lengths.dtype} with shape {lengths.shape}")
    bad = ~np.isfinite(lengths) | (lengths < 1) | (lengths != np.round(lengths)) if lengths.size else np.zeros(0, bool)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{expected}, got {lengths[i].item()!r} at index {i}")


def _npz_items(path, split=None, require_labels=True):
    arrays = _read_npz_arrays(path)
    needed = ("X", "lengths", "y") if require_labels or "y" in arrays else ("X", "lengths")
    missing = [k for k in needed if k not in arrays]
    if missing:
        raise DataError(f"{path}: expected arrays {', '.join(needed[:-1])} and {needed[-1]}, missing "
                        f"{', '.join(missing)}")
    X, lengths = arrays["X"], arrays["lengths"]
    y = arrays["y"] if "y" in arrays else np.full(len(lengths), None)
    _check_lengths(path, lengths, len(X))
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
    numbers = y.dtype.kind in "iuf"  # (MATLAB's label vectors): kept as numbers, ordered as numbers
    if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all() and np.abs(y).max(initial=0) < 2**53:
        y = y.astype(np.int64)  # MATLAB keeps 1, 2, ... as doubles: the classes 1, 2, ...
    for i, seq in enumerate(np.split(X, np.cumsum(lengths)[:-1])):
        if keep[i]:
            got = _attempt(check_trajectory, seq, name=f"{path}[{i}]")
            label = None if y[i] is None else y[i].item() if numbers else str(y[i])
            yield f"{path}[{i}]", got if isinstance(got, DataError) else (label, got)


#: The reader registry: file suffix (lower case) -> :class:`Format`.
_ARRAY_OPTIONS = ("layout", "max_bytes", "columns", "time_column", "missing")
_TEXT_OPTIONS = (*_ARRAY_OPTIONS, "delimiter", "decimal", "encoding", "header_names")
FORMATS = types.MappingProxyType({
    **{s: Format(f"a {s} file", "trajectory", _read_text, _TEXT_OPTIONS) for s in _TEXT},
    ".npy": Format("a .npy file", "trajectory", _read_npy, _ARRAY_OPTIONS),
    ".mat": Format("a .mat file", "trajectory", _read_mat, ("variable", *_ARRAY_OPTIONS)),
    ".npz": Format("an .npz bundle", "dataset", _npz_items, ("split", "on_invalid", "max_bytes"),
                   DATASET_MAX_BYTES),
    ".ts": Format("a .ts file", "dataset", _ts_items, ("on_invalid", "max_bytes", "missing", "encoding"),
                  DATASET_MAX_BYTES),
})
#: A folder of class folders (:func:`load_trajectories`); not a suffix.
FOLDER = Format("a folder tree", "tree", _tree_items,
                ("on_invalid", "variable", *_TEXT_OPTIONS, "pattern", "label_level"))

#: File suffixes :func:`read_trajectory` understands (lower case).
SUFFIXES = tuple(s for s, f in FORMATS.items() if f.kind == "trajectory")


def load_dataset(path, *, split=None, require_labels=True, **kwargs):
    """A labelled data set from a folder tree (:func:`load_trajectories`), an .npz bundle
    (:func:`load_npz`) or a .ts file (:func:`read_ts`), chosen through :data:`FORMATS`.
    ``require_labels=False``: a data set file without labels (new data to predict) is
    read too, with labels None (a folder tree is labelled by its folders).

    Options (``split``, ``on_invalid``, ``variable``, ``layout``, ``max_bytes`` and the
    reading options of :func:`load_trajectories`) that the chosen format does not use are
    refused, not ignored; see :class:`Format`.
    """
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    given = {"split": split, **kwargs}
    if p.is_dir() or fmt is None or fmt.kind != "dataset":
        check_options(**given)
        _own_options(FOLDER, p, given)  # refuses split=
        return load_trajectories(p, **{k: v for k, v in given.items() if k in FOLDER.options})
    return _load_file(p, fmt, given, require_labels)

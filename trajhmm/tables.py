"""Long tables: one row per point, a column naming the trajectory of each row.

The shape most trajectory data are held in (pandas, MovingPandas, traja, tsfresh and
sktime's long format): ``id, label, t, x, y[, z]`` in a CSV/TSV/Parquet file or a pandas
DataFrame. :func:`load_table` turns it into the :class:`~trajhmm.TrajectoryDataset` that
the folder readers return. pandas (and pyarrow, for Parquet) come with the ``tables``
extra: ``pip install 'trajhmm[tables]'``.
"""

import csv
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import datasets
from ._params import check_param
from ._validation import user_stacklevel
from .datasets import TrajectoryDataset, fill_gaps
from .exceptions import DataError, ParameterValueError

__all__ = ["load_table", "has_column", "TABLE_SUFFIXES"]

_HEAD_BYTES = 1 << 16  # has_column reads this much of a text table for its header

#: File suffixes :func:`load_table` reads, and how.
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def _pandas():
    try:
        import pandas as pd
    except ImportError:
        raise DataError("tables need pandas: pip install 'trajhmm[tables]'") from None
    return pd


def _read_source(source, delimiter, decimal, encoding, text_columns=()):
    """(DataFrame, name for messages, the file line of each row: None for a DataFrame or
    Parquet, whose rows are named by their index). ``text_columns`` of a text file are
    read as written (``007``, ``7`` and ``7.0`` are three ids, not one number; ``NA`` is
    an id, an empty cell none). A pandas index column (an empty or ``Unnamed: 0`` first
    column name) and the empty column of a delimiter at the end of every line are
    dropped, whatever the source."""
    frame, name, lines = _read_frame(source, delimiter, decimal, encoding, text_columns)
    names = [str(c) for c in frame.columns]
    drop = [frame.columns[0]] if len(names) >= 2 and names[0] in ("", "Unnamed: 0") else []
    if len(names) >= 2 and names[-1].startswith("Unnamed: ") and frame[frame.columns[-1]].isna().all():
        drop.append(frame.columns[-1])  # (a text file: index_col=False drops a data row's extra last field too)
    out = frame.drop(columns=drop)
    out.attrs.update(frame.attrs)
    return out, name, lines


def _read_frame(source, delimiter, decimal, encoding, text_columns):
    pd = _pandas()
    if isinstance(source, pd.DataFrame):
        return source.copy(deep=False), "the table", None  # (its column names are read as text: not the caller's)
    path = Path(source)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown table type {path.suffix!r}; expected one of {', '.join(TABLE_SUFFIXES)}")
    if not path.is_file():
        raise DataError(f"{path}: no such file" if not path.exists() else f"{path}: expected a table file, got a directory")
    try:
        if kind == "parquet":
            return pd.read_parquet(path), str(path), None
        frame, lines = _read_text_table(pd, path, kind, delimiter, decimal, encoding, text_columns)
    except ImportError as exc:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install 'trajhmm[tables]' ({exc})") from None
    except (ValueError, OSError, UnicodeError) as exc:  # pandas' parser errors are ValueErrors
        raise DataError(f"{path}: cannot read the table ({type(exc).__name__}: {' '.join(str(exc).split())})") from None
    return frame, str(path), lines


def has_column(path, column, delimiter=None, encoding=None):
    """Whether ``path`` is a table file (:data:`TABLE_SUFFIXES`) whose header names
    ``column`` (a text file's first line, read as :func:`load_table` reads it; a Parquet
    file's schema). How ``trajhmm predict`` tells a long table from a file of one
    trajectory for a model trained on tables."""
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None or not path.is_file():
        return False
    if kind == "parquet":
        try:
            import pyarrow.parquet as pq

            return column in pq.read_schema(path).names
        except ImportError as exc:
            raise DataError(f"{path}: reading Parquet needs pyarrow: pip install 'trajhmm[tables]' ({exc})") from None
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read the table ({type(exc).__name__}: {' '.join(str(exc).split())})") \
                from None
    with open(path, "rb") as fh:  # the header is in the first lines: no need to read a large table twice
        head = fh.read(_HEAD_BYTES)
    if len(head) == _HEAD_BYTES and head.rfind(b"\n") > 0:
        head = head[: head.rfind(b"\n") + 1]
    try:
        lines = datasets._decode(path, head, encoding).splitlines()
    except DataError:  # a character cut at the end of the first bytes (UTF-16): the whole file
        lines = datasets._decode(path, path.read_bytes(), encoding).splitlines()
    header = next((ln for ln in lines if ln.strip()), "")
    if delimiter is None:
        delimiter = "\t" if kind == "tsv" else (datasets._detect_delimiter(header) or ",")
    return column in [datasets._unquote(c).strip() for c in datasets._cutter(delimiter)(header)]


def _read_text_table(pd, path, kind, delimiter, decimal, encoding, text_columns=()):
    """A CSV/TSV table, read as the trajectory files are: the encoding (UTF-8, or UTF-16
    with a byte-order mark), the delimiter and the decimal comma detected unless given,
    a units row under the header skipped; ``text_columns`` kept as written (only an empty
    cell is missing)."""
    text = datasets._decode(path, path.read_bytes(), encoding)
    lines = text.splitlines()
    header = lines[0] if lines else ""
    if delimiter is None:
        delimiter = "\t" if kind == "tsv" else (datasets._detect_delimiter(header) or ",")
    cut = datasets._cutter(delimiter)
    body = [ln for ln in lines[1:3] if ln.strip()]
    if decimal is None:
        comma = delimiter in (";", "\t") and any(datasets._DECIMAL_COMMA.match(datasets._unquote(c).strip())
                                                 for ln in body for c in cut(ln))
        decimal = "," if comma else "."
    units = [1] if body and datasets._is_units(cut(body[0]), decimal) else None
    options = dict(sep=delimiter, skiprows=units, skipinitialspace=True, index_col=False)
    frame = pd.read_csv(io.StringIO(text), decimal=decimal, **options)
    kept = [c for c in dict.fromkeys(text_columns) if c is not None and c in frame.columns]
    if kept:  # read again as text, without pandas' words for missing values (NA, nan, None, ...)
        raw = pd.read_csv(io.StringIO(text), usecols=kept, dtype=str, keep_default_na=False, na_values=[""], **options)
        frame = frame.assign(**{c: raw[c] for c in kept})
    frame.attrs["decimal"] = decimal  # how its cells read as numbers (_stray_cells)
    return frame, _line_numbers(lines, delimiter, units, len(frame), text)


def _line_numbers(lines, delimiter, units, n_rows, text):
    """The 1-based file line of each of pandas' rows: the lines that are not blank (pandas
    skips those; a line of delimiters is a row of empty cells), after the header and the
    units row. A quoted cell over several lines: the first line of each record, as the csv
    module reads them."""
    kept = [i + 1 for i, ln in enumerate(lines) if ln.strip() or (delimiter != " " and delimiter in ln)]
    numbers = np.array(kept[1 + bool(units):], dtype=int)
    if len(numbers) != n_rows and len(delimiter) == 1 and not delimiter.isspace():
        numbers = np.array(_record_lines(text, delimiter)[1 + bool(units):], dtype=int)
    if len(numbers) != n_rows:  # counted another way than pandas: as if there were no blank or multi-line cells
        numbers = np.arange(n_rows, dtype=int) + 2 + bool(units)
    return numbers


def _record_lines(text, delimiter):
    """The 1-based first line of every record that is not blank."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    out, line = [], 1
    for record in reader:
        if len(record) > 1 or any(cell.strip() for cell in record):
            out.append(line)
        line = reader.line_num + 1
    return out


class MissingColumnError(DataError):
    """A named column (``role``: "id_column", "label_column", "time_column", "group_column"
    or "columns") that the table does not have. The command line names its flag instead."""

    def __init__(self, source, role, column, names):
        self.source, self.role, self.column, self.names = source, role, column, list(names)
        super().__init__(self.describe(role))

    def __reduce__(self):
        return type(self), (self.source, self.role, self.column, self.names)

    def describe(self, option):
        """The message, naming the column's option as ``option``."""
        return f"{self.source}: {option}: no column {self.column!r}; the table has {', '.join(map(repr, self.names))}"


def _check_columns(frame, name, id_column, label_column, time_column, group_column, columns):
    """``(wanted, strays)``: the coordinate columns (``columns``, or every column that is
    not the id, label, time or group column), and the cells of the coordinate and time
    columns that are not numbers (nor dates, in the time column) in columns of numbers,
    by column: a Series of "expected ..., got ..." by row label, each the error of its
    trajectory (those columns of ``frame`` are made numbers, their strays missing).
    Every named column must exist; coordinates must be numeric."""
    names = [str(c) for c in frame.columns]
    frame.columns = names
    special = {"id_column": id_column, "label_column": label_column, "time_column": time_column,
               "group_column": group_column}
    wanted = list(columns) if columns is not None else [c for c in names if c not in special.values()]
    _check_roles(special, wanted)
    for what, col in [*special.items(), *(("columns", c) for c in wanted)]:
        if col is not None and col not in names:
            raise MissingColumnError(name, what, col, names)
    if not wanted:
        raise DataError(f"{name}: no coordinate columns left besides {', '.join(c for c in special.values() if c)}")
    if time_column is None and columns is None:
        clock = next((c for c in wanted if datasets.looks_like_time(c)), None)
        if clock is not None:
            warnings.warn(f"{name}: {datasets.time_column_warning(clock)}", UserWarning, stacklevel=user_stacklevel())
    strays = {}
    for col in [*wanted, *([time_column] if time_column is not None else [])]:
        if _is_numbers(frame[col]):
            continue
        found = _stray_cells(frame[col], frame.attrs.get("decimal"), col == time_column)
        if found is not None:
            frame[col], strays[col] = found
        elif col != time_column:  # (a time column of dates is fine: _times)
            raise DataError(f"{name}: column {col!r} is not numeric ({frame[col].dtype}); choose the coordinates "
                            "with columns= / --columns (or, for decimal commas or another text encoding, "
                            "--decimal / --encoding)")
    return wanted, {col: bad for col, bad in strays.items() if len(bad)}


def _check_roles(special, wanted):
    """ParameterValueError when one column is given two roles (the id and the label, a
    coordinate and the time, ...)."""
    seen = {}
    for what, col in [*special.items(), *(("columns", c) for c in wanted)]:
        if col is None:
            continue
        if col in seen:
            raise ParameterValueError(what, "a column with no other role (one column is the id, the label, the "
                                      "time, the group or a coordinate)", f"{col!r}, already {seen[col]}")
        seen[col] = "a coordinate" if what == "columns" else "the " + what.replace("_column", " column")


def _is_numbers(column):
    pd = _pandas()
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _stray_cells(cells, decimal, time=False):
    """``(values, strays)`` for a column of numbers with a few cells that are not (a typo,
    a stray word): the column as numbers, those cells missing, and for each of them
    (by row label) "expected a number, got ..."; None for a column mostly not numbers
    (text or dates, a column wrongly chosen: left to the caller). ``time``: text that is
    neither numbers nor mostly numbers is read as ISO 8601 dates (:func:`_iso_times`).
    ``decimal``: the text file's decimal mark (None: a DataFrame or Parquet)."""
    pd = _pandas()
    comma = decimal == ","
    if pd.api.types.is_bool_dtype(cells) or pd.api.types.is_datetime64_any_dtype(cells):
        return None
    try:  # (read with decimal commas, a column holding one bad cell keeps its numbers as text: '7,5')
        text = comma and (cells.dtype == object or pd.api.types.is_string_dtype(cells))
        numbers = pd.to_numeric(cells.str.replace(",", ".", regex=False) if text else cells, errors="coerce")
    except (TypeError, ValueError, AttributeError):
        return None
    bad = cells.notna() & numbers.isna()
    if numbers.notna().sum() <= bad.sum():
        return _iso_times(cells) if time and (cells.dtype == object or pd.api.types.is_string_dtype(cells)) else None

    def said(value):
        hint = ("; it looks like a decimal comma: pass decimal=',' (--decimal ,)" if decimal == "."
                and isinstance(value, str) and datasets._DECIMAL_COMMA.match(value.strip()) else "")
        return f"expected a number, got {value!r}{hint}"

    return numbers, cells[bad].map(lambda v: said(_plain(v)))


def _iso_times(cells):
    """``(dates, strays)``: text time stamps read as ISO 8601 dates (``2024-05-01T12:00:00.5``,
    with or without a time zone: as UTC); each cell that is no such date is a stray."""
    pd = _pandas()
    parsed = pd.to_datetime(cells, format="ISO8601", utc=True, errors="coerce")
    bad = cells.notna() & parsed.isna()
    return parsed, cells[bad].map(lambda v: "expected a number or an ISO 8601 date (such as 2024-05-01T12:00:00.5), "
                                            f"got {_plain(v)!r}")


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _times(column, name):
    """Time stamps as float seconds: numbers as they are, dates relative to the first."""
    pd = _pandas()
    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = column.to_numpy(dtype="datetime64[ns]")
        missing = np.isnat(stamps)  # (as integers, NaT is the most negative one: a time, not a gap)
        ns = stamps.astype(np.int64)
        seconds = (ns - (ns[~missing].min() if (~missing).any() else 0)) / 1e9
        return np.where(missing, np.nan, seconds)
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise DataError(f"{name}: column {column.name!r} (the time column): expected numbers or dates, got "
                        f"{column.dtype} values")
    return column.to_numpy(dtype=float)


def load_table(source, *, id_column, label_column=None, time_column=None, columns=None, group_column=None,
               missing="error", delimiter=None, decimal=None, encoding=None, on_invalid="error"):
    """Read a long table (one row per point) into a :class:`~trajhmm.TrajectoryDataset`.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        A ``.csv`` (delimiter detected), ``.tsv``/``.txt`` (tab) or ``.parquet`` file, or
        a DataFrame.
    id_column : str
        The column naming the trajectory of each row. Rows may come in any order.
    label_column : str, optional
        The class of each trajectory (one value per id; an id with several is an error).
        Without it ``labels`` is empty (data to predict).
    time_column : str, optional
        Time stamps (numbers, or dates: taken as seconds). The rows of each id are sorted
        by it, and it becomes column 0 of every trajectory (fit with ``time_column=0``:
        resampling evenly in real time). Without it the rows keep their order.
    columns : list of str, optional
        The coordinates, in this order. Default: every other column (all must be numeric).
    group_column : str, optional
        Who or what recorded each trajectory (subject, session): ``dataset.groups``, for
        ``fit(..., groups=)``.
    missing : {"error", "interpolate"}, default="error"
        Empty or NaN coordinates: an error naming the row, or linear interpolation
        along time within the trajectory.
    delimiter, decimal, encoding : str, optional
        For text files, as in :func:`trajhmm.read_trajectory`.
    on_invalid : {"error", "skip"}, default="error"
        A trajectory that cannot be read (a missing or stray value, a repeated time
        stamp, two labels, fewer than 2 points): an error naming its id and line, or
        left out and listed in ``dataset.skipped`` as ``(source[id=...], reason)``. What
        concerns the whole table (a missing column, a column of text) is always an error.

    Returns
    -------
    TrajectoryDataset
        ``trajectories`` in the order of their ids (ids that are numbers by value, then the
        others as text; ids are read from text files as written: ``007`` and ``7`` are two
        trajectories); ``ids`` the id of each; ``paths``
        ``source[id=...]``; ``reader`` what ``save_model(..., reader=)`` stores so that
        ``trajhmm predict`` reads new tables the same way (the coordinate columns by
        name, so a table with more columns, such as its labels, reads alike).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"id": [1, 1, 1, 2, 2, 2], "label": ["a"] * 3 + ["b"] * 3,
    ...                    "t": [0.2, 0.0, 0.1, 0.0, 0.1, 0.2], "x": [2., 0., 1., 5., 4., 3.]})
    >>> ds = load_table(df, id_column="id", label_column="label", time_column="t")
    >>> ds.labels, ds.trajectories[0][:, 1].tolist()
    (['a', 'b'], [0.0, 1.0, 2.0])
    """
    check_param("on_invalid", on_invalid)
    frame, name, lines = _read_source(source, delimiter, decimal, encoding, (id_column, group_column))
    wanted, strays = _check_columns(frame, name, id_column, label_column, time_column, group_column, columns)
    if frame[id_column].isna().any():
        row = int(np.flatnonzero(frame[id_column].isna().to_numpy())[0])
        raise DataError(f"{name}: {_row(frame.index[row], lines)}, column {id_column!r}: missing id (an empty cell; "
                        "every row needs the id of its trajectory)")
    ds = TrajectoryDataset(time_column=None if time_column is None else 0,
                           reader={k: v for k, v in (("columns", list(wanted)),
                                                     ("time_column", time_column), ("id_column", id_column),
                                                     ("missing", None if missing == "error" else missing))
                                   if v is not None},
                           ids=[], groups=[] if group_column else None)
    spec = _Spec(lines, wanted, label_column, time_column, group_column, missing, strays)
    for ident, rows in sorted(frame.groupby(id_column, sort=False), key=lambda group: _id_order(group[0])):
        where = f"{name}[id={_plain(ident)}]"
        try:
            _add_trajectory(ds, rows, ident, where, spec)
        except DataError as exc:
            if on_invalid == "error":
                raise
            ds.skipped.append((where, str(exc)))
    if not ds.trajectories:
        raise DataError(f"{name}: no rows" if not ds.skipped else
                        f"{name}: every trajectory is invalid ({len(ds.skipped)} skipped; the first: {ds.skipped[0][1]})")
    if label_column is None:
        ds.labels = []
    datasets.warn_unit_outliers(ds, name)
    return ds


def _id_order(ident):
    """Ids that are numbers by value (``2`` before ``10``, as text or not), then the others
    as text; equal values by their text (``007`` before ``7``)."""
    try:
        value = float(ident)
    except (TypeError, ValueError):
        value = np.nan
    return (0, value, str(ident)) if np.isfinite(value) else (1, 0.0, str(ident))


def _row(index, lines):
    """``line N`` of a text file (``lines``: the file line of each row; ``index`` is the
    row's position), else ``index I``: the row's index label in the DataFrame (in a
    Parquet file written without its index, the row's position from 0)."""
    return f"line {int(lines[index])}" if lines is not None else f"index {_plain(index)!r}"


def _one_value(rows, column, where, what, lines=None):
    """The one label (or group) of a trajectory's rows: an empty cell, or a second value,
    is an error naming its line (a DataFrame's: its index label)."""
    cells = rows[column]
    empty = cells.isna().to_numpy()
    if empty.any():
        k = int(np.argmax(empty))
        said = sorted({_plain(v) for v in cells[~empty]}, key=str)
        found = (f"the trajectory's other rows say {' or '.join(map(repr, said[:5]))}{' or ...' if len(said) > 5 else ''}"
                 if said else f"empty in all {len(cells)} rows of the trajectory")
        raise DataError(f"{where}: {_at(rows, k, lines)}, column {column!r}: missing {what} ({found})")
    first = cells.iloc[0]
    differ = (cells != first).to_numpy()
    if differ.any():
        k = int(np.argmax(differ))
        raise DataError(f"{where}: {_at(rows, k, lines)}, column {column!r}: expected one {what} per trajectory, got "
                        f"{cells.iloc[k]!s} after {first!s} (values: {sorted(map(str, cells.unique()))})")
    return _plain(first)


def _at(rows, k, lines):
    """Where the k-th of a trajectory's rows is: its file line, or its index label."""
    return _row(rows.index[k], lines)


@dataclass
class _Spec:
    """How :func:`load_table` reads each trajectory (see :func:`_check_columns` for strays)."""

    lines: object
    wanted: list
    label_column: object
    time_column: object
    group_column: object
    missing: str
    strays: dict


def _refuse_strays(rows, where, spec):
    """The first cell of ``rows`` that is not a number (nor a date) in a column of them."""
    for col, bad in spec.strays.items():
        hit = rows.index.isin(bad.index)
        if hit.any():
            label = rows.index[int(np.argmax(hit))]
            raise DataError(f"{where}: {_row(label, spec.lines)}, column {col!r}: {bad[bad.index == label].iloc[0]}")


def _add_trajectory(ds, rows, ident, where, spec):
    """Append one id's trajectory (and its label and group) to ``ds``, or raise the
    DataError that names what is wrong with it (nothing appended)."""
    lines, wanted, time_column, missing = spec.lines, spec.wanted, spec.time_column, spec.missing
    _refuse_strays(rows, where, spec)
    order = np.arange(len(rows))
    coords = rows[wanted].to_numpy(dtype=float)
    positions = rows.index.to_numpy()
    if time_column is not None:
        t = _times(rows[time_column], where)
        order = np.argsort(t, kind="stable")
        t, coords, positions = t[order], coords[order], np.asarray(positions)[order]
        if not np.isfinite(t).all():
            raise DataError(f"{where}: {_row(positions[np.argmin(np.isfinite(t))], lines)}: missing time stamp")
        same = np.flatnonzero(np.diff(t) == 0)
        if len(same):
            raise DataError(f"{where}: {_row(positions[same[0] + 1], lines)}: time stamp {float(t[same[0]])!r} "
                            "repeats; expected one row per time")
    if not np.isfinite(coords).all():
        bad = np.isinf(coords) | (np.isnan(coords) if missing != "interpolate" else False)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise DataError(f"{where}: {_row(positions[r], lines)}, column {wanted[c]!r}: "
                            + (f"expected a finite number, got {coords[r, c]}" if np.isinf(coords[r, c]) else
                               "missing value; pass missing='interpolate' (--missing interpolate) to fill gaps"))
        empty = fill_gaps(coords, None if time_column is None else t)
        if empty is not None:
            raise DataError(f"{where}: column {wanted[empty]!r} has no values, nothing to interpolate from; leave it "
                            "out with columns= (--columns)")
    if len(coords) < 2:
        raise DataError(f"{where}: expected at least 2 points, got {len(coords)}")
    label = None if spec.label_column is None else _one_value(rows, spec.label_column, where, "label", lines)
    group = None if spec.group_column is None else _one_value(rows, spec.group_column, where, "group", lines)
    ds.trajectories.append(coords if time_column is None else np.column_stack([t, coords]))
    ds.paths.append(where)
    ds.ids.append(_plain(ident))
    if spec.label_column is not None:
        ds.labels.append(label)
    if spec.group_column is not None:
        ds.groups.append(group)

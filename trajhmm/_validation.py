"""Parameter and array checks whose messages name the culprit, what was expected and found."""

import numbers
import os
import re
import sys
import warnings

import numpy as np

from .exceptions import DataError, ParameterTypeError, ParameterValueError

__all__ = ["check_trajectory", "check_trajectories", "check_labels", "check_choice", "check_int", "check_real",
           "is_number", "smallest_class"]


def smallest_class(y_idx, classes):
    """``(count, label)`` of the class with the fewest trajectories (the first such), the
    label as a plain value for messages."""
    counts = np.bincount(np.asarray(y_idx), minlength=len(classes))
    k = int(counts.argmin())
    return int(counts[k]), plain_value(classes[k])


def is_number(text):
    """Whether ``text`` reads as a float (``"1e3"``, ``" -2 "``, ``"nan"``)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_trajectory(trajectory, name="trajectory", n_dims=None):
    """Return ``trajectory`` as a finite float array of shape (n_points, n_dims).

    ``name`` is how the trajectory is called in error messages (a file path, ``X[3]``).
    """
    if _sparse(trajectory):
        raise DataError(f"{name}: expected a dense array (n_points, n_dims), got a sparse {type(trajectory).__name__}; "
                        "pass its .toarray()")
    # a complex array's astype(float) would drop the imaginary part with only a numpy warning
    # (a list of complex numbers fails the conversion below); lists are not converted twice
    if isinstance(trajectory, np.ndarray) and np.iscomplexobj(trajectory):
        raise DataError(f"{name}: expected real numbers (n_points, n_dims), got complex values")
    try:
        arr = np.asarray(trajectory, dtype=float)
    except (TypeError, ValueError) as exc:
        why = _frame_column_problem(trajectory) or f"expected a numeric array (n_points, n_dims), got {exc}"
        raise DataError(f"{name}: {why}") from None
    if arr.ndim != 2:
        raise DataError(
            f"{name}: expected a 2-D array (n_points, n_dims), got shape {arr.shape}"
        )
    if arr.shape[0] < 2:
        raise DataError(f"{name}: expected at least 2 points, got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise DataError(f"{name}: expected at least 1 dimension, got 0 columns")
    if n_dims is not None and arr.shape[1] != n_dims:
        raise DataError(f"{name}: expected {n_dims} dims, got {arr.shape[1]}")
    if not np.isfinite(arr).all():
        row, col = np.argwhere(~np.isfinite(arr))[0]
        columns, index = getattr(trajectory, "columns", None), getattr(trajectory, "index", None)
        where = (f"dim {col} (column {col + 1})" if columns is None or index is None or len(columns) != arr.shape[1]
                 else f"index {plain_value(index[row])!r}, column {columns[col]!r}")  # a DataFrame: its own names
        raise DataError(f"{name}: expected finite numbers, got {arr[row, col]} at point {row} (row {row + 1}), {where}")
    return arr


def _frame_column_problem(frame):
    """Why a DataFrame is not numbers, naming its first column that is not, or None."""
    dtypes = getattr(frame, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return None
    for j, (column, dtype) in enumerate(dtypes.items()):
        kind = getattr(dtype, "kind", "O")
        if kind in "Mm":
            return (f"column {column!r} holds {dtype} values, expected numbers; give time stamps as seconds, e.g. "
                    f"(df[{column!r}] - df[{column!r}].iloc[0]).dt.total_seconds()")
        values = frame.iloc[:, j]  # (by position: names may repeat)
        if bool(values.isna().any()) and kind in "biuf":  # a nullable column (Float64 with pd.NA)
            return (f"column {column!r} has missing values ({values.isna().sum()} of {len(values)}), expected "
                    "finite numbers; fill them (df.interpolate()) or drop those rows")
        if kind not in "biuf":
            try:
                np.asarray(values, dtype=float)
            except (TypeError, ValueError) as exc:
                return f"column {column!r} holds {dtype} values, expected numbers ({exc})"
    return None


#: The range of the feature scales and covariance floors a model (and a model file) holds.
SCALE_RANGE = (1e-100, 1e100)

TOO_LARGE = ("its values are too large: the model's features of it (after resampling, derivatives and "
             "standardisation) overflow to infinity or NaN")


def too_large_error(index, reason=TOO_LARGE):
    """DataError ``X[index]: <reason>``; ``index`` and ``reason`` are attributes too, so a
    caller that knows the file of each trajectory can name it (:func:`named_error`)."""
    exc = DataError(f"X[{index}]: {reason}")
    exc.index, exc.reason = index, reason
    return exc


def named_error(exc, names):
    """``exc`` with ``X[i]`` replaced by ``names[i]`` when it is about one trajectory
    (:func:`too_large_error`); else ``exc`` itself."""
    index = getattr(exc, "index", None)
    if index is None or not 0 <= index < len(names):
        return exc
    new = DataError(f"{names[index]}: {exc.reason}")
    new.index, new.reason = index, exc.reason
    return new


def check_groups(groups, n_samples):
    """``groups`` (who or what recorded each trajectory: subjects, sessions) as a 1-D array
    of ``n_samples`` values of one kind, or None. Checked whether or not anything uses them
    (a wrong length is an error even with rejection off)."""
    if groups is None:
        return None
    values = np.asarray(groups)
    if values.ndim != 1:
        raise DataError(f"groups: expected a 1-D sequence of {n_samples} group labels, got shape {values.shape}")
    if len(values) != n_samples:
        raise DataError(f"groups: expected {n_samples} group labels (one per trajectory), got {len(values)}")
    missing = [i for i, v in enumerate(values.tolist()) if v is None or (isinstance(v, float) and v != v)]
    if missing:
        raise DataError(f"groups: missing group (None or NaN) at position {missing[0]} ({len(missing)} in all)")
    try:
        np.unique(values)
    except TypeError:
        raise DataError("groups: expected group labels of one kind (all strings or all numbers)") from None
    return values


def check_unknown_label(unknown, classes):
    """``unknown`` (the label of rejected trajectories) when it is no class of the model,
    by text or by value (3.0 and True are the classes 3 and 1, as labels are matched
    elsewhere): otherwise a rejected trajectory would read as a prediction of that class."""
    if isinstance(unknown, str) and not unknown.strip():
        raise ParameterValueError("unknown", "a label that is no class of the model (it marks rejected "
                                  "trajectories)", "an empty label")
    if any(same_label(unknown, c) for c in classes):
        raise ParameterValueError("unknown", "a label that is no class of the model (it marks rejected "
                                  "trajectories)", f"{unknown!r}, a class")
    return unknown


def with_unknown(labels, rejected, unknown):
    """``labels`` (an array of classes) with ``unknown`` where ``rejected``: a numeric array
    when the classes are numbers and ``unknown`` is one (``-1`` for integer classes: what
    scikit-learn's metrics take), else an object array."""
    numeric = labels.dtype.kind in "iuf" and isinstance(unknown, (int, float, np.integer, np.floating)) \
        and not isinstance(unknown, (bool, np.bool_))
    out = labels.astype(np.result_type(labels.dtype, np.asarray(unknown).dtype) if numeric else object)
    out[rejected] = unknown
    return out


def same_label(a, b):
    """Whether two labels name the same class: the same text, or the same number (``1``,
    ``1.0``, ``"1.0"`` and ``True`` alike)."""
    if str(a) == str(b):
        return True
    values = []
    for v in (a, b):
        if isinstance(v, (str, bytes)):
            v = v.decode() if isinstance(v, bytes) else v
            if not is_number(v):
                return False
        try:
            values.append(float(v))
        except (TypeError, ValueError):
            return False
    return values[0] == values[1]


def skipped_reason(name, reason):
    """How a skipped input is reported: ``reason``, after ``name`` unless the reason already
    names it or, for an item of a data set file (``file:line``, ``file[i]``), its file."""
    name = str(name)
    file = re.sub(r"(:\d+|\[\d+\])$", "", name)
    return reason if reason.startswith((name, f"{file}:")) else f"{name}: {reason}"


def check_finite_rows(values, reason=TOO_LARGE):
    """Raise :func:`too_large_error` for the first row of ``values`` (n, ...) holding a
    NaN or an infinity."""
    values = np.asarray(values)
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        raise too_large_error(int(np.argmax(bad)), reason)


def model_dims_error(name, model, dims, table=True, n_points=None):
    """The DataError of a trajectory whose number of dims is not the model's; ``table``:
    read from a file or table, where the columns can be chosen; ``n_points``: its number
    of rows, when it was read from a file of one trajectory (as many rows as the model has
    dims: an array of one column per time point, read as rows)."""
    hint = " (choose the columns with columns= / --columns, time_column= / --time-column)" if table else ""
    if n_points == model.n_features_in_ and dims > n_points:
        hint = (f"; its {n_points} rows are as many as the model's dims: if it holds one column per time point, pass "
                "layout='columns' (--layout columns)")
    return DataError(f"{name}: expected {model.n_features_in_} dims like the model, got {dims}{hint}")


def check_trajectories(X, n_dims=None, names=None, dims_source=None):
    """Validate a collection of trajectories.

    ``X`` is a sequence of arrays (n_points_i, n_dims) or one array (n_samples, n_points,
    n_dims). Returns a list of float arrays that all have the same number of dims
    (``n_dims`` when given, otherwise the first trajectory's). ``dims_source`` says where
    ``n_dims`` came from in error messages ("the training data").
    """
    source = dims_source or "the other trajectories"
    _refuse_containers(X)
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim != 3:
            one = " (one trajectory: pass [x])" if X.ndim == 2 else ""
            raise DataError(
                "X: expected a sequence of (n_points, n_dims) arrays or one array "
                f"(n_samples, n_points, n_dims), got an array of shape {X.shape}{one}"
            )
        items = list(X)
    elif isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
        raise DataError(
            "X: expected a sequence of (n_points, n_dims) arrays, "
            f"got {type(X).__name__}"
        )
    else:
        items = list(X)
    if len(items) == 0:
        raise DataError("X: expected at least one trajectory, got none")
    out = []
    for i, item in enumerate(items):
        name = names[i] if names is not None else f"X[{i}]"
        arr = check_trajectory(item, name=name)
        if n_dims is None:
            source = "the other trajectories"
            n_dims = arr.shape[1]
        elif arr.shape[1] != n_dims:
            raise DataError(
                f"{name}: expected {n_dims} dims like {source}, got {arr.shape[1]}"
            )
        out.append(arr)
    return out


def _sparse(x):
    """Whether ``x`` is a scipy.sparse matrix or array (numpy would make a 0-d object array of it)."""
    from scipy import sparse

    return sparse.issparse(x)


def _refuse_containers(X):
    """The objects users pass for X that are not trajectories, refused with the fix."""
    if _sparse(X):
        raise DataError(f"X: expected a sequence of dense (n_points, n_dims) arrays, got a sparse {type(X).__name__}; "
                        "pass [x.toarray()] for one trajectory")
    if hasattr(X, "trajectories") and hasattr(X, "labels"):
        raise DataError(f"X: expected a sequence of (n_points, n_dims) arrays, got a {type(X).__name__}; "
                        "pass its arrays: fit(ds.trajectories, ds.labels)")
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        raise DataError(f"X: expected a sequence of (n_points, n_dims) arrays, got a {type(X).__name__}; a long "
                        "table (one row per point) becomes trajectories with trajhmm.load_table(df, id_column=..., "
                        "label_column=...), then fit(ds.trajectories, ds.labels)")


def check_labels(y, n_samples):
    """``y`` as a 1-D array of ``n_samples`` labels of one kind. Strings held as objects
    (pandas object or category columns) become a numpy string array, so they are stored as
    strings; numbers stay numbers (float16/float32 become float64, the same values, as
    model files keep them). A missing label (None, NaN) or a mix of strings and numbers is
    refused: numpy would silently make strings ('nan', '1') of them; so are continuous
    values (floats that are not whole numbers: a regression target), as scikit-learn's
    classifiers refuse them, and labels no model file can keep (dates, complex). Bytes
    are decoded as UTF-8 text."""
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import column_or_1d

    if y is None:
        raise DataError(f"y: expected {n_samples} labels (one per trajectory), got None")
    if np.iscomplexobj(np.asarray(y)):
        raise DataError("y: expected labels as strings, numbers or booleans, got complex numbers")
    try:
        labels = column_or_1d(np.asarray(y))
        if np.ndim(y) == 2:  # (scikit-learn's own warning would point here, not at the caller)
            from sklearn.exceptions import DataConversionWarning

            warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape of y "
                          "to (n_samples, ), for example using ravel().", DataConversionWarning,
                          stacklevel=user_stacklevel())
    except ValueError:
        raise DataError(f"y: expected a 1-D sequence of {n_samples} labels, got shape {np.shape(y)}") from None
    values = labels
    if labels.dtype.kind == "U" and not isinstance(y, np.ndarray):  # a list, a Series: the values as given
        values = column_or_1d(np.asarray(list(y), dtype=object))
    if values.dtype == object:
        labels = _object_labels(values)
    labels = _storable_labels(labels)
    if len(labels) != n_samples:
        raise DataError(f"y: expected {n_samples} labels (one per trajectory), got {len(labels)}")
    if labels.dtype.kind == "f" and type_of_target(labels).startswith("continuous"):
        i = int(np.argmax(labels != np.round(labels)))
        raise DataError(f"y: expected class labels, got continuous values ({labels[i].item()!r} at position {i}); a "
                        "classifier needs a finite set of classes (strings, integers or whole-number floats)")
    return labels


def _label_kind(v):
    if isinstance(v, (str, bytes)):
        return "strings" if isinstance(v, str) else "bytes"
    if isinstance(v, (bool, np.bool_)):
        return "booleans"
    if isinstance(v, numbers.Real):
        return "numbers"
    return type(v).__name__  # complex, dates, ...: refused


def _object_labels(values):
    """Labels held as Python objects (a pandas object column): refused when missing, of
    mixed kinds (True and 1 would be one class) or of a kind no model file keeps (dates,
    complex numbers); strings (and bytes, decoded as UTF-8) as a string array, numbers
    and booleans as numeric ones."""
    missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and v != v)
               or type(v).__name__ in ("NAType", "NaTType")]  # pandas' missing values (pd.NA, pd.NaT)
    if missing:
        raise DataError(f"y: missing label (None, NaN or pd.NA) at position {missing[0]} ({len(missing)} in all)")
    kinds = sorted({_label_kind(v) for v in values})
    if len(kinds) > 1:
        raise DataError(f"y: expected labels of one kind (all strings or all numbers), got {' and '.join(kinds)}")
    if kinds == ["strings"]:
        return values.astype(str)
    if kinds == ["bytes"]:
        return np.asarray(values.tolist())  # a bytes array: decoded by _storable_labels
    if kinds[0] not in ("numbers", "booleans"):
        raise DataError(f"y: expected labels as strings, numbers or booleans, got {kinds[0]} values")
    return np.asarray(values.tolist())


def _storable_labels(labels):
    """Labels of a kind model files keep (float64 for every float), or a DataError."""
    if labels.dtype.kind == "f":
        missing = np.flatnonzero(np.isnan(labels))
        if len(missing):
            raise DataError(f"y: missing label (None or NaN) at position {missing[0]} ({len(missing)} in all)")
        return labels.astype(np.float64, copy=False)  # float16/32: the same values
    if labels.dtype.kind == "S":  # as text (scikit-learn's metrics refuse bytes labels): predictions are str
        try:
            return np.char.decode(labels, "utf-8")
        except UnicodeDecodeError:
            raise DataError(f"y: expected labels as strings or numbers, got bytes that are not UTF-8 text "
                            f"({plain_value(labels[0])!r}, ...); decode them yourself") from None
    if labels.dtype.kind not in "Uiub":  # objects were sorted out by _object_labels
        raise DataError(f"y: expected labels as strings, numbers or booleans, got dtype {labels.dtype}")
    return labels


def plain_value(value):
    """A numpy scalar as the Python value (for JSON and messages); anything else as is."""
    return value.item() if isinstance(value, np.generic) else value


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


# The shape of a dims x time array (MATLAB's habit: 3 x 501): 2.._MAX_WIDE_ROWS rows and
# more columns than that. The file readers' layout="auto" transposes it; arrays in Python
# are warned about (warn_if_transposed).
MAX_WIDE_ROWS = 16


def warn_if_transposed(trajectories):
    """Warn (before a fit) when every trajectory has the shape of a dims x time array: 2
    to 16 points of more than 16 dims. Fitted as given, each point would be one
    many-dimensional observation (a 3 x 501 array: 3 points of 501 dims, and covariance
    matrices of 501 x 501 per state)."""
    if all(2 <= len(t) <= MAX_WIDE_ROWS < t.shape[1] for t in trajectories):
        n, d = trajectories[0].shape
        warnings.warn(f"X: every trajectory has 2 to {MAX_WIDE_ROWS} points of more than {MAX_WIDE_ROWS} dims (X[0]: "
                      f"{n} points of {d} dims), the shape of a dims x time array; trajectories are (n_points, n_dims) "
                      "arrays: if yours are one column per time point, pass [x.T for x in X]", UserWarning,
                      stacklevel=user_stacklevel())


def feature_names(X):
    """The column names of trajectories given as pandas DataFrames (anything with string
    ``columns``), as scikit-learn records them in ``feature_names_in_``: an object array of
    str when every trajectory has the same names; None for arrays, or for names that are
    not strings (a DataFrame made from an array has integer names). Trajectories of one X
    with different names, or names of strings and other types mixed, are refused."""
    if not isinstance(X, (list, tuple)) and not (isinstance(X, np.ndarray) and X.dtype == object):
        return None  # (a 3-D array, or something check_trajectories refuses)
    first = None
    for i, x in enumerate(X):
        columns = getattr(x, "columns", None)
        names = None if columns is None else [str(c) if isinstance(c, str) else c for c in columns]
        if names is not None and not all(isinstance(c, str) for c in names):
            if any(isinstance(c, str) for c in names):
                raise DataError(f"X[{i}]: expected column names that are all strings (or none), got "
                                f"{_listed_names(names)}: name every column, or pass arrays")
            names = None
        if i == 0:
            first = names
        elif names != first:
            raise DataError(f"X[{i}]: expected the columns of X[0] ({_listed_names(first)}), got "
                            f"({_listed_names(names)}): every trajectory needs the same columns in the same order")
    return None if first is None else np.array(first, dtype=object)


def _listed_names(names, n=6):
    if names is None:
        return "no column names"
    return ", ".join(map(repr, names[:n])) + (", ..." if len(names) > n else "")


#: The start of the warning for arrays given to a model fitted on named DataFrames: files
#: are read by position (or by --columns), never as DataFrames, so their readers ignore it.
NO_NAMES = "X does not have valid feature names"


def check_feature_names(model, X):
    """The column names of new trajectories against those ``model`` was fitted with
    (``feature_names_in_``), as scikit-learn checks them: other names, or the same in
    another order, are refused (the columns are read by position); names where the fit had
    none, or none where it had some, are warned about."""
    fitted = getattr(model, "feature_names_in_", None)
    names = feature_names(X)
    kind = type(model).__name__
    if fitted is None:
        if names is not None:
            warnings.warn(f"X has feature names, but {kind} was fitted without feature names", UserWarning,
                          stacklevel=user_stacklevel())
    elif names is None:
        warnings.warn(f"{NO_NAMES}, but {kind} was fitted with feature names "
                      f"({_listed_names(list(fitted))}): its columns are read in that order", UserWarning,
                      stacklevel=user_stacklevel())
    elif list(names) != list(fitted):
        raise DataError(f"X: expected the feature names seen at fit, in that order ({_listed_names(list(fitted))}), "
                        f"got ({_listed_names(list(names))}): the columns are read by position; select them in the "
                        "fitted order")


def set_feature_names(model, names):
    """``feature_names_in_`` after a fit: the names, or no such attribute (as scikit-learn)."""
    if names is not None:
        model.feature_names_in_ = names
    elif hasattr(model, "feature_names_in_"):
        del model.feature_names_in_


def user_stacklevel():
    """The ``stacklevel`` that makes a warning raised by the caller of this function point
    at the first frame outside trajhmm: the user's line, however deep inside the package
    the warning comes from (Python 3.12's ``skip_file_prefixes``, for 3.11 too)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def check_choice(value, name, choices):
    """Check that ``value`` is one of ``choices`` (a ParameterTypeError when it is no str)."""
    options = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise ParameterTypeError(name, f"one of {options}", f"{value!r} ({type(value).__name__})")
    if value not in choices:
        raise ParameterValueError(name, f"one of {options}", repr(value))
    return value


def check_int(value, name, min_val=None, max_val=None, allow_none=False):
    """Check an integer parameter (bools are rejected)."""
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterTypeError(name, "an integer", f"{value!r} ({type(value).__name__})")
    if min_val is not None and value < min_val:
        raise ParameterValueError(name, f"an integer >= {min_val}", value)
    if max_val is not None and value > max_val:
        raise ParameterValueError(name, f"an integer <= {max_val}", value)
    return int(value)


def check_real(value, name, ok, expected):
    """A real-number parameter (bools and NaN refused) for which ``ok(float(value))``
    holds; else a ParameterError saying ``expected``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(name, expected, f"{value!r} ({type(value).__name__})")
    if not ok(float(value)):
        raise ParameterValueError(name, expected, repr(value))
    return float(value)

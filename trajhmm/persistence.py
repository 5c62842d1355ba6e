"""Saving and loading fitted classifiers.

The default format never unpickles and never runs code: a 40-byte header (8-byte magic
``TRAJHMM\\0`` and the SHA-256 of the rest) followed by an ordinary ``.npz`` archive
holding only numeric/string arrays and one JSON document (format version, library
versions, parameters). Loading checks the magic, the checksum, the format version and the
library versions before building anything.

A pickle-based file (``format="pickle"``, via joblib) is available for Python users who
want one, but :func:`load_model` refuses it unless ``trusted=True``: unpickling a file
from someone else can run arbitrary code.

Every write is atomic: the file is written next to its destination under a temporary
name, flushed to disk and renamed over the destination, so a crash or an interrupt leaves
either the old file or the new one, never a partial one.
"""

import hashlib
import io
import json
import math
import os
import re
import sys
import tempfile
import warnings
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from . import _parallel, hmm
from ._validation import SCALE_RANGE, plain_value, user_stacklevel
from ._version import __version__
from .exceptions import ModelFileError, ModelVersionWarning, ParameterTypeError, ParameterValueError

__all__ = [
    "FORMAT_VERSION",
    "MAX_MODEL_BYTES",
    "save_model",
    "load_model",
    "model_metadata",
    "READER_KEYS",
    "check_reader",
    "atomic_write",
    "library_versions",
]

# 1: HMMClassifier. 2: HMMClassifierCV (the refitted best model, its calibration
# temperature and the search's results). 3: rejection_rate (one pooled threshold).
# 4: the time_column parameter, and how the training files were read (``reader``).
# 5: class_length_quantiles_ (the durations seen in training: streams and prefixes).
# 6: stream_threshold_ (the default threshold of streams; NaN: none fitted, -0.5).
# 7: HMMClassifierCV's ensemble (its other members, each stored like a model of its own
# under "member<j>/", their weights and rows of the search's table; the ensemble param).
# 8: class_end_states_ (where each class's training segments end: streams score whole
# windows ending there; a file of format 7 or older loads, its streams end anywhere).
# 9: motion_scale_ and class_motion_quantiles_ (how much each class's training segments
# move: streams skip windows that move far less; a file of format 8 or older loads, its
# streams score every window).
# 10: class_part_motion_ (how much each third of each class's training segments moves:
# streams skip windows of which a third is still; a file of format 9 loads, its streams
# gate whole windows only).
# 11: the prefix_view parameter and prefix_model_ (a second set of class models on one
# more derivative, stored like a model of its own under "prefix/"; prefixes average both).
# A file of format 10 or older loads with prefix_view=False: its prefixes read as before.
# 12: likelihood_threshold_ (open-set rejection's far-out test; -inf: off) and the reader's
# id_column (the id column of a long table). A file of format 11 or older loads without the
# test (it rejects exactly what it did, and is saved again in format 11).
# 13: feature_names_in (meta.json: the column names of DataFrames the model was fitted on,
# as scikit-learn's feature_names_in_; absent when it was fitted on arrays). A file of
# format 12 or older loads without them.
# 14: the reader's header_names (the header names of the coordinates of the training files,
# when they all had the same header and no columns were chosen: new files are read by
# name). A file of format 13 or older loads, its files read by position.
FORMAT_VERSION = 14
MAGIC = b"TRAJHMM\x00"
_HEADER = len(MAGIC) + 32
# The most bytes of arrays a safe model file may hold once decompressed (load_model's
# max_bytes default): a model of 100 classes x 50 states x 4 Gaussians of 12 full features
# needs 23 MB.
MAX_MODEL_BYTES = 256 << 20
_FILE_SLACK = 8 << 20  # zip structure beyond the arrays, in the file-size check
_MAX_PICKLE_BYTES = 1 << 30  # pickle files (trusted only): the former size limit
_MAX_META_BYTES = 1 << 20
_MAX_NPY_HEADER = 4096
_MAX_CENTRAL_DIRECTORY = 4 << 20  # ~40000 zip entries
# An .npy header as np.save writes it (other valid headers go through numpy's parser)
_NPY_HEADER = re.compile(r"\{'descr': '([<>|=]?[a-zA-Z]\d{1,5})', 'fortran_order': (False|True), "
                         r"'shape': \(((?:\d{1,19}, )*(?:\d{1,19},?)?)\), \} *\n?\Z")

# Fitted attributes stored as arrays (besides the class models).
_ARRAY_ATTRS = (
    "classes_",
    "class_count_",
    "class_prior_",
    "feature_mask_",
    "feature_mean_",
    "feature_scale_",
    "covariance_floor_",
    "converged_",
    "n_iter_",
    "rejection_threshold_",
    "class_length_quantiles_",
    "class_end_states_",
    "motion_scale_",
    "class_motion_quantiles_",
    "class_part_motion_",
)


def library_versions():
    """Versions of trajhmm and the libraries a model file depends on."""
    import joblib
    import sklearn

    return {
        "trajhmm": __version__,
        "hmmlearn": hmm.HMMLEARN_VERSION,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


def _read_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically.

    On any exception (KeyboardInterrupt included) the temporary file is removed and
    ``path`` is untouched. A symbolic link stays: its target is written (atomically). An
    existing ``path`` that is not a regular file (a FIFO, a device, a socket), or a path
    under /dev or /proc (``/dev/stdout``), is written directly, since renaming over it
    would replace it with a file; appended to, so that ``/dev/stdout`` redirected to a
    file keeps what was printed before.
    """
    # text: file names that are not valid in the encoding written back as their bytes, as on stdout
    text = {} if "b" in mode else {"errors": "surrogateescape"}
    if str(os.path.abspath(path)).startswith(("/dev/", "/proc/")) or (
            os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)):
        sys.stdout.flush()  # (what this process printed comes first)
        with open(path, mode.replace("w", "a"), **text) as fh:
            yield fh
        return
    path = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ModelFileError(f"{path}: cannot write, directory {parent} does not exist")
    if path.is_dir():
        raise ModelFileError(f"{path}: cannot write, it is a folder; expected a file name")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **text) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            # mkstemp creates 0600; give the file the mode a plain open() would have
            os.fchmod(fh.fileno(), path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _json_params(clf):
    params = {}
    for key, value in clf.get_params(deep=False).items():
        value = _json_value(value)
        if key == "random_state" and not (value is None or isinstance(value, int)):
            value = None  # a RandomState instance is not data; the fitted model does not need it
        params[key] = value
    json.dumps(params)  # fail early on anything exotic
    return params


def _fitted_state(clf):
    """(arrays, meta) of a fitted classifier: what the safe format stores, and what
    :func:`_validate` checks for every format."""
    from sklearn.utils.validation import check_is_fitted

    from .search import HMMClassifierCV

    if isinstance(clf, HMMClassifierCV):
        check_is_fitted(clf, "best_estimator_")
        arrays, meta = _fitted_state(clf.best_estimator_)
        arrays["temperature_"] = np.array([clf.temperature_], dtype=float)
        meta["estimator"] = "HMMClassifierCV"
        meta["search"] = _search_meta(clf)
        if meta["format_version"] >= 7:
            meta["search"]["ensemble"] = _ensemble_meta(clf, arrays)
        else:  # a model fitted before streams (an old pickle) is written in its own format
            meta["search"]["params"].pop("ensemble")
        meta["arrays"] = sorted(arrays)
        _names_meta(clf, meta)
        return arrays, meta
    check_is_fitted(clf, "models_")
    arrays = {}
    for name in _ARRAY_ATTRS:
        if hasattr(clf, name):
            arrays[name] = np.asarray(getattr(clf, name))
    arrays.update(_scalar_arrays(clf))
    for k, (model, hist) in enumerate(zip(clf.models_, clf.log_likelihood_history_)):
        for key, value in hmm.model_arrays(model).items():
            arrays[f"model{k}.{key}"] = value
        arrays[f"history{k}"] = np.asarray(hist, dtype=float)
    for key, value in hmm.model_arrays(clf.background_model_).items():
        arrays[f"background.{key}"] = value
    version = _format_of(arrays)  # before "arrays" below: it drops what the format lacks
    # a view is written only where it is read: prefix_view on, and a format that has it
    view = getattr(clf, "prefix_model_", None) if version >= 11 and clf.prefix_view else None
    if view is not None:
        view_arrays, view_meta = _fitted_state(view)
        arrays.update((f"prefix/{key}", value) for key, value in view_arrays.items())
    meta = {
        "format": "trajhmm-model",
        "format_version": version,
        "versions": library_versions(),
        "estimator": type(clf).__name__,
        "params": _json_params(clf),
        "n_features_in": int(clf.n_features_in_),
        "n_model_features": int(clf.n_model_features_),
        "n_classes": len(clf.models_),
        "arrays": sorted(arrays),
        "reader": {},
    }
    if version < 11:  # written in a format before prefix views (it lacks a later array): none
        meta["params"]["prefix_view"] = False
    if view is not None:
        meta["prefix"] = view_meta
    _names_meta(clf, meta)
    return arrays, meta


def _names_meta(clf, meta):
    """The column names the model was fitted on (format 13), when it has any."""
    names = getattr(clf, "feature_names_in_", None)
    if names is not None:
        meta["feature_names_in"] = [str(name) for name in names]


def _scalar_arrays(clf):
    """The fitted floats a model has, each stored as an array of one value."""
    names = [name for name in ("stream_threshold_", "likelihood_threshold_") if hasattr(clf, name)]
    return {name: np.array([float(getattr(clf, name))]) for name in names}


def _ensemble_meta(clf, arrays):
    """The ensemble part of an HMMClassifierCV file; every member after the first (the
    best model, stored at the top level) adds its arrays under ``member<j>/``."""
    members = getattr(clf, "ensemble_estimators_", [clf.best_estimator_])
    if members[0] is not clf.best_estimator_:
        raise ValueError("ensemble_estimators_[0] is not best_estimator_")
    metas = []
    for j, member in enumerate(members[1:], 1):
        member_arrays, member_meta = _fitted_state(member)
        arrays.update((f"member{j}/{key}", value) for key, value in member_arrays.items())
        metas.append(member_meta)
    weights = getattr(clf, "ensemble_weights_", np.ones(1))
    indices = getattr(clf, "ensemble_indices_", np.array([clf.best_index_]))
    return {"weights": _json_value(np.asarray(weights, dtype=float)), "indices": _json_value(np.asarray(indices)),
            "members": metas}


def _format_of(arrays):
    """The format of a model's arrays: a model fitted before durations were kept (an old
    pickle) is a version-4 model, one fitted before streams had a threshold version 5, one
    fitted before end states were kept version 7, one fitted before motion was kept version
    8, one fitted before the motion of its thirds was kept version 9, one fitted before the
    far-out test version 11. What a later format added is dropped from ``arrays``."""
    added = (("class_length_quantiles_", 4), ("stream_threshold_", 5), ("class_end_states_", 7),
             ("class_motion_quantiles_", 8), ("motion_scale_", 8), ("class_part_motion_", 9),
             ("likelihood_threshold_", 11))
    for i, (name, older) in enumerate(added):
        if name not in arrays:
            for later, _ in added[i + 1 :]:
                arrays.pop(later, None)
            return older
    return FORMAT_VERSION


#: What a model file may say of how its training data were read (``save_model(...,
#: reader=)``): the reading options of :func:`trajhmm.read_trajectory` (tables take the
#: same names), with the JSON types each takes. Choices are checked by the readers.
READER_KEYS = {"columns": list, "time_column": (str, int), "layout": str, "delimiter": str, "decimal": str,
               "encoding": str, "missing": str, "variable": str, "id_column": str, "header_names": list}


def check_reader(reader, fail=None):
    """``reader`` as a plain dict of reading options (None: {}); anything else than
    :data:`READER_KEYS` with their types is refused (ModelFileError through ``fail`` when
    loading, ParameterValueError when saving)."""
    if reader is None:
        return {}

    def refuse(expected, got, key=None, kind=ParameterValueError):
        error = kind("reader" if key is None else f"reader: {key}", expected, got)
        if fail is not None:
            fail("meta.json", str(error))
        raise error

    if not isinstance(reader, dict):
        refuse("a dict of reading options", type(reader).__name__, kind=ParameterTypeError)
    reader = _json_value({k: v for k, v in reader.items() if v is not None})
    for key, value in reader.items():
        kind = READER_KEYS.get(key)
        if kind is None:
            refuse(f"some of {', '.join(READER_KEYS)}", f"unknown option {key!r}")
        items = value if kind is list and isinstance(value, list) else [value]
        each = (str, int) if kind is list else kind
        if (kind is list and not isinstance(value, list)) or any(
                isinstance(v, bool) or not isinstance(v, each) for v in items):
            refuse("a list of names or positions" if kind is list else "a name", repr(value), key)
    return reader


def _search_meta(clf):
    """The JSON part of an HMMClassifierCV: its own parameters, what it chose and its
    cross-validation table (numbers and parameter values only)."""
    from .search import Stages

    grid = clf.param_grid
    if isinstance(grid, Stages):
        grid = {"stages": [[name, _json_value(g)] for name, g in grid], "builtin": grid.builtin}
    else:
        grid = _json_value(grid)
    res = clf.cv_results_
    table = {key: [None if isinstance(v, float) and not math.isfinite(v) else v for v in np.asarray(res[key]).tolist()]
             for key in _CV_RESULT_KEYS + tuple(k for k in res if k.startswith("split"))}
    search = {"params": {"param_grid": grid, "cv": clf.cv if isinstance(clf.cv, int) else None,
                         "calibrate": bool(clf.calibrate), "ensemble": bool(getattr(clf, "ensemble", False)),
                         "estimator": None if clf.estimator is None else _json_params(clf.estimator),
                         "random_state": clf.random_state if isinstance(clf.random_state, int) else None},
              "best_params": _json_value(clf.best_params_), "best_index": int(clf.best_index_),
              "n_splits": int(clf.n_splits_), "cv_results": {"params": _json_value(res["params"]), **table}}
    try:
        json.dumps(search)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"HMMClassifierCV: its parameters cannot be stored in the safe format ({exc}); "
                             "use format='pickle'") from None
    return search


def _json_value(value):
    """Dicts, lists and tuples with numpy arrays and scalars made plain JSON data."""
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_value(value.tolist())
    return plain_value(value)


_CV_RESULT_KEYS = ("mean_test_score", "std_test_score", "rank_test_score", "mean_fit_time", "std_fit_time",
                   "mean_test_log_loss", "n_folds", "stage")


def _payload(arrays, meta):
    if arrays["classes_"].dtype == object:
        raise ModelFileError(
            "classes_: labels of mixed or object type cannot be stored in the safe format; "
            "use labels that are all strings or all numbers, or format='pickle'"
        )
    arrays = dict(arrays)
    arrays["meta.json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_model(clf, path, *, format="npz", reader=None):
    """Save a fitted :class:`~trajhmm.HMMClassifier` atomically.

    Parameters
    ----------
    clf : HMMClassifier (fitted)
    path : str or Path
    format : {"npz", "pickle"}, default="npz"
        "npz": the safe format (arrays and JSON only; see the module docs).
        "pickle": a joblib pickle; :func:`load_model` only opens it with ``trusted=True``.
    reader : dict, optional
        How the training files were read (``TrajectoryDataset.reader``: columns, time
        column, delimiter, ...; see :data:`READER_KEYS`), so that new files are read the
        same way: ``load_model(path, return_reader=True)`` gives it back, and
        ``trajhmm predict`` uses it.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from trajhmm import HMMClassifier, load_model
    >>> rng = np.random.RandomState(0)
    >>> t = np.linspace(0, 1, 30)[:, None]
    >>> X = [np.hstack([t, s * t]) + 0.01 * rng.randn(30, 2) for s in (1, -1) for _ in range(4)]
    >>> clf = HMMClassifier(n_states=3, random_state=0).fit(X, ["up"] * 4 + ["down"] * 4)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.npz"
    >>> save_model(clf, path)
    >>> loaded = load_model(path)
    >>> bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
    True
    >>> save_model(clf, path.with_suffix(".pkl"), format="pickle")
    >>> load_model(path.with_suffix(".pkl"))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    trajhmm.exceptions.ModelFileError: ... pickle ... trusted=True ...
    """
    from .classifier import HMMClassifier  # here: classifier sits above persistence
    from .search import HMMClassifierCV

    if not isinstance(clf, (HMMClassifier, HMMClassifierCV)):
        raise ParameterTypeError("clf", "a fitted HMMClassifier or HMMClassifierCV", type(clf).__name__)
    if format not in ("npz", "pickle"):
        raise ParameterValueError("format", "'npz' or 'pickle'", repr(format))
    path = _check_path(path)
    reader = check_reader(reader)
    _check_unchanged(clf, path)
    arrays, meta = _validate_model(clf, f"{path}: cannot save an invalid model: ")
    for key, since in (("id_column", 12), ("header_names", 14)):
        if key in reader and meta["format_version"] < since:
            raise ModelFileError(f"{path}: cannot save: the model is of format {meta['format_version']} (fitted by an "
                                 f"earlier trajhmm), whose files do not store the reader's {key}: refit it, or pass "
                                 f"the reader without {key!r}")
    meta["reader"] = reader
    if "time_column" in reader and meta["params"].get("time_column") != 0:  # (the load-time check, said for a fit)
        raise ModelFileError(f"{path}: cannot save: the data were read with time_column={reader['time_column']!r}, "
                             "which puts the time stamps in column 0 of every trajectory, but the model was fitted "
                             f"with time_column={meta['params'].get('time_column')!r}, so it read them as a "
                             "coordinate: refit it with time_column=0 (e.g. HMMClassifier(time_column=0))")
    problem = _reader_problem(reader, meta)
    if problem is not None:
        raise ParameterValueError(f"reader: {problem[0]}", *problem[1:])
    if format == "pickle":
        import joblib

        with atomic_write(path) as fh:
            joblib.dump({"trajhmm_model": clf, "reader": reader} if reader else clf, fh)
        return
    payload = _payload(arrays, meta)
    with atomic_write(path) as fh:
        fh.write(MAGIC + hashlib.sha256(payload).digest() + payload)


def _check_unchanged(clf, path):
    """A model whose parameters were set after its fit holds fitted attributes of other
    parameters (a threshold of another rate): refused, as its file would misdescribe it."""
    for est in getattr(clf, "ensemble_estimators_", None) or [clf]:
        changed = est._changed_since_fit() if hasattr(est, "_changed_since_fit") else []
        if changed:
            what = ", ".join(f"{k} {a!r} -> {b!r}" for k, a, b in changed)
            raise ModelFileError(f"{path}: cannot save: parameters set after fit ({what}) do not change a fitted "
                                 "model (set_params does not refit, as in scikit-learn): fit it again, or set them back")


def load_model(path, *, trusted=False, max_bytes=MAX_MODEL_BYTES, return_reader=False):
    """Load a model saved by :func:`save_model`.

    Every array is validated before a classifier is built (see the README, "Model
    files"): its dtype and shape from the ``.npy`` header (only the header is
    decompressed) against the sizes the parameters imply, its declared size, and then its
    values (finite; probabilities that sum to 1; covariances symmetric and at least the
    covariance floor; means and scales of a sane magnitude; lengths that agree). A
    pickle loaded with ``trusted=True`` gets the same checks.

    Parameters
    ----------
    path : str or Path
    trusted : bool, default=False
        Allow pickle-based files. Only for files from a source you trust: unpickling can
        execute arbitrary code.
    max_bytes : int, default=MAX_MODEL_BYTES (256 MiB)
        The most bytes of arrays a safe model file may hold once decompressed; a file
        that declares more is refused before anything is decompressed.
    return_reader : bool, default=False
        Also return how the training files were read (the ``reader`` given to
        :func:`save_model`; {} when none was, and for files of format < 4).

    Returns
    -------
    HMMClassifier or HMMClassifierCV; with ``return_reader``, ``(model, reader)``

    Raises
    ------
    ModelFileError
        Missing, foreign, truncated, corrupted, tampered, inconsistent or too-new files;
        pickle files without ``trusted=True``. The message names the file and, for an
        invalid array, the member.
    """
    path = _check_path(path)
    if not isinstance(trusted, (bool, np.bool_)):  # a safety switch: "false" must not turn it on
        raise ParameterTypeError("trusted", "True or False", f"{trusted!r} ({type(trusted).__name__})")
    max_bytes = _check_max_bytes(max_bytes)
    head, payload = _read_verified(path, max_bytes)
    if payload is None:
        clf, reader = _load_other(path, head, trusted)
        return (clf, reader) if return_reader else clf
    try:
        arrays, meta = _parse_payload(payload, path, max_bytes)
        _validate(arrays, meta, f"{path}: ")
        clf = _from_arrays(arrays, meta, path)
        for est in getattr(clf, "ensemble_estimators_", None) or [clf]:  # as fitted: later set_params are seen
            est._params_at_fit = est.get_params(deep=False)
        return (clf, dict(meta.get("reader", {}))) if return_reader else clf
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 (untrusted bytes) - a file with a valid checksum but foreign content
        raise ModelFileError(f"{path}: not a valid trajhmm model ({type(exc).__name__}: {exc})") from None


def model_metadata(path):
    """The JSON metadata of a safe model file (format, versions, parameters), or None for
    a pickle-based file. The checksum is verified first."""
    path = _check_path(path)
    _, payload = _read_verified(path, MAX_MODEL_BYTES)
    if payload is None:
        return None
    try:
        with _open_zip(payload, path) as zf:
            return _read_meta(zf, path)
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 (untrusted bytes) - a valid checksum, foreign content
        raise ModelFileError(f"{path}: not a valid trajhmm model ({type(exc).__name__}: {exc})") from None


def _check_path(path):
    """``path`` as a Path: a str or os.PathLike, not bytes or an open file."""
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterTypeError("path", "a file path (str or pathlib.Path)", type(path).__name__)
    return Path(path)


def _check_max_bytes(max_bytes):
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)):
        raise ParameterTypeError("max_bytes", "a positive integer", f"{max_bytes!r} ({type(max_bytes).__name__})")
    if max_bytes <= 0:
        raise ParameterValueError("max_bytes", "a positive integer", repr(max_bytes))
    return int(max_bytes)


def _read_verified(path, max_bytes):
    """(header, payload) of a safe model file with its checksum verified, or (header,
    None) when the file does not start with the trajhmm magic."""
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    if path.is_dir():
        raise ModelFileError(f"{path}: expected a model file, got a directory")
    try:
        size = path.stat().st_size
        if size > max(max_bytes + _FILE_SLACK, _MAX_PICKLE_BYTES):
            raise ModelFileError(f"{path}: {size} bytes is too large for a trajhmm model file")
        with open(path, "rb") as fh:
            head = fh.read(_HEADER)
            if head[: len(MAGIC)] != MAGIC:
                return head, None
            if size > max_bytes + _FILE_SLACK:
                raise ModelFileError(
                    f"{path}: {size} bytes is more than max_bytes={max_bytes} of arrays allows"
                )
            payload = fh.read()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file ({exc.strerror or exc})") from None
    if len(head) < _HEADER:
        raise ModelFileError(f"{path}: truncated trajhmm model file")
    if hashlib.sha256(payload).digest() != head[len(MAGIC) :]:
        raise ModelFileError(
            f"{path}: checksum mismatch: the model file is corrupted or was modified"
        )
    return head, payload


def _rewrite(path, edit):
    """Rewrite a safe model file with ``edit(arrays, meta)`` applied and a valid checksum
    (for tests and benchmarks that need a crafted file, or one as an older trajhmm wrote
    it; ``load_model`` still validates whatever comes out)."""
    raw = Path(path).read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw[_HEADER:])) as zf:
        arrays = {n[:-4]: np.load(zf.open(n), allow_pickle=False) for n in zf.namelist()}
    meta = json.loads(arrays.pop("meta.json").tobytes())
    edit(arrays, meta)
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    Path(path).write_bytes(MAGIC + hashlib.sha256(buf.getvalue()).digest() + buf.getvalue())


def _load_other(path, head, trusted):
    if head[:1] != b"\x80":
        raise ModelFileError(f"{path}: not a trajhmm model file (unrecognised content)")
    if not trusted:
        raise ModelFileError(
            f"{path}: this is a pickle-based model file; loading it can run arbitrary code. "
            "Load it only if you trust its source, with load_model(path, trusted=True) or "
            "--trust-pickle, then re-save it in the safe format"
        )
    import joblib
    from sklearn.exceptions import NotFittedError

    from .classifier import HMMClassifier

    try:
        clf = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 (a trusted pickle can still raise anything)
        raise ModelFileError(f"{path}: cannot unpickle model file ({type(exc).__name__}: {exc})") from None
    from .search import HMMClassifierCV

    reader = {}
    if isinstance(clf, dict) and set(clf) == {"trajhmm_model", "reader"}:  # saved with a reader
        clf, reader = clf["trajhmm_model"], check_reader(clf["reader"], _failer(f"{path}: "))

    if not isinstance(clf, (HMMClassifier, HMMClassifierCV)):
        raise ModelFileError(f"{path}: expected a pickled HMMClassifier or HMMClassifierCV, got {type(clf).__name__}")
    if isinstance(clf, HMMClassifierCV) and not hasattr(clf, "ensemble"):  # pickled before ensembles: none
        clf.ensemble = False
    try:
        _, meta = _validate_model(clf, f"{path}: ")
    except NotFittedError:
        raise ModelFileError(f"{path}: the pickled HMMClassifier is not fitted") from None
    _check_reader_time({**meta, "reader": reader}, meta["params"], _failer(f"{path}: "))
    problem = _reader_problem(reader, meta)
    if problem is not None:
        raise ModelFileError("{}: reader: {}: expected {}, got {}".format(path, *problem))
    return clf, reader


# ---------------------------------------------------------------- reading, bounded
def _open_zip(payload, path):
    """The verified payload as a ZipFile, after a bounded look at its end record: a plain
    end-of-central-directory record (no comment, no zip64: what np.savez writes below
    4 GiB) whose central directory is at most _MAX_CENTRAL_DIRECTORY bytes, so that
    parsing it costs bounded memory whatever the number of entries it claims."""
    end = payload[-22:]
    if len(end) < 22 or end[:4] != b"PK\x05\x06" or end[20:22] != b"\0\0":
        raise ModelFileError(f"{path}: not a trajhmm model (no plain zip end record)")
    if payload[-42:-38] == b"PK\x06\x07":
        raise ModelFileError(f"{path}: not a trajhmm model (zip64 archive)")
    cd_size = int.from_bytes(end[12:16], "little")
    if cd_size > _MAX_CENTRAL_DIRECTORY:
        raise ModelFileError(f"{path}: zip directory of {cd_size} bytes is too large for a trajhmm model")
    try:
        return zipfile.ZipFile(io.BytesIO(payload))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ModelFileError(f"{path}: not a trajhmm model (bad zip archive: {exc})") from None


def _parse_payload(payload, path, max_bytes):
    """(arrays, meta) of a verified payload: meta.json first, then every member's .npy
    header (dtype and shape against the layout the metadata implies, declared size
    against the shape) before any array data is decompressed, in bounded reads."""
    with _open_zip(payload, path) as zf:
        meta = _read_meta(zf, path)
        fail = _failer(f"{path}: ")
        dims = _check_meta(meta, fail)
        infos = zf.infolist()
        # every class of every model has arrays of its own: bounds the layout built next
        n_sets = 1 + len(dims["members"]) + (dims["view"] is not None)
        if dims["C"] * n_sets > len(infos):
            fail("meta.json", f"n_classes={dims['C']} in {n_sets} models but the file holds {len(infos)} members")
        layout = _layout(dims)
        need = sum(_min_bytes(spec) for spec in layout.values())
        if need > max_bytes:
            fail("meta.json", f"declares a model of at least {need} bytes, more than max_bytes={max_bytes}")
        for info in infos:
            if not info.filename.endswith(".npy"):
                fail(info.filename, "unexpected member (not a .npy array)")
        _check_names([info.filename[:-4] for info in infos], layout, fail, extra=("meta.json",))
        declared = sum(info.file_size for info in infos)
        if declared > max_bytes:
            fail("arrays", f"declare {declared} bytes once decompressed, more than max_bytes={max_bytes}")
        arrays = {}
        for info in infos:
            name = info.filename[:-4]
            if name != "meta.json":
                arrays[name] = _read_member(zf, info, layout[name], fail)
    return arrays, meta


def _read_meta(zf, path):
    fail = _failer(f"{path}: ")
    try:
        info = zf.getinfo("meta.json.npy")
    except KeyError:
        raise ModelFileError(f"{path}: not a trajhmm model file (no meta.json)") from None
    raw = _read_member(zf, info, ((range(_MAX_META_BYTES + 1),), "u"), fail)
    if raw.dtype != np.uint8:
        fail("meta.json", f"expected uint8 bytes, got {raw.dtype}")
    try:
        meta = json.loads(raw.tobytes().decode())
    except (ValueError, RecursionError) as exc:
        fail("meta.json", f"not valid JSON ({exc})")
    if not isinstance(meta, dict) or meta.get("format") != "trajhmm-model":
        raise ModelFileError(f"{path}: not a trajhmm model file")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        fail("meta.json", f"format_version: expected a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format {version} is newer than this trajhmm supports "
            f"({FORMAT_VERSION}); upgrade trajhmm to load it"
        )
    return _upgraded(meta)


def _upgraded(meta):
    """Files of format 1 and 2 (before rejection_rate): their ``rejection_quantile`` is
    read as ``rejection_rate``, and their per-class thresholds (the earlier rule, on the
    same score) are kept, so such a model rejects exactly what it did. Files of format 10
    or older (before prefix views) hold no ``prefix_model_``: read with
    ``prefix_view=False``, their prefixes read the class models alone, as they did."""
    holders = [meta.get("params")]
    search = meta.get("search")
    if isinstance(search, dict) and isinstance(search.get("params"), dict):
        holders.append(search["params"].get("estimator"))
        ensemble = search.get("ensemble")
        if isinstance(ensemble, dict) and isinstance(ensemble.get("members"), list):
            holders.extend(m.get("params") for m in ensemble["members"] if isinstance(m, dict))
    for params in holders:
        if not isinstance(params, dict):
            continue
        if meta["format_version"] < 3 and "rejection_quantile" in params and "rejection_rate" not in params:
            params["rejection_rate"] = params.pop("rejection_quantile")
        if meta["format_version"] < 11:
            params["prefix_view"] = False
    return meta


def _read_member(zf, info, spec, fail):
    """One array member, read in bounded pieces: the .npy header (at most
    _MAX_NPY_HEADER bytes), checked against ``spec`` and the entry's declared size, then
    exactly the bytes its shape needs (the zip CRC is verified at the end)."""
    member = info.filename[:-4]
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        fail(member, f"unsupported zip compression method {info.compress_type}")
    try:
        with zf.open(info) as fp:
            shape, fortran, dtype, header_len = _read_npy_header(fp, member, fail)
            _check_spec(member, shape, dtype, spec, fail)
            nbytes = math.prod(shape) * dtype.itemsize
            if info.file_size != header_len + nbytes:
                fail(member, f"zip entry declares {info.file_size} bytes, its header {header_len + nbytes}")
            buf = bytearray(nbytes)
            if fp.readinto(buf) != nbytes or fp.read(1):
                fail(member, "array data does not match its header")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError) as exc:
        fail(member, f"corrupt zip entry ({exc})")
    arr = np.frombuffer(buf, dtype=dtype)
    arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
    return arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))


def _read_npy_header(fp, member, fail):
    prefix = fp.read(10)
    if len(prefix) < 10 or prefix[:6] != b"\x93NUMPY" or prefix[6] not in (1, 2):
        fail(member, "not a .npy array of format 1.0 or 2.0")
    if prefix[6] == 2:
        prefix += fp.read(2)
    size = int.from_bytes(prefix[8:], "little")
    if size > _MAX_NPY_HEADER:
        fail(member, f".npy header of {size} bytes is too large")
    header = fp.read(size)
    if len(header) != size:
        fail(member, "truncated .npy header")
    fast = _NPY_HEADER.match(header.decode("latin1"))
    if fast:  # what np.save writes: parsed without ast.literal_eval, the slowest step of a load
        try:
            dtype = np.dtype(fast.group(1))
        except TypeError:
            fail(member, f"invalid .npy header (unknown dtype {fast.group(1)!r})")
        shape = tuple(int(n) for n in fast.group(3).split(",") if n.strip())
        return shape, fast.group(2) == "True", dtype, len(prefix) + size
    src = io.BytesIO(prefix + header)
    try:
        version = npformat.read_magic(src)
        read = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
        shape, fortran, dtype = read(src)
    except Exception as exc:  # noqa: BLE001 (untrusted bytes) - numpy's parser (ast, tokenize) on hostile text: a bad header
        fail(member, f"invalid .npy header ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
    return shape, fortran, dtype, len(prefix) + size


# ---------------------------------------------------------------- validation
# Magnitudes a model may have (see the README, "Model files"). Floors and feature scales
# lie in [_TINY, _HUGE]; means lie within _MAX_SPREAD floor standard deviations
# (sqrt(covariance_floor_)) of 0 and feature means within _MAX_SPREAD feature scales (fit
# keeps a feature only when its std exceeds 1e-10 of its largest magnitude); variances
# are at most _MAX_COV_RATIO / n_model_features times the floor. Within these bounds
# every score of an input at the scale of the training data is finite.
_TINY, _HUGE = SCALE_RANGE  # feature scales and floors: what fit accepts
_MAX_SPREAD = 1e12
_MAX_COV_RATIO = 1e12
_MAX_LABEL_BYTES = 16384
_PROB_TOL = 1e-6
_KIND_NAMES = {"f": "float64", "iu": "integers", "b": "bool", "u": "uint8",
               "UiufbS": "strings, numbers or bools", "UiufbSO": "labels"}


def _failer(prefix):
    def fail(member, what):
        raise ModelFileError(f"{prefix}{member}: {what}")

    fail.prefix = prefix
    return fail


def _failer_from(fail, member_prefix):
    """The failer of an ensemble member (its arrays and metadata named under ``member_prefix``)."""
    return _failer(fail.prefix + member_prefix)


def _validate_model(clf, prefix, *, allow_object=True):
    """The checks of a safe file, on a classifier built in Python (before save_model
    writes it) or unpickled (load_model(..., trusted=True)); returns (arrays, meta)."""
    from sklearn.exceptions import NotFittedError

    from .search import HMMClassifierCV

    try:
        arrays, meta = _fitted_state(clf)
        members = getattr(clf, "ensemble_estimators_", [None])[1:] if isinstance(clf, HMMClassifierCV) else []
        if isinstance(clf, HMMClassifierCV):
            clf = clf.best_estimator_
    except NotFittedError:
        raise
    except (AttributeError, TypeError, ValueError, IndexError, KeyError, RecursionError) as exc:
        raise ModelFileError(f"{prefix}not a complete fitted HMMClassifier ({type(exc).__name__}: {exc})") from None
    _validate(arrays, meta, prefix, allow_object=allow_object)
    _check_model_objects(clf, _failer(prefix))
    for j, member in enumerate(members, 1):
        _check_model_objects(member, _failer(f"{prefix}member{j}/"))
    if "prefix" in meta:
        _check_model_objects(clf.prefix_model_, _failer(f"{prefix}prefix/"))
    return arrays, meta


def _check_model_objects(clf, fail):
    """The hmmlearn objects of a classifier built in Python agree with its parameters."""
    if len(clf.log_likelihood_history_) != len(clf.models_):
        fail("log_likelihood_history_", f"{len(clf.log_likelihood_history_)} histories for {len(clf.models_)} models")
    want = (clf.n_states, clf.covariance_type, clf.n_model_features_, clf.n_mix)
    named = [(f"models_[{k}]", m) for k, m in enumerate(clf.models_)] + [("background_model_", clf.background_model_)]
    for name, model in named:
        got = tuple(getattr(model, a, None) for a in ("n_components", "covariance_type", "n_features"))
        got += (getattr(model, "n_mix", 1),)
        if got != want:
            fail(name, f"(n_states, covariance_type, n_features, n_mix) = {got}, expected {want}")


def _validate(arrays, meta, prefix, *, allow_object=False):
    """Every check of a model's arrays, whatever their source: names, dtypes and shapes
    against the layout the metadata implies, then values."""
    fail = _failer(prefix)
    dims = _check_meta(meta, fail)
    layout = _layout(dims, allow_object)
    _check_names(list(arrays), layout, fail)
    for name, spec in layout.items():
        _check_spec(name, arrays[name].shape, arrays[name].dtype, spec, fail)
    _check_values({k: v for k, v in arrays.items() if "/" not in k}, meta, dims, fail)
    subs = [(f"member{j}/", member_meta, "the ensemble's best model")
            for j, (member_meta, _) in enumerate(dims["members"], 1)]
    if dims["view"] is not None:
        subs.append(("prefix/", dims["view"][0], "the model"))
    for member, member_meta, owner in subs:
        member_arrays = {k[len(member):]: v for k, v in arrays.items() if k.startswith(member)}
        for name in ("rejection_threshold_", "likelihood_threshold_"):  # (before the member's own checks)
            value = member_arrays.get(name)
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and np.isfinite(value).any():
                fail(member + name, f"expected -inf ({owner} alone rejects)")
        _validate(member_arrays, member_meta, prefix + member, allow_object=allow_object)
        if not np.array_equal(member_arrays["classes_"], arrays["classes_"]) or not np.allclose(
                member_arrays["class_prior_"], arrays["class_prior_"], rtol=0, atol=_PROB_TOL):
            fail(member + "classes_", f"the classes or their priors differ from {owner}")


def _check_values(arrays, meta, dims, fail):
    """The value checks of one model's own arrays (an ensemble's members apart)."""
    for name, arr in arrays.items():
        if arr.dtype.kind != "f":
            continue
        # rejection_threshold_ and likelihood_threshold_ are -inf when rejection is off
        # (rejection_rate 0, or too few trajectories to calibrate it); stream_threshold_ is
        # NaN when none was fitted
        if name in ("rejection_threshold_", "likelihood_threshold_"):
            bad = np.isnan(arr) | (arr == np.inf)
        else:
            bad = np.isinf(arr) if name == "stream_threshold_" else ~np.isfinite(arr)
        if bad.any():
            fail(name, "non-finite value (nan or inf)")
    thresholds = arrays["rejection_threshold_"]
    if meta["format_version"] >= 3 and (thresholds != thresholds[0]).any():
        fail("rejection_threshold_", f"expected one pooled threshold for every class, got {thresholds.tolist()}")
    if "likelihood_threshold_" in arrays and np.isinf(thresholds[0]) != np.isinf(arrays["likelihood_threshold_"][0]):
        fail("likelihood_threshold_", "expected -inf exactly when rejection_threshold_ is -inf (both tests come "
             f"from one calibration), got {arrays['likelihood_threshold_'][0]:.4g} and {thresholds[0]:.4g}")
    _check_classes(arrays, dims, fail)
    if dims["cv"] and not 1e-6 <= arrays["temperature_"][0] <= 1e12:
        fail("temperature_", f"expected a temperature in [1e-06, 1e+12], got {arrays['temperature_'][0]:.3g}")
    floor = _check_features(arrays, dims, fail)
    for model in [f"model{k}." for k in range(dims["C"])] + ["background."]:
        _check_hmm(arrays, model, dims, floor, fail)


def _check_meta(meta, fail):
    """The parameters and sizes of meta.json, checked; returns the dimensions
    (K states, M mixture components, ct, F model features, C classes, D resampled features)."""
    from .classifier import HMMClassifier

    params = meta.get("params")
    if not isinstance(params, dict):
        fail("meta.json", f"params: expected an object, got {type(params).__name__}")
    try:
        clf = HMMClassifier(**params)
        clf._check_params()
    except (TypeError, ValueError) as exc:
        fail("meta.json", f"params: {exc}")
    for key in ("n_jobs", "random_state"):  # not checked by _check_params; a file may only hold ints
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            fail("meta.json", f"params: {key}: expected an integer or null, got {value!r}")
    if params.get("n_jobs") is not None and abs(params["n_jobs"]) > _MAX_FILE_JOBS:
        fail("meta.json", f"params: n_jobs: expected an integer between -{_MAX_FILE_JOBS} and {_MAX_FILE_JOBS} "
             f"or null, got {params['n_jobs']!r}")
    for key, low in (("n_features_in", 1), ("n_model_features", 1), ("n_classes", 2)):
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            fail("meta.json", f"{key}: expected an integer >= {low}, got {value!r}")
    n_coords = meta["n_features_in"] - (clf.time_column is not None)
    if clf.time_column is not None and not (n_coords >= 1 and clf.time_column < meta["n_features_in"]):
        fail("meta.json", f"params: time_column={clf.time_column} is not a column of {meta['n_features_in']} "
             "besides at least one coordinate")
    _check_names_meta(meta, fail)
    _check_reader_meta(meta, params, fail)
    D = n_coords * (clf.derivatives + 1)
    if meta["n_model_features"] > D:
        fail("meta.json", f"n_model_features={meta['n_model_features']} is more than the {D} resampled features")
    cv = meta.get("estimator") == "HMMClassifierCV"
    members = _check_search_meta(meta, clf, fail) if cv else []
    view = _check_view_meta(meta, clf, fail) if "prefix" in meta else None
    return {"view": view, "K": clf.n_states, "M": clf.n_mix, "ct": clf.covariance_type, "F": meta["n_model_features"],
            "C": meta["n_classes"], "D": D, "cv": cv, "lengths": meta["format_version"] >= 5,
            "stream": meta["format_version"] >= 6, "ends": meta["format_version"] >= 8,
            "motion": meta["format_version"] >= 9, "parts": meta["format_version"] >= 10, "N": n_coords,
            "far_out": meta["format_version"] >= 12,
            "members": members}


_MAX_FILE_JOBS = 4096  # a stored n_jobs beyond this is refused


def _check_names_meta(meta, fail):
    """``feature_names_in`` (format 13 on): one string per input column, when present."""
    if "feature_names_in" not in meta:
        return
    names, n = meta["feature_names_in"], meta["n_features_in"]
    if meta["format_version"] < 13:
        fail("meta.json", "feature_names_in: only in files of format 13 or later")
    if not isinstance(names, list) or len(names) != n or not all(isinstance(name, str) for name in names):
        fail("meta.json", f"feature_names_in: expected a list of {n} column names (strings), got {str(names)[:80]}")


def _check_view_meta(meta, clf, fail):
    """The metadata of a model's ``prefix_model_`` (format 11): a plain HMMClassifier's of
    the same format, data dimensions and class count, whose parameters are the model's
    with one more derivative and no view of its own. Returns its ``(meta, dims)``."""
    view, view_fail = meta["prefix"], _failer_from(fail, "prefix/")
    if meta["format_version"] < 11 or not clf.prefix_view:
        fail("meta.json", "prefix: a prefix view is only in files of format 11 or later, with prefix_view true")
    if not isinstance(view, dict) or view.get("estimator") != "HMMClassifier" or "prefix" in view \
            or view.get("format") != "trajhmm-model" or view.get("format_version") != meta["format_version"]:
        view_fail("meta.json", f"expected a plain HMMClassifier's metadata of format {meta['format_version']}")
    dims = _check_meta(view, view_fail)
    for key in ("n_features_in", "n_classes"):
        if view[key] != meta[key]:
            view_fail("meta.json", f"{key}={view[key]}, the model has {meta[key]}")
    # n_jobs is how each was run, not what it is
    want = {**meta["params"], "derivatives": clf.derivatives + 1, "prefix_view": False, "n_jobs": None}
    differ = sorted(k for k in set(want) | set(view["params"]) if k != "n_jobs" and view["params"].get(k) != want.get(k))
    if differ:
        view_fail("meta.json", f"params are not the model's with derivatives + 1 and prefix_view false "
                               f"({', '.join(differ)} differ)")
    return view, dims


def _loaded_jobs(n_jobs):
    """A model file's n_jobs (how it was run where it was saved, not a choice of whoever
    loads it), clamped to the cores here: more processes than cores only costs."""
    cores = _parallel.cores()
    if n_jobs is None or -cores <= n_jobs <= cores:
        return n_jobs
    return cores if n_jobs > 0 else -1


def _check_reader_meta(meta, params, fail):
    """meta.json's ``reader``: known options of their types, each in the formats that hold
    it, header names one per coordinate, a time column only for a model that reads one."""
    meta["reader"] = check_reader(meta.get("reader", {}), fail)
    for key, since in (("id_column", 12), ("header_names", 14)):
        if key in meta["reader"] and meta["format_version"] < since:
            fail("meta.json", f"reader: {key} is only in files of format {since} or later")
    _check_reader_time(meta, params, fail)
    problem = _reader_problem(meta["reader"], meta)
    if problem is not None:
        fail("meta.json", "reader: {}: expected {}, got {}".format(*problem))


def _reader_problem(reader, meta):
    """What of the reader contradicts the model: ``columns`` and ``header_names`` are one
    per coordinate (header names distinct), and a reader that says which columns were read
    names the time column of a model that reads time stamps. None when nothing does, else
    (option, expected, got)."""
    timed = meta["params"].get("time_column") is not None
    n_coords = meta["n_features_in"] - timed
    names = reader.get("header_names")
    if names is not None and (not all(isinstance(v, str) and v for v in names) or len(set(names)) != len(names)
                              or len(names) != n_coords):
        return "header_names", f"{n_coords} distinct column names (one per coordinate of the model)", repr(names)
    columns = reader.get("columns")
    if columns is not None and len(columns) != n_coords:
        return "columns", f"{n_coords} columns (one per coordinate of the model)", f"{len(columns)}: {columns!r}"
    if timed and (columns is not None or names is not None) and "time_column" not in reader:
        return ("time_column", "the time column the files were read with (the model reads time stamps in column 0)",
                "none")
    return None


def _check_reader_time(meta, clf_params, fail):
    """Files read with a time column put it first: the model must take column 0 as time."""
    if "time_column" in meta.get("reader", {}) and clf_params.get("time_column") != 0:
        fail("meta.json", f"reader: the files were read with time_column={meta['reader']['time_column']!r} (put "
             f"first), but the model's time_column is {clf_params.get('time_column')!r}, expected 0")


def _check_search_meta(meta, clf, fail):
    """The search part of an HMMClassifierCV file: its own parameters, chosen values that
    are the model's parameters, a table whose columns agree (types and lengths), and
    (format 7) its ensemble; returns the ensemble's other members as ``(meta, dims)``."""
    search = meta.get("search")
    if meta.get("format_version", 0) < 2 or not isinstance(search, dict):
        fail("meta.json", "search: expected the search results of an HMMClassifierCV (format version >= 2)")
    _check_search_params(search.get("params"), fail, meta["format_version"])
    best, table = search.get("best_params"), search.get("cv_results")
    params = clf.get_params()
    if not isinstance(best, dict) or any(k not in params or params[k] != v for k, v in best.items()):
        fail("meta.json", f"search: best_params {best!r} are not the model's parameters")
    if not isinstance(table, dict) or not isinstance(table.get("params"), list):
        fail("meta.json", "search: cv_results: expected an object with a params list")
    n = len(table["params"])
    if not all(isinstance(p, dict) and set(p) == set(best) for p in table["params"]):
        fail("meta.json", f"search: cv_results: params: expected {n} objects with the keys {sorted(best)}")
    index, splits = search.get("best_index"), search.get("n_splits")
    if not (_is_int(index) and 0 <= index < n and _is_int(splits) and 1 <= splits <= _MAX_FOLDS):
        fail("meta.json", f"search: best_index {index!r} / n_splits {splits!r} out of range")
    columns = list(_CV_RESULT_KEYS) + [f"split{k}_test_score" for k in range(splits)]
    if set(table) != {"params", *columns}:
        fail("meta.json", f"search: cv_results: expected the columns params, {', '.join(columns)}")
    for key in columns:
        values = table[key]
        kind = str if key == "stage" else (int, float, type(None))
        if not isinstance(values, list) or len(values) != n or not all(
                isinstance(v, kind) and not isinstance(v, bool) for v in values):
            fail("meta.json", f"search: cv_results: {key}: expected a list of {n} {'names' if kind is str else 'numbers'}")
    if meta["format_version"] < 7:
        if "ensemble" in search:
            fail("meta.json", "search: ensemble: only in files of format 7 or later")
        return []
    return _check_ensemble_meta(search.get("ensemble"), meta, table, fail)


_MAX_MEMBERS = 64  # bounds the ensemble of a file


def _check_ensemble_meta(ens, meta, table, fail):
    """An ensemble as stored: weights (positive, summing to 1) and rows of the table (the
    best first, no row twice), one per member; every member after the first a plain
    HMMClassifier's metadata of the same format, data dimensions and class count, whose
    parameters are its row's. Returns the members' ``(meta, dims)``."""
    if not isinstance(ens, dict) or set(ens) != {"weights", "indices", "members"}:
        fail("meta.json", "search: ensemble: expected an object with weights, indices and members")
    weights, indices, members = ens["weights"], ens["indices"], ens["members"]
    if not (isinstance(members, list) and len(members) < _MAX_MEMBERS and isinstance(weights, list)
            and isinstance(indices, list) and len(weights) == len(indices) == len(members) + 1):
        fail("meta.json", f"search: ensemble: expected as many weights and indices as members plus one (at most "
                          f"{_MAX_MEMBERS} members)")
    n = len(table["params"])
    if not all(_is_int(i) and 0 <= i < n for i in indices) or len(set(indices)) != len(indices) \
            or indices[0] != meta["search"]["best_index"]:
        fail("meta.json", f"search: ensemble: indices {indices!r}: expected distinct rows of the table, the best first")
    if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 < w <= 1 for w in weights) \
            or abs(sum(weights) - 1) > _PROB_TOL:
        fail("meta.json", f"search: ensemble: weights {weights!r}: expected positive weights summing to 1")
    out = []
    for j, member in enumerate(members, 1):
        member_fail = _failer_from(fail, f"member{j}/")
        if not isinstance(member, dict) or member.get("estimator") != "HMMClassifier" or "prefix" in member \
                or member.get("format") != "trajhmm-model" or member.get("format_version") != meta["format_version"]:
            member_fail("meta.json", f"expected a plain HMMClassifier's metadata of format {meta['format_version']} "
                                     "(without a prefix view: the best model alone has one)")
        dims = _check_meta(member, member_fail)
        for key in ("n_features_in", "n_classes"):
            if member[key] != meta[key]:
                member_fail("meta.json", f"{key}={member[key]}, the ensemble's best model has {meta[key]}")
        row = table["params"][indices[j]]
        if any(member["params"].get(k) != v for k, v in row.items()) or any(
                v != meta["params"].get(k) for k, v in member["params"].items() if k not in row):
            member_fail("meta.json", f"params are not the best model's with those of row {indices[j]} of the "
                                     f"search's table ({row!r})")
        out.append((member, dims))
    return out


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


_SEARCH_PARAM_KEYS = ("calibrate", "cv", "ensemble", "estimator", "param_grid", "random_state")
_MAX_FOLDS = 1000  # bounds the table's split<k> columns


def _check_search_params(own, fail, version):
    """HMMClassifierCV's own parameters as stored: the keys it has, of the types a file
    may hold, a valid estimator and a grid that builds."""
    from .classifier import HMMClassifier
    from .search import Stages

    keys = [k for k in _SEARCH_PARAM_KEYS if k != "ensemble" or version >= 7]  # "ensemble": format 7
    if not isinstance(own, dict) or sorted(own) != keys:
        fail("meta.json", f"search: params: expected the keys {', '.join(keys)}")
    if not isinstance(own.get("ensemble", False), bool):
        fail("meta.json", f"search: params: ensemble: expected true or false, got {own['ensemble']!r}")
    if not (own["cv"] is None or (_is_int(own["cv"]) and own["cv"] >= 2)) or not isinstance(own["calibrate"], bool):
        fail("meta.json", f"search: params: cv {own['cv']!r} / calibrate {own['calibrate']!r}: expected an int >= 2 "
                          "or null / true or false")
    if not (own["random_state"] is None or _is_int(own["random_state"])):
        fail("meta.json", f"search: params: random_state: expected an integer or null, got {own['random_state']!r}")
    try:
        if own["estimator"] is not None:  # each value on its own: the search may replace n_states, ...
            from ._params import check_param

            for key, value in HMMClassifier(**own["estimator"]).get_params().items():
                check_param(key, value)
        grid = own["param_grid"]
        if isinstance(grid, dict) and set(grid) == {"stages", "builtin"}:
            Stages(grid["stages"], builtin=grid["builtin"])
        elif grid is not None:
            Stages([("grid", grid)])
    except (TypeError, ValueError) as exc:
        fail("meta.json", f"search: params: {exc}")


def _hmm_layout(K, M, ct, F):
    """Shapes of one class model's arrays as _hmm.model_arrays stores them (GaussianHMM
    keeps spherical variances as (K, F) columns that are all equal)."""
    if M == 1:
        cov = {"full": (K, F, F), "diag": (K, F), "spherical": (K, F), "tied": (F, F)}[ct]
        return {"startprob": (K,), "transmat": (K, K), "means": (K, F), "covars": cov}
    cov = {"full": (K, M, F, F), "diag": (K, M, F), "spherical": (K, M), "tied": (K, F, F)}[ct]
    return {"startprob": (K,), "transmat": (K, K), "means": (K, M, F), "weights": (K, M), "covars": cov}


def _layout(dims, allow_object=False):
    """member -> (shape, dtype kinds); a range in a shape is the allowed lengths."""
    C, D, F = dims["C"], dims["D"], dims["F"]
    labels = "UiufbSO" if allow_object else "UiufbS"
    out = {"classes_": ((C,), labels), "class_count_": ((C,), "iu"), "class_prior_": ((C,), "f"),
           "converged_": ((C,), "b"), "n_iter_": ((C,), "iu"), "rejection_threshold_": ((C,), "f"),
           "feature_mask_": ((D,), "b"), "feature_mean_": ((D,), "f"), "feature_scale_": ((D,), "f"),
           "covariance_floor_": ((F,), "f")}
    if dims.get("cv"):
        out["temperature_"] = ((1,), "f")
    if dims.get("lengths"):
        out["class_length_quantiles_"] = ((C, 5), "f")
    if dims.get("stream"):
        out["stream_threshold_"] = ((1,), "f")
    if dims.get("ends"):
        out["class_end_states_"] = ((C, dims["K"]), "f")
    if dims.get("motion"):
        out["motion_scale_"] = ((dims["N"],), "f")
        out["class_motion_quantiles_"] = ((C, 5), "f")
    if dims.get("parts"):
        out["class_part_motion_"] = ((C, 3), "f")
    if dims.get("far_out"):
        out["likelihood_threshold_"] = ((1,), "f")
    hmm = _hmm_layout(dims["K"], dims["M"], dims["ct"], F)
    for k in range(C):
        out.update((f"model{k}.{key}", (shape, "f")) for key, shape in hmm.items())
        out[f"history{k}"] = ((range(1, 1 << 62),), "f")
    out.update((f"background.{key}", (shape, "f")) for key, shape in hmm.items())
    subs = [(f"member{j}/", member_dims) for j, (_, member_dims) in enumerate(dims.get("members", []), 1)]
    if dims.get("view") is not None:
        subs.append(("prefix/", dims["view"][1]))
    for name, sub_dims in subs:
        out.update((name + key, spec) for key, spec in _layout(sub_dims, allow_object).items())
    return out


def _min_bytes(spec):
    shape, kinds = spec
    if any(isinstance(s, range) for s in shape):
        return 0
    return math.prod(shape) * (8 if kinds == "f" else 1)


def _check_names(names, layout, fail, extra=()):
    seen = set()
    for name in names:
        if name in seen:
            fail(name, "duplicate member")
        seen.add(name)
    for name in layout:
        if name not in seen:
            fail(name, "missing member")
    for name in sorted(seen - set(layout) - set(extra)):
        fail(name, "unexpected member")


def _check_spec(member, shape, dtype, spec, fail):
    want, kinds = spec
    ok = dtype.kind in kinds and dtype.names is None and dtype.subdtype is None
    if dtype.kind == "f":
        ok = ok and dtype.itemsize == 8
    elif dtype.kind in "US":
        ok = ok and 0 < dtype.itemsize <= _MAX_LABEL_BYTES
    if not ok:
        fail(member, f"expected {_KIND_NAMES[kinds]}, got dtype {dtype}")
    if len(shape) != len(want) or not all(s in w if isinstance(w, range) else s == w for s, w in zip(shape, want)):
        text = tuple(f"{w.start}..{w.stop - 1}" if isinstance(w, range) else w for w in want)
        fail(member, f"expected shape {text}, got {tuple(shape)}".replace("'", ""))


def _check_probabilities(p, name, fail, positive=False):
    if (p <= 0).any() if positive else (p < 0).any():
        fail(name, "expected positive probabilities" if positive else "negative probability")
    if not (np.abs(p.sum(axis=-1) - 1.0) <= _PROB_TOL).all():
        fail(name, "probabilities do not sum to 1")


def _check_classes(a, dims, fail):
    C = dims["C"]
    if a["classes_"].dtype.kind != "O" and len(np.unique(a["classes_"])) != C:
        fail("classes_", "duplicate class labels")
    if (a["class_count_"] < 1).any():
        fail("class_count_", "expected counts >= 1")
    _check_probabilities(a["class_prior_"], "class_prior_", fail, positive=True)
    n_iter = a["n_iter_"]
    if (n_iter < 1).any():
        fail("n_iter_", "expected iteration counts >= 1")
    if "class_length_quantiles_" in a:
        q = a["class_length_quantiles_"]
        if (q < 2).any() or (np.diff(q, axis=1) < 0).any():
            fail("class_length_quantiles_", "expected non-decreasing quantiles of lengths, each at least 2 points")
    if "class_end_states_" in a:
        _check_probabilities(a["class_end_states_"], "class_end_states_", fail)
    _check_motion(a, fail)
    for k in range(C):
        if len(a[f"history{k}"]) != n_iter[k]:
            fail(f"history{k}", f"{len(a[f'history{k}'])} log-likelihoods for n_iter_[{k}]={n_iter[k]}")


def _check_motion(a, fail):
    """The still-window gate's arrays (formats 9 and 10), where the file has them."""
    if "motion_scale_" in a and not ((a["motion_scale_"] >= _TINY) & (a["motion_scale_"] <= _HUGE)).all():
        fail("motion_scale_", f"expected scales in [{_TINY:g}, {_HUGE:g}]")
    if "class_motion_quantiles_" in a:
        # a segment's variance in a dimension is at most n times the variance over all n
        # training segments' points (its scale): motion <= sqrt(n)
        q, top = a["class_motion_quantiles_"], np.sqrt(a["class_count_"].sum()) * (1.0 + 1e-9)
        if (q < 0).any() or (np.diff(q, axis=1) < 0).any() or (q > top).any():
            fail("class_motion_quantiles_", f"expected non-decreasing quantiles of motion, each in [0, {top:.6g}] "
                                            "(the square root of the number of training trajectories)")
    if "class_part_motion_" in a:
        # a third holds at least T // 3 >= T / 5 of a segment's T points: its variance is at
        # most 5 n times the variance over all n training segments' points (its scale)
        top = np.sqrt(5.0 * a["class_count_"].sum()) * (1.0 + 1e-9)
        if ((a["class_part_motion_"] < 0) | (a["class_part_motion_"] > top)).any():
            fail("class_part_motion_", f"expected motions in [0, {top:.6g}] (the square root of 5 times the number "
                                       "of training trajectories)")


def _check_features(a, dims, fail):
    mask, mean, scale, floor = (a[k] for k in ("feature_mask_", "feature_mean_", "feature_scale_", "covariance_floor_"))
    if mask.sum() != dims["F"]:
        fail("feature_mask_", f"selects {mask.sum()} features, the models have {dims['F']}")
    if not ((scale >= _TINY) & (scale <= _HUGE)).all():
        fail("feature_scale_", f"expected scales in [{_TINY:g}, {_HUGE:g}]")
    if not ((np.abs(mean) <= _HUGE).all() and (np.abs(mean[mask]) <= _MAX_SPREAD * scale[mask]).all()):
        fail("feature_mean_", f"expected |mean| <= {_MAX_SPREAD:g} x feature_scale_ (and <= {_HUGE:g})")
    if not ((floor >= _TINY) & (floor <= _HUGE)).all():
        fail("covariance_floor_", f"expected values in [{_TINY:g}, {_HUGE:g}]")
    return floor


def _check_hmm(a, model, dims, floor, fail):
    _check_probabilities(a[model + "startprob"], model + "startprob", fail)
    _check_probabilities(a[model + "transmat"], model + "transmat", fail)
    if dims["M"] > 1:
        _check_probabilities(a[model + "weights"], model + "weights", fail)
    if not (np.abs(a[model + "means"]) <= _MAX_SPREAD * np.sqrt(floor)).all():
        fail(model + "means", f"a mean farther than {_MAX_SPREAD:g} floor standard deviations from 0")
    _check_covariances(a[model + "covars"], model + "covars", dims, floor, fail)


def _check_covariances(c, name, dims, floor, fail):
    """Symmetric, with every eigenvalue at least the covariance floor (the constraint
    _hmm.clip_covariance enforces: Sigma >= diag(floor); spherical: >= mean(floor)) up
    to the rounding of that clip, and at most _MAX_COV_RATIO / F times it."""
    ct, F = dims["ct"], len(floor)
    if ct in ("diag", "spherical"):
        if ct == "spherical" and dims["M"] == 1 and (c != c[:, :1]).any():
            fail(name, "spherical variances differ between features")
        ratio = c / (floor if ct == "diag" else floor.mean())
        low, high = ratio.min(), ratio.max()
    else:
        s = 1.0 / np.sqrt(floor)
        S = c.reshape(-1, F, F) * s[:, None] * s[None, :]
        if not (np.abs(S - np.swapaxes(S, 1, 2)) <= 1e-9 * np.abs(S).max()).all():
            fail(name, "covariance matrix is not symmetric")
        w = np.linalg.eigvalsh(S)
        low, high = w.min(), w.max()
    if not high <= _MAX_COV_RATIO / F:
        fail(name, f"a variance {high:.3g} x the covariance floor (at most {_MAX_COV_RATIO / F:.3g})")
    if not low >= 1.0 - _PROB_TOL - 8 * F * np.finfo(float).eps * high:
        what = "not positive definite" if low <= 0 else "below the covariance floor"
        fail(name, f"{what}: smallest eigenvalue {low:.3g} x the floor")


def _from_arrays(arrays, meta, path, *, member=False):
    from .classifier import HMMClassifier

    saved = meta.get("versions", {})
    here = library_versions()
    differ = {k: (saved.get(k), v) for k, v in here.items() if saved.get(k) != v}
    if differ and not member:  # an ensemble's members: said once, for the file
        text = ", ".join(f"{k} {a} (file) vs {b} (here)" for k, (a, b) in sorted(differ.items()))
        warnings.warn(f"{path}: saved with other library versions: {text}", ModelVersionWarning, stacklevel=user_stacklevel())
    clf = HMMClassifier(**{**meta["params"], "n_jobs": _loaded_jobs(meta["params"].get("n_jobs"))})
    clf._check_params()
    for name in _ARRAY_ATTRS:
        if name in arrays:
            setattr(clf, name, arrays[name])
    clf.converged_ = clf.converged_.astype(bool)
    clf.feature_mask_ = clf.feature_mask_.astype(bool)
    clf.n_iter_ = clf.n_iter_.astype(int)
    # format 11 or older: no far-out test (the file rejects exactly what it did, and is saved
    # again in its own format)
    for name in ("stream_threshold_", "likelihood_threshold_"):
        if name in arrays:
            setattr(clf, name, float(arrays[name][0]))
    clf.n_features_in_ = int(meta["n_features_in"])
    clf.n_model_features_ = int(meta["n_model_features"])
    n_classes = int(meta["n_classes"])
    if len(clf.classes_) != n_classes:
        raise ModelFileError(f"{path}: {len(clf.classes_)} class labels for {n_classes} models")
    config = clf._config()
    clf.models_ = []
    clf.log_likelihood_history_ = []
    for k in range(n_classes):
        prefix = f"model{k}."
        model_arrays = {key[len(prefix):]: v for key, v in arrays.items() if key.startswith(prefix)}
        model = hmm.model_from_arrays(config, model_arrays, clf.n_model_features_)
        model._check()
        clf.models_.append(model)
        clf.log_likelihood_history_.append(arrays[f"history{k}"])
    background = {key[len("background."):]: v for key, v in arrays.items() if key.startswith("background.")}
    clf.background_model_ = hmm.model_from_arrays(config, background, clf.n_model_features_)
    clf.background_model_._check()
    if "prefix" in meta:
        view = {k[len("prefix/"):]: v for k, v in arrays.items() if k.startswith("prefix/")}
        clf.prefix_model_ = _from_arrays(view, meta["prefix"], path, member=True).set_params(n_jobs=clf.n_jobs)
    out = _search_from_meta(clf, arrays, meta, path) if meta.get("estimator") == "HMMClassifierCV" else clf
    if "feature_names_in" in meta:
        out.feature_names_in_ = np.array(meta["feature_names_in"], dtype=object)
    return out


def _search_from_meta(best, arrays, meta, path):
    """An HMMClassifierCV around the loaded best model (a file of format 2 or later) and
    its ensemble's other members (format 7; earlier files: the best model alone)."""
    from .classifier import HMMClassifier
    from .search import HMMClassifierCV, Stages, param_columns

    search = meta["search"]
    own = dict(search["params"])
    grid = own.get("param_grid")
    if isinstance(grid, dict) and set(grid) == {"stages", "builtin"}:
        own["param_grid"] = Stages(grid["stages"], builtin=grid["builtin"])
    own["estimator"] = None if own.get("estimator") is None else HMMClassifier(**own["estimator"])
    own["cv"] = own.get("cv") or search["n_splits"]
    own.setdefault("ensemble", False)  # written before ensembles (format < 7): the best model alone
    clf = HMMClassifierCV(**own)
    clf.best_estimator_ = best
    clf.best_params_ = dict(search["best_params"])
    clf.best_index_ = search["best_index"]
    clf.n_splits_ = search["n_splits"]
    clf.temperature_ = float(arrays["temperature_"][0])
    table = search["cv_results"]
    clf.cv_results_ = {"params": table["params"]}
    for key, values in table.items():
        if key != "params":
            clf.cv_results_[key] = np.array([np.nan if v is None else v for v in values])
    res = clf.cv_results_
    res["rank_test_score"] = res["rank_test_score"].astype(np.int32)
    res["std_test_score"] = np.where(res["n_folds"] > 1, res["std_test_score"], np.nan)  # files before: 0.0
    res.update(param_columns(table["params"]))
    clf.best_score_ = float(clf.cv_results_["mean_test_score"][clf.best_index_])
    ens = search.get("ensemble", {"weights": [1.0], "indices": [clf.best_index_], "members": []})
    clf.ensemble_estimators_ = [best]
    for j, member_meta in enumerate(ens["members"], 1):
        prefix = f"member{j}/"
        member_arrays = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        clf.ensemble_estimators_.append(_from_arrays(member_arrays, member_meta, path, member=True))
    clf.ensemble_weights_ = np.array(ens["weights"], dtype=float)
    clf.ensemble_indices_ = np.array(ens["indices"], dtype=int)
    return clf

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
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import hmm
from ._version import __version__
from .exceptions import ModelFileError, ModelVersionWarning

__all__ = [
    "FORMAT_VERSION",
    "save_model",
    "load_model",
    "model_metadata",
    "atomic_write",
    "library_versions",
]

FORMAT_VERSION = 1
MAGIC = b"TRAJHMM\x00"
_HEADER = len(MAGIC) + 32
_MAX_MODEL_BYTES = 1 << 30

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
    ``path`` is untouched.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ModelFileError(f"{path}: cannot write, directory {parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
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
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        if key == "random_state" and not (value is None or isinstance(value, int)):
            value = None  # a RandomState instance is not data; the fitted model does not need it
        params[key] = value
    json.dumps(params)  # fail early on anything exotic
    return params


def _payload(clf):
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(clf, "models_")
    arrays = {}
    for name in _ARRAY_ATTRS:
        if hasattr(clf, name):
            arrays[name] = np.asarray(getattr(clf, name))
    if arrays["classes_"].dtype == object:
        raise ModelFileError(
            "classes_: labels of mixed or object type cannot be stored in the safe format; "
            "use labels that are all strings or all numbers, or format='pickle'"
        )
    for k, (model, hist) in enumerate(zip(clf.models_, clf.log_likelihood_history_)):
        for key, value in hmm.model_arrays(model).items():
            arrays[f"model{k}.{key}"] = value
        arrays[f"history{k}"] = np.asarray(hist, dtype=float)
    for key, value in hmm.model_arrays(clf.background_model_).items():
        arrays[f"background.{key}"] = value
    meta = {
        "format": "trajhmm-model",
        "format_version": FORMAT_VERSION,
        "versions": library_versions(),
        "estimator": type(clf).__name__,
        "params": _json_params(clf),
        "n_features_in": int(clf.n_features_in_),
        "n_model_features": int(clf.n_model_features_),
        "n_classes": len(clf.models_),
        "arrays": sorted(arrays),
    }
    arrays["meta.json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_model(clf, path, *, format="npz"):
    """Save a fitted :class:`~trajhmm.HMMClassifier` atomically.

    Parameters
    ----------
    clf : HMMClassifier (fitted)
    path : str or Path
    format : {"npz", "pickle"}, default="npz"
        "npz": the safe format (arrays and JSON only; see the module docs).
        "pickle": a joblib pickle; :func:`load_model` only opens it with ``trusted=True``.

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
    if format not in ("npz", "pickle"):
        raise ValueError(f"format: expected 'npz' or 'pickle', got {format!r}")
    if format == "pickle":
        import joblib

        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(clf, "models_")
        with atomic_write(path) as fh:
            joblib.dump(clf, fh)
        return
    payload = _payload(clf)
    with atomic_write(path) as fh:
        fh.write(MAGIC + hashlib.sha256(payload).digest() + payload)


def load_model(path, *, trusted=False):
    """Load a model saved by :func:`save_model`.

    Parameters
    ----------
    path : str or Path
    trusted : bool, default=False
        Allow pickle-based files. Only for files from a source you trust: unpickling can
        execute arbitrary code.

    Returns
    -------
    HMMClassifier

    Raises
    ------
    ModelFileError
        Missing, foreign, truncated, corrupted, tampered or too-new files; pickle files
        without ``trusted=True``.
    """
    path = Path(path)
    head, payload = _read_verified(path)
    if payload is None:
        return _load_other(path, head, trusted)
    try:
        arrays, meta = _parse_payload(payload, path)
        return _from_arrays(arrays, meta, path)
    except ModelFileError:
        raise
    except Exception as exc:  # a file with a valid checksum but foreign content
        raise ModelFileError(f"{path}: not a valid trajhmm model ({type(exc).__name__}: {exc})") from None


def model_metadata(path):
    """The JSON metadata of a safe model file (format, versions, parameters), or None for
    a pickle-based file. The checksum is verified first."""
    path = Path(path)
    head, payload = _read_verified(path)
    if payload is None:
        return None
    try:
        return _parse_payload(payload, path)[1]
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(f"{path}: not a valid trajhmm model ({type(exc).__name__}: {exc})") from None


def _read_verified(path):
    """(header, payload) of a safe model file with its checksum verified, or (header,
    None) when the file does not start with the trajhmm magic."""
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    if path.is_dir():
        raise ModelFileError(f"{path}: expected a model file, got a directory")
    try:
        size = path.stat().st_size
        if size > _MAX_MODEL_BYTES:
            raise ModelFileError(f"{path}: {size} bytes is too large for a trajhmm model file")
        with open(path, "rb") as fh:
            head = fh.read(_HEADER)
            if head[: len(MAGIC)] != MAGIC:
                return head, None
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

    from .classifier import HMMClassifier

    try:
        clf = joblib.load(path)
    except Exception as exc:
        raise ModelFileError(f"{path}: cannot unpickle model file ({type(exc).__name__}: {exc})") from None
    if not isinstance(clf, HMMClassifier):
        raise ModelFileError(f"{path}: expected a pickled HMMClassifier, got {type(clf).__name__}")
    return clf


def _parse_payload(payload, path):
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("meta.json").tobytes().decode())
    if not isinstance(meta, dict) or meta.get("format") != "trajhmm-model":
        raise ModelFileError(f"{path}: not a trajhmm model file")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format {version} is newer than this trajhmm supports "
            f"({FORMAT_VERSION}); upgrade trajhmm to load it"
        )
    return arrays, meta


def _from_arrays(arrays, meta, path):
    from .classifier import HMMClassifier

    saved = meta.get("versions", {})
    here = library_versions()
    differ = {k: (saved.get(k), v) for k, v in here.items() if saved.get(k) != v}
    if differ:
        text = ", ".join(f"{k} {a} (file) vs {b} (here)" for k, (a, b) in sorted(differ.items()))
        warnings.warn(f"{path}: saved with other library versions: {text}", ModelVersionWarning, stacklevel=3)
    clf = HMMClassifier(**meta["params"])
    clf._check_params()
    for name in _ARRAY_ATTRS:
        if name in arrays:
            setattr(clf, name, arrays[name])
    clf.converged_ = clf.converged_.astype(bool)
    clf.feature_mask_ = clf.feature_mask_.astype(bool)
    clf.n_iter_ = clf.n_iter_.astype(int)
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
    return clf

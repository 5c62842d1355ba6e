"""Prediction over many trajectory files, streamed in batches.

Memory does not grow with the number of files: file names are listed one folder at a
time, files are read and scored one batch at a time, and results are yielded in input
order as soon as their batch is done. Batches are joblib tasks that receive *paths* and
read the files themselves, so under ``joblib.parallel_config(backend="dask")`` the
workers of a Dask cluster do the reading and scoring and the client only sees results.
"""

import itertools
import json
import os
import warnings
from dataclasses import dataclass

import numpy as np
from joblib import delayed
from sklearn.utils.validation import check_is_fitted

from . import datasets
from ._parallel import bounded_jobs, launch
from ._params import check_param
from ._validation import NO_NAMES, check_trajectory, model_dims_error, named_error, user_stacklevel
from .exceptions import DataError, ParameterValueError
from .preprocessing import check_times
from .streaming import motion_flags

__all__ = ["FilePrediction", "SkippedFile", "predict_files", "predict_json_lines"]


@dataclass(frozen=True)
class FilePrediction:
    """The prediction for one file.

    ``label`` is the predicted class (or the ``unknown`` label when rejected), ``margin``
    the joint log-likelihood (:meth:`predict_joint_log_proba`) of the predicted class minus
    the highest of the other classes', in nats (inf with one class; negative only when a
    calibrated model's class priors chose a class of lower likelihood), ``proba`` the class
    probabilities in ``model.classes_`` order. ``still`` and ``oversized``: the trajectory
    moves less than half as much as the least moving training trajectory of any class, or
    more than twice as much as the most moving one (:func:`trajhmm.streaming.motion_flags`):
    likely other units than the training data, and a label that is a guess (the command
    line warns).
    """

    path: str
    label: object
    margin: float
    proba: np.ndarray
    rejected: bool = False
    still: bool = False
    oversized: bool = False


@dataclass(frozen=True)
class SkippedFile:
    """A file that could not be read (``on_invalid="skip"``), with the reason."""

    path: str
    reason: str


def predict_files(model, paths, *, batch_size=1000, reject=False, unknown="unknown", on_invalid="error",
                  variable=None, n_jobs=None, reader=None, pattern=None):
    """Predict the class of every trajectory file under ``paths``, lazily, in order.

    Parameters
    ----------
    model : fitted HMMClassifier
    paths : path or list of paths
        Files and folders (walked recursively, sorted, hidden entries ignored). A data
        set file given by name (a UEA ``.ts`` file, an ``.npz`` bundle; labelled or not:
        labels are not read) stands for each of its trajectories, predicted in its order
        and named ``file:line`` (.ts) or ``file[i]`` (.npz); its unreadable items
        (``on_invalid="skip"``) follow its predictions.
    batch_size : int, default=1000
        Files read and scored per task.
    reject : bool, default=False
        Open-set rejection (:meth:`HMMClassifier.is_unknown`): rejected files get the
        label ``unknown``.
    on_invalid : {"error", "skip"}, default="error"
        A malformed file raises :class:`DataError` or is yielded as a
        :class:`SkippedFile`.
    variable : str, optional
        .mat files: the variable to read.
    n_jobs : int, optional
        Batches scored in parallel (joblib; under a Dask backend, on the cluster).
    reader : dict, optional
        How to read every file: the options of :func:`trajhmm.read_trajectory` (columns,
        time_column, delimiter, ...), e.g. the ones stored with the model
        (``load_model(path, return_reader=True)``).
    pattern : str, optional
        Folders: only the files whose name matches this glob.

    Yields
    ------
    FilePrediction or SkippedFile, one per file (per trajectory of a data set file), in
    the order of the files.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from trajhmm import HMMClassifier
    >>> rng = np.random.RandomState(0)
    >>> t = np.linspace(0, 1, 40)[:, None]
    >>> X = [np.hstack([t, s * t]) + 0.01 * rng.randn(40, 2) for s in (1, -1) for _ in range(5)]
    >>> clf = HMMClassifier(n_states=3, random_state=0).fit(X, ["up"] * 5 + ["down"] * 5)
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.savetxt(folder / "a.csv", X[0], delimiter=",")
    >>> [(pathlib.Path(p.path).name, p.label) for p in predict_files(clf, folder)]
    [('a.csv', 'up')]
    """
    check_is_fitted(getattr(model, "best_estimator_", model), "models_")  # HMMClassifierCV: its refitted model
    check_param("batch_size", batch_size)
    check_param("on_invalid", on_invalid)
    reader = {**(reader or {}), **({"variable": variable} if variable is not None else {})}
    if reader.get("id_column") is not None:  # (a reader stored by a model trained on a long table)
        raise ParameterValueError("reader", "no id_column (predict_files reads one trajectory per file: read a long "
                                  "table with trajhmm.load_table(path, id_column=...) and predict its trajectories, "
                                  "or pass the reader without 'id_column')", f"id_column={reader['id_column']!r}")
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    for p in paths:  # every argument checked before the first prediction
        if not os.path.exists(p):
            raise DataError(f"{p}: no such file or directory")
    task = (model, reject, unknown, on_invalid, reader, os.getcwd())
    for dataset_file, group in itertools.groupby(paths, key=is_dataset_file):
        if dataset_file:
            for path in group:
                yield from _predict_dataset(path, batch_size, n_jobs, task)
            continue
        files = datasets.iter_trajectory_files(list(group), pattern=pattern)
        results = launch(bounded_jobs(n_jobs),
                         (delayed(_predict_batch)(batch, *task) for batch in _batches(files, batch_size)))
        yield from _relayed(results)


def _with_warnings(func, *args):
    """``(result, warnings, error)`` of ``func(*args)`` in a task: the warnings it raised as
    (message, category) and the DataError it raised (else None), to be raised again by
    :func:`_relayed` where the results are read (a worker process would print them its own
    way, with a line of joblib's, and a file's warning would be lost with its error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message=NO_NAMES, category=UserWarning)  # files have no column names
        try:
            result, error = func(*args), None
        except DataError as exc:
            result, error = None, exc
    return result, [(str(w.message), w.category) for w in caught], error


def _relayed(results):
    """The predictions of :func:`_with_warnings` tasks, their warnings and errors raised here."""
    for result, caught, error in results:
        for message, category in caught:
            warnings.warn(message, category, stacklevel=user_stacklevel())
        if error is not None:
            raise error
        yield from result


def _batches(items, size):
    """Lists of ``size`` items (the last one shorter), drawn lazily."""
    items = iter(items)
    while batch := list(itertools.islice(items, size)):
        yield batch


def is_dataset_file(path):
    """Whether ``path`` names a file of many trajectories (.ts, .npz) that
    :func:`predict_files` reads as one data set, item by item."""
    fmt = datasets.FORMATS.get(os.path.splitext(str(path))[1].lower())
    return fmt is not None and fmt.kind == "dataset" and not os.path.isdir(path)


def _predict_dataset(path, batch_size, n_jobs, task):
    """The predictions of every trajectory of one data set file, scored ``batch_size`` at
    a time, then its skipped items."""
    model, _, _, on_invalid, reader, _ = task
    # the model's text options (columns, delimiter, ...) do not apply to a data set file
    ds = datasets.load_dataset(path, require_labels=False, on_invalid=on_invalid, **datasets.options_for(path, **reader))
    dims = ds.trajectories[0].shape[1]
    if dims != model.n_features_in_:
        timed = getattr(getattr(model, "best_estimator_", model), "time_column", None) is not None
        error = model_dims_error(str(path), model, dims, table=False)
        raise DataError(f"{error} (the model takes time stamps, which a data set file does not hold)") if timed else error
    starts = range(0, len(ds), batch_size)
    results = launch(bounded_jobs(n_jobs, len(starts)),
                     (delayed(_predict_items)(ds.trajectories[i:i + batch_size], ds.paths[i:i + batch_size], *task[:4])
                     for i in starts))
    yield from _relayed(results)
    for name, reason in ds.skipped:
        yield SkippedFile(name, reason)


def _predict_items(*args):
    """One task: the predictions of trajectories already read (:func:`_score_items`),
    with its warnings and error (:func:`_with_warnings`)."""
    return _with_warnings(_score_items, *args)


def _score_items(trajectories, names, model, reject, unknown, on_invalid):
    """The predictions of trajectories already read (named ``names``)."""
    slots = [None] * len(trajectories)
    rows = iter(_rows_naming_files(model, list(trajectories), slots, names, reject, unknown, on_invalid))
    return [slot if slot is not None else FilePrediction(name, *next(rows)) for name, slot in zip(names, slots)]


def _predict_batch(*args):
    """One task: read files and predict them (:func:`_read_and_score`), with its warnings
    and error (:func:`_with_warnings`)."""
    return _with_warnings(_read_and_score, *args)


def _read_and_score(paths, model, reject, unknown, on_invalid, reader, cwd=None):
    """Read ``paths`` and predict them (runs where joblib sends it: on a Dask worker,
    relative paths are resolved against the client's working directory ``cwd``, and
    reported as given)."""
    slots, trajectories = [], []
    for path in paths:
        try:
            where = os.path.join(cwd, path) if cwd else path
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    traj = datasets.read_trajectory(where, **datasets.options_for(where, **reader))
            except DataError as exc:  # name the file as the user gave it
                raise DataError(str(exc).replace(where, path, 1)) from None
            finally:
                for w in caught:  # (the same)
                    warnings.warn(str(w.message).replace(where, path, 1), w.category, stacklevel=1)
            if traj.shape[1] != model.n_features_in_:
                raise model_dims_error(path, model, traj.shape[1], n_points=traj.shape[0])
        except DataError as exc:
            if on_invalid == "error":
                raise
            slots.append(SkippedFile(path, str(exc)))
            continue
        slots.append(None)
        trajectories.append(traj)
    rows = iter(_rows_naming_files(model, trajectories, slots, paths, reject, unknown, on_invalid))
    out = []
    for path, slot in zip(paths, slots):
        if slot is None:
            slot = FilePrediction(path, *next(rows))
        out.append(slot)
    return out


def _rows_naming_files(model, trajectories, slots, paths, reject, unknown, on_invalid):
    """The prediction rows of ``trajectories`` (the files of ``paths`` whose slot is None);
    a trajectory the model cannot score (values too large) is an error naming its file,
    or with ``on_invalid="skip"`` its slot becomes a SkippedFile and the rest is scored."""
    while trajectories:
        where = [j for j, slot in enumerate(slots) if slot is None]
        try:
            return list(prediction_rows(model, trajectories, reject, unknown))
        except DataError as exc:
            named = named_error(exc, [paths[j] for j in where])
            if named is exc or on_invalid == "error":
                raise named from None
            slots[where[exc.index]] = SkippedFile(paths[where[exc.index]], str(named))
            trajectories = trajectories[: exc.index] + trajectories[exc.index + 1 :]
    return []


def prediction_rows(model, trajectories, reject=False, unknown="unknown"):
    """``(label, margin, proba, rejected, still, oversized)`` for each trajectory, from one
    scoring pass (and the motion check, :func:`trajhmm.streaming.motion_flags`)."""
    if reject:
        jll, rejected = model.predict_with_unknown(trajectories)
    else:
        jll = model.predict_joint_log_proba(trajectories)
        rejected = np.zeros(len(jll), bool)
    # probabilities: the model's own (calibrated for an HMMClassifierCV); the margin: the
    # raw joint log-likelihood of the predicted class minus the best other one, in nats
    proba = np.exp(model._log_proba_from_joint(jll))
    best = proba.argmax(axis=1)
    others = jll.copy()
    others[np.arange(len(jll)), best] = -np.inf
    margin = jll[np.arange(len(jll)), best] - others.max(axis=1) if jll.shape[1] > 1 else np.full(len(jll), np.inf)
    labels = model.classes_.tolist()  # plain Python values, not numpy scalars
    still, oversized = motion_flags(model, trajectories)  # (checked by the scoring above)
    for i in range(len(jll)):
        label = unknown if rejected[i] else labels[best[i]]
        yield label, float(margin[i]), proba[i], bool(rejected[i]), bool(still[i]), bool(oversized[i])


def _json_trajectory(model, line, where):
    """``(id, array)`` of one JSON Lines record ``{"id": ..., "points": [[...], ...],
    "t": [...]}``; the time stamps go first when the model takes column 0 as time."""
    try:
        rec = json.loads(line)
    except ValueError as exc:
        raise DataError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(rec, dict) or "points" not in rec:
        raise DataError(f'{where}: expected an object {{"id": ..., "points": [[...], ...]}}, got {line.strip()[:60]!r}')
    points = check_trajectory(_numbers(rec["points"], where), name=f"{where}: points")
    time_column = getattr(getattr(model, "best_estimator_", model), "time_column", None)
    if time_column is not None:
        if "t" not in rec:
            raise DataError(f'{where}: the model takes time stamps: expected "t" (one per point)')
        try:
            t = check_times(_numbers(rec["t"], where), len(points), name=f"{where}: t")
        except ValueError as exc:
            raise DataError(str(exc)) from None
        points = np.insert(points, time_column, t, axis=1)
    elif "t" in rec:  # one message for every such record: said once
        warnings.warn('"t" (time stamps) in a record is ignored: the model takes none (it was trained without a time '
                      "column), so the points are read as evenly spaced", UserWarning, stacklevel=1)
    if points.shape[1] != model.n_features_in_:
        raise model_dims_error(where, model, points.shape[1], table=False)
    return (where if rec.get("id") is None else rec["id"]), points  # "id": null is no id


def _numbers(value, where):
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
            i = next((i for i, v in enumerate(value) if len(v) != len(value[0])), None)
            if i is not None:
                raise DataError(f"{where}: expected points of one size, got {len(value[0])} values in point 1 and "
                                f"{len(value[i])} in point {i + 1}: {str(value[i])[:60]!r}") from None
        raise DataError(f"{where}: expected numbers, got {str(value)[:60]!r}") from None


def predict_json_lines(model, lines, *, reject=False, unknown="unknown", on_invalid="error", name="<stdin>"):
    """Predict one trajectory per JSON Lines record, answering each as it is read (for a
    long-running process fed by a pipe: ``sensor | trajhmm predict model.npz -``).

    Each non-empty line is ``{"id": ..., "points": [[x, y, z], ...]}``, plus ``"t": [...]``
    (one time stamp per point) for a model with a time column; a byte order mark before
    the first line is skipped. Yields a
    :class:`FilePrediction` whose ``path`` is the record's id (``name:line`` without one),
    or a :class:`SkippedFile` for a bad line with ``on_invalid="skip"``.
    """
    check_param("on_invalid", on_invalid)
    for line_no, line in enumerate(lines, start=1):
        if line_no == 1:
            line = line.removeprefix("\ufeff")  # a UTF-8 byte order mark (Windows tools write one)
        if not line.strip():
            continue
        where = f"{name}:{line_no}"
        try:
            ident, x = _json_trajectory(model, line, where)
        except DataError as exc:
            if on_invalid == "error":
                raise
            yield SkippedFile(where, str(exc))
            continue
        try:
            row = next(prediction_rows(model, [x], reject, unknown))
        except DataError as exc:
            exc = named_error(exc, [where])
            if on_invalid == "error":
                raise exc from None
            yield SkippedFile(where, str(exc))
            continue
        yield FilePrediction(str(ident), *row)

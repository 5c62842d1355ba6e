"""Evaluation of predictions: the report behind ``trajhmm evaluate`` and ``trajhmm plot confusion``."""

import warnings

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, precision_recall_fscore_support

from ._params import check_param
from ._validation import is_number, model_dims_error, named_error, plain_value, user_stacklevel
from .exceptions import DataError

__all__ = ["evaluation_report"]


def evaluation_report(y_true, y_pred, labels=None, n_pairs=5):
    """Accuracy, per-class precision / recall / F1, the confusion matrix and the most
    confused pairs, as one JSON-ready dict.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : list, optional
        Row and column order of the confusion matrix (default: sorted union of both).
    n_pairs : int, default=5
        How many (true, predicted) pairs to list, most frequent confusion first.

    Returns
    -------
    dict with ``accuracy``, ``n_samples``, ``labels``, ``per_class`` (label -> precision,
    recall, f1, support), ``macro_f1`` (the mean F1 over the labels that occur in
    ``y_true`` or ``y_pred``, as scikit-learn's ``f1_score(average="macro")``: a class of
    ``labels`` neither present nor predicted is listed but not averaged), ``confusion_matrix`` (rows: true, columns:
    predicted, in ``labels`` order, as sklearn.metrics.confusion_matrix) and
    ``most_confused`` (list of {true, predicted, count}).

    Examples
    --------
    >>> r = evaluation_report(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    >>> r["accuracy"], r["confusion_matrix"], r["most_confused"]
    (0.75, [[1, 1], [0, 2]], [{'true': 'a', 'predicted': 'b', 'count': 1}])
    >>> r["per_class"]["b"]["precision"]
    0.6666666666666666
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if labels is None:
        labels = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    labels = list(labels)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    occurring = set(y_true.tolist()) | set(y_pred.tolist())
    averaged = [k for k, label in enumerate(labels) if label in occurring]
    off = [(int(cm[i, j]), i, j) for i in range(len(labels)) for j in range(len(labels)) if i != j and cm[i, j]]
    off.sort(key=lambda t: (-t[0], t[1], t[2]))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "n_samples": int(len(y_true)),
        "labels": [plain_value(v) for v in labels],
        "per_class": {
            str(plain_value(label)): {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]),
                                 "support": int(s[k])}
            for k, label in enumerate(labels)
        },
        "macro_f1": float(np.mean(f[averaged])) if averaged else 0.0,
        "confusion_matrix": cm.tolist(),
        "most_confused": [{"true": plain_value(labels[i]), "predicted": plain_value(labels[j]), "count": c}
                          for c, i, j in off[:n_pairs]],
    }


def _evaluate(model, dataset, *, source="data", on_invalid="error"):
    """Predict a labelled :class:`~trajhmm.TrajectoryDataset` with a fitted model and
    report it (:func:`evaluation_report`; rows and columns: the model's classes in the
    order of ``classes_``, then the data's labels that are no class, sorted; labels as the
    model's classes are, numbers for a model of numbers), with the ``log_loss`` and ``expected_calibration_error`` of
    its probabilities (over the trajectories of the model's classes).

    A trajectory with other dims than the model is an error naming its file, or with
    ``on_invalid="skip"`` is left out. Data none of whose labels the model knows is an
    error; labels the model does not know are warned about (they count as errors).

    Returns ``(report, skipped)``: skipped is the dataset's list of (path, reason) plus
    the trajectories left out here.
    """
    check_param("on_invalid", on_invalid)
    X, y_true, skipped = _matching_dims(model, dataset, on_invalid, source)
    classes = [str(c) for c in model.classes_]
    y_true = _as_class_names(y_true, model.classes_)
    unknown = sorted(set(y_true) - set(classes))
    if len(unknown) == len(set(y_true)):
        raise DataError(f"{source}: none of its labels ({', '.join(unknown)}) is a class of the model "
                        f"(classes: {', '.join(classes)})")
    if unknown:
        n = sum(label in unknown for label in y_true)
        warnings.warn(f"{source}: labels the model does not know, their {n} trajectories count as errors: "
                      f"{', '.join(unknown)}", UserWarning, stacklevel=user_stacklevel())
    try:
        log_proba = np.asarray(model.predict_log_proba(X))  # its argmax is predict's answer
    except DataError as exc:  # a trajectory whose values are too large: name its file
        kept = [str(p) for p, t in zip(dataset.paths, dataset.trajectories) if np.shape(t)[1] == model.n_features_in_]
        raise named_error(exc, kept if len(dataset.paths) == len(dataset.trajectories) else []) from None
    y_pred = np.asarray(classes)[log_proba.argmax(axis=1)]
    report = evaluation_report(np.asarray(y_true), y_pred, labels=classes + unknown)
    report.update(_probability_scores(log_proba, y_true, classes))
    back = {str(c): plain_value(c) for c in model.classes_}  # the model's classes as they are (1, not "1")
    report["labels"] = [back.get(label, label) for label in report["labels"]]
    for pair in report["most_confused"]:
        pair["true"], pair["predicted"] = back.get(pair["true"], pair["true"]), back.get(pair["predicted"],
                                                                                          pair["predicted"])
    return report, skipped


def _probability_scores(log_proba, y_true, classes):
    """Log loss (scikit-learn's ``log_loss``) and expected calibration error (15 bins, top
    label) of the trajectories whose label is a class."""
    from .calibration import expected_calibration_error

    index = {c: i for i, c in enumerate(classes)}
    known = np.array([label in index for label in y_true])
    y_idx = np.array([index[label] for label in y_true if label in index], dtype=int)
    proba = np.exp(log_proba[known])
    return {"log_loss": float(log_loss(y_idx, proba, labels=np.arange(len(classes)))) + 0.0,  # + 0.0: no -0.0
            "expected_calibration_error": expected_calibration_error(y_idx, proba)}


def _as_class_names(labels, classes):
    """Labels read from data (strings) as the model's class names (``str`` of each class):
    with numeric classes (a model fitted in Python on numbers) a label is matched by value,
    so "1" and "1.0" are the class 1.0; with bool classes "1" and "true" are the class True
    and "0" and "false" the class False (any case)."""
    dtype = np.asarray(classes).dtype
    if dtype.kind != "b" and not np.issubdtype(dtype, np.number):
        return labels
    by_value = {float(c): str(c) for c in classes}
    words = {"true": "True", "false": "False"} if dtype.kind == "b" else {}
    return [by_value.get(float(label), label) if is_number(label) else words.get(str(label).lower(), label)
            for label in labels]


def _matching_dims(model, dataset, on_invalid, source="data"):
    """The trajectories (and string labels) with the model's number of dims, and the
    skipped list (the dataset's plus the others). None left is an error."""
    X, y, skipped = [], [], list(dataset.skipped)
    names = dataset.paths if len(dataset.paths) == len(dataset.trajectories) else None
    for i, (traj, label) in enumerate(zip(dataset.trajectories, dataset.labels)):
        dims = np.shape(traj)[1]
        if dims != model.n_features_in_:
            name = str(names[i]) if names is not None else f"trajectory {i}"
            reason = str(model_dims_error(name, model, dims, table=names is not None))
            if on_invalid == "error":
                raise DataError(reason)
            skipped.append((name, reason))
            continue
        X.append(traj)
        y.append(str(label))
    if not X:
        raise DataError(f"{source}: no trajectory has the model's {model.n_features_in_} dims "
                        f"({len(skipped)} skipped)")
    return X, y, skipped

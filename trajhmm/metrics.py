"""Evaluation of predictions: the report behind ``trajhmm evaluate``."""

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from ._validation import plain_value

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
    recall, f1, support), ``macro_f1``, ``confusion_matrix`` (rows: true, columns:
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
        "macro_f1": float(np.mean(f)) if len(f) else 0.0,
        "confusion_matrix": cm.tolist(),
        "most_confused": [{"true": plain_value(labels[i]), "predicted": plain_value(labels[j]), "count": c}
                          for c, i, j in off[:n_pairs]],
    }

"""Figures (optional extra ``trajhmm[plot]``: matplotlib).

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global
state, no window, any backend), which the caller saves with ``fig.savefig(path)``.
``trajhmm plot ...`` is the command-line front end.
"""

import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._validation import check_trajectories, plain_value, user_stacklevel
from .exceptions import DataError

__all__ = ["plot_confusion", "plot_trajectories", "plot_convergence", "plot_states"]


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise DataError("plots need matplotlib: pip install 'trajhmm[plot]'") from None
    return Figure(**kwargs)


def _colors(n):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def plot_confusion(confusion, labels, *, normalize=False, title="Confusion matrix"):
    """A confusion matrix (rows: true, columns: predicted) as an annotated heat map: counts
    (written as whole numbers) or fractions (as scikit-learn's ``confusion_matrix(...,
    normalize=...)`` gives; written with two decimals); ``normalize`` divides each row by
    its sum. NaN or negative cells are refused.

    Examples
    --------
    >>> fig = plot_confusion([[3, 1], [0, 4]], ["a", "b"])
    >>> fig.axes[0].get_xlabel()
    'predicted'
    """
    cm = np.asarray(confusion, dtype=float)
    labels = [str(v) for v in labels]
    if cm.shape != (len(labels), len(labels)):
        raise DataError(f"confusion: expected a {len(labels)} x {len(labels)} matrix, got shape {cm.shape}")
    if not np.all(np.isfinite(cm)) or (cm < 0).any():
        bad = next(v for v in cm.ravel() if not np.isfinite(v) or v < 0)
        raise DataError(f"confusion: expected counts or fractions (finite, >= 0), got {float(bad)!r}")
    counts = np.array_equal(cm, np.round(cm))
    rows = cm.sum(axis=1, keepdims=True)
    shown = cm / np.where(rows > 0, rows, 1) if normalize else cm
    size = 2.5 + 0.45 * len(labels)
    fig = _figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(shown, cmap="Blues")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    top = shown.max() if shown.size else 0
    for i in range(len(labels)):
        for j in range(len(labels)):
            if cm[i, j]:
                text = f"{shown[i, j]:.2f}" if normalize or not counts else str(int(cm[i, j]))
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if shown[i, j] > 0.6 * top else "black")
    return fig


def _feature_names(n_dims, derivatives=0):
    """Names of the resampled features, in the order of ``feature_mask_``: the dims
    (x, y, z; dim3, dim4, ... beyond three), then their time derivatives (d1x, d1y, ...).

    >>> _feature_names(2, derivatives=1)
    ['x', 'y', 'd1x', 'd1y']
    """
    dims = [("x", "y", "z")[i] if i < 3 else f"dim{i}" for i in range(n_dims)]
    return dims + [f"d{k}{name}" for k in range(1, derivatives + 1) for name in dims]


def _axes(fig, n_dims):
    if n_dims >= 3:
        ax = fig.add_subplot(projection="3d")
        return ax, 3
    return fig.add_subplot(), 2


def _class_order(label):
    """Sort key of class names: numbers by value (2 before 10), then text."""
    try:
        return (0, float(label), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(label))


def plot_trajectories(X, labels, *, predicted=None, title=None, time_column=None):
    """Trajectories in 3-D (or 2-D for planar data, against time for 1-D data), coloured by class; with
    ``predicted``, correctly classified ones thin in their class colour and misclassified
    ones thick and black, annotated "true -> predicted". ``time_column``: the column of
    time stamps (as ``load_trajectories(..., time_column=...)`` and a model's
    ``time_column`` say), left out of what is drawn. The legend lists the classes in order
    (numbers by value).

    Examples
    --------
    >>> t = np.linspace(0, 1, 20)[:, None]
    >>> fig = plot_trajectories([np.hstack([t, t]), np.hstack([t, -t])], ["up", "down"])
    >>> len(fig.axes[0].lines)
    2
    """
    X = check_trajectories(X)
    if time_column is not None:
        if not isinstance(time_column, (int, np.integer)) or not 0 <= time_column < X[0].shape[1]:
            raise DataError(f"time_column: expected the index of a column of X, got {time_column!r} for "
                            f"trajectories of {X[0].shape[1]} columns")
        X = [np.delete(x, time_column, axis=1) for x in X]
    labels = np.asarray(labels)
    if len(X) != len(labels):
        raise DataError(f"labels: expected {len(X)} (one per trajectory), got {len(labels)}")
    if predicted is not None and len(predicted) != len(X):
        raise DataError(f"predicted: expected {len(X)} (one per trajectory), got {len(predicted)}")
    n_dims = min(x.shape[1] for x in X) if X else 2
    if n_dims > 3:
        warnings.warn(f"X: trajectories of {n_dims} coordinates: the plot draws the first 3 (as x, y, z); choose "
                      "the ones to draw with columns= (--columns)", UserWarning, stacklevel=user_stacklevel())
    fig = _figure(figsize=(8, 6.5), layout="constrained")
    ax, k = _axes(fig, n_dims)
    classes = sorted(set(labels.tolist()), key=_class_order)
    color = dict(zip(classes, _colors(len(classes))))
    seen = set()
    for i, x in enumerate(X):
        c = plain_value(labels[i])
        wrong = predicted is not None and str(predicted[i]) != str(c)
        style = dict(color="black", linewidth=2.2, zorder=3) if wrong else dict(color=color[c], linewidth=0.9, alpha=0.8)
        name = None if wrong or c in seen else str(c)
        if not wrong:  # a class whose first trajectory is drawn black still gets its entry
            seen.add(c)
        coords = _coordinates(x, n_dims, k)
        ax.plot(*coords, label=name, **style)
        if wrong:
            ax.text(*[v[-1] for v in coords], f"{c} -> {predicted[i]}", fontsize=7)
    ax.set_xlabel("time (start 0, end 1)" if n_dims == 1 else "x")
    ax.set_ylabel("x" if n_dims == 1 else "y")
    if k == 3:
        ax.set_zlabel("z")
    handles = dict(zip(*reversed(ax.get_legend_handles_labels())))
    shown = [str(c) for c in classes if str(c) in handles]
    ax.legend([handles[name] for name in shown], shown, fontsize=7, loc="upper left", ncols=2)
    n_wrong = 0 if predicted is None else int(sum(str(p) != str(t) for p, t in zip(predicted, labels)))
    ax.set_title(title or (f"{len(X)} trajectories, {len(classes)} classes"
                           + ("" if predicted is None else f"; {n_wrong} misclassified (black)")))
    return fig


def _coordinates(x, n_dims, k):
    """What to draw of trajectory x: its first k dims, or 1-D data against time."""
    if n_dims == 1:
        return [np.linspace(0.0, 1.0, len(x)), x[:, 0]]
    return [x[:, d] for d in range(k)]


def plot_convergence(model):
    """EM log-likelihood per iteration for every class model of a fitted classifier
    (from ``log_likelihood_history_``, saved in model files)."""
    model = getattr(model, "best_estimator_", model)  # an HMMClassifierCV: its refitted model
    check_is_fitted(model, "models_")
    fig = _figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    for label, hist, color, ok in zip(model.classes_, model.log_likelihood_history_, _colors(len(model.classes_)),
                                      model.converged_):
        h = np.asarray(hist)
        ax.plot(np.arange(1, len(h) + 1), h, color=color, marker=".", markersize=3,
                label=f"{label}" + ("" if ok else " (not converged)"))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("log-likelihood of the class's training data")
    ax.set_title("EM convergence per class")
    ax.legend(fontsize=7, ncols=2)
    return fig


def plot_states(model, label, X=None):
    """The state means of one class model over that class's trajectories, in the space
    the model sees (after resampling and the model's preprocessing: ``model.transform``),
    positional features only. States are numbered in left-right order.

    ``X``: trajectories of the class to draw underneath (optional).
    """
    model = getattr(model, "best_estimator_", model)  # an HMMClassifierCV: its refitted model
    check_is_fitted(model, "models_")
    matches = [k for k, c in enumerate(model.classes_) if str(c) == str(label)]
    if not matches:
        raise DataError(f"class {label!r}: not in the model (classes: {[str(c) for c in model.classes_]})")
    k = matches[0]
    hmm = model.models_[k]
    # positional features among the model's features (velocity features come after them)
    n_dims = model.n_features_in_ - (model.time_column is not None)
    positional = np.cumsum(model.feature_mask_)[:n_dims][model.feature_mask_[:n_dims]] - 1
    if len(positional) < 2:
        raise DataError(f"class {label!r}: the model keeps fewer than 2 positional features, nothing to draw")
    if len(positional) > 3:
        warnings.warn(f"class {label!r}: the model has {len(positional)} positional features: the plot draws the "
                      "first 3; train on the ones to draw (columns= / --columns) to see others",
                      UserWarning, stacklevel=user_stacklevel())
    fig = _figure(figsize=(8, 6.5), layout="constrained")
    ax, dims = _axes(fig, len(positional))
    cols = positional[:dims]
    if X is not None and len(X):
        for seg in model.transform(X):
            ax.plot(*[seg[:, c] for c in cols], color="0.6", linewidth=0.8, alpha=0.7)
    means = np.asarray(hmm.means_)
    means = means.reshape(hmm.n_components, -1, means.shape[-1])  # (states, mix, features)
    colors = _colors(hmm.n_components)
    for s in range(hmm.n_components):
        for m in range(means.shape[1]):
            point = [means[s, m, c] for c in cols]
            ax.scatter(*point, color=colors[s], s=60, edgecolor="black", zorder=4)
            ax.text(*point, f" {s}", fontsize=9, zorder=5)
    weights = np.asarray(getattr(hmm, "weights_", np.ones((hmm.n_components, 1))))  # GMMHMM: the components' weights
    centres = (weights[:, :, None] * means).sum(axis=1) / weights.sum(axis=1)[:, None]
    ax.plot(*[centres[:, c] for c in cols], color="black", linewidth=1.2, linestyle="--")
    kept = np.flatnonzero(model.feature_mask_[:n_dims])[:dims]
    names = [_feature_names(n_dims)[i] for i in kept]
    ax.set_xlabel(f"{names[0]} (model units)")
    ax.set_ylabel(f"{names[1]} (model units)")
    if dims == 3:
        ax.set_zlabel(f"{names[2]} (model units)")
    ax.set_title(f"class {label}: {hmm.n_components} state means"
                 + (f" over {len(X)} trajectories" if X is not None and len(X) else ""))
    return fig

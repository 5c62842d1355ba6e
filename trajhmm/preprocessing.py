"""Pure functions that turn raw trajectories into fixed-length feature segments.

Vocabulary: one trajectory is (n_points, n_dims); a batch of equal-length segments is
(n_samples, n_points, n_dims). Nothing here keeps state; the classifier fits the only
learned step (feature standardisation) and stores it.
"""

import numpy as np

from ._validation import check_choice, check_int
from .exceptions import DataError

__all__ = [
    "RESAMPLE_METHODS",
    "TRANSLATIONS",
    "SCALINGS",
    "resample",
    "resample_all",
    "check_times",
    "translate",
    "scale",
    "add_derivatives",
]

RESAMPLE_METHODS = ("time", "arclength")
TRANSLATIONS = ("none", "start", "end", "center")
SCALINGS = ("none", "path_length", "std")


def resample(trajectory, n_points=50, method="time", times=None):
    """Resample one trajectory to ``n_points`` points by linear interpolation.

    Parameters
    ----------
    trajectory : array-like of shape (n_points_in, n_dims)
    n_points : int, default=50
    method : {"time", "arclength"}, default="time"
        "time": points evenly spaced in time (keeps the speed profile): along ``times``
        when given, else along the sample index (the samples taken as evenly spaced).
        "arclength": points evenly spaced along the path length (speed-invariant); a
        trajectory that never moves falls back to "time". ``times`` play no part in it.
    times : array-like of shape (n_points_in,), optional
        The time stamp of every point, strictly increasing (any unit and origin: only
        differences count, so a clock shifted by a year gives the same segment).

    Returns
    -------
    segment : ndarray of shape (n_points, n_dims)
        The first and last points equal the input's first and last points exactly.

    Examples
    --------
    >>> resample([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0]], n_points=5)
    array([[0. , 0. ],
           [0.5, 1. ],
           [1. , 2. ],
           [1.5, 3. ],
           [2. , 4. ]])
    """
    check_int(n_points, "n_points", min_val=2)
    check_choice(method, "method", RESAMPLE_METHODS)
    x = np.asarray(trajectory, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2:
        raise DataError(f"trajectory: expected shape (n_points >= 2, n_dims), got {x.shape}")
    if method == "arclength":
        step = np.linalg.norm(np.diff(x, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(step)])
        if s[-1] > 0:
            keep = np.concatenate([[True], step > 0])
            s, xs = s[keep], x[keep]
            targets = np.linspace(0.0, s[-1], n_points)
            out = np.empty((n_points, x.shape[1]))
            for d in range(x.shape[1]):
                out[:, d] = np.interp(targets, s, xs[:, d])
            out[0], out[-1] = x[0], x[-1]
            return out
    if times is not None:
        t = check_times(times, x.shape[0])
        pos = np.interp(np.linspace(0.0, t[-1] - t[0], n_points), t - t[0], np.arange(x.shape[0], dtype=float))
    else:
        pos = np.linspace(0.0, x.shape[0] - 1, n_points)
    out = interpolate(x, pos)
    out[0], out[-1] = x[0], x[-1]
    return out


def interpolate(x, pos):
    """Linear interpolation of points ``x`` (..., n, d) at fractional sample positions
    ``pos`` (any shape, values in [0, n - 1]): ``x[..., pos, :]``. The one formula every
    resampling here uses (one trajectory, trajectories of one length, stream windows), so
    all of them give the same numbers."""
    i0 = np.clip(pos.astype(np.intp), 0, x.shape[-2] - 2)
    frac = (pos - i0)[..., None]
    return x[..., i0, :] * (1.0 - frac) + x[..., i0 + 1, :] * frac


def check_times(times, n_points, name="times"):
    """``times`` as a float array of ``n_points`` finite, strictly increasing values;
    a DataError (a ValueError) names the first point out of order."""
    t = np.asarray(times, dtype=float)
    if t.shape != (n_points,):
        raise DataError(f"{name}: expected {n_points} time stamps (one per point), got shape {t.shape}")
    if not np.isfinite(t).all():
        i = int(np.argmin(np.isfinite(t)))
        raise DataError(f"{name}: expected finite time stamps, got {t[i]} at point {i}")
    step = np.diff(t)
    if (step <= 0).any():
        i = int(np.argmax(step <= 0)) + 1
        single = np.abs(t).max() > 2**24 and np.array_equal(t.astype(np.float32).astype(float), t)
        hint = ("; the time stamps look like float32 (7 significant digits), which cannot hold epoch seconds "
                "apart: keep them as float64, or subtract the first") if single else ""
        raise DataError(f"{name}: expected strictly increasing time stamps, got {float(t[i])!r} at point {i} "
                         f"after {float(t[i - 1])!r}{hint}")
    return t


def resample_all(trajectories, n_points=50, method="time", times=None):
    """Resample every trajectory; returns an array (n_samples, n_points, n_dims).
    ``times``: None, or one array of time stamps per trajectory (see :func:`resample`)."""
    if times is None and isinstance(trajectories, np.ndarray) and trajectories.ndim == 3 \
            and trajectories.shape[1] == n_points and method == "time":
        return trajectories.astype(float, copy=True)
    if times is None and method == "time":
        return _resample_by_index(trajectories, n_points)
    if times is None:
        return np.stack([resample(t, n_points, method) for t in trajectories])
    return np.stack([resample(x, n_points, method, t) for x, t in zip(trajectories, times)])


def _resample_by_index(trajectories, n_points):
    """:func:`resample` by sample index of many trajectories at once: the trajectories of
    one length share their interpolation positions, so each length is one vectorised step
    (the same arithmetic, so the same numbers, as one trajectory at a time)."""
    arrays = [np.asarray(t, dtype=float) for t in trajectories]
    for x in arrays:
        if x.ndim != 2 or x.shape[0] < 2:
            raise DataError(f"trajectory: expected shape (n_points >= 2, n_dims), got {x.shape}")
    check_int(n_points, "n_points", min_val=2)
    lengths = np.array([len(x) for x in arrays])
    out = np.empty((len(arrays), n_points, arrays[0].shape[1]))
    for n in np.unique(lengths):
        rows = np.flatnonzero(lengths == n)
        group = np.stack([arrays[i] for i in rows])
        seg = interpolate(group, np.linspace(0.0, n - 1, n_points))
        seg[:, 0], seg[:, -1] = group[:, 0], group[:, -1]
        out[rows] = seg
    return out


def translate(segments, mode="none"):
    """Translate each segment: "start"/"end" puts its first/last point at the origin,
    "center" its mean point. ``segments`` is (n_samples, n_points, n_dims)."""
    check_choice(mode, "translation", TRANSLATIONS)
    X = np.asarray(segments, dtype=float)
    if mode == "none":
        return X
    ref = {"start": X[:, :1], "end": X[:, -1:], "center": X.mean(axis=1, keepdims=True)}[mode]
    return X - ref


def scale(segments, mode="none"):
    """Scale each segment: "path_length" to unit path length, "std" to unit RMS distance
    from its mean point. Segments that do not move are left unscaled."""
    check_choice(mode, "scaling", SCALINGS)
    X = np.asarray(segments, dtype=float)
    if mode == "none":
        return X
    if mode == "path_length":
        size = np.linalg.norm(np.diff(X, axis=1), axis=2).sum(axis=1)
    else:
        size = np.sqrt(((X - X.mean(axis=1, keepdims=True)) ** 2).sum(axis=2).mean(axis=1))
    size = np.where(size > 0, size, 1.0)
    return X / size[:, None, None]


def add_derivatives(segments, order=1):
    """Append time derivatives (velocity, then acceleration, ...) as extra features.

    Derivatives are per resampled step (``numpy.gradient`` along the point axis), so a
    segment (n_samples, n_points, n_dims) becomes (n_samples, n_points, n_dims * (order+1)).
    """
    check_int(order, "derivatives", min_val=0)
    X = np.asarray(segments, dtype=float)
    feats = [X]
    for _ in range(order):
        feats.append(np.gradient(feats[-1], axis=1))
    return np.concatenate(feats, axis=2)

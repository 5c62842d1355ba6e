"""Preprocessing against hand computations: resampling (time, arc length), translation,
scaling and derivatives; every option changes what it says and only that."""

import numpy as np
import pytest

from trajhmm import preprocessing
from trajhmm.preprocessing import add_derivatives, resample, resample_all, scale, translate


def _random_trajectories(n_cases, seed):
    """Random walks of any length, dimension and scale, with repeated points and
    standing still, as real recordings have them."""
    rng = np.random.RandomState(seed)
    for _ in range(n_cases):
        T, d, n = rng.randint(2, 60), rng.randint(1, 4), rng.randint(2, 120)
        x = np.cumsum(rng.randn(T, d), axis=0) * 10.0 ** rng.uniform(-6, 6) + rng.randn(d) * 10.0 ** rng.uniform(-3, 3)
        if rng.rand() < 0.3:
            x = np.repeat(x, rng.randint(1, 3), axis=0)  # standing still
        if T > 2 and rng.rand() < 0.3:
            x[-2] = x[-1]  # stops at the end
        yield x, n


@pytest.mark.parametrize("method", preprocessing.RESAMPLE_METHODS)
def test_resample_keeps_both_endpoints_bit_for_bit(method):
    """Interpolation formulas (x0 + f (x1 - x0), targets k * L / (n - 1), ...) can miss
    the last point by 1e-14..1e-11; every endpoint must be the input's, exactly."""
    misses = []
    for i, (x, n) in enumerate(_random_trajectories(2000, seed=11)):
        out = resample(x, n, method)
        assert out.shape == (n, x.shape[1])
        if not ((out[0] == x[0]).all() and (out[-1] == x[-1]).all()):
            misses.append((i, np.abs(out[-1] - x[-1]).max(), np.abs(out[0] - x[0]).max()))
    assert not misses, misses[:5]


def test_resample_time_by_hand():
    # 4 input points (indices 0..3) -> 7 output points at indices 0, .5, 1, ..., 3
    x = np.array([[0.0, 10.0], [2.0, 10.0], [2.0, 4.0], [8.0, 0.0]])
    expected = np.array([
        [0.0, 10.0], [1.0, 10.0], [2.0, 10.0], [2.0, 7.0], [2.0, 4.0], [5.0, 2.0], [8.0, 0.0],
    ])
    np.testing.assert_allclose(resample(x, 7, "time"), expected, rtol=0, atol=1e-14)
    # 3 points -> 4 points at indices 0, 2/3, 4/3, 2
    x = np.array([[0.0], [3.0], [9.0]])
    np.testing.assert_allclose(resample(x, 4, "time")[:, 0], [0.0, 2.0, 3.0 + 6.0 / 3.0, 9.0], atol=1e-14)
    # the same number of points: the input itself
    x = np.random.RandomState(0).randn(9, 3)
    np.testing.assert_allclose(resample(x, 9, "time"), x, rtol=0, atol=1e-15)


def test_resample_arclength_by_hand_on_a_polyline():
    # an L: 3 along x, then 1 along y (total length 4), recorded at uneven speed
    x = np.array([[0, 0], [0.5, 0], [3, 0], [3, 0], [3, 0.25], [3, 1]], float)
    # 9 points every 0.5 of arc length: 0, .5, ..., 3 along x, then (3, .5), (3, 1)
    expected = np.array([[0, 0], [0.5, 0], [1, 0], [1.5, 0], [2, 0], [2.5, 0], [3, 0], [3, 0.5], [3, 1]], float)
    np.testing.assert_allclose(resample(x, 9, "arclength"), expected, rtol=0, atol=1e-14)
    # time resampling of the same input follows the sample index instead
    t = resample(x, 11, "time")
    np.testing.assert_allclose(t[1], [0.25, 0.0], atol=1e-14)  # index 0.5
    # a 3-4-5 triangle side: 5 units along (3, 4) / 5 in one step, then 5 along -y
    x = np.array([[1, 1], [4, 5], [4, 0]], float)
    out = resample(x, 5, "arclength")  # every 2.5 of arc length
    np.testing.assert_allclose(out, [[1, 1], [2.5, 3], [4, 5], [4, 2.5], [4, 0]], atol=1e-14)


def test_resample_arclength_is_speed_invariant_and_time_is_not():
    # the same path, recorded fast then slow: arclength gives the same points
    s_fast = np.concatenate([np.linspace(0, 0.9, 10), np.linspace(0.9, 1.0, 91)[1:]])
    s_even = np.linspace(0, 1, 37)
    def path(s):  # a straight line: both polylines lie on it
        return np.c_[s, 2.0 * s]

    a = resample(path(s_fast), 11, "arclength")
    b = resample(path(s_even), 11, "arclength")
    np.testing.assert_allclose(a, path(np.linspace(0, 1, 11)), atol=1e-14)
    np.testing.assert_allclose(b, path(np.linspace(0, 1, 11)), atol=1e-14)
    t = resample(path(s_fast), 11, "time")
    assert np.ptp(np.linalg.norm(np.diff(t, axis=0), axis=1)) > 0.1


def test_resample_arclength_handles_repeated_points_and_standing_still():
    x = np.array([[0, 0], [0, 0], [1, 0], [1, 0], [1, 0], [2, 0]], float)
    np.testing.assert_allclose(resample(x, 5, "arclength")[:, 0], [0, 0.5, 1, 1.5, 2], atol=1e-15)
    # a trajectory that never moves falls back to "time" (here: every point the same)
    still = np.full((10, 3), 7.0)
    np.testing.assert_array_equal(resample(still, 4, "arclength"), np.full((4, 3), 7.0))


def test_resample_all_stacks_and_copies():
    rng = np.random.RandomState(2)
    X = [rng.randn(T, 2) for T in (5, 9, 30)]
    out = resample_all(X, 8, "arclength")
    for x, o in zip(X, out):
        np.testing.assert_array_equal(o, resample(x, 8, "arclength"))
    A = rng.randn(3, 8, 2)
    B = resample_all(A, 8, "time")
    np.testing.assert_array_equal(B, A)
    B[0, 0, 0] = 99.0
    assert A[0, 0, 0] != 99.0  # a copy, never the caller's array


def test_resample_rejects_bad_input():
    with pytest.raises(ValueError, match="n_points"):
        resample(np.zeros((5, 2)), 1)
    with pytest.raises(ValueError, match="method"):
        resample(np.zeros((5, 2)), 5, "space")
    with pytest.raises(ValueError, match="shape"):
        resample(np.zeros(5), 5)
    with pytest.raises(ValueError, match="shape"):
        resample(np.zeros((1, 2)), 5)


SEGS = np.array([
    [[1.0, 2.0], [4.0, 6.0], [4.0, 10.0]],   # path length 5 + 4 = 9
    [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],    # never moves
    [[-1.0, 3.0], [1.0, 3.0], [3.0, 3.0]],   # path length 4
])


def test_translate_by_hand():
    X = SEGS.copy()
    np.testing.assert_array_equal(translate(X, "none"), SEGS)
    start = translate(X, "start")
    np.testing.assert_array_equal(start[0], [[0, 0], [3, 4], [3, 8]])
    np.testing.assert_array_equal(start[2], [[0, 0], [2, 0], [4, 0]])
    end = translate(X, "end")
    np.testing.assert_array_equal(end[0], [[-3, -8], [0, -4], [0, 0]])
    np.testing.assert_array_equal(end[2], [[-4, 0], [-2, 0], [0, 0]])
    center = translate(X, "center")
    np.testing.assert_allclose(center[0], [[-2, -4], [1, 0], [1, 4]], atol=1e-15)  # mean (3, 6)
    np.testing.assert_allclose(center[2], [[-2, 0], [0, 0], [2, 0]], atol=1e-15)  # mean (1, 3)
    for mode in preprocessing.TRANSLATIONS:
        out = translate(X, mode)
        np.testing.assert_array_equal(out[1], 0.0)
        # only a shift per segment: the steps (and so the shape and size) are unchanged
        np.testing.assert_allclose(np.diff(out, axis=1), np.diff(SEGS, axis=1), atol=1e-14)
    np.testing.assert_array_equal(X, SEGS)  # the input is not modified
    with pytest.raises(ValueError, match="translation"):
        translate(X, "origin")


def test_scale_by_hand():
    X = SEGS.copy()
    np.testing.assert_array_equal(scale(X, "none"), SEGS)
    pl = scale(X, "path_length")
    np.testing.assert_allclose(pl[0], SEGS[0] / 9.0, rtol=1e-15)
    np.testing.assert_allclose(pl[2], SEGS[2] / 4.0, rtol=1e-15)
    np.testing.assert_array_equal(pl[1], SEGS[1])  # does not move: left unscaled
    sd = scale(X, "std")
    # RMS distance from the mean point: seg 0 mean (3, 6), squared distances 20, 1, 17
    np.testing.assert_allclose(sd[0], SEGS[0] / np.sqrt(38.0 / 3.0), rtol=1e-15)
    # seg 2 mean (1, 3): squared distances 4, 0, 4
    np.testing.assert_allclose(sd[2], SEGS[2] / np.sqrt(8.0 / 3.0), rtol=1e-15)
    np.testing.assert_array_equal(sd[1], SEGS[1])
    # a constant offset is not motion: a still segment far from the origin stays put
    far = np.full((1, 4, 2), 5.0)
    for mode in preprocessing.SCALINGS:
        np.testing.assert_array_equal(scale(far, mode), far)
    np.testing.assert_array_equal(X, SEGS)
    with pytest.raises(ValueError, match="scaling"):
        scale(X, "unit")


def _central_difference(x):
    """Hand-written first difference per step: (x[t+1] - x[t-1]) / 2 inside, one-sided
    x[1] - x[0] and x[T-1] - x[T-2] at the ends."""
    T = len(x)
    out = np.empty_like(x)
    out[0] = x[1] - x[0]
    out[T - 1] = x[T - 1] - x[T - 2]
    for t in range(1, T - 1):
        out[t] = (x[t + 1] - x[t - 1]) / 2.0
    return out


def test_derivatives_by_hand():
    # a quadratic in time: x = t^2, y = 3 t; central differences of t^2 are exact (2t)
    t = np.arange(6.0)
    X = np.c_[t ** 2, 3 * t][None]
    D = add_derivatives(X, 2)
    assert D.shape == (1, 6, 6)
    np.testing.assert_array_equal(D[0, :, :2], X[0])  # positions untouched
    np.testing.assert_allclose(D[0, :, 2], [1, 2, 4, 6, 8, 9])  # ends one-sided: 1-0, 25-16
    np.testing.assert_allclose(D[0, :, 3], 3.0)
    # second derivative: differences of [1, 2, 4, 6, 8, 9]
    np.testing.assert_allclose(D[0, :, 4], [1, 1.5, 2, 2, 1.5, 1])
    np.testing.assert_allclose(D[0, :, 5], 0.0, atol=1e-15)
    rng = np.random.RandomState(1)
    X = rng.randn(3, 9, 2)
    D = add_derivatives(X, 2)
    for i in range(3):
        v = _central_difference(X[i])
        np.testing.assert_allclose(D[i, :, 2:4], v, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(D[i, :, 4:6], _central_difference(v), rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(add_derivatives(X, 0), X)
    with pytest.raises(ValueError, match="derivatives"):
        add_derivatives(X, -1)


def test_scale_returns_floats_and_names_its_parameter():
    ints = np.arange(24).reshape(2, 4, 3)
    for mode in ("none", "std", "path_length"):
        assert scale(ints, mode).dtype == np.float64
    np.testing.assert_array_equal(scale(ints, "none"), ints)
    np.testing.assert_array_equal(scale(ints), ints)  # the default is no scaling
    np.testing.assert_array_equal(translate(ints), ints)  # and no translation
    with pytest.raises(ValueError, match=r"^scaling: expected one of 'none', .*, got 'unit'$"):
        scale(ints, "unit")


def test_resample_all_by_index_equals_one_at_a_time_exactly():
    """Trajectories of one length are resampled together (vectorised): the same numbers."""
    rng = np.random.RandomState(0)
    X = [rng.randn(n, 3) for n in (2, 7, 50, 7, 101, 2, 50)]
    batch = resample_all(X, 20)
    np.testing.assert_array_equal(batch, np.stack([resample(x, 20) for x in X]))
    with pytest.raises(ValueError, match=r"expected shape \(n_points >= 2, n_dims\), got \(1, 3\)"):
        resample_all([X[0], rng.randn(1, 3)], 20)

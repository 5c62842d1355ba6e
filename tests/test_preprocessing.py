import numpy as np
import pytest

from trajhmm import preprocessing
from trajhmm.preprocessing import add_derivatives, resample, scale, translate


def test_resample_keeps_endpoints_exactly():
    rng = np.random.RandomState(0)
    x = rng.randn(501, 3)
    x[-1] = 0.0
    for method in ("time", "arclength"):
        for n in (2, 7, 50, 1000):
            out = resample(x, n, method)
            assert out.shape == (n, 3)
            np.testing.assert_array_equal(out[0], x[0])
            np.testing.assert_array_equal(out[-1], x[-1])


def test_resample_time_is_linear_interpolation():
    t = np.linspace(0, 1, 11)[:, None]
    x = np.hstack([t, 2 * t])
    out = resample(x, 21)
    np.testing.assert_allclose(out, np.hstack([np.linspace(0, 1, 21)[:, None], 2 * np.linspace(0, 1, 21)[:, None]]))


def test_resample_arclength_is_even_along_the_path():
    # fast then slow along a line: time resampling is uneven, arclength even
    s = np.concatenate([np.linspace(0, 0.9, 10), np.linspace(0.9, 1.0, 91)[1:]])
    x = np.c_[s, np.zeros_like(s)]
    out = resample(x, 11, "arclength")
    np.testing.assert_allclose(np.diff(out[:, 0]), 0.1, atol=1e-12)
    assert np.ptp(np.diff(resample(x, 11, "time")[:, 0])) > 0.1


def test_resample_arclength_handles_repeated_points_and_standing_still():
    x = np.array([[0, 0], [0, 0], [1, 0], [1, 0], [1, 0], [2, 0]], float)
    np.testing.assert_allclose(resample(x, 5, "arclength")[:, 0], [0, 0.5, 1, 1.5, 2])
    still = np.zeros((10, 3))
    np.testing.assert_array_equal(resample(still, 4, "arclength"), np.zeros((4, 3)))


def test_resample_rejects_bad_input():
    with pytest.raises(ValueError, match="n_points"):
        resample(np.zeros((5, 2)), 1)
    with pytest.raises(ValueError, match="method"):
        resample(np.zeros((5, 2)), 5, "space")
    with pytest.raises(ValueError, match="shape"):
        resample(np.zeros(5), 5)


def test_translate_scale_derivatives():
    rng = np.random.RandomState(1)
    X = rng.randn(4, 30, 3)
    np.testing.assert_allclose(translate(X, "end")[:, -1], 0)
    np.testing.assert_allclose(translate(X, "start")[:, 0], 0)
    np.testing.assert_allclose(translate(X, "center").mean(axis=1), 0, atol=1e-12)
    pl = scale(X, "path_length")
    np.testing.assert_allclose(np.linalg.norm(np.diff(pl, axis=1), axis=2).sum(axis=1), 1)
    D = add_derivatives(X, 2)
    assert D.shape == (4, 30, 9)
    np.testing.assert_allclose(D[:, :, 3:6], np.gradient(X, axis=1))
    assert preprocessing.TRANSLATIONS[0] == "none"

"""The one declaration of every parameter (trajhmm._params) and the Python-side checks
that read it."""

import inspect
import pickle

import numpy as np
import pytest

from trajhmm import DataError, HMMClassifier, _params, save_model
from trajhmm import hmm as _hmm
from trajhmm._params import PARAMS, ParameterError, check_param, validate_params
from trajhmm.model_selection import tune


def test_every_estimator_parameter_is_declared_once_with_its_default():
    signature = inspect.signature(HMMClassifier.__init__).parameters
    assert list(_params.ESTIMATOR_PARAMS) == [name for name in signature if name != "self"]
    for name in _params.ESTIMATOR_PARAMS:
        assert PARAMS[name].default == signature[name].default, name
        assert PARAMS[name].help
    assert set(_params.GRID_PARAMS) <= set(_params.ESTIMATOR_PARAMS)


def test_declared_choices_are_the_ones_the_code_accepts():
    from trajhmm import preprocessing

    assert PARAMS["covariance_type"].choices == _hmm.COVARIANCE_TYPES
    assert PARAMS["resample"].choices == preprocessing.RESAMPLE_METHODS


@pytest.mark.parametrize("params, kind, message", [
    ({"n_states": 100}, ValueError, "n_states: expected an integer <= n_points (50), got 100"),
    ({"n_states": 0}, ValueError, "n_states: expected an integer >= 1, got 0"),
    ({"n_points": 1, "n_states": 5}, ValueError, "n_points: expected an integer >= 2, got 1"),  # the bound first
    ({"n_mix": 1.5}, TypeError, "n_mix: expected an integer, got 1.5 (float)"),
    ({"max_jump": "1"}, TypeError, "max_jump: expected an integer or None, got '1' (str)"),
    ({"reg_covar": 0.0}, ValueError, "reg_covar: expected a number > 0.0, got 0.0"),
    ({"tol": float("inf")}, ValueError, "tol: expected a finite real number, got inf"),
    ({"derivatives": 4}, ValueError, "derivatives: expected an integer <= 3, got 4"),
    ({"standardize": "yes"}, TypeError, "standardize: expected True or False, got 'yes'"),
    ({"rejection_rate": 0.9}, ValueError, "rejection_rate: expected a number <= 0.5, got 0.9"),
    ({"priors": "flat"}, ValueError, "priors: expected one of 'uniform', 'empirical', got 'flat'"),
    ({"topology": "ring"}, ValueError, "topology: expected one of 'ergodic', 'left-right', got 'ring'"),
    ({"n_jobs": 0}, ValueError, "n_jobs: expected an integer other than 0, got 0"),
    ({"random_state": -1}, ValueError, "random_state: expected an integer >= 0, got -1"),
    ({"random_state": 1.0}, TypeError, "random_state: expected an integer, a RandomState or None, got 1.0 (float)"),
])
def test_check_params_names_the_parameter_expected_and_given(params, kind, message):
    clf = HMMClassifier(**params)  # __init__ never validates
    with pytest.raises(kind) as info:
        clf._check_params()
    assert str(info.value) == message
    assert isinstance(info.value, ParameterError)
    again = pickle.loads(pickle.dumps(info.value))  # raised in joblib workers
    assert type(again) is type(info.value) and str(again) == message


def test_allowed_values_pass():
    for params in ({}, {"max_jump": None, "n_jobs": -1}, {"priors": [1, 2, 3]}, {"n_states": 50},
                   {"random_state": np.random.RandomState(0)}, {"standardize": np.bool_(False)},
                   {"n_states": np.int64(3), "reg_covar": np.float32(0.1)}):
        HMMClassifier(**params)._check_params()


def test_the_bound_is_rendered_with_the_callers_names():
    with pytest.raises(ParameterError) as info:
        validate_params({"n_states": 12, "n_points": 10})
    assert info.value.describe(lambda name: "--" + name.replace("_", "-")) == \
        "expected an integer <= --n-points (10), got 12"
    assert check_param("cv", 2) == 2
    with pytest.raises(ValueError, match="^cv: expected an integer >= 2, got 1$"):
        check_param("cv", 1)


def test_command_line_values_are_parsed_and_checked():
    assert _params.parse_text(PARAMS["max_jump"], "none") is None
    assert _params.parse_text(PARAMS["max_jump"], "2") == 2
    assert _params.parse_text(PARAMS["standardize"], "off") is False
    assert _params.parse_text(PARAMS["test_size"], "0.25") == 0.25
    for name, text, message in [("n_states", "x", "expected an integer, got 'x'"),
                                ("test_size", "1", "expected a number < 1.0, got 1.0"),
                                ("format", "xml", "expected one of 'text', 'csv', 'json', got 'xml'"),
                                ("standardize", "maybe", "expected true or false, got 'maybe'")]:
        with pytest.raises(ValueError) as info:
            _params.parse_text(PARAMS[name], text)
        assert str(info.value) == message


def test_tune_validates_every_candidate_before_the_first_fit(dataset, monkeypatch):
    X, y = dataset
    monkeypatch.setattr(HMMClassifier, "fit", lambda *a, **k: pytest.fail("fitted before validating"))
    with pytest.raises(ValueError, match=r"^n_states: expected an integer <= n_points \(10\), got 12$"):
        tune(X, y, {"n_states": [2, 12], "n_points": [20, 10]}, cv=2)
    with pytest.raises(ValueError, match="^cv: expected an integer >= 2, got 1$"):
        tune(X, y, {"n_states": [2]}, cv=1)


def test_save_model_says_what_it_expects(tmp_path):
    from sklearn.pipeline import make_pipeline

    with pytest.raises(TypeError, match="^clf: expected a fitted HMMClassifier or HMMClassifierCV, got Pipeline$"):
        save_model(make_pipeline(HMMClassifier()), tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_feature_names_one_function_for_info_and_plots():
    from trajhmm.plotting import _feature_names

    assert _feature_names(3, 1) == ["x", "y", "z", "d1x", "d1y", "d1z"]
    assert _feature_names(4, 0) == ["x", "y", "z", "dim3"]


# ---------------------------------------------------------------- trajhmm._validation, exact messages
def test_trajectory_collection_messages_name_what_was_expected_and_found():
    import re

    from trajhmm._validation import check_trajectories

    def message(*args, **kwargs):
        with pytest.raises(DataError) as info:
            check_trajectories(*args, **kwargs)
        return str(info.value)

    a3, b2 = np.zeros((4, 3)), np.ones((5, 2))
    assert message(np.zeros((2, 3))) == ("X: expected a sequence of (n_points, n_dims) arrays or one array "
                                         "(n_samples, n_points, n_dims), got an array of shape (2, 3) (one trajectory: pass [x])")
    assert message(5) == "X: expected a sequence of (n_points, n_dims) arrays, got int"
    assert message([]) == "X: expected at least one trajectory, got none"
    assert message([a3, b2]) == "X[1]: expected 3 dims like the other trajectories, got 2"
    # dims_source names where n_dims came from; when n_dims is inferred it is "the other trajectories"
    assert message([b2], n_dims=3, dims_source="the training data") == "X[0]: expected 3 dims like the training data, got 2"
    assert message([b2], n_dims=3) == "X[0]: expected 3 dims like the other trajectories, got 2"
    assert message([a3, b2], dims_source="the training data") == "X[1]: expected 3 dims like the other trajectories, got 2"
    # an object array is a collection of trajectories of any lengths, not one 3-D array
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = a3, np.ones((7, 3))
    assert [t.shape for t in check_trajectories(ragged)] == [(4, 3), (7, 3)]
    assert re.fullmatch(r"X\[1\]: expected 3 dims like the other trajectories, got 2",
                        message(np.array([a3, b2[:, :2]], dtype=object)))


def test_check_int_takes_none_only_when_allowed():
    from trajhmm._validation import check_int

    assert check_int(None, "n_jobs", allow_none=True) is None
    with pytest.raises(TypeError, match=r"^n_states: expected an integer, got None \(NoneType\)$"):
        check_int(None, "n_states")
    assert check_int(np.int64(3), "n_states", min_val=1) == 3

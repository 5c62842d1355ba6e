import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

from trajhmm import ConvergenceWarning, DataError, HMMClassifier, NotFittedError
from trajhmm import hmm as _hmm

from conftest import FAST


def test_fit_predict_string_labels(fitted, dataset):
    X, y = dataset
    assert fitted.classes_.tolist() == sorted(set(y))
    assert fitted.score(X, y) >= 0.95
    assert fitted.n_features_in_ == 3
    assert len(fitted.models_) == 4 and fitted.converged_.shape == (4,)
    assert fitted.n_iter_.dtype.kind == "i"


def test_probabilities_and_joint_log_likelihood(fitted, dataset):
    X, _ = dataset
    jll = fitted.predict_joint_log_proba(X)
    assert jll.shape == (len(X), 4) and np.isfinite(jll).all()
    P = fitted.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1)
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[jll.argmax(axis=1)])
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(X)), P)


def test_transform_reproduces_joint_log_likelihood(fitted, dataset):
    X, _ = dataset
    seg = fitted.transform(X[:3])
    assert seg.shape == (3, FAST["n_points"], fitted.n_model_features_)
    jll = fitted.predict_joint_log_proba(X[:3])
    for i in range(3):
        for k, model in enumerate(fitted.models_):
            expected = model.score(seg[i]) + np.log(fitted.class_prior_[k])
            assert jll[i, k] == pytest.approx(expected, rel=1e-9)


def test_accepts_3d_array_and_int_labels(dataset):
    X, y = dataset
    from trajhmm.preprocessing import resample_all

    A = resample_all(X, 30)
    yi = np.unique(y, return_inverse=True)[1] + 10
    clf = HMMClassifier(**FAST).fit(A, yi)
    assert clf.classes_.tolist() == [10, 11, 12, 13]
    assert clf.predict(A).dtype.kind == "i"


def test_not_fitted_and_clone():
    clf = HMMClassifier(n_states=3, covariance_type="diag")
    with pytest.raises(NotFittedError):
        clf.predict([np.zeros((5, 3))])
    c = clone(clf)
    assert c.get_params() == clf.get_params()
    clf.set_params(n_states=2)
    assert clf.n_states == 2


def test_sklearn_model_selection_with_ragged_lists(dataset):
    X, y = dataset
    X = [x[: 60 + 5 * (i % 7)] for i, x in enumerate(X)]  # variable lengths
    scores = cross_val_score(HMMClassifier(**FAST), X, y, cv=2)
    assert scores.shape == (2,) and (scores > 0.8).all()
    gs = GridSearchCV(HMMClassifier(**FAST), {"n_states": [2, 3]}, cv=2).fit(X, y)
    assert gs.best_params_["n_states"] in (2, 3)


def test_n_jobs_and_global_rng_do_not_change_the_model(dataset):
    X, y = dataset
    params = dict(FAST, n_init=2, n_mix=2, covariance_type="diag", topology="ergodic")
    np.random.seed(0)
    a = HMMClassifier(**params, n_jobs=1).fit(X, y)
    np.random.seed(99)
    b = HMMClassifier(**params, n_jobs=2).fit(X, y)
    for ma, mb in zip(a.models_, b.models_):
        for key, va in _hmm.model_arrays(ma).items():
            np.testing.assert_allclose(va, _hmm.model_arrays(mb)[key])
    np.testing.assert_allclose(a.predict_joint_log_proba(X), b.predict_joint_log_proba(X))


def test_n_init_keeps_the_best_run(dataset):
    X, y = dataset
    one = HMMClassifier(**dict(FAST, topology="ergodic", random_state=5)).fit(X, y)
    many = HMMClassifier(**dict(FAST, topology="ergodic", random_state=5, n_init=3)).fit(X, y)
    best = np.array([h[-1] for h in many.log_likelihood_history_])
    first = np.array([h[-1] for h in one.log_likelihood_history_])
    # the first restart of `many` is not `one`'s run (seeds differ), but the kept run is
    # the best of three, so it is at least as good on average
    assert np.isfinite(best).all() and best.mean() >= first.mean() - 1.0


def test_convergence_warning_names_the_class(dataset):
    X, y = dataset
    with pytest.warns(ConvergenceWarning) as record:
        clf = HMMClassifier(**dict(FAST, n_iter=1)).fit(X, y)
    messages = [str(w.message) for w in record]
    assert len(messages) == 4
    assert "EM for class 'arc_up' did not converge in 1 iterations" in messages[0]
    assert not clf.converged_.any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HMMClassifier(**dict(FAST, n_iter=200, tol=1e-2)).fit(X, y)


def test_priors(dataset):
    X, y = dataset
    X, y = X[:-3], y[:-3]  # unbalanced
    emp = HMMClassifier(**dict(FAST, priors="empirical")).fit(X, y)
    _, counts = np.unique(y, return_counts=True)
    np.testing.assert_allclose(emp.class_prior_, counts / counts.sum())
    given = HMMClassifier(**dict(FAST, priors=[1, 1, 1, 5])).fit(X, y)
    np.testing.assert_allclose(given.class_prior_, [0.125, 0.125, 0.125, 0.625])
    with pytest.raises(ValueError, match="priors: expected 'uniform', 'empirical' or 4 positive numbers"):
        HMMClassifier(**dict(FAST, priors=[1, 2])).fit(X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_states": 0}, "n_states: expected an integer >= 1, got 0"),
        ({"n_states": 60, "n_points": 50}, "n_states: expected an integer <= 50, got 60"),
        ({"covariance_type": "banana"}, "covariance_type: expected one of 'spherical'"),
        ({"topology": "ring"}, "topology: expected one of 'ergodic', 'left-right', got 'ring'"),
        ({"reg_covar": 0.0}, "reg_covar: expected a number > 0.0"),
        ({"n_mix": 1.5}, "n_mix: expected an integer"),
        ({"priors": "flat"}, "priors: expected one of"),
    ],
)
def test_bad_parameters_are_named_in_fit(dataset, params, message):
    X, y = dataset
    clf = HMMClassifier(**params)  # __init__ never validates
    with pytest.raises((ValueError, TypeError), match=message):
        clf.fit(X, y)


def test_bad_data(dataset):
    X, y = dataset
    with pytest.raises(DataError, match="at least 2 classes"):
        HMMClassifier(**FAST).fit(X[:5], ["a"] * 5)
    with pytest.raises(DataError, match="expected 32 labels"):
        HMMClassifier(**FAST).fit(X, y[:-1])
    bad = list(X)
    bad[4] = bad[4][:, :2]
    with pytest.raises(DataError, match=r"X\[4\]: expected 3 dims"):
        HMMClassifier(**FAST).fit(bad, y)
    bad[4] = X[4].copy()
    bad[4][7, 1] = np.nan
    with pytest.raises(DataError, match=r"X\[4\]: expected finite numbers, got nan at point 7"):
        HMMClassifier(**FAST).fit(bad, y)
    clf = HMMClassifier(**FAST).fit(X, y)
    with pytest.raises(DataError, match=r"X\[0\]: expected 3 dims like the training data, got 2"):
        clf.predict([X[0][:, :2]])

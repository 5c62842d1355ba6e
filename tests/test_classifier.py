import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits

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


def _scores(models, segments):
    """hmmlearn's own ``model.score`` of every segment under every model, (n, n_models);
    one BLAS thread (hmmlearn's full-covariance density is many tiny BLAS calls)."""
    with threadpool_limits(1):
        return np.array([[m.score(s) for m in models] for s in segments])


def test_probabilities_against_hmmlearn_scores_and_a_hand_logsumexp(fitted, dataset):
    X, y = dataset
    seg = fitted.transform(X)
    assert seg.shape == (len(X), FAST["n_points"], fitted.n_model_features_)
    # the decision rule by hand: hmmlearn's score of each class model plus the log prior
    jll = _scores(fitted.models_, seg) + np.log(fitted.class_prior_)
    m = jll.max(axis=1, keepdims=True)
    log_post = jll - (m + np.log(np.exp(jll - m).sum(axis=1, keepdims=True)))
    np.testing.assert_allclose(fitted.predict_joint_log_proba(X), jll, rtol=1e-9)
    np.testing.assert_allclose(fitted.predict_log_proba(X), log_post, atol=1e-8)
    np.testing.assert_allclose(fitted.predict_proba(X), np.exp(log_post), atol=1e-10)
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[np.argmax(jll, axis=1)])
    np.testing.assert_array_equal(fitted.predict(X), y)  # the training data is easy


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
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    # one state and no velocity (a single Gaussian of positions per class) is clearly
    # worse on these cut trajectories: measured 0.875 against 1.0
    bad, good = {"n_states": 1, "derivatives": 0}, {"n_states": 4, "derivatives": 1}
    by_hand = [cross_val_score(HMMClassifier(**dict(FAST, **p)), X, y, cv=folds).mean() for p in (bad, good)]
    assert by_hand[0] <= 0.9 and by_hand[1] == 1.0
    grid = [{k: [v] for k, v in p.items()} for p in (bad, good)]
    gs = GridSearchCV(HMMClassifier(**FAST), grid, cv=folds).fit(X, y)
    np.testing.assert_allclose(gs.cv_results_["mean_test_score"], by_hand, rtol=1e-12)
    assert gs.best_params_ == good
    np.testing.assert_array_equal(gs.predict(X), HMMClassifier(**dict(FAST, **good)).fit(X, y).predict(X))


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


def test_n_init_keeps_the_run_with_the_best_log_likelihood(dataset, monkeypatch):
    X, y = dataset
    runs = []
    real = _hmm.fit_hmm

    def spy(segments, config, floor, seed, on_iteration=None):
        res = real(segments, config, floor, seed, on_iteration)
        runs.append((seed, res))
        return res

    monkeypatch.setattr(_hmm, "fit_hmm", spy)
    n_init = 3
    clf = HMMClassifier(**dict(FAST, topology="ergodic", random_state=3, n_init=n_init, n_jobs=1,
                                   rejection_rate=0.0, prefix_view=False)).fit(X, y)
    assert len(runs) == 4 * n_init + 1  # classes x restarts (in order), then the background model
    assert len({seed for seed, _ in runs}) == len(runs)  # every run its own seed
    best_is_not_last = []
    for k in range(4):
        mine = [res for _, res in runs[k * n_init:(k + 1) * n_init]]
        ll = np.array([res.log_likelihood for res in mine])
        best = int(np.argmax(ll))
        best_is_not_last.append(ll[best] > ll[-1])
        assert clf.log_likelihood_history_[k][-1] == ll.max()
        np.testing.assert_array_equal(clf.log_likelihood_history_[k], mine[best].history)
        assert clf.n_iter_[k] == mine[best].n_iter
        for key, value in _hmm.model_arrays(mine[best].model).items():
            np.testing.assert_array_equal(_hmm.model_arrays(clf.models_[k])[key], value)
    assert any(best_is_not_last)  # otherwise "keep the last run" would pass too


def test_convergence_warning_names_the_class(dataset):
    X, y = dataset
    with pytest.warns(ConvergenceWarning) as record:
        clf = HMMClassifier(**dict(FAST, n_iter=1)).fit(X, y)
    messages = [str(w.message) for w in record]
    assert len(messages) == 8  # the class models', then the prefix view's, each pointing at this call
    assert "EM for class 'arc_up' did not converge in 1 iterations" in messages[0]
    assert messages[4].startswith("prefix view (derivatives=2): EM for class 'arc_up' did not converge in 1 iterations")
    assert all(w.filename == __file__ for w in record)
    assert not clf.converged_.any() and not clf.prefix_model_.converged_.any()
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
        ({"n_states": 60, "n_points": 50}, r"n_states: expected an integer <= n_points \(50\), got 60"),
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


def test_each_class_keeps_its_best_restart_and_logs_hmmlearns_messages(caplog):
    """Per class the restart with the highest final log-likelihood (the first on ties);
    hmmlearn's messages go to the debug log, naming class and restart."""
    from types import SimpleNamespace

    def run(ll, *messages):
        return SimpleNamespace(log_likelihood=ll, log_messages=list(messages))

    runs = [run(-5.0), run(-2.0, "step 3: no gain"), run(-2.0), run(-1.0), run(-9.0), run(-1.0)]
    with caplog.at_level("DEBUG", logger="trajhmm.classifier"):
        best = HMMClassifier(n_init=3)._keep_best_runs(runs, np.array(["a", "b"]))
    assert best[0] is runs[1] and best[1] is runs[3]
    assert [r.getMessage() for r in caplog.records] == ["class 'a', restart 1: hmmlearn: step 3: no gain"]

"""Every estimator option changes what it says it changes, and only that: value checks
against hand computations (numpy, hmmlearn's own scorer), never the implementation
compared with itself."""

import itertools

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from trajhmm import HMMClassifier, read_trajectory
from trajhmm import hmm as _hmm

from conftest import FAST, make_sample_data

N = FAST["n_points"]
CLASSES = ("reach_x", "arc_up", "helix_ccw", "wave")


@pytest.fixture(scope="module")
def short():
    """4 classes x 6 trajectories of exactly n_points (20) points: resampling "time" to 20
    points is then the identity, so a segment can be written down by hand."""
    X, y = make_sample_data.make_dataset(per_class=6, seed=4, n_points=N)
    keep = [i for i, label in enumerate(y) if label in CLASSES]
    return [X[i] for i in keep], np.array([y[i] for i in keep])


def _raw(**params):
    """Features without standardisation or derivatives: transform shows translation and
    scaling alone."""
    return HMMClassifier(**{**FAST, "derivatives": 0, "standardize": False, **params})


def _scores(models, segments):
    """hmmlearn's own ``model.score`` of every segment under every model, (n, n_models).
    One BLAS thread: hmmlearn's full-covariance density calls a tiny triangular solve per
    state, which oversubscribed BLAS threads make a hundred times slower."""
    with threadpool_limits(1):
        return np.array([[m.score(s) for m in models] for s in segments])


# ---------------------------------------------------------------- priors
def test_priors_change_only_the_log_prior_term(dataset):
    X, y = dataset
    X, y = X[:-3], y[:-3]  # unbalanced: 8, 8, 8, 5
    uniform = HMMClassifier(**FAST).fit(X, y)
    given = HMMClassifier(**dict(FAST, priors=[1, 2, 3, 10])).fit(X, y)
    empirical = HMMClassifier(**dict(FAST, priors="empirical")).fit(X, y)

    np.testing.assert_allclose(uniform.class_prior_, [0.25] * 4, rtol=1e-15)
    np.testing.assert_allclose(given.class_prior_, np.array([1, 2, 3, 10]) / 16, rtol=1e-15)
    counts = np.array([(y == c).sum() for c in sorted(set(y))])
    assert counts.tolist() == [8, 8, 8, 5]
    np.testing.assert_allclose(empirical.class_prior_, counts / counts.sum(), rtol=1e-15)

    # only the prior differs: the same class models and rejection thresholds ...
    for other in (given, empirical):
        for a, b in zip(uniform.models_, other.models_):
            for key, value in _hmm.model_arrays(a).items():
                np.testing.assert_array_equal(value, _hmm.model_arrays(b)[key])
        np.testing.assert_array_equal(uniform.rejection_threshold_, other.rejection_threshold_)
    # ... and at predict time the joint log-likelihood moves by exactly the log prior
    seg = uniform.transform(X)
    ll = _scores(uniform.models_, seg)  # hmmlearn, by hand
    for clf in (uniform, given, empirical):
        jll = clf.predict_joint_log_proba(X)
        np.testing.assert_allclose(jll, ll + np.log(clf.class_prior_), rtol=1e-9)
        np.testing.assert_allclose(jll - uniform.predict_joint_log_proba(X),
                                   np.broadcast_to(np.log(clf.class_prior_ / 0.25), jll.shape), atol=1e-9)


def test_an_extreme_prior_flips_the_prediction(dataset):
    X, y = dataset
    uniform = HMMClassifier(**FAST).fit(X, y)
    jll = uniform.predict_joint_log_proba(X)
    # the trajectory with the smallest margin, and its runner-up class
    order = np.argsort(-jll, axis=1)
    margin = jll[np.arange(len(X)), order[:, 0]] - jll[np.arange(len(X)), order[:, 1]]
    i = int(np.argmin(margin))
    runner_up = order[i, 1]
    prior = np.ones(4)
    prior[runner_up] = np.exp(margin[i] + 5.0)  # more than the margin in favour of the runner-up
    tilted = HMMClassifier(**dict(FAST, priors=prior)).fit(X, y)
    assert uniform.predict([X[i]])[0] == y[i]
    assert tilted.predict([X[i]])[0] == uniform.classes_[runner_up] != y[i]
    # every prediction is the argmax of the hand-shifted joint log-likelihood
    expected = uniform.classes_[np.argmax(jll + np.log(prior), axis=1)]
    np.testing.assert_array_equal(tilted.predict(X), expected)


# ---------------------------------------------------------------- translation and scaling
@pytest.mark.parametrize("mode", ["none", "start", "end", "center"])
def test_translation_by_hand(short, mode):
    X, y = short
    clf = _raw(translation=mode).fit(X, y)
    ref = {"none": lambda x: x, "start": lambda x: x - x[0], "end": lambda x: x - x[-1],
           "center": lambda x: x - x.mean(axis=0)}[mode]
    seg = clf.transform(X[:5])
    for s, x in zip(seg, X[:5]):
        np.testing.assert_allclose(s, ref(x), atol=1e-12)
    # invariance: a shifted trajectory gives the same segment, except with "none"
    shift = np.array([3.0, -2.0, 0.5])
    moved = clf.transform([x + shift for x in X[:5]])
    if mode == "none":
        np.testing.assert_allclose(moved - seg, np.broadcast_to(shift, seg.shape), atol=1e-12)
    else:
        np.testing.assert_allclose(moved, seg, atol=1e-12)


@pytest.mark.parametrize("mode", ["none", "path_length", "std"])
def test_scaling_by_hand(short, mode):
    X, y = short
    clf = _raw(scaling=mode).fit(X, y)

    def ref(x):
        if mode == "path_length":
            return x / sum(np.sqrt(((b - a) ** 2).sum()) for a, b in itertools.pairwise(x))
        if mode == "std":
            return x / np.sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=1).mean())
        return x

    seg = clf.transform(X[:5])
    for s, x in zip(seg, X[:5]):
        np.testing.assert_allclose(s, ref(x), rtol=1e-12, atol=1e-12)
    # invariance: a trajectory 3 times larger gives the same segment, except with "none"
    big = clf.transform([3.0 * x for x in X[:5]])
    np.testing.assert_allclose(big, 3.0 * seg if mode == "none" else seg, rtol=1e-12, atol=1e-12)


def test_translation_and_scaling_together(short):
    # (translating before or after scaling gives the same segment: both scalings are
    # translation-invariant, so the order is not observable)
    X, y = short
    clf = _raw(translation="start", scaling="std").fit(X, y)
    x = X[0]
    t = x - x[0]
    expected = t / np.sqrt(((t - t.mean(axis=0)) ** 2).sum(axis=1).mean())
    np.testing.assert_allclose(clf.transform([x])[0], expected, atol=1e-12)
    np.testing.assert_allclose(clf.transform([2.5 * x + 7.0])[0], expected, atol=1e-12)


def test_derivatives_by_hand(short):
    X, y = short
    clf = _raw(derivatives=2).fit(X, y)
    x = X[0]

    def diff(a):  # central differences inside, one-sided at the ends (per resampled step)
        d = np.empty_like(a)
        d[1:-1] = (a[2:] - a[:-2]) / 2
        d[0], d[-1] = a[1] - a[0], a[-1] - a[-2]
        return d

    np.testing.assert_allclose(clf.transform([x])[0], np.hstack([x, diff(x), diff(diff(x))]), atol=1e-12)
    assert clf.n_model_features_ == 9


# ---------------------------------------------------------------- standardisation
def test_standardize_false_leaves_the_features_raw(short):
    X, y = short
    clf = HMMClassifier(**dict(FAST, derivatives=0, standardize=False)).fit(X, y)
    np.testing.assert_array_equal(clf.feature_mean_, np.zeros(3))
    np.testing.assert_array_equal(clf.feature_scale_, np.ones(3))
    np.testing.assert_allclose(clf.transform(X), np.stack(X), atol=1e-12)


def test_standardize_true_uses_the_training_mean_and_std(short):
    X, y = short
    clf = HMMClassifier(**dict(FAST, derivatives=0)).fit(X, y)
    points = np.concatenate(X)  # every training point, by hand
    mean, std = points.mean(axis=0), points.std(axis=0)
    np.testing.assert_allclose(clf.feature_mean_, mean, rtol=1e-12)
    np.testing.assert_allclose(clf.feature_scale_, std, rtol=1e-12)
    np.testing.assert_allclose(clf.transform(X), (np.stack(X) - mean) / std, atol=1e-12)
    # the standardised training points have mean 0 and std 1
    z = clf.transform(X).reshape(-1, 3)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, rtol=1e-12)


# ---------------------------------------------------------------- layout
def test_layout_columns_reads_one_column_per_time_step(tmp_path):
    x = np.arange(15, dtype=float).reshape(5, 3) ** 1.5  # 5 points x 3 dims
    p = tmp_path / "wide.csv"
    np.savetxt(p, x.T, delimiter=",")  # 3 rows (dims) x 5 columns (time steps)
    np.testing.assert_array_equal(read_trajectory(p, layout="columns"), np.loadtxt(p, delimiter=",").T)
    np.testing.assert_allclose(read_trajectory(p, layout="columns"), x, rtol=1e-15)
    np.testing.assert_allclose(read_trajectory(p, layout="rows"), x.T, rtol=1e-15)
    # small and ambiguous: "auto" reads rows
    np.testing.assert_allclose(read_trajectory(p), x.T, rtol=1e-15)
    # a tall file read with "columns" is transposed too
    q = tmp_path / "tall.csv"
    np.savetxt(q, x, delimiter=",")
    np.testing.assert_allclose(read_trajectory(q, layout="columns"), x.T, rtol=1e-15)
    np.testing.assert_allclose(read_trajectory(q, layout="rows"), x, rtol=1e-15)

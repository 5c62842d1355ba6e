"""Open-set rejection against hand computations (hmmlearn's own scorer, numpy quantiles)
and measured on trajectories that were not used in training: held-out items of the known
classes and items of classes never seen."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from trajhmm import HMMClassifier, classifier, save_model
from trajhmm.cli import main

from conftest import FAST, make_sample_data, write_folder

KNOWN = ("reach_x", "arc_up", "helix_ccw", "wave")
UNSEEN = ("reach_y", "arc_side", "helix_cw", "hook_left", "hook_right", "drop")
QUANTILE = 0.2  # not the default 0.01, so a quantile that is ignored shows


def _data(per_class, seed, classes):
    X, y = make_sample_data.make_dataset(per_class=per_class, seed=seed, n_points=101)
    keep = [i for i, label in enumerate(y) if label in classes]
    return [X[i] for i in keep], np.array([y[i] for i in keep])


def _scores(models, segments):
    """hmmlearn's own ``model.score`` of every segment under every model, (n, n_models);
    one BLAS thread (hmmlearn's full-covariance density is many tiny BLAS calls)."""
    with threadpool_limits(1):
        return np.array([[m.score(s) for m in models] for s in segments])


@pytest.fixture(scope="module")
def small():
    """Trained on 6 of each known class (rejection_quantile=0.2); test items: 3 held-out
    of each known class and 2 of each unseen class."""
    X, y = _data(6, 1, KNOWN)
    clf = HMMClassifier(**dict(FAST, rejection_quantile=QUANTILE)).fit(X, y)
    Xk, _ = _data(3, 7, KNOWN)
    Xu, _ = _data(2, 7, UNSEEN)
    return clf, X, y, Xk + Xu


def _hand_thresholds(clf, X, y, slack):
    ll = _scores(clf.models_ + [clf.background_model_], clf.transform(X))
    idx = np.searchsorted(clf.classes_, y)
    own = (ll[np.arange(len(X)), idx] - ll[:, -1]) / clf.n_points
    q = np.array([np.quantile(own[idx == k], clf.rejection_quantile) for k in range(len(clf.classes_))])
    med = np.array([np.median(own[idx == k]) for k in range(len(clf.classes_))])
    return q - slack * (med - q)


def test_thresholds_by_hand(small):
    clf, X, y, _ = small
    assert clf.rejection_quantile == QUANTILE
    expected = _hand_thresholds(clf, X, y, classifier._REJECTION_SLACK)
    np.testing.assert_allclose(clf.rejection_threshold_, expected, rtol=1e-9, atol=1e-9)
    # thresholds differ between classes (so one class's threshold used for another shows)
    assert np.ptp(expected) > 0.1


def test_is_unknown_by_hand_for_every_item(small):
    clf, X, y, test_items = small
    thresholds = _hand_thresholds(clf, X, y, classifier._REJECTION_SLACK)
    ll = _scores(clf.models_ + [clf.background_model_], clf.transform(test_items))
    jll = ll[:, :-1] + np.log(clf.class_prior_)
    best = np.argmax(jll, axis=1)
    score = (ll[np.arange(len(ll)), best] - ll[:, -1]) / clf.n_points
    expected = score < thresholds[best]
    # both decisions occur, and the decision is not a function of the score alone: with
    # any one threshold for all classes some items would be decided differently
    assert expected.any() and not expected.all()
    assert any(((score < t) != expected).any() for t in thresholds)
    assert np.abs(score - thresholds[best]).min() > 1e-6  # no item on the edge
    np.testing.assert_array_equal(clf.is_unknown(test_items), expected)
    jll_out, unknown = clf.predict_with_unknown(test_items)
    np.testing.assert_allclose(jll_out, jll, rtol=1e-9)
    np.testing.assert_array_equal(unknown, expected)
    out = clf.predict_or_reject(test_items, unknown="?")
    np.testing.assert_array_equal(out, np.where(expected, "?", clf.classes_[best]).astype(object))
    default = clf.predict_or_reject(test_items)  # the documented default label
    np.testing.assert_array_equal(default, np.where(expected, "unknown", clf.classes_[best]).astype(object))


@pytest.fixture(scope="module")
def larger():
    """Trained on 20 of each known class (default rejection settings)."""
    X, y = _data(20, 1, KNOWN)
    return HMMClassifier(**FAST).fit(X, y)


def test_held_out_items_of_known_classes_are_mostly_accepted(larger):
    # 25 new trajectories of each known class, never used in training. Measured: 2 of 100
    # rejected (slack 1; slack 0 rejects 12, slack 0.5 rejects 4).
    Xk, yk = _data(25, 2, KNOWN)
    assert larger.score(Xk, yk) == 1.0
    rejected = larger.is_unknown(Xk)
    assert rejected.mean() <= 0.06
    for c in KNOWN:  # no known class is sacrificed
        assert rejected[yk == c].mean() <= 0.2


def test_unseen_classes_are_flagged_more_than_known_ones(larger):
    # 10 trajectories of each of 6 classes never seen. Measured with slack 1: 95 % flagged
    # overall, every class at least 80 % (slack 5: 65 %, two classes at 0 %).
    Xu, yu = _data(10, 2, UNSEEN)
    Xk, _ = _data(25, 2, KNOWN)
    unseen = larger.is_unknown(Xu)
    assert unseen.mean() >= 0.85
    for c in UNSEEN:
        assert unseen[yu == c].mean() >= 0.5, c
    assert unseen.mean() >= larger.is_unknown(Xk).mean() + 0.75


def test_cli_unknown_label_is_printed_for_exactly_the_rejected_files(small, tmp_path, capsys):
    clf, _, _, test_items = small
    save_model(clf, tmp_path / "m.npz")
    paths = write_folder(tmp_path / "new", test_items, ["item"] * len(test_items), fmt="%.10f")
    expected = clf.is_unknown(test_items)
    assert expected.any() and not expected.all()
    model = str(tmp_path / "m.npz")

    def labels(*flags):
        assert main(["predict", model, str(tmp_path / "new"), *flags]) == 0
        rows = [line.split("\t") for line in capsys.readouterr()[0].splitlines()]
        assert [r[0] for r in rows] == [str(p) for p in paths]
        return np.array([r[1] for r in rows])

    plain = labels()
    np.testing.assert_array_equal(plain, clf.predict(test_items))
    with_default = labels("--reject")
    np.testing.assert_array_equal(with_default, np.where(expected, "unknown", plain))
    custom = labels("--reject", "--unknown-label", "NONE")
    np.testing.assert_array_equal(custom, np.where(expected, "NONE", plain))
    # without --reject the label is never used
    np.testing.assert_array_equal(labels("--unknown-label", "NONE"), plain)

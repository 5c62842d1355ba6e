"""Open-set rejection against hand computations (hmmlearn's own scorer, numpy quantiles)
and measured on trajectories that were not used in training: held-out items of the known
classes and items of classes never seen."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from trajhmm import DataError, HMMClassifier, save_model
from trajhmm.cli import main

from conftest import FAST, make_sample_data, write_folder

KNOWN = ("reach_x", "arc_up", "helix_ccw", "wave")
UNSEEN = ("reach_y", "arc_side", "helix_cw", "hook_left", "hook_right", "drop")
RATE = 0.2  # not the default 0.01, so a rate that is ignored shows


def _data(per_class, seed, classes):
    X, y = make_sample_data.make_dataset(per_class=per_class, seed=seed, n_points=101)
    keep = [i for i, label in enumerate(y) if label in classes]
    return [X[i] for i in keep], np.array([y[i] for i in keep])


def _scores(models, segments):
    """hmmlearn's own ``model.score`` of every segment under every model, (n, n_models);
    one BLAS thread (hmmlearn's full-covariance density is many tiny BLAS calls)."""
    with threadpool_limits(1):
        return np.array([[m.score(s) for m in models] for s in segments])


class _Spy(HMMClassifier):
    """Records every fit of the cross-fitting (training labels' indices by identity of
    the trajectories) and the out-of-fold scores."""

    def _fit(self, X, y, groups=None, **kwargs):
        if kwargs.get("rejection") == "background":
            _Spy.fold_fits.append([id(x) for x in X])
        return super()._fit(X, y, groups, **kwargs)

    def _oof_rejection_scores(self, *args):
        out = super()._oof_rejection_scores(*args)
        _Spy.oof = out[0]  # the open-set scores (out[1]: the stream ratios)
        return out


@pytest.fixture(scope="module")
def small():
    """Trained on 6 of each known class (rejection_rate=0.2); test items: 3 held-out
    of each known class and 2 of each unseen class."""
    X, y = _data(6, 1, KNOWN)
    _Spy.fold_fits = []
    clf = _Spy(**dict(FAST, rejection_rate=RATE)).fit(X, y)
    Xk, _ = _data(3, 7, KNOWN)
    Xu, _ = _data(2, 7, UNSEEN)
    return clf, X, y, Xk + Xu, list(_Spy.fold_fits), _Spy.oof


def test_threshold_is_the_rate_quantile_of_out_of_fold_scores(small):
    clf, X, y, _, fold_fits, oof = small
    # small data: as many folds as the smallest class (6) allows; each training trajectory is
    # held out of exactly one fold fit, and its score comes from that fold's models (not
    # from a model that saw it)
    assert len(fold_fits) == 6
    held_out = [sum(id(x) not in set(f) for f in fold_fits) for x in X]
    assert held_out == [1] * len(X)
    assert all(len(set(f)) == 5 * len(X) // 6 for f in fold_fits)  # stratified: 5 of each of the 6 per class
    assert np.isfinite(oof).all()
    np.testing.assert_array_equal(clf.rejection_threshold_, np.full(len(KNOWN), np.quantile(oof, RATE)))
    # out-of-fold scores are lower than the model's own training scores (why the
    # threshold is not taken from those)
    ll = _scores(clf.models_ + [clf.background_model_], clf.transform(X))
    idx = np.searchsorted(clf.classes_, y)
    own = (ll[np.arange(len(X)), idx] - ll[:, -1]) / clf.n_points
    assert np.median(oof) < np.median(own)


@pytest.mark.parametrize("n_samples, smallest, n_groups, folds", [
    (30, 5, None, 5),  # ERing's train split: capped by the smallest class
    (151, 30, None, 10),  # RacketSports: small data, 10 folds
    (600, 60, None, 5),  # about 3000 trajectories fitted by the folds
    (1422, 60, None, 3),  # the character data and anything larger: 3
    (100000, 5000, None, 3),
    (151, 30, 4, 4),  # a group stays on one side
    (151, 30, 1, 0),  # one group: nothing to cross-fit
    (40, 1, None, 0),  # a class of one
])
def test_more_calibration_folds_on_small_data(n_samples, smallest, n_groups, folds):
    from trajhmm.classifier import rejection_folds

    y_idx = np.r_[np.zeros(smallest, int), np.ones(n_samples - smallest, int)]  # class 0 is the smallest
    groups = None if n_groups is None else np.arange(n_samples) % n_groups
    assert rejection_folds(y_idx, groups) == folds
    assert rejection_folds(y_idx, groups=[0, 1]) == rejection_folds(y_idx)  # groups of another length: ignored


def test_folds_keep_each_group_on_one_side():
    X, y = _data(6, 1, KNOWN)
    groups = np.arange(len(y)) % 4  # 4 recording sessions, each with every class
    _Spy.fold_fits = []
    _Spy(**FAST).fit(X, y, groups=groups)
    ids = {id(x): g for x, g in zip(X, groups)}
    for fit in _Spy.fold_fits:
        trained = {ids[i] for i in fit}
        held_out = {g for g in groups if g not in trained}
        assert held_out and trained.isdisjoint(held_out)
        assert set(fit) == {id(x) for x, g in zip(X, groups) if g in trained}  # a group is all in or all out
    _Spy.fold_fits = []  # two groups: two folds, each trained on one group
    _Spy(**FAST).fit(X, y, groups=np.arange(len(y)) % 2)
    assert [{ids[i] % 2 for i in fit} for fit in _Spy.fold_fits] in ([{0}, {1}], [{1}, {0}])
    with pytest.raises(DataError, match=f"groups: expected {len(y)} group labels"):
        HMMClassifier(**FAST).fit(X, y, groups=[0, 1, 2])


def test_rate_zero_turns_rejection_off_without_cross_fitting():
    X, y = _data(6, 1, KNOWN)
    _Spy.fold_fits = []
    clf = _Spy(**dict(FAST, rejection_rate=0.0)).fit(X, y)
    assert _Spy.fold_fits == [] and np.isneginf(clf.rejection_threshold_).all()
    Xu, _ = _data(2, 7, UNSEEN)
    assert not clf.is_unknown(Xu).any()
    # the class models do not depend on the rate
    np.testing.assert_array_equal(clf.predict_proba(Xu), HMMClassifier(**FAST).fit(X, y).predict_proba(Xu))


def test_a_class_of_one_trajectory_turns_rejection_off_with_a_warning():
    X, y = _data(6, 1, KNOWN)
    keep = [i for i in range(len(y)) if y[i] != "wave"] + [int(np.flatnonzero(y == "wave")[0])]
    with pytest.warns(UserWarning, match="open-set rejection is off: .* got 1 of class 'wave'"):
        clf = HMMClassifier(**FAST).fit([X[i] for i in keep], y[keep])
    assert np.isneginf(clf.rejection_threshold_).all()


def test_is_unknown_by_hand_for_every_item(small):
    clf, X, y, test_items, _, _ = small
    thresholds = clf.rejection_threshold_
    ll = _scores(clf.models_ + [clf.background_model_], clf.transform(test_items))
    jll = ll[:, :-1] + np.log(clf.class_prior_)
    best = np.argmax(jll, axis=1)
    score = (ll[np.arange(len(ll)), best] - ll[:, -1]) / clf.n_points
    expected = score < thresholds[best]
    # both decisions occur, and the decision is not a function of the score alone: with
    # any one threshold for all classes some items would be decided differently
    assert expected.any() and not expected.all()
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
    # 25 new trajectories of each known class, never used in training. Measured: 0 of 100
    # rejected at the default rate 0.01 (and at 0.05).
    Xk, yk = _data(25, 2, KNOWN)
    assert larger.score(Xk, yk) == 1.0
    rejected = larger.is_unknown(Xk)
    assert rejected.mean() <= 0.06
    for c in KNOWN:  # no known class is sacrificed
        assert rejected[yk == c].mean() <= 0.2


def test_unseen_classes_are_flagged_more_than_known_ones(larger):
    # 10 trajectories of each of 6 classes never seen. Measured at the default rate: 95 %
    # flagged overall, every class at least 80 %.
    Xu, yu = _data(10, 2, UNSEEN)
    Xk, _ = _data(25, 2, KNOWN)
    unseen = larger.is_unknown(Xu)
    assert unseen.mean() >= 0.85
    for c in UNSEEN:
        assert unseen[yu == c].mean() >= 0.5, c
    assert unseen.mean() >= larger.is_unknown(Xk).mean() + 0.75


def test_the_rate_is_what_new_known_trajectories_lose():
    """At rejection_rate 0.2, about a fifth of new trajectories of the known classes are
    rejected (measured: 18 of 100); the rate is honoured within a factor of two."""
    X, y = _data(20, 1, KNOWN)
    clf = HMMClassifier(**dict(FAST, rejection_rate=RATE)).fit(X, y)
    Xk, _ = _data(25, 2, KNOWN)
    assert RATE / 2 <= clf.is_unknown(Xk).mean() <= 2 * RATE


def test_cli_unknown_label_is_printed_for_exactly_the_rejected_files(small, tmp_path, capsys):
    clf, _, _, test_items, _, _ = small
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
    # without --reject the label would never be used: refused (exit 2), not ignored
    assert main(["predict", model, str(tmp_path / "new"), "--unknown-label", "NONE"]) == 2
    capsys.readouterr()


def test_a_calibration_fold_that_cannot_be_fitted_turns_rejection_off(monkeypatch):
    """The model itself is fine, one fold's part of the data is not (say, constant): the
    model is kept, rejection is off and the warning says why."""
    X, y = _data(6, 1, KNOWN)
    real = HMMClassifier._fit

    def failing_folds(self, X, y, groups=None, **kwargs):
        if kwargs.get("rejection") == "background":
            raise DataError("X: every feature is constant over the training trajectories")
        return real(self, X, y, groups, **kwargs)

    monkeypatch.setattr(HMMClassifier, "_fit", failing_folds)
    with pytest.warns(UserWarning, match=r"open-set rejection is off: its calibration fold 0 could not be fitted "
                                         r"\(X: every feature is constant"):
        clf = HMMClassifier(**FAST).fit(X, y)
    assert np.isneginf(clf.rejection_threshold_).all() and clf.score(X, y) == 1.0


def test_a_class_recorded_by_one_group_turns_rejection_off_with_a_warning():
    X, y = _data(6, 1, KNOWN)
    groups = np.arange(len(y)) % 3
    groups[y == "wave"] = 0  # every "wave" from the same session: a fold without any
    with pytest.warns(UserWarning, match="open-set rejection is off: the training part of its calibration fold"):
        clf = HMMClassifier(**FAST).fit(X, y, groups=groups)
    assert np.isneginf(clf.rejection_threshold_).all() and clf.score(X, y) == 1.0

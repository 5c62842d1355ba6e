"""Open-set rejection's far-out test: input outside anything the classes were trained on
is unknown even where the likelihood ratio to the background passes it (the trap found in
a user trial: on data whose classes differ in spread, noise far outside the training range
is explained better by the widest class model than by the background)."""

import numpy as np
import pytest

from trajhmm import HMMClassifier, HMMClassifierCV, load_model, save_model
from trajhmm.classifier import likelihood_threshold
from trajhmm.cli import main
from trajhmm.exceptions import ModelFileError
from trajhmm.persistence import model_metadata

from conftest import FAST, as_format, resign

_T = np.linspace(0, 4 * np.pi, 100)[:, None]


def _make(kind, n, rng):
    """Six-dimensional recordings of three classes of very different spread: still (noise
    of 0.05), wave (sines of amplitude 2) and burst (noise of up to 7.8)."""
    if kind == "still":
        return [rng.normal(0, 0.05, (100, 6)) for _ in range(n)]
    if kind == "wave":
        return [np.sin(_T * rng.uniform(0.8, 1.2, 6)) * 2 + rng.normal(0, 0.3, (100, 6)) for _ in range(n)]
    return [rng.normal(0, 6, (100, 6)) * (np.abs(np.sin(_T / 2)) + 0.3) for _ in range(n)]


class _Spy(HMMClassifier):
    """Keeps the out-of-fold values the thresholds came from."""

    def _oof_rejection_scores(self, *args):
        out = super()._oof_rejection_scores(*args)
        type(self).oof = out
        return out


@pytest.fixture(scope="module")
def spread():
    """(model, known held-out items, noise at 10x and 100x the training spread)."""
    rng = np.random.default_rng(0)
    kinds = ("still", "wave", "burst")
    X = [x for k in kinds for x in _make(k, 10, rng)]
    y = np.repeat(kinds, 10)
    clf = _Spy(**FAST).fit(X, y)
    known = [x for k in kinds for x in _make(k, 5, rng)]
    points = np.concatenate(X)
    noise = [points.mean(0) + s * points.std(0) * rng.standard_normal((100, 6)) for s in (10, 100) for _ in range(10)]
    return clf, X, y, known, noise, _Spy.oof


def _ratio_alone(clf, X):
    ll, ll_background = clf._scores(X, background=True)
    best = np.argmax(ll + np.log(clf.class_prior_), axis=1)
    return clf._rejection_ratio(ll, ll_background, best) < clf.rejection_threshold_[best]


def test_far_out_noise_is_unknown_where_the_ratio_passes_it(spread):
    clf, _, _, known, noise, _ = spread
    assert not _ratio_alone(clf, noise).any()  # the trap: the ratio alone accepts all of it
    assert clf.is_unknown(noise).all()
    assert (clf.predict_or_reject(noise) == "unknown").all()
    assert not clf.is_unknown(known).any()


def test_the_threshold_is_tukeys_far_out_fence_of_the_out_of_fold_values(spread):
    clf, _, _, _, _, oof = spread
    fit = oof[2]
    assert fit.shape == oof[0].shape and np.isfinite(fit).all()
    q1, q3 = np.quantile(fit, [0.25, 0.75])
    assert clf.likelihood_threshold_ == pytest.approx(min(fit.min(), q1 - 3 * (q3 - q1)), rel=1e-12)
    assert likelihood_threshold([0.0, 1.0, 2.0, 3.0, 4.0]) == pytest.approx(1.0 - 3 * 2.0)
    assert likelihood_threshold([-50.0, 1.0, 1.0, 1.0, 1.0]) == -50.0  # never above the minimum


def test_the_out_of_fold_values_are_per_point_log_likelihoods_of_the_predicted_class(spread):
    """Scored again by the final model, the training items' values are of the same kind:
    per point, under the class each is predicted as (the final model saw them: higher)."""
    clf, X, _, _, _, oof = spread
    ll = clf._scores(X)[0]
    best = np.argmax(ll + np.log(clf.class_prior_), axis=1)
    own = ll[np.arange(len(X)), best] / clf.n_points
    assert np.median(own - oof[2]) > 0
    assert np.corrcoef(own, oof[2])[0, 1] > 0.9


def test_rejection_off_has_no_far_out_test(spread):
    _, X, y, _, noise, _ = spread
    clf = HMMClassifier(**FAST, rejection_rate=0).fit(X, y)
    assert clf.likelihood_threshold_ == -np.inf and not clf.is_unknown(noise).any()


def test_the_search_model_rejects_far_out_noise(spread, tmp_path):
    _, X, y, known, noise, _ = spread
    search = HMMClassifierCV(estimator=HMMClassifier(**FAST), param_grid={"n_states": [3, 4]}, cv=3,
                             random_state=0).fit(X, y)
    est = search.best_estimator_
    assert np.isfinite(est.likelihood_threshold_)
    assert all(m.likelihood_threshold_ == -np.inf for m in search.ensemble_estimators_[1:])
    assert search.is_unknown(noise).all() and not search.is_unknown(known).any()
    save_model(search, tmp_path / "s.npz")
    loaded = load_model(tmp_path / "s.npz")
    assert loaded.best_estimator_.likelihood_threshold_ == est.likelihood_threshold_
    np.testing.assert_array_equal(loaded.is_unknown(noise + known), search.is_unknown(noise + known))


def test_a_file_of_format_11_rejects_what_it_did(spread, tmp_path, capsys):
    clf, _, _, known, noise, _ = spread
    path = tmp_path / "m.npz"
    save_model(clf, path)
    assert model_metadata(path)["format_version"] == 14
    resign(path, as_format(11))
    old = load_model(path)
    assert not hasattr(old, "likelihood_threshold_")
    np.testing.assert_array_equal(old.is_unknown(noise + known), _ratio_alone(clf, noise + known))
    assert main(["info", str(path)]) == 0
    assert "no far-out test (a model fitted before format 12: retrain for it)" in capsys.readouterr()[0]
    save_model(old, tmp_path / "again.npz")  # saved again in its own format
    assert model_metadata(tmp_path / "again.npz")["format_version"] == 11


@pytest.mark.parametrize("key, value, rejection, match", [
    ("likelihood_threshold_", np.inf, None, "likelihood_threshold_.*non-finite"),
    ("likelihood_threshold_", np.nan, None, "likelihood_threshold_.*non-finite"),
    ("likelihood_threshold_", -np.inf, None, "likelihood_threshold_: expected -inf exactly when rejection_threshold_ is -inf"),
    ("likelihood_threshold_", -3.0, -np.inf, "likelihood_threshold_: expected -inf exactly when rejection_threshold_ is -inf"),
    ("prefix/likelihood_threshold_", -3.0, None, r"prefix/likelihood_threshold_: expected -inf \(the model alone rejects\)"),
])
def test_crafted_thresholds_are_refused(spread, tmp_path, key, value, rejection, match):
    clf, *_ = spread
    assert hasattr(clf, "prefix_model_")
    path = tmp_path / "m.npz"
    save_model(clf, path)

    def edit(arrays, meta):
        arrays[key] = np.array([value])
        if rejection is not None:
            arrays["rejection_threshold_"] = np.full_like(arrays["rejection_threshold_"], rejection)

    resign(path, edit)
    with pytest.raises(ModelFileError, match=match):
        load_model(path)


def test_cli_predict_reject_prints_unknown_for_far_out_files(spread, tmp_path, capsys):
    clf, _, _, known, noise, _ = spread
    save_model(clf, tmp_path / "m.npz")
    files = []
    for i, x in enumerate([noise[0], noise[-1], known[0]]):
        files.append(tmp_path / f"t{i}.csv")
        np.savetxt(files[-1], x, delimiter=",")
    assert main(["predict", str(tmp_path / "m.npz"), *map(str, files), "--reject", "--format", "csv"]) == 0
    rows = capsys.readouterr()[0].strip().splitlines()[1:]
    assert [r.split(",")[1] for r in rows] == ["unknown", "unknown", "still"]

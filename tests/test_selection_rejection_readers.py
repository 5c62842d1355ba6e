"""Model selection (BIC/AIC, tune), open-set rejection and the extra readers (.ts, .npz)."""

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score

from trajhmm import DataError, HMMClassifier
from trajhmm.cli import main
from trajhmm.datasets import load_dataset, load_npz, read_ts
from trajhmm.model_selection import tune

from conftest import FAST

TS = """# a comment
@problemName Tiny
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
0,1,2,3:0,1,2,3:up
0,-1,-2:0,0.5,1:down
"""


def test_read_ts(tmp_path):
    p = tmp_path / "t.ts"
    p.write_text(TS)
    ds = read_ts(p)
    assert ds.labels == ["up", "down"]
    np.testing.assert_array_equal(ds.trajectories[1], [[0, 0], [-1, 0.5], [-2, 1]])
    assert ds.paths[0] == f"{p}:10"
    p.write_text(TS.replace("0,-1,-2:", "0,x,-2:"))
    with pytest.raises(DataError, match=r"t\.ts: line 11: expected a number, got 'x'"):
        read_ts(p)
    p.write_text(TS.replace("0,-1,-2:0,0.5,1", "0,-1,-2:0,0.5"))
    with pytest.raises(DataError, match="line 11: dimensions have different lengths"):
        read_ts(p)
    p.write_text(TS.replace("@timeStamps false", "@timeStamps true"))
    with pytest.raises(DataError, match="time-stamped"):
        read_ts(p)


def test_load_npz_bundle(tmp_path, dataset):
    X, y = dataset
    split = np.where(np.arange(len(y)) % 2, "test", "train")
    np.savez(tmp_path / "b.npz", X=np.concatenate(X), lengths=[len(x) for x in X], y=y, split=split)
    ds = load_npz(tmp_path / "b.npz", split="train")
    assert len(ds) == len(y) // 2 and ds.labels == y[::2].tolist()
    np.testing.assert_array_equal(ds.trajectories[1], X[2])
    assert len(load_dataset(tmp_path / "b.npz")) == len(y)
    np.savez(tmp_path / "bad.npz", X=np.zeros((5, 3)), lengths=[2, 2], y=["a", "b"])
    with pytest.raises(DataError, match="lengths summing to len"):
        load_npz(tmp_path / "bad.npz")
    with pytest.raises(DataError, match="no rows with split == 'dev'"):
        load_npz(tmp_path / "b.npz", split="dev")


def test_bic_and_aic_by_hand(fitted, dataset):
    X, y = dataset
    seg = fitted.transform(X)
    expected_bic = expected_aic = 0.0
    for k, c in enumerate(fitted.classes_):
        model = fitted.models_[k]
        log_lik = sum(model.score(s) for s in seg[y == c])  # hmmlearn's own scorer
        K, d = model.n_components, model.n_features
        # left-right, any forward jump: start fixed (0 free); row i has K - i non-zero
        # entries -> K - i - 1 free; means K d; full covariances K d (d + 1) / 2
        p = sum(K - i - 1 for i in range(K)) + K * d + K * d * (d + 1) // 2
        n = (y == c).sum() * seg.shape[1]
        expected_bic += -2 * log_lik + p * np.log(n)
        expected_aic += -2 * log_lik + 2 * p
    assert fitted.bic(X, y) == pytest.approx(expected_bic, rel=1e-9)
    assert fitted.aic(X, y) == pytest.approx(expected_aic, rel=1e-9)


def test_tune_ranks_and_refits(dataset):
    X, y = dataset
    # one state on 3 points: without velocity clearly worse than with (measured 0.875 vs 1.0);
    # a one-value entry (as the CLI passes every grid flag) that is not the default
    fixed = {"n_states": 1, "n_points": 3, "n_iter": FAST["n_iter"], "tol": FAST["tol"]}
    grid = {"derivatives": [0, 1], "reg_covar": [0.1]}
    best, ranking = tune(X, y, grid, cv=2, random_state=0, **fixed)
    fixed["reg_covar"] = 0.1
    # the same folds and models, cross-validated by scikit-learn directly
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    by_hand = {d: cross_val_score(HMMClassifier(derivatives=d, random_state=0, **fixed), X, y, cv=folds)
               for d in (0, 1)}
    assert by_hand[1].mean() == 1.0 and by_hand[0].mean() <= 0.9
    assert [r["params"] for r in ranking] == [{"derivatives": d, "reg_covar": 0.1} for d in (1, 0)]
    assert [r["rank"] for r in ranking] == [1, 2]
    for r in ranking:
        scores = by_hand[r["params"]["derivatives"]]
        assert r["mean_accuracy"] == pytest.approx(scores.mean(), abs=1e-12)
        assert r["std_accuracy"] == pytest.approx(scores.std(), abs=1e-12)
    # the refit: the best parameters, trained on all data with the same seed
    refit = HMMClassifier(derivatives=1, random_state=0, **fixed)
    assert best.get_params() == refit.get_params()
    np.testing.assert_allclose(best.predict_joint_log_proba(X), refit.fit(X, y).predict_joint_log_proba(X), rtol=1e-12)
    with pytest.warns(UserWarning, match="has 2 trajectories, so the search cross-validates 2 folds"):
        tune(X[::4], y[::4], {"n_states": [2]}, cv=3, **fixed)


def test_tune_cli(data_dir, dataset, tmp_path, capsys):
    code = main(["tune", str(data_dir), "-o", str(tmp_path / "best.npz"), "--derivatives", "0", "1",
                 "--n-states", "1", "--n-points", "3", "--n-iter", "50", "--tol", "1e-3", "--cv", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "2 candidates, 2-fold stratified cross-validation on 32 trajectories"
    assert lines[1].split() == ["rank", "accuracy", "+/-", "folds", "fit", "s", "derivatives"]
    rows = [line.split() for line in lines[2:4]]
    assert [(r[0], r[3], r[-1]) for r in rows] == [("1", "2", "1"), ("2", "2", "0")]
    # the printed accuracies are scikit-learn's cross-validation of the same folds (the
    # files hold 5 decimals, so the data are read back from them)
    from trajhmm.datasets import load_dataset

    ds = load_dataset(data_dir)
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    for r in rows:
        # (the search's fold fits stop EM at a relative gain of 3e-3: trajhmm.search._SEARCH_TOL)
        clf = HMMClassifier(derivatives=int(r[-1]), n_states=1, n_points=3, n_iter=50, tol=3e-3, random_state=0)
        scores = cross_val_score(clf, ds.trajectories, np.asarray(ds.labels), cv=folds)
        assert float(r[1]) == pytest.approx(scores.mean(), abs=5e-5)
        assert float(r[2]) == pytest.approx(scores.std(), abs=5e-5)
    assert lines[-2].startswith("chosen: derivatives=1 (cross-validated accuracy ")
    assert lines[-1] == f"refit on all 32 trajectories; model written to {tmp_path / 'best.npz'}"
    from trajhmm import HMMClassifierCV, load_model

    loaded = load_model(tmp_path / "best.npz")
    assert isinstance(loaded, HMMClassifierCV) and loaded.best_params_ == {"derivatives": 1}
    params = loaded.best_estimator_.get_params()
    assert (params["derivatives"], params["n_states"], params["n_points"], params["n_iter"]) == (1, 1, 3, 50)


def test_rejection_flags_a_class_never_seen(dataset):
    # (hand computations of the scores and thresholds, held-out known items and the CLI
    # flags: tests/test_rejection.py)
    X, y = dataset
    known = y != "wave"
    clf = HMMClassifier(**FAST).fit([x for x, k in zip(X, known) if k], y[known])
    assert clf.rejection_threshold_.shape == (3,)
    unseen = [x for x, k in zip(X, known) if not k]
    assert clf.is_unknown(unseen).mean() >= 0.5
    # in-sample, at most the calibration quantile per class (with 8 trajectories a class,
    # the 0.01 quantile sits just above its lowest-scoring trajectory: 1 of 8)
    assert clf.is_unknown([x for x, k in zip(X, known) if k]).mean() <= 0.125
    out = clf.predict_or_reject(X, unknown="?")
    np.testing.assert_array_equal(out, np.where(clf.is_unknown(X), "?", clf.predict(X)).astype(object))
    assert (out[~known] == "?").mean() >= 0.5

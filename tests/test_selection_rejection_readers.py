"""Model selection (BIC/AIC, tune), open-set rejection and the extra readers (.ts, .npz)."""

import numpy as np
import pytest

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
    fixed = {k: v for k, v in FAST.items() if k not in ("n_states", "random_state")}
    best, ranking = tune(X, y, {"n_states": [2, 4]}, cv=2, **fixed)
    assert [r["rank"] for r in ranking] == sorted(r["rank"] for r in ranking)
    assert best.n_states == ranking[0]["params"]["n_states"]
    assert best.score(X, y) >= 0.9
    with pytest.raises(DataError, match="3 folds need at least 3 trajectories per class"):
        tune(X[::4], y[::4], {"n_states": [2]}, cv=3)


def test_tune_cli(data_dir, tmp_path, capsys):
    code = main(["tune", str(data_dir), "-o", str(tmp_path / "best.npz"), "--n-states", "2", "3",
                 "--n-points", "20", "--n-iter", "30", "--tol", "1e-3", "--cv", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("2 candidates, 2-fold")
    assert lines[1].split() == ["rank", "accuracy", "+/-", "fit", "s", "n_states"]
    assert "model written to" in lines[-1] and (tmp_path / "best.npz").exists()


def test_rejection_flags_a_class_never_seen(dataset, tmp_path, capsys):
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
    assert set(out[~known]) <= {"?", *clf.classes_} and (out[~known] == "?").mean() >= 0.5
    # the CLI option, on a saved model
    from trajhmm import save_model

    from conftest import write_folder

    save_model(clf, tmp_path / "m.npz")
    write_folder(tmp_path / "new", unseen, ["wave"] * len(unseen))
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "new"), "--reject"]) == 0
    labels = [line.split("\t")[1] for line in capsys.readouterr()[0].splitlines()]
    assert labels.count("unknown") >= len(unseen) / 2

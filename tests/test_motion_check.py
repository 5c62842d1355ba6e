"""Input in other units than the training data (metres read where millimetres were
trained): the class models still give it a label, often confidently. predict says so:
trajectories that move less than half as much as the least moving training trajectory of
any class, or more than twice as much as the most moving one, are flagged
(``FilePrediction.still`` / ``.oversized``) and warned about on the command line."""

import json

import numpy as np
import pytest

from trajhmm import HMMClassifier, predict_files, save_model
from trajhmm.streaming import motion_flags

from conftest import FAST, as_format, cli, resign, write_folder


@pytest.fixture(scope="module")
def held_out(dataset):
    X, y = dataset
    test = np.arange(len(X)) % 4 == 0
    clf = HMMClassifier(**FAST).fit([x for x, t in zip(X, test) if not t], y[~test])
    return clf, [x for x, t in zip(X, test) if t]


def test_known_trajectories_are_not_flagged_and_other_units_are(held_out):
    clf, X = held_out
    for factor, still, oversized in ((1.0, False, False), (1e-3, True, False), (1e-2, True, False),
                                     (1e2, False, True), (1e3, False, True)):
        got = motion_flags(clf, [x * factor for x in X])
        assert got[0].tolist() == [still] * len(X) and got[1].tolist() == [oversized] * len(X), factor
    moved = [x - x.mean(0) + 1e4 for x in X]  # recorded at another place: the motion is the same
    assert not any(np.concatenate(motion_flags(clf, moved)))


def test_the_time_column_is_no_motion(dataset):
    X, y = dataset
    timed = [np.c_[np.arange(len(x)) * 1e6, x] for x in X]  # time stamps in microseconds
    clf = HMMClassifier(**FAST, time_column=0).fit(timed, y)
    assert not any(np.concatenate(motion_flags(clf, timed[:5])))
    small = [np.c_[t[:, 0], t[:, 1:] * 1e-3] for t in timed[:5]]
    assert motion_flags(clf, small)[0].all()


def test_size_invariant_models_and_older_files_flag_nothing(dataset, tmp_path):
    from trajhmm import load_model

    X, y = dataset
    scaled = HMMClassifier(**FAST, scaling="std").fit(X, y)
    assert not any(np.concatenate(motion_flags(scaled, [x * 1e-3 for x in X[:4]])))
    path = tmp_path / "m.npz"
    save_model(HMMClassifier(**FAST).fit(X, y), path)
    resign(path, as_format(8))  # before motion was kept
    assert not any(np.concatenate(motion_flags(load_model(path), [x * 1e-3 for x in X[:4]])))


def test_predict_files_flags_each_file(held_out, tmp_path):
    clf, X = held_out
    for name, factor in (("same", 1.0), ("small", 1e-3), ("large", 1e3)):
        np.savetxt(tmp_path / f"{name}.csv", X[0] * factor, delimiter=",")
    got = {p.path.rsplit("/", 1)[-1]: (p.still, p.oversized) for p in predict_files(clf, sorted(tmp_path.iterdir()))}
    assert got == {"same.csv": (False, False), "small.csv": (True, False), "large.csv": (False, True)}


def test_the_cli_warns_once_with_a_count(held_out, tmp_path, capsys, monkeypatch):
    clf, X = held_out
    model = tmp_path / "m.npz"
    save_model(clf, model)
    for i, x in enumerate(X[:4]):
        np.savetxt(tmp_path / f"mm{i}.csv", x * (1e-3 if i else 1.0), delimiter=",")
    code, out, err = cli(["predict", model, *sorted(tmp_path.glob("mm*.csv")), "--format", "json"], capsys)
    assert code == 0 and len(out.splitlines()) == 4
    assert all(set(json.loads(line)) == {"path", "label", "margin"} for line in out.splitlines())  # output unchanged
    assert err.splitlines() == [
        f"trajhmm: warning: 3 of 4 trajectories (the first: {tmp_path / 'mm1.csv'}) move less than half as much as "
        "the least moving training trajectory: other units or another sensor than the training data (metres read "
        "where millimetres were trained)? The labels of such input are guesses"]
    code, out, err = cli(["predict", model, tmp_path / "mm0.csv"], capsys)
    assert code == 0 and err == ""
    big = tmp_path / "big.csv"
    np.savetxt(big, X[0] * 1e3, delimiter=",")
    code, out, err = cli(["predict", model, big], capsys)
    assert code == 0 and err == (f"trajhmm: warning: {big}: moves more than twice as much as the most moving "
                                 "training trajectory: other units or another sensor than the training data "
                                 "(millimetres read where metres were trained)? The labels of such input are guesses\n")


def test_a_live_pipe_is_warned_per_record(held_out, tmp_path, capsys, monkeypatch):
    import io

    clf, X = held_out
    model = tmp_path / "m.npz"
    save_model(clf, model)
    lines = "".join(json.dumps({"id": i, "points": (x * f).tolist()}) + "\n" for i, (x, f) in
                    enumerate(zip(X[:3], (1.0, 1e-3, 1.0))))
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code, out, err = cli(["predict", model, "-"], capsys)
    assert code == 0 and len(out.splitlines()) == 3
    assert err.startswith("trajhmm: warning: 1: moves less than half as much") and len(err.splitlines()) == 1


def test_training_files_in_other_units_than_their_class_are_warned_about(dataset, tmp_path, capsys):
    import warnings

    import pandas as pd

    from trajhmm import load_table, load_trajectories
    from trajhmm.datasets import load_npz

    X, y = dataset
    X = [x * 1000 for x in X]  # millimetres
    paths = write_folder(tmp_path / "data", X, y, fmt="%.6f")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_trajectories(tmp_path / "data")  # every trajectory of its class's size: nothing said
    for p in paths[1:3]:  # two files of the first class written in metres
        np.savetxt(p, np.loadtxt(p, delimiter=",", skiprows=1) / 1000, delimiter=",", header="x,y,z", comments="")
    with pytest.warns(UserWarning, match=rf"data: 2 trajectories move more than 30 times less or more than the median "
                                         rf"of their class \(the first: .*{paths[1].name}, class '{y[1]}', 0\.00\d+ "
                                         r"times\): other units than the rest \(metres among millimetres\), or cut short\?"):
        load_trajectories(tmp_path / "data")
    code, _, err = cli(["train", tmp_path / "data", "-o", tmp_path / "m.npz", "--no-search", "--n-jobs", "1",
                        "--n-states", "3", "--n-iter", "5"], capsys)
    assert code == 0 and "trajhmm: warning: " in err and "2 trajectories move more than 30 times less" in err
    big = [x * (1000 if i == 5 else 1) for i, x in enumerate(X)]  # one in micrometres
    np.savez(tmp_path / "b.npz", X=np.concatenate(big), lengths=[len(x) for x in big], y=y)
    with pytest.warns(UserWarning, match=r"b\.npz: 1 trajectory moves more than 30 times less or more than the median "
                                         r"of its class \(the first: .*b\.npz\[5\]"):
        load_npz(tmp_path / "b.npz")
    frame = pd.DataFrame([(i, label, *p) for i, (x, label) in enumerate(zip(big, y)) for p in x],
                         columns=["id", "label", "x", "y", "z"])
    with pytest.warns(UserWarning, match=r"1 trajectory moves .*the first: .*\[id=5\]"):
        load_table(frame, id_column="id", label_column="label")


def test_an_ensemble_flags_what_a_member_whose_sizes_count_flags(dataset):
    # from a trial: the search chose scaling="std" and pooled a member with scaling="none"
    # (weight 0.22) that made millimetre input another class, with no warning
    from types import SimpleNamespace

    X, y = dataset
    invariant = HMMClassifier(**FAST, scaling="std").fit(X, y)
    sized = HMMClassifier(**FAST).fit(X, y)
    pool = SimpleNamespace(best_estimator_=invariant, ensemble_estimators_=[invariant, sized])
    still, oversized = motion_flags(pool, [x * 1000 for x in X[:3]])
    assert oversized.all() and not still.any()
    assert not np.concatenate(motion_flags(SimpleNamespace(best_estimator_=invariant, ensemble_estimators_=[invariant]),
                                           [x * 1000 for x in X[:3]])).any()

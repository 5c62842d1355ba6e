"""Defects found by a user trial in Python with GPS-like tracks in pandas: number classes
with predict_or_reject, streams of DataFrames in another column order, readers saved
that contradict the model, motion_flags on DataFrames."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from trajhmm import DataError, HMMClassifier, save_model
from trajhmm.exceptions import ModelFileError, ParameterValueError

from conftest import FAST


@pytest.fixture(scope="module")
def numbered(dataset):
    X, y = dataset
    codes = {label: i for i, label in enumerate(sorted(set(y)))}
    return HMMClassifier(**FAST).fit(X, [codes[v] for v in y]), X, np.array([codes[v] for v in y])


def test_number_classes_with_a_number_for_unknown_stay_numbers(numbered):
    clf, X, y = numbered
    out = clf.predict_or_reject(X, unknown=-1)
    assert out.dtype.kind == "i" and set(out) <= {-1, 0, 1, 2, 3}
    assert accuracy_score(y, out) > 0.9  # was: "can't handle a mix of binary and unknown targets" (an object array)
    assert clf.predict_or_reject(X, unknown=-1.5).dtype.kind == "f"
    assert clf.predict_or_reject(X[:2], unknown="unknown").dtype == object  # a mix: objects, as before


def _frames(X):
    return [pd.DataFrame(x, columns=["x", "y", "z"]) for x in X]


def test_streams_of_data_frames_check_the_names(dataset):
    from trajhmm import StreamClassifier, spot

    X, y = dataset
    clf = HMMClassifier(**FAST).fit(_frames(X), y)
    stream = pd.DataFrame(np.vstack(X[:3]), columns=["x", "y", "z"])
    assert spot(clf, stream, threshold=-50) == spot(clf, stream.to_numpy(), threshold=-50)
    with pytest.raises(DataError, match="feature names"):  # was: scored as given, another label
        spot(clf, stream[["z", "y", "x"]])
    with pytest.raises(DataError, match="feature names"):
        StreamClassifier(clf).push(stream[["z", "y", "x"]])


def test_motion_flags_take_data_frames_with_time_stamps(dataset):
    from trajhmm.streaming import motion_flags

    X, y = dataset
    timed = [pd.DataFrame(np.c_[np.arange(len(x)) * 0.01, x], columns=["t", "x", "y", "z"]) for x in X]
    clf = HMMClassifier(**FAST, time_column=0).fit(timed, y)
    small = [f.assign(x=f.x * 1e-3, y=f.y * 1e-3, z=f.z * 1e-3) for f in timed[:3]]
    still, oversized = motion_flags(clf, small)  # was: pandas' InvalidIndexError
    assert still.all() and not oversized.any()


@pytest.mark.parametrize(("reader", "match"), [
    ({"columns": ["x", "y"]}, r"reader: columns: expected 3 columns \(one per coordinate of the model\), got 2"),
    ({"columns": ["x", "y", "z"], "time_column": "t"}, "the data were read with time_column='t'"),  # (before)
])
def test_a_reader_that_contradicts_the_model_is_refused(fitted, tmp_path, reader, match):
    with pytest.raises((ParameterValueError, ModelFileError), match=match):
        save_model(fitted, tmp_path / "m.npz", reader=reader)
    assert not (tmp_path / "m.npz").exists()


def test_a_timed_model_with_a_reader_of_columns_needs_its_time_column(dataset, tmp_path):
    X, y = dataset
    timed = [np.c_[np.arange(len(x)) * 0.01, x] for x in X]
    clf = HMMClassifier(**FAST, time_column=0).fit(timed, y)
    with pytest.raises(ParameterValueError, match=r"reader: time_column: expected the time column the files were read "
                                                  r"with \(the model reads time stamps in column 0\)"):
        save_model(clf, tmp_path / "m.npz", reader={"columns": ["x", "y", "z"]})
    save_model(clf, tmp_path / "m.npz", reader={"columns": ["x", "y", "z"], "time_column": "t"})
    save_model(clf, tmp_path / "m.npz")  # no reader: fitted on arrays, how they were read is not known


def test_a_file_whose_reader_contradicts_the_model_is_refused(fitted, tmp_path):
    from trajhmm import load_model

    from conftest import resign

    path = tmp_path / "m.npz"
    save_model(fitted, path, reader={"columns": ["x", "y", "z"]})
    resign(path, lambda arrays, meta: meta["reader"].update(columns=["x", "y"]))
    with pytest.raises(ModelFileError, match=r"m\.npz: meta\.json: reader: columns: expected 3 columns \(one per "
                                             r"coordinate of the model\), got 2: \['x', 'y'\]"):
        load_model(path)


def test_one_data_frame_given_for_many_is_refused_without_a_warning_first(dataset):
    import warnings

    X, y = dataset
    clf = HMMClassifier(**FAST).fit(_frames(X), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # was: "X does not have valid feature names" before the error
        with pytest.raises(DataError, match="X: expected a sequence of"):
            clf.predict(_frames(X)[0])


def test_a_data_set_shows_a_summary_not_every_array(dataset):
    from trajhmm.datasets import TrajectoryDataset

    X, y = dataset
    ds = TrajectoryDataset(trajectories=list(X), labels=list(y), paths=[f"{i}.csv" for i in range(len(X))],
                           reader={"header_names": ["x", "y", "z"]})
    assert repr(ds) == ("TrajectoryDataset(32 trajectories, 4 classes, dims 3, points 101-101, "
                        "reader={'header_names': ['x', 'y', 'z']})")  # was: every array, 340 KB for 131 tracks
    assert repr(TrajectoryDataset()) == "TrajectoryDataset(0 trajectories, no labels)"


def test_data_frame_trajectories_are_refused_naming_their_columns(dataset):
    X, y = dataset
    frames = [pd.DataFrame(np.c_[np.arange(len(x)), x], columns=["t", "x", "y", "z"]) for x in X]
    clf = HMMClassifier(**FAST, time_column=0)
    dated = frames[:3] + [frames[3].assign(t=pd.date_range("2024-01-01", periods=len(X[3]), freq="s"))] + frames[4:]
    with pytest.raises(DataError, match=r"X\[3\]: column 't' holds datetime64\[.*\] values, expected numbers; give "
                                        r"time stamps as seconds, e.g. \(df\['t'\] - df\['t'\]\.iloc\[0\]\)"):
        clf.fit(dated, y)  # was: "got float() argument must be ... not 'Timestamp'"
    gap = frames[0].astype({"x": "Float64"})
    gap.loc[5, "x"] = pd.NA
    with pytest.raises(DataError, match=r"X\[0\]: column 'x' has missing values \(1 of 101\)"):
        clf.fit([gap] + frames[1:], y)  # was: "... not 'NAType'"
    nan = frames[1].set_axis(range(1000, 1000 + len(X[1])))
    nan.loc[1005, "y"] = np.nan
    with pytest.raises(DataError, match=r"X\[1\]: expected finite numbers, got nan at point 5 \(row 6\), index 1005, "
                                        r"column 'y'$"):
        clf.fit(frames[:1] + [nan] + frames[2:], y)  # was: "dim 2 (column 3)"
    labels = pd.array(list(y), dtype="string")
    labels[4] = pd.NA
    with pytest.raises(DataError, match=r"y: missing label \(None, NaN or pd\.NA\) at position 4"):
        clf.fit(frames, labels)  # was: "labels of one kind ..., got NAType and strings"


def test_epoch_seconds_in_float32_get_a_hint(dataset):
    X, y = dataset
    t0 = 1.7e9
    frames = [pd.DataFrame(np.c_[t0 + np.arange(len(x)) * 0.1, x], columns=["t", "x", "y", "z"]) for x in X]
    frames[2] = frames[2].astype({"t": "float32"})  # 1.7e9 + 0.1 steps collapse
    with pytest.raises(DataError, match=r"X\[2\]: .*expected strictly increasing time stamps, got .* the time stamps "
                                        r"look like float32 \(7 significant digits\), which cannot hold epoch seconds "
                                        r"apart: keep them as float64, or subtract the first"):
        HMMClassifier(**FAST, time_column=0).fit(frames, y)

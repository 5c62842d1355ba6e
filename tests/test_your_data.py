"""Data as users hold it: time stamps, labels from pandas, the objects users pass for X,
and what a model file stores of how its data were read."""

import numpy as np
import pytest

from trajhmm import DataError, HMMClassifier, ModelFileError, ParameterError, TrajectoryDataset, load_model, save_model
from trajhmm.preprocessing import check_times, resample

from conftest import FAST, as_format, resign

EPOCH = 1.7e9  # seconds: 2023-11-14
YEAR = 365 * 86400.0


def _timed(X, rng, irregular=False, origin=EPOCH, rate=100.0):
    """Each trajectory with a time column first: regular at ``rate`` Hz, or irregular
    (random steps between 0.2 and 1.8 of the regular one, the points moved accordingly,
    so the shape in time is the same)."""
    out = []
    for x in X:
        n = len(x)
        u = np.linspace(0.0, 1.0, n)
        if irregular:
            steps = rng.uniform(0.2, 1.8, n - 1)
            v = np.concatenate([[0.0], np.cumsum(steps)]) / steps.sum()
            x = np.column_stack([np.interp(v, u, x[:, d]) for d in range(x.shape[1])])
            u = v
        out.append(np.column_stack([origin + u * (n - 1) / rate, x]))
    return out


# ------------------------------------------------------------------ resampling in time
def test_resample_in_time_places_points_evenly_in_time_not_in_index():
    x = np.array([[0.0], [1.0], [10.0]])
    # the third point comes 9 s after the second: halfway in time is 5 s, on the second segment
    np.testing.assert_allclose(resample(x, 3, times=[0.0, 1.0, 10.0])[:, 0], [0.0, 5.0, 10.0])
    np.testing.assert_allclose(resample(x, 3)[:, 0], [0.0, 1.0, 10.0])  # by index
    # only differences of the clock count
    np.testing.assert_array_equal(resample(x, 7, times=np.array([0.0, 1.0, 10.0]) + EPOCH),
                                  resample(x, 7, times=np.array([0.0, 1.0, 10.0]) + EPOCH + YEAR))


@pytest.mark.parametrize("times, message", [
    ([0.0, 2.0, 1.0], r"expected strictly increasing time stamps, got 1.0 at point 2 after 2.0"),
    ([0.0, 1.0, 1.0], r"got 1.0 at point 2 after 1.0"),
    ([0.0, np.nan, 1.0], r"expected finite time stamps, got nan at point 1"),
    ([0.0, 1.0], r"expected 3 time stamps \(one per point\), got shape \(2,\)"),
])
def test_time_stamps_are_checked(times, message):
    with pytest.raises(ValueError, match=message):
        check_times(times, 3)


def test_time_column_is_never_a_feature_and_a_year_later_changes_nothing(dataset):
    X, y = dataset
    rng = np.random.RandomState(0)
    timed = _timed(X, rng)
    clf = HMMClassifier(**FAST, time_column=0).fit(timed, y)
    plain = HMMClassifier(**FAST).fit(X, y)
    assert clf.n_features_in_ == 4 and clf.n_model_features_ == plain.n_model_features_ == 6
    # regular sampling: real time and sample index place the points alike (to the resolution
    # of epoch seconds in float64, 2.4e-7 s, against steps of 0.01 s)
    np.testing.assert_allclose(clf.transform(timed), plain.transform(X), atol=1e-4)
    later = [t + np.r_[YEAR, np.zeros(3)] for t in timed]
    np.testing.assert_array_equal(clf.predict(later), clf.predict(timed))
    np.testing.assert_allclose(clf.predict_joint_log_proba(later), clf.predict_joint_log_proba(timed), rtol=1e-9)
    # the time column may be anywhere
    last = [np.column_stack([t[:, 1:], t[:, 0]]) for t in timed]
    np.testing.assert_allclose(HMMClassifier(**FAST, time_column=3).fit(last, y).transform(last), clf.transform(timed))


def test_irregular_sampling_is_classified_as_well_as_regular(dataset):
    """The same shapes sampled at random instants: with the time stamps, the segments are
    the regular ones; without them (time taken as the index), they are distorted."""
    X, y = dataset
    rng = np.random.RandomState(1)
    regular = _timed(X, rng)
    irregular = _timed(X, rng, irregular=True)
    clf = HMMClassifier(**FAST, time_column=0).fit(regular, y)
    assert clf.score(irregular, y) == clf.score(regular, y) == 1.0
    err_timed = np.abs(clf.transform(irregular) - clf.transform(regular)).mean()
    blind = HMMClassifier(**FAST).fit([r[:, 1:] for r in regular], y)
    err_blind = np.abs(blind.transform([r[:, 1:] for r in irregular]) - blind.transform([r[:, 1:] for r in regular])).mean()
    assert err_timed < err_blind / 3


@pytest.mark.parametrize("column, X, message", [
    (5, [np.zeros((4, 3))] * 2, r"time_column: expected the index of a column of X besides at least one coordinate, "
                                r"got 5 for trajectories of 3 columns"),
    (0, [np.zeros((4, 1))] * 2, r"got 0 for trajectories of 1 columns"),
    (0, [np.column_stack([[0.0, 1, 1, 2], np.arange(4.0)])] * 2,
     r"X\[0\]: time column 0: expected strictly increasing time stamps, got 1.0 at point 2 after 1.0"),
])
def test_bad_time_columns_are_named(column, X, message):
    with pytest.raises(DataError, match=message):
        HMMClassifier(**FAST, time_column=column).fit(X, ["a", "b"])


def test_time_column_is_declared():
    with pytest.raises(ValueError, match=r"time_column: expected an integer >= 0, got -1"):
        HMMClassifier(time_column=-1).fit([np.zeros((3, 2))] * 2, [0, 1])
    with pytest.raises(TypeError, match=r"time_column: expected an integer or None, got 't'"):
        HMMClassifier(time_column="t").fit([np.zeros((3, 2))] * 2, [0, 1])


# ------------------------------------------------------------------ labels
def test_labels_from_pandas_are_stored_as_strings(dataset, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = dataset
    for labels in (pd.Series(y, dtype=object), pd.Series(y, dtype="category"), np.array(list(y), dtype=object)):
        clf = HMMClassifier(**FAST, rejection_rate=0.0).fit(X, labels)
        assert clf.classes_.dtype.kind == "U" and clf.classes_.tolist() == sorted(set(y))
        save_model(clf, tmp_path / "m.npz")
        assert load_model(tmp_path / "m.npz").predict(X[:3]).tolist() == list(y[:3])
    numbers = HMMClassifier(**FAST, rejection_rate=0.0).fit(X, pd.Series(np.unique(y, return_inverse=True)[1]))
    assert numbers.classes_.dtype.kind == "i"
    with pytest.raises(DataError, match=r"y: expected labels of one kind \(all strings or all numbers\), got numbers "
                                        r"and strings"):
        HMMClassifier(**FAST).fit(X, np.array([1, "a"] * (len(X) // 2), dtype=object))
    # a plain list: numpy would make strings of everything ('1', 'nan'); the values as given decide
    with pytest.raises(DataError, match=r"got numbers and strings"):
        HMMClassifier(**FAST).fit(X, [1, "a"] * (len(X) // 2))
    for missing in (np.nan, None):
        with pytest.raises(DataError, match=r"y: missing label \(None, NaN or pd\.NA\) at position 3 \(1 in all\)"):
            HMMClassifier(**FAST).fit(X, [*y[:3], missing, *y[4:]])
    with pytest.raises(DataError, match=r"y: missing label"):
        HMMClassifier(**FAST).fit(X, pd.Series(list(y[:-1]) + [None], dtype="category"))


# ------------------------------------------------------------------ what users pass for X
def test_containers_that_are_not_trajectories_are_refused_with_the_fix(dataset):
    pd = pytest.importorskip("pandas")
    X, y = dataset
    ds = TrajectoryDataset(trajectories=list(X), labels=list(y))
    with pytest.raises(DataError, match=r"got a TrajectoryDataset; pass its arrays: fit\(ds.trajectories, ds.labels\)"):
        HMMClassifier(**FAST).fit(ds, y)
    frame = pd.DataFrame({"id": [0, 0, 1, 1], "x": [0.0, 1, 2, 3]})
    with pytest.raises(DataError, match=r"got a DataFrame; a long table .* trajhmm.load_table\(df, id_column=...,"):
        HMMClassifier(**FAST).fit(frame, [0, 1])


def test_one_trajectory_without_a_list_gets_the_hint(fitted, dataset):
    X, _ = dataset
    with pytest.raises(DataError, match=r"got an array of shape \(101, 3\) \(one trajectory: pass \[x\]\)"):
        fitted.predict(X[0])


# ------------------------------------------------------------------ the reader in model files
@pytest.fixture(scope="module")
def timed_model(dataset):
    X, y = dataset
    return HMMClassifier(**FAST, time_column=0, rejection_rate=0.0).fit(_timed(X, np.random.RandomState(0)), y)


@pytest.mark.parametrize("format", ["npz", "pickle"])
def test_reader_round_trip(timed_model, dataset, tmp_path, format):
    X, _ = dataset
    reader = {"columns": ["x", "y", "z"], "time_column": "t", "delimiter": ";", "decimal": ","}
    path = tmp_path / "m.bin"
    save_model(timed_model, path, format=format, reader=reader)
    loaded, got = load_model(path, trusted=True, return_reader=True)
    assert got == reader and loaded.time_column == 0
    timed = _timed(X, np.random.RandomState(0))
    np.testing.assert_array_equal(loaded.predict_proba(timed), timed_model.predict_proba(timed))
    assert load_model(path, trusted=True).time_column == 0  # without return_reader: the model alone
    save_model(timed_model, path, format=format)
    assert load_model(path, trusted=True, return_reader=True)[1] == {}


@pytest.mark.parametrize("reader, message", [
    ({"colums": ["x"]}, r"reader: expected some of .*, got unknown option 'colums'"),
    ({"columns": "x,y"}, r"reader: columns: expected a list of names or positions, got 'x,y'"),
    ({"time_column": True}, r"reader: time_column: expected a name, got True"),
    ({"delimiter": 3}, r"reader: delimiter: expected a name, got 3"),
    ("columns=x", r"reader: expected a dict of reading options, got str"),
])
def test_bad_readers_are_refused_on_save_and_on_load(timed_model, tmp_path, reader, message):
    with pytest.raises(ParameterError, match=message):  # a ValueError, or a TypeError for a non-dict
        save_model(timed_model, tmp_path / "m.npz", reader=reader)
    save_model(timed_model, tmp_path / "m.npz")
    resign(tmp_path / "m.npz", lambda arrays, meta: meta.update(reader=reader))
    with pytest.raises(ModelFileError, match="meta.json: " + message):
        load_model(tmp_path / "m.npz")


def test_a_time_column_read_first_needs_a_model_that_takes_column_0_as_time(fitted, timed_model, tmp_path):
    with pytest.raises(ModelFileError, match=r"m.npz: cannot save: the data were read with time_column='t', which puts "
                                             r"the time stamps in column 0 .* fitted with time_column=None, so it read "
                                             r"them as a coordinate: refit it with time_column=0"):
        save_model(fitted, tmp_path / "m.npz", reader={"time_column": "t"})
    save_model(timed_model, tmp_path / "m.npz")
    resign(tmp_path / "m.npz", lambda arrays, meta: meta["params"].update(time_column=7))
    with pytest.raises(ModelFileError, match=r"params: time_column=7 is not a column of 4 besides"):
        load_model(tmp_path / "m.npz")


def test_files_before_format_4_load_without_time_column(fitted, dataset, tmp_path):
    X, _ = dataset

    save_model(fitted, tmp_path / "m.npz")
    resign(tmp_path / "m.npz", as_format(3))
    loaded, reader = load_model(tmp_path / "m.npz", return_reader=True)
    assert loaded.time_column is None and reader == {}
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))

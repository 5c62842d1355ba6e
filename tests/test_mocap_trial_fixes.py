"""Fixes from a motion-capture user's trial: files written when standard output's reader
goes away, a frame counter read as a coordinate, plots of more than 3 coordinates, and
loky's worker-restart warning."""

import io
import json
import warnings

import numpy as np
import pytest

import trajhmm
from trajhmm.cli import main

from conftest import FLAGS


class _GoneReader(io.StringIO):
    """Standard output whose reader has gone (``| true``): every write fails."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_train_and_evaluate_write_their_files_when_stdout_is_gone(data_dir, tmp_path):
    # the search printed its table before saving: `trajhmm train ... | true` exited 0 with no model
    model = tmp_path / "m.npz"
    assert main(["train", str(data_dir), "-o", str(model), *FLAGS, "--n-jobs", "1"], stdout=_GoneReader()) == 0
    assert trajhmm.load_model(model).predict(trajhmm.load_trajectories(data_dir).trajectories[:1]).shape == (1,)
    report = tmp_path / "r.json"
    assert main(["evaluate", str(model), str(data_dir), "--report", str(report)], stdout=_GoneReader()) == 0
    assert json.loads(report.read_text())["accuracy"] > 0.5


def test_predict_still_stops_when_its_reader_is_gone(model_file, data_dir):
    assert main(["predict", str(model_file), str(data_dir)], stdout=_GoneReader()) == 0


def _with_frames(path, x, start=1):
    frames = np.arange(start, start + len(x))
    np.savetxt(path, np.column_stack([frames, x]), delimiter=",", header="Frame,x,y,z", comments="", fmt="%.5f")


def test_a_frame_counter_read_as_a_coordinate_is_warned_about(dataset, tmp_path):
    X, _ = dataset
    _with_frames(tmp_path / "a.csv", X[0])
    with pytest.warns(UserWarning, match=r"a\.csv: column 'Frame' counts samples \(consecutive integers from 1\) and "
                                         r"is read as a coordinate; leave it out with columns="):
        assert trajhmm.read_trajectory(tmp_path / "a.csv").shape[1] == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert trajhmm.read_trajectory(tmp_path / "a.csv", columns=["x", "y", "z"]).shape[1] == 3
        assert trajhmm.read_trajectory(tmp_path / "a.csv", time_column="Frame").shape[1] == 4  # stamps, not a coordinate
        np.savetxt(tmp_path / "b.csv", X[0], delimiter=",", header="x,y,z", comments="", fmt="%.5f")
        trajhmm.read_trajectory(tmp_path / "b.csv")


def test_a_folder_says_the_counter_once(dataset, tmp_path):
    X, y = dataset
    for i in range(3):
        (tmp_path / "d" / "c").mkdir(parents=True, exist_ok=True)
        _with_frames(tmp_path / "d" / "c" / f"t{i}.csv", X[i], start=0)
    with pytest.warns(UserWarning, match=r"counts samples \(consecutive integers from 0\).* \(and 2 more files like it"):
        trajhmm.load_trajectories(tmp_path / "d")


def test_plots_say_they_draw_3_of_more_coordinates(dataset):
    pytest.importorskip("matplotlib")
    from trajhmm.plotting import plot_trajectories

    X, y = dataset
    wide = [np.hstack([x, x[:, :2]]) for x in X[:4]]
    with pytest.warns(UserWarning, match=r"X: trajectories of 5 coordinates: the plot draws the first 3"):
        plot_trajectories(wide, y[:4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_trajectories(X[:4], y[:4])


def test_loky_worker_restarts_are_not_reported_as_leaks():
    # a worker that grew by 300 MB exits between tasks and loky starts another (no task is
    # lost); its warning, raised in loky's thread, read as a memory leak of the user's
    import joblib.externals.loky.process_executor as loky_executor

    import trajhmm._parallel

    source = 'import warnings\nwarnings.warn("A worker stopped while some jobs were given to the executor. x", UserWarning)'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trajhmm._parallel.quiet_worker_restarts()
        exec(compile(source, loky_executor.__file__, "exec"), {"__name__": loky_executor.__name__})
        warnings.warn("A worker stopped while some jobs were given to the executor", UserWarning, stacklevel=1)  # not loky's
        n_filters = len(warnings.filters)
        trajhmm._parallel.quiet_worker_restarts()  # the filter that applies: not added again
        assert len(warnings.filters) == n_filters
    assert len(caught) == 1

"""Small deterministic data for the tests, made by the same generator as sample_data/."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"

_spec = importlib.util.spec_from_file_location("make_sample_data", ROOT / "scripts" / "make_sample_data.py")
make_sample_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_sample_data)

# Fast model settings for tests that are about behaviour, not accuracy.
FAST = dict(n_states=4, n_points=20, n_iter=50, tol=1e-3, random_state=0)


@pytest.fixture(scope="session")
def dataset():
    """4 classes x 8 trajectories of 101 x 3 points (labels are strings)."""
    X, y = make_sample_data.make_dataset(per_class=8, seed=1, n_points=101)
    keep = [i for i, label in enumerate(y) if label in ("reach_x", "arc_up", "helix_ccw", "wave")]
    return [X[i] for i in keep], np.array([y[i] for i in keep])


@pytest.fixture(scope="session")
def fitted(dataset):
    from trajhmm import HMMClassifier

    X, y = dataset
    return HMMClassifier(**FAST).fit(X, y)


def write_folder(root, X, y, fmt="%.5f"):
    """Write trajectories as root/<label>/<label>_<i>.csv; returns the paths."""
    paths = []
    for i, (traj, label) in enumerate(zip(X, y)):
        d = Path(root) / str(label)
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"{label}_{i:03d}.csv"
        np.savetxt(p, traj, fmt=fmt, delimiter=",", header="x,y,z", comments="")
        paths.append(p)
    return paths


@pytest.fixture
def data_dir(tmp_path, dataset):
    X, y = dataset
    write_folder(tmp_path / "data", X, y)
    return tmp_path / "data"

"""trajhmm: classify trajectories with one hidden Markov model per class."""

from ._version import __version__
from .classifier import HMMClassifier
from .datasets import TrajectoryDataset, list_trajectory_files, load_trajectories, read_trajectory
from .exceptions import (
    ConvergenceWarning,
    DataError,
    ModelFileError,
    ModelVersionWarning,
    NotFittedError,
    TrajHMMError,
)
from .persistence import load_model, save_model
from .prediction import FilePrediction, SkippedFile, predict_files
from .preprocessing import resample

__all__ = [
    "__version__",
    "HMMClassifier",
    "TrajectoryDataset",
    "read_trajectory",
    "load_trajectories",
    "list_trajectory_files",
    "resample",
    "predict_files",
    "FilePrediction",
    "SkippedFile",
    "save_model",
    "load_model",
    "TrajHMMError",
    "DataError",
    "ModelFileError",
    "ModelVersionWarning",
    "ConvergenceWarning",
    "NotFittedError",
]

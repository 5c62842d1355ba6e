"""trajhmm: classify trajectories with one hidden Markov model per class."""

from . import exceptions as _exceptions
from ._version import __version__
from .classifier import HMMClassifier
from .datasets import TrajectoryDataset, list_trajectory_files, load_trajectories, read_trajectory
from .exceptions import *  # noqa: F403 (the exception hierarchy: exactly exceptions.__all__)
from .persistence import load_model, save_model
from .prediction import FilePrediction, SkippedFile, predict_files
from .preprocessing import resample
from .search import HMMClassifierCV
from .streaming import Detection, StreamClassifier, spot
from .tables import load_table

__all__ = [
    "__version__",
    "HMMClassifier",
    "HMMClassifierCV",
    "TrajectoryDataset",
    "read_trajectory",
    "load_trajectories",
    "list_trajectory_files",
    "load_table",
    "StreamClassifier",
    "Detection",
    "spot",
    "resample",
    "predict_files",
    "FilePrediction",
    "SkippedFile",
    "save_model",
    "load_model",
    *_exceptions.__all__,  # TrajHMMError, DataError, ModelFileError, ModelVersionWarning, ...
]

"""trajhmm: classify trajectories with one hidden Markov model per class.

The public names are imported from their modules on first use (PEP 562): ``import
trajhmm`` itself loads nothing heavy (scikit-learn, hmmlearn, scipy come with the first
name used), so the command line can answer Ctrl-C during its imports with exit code 130
and one line, and ``trajhmm.HMMClassifier`` is the same object as
``trajhmm.classifier.HMMClassifier``.
"""

import importlib

from ._version import __version__

# public name -> the module that defines it
_EXPORTS = {
    "HMMClassifier": "classifier",
    "HMMClassifierCV": "search",
    "TrajectoryDataset": "datasets",
    "read_trajectory": "datasets",
    "load_trajectories": "datasets",
    "list_trajectory_files": "datasets",
    "load_table": "tables",
    "StreamClassifier": "streaming",
    "Detection": "streaming",
    "spot": "streaming",
    "resample": "preprocessing",
    "predict_files": "prediction",
    "FilePrediction": "prediction",
    "SkippedFile": "prediction",
    "save_model": "persistence",
    "load_model": "persistence",
    # the exception hierarchy: exactly exceptions.__all__ (tested)
    "TrajHMMError": "exceptions",
    "DataError": "exceptions",
    "OptionError": "exceptions",
    "ModelFileError": "exceptions",
    "ParameterError": "exceptions",
    "ParameterTypeError": "exceptions",
    "ParameterValueError": "exceptions",
    "ModelVersionWarning": "exceptions",
    "ConvergenceWarning": "exceptions",
    "NotFittedError": "exceptions",
}
# the package's modules, reachable as attributes after ``import trajhmm`` as before
_MODULES = ("calibration", "classifier", "cli", "datasets", "exceptions", "hmm", "metrics", "model_selection",
            "persistence", "plotting", "prediction", "preprocessing", "search", "streaming", "tables")

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # once: later lookups are plain attributes
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_MODULES))

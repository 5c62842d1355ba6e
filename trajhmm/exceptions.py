"""Exception hierarchy: every input or model-file problem is a :class:`TrajHMMError`."""

from sklearn.exceptions import ConvergenceWarning, NotFittedError

__all__ = [
    "TrajHMMError",
    "DataError",
    "OptionError",
    "ModelFileError",
    "ModelVersionWarning",
    "ConvergenceWarning",
    "NotFittedError",
]


class TrajHMMError(Exception):
    """Base class of every error trajhmm raises on purpose."""


class DataError(TrajHMMError, ValueError):
    """A trajectory, file or folder is not usable; the message names it."""


class OptionError(DataError):
    """A reading option that does not fit the input: given where it does not apply
    (``--group-column`` for a folder, ``variable=`` for a text file) or missing where the
    input needs it (``--id-column`` without ``--label-column``). A usage error: exit code 2
    on the command line."""


class ModelFileError(TrajHMMError, ValueError):
    """A model file is missing, foreign, corrupted, tampered with or too new."""


class ModelVersionWarning(UserWarning):
    """A model file was written by other library versions than the ones running."""

"""Exception hierarchy: every input or model-file problem is a :class:`TrajHMMError`."""

from sklearn.exceptions import ConvergenceWarning, NotFittedError

__all__ = [
    "TrajHMMError",
    "DataError",
    "OptionError",
    "ModelFileError",
    "ParameterError",
    "ParameterTypeError",
    "ParameterValueError",
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


class ParameterError(TrajHMMError):
    """A parameter value outside what its declaration allows.

    ``describe(label)`` renders the message with parameter names turned into what the
    caller calls them (the CLI: flags); ``str(error)`` uses the Python names.
    """

    def __init__(self, name, expected, got, bound=None):
        self.name, self.expected, self.got, self.bound = name, expected, got, bound
        super().__init__(f"{name}: {self.describe()}")

    def __reduce__(self):  # raised in joblib workers: unpickled with all its parts
        return type(self), (self.name, self.expected, self.got, self.bound)

    def describe(self, label=str):
        """'expected ..., got ...' (without the parameter's own name)."""
        expected = self.expected.replace("{bound}", label(self.bound)) if self.bound else self.expected
        return f"expected {expected}, got {self.got}"


class ParameterTypeError(ParameterError, TypeError):
    """The value has the wrong type (an integer parameter given 1.5)."""


class ParameterValueError(ParameterError, ValueError):
    """The value has the right type but is out of range or not a choice."""


class ModelVersionWarning(UserWarning):
    """A model file was written by other library versions than the ones running."""

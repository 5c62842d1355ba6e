"""Every parameter declared once.

One :class:`Param` per estimator parameter of :class:`~trajhmm.HMMClassifier` and per
valued command-line flag: its kind, range (possibly bounded by another parameter),
default, help text, and where it applies (the estimator, the ``tune`` grid, CLI
subcommands). From this one table come

- the Python-side validation (:func:`validate_params`, called by
  ``HMMClassifier._check_params``; :func:`check_param` for single values such as
  ``cv``), raising :class:`ParameterTypeError` / :class:`ParameterValueError` (also
  TypeError / ValueError) whose message names the parameter, what was expected and what
  was given;
- the command line's flags: type (parsing and range check at parse time), metavar, help
  and default (:mod:`trajhmm.cli`);
- through the parser, the README's command-line reference
  (``scripts/make_cli_reference.py``).

The scikit-learn ``_parameter_constraints`` pattern, without its private module.
"""

import numbers
from dataclasses import dataclass, field

import numpy as np

from . import datasets, preprocessing
from . import hmm as _hmm
from .exceptions import ParameterError, ParameterTypeError, ParameterValueError

__all__ = ["Param", "PARAMS", "ESTIMATOR_PARAMS", "GRID_PARAMS", "ParameterError", "ParameterTypeError",
           "ParameterValueError", "check_param", "validate_params", "params_for", "parse_text"]

# CLI subcommands (the plot kinds are subcommands of ``plot``).
PLOT_KINDS = ("plot confusion", "plot trajectories", "plot convergence", "plot states")
_READERS = ("train", "evaluate", "tune", "plot confusion", "plot trajectories", "plot states")
_ESTIMATOR_COMMANDS = ("train", "tune")
# Upper bounds of the values that size memory (a resampled trajectory, a batch of files, an image):
# far above any use, low enough that a typo is a clear error rather than a MemoryError.
MAX_POINTS, MAX_BATCH, MAX_DPI = 10_000, 1_000_000, 1200


@dataclass(frozen=True)
class Param:
    """One parameter: what it accepts, its default and help, and where it applies.

    kind: "int", "float", "choice", "bool", "seed" (int in [0, 2**32 - 1], or a
    RandomState in Python) or "text" (any string, no check).
    low / high: the allowed range (``low_open`` / ``high_open``: strict bounds); ``high``
    may name another parameter whose value bounds this one (n_states <= n_points).
    none: None is allowed (``none`` on the command line). nonzero: 0 is refused.
    array_ok: Python also accepts a non-string value, checked later (priors).
    estimator: an HMMClassifier parameter. grid: ``tune`` takes several values.
    commands: the CLI subcommands that have the flag (estimator parameters: train and
    tune, plus these). cli_default / cli_help: per-command overrides.
    """

    name: str
    kind: str
    default: object
    help: str
    low: object = None
    low_open: bool = False
    high: object = None
    high_open: bool = False
    choices: tuple = ()
    none: bool = False
    nonzero: bool = False
    array_ok: bool = False
    estimator: bool = False
    grid: bool = False
    commands: tuple = ()
    cli_default: dict = field(default_factory=dict)
    cli_help: dict = field(default_factory=dict)
    metavar: str = None
    cli: bool = True
    flag_name: str = None

    @property
    def flag(self):
        return "--" + (self.flag_name or self.name).replace("_", "-")

    def applies_to(self, command):
        return self.cli and (command in self.commands or (self.estimator and command in _ESTIMATOR_COMMANDS))


def _est(name, kind, default, text, **kw):
    return Param(name, kind, default, text, estimator=True, **kw)


PARAMS = {p.name: p for p in (
    # ------------------------------------------------ HMMClassifier (and tune's grid)
    _est("n_states", "int", 12, "hidden states per class model", low=1, high="n_points", grid=True,
         cli_default={"tune": [8, 12, 16]}),
    _est("n_mix", "int", 1, "Gaussians per state (1: Gaussian HMM, >1: mixture)", low=1, grid=True),
    _est("covariance_type", "choice", "full", "covariance of each Gaussian", choices=_hmm.COVARIANCE_TYPES,
         grid=True),
    _est("topology", "choice", "left-right", "state topology", choices=_hmm.TOPOLOGIES, grid=True),
    _est("max_jump", "int", None, "left-right: largest forward jump (none: any)", low=1, none=True, grid=True),
    _est("n_points", "int", 50, "points every trajectory is resampled to", low=2, high=MAX_POINTS, grid=True),
    _est("resample", "choice", "time", "resample evenly in time or along the path",
         choices=preprocessing.RESAMPLE_METHODS, grid=True),
    # the command line names the time column of the files (--time-column); the readers put it first
    _est("time_column", "int", None, "the column of every trajectory holding its time stamps", low=0, none=True,
         cli=False),
    _est("translation", "choice", "none", "per-trajectory translation", choices=preprocessing.TRANSLATIONS,
         grid=True),
    _est("scaling", "choice", "none", "per-trajectory scaling", choices=preprocessing.SCALINGS, grid=True),
    _est("derivatives", "int", 1, "time derivatives appended as features", low=0, high=3, grid=True),
    _est("standardize", "bool", True, "standardise features with training mean/std", grid=True),
    _est("reg_covar", "float", 3e-2, "covariance floor, relative to each feature's variance", low=0.0,
         low_open=True, grid=True),
    _est("n_iter", "int", 100, "maximum EM iterations", low=1),
    _est("tol", "float", 1e-3, "EM relative convergence tolerance", low=0.0),
    _est("n_init", "int", 1, "EM restarts per class (best kept)", low=1),
    _est("priors", "choice", "uniform", "class priors", choices=("uniform", "empirical"), array_ok=True),
    _est("rejection_rate", "float", 0.01, "open-set rejection: the fraction of known-class trajectories one "
         "accepts to lose (0: off; at most 0.5)", low=0.0, high=0.5),
    _est("prefix_view", "bool", True, "early answers (predict_prefix): also fit class models on one more time "
         "derivative and average both readings of a prefix (one more fit)"),
    _est("random_state", "seed", None, "seed (default 0 in the CLI, so runs are reproducible)", none=True,
         cli_default={"train": 0, "tune": 0}),
    _est("n_jobs", "int", None, "parallel jobs over classes x restarts (-1: all cores)", none=True, nonzero=True,
         commands=("predict",), cli_default={"train": -1, "tune": -1},
         cli_help={"predict": "batches scored in parallel (-1: all cores; with --scheduler: the cluster decides)",
                   "tune": "parallel (candidate, fold) fits (-1: all cores)",
                   "train": "parallel fits: the search's (candidate, fold) fits, then classes x restarts "
                            "(-1: all cores)"}),
    # ------------------------------------------------ command-line only
    Param("test_size", "float", 0.0, "hold out this stratified fraction, report accuracy on it, and save the "
          "model trained on the rest (0: train on everything)", low=0.0, high=1.0, high_open=True,
          commands=("train",), metavar="FRACTION"),
    Param("model_format", "choice", "npz", "npz: safe format; pickle: joblib pickle, only loadable with "
          "--trust-pickle", choices=("npz", "pickle"), commands=("train",)),
    Param("cv", "int", 3, "stratified cross-validation folds", low=2, commands=("tune", "train"), metavar="K",
          cli_help={"train": "stratified cross-validation folds of the model search"}),
    Param("format", "choice", "text", "text: tab-separated (a tab, line break or backslash inside a name "
          "written as \\t, \\n, \\r, \\\\); csv (LF line ends); json: one JSON object per line",
          choices=("text", "csv", "json"), commands=("predict", "spot")),
    Param("threshold", "float", None, "spot: the per-point log-likelihood ratio a window must reach against the "
          "background and threshold models to be a gesture (lower finds more, and more false ones); none: the "
          "model's fitted stream_threshold_, or -0.5 when it has none", none=True,
          commands=("spot",), metavar="NATS"),
    Param("batch_size", "int", 1000, "files read and scored at a time; memory does not grow with the number "
          "of files", low=1, high=MAX_BATCH, commands=("predict",), metavar="N"),
    Param("unknown_label", "text", "unknown", "with --reject: the label printed for rejected trajectories "
          "(no class of the model)",
          commands=("predict",), metavar="LABEL"),
    Param("dpi", "int", 120, "resolution of the image", low=1, high=MAX_DPI, commands=PLOT_KINDS, metavar="N"),
    Param("on_invalid", "choice", "error", "a malformed trajectory file (or trajectory of a table) stops the run "
          "(error) or is skipped and reported (skip; exit code 3 if anything was skipped)", choices=datasets.ON_INVALID,
          commands=_READERS + ("predict", "spot"),
          cli_help={"spot": "standard input: a malformed line stops the stream (error) or is left out and reported "
                    "(skip; exit code 3 if any was)"}),
    Param("split", "text", None, ".npz bundles: use only the rows whose 'split' is NAME (e.g. train)",
          commands=_READERS, metavar="NAME"),
    Param("variable", "text", None, ".mat files: the variable to read", commands=_READERS + ("predict", "spot"),
          metavar="NAME"),
    # ------------------------------------------------ how files and tables are read (stored in the model)
    Param("columns", "text", None, "the coordinate columns, comma-separated: header names (0-based positions "
          "for files without a header); default: every column but the time column", commands=_READERS + ("predict", "spot"),
          metavar="X,Y,Z"),
    Param("time_column_name", "text", None, "the column of time stamps (a header name; a 0-based position "
          "without a header): points are resampled evenly in real time, and it is never a feature",
          commands=_READERS + ("predict", "spot"), metavar="NAME", flag_name="time_column",
          cli_help={"spot": "refused (exit 2): a stream is evenly spaced samples without time stamps; choose the "
                    "coordinates of a file with a time column with --columns"}),
    Param("layout", "choice", "auto", "text/.npy/.mat files: one row per time point (rows), one column per "
          "time point (columns), or auto", choices=datasets._CHOICES["layout"], commands=_READERS + ("predict", "spot")),
    Param("delimiter", "text", None, "text files: the column separator (default: detected)",
          commands=_READERS + ("predict", "spot"), metavar="CHAR"),
    Param("decimal", "choice", None, "text files: the decimal mark (default: detected)", choices=(".", ","),
          none=True, commands=_READERS + ("predict", "spot")),
    Param("encoding", "text", None, "text and .ts files: the text encoding (default: UTF-8, or UTF-16 with a byte-order "
          "mark)", commands=_READERS + ("predict", "spot"), metavar="CODEC"),
    Param("missing", "choice", "error", "empty or NaN cells: an error naming them, or filled by linear "
          "interpolation along time", choices=("error", "interpolate"), commands=_READERS + ("predict", "spot")),
    Param("pattern", "text", None, "folders: read only the files whose name matches GLOB (e.g. '*.csv')",
          commands=_READERS + ("predict",), metavar="GLOB"),
    Param("label_level", "int", 1, "folders: the folder level below DATA_DIR that names the class (2 for "
          "DATA/<subject>/<label>/files)", low=1, commands=_READERS),
    Param("id_column", "text", None, "DATA is one table (.csv, .tsv, .parquet): the column naming the "
          "trajectory of each row", commands=_READERS + ("predict",), metavar="NAME",
          cli_help={"predict": "PATH is one table (.csv, .tsv, .parquet): the column naming the trajectory of each row "
                    "(default: the id column the model was trained with)"}),
    Param("label_column", "text", None, "tables: the column of class labels", commands=_READERS, metavar="NAME"),
    Param("group_column", "text", None, "tables: the column naming who or what recorded each trajectory "
          "(subject, session): the model search's folds, the open-set calibration and --test-size keep groups apart",
          commands=("train",), metavar="NAME"),
)}

ESTIMATOR_PARAMS = tuple(name for name, p in PARAMS.items() if p.estimator)
GRID_PARAMS = tuple(name for name, p in PARAMS.items() if p.grid)


def params_for(command):
    """The declared parameters that are flags of CLI ``command`` ("train", "plot states")."""
    return [p for p in PARAMS.values() if p.applies_to(command)]


# ------------------------------------------------------------------ errors
# ParameterError, ParameterTypeError, ParameterValueError: trajhmm.exceptions (imported above)


# ------------------------------------------------------------------ validation
def _problem(p, value, bound):
    """None when ``value`` is allowed, else the ParameterError to raise."""
    if value is None and p.none or p.kind == "text":
        return None
    if p.kind == "choice":
        if p.array_ok and not isinstance(value, str):
            return None
        if isinstance(value, str) and value in p.choices:
            return None
        return ParameterValueError(p.name, "one of " + ", ".join(repr(c) for c in p.choices), repr(value))
    if p.kind == "bool":
        ok = isinstance(value, (bool, np.bool_))
        return None if ok else ParameterTypeError(p.name, "True or False", repr(value))
    if p.kind == "seed" and isinstance(value, np.random.RandomState):
        return None
    return _number_problem(p, value, bound)


def _number_problem(p, value, bound):
    if p.kind == "float":
        what = "a number"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return ParameterTypeError(p.name, "a finite real number", repr(value))
        if not np.isfinite(value):  # a float, but no value: a ValueError, as scikit-learn's
            return ParameterValueError(p.name, "a finite real number", repr(value))
    else:
        what = "an integer"
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            alt = " or a RandomState" if p.kind == "seed" else ""
            alt = (alt.replace(" or", ",") + " or None" if alt else " or None") if p.none else alt
            return ParameterTypeError(p.name, what + alt, f"{value!r} ({type(value).__name__})")
    low, high = (0, 2**32 - 1) if p.kind == "seed" else (p.low, p.high)
    if p.nonzero and value == 0:
        return ParameterValueError(p.name, f"{what} other than 0", value)
    if low is not None and (value < low or (p.low_open and value == low)):
        return ParameterValueError(p.name, f"{what} {'>' if p.low_open else '>='} {low}", value)
    other = high if isinstance(high, str) else None
    if other is not None:
        high = bound
    if high is not None and (value > high or (p.high_open and value == high)):
        limit = f"{{bound}} ({high})" if other else f"{high}"
        return ParameterValueError(p.name, f"{what} {'<' if p.high_open else '<='} {limit}", value, bound=other)
    return None


def check_param(name, value, bound=None):
    """Return ``value`` if the declaration of ``name`` allows it, else raise
    ParameterTypeError / ParameterValueError. ``bound``: the value of the parameter
    that bounds this one, if any (checked only when given)."""
    error = _problem(PARAMS[name], value, bound)
    if error is not None:
        raise error
    return value


def validate_params(params):
    """Check a dict of parameter values (e.g. ``estimator.get_params()``) against the
    declarations; the parameters that bound others are checked first."""
    declared = [PARAMS[name] for name in params if name in PARAMS]
    for p in sorted(declared, key=lambda p: isinstance(p.high, str)):
        bound = params.get(p.high) if isinstance(p.high, str) else None
        check_param(p.name, params[p.name], bound)


# ------------------------------------------------------------------ command line
def parse_text(p, text):
    """The value of flag ``p`` given as ``text``, checked (apart from bounds set by
    other parameters). Raises ValueError with 'expected ..., got ...'."""
    if p.none and text.lower() == "none":
        return None
    if p.kind in ("int", "seed"):
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected an integer{' or none' if p.none else ''}, got {text!r}") from None
    elif p.kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    elif p.kind == "bool":
        value = _parse_bool(text)
    else:
        value = text
    error = _problem(p, value, None)
    if error is not None:
        raise ValueError(error.describe())
    return value


def _parse_bool(text):
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


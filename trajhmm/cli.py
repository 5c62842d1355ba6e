"""Command-line interface: ``trajhmm {train,predict,evaluate,tune,plot,info}``.

A thin layer over the library and the only place that prints: each subcommand is one
library call plus formatting. Results go to stdout, logs and warnings to stderr. The
flags of every parameter come from its one declaration (:mod:`trajhmm._params`).

Exit codes: 0 ok; 1 data, model or file error (one line ``trajhmm: error: ...``);
2 usage or parameter error (one line ``trajhmm CMD: error: ...``, after argparse's usage);
3 finished with skipped inputs; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

import argparse
import csv
import json
import logging
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from . import _params, datasets, metrics, model_selection, persistence
from ._cache import FitCache
from ._cluster import dask_backend
from ._console import stopped
from ._parallel import quiet_worker_restarts
from ._validation import NO_NAMES, model_dims_error, named_error, plain_value, same_label, skipped_reason
from ._version import __version__
from .classifier import HMMClassifier
from .exceptions import DataError, ModelFileError, OptionError, TrajHMMError
from .prediction import SkippedFile, is_dataset_file, predict_files, predict_json_lines
from .search import HMMClassifierCV, default_param_grid

__all__ = ["main", "build_parser"]

logger = logging.getLogger("trajhmm")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_SKIPPED, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143
EXIT_CODES = ("exit codes: 0 ok; 1 data, model or file error; 2 usage or parameter error; "
              "3 finished with skipped inputs; 130 interrupted; 143 terminated")

_MODEL_HELP = "model file written by trajhmm train or tune"
_DATA_HELP = ("labelled data: a folder DATA_DIR/<label>/<trajectory files>, an .npz bundle "
              "(X, lengths, y[, split]) or a UEA .ts file")
_METAVARS = {"int": "INT", "seed": "INT", "float": "FLOAT", "bool": "BOOL", "text": "TEXT"}


# ---------------------------------------------------------------------- the parser
def _flag_type(p):
    """argparse ``type=`` for declared parameter ``p``: parse and check at parse time."""
    def parse(text):
        try:
            return _params.parse_text(p, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = p.kind
    return parse


class _Seen(argparse.Action):
    """Store the value and remember that the flag was given (``args.seen``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.seen = [*getattr(namespace, "seen", []), self.dest]


class _Given(_Seen):
    """A model parameter: also in ``args.given``, since train's model search holds given
    parameters fixed."""

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        namespace.given = [*getattr(namespace, "given", []), self.dest]


def _add_declared(parser, command):
    """The flags of ``command`` declared in _params: CLI-only ones, then the estimator's
    (for tune, the grid-able ones take several values)."""
    title = "model parameters (see HMMClassifier)"
    if command == "tune":
        title += "; the ones marked [grid] take several values, every combination is cross-validated"
    elif command == "train":
        title += "; the ones you give are held fixed, the search chooses the others (with --no-search: the defaults)"
    model = None
    for p in _params.params_for(command):
        if p.estimator and model is None and command in ("train", "tune"):
            model = parser.add_argument_group(title)
        default = p.cli_default.get(command, p.default)
        multi = command == "tune" and p.grid
        shown = " ".join(map(str, default)) if isinstance(default, list) else ("none" if default is None else default)
        text = p.cli_help.get(command, p.help)
        if "(default:" not in text and not (p.kind == "text" and default is None):  # a help text may say it itself
            text += f" (default: {shown})"
        (model if p.estimator and model is not None else parser).add_argument(
            p.flag, dest=p.name, type=_flag_type(p), default=default, nargs="+" if multi else None,
            action=_Given if p.estimator else _Seen,
            metavar=p.metavar or ("{" + ",".join(p.choices) + "}" if p.choices else _METAVARS[p.kind]),
            help=("[grid] " if multi else "") + text)


def _add_common(parser, command, progress=False):
    _add_declared(parser, command)
    if command != "info":
        parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                            help="print only errors and the requested results")
        parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                            help="also log what is done on stderr (resumed fits, files ignored, ...)")
    if progress:
        parser.add_argument("--progress", action="store_true",
                            help="show a progress bar on stderr even when it is not a terminal "
                            "(default: shown on terminals only; needs tqdm: pip install 'trajhmm[progress]')")
    if command in ("train", "predict", "evaluate", "tune"):
        parser.add_argument("--scheduler", metavar="ADDRESS",
                            help="run the tasks on a Dask cluster (e.g. tcp://10.0.0.5:8786); needs the dask "
                            "extra: pip install 'trajhmm[dask]'")
    if command not in ("train", "tune"):
        parser.add_argument("--trust-pickle", action="store_true",
                            help="allow a pickle-based model file (it can run code: only for files you trust)")


def _add_cache_flags(parser):
    parser.add_argument("--cache-dir", metavar="DIR", type=Path,
                        help="keep every finished fit here, so that rerunning the same command after an interrupt "
                        "skips them and ends with the same model (default: MODEL.cache beside the output; removed "
                        "when the run completes)")
    parser.add_argument("--keep-cache", action="store_true", help="do not remove the cache when the run completes")


def _add_plot_parsers(sub):
    p = sub.add_parser("plot", help="draw a figure to a PNG (or PDF/SVG) file; needs the plot extra: "
                       "pip install 'trajhmm[plot]'", epilog=EXIT_CODES)
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    k = kinds.add_parser("confusion", help="confusion matrix of MODEL on labelled DATA_DIR", epilog=EXIT_CODES)
    k.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    k.add_argument("data_dir", metavar="DATA_DIR", help=_DATA_HELP)
    k.add_argument("--normalize", action="store_true", help="rows as fractions of each true class")
    k = kinds.add_parser("trajectories", help="trajectories of DATA_DIR coloured by class "
                         "(with --model: misclassified ones highlighted)", epilog=EXIT_CODES)
    k.add_argument("data_dir", metavar="DATA_DIR", help=_DATA_HELP)
    k.add_argument("--model", metavar="MODEL", help="also predict, and draw predicted vs true")
    k = kinds.add_parser("convergence", help="EM log-likelihood per iteration for every class of MODEL",
                         epilog=EXIT_CODES)
    k.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    k = kinds.add_parser("states", help="state means of the model of CLASS (over its trajectories with --data)",
                         epilog=EXIT_CODES)
    k.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    k.add_argument("label", metavar="CLASS", help="class label, as printed by trajhmm info")
    k.add_argument("--data", metavar="DATA_DIR", help="labelled data: draw CLASS's trajectories underneath")
    for name, k in kinds.choices.items():
        k.add_argument("-o", "--output", required=True, metavar="FILE.png",
                       help="image file to write (atomically): .png, .pdf or .svg")
        _add_common(k, f"plot {name}")


def _add_ensemble_flag(p):
    p.add_argument("--no-ensemble", action="store_true",
                   help="keep the best candidate of the search alone (default: pooled with the other candidates "
                   "that lower its out-of-fold log loss)")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors, like every other user error (argparse prints
    the whole usage block first): ``trajhmm train: error: ...``, exit 2. Its sub-parsers
    are of this class too (argparse makes them of the parent's class). A negative number
    in any notation (``--threshold -1e9``, ``-.5``, ``-2E+3``) is a value, not a flag:
    argparse (3.11) takes only ``-5`` and ``-0.5`` for numbers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser():
    """The argparse parser of the ``trajhmm`` command."""
    parser = _Parser(prog="trajhmm", epilog=EXIT_CODES,
                                     description="Classify trajectories with one hidden Markov model per class.")
    parser.add_argument("--version", action="version", version=f"trajhmm {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a classifier on labelled data: a folder DATA_DIR/<label>/<files>, "
                       "an .npz bundle (X, lengths, y[, split]) or a UEA .ts file", epilog=EXIT_CODES)
    p.add_argument("data_dir", metavar="DATA_DIR", help=_DATA_HELP)
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="model file to write")
    p.add_argument("--no-search", action="store_true",
                   help="train exactly the given parameters (defaults for the others) instead of choosing them by "
                   "cross-validation; probabilities are then not calibrated")
    _add_ensemble_flag(p)
    _add_common(p, "train", progress=True)
    _add_cache_flags(p)

    p = sub.add_parser("predict", help="predict the class of trajectory files", epilog=EXIT_CODES)
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="trajectory files or folders; .ts files and .npz bundles (each of their trajectories, "
                   "answered as FILE:LINE or FILE[i]); tables with --id-column; - alone: JSON Lines on standard input, "
                   'one trajectory per line ({"id": ..., "points": [[x, y, z], ...], "t": [...]}), each answered '
                   "as it arrives")
    p.add_argument("--proba", action="store_true", help="add the probability of every class")
    p.add_argument("--reject", action="store_true",
                   help="report trajectories that fit no class well as unknown (open-set rejection)")
    p.add_argument("--output", metavar="FILE", help="write predictions to FILE (atomically) instead of stdout")
    _add_common(p, "predict", progress=True)

    p = sub.add_parser("spot", help="find the gestures in one continuous recording (a file, or points on standard "
                       "input as they arrive)", epilog=EXIT_CODES)
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    p.add_argument("recording", metavar="RECORDING",
                   help="a trajectory file holding the whole recording, or - : one point per line on standard input "
                   "(numbers separated by commas or spaces; a first line of names is a header), each detection printed as soon "
                   "as it is decided")
    _add_common(p, "spot")

    p = sub.add_parser("evaluate", help="accuracy and confusion matrix on a labelled folder", epilog=EXIT_CODES)
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    p.add_argument("data_dir", metavar="DATA_DIR", help=_DATA_HELP)
    p.add_argument("--report", metavar="FILE.json", help="also write the results as JSON (atomically)")
    _add_common(p, "evaluate")

    p = sub.add_parser("tune", help="cross-validate a grid of parameters, print a ranked table, save the best model",
                       epilog=EXIT_CODES)
    p.add_argument("data_dir", metavar="DATA_DIR", help=_DATA_HELP)
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="best model (refit on all data)")
    _add_ensemble_flag(p)
    _add_common(p, "tune", progress=True)
    _add_cache_flags(p)

    _add_plot_parsers(sub)

    p = sub.add_parser("info", help="summary of a model file", epilog=EXIT_CODES)
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    _add_common(p, "info")
    return parser


# ---------------------------------------------------------------------- helpers
def _progress_bar(args, total, unit, desc):
    """A tqdm bar on stderr, or None: off with -q, forced by --progress, otherwise shown
    only when stderr is a terminal. ``total`` may be a function (called only if shown)."""
    if args.quiet or not (getattr(args, "progress", False) or (sys.stderr is not None and sys.stderr.isatty())):
        return None
    total = total() if callable(total) else total
    try:
        from tqdm import tqdm
    except ImportError:
        logger.warning("progress bars need tqdm: pip install 'trajhmm[progress]'")
        return None
    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True)


def _estimator_params(args):
    return {name: getattr(args, name) for name in _params.ESTIMATOR_PARAMS if _params.PARAMS[name].cli}


def _names(text, name):
    """A --columns / --time-column value: names, or 0-based positions written as numbers."""
    if text is None:
        return None
    names = [t.strip() for t in text.split(",")]
    if not all(names):
        raise ValueError(f"{name}: expected column names separated by commas, got {text!r}")
    return [int(t) if t.isdigit() else t for t in names]


def _reading(args, reader=None):
    """The reading options of the command line, over ``reader`` (a model's stored ones):
    a flag given on the command line wins."""
    time = _names(args.time_column_name, "time_column")
    given = {"columns": _names(args.columns, "columns"), "time_column": time[0] if time else None,
             "layout": None if args.layout == "auto" else args.layout, "delimiter": args.delimiter,
             "decimal": args.decimal, "encoding": args.encoding,
             "missing": None if args.missing == "error" else args.missing, "variable": args.variable,
             "id_column": getattr(args, "id_column", None)}
    if time is not None and len(time) != 1:
        raise ValueError(f"time_column: expected one column, got {args.time_column_name!r}")
    given = {k: v for k, v in given.items() if v is not None}
    merged = {**(reader or {}), **given}
    if "columns" in given:  # chosen on the command line: not by the training files' header names
        merged.pop("header_names", None)
    if reader:  # the flags were checked alone before any work; here they meet the model's stored options
        try:
            datasets.check_options(**{k: v for k, v in merged.items() if k in datasets.OPTIONS})
        except (ValueError, TypeError) as exc:
            raise DataError(f"{exc} (with the reading options stored in the model: "
                            f"{', '.join(f'{k}={v!r}' for k, v in reader.items())})") from None
    return merged


def _load_labelled(args, path=None, reader=None):
    """The labelled data of the command: a long table (with --id-column), or a folder
    tree, .npz bundle or .ts file; read as ``reader`` (a model's) says, unless a flag
    says otherwise."""
    path = path or args.data_dir
    reading = _table_reading(args, _reading(args, reader), [path])
    if "id_column" in reading:
        if not args.label_column:
            raise OptionError(f"{path}: a table needs --label-column (the class of each trajectory) with --id-column")
        _refuse_for_tables(args, path, reading["id_column"])
        return _load_table(args, path, reading, label_column=args.label_column,
                           group_column=getattr(args, "group_column", None), on_invalid=args.on_invalid)
    for flag in ("label_column", "group_column"):
        if getattr(args, flag, None):
            raise OptionError(f"{path}: --{flag.replace('_', '-')} applies to tables, with --id-column")
    from .tables import TABLE_SUFFIXES

    if Path(path).is_file() and Path(path).suffix.lower() in TABLE_SUFFIXES:
        raise DataError(f"{path}: expected a folder DATA/<label>/<files>, an .npz bundle or a .ts file, got one "
                        f"{Path(path).suffix} file; a long table (one row per point) is read with --id-column ID "
                        "--label-column LABEL")
    return datasets.load_dataset(path, split=args.split, on_invalid=args.on_invalid, pattern=args.pattern,
                                 label_level=args.label_level, **_for_format(path, reading, args))


def _table_reading(args, reading, paths):
    """``reading`` for ``paths``. The id column of a model trained on a long table (stored
    in it, not given on the command line) is kept when every path is a table file that
    has that column, and dropped when none is (files of one trajectory each are read as
    before); a mix is an OptionError."""
    column = reading.get("id_column")
    if column is None or getattr(args, "id_column", None):
        return reading
    from .tables import has_column

    def has(p):
        return has_column(p, column, reading.get("delimiter"), reading.get("encoding"))

    for p in paths:
        if not Path(p).exists():
            raise DataError(f"{p}: no such file or directory")
        if Path(p).is_dir() and any(has(f) for f in datasets.iter_trajectory_files([p], log_ignored=False)):
            raise OptionError(f"{p}: holds long tables with the id column {column!r} of the model's training "
                              "table: name the table files (a folder's files are read one trajectory each)")
    found = [has(p) for p in paths]
    if all(found):
        return reading
    if any(found):
        raise OptionError(f"{paths[found.index(False)]}: the model was trained on long tables with id column "
                          f"{column!r}, which {paths[found.index(True)]} has and this path has not: predict the "
                          "tables and the files of one trajectory in separate commands")
    return {k: v for k, v in reading.items() if k != "id_column"}


def _for_format(path, reading, args):
    """``reading`` without the options stored in the model (not given on this command line)
    that the format of ``path`` does not take: a model trained on CSV files with --columns
    still evaluates an .npz bundle."""
    fmt = datasets.FORMATS.get(Path(path).suffix.lower())
    given = _reading(args)
    if fmt is None:  # a folder: the options apply to the files of their format in it
        if "variable" in reading and "variable" not in given and not any(  # names only, nothing read
                Path(f).suffix.lower() == ".mat" for f in datasets.iter_trajectory_files(
                    [path], pattern=getattr(args, "pattern", None), log_ignored=False)):
            return {k: v for k, v in reading.items() if k != "variable"}  # the model's, for .mat files
        return reading
    return {k: v for k, v in reading.items() if k in given or k in fmt.options}


def _refuse_for_tables(args, path, column):
    """The flags of folders and bundles, given for a table (read by id ``column``):
    refused, never ignored."""
    for dest, default, what in (("split", None, ".npz bundles"), ("pattern", None, "folders"),
                                ("label_level", 1, "folders"), ("layout", "auto", "files of one trajectory"),
                                ("variable", None, ".mat files")):
        if getattr(args, dest, default) != default:
            raise OptionError(f"{path}: --{dest.replace('_', '-')} applies to {what}, not to a table (--id-column "
                              f"{column})")


def _load_model(args, path=None, return_reader=False):
    return persistence.load_model(path or args.model, trusted=args.trust_pickle, return_reader=return_reader)


def _estimator_for(args, ds):
    """The model parameters of the command line, and the data's time column (the readers
    put it first)."""
    return {**_estimator_params(args), "time_column": ds.time_column}


def _report_skipped(skipped, said=False):
    """Each skipped input once, with its name (unless ``said`` as it came: a live pipe),
    and their count; returns the exit code (3 if any)."""
    for path, reason in () if said else skipped:
        print(f"trajhmm: skipped: {skipped_reason(path, reason)}", file=sys.stderr)
    if skipped:
        print(f"trajhmm: {len(skipped)} {'input' if len(skipped) == 1 else 'inputs'} skipped as invalid", file=sys.stderr)
    return EXIT_SKIPPED if skipped else EXIT_OK


def _check_output(path, flag):
    """Before any work: ``path`` can be written (its folder exists and is writable, it is
    not a folder itself); a symbolic link is written at its target (persistence.atomic_write),
    so the target's folder is checked. Raises DataError naming the path."""
    path = Path(path)
    if path.is_symlink():
        given, path = path, Path(os.path.realpath(path))
        if not path.parent.is_dir():
            raise DataError(f"{given}: cannot write {flag}: it is a symbolic link to {path}, whose directory "
                            f"{path.parent} does not exist")
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise DataError(f"{path}: {flag} names a folder; expected a file name")
    if not parent.is_dir():
        raise DataError(f"{path}: cannot write {flag}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"{path}: cannot write {flag}: directory {parent} is not writable")


def _output_flags(args):
    """(path, flag) of every output the command writes, as its usage line names the flag."""
    short = "-o/" if args.command in ("train", "tune", "plot") else ""
    return [(getattr(args, dest), flag) for dest, flag in (("output", short + "--output"), ("report", "--report"))
            if getattr(args, dest, None) is not None]


def _inputs(args):
    """The files and folders the command reads (not standard input)."""
    found = [getattr(args, dest, None) for dest in ("model", "data_dir", "data", "recording")]
    return [str(p) for p in [*found, *(getattr(args, "paths", None) or [])] if p and str(p) != "-"]


def _read_from(folder, out, pattern):
    """Whether the folder walk of ``folder`` reads the file ``out`` (both real paths):
    under it, in no hidden folder, and of a trajectory format (matching --pattern)."""
    rel = os.path.relpath(out, folder)
    parts = Path(rel).parts
    if not parts or rel.startswith(os.pardir) or any(part.startswith(".") for part in parts[:-1]):
        return False
    return datasets._Ignored(pattern).kind(parts[-1]) is None


def _check_not_an_input(args, path, flag):
    """Refuse (usage error) an output that is an input of the command, or a file the
    walk of an input folder reads: writing it would destroy or change what was read."""
    out = os.path.realpath(path)
    for src in _inputs(args):
        real = os.path.realpath(src)
        if out == real or (os.path.exists(out) and os.path.exists(real) and os.path.samefile(out, real)):
            raise _params.ParameterValueError(flag, "a file other than the inputs",
                                              f"{str(path)!r} (the input {src})")
        if os.path.isdir(real) and _read_from(real, out, getattr(args, "pattern", None)):
            raise _params.ParameterValueError(
                flag, f"a path that is not a data file of the input folder {src} (other file types are fine)",
                f"{str(path)!r}, a name the folder's reading takes as a trajectory file")


def _check_output_name(path, flag):
    """An output name that cannot be a file (empty, ending with a separator): usage error."""
    text = str(path)
    if not text:
        raise _params.ParameterValueError(flag, "a file name", "an empty string")
    if text.endswith(("/", os.sep)):
        raise _params.ParameterValueError(flag, "a file name", f"{text!r}, which ends with a path separator")
    if text == "-":
        where = ("standard output is the default: leave the flag out" if flag == "--output"
                 else "for a file named -, write ./-")
        raise _params.ParameterValueError(flag, "a file name", f"'-' ({where})")


def _check_outputs(args):
    for path, flag in _output_flags(args):
        _check_output_name(path, flag)
        _check_not_an_input(args, path, flag)
        _check_output(path, flag.split("/")[-1])
    if args.command == "plot" and _image_format(args.output) not in ("png", "pdf", "svg"):
        raise _params.ParameterValueError("-o/--output", "a .png, .pdf or .svg file name",
                                          f"{str(args.output)!r} (.{_image_format(args.output)})")
    if hasattr(args, "keep_cache"):
        _check_cache_dir(args)


def _check_cache_dir(args):
    """The cache folder (--cache-dir, or MODEL.cache beside the output) is new, empty or a
    cache trajhmm made: a data folder or a folder of the user's is never written into."""
    path = _cache_dir(args)
    cache = os.path.realpath(path)
    for out, flag in _output_flags(args):
        real = os.path.realpath(out)
        if real == cache or real.startswith(cache.rstrip(os.sep) + os.sep):
            raise _params.ParameterValueError("--cache-dir", "a folder apart from the outputs",
                                              f"{str(path)!r}, which would hold the {flag.split('/')[-1]} {str(out)!r}")
    reason = FitCache(path).unusable()
    if reason is not None:
        given = f"{str(path)!r}" if args.cache_dir else f"{str(path)!r} (the default: the model file's name + .cache)"
        raise _params.ParameterValueError("--cache-dir", "a new or empty folder, or a cache trajhmm made",
                                          f"{given}, but {reason}")


def _image_format(path):
    return str(path).rsplit(".", 1)[-1].lower() if "." in Path(path).name else "png"


def _text(label):
    """A class label as output text: bytes labels decoded (never written as ``b'...'``)."""
    return label.decode("utf-8", "backslashreplace") if isinstance(label, bytes) else str(label)


_FIELD_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _field(value):
    """A name (path, id, label) as one field of the tab-separated text output: a tab or a
    line break inside it would split the field or the line, so they are written as the
    escapes ``\\t``, ``\\n``, ``\\r``, and a backslash as ``\\\\`` (so that a name holding
    the two characters ``\\n`` is told apart; csv and json keep names verbatim)."""
    return _text(value).translate(_FIELD_ESCAPES)


def _finite_json(value):
    """``value`` with every NaN or infinity (a margin with one class, a score) as None:
    JSON has no token for them, so the output stays valid JSON for every reader."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, bytes):  # labels given as bytes: JSON has strings only
        return _text(value)
    if isinstance(value, dict):
        return {_finite_json(k) if isinstance(k, bytes) else k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


def _json(value, **kwargs):
    return json.dumps(_finite_json(value), allow_nan=False, **kwargs)


def _one_line(text):
    return " ".join(str(text).split())


# ---------------------------------------------------------------------- commands
def _cache_dir(args):
    return args.cache_dir or Path(str(args.output) + ".cache")


def _done_with_cache(args, cache_dir):
    """After a completed run: remove the cache (unless --keep-cache); a cache folder
    holding files of others is left alone, with a warning."""
    if args.keep_cache:
        return
    try:
        FitCache(cache_dir).remove()
    except DataError as exc:
        logger.warning("%s", exc)


def _cmd_train(args, out):
    ds = _load_labelled(args)
    params = _estimator_for(args, ds)
    n_classes = len(set(ds.labels))
    if args.no_search:
        clf = HMMClassifier(**params)
        logger.info("training %d classes on %d trajectories", n_classes, len(ds))
        bar = _progress_bar(args, n_classes * args.n_init + 1, "EM run", "training")
    else:
        # the given flags are held fixed; --n-jobs is how the search runs, not part of the model
        fixed = HMMClassifier(**{**params, "n_jobs": None})
        clf = HMMClassifierCV(fixed, default_param_grid(fixed=getattr(args, "given", [])), cv=args.cv,
                              ensemble=not args.no_ensemble, n_jobs=args.n_jobs, random_state=args.random_state)
        logger.info("choosing the model by %d-fold cross-validation on %d trajectories", args.cv, len(ds))
        bar = _progress_bar(args, 1, "fit", "model search")
    try:
        n_train, held_out = model_selection._fit_held_out(
            clf, ds.trajectories, ds.labels, args.test_size, random_state=args.random_state,
            progress=_train_progress(bar) if bar else None, source=args.data_dir, cache_dir=_cache_dir(args),
            groups=ds.groups)
    finally:
        if bar:
            bar.close()
    # --n-jobs is how this run trains, not part of the model: saved as None (one process),
    # so the model file scores in-process wherever it is loaded.
    clf.set_params(n_jobs=None)
    if not args.no_search:
        _print_search(clf, out, args.quiet, n=n_train, grouped=ds.groups is not None)
    persistence.save_model(clf, args.output, format=args.model_format, reader=ds.reader)
    _done_with_cache(args, _cache_dir(args))
    if not args.quiet:
        print(f"trained {len(clf.classes_)} classes on {n_train} trajectories; model written to {args.output}",
              file=out)
    if held_out is not None:
        of_groups = " of held-out groups" if ds.groups is not None else ""
        print(f"held-out accuracy: {held_out[0]:.4f} ({held_out[1]} trajectories{of_groups})", file=out)
    return _report_skipped(ds.skipped)


def _print_search(clf, out, quiet=False, top=10, n=None, grouped=None):
    """The chosen parameters, and (unless quiet) the cross-validation table, best first.
    ``grouped``: whether the folds kept groups apart (None: not known, a model file's)."""
    res = clf.cv_results_
    shown = [k for k in clf.best_params_ if len({str(p[k]) for p in res["params"]}) > 1] or list(clf.best_params_)
    if not quiet:
        order = np.lexsort((res["mean_test_log_loss"], res["rank_test_score"]))
        kind = "" if grouped is None else " stratified"  # (a model file keeps only the number of folds)
        print(f"{len(order)} candidate{'s' * (len(order) != 1)}, {clf.n_splits_}-fold{kind} cross-validation"
              + (" keeping groups apart" if grouped else "")
              + (f" on {n} trajectories" if n else "") + (f" (best {top} shown)" if len(order) > top else ""), file=out)
        header = ["rank", "accuracy", "+/-", "folds", "fit s"] + shown
        rows = [[str(res["rank_test_score"][i]), f"{res['mean_test_score'][i]:.4f}",
                 f"{res['std_test_score'][i]:.4f}" if res["n_folds"][i] > 1 else "-",  # one fold: no spread
                 str(res["n_folds"][i]), f"{res['mean_fit_time'][i]:.1f}"] + [str(res["params"][i][k]) for k in shown]
                for i in order[:top]]
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
        print("  ".join(h.rjust(w) for h, w in zip(header, widths)), file=out)
        for row in rows:
            print("  ".join(c.rjust(w) for c, w in zip(row, widths)), file=out)
    chosen = ", ".join(f"{k}={clf.best_params_[k]!r}" for k in shown) or "the given parameters"
    calibrated = (f"probabilities calibrated, temperature {clf.temperature_:.3g}" if clf.calibrate
                  else "probabilities not calibrated")
    print(f"chosen: {chosen} (cross-validated accuracy {clf.best_score_:.4f}; {calibrated})", file=out)
    weights = getattr(clf, "ensemble_weights_", [1.0])
    if len(weights) > 1:
        others = "; ".join(f"{w:.2f} " + ", ".join(f"{k}={res['params'][i][k]!r}" for k in shown
                                                   if res["params"][i][k] != clf.best_params_[k])
                           for w, i in zip(weights[1:], clf.ensemble_indices_[1:]))
        print(f"ensemble of {len(weights)} models (out-of-fold log loss): the chosen one, weight {weights[0]:.2f}; "
              f"with {others}", file=out)


def _train_progress(bar):
    def progress(done, total, info):
        if bar.total != total:
            bar.total = total
        if "fold" in info:  # a (candidate, fold) fit of the model search
            bar.set_postfix_str(f"{info['stage']}: fold {info['fold'] + 1}", refresh=False)
            bar.update(done - bar.n)
            return
        if "iteration" in info:  # a run in progress: its current EM log-likelihood
            bar.set_postfix_str(f"{info['label']} (restart {info['restart']}): iteration {info['iteration']}, "
                                f"log-likelihood {info['log_likelihood']:.6g}")
            return
        bar.set_postfix_str(f"{info['label']} (restart {info['restart']}): log-likelihood "
                            f"{info['log_likelihood']:.6g} after {info['n_iter']} iterations", refresh=False)
        bar.update(done - bar.n)

    return progress


def _cmd_predict(args, out):
    clf, reader = _load_model(args, return_reader=True)
    est = getattr(clf, "best_estimator_", clf)
    if args.reject and not np.isfinite(np.asarray(getattr(est, "rejection_threshold_", [-np.inf]), float)).any():
        warnings.warn(f"{args.model}: --reject: this model's open-set rejection is off (trained with "
                      "--rejection-rate 0, or too few trajectories of a class): nothing is reported unknown",
                      UserWarning, stacklevel=1)
    classes = [_text(c) for c in clf.classes_]
    if not args.reject and args.unknown_label != _params.PARAMS["unknown_label"].default:
        raise OptionError(f"{args.model}: --unknown-label applies with --reject (the label of rejected trajectories)")
    if args.reject:
        default = " (the default: pass --unknown-label NAME)" if args.unknown_label == "unknown" else ""
        if not args.unknown_label.strip():
            raise OptionError(f"{args.model}: --unknown-label: expected a label that is no class of the model, got "
                              "an empty label")
        same = next((c for c in clf.classes_ if same_label(args.unknown_label, c)), None)
        if same is not None:
            raise OptionError(f"{args.model}: --unknown-label: expected a label that is no class of the model, got "
                              f"{args.unknown_label!r}{default}, " + ("a class" if _text(same) == args.unknown_label
                                                                     else f"the class {_text(same)!r}")
                              + " (rejected trajectories would read as that class)")
    reading = _reading(args, reader)
    if args.paths == ["-"]:  # JSON Lines on stdin, each answered as it arrives
        _stdin_columns(args)
        results = predict_json_lines(clf, sys.stdin, reject=args.reject, unknown=args.unknown_label,
                                     on_invalid=args.on_invalid)
        count = None
    elif "-" in args.paths:
        raise OptionError("-: standard input is read alone (predict MODEL -), not with files")
    elif (reading := _table_reading(args, reading, args.paths)).get("id_column"):  # tables: one prediction per id
        args.id_column = reading["id_column"]  # (given, or the model's: the output names trajectories by id)
        results = _predict_tables(clf, args, reading)
        count = None
    else:
        results = predict_files(clf, args.paths, batch_size=args.batch_size, reject=args.reject,
                                unknown=args.unknown_label, on_invalid=args.on_invalid, n_jobs=args.n_jobs,
                                reader=reading, pattern=args.pattern)
        count = None if any(map(is_dataset_file, args.paths)) else lambda: sum(  # names only, nothing read
            1 for _ in datasets.iter_trajectory_files(args.paths, pattern=args.pattern, log_ignored=False))
    return _write_and_report(args, out, results, count, classes)


def _write_and_report(args, out, results, count, classes):
    """Write the predictions (to --output, or ``out``), then warn about trajectories that
    move far less or far more than the training data; the exit code (3: some skipped)."""
    skipped, flagged = [], {"still": [], "oversized": []}
    bar = _progress_bar(args, count, "file", "predicting")
    try:
        if args.output:
            with persistence.atomic_write(args.output, "w") as fh:
                n = _write_predictions(fh, results, bar, args, classes, skipped, flagged)
            logger.info("%d predictions written to %s", n, args.output)
        else:
            n = _write_predictions(out, results, bar, args, classes, skipped, flagged)
    finally:
        if bar is not None:
            bar.close()
    for kind, paths in flagged.items():
        if paths:
            warnings.warn(_motion_warning(kind, paths, n), UserWarning, stacklevel=1)
    return _report_skipped(skipped, said=args.paths == ["-"])


def _motion_warning(kind, paths, n):
    """What predict says of trajectories that move far less (``kind`` "still") or far more
    ("oversized") than the training data (:func:`trajhmm.streaming.motion_flags`)."""
    what, units = (("less than half as much as the least", "metres read where millimetres were trained")
                   if kind == "still" else ("more than twice as much as the most", "millimetres read where metres "
                                                                                     "were trained"))
    who = f"{_field(paths[0])}: moves" if len(paths) == 1 and n == 1 else (
        f"{len(paths)} of {n} trajectories" + ("" if len(paths) == n else f" (the first: {_field(paths[0])})") + " move")
    return (f"{who} {what} moving training trajectory: other units or another sensor than the training data "
            f"({units})? The labels of such input are guesses")


def _cmd_spot(args, out):
    """One line per detection (start, end exclusive, label, score), printed and flushed as
    soon as it is decided."""
    from . import streaming

    clf, reader = _load_model(args, return_reader=True)
    timed = getattr(clf, "best_estimator_", clf).time_column
    if timed is not None:  # before the recording is read with the model's time column
        raise DataError(f"{args.model}: expected a model fitted without time stamps, got one with time_column={timed}: "
                        "streams take evenly spaced samples (train it without --time-column to spot)")
    kwargs, skipped = {"threshold": args.threshold}, []
    try:
        if args.recording == "-":
            detections = streaming.spot_lines(clf, sys.stdin, columns=_stdin_columns(args, reader),
                                              on_invalid=args.on_invalid, header_names=reader.get("header_names"),
                                              **kwargs)
        elif args.on_invalid != "error":
            raise OptionError(f"{args.recording}: --on-invalid applies to standard input (a bad line is skipped), "
                              "not to a recording file (read whole, e.g. with --missing interpolate)")
        else:
            stream = _read_recording(args, reader)
            detections = streaming.spot(clf, stream, name=args.recording, **kwargs)
        _write_detections(detections, args, out, skipped)
    except ModelFileError as exc:  # the streaming code calls the model "model": name its file
        text = str(exc)
        raise ModelFileError(f"{args.model}: {text.removeprefix('model: ')}") from None
    if skipped:  # each was said when it came (a live stream)
        print(f"trajhmm: {len(skipped)} {'line' if len(skipped) == 1 else 'lines'} skipped as invalid", file=sys.stderr)
    return EXIT_SKIPPED if skipped else EXIT_OK


def _read_recording(args, reader):
    """``spot``'s recording file, read with the model's stored options and the flags; the
    readers' advice to pass a time column, which streams refuse, becomes that of --columns."""
    reading = _reading(args, reader)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream = datasets.read_trajectory(args.recording, **datasets.options_for(args.recording, **reading))
    for w in caught:
        text = re.sub(r"pass time_column=('[^']*'|\S+) \(--time-column [^)]*\), or columns= \(--columns\) to choose the "
                      r"coordinates", "streams take no time stamps: choose the coordinates with --columns", str(w.message))
        warnings.warn_explicit(text, w.category, w.filename, w.lineno)
    return stream


def _stdin_columns(args, reader=None):
    """The one reading flag standard input takes (``spot -``: --columns, the fields of each
    line, else the model's stored columns); the others, given on the command line, do not
    apply to it (OptionError; stored ones are dropped, as for any input they do not fit)."""
    given = {k: v for k, v in _reading(args).items() if k != "columns" or args.command != "spot"}
    if getattr(args, "pattern", None):  # (a folder's file filter: not a reading option)
        given = {"pattern": args.pattern, **given}
    if given:
        flag = "--" + next(iter(given)).replace("_", "-")
        what = ("one point per line: numbers separated by commas, semicolons or whitespace; --columns chooses "
                "them" if args.command == "spot" else "one JSON object per line")
        raise OptionError(f"-: {flag} applies to files, not to standard input ({what})")
    return _reading(args).get("columns", (reader or {}).get("columns"))


def _write_detections(detections, args, out, skipped):
    """Each detection as soon as it is decided; each skipped line (SkippedFile) said on
    stderr when it comes, and kept in ``skipped``. CSV starts with its header row, as
    predict's (a file of no detections is that row alone)."""
    writer = csv.writer(out, lineterminator="\n") if args.format == "csv" else None  # LF, as text and json
    if writer:
        writer.writerow(["start", "end", "label", "score"])
        out.flush()
    for d in detections:
        if not hasattr(d, "label"):  # a skipped line
            skipped.append((d.path, d.reason))
            print(f"trajhmm: skipped: {skipped_reason(d.path, d.reason)}", file=sys.stderr, flush=True)
        elif args.format == "json":
            out.write(_json({"start": d.start, "end": d.end, "label": plain_value(d.label), "score": float(d.score)}) + "\n")
        elif args.format == "csv":  # quoted as predict's csv: a label may hold commas or quotes
            writer.writerow([d.start, d.end, _text(d.label), f"{d.score:.6g}"])
        else:
            out.write("\t".join([str(d.start), str(d.end), _field(d.label), f"{d.score:.6g}"]) + "\n")
        out.flush()


def _predict_tables(clf, args, reading):
    """Predictions for every id of every table of ``args.paths``, as FilePrediction
    records whose path is the id. The flags and paths are checked before the first
    table is read (a table that cannot be read still stops the command where it comes)."""
    from .tables import TABLE_SUFFIXES

    for path in args.paths:
        _refuse_for_tables(args, path, reading["id_column"])
        if Path(path).suffix.lower() not in TABLE_SUFFIXES or not Path(path).is_file():
            raise DataError(f"{path}: expected a table file ({', '.join(TABLE_SUFFIXES)}) with --id-column, got "
                            + ("a folder" if Path(path).is_dir() else "no such file" if not Path(path).exists()
                               else f"a {Path(path).suffix or 'file without suffix'}"))
    return _table_predictions(clf, args, reading)


def _load_table(args, path, reading, **columns):
    """:func:`trajhmm.load_table` with the command's reading options; a column given two
    roles by an option stored in the model (not a flag of this command) is said as the
    model's."""
    from .tables import MissingColumnError, has_column, load_table

    names = reading.get("header_names")  # a model's: its training files' header names
    reading = {k: v for k, v in reading.items() if k not in ("layout", "variable", "header_names")}
    if names and "columns" not in reading and all(
            has_column(path, name, reading.get("delimiter"), reading.get("encoding")) for name in names):
        reading["columns"] = names  # the table's coordinates by those names, whatever its other columns
    try:
        return load_table(path, **reading, **columns)
    except _params.ParameterError as exc:
        if exc.name in reading and exc.name not in _reading(args):
            raise OptionError(f"{path}: {exc.name} stored in the model ({reading[exc.name]!r}): "
                              f"{exc.describe()}") from None
        raise
    except MissingColumnError as exc:  # said with the flag, or as the model's stored option
        stored = exc.role in reading and exc.role not in _reading(args)
        raise DataError(exc.describe(f"the model's {exc.role}" if stored else "--" + exc.role.replace("_", "-")
                                     )) from None


def _table_predictions(clf, args, reading):
    from .prediction import FilePrediction, prediction_rows

    for path in args.paths:
        ds = _load_table(args, path, reading, on_invalid=args.on_invalid)
        yield from (SkippedFile(name, reason) for name, reason in ds.skipped)  # said on stderr, exit 3
        if ds.trajectories[0].shape[1] != clf.n_features_in_:
            raise model_dims_error(path, clf, ds.trajectories[0].shape[1])
        try:
            rows = list(prediction_rows(clf, ds.trajectories, args.reject, args.unknown_label))
        except DataError as exc:  # a trajectory whose values are too large: name its id
            raise named_error(exc, [f"{path}[id={ident}]" for ident in ds.ids]) from None
        for ident, row in zip(ds.ids, rows):
            yield FilePrediction(str(ident) if len(args.paths) == 1 else f"{path}[id={ident}]", *row)


def _write_predictions(fh, results, bar, args, classes, skipped, flagged):
    key = "id" if args.paths == ["-"] or args.id_column else "path"  # stdin and tables name trajectories by id
    writer = csv.writer(fh, lineterminator="\n") if args.format == "csv" else None  # LF, as text and json
    if writer:
        writer.writerow([key, "label", "margin"] + ([f"p_{c}" for c in classes] if args.proba else []))
    n = 0
    for r in results:
        if bar is not None:
            bar.update(1)
        if isinstance(r, SkippedFile):
            skipped.append((r.path, r.reason))
            if args.paths == ["-"]:  # a live pipe: said when it comes, not only at the end
                print(f"trajhmm: skipped: {skipped_reason(r.path, r.reason)}", file=sys.stderr, flush=True)
            continue
        n += 1
        if r.still or r.oversized:  # a live pipe: said when it comes; else once for all, at the end
            kind = "still" if r.still else "oversized"
            if args.paths == ["-"]:
                warnings.warn(_motion_warning(kind, [r.path], 1), UserWarning, stacklevel=1)
            else:
                flagged[kind].append(r.path)
        if args.format == "json":
            rec = {key: r.path, "label": r.label, "margin": r.margin}
            if args.proba:
                rec["proba"] = dict(zip(classes, r.proba.tolist()))
            fh.write(_json(rec) + "\n")
        else:
            cols = [r.path, _text(r.label), f"{r.margin:.6g}"] + ([f"{p:.6g}" for p in r.proba] if args.proba else [])
            if writer:
                writer.writerow(cols)
            else:
                fh.write("\t".join([_field(r.path), _field(r.label), *cols[2:]]) + "\n")
        if args.paths == ["-"]:  # a live pipe: each answer as soon as it is known
            fh.flush()
    return n


def _cmd_evaluate(args, out):
    clf, reader = _load_model(args, return_reader=True)
    report, skipped = metrics._evaluate(clf, _load_labelled(args, reader=reader), source=args.data_dir,
                                        on_invalid=args.on_invalid)
    _print_report(report, out)
    if args.report is not None:
        full = {"model": str(args.model), "data": str(args.data_dir), **report,
                "skipped": [{"path": str(p), "reason": r} for p, r in skipped]}
        with persistence.atomic_write(args.report, "w") as fh:
            fh.write(_json(full, indent=2) + "\n")
    return _report_skipped(skipped)


def _print_report(report, out):
    labels = [str(lb) for lb in report["labels"]]
    matrix = np.asarray(report["confusion_matrix"])
    print(f"accuracy: {report['accuracy']:.4f} ({int(np.trace(matrix))}/{report['n_samples']} trajectories); "
          f"macro F1: {report['macro_f1']:.4f}", file=out)
    print(f"probabilities: log loss {report['log_loss']:.4f}; expected calibration error "
          f"{report['expected_calibration_error']:.4f} (15 bins, top label)", file=out)
    width = max(len("class"), *(len(lb) for lb in labels))
    print(f"{'class'.ljust(width)}  precision  recall      f1  support", file=out)
    for label in labels:
        m = report["per_class"][label]
        print(f"{label.ljust(width)}  {m['precision']:9.4f}  {m['recall']:6.4f}  {m['f1']:6.4f}  {m['support']:7d}",
              file=out)
    print("confusion matrix (rows: true label, columns: predicted):", file=out)
    print(_confusion_table(labels, matrix), file=out)
    if report["most_confused"]:
        print("most confused (true -> predicted: count): " + "; ".join(
            f"{p['true']} -> {p['predicted']}: {p['count']}" for p in report["most_confused"]), file=out)
    else:
        print("most confused: none (no errors)", file=out)


def _confusion_table(labels, matrix):
    names = [_text(c) for c in labels]
    corner = "true \\ predicted"
    width = max(max(len(n) for n in names), max(len(str(v)) for v in matrix.ravel()), 4)
    first = max(len(corner), max(len(n) for n in names)) + 2  # the row names' column
    lines = [corner.ljust(first) + " ".join(n.rjust(width) for n in names)]
    for name, row in zip(names, matrix):
        lines.append(name.ljust(first) + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def _plot_confusion(args, plotting):
    clf, reader = _load_model(args, return_reader=True)
    report, skipped = metrics._evaluate(clf, _load_labelled(args, reader=reader), source=args.data_dir,
                                        on_invalid=args.on_invalid)
    return plotting.plot_confusion(report["confusion_matrix"], report["labels"], normalize=args.normalize,
                                   title=f"{args.model} on {args.data_dir}: accuracy {report['accuracy']:.4f}"), skipped


def _plot_trajectories(args, plotting):
    if not args.model:  # (the time stamps are not a coordinate: plot_trajectories leaves them out)
        ds = _load_labelled(args)
        return plotting.plot_trajectories(ds.trajectories, [str(lb) for lb in ds.labels],
                                          time_column=ds.time_column), ds.skipped
    clf, reader = _load_model(args, return_reader=True)
    ds = _load_labelled(args, reader=reader)
    X, labels, skipped = metrics._matching_dims(clf, ds, args.on_invalid, source=args.data_dir)
    labels = metrics._as_class_names(labels, clf.classes_)  # by value, as evaluate: "1" is the class 1.0
    predicted = [str(c) for c in clf.predict(X)]
    time_column = getattr(clf, "best_estimator_", clf).time_column
    return plotting.plot_trajectories(X, labels, predicted=predicted, time_column=time_column), skipped


def _plot_convergence(args, plotting):
    return plotting.plot_convergence(_load_model(args)), []


def _plot_states(args, plotting):
    (clf, reader), X, skipped = _load_model(args, return_reader=True), None, []
    classes = [str(c) for c in clf.classes_]
    label = metrics._as_class_names([args.label], clf.classes_)[0]  # by value: "1" is the class 1.0
    if label not in classes:  # before any data is read; the model file named
        raise DataError(f"{args.model}: class {args.label!r}: not in the model (classes: {classes})")
    if args.data:
        ds = _load_labelled(args, args.data, reader=reader)
        X = [x for x, lb in zip(ds.trajectories, metrics._as_class_names([str(lb) for lb in ds.labels],
                                                                          clf.classes_)) if lb == label]
        skipped = ds.skipped
    return plotting.plot_states(clf, label, X), skipped


def _cmd_plot(args, out):
    from . import plotting

    draw = {"confusion": _plot_confusion, "trajectories": _plot_trajectories, "convergence": _plot_convergence,
            "states": _plot_states}[args.kind]
    fig, skipped = draw(args, plotting)
    with persistence.atomic_write(args.output, "wb") as fh:
        fig.savefig(fh, format=_image_format(args.output), dpi=args.dpi)
    if not args.quiet:
        print(f"{args.kind} plot written to {args.output}", file=out)
    return _report_skipped(skipped)


def _cmd_info(args, out):
    from .plotting import _feature_names

    loaded, reader = _load_model(args, return_reader=True)
    clf = getattr(loaded, "best_estimator_", loaded)
    meta = persistence.model_metadata(args.model)
    print(f"model file: {args.model}", file=out)
    if meta:
        print(f"format: trajhmm-model version {meta['format_version']}", file=out)
        print("saved with: " + ", ".join(f"{k} {v}" for k, v in sorted(meta["versions"].items())), file=out)
    print("files read with: " + (", ".join(f"{k}={v!r}" for k, v in sorted(reader.items())) if reader
                                 else "the default options"), file=out)
    timed = clf.time_column is not None
    print(f"input columns: {clf.n_features_in_}" + (f" (column {clf.time_column}: time stamps)" if timed else "")
          + f"; model features: {clf.n_model_features_}", file=out)
    if getattr(loaded, "feature_names_in_", None) is not None:
        print("column names (fitted on DataFrames): " + ", ".join(loaded.feature_names_in_), file=out)
    names = _feature_names(clf.n_features_in_ - timed, clf.derivatives)
    dropped = [n for n, keep in zip(names, clf.feature_mask_) if not keep]
    where = ("in time (the time stamps)" if timed else "in time (by sample: no time stamps)") \
        if clf.resample == "time" else f"in {clf.resample}"
    print(f"preprocessing: resample {clf.n_points} points evenly {where}, translation={clf.translation}, "
          f"scaling={clf.scaling}, derivatives={clf.derivatives}, standardize={clf.standardize}"
          + (f"; constant features dropped: {', '.join(dropped)}" if dropped else ""), file=out)
    print(f"model: {clf.n_states} states, n_mix={clf.n_mix}, {clf.covariance_type} covariance, {clf.topology}"
          + (f", max_jump={clf.max_jump}" if clf.max_jump is not None else ""), file=out)
    print(_open_set_line(clf), file=out)
    print(_prefix_line(clf, meta["format_version"] if meta else persistence.FORMAT_VERSION), file=out)
    print("parameters:", file=out)
    for key, value in sorted(clf.get_params().items()):
        print(f"  {key} = {value!r}", file=out)
    print("classes (training trajectories, prior, EM iterations, converged, final log-likelihood):", file=out)
    for k, c in enumerate(clf.classes_):
        hist = clf.log_likelihood_history_[k]
        final = f"{hist[-1]:.6g}" if len(hist) else "n/a"
        print(f"  {c}: n={clf.class_count_[k]}, prior={clf.class_prior_[k]:.4g}, iterations={clf.n_iter_[k]}, "
              f"converged={bool(clf.converged_[k])}, log-likelihood={final}", file=out)
    if loaded is clf:
        print("probabilities: the plain posteriors of the class models, not calibrated (trained with --no-search "
              "or as an HMMClassifier)", file=out)
    else:
        print("model search (HMMClassifierCV):", file=out)
        _print_search(loaded, out)
    return EXIT_OK


def _open_set_line(clf):
    """``trajhmm info``'s line on open-set rejection and the streams' default threshold."""
    from .streaming import DEFAULT_THRESHOLD

    thresholds = np.asarray(getattr(clf, "rejection_threshold_", [-np.inf]), dtype=float)
    if not np.isfinite(thresholds).any():
        rejection = "off"
    elif np.ptp(thresholds) > 0:  # model files of format 1 and 2: the earlier per-class rule
        rejection = f"per-class thresholds {np.round(thresholds, 4).tolist()} nats per point"
    else:
        rejection = f"threshold {thresholds[0]:.4g} nats per point (rate {clf.rejection_rate:g})"
    far_out = getattr(clf, "likelihood_threshold_", None)
    if rejection != "off":
        rejection += (f", far out below {far_out:.4g} nats per point" if far_out is not None and np.isfinite(far_out)
                      else ", no far-out test (a model fitted before format 12: retrain for it)")
    stream = float(getattr(clf, "stream_threshold_", np.nan))
    default = (f"{stream:.4g} (fitted)" if np.isfinite(stream)
               else f"{DEFAULT_THRESHOLD:g} (the model has no fitted one)")
    ends = "" if hasattr(clf, "class_end_states_") else (
        ", windows may end in any state (a model fitted before format 8: retrain to score them as whole gestures)")
    sized = clf.scaling == "none"  # size-invariant models are never gated
    still = "" if ends or not sized else (  # one retrain note is enough
        ", still windows are scored too (a model fitted before format 9: retrain to skip them)"
        if not hasattr(clf, "class_motion_quantiles_") else
        ", windows half in a pause are scored too (a model fitted before format 10: retrain to skip them)"
        if not hasattr(clf, "class_part_motion_") else "")
    if clf.time_column is not None:
        return f"open-set rejection: {rejection}; streams: none (streams and prefixes take no time stamps)"
    return f"open-set rejection: {rejection}; streams: default threshold {default}{ends}{still}"


def _prefix_line(clf, version):
    """``trajhmm info``'s line on how prefixes (early answers) are read."""
    if clf.time_column is not None:
        return "prefixes (predict_prefix): none (a model with a time column: prefixes take no time stamps)"
    view = getattr(clf, "prefix_model_", None)
    if view is not None and clf.prefix_view:  # what prefixes read (streaming._Model.prefix_view)
        return (f"prefixes (predict_prefix): the class models and a prefix view on derivatives={view.derivatives}, "
                "their evidence averaged")
    why = ("a model fitted before format 11: retrain for a prefix view" if version < 11
           else "prefix_view=False" if not clf.prefix_view
           else f"none for derivatives={clf.derivatives}, the most" if not clf._fits_prefix_view()
           else "the prefix view could not be fitted")
    return f"prefixes (predict_prefix): the class models alone ({why})"


def _tune_grid(args):
    """(grid, fixed) of ``trajhmm tune``: the grid-able flags given several values, and
    the others (held fixed)."""
    params = _estimator_params(args)
    for name, v in params.items():
        twice = [x for i, x in enumerate(v) if x in v[:i]] if isinstance(v, list) else []
        if twice:  # the same candidate twice: twice the work for the same fits
            raise _params.ParameterValueError(name, "each value once", f"{twice[0]!r} twice")
    grid = {name: v for name, v in params.items() if name in _params.GRID_PARAMS and isinstance(v, list) and len(v) > 1}
    fixed = {name: v[0] if isinstance(v, list) else v for name, v in params.items()
             if name not in grid and name not in ("random_state", "n_jobs")}
    return grid, fixed


def _cmd_tune(args, out):
    ds = _load_labelled(args)
    grid, fixed = _tune_grid(args)
    fixed["time_column"] = ds.time_column
    logger.info("cross-validating %d candidates x %d folds", len(model_selection._candidates(grid)), args.cv)
    clf = HMMClassifierCV(HMMClassifier(**fixed), grid, cv=args.cv, ensemble=not args.no_ensemble, n_jobs=args.n_jobs,
                          random_state=args.random_state)
    bar = _progress_bar(args, 1, "fit", "model search")
    try:
        clf.fit(ds.trajectories, ds.labels, progress=_train_progress(bar) if bar else None, cache_dir=_cache_dir(args))
    finally:
        if bar:
            bar.close()
    clf.set_params(n_jobs=None)
    _print_search(clf, out, top=len(clf.cv_results_["params"]), n=len(ds), grouped=False)
    persistence.save_model(clf, args.output, reader=ds.reader)
    _done_with_cache(args, _cache_dir(args))
    print(f"refit on all {len(ds)} trajectories; model written to {args.output}", file=out)
    return _report_skipped(ds.skipped)


_COMMANDS = {"train": _cmd_train, "predict": _cmd_predict, "evaluate": _cmd_evaluate, "tune": _cmd_tune,
             "plot": _cmd_plot, "info": _cmd_info, "spot": _cmd_spot}


# ---------------------------------------------------------------------- main
def _command_name(args):
    return "plot " + args.kind if args.command == "plot" else args.command


def _usage_error(args, exc):
    """One line ``trajhmm CMD: error: argument --flag: expected ..., got ...``; exit 2."""
    flag = _params.PARAMS[exc.name].flag if exc.name in _params.PARAMS else exc.name
    text = exc.describe(lambda name: _params.PARAMS[name].flag if name in _params.PARAMS else name)
    print(f"trajhmm {_command_name(args)}: error: argument {flag}: {text}", file=sys.stderr)
    return EXIT_USAGE


def _check_params(args):
    """Cross-parameter checks (n_states <= n_points), for every tune candidate: before
    any work. Raises ParameterError."""
    if args.command == "train" and args.no_search:
        cv_given = "cv" in getattr(args, "seen", [])
        if cv_given or args.no_ensemble:
            raise _params.ParameterValueError("cv" if cv_given else "--no-ensemble", "to be left out with --no-search "
                                              "(it sets up the model search)", f"--cv {args.cv}" if cv_given else "--no-ensemble")
        _params.validate_params(_estimator_params(args))
    elif args.command == "train":  # the search chooses what it searches; everything else is checked now
        params = _estimator_params(args)
        given = getattr(args, "given", [])
        searched = set(default_param_grid(fixed=given).names)
        _params.validate_params({k: v for k, v in params.items() if k not in searched})
    elif args.command == "tune":
        grid, fixed = _tune_grid(args)
        model_selection._check_grid(grid, fixed)


def _check_reading(args):
    """The reading flags, checked before any work: a bad value is a usage error (exit 2)
    naming the flag. Returns the exit code, or None when they are fine."""
    if not hasattr(args, "columns"):  # a command that reads no data
        return None
    try:
        if args.command == "spot" and args.time_column_name is not None:
            raise ValueError("time_column: expected none (a stream is evenly spaced samples without time stamps), "
                             f"got {args.time_column_name!r}; leave that column out with --columns")
        given = {k: v for k, v in _reading(args).items() if k in datasets.OPTIONS}
        datasets.check_options(**given, pattern=getattr(args, "pattern", None), **({"label_level": args.label_level}
                                                                  if hasattr(args, "label_level") else {}))
    except (ValueError, TypeError) as exc:
        name, _, text = str(exc).partition(": ")
        flag = {"time_column": "--time-column"}.get(name, "--" + name.replace("_", "-"))
        print(f"trajhmm {_command_name(args)}: error: argument {flag}: {text}", file=sys.stderr)
        return EXIT_USAGE
    return None


class _Logging:
    """Logs and warnings of the library on stderr while a command runs, as one line each
    ("trajhmm: ..."; "trajhmm: warning: ..."). Skipped files are reported by the command
    itself, once each, so the readers' own log line about them is dropped."""

    def __init__(self, args):
        self.args = args
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(logging.Formatter("trajhmm: %(message)s"))
        self.handler.addFilter(lambda record: not str(record.msg).startswith("skipped"))
        self.level = logging.ERROR if args.quiet else (logging.INFO if args.verbose else logging.WARNING)

    def showwarning(self, message, category, filename, lineno, file=None, line=None):
        if not self.args.quiet:
            print(f"trajhmm: warning: {_one_line(message)}", file=sys.stderr)

    def __enter__(self):
        self.old_level = logger.level
        logger.addHandler(self.handler)
        logger.setLevel(self.level)
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
            # other libraries' notices of their own API changes are for their developers, not
            # for the command's user (hmmlearn under numpy 2.5 said one ~130 times a fit)
            warnings.filterwarnings("ignore", category=category)
            warnings.filterwarnings("default", category=category, module=r"trajhmm(\.|$)")
        # the command reads files and tables by position or --columns, never as DataFrames
        warnings.filterwarnings("ignore", message=NO_NAMES, category=UserWarning)
        quiet_worker_restarts()
        warnings.showwarning = self.showwarning
        return self

    def __exit__(self, *exc):
        self.warnings.__exit__(*exc)
        logger.removeHandler(self.handler)
        logger.setLevel(self.old_level)


def _check_streams(args, out):
    """Before any work: the standard streams the command reads or writes its results to
    are open (a shell's ``>&-`` or ``<&-`` leaves them None)."""
    if out is None and args.command in ("predict", "spot") and getattr(args, "output", None) is None:
        raise DataError("standard output is closed: write the results to a file with --output FILE")
    if out is None and (args.command == "info" or (args.command == "evaluate" and args.report is None)):
        raise DataError("standard output is closed: nothing would be written" +
                        (" (write the report with --report FILE)" if args.command == "evaluate" else ""))
    if sys.stdin is None and "-" in [*(getattr(args, "paths", None) or []), str(getattr(args, "recording", ""))]:
        raise DataError("-: standard input is closed")


def _io_error(exc):
    """The line of an OSError (naming its file), or of a name the output's encoding cannot
    write (PYTHONIOENCODING=ascii)."""
    if isinstance(exc, UnicodeEncodeError):
        char = exc.object[exc.start:exc.end]
        if all("\udc80" <= c <= "\udcff" for c in char):  # a byte of a file name that is not UTF-8
            return (f"cannot write {char!r}, a byte of a file name that is not valid {exc.encoding}: set "
                    f"PYTHONIOENCODING={exc.encoding}:surrogateescape to write the name's bytes as they are")
        return (f"cannot write {char!r} in the output's encoding ({exc.encoding}): set "
                "PYTHONIOENCODING=utf-8 (or a UTF-8 locale, LC_ALL=C.UTF-8)")
    name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    return f"{name}{_one_line(exc.strerror or exc)}"


class _ReaderGone:
    """Standard output for the commands whose results are files (train, tune, evaluate's
    --report, plot): a reader that goes away (``| head``, ``| true``) stops the printing,
    not the command, so the files are still written (the model was lost: exit 0 and no
    file). Commands whose results are their output (predict, spot) stop there instead."""

    def __init__(self, out):
        self.out, self.gone = out, False

    def _safely(self, method, *args):
        if not self.gone:
            try:
                return getattr(self.out, method)(*args)
            except BrokenPipeError:
                self.gone = True
                _silence_stdout()
        return len(args[0]) if args else None

    def write(self, text):
        return self._safely("write", text)

    def flush(self):
        self._safely("flush")

    def __getattr__(self, name):
        return getattr(self.out, name)


def _silence_stdout():
    """Standard output to /dev/null once its reader is gone (Python would complain at exit
    about the unflushed rest)."""
    try:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (stays open until the process exits)
    except OSError:
        pass


_FILE_RESULTS = ("train", "tune", "evaluate", "plot")


def _run(args, out):
    """Run the parsed command; library errors become one line and an exit code."""
    if args.command in _FILE_RESULTS and out is not None:
        out = _ReaderGone(out)
    try:
        with _Logging(args):
            _check_outputs(args)
            _check_streams(args, out)
            with dask_backend(getattr(args, "scheduler", None), name="--scheduler", version=__version__):
                return _COMMANDS[args.command](args, out)
    except _params.ParameterError as exc:
        return _usage_error(args, exc)
    except OptionError as exc:  # a flag that does not apply to the input given: usage
        print(f"trajhmm {_command_name(args)}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except TrajHMMError as exc:
        print(f"trajhmm: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. `trajhmm predict ... | head`: the reader is gone, not an error
        _silence_stdout()
        return EXIT_OK
    except (OSError, UnicodeEncodeError) as exc:
        print(f"trajhmm: error: {_io_error(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM under the `trajhmm` command (_console.Terminated)
        line, code = stopped(exc)
        print(line, file=sys.stderr)
        return code
    except MemoryError:  # the last resort: the flags that size memory have upper bounds
        print("trajhmm: error: out of memory (try fewer or shorter inputs, a smaller --batch-size, --n-points "
              "or --n-states)", file=sys.stderr)
        return EXIT_ERROR


def main(argv=None, *, stdout=None):
    """Run the command line; returns the exit code (see EXIT_CODES)."""
    if sys.stderr is None:  # `2>&-`: what would go there is dropped (print(file=None) writes to stdout)
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (stays open until the process exits)
    try:
        args, extra = build_parser().parse_known_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code or 0)
    if extra:  # (argparse says these from the top-level parser, without the command's name)
        print(f"trajhmm {_command_name(args)}: error: unrecognized arguments: {' '.join(extra)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        _check_params(args)
    except _params.ParameterError as exc:
        return _usage_error(args, exc)
    code = _check_reading(args)
    if code is not None:
        return code
    return _run(args, stdout or sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

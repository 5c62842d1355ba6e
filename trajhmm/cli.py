"""Command-line interface: ``trajhmm {train,predict,evaluate,tune,info}``.

A thin layer over the public API and the only place that prints. Results go to stdout,
logs and warnings to stderr. Exit codes: 0 ok, 1 data or model error (one line
``trajhmm: error: ...``), 2 usage error, 130 interrupted.
"""

import argparse
import csv
import json
import logging
import os
import sys
import warnings
from contextlib import contextmanager

import numpy as np

from . import datasets, model_selection, persistence
from .prediction import SkippedFile, predict_files
from ._version import __version__
from .classifier import HMMClassifier
from .exceptions import DataError, TrajHMMError

__all__ = ["main", "build_parser"]

logger = logging.getLogger("trajhmm")

# Estimator parameters exposed as flags: name -> (type, choices, help).
_ESTIMATOR_FLAGS = {
    "n_states": (int, None, "hidden states per class model"),
    "n_mix": (int, None, "Gaussians per state (1: Gaussian HMM, >1: mixture)"),
    "covariance_type": (str, ("full", "diag", "spherical", "tied"), "covariance of each Gaussian"),
    "topology": (str, ("left-right", "ergodic"), "state topology"),
    "max_jump": (int, None, "left-right: largest forward jump (default: any)"),
    "n_points": (int, None, "points every trajectory is resampled to"),
    "resample": (str, ("time", "arclength"), "resample evenly in time or along the path"),
    "translation": (str, ("none", "start", "end", "center"), "per-trajectory translation"),
    "scaling": (str, ("none", "path_length", "std"), "per-trajectory scaling"),
    "derivatives": (int, None, "time derivatives appended as features"),
    "standardize": ("bool", None, "standardise features with training mean/std"),
    "reg_covar": (float, None, "covariance floor, relative to each feature's variance"),
    "n_iter": (int, None, "maximum EM iterations"),
    "tol": (float, None, "EM relative convergence tolerance"),
    "n_init": (int, None, "EM restarts per class (best kept)"),
    "priors": (str, ("uniform", "empirical"), "class priors"),
    "rejection_quantile": (float, None, "open-set rejection quantile of each class's training scores"),
    "random_state": (int, None, "seed (default 0 in the CLI, so runs are reproducible)"),
    "n_jobs": (int, None, "parallel jobs over classes x restarts (-1: all cores)"),
}


_MODEL_HELP = "model file written by trajhmm train or tune"
_DATA_HELP = ("labelled data: a folder DATA_DIR/<label>/<trajectory files>, an .npz bundle "
              "(X, lengths, y[, split]) or a UEA .ts file")


def _bool(text):
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


# Parameters `trajhmm tune` searches over when given several values.
_GRID_FLAGS = ("n_states", "n_mix", "covariance_type", "topology", "max_jump", "n_points", "resample",
               "translation", "scaling", "derivatives", "standardize", "reg_covar")


def _add_estimator_flags(parser, grid=False):
    defaults = HMMClassifier().get_params()
    if grid:
        defaults["n_states"] = [8, 12, 16]
    title = "model parameters (see HMMClassifier)"
    if grid:
        title += "; the ones marked [grid] take several values, every combination is cross-validated"
    group = parser.add_argument_group(title)
    for name, (typ, choices, text) in _ESTIMATOR_FLAGS.items():
        default = 0 if name == "random_state" else defaults[name]
        multi = grid and name in _GRID_FLAGS
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=_bool if typ == "bool" else typ,
            choices=choices,
            default=default,
            nargs="+" if multi else None,
            metavar=None if choices else ("BOOL" if typ == "bool" else typ.__name__.upper()),
            help=f"{'[grid] ' if multi else ''}{text} (default: {default})",
        )


def _add_reading_flags(parser, split=True):
    if split:
        parser.add_argument("--split", metavar="NAME",
                            help=".npz bundles: use only the rows whose 'split' is NAME (e.g. train)")
    parser.add_argument(
        "--on-invalid",
        choices=("error", "skip"),
        default="error",
        help="a malformed trajectory file stops the run (error) or is skipped and "
        "reported (skip; exit code 3 if anything was skipped) (default: error)",
    )
    parser.add_argument("--variable", help=".mat files: the variable to read")


def _add_output_flags(parser, progress=True):
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print only errors and the requested results")
    if progress:
        parser.add_argument("--progress", action="store_true",
                            help="show a progress bar on stderr even when it is not a terminal "
                            "(default: shown on terminals only; needs tqdm: pip install 'trajhmm[progress]')")


def _add_scheduler_flag(parser):
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the tasks on a Dask cluster (e.g. tcp://10.0.0.5:8786); needs the dask extra: "
        "pip install 'trajhmm[dask]'",
    )


def build_parser():
    """The argparse parser of the ``trajhmm`` command."""
    parser = argparse.ArgumentParser(
        prog="trajhmm",
        description="Classify trajectories with one hidden Markov model per class.",
    )
    parser.add_argument("--version", action="version", version=f"trajhmm {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a classifier on labelled data: a folder DATA_DIR/<label>/<files>, "
                       "an .npz bundle (X, lengths, y[, split]) or a UEA .ts file")
    p.add_argument("data_dir", metavar="DATA_DIR", help=_DATA_HELP)
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="model file to write")
    p.add_argument(
        "--test-size",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="hold out this stratified fraction, report accuracy on it, and save the model "
        "trained on the rest (default: 0, train on everything)",
    )
    p.add_argument(
        "--model-format",
        choices=("npz", "pickle"),
        default="npz",
        help="npz: safe format (default); pickle: joblib pickle, only loadable with --trust-pickle",
    )
    _add_reading_flags(p)
    _add_estimator_flags(p)
    _add_scheduler_flag(p)
    _add_output_flags(p)

    p = sub.add_parser("predict", help="predict the class of trajectory files")
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    p.add_argument("paths", nargs="+", metavar="PATH", help="trajectory files or folders")
    p.add_argument("--format", choices=("text", "csv", "json"), default="text",
                   help="text: tab-separated; csv; json: one JSON object per line (default: text)")
    p.add_argument("--proba", action="store_true", help="add the probability of every class")
    p.add_argument("--reject", action="store_true",
                   help="report trajectories that fit no class well as unknown (open-set rejection)")
    p.add_argument("--unknown-label", default="unknown", metavar="LABEL",
                   help="label printed for rejected trajectories (default: unknown)")
    p.add_argument("--output", metavar="FILE", help="write predictions to FILE (atomically) instead of stdout")
    p.add_argument("--batch-size", type=int, default=1000, metavar="N",
                   help="files read and scored at a time; memory does not grow with the number of files (default: 1000)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a pickle-based model file (it can run code: only for files you trust)")
    p.add_argument("--n-jobs", type=int, default=None, metavar="N",
                   help="batches scored in parallel (-1: all cores; with --scheduler: the cluster decides)")
    _add_reading_flags(p, split=False)
    _add_scheduler_flag(p)
    _add_output_flags(p)

    p = sub.add_parser("evaluate", help="accuracy and confusion matrix on a labelled folder")
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    p.add_argument("data_dir", metavar="DATA_DIR", help=_DATA_HELP)
    p.add_argument("--report", metavar="FILE.json", help="also write the results as JSON (atomically)")
    p.add_argument("--trust-pickle", action="store_true", help="allow a pickle-based model file")
    _add_reading_flags(p)
    _add_scheduler_flag(p)
    _add_output_flags(p, progress=False)

    p = sub.add_parser("tune", help="cross-validate a grid of parameters, print a ranked table, save the best model")
    p.add_argument("data_dir", metavar="DATA_DIR", help=_DATA_HELP)
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="best model (refit on all data)")
    p.add_argument("--cv", type=int, default=3, metavar="K", help="stratified folds (default: 3)")
    _add_reading_flags(p)
    _add_estimator_flags(p, grid=True)
    _add_scheduler_flag(p)
    _add_output_flags(p, progress=False)

    p = sub.add_parser("plot", help="draw a figure to a PNG (or PDF/SVG) file; needs the plot extra: "
                       "pip install 'trajhmm[plot]'")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    k = kinds.add_parser("confusion", help="confusion matrix of MODEL on labelled DATA_DIR")
    k.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    k.add_argument("data_dir", metavar="DATA_DIR", help=_DATA_HELP)
    k.add_argument("--normalize", action="store_true", help="rows as fractions of each true class")
    k = kinds.add_parser("trajectories", help="trajectories of DATA_DIR coloured by class "
                         "(with --model: misclassified ones highlighted)")
    k.add_argument("data_dir", metavar="DATA_DIR", help=_DATA_HELP)
    k.add_argument("--model", metavar="MODEL", help="also predict, and draw predicted vs true")
    k = kinds.add_parser("convergence", help="EM log-likelihood per iteration for every class of MODEL")
    k.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    k = kinds.add_parser("states", help="state means of the model of CLASS (over its trajectories with --data)")
    k.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    k.add_argument("label", metavar="CLASS", help="class label, as printed by trajhmm info")
    k.add_argument("--data", metavar="DATA_DIR", help="labelled data: draw CLASS's trajectories underneath")
    for name, k in kinds.choices.items():
        k.add_argument("-o", "--output", required=True, metavar="FILE.png",
                       help="image file to write (atomically): .png, .pdf or .svg")
        k.add_argument("--dpi", type=int, default=120, help="resolution (default: 120)")
        k.add_argument("--trust-pickle", action="store_true", help="allow a pickle-based model file")
        if name != "convergence":
            _add_reading_flags(k)
        _add_output_flags(k, progress=False)

    p = sub.add_parser("info", help="summary of a model file")
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    p.add_argument("--trust-pickle", action="store_true", help="allow a pickle-based model file")
    return parser


# ---------------------------------------------------------------------- commands
def _progress_bar(args, total, unit, desc):
    """A tqdm bar on stderr, or None: off with -q, forced by --progress, otherwise shown
    only when stderr is a terminal. ``total`` may be a function (called only if shown)."""
    if args.quiet or not (getattr(args, "progress", False) or sys.stderr.isatty()):
        return None
    total = total() if callable(total) else total
    try:
        from tqdm import tqdm
    except ImportError:
        logger.warning("progress bars need tqdm: pip install 'trajhmm[progress]'")
        return None
    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True)


def _estimator_from(args):
    params = {name: getattr(args, name) for name in _ESTIMATOR_FLAGS}
    return HMMClassifier(**params)


def _load_labelled(args):
    return datasets.load_dataset(args.data_dir, split=args.split, on_invalid=args.on_invalid,
                                 variable=args.variable)


def _report_skipped(skipped):
    for _path, reason in skipped:  # the reason names the file
        print(f"trajhmm: skipped: {reason}", file=sys.stderr)
    if skipped:
        print(f"trajhmm: {len(skipped)} file(s) skipped as invalid", file=sys.stderr)


def _cmd_train(args, out):
    clf = _estimator_from(args)
    ds = _load_labelled(args)
    X, y = ds.trajectories, np.asarray(ds.labels)
    if not 0.0 <= args.test_size < 1.0:
        raise DataError(f"--test-size: expected a fraction in [0, 1), got {args.test_size}")
    held_out = None
    if args.test_size > 0:
        from sklearn.model_selection import train_test_split

        idx = np.arange(len(X))
        try:
            tr, te = train_test_split(idx, test_size=args.test_size, stratify=y, random_state=args.random_state)
        except ValueError as exc:
            raise DataError(f"{args.data_dir}: cannot hold out {args.test_size} of the data: {exc}") from None
        held_out = ([X[i] for i in te], y[te])
        X, y = [X[i] for i in tr], y[tr]
    logger.info("training %d classes on %d trajectories", len(np.unique(y)), len(X))
    bar = _progress_bar(args, len(np.unique(y)) * args.n_init + 1, "EM run", "training")

    def progress(done, total, info):
        if "iteration" in info:  # a run in progress: its current EM log-likelihood
            bar.set_postfix_str(f"{info['label']} (restart {info['restart']}): iteration {info['iteration']}, "
                                f"log-likelihood {info['log_likelihood']:.6g}")
            return
        bar.set_postfix_str(f"{info['label']} (restart {info['restart']}): log-likelihood "
                            f"{info['log_likelihood']:.6g} after {info['n_iter']} iterations", refresh=False)
        bar.update(1)

    try:
        clf.fit(X, y, progress=progress if bar else None)
    finally:
        if bar:
            bar.close()
    persistence.save_model(clf, args.output, format=args.model_format)
    if not args.quiet:
        print(f"trained {len(clf.classes_)} classes on {len(X)} trajectories; model written to {args.output}",
              file=out)
    if held_out is not None:
        acc = clf.score(*held_out)
        print(f"held-out accuracy: {acc:.4f} ({len(held_out[1])} trajectories)", file=out)
    _report_skipped(ds.skipped)
    return 3 if ds.skipped else 0


def _cmd_predict(args, out):
    if args.batch_size < 1:
        raise DataError(f"--batch-size: expected a positive integer, got {args.batch_size}")
    clf = persistence.load_model(args.model, trusted=args.trust_pickle)
    classes = [str(c) for c in clf.classes_]
    skipped = []

    def write(fh):
        writer = csv.writer(fh) if args.format == "csv" else None
        if writer:
            writer.writerow(["path", "label", "margin"] + ([f"p_{c}" for c in classes] if args.proba else []))
        results = predict_files(clf, args.paths, batch_size=args.batch_size, reject=args.reject,
                                unknown=args.unknown_label, on_invalid=args.on_invalid,
                                variable=args.variable, n_jobs=args.n_jobs)
        count = lambda: sum(1 for _ in datasets.iter_trajectory_files(args.paths))  # noqa: E731 (names only)
        bar = _progress_bar(args, count, "file", "predicting")
        try:
            n = _write_predictions(fh, results, bar, args, classes, writer, skipped)
        finally:
            if bar is not None:
                bar.close()
        return n

    if args.output:
        with persistence.atomic_write(args.output, "w") as fh:
            n = write(fh)
        logger.info("%d predictions written to %s", n, args.output)
    else:
        write(out)
    _report_skipped(skipped)
    return 3 if skipped else 0


def _write_predictions(fh, results, bar, args, classes, writer, skipped):
    n = 0
    for r in results:
        if bar is not None:
            bar.update(1)
        if isinstance(r, SkippedFile):
            skipped.append((r.path, r.reason))
            continue
        n += 1
        if args.format == "json":
            rec = {"path": r.path, "label": r.label, "margin": r.margin}
            if args.proba:
                rec["proba"] = dict(zip(classes, r.proba.tolist()))
            fh.write(json.dumps(rec) + "\n")
            continue
        cols = [r.path, str(r.label), f"{r.margin:.6g}"] + ([f"{p:.6g}" for p in r.proba] if args.proba else [])
        if writer:
            writer.writerow(cols)
        else:
            fh.write("\t".join(cols) + "\n")
    return n


def _confusion_table(labels, matrix):
    names = [str(c) for c in labels]
    width = max(max(len(n) for n in names), max(len(str(v)) for v in matrix.ravel()), 4)
    lines = ["true \\ predicted".ljust(width + 2) + " ".join(n.rjust(width) for n in names)]
    for name, row in zip(names, matrix):
        lines.append(name.ljust(width + 2) + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def _cmd_evaluate(args, out):
    from .metrics import evaluation_report

    clf = persistence.load_model(args.model, trusted=args.trust_pickle)
    ds = _load_labelled(args)
    y_true = np.asarray(ds.labels)
    if np.issubdtype(clf.classes_.dtype, np.number):
        raise DataError(f"{args.model}: model has numeric labels; folder labels are strings")
    y_pred = clf.predict(ds.trajectories).astype(str)
    labels = sorted(set(clf.classes_.astype(str)) | set(y_true))
    report = evaluation_report(y_true, y_pred, labels=labels)
    n_right = int((y_true == y_pred).sum())
    print(f"accuracy: {report['accuracy']:.4f} ({n_right}/{len(y_true)} trajectories); "
          f"macro F1: {report['macro_f1']:.4f}", file=out)
    width = max(len("class"), *(len(lb) for lb in labels))
    print(f"{'class'.ljust(width)}  precision  recall      f1  support", file=out)
    for label in labels:
        m = report["per_class"][label]
        print(f"{label.ljust(width)}  {m['precision']:9.4f}  {m['recall']:6.4f}  {m['f1']:6.4f}  {m['support']:7d}",
              file=out)
    print("confusion matrix (rows: true label, columns: predicted):", file=out)
    print(_confusion_table(labels, np.asarray(report["confusion_matrix"])), file=out)
    if report["most_confused"]:
        print("most confused (true -> predicted: count): " + "; ".join(
            f"{p['true']} -> {p['predicted']}: {p['count']}" for p in report["most_confused"]), file=out)
    else:
        print("most confused: none (no errors)", file=out)
    if args.report:
        full = {"model": str(args.model), "data": str(args.data_dir), **report,
                "skipped": [{"path": p, "reason": r} for p, r in ds.skipped]}
        with persistence.atomic_write(args.report, "w") as fh:
            json.dump(full, fh, indent=2)
    _report_skipped(ds.skipped)
    return 3 if ds.skipped else 0


def _cmd_plot(args, out):
    from . import plotting

    if args.dpi < 1:
        raise DataError(f"--dpi: expected a positive integer, got {args.dpi}")

    def model():
        return persistence.load_model(args.model, trusted=args.trust_pickle)

    def data(path):
        args.data_dir = path
        return _load_labelled(args)

    skipped = []
    if args.kind == "confusion":
        from .metrics import evaluation_report

        clf, ds = model(), data(args.data_dir)
        y_true = np.asarray(ds.labels).astype(str)
        labels = sorted(set(clf.classes_.astype(str)) | set(y_true))
        report = evaluation_report(y_true, clf.predict(ds.trajectories).astype(str), labels=labels)
        fig = plotting.plot_confusion(report["confusion_matrix"], labels, normalize=args.normalize,
                                      title=f"{args.model} on {args.data_dir}: accuracy {report['accuracy']:.4f}")
        skipped = ds.skipped
    elif args.kind == "trajectories":
        ds = data(args.data_dir)
        predicted = model().predict(ds.trajectories).astype(str) if args.model else None
        fig = plotting.plot_trajectories(ds.trajectories, np.asarray(ds.labels).astype(str), predicted=predicted)
        skipped = ds.skipped
    elif args.kind == "convergence":
        fig = plotting.plot_convergence(model())
    else:
        clf = model()
        X = None
        if args.data:
            ds = data(args.data)
            X = [x for x, lb in zip(ds.trajectories, ds.labels) if str(lb) == args.label]
            skipped = ds.skipped
        fig = plotting.plot_states(clf, args.label, X)
    fmt = str(args.output).rsplit(".", 1)[-1].lower() if "." in str(args.output) else "png"
    if fmt not in ("png", "pdf", "svg"):
        raise DataError(f"{args.output}: expected a .png, .pdf or .svg file name, got .{fmt}")
    with persistence.atomic_write(args.output, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=args.dpi)
    if not args.quiet:
        print(f"{args.kind} plot written to {args.output}", file=out)
    _report_skipped(skipped)
    return 3 if skipped else 0


def _cmd_info(args, out):
    clf = persistence.load_model(args.model, trusted=args.trust_pickle)
    meta = persistence.model_metadata(args.model)
    print(f"model file: {args.model}", file=out)
    if meta:
        print(f"format: trajhmm-model version {meta['format_version']}", file=out)
        print("saved with: " + ", ".join(f"{k} {v}" for k, v in sorted(meta["versions"].items())), file=out)
    print(f"input dims: {clf.n_features_in_}; model features: {clf.n_model_features_}", file=out)
    names = [f"{kind}{d}" for kind in ["x"] + [f"d{k}x" for k in range(1, clf.derivatives + 1)]
             for d in range(clf.n_features_in_)]
    dropped = [n for n, keep in zip(names, clf.feature_mask_) if not keep]
    print(f"preprocessing: resample {clf.n_points} points evenly in {clf.resample}, translation={clf.translation}, "
          f"scaling={clf.scaling}, derivatives={clf.derivatives}, standardize={clf.standardize}"
          + (f"; constant features dropped: {', '.join(dropped)}" if dropped else ""), file=out)
    print(f"model: {clf.n_states} states, n_mix={clf.n_mix}, {clf.covariance_type} covariance, {clf.topology}"
          + (f", max_jump={clf.max_jump}" if clf.max_jump is not None else ""), file=out)
    print("parameters:", file=out)
    for key, value in sorted(clf.get_params().items()):
        print(f"  {key} = {value!r}", file=out)
    print("classes (training trajectories, prior, EM iterations, converged, final log-likelihood):", file=out)
    for k, c in enumerate(clf.classes_):
        hist = clf.log_likelihood_history_[k]
        final = f"{hist[-1]:.6g}" if len(hist) else "n/a"
        print(
            f"  {c}: n={clf.class_count_[k]}, prior={clf.class_prior_[k]:.4g}, "
            f"iterations={clf.n_iter_[k]}, converged={bool(clf.converged_[k])}, log-likelihood={final}",
            file=out,
        )
    return 0


def _cmd_tune(args, out):
    ds = _load_labelled(args)
    grid = {name: v if isinstance(v, list) else [v] for name in _GRID_FLAGS for v in [getattr(args, name)]}
    fixed = {name: getattr(args, name) for name in _ESTIMATOR_FLAGS if name not in _GRID_FLAGS}
    fixed.pop("random_state")
    n_jobs = fixed.pop("n_jobs")
    for combo in _combinations(grid):  # validate every candidate before any fit
        HMMClassifier(**combo, **fixed)._check_params()
    searched = [k for k, v in grid.items() if len(v) > 1]
    logger.info("cross-validating %d candidates x %d folds", len(_combinations(grid)), args.cv)
    best, ranking = model_selection.tune(
        ds.trajectories, ds.labels, grid, cv=args.cv, random_state=args.random_state, n_jobs=n_jobs, **fixed
    )
    shown = searched or ["n_states"]
    print(f"{len(ranking)} candidates, {args.cv}-fold stratified cross-validation on {len(ds)} trajectories", file=out)
    header = ["rank", "accuracy", "+/-", "fit s"] + shown
    rows = [[str(r["rank"]), f"{r['mean_accuracy']:.4f}", f"{r['std_accuracy']:.4f}", f"{r['mean_fit_seconds']:.1f}"]
            + [str(r["params"][k]) for k in shown] for r in ranking]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)), file=out)
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)), file=out)
    persistence.save_model(best, args.output)
    best_params = ", ".join(f"{k}={ranking[0]['params'][k]!r}" for k in shown)
    print(f"best: {best_params}; refit on all data, model written to {args.output}", file=out)
    _report_skipped(ds.skipped)
    return 3 if ds.skipped else 0


def _combinations(grid):
    from sklearn.model_selection import ParameterGrid

    return list(ParameterGrid(grid))


_COMMANDS = {"train": _cmd_train, "predict": _cmd_predict, "evaluate": _cmd_evaluate, "tune": _cmd_tune,
             "plot": _cmd_plot, "info": _cmd_info}


# How long --scheduler keeps trying to reach the scheduler before giving up.
_CONNECT_TIMEOUT = "10s"


@contextmanager
def _scheduler(address):
    """Run joblib's tasks on the Dask cluster at ``address`` (nothing when None)."""
    if not address:
        yield
        return
    try:
        from distributed import Client
        from joblib import parallel_config
    except ImportError:
        raise DataError("--scheduler needs the optional Dask support: pip install 'trajhmm[dask]'") from None
    try:
        client = Client(address, timeout=_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise DataError(f"--scheduler {address}: cannot connect: {_one_line(exc)}") from None
    try:
        theirs = {v for v in client.run(_trajhmm_version).values()}
        if theirs - {__version__}:
            raise DataError(f"--scheduler {address}: the workers run trajhmm {', '.join(sorted(theirs))}, "
                            f"this client {__version__}: install the same version on both sides")
        logger.info("running tasks on the Dask cluster at %s", address)
        with parallel_config(backend="dask"):
            yield
    finally:
        client.close()


def _trajhmm_version():
    """Runs on each Dask worker: the trajhmm version it imports (or 'none')."""
    try:
        from trajhmm import __version__ as version
    except ImportError:
        return "none"
    return version


def _one_line(text):
    return " ".join(str(text).split())


def main(argv=None, *, stdout=None):
    """Run the command line; returns the exit code."""
    out = stdout or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command == "train":
        try:
            _estimator_from(args)._check_params()
        except (TypeError, ValueError) as exc:
            print(f"{parser.prog} train: error: {_one_line(exc)}", file=sys.stderr)
            return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("trajhmm: %(message)s"))
    root = logging.getLogger("trajhmm")
    level = logging.ERROR if args.quiet else (logging.INFO if args.verbose else logging.WARNING)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    old_showwarning = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if not args.quiet:
            print(f"trajhmm: warning: {_one_line(message)}", file=sys.stderr)

    warnings.showwarning = showwarning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = showwarning
            with _scheduler(getattr(args, "scheduler", None)):
                return _COMMANDS[args.command](args, out)
    except TrajHMMError as exc:
        print(f"trajhmm: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `trajhmm predict ... | head`: the reader is gone, not an error
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except OSError as exc:
        name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"trajhmm: error: {name}{_one_line(exc.strerror or exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("trajhmm: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = old_showwarning
        root.removeHandler(handler)
        root.setLevel(old_level)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def main_entry():
    """Console-script entry point."""
    sys.exit(main())

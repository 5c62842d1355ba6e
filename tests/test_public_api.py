import subprocess
import sys

import trajhmm


def test_all_is_pinned():
    assert sorted(trajhmm.__all__) == sorted([
        "__version__", "HMMClassifier",
        "HMMClassifierCV", "TrajectoryDataset", "read_trajectory",
        "load_trajectories", "list_trajectory_files", "load_table", "resample", "save_model",
        "load_model", "TrajHMMError", "DataError", "OptionError", "ModelFileError", "ParameterError",
        "ParameterTypeError", "ParameterValueError",
        "ModelVersionWarning", "ConvergenceWarning", "NotFittedError",
        "predict_files", "FilePrediction", "SkippedFile", "StreamClassifier", "Detection", "spot",
    ])
    for name in trajhmm.__all__:
        assert hasattr(trajhmm, name)


def test_import_has_no_side_effects():
    code = (
        "import logging, warnings, sklearn.cluster, scipy.io, hmmlearn.hmm, joblib; "
        "before = list(logging.getLogger().handlers); "
        "filters = list(warnings.filters); import trajhmm; "
        "[getattr(trajhmm, name) for name in trajhmm.__all__ + list(trajhmm._MODULES)]; "
        "assert logging.getLogger().handlers == before; "
        "assert warnings.filters == filters; "
        "assert not logging.getLogger('trajhmm').handlers; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_names_come_from_their_modules_on_first_use():
    """``import trajhmm`` loads no scientific library; each public name is its module's
    object; the exception names are exactly exceptions.__all__."""
    from trajhmm import exceptions

    code = "import sys, trajhmm; print(sorted(m for m in ('sklearn', 'hmmlearn', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
    for name, module in trajhmm._EXPORTS.items():
        assert getattr(trajhmm, name) is getattr(__import__(f"trajhmm.{module}", fromlist=["x"]), name)
    assert [n for n, m in trajhmm._EXPORTS.items() if m == "exceptions"] == exceptions.__all__
    assert set(trajhmm.__all__) <= set(dir(trajhmm)) and "streaming" in dir(trajhmm)
    assert trajhmm.streaming.spot is trajhmm.spot
    assert not hasattr(trajhmm, "no_such_name")


def test_ctrl_c_while_the_command_line_loads_is_one_line(monkeypatch, capsys):
    """Ctrl-C during the command line's imports: exit code 130 and one line, no traceback
    (the entry point imports the command line itself)."""
    from trajhmm import _console

    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(_console.importlib, "import_module", interrupted)
    monkeypatch.setattr(sys, "argv", ["trajhmm", "--version"])
    try:
        _console.main()
    except SystemExit as exc:
        assert exc.code == 130
    else:
        raise AssertionError("expected SystemExit")
    assert capsys.readouterr().err == "trajhmm: interrupted\n"
    monkeypatch.undo()
    monkeypatch.setattr(sys, "argv", ["trajhmm", "--version"])
    try:
        _console.main()
    except SystemExit as exc:
        assert exc.code == 0
    assert trajhmm.__version__ in capsys.readouterr().out


def test_ctrl_c_during_the_imports_of_a_real_process(tmp_path):
    """The same in a real process: SIGINT once numpy is imported (the command line's
    imports under way) ends ``python -m trajhmm train`` with 130 and one line."""
    import signal
    from pathlib import Path

    from trajhmm import _console, cli

    assert (_console._INTERRUPTED, _console._TERMINATED) == (cli.EXIT_INTERRUPTED, cli.EXIT_TERMINATED)
    # a command that runs for seconds: a signal that comes after the imports is answered alike
    data = Path(trajhmm.__file__).resolve().parent.parent / "sample_data"
    cmd = [sys.executable, "-X", "importtime", "-m", "trajhmm", "train", str(data), "-o", str(tmp_path / "m.npz"),
           "--no-search"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.rstrip().endswith("| numpy"):
            proc.send_signal(signal.SIGINT)
            break
    lines += proc.stderr.readlines()
    assert proc.wait(timeout=120) == 130
    own = [line for line in lines if not line.startswith("import time:")]
    assert own == ["trajhmm: interrupted\n"], own


def test_hmmlearn_is_imported_in_one_package_only():
    from pathlib import Path

    pkg = Path(trajhmm.__file__).parent
    importers = sorted(
        str(p.relative_to(pkg)) for p in pkg.rglob("*.py")
        if any(line.lstrip().startswith(("import hmmlearn", "from hmmlearn")) for line in p.read_text().splitlines())
    )
    # the trajhmm.hmm package imports it (persistence and cli only mention it in text);
    # its kernels are pure numpy
    assert importers and all(name.startswith("hmm/") for name in importers), importers
    assert "hmm/kernels.py" not in importers

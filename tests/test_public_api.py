import subprocess
import sys

import trajhmm


def test_all_is_pinned():
    assert sorted(trajhmm.__all__) == sorted([
        "__version__", "HMMClassifier",
        "HMMClassifierCV", "TrajectoryDataset", "read_trajectory",
        "load_trajectories", "list_trajectory_files", "load_table", "resample", "save_model",
        "load_model", "TrajHMMError", "DataError", "ModelFileError",
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
        "assert logging.getLogger().handlers == before; "
        "assert warnings.filters == filters; "
        "assert not logging.getLogger('trajhmm').handlers; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


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

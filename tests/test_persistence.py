import os
import subprocess
import sys

import joblib
import numpy as np
import pytest

from trajhmm import ModelFileError, ModelVersionWarning, load_model, persistence, save_model

from conftest import Marker, resign


def test_round_trip_gives_identical_predictions(fitted, dataset, tmp_path):
    X, _ = dataset
    path = tmp_path / "m.npz"
    save_model(fitted, path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict_joint_log_proba(X), fitted.predict_joint_log_proba(X))
    np.testing.assert_array_equal(loaded.predict_or_reject(X), fitted.predict_or_reject(X))
    np.testing.assert_array_equal(loaded.rejection_threshold_, fitted.rejection_threshold_)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    assert loaded.classes_.dtype == fitted.classes_.dtype
    np.testing.assert_array_equal(loaded.converged_, fitted.converged_)
    for a, b in zip(loaded.log_likelihood_history_, fitted.log_likelihood_history_):
        np.testing.assert_array_equal(a, b)
    # the loaded models are plain hmmlearn models
    assert type(loaded.models_[0]).__module__ == "hmmlearn.hmm"


def test_loaded_in_a_fresh_process(fitted, dataset, tmp_path):
    X, _ = dataset
    save_model(fitted, tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", np.stack([x[:60] for x in X[:5]]))
    code = (
        f"import numpy as np, trajhmm; m = trajhmm.load_model(r'{tmp_path / 'm.npz'}'); "
        f"x = np.load(r'{tmp_path / 'x.npy'}'); np.save(r'{tmp_path / 'p.npy'}', m.predict_proba(list(x)))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    expected = fitted.predict_proba(list(np.load(tmp_path / "x.npy")))
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), expected)


def test_every_flipped_byte_is_detected(fitted, tmp_path):
    path = tmp_path / "m.npz"
    save_model(fitted, path)
    data = path.read_bytes()
    bad = tmp_path / "bad.npz"
    step = max(1, len(data) // 3000)  # thousands of positions, header and payload included
    positions = sorted(set(range(0, len(data), step)) | set(range(48)) | {len(data) - 1})
    for i in positions:
        mutated = bytearray(data)
        mutated[i] ^= 0xFF
        bad.write_bytes(bytes(mutated))
        with pytest.raises(ModelFileError):
            load_model(bad)


def test_truncated_foreign_and_missing_files(fitted, tmp_path):
    path = tmp_path / "m.npz"
    save_model(fitted, path)
    data = path.read_bytes()
    for cut in (0, 5, 20, 47, 100, len(data) // 2, len(data) - 1):
        (tmp_path / "t").write_bytes(data[:cut])
        with pytest.raises(ModelFileError):
            load_model(tmp_path / "t")
    (tmp_path / "text").write_text("x,y,z\n1,2,3\n")
    with pytest.raises(ModelFileError, match="not a trajhmm model file"):
        load_model(tmp_path / "text")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ModelFileError, match="not a trajhmm model file"):
        load_model(tmp_path / "plain.npz")
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "nope")
    with pytest.raises(ModelFileError, match="got a directory"):
        load_model(tmp_path)


def _rewrite_meta(path, out, change):
    """Re-sign a model file after changing its metadata (what a newer trajhmm would write)."""
    out.write_bytes(path.read_bytes())
    resign(out, lambda arrays, meta: change(meta))


def test_newer_format_and_other_versions(fitted, tmp_path):
    path = tmp_path / "m.npz"
    save_model(fitted, path)
    _rewrite_meta(path, tmp_path / "new.npz", lambda m: m.update(format_version=99))
    with pytest.raises(ModelFileError, match="format 99 is newer than this trajhmm supports"):
        load_model(tmp_path / "new.npz")
    _rewrite_meta(path, tmp_path / "old.npz", lambda m: m["versions"].update(hmmlearn="0.0.1"))
    with pytest.warns(ModelVersionWarning, match="hmmlearn 0.0.1 \\(file\\)"):
        load_model(tmp_path / "old.npz")


def test_pickle_files_need_explicit_trust(fitted, dataset, tmp_path):
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.joblib"
    joblib.dump(Marker(str(marker)), evil)
    with pytest.raises(ModelFileError, match="pickle-based model file; loading it can run arbitrary code"):
        load_model(evil)
    assert not marker.exists()
    X, _ = dataset
    save_model(fitted, tmp_path / "m.joblib", format="pickle")
    with pytest.raises(ModelFileError, match="trusted=True"):
        load_model(tmp_path / "m.joblib")
    clf = load_model(tmp_path / "m.joblib", trusted=True)
    np.testing.assert_array_equal(clf.predict_proba(X), fitted.predict_proba(X))


def test_failed_write_keeps_the_old_file(fitted, tmp_path):
    path = tmp_path / "m.npz"
    save_model(fitted, path)
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt), persistence.atomic_write(path) as fh:
        fh.write(b"partial")
        raise KeyboardInterrupt
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]

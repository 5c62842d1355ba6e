"""Defects found by a user trial serving a saved model from a threaded web service: a
forked child hung, n_jobs=-1 sent every single prediction through joblib workers, and a
size-invariant model read overflowing input as a trajectory that does not move."""

import os

import numpy as np
import pytest

from trajhmm import HMMClassifier
from trajhmm.exceptions import DataError

from conftest import FAST


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_child_forked_while_a_thread_held_the_locks_predicts(fitted, dataset):
    from trajhmm import _parallel
    from trajhmm.hmm import stacked

    X, _ = dataset
    expected = fitted.predict(X)
    stacked._lock.acquire()  # as a thread of a pre-forking server's master, mid-predict
    _parallel._BLAS_LOCK.acquire()  # and mid-fit
    try:
        pid = os.fork()
        if pid == 0:  # the child: was a hang on the lock no thread of it holds
            import faulthandler

            faulthandler.dump_traceback_later(60, exit=True)
            ok = np.array_equal(fitted.predict(X), expected)
            with _parallel.one_blas_thread():
                pass
            os._exit(0 if ok else 3)
    finally:
        stacked._lock.release()
        _parallel._BLAS_LOCK.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("n_jobs", [-1, 2])
def test_one_chunk_is_scored_here_whatever_n_jobs(fitted, dataset, monkeypatch, n_jobs):
    from trajhmm import classifier

    X, _ = dataset
    clf = HMMClassifier(**{**FAST, "n_jobs": n_jobs}).fit(X, np.array([str(v) for v in fitted.predict(X)]))
    calls = []
    monkeypatch.setattr(classifier, "launch", lambda *a: calls.append(a) or [])
    clf.predict(X[:1])
    clf.predict_proba(X)
    assert calls == []  # was: every prediction through joblib workers (p50 1.3 ms -> 14-23 ms with n_jobs=-1)


def test_a_size_invariant_model_refuses_values_whose_spread_overflows(dataset, tmp_path):
    from trajhmm import predict_files

    X, y = dataset
    clf = HMMClassifier(**FAST, scaling="std", translation="start").fit(X, y)
    x = X[0]
    assert clf.predict([x * 1e50])[0] == clf.predict([x])[0]  # (size-invariant)
    # was: read as a trajectory that does not move, a confident class and no rejection
    with pytest.raises(DataError, match=r"^X\[1\]: expected values within 1e\+100 times the spread of the training "
                                        r"data, got .*e\+159: its spread overflows"):
        clf.predict([x, x * 1e160])
    np.savetxt(tmp_path / "huge.csv", x * 1e160, delimiter=",")
    with pytest.raises(DataError, match=r"huge\.csv: expected values within 1e\+100 times"):
        list(predict_files(clf, tmp_path))

"""Defects found by a user's trial of rejection, resumable caches and Dask (session 16):
the label of rejected trajectories, a cache folder whose parent is missing, a service
that is not a Dask scheduler, distributed's tracebacks."""

import contextlib
import logging

import numpy as np
import pytest

from trajhmm import DataError
from trajhmm._cluster import dask_backend
from trajhmm.exceptions import ParameterValueError

from conftest import FAST, cli


def test_the_label_of_rejected_trajectories_is_no_class(fitted, dataset):
    X, _ = dataset
    with pytest.raises(ParameterValueError, match=r"^unknown: expected a label that is no class of the model .*, got "
                                                  r"'wave', a class$"):
        fitted.predict_or_reject(X[:2], unknown="wave")
    assert set(fitted.predict_or_reject(X[:2], unknown="none of these")) <= {*fitted.classes_, "none of these"}


def test_cli_unknown_label_must_be_no_class_and_needs_reject(model_file, data_dir, capsys):
    code, out, err = cli(["predict", model_file, data_dir, "--reject", "--unknown-label", "wave"], capsys)
    assert code == 2 and not out
    assert err.strip().endswith("--unknown-label: expected a label that is no class of the model, got 'wave', a class "
                                "(rejected trajectories would read as that class)")
    assert err.count("\n") == 1
    code, out, err = cli(["predict", model_file, data_dir, "--unknown-label", "other"], capsys)
    assert code == 2 and not out
    assert err.strip().endswith("--unknown-label applies with --reject (the label of rejected trajectories)")


def test_a_cache_folder_whose_parent_is_missing_is_refused_and_nothing_is_made(tmp_path, dataset, data_dir, capsys):
    from trajhmm import HMMClassifier

    X, y = dataset
    with pytest.raises(DataError, match=r"cache_dir: expected a new or empty folder .*, but its folder .*no[/\\]deep does "
                                        "not exist"):
        HMMClassifier(**FAST).fit(X, y, cache_dir=tmp_path / "no" / "deep" / "c")
    code, _, err = cli(["train", data_dir, "-o", tmp_path / "m.npz", "--no-search", "--cache-dir",
                        tmp_path / "no" / "deep" / "c"], capsys)
    assert code == 2, err
    assert not (tmp_path / "no").exists() and not (tmp_path / "m.npz").exists()


class _FakeClient:
    """What dask_backend sees of a distributed Client, without a cluster."""

    status = "running"

    def __init__(self, address, timeout):
        if address.endswith(":8798"):  # a service that answers with other bytes
            raise MemoryError("Unable to allocate 3.07 EiB")

    def run(self, fn):
        return {"worker": fn()}

    def close(self):
        pass


def test_a_service_that_is_not_a_dask_scheduler_is_one_clear_line(model_file, tmp_path, monkeypatch, capsys):
    pytest.importorskip("distributed")
    monkeypatch.setattr("distributed.Client", _FakeClient)
    code, out, err = cli(["predict", model_file, tmp_path, "--scheduler", "tcp://127.0.0.1:8798"], capsys)
    assert code == 1 and not out
    assert err == ("trajhmm: error: --scheduler tcp://127.0.0.1:8798: cannot connect: what answers there is not a Dask "
                   "scheduler (check the address and port)\n")


def test_distributed_logs_nothing_below_critical_while_the_backend_runs(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("distributed.Client", _FakeClient)
    monkeypatch.setattr("joblib.parallel_config", lambda backend: contextlib.nullcontext())  # no client to run on
    before = logging.getLogger("distributed").level
    with dask_backend("tcp://127.0.0.1:1"):
        assert logging.getLogger("distributed").getEffectiveLevel() == logging.CRITICAL
        assert logging.getLogger("distributed.client").getEffectiveLevel() == logging.CRITICAL
    assert logging.getLogger("distributed").level == before


@pytest.mark.parametrize("rejection_rate", [0.0, 0.01])
@pytest.mark.parametrize("bad, match", [
    (lambda g: np.c_[g, g], r"^groups: expected a 1-D sequence of 32 group labels, got shape \(32, 2\)$"),
    (lambda g: [None] * len(g), r"^groups: missing group \(None or NaN\) at position 0 \(32 in all\)$"),
    (lambda g: g[:-1], r"^groups: expected 32 group labels \(one per trajectory\), got 31$"),
    (lambda g: np.array([1] * 16 + ["a"] * 16, dtype=object), r"^groups: expected group labels of one kind"),
])
def test_bad_groups_are_data_errors_naming_groups(dataset, bad, match, rejection_rate):
    from trajhmm import HMMClassifier

    X, y = dataset
    groups = np.arange(len(y)) % 4
    with pytest.raises(DataError, match=match):
        HMMClassifier(**FAST, rejection_rate=rejection_rate).fit(X, y, groups=bad(groups))


def test_too_few_groups_for_the_folds_says_what_to_change(dataset):
    from trajhmm import HMMClassifier, HMMClassifierCV

    X, y = dataset
    search = HMMClassifierCV(HMMClassifier(**{k: v for k, v in FAST.items() if k != "random_state"}), {}, cv=3)
    with pytest.raises(DataError, match=r"^groups: 3 folds need at least 3 groups, got 2; use fewer folds \(cv=, --cv\) "
                                        "or more groups$"):
        search.fit(X, y, groups=np.arange(len(y)) % 2)


@pytest.mark.parametrize("value", ["-1e9", "-2E+3", "-.5", "-0.5", "-3"])
def test_a_negative_number_in_any_notation_is_a_value_not_a_flag(value):
    from trajhmm.cli import build_parser

    args = build_parser().parse_args(["spot", "m.npz", "r.csv", "--threshold", value])
    assert args.threshold == float(value)
    with pytest.raises(SystemExit):  # a flag still is one
        build_parser().parse_args(["spot", "m.npz", "r.csv", "--threshold", "-x"])

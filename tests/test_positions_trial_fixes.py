"""Defects found by a MATLAB user moving 3-D position data to trajhmm (session 17's
trial): each test failed on the code before its fix."""

import numpy as np
import pytest
from scipy.io import savemat

from trajhmm import DataError, HMMClassifier
from trajhmm.model_selection import _fit_held_out

from conftest import FAST, FLAGS, cli, write_folder

QUICK = [*FLAGS, "--rejection-rate", "0", "--prefix-view", "false"]


@pytest.mark.parametrize("command", ["train", "tune", "predict", "evaluate", "plot"])
@pytest.mark.parametrize("suffix", ["", "/."])
def test_an_output_that_is_the_input_folder_itself_is_a_usage_error(command, suffix, data_dir, model_file, capsys):
    out = f"{data_dir}{suffix}"
    argv = {"train": ["train", data_dir, "-o", out, "--no-search"], "tune": ["tune", data_dir, "-o", out],
            "predict": ["predict", model_file, data_dir, "--output", out],
            "evaluate": ["evaluate", model_file, data_dir, "--report", out],
            "plot": ["plot", "confusion", model_file, data_dir, "-o", out]}[command]
    code, _, err = cli(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "expected a file other than the inputs" in err


def test_a_variable_stored_for_mat_files_does_not_stop_evaluating_text_files(tmp_path, dataset, capsys):
    X, y = dataset
    for i, (x, label) in enumerate(zip(X, y)):
        (tmp_path / "mat" / label).mkdir(parents=True, exist_ok=True)
        savemat(tmp_path / "mat" / label / f"{i}.mat", {"pos": x, "vel": np.diff(x, axis=0)})
    write_folder(tmp_path / "csv", X, y)
    model = tmp_path / "m.npz"
    code, _, err = cli(["train", tmp_path / "mat", "-o", model, "--variable", "pos", "--no-search", *QUICK], capsys)
    assert code == 0, err
    for argv in (["evaluate", model, tmp_path / "csv"], ["plot", "confusion", model, tmp_path / "csv", "-o",
                                                         tmp_path / "c.png"]):
        code, out, err = cli(argv, capsys)
        assert code == 0, err
    code, out, err = cli(["evaluate", model, tmp_path / "mat"], capsys)  # still read with the stored variable
    assert code == 0 and f"({len(X)}/{len(X)} trajectories)" in out, err
    code, _, err = cli(["evaluate", model, tmp_path / "csv", "--variable", "pos"], capsys)  # given: still refused
    assert code == 2 and "this folder tree holds none" in err


def test_test_size_with_groups_holds_out_whole_groups(dataset):
    X, y = dataset
    groups = np.arange(len(y)) % 8  # 8 subjects, each of every class
    calls = []

    class Recorder(HMMClassifier):
        def fit(self, X, y, groups=None, **kwargs):
            calls.append(groups)
            return super().fit(X, y, groups, **kwargs)

    n_train, (accuracy, n_test) = _fit_held_out(Recorder(**FAST, rejection_rate=0, prefix_view=False), X, y, 0.25,
                                                groups=groups)
    train_groups = set(calls[0].tolist())
    assert n_train + n_test == len(y) and len(train_groups) == 6 and 0 <= accuracy <= 1  # 2 of 8 groups held out
    with pytest.raises(DataError, match=r"as whole groups: the 4 parts this takes need at least 4 groups, got 3"):
        _fit_held_out(HMMClassifier(**FAST), X, y, 0.25, groups=np.arange(len(y)) % 3)


def test_cli_train_on_a_table_with_groups_says_the_folds_keep_them_apart(dataset, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    X, y = dataset
    rows = [pd.DataFrame({"id": i, "label": lb, "subject": f"s{i % 8}", "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]})
            for i, (x, lb) in enumerate(zip(X, y))]
    pd.concat(rows).to_csv(tmp_path / "t.csv", index=False)
    code, out, err = cli(["train", tmp_path / "t.csv", "-o", tmp_path / "m.npz", "--id-column", "id", "--label-column",
                          "label", "--group-column", "subject", "--test-size", "0.25", "--cv", "2", *QUICK], capsys)
    assert code == 0, err
    assert "2-fold stratified cross-validation keeping groups apart" in out
    assert "trajectories of held-out groups)" in out


def test_tune_refuses_a_value_given_twice(data_dir, tmp_path, capsys):
    code, _, err = cli(["tune", data_dir, "-o", tmp_path / "m.npz", "--n-states", "3", "3"], capsys)
    assert code == 2 and err.strip() == "trajhmm tune: error: argument --n-states: expected each value once, got 3 twice"


def test_the_search_table_shows_no_spread_for_a_candidate_of_one_fold(data_dir, tmp_path, capsys):
    code, out, err = cli(["tune", data_dir, "-o", tmp_path / "m.npz", "--n-states", "2", "3", "4", "5", "--n-points",
                          "20", "--n-iter", "20", "--cv", "2", "--no-ensemble"], capsys)
    assert code == 0, err
    rows = [r for r in map(str.split, out.splitlines()) if len(r) > 4 and r[0].isdigit() and r[1].startswith(("0.", "1."))]
    assert {r[3] for r in rows} == {"1", "2"}  # successive halving: some candidates saw one fold
    assert all((r[2] == "-") == (r[3] == "1") for r in rows)


def test_plot_states_of_an_unknown_class_names_the_model_file(model_file, tmp_path, capsys):
    code, _, err = cli(["plot", "states", model_file, "nosuch", "-o", tmp_path / "s.png"], capsys)
    assert code == 1 and err.startswith(f"trajhmm: error: {model_file}: class 'nosuch': not in the model")


def test_a_name_for_a_file_without_header_gets_an_example_of_its_own_positions(tmp_path):
    from trajhmm import read_trajectory

    np.savetxt(tmp_path / "a.csv", np.zeros((5, 3)), delimiter=",")
    with pytest.raises(DataError, match=r"pass positions 0 to 2 \(e\.g\. columns=\[0, 1, 2\] / --columns 0,1,2\)"):
        read_trajectory(tmp_path / "a.csv", columns=["x"])


def test_the_class_models_do_not_depend_on_the_order_of_the_training_data(dataset):
    """README: only the folds (the search's choice, the open-set threshold) follow the
    order of the trajectories, as scikit-learn's do; the class models do not."""
    X, y = dataset
    order = np.random.RandomState(1).permutation(len(y))
    a = HMMClassifier(**FAST, prefix_view=False).fit(X, y)
    b = HMMClassifier(**FAST, prefix_view=False).fit([X[i] for i in order], y[order])
    np.testing.assert_allclose(a.predict_joint_log_proba(X), b.predict_joint_log_proba(X), rtol=1e-9)


def test_grouped_test_sizes_above_a_half_hold_out_all_parts_but_one_and_errors_say_it_once(dataset):
    from trajhmm.model_selection import _groups_held_out

    _, y = dataset
    groups = np.arange(len(y)) % 8
    for test_size, expected in ((0.25, 0.25), (0.5, 0.5), (0.75, 0.75), (0.875, 0.875)):
        train, test = _groups_held_out(y, groups, test_size, 0, "DATA")
        assert len(test) / len(y) == expected and not set(groups[train]) & set(groups[test])
    with pytest.raises(DataError) as info:
        _fit_held_out(HMMClassifier(**FAST), *dataset, 0.1, groups=groups % 3, source="DATA")
    assert str(info.value).count("cannot hold out") == 1


def test_table_predictions_name_their_column_and_key_id(dataset, tmp_path, capsys):
    import json

    pd = pytest.importorskip("pandas")
    X, y = dataset
    rows = [pd.DataFrame({"trial": i, "label": lb, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]})
            for i, (x, lb) in enumerate(zip(X, y))]
    pd.concat(rows).to_csv(tmp_path / "t.csv", index=False)
    code, _, err = cli(["train", tmp_path / "t.csv", "-o", tmp_path / "m.npz", "--id-column", "trial", "--label-column",
                        "label", "--no-search", *QUICK], capsys)
    assert code == 0, err
    code, out, err = cli(["predict", tmp_path / "m.npz", tmp_path / "t.csv", "--id-column", "trial", "--format", "csv"],
                         capsys)
    assert code == 0 and out.splitlines()[0] == "id,label,margin" and out.splitlines()[1].startswith("0,"), err
    code, out, _ = cli(["predict", tmp_path / "m.npz", tmp_path / "t.csv", "--id-column", "trial", "--format", "json"],
                       capsys)
    assert json.loads(out.splitlines()[0])["id"] == "0"

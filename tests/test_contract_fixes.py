"""Defects found by a scikit-learn user's trial (session 16): the estimator contract
(tags, cv forms, ranks, label and parameter checks), saving a search without a grid,
evaluate's macro F1 and numeric labels, the plot legend."""

import warnings

import numpy as np
import pytest
import sklearn.utils
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from trajhmm import DataError, HMMClassifier, HMMClassifierCV, load_model, save_model
from trajhmm.exceptions import ParameterTypeError, ParameterValueError
from trajhmm.metrics import evaluation_report

from conftest import FAST, FLAGS, cli, write_folder

SMALL = {k: v for k, v in FAST.items() if k != "random_state"}


def test_a_search_without_a_grid_fits_saves_and_loads(tmp_path, dataset):
    X, y = dataset
    for i, grid in enumerate(({}, [{}], [])):
        search = HMMClassifierCV(HMMClassifier(**SMALL), grid, random_state=0, ensemble=False).fit(X, y)
        assert len(search.cv_results_["params"]) == 1
        save_model(search, tmp_path / f"s{i}.npz")
        np.testing.assert_allclose(load_model(tmp_path / f"s{i}.npz").predict_proba(X), search.predict_proba(X))


def test_tune_with_one_value_per_flag_saves_its_model(tmp_path, data_dir, capsys):
    code, out, err = cli(["tune", data_dir, "-o", tmp_path / "t.npz", "--n-jobs", "1", *FLAGS], capsys)
    assert code == 0, err
    assert load_model(tmp_path / "t.npz").best_params_ == {}


@pytest.mark.skipif(not hasattr(sklearn.utils, "get_tags"), reason="estimator tags: scikit-learn >= 1.6")
@pytest.mark.parametrize("estimator", [HMMClassifier(), HMMClassifierCV()])
def test_tags_say_trajectories_and_check_estimator_runs(estimator):
    from sklearn.utils.estimator_checks import check_estimator

    tags = sklearn.utils.get_tags(estimator)
    assert (tags.input_tags.two_d_array, tags.input_tags.three_d_array) == (False, True)
    assert tags.transformer_tags is not None and tags.estimator_type == "classifier"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Can't test estimator ... which requires input of type ..."
        check_estimator(estimator, on_fail=None)  # raised before the tags were declared


def test_ranks_are_the_search_order_with_the_chosen_candidate_first(dataset):
    X, y = dataset
    search = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2, 3, 4, 5]}, random_state=0, ensemble=False)
    search.fit(X, y)
    rank = search.cv_results_["rank_test_score"]
    assert (search.cv_results_["mean_test_score"] == 1.0).sum() > 1  # accuracy ties (all were rank 1)
    assert sorted(rank) == list(range(1, len(rank) + 1))
    assert rank.argmin() == search.best_index_


def test_cv_takes_none_and_an_iterable_of_splits(dataset):
    X, y = dataset
    splitter = StratifiedKFold(3, shuffle=True, random_state=0)
    base = HMMClassifierCV(HMMClassifier(**SMALL), {"n_states": [2, 3]}, random_state=0, ensemble=False)
    by_splitter = base.set_params(cv=splitter).fit(X, y).cv_results_["mean_test_score"]
    splits = list(splitter.split(np.zeros(len(y)), y))
    np.testing.assert_array_equal(base.set_params(cv=splits).fit(X, y).cv_results_["mean_test_score"], by_splitter)
    np.testing.assert_array_equal(base.set_params(cv=iter(splits)).fit(X, y).cv_results_["mean_test_score"], by_splitter)
    assert base.set_params(cv=None).fit(X, y).n_splits_ == 3
    for bad, match in (([(splits[0][0], splits[0][0])], "apart from its training part"),
                       ([(np.arange(5), np.array([len(y)]))], rf"integer indices in \[0, {len(y)}\)"),
                       ([], "at least one"), ([(1, 2, 3)], r"\(train, test\) pairs")):
        with pytest.raises(ParameterValueError, match="^cv: expected .*" + match) as info:
            base.set_params(cv=bad).fit(X, y)
        assert len(str(info.value)) < 250  # the folds are not printed whole
    with pytest.raises(ParameterTypeError, match=r"^cv: expected .*, got 2\.5$"):
        base.set_params(cv=2.5).fit(X, y)


@pytest.mark.parametrize("priors, error", [({"a": 1}, ParameterTypeError), (["a", "b", "c", "d"], ParameterTypeError),
                                           ([1, 1], ParameterValueError), ([1, 1, 1, -1], ParameterValueError)])
def test_bad_priors_are_parameter_errors_naming_priors(dataset, priors, error):
    X, y = dataset
    with pytest.raises(error, match="^priors: expected 'uniform', 'empirical' or 4 positive numbers"):
        HMMClassifier(priors=priors, **FAST).fit(X, y)


def test_save_model_refuses_bad_arguments_as_parameter_errors(tmp_path, fitted):
    with pytest.raises(ParameterValueError, match="^format: expected 'npz' or 'pickle', got 'json'$"):
        save_model(fitted, tmp_path / "m.npz", format="json")
    with pytest.raises(ParameterTypeError, match="^clf: expected a fitted HMMClassifier or HMMClassifierCV, got str$"):
        save_model("x", tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("y, match", [
    (None, "^y: expected 32 labels"),
    (np.linspace(0, 1, 32), r"^y: expected class labels, got continuous values \(0\.03225806451612903 at position 1\)"),
    (np.ones((32, 2)), r"^y: expected a 1-D sequence of 32 labels, got shape \(32, 2\)"),
])
def test_labels_that_are_not_classes_are_data_errors(dataset, y, match):
    with pytest.raises(DataError, match=match):
        HMMClassifier(**FAST).fit(dataset[0], y)


def test_whole_number_float_labels_are_classes(dataset):
    X, y = dataset
    floats = np.unique(y, return_inverse=True)[1].astype(float)
    assert HMMClassifier(**FAST).fit(X, floats).classes_.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_complex_trajectories_are_refused(dataset):
    X, y = dataset
    with pytest.raises(DataError, match=r"^X\[2\]: expected real numbers \(n_points, n_dims\), got complex values$"):
        HMMClassifier(**FAST).fit(X[:2] + [X[2] + 1j] + X[3:], y)


def test_macro_f1_averages_the_labels_that_occur():
    report = evaluation_report(["a", "a", "b"], ["a", "b", "b"], labels=["a", "b", "c", "d"])
    assert report["macro_f1"] == pytest.approx(f1_score(["a", "a", "b"], ["a", "b", "b"], average="macro"))
    assert set(report["per_class"]) == {"a", "b", "c", "d"}  # still listed


def test_a_model_with_numeric_labels_is_evaluated_from_folders(tmp_path, dataset, capsys):
    X, y = dataset
    numbers = np.unique(y, return_inverse=True)[1] + 1
    model = tmp_path / "m.npz"
    save_model(HMMClassifier(**FAST).fit(X, numbers), model)
    write_folder(tmp_path / "data", X, numbers)
    code, out, err = cli(["evaluate", model, tmp_path / "data"], capsys)
    assert code == 0, err
    assert out.startswith("accuracy: 1.0000 (32/32 trajectories)")
    save_model(HMMClassifier(**FAST).fit(X, numbers.astype(float)), model)  # classes 1.0, 2.0, ...: by value
    code, out, err = cli(["evaluate", model, tmp_path / "data"], capsys)
    assert code == 0 and out.startswith("accuracy: 1.0000 (32/32 trajectories)"), err


def test_the_legend_names_a_class_whose_first_trajectory_is_wrong():
    pytest.importorskip("matplotlib")
    from trajhmm.plotting import plot_trajectories

    t = np.linspace(0, 1, 20)[:, None]
    fig = plot_trajectories([np.hstack([t, t]), np.hstack([t, 1.1 * t]), np.hstack([t, -t])], ["up", "up", "down"],
                            predicted=["down", "up", "down"])
    assert sorted(x.get_text() for x in fig.axes[0].get_legend().get_texts()) == ["down", "up"]


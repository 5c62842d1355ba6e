"""Streams and prefixes (trajhmm.streaming) on tiny models of the synthetic data."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from trajhmm import HMMClassifier, load_model, save_model
from trajhmm.exceptions import ConvergenceWarning, DataError, ModelFileError
from trajhmm.persistence import model_metadata
from trajhmm.preprocessing import resample
from trajhmm.streaming import (
    Detection,
    StreamClassifier,
    _Model,
    length_quantiles,
    predict_prefix,
    prefix_log_proba,
    prefix_proba,
    spot,
)

from conftest import FAST, as_format, cli, make_sample_data, resign


def _iou(a, b):
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


@pytest.fixture(scope="module")
def split(dataset):
    """6 trajectories per class to train on, 2 held out for streams and prefixes."""
    X, y = dataset
    train, held = [], []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        train += idx[:6].tolist()
        held += idx[6:].tolist()
    return [X[i] for i in train], y[train], [X[i] for i in held], y[held]


@pytest.fixture(scope="module")
def model(split):
    X, y, _, _ = split
    clf = HMMClassifier(**FAST, rejection_rate=0).fit(X, y)
    return clf


def _pause(rng, where, n):
    """The hand at rest at ``where``: n samples of small noise around it."""
    return where + 0.005 * rng.standard_normal((n, len(where)))


def _stream(gestures, rng, gaps=(40, 60)):
    """Gestures laid end to end, pauses between (held at the previous point); returns the
    stream and the true intervals."""
    parts, truth, t = [], [], 0
    where = np.zeros(gestures[0][0].shape[1])
    for x, label in gestures:
        p = _pause(rng, where, int(rng.integers(*gaps)))
        parts.append(p)
        t += len(p)
        parts.append(x)
        truth.append((t, t + len(x), label))
        t += len(x)
        where = x[-1]
    parts.append(_pause(rng, where, 50))
    return np.vstack(parts), truth


@pytest.fixture(scope="module")
def three(split):
    _, _, Xh, yh = split
    rng = np.random.default_rng(3)
    picks = [0, 3, 5]  # three different classes among the held-out trajectories
    assert len({yh[i] for i in picks}) == 3
    return _stream([(Xh[i], yh[i]) for i in picks], rng)


def test_length_quantiles():
    X = [np.zeros((n, 2)) for n in (10, 20, 30, 5, 7)]
    q = length_quantiles(X, [0, 0, 0, 1, 1], 3)
    assert q.shape == (3, 5)
    np.testing.assert_allclose(q[0], np.quantile([10, 20, 30], [0, 0.05, 0.5, 0.95, 1]))
    np.testing.assert_allclose(q[1, [0, 2, 4]], [5, 6, 7])
    assert np.isnan(q[2]).all()
    with pytest.raises(DataError, match="expected 5 class indices"):
        length_quantiles(X, [0, 1], 2)


def test_spots_three_gestures_with_pauses(model, three):
    stream, truth = three
    found = spot(model, stream)
    assert len(found) == 3
    for d, (s, e, label) in zip(found, truth):
        assert isinstance(d, Detection)
        assert d.label == label
        assert _iou((d.start, d.end), (s, e)) >= 0.5  # the hit criterion of the streams protocol
        assert isinstance(d.start, int) and isinstance(d.end, int) and isinstance(d.score, float)


def test_push_one_by_one_equals_spot(model, three):
    stream, _ = three
    expected = spot(model, stream)
    sc = StreamClassifier(model)
    got = []
    for point in stream:
        got += sc.push(point)
    got += sc.flush()
    assert sorted(got, key=lambda d: (d.start, d.end)) == expected
    # any chunking gives the same too
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, len(stream)), size=15, replace=False))
    got = []
    for chunk in np.split(stream, cuts):
        got += sc.push(chunk)
    got += sc.flush()
    assert sorted(got, key=lambda d: (d.start, d.end)) == expected


def test_decisions_are_made_within_the_delay_bound_and_memory_is_bounded(model, three):
    stream, _ = three
    rng = np.random.default_rng(4)
    sc = StreamClassifier(model)
    stream = np.vstack([stream, _pause(rng, stream[-1], sc.delay_bound)])
    found = []
    for i, point in enumerate(stream):
        for d in sc.push(point):
            assert i + 1 - d.end <= sc.delay_bound
            found.append(d)
        assert len(sc._buf) <= sc.max_length + sc.block * sc.step + 1
    assert len(found) == 3
    assert sc.flush() == []  # every gesture was decided within delay_bound of its end


def _chain(model, *candidates):
    """A stream classifier holding the given candidates (start, end, class, score), at the
    point where the first one (end 60) has waited its ``max_length`` samples."""
    sc = StreamClassifier(model)
    sc._pending = np.array(candidates, dtype=float)
    sc._next_end = 60 + 2 * sc.max_length  # horizon 60 + L: windows ending later are not settled
    return sc


def test_a_candidate_blocked_by_one_that_loses_is_kept(model):
    """Best first over a chain: C beats B, B beats A; B overlaps both, A and C do not meet.
    C is not settled (windows that could beat it are not scored yet), so B waits and A is
    blocked; when A's time is up it is decided by the same rule: B loses to C, A is kept
    (it was dropped: a true gesture lost behind a window that never won)."""
    L = StreamClassifier(model).max_length
    a, b, c = (0, 60, 0, -2.0), (50, 60 + L, 1, -0.5), (55 + L, 120 + L, 2, -0.2)
    sc = _chain(model, a, b, c)
    assert [(d.start, d.end, d.label) for d in sc._decide()] == [(0, 60, sc.classes_[0])]
    assert sc._pending.tolist() == [list(c)]  # B overlapped A: removed with it
    assert [(d.start, d.end) for d in sc._decide(final=True)] == [(55 + L, 120 + L)]


def test_a_candidate_blocked_by_one_that_wins_is_dropped(model):
    """A chain of four: D beats C, C beats B, B beats A. Best first keeps D and B, so A is
    dropped when its time is up, and B still waits for C and D."""
    L = StreamClassifier(model).max_length
    chain = [(0, 60, 0, -3.0), (50, 60 + L, 1, -2.0), (55 + L, 110 + L, 2, -1.0), (105 + L, 170 + L, 0, -0.1)]
    sc = _chain(model, *chain)
    assert sc._decide() == []
    assert sc._pending.tolist() == [list(c) for c in chain[1:]]
    assert [(d.start, d.end) for d in sc._decide(final=True)] == [(50, 60 + L), (105 + L, 170 + L)]


def test_filler_only_gives_no_detection(model, split):
    rng = np.random.default_rng(1)
    with pytest.warns(UserWarning, match="stream: nothing in it moves even half as much as the least moving training "
                                         "trajectory, so nothing can be detected: a recording at rest"):
        assert spot(model, _pause(rng, np.zeros(3), 600)) == []
    # slow smooth wandering, the amplitude of the data
    X, _, _, _ = split
    scale = np.vstack(X).std(axis=0)
    walk = np.cumsum(rng.standard_normal((600, 3)), axis=0)
    walk = np.apply_along_axis(lambda c: np.convolve(c, np.ones(25) / 25, mode="same"), 0, walk)
    walk = (walk - walk.mean(axis=0)) / walk.std(axis=0) * scale
    assert spot(model, walk) == []


def test_current_during_a_gesture_returns_its_class(model, split):
    _, _, Xh, yh = split
    rng = np.random.default_rng(2)
    sc = StreamClassifier(model)
    for x, label in zip(Xh[::2], yh[::2]):
        sc.reset()
        sc.push(_pause(rng, np.zeros(3), 40))
        sc.push(x[: int(0.6 * len(x))])
        guess = sc.current()
        assert guess is not None and guess.label == label
        assert list(guess.proba) == list(model.classes_)
        assert sum(guess.proba.values()) == pytest.approx(1.0)
        assert max(guess.proba, key=guess.proba.get) == label
    sc.reset()
    assert sc.current() is None


@pytest.fixture(scope="module")
def ten():
    """All 10 synthetic classes (some share their beginnings: hooks, helices), 8 trajectories
    each to train on, 4 held out."""
    X, y = make_sample_data.make_dataset(per_class=12, seed=4, n_points=101)
    y = np.array(y)
    train = np.arange(len(y)) % 12 < 8
    Xt = [x for x, t in zip(X, train) if t]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = HMMClassifier(**FAST, rejection_rate=0).fit(Xt, y[train])
    return clf, [x for x, t in zip(X, train) if not t], y[~train]


def test_prefixes_beat_the_naive_rule(ten):
    model, Xh, yh = ten
    halves = [x[: len(x) // 2] for x in Xh]
    ours = np.mean(predict_prefix(model, halves) == yh)
    naive = np.mean(model.predict(halves) == yh)
    assert ours > naive
    assert ours >= 0.95
    quarters = [x[: len(x) // 4] for x in Xh]
    assert np.mean(predict_prefix(model, quarters) == yh) > np.mean(model.predict(quarters) == yh)
    lp = prefix_log_proba(model, halves)
    assert lp.shape == (len(halves), len(model.classes_))
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0)
    np.testing.assert_allclose(prefix_proba(model, halves), np.exp(lp))
    np.testing.assert_array_equal(model.classes_[lp.argmax(axis=1)], predict_prefix(model, halves))
    # whole trajectories: as good as predict
    assert np.mean(predict_prefix(model, Xh) == yh) >= np.mean(model.predict(Xh) == yh)


def test_each_class_weighs_its_prefix_evidence_by_the_points_it_saw(ten):
    """joint_c = sqrt(n_points * k_c) * r_c + log prior, k_c the points class c reads the
    prefix at (its own density), r_c its per-point ratio to the reference there; with a
    prefix view, the mean of that evidence under the class models and under the view."""
    model, Xh, _ = ten
    N = model.n_points
    halves = [x[: len(x) // 2] for x in Xh[::5]]

    def evidence(clf, p):
        m = _Model(clf)
        k = np.clip(np.rint(N * np.minimum(1.0, len(p) / m.quantiles[:, 2])).astype(int), 2, N)
        assert (k < N).all()  # the weight differs from a whole trajectory's
        r = [m.ratios(resample(p, kc, clf.resample)[None], whole=False)[0, c] for c, kc in enumerate(k)]
        return np.sqrt(N * k) * np.array(r)

    assert model.prefix_model_.derivatives == model.derivatives + 1
    prior = np.log(model.class_prior_)
    expected = np.array([(evidence(model, p) + evidence(model.prefix_model_, p)) / 2 + prior for p in halves])
    expected -= np.log(np.exp(expected).sum(axis=1))[:, None]
    np.testing.assert_allclose(prefix_log_proba(model, halves), expected, rtol=1e-7, atol=1e-9)


def test_prefix_view_off_after_fit_reads_the_class_models_alone(split, tmp_path):
    """set_params(prefix_view=False) on a fitted model: prefixes read the class models
    alone, and the model file holds no view (a file holds one only where it is read)."""
    X, y, Xh, _ = split
    clf = HMMClassifier(**FAST, rejection_rate=0).fit(X, y)
    halves = [x[: len(x) // 2] for x in Xh]
    with_view = clf.predict_prefix_log_proba(halves)
    clf.set_params(prefix_view=False)
    alone = clf.predict_prefix_log_proba(halves)
    assert not np.allclose(alone, with_view)
    save_model(clf, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert not hasattr(loaded, "prefix_model_") and not any(k.startswith("prefix") for k in model_metadata(
        tmp_path / "m.npz")["arrays"])
    np.testing.assert_allclose(loaded.predict_prefix_log_proba(halves), alone, rtol=1e-12)
    clf.set_params(prefix_view=True)
    np.testing.assert_array_equal(clf.predict_prefix_log_proba(halves), with_view)


class _WithExtra(HMMClassifier):
    """A subclass with a parameter of its own (and some of HMMClassifier's)."""

    def __init__(self, n_states=12, n_points=50, n_iter=100, tol=1e-3, rejection_rate=0.01, random_state=None,
                 extra=1):
        super().__init__(n_states=n_states, n_points=n_points, n_iter=n_iter, tol=tol, rejection_rate=rejection_rate,
                         random_state=random_state)
        self.extra = extra


def test_the_prefix_view_is_a_plain_classifier_and_says_its_own_warnings(split):
    X, y, _, _ = split
    with pytest.warns(ConvergenceWarning) as caught:
        clf = _WithExtra(extra=2, **{**FAST, "n_iter": 1}, rejection_rate=0).fit(X, y)
    assert type(clf.prefix_model_) is HMMClassifier and clf.prefix_model_.derivatives == 2
    said = [str(w.message) for w in caught]
    assert any(m.startswith("prefix view (derivatives=2): EM for class") for m in said)
    assert any(m.startswith("EM for class") for m in said)  # the class models' own
    assert all(w.filename == __file__ for w in caught)  # each points at the caller of fit


def test_a_prefix_view_that_cannot_be_fitted_is_left_out_with_a_warning(split, monkeypatch):
    """The view's data refused (say, second differences below the scales fit accepts):
    the model is kept, its prefixes read the class models alone."""
    X, y, Xh, _ = split
    real = HMMClassifier._fit

    def view_refused(self, *args, **kwargs):
        if not self.prefix_view and self.derivatives == 2:
            raise DataError("X: the training data's values are too small")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(HMMClassifier, "_fit", view_refused)
    with pytest.warns(UserWarning, match=r"prefix_view: the second set of class models could not be fitted \(X: the "
                                         r"training data's values are too small\); prefixes read the class models alone"):
        clf = HMMClassifier(**FAST, rejection_rate=0).fit(X, y)
    assert clf.prefix_view and not hasattr(clf, "prefix_model_")
    plain = HMMClassifier(**FAST, rejection_rate=0, prefix_view=False).fit(X, y)
    halves = [x[: len(x) // 2] for x in Xh]
    np.testing.assert_array_equal(clf.predict_prefix_log_proba(halves), plain.predict_prefix_log_proba(halves))


def test_model_without_training_durations_needs_a_retrain(split, tmp_path):
    X, y, Xh, _ = split
    clf = HMMClassifier(**FAST, rejection_rate=0).fit(X, y)
    np.testing.assert_array_equal(clf.class_length_quantiles_,  # fit keeps the durations
                                  length_quantiles(X, np.unique(y, return_inverse=True)[1], len(clf.classes_)))
    # a model file of format 4 (before streams) loads and predicts, and says streams need a retrain
    save_model(clf, tmp_path / "m.npz")

    resign(tmp_path / "m.npz", as_format(4))
    old = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(old.predict(Xh), clf.predict(Xh))
    with pytest.raises(ModelFileError, match=r"fit it again \(retrain\)"):
        old.predict_prefix(Xh)
    save_model(clf, tmp_path / "m.npz")  # format 5 and later hold them, validated
    for bad, message in ((np.zeros((1, 5)), "expected shape"), (np.full((len(clf.classes_), 5), 1.0), "at least 2"),
                         (np.tile([50.0, 40, 60, 70, 80], (len(clf.classes_), 1)), "non-decreasing")):
        resign(tmp_path / "m.npz", lambda arrays, meta, bad=bad: arrays.update(class_length_quantiles_=bad))
        with pytest.raises(ModelFileError, match=f"class_length_quantiles_: .*{message}"):
            load_model(tmp_path / "m.npz")
    del clf.class_length_quantiles_  # fitted by a version without streams
    for call in (lambda: StreamClassifier(clf), lambda: spot(clf, np.zeros((10, 3))),
                 lambda: prefix_log_proba(clf, Xh), lambda: predict_prefix(clf, Xh)):
        with pytest.raises(ModelFileError, match=r"class_length_quantiles_.*fit it again \(retrain\)"):
            call()


def test_input_shape_errors_name_what_was_expected_and_found(model):
    sc = StreamClassifier(model)
    with pytest.raises(DataError, match=r"points: expected one point \(3,\) or many \(k, 3\).*got shape \(2,\)"):
        sc.push([1.0, 2.0])
    with pytest.raises(DataError, match=r"got shape \(5, 4\)"):
        sc.push(np.zeros((5, 4)))
    with pytest.raises(DataError, match=r"^points: expected finite numbers, got \[1.0, nan, 0.0\]$"):
        sc.push([1.0, np.nan, 0.0])  # one point: no index ("at point 0" read as the stream's first)
    with pytest.raises(DataError, match=r"^points: expected finite numbers, got \[1.0, nan, 0.0\] at point 1 of the 2 "
                                        r"given$"):
        sc.push([[0.0, 0.0, 0.0], [1.0, np.nan, 0.0]])
    with pytest.raises(DataError, match=r"stream: expected .*\(k, 3\).*got shape \(10, 2\)"):
        spot(model, np.zeros((10, 2)))
    with pytest.raises(DataError, match=r"X\[0\]: expected 3 dims like the model's training data, got 2"):
        prefix_log_proba(model, [np.zeros((10, 2))])
    assert sc.push(np.zeros((0, 3))) == []


def test_parameters_are_checked(model):
    with pytest.raises(ValueError, match="length_ratio"):
        StreamClassifier(model, length_ratio=1.0)
    with pytest.raises(ValueError, match="duration_slack"):
        StreamClassifier(model, duration_slack=1.5)
    with pytest.raises(ValueError, match="step"):
        StreamClassifier(model, step=0)


def test_a_model_with_time_stamps_is_refused(model):
    import copy

    timed = copy.deepcopy(model)
    timed.time_column = 0
    with pytest.raises(DataError, match="time_column=0: streams and prefixes take evenly spaced samples"):
        StreamClassifier(timed)
    with pytest.raises(DataError, match="time_column=0"):
        predict_prefix(timed, [np.zeros((10, 3))])


@pytest.mark.parametrize("params", [dict(covariance_type="full"), dict(covariance_type="diag"),
                                    dict(covariance_type="spherical"), dict(covariance_type="tied"),
                                    dict(n_mix=2, covariance_type="diag")], ids=str)
def test_the_window_scorer_equals_the_classifiers_scores(split, params):
    """The batched scorer (one matrix product for every Gaussian state, scaled forward
    passes) gives the classifier's own exact log-likelihoods; the threshold model equals
    an explicit ergodic HMM of every class state."""
    from trajhmm.hmm import forward_log_likelihood
    from trajhmm.hmm.stacked import relative_emissions, scaled_exact
    from trajhmm.streaming import _Scorer

    X, y, Xh, _ = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = HMMClassifier(**{**FAST, **params}, rejection_rate=0).fit(X, y)
    segs = clf.transform(Xh + [x[::-1] for x in Xh])  # reversed: very poor fits too
    ll, ll_background = clf._log_likelihoods(segs, background=True)
    scorer = _Scorer(clf)
    log_b = scorer.log_emissions(segs)
    e, top = relative_emissions(log_b)  # what score() gives the scaled pass
    fast, upper = scorer._stack.scaled_forward(e)
    fast, upper = fast + top.sum(axis=0), upper + top.sum(axis=0)
    exact = np.column_stack([ll, ll_background]).T
    clean = upper == fast  # nothing underflowed: exact to rounding
    assert clean.any()
    np.testing.assert_allclose(fast[clean], exact[clean], rtol=1e-9)
    assert (exact <= upper + 1e-9 * np.abs(exact)).all()
    taken = scaled_exact(fast, upper)  # where score() keeps the scaled value: right on both sides
    assert taken.any()
    np.testing.assert_allclose(fast[taken], exact[taken], rtol=1e-9)
    ratios, ll_threshold = scorer.score(segs, whole=False)  # bar -inf: every class exact
    states = np.concatenate([log_b[:, k, : m.n_components] for k, m in enumerate(clf.models_)], axis=1)
    stay = np.minimum(np.concatenate([np.diag(m.transmat_) for m in clf.models_]), 1 - 1 / clf.n_points)
    S = len(stay)
    transmat = np.diag(stay) + (1.0 - stay)[:, None] / S
    expected = forward_log_likelihood(states.transpose(1, 0, 2), np.full(S, 1.0 / S), transmat)
    np.testing.assert_allclose(ll_threshold, expected, rtol=1e-9)
    reference = np.logaddexp(ll_background, expected) - np.log(2.0)
    np.testing.assert_allclose(ratios, (ll - reference[:, None]) / clf.n_points, rtol=1e-9, atol=1e-9)
    # whole windows end in the state where most of the class's training segments end
    # (the mode of class_end_states_; the background model's: anywhere)
    whole, _ = scorer.score(segs)
    modes = clf.class_end_states_ >= clf.class_end_states_.max(axis=1, keepdims=True)
    ends = np.column_stack([
        forward_log_likelihood(log_b[:, k, : m.n_components].transpose(1, 0, 2), m.startprob_, m.transmat_,
                               end=modes[k]) for k, m in enumerate(clf.models_)])
    np.testing.assert_allclose(whole, (ends - reference[:, None]) / clf.n_points, rtol=1e-9, atol=1e-9)
    assert (whole <= ratios + 1e-12).all()
    # with a bar, the classes that cannot reach it may stay lower bounds, the others are exact
    for is_whole, exact_ratios in ((False, ratios), (True, whole)):
        barred, _ = _Scorer(clf).score(segs, bar=0.0, whole=is_whole)
        assert (barred[exact_ratios < 0.0] < 0.0).all()
        np.testing.assert_allclose(barred[exact_ratios >= 0.0], exact_ratios[exact_ratios >= 0.0], rtol=1e-9)


def test_cli_spot_a_file_and_a_live_pipe(model, three, tmp_path, capsys):
    import json
    import select
    import subprocess
    import sys

    from trajhmm import save_model as save

    from conftest import cli

    stream, truth = three
    save(model, tmp_path / "m.npz")
    np.savetxt(tmp_path / "rec.csv", stream, delimiter=",")
    expected = spot(model, stream)
    assert [str(d.label) for d in expected] == [str(t[2]) for t in truth]
    code, out, err = cli(["spot", tmp_path / "m.npz", tmp_path / "rec.csv", "--format", "json"], capsys)
    assert code == 0, err
    got = [json.loads(line) for line in out.splitlines()]
    assert [(g["start"], g["end"], g["label"]) for g in got] == [(d.start, d.end, str(d.label)) for d in expected]
    # standard input, one point per line: the first detection comes while the pipe is still open
    proc = subprocess.Popen([sys.executable, "-m", "trajhmm", "spot", str(tmp_path / "m.npz"), "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = expected[0]
        stop = first.end + StreamClassifier(model).delay_bound + 1
        proc.stdin.write("".join(" ".join(f"{v:.17g}" for v in p) + "\n" for p in stream[:stop]))
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 60)  # never hangs the suite
        assert ready, "no detection within 60 s while the pipe stays open"
        assert proc.stdout.readline().split("\t")[:3] == [str(first.start), str(first.end), str(first.label)]
        proc.stdin.write("".join(",".join(f"{v:.17g}" for v in p) + "\n" for p in stream[stop:]))
        proc.stdin.close()
        rest = proc.stdout.read().splitlines()
        assert proc.wait(timeout=60) == 0
        assert [line.split("\t")[2] for line in rest] == [str(d.label) for d in expected[1:]]
    finally:
        proc.kill()
    import io

    stdin = sys.stdin
    try:
        sys.stdin = io.StringIO("1,2,3\n4,oops,6\n")
        code, _, err = cli(["spot", tmp_path / "m.npz", "-"], capsys)
    finally:
        sys.stdin = stdin
    assert code == 1 and err.strip() == "trajhmm: error: <stdin>:2: expected 3 numbers, got '4,oops,6'"


def test_stdin_stream_reads_the_columns_named_and_skips_a_byte_order_mark(model, three, tmp_path, monkeypatch,
                                                                          capsys):
    """A sensor stream with a time stamp and an extra field: --columns chooses the
    coordinates by header name or position (they were ignored on standard input); the
    other reading flags do not apply to it (exit 2, for spot and predict)."""
    import io
    import sys

    from trajhmm import save_model as save

    from conftest import cli

    stream, _ = three
    save(model, tmp_path / "m.npz")
    expected = [(d.start, d.end, str(d.label)) for d in spot(model, stream)]
    rows = [",".join(f"{v:.17g}" for v in [i / 100, *p, 7.0]) for i, p in enumerate(stream)]
    named = "\ufefft,x,y,z,battery\n" + "\n".join(rows) + "\n"
    for text, columns in ((named, "x,y,z"), (named, "1,2,3"), ("\n".join(rows) + "\n", "1,2,3")):
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))
        code, out, err = cli(["spot", tmp_path / "m.npz", "-", "--columns", columns, "--format", "csv"], capsys)
        assert code == 0, err
        assert out.splitlines()[0] == "start,end,label,score"
        assert [tuple(line.split(",")[:3]) for line in out.splitlines()[1:]] == [tuple(map(str, e)) for e in expected]
    monkeypatch.setattr(sys, "stdin", io.StringIO(named))
    code, _, err = cli(["spot", tmp_path / "m.npz", "-", "--columns", "x,y,q"], capsys)
    assert code == 1 and err.strip() == ("trajhmm: error: <stdin>: columns ['q'] not in the header line "
                                         "['t', 'x', 'y', 'z', 'battery']")
    monkeypatch.setattr(sys, "stdin", io.StringIO(named))
    code, _, err = cli(["spot", tmp_path / "m.npz", "-"], capsys)  # five fields for a 3-D model
    assert code == 1 and err.strip().startswith("trajhmm: error: <stdin>:2: expected 3 numbers (the model's dims), got 5")
    for argv in (["spot", tmp_path / "m.npz", "-", "--delimiter", ";"], ["predict", tmp_path / "m.npz", "-", "--columns", "x"]):
        monkeypatch.setattr(sys, "stdin", io.StringIO(named))
        code, _, err = cli(argv, capsys)
        assert code == 2 and "-: --" in err and "applies to files, not to standard input" in err, err
        assert len(err.strip().splitlines()) == 1


def test_stdin_stream_skips_bad_lines_with_on_invalid_skip(model, three, tmp_path, monkeypatch, capsys):
    """A garbled sensor line need not end a live stream: with --on-invalid skip it is left
    out (said on stderr when it comes) and the run ends with exit 3; the detections are
    those of the stream without it. A recording file is read whole: exit 2 there."""
    import io
    import sys

    from trajhmm import save_model as save

    from conftest import cli

    stream, _ = three
    save(model, tmp_path / "m.npz")
    expected = [f"{d.start},{d.end},{d.label}" for d in spot(model, stream)]
    lines = [",".join(f"{v:.17g}" for v in p) for p in stream]
    bad = lines[:40] + ["1,2,abc", "1,2", "1,nan,3"] + lines[40:]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(bad) + "\n"))
    code, out, err = cli(["spot", tmp_path / "m.npz", "-", "--on-invalid", "skip", "--format", "csv"], capsys)
    assert code == 3, err
    assert [",".join(line.split(",")[:3]) for line in out.splitlines()[1:]] == expected
    assert err.splitlines() == ["trajhmm: skipped: <stdin>:41: expected 3 numbers, got '1,2,abc'",
                                "trajhmm: skipped: <stdin>:42: expected 3 numbers (the model's dims), got 2: '1,2'",
                                "trajhmm: skipped: <stdin>:43: expected finite numbers, got [1.0, nan, 3.0]",
                                "trajhmm: 3 lines skipped as invalid"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(bad) + "\n"))
    code, _, err = cli(["spot", tmp_path / "m.npz", "-"], capsys)
    assert code == 1 and err.strip() == "trajhmm: error: <stdin>:41: expected 3 numbers, got '1,2,abc'"
    np.savetxt(tmp_path / "rec.csv", stream, delimiter=",")
    code, _, err = cli(["spot", tmp_path / "m.npz", tmp_path / "rec.csv", "--on-invalid", "skip"], capsys)
    assert code == 2 and "--on-invalid applies to standard input" in err


def test_stdin_lines_are_split_like_files(model, three):
    """Empty fields are kept (a gap is a malformed line, not a shift), a header's names may
    hold spaces or be empty (pandas' index column), and a header whose count differs from
    the data's is refused."""
    from trajhmm.exceptions import ParameterValueError
    from trajhmm.streaming import spot_lines

    stream, _ = three
    rows = [",".join(f"{v:.17g}" for v in [i, *p]) for i, p in enumerate(stream)]
    expected = spot(model, stream)
    for header in (",x,y,z", "time s,x,y,z"):
        assert list(spot_lines(model, [header, *rows], columns=["x", "y", "z"])) == expected
    gap = [*rows[:5], "5.0,,2.5,3.5", *rows[5:]]
    with pytest.raises(DataError, match=r"<stdin>:7: expected 3 numbers, got '5.0,,2.5,3.5'"):
        list(spot_lines(model, [",x,y,z", *gap], columns=["x", "y", "z"]))
    got = list(spot_lines(model, [",x,y,z", *gap], columns=["x", "y", "z"], on_invalid="skip"))
    assert [d for d in got if hasattr(d, "label")] == expected
    with pytest.raises(DataError, match=r"<stdin>:2: expected 3 fields like the header line \['x', 'y', 'z'\], got 4"):
        list(spot_lines(model, ["x,y,z", *rows], columns=["x", "y", "z"]))
    for bad in ([-1, 1, 2], [1, 1, 2]):
        with pytest.raises(ParameterValueError, match="columns"):
            list(spot_lines(model, rows, columns=bad))


def test_stdin_stream_takes_the_models_stored_columns(model, three, tmp_path, monkeypatch, capsys):
    import io
    import sys

    from trajhmm import save_model as save

    from conftest import cli

    stream, _ = three
    save(model, tmp_path / "m.npz", reader={"columns": ["x", "y", "z"]})
    expected = [(str(d.start), str(d.end)) for d in spot(model, stream)]
    text = "t,x,y,z,battery\n" + "".join(",".join(f"{v:.17g}" for v in [i, *p, 7.0]) + "\n"
                                          for i, p in enumerate(stream))
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    code, out, err = cli(["spot", tmp_path / "m.npz", "-", "--format", "csv"], capsys)
    assert code == 0, err
    assert [tuple(line.split(",")[:2]) for line in out.splitlines()[1:]] == expected


def test_decisions_through_push_with_a_fake_scorer(model, monkeypatch):
    """The expired path of the decoder through push: with candidates drawn at random
    (chains form), pushing point by point, in chunks or all at once gives the same
    detections, none overlapping, each within delay_bound; and the chain A < B < C of
    the unit test above, met through push, keeps A."""
    rng = np.random.default_rng(0)
    probe = StreamClassifier(model, threshold=0.0)
    L, n_dims, table = probe.max_length, probe._m.n_dims, {}

    def fake(self, ends):
        return np.array([r for e in ends for r in table.get(int(e), [])], dtype=float).reshape(-1, 4)

    monkeypatch.setattr(StreamClassifier, "_window_scores", fake)
    n = 30 * L
    for e in range(probe._next_end, n + 1, probe.step):
        for _ in range(rng.integers(0, 3)):
            length = int(rng.integers(probe.min_length, L + 1))
            if e >= length:
                table.setdefault(e, []).append((e - length, e, rng.integers(len(probe.classes_)), rng.normal()))
    points = np.zeros((n, n_dims))
    sc, one = StreamClassifier(model, threshold=0.0), []
    for i, p in enumerate(points):
        for d in sc.push(p):
            assert i + 1 - d.end <= sc.delay_bound
            one.append(d)
    one += sc.flush()
    chunks, sc = [], StreamClassifier(model, threshold=0.0)
    for part in np.array_split(points, 37):
        chunks += sc.push(part)
    chunks += sc.flush()
    whole = spot(model, points, threshold=0.0)
    assert sorted(one, key=lambda d: (d.start, d.end)) == sorted(chunks, key=lambda d: (d.start, d.end)) == whole
    assert len(whole) > 10 and all(a.end <= b.start for a, b in zip(whole, whole[1:]))
    # the chain through push: windows no longer than max_length, on the grid of window ends
    s, g = probe.step, probe.block * probe.step
    assert 15 + 2 * s + g < L  # C is still unsettled when A's time is up
    a_end = probe._next_end + s * int(np.ceil(max(60 - probe._next_end, 0) / s))
    b_end = a_end + s * ((L - 10) // s)
    c_end = b_end + s * ((L - 5) // s)
    table.clear()
    table.update({a_end: [(a_end - 60, a_end, 0, 1.0)], b_end: [(a_end - 10, b_end, 1, 2.0)],
                  c_end: [(b_end - 5, c_end, 2, 3.0)]})
    got = spot(model, np.zeros((c_end + 4 * L, n_dims)), threshold=0.0)
    assert [(d.start, d.end) for d in got] == [(a_end - 60, a_end), (b_end - 5, c_end)]  # A was dropped


def test_push_refuses_complex_points_and_takes_an_empty_list_as_nothing(model):
    sc = StreamClassifier(model)
    with pytest.raises(DataError, match=r"points: expected real numbers, got complex values"):
        sc.push(np.ones(3) * 1j)
    with pytest.raises(DataError, match=r"stream: expected real numbers, got complex values"):
        spot(model, np.ones((50, 3)) * 1j)
    assert sc.push([]) == [] and sc.push(np.empty((0, 3))) == [] and sc._n == 0


@pytest.fixture(scope="module")
def scarce():
    """4 noisy trajectories per class: class models that score held-out gestures low."""
    X, y = make_sample_data.make_dataset(per_class=4, seed=1, n_points=101)
    keep = [i for i, label in enumerate(y) if label in ("reach_x", "arc_up", "helix_ccw", "wave")]
    rng = np.random.RandomState(0)
    return [X[i] + 0.1 * rng.randn(*X[i].shape) for i in keep], np.array([y[i] for i in keep])


def test_fit_sets_the_stream_threshold_from_held_out_ratios(scarce, monkeypatch):
    """stream_threshold_ is min(-0.5, 0.3 quantile) of the cross-fitting folds' ratios of
    held-out trajectories to their own class; streams take it unless told otherwise."""
    from trajhmm import streaming

    X, y = scarce
    seen = []
    whole_ratios = streaming.whole_ratios

    def spy(model, held):
        r = whole_ratios(model, held)
        for x, row in zip(held, r):
            i = next(i for i in range(len(X)) if np.array_equal(X[i], x))
            seen.append(row[list(model.classes_).index(y[i])])
        return r

    monkeypatch.setattr(streaming, "whole_ratios", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = HMMClassifier(**FAST).fit(X, y)
    assert len(seen) == len(X)  # every trajectory held out once
    assert isinstance(clf.stream_threshold_, float) and np.isfinite(clf.stream_threshold_)
    assert clf.stream_threshold_ == min(-0.5, np.quantile(seen, 0.3)) < -0.5
    assert StreamClassifier(clf).threshold == clf.stream_threshold_
    assert StreamClassifier(clf, threshold=-0.5).threshold == -0.5
    # no cross-fitting, no fitted threshold: streams use -0.5
    off = HMMClassifier(**FAST, rejection_rate=0).fit(X, y)
    assert np.isnan(off.stream_threshold_) and StreamClassifier(off).threshold == -0.5


def test_the_search_refit_has_a_stream_threshold(scarce):
    from trajhmm import HMMClassifierCV

    X, y = scarce
    small = {k: v for k, v in FAST.items() if k != "random_state"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cv = HMMClassifierCV(HMMClassifier(**small), {"n_states": [3, 4]}, cv=2, random_state=0).fit(X, y)
    value = cv.best_estimator_.stream_threshold_
    assert np.isfinite(value) and value < -0.5
    assert StreamClassifier(cv).threshold == value


def test_model_files_keep_the_stream_threshold(model, tmp_path):
    """Format 6 stores stream_threshold_ (NaN: none fitted); older files stream at -0.5;
    a crafted value that is not one finite number (or NaN) is refused."""
    import copy
    import pickle

    clf = copy.deepcopy(model)
    clf.stream_threshold_ = -3.25
    save_model(clf, tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    assert back.stream_threshold_ == -3.25 and StreamClassifier(back).threshold == -3.25
    with open(tmp_path / "m.pkl", "wb") as fh:
        pickle.dump(clf, fh)
    assert load_model(tmp_path / "m.pkl", trusted=True).stream_threshold_ == -3.25
    clf.stream_threshold_ = np.nan
    save_model(clf, tmp_path / "nan.npz")
    assert np.isnan(load_model(tmp_path / "nan.npz").stream_threshold_)
    resign(tmp_path / "m.npz", as_format(5))
    old = load_model(tmp_path / "m.npz")
    assert not hasattr(old, "stream_threshold_") and StreamClassifier(old).threshold == -0.5
    del clf.stream_threshold_  # fitted before streams had a threshold: written as format 5
    save_model(clf, tmp_path / "five.npz")
    assert model_metadata(tmp_path / "five.npz")["format_version"] == 5
    assert StreamClassifier(load_model(tmp_path / "five.npz")).threshold == -0.5
    for bad, message in ((np.array([np.inf]), "non-finite"), (np.array([-1.0, -2.0]), "expected shape")):
        save_model(back, tmp_path / "m.npz")
        resign(tmp_path / "m.npz", lambda arrays, meta, bad=bad: arrays.update(stream_threshold_=bad))
        with pytest.raises(ModelFileError, match=f"stream_threshold_: .*{message}"):
            load_model(tmp_path / "m.npz")


def test_cli_spot_takes_the_models_threshold(model, three, tmp_path, capsys):
    import copy

    from conftest import cli

    stream, truth = three
    strict = copy.deepcopy(model)
    strict.stream_threshold_ = 50.0  # no window reaches it
    save_model(strict, tmp_path / "m.npz")
    np.savetxt(tmp_path / "rec.csv", stream, delimiter=",")
    code, out, err = cli(["spot", tmp_path / "m.npz", tmp_path / "rec.csv"], capsys)
    assert code == 0, err
    assert out == ""
    code, out, err = cli(["spot", tmp_path / "m.npz", tmp_path / "rec.csv", "--threshold", "-0.5"], capsys)
    assert code == 0, err
    assert [line.split("\t")[2] for line in out.splitlines()] == [str(t[2]) for t in truth]


def test_windows_score_as_whole_gestures_where_the_class_gestures_end(model, split):
    """fit keeps where each class's training segments end (class_end_states_, rows of
    probabilities; a left-right model's last state); a window scores as a whole gesture
    only when it ends in the state where most of them end: the first half of a gesture,
    resampled to a whole segment, loses its score, the whole gesture keeps it. Prefixes
    end anywhere."""
    from trajhmm.preprocessing import resample_all
    from trajhmm.streaming import _Model

    _, _, Xh, yh = split
    ends = model.class_end_states_
    assert ends.shape == (len(model.classes_), model.n_states)
    np.testing.assert_allclose(ends.sum(axis=1), 1.0)
    assert (ends[:, -1] > 0.9).all()  # left-right: the gestures end in the last state
    m, own = _Model(model), (np.arange(len(Xh)), np.searchsorted(model.classes_, yh))
    whole = resample_all(Xh, model.n_points, model.resample)
    np.testing.assert_allclose(m.ratios(whole)[own], m.ratios(whole, whole=False)[own], atol=0.05)
    halves = resample_all([x[: len(x) // 2] for x in Xh], model.n_points, model.resample)
    drop = m.ratios(halves, whole=False)[own] - m.ratios(halves)[own]
    assert (drop >= 0).all() and drop.mean() > 0.5


def test_model_files_keep_the_end_states(model, tmp_path, capsys):
    """Format 8 stores class_end_states_, validated as probabilities; a file of format 7
    loads without them and its windows end anywhere (as before)."""
    from trajhmm.streaming import _Scorer

    save_model(model, tmp_path / "m.npz")
    assert model_metadata(tmp_path / "m.npz")["format_version"] >= 8
    np.testing.assert_array_equal(load_model(tmp_path / "m.npz").class_end_states_, model.class_end_states_)
    C, K = model.class_end_states_.shape
    for bad, message in ((np.full((C, K), 1.0), "do not sum to 1"), (-np.eye(C, K), "negative probability"),
                         (np.full((C, K + 1), 1.0 / (K + 1)), "expected shape"),
                         (np.full((C, K), np.nan), "non-finite")):
        save_model(model, tmp_path / "m.npz")
        resign(tmp_path / "m.npz", lambda arrays, meta, bad=bad: arrays.update(class_end_states_=bad))
        with pytest.raises(ModelFileError, match=f"class_end_states_: .*{message}"):
            load_model(tmp_path / "m.npz")
    save_model(model, tmp_path / "m.npz")
    resign(tmp_path / "m.npz", as_format(7))
    old = load_model(tmp_path / "m.npz")
    assert not hasattr(old, "class_end_states_")
    np.testing.assert_array_equal(_Scorer(old).end, 1.0)
    assert spot(old, np.zeros((60, 3))) == []  # streams still run on it
    code, out, _ = cli(["info", tmp_path / "m.npz"], capsys)
    assert code == 0 and "windows may end in any state" in out and "retrain" in out
    save_model(model, tmp_path / "m.npz")
    assert "windows may end in any state" not in cli(["info", tmp_path / "m.npz"], capsys)[1]


def test_still_windows_are_not_scored_for_classes_that_move(model, split, monkeypatch):
    """A window that moves less than half the least moving training trajectory of a class
    is not scored for it: a stream at rest is never scored, one moving like the training
    data is; fit keeps each class's motion quantiles in the units of motion_scale_."""
    from trajhmm import streaming

    C = len(model.classes_)
    assert model.motion_scale_.shape == (3,) and (model.motion_scale_ > 0).all()
    q = model.class_motion_quantiles_
    assert q.shape == (C, 5) and (np.diff(q, axis=1) >= 0).all() and (q[:, 0] > 0).all()
    m = streaming._Model(model)
    X, y, held, held_y = split
    own = np.array([model.classes_.tolist().index(label) for label in held_y])
    moving = m.moving(model._resampled(held))
    assert moving[np.arange(len(held)), own].all()  # held-out gestures pass their own class's gate
    still = np.random.RandomState(0).normal(0, 1e-3, (3, 50, 3)) + 5.0
    assert not m.moving(still).any()
    scored = []
    real = streaming._Scorer.score

    def spy(self, segs, bar=-np.inf, relevant=None, whole=True):
        scored.append(np.asarray(relevant).sum())
        return real(self, segs, bar, relevant, whole)

    monkeypatch.setattr(streaming._Scorer, "score", spy)
    rest = np.random.RandomState(1).normal(0, 1e-3, (400, 3))
    assert spot(model, rest) == [] and sum(scored) == 0
    monkeypatch.setattr(streaming, "_MOTION_CUT", 0.0)  # no gate: the same stream is scored
    spot(model, rest)
    assert sum(scored) > 0


def test_windows_half_in_a_pause_are_not_scored(model, split):
    """A window of which a third moves less than half as much as that third of every
    training trajectory of a class is not scored for it (a gesture's tail and a pause),
    though the window as a whole moves enough; fit keeps the least motion of each third."""
    from trajhmm import streaming

    parts = model.class_part_motion_
    assert parts.shape == (len(model.classes_), 3) and (parts > 0).all()
    X, y, held, held_y = split
    raw = model._resampled(held)
    m = streaming._Model(model)
    own = np.array([model.classes_.tolist().index(label) for label in held_y])
    assert m.moving(raw)[np.arange(len(held)), own].all()  # held-out gestures still pass
    # each held-out gesture's second half replaced by rest at its last point
    half, mid = raw.copy(), raw.shape[1] // 2
    half[:, mid:] = half[:, mid - 1 : mid] + np.random.RandomState(0).normal(0, 1e-4, half[:, mid:].shape)
    rest = streaming.part_motion(half, model.motion_scale_)[:, 2].max()
    ending = parts[:, 2] > 10 * rest  # classes whose training gestures still move at their end
    assert ending.any()
    whole_gate = streaming.motion(half, model.motion_scale_)[:, None] >= 0.5 * model.class_motion_quantiles_[None, :, 0]
    assert whole_gate[:, ending].any()  # the whole-window gate alone lets some through
    assert not m.moving(half)[:, ending].any()  # the thirds stop them all
    np.testing.assert_allclose(streaming.part_motion(raw[:, ::-1], model.motion_scale_),
                               streaming.part_motion(raw, model.motion_scale_)[:, ::-1])
    assert (streaming.part_motion(raw[:, :2], model.motion_scale_) == 0).all()  # too short for thirds


def test_format_9_files_gate_whole_windows_only(model, tmp_path, capsys):
    """A file of format 9 loads without class_part_motion_ (whole-window gate only; info
    says to retrain); the array is validated like the others."""
    from trajhmm import streaming

    half = np.zeros((1, model.n_points, 3))
    half[0, : model.n_points // 2] = np.linspace(-3, 3, model.n_points // 2)[:, None] * model.motion_scale_
    assert not streaming._Model(model).moving(half).any()
    for bad in (-model.class_part_motion_, model.class_part_motion_ + 1e6, model.class_part_motion_[:, :2]):
        save_model(model, tmp_path / "m.npz")
        resign(tmp_path / "m.npz", lambda arrays, meta, b=bad: arrays.update(class_part_motion_=b))
        with pytest.raises(ModelFileError, match="class_part_motion_: .*(expected motions in|expected shape)"):
            load_model(tmp_path / "m.npz")
    save_model(model, tmp_path / "m.npz")
    resign(tmp_path / "m.npz", as_format(9))
    old = load_model(tmp_path / "m.npz")
    assert not hasattr(old, "class_part_motion_") and hasattr(old, "class_motion_quantiles_")
    np.testing.assert_array_equal(streaming._Model(old).moving(half),
                                  streaming.motion(half, model.motion_scale_)[:, None]
                                  >= 0.5 * model.class_motion_quantiles_[None, :, 0])
    code, out, _ = cli(["info", tmp_path / "m.npz"], capsys)
    assert code == 0 and "windows half in a pause are scored too" in out and "format 10" in out
    save_model(model, tmp_path / "m.npz")
    np.testing.assert_array_equal(load_model(tmp_path / "m.npz").class_part_motion_, model.class_part_motion_)
    assert "half in a pause" not in cli(["info", tmp_path / "m.npz"], capsys)[1]


def test_size_invariant_and_older_models_score_still_windows(model, split, tmp_path, capsys):
    """No gate for a model with a scaling (sizes mean nothing to it) nor for a file of
    format 8, which loads without the motion arrays (info says to retrain); the arrays are
    validated like every other."""
    from trajhmm import streaming

    still = np.zeros((2, 50, 3))
    assert (model.class_motion_quantiles_ <= np.sqrt(model.class_count_.sum())).all()  # the bound load checks
    scaled = clone(model).set_params(scaling="std").fit(*split[:2])
    assert streaming._Model(scaled).moving(still).all()
    save_model(model, tmp_path / "m.npz")
    for name, bad, message in (("motion_scale_", np.zeros(3), "expected scales in"),
                               ("motion_scale_", np.full(3, 1e300), "expected scales in"),
                               ("class_motion_quantiles_", -model.class_motion_quantiles_ - 1, "each in \\[0, "),
                               ("class_motion_quantiles_", model.class_motion_quantiles_[:, ::-1] + [0, 0, 0, 0, 1],
                                "non-decreasing"),
                               ("class_motion_quantiles_", model.class_motion_quantiles_ + 1e6, "each in \\[0, "),
                               ("motion_scale_", np.ones(4), "expected shape")):
        save_model(model, tmp_path / "m.npz")
        resign(tmp_path / "m.npz", lambda arrays, meta, n=name, b=bad: arrays.update({n: b}))
        with pytest.raises(ModelFileError, match=f"{name}: .*{message}"):
            load_model(tmp_path / "m.npz")
    save_model(model, tmp_path / "m.npz")
    resign(tmp_path / "m.npz", as_format(8))
    old = load_model(tmp_path / "m.npz")
    assert not hasattr(old, "class_motion_quantiles_") and streaming._Model(old).moving(still).all()
    code, out, _ = cli(["info", tmp_path / "m.npz"], capsys)
    assert code == 0 and "still windows are scored too" in out and "retrain" in out
    save_model(model, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.class_motion_quantiles_, model.class_motion_quantiles_)
    assert "still windows" not in cli(["info", tmp_path / "m.npz"], capsys)[1]
    save_model(scaled, tmp_path / "s.npz")  # size-invariant: a retrain would not gate it either
    resign(tmp_path / "s.npz", as_format(8))
    assert "still windows" not in cli(["info", tmp_path / "s.npz"], capsys)[1]

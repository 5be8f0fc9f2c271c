"""Gates before publication: the paired loss check, the weights check, the forgetting check, the
keeper's pause and alert, and shadow scoring."""

from __future__ import annotations

import doctest
import math
import random
from typing import List

import numpy as np
import pytest

import wabbit
from wabbit import gates
from wabbit.gates import Gate, GateDecision, GateKeeper, Shadow, labels_and_weights, loss_function

TRUE_W = [2.0, -1.5, 1.0, 0.5, -2.0, 1.5, -1.0, 0.8]


def _data(n: int, seed: int, *, flip: bool = False, segment: str = "", sign: float = 1.0) -> List[str]:
    """Logistic data: 3 of 8 features with values in [0, 1]; the label is the sign of the true
    score (times ``sign``); ``flip`` turns every label over; ``segment`` adds a namespace."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        ks = rng.sample(range(len(TRUE_W)), 3)
        vals = [rng.random() for _ in ks]
        score = sign * sum(TRUE_W[k] * v for k, v in zip(ks, vals))
        y = 1 if score > 0 else -1
        if flip:
            y = -y
        seg = f"|s {segment} " if segment else ""
        lines.append(f"{y} {seg}|f " + " ".join(f"x{k}:{v:.4f}" for k, v in zip(ks, vals)))
    return lines


def _trained(lines: List[str], base: "wabbit.Model | None" = None) -> wabbit.Model:
    m = base.copy() if base is not None else wabbit.Model("--loss_function logistic")
    m.learn_many(lines)
    return m


def test_docstring_examples():
    result = doctest.testmod(gates, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- losses by hand
def test_losses_by_hand():
    y = np.array([1.0, -1.0])
    p = np.array([0.0, 2.0])
    assert loss_function("logistic")(y, p).tolist() == pytest.approx([math.log(2), math.log(1 + math.exp(2))])
    assert loss_function("squared")(y, p).tolist() == [1.0, 9.0]
    assert loss_function("hinge")(y, p).tolist() == [1.0, 3.0]
    assert loss_function("zero_one")(y, p).tolist() == [1.0, 1.0]
    assert loss_function(wabbit.Model("--loss_function logistic --link logistic"))(
        np.array([1.0, 0.0]), np.array([0.8, 0.8])
    ).tolist() == pytest.approx([-math.log(0.8), -math.log(0.2)])
    assert loss_function(wabbit.Model()) is loss_function("squared")
    assert loss_function(wabbit.Model("--binary --loss_function logistic")) is loss_function("zero_one")
    with pytest.raises(ValueError, match="unknown loss"):
        loss_function("absolute")


def test_labels_and_importance_weights_are_read_as_the_core_reads_them():
    y, w = labels_and_weights(["-1 0.5 'tag |f a", "|f unlabelled", "2 |f b", "this is | not:a:line"])
    assert y.tolist()[:3] == [-1.0, 0.0, 2.0]
    assert w.tolist() == [0.5, 0.0, 1.0, 0.0]


def test_the_paired_check_is_relative_and_weighted():
    """Champion: untrained, predicts 0 on labels 1: squared loss 1 each. The candidate's
    predictions are given (progressive); its loss is (1 - p)^2."""
    champion = wabbit.Model("--noconstant")
    recent = ["1 |f a"] * 4
    gate = Gate(margin=0.01)
    within = 1 - math.sqrt(1.009)  # loss 1.009 <= 1 * 1.01
    beyond = 1 - math.sqrt(1.011)
    d = gate.check(champion, champion, recent, candidate_predictions=[within] * 4)
    assert d.passed and d.metrics["candidate_recent_loss"] == pytest.approx(1.009)
    assert d.metrics["champion_recent_loss"] == 1.0
    assert d.metrics["recent_mean_difference"] == pytest.approx(0.009)
    d = gate.check(champion, champion, recent, candidate_predictions=[beyond] * 4)
    assert not d.passed and d.failed == ("recent",) and d.reason.startswith("recent: loss 1.011")
    # relative: the same 0.011 more on a champion loss of 100 is within 1%
    big = ["10 |f a"] * 4  # champion loss 100
    d = gate.check(champion, champion, big, candidate_predictions=[10 - math.sqrt(100.011)] * 4)
    assert d.passed
    # importance weights count: a weight-3 example dominates the mean
    d = gate.check(champion, champion, ["1 3 |f a", "1 |f b"], candidate_predictions=[1.0, -1.0])
    assert d.metrics["candidate_recent_loss"] == pytest.approx((3 * 0 + 1 * 4) / 4)


def test_only_the_last_recent_examples_count():
    champion = wabbit.Model("--noconstant")
    lines = ["5 |f a"] * 10 + ["1 |f a"] * 3
    d = Gate(recent=3).check(champion, champion, lines)
    assert d.metrics["recent_n"] == 3 and d.metrics["champion_recent_loss"] == 1.0
    # progressive predictions are aligned with the examples given, and cut the same way
    d = Gate(recent=3).check(champion, champion, lines, candidate_predictions=[0.0] * 10 + [1.0] * 3)
    assert d.metrics["candidate_recent_loss"] == 0.0
    with pytest.raises(ValueError, match="candidate_predictions"):
        Gate().check(champion, champion, lines, candidate_predictions=[0.0])


def test_without_recent_examples_the_gate_fails_and_without_holdout_it_skips_forgetting():
    m = wabbit.Model()
    d = Gate().check(m, m, [])
    assert not d.passed and d.failed == ("recent",) and "no examples" in d.reason
    d = Gate().check(m, m, ["|f unlabelled"])
    assert not d.passed and "no labelled examples" in d.reason
    d = Gate().check(m, m, ["1 |f a"], [])
    assert d.passed and d.metrics["holdout_n"] == 0 and d.reason == "ok"


# --------------------------------------------------------------------------- models trained for it
@pytest.fixture(scope="module")
def models():
    champion = _trained(_data(1000, seed=1))
    clean = _trained(_data(2000, seed=2), base=champion)
    flipped = _trained(_data(2000, seed=2, flip=True), base=champion)
    return champion, clean, flipped


def test_a_gate_passes_more_clean_data_and_fails_flipped_labels(models):
    champion, clean, flipped = models
    recent = _data(1000, seed=3)
    holdout = _data(500, seed=4)
    gate = Gate(margin=0.01)
    good = gate.check(clean, champion, recent, holdout)
    assert good.passed, good.reason
    assert good.metrics["candidate_recent_loss"] < good.metrics["champion_recent_loss"]
    bad = gate.check(flipped, champion, recent, holdout)
    assert not bad.passed
    assert bad.failed == ("recent", "forgetting"), bad.reason
    assert bad.metrics["candidate_recent_loss"] > 2 * bad.metrics["champion_recent_loss"]


def test_the_forgetting_check_catches_a_model_that_learned_b_and_lost_a():
    """Segment A, then B with the opposite rule on the same features: a candidate that learned B
    is far better on recent B traffic, and far worse on held-back A: only forgetting fails."""
    champion = _trained(_data(2000, seed=5, segment="A"))
    candidate = _trained(_data(3000, seed=6, segment="B", sign=-1.0), base=champion)
    recent = _data(1000, seed=7, segment="B", sign=-1.0)
    holdout = _data(500, seed=8, segment="A")
    d = Gate().check(candidate, champion, recent, holdout)
    assert d.failed == ("forgetting",), d.reason
    assert d.reason.startswith("forgetting: loss")
    assert d.metrics["candidate_holdout_loss"] > d.metrics["champion_holdout_loss"]
    assert Gate(holdout=0).check(candidate, champion, recent, holdout).passed  # holdout off: passes


def test_the_weights_check(models):
    champion, clean, _ = models
    _, w = clean.weights()
    largest = float(np.max(np.abs(w)))
    recent = _data(200, seed=9)
    d = Gate(max_weight=largest * 0.9).check(clean, champion, recent)
    assert d.failed == ("weights",) and d.reason.startswith("weights: max |w|")
    assert d.metrics["max_abs_weight"] == pytest.approx(largest) and d.metrics["nonfinite_weights"] == 0
    assert Gate(max_weight=largest * 1.1).check(clean, champion, recent).passed
    # an overshooting model: plain sgd with a large rate on large labels (the fit is w = 5e4)
    exploding = wabbit.Model("--sgd -l 10 --noconstant")
    exploding.learn_many(["1e6 |f a:10 b:10"] * 20)
    d = Gate().check(exploding, wabbit.Model("--sgd --noconstant"), ["1e6 |f a:10 b:10"])
    assert "weights" in d.failed and d.metrics["max_abs_weight"] > 1e6, d.metrics


# --------------------------------------------------------------------------- the keeper
def test_the_keeper_pauses_after_max_failures_and_alerts_once(models):
    champion, clean, flipped = models
    recent, holdout = _data(500, seed=10), _data(200, seed=11)
    alerts = []
    keeper = GateKeeper(Gate(max_failures=3, confirm=None), alert=lambda d, n: alerts.append((n, d.failed)))
    assert not keeper.check(flipped, champion, recent, holdout).passed
    assert not keeper.check(flipped, champion, recent, holdout).passed
    assert keeper.check(clean, champion, recent, holdout).passed  # a pass resets the count
    assert keeper.failures == 0 and not keeper.paused
    for k in range(3):
        assert not keeper.check(flipped, champion, recent, holdout).passed
        assert keeper.paused == (k == 2)
    assert alerts == [(3, ("recent", "forgetting"))]
    # paused: even a good candidate is not published, and the alert is not raised again
    d = keeper.check(clean, champion, recent, holdout)
    assert not d.passed and d.failed == ("paused",) and d.reason.startswith("paused after 3")
    assert keeper.check(flipped, champion, recent, holdout).failed[-1] == "paused"
    assert len(alerts) == 1
    assert keeper.counts["failed_recent"] == 6 and keeper.counts["alerts"] == 1
    # a restart keeps the pause
    again = GateKeeper(Gate())
    again.restore(keeper.state())
    assert again.paused and again.failures == keeper.failures
    keeper.resume()
    assert keeper.check(clean, champion, recent, holdout).passed


def test_on_probation_a_pass_ends_the_pause_by_itself(models):
    champion, clean, flipped = models
    recent, holdout = _data(500, seed=10), _data(200, seed=11)
    alerts = []
    keeper = GateKeeper(Gate(max_failures=2, confirm=10_000), alert=lambda d, n: alerts.append(n))
    for _ in range(3):
        d = keeper.check(flipped, champion, recent, holdout, examples=5000)
    assert keeper.paused and keeper.probation and alerts == [2]
    assert not d.passed and d.failed == ("recent", "forgetting", "paused") and "on probation" in d.reason
    # both checks fail, not only forgetting: no evidence of a change, however long it lasts
    assert keeper.evidence == 0 and not keeper.change_confirmed()
    d = keeper.check(clean, champion, recent, holdout, examples=5000)
    assert d.passed and not keeper.paused and keeper.failures == 0
    assert keeper.counts["recovered"] == 1 and keeper.counts["changes"] == 0 and alerts == [2]


def test_evidence_of_a_change_counts_only_consecutive_forgetting_only_failures():
    """Hand-made decisions: evidence = the examples of consecutive checks refused by the
    forgetting check alone; any other verdict resets it; confirm is reached at >=, not before."""
    forgot = GateDecision(False, "forgetting: x", failed=("forgetting",))
    both = GateDecision(False, "recent: x; forgetting: x", failed=("recent", "forgetting"))
    keeper = GateKeeper(Gate(max_failures=2, confirm=5000), alert=lambda d, n: None)
    keeper.record(forgot, examples=2000)
    keeper.record(forgot, examples=2000)
    assert keeper.paused and keeper.evidence == 4000 and not keeper.change_confirmed()
    keeper.record(both, examples=2000)  # the candidate fell behind on the present: start again
    assert keeper.evidence == 0
    for _ in range(2):
        keeper.record(forgot, examples=2000)
    assert keeper.evidence == 4000 and not keeper.change_confirmed()
    keeper.record(forgot, examples=1000)
    assert keeper.evidence == 5000 and keeper.change_confirmed()
    # the re-based check fails: still paused, the evidence starts over
    d = keeper.accept_change(forgot)
    assert not d.passed and keeper.paused and keeper.evidence == 0 and d.failed[-1] == "paused"
    for _ in range(3):
        keeper.record(forgot, examples=2000)
    d = keeper.accept_change(GateDecision(True, "ok"))
    assert d.passed and d.reason.startswith("concept change accepted") and not keeper.paused
    assert keeper.counts["changes"] == 1 and keeper.failures == 0 and keeper.evidence == 0
    # a restart keeps the evidence
    keeper.record(forgot, examples=300)
    again = GateKeeper(Gate(confirm=5000))
    again.restore(keeper.state())
    assert again.evidence == 300 and again.counts["changes"] == 1


def test_confirm_must_be_a_positive_number_of_examples_or_none():
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="confirm must be"):
            Gate(confirm=bad)  # type: ignore[arg-type]
    assert Gate(confirm=None).confirm is None and GateKeeper(Gate(confirm=7)).confirm == 7
    assert GateKeeper(Gate(confirm=7), confirm=None).confirm is None


def test_the_default_alert_logs_an_error(caplog):
    keeper = GateKeeper(Gate(), max_failures=1)
    with caplog.at_level("ERROR", logger="wabbit.gates"):
        keeper.record(GateDecision(False, "weights: 1 not finite", failed=("weights",)))
    assert keeper.paused and "publication paused: weights: 1 not finite" in caplog.text


# --------------------------------------------------------------------------- shadow
def test_shadow_scores_both_models_on_live_traffic(models):
    champion, _, flipped = models
    shadow = Shadow(loss=champion, capacity=1000, window=500)
    lines = _data(600, seed=12)
    for i, line in enumerate(lines):
        features = line.split(" ", 1)[1]
        shadow.predict(i, flipped, features, champion.predict(features))
    for i, line in enumerate(lines):
        assert shadow.labelled(i, float(line.split(" ", 1)[0]))
    r = shadow.report()
    assert r.n == 500 and r.pending == 0 and r.evicted == 0
    # the window holds the last 500: the same numbers as the gate's on them
    d = Gate(recent=500).check(flipped, champion, lines)
    assert r.champion_loss == pytest.approx(d.metrics["champion_recent_loss"], rel=1e-6)
    assert r.candidate_loss == pytest.approx(d.metrics["candidate_recent_loss"], rel=1e-6)


def test_shadow_is_bounded():
    shadow = Shadow(capacity=3)
    for i in range(5):
        shadow.record(i, 0.0, 1.0)
    assert shadow.report().pending == 3 and shadow.report().evicted == 2
    assert not shadow.labelled(0, 1.0) and shadow.labelled(4, 1.0)
    r = shadow.report()
    assert (r.n, r.champion_loss, r.candidate_loss, r.unknown) == (1, 1.0, 0.0, 1)
    shadow.reset()
    assert shadow.report().n == 0 and math.isnan(shadow.report().champion_loss)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"margin": -0.1}, "margin"), ({"recent": 0}, "recent"), ({"max_weight": 0}, "max_weight")],
)
def test_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Gate(**kwargs)

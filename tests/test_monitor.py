"""Monitored learning (wabbit.monitor, Model.monitor, --drift): drift detectors fed from the learning
loop, and the responses.

References: river 0.26.1's ADWIN on the same loss signal (alarm indices, the window it keeps at an
alarm, false alarms); models trained by hand the way a response must leave the model (a fresh model
from the reset or the challenger's start, a rate factor set and restored by hand), so predictions
are compared exactly; hand computations of the error signal and of the switch gate; Vowpal Wabbit
(``python -m vowpalwabbit``) for the acceptance case of issue 6. Streams whose exact values do not
matter are drawn from a seed chosen per run (WABBIT_TEST_SEED replays one).
"""

from __future__ import annotations

import math
import os
import random

import numpy as np
import pytest

import vwcompare
import wabbit
from wabbit.drift import ADWIN, DDM, DriftDetector, PageHinkley
from wabbit.monitor import GATE_PATIENCE, GATE_SIGMAS, HISTORY_GATES, DriftEvent, error_signal
from wabbit.monitor.detectors import feed
from wabbit.options import OptionError, parse_args
from wabbit.synth import click_log, write_click_log

river_drift = pytest.importorskip("river.drift")

SEED = int(os.environ.get("WABBIT_TEST_SEED", random.SystemRandom().randrange(2**32)))
FLAGS = "--loss_function logistic -q ua"


def labels_of(lines):
    return np.array([float(l.split(" ", 1)[0]) for l in lines])


def logloss(pred, y):
    return np.logaddexp(0.0, -y * np.asarray(pred, dtype=np.float64))


def core_signals(lines, flags=FLAGS):
    """An unmonitored model's predictions and the core's per-example loss signal."""
    m = wabbit.Model(flags)
    res = m._core.run_buffer(("\n".join(lines) + "\n").encode(), {"learn": True, "collect": True, "signals": True})
    return res["predictions"], m._core.take_signals()["loss"]


def river_alarms(values, **params):
    det = river_drift.ADWIN(**params)
    out = []
    for i, x in enumerate(values):
        det.update(float(x))
        if det.drift_detected:
            out.append(i)
    return out


class Scripted(DriftDetector):
    """A detector that raises alarms at given indices of its stream (to place alarms by hand)."""

    def __init__(self, at=()):
        self._params = {"at": tuple(at)}
        self.at = set(at)
        self.seen = []
        self.n = 0
        self._drift = False

    @property
    def drift_detected(self):
        return self._drift

    def update(self, x):
        self.seen.append(x)
        self._drift = self.n in self.at
        self.n += 1
        return self._drift

    def reset(self):
        pass


def flip_stream(n, at, seed, noise=0.05):
    """-1/1 lines whose concept flips for 40% of the features at index ``at``."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = rng.randrange(20)
        y = 1 if k < 10 else -1
        if i >= at and k % 10 < 4:
            y = -y
        if rng.random() < noise:
            y = -y
        out.append(f"{y} |f x{k} |g z{rng.randrange(3)}")
    return out


# ------------------------------------------------------------------------------------ signals


def test_alert_sees_rivers_alarms_on_the_core_loss_and_changes_nothing():
    seed = SEED % 1000
    lines = list(click_log(30_000, seed=seed, drift_at=15_000))
    y = labels_of(lines)
    plain, loss = core_signals(lines)
    # the core's signal is the progressive logistic loss of the reported prediction
    np.testing.assert_allclose(loss, logloss(plain, y), rtol=2e-5, atol=2e-6, err_msg=f"seed {seed}")
    expected = river_alarms(loss)
    for every in (1000, 37):
        m = wabbit.Model(FLAGS)
        m.monitor(ADWIN(), "loss", "alert", every=every, log=lambda s: None)
        preds = m.learn_many(lines)
        assert np.array_equal(preds, plain), f"seed {seed}: alert changed the model"
        ev = m.drift_events
        assert [e.index for e in ev] == expected, f"seed {seed}, every {every}"
        assert all(e.kind == "drift" and e.response == "alert" and e.detector == "ADWIN" for e in ev)
        # the boundary where it was handled: the first multiple of `every` after the alarm (or the end)
        assert [e.applied for e in ev] == [min(len(lines), (e.index // every + 1) * every) for e in ev]


def test_error_signal_by_hand():
    rng = np.random.default_rng([SEED, 2])
    y = rng.choice([-1.0, 1.0], 1000)
    p = rng.normal(0, 1, 1000)
    p[:10] = 0.0
    assert np.array_equal(error_signal(y, p), ((p > 0) != (y > 0)).astype(float))
    assert error_signal(np.array([1.0]), np.array([0.0]))[0] == 1.0  # a zero margin is negative
    y01 = (y > 0).astype(float)
    q = rng.uniform(0, 1, 1000)
    assert np.array_equal(error_signal(y01, q), ((q > 0.5) != (y01 > 0.5)).astype(float))


@pytest.mark.parametrize("labels", ["-1/1", "0/1"])
def test_monitor_feeds_the_error_signal(labels):
    rng = random.Random(SEED + 3)
    lines = []
    for _i in range(900):
        k = rng.randrange(6)
        y = 1 if (k < 3) != (rng.random() < 0.2) else (-1 if labels == "-1/1" else 0)
        lines.append(f"{y} |f k{k}")
    lines.insert(500, "|f k1")  # unlabelled: learned, not scored
    flags = "--loss_function logistic" if labels == "-1/1" else ""
    rec = Scripted()
    m = wabbit.Model(flags)
    m.monitor(rec, "error", every=64)
    preds = m.learn_many(lines)
    keep = [i for i, l in enumerate(lines) if not l.startswith("|")]
    y, p = labels_of([lines[i] for i in keep]), preds[keep]
    cut = 0.0 if labels == "-1/1" else 0.5
    assert rec.seen == ((p > cut) != (y > cut)).astype(float).tolist()
    assert m.drift_monitor.n == len(keep) == 900


def test_a_callable_signal_gets_the_core_arrays():
    lines = list(click_log(3000, seed=SEED % 997))
    plain, loss = core_signals(lines)
    got = []

    def margin(label, prediction, loss):
        got.append((label.copy(), prediction.copy(), loss.copy()))
        return -label * prediction

    rec = Scripted()
    m = wabbit.Model(FLAGS)
    m.monitor(rec, margin, every=500)
    m.learn_many(lines)
    label, pred, lo = (np.concatenate([g[k] for g in got]) for k in range(3))
    assert label.dtype == np.float32 and len(got) == 6
    assert np.array_equal(label, labels_of(lines)) and np.array_equal(pred, plain) and np.array_equal(lo, loss)
    assert rec.seen == (-label.astype(float) * pred.astype(float)).tolist()
    with pytest.raises(ValueError, match="shape"):
        m2 = wabbit.Model(FLAGS)
        m2.monitor(Scripted(), lambda l, p, x: x[:-1], every=100)
        m2.learn_many(lines[:200])


# ------------------------------------------------------------------------------------ responses


def test_reset_forgets_at_the_boundary():
    lines = ["1 |f a", "-1 |f b"] * 200 + ["-1 |f a", "1 |f b"] * 200
    m = wabbit.Model("--loss_function logistic")
    m.monitor(PageHinkley(threshold=5, mode="up"), on_drift="reset", every=50, log=lambda s: None)
    preds = m.learn_many(lines)
    (ev,) = m.drift_events
    assert (ev.kind, ev.response, ev.rising) == ("drift", "reset", True)
    b = ev.applied
    assert b % 50 == 0 and ev.index < b <= ev.index + 50
    plain = wabbit.Model("--loss_function logistic").learn_many(lines)
    fresh = wabbit.Model("--loss_function logistic").learn_many(lines[b:])
    assert np.array_equal(preds[:b], plain[:b])
    assert np.array_equal(preds[b:], fresh)
    assert m.stats["example_number"] == len(lines)  # the statistics go on


def test_reset_ignores_a_falling_loss():
    # ADWIN raises alarms when the loss falls too; a reset then would undo the learning
    lines = ["1 |f a", "-1 |f b"] * 300 + ["-1 |f a", "1 |f b"] * 400
    m = wabbit.Model("--loss_function logistic")
    m.monitor(ADWIN(), on_drift="reset", every=40, log=lambda s: None)
    m.learn_many(lines)
    ev = m.drift_events
    assert any(e.rising is False for e in ev) and any(e.rising for e in ev)
    assert all((e.response == "reset") == bool(e.rising) for e in ev)


def test_reset_direction_is_adwins_cut_as_river_sees_it():
    rng = np.random.default_rng([SEED, 5])
    values = np.concatenate([rng.exponential(0.3, 3000), rng.exponential(0.7, 3000), rng.exponential(0.2, 3000)])
    ours = ADWIN()
    drifts, _, rising, _ = feed(ours, values, 0, warnings=False)
    det = river_drift.ADWIN()
    expected = []
    for i, x in enumerate(values):
        w0, t0 = det.width, det.total
        det.update(float(x))
        if det.drift_detected:
            kept = det.total / det.width
            dropped = (t0 + x - det.total) / (w0 + 1 - det.width)
            expected.append((i, kept > dropped))
    assert list(zip(drifts, rising)) == expected, f"seed {SEED}"
    assert ours.width == det.width  # the replay left the detector where river's is


def test_boost_equals_a_rate_factor_set_by_hand():
    lines = ["1 |f a", "-1 |f b"] * 200 + ["-1 |f a", "1 |f b"] * 300
    m = wabbit.Model("--loss_function logistic")
    m.monitor(
        PageHinkley(threshold=5, mode="up"),
        on_drift="boost",
        every=50,
        boost_factor=4,
        boost_examples=100,
        log=lambda s: None,
    )
    preds = m.learn_many(lines)
    (ev,) = [e for e in m.drift_events if e.response == "boost"]
    b = ev.applied
    ref = wabbit.Model("--loss_function logistic")
    parts = [ref.learn_many(lines[:b])]
    ref._core.set_rate_factor(4.0)
    parts.append(ref.learn_many(lines[b : b + 100]))
    ref._core.set_rate_factor(1.0)
    parts.append(ref.learn_many(lines[b + 100 :]))
    assert np.array_equal(preds, np.concatenate(parts))
    assert m._core.rate_factor() == 1.0


def test_switch_with_a_warning_zone_promotes_the_challenger_started_at_the_warning():
    lines = flip_stream(6000, 3000, seed=1)
    m = wabbit.Model("--loss_function logistic")
    m.monitor(DDM(), "error", "switch", every=50, log=lambda s: None)
    preds = m.learn_many(lines)
    ev = m.drift_events
    warn = next(e for e in ev if e.kind == "warning" and e.response == "challenger")
    drift = next(e for e in ev if e.kind == "drift")
    assert drift.response == "switch" and warn.index < drift.index and warn.applied < drift.applied
    assert any(e.kind == "switch" and e.index == drift.applied for e in ev)
    s, b = warn.applied, drift.applied
    nxt = min([e.applied for e in ev if e.kind == "switch" and e.applied > b] + [len(lines)])
    fresh = wabbit.Model("--loss_function logistic").learn_many(lines[s:])
    plain = wabbit.Model("--loss_function logistic").learn_many(lines)
    assert np.array_equal(preds[:b], plain[:b])
    assert np.array_equal(preds[b:nxt], fresh[b - s : nxt - s])
    # a warning that comes to nothing: the challenger is dropped after `every` quiet examples
    drops = [e for e in ev if e.kind == "drop"]
    for d in drops:
        last_warning = max(e.index for e in ev if e.kind == "warning" and e.index < d.index)
        assert d.index - last_warning > 50


def test_switch_gate_by_hand_on_a_click_log():
    judged = [_check_gate(SEED % 500 + k) for k in range(3)]
    assert any(judged), f"seeds {SEED % 500}..+2: ADWIN missed every change"


def _check_gate(seed):
    """The monitor's switch decision on one click log against river's ADWIN and the gate by hand;
    False when ADWIN saw no rise (nothing to judge)."""
    lines = list(click_log(60_000, seed=seed, drift_at=30_000))
    plain, loss = core_signals(lines)
    m = wabbit.Model(FLAGS)
    m.monitor(ADWIN(), "loss", "switch", log=lambda s: None)
    preds = m.learn_many(lines)
    ev = m.drift_events
    # the reference: river's ADWIN on the same signal, its kept window at the first rising alarm
    det = river_drift.ADWIN()
    alarm = None
    for i, x in enumerate(loss):
        w0, t0 = det.width, det.total
        det.update(float(x))
        if det.drift_detected and det.total / det.width > (t0 + x - det.total) / (w0 + 1 - det.width):
            alarm, cut = i, i + 1 - int(det.width)
            break
    if alarm is None:  # the detector missed this change (it happens): nothing may be done
        assert not any(e.response == "challenger" for e in ev), f"seed {seed}"
        assert np.array_equal(preds, plain)
        return False
    first = next(e for e in ev if e.kind == "drift" and e.rising)
    assert (first.index, first.response) == (alarm, "challenger"), f"seed {seed}"
    start = (alarm // 1000 + 1) * 1000
    kept = (HISTORY_GATES + 1) * 1000  # the monitor keeps this much of the signal back from `start`
    lo = max(0, cut - GATE_PATIENCE * 1000, start - kept)
    # fewer than `gate` values kept before the cut: the oldest kept ones, up to the alarm
    hi = cut if cut - lo >= 1000 else min(lo + GATE_PATIENCE * 1000, alarm + 1)
    before = loss[lo:hi].astype(float)
    decision = None
    for k in range(1, GATE_PATIENCE + 1):
        after = loss[start : start + 1000 * k].astype(float)
        se = math.sqrt(before.var(ddof=1) / len(before) + after.var(ddof=1) / len(after))
        if after.mean() - before.mean() > GATE_SIGMAS * se:
            decision = ("switch", start + 1000 * k)
            break
    else:
        decision = ("drop", start + 1000 * GATE_PATIENCE)
    if decision[1] > len(lines):  # the stream ends before the gate decides
        assert not any(e.kind in ("switch", "drop") for e in ev) and np.array_equal(preds, plain)
        return False
    judged = next(e for e in ev if e.kind in ("switch", "drop"))
    assert (judged.kind, judged.index) == decision, f"seed {seed}"
    b = judged.index
    assert np.array_equal(preds[:b], plain[:b])
    if judged.kind == "switch":
        nxt = min([e.applied for e in ev if e.kind == "switch" and e.applied > b] + [len(lines)])
        fresh = wabbit.Model(FLAGS).learn_many(lines[start:])
        assert np.array_equal(preds[b:nxt], fresh[b - start : nxt - start])
    return True


def test_a_change_that_began_before_the_kept_history_is_still_gated():
    # Issue 22: when ADWIN's estimate of where the change began falls before the signal the monitor
    # keeps (HISTORY_GATES * gate values), the gate compared with nothing and promoted the
    # challenger untested. The reference is now the oldest values kept, up to the alarm; here those
    # are already at the new level, so the champion's signal has not risen against them.
    rng = np.random.default_rng(SEED)
    gate, every = 2, 10
    sig = np.r_[rng.random(5000) < 0.05, rng.random(3000) < 0.5].astype(float)
    fed = [0]

    def scripted(label, prediction, loss):  # the monitored signal, set by hand
        out = sig[fed[0] : fed[0] + len(label)]
        fed[0] += len(label)
        return out

    messages = []
    m = wabbit.Model("--loss_function logistic")
    m.monitor(ADWIN(), scripted, "switch", every=every, gate=gate, log=messages.append)
    m.learn_many(["1 |f a"] * len(sig))
    # the reference: river's ADWIN on the same signal, where it cut its window at the first alarm
    det = river_drift.ADWIN()
    for alarm, x in enumerate(sig):
        det.update(float(x))
        if det.drift_detected:
            cut = alarm + 1 - int(det.width)
            break
    first_event = next(e for e in m.drift_events if e.kind == "drift")
    assert (first_event.index, first_event.response) == (alarm, "challenger"), f"seed {SEED}"
    start = (alarm // every + 1) * every
    first = start - (HISTORY_GATES * gate + every)  # the oldest value kept at the alarm
    assert cut < first, f"seed {SEED}: ADWIN's cut {cut} is within the kept history (from {first})"
    before = sig[first : min(first + GATE_PATIENCE * gate, alarm + 1)]
    assert len(before) == GATE_PATIENCE * gate
    # the gate looks at the next batch boundary, where the champion has GATE_PATIENCE * gate values
    # since the challenger started: one look decides
    assert every == GATE_PATIENCE * gate
    after = sig[start : start + every]
    se = math.sqrt(before.var(ddof=1) / len(before) + after.var(ddof=1) / len(after))
    decision = ("switch" if after.mean() - before.mean() > GATE_SIGMAS * se else "drop", start + every)
    judged = next(e for e in m.drift_events if e.kind in ("switch", "drop"))
    assert (judged.kind, judged.index) == decision, f"seed {SEED}"
    said = next(s for s in messages if s.startswith(("switched", "challenger dropped")))
    assert "no signal before the alarm" not in said and f"mean signal {before.mean():.4f} before" in said, said


def test_a_false_alarm_on_a_stationary_stream_is_dropped():
    # The gate is a statistical test (3 standard errors, looked at several times), so on a
    # stationary stream a false alarm's challenger is promoted now and then (about 1 stream in 25
    # was seen to); the claim is that it is dropped on most: 2 of 3 streams drawn for this run.
    outcomes = []
    for k in range(3):
        seed = (SEED + k) % 300
        lines = list(click_log(40_000, seed=seed))
        plain, _ = core_signals(lines)
        m = wabbit.Model(FLAGS)
        m.monitor(Scripted(at=[20_000]), "loss", "switch", log=lambda s: None)
        preds = m.learn_many(lines)
        kinds = [(e.kind, e.response, e.index) for e in m.drift_events]
        assert kinds[0] == ("drift", "challenger", 20_000)
        dropped = kinds[1][0] == "drop"
        if dropped:  # the champion went on as if nothing had happened
            assert np.array_equal(preds, plain), f"seed {seed}"
        outcomes.append((seed, kinds[1]))
    assert sum(o[1][0] == "drop" for o in outcomes) >= 2, outcomes


def test_single_learn_calls_equal_learn_many():
    lines = list(click_log(20_000, seed=2, drift_at=10_000))
    a = wabbit.Model(FLAGS)
    a.monitor(ADWIN(), "loss", "switch", every=250, gate=500, log=lambda s: None)
    pa = a.learn_many(lines)
    b = wabbit.Model(FLAGS)
    b.monitor(ADWIN(), "loss", "switch", every=250, gate=500, log=lambda s: None)
    pb = np.array([b.learn(line) for line in lines], dtype=np.float32)
    assert any(e.kind == "switch" for e in a.drift_events)
    assert np.array_equal(pa, pb)
    assert a.drift_events == b.drift_events
    # dict examples too (with their labels and importance weights)
    rng = random.Random(SEED)
    rows = [(f, 1 if f == "a" else -1, rng.choice([1.0, 2.0])) for f in rng.choices("ab", k=1500)]
    rows += [(f, -y, w) for f, y, w in rows]  # the concept flips
    text = [f"{y} {w:g} |f {f}" for f, y, w in rows]
    c = wabbit.Model("--loss_function logistic")
    c.monitor(PageHinkley(threshold=3, mode="up"), "loss", "reset", every=100, log=lambda s: None)
    pc = c.learn_many(text)
    d = wabbit.Model("--loss_function logistic")
    d.monitor(PageHinkley(threshold=3, mode="up"), "loss", "reset", every=100, log=lambda s: None)
    pd = np.array([d.learn({"f": [f]}, label=y, weight=w) for f, y, w in rows], dtype=np.float32)
    assert c.drift_events and c.drift_events == d.drift_events
    assert np.allclose(pc, pd, rtol=1e-6, atol=1e-6)


def test_callable_response_and_callback():
    lines = ["1 |f a", "-1 |f b"] * 200 + ["-1 |f a", "1 |f b"] * 200
    calls, seen = [], []

    def halve(model, event):
        calls.append((model, event))
        model._core.set_rate_factor(0.5)

    m = wabbit.Model("--loss_function logistic")
    m.monitor(PageHinkley(threshold=5, mode="up"), on_drift=halve, every=50, callback=seen.append)
    m.learn_many(lines)
    assert len(calls) == 1 and calls[0][0] is m
    assert calls[0][1] == m.drift_events[0] and calls[0][1].response == "halve"
    assert seen == m.drift_events and m._core.rate_factor() == 0.5


def test_monitor_with_write_behind(tmp_path):
    lines = list(click_log(5000, seed=2, drift_at=2500))
    a = wabbit.Model(FLAGS)
    a.monitor(ADWIN(), "loss", "switch", every=200, gate=400, log=lambda s: None)
    pa = a.learn_many(lines)
    store = wabbit.ModelStore(tmp_path / "store", keep=100)
    b = wabbit.Model(FLAGS)
    b.monitor(ADWIN(), "loss", "switch", every=200, gate=400, log=lambda s: None)
    pb = b.learn_many(lines, save_every=300, store=store)
    assert np.array_equal(pa, pb) and a.drift_events == b.drift_events
    # the writer keeps the newest snapshot when it is busy: some versions may be skipped, but
    # each was taken at a multiple of save_every, and the last is the end state
    versions = store.list()
    assert all(v.examples % 300 == 0 for v in versions[:-1]) and versions[-1].examples == 5000
    assert np.array_equal(store.load().predict_many(lines[:500]), b.predict_many(lines[:500]))


def test_monitors_are_not_copied_and_validate_their_arguments():
    m = wabbit.Model(FLAGS)
    mon = m.monitor(ADWIN(), on_drift="switch", log=lambda s: None)
    assert m.drift_monitor is mon and mon.challenger is not None and mon.challenger.args == m.args
    assert m.copy().drift_monitor is None and m.snapshot().to_model().drift_monitor is None
    import pickle

    # pickling keeps the monitor (tests/test_copy_live_state.py); a lambda cannot be pickled: refused
    with pytest.raises(TypeError, match="cannot pickle the model's drift monitor: its log="):
        pickle.dumps(m)
    assert m.drift_monitor is mon
    assert m.monitor(None) is None and m.drift_monitor is None and m.drift_events == []
    with pytest.raises(ValueError, match="on_drift"):
        m.monitor(ADWIN(), on_drift="panic")
    with pytest.raises(ValueError, match="signal"):
        m.monitor(ADWIN(), signal="auc")
    with pytest.raises(ValueError, match="every"):
        m.monitor(ADWIN(), every=0)
    with pytest.raises(TypeError, match="update_many"):
        m.monitor(object())
    assert DriftEvent(4, "drift", "ADWIN", "alert", 10).example == 5


# ------------------------------------------------------------------------------------ command line


def test_drift_flags():
    c = parse_args(
        "--drift adwin --drift_delta 0.01 --drift_response switch --drift_every 500 --drift_gate 2000"
    ).drift_config()
    assert (c["detector"], c["params"], c["response"], c["signal"], c["every"], c["gate"]) == (
        "ADWIN",
        {"delta": 0.01},
        "switch",
        "loss",
        500,
        2000,
    )
    c = parse_args("--drift ddm --drift_threshold 4 --drift_param warning_threshold=2.5").drift_config()
    assert (c["detector"], c["params"], c["signal"]) == (
        "DDM",
        {"drift_threshold": 4.0, "warning_threshold": 2.5},
        "error",
    )
    c = parse_args("--drift ph --drift_threshold 20 --drift_param mode=both").drift_config()
    assert c["params"] == {"mode": "both", "threshold": 20.0}
    c = parse_args("--drift kswin --drift_param seed=3 --drift_response boost --drift_boost 2").drift_config()
    assert (c["params"], c["boost_factor"], c["boost_examples"]) == ({"seed": 3}, 2.0, 10_000)
    assert parse_args("").drift_config() is None
    for bad, msg in [
        ("--drift_response switch", "need --drift"),
        ("--drift foo", "must be one of"),
        ("--drift ddm --drift_delta 0.1", "--drift_delta applies to adwin and ph"),
        ("--drift adwin --drift_response panic", "--drift_response must be"),
        ("--drift adwin -t --drift_response reset", "with -t only alert"),
        ("--drift adwin --drift_gate 10", "only to --drift_response switch"),
        ("--drift adwin --drift_param delta", "NAME=VALUE"),
        ("--drift adwin --drift_every 0", "positive"),
    ]:
        with pytest.raises(OptionError, match=msg):
            parse_args(bad).drift_config()


def test_cli_pool_matches_the_python_pool(tmp_path):
    """--drift_response pool on the command line is Model.monitor(..., "pool") with the same settings."""
    lines = list(click_log(20_000, seed=2, drift_at=10_000))
    (tmp_path / "d.vw").write_text("\n".join(lines) + "\n")
    flags = ["--drift", "adwin", "--drift_response", "pool", "--drift_every", "200", "--drift_gate", "200"]
    proc = vwcompare.run_wabbit(
        ["-d", "d.vw", *FLAGS.split(), *flags, "--drift_pool_size", "2", "-p", "p.txt"], tmp_path
    )
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    assert "response: pool" in proc.stderr
    m = wabbit.Model(FLAGS)
    m.monitor(ADWIN(), "loss", "pool", every=200, gate=200, pool_size=2, log=lambda s: None, name="adwin")
    preds = m.learn_many(lines)
    got = np.array([p for p, _ in vwcompare.parse_predictions((tmp_path / "p.txt").read_text())])
    np.testing.assert_allclose(got, preds, atol=1e-6)
    c = parse_args("--drift adwin --drift_response pool --drift_pool_size 4 --drift_gate 300").drift_config()
    assert (c["response"], c["pool_size"], c["gate"]) == ("pool", 4, 300)
    for bad, msg in [
        ("--drift adwin --drift_pool_size 2", "only to --drift_response pool"),
        ("--drift adwin --drift_response pool --drift_pool_size 0", "positive"),
        ("--drift adwin -t --drift_response pool", "with -t only alert"),
    ]:
        with pytest.raises(OptionError, match=msg):
            parse_args(bad).drift_config()


def test_cli_switch_output_and_predictions(tmp_path):
    lines = list(click_log(30_000, seed=1, drift_at=15_000))
    (tmp_path / "d.vw").write_text("\n".join(lines) + "\n")
    proc = vwcompare.run_wabbit(
        ["-d", "d.vw", *FLAGS.split(), "--drift", "adwin", "--drift_response", "switch", "-p", "p.txt"], tmp_path
    )
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    m = wabbit.Model(FLAGS)
    m.monitor(ADWIN(), "loss", "switch", log=lambda s: None, name="adwin")
    preds = m.learn_many(lines)
    got = np.array([p for p, _ in vwcompare.parse_predictions((tmp_path / "p.txt").read_text())])
    np.testing.assert_allclose(got, preds, atol=1e-6)
    err = proc.stderr
    mon = m.drift_monitor
    for e in m.drift_events:
        if e.kind == "drift" and e.response == "challenger":
            assert (
                f"drift detected at example {e.example} (adwin): challenger started at example {e.applied + 1}" in err
            )
        if e.kind == "switch":
            assert f"switched to challenger at example {e.index + 1} (adwin alarm at example" in err
    assert any(e.kind == "switch" for e in m.drift_events)
    tail = err[err.index("finished run") :]
    for line in mon.summary():
        assert line in tail
    drifts = [e for e in m.drift_events if e.kind == "drift"]
    assert f"drift alarms = {len(drifts)} (adwin, at example" in tail
    assert "challenger switches = 1 (at example" in tail
    # the drift line comes between progress rows (the loop prints, then the monitor, in order)
    rows = err[err.index("average  since") : err.index("finished run")].splitlines()
    assert any(r.startswith("drift detected") for r in rows[3:-1])


def test_cli_test_only_alerts_and_bad_flags(tmp_path):
    lines = list(click_log(4000, seed=3, drift_at=2000))
    (tmp_path / "d.vw").write_text("\n".join(lines) + "\n")
    ok = vwcompare.run_wabbit(["-d", "d.vw", *FLAGS.split(), "-f", "m.bin", "--quiet"], tmp_path)
    assert ok.returncode == 0
    proc = vwcompare.run_wabbit(
        ["-d", "d.vw", "-t", "-i", "m.bin", "--drift", "ph", "--drift_threshold", "5"], tmp_path
    )
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    m = wabbit.load(tmp_path / "m.bin")
    res = m._core.run_buffer(("\n".join(lines) + "\n").encode(), {"learn": False, "signals": True})
    loss = m._core.take_signals()["loss"]
    assert res["examples"] == len(loss) == len(lines)
    ph = river_drift.PageHinkley(threshold=5, mode="up")
    expected = []
    for i, x in enumerate(loss):
        ph.update(float(x))
        if ph.drift_detected:
            expected.append(i + 1)
    assert expected, "the saved model should see the second concept as drift"
    for n in expected:
        assert f"drift detected at example {n} (ph): alert" in proc.stderr
    bad = vwcompare.run_wabbit(["-d", "d.vw", "--drift", "adwin", "--drift_param", "clok=3"], tmp_path)
    assert bad.returncode == 1 and "--drift adwin" in bad.stderr and "Traceback" not in bad.stderr
    bad = vwcompare.run_wabbit(["-d", "d.vw", "--drift_response", "switch"], tmp_path)
    assert bad.returncode == 1 and "need --drift" in bad.stderr


# ------------------------------------------------------------------------------------ issue 6's acceptance


@pytest.fixture(scope="module")
def acceptance_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("drift")
    write_click_log(d / "drift.vw", 400_000, seed=0, drift_at=200_000)
    write_click_log(d / "stationary.vw", 400_000, seed=0)
    return d


def test_acceptance_switch_beats_vw_and_matches_a_fresh_model(vw_available, acceptance_files):
    d = acceptance_files
    proc = vwcompare.run_wabbit(
        ["-d", "drift.vw", *FLAGS.split(), "--drift", "adwin", "--drift_response", "switch", "-p", "switch.p"], d
    )
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    vw = vwcompare.run_vw(["-d", "drift.vw", *FLAGS.split(), "-p", "vw.p", "--quiet"], d)
    assert vw.returncode == 0, vwcompare.describe_run(vw)
    lines = (d / "drift.vw").read_text().splitlines()
    y = labels_of(lines)
    after = slice(200_000, 300_000)
    ours = logloss([p for p, _ in vwcompare.parse_predictions((d / "switch.p").read_text())], y)[after].mean()
    theirs = logloss([p for p, _ in vwcompare.parse_predictions((d / "vw.p").read_text())], y)[after].mean()
    scratch = logloss(wabbit.Model(FLAGS).learn_many(lines[after]), y[after]).mean()
    assert ours <= 0.9 * theirs, (ours, theirs)
    assert ours <= 1.03 * scratch, (ours, scratch)


def test_acceptance_no_more_false_alarms_than_river(acceptance_files):
    lines = (acceptance_files / "stationary.vw").read_bytes()
    fed = []

    def loss(label, prediction, values):
        fed.append(values.copy())
        return values

    m = wabbit.Model(FLAGS)
    m.monitor(ADWIN(), loss, "switch", log=lambda s: None)
    m.learn_many(lines)
    ours = [e.index for e in m.drift_events if e.kind == "drift"]
    theirs = river_alarms(np.concatenate(fed))
    assert len(ours) <= len(theirs), (ours, theirs)
    assert not any(e.kind == "switch" for e in m.drift_events)
    assert ours == theirs  # no switch, so the detector never restarted: river's alarms exactly

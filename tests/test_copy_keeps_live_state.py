"""Pickle and deepcopy keep the drift monitor and the pending delayed-reward decisions (issue 14,
item 12).

They used to be dropped silently: a pickled or deep-copied model came back without its monitor
and with no pending decisions, so rewards for decisions logged before the copy were "unknown".
Now the copy carries both, in their current state. The property checked: the copy then behaves
exactly as the original on the same input (same drift events, same predictions, same rewards
learned). A monitor whose callables cannot be pickled (a lambda) is refused with a TypeError
that says so, instead of being dropped.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import wabbit
from wabbit.drift import ADWIN, PageHinkley
from wabbit.synth import click_log

COPIES = {
    "pickle": lambda m: pickle.loads(pickle.dumps(m)),
    "deepcopy": copy.deepcopy,
    "copy": copy.copy,
}


def flip_stream(n: int, at: int) -> list:
    """Two features whose labels swap at example ``at`` (a drift any detector sees)."""
    out = []
    for i in range(n):
        sign = 1 if i < at else -1
        out.append(f"{sign} |f a" if i % 2 == 0 else f"{-sign} |f b")
    return out


def events(m):
    return [tuple(e) for e in m.drift_events]


@pytest.mark.parametrize("how", sorted(COPIES))
def test_a_copied_monitor_raises_the_same_alarms(how):
    lines = flip_stream(1200, at=600)
    m = wabbit.Model("--loss_function logistic -b 10")
    m.monitor(PageHinkley(threshold=5, mode="up"), on_drift="reset", every=50)
    # single learn() calls leave signals buffered in the monitor (handed over every 50 calls)
    for line in lines[:430]:
        m.learn(line)
    c = COPIES[how](m)
    assert c.drift_monitor is not None and c.drift_monitor is not m.drift_monitor
    assert c.drift_monitor.detector is not m.drift_monitor.detector
    for model in (m, c):
        for line in lines[430:700]:
            model.learn(line)
        model.learn_many(lines[700:])
    assert events(m), "the stream should raise an alarm"
    assert events(c) == events(m)
    probes = ["|f a", "|f b"]
    assert [c.predict(p) for p in probes] == [m.predict(p) for p in probes]


@pytest.mark.parametrize("how", sorted(COPIES))
def test_a_copied_challenger_switches_as_the_original(how):
    lines = list(click_log(24_000, seed=1, drift_at=20_000))  # the monitor module's example
    m = wabbit.Model("--loss_function logistic -q ua")
    m.monitor(ADWIN(), signal="loss", on_drift="switch")
    m.learn_many(lines[:21_500])  # alarm at 20416, challenger learning since 21001, on trial
    assert [e.response for e in m.drift_events] == ["challenger"]
    c = COPIES[how](m)
    assert c.drift_monitor.challenger is not None and c.drift_monitor.challenger is not m.drift_monitor.challenger
    pa = m.learn_many(lines[21_500:])
    pc = c.learn_many(lines[21_500:])
    assert [e.kind for e in m.drift_events] == ["drift", "switch"]
    assert events(c) == events(m)
    assert np.array_equal(pa, pc)


@pytest.mark.parametrize("how", sorted(COPIES))
def test_pending_decisions_survive_and_are_rewarded_in_the_copy(how):
    m = wabbit.Model("--cb_explore_adf -q ua -b 12", reward_ttl=100)
    ev = [f"shared |u user={k}\n|a ad=1\n|a ad=2\n|a ad=3" for k in range(4)]
    for k in range(4):
        m.log_decision(f"id{k}", ev[k], action=k % 3, probability=0.5, timestamp=float(k))
    assert m.reward("id0", 1.0, timestamp=5.0)
    c = COPIES[how](m)
    assert c.decisions.pending == 3 and c.decisions.ttl == 100.0
    assert c.decisions.stats == m.decisions.stats
    for model in (m, c):
        assert model.reward("id2", 0.0, timestamp=10.0)
        assert model.reward("id1", 2.0, timestamp=11.0)
        assert not model.reward("id0", 1.0, timestamp=12.0)  # a duplicate in both
        assert not model.reward("id3", 1.0, timestamp=500.0)  # late in both
    assert c.decisions.stats == m.decisions.stats
    for e in ev:
        assert np.array_equal(c.predict(e), m.predict(e))
    # the copy's decisions learn into the copy, not into the original
    c.log_decision("new", ev[0], action=0, probability=0.5, timestamp=600.0)
    before = m.predict(ev[0])
    assert c.reward("new", 3.0, timestamp=601.0)
    assert np.array_equal(m.predict(ev[0]), before) and m.decisions.pending == 0


def test_pickling_a_monitor_with_a_lambda_is_refused_clearly():
    m = wabbit.Model("-b 8")
    m.monitor(PageHinkley(), on_drift=lambda model, event: None)
    with pytest.raises(
        TypeError, match=r"cannot pickle the model's drift monitor: its on_drift=.*module-level function"
    ):
        pickle.dumps(m)
    c = copy.deepcopy(m)  # a deep copy shares the callables instead
    assert c.drift_monitor.on_drift is m.drift_monitor.on_drift
    m.monitor(None)
    assert pickle.loads(pickle.dumps(m)).drift_monitor is None


def test_copy_method_and_snapshots_still_copy_only_what_was_learned():
    m = wabbit.Model("--cb_explore_adf -b 10")
    m.log_decision("x", "shared |u a\n|a b", action=0, probability=1.0, timestamp=0.0)
    assert m.copy().decisions.pending == 0 and m.snapshot().to_model().decisions.pending == 0
    assert copy.deepcopy(m).decisions.pending == 1

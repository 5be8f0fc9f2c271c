"""The label join: predictions and labels by id within a TTL, in any order, with exact counts."""

from __future__ import annotations

import doctest
import json
import math
import random
import time
from typing import List, Tuple

import pytest

import wabbit
from wabbit import join
from wabbit.join import JoinedExample, LabelJoiner, LabelRecord, PredictionRecord


def test_docstring_examples():
    result = doctest.testmod(join, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_a_label_after_its_prediction_joins_with_both_times():
    j = LabelJoiner(ttl=10, max_pending=100)
    assert j.predicted("a", "|f x", 0.25, time=100.0) is None
    e = j.labelled("a", 1.0, time=104.0)
    assert e == JoinedExample("a", "|f x", 1.0, 0.25, 100.0, 104.0, False)
    assert len(j) == 0


def test_a_label_before_its_prediction_waits_and_joins():
    j = LabelJoiner(ttl=10, max_pending=100)
    assert j.labelled(7, -1.0, time=50.0) is None
    assert len(j) == 1 and j.stats.pending_labels == 1
    e = j.predicted(7, {"f": ["x"]}, 0.5, time=55.0)
    assert e is not None and (e.label, e.prediction_time, e.label_time) == (-1.0, 55.0, 50.0)
    assert e.as_item() == ({"f": ["x"]}, -1.0)
    s = j.stats
    assert (s.predictions, s.labels, s.joined, s.pending) == (1, 1, 1, 0)


def test_the_ttl_bound_is_inclusive_and_a_label_beyond_it_is_late():
    j = LabelJoiner(ttl=10, max_pending=100, default_label=0.0)
    j.predicted("in", "|f a", 0.0, time=0.0)
    j.predicted("out", "|f b", 0.0, time=0.0)
    assert j.labelled("in", 1.0, time=10.0) is not None  # exactly ttl apart: joins
    assert j.labelled("out", 1.0, time=10.5) is None  # beyond: late, not learned
    assert j.stats.late == 1
    # the prediction still expires in turn, with the default (its label never came in time)
    expired = j.expire(10.5)
    assert [(e.id, e.label, e.defaulted, e.label_time) for e in expired] == [("out", 0.0, True, 10.5)]
    # a label after expiry is late too; a second label for a joined id is a duplicate
    assert j.labelled("out", 1.0, time=11.0) is None
    assert j.labelled("in", 1.0, time=11.0) is None
    s = j.stats
    assert (s.joined, s.late, s.duplicates, s.expired_defaulted, s.expired_dropped) == (1, 2, 1, 1, 0)


def test_expiry_drops_without_a_default_and_orphan_labels_are_unknown():
    j = LabelJoiner(ttl=5, max_pending=100)
    j.predicted("p", "|f a", 0.1, time=0.0)
    j.labelled("q", 1.0, time=1.0)  # its prediction never comes
    assert j.expire(5.0) == []  # nothing is past the ttl yet (5 - 0 is not > 5)
    assert len(j) == 2
    assert j.expire(6.5) == []
    s = j.stats
    assert (s.expired_dropped, s.expired_defaulted, s.unknown, s.pending) == (1, 0, 1, 0)
    # a second label for the orphan is a duplicate; its prediction now starts afresh
    assert j.labelled("q", 1.0, time=7.0) is None and j.stats.duplicates == 1
    assert j.predicted("q", "|f b", 0.0, time=7.0) is None and "q" in j


def test_a_waiting_label_too_far_from_its_prediction_is_late_whatever_the_order():
    # the same pair, arriving in both orders, counts the same
    for order in ("pl", "lp"):
        j = LabelJoiner(ttl=10, max_pending=100)
        for kind in order:
            if kind == "p":
                j.predicted("x", "|f a", 0.0, time=0.0)
            else:
                j.labelled("x", 1.0, time=50.0)
        s = j.stats
        assert (s.joined, s.late, s.unknown, s.pending_predictions, s.pending_labels) == (0, 1, 0, 1, 0), order


def test_duplicate_predictions_are_ignored_and_the_first_stands():
    j = LabelJoiner(ttl=10, max_pending=100)
    j.predicted("a", "|f first", 1.0, time=0.0)
    j.predicted("a", "|f second", 2.0, time=1.0)
    e = j.labelled("a", 1.0, time=2.0)
    assert e is not None and e.features == "|f first"
    j.predicted("a", "|f third", 3.0, time=3.0)  # after the join: still a duplicate
    assert j.stats.duplicate_predictions == 2 and j.stats.predictions == 1


def test_the_cap_evicts_the_oldest_and_their_labels_are_late():
    j = LabelJoiner(ttl=100, max_pending=3)
    for i in range(5):
        j.predicted(i, f"|f x{i}", 0.0, time=float(i))
        assert len(j) <= 3
    assert sorted(k for k in range(5) if k in j) == [2, 3, 4]
    assert j.labelled(0, 1.0, time=6.0) is None and j.labelled(1, 1.0, time=6.0) is None
    assert j.labelled(4, 1.0, time=6.0) is not None
    s = j.stats
    assert (s.evicted, s.evicted_labels, s.late, s.joined) == (2, 0, 2, 1)
    # waiting labels count against the cap too, and are evicted first when oldest
    j2 = LabelJoiner(ttl=100, max_pending=2)
    j2.labelled("l", 1.0, time=0.0)
    j2.predicted("a", "|f a", 0.0, time=1.0)
    j2.predicted("b", "|f b", 0.0, time=2.0)
    assert (j2.stats.evicted, j2.stats.evicted_labels, len(j2)) == (1, 1, 2)


def test_joined_examples_learn_as_the_text_would():
    m1, m2 = wabbit.Model("--loss_function logistic"), wabbit.Model("--loss_function logistic")
    j = LabelJoiner(ttl=10, max_pending=10)
    j.predicted(1, "|u a b", 0.0, time=0.0)
    j.predicted(2, {"u": {"a": 1.0, "c": 2.0}}, 0.0, time=0.0)
    for e in (j.labelled(2, -1.0, time=1.0), j.labelled(1, 1.0, time=1.0)):
        assert e is not None
        e.learn(m1)
    m2.learn({"u": {"a": 1.0, "c": 2.0}}, label=-1.0)
    m2.learn("1 |u a b")
    assert m1.predict("|u a b c") == m2.predict("|u a b c")
    # a line with a tag keeps it
    assert JoinedExample("t", "'req7 |u a", 1.0, None, 0.0, 0.0).as_item() == "1.0 'req7 |u a"


def test_refuses_bad_settings_and_labels():
    with pytest.raises(ValueError, match="ttl"):
        LabelJoiner(ttl=0, max_pending=1)
    with pytest.raises(ValueError, match="ttl"):
        LabelJoiner(ttl=math.nan, max_pending=1)
    with pytest.raises(ValueError, match="max_pending"):
        LabelJoiner(ttl=1, max_pending=0)
    with pytest.raises(ValueError, match="default_label"):
        LabelJoiner(ttl=1, max_pending=1, default_label=math.inf)
    with pytest.raises(ValueError, match="label"):
        LabelJoiner(ttl=1, max_pending=1).labelled("a", math.nan, time=0)
    with pytest.raises(TypeError, match="features"):
        LabelJoiner(ttl=1, max_pending=1).predicted("a", ["f", "a"], 0.0, time=0)


def test_a_label_without_a_time_takes_the_clock():
    now = [1000.0]
    j = LabelJoiner(ttl=10, max_pending=10, clock=lambda: now[0])
    j.predicted("a", "|f a", 0.0, time=995.0)
    e = j.labelled("a", 1.0)
    assert e is not None and e.label_time == 1000.0


# --------------------------------------------------------------------------- a constructed stream
Event = Tuple[float, str, int, float]  # (time, "p" or "l", id, label)


def _stream(n: int, seed: int, ttl: float) -> Tuple[List[Event], int, int]:
    """n predictions one a second; labels after heavy-tailed delays (Pareto, capped below ttl/2):
    5% never come, 1% come twice. Returns the events in time order, and the counts of missing
    and duplicated labels."""
    rng = random.Random(seed)
    ids = list(range(n))
    rng.shuffle(ids)
    missing = set(ids[: n // 20])
    doubled = set(ids[n // 20 : n // 20 + n // 100])
    events: List[Event] = []
    for i in range(n):
        t = float(i)
        label = 1.0 if rng.random() < 0.3 else -1.0
        events.append((t, "p", i, 0.0))
        if i in missing:
            continue
        delay = min(rng.paretovariate(1.2), ttl / 2 - 1)
        events.append((t + delay, "l", i, label))
        if i in doubled:
            events.append((t + delay + min(rng.paretovariate(1.2), ttl / 2 - 1), "l", i, label))
    events.sort(key=lambda e: (e[0], e[1] == "l"))
    return events, len(missing), len(doubled)


def _shuffle_within(events: List[Event], window: int, seed: int) -> List[Event]:
    rng = random.Random(seed)
    out: List[Event] = []
    for k in range(0, len(events), window):
        chunk = events[k : k + window]
        rng.shuffle(chunk)
        out += chunk
    return out


def _run(j: LabelJoiner, events: List[Event], expire_every: int = 100) -> List[JoinedExample]:
    joined: List[JoinedExample] = []
    latest = -math.inf
    for k, (t, kind, i, label) in enumerate(events):
        if kind == "p":
            e = j.predicted(i, f"|f x{i % 97}", 0.0, time=t)
        else:
            e = j.labelled(i, label, time=t)
        if e is not None:
            joined.append(e)
        latest = max(latest, t)
        if k % expire_every == 0:
            joined += j.expire(latest)
        assert len(j) <= j.max_pending
    joined += j.expire(math.inf)
    return joined


def _conserved(s: join.JoinStats) -> None:
    """Every prediction and every label ends in exactly one way (or still waits)."""
    assert s.predictions == (
        s.joined + s.expired_dropped + s.expired_defaulted + (s.evicted - s.evicted_labels) + s.pending_predictions
    )
    assert s.labels == s.joined + s.duplicates + s.late + s.unknown + s.evicted_labels + s.pending_labels


def test_counts_are_exact_and_arrival_order_does_not_change_the_joined_set():
    n, ttl = 20_000, 1000.0
    events, missing, doubled = _stream(n, seed=1, ttl=ttl)
    results = {}
    for name, evs in (("in order", events), ("shuffled", _shuffle_within(events, 200, seed=2))):
        j = LabelJoiner(ttl=ttl, max_pending=n, default_label=-1.0)
        joined = _run(j, evs)
        s = j.stats
        assert s.predictions == n and s.labels == n - missing + doubled, name
        assert s.joined == n - missing, name
        assert s.duplicates == doubled, name
        assert s.expired_defaulted == missing, name
        assert (s.late, s.unknown, s.evicted, s.expired_dropped, s.pending) == (0, 0, 0, 0, 0), name
        _conserved(s)
        results[name] = {(e.id, e.label, e.defaulted) for e in joined}
        assert len(results[name]) == len(joined) == n  # each id once
    assert results["in order"] == results["shuffled"]
    # and the shuffle did move things: some labels came before their predictions
    assert any(e[1] == "l" for e in _shuffle_within(events, 200, seed=2)[:50])


def test_memory_stays_bounded_and_the_counts_still_add_up():
    n, ttl = 10_000, 1000.0
    events, missing, doubled = _stream(n, seed=3, ttl=ttl)
    j = LabelJoiner(ttl=ttl, max_pending=50)
    _run(j, _shuffle_within(events, 100, seed=4))  # asserts len(j) <= 50 after every call
    s = j.stats
    assert s.evicted > 0 and s.predictions == n
    _conserved(s)
    assert len(j.state()["closed"]["ids"]) <= 50  # the memory of closed ids is bounded too


def test_state_restore_through_json_continues_identically():
    n, ttl = 4000, 300.0
    events = _shuffle_within(_stream(n, seed=5, ttl=ttl)[0], 50, seed=6)
    first = LabelJoiner(ttl=ttl, max_pending=500, default_label=0.0)
    out_first = _drive(first, events[:3000])
    restored = LabelJoiner.restore(json.loads(json.dumps(first.state())))
    out_rest = _drive(restored, events[3000:], start=3000)
    uninterrupted = LabelJoiner(ttl=ttl, max_pending=500, default_label=0.0)
    out_all = _drive(uninterrupted, events)
    assert out_first + out_rest == out_all
    assert restored.stats == uninterrupted.stats


@pytest.mark.parametrize("ids", ["int", "str", "mixed", "tuple", "huge"])
def test_packed_state_through_the_trainer_sidecar_continues_identically(tmp_path, ids):
    from wabbit.trainer_state import read_state, write_state

    n, ttl = 4000, 300.0
    name = {
        "int": lambda i: i,
        "str": lambda i: f"r{i}",
        "mixed": lambda i: i if i % 2 else f"r{i}",
        "tuple": lambda i: ("r", i),
        "huge": lambda i: i + (1 << 70),
    }[ids]
    events = [
        (t, kind, name(i), label) for t, kind, i, label in _shuffle_within(_stream(n, seed=5, ttl=ttl)[0], 50, seed=6)
    ]
    first = LabelJoiner(ttl=ttl, max_pending=500, default_label=0.0)
    out_first = _drive(first, events[:3000])
    state = first.state(packed=True)
    assert isinstance(state["closed"]["times"], bytes) and isinstance(state["closed"]["ids"], bytes) == (ids == "int")
    restored = LabelJoiner.restore(read_state(str(tmp_path), *write_state(str(tmp_path), {"joiner": state}))["joiner"])
    assert restored.state() == first.state()
    if ids != "tuple":  # (JSON makes a tuple id a list, which restore() makes a tuple again)
        assert json.loads(json.dumps(restored.state())) == json.loads(json.dumps(first.state()))
    out_rest = _drive(restored, events[3000:], start=3000)
    uninterrupted = LabelJoiner(ttl=ttl, max_pending=500, default_label=0.0)
    out_all = _drive(uninterrupted, events)
    assert out_first + out_rest == out_all
    assert restored.stats == uninterrupted.stats


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_packed_states_taken_again_and_again_equal_the_table(seed):
    # packed states reuse the previous columns (the closed table grows at the end, shrinks at the
    # front): after any mix of joins, unknown labels predicted later (a re-closed id), expiries,
    # evictions and ids past 64 bits, each one holds exactly the table
    r = random.Random(seed)
    j = LabelJoiner(ttl=1.0, max_pending=60, default_label=-1.0)
    t = 0.0
    states = 0
    for step in range(6000):
        t += r.uniform(0.0, 0.05) if step % 1000 < 700 else 0.0  # bursts: evictions
        i = r.randrange(400) if r.random() < 0.97 else (1 << 70) + r.randrange(3)
        u = r.random()
        if u < 0.45:
            j.predicted(i, "|f a", 0.5, t - r.uniform(0, 0.5))
        elif u < 0.9:
            j.labelled(i, 1.0, t - r.uniform(0, 0.5))
        else:
            j.expire(t)
        if step % r.choice([1, 7, 50, 300]) == 0:
            packed = j.state(packed=True)
            assert LabelJoiner.restore(packed).state() == j.state()
            states += 1
    s = j.stats
    assert s.unknown > 0 and s.evicted_labels > 0 and s.expired_defaulted > 0 and s.joined > 0 and s.late > 0
    assert 0 < j._closed_walks < states  # walked again after a re-closed id only


def test_packed_states_reuse_the_previous_columns():
    j = LabelJoiner(ttl=2.0, max_pending=300, default_label=-1.0)
    for i in range(3000):
        t = i * 0.01
        j.predicted(i, "|f a", 0.5, t)
        if i % 10:
            j.labelled(i, 1.0, t + 0.5)  # joins (closed at the end of the table)
        j.expire(t)  # defaults and forgotten ids (off the front)
        if i % 97 == 0:
            assert LabelJoiner.restore(j.state(packed=True)).state() == j.state()
    assert j.stats.expired_defaulted > 200 and 150 < len(j._closed) < 300
    assert j._closed_walks == 1  # the first one


def test_restore_reads_the_rows_of_earlier_checkpoints():
    j = LabelJoiner(ttl=10, max_pending=10)
    j.predicted("a", "|f a", 0.5, time=0.0)
    j.labelled("b", 1.0, time=1.0)
    j.predicted("c", "|f c", None, time=0.0)
    j.labelled("c", -1.0, time=2.0)
    rows = {  # the state format of the first trainer versions (a list per entry)
        "ttl": 10.0,
        "max_pending": 10,
        "default_label": None,
        "pending": [["a", 0.0, "|f a", 0.5, None], ["b", 1.0, None, None, 1.0]],
        "closed": [["c", 2.0, 0]],
        "counts": j.state()["counts"],
    }
    assert LabelJoiner.restore(rows).state() == j.state()


def test_a_restart_remembers_closed_ids():
    j = LabelJoiner(ttl=10, max_pending=10)
    j.predicted("joined", "|f a", 0.0, time=0.0)
    j.labelled("joined", 1.0, time=1.0)
    j.predicted("expired", "|f b", 0.0, time=0.0)
    j.expire(11.0)
    r = LabelJoiner.restore(json.loads(json.dumps(j.state())))
    assert r.labelled("joined", 1.0, time=12.0) is None and r.labelled("expired", 1.0, time=12.0) is None
    assert (r.stats.duplicates, r.stats.late, r.stats.pending) == (1, 1, 0)


def _drive(j: LabelJoiner, events: List[Event], start: int = 0) -> List[tuple]:
    out = []
    for k, (t, kind, i, label) in enumerate(events, start):
        e = j.predicted(i, f"|f x{i}", 0.5, time=t) if kind == "p" else j.labelled(i, label, time=t)
        if e is not None:
            out.append(tuple(e))
        if k % 7 == 0:
            out += [tuple(x) for x in j.expire(t)]
    return out


def test_a_million_events_take_seconds():
    j = LabelJoiner(ttl=600, max_pending=100_000, default_label=-1.0)
    n = 300_000
    start = time.perf_counter()
    for i in range(n):
        j.predicted(i, "|f a", 0.1, i * 0.01)
        if i >= 50:
            j.labelled(i - 50, 1.0, i * 0.01)
        if i % 1000 == 0:
            j.expire(i * 0.01)
    elapsed = time.perf_counter() - start
    assert j.stats.joined == n - 50
    assert elapsed < 6.0, f"{n} predictions and labels took {elapsed:.1f}s"  # about 0.6 s here


# --------------------------------------------------------------------------- log lines
def test_records_round_trip_and_feed_a_joiner():
    p = PredictionRecord("req-1", {"u": {"age": 3.5}, "a": ["x"]}, -0.25, 1700000000.5)
    line = p.encode()
    assert "\n" not in line and json.loads(line)["features"] == {"u": {"age": 3.5}, "a": ["x"]}
    assert PredictionRecord.decode(line + "\n") == p
    assert PredictionRecord.decode(line.encode()) == p
    assert PredictionRecord.decode(PredictionRecord(7, "|f a", None, 1.0).encode()).prediction is None
    lab = LabelRecord("req-1", 1.0, 1700000030.0)
    assert LabelRecord.decode(lab.encode()) == lab
    assert json.loads(LabelRecord(3, 0.0).encode()) == {"id": 3, "label": 0.0}
    j = LabelJoiner(ttl=60, max_pending=10)
    assert p.feed(j) is None
    e = lab.feed(j)
    assert e is not None and e.label_time - e.prediction_time == 29.5


@pytest.mark.parametrize(
    "cls, line, match",
    [
        (PredictionRecord, "not json", "not JSON"),
        (PredictionRecord, "[1, 2]", "object with an id"),
        (PredictionRecord, '{"id": 1, "features": 3, "prediction": 0, "time": 1}', "features"),
        (PredictionRecord, '{"id": 1, "features": "|f a", "prediction": 0}', "time"),
        (PredictionRecord, '{"id": [1], "features": "|f a", "prediction": 0, "time": 1}', "id"),
        (LabelRecord, '{"id": "a"}', "needs a label"),
        (LabelRecord, '{"id": "a", "label": "1"}', "label"),
        (LabelRecord, '{"id": "a", "label": true}', "label"),
    ],
)
def test_bad_records_are_refused(cls, line, match):
    with pytest.raises(ValueError, match=match):
        cls.decode(line)


def test_a_nan_prediction_is_refused_by_the_encoder():
    with pytest.raises(ValueError):
        PredictionRecord("a", "|f a", math.nan, 0.0).encode()

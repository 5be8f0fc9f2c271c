"""The trainer's batch path (a poll's records decoded and joined in one loop, text examples learned
by one call into the core) against its per-record path (``Trainer._per_record``: each record
through ``_on_record`` / ``_on_label`` and each example through ``Model.learn``): the same records
give a bitwise-equal model and the same bookkeeping (counters, the joiner, the gate's recent
examples and their progressive predictions, the holdout, the replay buffer, label times, the
versions published).
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest

import wabbit
from streamkit import ListSource
from wabbit.gates import Gate
from wabbit.join import LabelJoiner, LabelRecord, PredictionRecord
from wabbit.replay import ReplayBuffer
from wabbit.trainer import Trainer


def joined_stream(n: int, seed: int) -> Tuple[List[bytes], List[float]]:
    """Predictions and labels in one stream, with every case the joiner and the learner know:
    labels 0-3 s late, some before their prediction, some never (defaults at expiry), some more
    than the TTL late, duplicates, unknown ids, duplicate predictions, dict examples, malformed
    records (not JSON, a bad id, a NaN time, a non-finite label, not UTF-8) and malformed
    examples (a line the parser refuses, a newline inside the features)."""
    r = random.Random(seed)
    events: List[Tuple[float, int, bytes]] = []
    for i in range(n):
        t = i * 0.01
        a, b = r.randrange(30), r.randrange(20)
        u = r.random()
        if u < 0.04:
            features: Any = {"a": [f"a{a}"], "b": {f"b{b}": 1.0}}  # a dict example
        elif u < 0.05:
            features = f"|a a{a}:inf |b b{b}"  # the parser refuses the value
        elif u < 0.055:
            features = f"|a a{a}\n|b b{b}"  # one line only
        elif u < 0.06:
            features = f"|a a{a}:3e38 |b b{b}:3e38"  # the learner refuses the update (non-finite)
        else:
            features = f"|a a{a} |b b{b}"
        events.append((t, 0, PredictionRecord(i, features, r.random(), t).encode().encode()))
        y = 1.0 if (a + b) % 3 == 0 else -1.0
        v = r.random()
        if v < 0.1:
            continue  # never labelled: defaulted at expiry
        if v < 0.15:
            lt = t - r.uniform(0.0, 0.5)  # the label comes first
        elif v < 0.17:
            lt = t + 8.0  # more than the TTL after its prediction: late
        else:
            lt = t + r.uniform(0.0, 3.0)
        events.append((lt, 1, LabelRecord(i, y, lt).encode().encode()))
        if v > 0.97:
            events.append((lt + 0.2, 1, LabelRecord(i, y, lt + 0.2).encode().encode()))  # duplicate
        if v < 0.12:
            events.append((t + 0.1, 0, PredictionRecord(i, features, 0.5, t + 0.1).encode().encode()))
    for k in range(n // 50):
        t = r.uniform(0, n * 0.01)
        events.append((t, 1, LabelRecord(f"nobody{k}", 1.0, t).encode().encode()))  # unknown id
    bad = [
        b"not json",
        b'{"id": 1.5, "label": 1}',
        b'{"id": 3, "label": 1, "time": NaN}',
        b'{"id": 4, "label": Infinity, "time": 1.0}',
        b'{"id": 5, "features": "|a x", "time": NaN}',
        b'{"id": 6, "features": 7, "time": 1.0}',
        b"\xff\xfe",
        b'{"label": 1}',
        b"[1, 2]",
    ]
    for _ in range(n // 40):
        events.append((r.uniform(0, n * 0.01), 2, r.choice(bad)))
    events.sort(key=lambda e: e[0])
    # shuffled a little (event times out of order within 0.3 s windows)
    out = [(e[0] + r.uniform(0, 0.3), e) for e in events]
    out.sort(key=lambda x: x[0])
    return [e[2] for _, e in out], [x[0] for x in out]


def trainer(
    tmp_path,
    name: str,
    lines: List[bytes],
    times: List[float],
    *,
    per_record: bool,
    replay: bool,
    labels_apart: bool = False,
    batch: int = 97,
) -> Trainer:
    if labels_apart:
        is_label = [b'"features"' not in x for x in lines]
        source = ListSource(
            [x for x, k in zip(lines, is_label) if not k], times=[t for t, k in zip(times, is_label) if not k]
        )
        labels: Optional[ListSource] = ListSource(
            [x for x, k in zip(lines, is_label) if k], times=[t for t, k in zip(times, is_label) if k], name="labels"
        )
    else:
        source, labels = ListSource(lines, times=times), None
    t = Trainer(
        wabbit.Model("--loss_function logistic -b 16 -q ab"),
        source,
        wabbit.ModelStore(tmp_path / name, keep=1000),
        labels=labels,
        joiner=LabelJoiner(ttl=5.0, max_pending=400, default_label=-1.0),
        gate=Gate(margin=10.0, recent=300, holdout=50, max_failures=10**6),
        replay=ReplayBuffer(200, ratio=0.3, seed=4) if replay else None,
        holdout_every=7,
        publish_every=250,
        batch=batch,
        poll_timeout=0.0,
    )
    t._per_record = per_record  # type: ignore[misc]
    return t


def bookkeeping(t: Trainer) -> Dict[str, Any]:
    return {
        "counts": dict(t.counts),
        "join": t.joiner.stats.as_dict() if t.joiner is not None else None,
        "joiner": json.dumps(t.joiner.state(), sort_keys=True) if t.joiner is not None else None,
        "recent": list(t._recent),
        "staged": list(t._staged),
        "holdout": t.holdout.state() if t.holdout is not None else None,
        "replay": t.replay.state() if t.replay is not None else None,
        "label_times": list(t._label_times),
        "event_time": t._event_time,
        "new": t._new,
    }


def versions(t: Trainer) -> List[Dict[str, Any]]:
    strip = ("state", "sha256", "gate")  # the gate's metrics: floats from the same predictions, compared below
    return [{k: v for k, v in m.metadata["trainer"].items() if k not in strip} for m in t.store.list()]


def same_weights(a: wabbit.Model, b: wabbit.Model) -> bool:
    ia, wa = a.weights()
    ib, wb = b.weights()
    return bool(np.array_equal(ia, ib) and np.array_equal(wa.view(np.uint32), wb.view(np.uint32)))


@pytest.mark.parametrize("replay", [False, True])
@pytest.mark.parametrize("labels_apart", [False, True])
def test_batch_path_learns_bitwise_what_the_per_record_path_learns(tmp_path, replay, labels_apart, caplog):
    lines, times = joined_stream(3000, seed=11)
    runs = {}
    for per_record in (True, False):
        t = trainer(
            tmp_path, f"pr{per_record}", lines, times, per_record=per_record, replay=replay, labels_apart=labels_apart
        )
        with caplog.at_level(logging.WARNING, logger="wabbit.trainer"):
            caplog.clear()
            # stepwise, comparing the state between steps too (run() would hide a divergence)
            states = []
            for _ in range(10_000):
                if t.step() == 0:
                    break
                states.append((t.counts["examples"], t.counts["bad_records"], t._event_time))
            t.publish()
            skipped = sorted(r.getMessage() for r in caplog.records if "skipped a bad record" in r.getMessage())
        runs[per_record] = (t, states, skipped)
    (a, sa, ka), (b, sb, kb) = runs[True], runs[False]
    assert a.counts["events"] == len(lines) and b.counts["events"] == len(lines)
    # the stream holds every case
    c, j = a.counts, a.joiner.stats
    assert c["bad_records"] > 50 and c["defaulted"] > 100 and c["held_out"] > 100 and c["examples"] > 2000
    assert j.late > 10 and j.duplicates > 10 and j.unknown > 10 and j.duplicate_predictions > 10
    assert (c["replayed"] > 500) == replay
    assert same_weights(a.model, b.model)
    assert a.model.core.stats() == b.model.core.stats()
    assert sa == sb
    assert bookkeeping(a) == bookkeeping(b)
    assert versions(a) == versions(b) and len(versions(a)) > 5
    gate_a = [v.metadata["trainer"].get("gate") for v in a.store.list()]
    gate_b = [v.metadata["trainer"].get("gate") for v in b.store.list()]
    assert gate_a == gate_b
    # every bad record is named (partition@offset) in the log, the same ones on both paths
    assert ka == kb and len(ka) == c["bad_records"]
    for why in ("newline", "not JSON", "not finite", "non-finite", "must be a finite number, got nan"):
        assert any("@" in m and why in m for m in ka), why


@pytest.mark.parametrize("batch", [1, 5, 1000])
def test_batch_sizes_do_not_change_what_is_learned(tmp_path, batch):
    lines, times = joined_stream(800, seed=3)
    ref = trainer(tmp_path, "ref", lines, times, per_record=True, replay=False, batch=64)
    ref.run(until=lambda tr: tr.source.lag() == 0)
    t = trainer(tmp_path, f"b{batch}", lines, times, per_record=False, replay=False, batch=batch)
    t.run(until=lambda tr: tr.source.lag() == 0)
    # the same records per poll are not needed: the order of learning is the records' order
    assert same_weights(ref.model, t.model)
    assert ref.counts["examples"] == t.counts["examples"] and ref.counts["bad_records"] == t.counts["bad_records"]


def test_direct_lines_batch_equals_per_record(tmp_path):
    r = random.Random(5)
    lines: List[Any] = []
    for _ in range(3000):
        u = r.random()
        if u < 0.01:
            lines.append("not a label |f b")
        elif u < 0.015:
            lines.append(b"\xff\xfe |f")
        elif u < 0.02:
            lines.append("   ")
        elif u < 0.025:
            lines.append("1 |f a\r")
        else:
            lines.append(f"{r.choice([-1, 1])} |f x{r.randrange(50)} |g y{r.randrange(9)}")
    out = []
    for per_record in (True, False):
        t = Trainer(
            wabbit.Model("-b 16 -q fg"),
            ListSource(lines, partitions=3),
            wabbit.ModelStore(tmp_path / str(per_record)),
            gate=Gate(margin=10.0, recent=500, holdout=30, max_failures=10**6),
            holdout_every=9,
            publish_every=400,
            batch=128,
        )
        t._per_record = per_record  # type: ignore[misc]
        t.run(until=lambda tr: tr.source.lag() == 0)
        out.append(t)
    a, b = out
    assert a.counts["bad_records"] > 20 and a.counts["held_out"] > 100
    assert same_weights(a.model, b.model)
    assert bookkeeping(a) == bookkeeping(b)
    assert versions(a) == versions(b)


def test_learn_lines_is_learn_line_for_each(tmp_path):
    lines: List[Any] = [
        "1 1e38 |f a:1e38",
        "1 |f a b",
        "-1 |f c",
        "1 |f a:inf",
        "-1 |f a\nb",
        "1 |f d\r\n",
        7,
        "-1 |g e",
    ]
    a, b = wabbit.Model("-b 12"), wabbit.Model("-b 12")
    expected: List[Any] = []
    for x in lines:
        try:
            expected.append(a.core.learn_line(x))
        except (ValueError, TypeError) as e:
            expected.append(str(e))
    got: List[Any] = []
    start = 0
    while start < len(lines):
        predictions, stop, why = b.core.learn_lines(lines, start)
        got += predictions.tolist()
        if why is not None:
            got.append(why)
            stop += 1
        start = stop
    assert got == expected and [k for k, x in enumerate(got) if isinstance(x, str)] == [0, 3, 4, 6]
    assert "non-finite" in got[0] and "newline" in got[4]
    assert same_weights(a, b) and a.core.stats() == b.core.stats()

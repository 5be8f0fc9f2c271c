"""``wabbit demo --pipeline``: the continuous-training loop end to end, in one process, on
librdkafka's in-process mock cluster (docs/pipeline.md).

The parts, each a thread of this process:

* **the mock cluster** (:func:`wabbit.stream.mock_cluster`) with two topics, ``predictions`` and
  ``labels``;
* **a replica**: :func:`wabbit.serve.serve` with ``learn=False``, following a
  :class:`wabbit.ModelStore` in a temporary folder (``watch=``) and logging every tagged
  prediction to ``kafka://.../predictions`` (``prediction_log=``);
* **an ad server**: it asks the replica for predictions of synthetic impressions
  (:func:`wabbit.synth.click_log`, over the line protocol, the request id as the tag), and
  sends each click later, after a heavy-tailed (log-normal) delay, as a
  :class:`wabbit.LabelRecord` on ``labels``. Impressions without a click send nothing: the
  joiner's default label (-1) is learned when their TTL expires ("no click within the TTL is a
  negative"). Halfway, the **concept changes**: the ads whose id is a multiple of 3 (about a
  third of the impressions) have their click probability flipped (``p`` becomes ``1 - p``);
* **the trainer** (:class:`wabbit.Trainer`) consuming both topics (:class:`wabbit.stream.KafkaSource`),
  joining (:class:`wabbit.LabelJoiner`), learning, gating (:class:`wabbit.gates.GateKeeper`) and
  publishing into the store, which the replica swaps in.

Every few seconds one line reports: records consumed a second, joined/expired/late counts, the
trainer's progressive loss (on the recent window at its last gate check, beside the champion's
on the same examples), the replica's loss on what it served, the version it serves, freshness
p50/p99 (seconds from a label's arrival to the publication of the version that learned it) and
the gate's decisions. A summary follows at the end (``--json``: also as one JSON object on stdout).

**The concept change and the gate.** After the change, the candidate learns the new concept and
beats the stale champion on recent examples, but gets worse on the holdout sample of *older*
data (the forgetting check): that is what the check is for, and it cannot tell a genuine change
from poisoning at first. After ``max_failures`` failures in a row the keeper pauses publication
and alerts; learning goes on, on probation (:class:`wabbit.gates.GateKeeper`). What tells a
genuine change from poisoning is persistence: once the candidate has kept ahead of the champion
on recent examples for ``confirm`` examples while failing only the forgetting check, the trainer
re-bases its holdout on examples held back since, checks again and publishes ("concept change
accepted"). The default ``confirm`` is 50,000 examples; **this demo uses 4 seconds of its
traffic** (``4 * rate``) so that the acceptance happens within the demo, and says so. No person
and no demo code resumes anything. A gate that never failed is reported just as honestly.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, TextIO, Tuple

import numpy as np

__all__ = ["PipelineSettings", "run_pipeline"]

#: The model both sides use: the click log's features with the user x ad interaction.
MODEL_FLAGS = "--loss_function logistic -q ua -b 20"

_AD = re.compile(r"\bad=a(\d+)\b")
_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "fetch.wait.max.ms": 50}


@dataclass
class PipelineSettings:
    """What ``wabbit demo --pipeline`` runs (its flags)."""

    seconds: float = 30.0  # how long the ad server sends impressions
    rate: int = 2000  # impressions a second
    every: float = 3.0  # seconds between progress lines
    seed: int = 0
    ttl: float = 2.0  # seconds an impression waits for its click
    click_delay: float = 0.3  # median click delay (seconds); log-normal, sigma 1
    publish_seconds: float = 2.0  # a gate check every rate * publish_seconds examples
    json: bool = False  # also print the summary as JSON on stdout

    @property
    def publish_every(self) -> int:
        """Examples between gate checks: about ``publish_seconds`` of impressions."""
        return max(500, int(self.rate * self.publish_seconds))


def flipped(ad: int) -> bool:
    """Whether the concept change flips ad ``ad``'s click probability.

    >>> [a for a in range(7) if flipped(a)]
    [0, 3, 6]
    """
    return ad % 3 == 0


# --------------------------------------------------------------------------------- the ad server
@dataclass
class _AdStats:
    impressions: int = 0
    clicks: int = 0
    labels_sent: int = 0
    clicks_unsent: int = 0  # clicks due after the end
    served_loss_sum: float = 0.0
    served_loss_n: int = 0
    served: List[Tuple[float, str]] = field(default_factory=list)  # (seconds, version) when first seen
    loss_before: List[float] = field(default_factory=lambda: [0.0, 0.0])  # served loss: sum, n
    loss_after: List[float] = field(default_factory=lambda: [0.0, 0.0])
    error: Optional[BaseException] = None


class _AdServer(threading.Thread):
    """Impressions at ``rate`` a second: predictions from the replica, clicks to ``labels`` later."""

    def __init__(self, server: Any, sink: Any, s: PipelineSettings, start: float) -> None:
        super().__init__(name="demo-ad-server", daemon=True)
        from wabbit.synth import click_log

        self.server = server
        self.sink = sink
        self.s = s
        self.start_at = start
        self.change_at = start + s.seconds / 2
        self.end_at = start + s.seconds
        self.changed = threading.Event()
        self.stop_event = threading.Event()
        self.stats = _AdStats()
        self._lines = click_log(1 << 40, seed=s.seed)  # lazy: generated a block at a time
        self._rng = np.random.default_rng(s.seed + 1)
        self._clicks: List[Tuple[float, str]] = []  # (label time, id), a heap

    def run(self) -> None:
        from wabbit.serve import Client

        try:
            with Client(port=self.server.port, timeout=30.0) as client:
                self._loop(client)
        except BaseException as e:  # reported by the main thread
            self.stats.error = e

    def _loop(self, client: Any) -> None:
        tick = 0.05
        sent = 0
        while not self.stop_event.is_set():
            now = time.monotonic()
            if now >= self.end_at:
                break
            if now >= self.change_at and not self.changed.is_set():
                self.changed.set()
            due = int((now - self.start_at) * self.s.rate) - sent
            if due > 0:
                self._impressions(client, sent, due)
                sent += due
            self._send_clicks()
            self._note_version(now)
            time.sleep(max(0.0, tick - (time.monotonic() - now)))
        self.stats.clicks_unsent = len(self._clicks)

    def _impressions(self, client: Any, first: int, n: int) -> None:
        lines = [next(self._lines) for _ in range(n)]
        ids = [f"r{first + i}" for i in range(n)]
        requests = [f"'{rid} {line.split(' ', 1)[1]}" for rid, line in zip(ids, lines)]
        predictions = client.predict_many(requests)
        asked = time.time()
        changed = self.changed.is_set()
        delays = self._rng.lognormal(math.log(self.s.click_delay), 1.0, n)
        st = self.stats
        bucket = st.loss_after if changed else st.loss_before
        for rid, line, p, delay in zip(ids, lines, predictions, delays):
            click = line.startswith("1 ")
            if changed:
                m = _AD.search(line)
                if m is not None and flipped(int(m.group(1))):
                    click = not click
            margin = p if click else -p
            loss = math.log1p(math.exp(-margin)) if margin > -30 else -margin
            st.served_loss_sum += loss
            st.served_loss_n += 1
            bucket[0] += loss
            bucket[1] += 1
            if click:
                st.clicks += 1
                heapq.heappush(self._clicks, (asked + float(delay), rid))
        st.impressions += n

    def _send_clicks(self) -> None:
        from wabbit.join import LabelRecord

        now = time.time()
        while self._clicks and self._clicks[0][0] <= now:
            t, rid = heapq.heappop(self._clicks)
            self.sink.send(LabelRecord(rid, 1.0, t).encode())
            self.stats.labels_sent += 1

    def _note_version(self, now: float) -> None:
        v = self.server.version
        served = self.stats.served
        if not served or served[-1][1] != v:
            served.append((now - self.start_at, v))


# --------------------------------------------------------------------------------- the trainer
class _TrainerThread(threading.Thread):
    """``trainer.run()`` until stopped (a pause of the keeper is probation: the run goes on)."""

    def __init__(self, trainer: Any, clock0: List[float], out: TextIO) -> None:
        super().__init__(name="demo-trainer", daemon=True)
        self.trainer = trainer
        self.clock0 = clock0  # [the demo's start], set once the consumers have joined
        self.out = out
        self.finished = threading.Event()
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self.trainer.run()
        except BaseException as e:  # reported by the main thread
            self.error = e
        finally:
            self.finished.set()


def _say(out: TextIO, text: str) -> None:
    print(f"wabbit demo: {text}", file=out, flush=True)


def _fmt(x: Optional[float], spec: str = ".3g") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, spec)


def _finite(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


# --------------------------------------------------------------------------------- the whole
def run_pipeline(s: PipelineSettings, out: TextIO = sys.stderr) -> int:
    """Run the pipeline demo for ``s.seconds``; progress on ``out``; returns the exit status."""
    # the trainer and the gate log each failed check as a warning; the demo prints its own lines
    quiet = [logging.getLogger(name) for name in ("wabbit.trainer", "wabbit.gates")]
    null = logging.NullHandler()
    for logger in quiet:
        logger.addHandler(null)
    try:
        return _pipeline(s, out)
    finally:
        for logger in quiet:
            logger.removeHandler(null)


def _pipeline(s: PipelineSettings, out: TextIO) -> int:
    try:
        from wabbit.stream import mock_cluster
    except ImportError as e:  # pragma: no cover - wabbit.stream itself imports without confluent-kafka
        _say(out, f"error: {e}")
        return 1
    from wabbit.stream.source import StreamError

    try:
        cluster = mock_cluster()
    except StreamError as e:
        _say(out, f"error: {e}")
        return 1
    with tempfile.TemporaryDirectory(prefix="wabbit-pipeline-") as tmp:
        try:
            return _run(s, cluster, os.path.join(tmp, "store"), out)
        finally:
            cluster.close()


def _run(s: PipelineSettings, cluster: Any, store_dir: str, out: TextIO) -> int:
    import wabbit
    from wabbit.gates import Gate, GateKeeper
    from wabbit.join import LabelJoiner
    from wabbit.serve import serve
    from wabbit.store import ModelStore
    from wabbit.stream import KafkaSink, KafkaSource
    from wabbit.trainer import Trainer

    os.makedirs(store_dir)
    store = ModelStore(store_dir, keep=5)
    for topic in ("predictions", "labels"):
        cluster.create_topic(topic)
    _say(out, f"librdkafka mock cluster at {cluster.bootstrap}: topics predictions, labels")

    published: List[Tuple[float, int]] = []  # (seconds, version)
    alerts: List[int] = []
    changes: List[float] = []  # (seconds) when the gate accepted a concept change
    clock0 = [time.monotonic()]

    def on_check(trainer: Any, decision: Any, version: Optional[int]) -> None:
        at = time.monotonic() - clock0[0]
        if version is not None:
            published.append((at, version))
            if decision is not None and decision.reason.startswith("concept change accepted"):
                changes.append(at)
                _say(
                    out,
                    f"[{at:5.1f}s] CONCEPT CHANGE ACCEPTED: the candidate kept ahead on recent examples for "
                    f"{gate.confirm} examples while only the forgetting check failed; the holdout was re-based "
                    f"on the new stream and version {version} published",
                )
        elif decision is not None:
            _say(out, f"[{at:5.1f}s] gate: not published: {decision.reason}")

    def alert(decision: Any, failures: int) -> None:
        alerts.append(failures)
        _say(
            out,
            f"ALERT: the gate failed {failures} times in a row: publication paused, learning goes on "
            f"(probation; a change is accepted after {gate.confirm} examples): {decision.reason}",
        )

    gate = Gate(margin=0.01, recent=4000, holdout=1000, max_failures=3, confirm=4 * s.rate)
    joiner = LabelJoiner(ttl=s.ttl, max_pending=max(10_000, int(4 * s.rate * s.ttl)), default_label=-1.0)
    predictions = KafkaSource(cluster.bootstrap, "predictions", "demo-trainer", config=_GROUP)
    labels = KafkaSource(cluster.bootstrap, "labels", "demo-trainer-labels", config=_GROUP)
    sink = KafkaSink(cluster.bootstrap, "labels")
    server = None
    producer: Optional[_AdServer] = None
    learner: Optional[_TrainerThread] = None
    try:
        trainer = Trainer(
            wabbit.Model(MODEL_FLAGS),
            predictions,
            store,
            labels=labels,
            joiner=joiner,
            keeper=GateKeeper(gate, alert=alert),
            publish_every=s.publish_every,
            holdout_every=20,
            poll_timeout=0.05,
            on_check=on_check,
        )
        server = serve(
            wabbit.Model(MODEL_FLAGS),
            port=0,
            threads=1,
            learn=False,
            watch=store_dir,
            poll_seconds=0.1,
            prediction_log=f"kafka://{cluster.bootstrap}/predictions",
        )
        _say(out, f"replica on 127.0.0.1:{server.port} (predict only), following {store_dir}")
        _say(
            out,
            f"trainer: {MODEL_FLAGS}; join ttl {s.ttl:g} s (no click: label -1); {gate!r}; "
            f"a gate check every {s.publish_every} examples, publication when it passes",
        )
        _say(
            out,
            f"ad server: {s.rate} impressions/s for {s.seconds:g} s; clicks after log-normal delays "
            f"(median {s.click_delay:g} s); concept change at {s.seconds / 2:g} s",
        )
        # the trainer first: its consumers join their groups (about 3 s on the mock) before the
        # ad server starts, so that the demo's clock does not begin with a backlog
        learner = _TrainerThread(trainer, clock0, out)
        learner.start()
        joining = time.monotonic()
        while not (predictions.assignment() and labels.assignment()):
            if time.monotonic() - joining > 30 or not learner.is_alive():
                _say(out, "error: the trainer's consumers got no partitions within 30 s")
                return 1
            time.sleep(0.1)
        _say(out, f"the trainer's consumers joined their groups in {time.monotonic() - joining:.1f} s")
        start = time.monotonic()
        clock0[0] = start
        producer = _AdServer(server, sink, s, start)
        producer.start()
        status = _watch(s, trainer, server, producer, learner, start, published, out)
        producer.stop_event.set()
        producer.join(30)
        sink.flush()
        # let the trainer catch up with what was sent (bounded), then stop it: run() checks and
        # publishes what it learned since its last version
        catch_up = time.monotonic() + 3.0
        while time.monotonic() < catch_up and learner.is_alive():
            lag = trainer.lag
            if all(v == 0 for v in lag.values()) and lag:
                break
            time.sleep(0.2)
        trainer.stop()
        learner.join(60)
        time.sleep(0.3)  # one more watcher poll: the replica swaps the last version in
        producer._note_version(time.monotonic())
        elapsed = time.monotonic() - start
        summary = _summary(s, trainer, producer, learner, published, alerts, changes, elapsed)
        _print_summary(summary, out)
        if s.json:
            print(json.dumps(summary, sort_keys=True), flush=True)
        for err in (producer.stats.error, learner.error):
            if err is not None:
                _say(out, f"error: {type(err).__name__}: {err}")
                status = 1
        return status
    finally:
        if producer is not None:
            producer.stop_event.set()
        if learner is not None and learner.is_alive():
            learner.trainer.stop()
            learner.join(30)
        if server is not None:
            server.stop()
        for src in (predictions, labels):
            src.close()
        sink.close()


def _watch(
    s: PipelineSettings,
    trainer: Any,
    server: Any,
    producer: _AdServer,
    learner: _TrainerThread,
    start: float,
    published: List[Tuple[float, int]],
    out: TextIO,
) -> int:
    """Print a progress line every ``s.every`` seconds until the ad server is done."""
    last_t, last_events, last_loss = start, 0, (0.0, 0)
    said_change = False
    while producer.is_alive():
        producer.join(min(s.every, 0.25))
        now = time.monotonic()
        if producer.changed.is_set() and not said_change:
            said_change = True
            _say(
                out,
                f"[{now - start:5.1f}s] CONCEPT CHANGE: the click probability of every ad whose id is a "
                "multiple of 3 flips (p -> 1 - p)",
            )
        if now - last_t < s.every or not producer.is_alive():
            continue
        if learner.error is not None:
            return 1
        st = trainer.stats()
        join = st["join"]
        d = trainer.last_decision
        loss = "-"
        if d is not None and "candidate_recent_loss" in d.metrics:
            loss = f"{_fmt(d.metrics['candidate_recent_loss'], '.4f')} (champion {_fmt(d.metrics['champion_recent_loss'], '.4f')})"
        ps = producer.stats
        n = ps.served_loss_n - last_loss[1]
        served_loss = (ps.served_loss_sum - last_loss[0]) / n if n else math.nan
        last_loss = (ps.served_loss_sum, ps.served_loss_n)
        gate = st["gate"]
        last = "" if d is None or d.passed else f" (last: {'/'.join(d.failed)})"
        rate = (st["events"] - last_events) / max(1e-9, now - last_t)
        last_t, last_events = now, st["events"]
        _say(
            out,
            f"[{now - start:5.1f}s] {rate:6.0f} events/s | joined {join.get('joined', 0)} "
            f"expired {join.get('expired_defaulted', 0) + join.get('expired_dropped', 0)} late {join.get('late', 0)} | "
            f"loss {loss} served {_fmt(served_loss, '.4f')} | replica serves v{server.version or '0 (untrained)'} "
            f"({len(published)} published) | freshness p50 {_fmt(st['freshness_p50'])} s "
            f"p99 {_fmt(st['freshness_p99'])} s | gate passed {gate.get('passed', 0)} failed {gate.get('failed', 0)}{last}"
            + (" PAUSED" if st["paused"] else ""),
        )
    return 0


def _summary(
    s: PipelineSettings,
    trainer: Any,
    producer: _AdServer,
    learner: _TrainerThread,
    published: List[Tuple[float, int]],
    alerts: List[int],
    changes: List[float],
    elapsed: float,
) -> Dict[str, Any]:
    st = trainer.stats()
    ps = producer.stats
    served_versions = [v for _, v in ps.served if v]
    swap_delays = []
    seen = {v: t for t, v in reversed(ps.served)}
    for t, v in published:
        if str(v) in seen:
            swap_delays.append(seen[str(v)] - t)
    decisions = list(trainer.keeper.history) if trainer.keeper is not None else []
    reasons: Dict[str, int] = {}
    for d in decisions:
        if not d.passed:
            key = d.reason.split(":", 1)[0]
            reasons[key] = reasons.get(key, 0) + 1
    before, after = ps.loss_before, ps.loss_after
    return {
        "seconds": round(elapsed, 1),
        "impressions": ps.impressions,
        "clicks": ps.clicks,
        "labels_sent": ps.labels_sent,
        "events": st["events"],
        "examples": st["examples"],
        "held_out": st["held_out"],
        "joined": st["join"].get("joined", 0),
        "expired": st["join"].get("expired_defaulted", 0) + st["join"].get("expired_dropped", 0),
        "late": st["join"].get("late", 0),
        "predictions": st["join"].get("predictions", 0),
        "evicted": st["join"].get("evicted", 0),
        "pending": st["join"].get("pending_predictions", 0),
        "pending_labels": st["join"].get("pending_labels", 0),
        "published": [v for _, v in published],
        "served": served_versions,
        "swap_delay_max": _finite(max(swap_delays)) if swap_delays else None,
        "freshness_p50": _finite(st["freshness_p50"]),
        "freshness_p99": _finite(st["freshness_p99"]),
        "gate": dict(st["gate"]),
        "gate_failures": reasons,
        "alerts": len(alerts),
        "confirm": trainer.keeper.confirm if trainer.keeper is not None else None,
        "changes_accepted_at": [round(c, 1) for c in changes],
        "recovered": int(st["gate"].get("recovered", 0)),
        "paused_at_end": bool(st["paused"]),
        "served_loss_before_change": before[0] / before[1] if before[1] else None,
        "served_loss_after_change": after[0] / after[1] if after[1] else None,
        "concept_change_at": s.seconds / 2,
    }


def _print_summary(m: Dict[str, Any], out: TextIO) -> None:
    _say(out, f"summary after {m['seconds']} s:")
    lines = [
        f"ad server: {m['impressions']} impressions, {m['clicks']} clicks, {m['labels_sent']} click labels sent",
        f"trainer: {m['events']} records consumed, {m['examples']} examples learned, {m['held_out']} held back; "
        f"joined {m['joined']}, expired {m['expired']} (learned as -1), late {m['late']}, still waiting for a click {m['pending']}",
        f"versions published: {len(m['published'])} {m['published']}; the replica served {len(m['served'])} of them "
        f"{m['served']}",
        f"freshness (label arrival to the publication that learned it): p50 {_fmt(m['freshness_p50'])} s, "
        f"p99 {_fmt(m['freshness_p99'])} s",
        f"gate: {m['gate'].get('checked', 0)} checks, {m['gate'].get('passed', 0)} passed, "
        f"{m['gate'].get('failed', 0)} failed {m['gate_failures'] or ''}; {m['alerts']} alert(s)",
        f"served log loss: {_fmt(m['served_loss_before_change'], '.4f')} before the change, "
        f"{_fmt(m['served_loss_after_change'], '.4f')} after",
    ]
    if m["changes_accepted_at"]:
        lines.append(
            f"concept change accepted by the gate itself at {', '.join(f'{c} s' for c in m['changes_accepted_at'])} "
            f"(after {m['confirm']} examples of evidence; the default is 50,000, the demo uses 4 s of traffic)"
        )
    if m["paused_at_end"]:
        lines.append("publication was paused at the last check, as the demo ended (on probation)")
    elif not m["alerts"]:
        lines.append("the gate never paused publication in this run")
    for line in lines:
        print(f"  {line}", file=out, flush=True)

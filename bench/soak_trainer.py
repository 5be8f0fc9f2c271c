"""Soak of the continuous trainer (issue 21): ``wabbit.Trainer`` consuming librdkafka's mock cluster
while it is SIGKILLed and restarted, then checked for exactly-once learning.

This process starts the mock cluster (``wabbit.stream.mock_cluster``) and a producer that writes
``--lines`` labelled VW lines to one partition (a deterministic order, as docs/pipeline.md requires
for a bitwise result) at ``--rate`` lines a second: a live stream. A trainer runs in a child
process (this file with ``--child``): a ``KafkaSource`` in the consumer group ``soak`` and a
``Trainer`` with a gate (recent and forgetting checks), a replay buffer, one example in 20 held
back, and a version every ``--publish_every`` examples, into a ``ModelStore``. Each of ``--cycles``
children is SIGKILLed at a random moment ``--kill_min``..``--kill_max`` seconds after it started,
but not before it consumed its first records (then within ``--consuming_max`` seconds), while
it learns or publishes, and a new one starts at once on the same store;
after each kill the group's committed offset is read and must not be ahead of the store's current
version. A last child drains the stream (the producer has finished by then) and exits.

**Checks** (exit status 1 on any failure), from the guarantee docs/pipeline.md documents
("nothing is learned twice or skipped; given the same records in the same order ... the model is
bitwise the one of an uninterrupted run"):

* the final version's weights equal, bit for bit, those of an uninterrupted Trainer with the same
  settings over the same lines (in this process, from an in-memory source);
* the chain of versions (each one's parent) counts each example once: the versions' new examples
  add up to the final total, which equals the uninterrupted run's; every version's counters and
  positions equal the uninterrupted run's (records after the last learned one, held back, are
  re-read after a restart); the last trainer consumed every record;
* the group's committed offset at the end is the final version's position; after every kill
  it was never ahead of the current version.

A restarted member of the same group is assigned its partition only once the killed member's
session (6 s here) expired, as the mock cluster's coordinator does: a cycle spends its first
seconds joining. ``--fresh_group`` gives each child its own group instead (the positions come from
the store either way), which the short smoke mode uses to save that wait.

    python bench/soak_trainer.py [--cycles 12] [--lines 40000] [--rate 400] [--kill_min 5] [--kill_max 15]
    python bench/soak_trainer.py --short      # ~10 s: 1 kill, 2000 lines, fresh groups (smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from soak_common import child_env, fail_lines, loadavg, report  # noqa: E402

FLAGS = "--loss_function logistic -b 18 -q ab"
TOPIC = "soak"
HOLDOUT_EVERY = 20  # one new example in 20 is held back for the forgetting check
GROUP_CONFIG = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def stream_lines(n: int, seed: int = 21) -> List[str]:
    r = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = r.randrange(60), r.randrange(30)
        y = 1 if (a * b) % 5 == 1 or r.random() < 0.1 else -1
        out.append(f"{y} |a a{a} |b b{b} c{r.randrange(7)}")
    return out


def make_trainer(source: Any, store_dir: str, publish_every: int) -> Any:
    import wabbit
    from wabbit.gates import Gate
    from wabbit.replay import ReplayBuffer
    from wabbit.trainer import Trainer

    return Trainer(
        wabbit.Model(FLAGS),
        source,
        wabbit.ModelStore(store_dir, keep=1000),
        gate=Gate(margin=0.5, recent=500, holdout=300, max_failures=1000),
        replay=ReplayBuffer(1000, ratio=0.2, seed=3),
        holdout_every=HOLDOUT_EVERY,
        publish_every=publish_every,
        batch=500,
        poll_timeout=0.2,
    )


class Announcing:
    """A source that prints ``consuming`` on stdout when its first records arrive."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.said = False

    def poll(self, max_records: int = 1000, timeout: float = 0.0) -> List[Any]:
        out = self.source.poll(max_records, timeout)
        if out and not self.said:
            self.said = True
            print("consuming", flush=True)
        return out

    def positions(self) -> Dict[str, int]:
        return self.source.positions()

    def seek(self, positions: Dict[str, int]) -> None:
        self.source.seek(positions)

    def commit(self, positions: Dict[str, int]) -> None:
        self.source.commit(positions)

    def lag(self) -> Optional[int]:
        return self.source.lag()


class _Rec:
    __slots__ = ("value", "partition", "offset", "timestamp")

    def __init__(self, value: bytes, partition: str, offset: int) -> None:
        self.value, self.partition, self.offset, self.timestamp = value, partition, offset, float(offset)


class MemorySource:
    """The same lines in one partition named as the Kafka one (the uninterrupted reference)."""

    def __init__(self, lines: List[str], name: str) -> None:
        self.lines = [x.encode() for x in lines]
        self.name = name
        self.next = 0

    def poll(self, max_records: int = 1000, timeout: float = 0.0) -> List[Any]:
        out = [_Rec(v, self.name, self.next + i) for i, v in enumerate(self.lines[self.next : self.next + max_records])]
        self.next += len(out)
        return out

    def positions(self) -> Dict[str, int]:
        return {self.name: self.next}

    def seek(self, positions: Dict[str, int]) -> None:
        self.next = positions.get(self.name, self.next)

    def commit(self, positions: Dict[str, int]) -> None:
        pass

    def lag(self) -> Optional[int]:
        return len(self.lines) - self.next


# ------------------------------------------------------------------------------- the child
def child_main(a: argparse.Namespace) -> int:
    from wabbit.stream import KafkaSource

    source = KafkaSource(a.bootstrap, TOPIC, a.group, config=GROUP_CONFIG)
    trainer = make_trainer(Announcing(source), a.store, a.publish_every)
    start = trainer.counts["events"]
    print(f"resumed at {start} events, version {trainer.published_version}", flush=True)
    try:
        if a.drain:
            trainer.run(until=lambda t: t.counts["events"] >= a.drain)
            print(json.dumps({"counts": trainer.counts, "version": trainer.published_version}), flush=True)
        else:
            trainer.run()  # until SIGKILL
    finally:
        source.close()
    return 0


# ------------------------------------------------------------------------------- the parent
def committed_offset(bootstrap: str, group: str) -> Optional[int]:
    import confluent_kafka as ck

    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        got = c.committed([ck.TopicPartition(TOPIC, 0)], timeout=10)
        return got[0].offset if got and got[0].offset >= 0 else None
    finally:
        c.close()


def chain(store: Any) -> List[Dict[str, Any]]:
    by_version = {v.version: v.metadata["trainer"] for v in store.list()}
    out = []
    v = store.current
    while v is not None:
        out.append(by_version[v])
        v = by_version[v]["parent"]
    return out[::-1]


def run(a: argparse.Namespace) -> Dict[str, Any]:
    import numpy as np

    import wabbit
    from wabbit.stream import KafkaSink, mock_cluster

    lines = stream_lines(a.lines)
    rng = random.Random(a.seed)
    failures: List[str] = []
    cycles: List[Dict[str, Any]] = []
    result: Dict[str, Any] = {"loadavg_start": loadavg(), "lines": a.lines, "rate": a.rate}
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="soak_trainer_") as tmp, mock_cluster() as cluster:
        store_dir = os.path.join(tmp, "store")
        sink = KafkaSink(cluster.bootstrap, TOPIC)
        sink.send(lines[0], partition=0)
        sink.flush()
        stop = threading.Event()

        def produce() -> None:
            t0 = time.monotonic()
            for i, line in enumerate(lines[1:], 1):
                if stop.is_set():
                    return
                sink.send(line, partition=0)
                if i % 200 == 0:
                    sink.flush()
                    delay = i / a.rate - (time.monotonic() - t0)
                    if delay > 0:
                        time.sleep(delay)
            sink.flush()

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        me = os.path.abspath(__file__)

        def child(k: int, drain: int = 0) -> subprocess.Popen:
            group = f"soak{k}" if a.fresh_group else "soak"
            cmd = [
                sys.executable,
                me,
                "--child",
                "--bootstrap",
                cluster.bootstrap,
                "--store",
                store_dir,
                "--group",
                group,
            ]
            cmd += ["--publish_every", str(a.publish_every), "--drain", str(drain)]
            return subprocess.Popen(cmd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def watch(p: subprocess.Popen, consuming: threading.Event) -> None:
            assert p.stdout is not None
            for line in p.stdout:
                if line.startswith("consuming"):
                    consuming.set()

        store = wabbit.ModelStore(store_dir, keep=1000)
        try:
            for k in range(a.cycles):
                p = child(k)
                started = time.monotonic()
                consuming = threading.Event()
                reader = threading.Thread(target=watch, args=(p, consuming), daemon=True)
                reader.start()
                time.sleep(rng.uniform(a.kill_min, a.kill_max))
                # never before it consumed (a kill while it joins the group proves little): then
                # a random moment of its first second of consuming
                if not consuming.is_set():
                    if consuming.wait(60):
                        time.sleep(rng.uniform(0.0, a.consuming_max))
                wait = time.monotonic() - started
                if p.poll() is not None:
                    why = p.stderr.read()[-1500:] if p.stderr is not None else ""
                    failures.append(f"cycle {k}: the trainer exited {p.returncode}: {why}")
                    break
                p.send_signal(signal.SIGKILL)
                p.wait(10)
                reader.join(10)
                assert p.stdout is not None and p.stderr is not None
                p.stdout.close()
                p.stderr.close()
                current = store.current
                meta = chain(store)[-1] if current is not None else None
                position = meta["positions"]["source"].get(f"{TOPIC}/0", 0) if meta else 0
                committed = committed_offset(cluster.bootstrap, f"soak{k}" if a.fresh_group else "soak")
                cycles.append(
                    {
                        "killed_after_s": round(wait, 2),
                        "had_consumed": consuming.is_set(),
                        "version": current,
                        "position": position,
                        "committed": committed,
                    }
                )
                if committed is not None and committed > position:
                    failures.append(
                        f"cycle {k}: committed offset {committed} is ahead of version {current}'s {position}"
                    )
            producer.join(a.lines / a.rate + 60)
            last = child(a.cycles, drain=a.lines)
            try:
                out, err = last.communicate(timeout=a.lines / 500 + 120)
            except subprocess.TimeoutExpired:
                last.kill()
                out, err = last.communicate()
                failures.append("the draining trainer did not finish in time")
            if last.returncode != 0:
                failures.append(f"the draining trainer exited {last.returncode}: {err[-1500:]}")
            final_committed = committed_offset(cluster.bootstrap, f"soak{a.cycles}" if a.fresh_group else "soak")
        finally:
            stop.set()
            sink.close()
        result["kill_cycles"] = cycles
        result["cycles_with_progress"] = sum(
            1 for i, c in enumerate(cycles) if c["position"] > (cycles[i - 1]["position"] if i else 0)
        )
        result["soak_seconds"] = round(time.monotonic() - t_start, 1)
        metas = chain(store)
        final = store.load()
        # the uninterrupted run
        ref_dir = os.path.join(tmp, "reference")
        ref = make_trainer(MemorySource(lines, f"{TOPIC}/0"), ref_dir, a.publish_every)
        ref.run(until=lambda t: t.source.lag() == 0)
        ref_metas = chain(wabbit.ModelStore(ref_dir))
        fi, fw = final.weights()
        ri, rw = ref.model.weights()
        result["bitwise_equal"] = bool(np.array_equal(fi, ri) and np.array_equal(fw, rw))
        if not result["bitwise_equal"]:
            failures.append("the final model differs from the uninterrupted run's")
        total = 0
        for m in metas:
            total += m["examples"]
            if m["examples_total"] != total:
                failures.append(f"a version counts {m['examples_total']} examples, its chain {total}")
                break
        last_meta = metas[-1] if metas else {}
        result["versions_in_chain"] = len(metas)
        result["versions_reference"] = len(ref_metas)
        result["versions_written"] = len(store.list())
        result["examples_total"] = last_meta.get("examples_total")
        result["examples_reference"] = ref.counts["examples"]
        result["final_position"] = last_meta.get("positions", {}).get("source", {}).get(f"{TOPIC}/0")
        result["final_committed"] = final_committed
        if last_meta.get("examples_total") != ref.counts["examples"]:
            failures.append(
                f"{last_meta.get('examples_total')} examples learned, the uninterrupted run {ref.counts['examples']}"
            )
        # a version is published after a learned example: records after the last one (held back,
        # not learned) are consumed again after a restart, and held back again
        ref_position = ref_metas[-1]["positions"]["source"][f"{TOPIC}/0"] if ref_metas else None
        result["reference_position"] = ref_position
        if result["final_position"] != ref_position or not 0 <= a.lines - (ref_position or 0) < HOLDOUT_EVERY:
            failures.append(f"the final version's position is {result['final_position']} (reference {ref_position})")
        if final_committed != result["final_position"]:
            failures.append(f"the group's committed offset is {final_committed}, not {result['final_position']}")
        try:
            drained = json.loads(out.strip().splitlines()[-1])["counts"]["events"]
        except (ValueError, KeyError, IndexError):
            drained = None
        result["events_consumed"] = drained
        if drained != a.lines:
            failures.append(f"the last trainer consumed {drained} records in all, not {a.lines}")
        strip = ("state", "sha256", "parent")
        if [{k: v for k, v in m.items() if k not in strip} for m in metas] != [
            {k: v for k, v in m.items() if k not in strip} for m in ref_metas
        ]:
            failures.append("the chain of versions differs from the uninterrupted run's")
        if a.cycles and result["cycles_with_progress"] == 0:
            failures.append("no kill cycle made progress (kills too early?)")
    result["loadavg_end"] = loadavg()
    result["failures"] = failures
    return result


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=12, help="SIGKILL/restart cycles")
    ap.add_argument("--lines", type=int, default=40_000, help="records in the stream (the mock keeps ~65,000)")
    ap.add_argument("--rate", type=float, default=400.0, help="records produced a second")
    ap.add_argument("--kill_min", type=float, default=5.0)
    ap.add_argument("--kill_max", type=float, default=15.0)
    ap.add_argument("--consuming_max", type=float, default=1.0, help="a late kill: at most this long into consuming")
    ap.add_argument("--publish_every", type=int, default=1000)
    ap.add_argument("--fresh_group", action="store_true", help="a consumer group per child (no session wait)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--short", action="store_true", help="1 kill, 2000 lines, fresh groups (smoke test)")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bootstrap", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--group", default="soak", help=argparse.SUPPRESS)
    ap.add_argument("--drain", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child_main(a)
    if a.short:
        a.cycles, a.lines, a.rate, a.kill_min, a.kill_max, a.publish_every = 1, 2000, 2000.0, 0.0, 0.0, 200
        a.fresh_group, a.consuming_max = True, 0.3
    res = run(a)
    report(res, a.json)
    print(json.dumps(res, indent=1))
    return fail_lines(res["failures"])


if __name__ == "__main__":
    sys.exit(main())

"""``wabbit train --source URL --store DIR``: the continuous-training loop (:class:`wabbit.Trainer`)
from the command line.

URLs: ``kafka://HOST:PORT/TOPIC`` (a consumer group, ``--group``; several topics separated by
commas), ``file://PATH`` (a file or a folder, followed as it grows), ``-`` (stdin), or a plain
path. The labels' consumer group is ``--group`` + ``-labels`` (its own member, so that the two
consumers never split each other's partitions). Flags this command does not know are the
model's (``--loss_function logistic -q ua -b 24``); a store that has versions brings its own.

SIGTERM and SIGINT stop the loop after the step under way; what was learned since the last
version is checked and published, and the command exits with 143 (SIGTERM) or 130 (SIGINT).
When the gate fails ``max_failures`` times in a row, publication pauses and an ALERT line is
printed. By default (``--gate confirm=50000``) learning goes on, on probation: the first check
that passes publishes again, and a change that keeps the candidate ahead on recent examples while
only the forgetting check fails is accepted after ``confirm`` examples (see
:class:`wabbit.gates.GateKeeper`). With ``--gate confirm=0`` a pause stops learning and the
command waits for a person: SIGUSR1 resumes, SIGUSR2 resumes with a holdout of the new stream (the
stream changed for good), SIGTERM or SIGINT stop (a restart would replay the same stream and
pause again: look first).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from typing import Any, Dict, List, Optional, TextIO, Tuple

from wabbit.cli.process import EXIT_SIGINT, EXIT_SIGTERM, describe_error
from wabbit.options import OptionError, option, parse_args, subcommand_parser, switch

__all__ = ["TrainArgs", "train", "open_source", "parse_gate"]

_GATE_KEYS = {"margin": float, "recent": int, "holdout": int, "max_weight": float, "max_failures": int, "confirm": int}


@dataclasses.dataclass
class TrainArgs:
    source: str = option(
        "--source", help="the examples (or predictions): kafka://HOST:PORT/TOPIC, file://PATH or -", required=True
    )
    labels: Optional[str] = option("--labels", help="labels joined to the predictions of --source (same URL forms)")
    store: str = option("--store", help="the model store's folder (created if missing)", required=True)
    gate: str = option(
        "--gate",
        help="checks before publication, key=value,...: margin, recent, holdout, max_weight, max_failures, confirm "
        "(examples after which a persistent change is accepted; 0: a person decides); off: none",
        default="margin=0.01,recent=10000,holdout=5000",
    )
    replay: float = option("--replay", help="replayed examples per new one (0: no replay buffer)", default=0.0)
    replay_capacity: int = option("--replay_capacity", help="examples the replay buffer keeps", default=100_000)
    replay_strategy: str = option(
        "--replay_strategy", help="uniform, time or label", default="uniform", choices=("uniform", "time", "label")
    )
    publish_every: int = option("--publish_every", help="new examples between publications", default=10_000)
    publish_seconds: Optional[float] = option("--publish_seconds", help="also publish after this many seconds")
    holdout_every: int = option(
        "--holdout_every", help="hold back one new example in this many for the forgetting check (0: none)", default=100
    )
    join: bool = switch("--join", help="--source carries predictions and labels both (JSON lines) to be joined")
    ttl: float = option("--ttl", help="seconds a prediction waits for its label", default=1800.0)
    max_pending: int = option("--max_pending", help="predictions and labels waiting at most", default=1_000_000)
    default_label: Optional[float] = option(
        "--default_label", help="learned for a prediction whose label never comes (default: dropped)"
    )
    group: str = option("--group", help="the Kafka consumer group", default="wabbit-trainer")
    keep: int = option("--keep", help="versions the store keeps besides the current one", default=10)
    seed: int = option("--seed", help="the replay buffer's and the holdout's generator seed", default=0)
    metrics_port: Optional[int] = option(
        "--metrics_port", help="serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0: any free port)"
    )
    max_events: Optional[int] = option("--max_events", help="stop after this many records")
    idle_exit: Optional[float] = option("--idle_exit", help="stop after this many seconds without a record")
    quiet: bool = switch("--quiet", help="no progress lines on stderr")


def parse_gate(text: str) -> Optional[Dict[str, Any]]:
    """``--gate``'s value as Gate keywords (None for ``off``).

    >>> parse_gate("margin=0.02,recent=500"), parse_gate("off"), parse_gate("confirm=0")
    ({'margin': 0.02, 'recent': 500}, None, {'confirm': None})
    """
    if text.strip().lower() in ("off", "none", ""):
        return None
    out: Dict[str, Any] = {}
    for part in text.split(","):
        key, eq, value = part.strip().partition("=")
        if not eq or key not in _GATE_KEYS:
            raise OptionError(f"--gate takes key=value pairs among {', '.join(_GATE_KEYS)}, got {part!r}")
        try:
            out[key] = _GATE_KEYS[key](value)
        except ValueError:
            raise OptionError(f"--gate {key} takes a number, got {value!r}") from None
    if out.get("confirm") == 0:
        out["confirm"] = None
    return out


def open_source(url: str, group: str) -> Any:
    """The source a URL names (see the module docstring)."""
    from wabbit.stream import FileSource, KafkaSource, StdinSource

    if url == "-":
        return StdinSource()
    if url.startswith("kafka://"):
        rest = url[len("kafka://") :]
        bootstrap, slash, topics = rest.partition("/")
        if not slash or not bootstrap or not topics:
            raise OptionError(f"a Kafka URL is kafka://HOST:PORT/TOPIC, got {url!r}")
        return KafkaSource(bootstrap, [t for t in topics.split(",") if t], group)
    if url.startswith("file://"):
        url = url[len("file://") :]
    return FileSource(url)


def _progress(out: TextIO) -> Any:
    def on_check(trainer: Any, decision: Any, version: Optional[int]) -> None:
        p50, p99 = trainer.freshness()
        parts = []
        if decision is not None and "candidate_recent_loss" in decision.metrics:
            m = decision.metrics
            parts.append(f"recent loss {m['candidate_recent_loss']:.4g} (champion {m['champion_recent_loss']:.4g})")
        lag = ", ".join(f"{k} {v}" for k, v in trainer.lag.items() if v is not None)
        if version is not None:
            head = f"published v{version}: {trainer.counts['examples']} examples learned"
            parts.append(f"freshness p50 {p50:.3g} s p99 {p99:.3g} s")
        else:
            head = f"not published: {decision.reason if decision is not None else '?'}"
        if lag:
            parts.append(f"lag {lag}")
        parts.append(f"{trainer.rate:.0f} examples/s")
        print(f"wabbit train: {head}; " + ", ".join(parts), file=out, flush=True)

    return on_check


def train(argv: List[str]) -> int:
    """Learn an event stream continuously and publish validated versions to a model store
    (exactly once across restarts: each version keeps the sources' positions). Flags this command
    does not know are the model's (VW flags)."""
    p = subcommand_parser(TrainArgs, "wabbit train", train.__doc__)
    p.allow_abbrev = False  # a model flag must never pass for an abbreviation of ours
    known, model_flags = p.parse_known_args(argv)
    a = TrainArgs(**vars(known))
    import wabbit
    from wabbit.join import LabelJoiner
    from wabbit.replay import ReplayBuffer
    from wabbit.store import ModelStore
    from wabbit.trainer import Trainer

    out = sys.stderr
    stop_signal: List[int] = []
    sources: List[Any] = []
    server: Optional[Tuple[Any, Any, int]] = None
    try:
        gate_kw = parse_gate(a.gate)
        model = wabbit.Model.from_options(parse_args(model_flags))
        keeper = None
        if gate_kw is not None:
            from wabbit.gates import Gate, GateKeeper

            gate = Gate(**gate_kw)
            then = (
                "learning is paused (SIGUSR1: resume; SIGUSR2: resume, the stream changed for good)"
                if gate.confirm is None
                else f"learning goes on; a change that persists for {gate.confirm} examples will be accepted"
            )

            def alert(decision: Any, failures: int) -> None:
                print(
                    f"wabbit train: ALERT: the gate failed {failures} times in a row; publication is paused, {then}: "
                    f"{decision.reason}",
                    file=out,
                    flush=True,
                )

            keeper = GateKeeper(gate, alert=alert)
        joiner = None
        if a.labels is not None or a.join:
            joiner = LabelJoiner(a.ttl, a.max_pending, a.default_label)
        replay = None
        if a.replay > 0:
            replay = ReplayBuffer(a.replay_capacity, a.replay_strategy, a.replay, a.seed)
        source = open_source(a.source, a.group)
        sources.append(source)
        labels = None
        if a.labels is not None:
            labels = open_source(a.labels, a.group + "-labels")
            sources.append(labels)
        trainer = Trainer(
            model,
            source,
            ModelStore(a.store, keep=a.keep),
            labels=labels,
            joiner=joiner,
            keeper=keeper,
            replay=replay,
            publish_every=a.publish_every or None,
            publish_seconds=a.publish_seconds,
            holdout_every=a.holdout_every or None,
            holdout_seed=a.seed,
            on_check=None if a.quiet else _progress(out),
        )
        if a.metrics_port is not None:
            server = trainer.serve_metrics(a.metrics_port)
            if not a.quiet:
                print(f"wabbit train: metrics at http://127.0.0.1:{server[2]}/metrics", file=out, flush=True)
        if not a.quiet:
            where = f"version {trainer.published_version}" if trainer.published_version else "an empty store"
            print(f"wabbit train: {trainer.model!r} from {where}, {trainer.counts['examples']} examples", file=out)
    except (OptionError, OSError, ValueError, RuntimeError, ImportError) as e:
        for s in sources:
            s.close()
        if os.environ.get("WABBIT_DEBUG"):
            raise
        print(f"wabbit: error: {describe_error(e)}", file=sys.stderr)
        return 1

    def on_signal(signum: int, frame: Any) -> None:
        stop_signal.append(signum)
        trainer.stop()

    resume_signal: List[int] = []

    def on_resume(signum: int, frame: Any) -> None:
        resume_signal.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    previous.update({s: signal.signal(s, on_resume) for s in (signal.SIGUSR1, signal.SIGUSR2)})
    try:
        last = [trainer.counts["events"], time.monotonic()]

        def idle(t: Any) -> bool:
            if a.idle_exit is None:
                return False
            if t.counts["events"] != last[0]:
                last[0], last[1] = t.counts["events"], time.monotonic()
            return time.monotonic() - last[1] >= a.idle_exit

        budget = a.max_events
        while True:
            start = trainer.counts["events"]
            why = trainer.run(budget, until=idle)
            if budget is not None:
                budget -= trainer.counts["events"] - start
            if why != "paused":
                break
            resume_signal.clear()  # before saying so: a signal sent on reading the line is kept
            print(
                "wabbit train: learning paused by the gate; waiting for SIGUSR1 (resume), SIGUSR2 (resume with a "
                "holdout of the new stream), SIGTERM or SIGINT",
                file=out,
                flush=True,
            )
            while not stop_signal and not resume_signal:
                time.sleep(0.2)
            if stop_signal:
                break
            trainer.resume(new_holdout=resume_signal[-1] == signal.SIGUSR2)
            print("wabbit train: resumed", file=out, flush=True)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        for s in sources:
            s.close()
        if server is not None:
            server[0].shutdown()
            server[0].server_close()
    if not a.quiet:
        p50, p99 = trainer.freshness()
        print(
            f"wabbit train: stopped ({why}): {trainer.counts['examples']} examples learned, "
            f"version {trainer.published_version}, freshness p50 {p50:.3g} s p99 {p99:.3g} s",
            file=out,
        )
    if stop_signal:
        return EXIT_SIGTERM if stop_signal[0] == signal.SIGTERM else EXIT_SIGINT
    return 0

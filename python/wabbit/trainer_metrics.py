"""A trainer's metrics in Prometheus' format, through ``prometheus-client`` (the serve extra,
imported only here, when metrics are asked for).

:class:`TrainerCollector` reads one :meth:`wabbit.Trainer.stats` dict per scrape; each trainer
gets its own ``CollectorRegistry`` (:func:`registry`), nothing global. :func:`serve_metrics`
exposes it over HTTP (``prometheus_client.start_http_server``). The families (prefix
``wabbit_trainer_``):

- ``events_total{source}``: records consumed (source ``examples`` or ``labels``);
  ``bad_records_total``
- ``examples_learned_total``, ``examples_replayed_total``, ``examples_held_out_total``,
  ``examples_defaulted_total`` (default labels learned at expiry), ``examples_per_second``
- ``join_total{outcome}``: the joiner's counts (joined, late, duplicates, duplicate_predictions,
  unknown, expired_dropped, expired_defaulted, evicted); ``join_pending``
- ``gate_decisions_total{result}`` (passed/failed) and ``gate_failures_total{check}`` (recent,
  weights, forgetting, paused); ``gate_alerts_total``; ``gate_changes_total`` (concept changes
  the keeper accepted) and ``gate_recoveries_total`` (pauses ended by a pass); ``paused`` (1 while
  publication is paused); ``gate_change_evidence`` (examples of evidence of a concept change)
- ``published_version``, ``publishes_total``, ``unpublished_examples``
- ``freshness_seconds{quantile}``: 0.5 and 0.99 of the seconds from a label's arrival to the
  version that learned it
- ``replay_size``, ``holdout_size``, ``consumer_lag{source}`` (records not yet consumed, when the
  source can tell)

>>> fake = {"events_source": 5, "examples": 4, "join": {"joined": 3, "late": 1}, "gate": {"passed": 2},
...         "freshness_p50": 1.5, "freshness_p99": 4.0, "lag": {"source": 7}, "published_version": 3}
>>> text = exposition(registry(lambda: fake)).decode()
>>> 'wabbit_trainer_join_total{outcome="late"} 1.0' in text, 'wabbit_trainer_consumer_lag{source="source"} 7.0' in text
(True, True)
>>> 'wabbit_trainer_freshness_seconds{quantile="0.99"} 4.0' in text
True
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = ["TrainerCollector", "registry", "exposition", "serve_metrics", "MISSING_EXTRA"]

MISSING_EXTRA = 'the trainer\'s metrics need prometheus-client (the serve extra): pip install "wabbit[serve]"'

_JOIN_OUTCOMES = (
    "joined",
    "late",
    "duplicates",
    "duplicate_predictions",
    "unknown",
    "expired_dropped",
    "expired_defaulted",
    "evicted",
)
_CHECKS = ("recent", "weights", "forgetting", "paused")


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as e:
        raise ImportError(f"{MISSING_EXTRA} ({e})") from None
    return prometheus_client


class TrainerCollector:
    """A prometheus-client collector over ``stats()`` (a trainer's :meth:`~wabbit.Trainer.stats`)."""

    def __init__(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        self.stats = stats

    def describe(self) -> List[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        s: Dict[str, Any] = dict(self.stats())

        def num(key: str, default: float = 0.0) -> float:
            v = s.get(key)
            return default if v is None else float(v)

        def counter(name: str, doc: str, key: str) -> Any:
            return CounterMetricFamily(f"wabbit_trainer_{name}", doc, value=num(key))

        def gauge(name: str, doc: str, value: float) -> Any:
            return GaugeMetricFamily(f"wabbit_trainer_{name}", doc, value=value)

        events = CounterMetricFamily("wabbit_trainer_events", "Records consumed, by source", labels=["source"])
        events.add_metric(["examples"], num("events_source"))
        events.add_metric(["labels"], num("events_labels"))
        yield events
        yield counter("bad_records", "Records skipped as malformed", "bad_records")
        yield counter("examples_learned", "New examples learned (replays apart)", "examples")
        yield counter("examples_replayed", "Replayed examples learned", "replayed")
        yield counter("examples_held_out", "New examples held back for the forgetting check", "held_out")
        yield counter("examples_defaulted", "Predictions learned with the default label at expiry", "defaulted")
        yield gauge("examples_per_second", "New examples learned a second, lately", num("examples_per_second"))

        join: Mapping[str, Any] = s.get("join") or {}
        outcomes = CounterMetricFamily("wabbit_trainer_join", "The label joiner's outcomes", labels=["outcome"])
        for k in _JOIN_OUTCOMES:
            outcomes.add_metric([k], float(join.get(k, 0)))
        yield outcomes
        pending = float(join.get("pending_predictions", 0)) + float(join.get("pending_labels", 0))
        yield gauge("join_pending", "Predictions and labels waiting in the joiner", pending)

        gate: Mapping[str, Any] = s.get("gate") or {}
        decisions = CounterMetricFamily("wabbit_trainer_gate_decisions", "Gate decisions", labels=["result"])
        decisions.add_metric(["passed"], float(gate.get("passed", 0)))
        decisions.add_metric(["failed"], float(gate.get("failed", 0)))
        yield decisions
        failures = CounterMetricFamily("wabbit_trainer_gate_failures", "Failed gate checks, by check", labels=["check"])
        for k in _CHECKS:
            failures.add_metric([k], float(gate.get(f"failed_{k}", 0)))
        yield failures
        yield CounterMetricFamily(
            "wabbit_trainer_gate_alerts", "Pauses after repeated failures", value=float(gate.get("alerts", 0))
        )
        yield CounterMetricFamily(
            "wabbit_trainer_gate_changes", "Concept changes accepted by the keeper", value=float(gate.get("changes", 0))
        )
        yield CounterMetricFamily(
            "wabbit_trainer_gate_recoveries", "Pauses ended by a passing check", value=float(gate.get("recovered", 0))
        )
        yield gauge(
            "gate_change_evidence",
            "Examples of consecutive checks refused only by the forgetting check",
            float(s.get("change_evidence", 0)),
        )
        yield gauge("paused", "1 while publication is paused by the gate keeper", 1.0 if s.get("paused") else 0.0)

        yield gauge("published_version", "The last version published (NaN: none)", num("published_version", math.nan))
        yield counter("publishes", "Versions published by this trainer", "published")
        yield gauge("unpublished_examples", "Examples learned since the last version", num("unpublished_examples"))
        fresh = GaugeMetricFamily(
            "wabbit_trainer_freshness_seconds",
            "Seconds from a label's arrival to the publication of the version that learned it",
            labels=["quantile"],
        )
        fresh.add_metric(["0.5"], num("freshness_p50", math.nan))
        fresh.add_metric(["0.99"], num("freshness_p99", math.nan))
        yield fresh
        yield gauge("replay_size", "Examples in the replay buffer", num("replay_size"))
        yield gauge("holdout_size", "Examples in the forgetting check's holdout", num("holdout_size"))
        lag = GaugeMetricFamily(
            "wabbit_trainer_consumer_lag", "Records available but not consumed, by source", labels=["source"]
        )
        for name, value in sorted(dict(s.get("lag") or {}).items()):
            if value is not None:
                lag.add_metric([str(name)], float(value))
        yield lag


def registry(stats: Callable[[], Mapping[str, Any]]) -> "CollectorRegistry":
    """A new registry holding one :class:`TrainerCollector` over ``stats``."""
    reg = _prometheus().CollectorRegistry(auto_describe=False)
    reg.register(TrainerCollector(stats))
    return reg


def exposition(reg: "CollectorRegistry") -> bytes:
    """The registry's metrics in Prometheus' text format."""
    return bytes(_prometheus().generate_latest(reg))


def serve_metrics(
    stats: Callable[[], Mapping[str, Any]], port: int, addr: str = "127.0.0.1"
) -> Tuple[Any, Optional[Any], int]:
    """Serve ``stats`` at ``http://addr:port/metrics`` from a daemon thread; returns the HTTP
    server (``.shutdown()`` ends it), its thread, and the port (useful with port 0)."""
    out = _prometheus().start_http_server(port, addr=addr, registry=registry(stats))
    server, thread = out if isinstance(out, tuple) else (out, None)
    return server, thread, int(server.server_address[1])

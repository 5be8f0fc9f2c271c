"""``GET /metrics``: the engine's counters in Prometheus' text format, through ``prometheus-client``.

:class:`StatsCollector` reads one ``stats()`` dict per scrape (the engine's counters, see
docs/serving.md) and turns it into metric families; each server has its own
``CollectorRegistry`` (:func:`registry`), so nothing is global and two servers in one process do
not mix. The families (all prefixed ``wabbit_``):

- ``requests_total{kind, outcome}``: requests answered, kind predict/learn/rank/save, outcome ok/error
- ``request_duration_seconds{kind}``: latency histograms (predict, learn) from the engine's buckets
- ``examples_learned_total``, ``loss_window`` (mean loss of the recent window), ``loss_window_examples``,
  ``progressive_loss`` (since start)
- ``model_info{version}``, ``model_age_seconds`` (since the served version was installed), ``publishes_total``,
  ``swaps_total``, ``drift_alarms_total``
- ``errors_total`` (error replies of every kind), ``lines_too_long_total``
- ``connections_open``, ``connections_total``, ``received_bytes_total``, ``sent_bytes_total``

>>> fake = {"requests": {"predict_ok": 3, "predict_error": 1}, "latency_bounds": [0.001],
...         "latency_predict": [2, 1], "latency_predict_sum": 0.004, "version": "p2", "version_time": 0.0}
>>> text = exposition(registry(lambda: fake)).decode()
>>> 'wabbit_requests_total{kind="predict",outcome="ok"} 3.0' in text
True
>>> 'wabbit_request_duration_seconds_bucket{kind="predict",le="+Inf"} 3.0' in text
True
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Sequence, Tuple

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = ["StatsCollector", "registry", "exposition", "CONTENT_TYPE", "MISSING_EXTRA"]

#: The Content-Type of the exposition (prometheus-client's CONTENT_TYPE_LATEST).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

MISSING_EXTRA = 'HTTP serving and /metrics need the serve extra: pip install "wabbit[serve]"'


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as e:
        raise ImportError(f"{MISSING_EXTRA} ({e})") from None
    return prometheus_client


def _buckets(bounds: Sequence[float], counts: Sequence[int]) -> List[Tuple[str, float]]:
    """Per-bucket counts (the engine's, len(bounds)+1) as cumulative ``(le, count)`` pairs."""
    out: List[Tuple[str, float]] = []
    total = 0
    for i, bound in enumerate(bounds):
        total += int(counts[i]) if i < len(counts) else 0
        out.append((repr(float(bound)), float(total)))
    total += sum(int(c) for c in counts[len(bounds) :])
    out.append(("+Inf", float(total)))
    return out


class StatsCollector:
    """A prometheus-client collector over ``stats()`` (a callable returning the engine's dict)."""

    def __init__(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        self.stats = stats

    def describe(self) -> List[Any]:
        return []  # the families are made at collection time (registering reads nothing)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
            InfoMetricFamily,
        )

        s: Dict[str, Any] = dict(self.stats())
        requests = CounterMetricFamily(
            "wabbit_requests", "Requests answered, by kind and outcome", labels=["kind", "outcome"]
        )
        errors = 0
        for key, n in sorted(dict(s.get("requests", {})).items()):
            kind, _, outcome = str(key).rpartition("_")
            requests.add_metric([kind, outcome], float(n))
            if outcome == "error":
                errors += int(n)
        yield requests
        bounds = [float(b) for b in s.get("latency_bounds", [])]
        latency = HistogramMetricFamily(
            "wabbit_request_duration_seconds", "Time from a request line read to its reply written", labels=["kind"]
        )
        for kind in ("predict", "learn"):
            counts = list(s.get(f"latency_{kind}", []))
            if counts:
                latency.add_metric([kind], _buckets(bounds, counts), sum_value=float(s.get(f"latency_{kind}_sum", 0.0)))
        yield latency

        def counter(name: str, doc: str, key: str) -> Any:
            return CounterMetricFamily(name, doc, value=float(s.get(key, 0)))

        def gauge(name: str, doc: str, value: float) -> Any:
            return GaugeMetricFamily(name, doc, value=value)

        yield counter("wabbit_examples_learned", "Examples learned", "examples_learned")
        yield gauge(
            "wabbit_loss_window",
            "Mean progressive loss of the recent learned examples",
            float(s.get("loss_window", math.nan)),
        )
        yield gauge(
            "wabbit_loss_window_examples", "Examples in the recent-loss window", float(s.get("loss_window_count", 0))
        )
        count = int(s.get("loss_count", 0))
        yield gauge(
            "wabbit_progressive_loss",
            "Mean progressive loss since the server started",
            float(s.get("loss_total", 0.0)) / count if count else math.nan,
        )
        version = str(s.get("version", ""))
        yield InfoMetricFamily("wabbit_model", "The served model version", value={"version": version})
        installed = float(s.get("version_time", 0.0))
        yield gauge(
            "wabbit_model_age_seconds",
            "Seconds since the served version was installed or published",
            max(0.0, time.time() - installed) if installed > 0 else math.nan,
        )
        yield counter("wabbit_publishes", "Versions published (publish mode)", "publishes")
        yield counter("wabbit_swaps", "Versions swapped in (swap, --watch, rollback)", "swaps")
        canary = s.get("canary") or {}
        yield CounterMetricFamily(
            "wabbit_canary_requests",
            "Requests answered by the canary's candidate",
            value=float(canary.get("requests", 0)),
        )
        yield gauge(
            "wabbit_canary_champion_loss",
            "Mean loss of the served model on the last 1000 labelled requests scored by both (canary)",
            float(canary.get("champion_loss_window", math.nan)),
        )
        yield gauge(
            "wabbit_canary_candidate_loss",
            "Mean loss of the canary's candidate on the same labelled requests",
            float(canary.get("candidate_loss_window", math.nan)),
        )
        yield InfoMetricFamily(
            "wabbit_canary",
            "The canary's candidate version (empty: none)",
            value={"version": str(canary.get("version") or "")},
        )
        yield counter("wabbit_predictions_logged", "Predictions written to the prediction log", "predictions_logged")
        yield counter(
            "wabbit_predictions_log_dropped",
            "Predictions not logged: the log's queue was full (or the text was not UTF-8)",
            "predictions_log_dropped",
        )
        yield counter("wabbit_drift_alarms", "Drift alarms (ADWIN over the learned losses)", "drift_alarms")
        too_long = int(s.get("lines_too_long", 0))
        yield CounterMetricFamily("wabbit_errors", "Error replies of every kind", value=float(errors))
        yield CounterMetricFamily("wabbit_lines_too_long", "Lines over --max_line_bytes", value=float(too_long))
        yield gauge("wabbit_connections_open", "Open line-protocol connections", float(s.get("connections_open", 0)))
        yield counter("wabbit_connections", "Line-protocol connections accepted", "connections_total")
        yield counter("wabbit_received_bytes", "Bytes received on the line protocol", "bytes_in")
        yield counter("wabbit_sent_bytes", "Bytes sent on the line protocol", "bytes_out")


def registry(stats: Callable[[], Mapping[str, Any]]) -> "CollectorRegistry":
    """A new registry holding one :class:`StatsCollector` over ``stats`` (one per server)."""
    prometheus = _prometheus()
    reg = prometheus.CollectorRegistry(auto_describe=False)
    reg.register(StatsCollector(stats))
    return reg


def exposition(reg: "CollectorRegistry") -> bytes:
    """The registry's metrics in Prometheus' text format."""
    return bytes(_prometheus().generate_latest(reg))

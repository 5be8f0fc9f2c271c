"""Event sources for the continuous-training loop: one interface (:class:`Source`), Kafka
(:mod:`wabbit.stream.kafka`, needs ``pip install "wabbit[kafka]"``), files followed as they grow
and stdin (:mod:`wabbit.stream.files`).

The Kafka names are loaded on first use, so importing :mod:`wabbit.stream` does not need
confluent-kafka.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wabbit.stream.files import FileSource, StdinSource
from wabbit.stream.source import Record, Source, StreamError

if TYPE_CHECKING:
    from wabbit.stream.kafka import KafkaSink, KafkaSource, MockCluster, mock_cluster

__all__ = [
    "Record",
    "Source",
    "StreamError",
    "FileSource",
    "StdinSource",
    "KafkaSource",
    "KafkaSink",
    "MockCluster",
    "mock_cluster",
]

_KAFKA = {"KafkaSource", "KafkaSink", "MockCluster", "mock_cluster"}


def __getattr__(name: str) -> Any:
    if name in _KAFKA:
        from wabbit.stream import kafka

        return getattr(kafka, name)
    raise AttributeError(f"module 'wabbit.stream' has no attribute {name!r}")

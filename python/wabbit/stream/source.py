"""The one small interface every event source of the training loop implements.

A :class:`Source` hands out :class:`Record` objects in batches (:meth:`Source.poll`). Each
record belongs to a *partition* (a Kafka ``"topic/3"``, a file's path, ``"<stdin>"``) and has an
``offset`` there. A source tracks, per partition, the offset of the next record it has not yet
returned (:meth:`Source.positions`): that dict is what a checkpoint stores beside the model that
learned every record before it. A restarted reader calls :meth:`Source.seek` with the checkpoint's
dict and gets exactly the records after it: none twice, none skipped. :meth:`Source.commit` tells
the source that a checkpoint is durable (Kafka records it as the group's committed offsets;
files do nothing), so it is called only after the model version holding those positions was
saved.

>>> from wabbit.stream import Record, Source
>>> class ListSource(Source):
...     '''A source over a list of lines (one partition, offsets are list indices).'''
...     def __init__(self, lines):
...         self.lines, self.next = lines, 0
...     def poll(self, max_records=1000, timeout=0.0):
...         out = [Record(v, "list", i, 0.0) for i, v in enumerate(self.lines) if self.next <= i < self.next + max_records]
...         self.next += len(out)
...         return out
...     def positions(self):
...         return {"list": self.next}
...     def seek(self, positions):
...         self.next = positions.get("list", self.next)
>>> with ListSource([b"1 |f a", b"0 |f b", b"1 |f c"]) as s:
...     first = s.poll(2)
...     saved = s.positions()
>>> [r.value for r in first], saved
([b'1 |f a', b'0 |f b'], {'list': 2})
>>> resumed = ListSource([b"1 |f a", b"0 |f b", b"1 |f c"])
>>> resumed.seek(saved)
>>> [r.offset for r in resumed.poll()]
[2]
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Dict, List, NamedTuple, Optional, Type, TypeVar

__all__ = ["Record", "Source", "StreamError"]

_S = TypeVar("_S", bound="Source")


class StreamError(RuntimeError):
    """A source or sink cannot go on: a missing topic, an unreachable broker, a failed commit or
    delivery, a seek the source cannot do. The message names what failed and where."""


class Record(NamedTuple):
    """One record of a stream.

    ``value`` is the payload (for files and stdin, one line without its ``\\n`` or ``\\r\\n``);
    ``partition`` names where it comes from (``"topic/3"``, a file's absolute path, ``"<stdin>"``);
    ``offset`` is its position there (a Kafka offset, the byte offset of the line's start, a line
    number from 0); ``timestamp`` is in seconds since the epoch (the broker's or producer's time for
    Kafka, the time the line was read for files and stdin); ``key`` is the Kafka message key.
    """

    value: bytes
    partition: str
    offset: int
    timestamp: float
    key: Optional[bytes] = None


class Source(abc.ABC):
    """A stream of :class:`Record` batches with resumable per-partition positions.

    The contract (what the trainer relies on for exactly-once learning):

    - Records of one partition come in offset order, each once.
    - :meth:`positions` gives, for each partition the source has positions for, the offset of
      the next record not yet returned; after :meth:`seek` with such a dict, a source (this one or
      a new one over the same stream) returns exactly the records from there on.
    - :meth:`commit` is only a hint to the outside world (a consumer group's committed offsets);
      correctness comes from the positions the caller stores with its checkpoints.
    """

    @abc.abstractmethod
    def poll(self, max_records: int = 1000, timeout: float = 1.0) -> List[Record]:
        """Up to ``max_records`` records, waiting at most ``timeout`` seconds for the first; an
        empty list when none came in time."""

    @abc.abstractmethod
    def positions(self) -> Dict[str, int]:
        """For each partition, the offset of the next record not yet returned (a copy)."""

    @abc.abstractmethod
    def seek(self, positions: Dict[str, int]) -> None:
        """Resume at ``positions`` (a dict from :meth:`positions`): the next records returned for
        each partition named start exactly there. Partitions not named keep their position."""

    def commit(self, positions: Dict[str, int]) -> None:  # noqa: B027 - optional, nothing by default
        """Tell the source that ``positions`` are durable (stored with a saved model version)."""

    def lag(self) -> Optional[int]:
        """Records available but not yet returned, or None when the source cannot tell."""
        return None

    def close(self) -> None:  # noqa: B027 - optional, nothing by default
        """Release the source's connections and files; idempotent."""

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


def check_poll_args(max_records: int, timeout: float) -> None:
    """ValueError for a ``max_records`` that is not a positive int or a negative ``timeout``."""
    if isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 1:
        raise ValueError(f"max_records must be a positive number of records, got {max_records!r}")
    if not timeout >= 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")


def check_positions(positions: Dict[str, int]) -> Dict[str, int]:
    """The dict checked: string partitions, int offsets >= 0; TypeError/ValueError otherwise."""
    if not isinstance(positions, dict):
        raise TypeError(f"positions must be a dict of partition -> offset, not {type(positions).__name__}")
    out: Dict[str, int] = {}
    for k, v in positions.items():
        if not isinstance(k, str):
            raise TypeError(f"a partition is a str, got {k!r}")
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"the offset of partition {k!r} must be an int >= 0, got {v!r}")
        out[k] = v
    return out

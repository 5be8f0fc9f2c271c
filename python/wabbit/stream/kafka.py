"""Kafka through ``confluent-kafka`` (librdkafka): a source for consumer groups, a sink, and
librdkafka's in-process mock cluster for tests and demos.

``pip install "wabbit[kafka]"`` installs the client; this module imports it only when a class
here is used.

>>> from wabbit.stream import KafkaSink, KafkaSource, mock_cluster
>>> cluster = mock_cluster()                      # in this process; no broker to install
>>> with KafkaSink(cluster.bootstrap, "examples") as sink:
...     for i in range(6):
...         sink.send(f"{i % 2} |f a{i}", partition=0)
>>> group = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
>>> src = KafkaSource(cluster.bootstrap, "examples", "trainer", config=group)
>>> first = []
>>> while len(first) < 4:
...     first += src.poll(4 - len(first), timeout=1.0)
>>> [r.value for r in first], src.positions()
([b'0 |f a0', b'1 |f a1', b'0 |f a2', b'1 |f a3'], {'examples/0': 4})
>>> checkpoint = src.positions()                 # saved with the model version...
>>> src.commit(checkpoint)                        # ...and committed once that version is durable
>>> src.lag()
2
>>> src.close()
>>> resumed = KafkaSource(cluster.bootstrap, "examples", "trainer-2", positions=checkpoint, config=group)
>>> rest = []
>>> while len(rest) < 2:
...     rest += resumed.poll(10, timeout=1.0)
>>> [(r.partition, r.offset, r.value) for r in rest]
[('examples/0', 4, b'0 |f a4'), ('examples/0', 5, b'1 |f a5')]
>>> resumed.close(); cluster.close()

**Exactly-once from the caller's checkpoints.** :class:`KafkaSource` consumes as a member of a
consumer group with ``enable.auto.commit=false`` and ``auto.offset.reset=earliest``. Its
positions are, per ``"topic/partition"``, the offset after the last record it returned (or the
offset a :meth:`KafkaSource.seek` set). When a partition is assigned to it (at start and at
every rebalance) it starts there; a partition it has no position for starts at the group's
committed offset, or at the earliest offset when the group has none. So a trainer that stores
``positions()`` with each model version, calls ``commit()`` with them once the version is
durable, and on restart passes the version's positions (``positions=`` or ``seek()``) learns
every record once: the committed offsets are never ahead of a durable version, and the
checkpoint's positions win over them when they differ. This assumes one member per group (one
trainer per model): when several members split the partitions, each one's positions speak
only for the partitions it held.

**The mock cluster**, as checked with confluent-kafka 2.16 (librdkafka 2.16):

- A client created with ``test.mock.num.brokers`` starts a mock cluster inside this process
  (its brokers are threads of the client) and ignores its own ``bootstrap.servers``. The
  Python API has no ``rd_kafka_mock_cluster_new`` nor a way to read the mock's bootstrap list
  directly; :class:`MockCluster` reads it from the cluster's metadata
  (``list_topics().brokers``: host and port of each broker, on 127.0.0.1).
- The brokers listen on TCP ports of 127.0.0.1, so other clients and **other processes** connect
  with that bootstrap list (tests/test_stream_sources.py runs a producer in a subprocess).
- The cluster lives as long as the client that created it: :meth:`MockCluster.close` (or the
  object's collection) ends it, and the other clients then fail with transport errors.
- Topics are **auto-created** on first produce, and by a producer's metadata request for the
  topic (:meth:`MockCluster.create_topic`), always with 4 partitions (librdkafka's mock
  default; no configuration property changes it). A consumer does not auto-create: subscribing
  to a missing topic gives ``UNKNOWN_TOPIC_OR_PART``.
- ``AdminClient.create_topics`` **times out** against it (``Failed while waiting for controller:
  Local: Timed out``: the metadata names no controller among the brokers).
- Committing explicit offsets right after a consumer is created can fail with "Unknown member"
  until it has joined its group (the Trainer does not commit at resume).
- The mock keeps only about the last 5 MB of each partition (about 65,000 short records): a
  consumer that falls further behind resets to the new earliest offset and **loses records**, as a
  consumer behind a real broker's retention does (exactly-once then breaks: keep retention longer
  than the longest stop of the trainer). The benchmarks spread load over the 4 partitions.
- The mock's group coordinator lets a new member of a group in only after a member that left
  (closed) has timed out: a restarted consumer of the same group waits about
  ``session.timeout.ms`` (45 s by default) for its first assignment. Tests pass
  ``config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}``; with
  ``session.timeout.ms`` 2000 a member never got an assignment, and no error reached the
  client's error callback. The first member of a group waits about 3 s (the coordinator's
  initial rebalance delay).
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Type, Union

from wabbit.stream.source import Record, Source, StreamError, check_poll_args, check_positions

__all__ = ["KafkaSource", "KafkaSink", "MockCluster", "mock_cluster"]

_log = logging.getLogger("wabbit.stream.kafka")

_INSTALL = 'the Kafka sources need confluent-kafka: pip install "wabbit[kafka]"'


def _ck() -> Any:
    """The confluent_kafka module, or StreamError saying how to install it."""
    try:
        import confluent_kafka
    except ImportError as e:
        raise StreamError(f"{_INSTALL} ({e})") from None
    return confluent_kafka


def _split(partition: str) -> Tuple[str, int]:
    topic, sep, number = partition.rpartition("/")
    if not sep or not topic or not number.isdigit():
        raise StreamError(f'{partition!r} is not a Kafka partition name ("topic/partition", e.g. "events/3")')
    return topic, int(number)


def _fail(what: str, e: BaseException) -> StreamError:
    err = e.args[0] if e.args else e
    text = err.str() if hasattr(err, "str") else str(err)
    return StreamError(f"{what}: {text}")


class KafkaSource(Source):
    """Records of ``topics`` (a name or a list) consumed as a member of the group ``group``.

    ``positions`` (a checkpoint's dict) is the same as calling :meth:`seek` before the first poll.
    ``config`` adds or overrides librdkafka properties (e.g. ``{"session.timeout.ms": 6000}``);
    librdkafka's log goes to the ``wabbit.stream.kafka`` logger. The topics must exist: the
    constructor checks them (within ``timeout`` seconds) and raises StreamError naming a missing
    topic or an unreachable bootstrap.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Union[str, Sequence[str]],
        group: str,
        *,
        positions: Optional[Dict[str, int]] = None,
        config: Optional[Mapping[str, Any]] = None,
        timeout: float = 10.0,
    ) -> None:
        ck = _ck()
        self._ck = ck
        self.bootstrap = bootstrap
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        if not self.topics or not all(isinstance(t, str) and t for t in self.topics):
            raise ValueError(f"topics must be a topic name or a list of them, got {topics!r}")
        self.group = group
        self.timeout = float(timeout)
        conf: Dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "logger": _log,
            "error_cb": self._on_error,
        }
        conf.update(config or {})
        self._cooperative = "cooperative" in str(conf.get("partition.assignment.strategy", ""))
        self._next: Dict[Tuple[str, int], int] = {}
        self._assigned: Set[Tuple[str, int]] = set()
        self._to_seek: Set[Tuple[str, int]] = set()  # assigned partitions whose seek() is not done
        self._names: Dict[Tuple[str, int], str] = {}  # (topic, partition) -> "topic/partition"
        self.last_error: Optional[str] = None
        self._closed = False
        try:
            self._consumer = ck.Consumer(conf)
        except ck.KafkaException as e:
            raise _fail("cannot create the Kafka consumer", e) from None
        try:
            if positions:
                self.seek(positions)
            self._check_topics()
            self._consumer.subscribe(
                self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
            )
        except BaseException:
            self._consumer.close()
            self._closed = True
            raise

    def __repr__(self) -> str:
        return f"wabbit.stream.KafkaSource({self.bootstrap!r}, {self.topics!r}, {self.group!r})"

    def _check_topics(self) -> None:
        ck = self._ck
        for topic in self.topics:
            try:
                md = self._consumer.list_topics(topic, timeout=self.timeout)
            except ck.KafkaException as e:
                raise _fail(f"cannot reach the Kafka brokers at {self.bootstrap!r}", e) from None
            t = md.topics.get(topic)
            if t is None or t.error is not None:
                why = t.error.str() if t is not None and t.error is not None else "not in the metadata"
                raise StreamError(f"topic {topic!r} is not available on {self.bootstrap!r}: {why}")

    # ------------------------------------------------------------------ callbacks (inside poll)
    def _on_error(self, err: Any) -> None:
        # librdkafka retries these itself (and logs them through the logger); fatal ones raise in poll
        self.last_error = err.str()

    def _on_assign(self, consumer: Any, partitions: List[Any]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._assigned.add(key)
            self._to_seek.discard(key)
            if key in self._next:
                tp.offset = self._next[key]
        if self._cooperative:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)

    def _on_revoke(self, consumer: Any, partitions: List[Any]) -> None:
        # positions stay: if a partition comes back, it resumes after what was returned
        for tp in partitions:
            self._assigned.discard((tp.topic, tp.partition))
            self._to_seek.discard((tp.topic, tp.partition))
        if self._cooperative:
            consumer.incremental_unassign(partitions)
        else:
            consumer.unassign()

    # ------------------------------------------------------------------ the interface
    def poll(self, max_records: int = 1000, timeout: float = 1.0) -> List[Record]:
        check_poll_args(max_records, timeout)
        if self._closed:
            raise StreamError(f"{self!r} is closed")
        ck = self._ck
        self._retry_seeks()
        n = min(max_records, 1_000_000)
        consumer = self._consumer
        try:
            # what is there now; when nothing is, the first record to come (consume() would wait
            # out the whole timeout for n records: at 50,000 records a second, a poll of 5000 with
            # a 50 ms timeout returned ~2500 after 50 ms, and the trainer idled half the time)
            messages = consumer.consume(num_messages=n, timeout=0)
            if not messages and timeout > 0:
                first = consumer.poll(timeout)
                if first is not None:
                    messages = [first] + (consumer.consume(num_messages=n - 1, timeout=0) if n > 1 else [])
        except ck.KafkaException as e:
            raise _fail("consuming failed", e) from None
        out: List[Record] = []
        add = out.append
        positions, to_seek, names = self._next, self._to_seek, self._names
        no_stamp = ck.TIMESTAMP_NOT_AVAILABLE
        for m in messages:  # (one loop for every record: kept lean)
            err = m.error()
            if err is not None:
                self._message_error(err)
                continue
            key = (m.topic(), m.partition())
            offset = m.offset()
            if to_seek and key in to_seek:
                continue  # fetched before a pending seek took effect
            expected = positions.get(key)
            if expected is not None and offset < expected:
                continue  # already returned, or before a seek's offset
            positions[key] = offset + 1
            kind, ms = m.timestamp()
            name = names.get(key)
            if name is None:
                name = names[key] = f"{key[0]}/{key[1]}"
            add(Record(m.value() or b"", name, offset, ms / 1000.0 if kind != no_stamp else time.time(), m.key()))
        return out

    def _message_error(self, err: Any) -> None:
        ke = self._ck.KafkaError
        code = err.code()
        if err.name() == "_PARTITION_EOF":  # only with enable.partition.eof in config
            return
        if (
            code in (ke.UNKNOWN_TOPIC_OR_PART, ke.TOPIC_AUTHORIZATION_FAILED, ke.GROUP_AUTHORIZATION_FAILED)
            or err.fatal()
        ):
            raise StreamError(f"consuming {self.topics} from {self.bootstrap!r}: {err.str()}")
        self.last_error = err.str()
        _log.warning("kafka: %s", self.last_error)

    def _retry_seeks(self) -> None:
        for key in list(self._to_seek):
            tp = self._ck.TopicPartition(key[0], key[1], self._next[key])
            try:
                self._consumer.seek(tp)
            except self._ck.KafkaException:
                continue  # not fetching yet: again at the next poll
            self._to_seek.discard(key)

    def positions(self) -> Dict[str, int]:
        return {f"{t}/{p}": o for (t, p), o in sorted(self._next.items())}

    def seek(self, positions: Dict[str, int]) -> None:
        """Resume the named partitions at their offsets: at their next assignment, or at once
        when assigned now."""
        for name, offset in check_positions(positions).items():
            key = _split(name)
            self._next[key] = offset
            if key in self._assigned:
                self._to_seek.add(key)
        self._retry_seeks()

    def commit(self, positions: Dict[str, int]) -> None:
        """Commit ``positions`` as the group's offsets, synchronously; StreamError if the broker
        refuses any of them."""
        ck = self._ck
        offsets = [ck.TopicPartition(*_split(name), offset) for name, offset in check_positions(positions).items()]
        if self._closed:
            raise StreamError(f"{self!r} is closed: nothing can be committed through it")
        if not offsets:
            return
        try:
            result = self._consumer.commit(offsets=offsets, asynchronous=False)
        except ck.KafkaException as e:
            raise _fail(f"committing offsets of group {self.group!r}", e) from None
        bad = [f"{tp.topic}/{tp.partition}: {tp.error.str()}" for tp in result or [] if tp.error is not None]
        if bad:
            raise StreamError(f"committing offsets of group {self.group!r}: {'; '.join(bad)}")

    def committed(self) -> Dict[str, int]:
        """The group's committed offsets for the partitions assigned now (those it has)."""
        ck = self._ck
        tps = [ck.TopicPartition(t, p) for t, p in sorted(self._assigned)]
        if not tps:
            return {}
        try:
            result = self._consumer.committed(tps, timeout=self.timeout)
        except ck.KafkaException as e:
            raise _fail("reading committed offsets", e) from None
        return {f"{tp.topic}/{tp.partition}": tp.offset for tp in result if tp.offset >= 0}

    def assignment(self) -> List[str]:
        """The partitions assigned to this member now, as ``"topic/partition"``."""
        return [f"{t}/{p}" for t, p in sorted(self._assigned)]

    def lag(self) -> Optional[int]:
        """Records in the assigned partitions after this source's positions (the high watermark, as
        the last fetch saw it, minus the position; a partition without one counts from the group's committed offset, or
        from its low watermark). None when nothing is assigned or the brokers do not answer."""
        if not self._assigned or self._closed:
            return None
        ck = self._ck
        committed: Dict[str, int] = {}
        if any(k not in self._next for k in self._assigned):
            try:
                committed = self.committed()
            except StreamError:
                return None
        total = 0
        for key in sorted(self._assigned):
            try:
                # the watermarks of the last fetch response (microseconds); a query to the broker
                # only when none is cached yet (a query waits behind a pending fetch: ~0.5 s each)
                low, high = self._consumer.get_watermark_offsets(ck.TopicPartition(*key), cached=True)
                if low < 0 or high < 0:
                    low, high = self._consumer.get_watermark_offsets(ck.TopicPartition(*key), timeout=self.timeout)
            except ck.KafkaException:
                return None
            position = self._next.get(key, committed.get(f"{key[0]}/{key[1]}", low))
            total += max(0, high - max(position, low))
        return total

    def close(self) -> None:
        """Leave the group (no commit: positions are committed only by :meth:`commit`)."""
        if not self._closed:
            self._closed = True
            self._consumer.close()


class KafkaSink:
    """Produce lines (bytes or str) to ``topic``; :meth:`close` flushes.

    ``config`` adds librdkafka producer properties. A message that cannot be delivered makes the
    next :meth:`flush` (or :meth:`close`) raise StreamError with the broker's reason;
    :attr:`delivered` counts the delivered ones.
    """

    def __init__(self, bootstrap: str, topic: str, *, config: Optional[Mapping[str, Any]] = None) -> None:
        ck = _ck()
        self._ck = ck
        self.bootstrap = bootstrap
        self.topic = topic
        conf: Dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": _log}
        conf.update(config or {})
        try:
            self._producer = ck.Producer(conf)
        except ck.KafkaException as e:
            raise _fail("cannot create the Kafka producer", e) from None
        self.delivered = 0
        self._errors: List[str] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"wabbit.stream.KafkaSink({self.bootstrap!r}, {self.topic!r})"

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is None:
            self.delivered += 1
        else:
            self._errors.append(f"{msg.topic()}/{msg.partition()}: {err.str()}")

    def send(
        self, value: Union[bytes, str], key: Union[None, bytes, str] = None, partition: Optional[int] = None
    ) -> None:
        """Queue one message (delivery happens in the background; see :meth:`flush`)."""
        if self._closed:
            raise StreamError(f"{self!r} is closed")
        kwargs: Dict[str, Any] = {"key": key, "on_delivery": self._on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                self._producer.produce(self.topic, value, **kwargs)
                break
            except BufferError:
                self._producer.poll(0.05)  # the local queue is full: let deliveries drain it
            except self._ck.KafkaException as e:
                raise _fail(f"producing to {self.topic!r}", e) from None
        self._producer.poll(0)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued message is delivered; StreamError if some are still queued after
        ``timeout`` seconds or failed."""
        left = self._producer.flush(timeout)
        if self._errors:
            errors, self._errors = self._errors, []
            raise StreamError(f"{len(errors)} message(s) to {self.bootstrap!r} failed: {errors[0]}")
        if left:
            raise StreamError(
                f"{left} message(s) to {self.topic!r} at {self.bootstrap!r} not delivered within {timeout} s"
            )

    def close(self, timeout: float = 10.0) -> None:
        """Flush, then release the producer; idempotent."""
        if self._closed:
            return
        try:
            self.flush(timeout)
        finally:
            self._closed = True
            close = getattr(self._producer, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> "KafkaSink":
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()


class MockCluster:
    """librdkafka's mock cluster, alive while this object is (see the module docstring).

    >>> from wabbit.stream import mock_cluster
    >>> with mock_cluster(num_brokers=3) as cluster:
    ...     cluster.bootstrap                          # doctest: +ELLIPSIS
    ...     cluster.create_topic("events")
    '127.0.0.1:...,127.0.0.1:...,127.0.0.1:...'
    4
    """

    def __init__(self, num_brokers: int = 1, *, timeout: float = 10.0) -> None:
        if isinstance(num_brokers, bool) or not isinstance(num_brokers, int) or num_brokers < 1:
            raise ValueError(f"num_brokers must be a positive int, got {num_brokers!r}")
        ck = _ck()
        self._ck = ck
        self.num_brokers = num_brokers
        self._client: Any = ck.Producer({"test.mock.num.brokers": num_brokers, "logger": _log})
        try:
            md = self._client.list_topics(timeout=timeout)
        except ck.KafkaException as e:
            self.close()
            raise _fail("the mock cluster did not start", e) from None
        brokers = [md.brokers[i] for i in sorted(md.brokers)]
        self.bootstrap = ",".join(f"{b.host}:{b.port}" for b in brokers)

    def __repr__(self) -> str:
        state = "closed" if self._client is None else self.bootstrap
        return f"wabbit.stream.MockCluster({state})"

    def create_topic(self, topic: str, timeout: float = 10.0) -> int:
        """Make ``topic`` exist (auto-created by a metadata request); returns its partition count
        (the mock's default, 4). ``AdminClient.create_topics`` does not work on the mock."""
        if self._client is None:
            raise StreamError("the mock cluster is closed")
        deadline = time.monotonic() + timeout
        while True:
            md = self._client.list_topics(topic, timeout=max(0.1, deadline - time.monotonic()))
            t = md.topics.get(topic)
            if t is not None and t.error is None and t.partitions:
                return len(t.partitions)
            if time.monotonic() >= deadline:
                why = t.error.str() if t is not None and t.error is not None else "no partitions"
                raise StreamError(f"topic {topic!r} was not created on the mock cluster: {why}")
            time.sleep(0.05)

    def close(self) -> None:
        """End the cluster (its brokers stop; connected clients see transport errors)."""
        client, self._client = self._client, None
        if client is not None:
            close = getattr(client, "close", None)
            if close is not None:
                close()
            del client

    def __enter__(self) -> "MockCluster":
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()


def mock_cluster(num_brokers: int = 1) -> MockCluster:
    """Start librdkafka's in-process mock cluster with ``num_brokers`` brokers; its
    ``bootstrap`` is the list to give to clients, in this process or others."""
    return MockCluster(num_brokers)

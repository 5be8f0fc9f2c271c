"""wabbit.stream: records in order, positions/seek/commit giving exactly-once resume, lag and
errors, for files, stdin and Kafka (librdkafka's in-process mock cluster: no broker to install,
nothing beyond 127.0.0.1)."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
import threading
import time
from typing import Dict, List

import pytest

from wabbit.stream import FileSource, Record, StdinSource, StreamError
from wabbit.stream import files as files_module
from wabbit.stream import source as source_module

# where the wabbit being tested is, for the subprocesses
PYTHON_PATH = os.pathsep.join(
    [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(files_module.__file__))))]
    + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)


def drain(src, want: int, *, max_records: int = 1000, deadline: float = 15.0) -> List[Record]:
    """Poll until ``want`` records came (or the deadline passed)."""
    out: List[Record] = []
    end = time.monotonic() + deadline
    while len(out) < want and time.monotonic() < end:
        out += src.poll(min(max_records, want - len(out)), timeout=0.2)
    return out


def write(path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


@pytest.mark.parametrize("module", [source_module, files_module])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_kafka_docstring_examples():
    pytest.importorskip("confluent_kafka")
    from wabbit.stream import kafka

    result = doctest.testmod(kafka, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------------- files
def test_file_lines_in_order_with_byte_offsets(tmp_path):
    path = tmp_path / "a.txt"
    lines = [f"{i % 2} |f x{i}".encode() * (1 + i % 3) for i in range(50)] + [b"", b"last"]
    write(path, b"\n".join(lines) + b"\n")
    with FileSource(path) as src:
        got = drain(src, len(lines), max_records=7)
        assert src.poll(10, timeout=0) == []
    assert [r.value for r in got] == lines
    data = path.read_bytes()
    for r in got:  # the offset is where the line starts in the file
        assert data[r.offset : r.offset + len(r.value) + 1] == r.value + b"\n"
        assert r.partition == str(path) and r.key is None
    assert src.positions() == {str(path): len(data)}


def test_file_crlf_and_small_chunks(tmp_path):
    path = tmp_path / "crlf.txt"
    write(path, b"1 |f a\r\n\r\n0 |f bbbbbbbbbbbbbbbbbbbbbbbbb\r\n")
    with FileSource(path, chunk_size=3) as src:
        assert [r.value for r in src.poll(10, timeout=0)] == [b"1 |f a", b"", b"0 |f bbbbbbbbbbbbbbbbbbbbbbbbb"]


def test_file_partial_line_waits_for_its_newline(tmp_path):
    path = tmp_path / "p.txt"
    write(path, b"one\ntw")
    with FileSource(path) as src:
        assert [r.value for r in src.poll(10, timeout=0)] == [b"one"]
        started = time.monotonic()
        assert src.poll(10, timeout=0.2) == []
        assert time.monotonic() - started >= 0.15  # it waited, bounded by the timeout
        assert src.positions() == {str(path): 4}
        write(path, b"o\nthree")
        assert [(r.value, r.offset) for r in src.poll(10, timeout=0)] == [(b"two", 4)]


def test_file_exactly_once_resume(tmp_path):
    path = tmp_path / "e.txt"
    lines = [f"{i} |f a{i}".encode() for i in range(101)]
    write(path, b"\n".join(lines) + b"\n")
    with FileSource(path) as first:
        head = first.poll(40, timeout=0)
        saved = first.positions()
    with FileSource(path) as second:
        second.seek(saved)
        tail = drain(second, len(lines) - len(head))
        assert second.poll(10, timeout=0) == []
    assert [r.value for r in head + tail] == lines


def test_file_many_restarts_learn_each_line_once(tmp_path):
    """A reader stopped at random points and resumed from its positions each time, while the file
    grows between runs: every line exactly once, in order."""
    import random

    rng = random.Random(7)
    path = tmp_path / "r.txt"
    lines = [f"{i} |f a{i}".encode() for i in range(2000)]
    data = b"".join(x + b"\n" for x in lines)
    written = 0  # bytes of data in the file; a run often ends in the middle of a line
    checkpoint: Dict[str, int] = {}
    got: List[bytes] = []
    for _ in range(25):
        more = rng.randrange(0, 3000)
        write(path, data[written : written + more])
        written += more
        src = FileSource(path)
        src.seek(checkpoint)
        got += [r.value for r in src.poll(rng.randrange(1, 200), timeout=0)]
        checkpoint = src.positions()
        src.close()
    write(path, data[written:])
    with FileSource(path) as src:
        src.seek(checkpoint)
        got += [r.value for r in drain(src, len(lines) - len(got))]
    assert got == lines


def test_file_growing_while_read(tmp_path):
    path = tmp_path / "g.txt"
    write(path, b"")
    lines = [f"{i} |f a{i}".encode() for i in range(300)]

    def writer() -> None:
        with open(path, "ab") as f:
            for i, line in enumerate(lines):
                # half-lines on purpose: the reader must wait for the newline
                f.write(line[:3])
                f.flush()
                f.write(line[3:] + b"\n")
                f.flush()
                if i % 50 == 0:
                    time.sleep(0.01)

    t = threading.Thread(target=writer)
    with FileSource(path, interval=0.005) as src:
        t.start()
        got = drain(src, len(lines), max_records=64)
        t.join()
        # a restart from the middle gets the same tail
        middle = got[150].offset
        again = FileSource(path)
        again.seek({str(path): middle})
        tail = drain(again, 150)
        again.close()
    assert [r.value for r in got] == lines
    assert [r.value for r in tail] == lines[150:]


def test_folder_in_name_order_and_new_files(tmp_path):
    write(tmp_path / "b.txt", b"b0\nb1\n")
    write(tmp_path / "a.txt", b"a0\n")
    write(tmp_path / ".tmp-c", b"hidden\n")  # a writer's temporary file: not followed
    (tmp_path / "sub").mkdir()
    with FileSource(tmp_path) as src:
        assert [r.value for r in src.poll(10, timeout=0)] == [b"a0", b"b0", b"b1"]
        write(tmp_path / "c.txt", b"c0\nc1\n")
        write(tmp_path / "a.txt", b"a1\n")
        assert [r.value for r in src.poll(10, timeout=0)] == [b"a1", b"c0", b"c1"]
        half = src.poll(1, timeout=0)
        assert half == []
        write(tmp_path / "d.txt", b"d0\nd1\n")
        assert [r.value for r in src.poll(1, timeout=0)] == [b"d0"]
        saved = src.positions()
    assert saved == {str(tmp_path / n): s for n, s in [("a.txt", 6), ("b.txt", 6), ("c.txt", 6), ("d.txt", 3)]}
    write(tmp_path / "e.txt", b"e0\n")
    with FileSource(tmp_path) as again:
        again.seek(saved)
        assert [r.value for r in again.poll(10, timeout=0)] == [b"d1", b"e0"]


def test_folder_seek_to_a_file_not_there_yet(tmp_path):
    with FileSource(tmp_path) as src:
        src.seek({str(tmp_path / "later.txt"): 0})
        assert src.positions() == {str(tmp_path / "later.txt"): 0}
        assert src.poll(5, timeout=0) == []
        write(tmp_path / "later.txt", b"x\n")
        assert [r.value for r in src.poll(5, timeout=0)] == [b"x"]


def test_file_rotation_reads_old_rest_then_new(tmp_path):
    path = tmp_path / "app.log"
    write(path, b"1\n2\n")
    with FileSource(path) as src:
        assert [r.value for r in src.poll(10, timeout=0)] == [b"1", b"2"]
        write(path, b"3\n")
        os.rename(path, tmp_path / "app.log.1")
        write(path, b"4\n5\n")
        assert [r.value for r in src.poll(10, timeout=0)] == [b"3", b"4", b"5"]
        assert src.rotations == 1 and src.truncations == 0
        assert src.positions() == {str(path): 4}


def test_file_truncation_restarts_at_zero(tmp_path):
    path = tmp_path / "t.log"
    write(path, b"one\ntwo\nthree\n")
    with FileSource(path) as src:
        assert len(src.poll(10, timeout=0)) == 3
        with open(path, "wb") as f:
            f.write(b"new\n")
        assert [r.value for r in src.poll(10, timeout=0)] == [b"new"]
        assert src.truncations == 1


def test_file_lag_counts_unread_lines(tmp_path):
    path = tmp_path / "l.txt"
    write(path, b"a\nb\nc\nd\npartial")
    with FileSource(path) as src:
        assert src.lag() == 4
        src.poll(3, timeout=0)
        assert src.lag() == 1


def test_file_errors(tmp_path):
    with pytest.raises(StreamError, match="no such file"):
        FileSource(tmp_path / "missing.txt")
    path = tmp_path / "f.txt"
    write(path, b"abc\ndef\n")
    src = FileSource(path)
    with pytest.raises(StreamError, match="not the start of a line"):
        src.seek({str(path): 2})
    with pytest.raises(StreamError, match="not that file"):
        src.seek({str(tmp_path / "other.txt"): 0})
    with pytest.raises(ValueError, match="offset"):
        src.seek({str(path): -1})
    with pytest.raises(ValueError, match="max_records"):
        src.poll(0)
    src.close()
    with pytest.raises(StreamError, match="closed"):
        src.poll(1, timeout=0)
    with FileSource(tmp_path) as folder, pytest.raises(StreamError, match="not a file of the followed folder"):
        folder.seek({"/elsewhere/x.txt": 0})


# ---------------------------------------------------------------------------------------- stdin
def test_stdin_lines_positions_and_forward_seek():
    r, w = os.pipe()
    try:
        src = StdinSource(r)
        os.write(w, b"l0\nl1\nl")
        assert [(x.value, x.offset) for x in src.poll(10, timeout=1)] == [(b"l0", 0), (b"l1", 1)]
        started = time.monotonic()
        assert src.poll(10, timeout=0.1) == []  # a partial line and no more input: waits, bounded
        assert time.monotonic() - started < 2
        assert src.positions() == {"<stdin>": 2}
        with pytest.raises(StreamError, match="cannot go back"):
            src.seek({"<stdin>": 1})
        src.seek({"<stdin>": 4})  # forward: l2 and l3 are dropped as they come
        os.write(w, b"2\nl3\nl4\nl5")
        os.close(w)
        w = -1
        got = drain(src, 2)
        assert [(x.value, x.offset) for x in got] == [(b"l4", 4), (b"l5", 5)]  # the last line at EOF
        assert src.eof and src.poll(5, timeout=5) == [] and src.positions() == {"<stdin>": 6}
        with pytest.raises(StreamError, match="one partition"):
            src.seek({"stdin": 9})
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_stdin_of_a_process():
    code = (
        "from wabbit.stream import StdinSource\n"
        "s = StdinSource()\n"
        "s.seek({'<stdin>': 1})\n"
        "out = []\n"
        "while not s.eof:\n"
        "    out += s.poll(100, timeout=5)\n"
        "print([r.value.decode() for r in out], s.positions())\n"
    )
    env = dict(os.environ, PYTHONPATH=PYTHON_PATH)
    r = subprocess.run([sys.executable, "-c", code], input=b"a\nb\nc\n", capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().strip() == "['b', 'c'] {'<stdin>': 3}"


# ---------------------------------------------------------------------------------------- kafka
def test_missing_client_names_the_extra(monkeypatch):
    from wabbit.stream import kafka

    monkeypatch.setitem(sys.modules, "confluent_kafka", None)  # import fails as if not installed
    with pytest.raises(StreamError, match=r'pip install "wabbit\[kafka\]"'):
        kafka.KafkaSource("127.0.0.1:9", "t", "g")
    with pytest.raises(StreamError, match=r'pip install "wabbit\[kafka\]"'):
        kafka.mock_cluster()


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("confluent_kafka")
    from wabbit.stream import mock_cluster

    c = mock_cluster(num_brokers=3)
    yield c
    c.close()


def produce_in_subprocess(bootstrap: str, topic: str, n: int) -> None:
    """Another process connects to the in-process mock cluster and produces ``n`` lines, i -> "m{i}",
    spread over 4 partitions, through KafkaSink."""
    code = (
        "import sys\n"
        "from wabbit.stream import KafkaSink\n"
        "with KafkaSink(sys.argv[1], sys.argv[2]) as sink:\n"
        "    for i in range(int(sys.argv[3])):\n"
        "        sink.send(f'm{i}', key=str(i), partition=i % 4)\n"
        "print(sink.delivered)\n"
    )
    env = dict(os.environ, PYTHONPATH=PYTHON_PATH)
    r = subprocess.run(
        [sys.executable, "-c", code, bootstrap, topic, str(n)], capture_output=True, timeout=60, env=env, text=True
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(n)


def by_partition(records: List[Record]) -> Dict[str, List[int]]:
    out: Dict[str, List[int]] = {}
    for r in records:
        out.setdefault(r.partition, []).append(r.offset)
    return out


# The mock's coordinator lets a new member of a group in only after a departed member's session
# timed out (45 s by default): short sessions keep these tests quick.
GROUP_CONFIG = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def test_kafka_exactly_once_resume_across_sources(cluster):
    from wabbit.stream import KafkaSource

    n = 200
    produce_in_subprocess(cluster.bootstrap, "events", n)  # the topic is auto-created, 4 partitions
    want = {f"m{i}".encode() for i in range(n)}

    first = KafkaSource(cluster.bootstrap, "events", "trainer", config=GROUP_CONFIG)
    head = drain(first, 30, max_records=30)
    durable = first.positions()  # a version saved with these positions, then committed
    first.commit(durable)
    assert first.committed() == durable
    head += drain(first, 60, max_records=30)
    assert len(head) == 90
    assert first.lag() == n - len(head)
    checkpoint = first.positions()  # the next version was saved, then the trainer died before committing
    first.close()
    for offsets in by_partition(head).values():  # in order within a partition, from its start
        assert offsets == list(range(len(offsets)))
    for r in head:
        p = int(r.partition.split("/")[1])
        assert int(r.key) % 4 == p and r.value == f"m{int(r.key)}".encode()
        assert abs(r.timestamp - time.time()) < 120

    # resume from the checkpoint, ahead of the group's committed offsets: the rest, nothing twice, nothing skipped
    second = KafkaSource(cluster.bootstrap, "events", "trainer", positions=checkpoint, config=GROUP_CONFIG)
    tail = drain(second, n - len(head))
    assert second.poll(10, timeout=0.3) == []
    assert second.lag() == 0
    values = [r.value for r in head + tail]
    assert len(values) == n and set(values) == want
    for part, offsets in by_partition(tail).items():
        assert offsets[0] == checkpoint.get(part, 0)
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))

    # seek back while assigned: the same records again from the checkpoint's partitions (the others
    # keep their positions: at their ends)
    second.seek(checkpoint)
    replayed = sorted((r.partition, r.offset) for r in tail if r.partition in checkpoint)
    again = drain(second, len(replayed))
    assert second.poll(10, timeout=0.3) == []
    assert sorted((r.partition, r.offset) for r in again) == replayed
    second.close()

    # no checkpoint given: a member starts at the group's committed offsets
    third = KafkaSource(cluster.bootstrap, ["events"], "trainer", config=GROUP_CONFIG)
    from_committed = drain(third, n - 30)
    assert third.poll(10, timeout=0.3) == []
    third.close()
    assert sorted(r.value for r in from_committed) == sorted(r.value for r in head[30:] + tail)


def test_kafka_poll_returns_what_is_there_without_waiting_for_a_full_batch(cluster):
    from wabbit.stream import KafkaSource

    produce_in_subprocess(cluster.bootstrap, "some", 40)
    src = KafkaSource(cluster.bootstrap, "some", "poller", config=GROUP_CONFIG)
    got = drain(src, 40)
    assert len(got) == 40
    produce_in_subprocess(cluster.bootstrap, "some", 12)  # 12 more, while 5000 are asked for
    deadline = time.monotonic() + 30
    more: List[Record] = []
    waited = []
    while len(more) < 12 and time.monotonic() < deadline:
        t0 = time.monotonic()
        batch = src.poll(5000, timeout=5.0)
        waited.append((time.monotonic() - t0, len(batch)))
        more += batch
    src.close()
    assert len(more) == 12
    # a poll that found records returned as soon as they were there, not after its 5 s timeout
    assert all(seconds < 4.0 for seconds, n in waited if n > 0), waited


def test_kafka_mock_cluster_claims(cluster):
    ck = pytest.importorskip("confluent_kafka")
    from wabbit.stream import KafkaSink

    assert len(cluster.bootstrap.split(",")) == 3
    assert all(b.startswith("127.0.0.1:") for b in cluster.bootstrap.split(","))
    # auto-created on first produce, with the mock's 4 partitions
    with KafkaSink(cluster.bootstrap, "fresh") as sink:
        sink.send(b"x")
    md = ck.Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "md"}).list_topics("fresh", timeout=5)
    assert md.topics["fresh"].error is None and len(md.topics["fresh"].partitions) == 4
    assert cluster.create_topic("made") == 4
    # AdminClient.create_topics times out against the mock
    admin = ck.admin.AdminClient({"bootstrap.servers": cluster.bootstrap})
    future = admin.create_topics([ck.admin.NewTopic("by-admin", 2, 1)], operation_timeout=1, request_timeout=1)[
        "by-admin"
    ]
    with pytest.raises(ck.KafkaException) as e:
        future.result(timeout=10)
    assert e.value.args[0].code() == ck.KafkaError._TIMED_OUT


def test_kafka_cluster_ends_with_close():
    ck = pytest.importorskip("confluent_kafka")
    from wabbit.stream import mock_cluster

    with mock_cluster() as c:
        probe = ck.Consumer({"bootstrap.servers": c.bootstrap, "group.id": "probe", "logger": files_module._log})
        assert probe.list_topics(timeout=5).brokers
    with pytest.raises(ck.KafkaException):
        probe.list_topics(timeout=1)
    probe.close()
    assert "closed" in repr(c)


def test_kafka_errors(cluster):
    pytest.importorskip("confluent_kafka")
    from wabbit.stream import KafkaSink, KafkaSource

    with pytest.raises(StreamError, match="topic 'no-such-topic' is not available"):
        KafkaSource(cluster.bootstrap, "no-such-topic", "g", timeout=3)
    started = time.monotonic()
    with pytest.raises(StreamError, match="cannot reach the Kafka brokers at '127.0.0.1:1'"):
        KafkaSource("127.0.0.1:1", "events", "g", timeout=1)
    assert time.monotonic() - started < 10
    sink = KafkaSink("127.0.0.1:1", "t", config={"message.timeout.ms": 300})
    sink.send("never delivered")
    with pytest.raises(StreamError, match="failed"):
        sink.close(timeout=5)
    with KafkaSink(cluster.bootstrap, "labels") as sink:
        for i in range(8):
            sink.send(f"label {i}", partition=i % 2)
    cluster.create_topic("errs")
    # several topics in one source (examples and labels): partitions named topic/number, each in order
    src = KafkaSource(cluster.bootstrap, ["errs", "labels"], "g-errs", config=GROUP_CONFIG)
    got = drain(src, 8)
    assert sorted(r.value for r in got) == [f"label {i}".encode() for i in range(8)]
    assert by_partition(got) == {"labels/0": [0, 1, 2, 3], "labels/1": [0, 1, 2, 3]}
    assert src.positions() == {"labels/0": 4, "labels/1": 4}
    assert src.lag() == 0 and len(src.assignment()) == 8
    with pytest.raises(StreamError, match="not a Kafka partition name"):
        src.seek({"errs": 1})
    with pytest.raises(ValueError):
        src.poll(0)
    src.close()
    with pytest.raises(StreamError, match="closed"):
        src.poll(1, timeout=0)
    with pytest.raises(StreamError, match="closed"):
        src.commit({"labels/0": 4})
    assert src.lag() is None and src.positions() == {"labels/0": 4, "labels/1": 4}

"""Faulty clients against the serving engine (issue 16, "Faults"): the server keeps answering the
others, nothing is learned from a cut-off line, and kill -9 during a save leaves a loadable file.

Every server binds 127.0.0.1 with port 0; every socket and loop is bounded by a timeout.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import List

import pytest

wabbit = pytest.importorskip("wabbit")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import serve_helpers as sh  # noqa: E402

pytestmark = pytest.mark.skipif(not sh.has_server(), reason="the compiled module has no _core.Server yet")


def trained_model() -> "wabbit.Model":
    m = wabbit.Model("")
    for i in range(200):
        m.learn({"u": {f"u{i % 97}": 1.0}, "i": {f"i{i % 31}": 1.0}}, float(i % 2))
    return m


def ask(port: int, n: int, tag: str, timeout: float = 10.0) -> float:
    """Sends ``n`` unlabelled lines on a new connection and checks every reply (order, tag, finite
    number); returns the slowest round trip in seconds."""
    worst = 0.0
    with sh.connect(port, timeout) as s:
        r = sh.LineReader(s)
        for i in range(n):
            t0 = time.monotonic()
            s.sendall(sh.probe_line(i, f"{tag}{i}"))
            line = r.line(timeout)
            worst = max(worst, time.monotonic() - t0)
            assert line is not None
            value, got_tag = sh.parse_reply(line)
            assert got_tag == f"{tag}{i}"
    return worst


def test_line_over_the_limit_gets_an_error_and_a_close_while_others_are_answered() -> None:
    with sh.serving(trained_model(), threads=1, max_line_bytes=4096) as srv:
        good = sh.connect(srv.port)
        good_reader = sh.LineReader(good)
        good.sendall(sh.probe_line(0, "before"))
        assert sh.parse_reply(good_reader.line())[1] == "before"

        bad = sh.connect(srv.port)
        bad.sendall(b"'ok |u a\n")  # a normal line first: it is answered before the error
        try:
            bad.sendall(b"|u " + b"x" * 20000)  # no newline, five times the limit
        except (BrokenPipeError, ConnectionResetError):
            pass
        replies = sh.LineReader(bad).until_closed(timeout=10)
        assert replies, "the connection with an over-long line got no reply at all"
        assert sh.parse_reply(replies[0])[1] == "ok"
        assert replies[-1].startswith(b"error"), replies
        assert len(replies) == 2, replies  # one reply for the line, one error, then the close
        bad.close()

        for i in range(20):  # the other connection is still served
            good.sendall(sh.probe_line(i, f"after{i}"))
        got = good_reader.lines(20)
        assert [sh.parse_reply(x)[1] for x in got] == [f"after{i}" for i in range(20)]
        good.close()
        assert srv.stats()["lines_too_long"] == 1
        assert srv.running


def test_silent_half_closed_and_non_reading_clients_hold_up_nobody() -> None:
    with sh.serving(trained_model(), threads=1, learn=False) as srv:
        quiet_worst = ask(srv.port, 50, "q")

        silent = sh.connect(srv.port)  # connects and says nothing

        half = sh.connect(srv.port)  # sends lines, closes its side, reads the replies later
        half.sendall(b"".join(sh.probe_line(i, f"h{i}") for i in range(300)))
        half.shutdown(socket.SHUT_WR)

        # never reads: its replies fill the server's output buffer and its socket buffers
        hog = sh.connect(srv.port)
        hog.setblocking(False)
        chunk = b"".join(sh.probe_line(i, f"g{i}") for i in range(2000))
        sent = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                sent += hog.send(chunk)
            except BlockingIOError:
                break  # its send buffer is full: the server stopped reading it
        assert sent > 0

        busy_worst = ask(srv.port, 200, "b")
        # bounded: the others are answered right away (a generous bound for a shared machine)
        assert busy_worst < max(1.0, 20 * quiet_worst), (quiet_worst, busy_worst)

        got = sh.LineReader(half).until_closed(timeout=10)
        assert [sh.parse_reply(x)[1] for x in got] == [f"h{i}" for i in range(300)]
        for s in (silent, half, hog):
            s.close()
        assert srv.running
        assert sh.wait_for(lambda: srv.stats()["connections_open"] == 0, timeout=10)


def test_random_bytes_get_error_replies_never_a_crash() -> None:
    rng = random.Random(1616)
    with sh.serving(trained_model(), threads=2, learn=True) as srv:
        for round_ in range(6):
            with sh.connect(srv.port) as s:
                junk = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1000, 40000)))
                s.sendall(junk + b"\n'sync |u a\n")
                r = sh.LineReader(s)
                replies: List[bytes] = []
                deadline = time.monotonic() + 20
                while True:
                    line = r.line(max(0.01, deadline - time.monotonic()))
                    assert line is not None, f"round {round_}: closed before the sync reply; {replies[-3:]}"
                    if line.endswith(b" sync"):
                        break
                    replies.append(line)
                # at most one reply per newline in the junk, each an error or a prediction
                assert len(replies) <= junk.count(b"\n") + 1
                for line in replies:
                    if not line.startswith(b"error"):
                        sh.parse_reply(line)
            ask(srv.port, 5, f"r{round_}_")  # still answering
        st = srv.stats()
        assert st["requests"]["predict_error"] + st["requests"]["learn_error"] > 0  # junk was rejected
        assert srv.running


def test_a_line_cut_off_by_the_close_is_not_learned() -> None:
    with sh.serving(trained_model(), threads=1, learn=True) as srv:
        assert srv.stats()["examples_learned"] == 0
        with sh.connect(srv.port) as s:
            s.sendall(b"1 'whole |u a b\n")
            assert sh.parse_reply(sh.LineReader(s).line())[1] == "whole"
            s.sendall(b"1 'cut |u c d")  # a labelled line, no newline: then the close
        with sh.connect(srv.port) as s:  # the same, but the cut line comes in several pieces
            for piece in (b"0 ", b"'cut2 |u", b" e f:2"):
                s.sendall(piece)
                time.sleep(0.02)
        with sh.connect(srv.port) as s:  # whole lines sent just before the close are answered/learned
            s.sendall(b"1 'w2 |u g\n0 'w3 |u h\n1 'cut3 |u i")
        assert sh.wait_for(lambda: srv.stats()["connections_open"] == 0, timeout=10)
        assert sh.wait_for(lambda: srv.stats()["examples_learned"] >= 3, timeout=5)
        time.sleep(0.1)
        st = srv.stats()
        assert st["examples_learned"] == 3, st  # 'whole', 'w2', 'w3'; never a cut line
        assert st["requests"]["learn_ok"] == 3


CHILD = r"""
import sys, time
import wabbit
from wabbit import _core, persistence

path = sys.argv[1]
m = wabbit.Model("-b 24")
for i in range(400):
    m.learn({"f": {"x%d" % j: 1.0 for j in range(i * 100, i * 100 + 100)}}, float(i % 2))
srv = _core.Server(m.core, {"listen": "127.0.0.1", "port": 0, "save_path": path, "threads": 2},
                   wabbit.__version__, m.args, persistence.metadata_json(m))
srv.start()
srv.save()
print(srv.port, flush=True)
time.sleep(120)
"""


class SaveLoop(threading.Thread):
    """A client that learns one new line, then asks for a save, again and again (request by
    request), until the server dies or ``stop`` is set."""

    def __init__(self, port: int, prefix: str) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.prefix = prefix
        self.stop = threading.Event()
        self.outstanding = threading.Event()  # a save was asked for and not yet answered
        self.learned: List[str] = []
        self.saves_done = 0
        self.bad: List[bytes] = []

    def run(self) -> None:
        try:
            with sh.connect(self.port, timeout=30) as s:
                r = sh.LineReader(s)
                i = 0
                while not self.stop.is_set():
                    # something new to learn, then a save: each save differs from the last
                    line = f"{i % 2} |f {self.prefix}{i} x5"
                    self.learned.append(line)
                    s.sendall(line.encode() + b"\n")
                    r.line(30)
                    self.outstanding.set()
                    s.sendall(b"'save\n")
                    reply = r.line(30)
                    self.outstanding.clear()
                    if reply is None:
                        return
                    if reply != b"0 save":
                        self.bad.append(reply)
                    self.saves_done += 1
                    i += 1
        except (OSError, TimeoutError):
            return  # the server was killed


def test_kill_9_during_a_save_leaves_the_previous_file_loadable(tmp_path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    model_path = tmp_path / "served.model"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [os.path.dirname(os.path.dirname(wabbit.__file__)), env.get("PYTHONPATH", "")] if p
    )
    rng = random.Random(99)
    killed_mid_save = 0
    probe = {"f": {"x5": 1.0, "x123": 1.0}}
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(model_path)], stdout=subprocess.PIPE, env=env)
        try:
            assert proc.stdout is not None
            port_line = proc.stdout.readline()
            assert port_line.strip().isdigit(), port_line
            port = int(port_line)
            first_path = tmp_path / f"first{round_}.model"
            first_path.write_bytes(model_path.read_bytes())
            before = wabbit.load(str(first_path)).predict(probe)

            t = SaveLoop(port, f"y{round_}_")
            t.start()
            time.sleep(rng.uniform(0.1, 1.5))
            mid = t.outstanding.is_set()
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            t.stop.set()
            t.join(timeout=30)
            assert not t.is_alive()
            assert t.bad == [], t.bad
            killed_mid_save += int(mid)
            learned, saves_done = t.learned, t.saves_done

            # The file is whole: it loads, and it is the first save or one of the later complete ones.
            # A save is the model after some prefix of the learned lines: replay them on the first file.
            after = wabbit.load(str(model_path)).predict(probe)
            replay = wabbit.load(str(first_path))
            candidates = [replay.predict(probe)]
            for line in learned:
                replay.learn(line)
                candidates.append(replay.predict(probe))
            assert candidates[0] == before
            assert any(abs(after - c) <= 1e-6 * max(1.0, abs(c)) for c in candidates), (after, candidates)
            # at least the saves the client saw answered are in it
            assert any(abs(after - c) <= 1e-6 * max(1.0, abs(c)) for c in candidates[saves_done:])
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
    assert killed_mid_save >= 1  # at least one kill landed while a save was under way


def test_stop_answers_every_whole_line_already_sent_then_saves(tmp_path) -> None:
    """What SIGTERM does in the daemon: stop(save=True) answers the whole lines each connection
    has sent (not a cut-off last line), closes, and writes the model to save_path."""
    path = tmp_path / "final.model"
    srv = sh.make_server(trained_model(), threads=2, learn=True, save_path=str(path))
    try:
        conns = [sh.connect(srv.port) for _ in range(3)]
        n = 400
        for c, s in enumerate(conns):
            lines = b"".join(
                (f"{i % 2} 'c{c}r{i} |u u{i % 13}\n" if i % 4 == 0 else f"'c{c}r{i} |u u{i % 13}\n").encode()
                for i in range(n)
            )
            s.sendall(lines + b"1 'cut |u u1")  # and a cut-off labelled line
        # the bytes are in the server's socket buffers once the first reply of each has come
        readers = [sh.LineReader(s) for s in conns]
        firsts = [r.line() for r in readers]
        # stop() sends each peer its replies and a FIN, then waits (a while) for the peer to close
        stopper = threading.Thread(target=srv.stop, kwargs={"save": True}, daemon=True)
        stopper.start()
        for c, (first, r) in enumerate(zip(firsts, readers)):
            got = [first] + r.until_closed(timeout=10)
            conns[c].close()
            assert [sh.parse_reply(x)[1] for x in got] == [f"c{c}r{i}" for i in range(n)]
        stopper.join(timeout=30)
        assert not stopper.is_alive()
        assert not srv.running
        st = srv.stats()
        assert st["examples_learned"] == 3 * (n // 4)  # every labelled whole line, not the cut ones
    finally:
        srv.stop()
        for s in conns:
            s.close()
    saved = wabbit.load(str(path))
    assert saved.predict({"u": {"u0": 1.0}}) == saved.predict({"u": {"u0": 1.0}})  # loads and predicts
    assert saved.core.state()["t"] > 0


def test_stop_in_the_middle_of_a_stream_delivers_every_reply_it_computed() -> None:
    """Clients stream lines (and read their replies slowly) while stop() comes: each connection gets
    an unbroken prefix of its replies, ending at a line boundary, then the close (not a reset); every
    line the server processed was answered, and the labelled ones among them are what was learned."""
    srv = sh.make_server(trained_model(), threads=2, learn=True)
    n = 300_000
    results: dict = {}
    blobs = {
        c: b"".join(
            (f"1 'c{c}r{i} |u u{i % 13}\n" if i % 10 == 0 else f"'c{c}r{i} |u u{i % 13}\n").encode() for i in range(n)
        )
        for c in range(2)
    }

    def client(c: int) -> None:
        s = sh.connect(srv.port, timeout=20)

        def send() -> None:
            try:
                s.sendall(blobs[c])
            except OSError:
                pass  # the server stopped reading and closed

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        data, reset = b"", False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                reset = True
                break
            if not got:
                break
            data += got
            time.sleep(0.002)  # a slow reader: replies wait in the socket buffers
        results[c] = (data, reset)
        sender.join(timeout=30)
        s.close()

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(2)]
    try:
        for t in threads:
            t.start()
        assert sh.wait_for(lambda: srv.stats()["requests"]["predict_ok"] > 50_000, timeout=20)
        srv.stop()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
    finally:
        srv.stop()
    answered = learned = 0
    for c in range(2):
        data, reset = results[c]
        newline = b"\n"
        assert not reset, f"connection {c} was reset after {data.count(newline)} replies"
        assert data == b"" or data.endswith(b"\n"), data[-40:]  # no reply cut in the middle
        tags = [sh.parse_reply(x)[1] for x in data.split(b"\n")[:-1]]
        assert tags == [f"c{c}r{i}" for i in range(len(tags))]  # in order, none lost or doubled
        answered += len(tags)
        learned += sum(1 for i in range(len(tags)) if i % 10 == 0)
    st = srv.stats()
    assert st["requests"]["predict_ok"] + st["requests"]["learn_ok"] == answered  # every computed reply arrived
    assert st["examples_learned"] == learned

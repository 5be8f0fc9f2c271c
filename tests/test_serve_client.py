"""The line protocol in process: wabbit.serve.serve() answered by wabbit.serve.Client and raw sockets,
compared with ``wabbit -p`` over the same lines (VW's protocol: one reply per line, in order)."""

from __future__ import annotations

import doctest
import importlib
import socket
import threading

import pytest

import cbdata
import wabbit as wb
from servekit import exchange, predictions_of, regression_lines, wabbit
from wabbit.serve import Client, ServerError, serve
from wabbit.serve.text import example_line


# ---------------------------------------------------------------- the client alone, on a fake server
class FakeServer:
    """Answers each line it reads with the next canned reply (a bandit event: at its blank line)."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.lines = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        conn, _ = self.sock.accept()
        with conn, conn.makefile("rb") as f:
            for raw in f:
                self.lines.append(raw.decode().rstrip("\n"))
                if self.replies:
                    conn.sendall(self.replies.pop(0).encode())

    def close(self):
        self.sock.close()
        self.thread.join(5)


def test_the_client_parses_replies_and_raises_on_error_lines():
    fake = FakeServer(["0.5 tag\n", "error: line 1: bad label\n", "0.25\n", "", "", "1:0.9,0:0.1\n\n", "0 save_m\n"])
    try:
        with Client(port=fake.port, timeout=5) as c:
            assert c.predict("'tag |f a") == 0.5
            with pytest.raises(ServerError, match="bad label"):
                c.learn("x |f a")
            assert c.learn({"f": {"a": 2.0}, "g": ["b"]}, label=1, weight=0.5) == 0.25  # still aligned
            assert c.rank({"u": ["x"]}, [{"a": ["p"]}, {"a": ["q"]}]) == ([1, 0], [0.9, 0.1])
            assert c.save("m") == "save_m"
    finally:
        fake.close()
    assert fake.lines == [
        "'tag |f a",
        "x |f a",
        "1 0.5 |f a:2 |g b",
        "shared |u x",
        "|a p",
        "|a q",
        "",
        "save_m",
    ]


@pytest.mark.parametrize(
    "example, message",
    [
        ({"f": {"a b": 1}}, "' '"),
        ({"f|g": {"a": 1}}, "'|'"),
        ({"f": {"a:1": 1}}, "':'"),
        ({"f": {"a": float("nan")}}, "finite"),
        ("|f a\n|f b", "newline"),
    ],
)
def test_names_text_cannot_carry_are_refused_before_sending(example, message):
    with pytest.raises(ValueError, match=message):
        example_line(example)


# ---------------------------------------------------------------- the engine, in process
def test_learning_replies_equal_wabbit_p(tmp_path):
    lines = regression_lines(300)
    expected = predictions_of(["-q", "ua"], tmp_path, lines)
    with serve(wb.Model("-q ua"), port=0, threads=2) as server:
        got = exchange(server.port, "".join(line + "\n" for line in lines))
    assert got == expected  # same numbers, same tags, same order


def test_save_writes_a_model_that_predicts_as_the_served_one(tmp_path):
    lines = regression_lines(200)
    probes = [line.split("|", 1)[1] for line in regression_lines(20, seed=9)]
    probes = ["|" + p for p in probes]
    saved = tmp_path / "saved.model"
    with serve(wb.Model(), port=0, threads=1) as server, Client(port=server.port) as c:
        c.predict_many(lines)  # labelled: learned
        assert c.save(saved) == f"save_{saved}"
        served = exchange(server.port, "".join(p + "\n" for p in probes))
        c.save(tmp_path / "again.model")
    assert saved.exists()
    assert predictions_of(["-t", "-i", saved], tmp_path, probes) == served
    # and the file is a normal model file: wabbit.load reads it
    assert wb.load(saved).predict(probes[0]) == pytest.approx(float(served.split()[0]), abs=1e-6)


def test_a_malformed_line_gets_one_error_reply_and_nothing_is_learned(tmp_path):
    good = ["1 |f a b", "2 |f b c", "-1 |f a c"]
    sent = [good[0], "abc |f a", good[1], "1 2 3 4 5 |f a", good[2]]
    with serve(wb.Model(), port=0, threads=1) as server:
        got = exchange(server.port, "".join(line + "\n" for line in sent)).splitlines()
    assert len(got) == len(sent)
    assert got[1].startswith("error") and "abc" in got[1]
    assert got[3].startswith("error") and "too many tokens" in got[3]
    expected = predictions_of([], tmp_path, good).splitlines()
    assert [got[0], got[2], got[4]] == expected


def test_a_closed_connection_does_not_decay_the_learning_rate(tmp_path):
    lines = regression_lines(60, seed=11)
    expected = predictions_of([], tmp_path, lines).splitlines()  # one pass, one stream
    replies = []
    with serve(wb.Model(), port=0, threads=1) as server:
        for line in lines:  # a connection per example: connect, learn, disconnect
            replies.append(exchange(server.port, line + "\n").rstrip("\n"))
        assert server.stats()["connections_total"] == len(lines)
    assert replies == expected


def test_bandit_events_over_the_wire_equal_wabbit_p(tmp_path):
    events = cbdata.events(60, actions=4, seed=3)
    text = "\n".join(events) + "\n"
    flags = ["--cb_explore_adf", "--epsilon", "0.2", "-q", "ua"]
    (tmp_path / "cb.txt").write_text(text)
    proc = wabbit([*flags, "-d", "cb.txt", "-p", "cb.pred", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    with serve(wb.Model(" ".join(flags)), port=0, threads=1) as server:
        got = exchange(server.port, text)
    assert got == (tmp_path / "cb.pred").read_text()


def test_client_rank_is_the_event_reply(tmp_path):
    m = wb.Model("--cb_explore_adf --epsilon 0.2 -q ua")
    for e in cbdata.events(40, actions=3, seed=4):
        m.learn(e)
    shared, actions = {"u": {"f1": 0.5}}, [{"a": ["id=0"]}, {"a": ["id=1"]}, {"a": ["id=2"]}]
    order, probs = m.rank(shared, actions)
    with serve(m, port=0, threads=1) as server, Client(port=server.port) as c:
        got_order, got_probs = c.rank(shared, actions)
        with pytest.raises(ServerError, match="error"):
            c.event(["shared |u a", "bogus:x:y |a x"])
        assert c.rank(shared, actions)[0] == got_order  # aligned after the error
    assert got_order == order.tolist()
    assert got_probs == pytest.approx(probs.tolist(), abs=1e-6)


@pytest.mark.parametrize(
    "name", ["wabbit.serve.server", "wabbit.serve.client", "wabbit.serve.text", "wabbit.serve.metrics"]
)
def test_docstring_examples(name):
    if name.endswith("metrics"):
        pytest.importorskip("prometheus_client")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no runnable examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {name}"

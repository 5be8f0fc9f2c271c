"""Shared code for the serving tests (issue 16): an in-process ``_core.Server`` on 127.0.0.1 with
port 0, raw socket clients with timeouts, and models whose every prediction is one constant.

Nothing here waits without a bound: sockets carry timeouts and loops carry deadlines.
"""

from __future__ import annotations

import contextlib
import math
import socket
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

import wabbit
from wabbit import _core, persistence

HOST = "127.0.0.1"


def has_server() -> bool:
    """Whether the compiled module has the serving engine."""
    return hasattr(_core, "Server")


def make_server(model: "wabbit.Model", **options: Any) -> Any:
    """A started ``_core.Server`` serving a copy of ``model`` on 127.0.0.1 (port 0 unless given)."""
    opts: Dict[str, Any] = {"listen": HOST, "port": 0}
    opts.update(options)
    srv = _core.Server(model.core, opts, wabbit.__version__, model.args, persistence.metadata_json(model))
    srv.start()
    return srv


@contextlib.contextmanager
def serving(model: "wabbit.Model", **options: Any) -> Iterator[Any]:
    """``make_server`` as a context manager that always stops the server."""
    srv = make_server(model, **options)
    try:
        yield srv
    finally:
        srv.stop()


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    """A blocking TCP connection to the server with a receive/send timeout."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class LineReader:
    """Reads reply lines from a socket (bytes, without the newline), with a deadline per call."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.eof = False

    def line(self, timeout: float = 10.0) -> Optional[bytes]:
        """The next line, or None at end of stream. Raises TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply line within %.1f s" % timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout as e:
                raise TimeoutError("no reply line within %.1f s" % timeout) from e
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                if self.buf:  # a last line without a newline
                    rest, self.buf = self.buf, b""
                    return rest
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def lines(self, n: int, timeout: float = 10.0) -> List[bytes]:
        """Exactly ``n`` lines (fails if the stream ends first), all within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        out: List[bytes] = []
        for _ in range(n):
            got = self.line(max(0.01, deadline - time.monotonic()))
            assert got is not None, f"the stream ended after {len(out)} of {n} replies"
            out.append(got)
        return out

    def until_closed(self, timeout: float = 10.0) -> List[bytes]:
        """Every line until the server closes the connection."""
        deadline = time.monotonic() + timeout
        out: List[bytes] = []
        while True:
            got = self.line(max(0.01, deadline - time.monotonic()))
            if got is None:
                return out
            out.append(got)


def parse_reply(line: bytes) -> tuple:
    """``(prediction, tag)`` of a reply line ``"<float>[ <tag>]"``; raises ValueError otherwise."""
    head, _, tag = line.partition(b" ")
    value = float(head.decode("ascii"))
    if not math.isfinite(value):
        raise ValueError(f"not a finite prediction: {line!r}")
    return value, tag.decode("utf-8", "surrogateescape")  # a tag is the request's bytes, whatever they are


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, step: float = 0.01) -> bool:
    """Polls ``cond`` until it is true or ``timeout`` s pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def constant_model(label: float, rounds: int = 200) -> "wabbit.Model":
    """A model that has learned only its constant (towards ``label``): every example, whatever its
    features (they have no weights), gets the same prediction."""
    m = wabbit.Model("")
    for _ in range(rounds):
        m.learn({}, label)
    return m


def constant_versions(n: int) -> List["wabbit.Model"]:
    """``n`` constant models whose predictions are distinct and increasing (checked here)."""
    models = [constant_model(0.1 * (k + 1)) for k in range(n)]
    values = [m.predict({}) for m in models]
    for a, b in zip(values, values[1:]):
        assert b - a > 0.02, values  # distinct enough to tell apart in a reply
    return models


def probe_line(i: int, tag: str) -> bytes:
    """An unlabelled example line with a few features and a tag."""
    return f"'{tag} |u u{i % 97} |i i{i % 31} x:{(i % 7) / 7:.3f}\n".encode()

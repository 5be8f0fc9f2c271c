"""A client of VW's line protocol (``wabbit --daemon``, :func:`wabbit.serve.serve`, or VW's own daemon).

One TCP connection; each call sends its example as one line (a bandit event as its lines and a
blank line) and reads the reply: the prediction as VW's ``-p`` writes it. Replies come back in the
order the requests were sent, so :meth:`Client.predict_many` sends every line before it reads the
replies (pipelined) from a sending thread, and never waits for one reply before the next request.

>>> import wabbit
>>> from wabbit.serve import Client, serve
>>> with serve(wabbit.Model(), port=0, threads=1) as server, Client(port=server.port) as client:
...     before = client.learn({"f": {"a": 1.0}}, label=2.0)
...     after = client.predict("|f a")
>>> before, after > 0
(0.0, True)
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from wabbit.serve.text import event_lines, example_line, is_error, parse_action_list, parse_prediction

__all__ = ["Client", "ServerError", "DEFAULT_PORT"]

#: VW's daemon port.
DEFAULT_PORT = 26542

Example = Union[str, Mapping[str, Any]]


class ServerError(RuntimeError):
    """The server answered a request with an ``error ...`` line; the message is the server's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Client:
    """A connection to a line-protocol server at ``host:port`` (``timeout``: seconds any one send
    or reply may take, else ``socket.timeout``). A ``with`` block closes it.

    Examples are VW text lines or dicts ``{namespace: {feature: value}}`` (written as VW text; a
    name that text cannot carry is refused with ValueError before anything is sent). An ``error``
    reply raises :class:`ServerError` with the server's message; the connection stays usable
    (the server answers each line, so replies stay aligned).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, timeout: Optional[float] = 10.0) -> None:
        self.host = host
        self.port = int(port)
        self.timeout = timeout
        self._sock = socket.create_connection((host, self.port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = self._sock.makefile("rb")
        self._lock = threading.Lock()  # one request/reply exchange at a time

    # ------------------------------------------------------------------ plumbing
    def _send(self, text: str) -> None:
        self._sock.sendall(text.encode("utf-8"))

    def _reply(self) -> str:
        line = self._reader.readline()
        if not line:
            raise ConnectionError(f"the server at {self.host}:{self.port} closed the connection")
        if not line.endswith(b"\n"):
            raise ConnectionError(f"the server at {self.host}:{self.port} closed the connection mid-reply")
        return line[:-1].decode("utf-8", "replace")

    def _checked(self, reply: str) -> str:
        if is_error(reply):
            raise ServerError(reply)
        return reply

    def request(self, line: str) -> str:
        """Send one raw line; return the reply line as the server wrote it (an ``error`` line too)."""
        with self._lock:
            self._send(example_line(line) + "\n")
            return self._reply()

    # ------------------------------------------------------------------ single examples
    def predict(self, example: Example) -> float:
        """The prediction for one example (a text line's label, if any, makes the server learn it
        unless it runs with -t: send unlabelled lines to predict only)."""
        reply = self._checked(self.request(example_line(example)))
        return parse_prediction(reply)

    def learn(self, example: Example, label: Optional[Any] = None, weight: Optional[Any] = None) -> float:
        """Learn one example (a text line carries its label; a dict takes ``label``, ``weight``);
        returns the prediction made before the update."""
        if not isinstance(example, str) and label is None:
            raise ValueError("learn() of a dict example needs label= (without one the server only predicts)")
        reply = self._checked(self.request(example_line(example, label, weight)))
        return parse_prediction(reply)

    def predict_many(self, lines: Iterable[Example]) -> List[float]:
        """Predictions (or, for labelled lines, learning) for many examples, pipelined: all lines
        are sent from a thread while the replies are read. An ``error`` reply raises
        :class:`ServerError` after every reply was read (the connection stays aligned)."""
        payload = "".join(example_line(x) + "\n" for x in lines)
        count = payload.count("\n")
        replies = self._exchange(payload, count)
        failed = next((r for r in replies if is_error(r)), None)
        if failed is not None:
            raise ServerError(failed)
        return [parse_prediction(r) for r in replies]

    def _exchange(self, payload: str, count: int) -> List[str]:
        with self._lock:
            problem: List[BaseException] = []

            def send() -> None:
                try:
                    self._send(payload)
                except OSError as e:  # the reader sees the close too
                    problem.append(e)

            sender = threading.Thread(target=send, name="wabbit-client-send", daemon=True)
            sender.start()
            try:
                replies = [self._reply() for _ in range(count)]
            finally:
                sender.join(self.timeout)
            if problem:
                raise problem[0]
            return replies

    # ------------------------------------------------------------------ contextual bandits
    def rank(
        self,
        shared: Optional[Mapping[str, Any]],
        actions: Sequence[Mapping[str, Any]],
        label: Optional[Tuple[int, float, float]] = None,
    ) -> Tuple[List[int], List[float]]:
        """A bandit model's answer to an event (``shared`` context, one dict per action):
        ``(actions, values)`` as VW's ``-p`` line lists them, best first: the probabilities of an
        exploring model (--cb_explore_adf); a --cb_adf model answers with its best action alone
        (``([best], [1.0])``). With ``label`` ``(index, cost, probability)`` the event is learned."""
        return self.event(event_lines(shared, actions, label))

    def event(self, lines: Union[str, Sequence[str]]) -> Tuple[List[int], List[float]]:
        """A bandit event given as VW text (its lines, or one str with newlines): the reply parsed
        as in :meth:`rank`."""
        if isinstance(lines, str):
            lines = lines.strip("\n").split("\n")
        lines = [line.rstrip("\r") for line in lines]
        if not lines or any(not line.strip() for line in lines):
            raise ValueError("an event's lines are not blank (the blank line that ends it is added here)")
        with self._lock:
            self._send("".join(example_line(line) + "\n" for line in lines) + "\n")
            reply = self._reply()
            self._reply()  # the blank line after an event's reply (an error's too)
        return parse_action_list(self._checked(reply))

    # ------------------------------------------------------------------ saving
    def save(self, path: Optional[Union[str, "os.PathLike[str]"]] = None) -> str:
        """Ask the server to save its model: to ``path`` (``save_PATH``; relative to the server's
        working folder), or to its -f file (``save``). Returns the reply's tag."""
        if path is None:
            tag = "save"
        else:
            target = os.fspath(path)
            if not target or any(c in target for c in (" ", "\t", "\n", "\r", "|")):
                raise ValueError(f"save path {target!r}: the line protocol cannot carry a space, tab, newline or '|'")
            tag = "save_" + target
        reply = self._checked(self.request(tag))
        return reply.split(" ", 1)[1] if " " in reply else reply

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Close the connection (the server answers what it already received)."""
        try:
            self._reader.close()
        finally:
            self._sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<wabbit.serve.Client {self.host}:{self.port}>"

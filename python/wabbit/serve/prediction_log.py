"""The daemon's prediction log (``--prediction_log``): every prediction served for a tagged,
unlabelled example, as one :class:`wabbit.join.PredictionRecord` JSON line, written to a file or a
Kafka topic, so that labels arriving later can be joined to what was predicted
(:class:`wabbit.LabelJoiner`, ``wabbit train --labels``).

The engine's worker threads queue the lines (bounded: a full queue drops a line and counts it, so
serving never waits for the log); a thread here takes them every ``period`` seconds and writes
them. The tag is the id: ``'req42 |u user7 |a ad3`` is logged as
``{"id":"req42","features":"'req42 |u user7 |a ad3","prediction":...,"time":...}``.

>>> import json, os, tempfile, wabbit
>>> from wabbit.serve import Client, serve
>>> path = os.path.join(tempfile.mkdtemp(), "predictions.jsonl")
>>> with serve(wabbit.Model(), port=0, prediction_log=path) as server, Client(port=server.port) as c:
...     _ = c.predict("'req1 |f a")
>>> record = json.loads(open(path).read())
>>> record["id"], record["features"]
('req1', "'req1 |f a")
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, List, Optional

__all__ = ["PredictionPump", "open_target"]

#: Lines the engine's queue holds before it drops (and counts) new ones.
QUEUE_LINES = 1 << 18


def open_target(url: str) -> Callable[[List[str]], None]:
    """A writer of lines for ``url``: ``kafka://HOST:PORT/TOPIC`` (needs ``wabbit[kafka]``), or a
    file path (appended to; created if missing)."""
    if url.startswith("kafka://"):
        rest = url[len("kafka://") :]
        bootstrap, _, topic = rest.partition("/")
        if not bootstrap or not topic:
            raise ValueError(f"--prediction_log {url}: a Kafka target is kafka://HOST:PORT/TOPIC")
        from wabbit.stream.kafka import KafkaSink

        sink = KafkaSink(bootstrap, topic)

        def send(lines: List[str]) -> None:
            for line in lines:
                sink.send(line.encode())
            sink.flush()

        send.close = sink.close  # type: ignore[attr-defined]
        return send
    path = url[len("file://") :] if url.startswith("file://") else url
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(2, "--prediction_log: no such folder", folder)
    handle = open(path, "a", encoding="utf-8")

    def write(lines: List[str]) -> None:
        handle.write("".join(line + "\n" for line in lines))
        handle.flush()

    write.close = handle.close  # type: ignore[attr-defined]
    return write


class PredictionPump:
    """Takes the engine's logged predictions and writes them (a thread); :meth:`stop` writes what
    is left and closes the target."""

    def __init__(self, engine: Any, write: Callable[[List[str]], None], period: float = 0.05) -> None:
        self._engine = engine
        self._write = write
        self._period = period
        self._stop = threading.Event()
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="wabbit-prediction-log", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            lines = self._engine.take_predictions(10000)
            if not lines:
                return
            self._write(lines)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self._drain()
            except Exception as e:  # the log's target failed: serving goes on, the error is kept
                self.error = e
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.error is None:
            self._drain()
        close = getattr(self._write, "close", None)
        if close is not None:
            close()

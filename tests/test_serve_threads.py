"""The serving engine under concurrent load (run by tools/tsan.sh under ThreadSanitizer too).

Several clients learn and predict at once over loopback, in place (Hogwild) and in publish mode,
while versions are swapped in and saves are made: every request gets exactly one reply, in order,
the counters add up to what was sent, and every saved file loads.
"""

from __future__ import annotations

import os
import socket
import threading

import pytest

import wabbit
from wabbit import _core, persistence

CLIENTS = 6
LINES = 300


def _server(model: wabbit.Model, **options: object) -> "_core.Server":
    opts = {"port": 0, "threads": 2, **options}
    srv = _core.Server(model.core, opts, wabbit.__version__, model.args, persistence.metadata_json(model))
    srv.start()
    return srv


def _client(port: int, k: int, errors: list) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            lines = []
            for i in range(LINES):
                label = f"{(i + k) % 2} " if i % 3 == 0 else ""
                lines.append(f"{label}'c{k}r{i}|u id{i % 17} k{k} |a ad{i % 5}\n")
            s.sendall("".join(lines).encode())
            s.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        replies = data.decode().splitlines()
        assert len(replies) == LINES, (k, len(replies))
        for i, r in enumerate(replies):
            value, tag = r.split(" ")
            assert tag == f"c{k}r{i}"
            float(value)
    except BaseException as e:  # reported by the main thread
        errors.append(e)


@pytest.mark.parametrize("mode", [{}, {"publish_every": 7}, {"publish_seconds": 0.01}])
def test_concurrent_clients_swaps_and_saves(tmp_path: "os.PathLike[str]", mode: dict) -> None:
    model = wabbit.Model(bits=14, loss_function="logistic")
    other = wabbit.Model(bits=14, loss_function="logistic")
    other.learn("1 |u id1 |a ad1")
    srv = _server(model, **mode)
    errors: list = []
    threads = [threading.Thread(target=_client, args=(srv.port, k, errors)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    saved = []
    for j in range(5):
        srv.swap(other.core, f"v{j}", other.args, persistence.metadata_json(other))
        path = os.path.join(tmp_path, f"m{j}.bin")
        srv.save(path)
        saved.append(path)
        srv.request("1 |u id3 |a ad2\n")
    for t in threads:
        t.join(60)
    srv.stop()
    assert not errors, errors[0]
    for path in saved:
        assert wabbit.load(path).predict("|u id1 |a ad1") == pytest.approx(wabbit.load(path).predict("|u id1 |a ad1"))
    stats = srv.stats()
    requests = stats["requests"]
    sent = CLIENTS * LINES + 5
    assert requests["predict_ok"] + requests["learn_ok"] == sent
    assert requests["save_ok"] == 5
    assert stats["connections_total"] == CLIENTS
    assert stats["connections_open"] == 0
    assert stats["swaps"] == 5

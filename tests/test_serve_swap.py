"""Hot swap under load (issue 16, "Hot swap"): client threads predict without stopping while 20
versions are swapped in. Each version predicts its own constant, so a reply tells which version
answered: every reply must be one whole version's constant, never an older version's after a newer
one on the same connection, with zero errors and zero lost replies.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Dict, List

import pytest

wabbit = pytest.importorskip("wabbit")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import serve_helpers as sh  # noqa: E402
from wabbit import persistence  # noqa: E402

pytestmark = pytest.mark.skipif(not sh.has_server(), reason="the compiled module has no _core.Server yet")

VERSIONS = 20


def version_of(value: float, constants: List[float]) -> int:
    """The index of the constant ``value`` is (to the printed precision), or -1."""
    for k, c in enumerate(constants):
        if abs(value - c) <= 1e-4 * max(1.0, abs(c)):
            return k
    return -1


@pytest.mark.parametrize("threads, clients, window", [(1, 4, 1), (2, 8, 16)])
def test_every_reply_comes_from_one_whole_version_and_never_goes_back(threads: int, clients: int, window: int) -> None:
    models = sh.constant_versions(VERSIONS)
    constants = [m.predict({}) for m in models]
    # the constant is the prediction of any example: the features have no weights
    assert models[3].predict(sh.probe_line(5, "t").decode()) == constants[3]

    with sh.serving(models[0], threads=threads, learn=False) as srv:
        stop = threading.Event()
        results: Dict[int, dict] = {}

        def client(cid: int) -> None:
            res = {"replies": 0, "errors": [], "seen": [], "lost": 0}
            results[cid] = res
            try:
                with sh.connect(srv.port) as s:
                    r = sh.LineReader(s)
                    sent = answered = 0
                    last = 0
                    while not stop.is_set() or answered < sent:
                        while not stop.is_set() and sent - answered < window:
                            s.sendall(sh.probe_line(sent, f"c{cid}r{sent}"))
                            sent += 1
                        line = r.line(10)
                        if line is None:
                            res["lost"] += sent - answered
                            return
                        try:
                            value, tag = sh.parse_reply(line)
                        except ValueError:
                            res["errors"].append(line)
                            answered += 1
                            continue
                        if tag != f"c{cid}r{answered}":
                            res["errors"].append(line)
                        k = version_of(value, constants)
                        if k < 0 or k < last:
                            res["errors"].append(line)
                        else:
                            if k > last or not res["seen"]:
                                res["seen"].append(k)
                            last = k
                        answered += 1
                        res["replies"] += 1
            except Exception as e:  # noqa: BLE001 - reported through the results
                res["errors"].append(repr(e))

        threads_ = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
        for t in threads_:
            t.start()
        time.sleep(0.1)
        for k in range(1, VERSIONS):
            m = models[k]
            srv.swap(m.core, f"v{k}", m.args, persistence.metadata_json(m))
            assert srv.version == f"v{k}"
            time.sleep(0.03)
        time.sleep(0.1)
        stop.set()
        for t in threads_:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads_)

        total = 0
        for cid, res in sorted(results.items()):
            assert res["errors"] == [], (cid, res["errors"][:5])
            assert res["lost"] == 0, cid
            assert res["replies"] > 0, cid
            assert res["seen"] == sorted(res["seen"])
            assert res["seen"][-1] == VERSIONS - 1, (cid, res["seen"])  # everyone reaches the last version
            total += res["replies"]
        seen_versions = {k for res in results.values() for k in res["seen"]}
        assert len(seen_versions) >= VERSIONS // 2  # the swaps happened while the clients were asking

        st = srv.stats()
        assert st["swaps"] == VERSIONS - 1
        assert st["version"] == f"v{VERSIONS - 1}"
        assert st["requests"]["predict_error"] == 0
        assert st["requests"]["predict_ok"] == total
        # a new connection after the last swap gets the last version
        with sh.connect(srv.port) as s:
            s.sendall(sh.probe_line(0, "after"))
            value, _ = sh.parse_reply(sh.LineReader(s).line())
            assert version_of(value, constants) == VERSIONS - 1

"""The soak and leak checks of bench/ (issue 21) in their shortest modes, so that they do not rot,
and regression tests for what they found:

* ``learn_many`` appended a lineage record per call (RSS, and every saved model file, grew with
  the number of batches);
* the HTTP face answered keep-alive requests after a 40 ms delayed ACK (its listening socket was
  made without IPPROTO_TCP, so asyncio did not set TCP_NODELAY on the connections).

The three soaks run at once (each in its own process, importing the wabbit under test); most of
their time is spent waiting on sockets and on the mock Kafka cluster's group joins.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any, Dict, List

import pytest

import wabbit

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(os.path.dirname(HERE), "bench")
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(wabbit.__file__)))

sys.path.insert(0, BENCH)

import soak_memory  # noqa: E402


def _env() -> Dict[str, str]:
    return dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.mark.asan_skip("bounds resident memory: ASan keeps freed blocks in a quarantine of up to 256 MB")
def test_the_soaks_pass_in_their_short_modes(tmp_path):
    pytest.importorskip("confluent_kafka")
    pytest.importorskip("uvicorn")
    runs: Dict[str, List[str]] = {
        "serve": ["soak_serve.py", "--short"],
        "memory": ["soak_memory.py", "all", "--short"],
        "trainer": ["soak_trainer.py", "--short"],
    }
    procs = {}
    for name, (script, *args) in runs.items():
        cmd = [sys.executable, os.path.join(BENCH, script), *args, "--json", str(tmp_path / f"{name}.json")]
        procs[name] = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    outcome = {}
    try:
        for name, p in procs.items():
            out, err = p.communicate(timeout=120)
            outcome[name] = (p.returncode, err.decode()[-3000:])
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)
    for name, (rc, err) in outcome.items():
        assert rc == 0, f"{name}: {err}"
    res: Dict[str, Any] = {n: json.loads((tmp_path / f"{n}.json").read_text()) for n in runs}
    serve = res["serve"]
    assert serve["failures"] == [] and serve["versions"] >= 2
    for kind in ("learn", "probe", "predict", "http_predict", "http_learn", "abrupt", "garbage_lines", "swaps"):
        assert serve["counts"].get(kind, 0) > 0, kind
    assert serve["fds"]["end"] <= serve["fds"]["start"] + 2
    memory = res["memory"]
    assert memory["failures"] == []
    assert sum(memory["calls"]["counts"].values()) == 20_000
    assert memory["models"]["counts"]["bytes"] > 0 and memory["models"]["counts"]["file"] > 0
    trainer = res["trainer"]
    assert trainer["failures"] == [] and trainer["bitwise_equal"]
    assert trainer["kill_cycles"][0]["had_consumed"] and trainer["final_committed"] == trainer["lines"]


def test_the_memory_bounds_catch_a_leak_and_pass_a_flat_run():
    # 10^6 calls sampled every 10^4: flat after the warm-up but for +-40 KiB of noise
    flat = {"samples": [(i * 10_000, 50_000 + (300 if i < 10 else 0) + (i % 3) * 40) for i in range(101)]}
    assert soak_memory.judge(flat, 100_000, 100.0, 2.0, 0.1, "calls") == [] and flat["slope_judged"]
    # a leak of 20 bytes a call: 1,953 KiB per 10^5 calls, 17 MiB after the warm-up
    leaking = {"samples": [(i * 10_000, 50_000 + i * 10_000 * 20 // 1024) for i in range(101)]}
    problems = soak_memory.judge(leaking, 100_000, 100.0, 2.0, 0.1, "calls")
    assert len(problems) == 2 and "slope" in problems[0] and "grew" in problems[1]
    assert leaking["slope_kb_per_unit"] == pytest.approx(20 * 100_000 / 1024, rel=0.01)
    # 20,000 calls: one 4 KiB page late in the run is no slope; the growth bound still applies
    short = {"samples": [(i * 200, 50_000 + (4 if i > 90 else 0)) for i in range(101)]}
    assert soak_memory.judge(short, 100_000, 100.0, 2.0, 0.1, "calls") == [] and not short["slope_judged"]
    short_leak = {"samples": [(i * 200, 50_000 + (3000 if i > 90 else 0)) for i in range(101)]}
    assert [p for p in soak_memory.judge(short_leak, 100_000, 100.0, 2.0, 0.1, "calls") if "grew" in p]


def test_learn_many_batches_keep_one_lineage_record_and_a_constant_file_size():
    m = wabbit.Model()
    batch = [f"{i % 2} |f a{i}" for i in range(4)] + [""] + [f"{i % 2} |f a{i}" for i in range(4, 8)]
    m.learn_many(batch)
    size = len(m.to_bytes())
    for _ in range(500):
        m.learn_many(batch)
    sources = m.lineage.sources
    assert len(sources) == 1
    s = sources[0]
    assert (s.source, s.examples, s.first_line, s.last_line) == ("<lines>", 501 * 8, 1, 501 * 9)
    assert m.lineage.examples == 501 * 8 == m.stats["example_number"]
    assert len(m.to_bytes()) < size + 64  # wider counts and times only (a record per batch: ~200 bytes each)
    # other kinds of sources still get records of their own, and <bytes> batches merge likewise
    m.learn("1 |f b")
    m.learn_many(b"1 |f c\n")
    m.learn_many(b"1 |f d\n-1 |f e\n")
    assert [(s.source, s.examples, s.last_line) for s in m.lineage.sources[1:]] == [
        ("<python>", 1, None),
        ("<bytes>", 3, 3),
    ]


def test_interleaved_learn_and_learn_many_keep_a_bounded_lineage():
    from wabbit.lineage import MAX_SOURCES

    m = wabbit.Model("-b 10")
    m.learn_many(["1 |f a", "-1 |f b"])
    m.learn("1 |f c")
    assert [s.source for s in m.lineage.sources] == ["<lines>", "<python>"]  # in order while short
    sizes = []
    for k in range(2 * MAX_SOURCES):
        m.learn_many(["1 |f a", "-1 |f b"])
        m.learn("1 |f c")
        if k >= MAX_SOURCES and k % 32 == 0:
            sizes.append(len(m.to_bytes()))
    sources = m.lineage.sources
    assert len(sources) <= MAX_SOURCES + 1
    assert sum(s.examples for s in sources) == m.lineage.examples == (2 * MAX_SOURCES + 1) * 3
    assert m.lineage.examples == m.stats["example_number"]
    assert max(sizes) - min(sizes) < 16  # the file stopped growing (a record is ~200 bytes)
    lines = [s for s in sources if s.source == "<lines>"]
    assert sum(s.last_line for s in lines) == sum(s.examples for s in lines)  # numbered as one stream


def test_http_keep_alive_requests_do_not_wait_for_a_delayed_ack():
    pytest.importorskip("uvicorn")
    from wabbit.serve import serve

    body = json.dumps({"example": {"f": {"a": 1.0}}}).encode()
    request = (
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with serve(wabbit.Model(), port=0, threads=1, http_port=0) as server:
        with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as s:
            times = []
            for _ in range(15):
                t = time.monotonic()
                s.sendall(request + body)
                data = b""
                while not data.endswith(b"}"):
                    chunk = s.recv(65536)
                    assert chunk
                    data += chunk
                times.append(time.monotonic() - t)
                assert b'"prediction"' in data
    # with Nagle on the server's connections every answer (head and body: two writes) waited for
    # the client's delayed ACK: 40-48 ms each
    assert sorted(times)[len(times) // 2] < 0.02, times

"""Soak of the serving daemon (issue 21): ``wabbit --daemon`` under mixed load for ``--minutes``.

The daemon (``python -m wabbit --daemon --foreground --watch STORE --http_port 0``, learning, two
worker threads) runs in its own process. This script, on 127.0.0.1:

* **line-protocol clients** (``--clients``, half request by request, half pipelined in batches
  of 1-32): labelled lines (learned), unlabelled lines, and *probe* lines; every request is
  tagged and every reply must carry its request's tag, in order, with a finite prediction. Each
  client reconnects every few thousand requests (connection churn).
* **probes are checked exactly.** The learned lines use namespaces ``u`` and ``a`` and the probes
  namespace ``p`` only (``--noconstant``; the features' weight slots are checked disjoint before
  the run; the versions' label range covers every label sent), so learning never changes a
  probe's prediction: each probe reply must equal (to -p's six decimals) the prediction of the
  probe by one of the versions the store held, never an older one than a reply already seen on
  the same connection.
* **an HTTP client**: ``POST /predict`` of probe dicts (compared with ``Model.predict`` of the
  versions, full float), ``POST /learn`` of labelled dicts, ``GET /healthz`` and ``/metrics``.
* **a hot swap** every ``--swap_seconds``: a new version (trained on its own seed) is saved into
  the store that the daemon follows (``--watch``); its probe predictions are known before.
* **an abrupt client**: connects, sends whole lines and half a line, closes without reading
  (half the time with a TCP reset); once in a while sends a line over ``--max_line_bytes``.
* **a garbage client**: random bytes lines (never a label: their first token is not a number,
  half of them without ``|``), then a tagged probe: every reply before it must be an ``error`` line or a
  well-formed prediction, and the probe's reply must be right (the stream stays aligned).

Every second it samples the daemon's RSS (/proc/PID/status VmRSS) and open descriptors
(/proc/PID/fd); per minute it reports RSS, descriptors, requests and the p50/p99 round trip of
the request-by-request clients. Bounds (exit status 1 when exceeded, or on any bad reply):

* RSS: the largest sample after the warm-up (the first minute, or 20% of a shorter run) exceeds
  the largest sample of the warm-up by at most ``--rss_bound_mb`` (default 16 MB: one copy of a
  2^18 table is 2 MB, a swap holds two versions and a rollback copy) and 10%;
* descriptors: the count at the end (after every client closed) is at most the count after the
  warm-up, and no sample after the warm-up exceeds the warm-up's largest by more than
  ``--fd_slack`` (default 16: the clients' own connections);
* no lost, garbled, out-of-order or wrong reply; the daemon alive and stopped cleanly by SIGTERM.

    python bench/soak_serve.py [--minutes 10] [--clients 4] [--swap_seconds 30] [--json out.json]
    python bench/soak_serve.py --short        # ~8 s, for the smoke test
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Set, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from soak_common import child_env, fail_lines, fd_count, loadavg, quantile, report, rss_kb, slope  # noqa: E402

HOST = "127.0.0.1"
FLAGS = "--noconstant -b 18"
P_FEATURES = 160  # probe vocabulary: |p f0 .. f159
U_FEATURES, A_FEATURES = 300, 40  # learned vocabulary: |u u0..u299 |a a0..a39
LEARN_LABELS = (-1.0, 3.0)  # labels the clients send; every version saw -3 and 5
TIMEOUT = 30.0


# ------------------------------------------------------------------------------- data and versions
def learn_line(rng: random.Random, tag: str) -> str:
    u = " ".join(f"u{rng.randrange(U_FEATURES)}:{rng.uniform(-1, 1):.3f}" for _ in range(rng.randint(1, 5)))
    y = rng.uniform(*LEARN_LABELS)
    return f"{y:.3f} '{tag} |u {u} |a a{rng.randrange(A_FEATURES)}"


def unlabelled_line(rng: random.Random, tag: str) -> str:
    return f"'{tag} |u u{rng.randrange(U_FEATURES)} u{rng.randrange(U_FEATURES)} |a a{rng.randrange(A_FEATURES)}"


def make_probes(features: List[int], n: int, seed: int = 1) -> List[Dict[str, float]]:
    rng = random.Random(seed)
    probes = []
    for _ in range(n):
        chosen = rng.sample(features, rng.randint(1, 3))
        probes.append({f"f{i}": round(rng.choice([1.0, 0.5, -2.0, 1.25]), 2) for i in chosen})
    return probes


def probe_text(p: Dict[str, float]) -> str:
    return "|p " + " ".join(f"{k}:{v}" for k, v in p.items())


def disjoint_probe_features() -> List[int]:
    """The p-features whose weight slots no learned (u, a) feature shares."""
    import wabbit

    m = wabbit.Model(FLAGS)
    for i in range(U_FEATURES):
        m.learn(f"1 |u u{i}")
    for i in range(A_FEATURES):
        m.learn(f"1 |a a{i}")
    taken: Set[int] = set(int(x) for x in m.weights()[0])
    out = []
    for i in range(P_FEATURES):
        mp = wabbit.Model(FLAGS)
        mp.learn(f"1 |p f{i}")
        if not taken.intersection(int(x) for x in mp.weights()[0]):
            out.append(i)
    return out


def train_version(gen: int, probes: List[Dict[str, float]]) -> Any:
    import wabbit

    rng = random.Random(1000 + gen)
    m = wabbit.Model(FLAGS)
    m.learn("-3 |u u0")  # the label range every version has: [-3, 5] (covers LEARN_LABELS)
    m.learn("5 |u u1")
    scale = 1.0 + 0.37 * gen
    for k in range(1500):
        if k % 2:
            m.learn(learn_line(rng, "t"))
        else:
            p = rng.choice(probes)
            y = max(-3.0, min(5.0, scale * math.sin(sum(int(f[1:]) * v for f, v in p.items()) + gen)))
            m.learn(f"{y:.4f} {probe_text(p)}")
    return m


# ------------------------------------------------------------------------------- shared state
class Shared:
    def __init__(self, probes: List[Dict[str, float]]) -> None:
        self.lock = threading.Lock()
        self.probes = probes
        self.expected_text: List[List[float]] = []  # per generation: each probe's prediction (-p)
        self.expected_dict: List[List[float]] = []  # per generation: Model.predict(dict)
        self.stop = threading.Event()
        self.failures: List[str] = []
        self.counts: Dict[str, int] = {}
        self.rtt: List[Tuple[float, float]] = []  # (time, seconds) of request-by-request round trips
        self.batch_rtt: List[Tuple[float, float]] = []
        self.http_rtt: List[Tuple[float, float]] = []

    def add_version(self, model: Any) -> None:
        texts = [float(model.predict(probe_text(p))) for p in self.probes]
        dicts = [float(model.predict({"p": p})) for p in self.probes]
        with self.lock:
            self.expected_text.append(texts)
            self.expected_dict.append(dicts)

    def fail(self, what: str) -> None:
        with self.lock:
            if len(self.failures) < 50:
                self.failures.append(what)

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def check_probe(self, probe: int, value: float, floor: int, full: bool) -> Optional[int]:
        """The oldest generation >= floor whose prediction of ``probe`` is ``value``, or None."""
        table = self.expected_dict if full else self.expected_text
        with self.lock:
            gens = len(table)
            for g in range(floor, gens):
                want = table[g][probe]
                if (abs(value - want) <= 1e-6 * max(1.0, abs(want))) if full else (abs(value - want) <= 6e-7):
                    return g
        return None


# ------------------------------------------------------------------------------- clients
class LineConn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
        self.buf = b""

    def send(self, lines: List[str]) -> None:
        self.sock.sendall("".join(x + "\n" for x in lines).encode())

    def read_line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def close(self) -> None:
        self.sock.close()


def parse_reply(raw: bytes) -> Tuple[float, str]:
    text = raw.decode()
    head, _, tag = text.partition(" ")
    value = float(head)
    if not math.isfinite(value):
        raise ValueError(f"not finite: {text!r}")
    return value, tag


def line_client(sh: Shared, port: int, cid: int, pipelined: bool, pause: float) -> None:
    rng = random.Random(cid)
    seq = 0
    while not sh.stop.is_set():
        try:
            conn = LineConn(port)
        except OSError as e:
            sh.fail(f"client {cid}: cannot connect: {e}")
            return
        floor = 0
        try:
            for _ in range(rng.randint(500, 4000)):
                if sh.stop.is_set():
                    break
                k = rng.randint(1, 32) if pipelined else 1
                batch: List[Tuple[str, str, int]] = []  # (kind, tag, probe index)
                lines = []
                for _ in range(k):
                    seq += 1
                    tag = f"c{cid}n{seq}"
                    u = rng.random()
                    if u < 0.4:
                        lines.append(learn_line(rng, tag))
                        batch.append(("learn", tag, -1))
                    elif u < 0.7:
                        i = rng.randrange(len(sh.probes))
                        lines.append(f"'{tag} {probe_text(sh.probes[i])}")
                        batch.append(("probe", tag, i))
                    else:
                        lines.append(unlabelled_line(rng, tag))
                        batch.append(("predict", tag, -1))
                t0 = time.monotonic()
                conn.send(lines)
                for kind, tag, i in batch:
                    raw = conn.read_line()
                    try:
                        value, got = parse_reply(raw)
                    except ValueError:
                        sh.fail(f"client {cid}: garbled reply {raw[:200]!r} to {kind} {tag}")
                        raise ConnectionError("garbled") from None
                    if got != tag:
                        sh.fail(f"client {cid}: reply for {got!r} where {tag!r} was due")
                        raise ConnectionError("out of order")
                    if kind == "probe":
                        g = sh.check_probe(i, value, floor, full=False)
                        if g is None:
                            sh.fail(f"client {cid}: probe {i} answered {value} (no version >= {floor} predicts it)")
                        else:
                            floor = g
                    sh.count(kind)
                dt = time.monotonic() - t0
                with sh.lock:
                    (sh.batch_rtt if pipelined else sh.rtt).append((time.time(), dt))
                if pause:
                    time.sleep(pause)
        except (OSError, ConnectionError) as e:
            if not sh.stop.is_set():
                sh.fail(f"client {cid}: {e}")
            sh.stop.wait(0.5)
        finally:
            conn.close()
        sh.count("connections")


class NoDelayHTTPConnection(http.client.HTTPConnection):
    """http.client sends a request's headers and body in two writes: without TCP_NODELAY the body
    waits for the server's delayed ACK (40 ms). urllib3 (requests) sets it too."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def http_client(sh: Shared, port: int, pause: float) -> None:
    rng = random.Random(99)
    conn = NoDelayHTTPConnection(HOST, port, timeout=TIMEOUT)
    floor = 0
    n = 0

    def call(method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = conn.getresponse()
        return r.status, r.read()

    while not sh.stop.is_set():
        n += 1
        try:
            t0 = time.monotonic()
            u = rng.random()
            if n % 200 == 0:
                status, body = call("GET", "/metrics")
                ok = status == 200 and b"wabbit_requests_total" in body
                kind = "http_metrics"
            elif n % 50 == 0:
                status, body = call("GET", "/healthz")
                ok = status == 200 and json.loads(body).get("status") == "ok"
                kind = "http_healthz"
            elif u < 0.5:
                idx = [rng.randrange(len(sh.probes)) for _ in range(rng.randint(1, 4))]
                status, body = call("POST", "/predict", {"examples": [{"p": sh.probes[i]} for i in idx]})
                ok = status == 200
                if ok:
                    got = json.loads(body)["predictions"]
                    ok = len(got) == len(idx)
                    for i, v in zip(idx, got):
                        g = sh.check_probe(i, float(v), floor, full=True)
                        if g is None:
                            sh.fail(f"http: probe {i} answered {v} (no version >= {floor} predicts it)")
                        else:
                            floor = g
                kind = "http_predict"
            else:
                k = rng.randint(1, 8)
                ex = [
                    {
                        "u": {f"u{rng.randrange(U_FEATURES)}": round(rng.uniform(-1, 1), 3)},
                        "a": [f"a{rng.randrange(A_FEATURES)}"],
                    }
                    for _ in range(k)
                ]
                labels = [round(rng.uniform(*LEARN_LABELS), 3) for _ in range(k)]
                status, body = call("POST", "/learn", {"examples": ex, "labels": labels})
                ok = status == 200 and len(json.loads(body)["predictions"]) == k
                ok = ok and all(math.isfinite(float(v)) for v in json.loads(body)["predictions"])
                kind = "http_learn"
            with sh.lock:
                sh.http_rtt.append((time.time(), time.monotonic() - t0))
            if not ok:
                sh.fail(f"http: {kind} answered {status} {body[:200]!r}")
            sh.count(kind)
        except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
            if not sh.stop.is_set():
                sh.fail(f"http: {type(e).__name__}: {e}")
            conn.close()
            conn = NoDelayHTTPConnection(HOST, port, timeout=TIMEOUT)
            sh.stop.wait(0.5)
        if pause:
            sh.stop.wait(pause)
    conn.close()


def abrupt_client(sh: Shared, port: int, max_line_bytes: int) -> None:
    rng = random.Random(7)
    n = 0
    while not sh.stop.is_set():
        n += 1
        try:
            s = socket.create_connection((HOST, port), timeout=TIMEOUT)
            if n % 50 == 0:  # a line over max_line_bytes: one error reply, then the server closes
                s.sendall(b"1 |u " + b"x" * (max_line_bytes + 10))
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if not data.startswith(b"error"):
                    sh.fail(f"abrupt: a too long line was answered {data[:100]!r}")
                sh.count("too_long")
            else:
                lines = [learn_line(rng, f"x{n}_{k}") for k in range(rng.randint(0, 5))]
                whole = "".join(x + "\n" for x in lines)
                half = learn_line(rng, "half")
                s.sendall((whole + half[: rng.randint(1, len(half) - 1)]).encode())
                if rng.random() < 0.5:  # reset instead of a FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sh.count("abrupt")
            s.close()
        except OSError as e:
            if not sh.stop.is_set():
                sh.fail(f"abrupt: {e}")
        sh.stop.wait(0.05)


def garbage_line(rng: random.Random) -> bytes:
    """Random bytes after a first token that is not a number: an error reply, or (without ``|``)
    an example without features or label. Never a label: a learned label, even of an example
    without features, widens the label range that predictions are clamped to, and the probes
    would change."""
    body = bytes(rng.randrange(256) for _ in range(rng.randint(1, 120))).replace(b"\n", b" ")
    if rng.random() < 0.5:
        body = body.replace(b"|", b"/")
    label = rng.choice([b"x", b"Q", b"zz", b"#", b"!", b"bad", b"\x01", b"\xff\xfe"])
    return label + b" " + body


def garbage_client(sh: Shared, port: int) -> None:
    rng = random.Random(13)
    n = 0
    floor = 0
    while not sh.stop.is_set():
        try:
            conn = LineConn(port)
            for _ in range(rng.randint(5, 50)):
                if sh.stop.is_set():
                    break
                n += 1
                junk = [garbage_line(rng) for _ in range(rng.randint(1, 10))]
                i = rng.randrange(len(sh.probes))
                tag = f"g{n}"
                conn.sock.sendall(b"".join(j + b"\n" for j in junk) + f"'{tag} {probe_text(sh.probes[i])}\n".encode())
                replies = 0
                while True:
                    raw = conn.read_line()
                    if raw.endswith(b" " + tag.encode()):
                        break
                    replies += 1
                    if not raw.startswith(b"error"):
                        try:
                            float(raw.split(b" ", 1)[0])
                        except ValueError:
                            sh.fail(f"garbage: reply {raw[:100]!r} is neither an error nor a prediction")
                if replies > len(junk):
                    sh.fail(f"garbage: {replies} replies to {len(junk)} lines")
                value, _ = parse_reply(raw)
                g = sh.check_probe(i, value, floor, full=False)
                if g is None:
                    sh.fail(f"garbage: the probe after garbage answered {value} (no version >= {floor} predicts it)")
                else:
                    floor = g
                sh.count("garbage_lines", len(junk))
                sh.count("garbage_errors", replies)
            conn.close()
        except (OSError, ConnectionError, ValueError) as e:
            if not sh.stop.is_set():
                sh.fail(f"garbage: {type(e).__name__}: {e}")
            sh.stop.wait(0.5)


def swapper(sh: Shared, store: Any, every: float) -> None:
    gen = len(sh.expected_text)
    while not sh.stop.wait(every):
        m = train_version(gen, sh.probes)
        sh.add_version(m)  # known before the daemon can see it
        store.save(m)
        gen += 1
        sh.count("swaps")


# ------------------------------------------------------------------------------- the run
def start_daemon(tmp: str, store_dir: str, threads: int, max_line_bytes: int) -> Tuple[subprocess.Popen, int, int]:
    port_file = os.path.join(tmp, "port")
    err_path = os.path.join(tmp, "daemon.err")
    cmd = [
        sys.executable, "-m", "wabbit", "--daemon", "--foreground", "--port", "0", "--port_file", port_file,
        "--http_port", "0", "--watch", store_dir, "--num_children", str(threads),
        "--max_line_bytes", str(max_line_bytes),
    ]  # fmt: skip
    err = open(err_path, "w")
    proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.DEVNULL, stderr=err, cwd=tmp)
    err.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited: {open(err_path).read()[-2000:]}")
        with open(err_path) as f:
            text = f.read()
        if "HTTP on port" in text and os.path.exists(port_file):
            http_port = int(text.split("HTTP on port ")[1].split()[0].rstrip(","))
            with open(port_file) as f:
                return proc, int(f.read()), http_port
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the daemon did not start within 60 s")


def run(a: argparse.Namespace) -> Dict[str, Any]:
    import wabbit

    seconds = a.minutes * 60.0
    warm = min(60.0, 0.2 * seconds)
    features = disjoint_probe_features()
    probes = make_probes(features, 48)
    sh = Shared(probes)
    result: Dict[str, Any] = {"minutes": a.minutes, "loadavg_start": loadavg(), "probe_features": len(features)}
    with tempfile.TemporaryDirectory(prefix="soak_serve_") as tmp:
        store = wabbit.ModelStore(os.path.join(tmp, "store"), keep=3)
        first = train_version(0, probes)
        sh.add_version(first)
        store.save(first)
        proc, port, http_port = start_daemon(tmp, os.path.join(tmp, "store"), a.threads, a.max_line_bytes)
        pid = proc.pid
        samples: List[Tuple[float, int, int]] = [(0.0, rss_kb(pid), fd_count(pid))]
        threads = [
            threading.Thread(target=line_client, args=(sh, port, c, c % 2 == 1, a.pause_ms / 1e3), daemon=True)
            for c in range(a.clients)
        ]
        threads.append(threading.Thread(target=http_client, args=(sh, http_port, a.pause_ms / 1e3), daemon=True))
        threads.append(threading.Thread(target=abrupt_client, args=(sh, port, a.max_line_bytes), daemon=True))
        threads.append(threading.Thread(target=garbage_client, args=(sh, port), daemon=True))
        threads.append(threading.Thread(target=swapper, args=(sh, store, a.swap_seconds), daemon=True))
        t0 = time.monotonic()
        wall0 = time.time()
        for t in threads:
            t.start()
        try:
            while time.monotonic() - t0 < seconds and not (a.stop_on_failure and sh.failures):
                time.sleep(min(a.sample_seconds, max(0.01, seconds - (time.monotonic() - t0))))
                if proc.poll() is not None:
                    sh.fail(f"the daemon died: exit status {proc.returncode}")
                    break
                samples.append((time.monotonic() - t0, rss_kb(pid), fd_count(pid)))
        finally:
            sh.stop.set()
            for t in threads:
                t.join(TIMEOUT)
            time.sleep(0.5)  # the server notices the last closes
            alive = proc.poll() is None
            if alive:
                samples.append((time.monotonic() - t0, rss_kb(pid), fd_count(pid)))
                proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                status = proc.wait(10)
                sh.fail("the daemon did not stop within 30 s of SIGTERM")
            if alive and status != 0:
                sh.fail(
                    f"the daemon exited {status} after SIGTERM: {open(os.path.join(tmp, 'daemon.err')).read()[-1000:]}"
                )
    result["loadavg_end"] = loadavg()
    result["counts"] = dict(sorted(sh.counts.items()))
    result["versions"] = len(sh.expected_text)
    per_minute = []
    span = 60.0 if seconds >= 120 else max(1.0, seconds / 4)
    for m in range(int(math.ceil(seconds / span))):
        lo, hi = m * span, (m + 1) * span
        sm = [s for s in samples if lo <= s[0] < hi] or samples[-1:]
        rtt = [d for t, d in sh.rtt if lo <= t - wall0 < hi]
        brtt = [d for t, d in sh.batch_rtt if lo <= t - wall0 < hi]
        hrtt = [d for t, d in sh.http_rtt if lo <= t - wall0 < hi]
        per_minute.append(
            {
                "from_s": lo,
                "rss_mb_max": round(max(s[1] for s in sm) / 1024, 1),
                "rss_mb_end": round(sm[-1][1] / 1024, 1),
                "fds_max": max(s[2] for s in sm),
                "requests_rr": len(rtt),
                "rr_p50_ms": round(quantile(rtt, 0.5) * 1e3, 3),
                "rr_p99_ms": round(quantile(rtt, 0.99) * 1e3, 3),
                "batch_p99_ms": round(quantile(brtt, 0.99) * 1e3, 3),
                "http_p50_ms": round(quantile(hrtt, 0.5) * 1e3, 3),
                "http_p99_ms": round(quantile(hrtt, 0.99) * 1e3, 3),
            }
        )
    result["per_period"] = per_minute
    result["period_seconds"] = span
    warm_samples = [s for s in samples if s[0] <= warm]
    later = [s for s in samples if s[0] > warm]
    rss_warm = max(s[1] for s in warm_samples)
    fd_warm = max(s[2] for s in warm_samples)
    result["rss_mb"] = {
        "start": round(samples[0][1] / 1024, 1),
        "warm_max": round(rss_warm / 1024, 1),
        "peak": round(max(s[1] for s in samples) / 1024, 1),
        "end": round(samples[-1][1] / 1024, 1),
    }
    result["fds"] = {
        "start": samples[0][2],
        "warm_max": fd_warm,
        "peak": max(s[2] for s in samples),
        "end": samples[-1][2],
    }
    failures = list(sh.failures)
    if later:
        growth = max(s[1] for s in later) - rss_warm
        bound = max(a.rss_bound_mb * 1024, 0.10 * rss_warm)
        result["rss_growth_after_warmup_mb"] = round(growth / 1024, 2)
        result["rss_slope_mb_per_minute_after_warmup"] = round(
            slope([s[0] for s in later], [s[1] for s in later]) * 60 / 1024, 3
        )
        if growth > bound:
            failures.append(f"RSS grew {growth / 1024:.1f} MB after the warm-up (bound {bound / 1024:.1f} MB)")
        if max(s[2] for s in later) > fd_warm + a.fd_slack:
            failures.append(f"descriptors reached {max(s[2] for s in later)} (warm-up max {fd_warm} + {a.fd_slack})")
    if samples[-1][2] > samples[0][2] + 2:
        failures.append(f"descriptors at the end {samples[-1][2]} > at the start {samples[0][2]} (+2)")
    needed = ["learn", "probe", "predict", "http_predict", "http_learn", "abrupt", "garbage_lines"]
    failures += [f"no {k} request was answered" for k in needed if not sh.counts.get(k)]
    result["failures"] = failures
    return result


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--short", action="store_true", help="a ~8 s run (smoke test): 0.1 minutes, a swap every 2 s")
    ap.add_argument("--clients", type=int, default=4, help="line-protocol clients (half pipelined)")
    ap.add_argument("--threads", type=int, default=2, help="the daemon's worker threads (--num_children)")
    ap.add_argument("--swap_seconds", type=float, default=30.0)
    ap.add_argument("--pause_ms", type=float, default=2.0, help="each client's pause between requests (0: flat out)")
    ap.add_argument("--sample_seconds", type=float, default=1.0)
    ap.add_argument("--max_line_bytes", type=int, default=1 << 20)
    ap.add_argument("--rss_bound_mb", type=float, default=16.0)
    ap.add_argument("--fd_slack", type=int, default=16)
    ap.add_argument("--stop_on_failure", action="store_true")
    ap.add_argument("--json", help="write every number here")
    a = ap.parse_args(argv)
    if a.short:
        a.minutes, a.swap_seconds, a.sample_seconds, a.max_line_bytes = 0.1, 2.0, 0.25, 1 << 16
        a.pause_ms = 0.0
    res = run(a)
    report(res, a.json)
    print(json.dumps({k: v for k, v in res.items() if k != "per_period"}, indent=1))
    for row in res["per_period"]:
        print(json.dumps(row))
    return fail_lines(res["failures"])


if __name__ == "__main__":
    sys.exit(main())

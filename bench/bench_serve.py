"""Load, faults and hot swap against wabbit's serving engine (issue 16), on 127.0.0.1 only.

Compiles ``bench/serve_load.cc`` (the load generator: every reply checked for order, tag and a
finite prediction) and ``bench/echo_server.cc`` (a minimal C++ echo server: the physical limit)
into a temporary folder, then in one run:

* **load**: 200 clients, 10^6 requests, 90% predictions and 10% labelled (learned) lines, pipelined
  (64 requests in flight per client) and request by request, first against the echo servers (epoll
  and thread per connection; the faster is the limit), then against wabbit's server in a separate
  process. The server's peak RSS (VmHWM) is read at the start and at the end.
* **faults**: the p99 latency of 50 request-by-request clients, quiet, then while one client sends
  100 MB without a newline (reconnecting when the server cuts it off at max_line_bytes), one
  connects and says nothing, one keeps closing mid-line and one sends random bytes.
* **hot swap**: 50 request-by-request clients predict, quiet, then while 20 versions are swapped in
  (each version predicts its own constant): every reply must be one of the constants, never an
  older one after a newer one on the same connection; latency is compared with the quiet phase.

The server is ``python -m wabbit --daemon --foreground --port 0 --port_file F --quiet`` when the CLI
has ``--daemon`` (the hot swap always uses the script), else this file run with ``--child``: a
``_core.Server`` in its own process. Everything is bounded (counts, durations, timeouts).

Run::

    python bench/bench_serve.py [--quick] [--requests 1000000] [--clients 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOST = "127.0.0.1"


# --------------------------------------------------------------------------------------------
# the server process (``--child``)


def child_main(argv: List[str]) -> None:
    """A ``_core.Server`` in this process until SIGTERM. With ``--versions N`` it first builds N
    constant models (version k predicts about 0.1*(k+1) for every example), serves the first, prints
    their predictions, and swaps in the others when stdin says ``swap INTERVAL``."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--port_file", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model_args", default="")
    ap.add_argument("--versions", type=int, default=0)
    ap.add_argument("--test_only", action="store_true")
    a = ap.parse_args(argv)
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import wabbit
    from wabbit import _core, persistence

    models = []
    if a.versions:
        for k in range(a.versions):
            m = wabbit.Model(a.model_args)
            for _ in range(200):
                m.learn({}, 0.1 * (k + 1))
            models.append(m)
    else:
        models.append(wabbit.Model(a.model_args))
    m0 = models[0]
    opts = {"listen": HOST, "port": 0, "threads": a.threads, "learn": not a.test_only}
    srv = _core.Server(m0.core, opts, wabbit.__version__, m0.args, persistence.metadata_json(m0))
    srv.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{srv.port}\n")
    os.replace(tmp, a.port_file)
    print(json.dumps({"port": srv.port, "values": [m.predict({}) for m in models]}), flush=True)
    if a.versions:
        for line in sys.stdin:
            cmd = line.split()
            if not cmd:
                continue
            if cmd[0] == "swap":
                interval = float(cmd[1])
                took = []
                for k in range(1, len(models)):
                    time.sleep(interval)
                    m = models[k]
                    t0 = time.perf_counter()
                    srv.swap(m.core, f"v{k}", m.args, persistence.metadata_json(m))
                    took.append(time.perf_counter() - t0)
                print(
                    json.dumps({"swaps": len(took), "swap_seconds_max": max(took), "version": srv.version}), flush=True
                )
            elif cmd[0] == "quit":
                break
    else:
        while not stop.wait(0.2):
            pass
    stats = srv.stats()
    srv.stop()
    print(json.dumps({"stats": {k: stats[k] for k in ("requests", "examples_learned", "connections_total", "swaps")}}))


# --------------------------------------------------------------------------------------------
# helpers


def build(tmp: str) -> Dict[str, str]:
    out = {}
    for name in ("serve_load", "echo_server"):
        exe = os.path.join(tmp, name)
        cmd = ["c++", "-O2", "-std=c++20", "-pthread", os.path.join(HERE, name + ".cc"), "-o", exe]
        subprocess.run(cmd, check=True)
        out[name] = exe
    return out


def wait_port_file(path: str, proc: subprocess.Popen, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}) before writing {path}")
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no port in {path} after {timeout} s")


def rss_kb(pid: int) -> Dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out


def has_cli_daemon() -> bool:
    env = child_env()
    try:
        r = subprocess.run(
            [sys.executable, "-m", "wabbit", "--help"], capture_output=True, text=True, env=env, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--daemon" in r.stdout


def child_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.path.join(ROOT, "python"), env.get("PYTHONPATH", "")] if p)
    return env


class ServerProc:
    """wabbit's server in its own process (the CLI or ``--child``)."""

    def __init__(self, tmp: str, threads: int, use_cli: bool, versions: int = 0, test_only: bool = False) -> None:
        self.port_file = os.path.join(tmp, f"wabbit.port.{time.monotonic_ns()}")
        if use_cli and not versions:
            cmd = [
                sys.executable,
                "-m",
                "wabbit",
                "--daemon",
                "--foreground",
                "--port",
                "0",
                "--port_file",
                self.port_file,
                "--quiet",
                "--num_children",
                str(threads),
            ]
            if test_only:
                cmd.append("-t")
            self.kind = "cli"
        else:
            cmd = [
                sys.executable,
                os.path.abspath(__file__),
                "--child",
                "--port_file",
                self.port_file,
                "--threads",
                str(threads),
            ]
            if versions:
                cmd += ["--versions", str(versions)]
            if test_only:
                cmd.append("--test_only")
            self.kind = "script"
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env())
        self.port = wait_port_file(self.port_file, self.proc)
        self.info: Dict[str, Any] = {}
        if self.kind == "script":
            assert self.proc.stdout is not None
            self.info = json.loads(self.proc.stdout.readline())

    def command(self, line: str) -> Dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        if self.proc.poll() is None:
            if self.kind == "script" and "--versions" in self.cmd:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                rest, _ = self.proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rest, _ = self.proc.communicate(timeout=30)
            for line in (rest or "").splitlines():
                if line.startswith("{"):
                    out.update(json.loads(line))
        return out


def run_load(exe: str, port: int, clients: int, requests: int, mode: str, *extra: str, timeout: float = 180) -> Dict:
    cmd = [exe, HOST, str(port), str(clients), str(requests), mode, "--timeout", str(timeout), *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
    if r.returncode != 0:
        raise RuntimeError(f"serve_load failed: {r.stderr}")
    return json.loads(r.stdout)


def start_echo(exe: str, tmp: str, model: str, threads: int) -> tuple:
    pf = os.path.join(tmp, f"echo.port.{model}")
    p = subprocess.Popen(
        [exe, "--port_file", pf, "--model", model, "--threads", str(threads)], stdout=subprocess.DEVNULL
    )
    return p, wait_port_file(pf, p)


# --------------------------------------------------------------------------------------------
# faulty clients (threads in this process)


class Faults:
    """The four faulty clients of the acceptance test, until ``stop()``."""

    def __init__(self, port: int, flood_bytes: int) -> None:
        self.port = port
        self.flood_bytes = flood_bytes
        self.halt = threading.Event()
        self.counts = {
            "flood_sent": 0,
            "flood_connections": 0,
            "flood_error_replies": 0,
            "midline_closes": 0,
            "random_sent": 0,
            "random_replies": 0,
            "random_error_replies": 0,
        }
        self.silent: Optional[socket.socket] = None
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self.flood, self.midline, self.random)]

    def start(self) -> None:
        self.silent = socket.create_connection((HOST, self.port), timeout=10)
        for t in self.threads:
            t.start()

    def stop(self) -> Dict[str, int]:
        self.halt.set()
        for t in self.threads:
            t.join(timeout=30)
        if self.silent is not None:
            self.silent.close()
        return dict(self.counts)

    def flood(self) -> None:
        chunk = b"x" * (1 << 20)
        while not self.halt.is_set() and self.counts["flood_sent"] < self.flood_bytes:
            try:
                s = socket.create_connection((HOST, self.port), timeout=10)
            except OSError:
                time.sleep(0.01)
                continue
            self.counts["flood_connections"] += 1
            try:
                s.sendall(b"1 'flood |f ")
                while not self.halt.is_set() and self.counts["flood_sent"] < self.flood_bytes:
                    s.sendall(chunk)
                    self.counts["flood_sent"] += len(chunk)
            except OSError:
                pass  # cut off by the server: the line is over its limit
            try:
                s.settimeout(2)
                if s.recv(4096).startswith(b"error"):
                    self.counts["flood_error_replies"] += 1
            except OSError:
                pass
            s.close()

    def midline(self) -> None:
        while not self.halt.is_set():
            try:
                with socket.create_connection((HOST, self.port), timeout=10) as s:
                    s.sendall(b"1 'cut |u u1 |i i2 x:0.")
                self.counts["midline_closes"] += 1
            except OSError:
                pass
            time.sleep(0.005)

    def random(self) -> None:
        rng = random.Random(16)
        try:
            with socket.create_connection((HOST, self.port), timeout=10) as s:
                s.setblocking(False)
                while not self.halt.is_set():
                    data = rng.randbytes(16384)
                    try:
                        self.counts["random_sent"] += s.send(data)
                    except BlockingIOError:
                        pass
                    while True:
                        try:
                            got = s.recv(1 << 16)
                        except BlockingIOError:
                            break
                        if not got:
                            return
                        self.counts["random_replies"] += got.count(b"\n")
                        self.counts["random_error_replies"] += got.count(b"error")
                    time.sleep(0.002)
        except OSError:
            pass


# --------------------------------------------------------------------------------------------
# the scenarios


def scenario_load(exes: Dict[str, str], tmp: str, a: argparse.Namespace, use_cli: bool) -> Dict[str, Any]:
    out: Dict[str, Any] = {"echo": {}, "wabbit": {}}
    common = ["--learn", "0.1", "--window", str(a.window)]
    for model in ("epoll", "thread"):
        p, port = start_echo(exes["echo_server"], tmp, model, a.server_threads)
        try:
            out["echo"][model] = {
                "pipelined": run_load(exes["serve_load"], port, a.clients, a.requests, "pipelined", "--echo", *common),
                "rr": run_load(exes["serve_load"], port, a.clients, a.rr_requests, "rr", "--echo", *common),
            }
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
    srv = ServerProc(tmp, a.server_threads, use_cli)
    try:
        out["server_kind"] = srv.kind
        out["rss_idle_kb"] = rss_kb(srv.proc.pid)
        # warm-up: every connection's buffers and the allocator's arenas exist before "start" is read
        warm = max(a.clients * 10, a.requests // 50)
        out["warmup"] = [
            run_load(exes["serve_load"], srv.port, a.clients, warm, "pipelined", *common, "--seed", "2"),
            run_load(exes["serve_load"], srv.port, a.clients, warm // 4, "rr", *common, "--seed", "3"),
        ]
        out["rss_start_kb"] = rss_kb(srv.proc.pid)
        out["wabbit"]["pipelined"] = run_load(exes["serve_load"], srv.port, a.clients, a.requests, "pipelined", *common)
        out["rss_after_pipelined_kb"] = rss_kb(srv.proc.pid)
        out["wabbit"]["rr"] = run_load(exes["serve_load"], srv.port, a.clients, a.rr_requests, "rr", *common)
        out["rss_end_kb"] = rss_kb(srv.proc.pid)
    finally:
        out["server_exit"] = srv.stop()
    return out


def scenario_faults(exes: Dict[str, str], tmp: str, a: argparse.Namespace, use_cli: bool) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    srv = ServerProc(tmp, a.server_threads, use_cli)
    try:
        args = ("--learn", "0.1")
        n = a.fault_requests
        out["quiet"] = run_load(exes["serve_load"], srv.port, 50, n, "rr", *args)
        faults = Faults(srv.port, a.flood_mb << 20)
        faults.start()
        time.sleep(0.2)
        try:
            out["faults"] = run_load(exes["serve_load"], srv.port, 50, n, "rr", *args)
        finally:
            out["fault_clients"] = faults.stop()
        out["quiet_after"] = run_load(exes["serve_load"], srv.port, 50, n, "rr", *args)
        out["alive"] = srv.proc.poll() is None
    finally:
        out["server_exit"] = srv.stop()
    return out


def scenario_swap(exes: Dict[str, str], tmp: str, a: argparse.Namespace) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    srv = ServerProc(tmp, a.server_threads, False, versions=20, test_only=True)
    try:
        values = srv.info["values"]
        out["values"] = values
        vals = ",".join(repr(v) for v in values)
        d = a.swap_seconds
        out["quiet"] = run_load(
            exes["serve_load"], srv.port, 50, 10**9, "rr", "--learn", "0", "--duration", str(d), "--values", vals
        )
        box: Dict[str, Any] = {}
        t = threading.Thread(
            target=lambda: box.update(
                run_load(
                    exes["serve_load"],
                    srv.port,
                    50,
                    10**9,
                    "rr",
                    "--learn",
                    "0",
                    "--duration",
                    str(d),
                    "--values",
                    vals,
                )
            )
        )
        t.start()
        time.sleep(0.3)
        out["swapper"] = srv.command(f"swap {(d - 0.6) / 19:.4f}")
        t.join(timeout=d + 120)
        out["swaps"] = box
    finally:
        out["server_exit"] = srv.stop()
    return out


# --------------------------------------------------------------------------------------------
# report


def lat(r: Dict) -> str:
    x = r["latency_ms"]
    return f"{x['p50']:.3f} / {x['p99']:.3f} / {x['max']:.2f}"


def markdown(res: Dict[str, Any], cmd: str) -> str:
    L = []
    ld = res["load"]
    L.append(
        f"`{cmd}` ({res['when']}, {res['machine']}; server: {ld['server_kind']}, "
        f"{res['args']['server_threads']} worker threads; the load generator is one epoll thread)"
    )
    L.append("")
    L.append("Load (200 clients, 90% predict / 10% learn; pipelined = 64 requests in flight per client):")
    L.append("")
    L.append("| server | mode | requests | bad replies | seconds | requests/s | latency ms p50 / p99 / max |")
    L.append("|---|---|---|---|---|---|---|")
    for model, runs in ld["echo"].items():
        for mode, r in runs.items():
            L.append(
                f"| echo ({model}) | {mode} | {r['requests']:,} | {r['bad']} | {r['seconds']:.2f} | "
                f"{r['requests_per_s']:,.0f} | {lat(r)} |"
            )
    for mode, r in ld["wabbit"].items():
        L.append(
            f"| wabbit | {mode} | {r['requests']:,} | {r['bad']} | {r['seconds']:.2f} | "
            f"{r['requests_per_s']:,.0f} | {lat(r)} |"
        )
    L.append("")
    s = res["summary"]
    L.append(
        f"- Pipelined throughput, wabbit / best echo: {s['pipelined_ratio']:.2f} (target >= 0.5); "
        f"request by request: {s['rr_ratio']:.2f}."
    )
    L.append(
        f"- Server peak RSS (VmHWM): {s['rss_idle_mb']:.1f} MB idle (no connection yet), {s['rss_start_mb']:.1f} MB "
        f"at the start (after a warm-up of {ld['warmup'][0]['requests']:,} pipelined and "
        f"{ld['warmup'][1]['requests']:,} request-by-request requests over {res['args']['clients']} connections), "
        f"{s['rss_end_mb']:.1f} MB at the end: {s['rss_growth_pct']:+.1f}% over the run (target < 10%); "
        f"{s['rss_growth_idle_pct']:+.1f}% from idle."
    )
    fa = res["faults"]
    L.append(
        f"- Faults (50 request-by-request clients, {fa['quiet']['requests']:,} requests each run): p99 "
        f"{fa['quiet']['latency_ms']['p99']:.3f} ms quiet, {fa['faults']['latency_ms']['p99']:.3f} ms with the "
        f"faulty clients ({s['faults_p99_ratio']:.2f}x, target <= 2x), "
        f"{fa['quiet_after']['latency_ms']['p99']:.3f} ms quiet again; bad replies "
        f"{fa['quiet']['bad']} / {fa['faults']['bad']} / {fa['quiet_after']['bad']}. Faulty clients: "
        f"{fa['fault_clients']['flood_sent'] / 2**20:.0f} MB without a newline over "
        f"{fa['fault_clients']['flood_connections']} connection(s) ({fa['fault_clients']['flood_error_replies']} "
        f"error replies: the server answers the over-long line with an error at 1 MB, then discards for 1 s "
        f"before it closes), "
        f"{fa['fault_clients']['midline_closes']} closes mid-line, "
        f"{fa['fault_clients']['random_sent'] / 2**20:.1f} MB of random bytes "
        f"({fa['fault_clients']['random_replies']} reply lines, {fa['fault_clients']['random_error_replies']} "
        f"errors), one silent connection."
    )
    sw = res["swap"]
    q, w = sw["quiet"], sw["swaps"]
    L.append(
        f"- Hot swap (50 request-by-request clients, {res['args']['swap_seconds']} s quiet, then "
        f"{res['args']['swap_seconds']} s while {sw['swapper']['swaps']} versions are swapped in; longest "
        f"swap call {sw['swapper']['swap_seconds_max'] * 1000:.1f} ms): {w['requests']:,} requests, "
        f"{w['bad']} bad (not one version's constant: {w['not_in_values']}, older after newer: "
        f"{w['non_monotone']}), replies per version {w.get('per_value')}. Latency p50 / p99 / max, quiet "
        f"{lat(q)} ms, during swaps {lat(w)} ms: max +{s['swap_max_delta_ms']:.2f} ms, p99 "
        f"+{s['swap_p99_delta_ms']:.2f} ms (target: no more than 10 ms above quiet)."
    )
    return "\n".join(L)


def summarize(res: Dict[str, Any]) -> Dict[str, Any]:
    ld = res["load"]
    best_echo_p = max(r["pipelined"]["requests_per_s"] for r in ld["echo"].values())
    best_echo_rr = max(r["rr"]["requests_per_s"] for r in ld["echo"].values())
    s: Dict[str, Any] = {
        "pipelined_ratio": ld["wabbit"]["pipelined"]["requests_per_s"] / best_echo_p,
        "rr_ratio": ld["wabbit"]["rr"]["requests_per_s"] / best_echo_rr,
        "rss_idle_mb": ld["rss_idle_kb"]["VmHWM"] / 1024,
        "rss_start_mb": ld["rss_start_kb"]["VmHWM"] / 1024,
        "rss_end_mb": ld["rss_end_kb"]["VmHWM"] / 1024,
    }
    s["rss_growth_pct"] = 100 * (s["rss_end_mb"] / s["rss_start_mb"] - 1)
    s["rss_growth_idle_pct"] = 100 * (s["rss_end_mb"] / s["rss_idle_mb"] - 1)
    fa = res["faults"]
    s["faults_p99_ratio"] = fa["faults"]["latency_ms"]["p99"] / max(1e-9, fa["quiet"]["latency_ms"]["p99"])
    sw = res["swap"]
    s["swap_max_delta_ms"] = sw["swaps"]["latency_ms"]["max"] - sw["quiet"]["latency_ms"]["max"]
    s["swap_p99_delta_ms"] = sw["swaps"]["latency_ms"]["p99"] - sw["quiet"]["latency_ms"]["p99"]
    bad = sum(r["bad"] for runs in ld["echo"].values() for r in runs.values())
    bad += sum(r["bad"] for r in ld["wabbit"].values())
    bad += fa["quiet"]["bad"] + fa["faults"]["bad"] + fa["quiet_after"]["bad"]
    bad += sw["quiet"]["bad"] + sw["swaps"]["bad"]
    s["bad_replies"] = bad
    s["checks"] = {
        "no bad replies": bad == 0,
        "pipelined >= 0.5 echo": s["pipelined_ratio"] >= 0.5,
        "rss growth < 10%": s["rss_growth_pct"] < 10,
        "faults p99 <= 2x quiet": s["faults_p99_ratio"] <= 2,
        "server alive after faults": fa["alive"],
        "swap max <= quiet + 10 ms": s["swap_max_delta_ms"] <= 10,
        "all 20 versions served": sw["swapper"]["swaps"] == 19 and sw["swapper"]["version"] == "v19",
    }
    return s


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short smoke run (fewer requests, shorter phases)")
    ap.add_argument("--requests", type=int, default=1_000_000, help="pipelined requests per server")
    ap.add_argument("--rr_requests", type=int, default=1_000_000, help="request-by-request requests per server")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--window", type=int, default=64, help="requests in flight per client, pipelined")
    ap.add_argument("--server_threads", type=int, default=2, help="worker threads of wabbit's and the echo server")
    ap.add_argument("--fault_requests", type=int, default=200_000)
    ap.add_argument("--flood_mb", type=int, default=100)
    ap.add_argument("--swap_seconds", type=float, default=6.0)
    ap.add_argument("--server", choices=["auto", "cli", "script"], default="auto")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--markdown", help="write the RESULTS.md section here")
    a = ap.parse_args()
    if a.quick:
        a.requests, a.rr_requests, a.fault_requests, a.swap_seconds = 100_000, 50_000, 20_000, 2.0
        a.flood_mb = min(a.flood_mb, 20)
    use_cli = a.server == "cli" or (a.server == "auto" and has_cli_daemon())
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bench_serve.")
    try:
        exes = build(tmp)
        res: Dict[str, Any] = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} shared cores, {platform.platform()}",
            "args": vars(a),
        }
        res["load"] = scenario_load(exes, tmp, a, use_cli)
        print("load done", round(time.monotonic() - t0, 1), "s", file=sys.stderr)
        res["faults"] = scenario_faults(exes, tmp, a, use_cli)
        print("faults done", round(time.monotonic() - t0, 1), "s", file=sys.stderr)
        res["swap"] = scenario_swap(exes, tmp, a)
        res["seconds"] = time.monotonic() - t0
        res["summary"] = summarize(res)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cmd = "python bench/bench_serve.py " + " ".join(sys.argv[1:])
    md = markdown(res, cmd.strip())
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(md + "\n")
    print(md)
    print()
    for name, ok in res["summary"]["checks"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"whole bench: {res['seconds']:.0f} s")


if __name__ == "__main__":
    main()

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
        [--markdown section.md] [--only load,faults,swap] [--server auto|cli|script] [--python_path DIR]

``--python_path`` is the folder the server processes import wabbit from (default: this checkout's
``python/``); ``--server cli`` insists on the daemon CLI, ``script`` on the ``_core.Server`` script.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
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
                order = [int(x) for x in cmd[2].split(",")] if len(cmd) > 2 else list(range(1, len(models)))
                took = []
                at = []
                for k in order:
                    time.sleep(interval)
                    m = models[k]
                    t0 = time.monotonic()
                    srv.swap(m.core, f"v{k}", m.args, persistence.metadata_json(m))
                    t1 = time.monotonic()
                    took.append(t1 - t0)
                    at.append([t0, t1])
                print(
                    json.dumps({"swaps": len(took), "swap_seconds_max": max(took), "version": srv.version, "at": at}),
                    flush=True,
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def has_cli_daemon() -> bool:
    env = child_env()
    try:
        r = subprocess.run(
            [sys.executable, "-m", "wabbit", "--help"], capture_output=True, text=True, env=env, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--daemon" in r.stdout


# where the server processes import wabbit from (--python_path): this checkout's package when it has
# a built module (tools/dev_build.sh), else nothing added (the installed package)
PYTHON_PATH = [os.path.join(ROOT, "python") if glob.glob(os.path.join(ROOT, "python", "wabbit", "_core*.so")) else ""]


def child_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [PYTHON_PATH[0], env.get("PYTHONPATH", "")] if p)
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


def start_load(exe: str, port: int, clients: int, requests: int, mode: str, *extra: str, timeout: float = 180) -> Any:
    cmd = [exe, HOST, str(port), str(clients), str(requests), mode, "--timeout", str(timeout), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_load(p: Any, timeout: float) -> Dict:
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    if p.returncode != 0:
        raise RuntimeError(f"serve_load failed: {err}")
    return json.loads(out)


def run_load(exe: str, port: int, clients: int, requests: int, mode: str, *extra: str, timeout: float = 180) -> Dict:
    return finish_load(start_load(exe, port, clients, requests, mode, *extra, timeout=timeout), timeout + 30)


def start_echo(exe: str, tmp: str, model: str, threads: int) -> tuple:
    pf = os.path.join(tmp, f"echo.port.{model}.{time.monotonic_ns()}")
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
    """The echo servers and wabbit's, all started first, then driven in turn (pipelined rounds, then
    request-by-request rounds), so a change in the machine's load touches every server alike."""
    out: Dict[str, Any] = {"runs": {}}
    common = ["--learn", "0.1", "--window", str(a.window)]
    echos = {}
    srv = None
    try:
        for model in ("epoll", "thread"):
            echos[f"echo ({model})"] = start_echo(exes["echo_server"], tmp, model, a.server_threads)
        srv = ServerProc(tmp, a.server_threads, use_cli)
        out["server_kind"] = srv.kind
        out["rss_idle_kb"] = rss_kb(srv.proc.pid)
        # warm-up: every connection's buffers and the allocator's arenas exist before "start" is read
        warm = max(a.clients * 10, a.requests // 50)
        out["warmup"] = [
            run_load(exes["serve_load"], srv.port, a.clients, warm, "pipelined", *common, "--seed", "2"),
            run_load(exes["serve_load"], srv.port, a.clients, warm // 4, "rr", *common, "--seed", "3"),
        ]
        out["rss_start_kb"] = rss_kb(srv.proc.pid)
        ports = {name: port for name, (_, port) in echos.items()}
        ports["wabbit"] = srv.port
        pids = {name: p.pid for name, (p, _) in echos.items()}
        pids["wabbit"] = srv.proc.pid
        for name in ports:
            out["runs"][name] = {"pipelined": [], "rr": []}
        for mode, n in (("pipelined", a.requests), ("rr", a.rr_requests)):
            for rep in range(a.repeat):
                for name, port in ports.items():
                    extra = ["--echo"] if name.startswith("echo") else []
                    c0 = cpu_seconds(pids[name])
                    r = run_load(exes["serve_load"], port, a.clients, n, mode, *extra, *common, "--seed", str(10 + rep))
                    r["server_cpu_s"] = cpu_seconds(pids[name]) - c0
                    out["runs"][name][mode].append(r)
            if mode == "pipelined":
                out["rss_after_pipelined_kb"] = rss_kb(srv.proc.pid)
        out["rss_end_kb"] = rss_kb(srv.proc.pid)
    finally:
        for p, _ in echos.values():
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
        if srv is not None:
            out["server_exit"] = srv.stop()
    return out


def median_run(runs: List[Dict]) -> Dict:
    """The run with the median throughput (the lower middle one for an even count)."""
    return sorted(runs, key=lambda r: r["requests_per_s"])[(len(runs) - 1) // 2]


def scenario_faults(exes: Dict[str, str], tmp: str, a: argparse.Namespace, use_cli: bool) -> Dict[str, Any]:
    """Rounds of a quiet run and a run with the four faulty clients (a fresh set each round)."""
    out: Dict[str, Any] = {"rounds": []}
    srv = ServerProc(tmp, a.server_threads, use_cli)
    try:
        args = ("--learn", "0.1")
        n = a.fault_requests
        for _ in range(a.fault_rounds):
            r: Dict[str, Any] = {"quiet": run_load(exes["serve_load"], srv.port, 50, n, "rr", *args)}
            faults = Faults(srv.port, a.flood_mb << 20)
            faults.start()
            time.sleep(0.1)
            try:
                r["faults"] = run_load(exes["serve_load"], srv.port, 50, n, "rr", *args)
            finally:
                r["fault_clients"] = faults.stop()
            out["rounds"].append(r)
        out["quiet_after"] = run_load(exes["serve_load"], srv.port, 50, n, "rr", *args)
        out["alive"] = srv.proc.poll() is None
    finally:
        out["server_exit"] = srv.stop()
    return out


def scenario_swap(exes: Dict[str, str], tmp: str, a: argparse.Namespace) -> Dict[str, Any]:
    """Rounds of a quiet phase and a phase with 19 swaps; odd rounds swap back down (v18 ... v0), and
    their clients are given the constants in that order, so "never older" still means monotone."""
    out: Dict[str, Any] = {"rounds": []}
    srv = ServerProc(tmp, a.server_threads, False, versions=20, test_only=True)
    try:
        values = srv.info["values"]
        out["values"] = values
        d = a.swap_seconds
        for rnd in range(a.swap_rounds):
            order = list(range(20)) if rnd % 2 == 0 else list(range(19, -1, -1))
            vals = ",".join(repr(values[k]) for k in order)
            load = ("--learn", "0", "--duration", str(d), "--values", vals, "--slow_ms", "5")
            r: Dict[str, Any] = {"order": "up" if rnd % 2 == 0 else "down"}
            t_quiet = time.monotonic()
            r["quiet"] = run_load(exes["serve_load"], srv.port, 50, 10**9, "rr", *load)
            t_swaps = time.monotonic()
            running = start_load(exes["serve_load"], srv.port, 50, 10**9, "rr", *load)
            time.sleep(0.3)
            r["swapper"] = srv.command(f"swap {(d - 0.6) / 19:.4f} {','.join(map(str, order[1:]))}")
            r["swaps"] = box = finish_load(running, d + 120)
            # slow replies (>= 5 ms) whose wait overlapped a swap call
            at = r["swapper"]["at"]
            overl = [
                ms for sent, ms in box.get("slow", []) if any(sent <= t1 and sent + ms / 1000 >= t0 for t0, t1 in at)
            ]
            r["slow_overlapping_swap"] = len(overl)
            r["max_ms_overlapping_swap"] = max(overl, default=None)  # None: every such reply took < 5 ms
            for phase in ("quiet", "swaps"):
                slow = [ms for _, ms in r[phase].get("slow", [])]
                r[phase]["n_over_5ms"] = len(slow)
                r[phase]["n_over_10ms"] = sum(ms >= 10 for ms in slow)
            # Stalls (replies >= 8 ms, grouped by when they came back) near a swap call (from 20 ms before
            # it starts to 40 ms after), against the same schedule laid over the quiet phase (chance).
            starts = [t0 for t0, _ in at]
            phantom = [t_quiet + (t0 - t_swaps) for t0 in starts]
            r["stalls_near_swaps"] = stalls_near(box.get("slow", []), starts)
            r["stalls_near_phantom_swaps_quiet"] = stalls_near(r["quiet"].get("slow", []), phantom)
            out["rounds"].append(r)
    finally:
        out["server_exit"] = srv.stop()
    return out


def stalls_near(slow: List[List[float]], marks: List[float]) -> List[int]:
    """[stall events, of which near a mark]: replies >= 8 ms grouped by arrival (2 ms apart at most)."""
    arrivals = sorted(sent + ms / 1000 for sent, ms in slow if ms >= 8)
    events: List[float] = []
    last = -1e18
    for t in arrivals:
        if t - last > 0.002:
            events.append(t)
        last = t
    near = sum(1 for e in events if any(m - 0.02 <= e <= m + 0.04 for m in marks))
    return [len(events), near]


# --------------------------------------------------------------------------------------------
# report


def lat(r: Dict) -> str:
    x = r["latency_ms"]
    return f"{x['p50']:.3f} / {x['p99']:.3f} / {x['max']:.2f}"


def markdown(res: Dict[str, Any], cmd: str) -> str:
    L = []
    s = res["summary"]
    kind = res.get("load", res.get("faults", {})).get("server_kind", "script")
    L.append(
        f"`{cmd}` ({res['when']}, {res['machine']}; wabbit's server: {kind}, "
        f"{res['args']['server_threads']} worker threads; the load generator is one epoll thread; whole run "
        f"{res['seconds']:.0f} s)"
    )
    L.append("")
    if "load" in res:
        md_load(L, res, s)
    if "faults" in res:
        md_faults(L, res, s)
    if "swap" in res:
        md_swap(L, res, s)
    return "\n".join(L)


def md_load(L: List[str], res: Dict[str, Any], s: Dict[str, Any]) -> None:
    ld = res["load"]
    reps = res["args"]["repeat"]
    L.append(
        f"Load: {res['args']['clients']} clients, 90% predict / 10% learn (labelled lines); pipelined = "
        f"{res['args']['window']} requests in flight per client; the servers take turns, {reps} rounds per mode. "
        f"Throughput is the median round (min - max in brackets); latency (send to reply) from the median round:"
    )
    L.append("")
    L.append(
        "| server | mode | requests per round | bad replies (all rounds) | requests/s | latency ms p50 / p99 / max | "
        "server CPU us per request |"
    )
    L.append("|---|---|---|---|---|---|---|")
    for mode in ("pipelined", "rr"):
        for name, modes in ld["runs"].items():
            runs = modes[mode]
            m = median_run(runs)
            lo = min(r["requests_per_s"] for r in runs)
            hi = max(r["requests_per_s"] for r in runs)
            L.append(
                f"| {name} | {mode} | {m['requests']:,} | {sum(r['bad'] for r in runs)} | "
                f"{m['requests_per_s']:,.0f} ({lo:,.0f} - {hi:,.0f}) | {lat(m)} | "
                f"{1e6 * sum(r['server_cpu_s'] for r in runs) / sum(r['replies'] for r in runs):.2f} |"
            )
    L.append("")
    L.append(
        f"- Pipelined throughput, wabbit / the faster echo server of the same round: "
        f"{', '.join(f'{x:.2f}' for x in s['pipelined_round_ratios'])}, median {s['pipelined_ratio']:.2f} "
        f"(target >= 0.5; the ratio of the medians above: {s['pipelined_ratio_of_medians']:.2f}). Request by "
        f"request: {', '.join(f'{x:.2f}' for x in s['rr_round_ratios'])}, median {s['rr_ratio']:.2f}."
    )
    L.append(
        f"- Server peak RSS (VmHWM): {s['rss_idle_mb']:.1f} MB idle (no connection yet), {s['rss_start_mb']:.1f} MB "
        f"at the start (after a warm-up of {ld['warmup'][0]['requests']:,} pipelined and "
        f"{ld['warmup'][1]['requests']:,} request-by-request requests over {res['args']['clients']} connections), "
        f"{s['rss_end_mb']:.1f} MB at the end: {s['rss_growth_pct']:+.1f}% over the run (target < 10%); "
        f"{s['rss_growth_idle_pct']:+.1f}% from idle."
    )


def md_faults(L: List[str], res: Dict[str, Any], s: Dict[str, Any]) -> None:
    fa = res["faults"]
    L.append("")
    L.append(
        f"Faults: 50 request-by-request clients ({fa['quiet_after']['requests']:,} requests a run, 10% learned), "
        f"quiet, then while one client sends {res['args']['flood_mb']} MB without a newline (the server answers "
        f"an error at the 1 MB line limit, then discards what follows for 1 s before it closes; the client "
        f"reconnects if it is cut off), one connects and says nothing, one keeps connecting and closing mid-line, "
        f"one sends random bytes; {len(fa['rounds'])} rounds, each with new faulty clients:"
    )
    L.append("")
    L.append(
        "| round | phase | requests | bad replies | latency ms p50 / p99 / max | p99 / quiet p99 | "
        "flood MB (connections, error replies) | mid-line closes | random MB (replies, errors) |"
    )
    L.append("|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(fa["rounds"]):
        q, f, c = r["quiet"], r["faults"], r["fault_clients"]
        L.append(f"| {i + 1} | quiet | {q['requests']:,} | {q['bad']} | {lat(q)} | | | | |")
        L.append(
            f"| {i + 1} | faults | {f['requests']:,} | {f['bad']} | {lat(f)} | {s['faults_p99_ratios'][i]:.2f} | "
            f"{c['flood_sent'] / 2**20:.0f} ({c['flood_connections']}, {c['flood_error_replies']}) | "
            f"{c['midline_closes']} | {c['random_sent'] / 2**20:.1f} ({c['random_replies']}, "
            f"{c['random_error_replies']}) |"
        )
    qa = fa["quiet_after"]
    L.append(f"| after | quiet | {qa['requests']:,} | {qa['bad']} | {lat(qa)} | | | | |")
    L.append("")
    L.append(
        f"- p99 with the faulty clients / quiet p99 of the same round: "
        f"{', '.join(f'{x:.2f}' for x in s['faults_p99_ratios'])} (target <= 2); the server was "
        f"{'still running' if fa['alive'] else 'NOT running'} at the end."
    )


def md_swap(L: List[str], res: Dict[str, Any], s: Dict[str, Any]) -> None:
    sw = res["swap"]
    L.append("")
    L.append(
        f"Hot swap: 50 request-by-request clients (predictions only, the server with -t), "
        f"{res['args']['swap_seconds']} s quiet, then {res['args']['swap_seconds']} s while 19 versions are "
        f"swapped in (each predicts its own constant; odd rounds swap back down), {len(sw['rounds'])} rounds; "
        f"latency from the load generator, which shares the 2 cores:"
    )
    L.append("")
    L.append(
        "| round | phase | requests | bad | not a version's constant | older after newer | "
        "latency ms p50 / p99 / p99.9 / max | replies >= 5 ms | >= 10 ms | slowest reply that waited across a swap call |"
    )
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(sw["rounds"]):
        for phase in ("quiet", "swaps"):
            x = r[phase]
            lm = x["latency_ms"]
            if phase == "swaps":
                m = r["max_ms_overlapping_swap"]
                across = (f"{m:.2f} ms" if m is not None else "< 5 ms") + f" ({r['slow_overlapping_swap']} >= 5 ms)"
            else:
                across = ""
            L.append(
                f"| {i + 1} ({r['order']}) | {phase} | {x['requests']:,} | {x['bad']} | {x['not_in_values']} | "
                f"{x['non_monotone']} | {lm['p50']:.3f} / {lm['p99']:.3f} / {lm['p999']:.3f} / {lm['max']:.2f} | "
                f"{x['n_over_5ms']} | {x['n_over_10ms']} | {across} |"
            )
    L.append("")
    L.append(
        f"- Every swap phase served all 20 versions ({', '.join(str(r['swapper']['swaps']) for r in sw['rounds'])} "
        f"swaps, longest swap call {max(r['swapper']['swap_seconds_max'] for r in sw['rounds']) * 1000:.1f} ms); "
        f"max latency during swaps minus quiet, per round: "
        f"{', '.join(f'{d:+.2f}' for d in s['swap_max_delta_ms'])} ms; p99: "
        f"{', '.join(f'{d:+.2f}' for d in s['swap_p99_delta_ms'])} ms (target: no reply more than 10 ms "
        f"slower than in the quiet case)."
    )
    L.append(
        "- Stalls (replies of 8 ms or more, grouped by when they came back) that came within -20..+40 ms of a "
        "swap call's start, during swaps / with the same schedule laid over the quiet phase: "
        + ", ".join(
            f"{r['stalls_near_swaps'][1]} of {r['stalls_near_swaps'][0]} / "
            f"{r['stalls_near_phantom_swaps_quiet'][1]} of {r['stalls_near_phantom_swaps_quiet'][0]}"
            for r in sw["rounds"]
        )
        + f" (the windows cover {19 * 0.06 / res['args']['swap_seconds']:.0%} of a phase)."
    )


def summarize(res: Dict[str, Any]) -> Dict[str, Any]:
    s: Dict[str, Any] = {}
    checks: Dict[str, bool] = {}
    bad = 0
    if "load" in res:
        ld = res["load"]
        runs = ld["runs"]
        echo_names = [n for n in runs if n.startswith("echo")]

        def med(name: str, mode: str) -> float:
            return float(median_run(runs[name][mode])["requests_per_s"])

        def round_ratios(mode: str) -> List[float]:
            return [
                w["requests_per_s"] / max(runs[n][mode][i]["requests_per_s"] for n in echo_names)
                for i, w in enumerate(runs["wabbit"][mode])
            ]

        # the median of the rounds' ratios (each round: wabbit / the faster echo server in that round)
        s["pipelined_round_ratios"] = round_ratios("pipelined")
        s["rr_round_ratios"] = round_ratios("rr")
        s["pipelined_ratio"] = statistics.median(s["pipelined_round_ratios"])
        s["rr_ratio"] = statistics.median(s["rr_round_ratios"])
        s["pipelined_ratio_of_medians"] = med("wabbit", "pipelined") / max(med(n, "pipelined") for n in echo_names)
        s["rss_idle_mb"] = ld["rss_idle_kb"]["VmHWM"] / 1024
        s["rss_start_mb"] = ld["rss_start_kb"]["VmHWM"] / 1024
        s["rss_end_mb"] = ld["rss_end_kb"]["VmHWM"] / 1024
        s["rss_growth_pct"] = 100 * (s["rss_end_mb"] / s["rss_start_mb"] - 1)
        s["rss_growth_idle_pct"] = 100 * (s["rss_end_mb"] / s["rss_idle_mb"] - 1)
        bad += sum(r["bad"] for modes in runs.values() for rs in modes.values() for r in rs)
        checks["pipelined >= 0.5 echo"] = s["pipelined_ratio"] >= 0.5
        checks["rss growth < 10%"] = s["rss_growth_pct"] < 10
    if "faults" in res:
        fa = res["faults"]
        s["faults_p99_ratios"] = [
            r["faults"]["latency_ms"]["p99"] / max(1e-9, r["quiet"]["latency_ms"]["p99"]) for r in fa["rounds"]
        ]
        bad += sum(r["quiet"]["bad"] + r["faults"]["bad"] for r in fa["rounds"]) + fa["quiet_after"]["bad"]
        checks["faults p99 <= 2x quiet (every round)"] = max(s["faults_p99_ratios"]) <= 2
        checks["server alive after faults"] = fa["alive"]
    if "swap" in res:
        rounds = res["swap"]["rounds"]
        s["swap_max_delta_ms"] = [r["swaps"]["latency_ms"]["max"] - r["quiet"]["latency_ms"]["max"] for r in rounds]
        s["swap_p99_delta_ms"] = [r["swaps"]["latency_ms"]["p99"] - r["quiet"]["latency_ms"]["p99"] for r in rounds]
        bad += sum(r["quiet"]["bad"] + r["swaps"]["bad"] for r in rounds)
        checks["swap max <= quiet + 10 ms (every round)"] = max(s["swap_max_delta_ms"]) <= 10
        checks["all 20 versions served"] = all(
            r["swapper"]["swaps"] == 19 and r["swapper"]["version"] == ("v19" if r["order"] == "up" else "v0")
            for r in rounds
        )
    s["bad_replies"] = bad
    checks["no bad replies"] = bad == 0
    s["checks"] = checks
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
    ap.add_argument("--repeat", type=int, default=3, help="rounds of each server and mode in the load scenario")
    ap.add_argument("--window", type=int, default=64, help="requests in flight per client, pipelined")
    ap.add_argument("--server_threads", type=int, default=2, help="worker threads of wabbit's and the echo server")
    ap.add_argument("--fault_requests", type=int, default=200_000)
    ap.add_argument("--flood_mb", type=int, default=100)
    ap.add_argument("--fault_rounds", type=int, default=3)
    ap.add_argument("--swap_seconds", type=float, default=5.0, help="length of each quiet and each swap phase")
    ap.add_argument("--swap_rounds", type=int, default=3, help="quiet + swap phases, alternating")
    ap.add_argument("--only", default="load,faults,swap", help="comma-separated scenarios to run")
    ap.add_argument("--python_path", default=PYTHON_PATH[0], help="the wabbit package's folder for the servers")
    ap.add_argument("--server", choices=["auto", "cli", "script"], default="auto")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--markdown", help="write the RESULTS.md section here")
    a = ap.parse_args()
    if a.quick:
        a.requests, a.rr_requests, a.fault_requests, a.swap_seconds, a.swap_rounds = 100_000, 50_000, 20_000, 2.0, 1
        a.repeat = a.fault_rounds = 1
        a.flood_mb = min(a.flood_mb, 20)
    PYTHON_PATH[0] = os.path.abspath(a.python_path) if a.python_path else ""
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
        only = set(a.only.split(","))
        if "load" in only:
            res["load"] = scenario_load(exes, tmp, a, use_cli)
            print(f"load done at {time.monotonic() - t0:.0f} s", file=sys.stderr)
        if "faults" in only:
            res["faults"] = scenario_faults(exes, tmp, a, use_cli)
            print(f"faults done at {time.monotonic() - t0:.0f} s", file=sys.stderr)
        if "swap" in only:
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

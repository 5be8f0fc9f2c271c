"""Data-parallel training over MPI (``wabbit ... --allreduce``): throughput of 2 ranks against 1,
and the cost of one sync of a large table.

    python bench/bench_distributed.py [--lines 2000000] [--repeats 3] [--bits 24]

1. Throughput: ``mpiexec -n 1`` and ``mpiexec -n 2 python -m wabbit -d clicks.vw --allreduce``
   (logistic, -b 18, one pass), wall clock of the whole command (start-up, reading, learning, the
   sync and -f included), best of --repeats; also one plain process (no MPI) for reference.
2. Sync cost: ``wabbit.distributed.allreduce`` of a -b 24 table (default rule: 4 floats a row,
   256 MiB; --sgd: 1 float, 64 MiB) between 2 ranks, against a bare MPI Allreduce of the same bytes
   (the bandwidth the bandwidth model in docs/distributed.md uses), and two ways to halve the
   bytes, measured only: float16 on the wire (a user-defined sum) and sparse rows (only rows some
   rank touched).

The ranks import the wabbit under test (the parent folder of ``wabbit.__file__``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import wabbit
from wabbit import synth

PARENT = str(Path(wabbit.__file__).resolve().parent.parent)

_SYNC = r"""
import json, sys, time
import numpy as np
from mpi4py import MPI
import wabbit
from wabbit import distributed, synth

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
bits, repeats, lines = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out = {}


def timed(f):
    best = float("inf")
    for _ in range(repeats):
        comm.Barrier()
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


for flags in ("", "--sgd"):
    m = wabbit.Model(f"-b {bits} --loss_function logistic {flags}")
    m.learn_many(list(synth.click_log(lines, seed=10 + rank)))
    table = m.core.weight_table()
    rep = distributed.allreduce(m, comm)
    learned = timed(lambda: distributed.allreduce(m, comm))
    touched = int(np.count_nonzero(np.any(table, axis=1)))
    # every row used (the worst case): random rows, adaptive sums positive
    rng = np.random.default_rng(rank)
    table[:] = rng.random(table.shape, dtype=np.float32) + np.float32(0.5)
    dense = timed(lambda: distributed.allreduce(m, comm))
    raw = np.array(table)
    bare = timed(lambda: comm.Allreduce(MPI.IN_PLACE, raw, op=MPI.SUM))
    # halving the bytes, measured only: float16 on the wire, summed by a Python-level operation
    half = table.astype(np.float16).reshape(-1)

    def add16(a, b, dt):
        y = np.frombuffer(b, dtype=np.float16)
        y += np.frombuffer(a, dtype=np.float16)

    op = MPI.Op.Create(add16, commute=True)

    def f16():
        for lo in range(0, half.size, 1 << 22):
            comm.Allreduce(MPI.IN_PLACE, [half[lo : lo + (1 << 22)], MPI.SHORT], op=op)

    h = timed(f16)
    op.Free()
    out[flags or "default"] = {
        "table_mib": table.nbytes / 2**20,
        "learned_s": learned,
        "learned_reduced_mib": rep.reduced_bytes / 2**20,
        "touched_rows": touched,
        "rows": table.shape[0],
        "dense_s": dense,
        "bare_mpi_s": bare,
        "bare_mpi_gb_s": table.nbytes / bare / 1e9,
        "float16_s": h,
    }
if rank == 0:
    print(json.dumps(out))
"""


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = PARENT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _timed(cmd: list, cwd: str) -> "tuple[float, float]":
    """(wall seconds of the whole command, seconds of learning and syncing as rank 0 reports them)."""
    t = time.perf_counter()
    r = subprocess.run(
        cmd, cwd=cwd, env=_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wall = time.perf_counter() - t
    m = re.search(r"learned \d+ examples in ([0-9.]+) s", r.stderr)
    return wall, float(m.group(1)) if m else wall


def estimate(per_rank: float, features: float, overhead: float, table_bytes: int, link: float, latency: float) -> None:
    """Time to learn 10^10 examples in one pass on 10, 100, 1000 nodes (one rank each): the ranks'
    learning time from the measured per-rank throughput, plus one sync of the table, whose cost is
    the measured local work (the rule's arithmetic, the zero-block scan) plus a bandwidth model of
    a large-message allreduce (reduce-scatter then allgather: each node sends and receives about
    2 (N-1)/N of the bytes, plus 2 log2 N latencies per 16 MiB call)."""
    import math

    examples = 1e10
    calls = max(1, table_bytes // (16 << 20))
    print(
        f"estimate, 10^10 examples ({features:.0f} features each), one pass, one rank per node at "
        f"{per_rank / 1e3:.0f} k examples/s; sync of {table_bytes / 2**20:.0f} MiB over {link / 1e9:.2f} GB/s links, "
        f"{latency * 1e6:.0f} us latency, {overhead:.2f} s local work:"
    )
    for nodes in (10, 100, 1000):
        learn = examples / (nodes * per_rank)
        wire = 2 * (nodes - 1) / nodes * table_bytes / link + calls * 2 * math.log2(nodes) * latency
        sync = overhead + wire
        total = learn + sync
        print(
            f"  {nodes:5d} nodes: learning {learn:8.1f} s + sync {sync:5.2f} s = {total / 60:6.1f} min "
            f"({examples * features / total / 1e9:6.2f} G features/s cluster-wide)"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bits", type=int, default=24)
    ap.add_argument("--sync_lines", type=int, default=200_000, help="click-log lines each rank learns before the sync")
    a = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "clicks.vw")
        synth.write_click_log(data, a.lines, seed=5)
        flags = ["-d", data, "--loss_function", "logistic", "-b", "18", "-f", os.path.join(d, "m.bin")]
        py = [sys.executable, "-m", "wabbit"]
        plain = min(_timed(py + flags, d)[0] for _ in range(a.repeats))
        ones = [_timed(["mpiexec", "-n", "1", *py, *flags, "--allreduce"], d) for _ in range(a.repeats)]
        twos = [_timed(["mpiexec", "-n", "2", *py, *flags, "--allreduce"], d) for _ in range(a.repeats)]
        one, one_in = min(w for w, _ in ones), min(i for _, i in ones)
        two, two_in = min(w for w, _ in twos), min(i for _, i in twos)
        print(f"throughput, {a.lines} click-log lines, logistic -b 18, one pass (best of {a.repeats}):")
        print("                         whole command             learning + sync (rank 0's count)")
        print(f"  one process (no MPI)   {plain:7.2f} s {a.lines / plain / 1e3:6.0f} k/s")
        print(
            f"  mpiexec -n 1           {one:7.2f} s {a.lines / one / 1e3:6.0f} k/s   {one_in:7.2f} s {a.lines / one_in / 1e3:6.0f} k/s"
        )
        print(
            f"  mpiexec -n 2           {two:7.2f} s {a.lines / two / 1e3:6.0f} k/s   {two_in:7.2f} s {a.lines / two_in / 1e3:6.0f} k/s"
        )
        print(f"  2 ranks / 1 rank: {one_in / two_in:.2f}x learning + sync, {one / two:.2f}x whole command")
        script = os.path.join(d, "sync.py")
        Path(script).write_text(_SYNC)
        r = subprocess.run(
            ["mpiexec", "-n", "2", sys.executable, script, str(a.bits), str(a.repeats), str(a.sync_lines)],
            env=_env(),
            check=True,
            capture_output=True,
            text=True,
        )
        res = json.loads(r.stdout.strip().splitlines()[-1])
        print(
            f"sync of a -b {a.bits} table between 2 ranks (best of {a.repeats}; {a.sync_lines} lines learned per rank):"
        )
        for rule, v in res.items():
            print(
                f"  {rule:8s} {v['table_mib']:4.0f} MiB table: as learned {v['learned_s']:.3f} s "
                f"({v['touched_rows']} rows used, {v['learned_reduced_mib']:.1f} MiB reduced); every row used "
                f"{v['dense_s']:.3f} s; bare MPI Allreduce of the table {v['bare_mpi_s']:.3f} s "
                f"({v['bare_mpi_gb_s']:.2f} GB/s); float16 on the wire {v['float16_s']:.3f} s"
            )
    dense = res["default"]
    estimate(
        per_rank=a.lines / one_in,
        features=11,
        overhead=max(0.0, dense["dense_s"] - dense["bare_mpi_s"]),
        table_bytes=int(dense["table_mib"] * 2**20 * 5 / 4),  # the table, and the adaptive column first
        link=1.25e9,
        latency=20e-6,
    )
    print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

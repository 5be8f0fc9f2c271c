"""Benchmark wabbit's contextual bandits against Vowpal Wabbit, and rank() latency.

1. One pass over generated logged-bandit data (tests/cbdata.py: ADF events with a shared user line
   and 10 action lines, default 30,000 events) with the same flags for both programs, run as child
   processes (``python -m vowpalwabbit`` / ``python -m wabbit``, so both pay Python's start-up);
   the minimum wall time over ``--repeat`` runs and the average loss each reports.
2. ``Model.rank(shared, candidates)`` for 100 and 1000 candidates (10 shared features, 3 per
   candidate, -q ua): the median over 200 calls.

Run::

    python bench/bench_cb.py [--events 30000] [--repeat 3] [--rank-only]
"""

from __future__ import annotations

import argparse
import os

# numpy's BLAS threads spin on the other core after numpy calls; the timings need both cores quiet
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import cbdata  # noqa: E402

CASES = [
    "--cb_adf -q ua",
    "--cb_adf -q ua --cb_type dr",
    "--cb_explore_adf -q ua --epsilon 0.05",
    "--cb_explore_adf -q ua --squarecb",
    "--cb_explore_adf -q ua --bag 5",
]


def timed(cmd):
    best, loss = float("inf"), None
    for _ in range(ARGS.repeat):
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        best = min(best, time.perf_counter() - t)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        m = re.search(r"average loss = (\S+)", proc.stderr)
        loss = m.group(1) if m else None
    return best, loss


def rank_latency():
    """rank() against pyvw's predict on the same event, trained the same way, in this one run."""
    import numpy as np

    import wabbit

    rng = np.random.default_rng(0)
    flags = "--cb_explore_adf --epsilon 0.05 -q ua -b 22"
    m = wabbit.Model(flags)
    shared = {"u": {f"f{i}": float(rng.random()) for i in range(10)}}
    cands = [{"a": {f"id={i}": 1.0, f"kind={i % 7}": 1.0, "price": float(rng.random())}} for i in range(1000)]

    def text(ns, feats):
        return f"|{ns} " + " ".join(k if v == 1.0 else f"{k}:{v!r}" for k, v in feats.items())

    shared_line = "shared " + text("u", shared["u"])
    cand_lines = [text("a", c["a"]) for c in cands]
    vw = None
    try:
        from vowpalwabbit import Workspace

        vw = Workspace(flags + " --quiet")
    except ImportError:
        print("vowpalwabbit not installed: pyvw's predict is not timed")
    for _ in range(500):
        a, cost = int(rng.integers(10)), float(rng.random())
        m.learn((shared, cands[:10]), label=(a, cost, 0.1))
        if vw is not None:
            lines = [shared_line] + [(f"0:{cost!r}:0.1 " if k == a else "") + cand_lines[k] for k in range(10)]
            vw.learn(lines)
    for n in (100, 1000):
        c = cands[:n]
        times = []
        for _ in range(200):
            t = time.perf_counter()
            m.rank(shared, c)
            times.append(time.perf_counter() - t)
        ours = statistics.median(times)
        line = f"rank({n} candidates): median {ours * 1e3:.3f} ms"
        if vw is not None:
            event = [shared_line] + cand_lines[:n]
            vt = []
            for _ in range(50):
                t = time.perf_counter()
                vw.predict(event)
                vt.append(time.perf_counter() - t)
            theirs = statistics.median(vt)
            pmf = m.predict((shared, c))
            vw_pmf = np.asarray(vw.predict(event), dtype=np.float64)
            line += (
                f"; pyvw predict(event): median {theirs * 1e3:.3f} ms; ratio {theirs / ours:.1f}x"
                f"; largest pmf difference {float(np.max(np.abs(pmf - vw_pmf))):.2g}"
            )
        print(line)


def main():
    if ARGS.rank_only:
        rank_latency()
        return
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "events.ldf")
        cbdata.write(path, ARGS.events, seed=9)
        print(f"{ARGS.events} events x 10 actions, best of {ARGS.repeat}")
        print(f"{'flags':44} {'VW s':>7} {'wabbit s':>9} {'ratio':>6}  {'VW loss':>9} {'wabbit loss':>11}")
        for flags in CASES:
            vw, vl = timed([sys.executable, "-m", "vowpalwabbit", *flags.split(), "-d", path])
            wb, wl = timed([sys.executable, "-m", "wabbit", *flags.split(), "-d", path])
            print(f"{flags:44} {vw:7.2f} {wb:9.2f} {vw / wb:6.1f}  {vl:>9} {wl:>11}")
    rank_latency()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rank-only", action="store_true", help="only part 2 (rank() against pyvw's predict)")
    ARGS = parser.parse_args()
    main()

"""Several passes over a cache (issue 18): wabbit against Vowpal Wabbit, and a pass over wabbit's
cache against a pass over the text.

What it runs, on a generated click log (``wabbit.synth.write_click_log``, default 1M lines), each
program in its own folder (both name their cache DATA.cache):

* ``vw -d clicks.vw -c -k --passes 10 --loss_function logistic -b 24`` (``python -m vowpalwabbit``)
* ``wabbit`` with the same flags (``python -m wabbit``, the wabbit this script imports), and again
  with ``WABBIT_PASSES_FROM=cache``: passes 2..N read the cache file each time on the model's table
  (by default they read the first pass's examples from memory and learn on a compact copy of the
  rows those touch: run/pass_store.h; the numbers are the same)
* one pass of wabbit over the text (``-d clicks.vw``, no cache) and one over the cache the run
  above left (``-d clicks.vw -c``: the text is not read), as commands; and the same in one process
  on a warm model (``Model.learn_many``), which leaves out the process start and the table's first
  page faults: the pass itself; and in process, a 3-pass run over the cache less a 2-pass run: what
  a later pass costs.

Each time is the best of ``--repeat`` runs; CPU is the child's user + system time (``os.wait4``),
which a busy machine inflates less than the wall time. The holdout loss is the ``average loss = X
h`` line. The machine is shared: run it when nothing else is measured, and twice.

Run::

    python bench/bench_passes.py [--lines 1000000] [--bits 24] [--passes 10] [--repeat 2] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import wabbit
from wabbit.synth import write_click_log

_WABBIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(wabbit.__file__)))
CHILD_ENV = dict(os.environ, PYTHONPATH=_WABBIT_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
SECTION = "# Passes and cache (issue 18)"


@dataclass
class Run:
    name: str
    cmd: List[str]
    wall: float
    cpu: float
    rss_mb: float
    output: str
    load: str = "?"  # the load average when the runs started

    def field(self, key: str) -> str:
        m = re.search(rf"^{re.escape(key)} = (.+)$", self.output, re.MULTILINE)
        return m.group(1).strip() if m else "?"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run_once(cmd: List[str], cwd: Path, env: Optional[Dict[str, str]] = None) -> tuple:
    with open(cwd / "out.txt", "w+b") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=dict(CHILD_ENV, **(env or {})))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{text[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def bench(name: str, cmd: List[str], cwd: Path, repeat: int, env: Optional[Dict[str, str]] = None) -> Run:
    log(f"{name}: {' '.join(f'{k}={v}' for k, v in (env or {}).items())} {shlex.join(cmd)}")
    load = loadavg()
    runs = [run_once(cmd, cwd, env) for _ in range(repeat)]
    best = min(runs, key=lambda r: r[0])
    r = Run(name, cmd, best[0], min(x[1] for x in runs), max(x[2] for x in runs), best[3], load)
    log(f"  {r.wall:.2f} s wall, {r.cpu:.2f} s CPU, average loss {r.field('average loss')} (load {load})")
    return r


def in_process_passes(data: Path, bits: int, cache: Path, rounds: int) -> tuple:
    """CPU seconds (the process's: a busy machine inflates them less than wall time) of one pass
    over the text and of one over the cache (``learn_many``), each the best of ``rounds``, alternated
    on one warm model (its table's pages mapped, the files in the page cache): the pass alone,
    without the process start and the first page faults. And what a later pass of a multi-pass run
    costs (from memory, on the compact rows): a 3-pass run over the cache (no holdout) less a 2-pass
    run."""
    m = wabbit.Model(f"--loss_function logistic -b {bits}")
    m.learn_many(str(data))
    text = cached = two = three = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        m.learn_many(str(data))
        text = min(text, time.process_time() - start)
        start = time.process_time()
        m.learn_many(str(data), cache=str(cache))
        cached = min(cached, time.process_time() - start)
        start = time.process_time()
        m.learn_many(str(data), cache=str(cache), passes=2, holdout_off=True)
        two = min(two, time.process_time() - start)
        start = time.process_time()
        m.learn_many(str(data), cache=str(cache), passes=3, holdout_off=True)
        three = min(three, time.process_time() - start)
    return text, cached, three - two


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def replace_section(path: Path, text: str) -> str:
    """The file with SECTION (up to the next '# ' heading) replaced by text, or text appended."""
    old = path.read_text() if path.exists() else ""
    lines = old.splitlines(keepends=True)
    out: List[str] = []
    skipping = False
    placed = False
    for line in lines:
        if line.startswith("# "):
            if skipping:
                skipping = False
            if line.rstrip("\n") == SECTION:
                skipping = True
                out.append(text.rstrip("\n") + "\n\n")
                placed = True
                continue
        if not skipping:
            out.append(line)
    if not placed:
        out.append(("\n" if out and out[-1].strip() else "") + text.rstrip("\n") + "\n")
    return "".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--bits", type=int, default=24)
    ap.add_argument("--passes", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each command; the best is kept")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", help="an existing click log to use instead of generating one")
    ap.add_argument("--write", action="store_true", help="write the section into --out")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="wabbit-passes-") as tmpdir:
        tmp = Path(tmpdir)
        data = tmp / "clicks.vw"
        if args.data:
            os.symlink(os.path.abspath(args.data), data)
        else:
            log(f"writing {args.lines:,} lines ...")
            write_click_log(data, args.lines, seed=args.seed)
        folders: Dict[str, Path] = {}
        for tool in ("vw", "wabbit"):
            folders[tool] = tmp / tool
            folders[tool].mkdir()
            os.symlink(data, folders[tool] / "clicks.vw")
        flags = ["-d", "clicks.vw", "--loss_function", "logistic", "-b", str(args.bits)]
        many = [*flags, "-c", "-k", "--passes", str(args.passes)]
        load_before = loadavg()
        vw = bench("vw passes", [sys.executable, "-m", "vowpalwabbit", *many], folders["vw"], args.repeat)
        ours = bench("wabbit passes", [sys.executable, "-m", "wabbit", *many], folders["wabbit"], args.repeat)
        # the same run with passes 2..N reading the cache file each time (as before the compact rows)
        old = bench(
            "wabbit passes, later ones from the cache file",
            [sys.executable, "-m", "wabbit", *many],
            folders["wabbit"],
            args.repeat,
            {"WABBIT_PASSES_FROM": "cache"},
        )
        text = bench("wabbit 1 pass, text", [sys.executable, "-m", "wabbit", *flags], folders["wabbit"], args.repeat)
        cached = bench(
            "wabbit 1 pass, cache", [sys.executable, "-m", "wabbit", *flags, "-c"], folders["wabbit"], args.repeat
        )
        assert "using cache_file" in cached.output, cached.output[-2000:]
        log("one pass in process (warm model) ...")
        text_pass, cache_pass, later_pass = in_process_passes(
            folders["wabbit"] / "clicks.vw", args.bits, folders["wabbit"] / "clicks.vw.cache", 2 * args.repeat + 1
        )
        cache_mb = (folders["wabbit"] / "clicks.vw.cache").stat().st_size / 2**20
        text_mb = data.stat().st_size / 2**20
        load_after = loadavg()

    def loss(r: Run) -> float:
        return float(r.field("average loss").split()[0])

    rel = abs(loss(ours) - loss(vw)) / loss(vw)
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    rows = [
        "| run | wall s | CPU s | peak RSS MB | passes used | average loss | load average at start |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in (vw, ours, old, text, cached):
        rows.append(
            f"| {r.name} | {r.wall:.2f} | {r.cpu:.2f} | {r.rss_mb:.0f} | {r.field('passes used')} | "
            f"{r.field('average loss')} | {r.load} |"
        )
    report = "\n".join(
        [
            SECTION,
            "",
            f"`python bench/bench_passes.py --lines {args.lines} --bits {args.bits} --passes {args.passes} "
            f"--repeat {args.repeat}` ({when}; {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, load average {load_before} before, {load_after} after; best of "
            f"{args.repeat} runs each). Command: `{shlex.join(many)}` for both programs.",
            "",
            *rows,
            "",
            f"- {args.passes} passes: wabbit is **{vw.wall / ours.wall:.1f}x** faster than VW in wall time, "
            f"{vw.cpu / ours.cpu:.1f}x in CPU time; holdout loss {loss(ours):.6f} vs VW's {loss(vw):.6f} "
            f"(relative difference {rel:.2%}). With the later passes reading the cache file "
            f"(`WABBIT_PASSES_FROM=cache`): {vw.wall / old.wall:.1f}x wall, {vw.cpu / old.cpu:.1f}x CPU; the "
            f"compact rows save {old.cpu - ours.cpu:.2f} s of CPU ({old.cpu / ours.cpu:.2f}x).",
            f"- One pass over the cache against one over the text: {text.wall / cached.wall:.2f}x as commands "
            f"(wall; {text.cpu / cached.cpu:.2f}x CPU), **{text_pass / cache_pass:.2f}x** for the pass "
            f"itself in one process on a warm model (CPU time) ({text_pass:.3f} s vs {cache_pass:.3f} s). A later pass "
            f"of a multi-pass run (from memory, on the compact rows; a 3-pass run less a 2-pass run, in process): "
            f"{later_pass:.3f} s, **{text_pass / later_pass:.2f}x** faster than a pass over the text.",
            f"- The cache holds {cache_mb:.0f} MiB for {text_mb:.0f} MiB of text.",
        ]
    )
    print(report)
    if args.write:
        out = Path(args.out)
        out.write_text(replace_section(out, report))
        log(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

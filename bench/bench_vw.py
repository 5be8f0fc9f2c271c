"""Benchmark wabbit against Vowpal Wabbit on a synthetic click log.

What it measures: one pass of logistic regression over a generated click log
(``wabbit.synth.write_click_log``, default 1M lines), for two cases, linear
and ``-q ua``, each run by

* Vowpal Wabbit: ``python -m vowpalwabbit -d FILE --loss_function logistic -b BITS``
* wabbit:        ``wabbit -d FILE --loss_function logistic -b BITS``

Both run in the same invocation on the same file, without ``--quiet``, so the
``average loss = X`` line can be parsed from their stderr.  Wall time is
``time.perf_counter`` around the child process (the minimum over
``--repeat`` runs); peak RSS is the child's own ``ru_maxrss`` as returned
by ``os.wait4`` for its pid (Linux reports it in KiB), the maximum over runs.
The ratio column is VW time / tool time: above 1 means faster than VW.

Run::

    python bench/bench_vw.py [--lines 1000000] [--bits 24] [--repeat 1] [--write] [--out bench/RESULTS.md]

The table is printed to stdout; with ``--write`` it is also written, with the
command line, date and machine info, to ``--out``.  If the ``wabbit`` command
is not installed, this is reported and only VW is run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List

CASES: dict[str, list[str]] = {"logistic": [], "logistic -q ua": ["-q", "ua"]}


@dataclass
class Result:
    case: str
    tool: str
    seconds: float
    max_rss_mb: float
    avg_loss: str
    best_const_loss: str


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def load_writer() -> Callable[..., None]:
    """``wabbit.synth.write_click_log``, from the installed package or this checkout."""
    try:
        from wabbit.synth import write_click_log
    except ImportError:  # package not installed or its extension not built yet
        path = Path(__file__).resolve().parents[1] / "python" / "wabbit" / "synth.py"
        spec = importlib.util.spec_from_file_location("wabbit_synth", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look the module up by name
        spec.loader.exec_module(module)
        write_click_log = module.write_click_log
    return write_click_log


def run_once(cmd: list[str], stderr_path: Path) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB, stdout+stderr text)."""
    with open(stderr_path, "w+b") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        output = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited with {proc.returncode}:\n{output[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, output


def parse(output: str, key: str) -> str:
    match = re.search(rf"^{re.escape(key)} = (\S+)", output, re.MULTILINE)
    return match.group(1) if match else "?"


def bench(case: str, tool: str, cmd: list[str], repeat: int, tmp: Path) -> Result:
    log(f"{case} / {tool}: {shlex.join(cmd)}")
    try:
        runs = [run_once(cmd, tmp / "stderr.txt") for _ in range(repeat)]
    except RuntimeError as exc:  # keep benchmarking the other tools and cases
        log(f"FAILED: {exc}")
        return Result(case, tool, float("nan"), float("nan"), "FAILED", "?")
    output = runs[-1][2]
    return Result(
        case,
        tool,
        min(r[0] for r in runs),
        max(r[1] for r in runs),
        parse(output, "average loss"),
        parse(output, "best constant's loss"),
    )


def table(results: list[Result], lines: int) -> str:
    vw_time = {r.case: r.seconds for r in results if r.tool == "vw"}
    rows = [
        "| case | tool | seconds | lines/s | ratio to VW | average loss | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = vw_time[r.case] / r.seconds if r.case in vw_time else float("nan")
        rows.append(
            f"| {r.case} | {r.tool} | {r.seconds:.2f} | {lines / r.seconds:,.0f} | "
            f"{ratio:.2f} | {r.avg_loss} | {r.max_rss_mb:.0f} |"
        )
    return "\n".join(rows)


def machine_info() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"nproc {nproc}, CPU {cpu}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def replace_section(path: Path, heading: str, text: str) -> str:
    """The file's text with the section under `heading` (up to the next '# ' heading) replaced."""
    old = path.read_text() if path.exists() else ""
    sections: List[str] = []
    for line in old.splitlines(keepends=True):
        if line.startswith("# ") or not sections:
            sections.append("")
        sections[-1] += line
    kept = [s for s in sections if s.strip() and not s.startswith(heading + "\n")]
    return "\n".join(part.rstrip("\n") + "\n" for part in [text, *kept])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="click-log lines (default 1000000)")
    ap.add_argument("--bits", type=int, default=24, help="-b, bits of the weight table (default 24)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool and case; best time is kept")
    ap.add_argument("--seed", type=int, default=0, help="click-log seed (default 0)")
    ap.add_argument("--out", default="bench/RESULTS.md", help="markdown file for --write")
    ap.add_argument("--write", action="store_true", help="also write the results to --out")
    args = ap.parse_args(argv)

    vw_cmd = [sys.executable, "-m", "vowpalwabbit"]
    wabbit_exe = shutil.which("wabbit")
    tools = {"vw": vw_cmd}
    if wabbit_exe is None:
        log("NOTE: the `wabbit` command is not installed (not on PATH); running Vowpal Wabbit only.")
    else:
        tools["wabbit"] = [wabbit_exe]

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="wabbit-bench-") as tmpdir:
        tmp = Path(tmpdir)
        data = tmp / "clicks.vw"
        log(f"writing {args.lines:,} lines to {data} ...")
        start = time.perf_counter()
        load_writer()(data, args.lines, seed=args.seed)
        gen_seconds = time.perf_counter() - start
        log(f"generated in {gen_seconds:.1f} s ({data.stat().st_size / 2**20:.0f} MiB)")
        for case, extra in CASES.items():
            for tool, exe in tools.items():
                cmd = exe + ["-d", str(data), "--loss_function", "logistic", "-b", str(args.bits)] + extra
                results.append(bench(case, tool, cmd, args.repeat, tmp))
                log(f"  {results[-1].seconds:.2f} s, average loss {results[-1].avg_loss}")

    best_const = next((r.best_const_loss for r in results if r.tool == "vw"), "?")
    report = table(results, args.lines)
    print(report)
    print(f"\nbest constant's loss (VW): {best_const}")
    if wabbit_exe is None:
        print("wabbit: not installed (the `wabbit` command was not found on PATH)")

    if args.write:
        command = shlex.join(["python", "bench/bench_vw.py", *sys.argv[1:]])
        versions = f"vowpalwabbit {tool_version(vw_cmd)}" + (
            f"; wabbit {tool_version(tools['wabbit'])}" if "wabbit" in tools else "; wabbit not installed"
        )
        text = "\n".join(
            [
                "# wabbit vs Vowpal Wabbit",
                "",
                f"- command: `{command}`",
                f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
                f"- machine: {machine_info()}",
                f"- versions: {versions}",
                f"- data: {args.lines:,} lines from `wabbit.synth.write_click_log` (seed {args.seed}), "
                f"generated in {gen_seconds:.1f} s; best constant's loss {best_const}",
                f"- per run: `-d FILE --loss_function logistic -b {args.bits}` (+ case flags); "
                f"best of {args.repeat} wall time, peak RSS of the child from `os.wait4`",
                "- ratio = VW seconds / tool seconds (above 1: faster than VW)",
                "",
                report,
                "",
            ]
        )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(replace_section(Path(args.out), "# wabbit vs Vowpal Wabbit", text))
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

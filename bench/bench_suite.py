"""Benchmark suite (issue 5): wabbit, Vowpal Wabbit, river and scikit-learn on the same streams.

One command generates its data in a temp dir, runs every case and prints the tables::

    python bench/bench_suite.py [--lines 1000000] [--repeat 3] [--write] [--quick]

Cases (all logistic loss, ``-b 24``, one pass):

1. click log (``wabbit.synth.write_click_log``, ``--lines`` lines, 10 features a line): VW,
   wabbit ``--threads 1`` and ``--threads 2``; and, on a prefix (the first ``--prefix`` lines,
   default 100k) so that the slow Python learners finish: VW and wabbit again, river
   (``linear_model.LogisticRegression()``, river's own SGD) and scikit-learn
   (``SGDClassifier(loss="log_loss").partial_fit`` on ``FeatureHasher`` output, batches of 1000,
   each batch scored before it is learned).
2. the same click log with ``-q ua``: VW, wabbit 1 and 2 threads.
3. a wide stream (~200 numeric features a line in four namespaces, generated here): VW, wabbit 1
   and 2 threads.
4. single-example predict latency from Python with ``-q ua``: ``wabbit.Model.predict(line)`` vs
   pyvw ``Workspace.predict(line)``, every call timed (median, p99).
5. CSR batches: the click log pre-hashed into (indices uint32, values float32, offsets int64),
   ``Model.learn_many((indices, values, offsets), labels=labels)`` and ``predict_many(...)``;
   rows/s and GB/s of the input arrays.
6. ``--threads 2`` against ``--threads 1`` for cases 1-3: speed-up and loss difference.

How it times: every run is a fresh child process (``bench/_suite_child.py``), so its peak RSS is
its own ``ru_maxrss`` from ``os.wait4`` (taken by ``bench/_suite_launch.py``, a small process that
forks it, since a child's ``ru_maxrss`` also counts the memory of the process it was forked from). The timed region is inside the child, around the model's
construction and the learning pass (no interpreter start, no imports): VW's
``Workspace(arg_list=["-d", FILE, ...])`` (which runs the pass in its constructor), wabbit's
``Model(args).learn_many(FILE)``, and for
river and scikit-learn the loop that reads, parses, scores and learns the lines. The whole-process
wall time of the command-line tools (``python -m vowpalwabbit -d FILE ...``, ``wabbit -d FILE ...``)
is a second column. Each number is the best of ``--repeat`` rounds; in every round all runs go
one after the other (VW, wabbit, VW CLI, wabbit CLI, ...), so machine noise hits them alike.
Progressive log loss is ``mean(log(1 + exp(-y s)))`` over labels -1/1 and the score ``s`` made
before learning each example (VW's ``average loss``; for river ``-log p(y)`` from
``predict_proba_one``).

With ``--write`` the tables go into this script's own section of ``bench/RESULTS.md`` (between
its markers; other sections are kept) and the chart into ``bench/results.png`` (needs matplotlib).
A missing tool (vowpalwabbit, river, scikit-learn, the ``wabbit`` command) skips its rows with a note.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os

# numpy's BLAS threads spin on the other core after numpy calls; the timings need both cores quiet
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _suite_child import threads_note  # noqa: E402
from _suite_data import WIDE_VOCAB, prehash_csr, write_wide  # noqa: E402
from bench_vw import load_writer, machine_info, tool_version  # noqa: E402

HEADING = "# Benchmark suite (issue 5): wabbit vs VW, river, scikit-learn"
BEGIN = "<!-- bench_suite.py: begin (generated; edit bench_suite.py, not this) -->"
END = "<!-- bench_suite.py: end -->"
CHILD = HERE / "_suite_child.py"
LAUNCH = HERE / "_suite_launch.py"
LOGISTIC = ["--loss_function", "logistic"]
# scikit-learn's SGD settings. Its defaults (learning_rate="optimal", alpha=1e-4) reach a
# progressive log loss of 0.69 on the first 50k lines (worse than the constant 0.42); these were
# the best of six settings tried on those lines (constant / adaptive / invscaling rates, alpha).
SGD_PARAMS = {"learning_rate": "constant", "eta0": 0.05, "alpha": 1e-6, "random_state": 0}
T0 = time.perf_counter()
THREADS_ERRORS: set = set()  # what the wabbit command said when it rejected --threads


def log(msg: str) -> None:
    print(f"[suite +{time.perf_counter() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def have(module: str) -> bool:
    """Whether ``import module`` works in a fresh interpreter (the children's), without importing it here."""
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        log(f"cannot import {module}: {last}")
    return proc.returncode == 0


# ---------------------------------------------------------------------- running children


@dataclass
class Measured:
    """One (case, tool, mode) over all rounds."""

    case: str
    tool: str
    mode: str  # "in-process" or "cli"
    rows: int = 0
    seconds: List[float] = field(default_factory=list)
    rss_mb: List[float] = field(default_factory=list)
    loss: float = float("nan")
    note: str = ""
    failed: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> float:
        return min(self.seconds) if self.seconds else float("nan")

    @property
    def rss(self) -> float:
        return max(self.rss_mb) if self.rss_mb else float("nan")


def spawn(cmd: List[str], out_path: Path) -> tuple[float, float, int, str]:
    """Run ``cmd`` (stdout+stderr to a file); return (wall s, peak RSS MB, exit code, output).

    Through ``_suite_launch.py``, which forks the command from a small process and measures it: a
    child's ``ru_maxrss`` on Linux includes the RSS of the memory it was forked from, and this
    process is large (see that file). The wall time is from the fork to the exit.
    """
    measured = out_path.with_suffix(".measured")
    with open(out_path, "w+b") as out:
        proc = subprocess.run([sys.executable, str(LAUNCH), str(measured), *cmd], stdout=out, stderr=subprocess.STDOUT)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode != 0 or not measured.exists():
        return float("nan"), float("nan"), proc.returncode or 1, text
    seconds, rss_kib, code = measured.read_text().split()
    measured.unlink()
    return float(seconds), int(rss_kib) / 1024, int(code), text


def run_child(spec: Dict[str, Any], tmp: Path) -> tuple[Dict[str, Any], float]:
    """Run one child; return (its RESULT dict, peak RSS MB). Raises RuntimeError on failure."""
    cmd = [sys.executable, str(CHILD), json.dumps(spec)]
    _, rss, code, text = spawn(cmd, tmp / "child.out")
    match = re.search(r"^RESULT (.*)$", text, re.MULTILINE)
    if code != 0 or match is None:
        raise RuntimeError(f"child {spec['kind']} exited with {code}:\n{text[-2500:]}")
    return json.loads(match.group(1)), rss


@dataclass
class Job:
    """One measurement repeated every round."""

    m: Measured
    spec: Optional[Dict[str, Any]] = None  # a child run
    cmd: Optional[List[str]] = None  # a command-line run
    threads_flag: bool = False  # cmd ends with --threads N (dropped if the tool rejects it)

    def run(self, tmp: Path) -> None:
        if self.m.failed:
            return
        try:
            if self.spec is not None:
                res, rss = run_child(self.spec, tmp)
                if "unavailable" in res:
                    self.m.failed = res["unavailable"]
                    return
                self.m.seconds.append(res["seconds"])
                self.m.rss_mb.append(rss)
                self.m.rows, self.m.loss = res["examples"], res["loss"]
                self.m.note = self.m.note or res.get("note", "")
            else:
                self._run_cli(tmp)
        except RuntimeError as exc:
            self.m.failed = str(exc).splitlines()[0][:300]
            log(f"  FAILED: {exc}")

    def _run_cli(self, tmp: Path) -> None:
        assert self.cmd is not None
        seconds, rss, code, text = spawn(self.cmd, tmp / "cli.out")
        if code != 0 and self.threads_flag and "threads" in text:
            self.m.note = threads_note(int(self.cmd[-1]))
            THREADS_ERRORS.add(text.strip().splitlines()[-1][:200])
            self.cmd, self.threads_flag = self.cmd[:-2], False
            seconds, rss, code, text = spawn(self.cmd, tmp / "cli.out")
        if code != 0:
            raise RuntimeError(f"{shlex.join(self.cmd)} exited with {code}:\n{text[-2000:]}")
        self.m.seconds.append(seconds)
        self.m.rss_mb.append(rss)
        loss = re.search(r"^average loss = (\S+)", text, re.MULTILINE)
        n = re.search(r"^number of examples = (\d+)", text, re.MULTILINE)
        self.m.loss = float(loss.group(1)) if loss else float("nan")
        self.m.rows = int(n.group(1)) if n else self.m.rows
        said = [line.strip() for line in text.splitlines() if "thread" in line.lower() and "=" not in line]
        if said and self.threads_flag:  # e.g. why --threads N ran on one thread
            self.m.note = "; ".join(dict.fromkeys([self.m.note] * bool(self.m.note) + [s[:160] for s in said[:2]]))
        const = re.search(r"^best constant's loss = (\S+)", text, re.MULTILINE)
        if const:
            self.m.extra["best_constant_loss"] = const.group(1)

    def describe(self) -> str:
        if self.cmd is not None:
            return shlex.join(self.cmd)
        spec = dict(self.spec or {})
        if "data" in spec:
            spec["data"] = Path(spec["data"]).name
        return f"child {spec.pop('kind')}: " + ", ".join(f"{k}={v}" for k, v in spec.items())


# ---------------------------------------------------------------------- formatting


def build_spin(folder: Path) -> Optional[Path]:
    """bench/spin.c compiled with the system C compiler into ``folder`` (None without a compiler)."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return None
    exe = folder / "spin"
    proc = subprocess.run(
        [cc, "-O2", "-o", str(exe), str(Path(__file__).resolve().parent / "spin.c")], capture_output=True, text=True
    )
    if proc.returncode != 0:
        log(f"cannot build the thread-ceiling probe: {proc.stderr.strip()[-200:]}")
        return None
    return exe


def spin_ceiling(threads: int, spin: Optional[Path]) -> Optional[float]:
    """What `threads` threads get out of this machine on throughput-bound code, as a speed-up.

    ``spin alu n`` (bench/spin.c, built by :func:`build_spin`) runs eight independent chains of
    integer additions; the speed-up is threads x (one copy's time) / (the time of `threads` copies
    running at once, each doing the same work). On cores of their own this is `threads`; where the
    virtual CPUs share a physical core's execution units (SMT siblings, or a host that runs
    something else there) it is less, and it bounds any program's thread speed-up on code that
    keeps the units busy. None without the probe (no C compiler).
    """
    if spin is None:
        return None
    n = 200_000_000

    def timed(k: int) -> float:
        start = time.perf_counter()
        procs = [subprocess.Popen([str(spin), "alu", str(n)], stdout=subprocess.DEVNULL) for _ in range(k)]
        for p in procs:
            p.wait()
        return time.perf_counter() - start

    one = min(timed(1) for _ in range(2))
    many = min(timed(threads) for _ in range(2))
    return threads * one / many


def fmt(x: float, spec: str) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds and not math.isnan(seconds) and seconds > 0 else float("nan")


@dataclass
class Case:
    key: str
    title: str
    data: Path
    flags: List[str]
    rows: List[str] = field(default_factory=list)  # tool labels in table order


def throughput_table(cases: List[Case], by: Dict[tuple, Measured]) -> str:
    out = [
        "| case | tool | examples | examples/s | ratio to VW | timed pass s | CLI wall s | CLI ratio to VW "
        "| progressive log loss | peak RSS MB | CLI peak RSS MB | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case in cases:
        vw = by.get((case.key, "vw", "in-process"))
        vw_cli = by.get((case.key, "vw", "cli"))
        for tool in case.rows:
            m = by.get((case.key, tool, "in-process"))
            c = by.get((case.key, tool, "cli"))
            if m is None:
                continue
            if m.failed and not m.seconds:
                out.append(f"| {case.title} | {tool} |  |  |  |  |  |  |  |  |  | not run: {m.failed} |")
                continue
            ratio = vw.best / m.best if vw and vw.seconds else float("nan")
            cli_s = c.best if c and c.seconds else float("nan")
            cli_ratio = vw_cli.best / cli_s if vw_cli and vw_cli.seconds and c and c.seconds else float("nan")
            notes = [
                m.note,
                c.note if c else "",
                f"failed in a later round: {m.failed}" if m.failed else "",
                f"CLI failed: {c.failed}" if c and c.failed else "",
            ]
            note = "; ".join(dict.fromkeys(x for x in notes if x))
            out.append(
                f"| {case.title} | {tool} | {m.rows:,} | {fmt(rate(m.rows, m.best), ',.0f')} | {fmt(ratio, '.2f')} "
                f"| {fmt(m.best, '.3f')} | {fmt(cli_s, '.3f')} | {fmt(cli_ratio, '.2f')} | {fmt(m.loss, '.6f')} "
                f"| {fmt(m.rss, '.0f')} | {fmt(c.rss if c else float('nan'), '.0f')} | {note} |"
            )
    return "\n".join(out)


def threads_table(cases: List[Case], by: Dict[tuple, Measured]) -> str:
    out = [
        "| case | 1 thread s | 2 threads s | speed-up (1t / 2t) | CLI speed-up | loss 1t | loss 2t | loss diff | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case in cases:
        one, two = (
            by.get((case.key, "wabbit --threads 1", "in-process")),
            by.get((case.key, "wabbit --threads 2", "in-process")),
        )
        if one is None or two is None:
            continue
        if not one.seconds or not two.seconds:
            out.append(f"| {case.title} |  |  |  |  |  |  |  | not run: {one.failed or two.failed} |")
            continue
        c1, c2 = by.get((case.key, "wabbit --threads 1", "cli")), by.get((case.key, "wabbit --threads 2", "cli"))
        cli = c1.best / c2.best if c1 and c2 and c1.seconds and c2.seconds else float("nan")
        diff = 100.0 * (two.loss - one.loss) / one.loss if one.loss else float("nan")
        note = "2-thread run fell back to 1 thread (--threads not accepted)" if "not accepted" in two.note else ""
        out.append(
            f"| {case.title} | {one.best:.3f} | {two.best:.3f} | {one.best / two.best:.2f}x | {fmt(cli, '.2f')}{'x' if not math.isnan(cli) else ''} "
            f"| {one.loss:.6f} | {two.loss:.6f} | {diff:+.2f}% | {note} |"
        )
    return "\n".join(out)


# ---------------------------------------------------------------------- chart


def chart(
    path: Path, cases: List[Case], by: Dict[tuple, Measured], latency: Dict[str, Dict[str, Any]], csr: Dict[str, Any]
) -> str:
    """Write the PNG; return "" or why it was skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib), so no chart was drawn"
    labels, values, colors = [], [], []
    palette = {"vw": "#888888", "river": "#d9a441", "sklearn": "#5b8fd9"}
    for case in cases:
        for tool in case.rows:
            m = by.get((case.key, tool, "in-process"))
            if m is None or not m.seconds:
                continue
            labels.append(f"{case.title} | {tool}")
            values.append(rate(m.rows, m.best))
            colors.append(palette.get(tool.split()[0], "#2e9d5b"))
    panels = 1 + bool(latency) + bool(csr.get("CSR learn_many"))
    fig, axes = plt.subplots(
        panels,
        1,
        figsize=(10, 0.32 * len(labels) + 2.5 * panels + 1.5),
        gridspec_kw={"height_ratios": [max(len(labels), 4) * 0.32] + [1.6] * (panels - 1)},
    )
    axes = list(axes) if panels > 1 else [axes]
    ax = axes[0]
    ax.barh(range(len(labels)), values, color=colors)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    if values:
        ax.set_xlim(min(values) / 1.5, max(values) * 3)  # room for the labels
    ax.set_xlabel("examples/s (timed learning pass, best of the rounds; log scale)")
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.0f}", va="center", fontsize=7)
    ax.set_title("One pass of logistic regression")
    k = 1
    if latency:
        ax = axes[k]
        k += 1
        tools = list(latency)
        med = [latency[t]["median_us"] for t in tools]
        p99 = [latency[t]["p99_us"] for t in tools]
        y = range(len(tools))
        ax.barh([i - 0.2 for i in y], med, height=0.4, label="median", color="#2e9d5b")
        ax.barh([i + 0.2 for i in y], p99, height=0.4, label="p99", color="#a0d6b4")
        ax.set_yticks(list(y), tools, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("µs per predict(line) call, -q ua")
        ax.legend(fontsize=8)
    if csr.get("CSR learn_many"):
        ax = axes[k]
        names = [n for n in ("text file learn_many", "CSR learn_many", "CSR predict_many") if csr.get(n)]
        vals = [csr[n] for n in names]
        ax.barh(range(len(names)), vals, color="#2e9d5b")
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("wabbit rows/s on the click log")
        ax.set_xlim(0, max(vals) * 1.25)  # room for the labels
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:,.0f}", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return ""


# ---------------------------------------------------------------------- RESULTS.md


def replace_section(path: Path, text: str) -> str:
    """The file with this script's section (its heading through its end marker) replaced, or appended.

    The section starts with a '# ' heading and has no other line starting with '# ', so the other
    bench scripts (which split RESULTS.md at '# ' headings) keep it whole.
    """
    old = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(HEADING) + r"\n.*?" + re.escape(END) + r"\n?", re.DOTALL)
    if pattern.search(old):
        return pattern.sub(lambda _: text.rstrip("\n") + "\n", old, count=1)
    return (old.rstrip("\n") + "\n\n" if old.strip() else "") + text.rstrip("\n") + "\n"


# ---------------------------------------------------------------------- main


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lines", type=int, default=1_000_000, help="click-log lines for cases 1, 2, 5 (default 1000000)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best time of each run is kept (default 3)")
    ap.add_argument("--bits", type=int, default=24, help="-b for every run (default 24)")
    ap.add_argument(
        "--prefix", type=int, default=None, help="lines for river/scikit-learn (default 100000; --quick 10000)"
    )
    ap.add_argument(
        "--wide-lines", type=int, default=None, help="lines of the wide stream (default --lines/10; --quick /20)"
    )
    ap.add_argument("--wide-features", type=int, default=200, help="features a line in the wide stream (default 200)")
    ap.add_argument(
        "--calls", type=int, default=None, help="timed predict calls per tool (default 100000; --quick 10000)"
    )
    ap.add_argument("--threads", type=int, default=2, help="the multi-thread wabbit runs use --threads N (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cases", default="1,2,3,4,5", help="comma-separated subset of cases 1-5 (6 is derived from 1-3)")
    ap.add_argument("--quick", action="store_true", help="small prefix, fewer predict calls, smaller wide stream")
    ap.add_argument("--write", action="store_true", help="replace this suite's section of --out and write --chart")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--chart", default=str(HERE / "results.png"))
    args = ap.parse_args(argv)
    prefix = args.prefix or (10_000 if args.quick else 100_000)
    prefix = min(prefix, args.lines)
    wide_lines = args.wide_lines or max(1000, args.lines // (20 if args.quick else 10))
    calls = args.calls or (10_000 if args.quick else 100_000)
    warmup = max(1000, calls // 10)
    wanted = {int(c) for c in args.cases.split(",") if c.strip()}
    tn = args.threads
    bits = ["-b", str(args.bits)]
    load_start = os.getloadavg()

    # ---------------------------------------------------------- which tools are here
    missing: List[str] = []
    has_vw, has_river, has_sk = have("vowpalwabbit"), have("river"), have("sklearn")
    has_wabbit = have("wabbit")
    wabbit_exe = shutil.which("wabbit")
    for ok, what in (
        (has_vw, "vowpalwabbit (pip install vowpalwabbit==9.11.9): VW rows skipped, no ratios"),
        (has_wabbit, "wabbit (the Python package): wabbit rows skipped"),
        (wabbit_exe is not None, "the `wabbit` command (not on PATH): wabbit CLI column empty"),
        (has_river, "river (pip install river==0.26.1): river row skipped"),
        (has_sk, "scikit-learn (pip install scikit-learn): sklearn row skipped"),
    ):
        if not ok:
            missing.append(what)
            log(f"NOTE: missing {what}")
    if not have("matplotlib"):
        log("NOTE: matplotlib is not installed: no chart (pip install matplotlib to get bench/results.png)")

    results: Dict[tuple, Measured] = {}
    latency: Dict[str, Dict[str, Any]] = {}
    csr: Dict[str, Any] = {}
    data_notes: List[str] = []
    vw_cmd = [sys.executable, "-m", "vowpalwabbit"]

    with tempfile.TemporaryDirectory(prefix="wabbit-suite-") as tmpdir:
        tmp = Path(tmpdir)
        clicks, head, wide = tmp / "clicks.vw", tmp / "clicks_prefix.vw", tmp / "wide.vw"
        log(f"writing the click log: {args.lines:,} lines ...")
        load_writer()(clicks, args.lines, seed=args.seed)
        with open(clicks) as src, open(head, "w") as dst:
            for _, line in zip(range(prefix), src):
                dst.write(line)
        csr["text_bytes"] = clicks.stat().st_size
        data_notes.append(
            f"click log: {args.lines:,} lines of `wabbit.synth.write_click_log(seed={args.seed})`, "
            f"{clicks.stat().st_size / 2**20:.0f} MiB; prefix: its first {prefix:,} lines"
        )
        if 3 in wanted:
            log(f"writing the wide stream: {wide_lines:,} lines x {args.wide_features} features ...")
            pos = write_wide(wide, wide_lines, seed=args.seed, n_features=args.wide_features)
            data_notes.append(
                f"wide: {wide_lines:,} lines, {args.wide_features} numeric features a line in namespaces "
                f"a-d, ids uniform over {WIDE_VOCAB:,} a namespace, values 0.01-1.00, labels from a hidden logistic model "
                f"(`bench/_suite_data.write_wide(seed={args.seed})`), {wide.stat().st_size / 2**20:.0f} MiB, "
                f"{pos:.1%} positive"
            )

        cases: List[Case] = []
        if 1 in wanted:
            cases.append(Case("1", "1. click log", clicks, LOGISTIC + bits))
            cases.append(Case("1p", f"1. click log, first {prefix:,} lines", head, LOGISTIC + bits))
        if 2 in wanted:
            cases.append(Case("2", "2. click log -q ua", clicks, LOGISTIC + bits + ["-q", "ua"]))
        if 3 in wanted:
            cases.append(Case("3", f"3. wide ({args.wide_features} features)", wide, LOGISTIC + bits))

        # ---------------------------------------------------------- jobs (one list, run round-robin)
        jobs: List[Job] = []

        def add(case: Case, tool: str, mode: str, **kw: Any) -> None:
            m = Measured(case.key, tool, mode)
            results[(case.key, tool, mode)] = m
            if tool not in case.rows:
                case.rows.append(tool)
            jobs.append(Job(m, **kw))

        def skip(case: Case, tool: str, why: str) -> None:
            m = Measured(case.key, tool, "in-process", failed=why)
            results[(case.key, tool, "in-process")] = m
            case.rows.append(tool)

        for case in cases:
            d = str(case.data)
            if has_vw:
                add(case, "vw", "in-process", spec={"kind": "vw", "data": d, "args": case.flags})
            else:
                skip(case, "vw", "vowpalwabbit is not installed")
            threads = [1] if case.key == "1p" else [1, tn]
            for t in threads:
                tool = f"wabbit --threads {t}"
                if not has_wabbit:
                    skip(case, tool, "wabbit is not installed")
                    continue
                add(
                    case,
                    tool,
                    "in-process",
                    spec={"kind": "wabbit", "data": d, "args": shlex.join(case.flags), "threads": t},
                )
            if case.key != "1p":
                if has_vw:
                    add(case, "vw", "cli", cmd=vw_cmd + ["-d", d] + case.flags)
                if wabbit_exe:
                    for t in threads:
                        add(
                            case,
                            f"wabbit --threads {t}",
                            "cli",
                            cmd=[wabbit_exe, "-d", d] + case.flags + ["--threads", str(t)],
                            threads_flag=True,
                        )
            else:
                sk = {"kind": "sklearn", "data": d, "batch": 1000, "sgd": SGD_PARAMS}
                for tool, ok, spec in (
                    ("river", has_river, {"kind": "river", "data": d}),
                    (f"sklearn (2^{args.bits} features)", has_sk, dict(sk, bits=args.bits)),
                    ("sklearn (2^18 features)", has_sk and args.bits != 18, dict(sk, bits=18)),
                ):
                    if ok:
                        add(case, tool, "in-process", spec=spec)
                    elif tool == "river" or args.bits != 18:
                        skip(case, tool, f"{'river' if tool == 'river' else 'scikit-learn'} is not installed")

        # ---------------------------------------------------------- case 4 and 5 set-up
        lat_jobs: List[tuple] = []
        lat_train = min(args.lines, 20_000) // 2  # lines to train on; the next as many are predicted
        if 4 in wanted:
            train, test = tmp / "latency_train.vw", tmp / "latency_test.vw"
            with open(clicks) as src, open(train, "w") as tr, open(test, "w") as te:
                for i, line in zip(range(2 * lat_train), src):
                    (tr if i < lat_train else te).write(line)
            lat_args = shlex.join(LOGISTIC + bits + ["-q", "ua"])
            for tool, ok in (("wabbit", has_wabbit), ("vw", has_vw)):
                if ok:
                    lat_jobs.append(
                        (
                            tool,
                            {
                                "kind": "latency",
                                "tool": tool,
                                "train": str(train),
                                "lines": str(test),
                                "args": lat_args,
                                "calls": calls,
                                "warmup": warmup,
                            },
                        )
                    )
                else:
                    log(f"NOTE: case 4 without {tool} (not installed)")
        csr_spec: Optional[Dict[str, Any]] = None
        if 5 in wanted and has_wabbit:
            log(f"pre-hashing the click log into CSR arrays ({args.lines:,} rows) ...")
            import numpy as np

            arrays = prehash_csr(clicks)
            np.savez(tmp / "clicks_csr.npz", **arrays)
            csr["rows"] = len(arrays["labels"])
            csr["learn_bytes"] = sum(a.nbytes for a in arrays.values())
            csr["predict_bytes"] = csr["learn_bytes"] - arrays["labels"].nbytes
            csr["nnz"] = len(arrays["indices"])
            del arrays
            csr_spec = {"kind": "csr", "npz": str(tmp / "clicks_csr.npz"), "args": shlex.join(LOGISTIC + bits)}
        elif 5 in wanted:
            csr["unavailable"] = "wabbit is not installed"

        # ---------------------------------------------------------- rounds
        lat_runs: Dict[str, List[Dict[str, Any]]] = {}
        csr_runs: List[Dict[str, Any]] = []
        ceilings: List[float] = []
        spin = build_spin(tmp)
        for r in range(1, args.repeat + 1):
            ceiling = spin_ceiling(tn, spin)
            if ceiling is not None:
                ceilings.append(ceiling)
                log(f"round {r}/{args.repeat} | this machine's {tn}-thread ceiling (ALU-bound loop): {ceiling:.2f}x")
            for job in jobs:
                m = job.m
                what = f"round {r}/{args.repeat} | case {m.case} | {m.tool} ({m.mode})"
                if m.failed:
                    continue
                log(f"{what}: {job.describe()}")
                job.run(tmp)
                if m.seconds and not m.failed:
                    log(
                        f"  -> {m.seconds[-1]:.3f} s, {rate(m.rows, m.seconds[-1]):,.0f} ex/s, loss {m.loss:.6f}, "
                        f"{m.rss_mb[-1]:.0f} MB{'  [' + m.note + ']' if m.note else ''}"
                    )
            for tool, spec in lat_jobs:
                log(f"round {r}/{args.repeat} | case 4 | {tool} predict latency ({calls:,} calls)")
                try:
                    res, _ = run_child(spec, tmp)
                    lat_runs.setdefault(tool, []).append(res)
                    log(f"  -> median {res['median_us']:.2f} µs, p99 {res['p99_us']:.2f} µs")
                except RuntimeError as exc:
                    log(f"  FAILED: {exc}")
            if csr_spec is not None and "unavailable" not in csr:
                log(f"round {r}/{args.repeat} | case 5 | wabbit CSR learn_many / predict_many")
                try:
                    res, rss = run_child(csr_spec, tmp)
                except RuntimeError as exc:
                    log(f"  FAILED: {exc}")
                    csr["unavailable"] = str(exc).splitlines()[0]
                    continue
                if "unavailable" in res:
                    csr["unavailable"] = res["unavailable"]
                    log(f"  -> not available: {res['unavailable']}")
                else:
                    res["rss"] = rss
                    csr_runs.append(res)
                    log(
                        f"  -> learn {res['learn_seconds']:.3f} s"
                        + (f", predict {res['predict_seconds']:.3f} s" if "predict_seconds" in res else "")
                    )

    load_end = os.getloadavg()

    # ---------------------------------------------------------- case 4 and 5 summaries
    for tool, runs in lat_runs.items():
        best = min(runs, key=lambda x: x["median_us"])
        latency[tool] = dict(best, p99_us=min(x["p99_us"] for x in runs))
    if csr_runs:
        csr["learn_seconds"] = min(x["learn_seconds"] for x in csr_runs)
        csr["loss"] = csr_runs[-1]["loss"]
        csr["learn_returned"] = csr_runs[-1].get("learn_returned", "")
        csr["warnings"] = list(dict.fromkeys(w for x in csr_runs for w in x.get("warnings", [])))
        csr["rss"] = max(x["rss"] for x in csr_runs)
        csr["CSR learn_many"] = csr["rows"] / csr["learn_seconds"]
        if all("predict_seconds" in x for x in csr_runs):
            csr["predict_seconds"] = min(x["predict_seconds"] for x in csr_runs)
            csr["CSR predict_many"] = csr["rows"] / csr["predict_seconds"]
            csr["predict_returned"] = csr_runs[-1]["predict_returned"]
        else:
            csr["predict_unavailable"] = next(x["predict_unavailable"] for x in csr_runs if "predict_unavailable" in x)
    text_run = results.get(("1", "wabbit --threads 1", "in-process"))
    if text_run and text_run.seconds:
        csr["text file learn_many"] = rate(text_run.rows, text_run.best)

    # ---------------------------------------------------------- report
    sections: List[str] = []
    sections.append("### Throughput: one learning pass (cases 1-3)\n\n" + throughput_table(cases, results))
    best_const = next(
        (
            m.extra["best_constant_loss"]
            for m in results.values()
            if m.case == "1" and m.tool == "vw" and "best_constant_loss" in m.extra
        ),
        None,
    )
    tp_notes = [
        "examples/s = examples / timed pass s (inside the child: model construction and the learning pass); ratio to VW = VW's "
        "timed pass s / the tool's for the same case and rows (above 1: faster than VW); CLI columns: "
        "whole-process wall time of `python -m vowpalwabbit -d FILE ...` and `wabbit -d FILE ...`, "
        "interpreter start included; peak RSS: the child's own ru_maxrss (includes the Python "
        "interpreter and the imported libraries)."
    ]
    if 1 in wanted:
        tp_notes.append(
            f'The rows "first {prefix:,} lines" run on the click log\'s prefix only (river and '
            "scikit-learn are too slow for the whole file); their ratio is to VW on that same prefix, "
            "and their losses are comparable only with each other (a prefix's progressive loss is "
            "higher: less has been learned)."
        )
        tp_notes.append(
            "river: `linear_model.LogisticRegression()` (its default `optim.SGD(0.01)`), "
            "`predict_proba_one` then `learn_one` per line. scikit-learn: `FeatureHasher(n_features=2**"
            f"{args.bits}, input_type='dict', alternate_sign=False)` and `SGDClassifier(loss='log_loss', "
            + ", ".join(f"{k}={v!r}" for k, v in SGD_PARAMS.items())
            + ")`, batches of 1000 lines: "
            "`decision_function` on the batch, then `partial_fit` on it (the first batch is scored 0). "
            'Both parse the text lines into {"ns^feature": value} dicts inside their timed region, '
            "as VW and wabbit parse it inside theirs. scikit-learn's time per batch is dominated by work "
            "proportional to n_features (2^24 coefficients, several passes per `partial_fit`), hence the "
            "second row with 2^18 (more hash collisions, same code). scikit-learn's defaults (learning_rate='optimal', "
            "alpha=1e-4) gave a loss of 0.69 on the first 50k lines, so the setting above was picked "
            "from six tried on those lines."
        )
    if THREADS_ERRORS or any("not accepted" in m.note for m in results.values()):
        tp_notes.append(
            "This wabbit does not take `--threads` yet ("
            + "; ".join(sorted(THREADS_ERRORS) or ["Model() raised OptionError"])
            + '): the rows marked "not accepted" ran 1 thread, so their 2-thread numbers are not a threads measurement.'
        )
    if best_const:
        tp_notes.append(f"Best constant's loss on the click log (VW): {best_const}.")
    sections.append("\n\n".join(tp_notes))

    if any(c.key in ("1", "2", "3") for c in cases):
        sections.append(
            f"### Threads (case 6): wabbit --threads {tn} against --threads 1\n\n"
            + threads_table([c for c in cases if c.key != "1p"], results)
            + f"\n\nspeed-up = 1-thread timed pass s / {tn}-thread timed pass s; loss diff = "
            f"(loss {tn}t - loss 1t) / loss 1t."
            + (
                f" The machine's own {tn}-thread ceiling, measured at the start of each round on a loop of "
                f"independent integer additions (`bench/spin.c`, one process per thread, no memory, no sharing): "
                f"{min(ceilings):.2f}x to {max(ceilings):.2f}x. Where it is below {tn}x the virtual CPUs share "
                "a physical core's execution units, and no program's speed-up on throughput-bound code "
                "(parsing, hashing) can exceed it."
                if ceilings
                else ""
            )
        )

    if 4 in wanted:
        rows = [
            "| tool | call | median µs | p99 µs | mean µs | calls timed | median ratio (VW / wabbit) |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        vw_med = latency.get("vw", {}).get("median_us")
        for tool, call in (("wabbit", "`wabbit.Model.predict(line)`"), ("vw", "pyvw `Workspace.predict(line)`")):
            if tool not in latency:
                rows.append(
                    f"| {tool} | {call} |  |  |  |  | not run ({'not installed' if (tool == 'vw' and not has_vw) or (tool == 'wabbit' and not has_wabbit) else 'failed'}) |"
                )
                continue
            x = latency[tool]
            ratio = vw_med / x["median_us"] if vw_med else float("nan")
            rows.append(
                f"| {tool} | {call} | {x['median_us']:.2f} | {x['p99_us']:.2f} | {x['mean_us']:.2f} | {x['calls']:,} | {fmt(ratio, '.2f')} |"
            )
        note = (
            f"Model `{shlex.join(LOGISTIC + bits + ['-q', 'ua'])}` trained on the click log's first {lat_train:,} lines "
            f"(`learn_many` / pyvw `learn` per line), then {warmup:,} warm-up calls and {calls:,} timed calls "
            f"cycling over the next {lat_train:,} lines without their labels (`|u ... |a ... |c ...`), each call timed on "
            "its own with `time.perf_counter_ns`; best median and best p99 over the rounds, one fresh process "
            "per tool and round."
        )
        if latency:
            timer = statistics.median(x["timer_us"] for x in latency.values())
            note += f" The timer's own cost (~{timer * 1000:.0f} ns, an empty timed call) is in every number."
        if "wabbit" in latency and "vw" in latency:
            diff = max(abs(a - b) for a, b in zip(latency["wabbit"]["sample"], latency["vw"]["sample"]))
            note += f" Predictions agree: max |wabbit - VW| over 200 lines = {diff:.2g}."
        sections.append("### Predict latency from Python (case 4)\n\n" + "\n".join(rows) + "\n\n" + note)

    if 5 in wanted:
        body = ["### CSR batches (case 5): wabbit on pre-hashed arrays"]
        if "unavailable" in csr and not csr_runs:
            body.append(f"Not available with this wabbit: {csr['unavailable']}")
        rows = [
            "| operation | rows | seconds | rows/s | input GB/s | log loss | note |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        if text_run and text_run.seconds:
            gbs = csr["text_bytes"] / text_run.best / 1e9 if "text_bytes" in csr else float("nan")
            rows.append(
                f"| `learn_many(path)` (text, case 1, 1 thread) | {text_run.rows:,} | {text_run.best:.3f} | "
                f"{rate(text_run.rows, text_run.best):,.0f} | {fmt(gbs, '.3f')} | {text_run.loss:.6f} | for comparison |"
            )
        if csr_runs:
            rows.append(
                f"| `learn_many((indices, values, offsets), labels=labels)` | {csr['rows']:,} | {csr['learn_seconds']:.3f} | "
                f"{csr['CSR learn_many']:,.0f} | {csr['learn_bytes'] / csr['learn_seconds'] / 1e9:.3f} | {csr['loss']:.6f} | "
                f"returned {csr['learn_returned']}{'; ' + '; '.join(csr['warnings']) if csr.get('warnings') else ''} |"
            )
            if "predict_seconds" in csr:
                rows.append(
                    f"| `predict_many((indices, values, offsets))` | {csr['rows']:,} | {csr['predict_seconds']:.3f} | "
                    f"{csr['CSR predict_many']:,.0f} | {csr['predict_bytes'] / csr['predict_seconds'] / 1e9:.3f} |  | "
                    f"returned {csr['predict_returned']} |"
                )
            else:
                rows.append(
                    f"| `predict_many((indices, values, offsets))` |  |  |  |  |  | not available: {csr['predict_unavailable']} |"
                )
        if len(rows) > 2:
            body.append("\n".join(rows))
        if "rows" in csr:
            body.append(
                f"Arrays: the click log ({csr['rows']:,} rows, {csr.get('nnz', 0):,} non-zeros) hashed in Python "
                "before the run (`bench/_suite_data.prehash_csr`): indices uint32 = VW's 32-bit feature hash "
                "`hash_feature(name, hash_namespace(ns))` (before the `-b` mask; no constant feature), values "
                "float32, offsets int64 (rows + 1), labels float32 -1/1; input bytes = the arrays passed "
                f"({csr['learn_bytes'] / 1e6:.0f} MB for learn, {csr['predict_bytes'] / 1e6:.0f} MB for predict). "
                "The text row's GB/s is the file's bytes. Same hashes as the text parser, so the CSR loss "
                "should equal the text loss."
            )
        sections.append("\n\n".join(body))

    report = "\n\n".join(sections)
    print(report)
    if missing:
        print("\nSkipped (missing): " + "; ".join(missing))

    if args.write:
        chart_note = chart(Path(args.chart), cases, results, latency, csr)
        if chart_note:
            log(f"NOTE: {chart_note}")
        versions = []
        for mod in ("wabbit", "vowpalwabbit", "river", "sklearn"):
            try:
                from importlib.metadata import version

                versions.append(f"{mod} {version('scikit-learn' if mod == 'sklearn' else mod)}")
            except Exception:
                versions.append(f"{mod} not installed")
        command = shlex.join(["python", "bench/bench_suite.py", *(argv if argv is not None else sys.argv[1:])])
        rel_chart = os.path.relpath(args.chart, Path(args.out).resolve().parent)
        head_lines = [
            HEADING,
            "",
            BEGIN,
            "",
            f"- command: `{command}`",
            f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
            f"- machine: {machine_info()}; load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end",
            f"- versions: {'; '.join(versions)}; VW command: {tool_version(vw_cmd) if has_vw else 'not installed'}",
            *[f"- data: {n}" for n in data_notes],
            f"- timing: every run is a fresh child process; the timed region is inside it, around the model's "
            f"construction and the learning pass (VW: `Workspace(arg_list=['-d', FILE, ...])`; wabbit: `Model(args).learn_many(FILE)`; "
            f"river/scikit-learn: the read-parse-score-learn loop), no interpreter start or imports; best of "
            f"{args.repeat} rounds, all runs interleaved within each round; peak RSS: the run's own `ru_maxrss` from `os.wait4` "
            f"in a small launcher process (`bench/_suite_launch.py`)",
            "",
            (f"![benchmark suite]({rel_chart})" if not chart_note else f"(no chart: {chart_note})"),
            "",
            report,
        ]
        if missing:
            head_lines += ["", "Skipped (missing): " + "; ".join(missing)]
        head_lines += ["", END, ""]
        text = "\n".join(head_lines)
        bad = [line for line in text.splitlines()[1:] if line.startswith("# ")]
        assert not bad, f"a '# ' line inside the section would split it for the other bench scripts: {bad}"
        out = Path(args.out)
        out.write_text(replace_section(out, text))
        log(f"wrote {out}" + ("" if chart_note else f" and {args.chart}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 6's acceptance: a monitored model after an abrupt concept change, against VW and a fresh model.

On a click log (``wabbit.synth.write_click_log``, 10 features a line) whose hidden model changes at
line ``--drift-at``, every tool learns with ``--loss_function logistic -q ua`` and writes its
progressive predictions (``-p``); the script computes the progressive log loss
``log(1 + exp(-y p))`` (labels -1/1, margins p) over the ``--window`` examples after the change:

* ``vw``: Vowpal Wabbit (``python -m vowpalwabbit``), which does not notice the change;
* ``wabbit``: the same, unmonitored (VW's numbers);
* ``wabbit --drift adwin --drift_response switch`` (and ``reset``, ``boost`` for comparison);
* ``scratch``: a model trained from scratch from the change point (on the lines after it only).

Acceptance: switch at least 10% below VW, and within 3% of scratch. Then, on a stationary click
log of the same length, the monitored model's ADWIN alarms (``Model.monitor`` with a signal
callable that records what the detector is fed) against river 0.26.1's ADWIN on that same loss
signal: no more false alarms.

    python bench/bench_drift_response.py [--lines 400000] [--drift-at 200000] [--window 100000] [--seed 0]
    python bench/bench_drift_response.py --write      # also replace its section of bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

import numpy as np

FLAGS = ["--loss_function", "logistic", "-q", "ua"]
HEADING = "# Drift response (issue 6): wabbit --drift vs VW after a concept change"


def run(cmd: List[str], cwd: Path) -> tuple:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return seconds, proc.stderr


def log_loss(pred_file: Path, y: np.ndarray) -> np.ndarray:
    p = np.array([float(line.split()[0]) for line in pred_file.read_text().splitlines() if line.strip()])
    if len(p) != len(y):
        sys.exit(f"{pred_file}: {len(p)} predictions for {len(y)} examples")
    return np.logaddexp(0.0, -y * p)


def labels(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        return np.array([1.0 if line.startswith(b"1 ") else -1.0 for line in f])


def replace_section(path: Path, text: str) -> str:
    """The file's text with this script's section (up to the next '# ' heading) replaced, or added."""
    old = path.read_text() if path.exists() else ""
    sections: List[str] = []
    for line in old.splitlines(keepends=True):
        if line.startswith("# ") or not sections:
            sections.append("")
        sections[-1] += line
    out, done = [], False
    for s in sections:
        if s.startswith(HEADING + "\n"):
            out.append(text)
            done = True
        elif s.strip():
            out.append(s)
    if not done:
        out.append(text)
    return "\n".join(part.rstrip("\n") + "\n" for part in out)


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=400_000)
    ap.add_argument("--drift-at", type=int, default=200_000)
    ap.add_argument("--window", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="replace this script's section of --out")
    ap.add_argument("--out", default="bench/RESULTS.md")
    args = ap.parse_args(argv)

    import wabbit
    from wabbit.drift import ADWIN
    from wabbit.synth import write_click_log

    wabbit_cmd = [sys.executable, "-m", "wabbit"]
    tmp = Path(tempfile.mkdtemp(prefix="bench_drift_response_"))
    try:
        drift, stationary = tmp / "drift.vw", tmp / "stationary.vw"
        t0 = time.perf_counter()
        write_click_log(drift, args.lines, seed=args.seed, drift_at=args.drift_at)
        write_click_log(stationary, args.lines, seed=args.seed)
        with open(drift, "rb") as f:
            tail = f.readlines()[args.drift_at :]
        (tmp / "after.vw").write_bytes(b"".join(tail))
        gen = time.perf_counter() - t0
        y = labels(drift)
        window = slice(args.drift_at, args.drift_at + args.window)

        runs = [
            ("vw", [sys.executable, "-m", "vowpalwabbit", "-d", "drift.vw", *FLAGS, "-p", "vw.p", "--quiet"], "vw.p"),
            ("wabbit", [*wabbit_cmd, "-d", "drift.vw", *FLAGS, "-p", "plain.p", "--quiet"], "plain.p"),
        ]
        for response in ("switch", "reset", "boost"):
            runs.append(
                (
                    f"wabbit --drift adwin --drift_response {response}",
                    [
                        *wabbit_cmd,
                        "-d",
                        "drift.vw",
                        *FLAGS,
                        "--drift",
                        "adwin",
                        "--drift_response",
                        response,
                        "-p",
                        f"{response}.p",
                    ],
                    f"{response}.p",
                )
            )
        rows, losses, notes = [], {}, {}
        for name, cmd, pred in runs:
            seconds, err = run(cmd, tmp)
            loss = log_loss(tmp / pred, y)
            losses[name] = float(loss[window].mean())
            progress = err.split("finished run")[0]  # the lines in the progress output, not the summary
            notes[name] = [
                line for line in progress.splitlines() if line.startswith(("drift", "switched", "challenger"))
            ]
            notes[name] += [
                line for line in err.split("finished run")[-1].splitlines() if line.startswith(("drift", "challenger"))
            ]
            rows.append((name, seconds, losses[name], float(loss.mean())))
        seconds, _ = run([*wabbit_cmd, "-d", "after.vw", *FLAGS, "-p", "scratch.p", "--quiet"], tmp)
        scratch = float(log_loss(tmp / "scratch.p", y[args.drift_at :])[: args.window].mean())
        rows.append(("scratch (wabbit from the change point)", seconds, scratch, float("nan")))

        # the stationary stream: monitored ADWIN's alarms against river's on the same loss signal
        fed: List[np.ndarray] = []

        def loss_signal(label, prediction, values):
            fed.append(values.copy())
            return values

        m = wabbit.Model(" ".join(FLAGS))
        m.monitor(ADWIN(), loss_signal, "switch", log=lambda s: None)
        m.learn_many(str(stationary))
        ours = [e.index for e in m.drift_events if e.kind == "drift"]
        switches = [e.index for e in m.drift_events if e.kind == "switch"]
        try:
            from river.drift import ADWIN as RiverADWIN

            det, theirs = RiverADWIN(), []
            for i, x in enumerate(np.concatenate(fed)):
                det.update(float(x))
                if det.drift_detected:
                    theirs.append(i)
        except ImportError:
            theirs = None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    vw, switch = losses["vw"], losses["wabbit --drift adwin --drift_response switch"]
    below_vw = 1 - switch / vw
    over_scratch = switch / scratch - 1
    from importlib.metadata import version

    out = [
        HEADING,
        "",
        f"- command: `python bench/bench_drift_response.py --lines {args.lines} --drift-at {args.drift_at} "
        f"--window {args.window} --seed {args.seed}{' --write' if args.write else ''}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: nproc {os.cpu_count()}, {platform.platform()}, Python {platform.python_version()}",
        f"- versions: vowpalwabbit {version('vowpalwabbit')}; wabbit {wabbit.__version__}",
        f"- data: {args.lines:,} lines of `wabbit.synth.write_click_log(seed={args.seed}, drift_at={args.drift_at})` "
        f"(the hidden model changes at line index {args.drift_at:,}); generated in {gen:.1f} s",
        f"- every run: `-d FILE {' '.join(FLAGS)} -p PREDS`; log loss = mean of log(1 + exp(-y p)) over the "
        f"{args.window:,} examples after the change (lines {args.drift_at:,} to {args.drift_at + args.window - 1:,}, "
        "0-based), from the -p file",
        "",
        "| run | seconds | log loss after the change | vs VW | vs scratch | log loss, whole stream |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, secs, after, whole in rows:
        out.append(
            f"| {name} | {secs:.2f} | {after:.6f} | {after / vw - 1:+.1%} | {after / scratch - 1:+.1%} | "
            + ("" if whole != whole else f"{whole:.6f}")
            + " |"
        )
    out += [
        "",
        f"Acceptance: switch is {below_vw:.1%} below VW (needs at least 10%): "
        f"{'PASS' if below_vw >= 0.10 else 'FAIL'}; {over_scratch:+.1%} against scratch (needs at most +3%): "
        f"{'PASS' if over_scratch <= 0.03 else 'FAIL'}.",
        "",
        "What the switch run printed (in the progress output, then at the end of the summary):",
        "",
        *[f"    {line}" for line in notes["wabbit --drift adwin --drift_response switch"]],
        "",
        f'Stationary stream ({args.lines:,} lines, same seed, no change; `Model.monitor(ADWIN(), ..., "switch")`): '
        f"{len(ours)} ADWIN alarm(s) at 0-based indices {ours}, {len(switches)} switches; river 0.26.1's ADWIN on the same loss "
        + (
            f"signal: {len(theirs)} alarm(s) at {theirs}: "
            f"{'PASS' if len(ours) <= len(theirs) else 'FAIL'} (no more false alarms than river)."
            if theirs is not None
            else "signal: river is not installed."
        ),
    ]
    text = "\n".join(out) + "\n"
    print(text)
    if args.write:
        Path(args.out).write_text(replace_section(Path(args.out), text))
        print(f"wrote {args.out}")
    return 0 if below_vw >= 0.10 and over_scratch <= 0.03 and (theirs is None or len(ours) <= len(theirs)) else 1


if __name__ == "__main__":
    sys.exit(main())

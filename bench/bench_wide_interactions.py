"""Wide lines with interactions: wabbit vs Vowpal Wabbit (issue 14, item 8).

What it measures: one pass with ``-q aa`` over lines of 5,000 and 20,000 features in namespace
``a`` (12.5M and 200M generated features a line), and with ``-q tt`` over documents of 2,000 words
in namespace ``t``, each run as a fresh child process by

* Vowpal Wabbit: ``python -m vowpalwabbit -d FILE -q .. --quiet``
* wabbit:        ``python -m wabbit -d FILE -q .. --quiet`` (this tree's package, via PYTHONPATH)

Wall time is ``time.perf_counter`` around the child (the minimum over ``--repeat`` runs); user
time and peak RSS are the child's own, from ``os.wait4`` (``ru_utime``, ``ru_maxrss`` in KiB;
a fresh interpreter after exec, so the parent's size does not leak into it). Both columns include
the interpreter's start (about 0.3 s and 23 MB for either tool).

Run::

    python bench/bench_wide_interactions.py [--repeat 3] [--docs 20]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parents[1]


def write_wide(path: Path, width: int, lines: int, seed: int) -> None:
    r = random.Random(seed)
    with path.open("w") as f:
        for _ in range(lines):
            feats = " ".join(f"f{r.randrange(10**7)}:{r.uniform(-1, 1):.3f}" for _ in range(width))
            f.write(f"{r.choice([-1, 1])} |a {feats}\n")


def write_docs(path: Path, words: int, docs: int, seed: int) -> None:
    r = random.Random(seed)
    vocab = [f"w{k}" for k in range(50000)]
    with path.open("w") as f:
        for _ in range(docs):
            f.write(f"{r.choice([-1, 1])} |t " + " ".join(r.choice(vocab) for _ in range(words)) + "\n")


def run_child(cmd: List[str], env: dict) -> Tuple[float, float, int]:
    """(wall seconds, user seconds, peak RSS KiB) of one child run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-1000:]}")
    return wall, usage.ru_utime, usage.ru_maxrss


def measure(cmd: List[str], env: dict, repeat: int) -> Tuple[float, float, int]:
    runs = [run_child(cmd, env) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--docs", type=int, default=20, help="documents of 2,000 words")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        p5 = Path(tmp) / "w5k.vw"
        write_wide(p5, 5000, 2, seed=1)
        cases.append(("5,000 features, 2 lines", p5, "aa"))
        p20 = Path(tmp) / "w20k.vw"
        write_wide(p20, 20000, 1, seed=2)
        cases.append(("20,000 features, 1 line", p20, "aa"))
        pd = Path(tmp) / "docs.vw"
        write_docs(pd, 2000, args.docs, seed=3)
        cases.append((f"2,000-word documents, {args.docs} lines", pd, "tt"))
        for name, path, q in cases:
            vw = measure([sys.executable, "-m", "vowpalwabbit", "-d", str(path), "-q", q, "--quiet"], env, args.repeat)
            wb = measure([sys.executable, "-m", "wabbit", "-d", str(path), "-q", q, "--quiet"], env, args.repeat)
            rows.append((name, q, vw, wb))
    print("| input | -q | VW wall s | VW user s | VW peak MB | wabbit wall s | wabbit user s | wabbit peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, q, vw, wb in rows:
        print(
            f"| {name} | {q} | {vw[0]:.2f} | {vw[1]:.2f} | {vw[2] / 1024:.1f} | {wb[0]:.2f} | {wb[1]:.2f} | "
            f"{wb[2] / 1024:.1f} |"
        )


if __name__ == "__main__":
    main()

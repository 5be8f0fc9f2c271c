"""Helpers shared by the soak and leak checks (bench/soak_memory.py, soak_serve.py, soak_trainer.py):
reading a process's resident memory and descriptors from /proc, quantiles, a least-squares slope,
and the environment that makes child processes import the wabbit under test."""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Dict, List, Optional, Sequence


def rss_kb(pid: Optional[int] = None) -> int:
    """VmRSS of ``pid`` (default: this process) in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid or 'self'}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc status (Linux only)")


def fd_count(pid: int) -> int:
    """Open file descriptors of ``pid`` (entries of /proc/PID/fd)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (0 with fewer than two points)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def wabbit_python_dir() -> str:
    """The folder the wabbit under test is imported from (a checkout's python/ or site-packages)."""
    import wabbit

    return os.path.dirname(os.path.dirname(os.path.abspath(wabbit.__file__)))


def child_env() -> Dict[str, str]:
    """os.environ with the wabbit under test first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = wabbit_python_dir() + os.pathsep + env.get("PYTHONPATH", "")
    return env


def report(result: Dict[str, Any], json_path: Optional[str]) -> None:
    """Write ``result`` as JSON to ``json_path`` (when given)."""
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)


def fail_lines(failures: List[str]) -> int:
    """Print the failures (if any) on stderr; the exit status: 1 when there are any, else 0."""
    for line in failures:
        print(f"FAIL: {line}", file=sys.stderr)
    if not failures:
        print("PASS", file=sys.stderr)
    return 1 if failures else 0

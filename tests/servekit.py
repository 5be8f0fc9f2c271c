"""Helpers of the serving tests: raw line-protocol exchanges, the CLI as a subprocess, bounded waits."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from typing import Callable, List, Optional

TIMEOUT = 20.0


def wabbit(args, cwd, **kw) -> subprocess.CompletedProcess:
    """``python -m wabbit ARGS`` (text output), bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "wabbit", *map(str, args)],
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        **kw,
    )


def predictions_of(args, cwd, lines: List[str], name: str = "in.txt") -> str:
    """The -p text of ``wabbit ARGS -d FILE -p OUT`` over ``lines``."""
    data = os.path.join(str(cwd), name)
    with open(data, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    out = os.path.join(str(cwd), name + ".pred")
    proc = wabbit([*args, "-d", data, "-p", out, "--quiet"], cwd)
    assert proc.returncode == 0, proc.stderr
    with open(out) as f:
        return f.read()


def exchange(port: int, text: str, replies: Optional[int] = None, host: str = "127.0.0.1") -> str:
    """Send ``text`` on one connection (from a thread), then read until ``replies`` lines came back
    (default: the server closes after our half-close)."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        sender = threading.Thread(target=s.sendall, args=(text.encode(),), daemon=True)
        sender.start()
        chunks = []
        got = 0
        if replies is None:
            sender.join(TIMEOUT)
            s.shutdown(socket.SHUT_WR)
        while replies is None or got < replies:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            got += chunk.count(b"\n")
        sender.join(TIMEOUT)
        return b"".join(chunks).decode()


def wait_for(condition: Callable[[], bool], what: str, seconds: float = TIMEOUT) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def process_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts as exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return True


def regression_lines(n: int, seed: int = 5) -> List[str]:
    """Labelled lines over a few namespaces, with tags on some."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        feats = " ".join(f"f{rng.randrange(40)}:{round(rng.uniform(-2, 2), 3)}" for _ in range(4))
        tag = f" 'ex{i}" if i % 7 == 0 else ""
        out.append(f"{round(rng.uniform(-1, 3), 3)}{tag} |u {feats} |a id={rng.randrange(9)}")
    return out

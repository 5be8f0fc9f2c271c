"""Start one command and measure it from a small process: ``python _suite_launch.py OUT CMD...``.

Writes ``seconds max_rss_kib exit_code`` to OUT: the wall time from fork to the command's exit and
its peak RSS from ``os.wait4``. Why not measure from bench_suite.py itself: on Linux a child's
``ru_maxrss`` includes the high-water RSS of the memory it was forked from (``subprocess`` uses
vfork, so that is the parent's peak; with fork, the parent's RSS at the time), and bench_suite.py
grows to hundreds of MB (generated data, CSR arrays). Forked from this launcher (a bare
interpreter, ~10 MB, less than any Python child's own footprint) the number is the command's own.
Only os, sys and time are imported here, to keep it small.
"""

import os
import sys
import time


def main() -> int:
    out, cmd = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        except OSError as exc:
            print(f"cannot run {cmd[0]}: {exc}", file=sys.stderr, flush=True)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    with open(out, "w") as fh:
        fh.write(f"{seconds!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

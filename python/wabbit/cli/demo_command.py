"""``wabbit demo``: generate a synthetic click log and learn it, to see the command at work."""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from typing import List

from wabbit.cli.train import run
from wabbit.model import load
from wabbit.options import option, parse_args, parse_subcommand, subcommand_parser

__all__ = ["DemoArgs", "demo"]


# The subcommand's flags, each declared once as the main command's are (wabbit/options.py):
# names, help, default; the parser and its --help come from these declarations.
@dataclasses.dataclass
class DemoArgs:
    lines: int = option("--lines", help="click log lines to generate", default=200_000)
    seed: int = option("--seed", help="the generator's seed", default=0)


def demo(argv: List[str]) -> int:
    """Generate a synthetic click log and learn it with logistic loss and a user x ad interaction."""
    from wabbit.synth import write_click_log

    p = subcommand_parser(DemoArgs, "wabbit demo", demo.__doc__)
    a = parse_subcommand(DemoArgs, p, argv)
    if a.lines < 1:
        p.error(f"--lines takes a positive number of lines, got {a.lines}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clicks.vw")
        print(f"wabbit demo: generating {a.lines} click-log lines (seed {a.seed}) ...", file=sys.stderr)
        write_click_log(path, a.lines, seed=a.seed)
        flags = ["-d", path, "--loss_function", "logistic", "-q", "ua", "-b", "24", "-f", os.path.join(tmp, "m.model")]
        print("wabbit demo: wabbit " + " ".join(flags[2:]), file=sys.stderr)
        start = time.perf_counter()
        status = run(parse_args(flags), sys.stderr)
        seconds = time.perf_counter() - start
        if status == 0:
            m = load(os.path.join(tmp, "m.model"))
            print(
                f"wabbit demo: read, learned and saved {a.lines} lines in {seconds:.2f} s; reloaded the model: {m!r}",
                file=sys.stderr,
            )
        return status

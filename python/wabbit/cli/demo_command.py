"""``wabbit demo``: generate a synthetic click log and learn it, to see the command at work.

``wabbit demo --pipeline [--seconds S]``: the continuous-training loop instead (an ad server, a
serving replica, the trainer and a model store on librdkafka's mock cluster, all in this process):
see :mod:`wabbit.cli.pipeline_demo` and docs/pipeline.md.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from typing import TYPE_CHECKING, List

from wabbit.cli.train import run
from wabbit.model import load
from wabbit.options import option, parse_args, parse_subcommand, subcommand_parser, switch

if TYPE_CHECKING:
    import argparse

__all__ = ["DemoArgs", "demo"]


# The subcommand's flags, each declared once as the main command's are (wabbit/options.py):
# names, help, default; the parser and its --help come from these declarations.
@dataclasses.dataclass
class DemoArgs:
    lines: int = option("--lines", help="click log lines to generate", default=200_000)
    seed: int = option("--seed", help="the generator's seed", default=0)
    pipeline: bool = switch(
        "--pipeline",
        help="run the continuous-training loop instead: ad server, replica, trainer and store on a Kafka mock cluster",
    )
    seconds: float = option("--seconds", help="with --pipeline: how long impressions are sent", default=30.0)
    rate: int = option("--rate", help="with --pipeline: impressions a second", default=2000)
    every: float = option("--every", help="with --pipeline: seconds between progress lines", default=3.0)
    json: bool = switch("--json", help="with --pipeline: also print the summary as one JSON object on stdout")


def demo(argv: List[str]) -> int:
    """Generate a synthetic click log and learn it with logistic loss and a user x ad interaction."""
    from wabbit.synth import write_click_log

    p = subcommand_parser(DemoArgs, "wabbit demo", demo.__doc__)
    a = parse_subcommand(DemoArgs, p, argv)
    if a.pipeline:
        return _pipeline(p, a)
    if a.seconds != 30.0 or a.rate != 2000 or a.every != 3.0 or a.json:
        p.error("--seconds, --rate, --every and --json go with --pipeline")
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


def _pipeline(p: "argparse.ArgumentParser", a: DemoArgs) -> int:
    from wabbit.cli.pipeline_demo import PipelineSettings, run_pipeline

    if not (a.seconds > 0 and a.seconds <= 3600):
        p.error(f"--seconds takes a number of seconds in (0, 3600], got {a.seconds}")
    if a.rate < 1:
        p.error(f"--rate takes a positive number of impressions a second, got {a.rate}")
    if not a.every > 0:
        p.error(f"--every takes a positive number of seconds, got {a.every}")
    s = PipelineSettings(seconds=a.seconds, rate=a.rate, every=a.every, seed=a.seed, json=a.json)
    return run_pipeline(s, sys.stderr)

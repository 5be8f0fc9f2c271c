"""``wabbit ope -d LOG -i MODEL``: off-policy evaluation of a model on a logged bandit stream."""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, Callable, List, Optional

from wabbit.cli.process import describe_error
from wabbit.model import load
from wabbit.options import OptionError, option, parse_subcommand, subcommand_parser

__all__ = ["ope"]


def ope(argv: List[str], load: Callable[[str], Any] = load) -> int:
    """Off-policy evaluation: would the model (-i) have done better than the policy that wrote the
    log (-d, VW's ADF text format, plain or gzip)? Prints each estimator's expected cost per event
    for the model, with its interval, next to the log's own average cost."""
    # (the docstring is the command's --help text; ``load`` reads a model file: wabbit.model.load,
    # or a test's stand-in)
    from wabbit.ope import ESTIMATORS, INTERVALS, evaluate_log

    # declared here, where the estimators' names are imported (the command line does not import
    # numpy for the other commands)
    @dataclasses.dataclass
    class OpeArgs:
        data: str = option("-d", "--data", help="the logged events: VW ADF text, plain or gzip", required=True)
        initial_regressor: str = option(
            "-i",
            "--initial_regressor",
            help="the target model file (--cb_explore_adf: its pmf; --cb_adf: greedy on its scores)",
            required=True,
            metavar="MODEL",
        )
        estimator: str = option(
            "--estimator", help=f"comma-separated, from {','.join(ESTIMATORS)}", default="ips,snips,dr"
        )
        alpha: float = option("--alpha", help="1 - the intervals' coverage", default=0.05, note="95% intervals")
        interval: str = option(
            "--interval",
            help="normal (central limit on the per-event terms) or bootstrap (percentile)",
            default="normal",
            choices=INTERVALS,
        )
        resamples: int = option("--resamples", help="bootstrap resamples", default=1000)
        seed: int = option("--seed", help="bootstrap seed", default=0)
        cost_model: Optional[str] = option(
            "--cost_model",
            help="dr/dm: a model file predicting per-action costs (--cb_adf), not trained on this log; "
            "default: a regression learned progressively along the log",
            metavar="MODEL",
        )
        cost_flags: str = option("--cost_flags", help="flags of the progressive cost regression", default="-q ::")

    a = parse_subcommand(OpeArgs, subcommand_parser(OpeArgs, "wabbit ope", ope.__doc__), argv)
    estimators = [e.strip() for e in a.estimator.split(",") if e.strip()]
    try:
        target = load(a.initial_regressor)
        cost_model: Any = load(a.cost_model) if a.cost_model else "online:" + a.cost_flags
        report = evaluate_log(
            a.data,
            target,
            cost_model=cost_model,
            estimators=estimators,
            alpha=a.alpha,
            interval=a.interval,
            resamples=a.resamples,
            seed=a.seed,
        )
    except (OSError, ValueError, TypeError, OptionError) as e:
        if os.environ.get("WABBIT_DEBUG"):
            raise
        print(f"wabbit: error: {describe_error(e)}", file=sys.stderr)
        return 1
    sys.stdout.write(str(dataclasses.replace(report, target=a.initial_regressor)))
    return 0

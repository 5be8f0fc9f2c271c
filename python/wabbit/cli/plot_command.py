"""``wabbit plot``: a run's progressive loss as a PNG (or any format matplotlib writes), from its
``-p`` output with the data's labels, or from its progress log; or a bench results table as bars.

    wabbit plot -p preds.txt -d train.vw --loss_function logistic [--log run.log] [--store DIR] -o loss.png
    wabbit plot --log run.log -o loss.png          # the progress table a run printed on stderr
    wabbit plot --bench bench/RESULTS.md --table "wabbit vs Vowpal Wabbit" --column lines/s -o speed.png

With ``-p``, each example's loss is computed from its prediction and its label in ``-d`` (VW's
losses: squared, logistic on the raw score, hinge); ``--log`` adds the drift alarms and challenger
switches the run printed, ``--store`` the versions it saved (at their example counts).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, List, Optional

from wabbit.cli.process import describe_error
from wabbit.options import option, parse_subcommand, subcommand_parser, switch

__all__ = ["PlotArgs", "plot", "draw"]


@dataclasses.dataclass
class PlotArgs:
    output: str = option("-o", "--output", help="the picture to write (.png, .svg, .pdf)", required=True)
    predictions: Optional[str] = option("-p", "--predictions", help="a run's -p file (one prediction a line)")
    data: Optional[str] = option("-d", "--data", help="with -p: the data file the run read (its labels)")
    loss_function: str = option(
        "--loss_function", help="with -p: the loss", default="squared", choices=("squared", "logistic", "hinge")
    )
    log: Optional[str] = option("--log", help="the run's progress log (its stderr): VW's table and drift lines")
    store: Optional[str] = option("--store", help="a model store the run saved versions into (marked)")
    window: Optional[int] = option("--window", help="with -p: examples in the moving average (default n/50)")
    bench: Optional[str] = option("--bench", help="a bench results file (bench/RESULTS.md): chart a table")
    table: Optional[str] = option("--table", help="with --bench: words of the table's heading")
    column: Optional[str] = option("--column", help="with --bench: the column to chart (default: the first numeric)")
    log_scale: bool = switch("--log_scale", help="with --bench: a logarithmic axis")
    title: Optional[str] = option("--title", help="the chart's title")


def draw(a: PlotArgs) -> Any:
    """The figure ``wabbit plot`` writes, from its parsed arguments."""
    from wabbit import plot as plots

    if a.bench:
        fig = plots.bench_chart(a.bench, a.table, a.column, log=a.log_scale)
    elif a.predictions:
        if not a.data:
            raise ValueError("-p needs -d, the data file the run read (the labels come from it)")
        predictions, labels = plots.read_predictions(a.predictions), plots.read_labels(a.data)
        if len(predictions) != len(labels):
            raise ValueError(f"{a.predictions} has {len(predictions)} predictions, {a.data} {len(labels)} examples")
        log = plots.read_progress_log(a.log) if a.log else plots.ProgressLog()
        fig = plots.progressive_loss(
            plots.losses(predictions, labels, a.loss_function),
            drift=log.drift,
            switches=log.switches,
            versions=log.versions + _store_versions(a.store),
            window=a.window,
        )
    elif a.log:
        fig = plots.progress_log(a.log, versions=_store_versions(a.store))
    else:
        raise ValueError("give -p FILE -d DATA, --log FILE or --bench FILE")
    if a.title and fig.axes:
        fig.axes[0].set_title(a.title)
    return fig


def _store_versions(path: Optional[str]) -> List[int]:
    if not path:
        return []
    from wabbit.store import ModelStore

    if not os.path.isdir(path):
        raise OSError(f"no model store at {path}")
    return [v.examples for v in ModelStore(path).list()]


def plot(argv: List[str]) -> int:
    """Draw a run's progressive loss (from -p and -d, or from its progress log) with drift alarms,
    challenger switches and saved versions marked, or a bench results table, into a picture file."""
    a = parse_subcommand(PlotArgs, subcommand_parser(PlotArgs, "wabbit plot", plot.__doc__), argv)
    try:
        fig = draw(a)
        fig.savefig(a.output, dpi=110)
    except (OSError, ValueError, ImportError) as e:
        if os.environ.get("WABBIT_DEBUG"):
            raise
        print(f"wabbit: error: {describe_error(e) if isinstance(e, OSError) else e}", file=sys.stderr)
        return 1
    print(f"wabbit plot: wrote {a.output}", file=sys.stderr)
    return 0

"""The ``wabbit`` command: Vowpal Wabbit's flags, progress table and summary.

wabbit -d train.vw -f model.bin --loss_function logistic -q ua
wabbit -d test.vw -t -i model.bin -p predictions.txt
wabbit demo            # generate a click stream and learn it
wabbit inspect model.bin
wabbit ope -d log.dat -i model.bin   # would the model have done better on this log?
wabbit plot -p preds.txt -d train.vw --loss_function logistic -o loss.png   # the progressive loss
wabbit train --source kafka://localhost:9092/clicks --store models/   # learn a stream, publish versions
wabbit -t -i model.bin --daemon --port 26542   # answer predictions over VW's line protocol

The rooms: :mod:`~wabbit.cli.train` (the run the VW flags describe), :mod:`~wabbit.cli.summary`
(the header and closing text), :mod:`~wabbit.cli.outputs` (-p, -f, readable models),
:mod:`~wabbit.cli.process` (signals, exit statuses, error text), and one module per subcommand.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional, Sequence

from wabbit._version import __version__
from wabbit.cli.demo_command import demo
from wabbit.cli.inspect_command import describe_model_file, format_model_info, inspect
from wabbit.cli.ope_command import ope
from wabbit.cli.plot_command import plot
from wabbit.cli.process import (
    EXIT_SIGINT,
    EXIT_SIGTERM,
    Terminated,
    catch_sigterm,
    describe_error,
    silence_stdout,
)
from wabbit.cli.summary import best_constant, summary
from wabbit.cli.train import run
from wabbit.cli.trainer_command import train
from wabbit.model import load
from wabbit.options import OptionError, flag_help, parse_args

__all__ = ["main", "run", "summary", "best_constant", "demo", "inspect", "ope", "plot", "train", "describe_model_file"]
__all__ += ["format_model_info", "Terminated", "EXIT_SIGINT", "EXIT_SIGTERM"]

USAGE = """usage: wabbit [VW flags]        learn from -d FILE (or standard input)
       wabbit demo [--lines N] [--seed S]   generate a click stream and learn it
       wabbit demo --pipeline [--seconds S] the continuous-training loop on a mock Kafka cluster
       wabbit inspect [--json] MODEL        print what a model file holds, lineage included
       wabbit ope -d LOG -i MODEL [--estimator ips,snips,dr] [--alpha 0.05]
                                            off-policy evaluation of MODEL on a VW ADF log
       wabbit plot -p PREDS -d DATA [--loss_function L] [--log LOG] [--store DIR] -o OUT.png
       wabbit plot --log LOG -o OUT.png | --bench bench/RESULTS.md [--table T] -o OUT.png
                                            the progressive loss with drift alarms, switches and
                                            versions marked; bench tables as bars (matplotlib)
       wabbit train --source URL [--labels URL] --store DIR [--gate ...] [--replay R] [model flags]
                                            learn an event stream, publish validated versions
       wabbit --daemon [-i MODEL] [-t] [-f MODEL] [--port N] [--http_port N]
                                            serve VW's line protocol (docs/serving.md)

Flags (as in Vowpal Wabbit):
"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    restore = catch_sigterm()
    try:
        return _main(args)
    except BrokenPipeError:
        # the reader of our output (head, less) has seen enough: stop quietly, as Unix tools do
        silence_stdout()
        return 0
    except KeyboardInterrupt:  # outside learning (learning saves -f first: see train.run())
        print("wabbit: interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:
        print("wabbit: terminated", file=sys.stderr)
        return EXIT_SIGTERM
    finally:
        restore()


def _main(args: List[str]) -> int:
    if args[:1] == ["demo"]:
        return demo(args[1:])
    if args[:1] == ["inspect"]:
        return inspect(args[1:])
    if args[:1] == ["ope"]:
        return ope(args[1:], load=load)  # this module's load, looked up now: tests replace it
    if args[:1] == ["train"]:
        return train(args[1:])
    if args[:1] == ["plot"]:
        return plot(args[1:])
    if any(a in ("-h", "--help") for a in args):
        sys.stdout.write(USAGE + flag_help() + "\n")
        return 0
    if "--version" in args:  # anywhere on the line, as in VW
        print(__version__)
        return 0
    try:
        opts = parse_args(args)
        if opts.allreduce:  # mpiexec -n N wabbit ... --allreduce: this process is one rank
            from wabbit.distributed import run_cli as run_rank

            return run_rank(opts, sys.stderr)
        if opts.sync_every is not None:
            raise OptionError("--sync_every needs --allreduce (and mpiexec -n N)")
        from wabbit.serve import daemon  # the serving side loads only when asked for

        if daemon.serving_requested(opts):
            return daemon.run_daemon(opts, sys.stderr)
        daemon.check_options(opts)  # serving flags without --daemon
        return run(opts, sys.stderr)
    except (OptionError, OSError, ValueError, RuntimeError, MemoryError) as e:
        if isinstance(e, BrokenPipeError):
            raise
        if os.environ.get("WABBIT_DEBUG"):
            raise
        print(f"wabbit: error: {describe_error(e)}", file=sys.stderr)
        return 1

"""The ``wabbit`` command: Vowpal Wabbit's flags, progress table and summary.

wabbit -d train.vw -f model.bin --loss_function logistic -q ua
wabbit -d test.vw -t -i model.bin -p predictions.txt
wabbit demo            # generate a click stream and learn it
wabbit inspect model.bin
wabbit ope -d log.dat -i model.bin   # would the model have done better on this log?
"""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import signal
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

import wabbit._core as _core
from wabbit import runs
from wabbit._io import open_input
from wabbit._version import __version__
from wabbit.model import Model, from_loaded, load, read_model_file
from wabbit.options import (
    OptionError,
    Options,
    flag_help,
    option,
    oversubscribed,
    parse_args,
    parse_subcommand,
    subcommand_parser,
    switch,
)
from wabbit.store import ModelStore

__all__ = ["main"]

USAGE = """usage: wabbit [VW flags]        learn from -d FILE (or standard input)
       wabbit demo [--lines N] [--seed S]   generate a click stream and learn it
       wabbit inspect [--json] MODEL        print what a model file holds, lineage included
       wabbit ope -d LOG -i MODEL [--estimator ips,snips,dr] [--alpha 0.05]
                                            off-policy evaluation of MODEL on a VW ADF log

Flags (as in Vowpal Wabbit):
"""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread while the command runs (as SIGINT raises KeyboardInterrupt)."""


#: The exit status after a signal: 128 + its number, as a shell reports a process it ended.
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    restore = _catch_sigterm()
    try:
        return _main(args)
    except BrokenPipeError:
        # the reader of our output (head, less) has seen enough: stop quietly, as Unix tools do
        _silence_stdout()
        return 0
    except KeyboardInterrupt:  # outside learning (learning saves -f first: see run())
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
        return ope(args[1:])
    if any(a in ("-h", "--help") for a in args):
        sys.stdout.write(USAGE + flag_help() + "\n")
        return 0
    if "--version" in args:  # anywhere on the line, as in VW
        print(__version__)
        return 0
    try:
        opts = parse_args(args)
        return run(opts, sys.stderr)
    except (OptionError, OSError, ValueError, RuntimeError, MemoryError) as e:
        if isinstance(e, BrokenPipeError):
            raise
        if os.environ.get("WABBIT_DEBUG"):
            raise
        print(f"wabbit: error: {_describe(e)}", file=sys.stderr)
        return 1


def _catch_sigterm() -> Callable[[], None]:
    """SIGTERM raises Terminated in the main thread while the command runs (so that learning stops
    at a block boundary and -f is saved), unless it is ignored or already handled; returns the undo."""
    try:
        if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
            return lambda: None

        def on_term(signum: int, frame: Any) -> None:
            raise Terminated()

        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: signals are not ours to take
        return lambda: None

    def restore() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return restore


def _silence_stdout() -> None:
    """After EPIPE on stdout: point it at /dev/null, so that the exit's flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def run(opts: Options, err: TextIO) -> int:
    """Train or test as the VW command line would; returns the exit status."""
    if opts.passes not in (None, 1):
        raise OptionError("--passes other than 1 is not supported yet")
    if opts.final_regressor:  # fail before training, not after it
        folder = os.path.dirname(os.path.abspath(opts.final_regressor))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise OptionError(f"-f {opts.final_regressor}: folder {folder} does not exist or is not writable")
    store = _open_store(opts)
    if opts.initial_regressor:
        model = load(opts.initial_regressor)
        merged = _cli_overrides(opts).merged_with_model(model.options)
        if merged.model_args() != model.options.model_args():
            fresh = load(opts.initial_regressor, merged.model_args())
            model = fresh
    else:
        model = Model.from_options(_model_only(opts))
    drift = opts.drift_config()
    quiet = opts.quiet
    additive, step, first_dump = opts.progress_schedule()
    model.core.reset_stats(first_dump)

    def say(line: str) -> None:
        if not quiet:
            err.write(line + "\n")

    mo = model.options
    if mo.quadratic:
        say("creating quadratic features for pairs: " + " ".join(mo.quadratic))
    if mo.cubic:
        say("creating cubic features for triples: " + " ".join(mo.cubic))
    if mo.interactions:
        say("creating features for following interactions: " + " ".join(mo.interactions))
    if opts.final_regressor:
        say(f"final_regressor = {opts.final_regressor}")
    if opts.testonly:
        say("only testing")
    if opts.predictions:
        say(f"predictions = {opts.predictions}")
    say(f"Num weight bits = {model.bits}")
    say(f"learning rate = {_g(model.core.effective_learning_rate())}")
    say(f"initial_t = {_g(model.core.state()['t'])}")
    cfg = mo.core_config()
    say(f"power_t = {_g(cfg['power_t'])}")
    if cfg["l1"] > 0 and not cfg["ftrl"]:
        say(f"using l1 regularization = {_g(cfg['l1'])}")
    if cfg["l2"] > 0 and not cfg["ftrl"]:
        say(f"using l2 regularization = {_g(cfg['l2'])}")
    if cfg["ftrl"]:
        say("Enabling FTRL based optimization")
        say("Algorithm used: Proximal-FTRL")
        say(f"ftrl_alpha = {_g(cfg['ftrl_alpha'])}")
        say(f"ftrl_beta = {_g(cfg['ftrl_beta'])}")
    cb = cfg.get("cb")
    if cb is not None:
        if opts.audit or opts.invert_hash or drift is not None:
            raise OptionError(
                "--audit, --invert_hash and --drift are not available for contextual bandits yet (--readable_model is)"
            )
        say(f"cb_type = {cb['cb_type']}")
        if cb["explore"] != "none":
            say(f"exploration = {cb['explore']}")
    if drift is not None:
        _attach_monitor(model, drift, say)
    if opts.data:
        say(f"Reading datafile = {opts.data}")

    pred_fd = -1
    close_pred = False
    if opts.predictions:
        if opts.predictions in ("-", "/dev/stdout"):
            sys.stdout.flush()
            pred_fd = sys.stdout.fileno()
        else:
            pred_fd = os.open(opts.predictions, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            close_pred = True
    run_opts = {
        "learn": not opts.testonly,
        "print_progress": not quiet,
        "progress_add": additive,
        "progress_arg": step,
        "strict": opts.strict,
        "print_warnings": True,
        "predictions_fd": pred_fd,
        "account": True,
        "audit_fd": sys.stdout.fileno() if opts.audit else -1,
        "record_names": bool(opts.invert_hash),
        "threads": opts.thread_count(),
    }
    if run_opts["threads"] > 1:
        blocker = (
            model.core.parallel_blocker(run_opts) if drift is None and not opts.save_every else "--drift/--save_every"
        )
        if blocker is not None:
            say(f"--threads {run_opts['threads']}: using one thread because of {blocker}")
            run_opts["threads"] = 1
        else:
            crowded = oversubscribed(int(run_opts["threads"]))
            if crowded is not None:
                err.write(f"wabbit: warning: {crowded}\n")
            say(f"Hogwild threads = {run_opts['threads']}")
    err.flush()
    status = 0
    result: Dict[str, Any] = {"bad_lines": 0}
    try:
        if opts.data or not opts.no_stdin:
            with open_input(opts.data or sys.stdin.fileno()) as src:
                label = os.path.abspath(opts.data) if opts.data else "<stdin>"
                result = _run_source(model, label, src.fd, src.run_options(run_opts), opts, store)
            if src.problem is not None:  # gzip cut short or corrupt: what was read is learned
                if opts.strict:
                    raise _core.ParseError(src.problem)
                err.write(f"wabbit: warning: {src.problem}\n")
        else:
            result = {"bad_lines": 0}
    except _core.ParseError as e:
        err.write(f"wabbit: error: {e}\n(--strict: stopped at the first problem in the input; no model was saved)\n")
        return 1
    except (KeyboardInterrupt, Terminated) as e:
        # stopped at a block boundary: what was learned is consistent, and -f keeps it
        status = EXIT_SIGTERM if isinstance(e, Terminated) else EXIT_SIGINT
        n = model.stats["example_number"]
        what = "saving the model learned so far" if opts.final_regressor else "no -f: nothing is saved"
        err.write(f"wabbit: interrupted after {n} examples; {what}\n")
        result = {"bad_lines": model.stats["bad_lines"]}
        if store is not None:
            store.save(model, note="interrupted")
    finally:
        if close_pred:
            try:
                os.close(pred_fd)
            except OSError:
                pass
    if not quiet:
        err.write(summary(model, bad_lines=int(result["bad_lines"])))
        if model.drift_monitor is not None:
            err.write("".join(line + "\n" for line in model.drift_monitor.summary()))
    failed = _failed_streams(result, opts)
    failed += _write_outputs(model, opts, err)
    if failed:
        err.write(
            "wabbit: error: not written: "
            + "; ".join(failed)
            + (" (the other outputs were)" if _outputs(opts) > len(failed) else "")
            + "\n"
        )
        return status or 1
    return status


def _outputs(opts: Options) -> int:
    return sum(1 for p in (opts.final_regressor, opts.readable_model, opts.invert_hash, opts.predictions) if p)


def _failed_streams(result: Dict[str, Any], opts: Options) -> List[str]:
    """-p and --audit writes that failed during the run (EPIPE, a reader that stopped, is no failure)."""
    out = []
    for key, name in (("predictions_error", f"-p {opts.predictions}"), ("audit_error", "--audit")):
        code = int(result.get(key) or 0)
        if code and code != errno.EPIPE:
            out.append(f"{name}: {os.strerror(code)} (written up to there)")
    return out


def _write_outputs(model: Model, opts: Options, err: TextIO) -> List[str]:
    """-f, --readable_model and --invert_hash, each on its own: one that fails (a full disk) leaves no
    partial file and keeps the others from being skipped. Returns what failed, with why."""
    failed = []
    if opts.final_regressor:
        try:
            model.save(opts.final_regressor, predict_only=opts.predict_only_model)
        except OSError as e:
            failed.append(f"-f {opts.final_regressor}: {e.strerror or e}")
    for flag, path, names in (
        ("--readable_model", opts.readable_model, False),
        ("--invert_hash", opts.invert_hash, True),
    ):
        if path:
            try:
                text = model.core.readable_model(__version__, model.args, names, opts.predict_only_model)
                _write_text_atomic(path, text)
            except BrokenPipeError:
                pass  # a pipe whose reader has seen enough (| head): no failure
            except OSError as e:
                failed.append(f"{flag} {path}: {e.strerror or e}")
    return failed


def _write_text_atomic(path: str, text: str) -> None:
    """Write text through the core's one atomic writer (as model files): path is either the whole
    text or as it was, never a partial file; a device, a FIFO or /dev/stdout is written in place."""
    try:
        _core.write_file_atomic(path, text.encode("utf-8"))
    except OSError as e:  # the reason alone: the caller names the flag and the path
        if e.errno is None:
            raise
        raise type(e)(e.errno, os.strerror(e.errno), path) from None


def _open_store(opts: Options) -> "Optional[Any]":
    """The --store named on the command line (created if missing), checked before training."""
    if opts.save_every is not None and opts.save_every < 1:
        raise OptionError(f"--save_every takes a positive number of examples, got {opts.save_every}")
    if opts.store_keep is not None and opts.store_keep < 1:
        raise OptionError(f"--store_keep takes a positive number of versions, got {opts.store_keep}")
    if not opts.store:
        for given in ("save_every", "store_keep"):
            if getattr(opts, given) is not None:
                raise OptionError(f"--{given} needs --store DIR (the folder the versions go to)")
        return None
    if opts.testonly:
        raise OptionError("--store/--save_every save what is learned; with -t nothing is")
    return ModelStore(opts.store, keep=10 if opts.store_keep is None else opts.store_keep)


def _run_source(
    model: Model, label: str, fd: int, run_opts: Dict[str, Any], opts: Options, store: Any
) -> Dict[str, Any]:
    """One input through the core; learning runs are recorded in the lineage and, with --store,
    written behind every --save_every examples and saved there at the end."""
    if not run_opts["learn"]:
        if model.drift_monitor is None:
            return model.core.run_fd(fd, run_opts)
        result = model.core.run_fd(fd, runs.hooked(model, run_opts, [], learn=False))  # -t with --drift: alerts
        model.drift_monitor.hand_over(model)
        return result
    return runs.learning_run(
        model, label, lambda o: model.core.run_fd(fd, o), run_opts, save_every=opts.save_every or 0, store=store
    )


def _attach_monitor(model: Model, drift: Dict[str, Any], say: Callable[[str], None]) -> None:
    """--drift: the detector, and a monitor whose messages go into the progress output."""
    from wabbit import drift as detectors

    cls = getattr(detectors, drift["detector"])
    try:
        detector = cls(**drift["params"])
    except (TypeError, ValueError) as e:
        raise OptionError(f"--drift {drift['name']}: {e}") from None
    model.monitor(
        detector,
        drift["signal"],
        drift["response"],
        every=drift["every"],
        boost_factor=drift["boost_factor"],
        boost_examples=drift["boost_examples"],
        gate=drift["gate"],
        log=say,
        name=drift["name"],
    )
    say(
        f"drift detection = {detector!r} on the {drift['signal']}, every {drift['every']} examples; "
        f"response: {drift['response']}"
    )


def summary(model: Model, bad_lines: int = 0) -> str:
    """VW's closing block: counts, weighted sums, average loss, best constant, features."""
    s = model.stats
    w = s["weighted_labeled_examples"]
    lines = [
        "",
        "finished run",
        f"number of examples = {s['example_number']}",
        f"weighted example sum = {s['weighted_examples']:.6f}",
        f"weighted label sum = {s['weighted_labels']:.6f}",
        "average loss = " + (f"{s['sum_loss'] / w:.6f}" if w > 0 else "n.a."),
    ]
    best = best_constant(model)
    if best is not None:
        lines.append(f"best constant = {best[0]:.6f}")
        if best[1] is not None:
            lines.append(f"best constant's loss = {best[1]:.6f}")
    lines.append(f"total feature number = {s['total_features']}")
    if bad_lines:
        what = "events" if model.is_bandit else "lines"
        lines.append(f"malformed {what} skipped = {bad_lines}")
    return "\n".join(lines) + "\n"


def best_constant(model: Model) -> "Optional[tuple[float, Optional[float]]]":
    """VW's best constant prediction and its loss, from the labels seen (None when undefined)."""
    s = model.stats
    first, second = s["first_observed_label"], s["second_observed_label"]
    if first is None:
        return None
    l1, l2 = first, (0.0 if second is None else second)
    if l1 > l2:
        l1, l2 = l2, l1
    if l1 == l2:
        return None
    n = s["weighted_labeled_examples"]
    c1 = (s["weighted_labels"] - l2 * n) / (l1 - l2)
    c2 = n - c1
    if c1 + c2 <= 0:
        return None
    cfg = model.options.core_config()
    kind = cfg["loss"]
    loss: Callable[[float, float], float]
    if kind in ("squared", "classic"):
        best = s["weighted_labels"] / n

        def loss(p: float, y: float) -> float:
            return (p - y) ** 2

    elif s["more_than_two_labels"]:
        return None  # VW has no general formula for the other losses
    elif kind == "hinge":
        best = -1.0 if c2 <= c1 else 1.0

        def loss(p: float, y: float) -> float:
            return max(0.0, 1.0 - y * p)

    elif kind == "logistic":
        l1, l2 = -1.0, 1.0
        best = 1.0 if c1 <= 0 else -1.0 if c2 <= 0 else math.log(c2 / c1)

        def loss(p: float, y: float) -> float:
            return math.log1p(math.exp(-y * p))

    elif kind == "quantile":
        tau = cfg["quantile_tau"]
        best = l2 if tau * (c1 + c2) < c2 else l1

        def loss(p: float, y: float) -> float:
            e = y - p
            return tau * e if e > 0 else -(1.0 - tau) * e

    else:
        return None
    if s["more_than_two_labels"]:
        return best, None
    total = (loss(best, l1) * c1 if c1 > 0 else 0.0) + (loss(best, l2) * c2 if c2 > 0 else 0.0)
    return best, total / (c1 + c2)


# The subcommands' flags, each declared once as the main command's are (wabbit/options.py):
# names, help, default; the parsers and their --help come from these declarations.
@dataclasses.dataclass
class DemoArgs:
    lines: int = option("--lines", help="click log lines to generate", default=200_000)
    seed: int = option("--seed", help="the generator's seed", default=0)


@dataclasses.dataclass
class InspectArgs:
    model: str = option("model", help="a model file (wabbit -f, Model.save)")
    json: bool = switch("--json", help="print one JSON object instead of text")


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


def inspect(argv: List[str]) -> int:
    """Print what a model file holds: format and wabbit versions, options, bits, non-zero weights,
    the online state and the lineage (what trained it)."""
    import json

    a = parse_subcommand(InspectArgs, subcommand_parser(InspectArgs, "wabbit inspect", inspect.__doc__), argv)
    try:
        info = describe_model_file(a.model)
    except OSError as e:
        print(f"wabbit: error: {_describe(e)}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"wabbit: error: {a.model}: {e}", file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(info, indent=1))
    else:
        sys.stdout.write(format_model_info(info))
    return 0


def ope(argv: List[str]) -> int:
    """Off-policy evaluation: would the model (-i) have done better than the policy that wrote the
    log (-d, VW's ADF text format, plain or gzip)? Prints each estimator's expected cost per event
    for the model, with its interval, next to the log's own average cost."""
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
        print(f"wabbit: error: {_describe(e)}", file=sys.stderr)
        return 1
    sys.stdout.write(str(dataclasses.replace(report, target=a.initial_regressor)))
    return 0


def describe_model_file(path: str) -> Dict[str, Any]:
    """What ``wabbit inspect`` prints, as a dict (checksums as integers, times as epoch seconds)."""
    header, blob, checksum = read_model_file(path)
    model = from_loaded(header, blob, None, checksum)
    rows, _ = model.weights()
    return {
        "path": path,
        "size": os.path.getsize(path),
        "checksum": checksum,
        "format_version": int(header["format_version"]),
        "wabbit_version": header["wabbit_version"],
        "options": header["args"],
        "bits": int(header["bits"]),
        "stride": int(header["stride"]),
        "predict_only": bool(header["predict_only"]),
        "nonzero_weights": int(len(rows)),
        "state": {k: v for k, v in header["state"].items()},
        "metadata": model.metadata,
        "lineage": model.lineage.to_dict(),
    }


def format_model_info(info: Dict[str, Any]) -> str:
    """The text form of :func:`describe_model_file`."""

    def when(t: Optional[float]) -> str:
        return "unknown" if t is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))

    def crc(c: Optional[int]) -> str:
        return "none" if c is None else f"0x{c:08x}"

    out = [
        f"file: {info['path']} ({info['size']} bytes, checksum {crc(info['checksum'])})",
        f"format version: {info['format_version']}",
        f"wabbit version: {info['wabbit_version']}",
        f"options: {info['options'] or '(defaults)'}",
        f"bits: {info['bits']} ({1 << info['bits']} rows, {info['stride']} float{'s' if info['stride'] != 1 else ''} per row)",
        f"non-zero weights: {info['nonzero_weights']}",
        f"predict only: {'yes' if info['predict_only'] else 'no'}",
        "online state:",
    ]
    out += [f"  {k}: {v!r}" for k, v in info["state"].items()]
    lin = info["lineage"]
    out += [
        "lineage:" + ("" if lin["complete"] else " (written without lineage: earlier training unknown)"),
        f"  created: {when(lin['created'])}",
        f"  updated: {when(lin['updated'])}",
        f"  wabbit version: {lin['wabbit_version']}",
        f"  options: {lin['options'] or '(defaults)'}",
        f"  examples: {lin['examples']}" + ("" if lin["complete"] else " recorded"),
        f"  parent checksum: {crc(lin['parent_checksum'])}",
    ]
    if len(lin["ancestors"]) > 1:
        out.append("  ancestors: " + ", ".join(crc(c) for c in lin["ancestors"]))
    out.append(f"  sources: {len(lin['sources'])}")
    for i, s in enumerate(lin["sources"], 1):
        where = ""
        if s["first_line"] is not None:
            last = "?" if s["last_line"] is None else s["last_line"]
            where = f" lines {s['first_line']}-{last},"
        skipped = f", {s['bad_lines']} malformed lines skipped" if s["bad_lines"] else ""
        out.append(
            f"    {i}. {s['source']}:{where} {s['examples']} examples{skipped} "
            f"(generation {s['generation']}, {when(s['finished'])})"
        )
    return "\n".join(out) + "\n"


def _model_only(opts: Options) -> Options:
    out = Options()
    for f in _core_flags():
        setattr(out, f, getattr(opts, f))
    return out


def _cli_overrides(opts: Options) -> Options:
    return _model_only(opts)


def _core_flags() -> List[str]:
    from wabbit.options import FLAGS

    return [f.dest for f in FLAGS if f.model]


def _describe(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror and e.filename:
        return f"{e.filename}: {e.strerror}"
    if isinstance(e, MemoryError):
        return f"out of memory ({e or 'an allocation failed'}); nothing is saved"
    return str(e)


def _g(v: float) -> str:
    return f"{v:g}"


if __name__ == "__main__":
    sys.exit(main())

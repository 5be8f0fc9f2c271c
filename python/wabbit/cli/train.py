"""``wabbit [VW flags]``: one training (or -t testing) run over an input, as VW's command line runs it.

The flags are checked before anything is learned (-f's folder, --store, --drift); the run goes
through the core (one thread or Hogwild); SIGINT/SIGTERM stop it at a block boundary, and what was
learned is still saved.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, Optional, TextIO

import numpy as np

import wabbit._core as _core
from wabbit import passes, runs
from wabbit._io import open_input
from wabbit.cli import outputs
from wabbit.cli.process import EXIT_SIGINT, EXIT_SIGTERM, Terminated
from wabbit.cli.summary import bandit_header, header, summary
from wabbit.model import Model, load
from wabbit.options import OptionError, Options, oversubscribed
from wabbit.store import ModelStore

__all__ = ["run", "starting_model"]


def run(opts: Options, err: TextIO) -> int:
    """Train or test as the VW command line would; returns the exit status."""
    pass_opts, cache = _pass_settings(opts)
    if opts.final_regressor:  # fail before training, not after it
        folder = os.path.dirname(os.path.abspath(opts.final_regressor))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise OptionError(f"-f {opts.final_regressor}: folder {folder} does not exist or is not writable")
    store = _open_store(opts)
    model = starting_model(opts)
    if not opts.quiet:
        _vw_notices(opts, model)
    drift = opts.drift_config()
    quiet = opts.quiet
    additive, step, first_dump = opts.progress_schedule()
    model.core.reset_stats(first_dump)

    def say(line: str) -> None:
        if not quiet:
            err.write(line + "\n")

    for line in header(model, opts):
        say(line)
    cb = model.options.core_config().get("cb")
    if cb is not None:
        if drift is not None:
            raise OptionError("--drift is not available for contextual bandits yet")
        if (opts.audit or opts.invert_hash) and cb.get("explore") == "bag":
            raise OptionError("--audit and --invert_hash are not available with --bag yet")
        if opts.invert_hash and cb.get("cb_type") == "dr":
            raise OptionError("--invert_hash is not available with --cb_type dr yet (--audit is)")
        for line in bandit_header(cb):
            say(line)
    if drift is not None:
        _attach_monitor(model, drift, say)
    if cache is not None:
        if model.is_bandit:
            raise OptionError("--passes and the cache file are not available for contextual bandits yet")
        for line in cache.messages:
            if line.startswith("wabbit: warning:"):
                err.write(line + "\n")
            else:
                say(line)
    if opts.data and (cache is None or cache.mode == "write"):
        say(f"Reading datafile = {opts.data}")

    pred_fd, close_pred = outputs.open_predictions(opts)
    if opts.raw_predictions and not model.core.is_mc():
        raise OptionError("-r/--raw_predictions is supported with --oaa/--csoaa only")
    raw_fd, close_raw = outputs.open_predictions(opts, opts.raw_predictions or "")
    run_opts = {
        "learn": not opts.testonly,
        "print_progress": not quiet,
        "progress_add": additive,
        "progress_arg": step,
        "strict": opts.strict,
        "input_format": opts.input_format(),
        "chain_hash": opts.chain_hash,
        "print_warnings": True,
        "predictions_fd": pred_fd,
        **({"raw_fd": raw_fd} if raw_fd >= 0 else {}),
        "account": True,
        "audit_fd": sys.stdout.fileno() if opts.audit else -1,
        "audit_notices": bool(opts.audit) and not quiet,
        "record_names": bool(opts.invert_hash),
        "threads": opts.thread_count(),
    }
    if pass_opts["passes"] > 1 or pass_opts["holdout"] or cache is not None:
        run_opts.update(pass_opts)
        if cache is not None:
            run_opts.update(cache.run_options(os.path.abspath(opts.data) if opts.data else None))
    if run_opts["threads"] > 1:
        blocker = "--drift/--save_every" if drift is not None or opts.save_every else None
        if "passes" in run_opts:
            blocker = "--passes/the cache file (passes run on one thread)"
        _choose_threads(model, run_opts, blocker, say, err)
    err.flush()
    status = 0
    indexing_before = model.core.mc_state()["indexing"] if model.core.is_mc() else None
    result: Dict[str, Any] = {"bad_lines": 0}
    try:
        if cache is not None and cache.mode == "read":  # VW: the cache replaces the text input
            result = _run_source(model, cache.path, -1, run_opts, opts, store)
        elif opts.data or not opts.no_stdin:
            with open_input(opts.data or sys.stdin.fileno()) as src:
                label = os.path.abspath(opts.data) if opts.data else "<stdin>"
                result = _run_source(model, label, src.fd, src.run_options(run_opts), opts, store)
            if src.problem is not None:  # gzip cut short or corrupt: what was read is learned
                if opts.strict:
                    raise _core.ParseError(src.problem)
                err.write(f"wabbit: warning: {src.problem}\n")
        else:  # --no_stdin and no -d: no example, but VW's table header and summary all the same
            with open_input(os.devnull) as src:
                result = _run_source(model, "<none>", src.fd, src.run_options(run_opts), opts, store)
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
        outputs.close_predictions(pred_fd, close_pred)
        outputs.close_predictions(raw_fd, close_raw)
    if indexing_before == 2 and not quiet and not opts.audit:  # (with --audit the run wrote it among the blocks)
        _indexing_notice(model, opts)
    if not quiet:
        err.write(summary(model, bad_lines=int(result["bad_lines"]), multipass=pass_opts["passes"] > 1))
        if model.drift_monitor is not None:
            err.write("".join(line + "\n" for line in model.drift_monitor.summary()))
    failed = outputs.failed_streams(result, opts)
    failed += outputs.write_outputs(model, opts)
    if failed:
        err.write(outputs.not_written(failed, opts))
        return status or 1
    return status


def _pass_settings(opts: Options) -> "tuple[Dict[str, Any], Optional[passes.CachePlan]]":
    """--passes, the holdout flags and the cache: the core's pass options and the cache plan (None
    without -c/--cache_file). VW's rules: several passes need a cache; a cache has no feature
    names, so --invert_hash is refused with one (--audit prints the cached examples' features with
    empty names, "Constant" excepted, as VW does)."""
    pass_opts = passes.settings(
        opts.passes,
        opts.holdout_off,
        opts.holdout_period,
        opts.holdout_after,
        opts.early_terminate,
        opts.decay_learning_rate,
    )
    if (opts.oaa or opts.csoaa) and (pass_opts["passes"] > 1 or opts.cache or opts.cache_file):
        raise OptionError("--passes and a cache file are not supported with --oaa/--csoaa yet (one pass over the text)")
    if not (opts.cache or opts.cache_file):
        if pass_opts["passes"] > 1:
            raise OptionError("several passes need a cache file: add -c (or --cache_file FILE)")
        return pass_opts, None
    if opts.invert_hash:
        raise OptionError("--invert_hash is incompatible with a cache file (use it in one pass only)")
    path = opts.cache_file or passes.default_cache_path(opts.data)
    return pass_opts, passes.plan_cache(path, opts.data, kill=opts.kill_cache, input=passes.input_code(opts))


def starting_model(opts: Options) -> Model:
    """A new model from the model flags, or -i's model with the command line's flags on top (the
    structural ones must agree with it)."""
    if not opts.initial_regressor:
        return Model.from_options(opts.model_only())
    model = load(opts.initial_regressor)
    if "vw_model" in model.metadata:
        # VW's file leaves out flags its command line gives (the loss, --permutations...): load()
        # takes the command line's model flags on top of it, as VW does
        given = opts.model_only().model_args()
        return load(opts.initial_regressor, given) if given else model
    merged = opts.model_only().merged_with_model(model.options)
    if merged.model_args() != model.options.model_args():
        model = load(opts.initial_regressor, merged.model_args())
    return model


def _interaction_counts(specs: "list[str]") -> "tuple[int, int]":
    """What VW reports of its interaction list: how many are duplicates of an earlier one (as sets
    of namespaces with repeats) and are dropped, and how many of the rest repeat a namespace next
    to another one ('aab', 'abb': their letters get sorted so that equal ones are adjacent).

    >>> _interaction_counts(["ab", "ba", "aa", "aba", "abc"])
    (1, 1)
    """
    kept = {"".join(sorted(spec)) for spec in specs}

    def mixed(spec: str) -> bool:  # a repeated namespace and another one
        return len(set(spec)) < len(spec) and len(set(spec)) > 1

    return len(specs) - len(kept), sum(1 for spec in kept if mixed(spec))


def _indexing_notice(model: Model, opts: Options) -> None:
    """VW's "[info]" line when --oaa/--csoaa learn the class indexing from a label (0: 0-based, K:
    1-based). VW prints it at that label; here it comes at the end of the run (the same text: where
    it sits among other stdout output, -p - or --audit, may differ)."""
    learned = model.core.mc_state()["indexing"]
    k = opts.oaa or opts.csoaa
    if learned == 0:
        sys.stdout.write("[info] label 0 found -- labels are now considered 0-indexed.\n")
    elif learned == 1:
        sys.stdout.write(f"[info] label {k} found -- labels are now considered 1-indexed.\n")
    sys.stdout.flush()


def _vw_notices(opts: Options, model: Model) -> None:
    """The notices VW prints on stdout (its logger's "[warning]"/"[info]" lines) about the command
    line, word for word and in VW's order, before anything is learned (not with --quiet)."""
    lines = []
    if opts.progress is not None and "." in opts.progress:
        try:
            value = float(opts.progress)
        except ValueError:
            value = None  # refused later, with the reason
        shown = np.format_float_positional(np.float32(value), trim="-") if value is not None else ""
        if value is not None and value <= 1.0:
            lines.append(f"[warning] Multiplicative --progress <float> '{shown}' is <= 1.0: adding 1.0")
        elif value is not None and value > 9.0:  # (VW's message has no value in its quotes)
            lines.append(
                "[warning] Multiplicative --progress <float> '' is > 9.0: Did you mean mean to use an integer?"
            )
    mo = model.options  # the command line's flags on top of -i's model
    if opts.initial_regressor and (opts.quadratic or opts.cubic or opts.interactions):
        vw_file = model.metadata.get("vw_model")
        if vw_file is not None:
            stored = any(t in ("-q", "--quadratic", "--cubic", "--interactions") for t in vw_file["options"].split())
        else:  # (a wabbit model's must equal the command line's)
            stored = bool(mo.quadratic or mo.cubic or mo.interactions)
        if stored:
            lines.append(
                "[warning] model file has set of {-q, --cubic, --interactions} settings stored, but they'll be "
                "OVERRIDDEN by set of {-q, --cubic, --interactions} settings from command line."
            )
    specs = [*mo.quadratic, *mo.cubic, *mo.interactions]
    if any(":" in spec for spec in specs):
        lines.append(
            "[info] Any duplicate namespace interactions will be removed\n"
            "You can use --leave_duplicate_interactions to disable this behaviour."
        )
    removed, reordered = _interaction_counts(specs)
    if removed:
        lines.append(
            f"[warning] Duplicate namespace interactions were found. Removed: {removed}.\n"
            "You can use --leave_duplicate_interactions to disable this behaviour."
        )
    if reordered:
        lines.append(
            "[warning] Some interactions contain duplicate characters and their characters order has been "
            f"changed. Interactions affected: {reordered}."
        )
    if opts.save_resume:
        lines.append(
            "[warning] --save_resume flag is deprecated -- learning can now continue on saved models by default."
        )
    if (opts.readable_model or opts.invert_hash) and not opts.predict_only_model:
        lines.append(
            "[info] VW 9.0.0 introduced a change to the default model save behavior. Please use "
            "'--predict_only_model' when using either '--invert_hash' or '--readable_model' to get the old "
            "behavior. Details: https://vowpalwabbit.org/link/1"
        )
    if lines:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()


def _choose_threads(
    model: Model, run_opts: Dict[str, Any], blocker: Optional[str], say: Callable[[str], None], err: TextIO
) -> None:
    """--threads N > 1: Hogwild, unless something in the run needs one thread (then say why)."""
    if blocker is None:
        blocker = model.core.parallel_blocker(run_opts)
    if blocker is not None:
        say(f"--threads {run_opts['threads']}: using one thread because of {blocker}")
        run_opts["threads"] = 1
        return
    crowded = oversubscribed(int(run_opts["threads"]))
    if crowded is not None:
        err.write(f"wabbit: warning: {crowded}\n")
    say(f"Hogwild threads = {run_opts['threads']}")


def _open_store(opts: Options) -> "Optional[ModelStore]":
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
        pool_size=drift["pool_size"],
        log=say,
        name=drift["name"],
    )
    say(
        f"drift detection = {detector!r} on the {drift['signal']}, every {drift['every']} examples; "
        f"response: {drift['response']}"
    )

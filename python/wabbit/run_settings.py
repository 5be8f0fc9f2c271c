"""How the command runs, from its flags: the progress schedule, drift detection, threads.

These are the run-time counterparts of :mod:`wabbit.resolve` (nothing here defines the model):
functions of an :class:`~wabbit.options.Options`, called through its methods.

>>> from wabbit.options import parse_args
>>> progress_schedule(parse_args("-P 100")), progress_schedule(parse_args(""))
((True, 100.0, 100.0), (False, 2.0, 1.0))
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from wabbit.flags import Flag, OptionError, flag_table

if TYPE_CHECKING:
    from wabbit.options import Options

__all__ = ["progress_schedule", "drift_config", "thread_count", "MAX_THREADS", "cpu_cores", "oversubscribed"]


def _flags(opts: Options) -> List[Flag]:
    return flag_table(type(opts)).flags


def progress_schedule(opts: Options) -> Tuple[bool, float, float]:
    """(additive, step, first dump) for the progress table, with VW's adjustments."""
    progress = opts.value("progress")
    try:
        value = float(progress)
    except ValueError:
        raise OptionError(f"-P/--progress takes a number, got {progress!r}") from None
    if "." not in progress:
        step = max(value, 1.0)
        return True, step, step
    if value <= 1.0:
        value += 1.0
    return False, value, 1.0


def drift_config(opts: Options) -> Optional[Dict[str, Any]]:
    """The --drift flags, checked: the detector's class name in :mod:`wabbit.drift` and its
    parameters, and the monitor's settings (None without --drift).

    --drift_delta goes to ADWIN or Page-Hinkley, --drift_threshold to Page-Hinkley or DDM;
    --drift_param NAME=VALUE to any detector (river's parameter names). Page-Hinkley watches
    increases only (``mode="up"``) unless --drift_param mode=both: a falling loss is no alarm.

    >>> from wabbit.options import parse_args
    >>> drift_config(parse_args("--drift adwin --drift_delta 0.01 --drift_response switch"))["params"]
    {'delta': 0.01}
    >>> c = drift_config(parse_args("--drift ph --drift_param min_instances=100"))
    >>> c["detector"], c["params"], c["signal"], c["response"]
    ('PageHinkley', {'mode': 'up', 'min_instances': 100}, 'loss', 'alert')
    """
    given = [f.names[-1] for f in _flags(opts) if f.dest.startswith("drift_") and opts.given(f.dest)]
    if opts.drift is None:
        if given:
            raise OptionError(f"{', '.join(given)} need --drift DETECTOR")
        return None
    name = opts.drift.lower()
    if name not in _DETECTORS:
        raise OptionError(f"--drift must be one of {', '.join(_DETECTORS)}, got {opts.drift!r}")
    detector = _DETECTORS[name]
    params: Dict[str, Any] = {"mode": "up"} if name == "ph" else {}
    for flag, value, takers in (
        ("--drift_delta", opts.drift_delta, {"adwin": "delta", "ph": "delta"}),
        ("--drift_threshold", opts.drift_threshold, {"ph": "threshold", "ddm": "drift_threshold"}),
    ):
        if value is None:
            continue
        if name not in takers:
            raise OptionError(f"{flag} applies to {' and '.join(takers)}; use --drift_param NAME=VALUE for {name}")
        params[takers[name]] = value
    for item in opts.drift_param:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise OptionError(f"--drift_param takes NAME=VALUE, got {item!r}")
        params[key.strip()] = _param_value(raw.strip())
    response = opts.value("drift_response")
    if response not in ("alert", "reset", "boost", "switch", "pool"):
        raise OptionError(f"--drift_response must be alert, reset, boost, switch or pool, got {response!r}")
    if opts.testonly and response != "alert":
        raise OptionError(f"--drift_response {response} changes what is learned; with -t only alert applies")
    signal = opts.drift_signal or ("loss" if name in ("adwin", "ph", "kswin") else "error")
    if signal not in ("loss", "error"):
        raise OptionError(f"--drift_signal must be loss or error, got {signal!r}")
    for flag, value in (
        ("--drift_every", opts.drift_every),
        ("--drift_boost_examples", opts.drift_boost_examples),
        ("--drift_gate", opts.drift_gate),
        ("--drift_pool_size", opts.drift_pool_size),
    ):
        if value is not None and value < 1:
            raise OptionError(f"{flag} takes a positive number of examples, got {value}")
    if opts.drift_boost is not None and not opts.drift_boost > 0:
        raise OptionError(f"--drift_boost takes a positive factor, got {opts.drift_boost}")
    for flag, value, wanted in (
        ("--drift_boost", opts.drift_boost, "boost"),
        ("--drift_boost_examples", opts.drift_boost_examples, "boost"),
        ("--drift_gate", opts.drift_gate, "switch"),
        ("--drift_pool_size", opts.drift_pool_size, "pool"),
    ):
        if value is not None and response != wanted and not (flag == "--drift_gate" and response == "pool"):
            raise OptionError(f"{flag} applies only to --drift_response {wanted}")
    return {
        "name": name,
        "detector": detector,
        "params": params,
        "response": response,
        "signal": signal,
        "every": opts.value("drift_every"),
        "boost_factor": opts.value("drift_boost"),
        "boost_examples": opts.value("drift_boost_examples"),
        "gate": opts.value("drift_gate"),
        "pool_size": opts.value("drift_pool_size"),
    }


def thread_count(opts: Options) -> int:
    """--threads as a number of threads: 1 by default (and with --onethread), 0 means one per core."""
    if opts.threads is None or opts.onethread:
        return 1
    if opts.threads < 0:
        raise OptionError(f"--threads takes a number of threads >= 0 (0: one per core), got {opts.threads}")
    if opts.threads > MAX_THREADS:
        raise OptionError(
            f"--threads {opts.threads}: at most {MAX_THREADS} threads (this machine has "
            f"{cpu_cores()} cores; more threads than cores learn a worse model)"
        )
    return opts.threads or cpu_cores()


#: The most threads a run takes (the core refuses more; see README "Threads").
MAX_THREADS = 1024


def cpu_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def oversubscribed(threads: int) -> Optional[str]:
    """A warning when ``threads`` exceed the cores: Hogwild threads that share a core take turns
    mid-block, so their updates go stale and the model learns worse (None otherwise)."""
    cores = cpu_cores()
    if threads <= cores:
        return None
    return (
        f"{threads} threads on {cores} cores: threads beyond the cores make no run faster and learn a worse model "
        f"(their updates overwrite each other's); use at most {cores}"
    )


_DETECTORS = {
    "adwin": "ADWIN",
    "ph": "PageHinkley",
    "kswin": "KSWIN",
    "ddm": "DDM",
    "eddm": "EDDM",
    "hddm_a": "HDDMA",
    "hddm_w": "HDDMW",
}


def _param_value(raw: str) -> Any:
    """A --drift_param value: an integer, a number, true/false, none, or the text itself."""
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw

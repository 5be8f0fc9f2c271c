"""Runs: a batch through the compiled core (threads, hooks every N examples, the monitor's
batch hand-over, snapshots into a store, the lineage record of the source).

:meth:`wabbit.Model.learn_many` and :meth:`wabbit.Model.predict_many` call :func:`run`; the
command line calls :func:`learning_run` and :func:`hooked` around its own file descriptor.

>>> import wabbit
>>> from wabbit import runs
>>> m = wabbit.Model()
>>> p = runs.run(m, ["1 |f a", "2 |f b"], learn=True, strict=True)   # progressive predictions
>>> len(p), float(p[0])                                               # untrained: 0 first
(2, 0.0)
>>> [s.source for s in m.lineage.sources]
['<lines>']
"""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from wabbit import snapshots
from wabbit._io import inflate_bytes, is_gzip, open_input
from wabbit.inputs import Source, as_csr, check_line, row_array
from wabbit.lineage import SourceRecord
from wabbit.options import MAX_THREADS, cpu_cores, oversubscribed
from wabbit.progress import BLOCK
from wabbit.writer import BackgroundWriter

if TYPE_CHECKING:  # annotations only: the model calls this module, never the other way round
    import numpy as np

    from wabbit.model import Model
    from wabbit.progress import Bar
    from wabbit.store import ModelStore

__all__ = ["Hook", "hooked", "learning_run", "run", "thread_count", "threaded"]

#: A core hook: (every, function); the function gets the run's example count every ``every`` examples.
Hook = Tuple[int, Callable[[int], None]]


def thread_count(threads: Any) -> int:
    """A ``threads=`` argument as a number of threads (0: one per core); ValueError past the limits."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be a number of threads >= 0 (0: one per core), got {threads!r}")
    if threads > MAX_THREADS:
        raise ValueError(
            f"threads={threads}: at most {MAX_THREADS} (this machine has {cpu_cores()} cores; more threads "
            "than cores learn a worse model)"
        )
    return threads or cpu_cores()


def threaded(model: "Model", opts: Dict[str, Any], threads: Optional[int]) -> Dict[str, Any]:
    """Run options with the thread count; warns when the run must stay on one thread."""
    n = model.options.thread_count() if threads is None else thread_count(threads)
    if n > 1:
        why = model.core.parallel_blocker(opts)
        if why is not None:
            warnings.warn(f"threads={n}: this run uses one thread because of {why}", stacklevel=4)
            n = 1
    if n > 1:
        crowded = oversubscribed(n)
        if crowded is not None:
            warnings.warn(crowded, RuntimeWarning, stacklevel=4)
    return {**opts, "threads": n}


def run(
    model: "Model",
    source: Source,
    *,
    learn: bool,
    strict: bool,
    save_every: int = 0,
    store: Optional["ModelStore"] = None,
    labels: Any = None,
    weights: Any = None,
    threads: Optional[int] = None,
    passes: Optional[Dict[str, Any]] = None,
    progress: Optional["Bar"] = None,
) -> "np.ndarray":
    """Learn from (or predict) every example of ``source``; the predictions (see Model.learn_many).
    ``passes``: the core's pass and cache options (:mod:`wabbit.passes`), for a file path only.
    ``progress``: a :class:`wabbit.progress.Bar` that a learning run moves every block of examples."""
    core = model.core
    opts = {"learn": learn, "strict": strict, "collect": True, "account": learn}
    if passes:
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError("passes and cache= need a file path source (the text is read once, then the cache)")
        opts.update(passes)
    csr = as_csr(source)
    if csr is None and (labels is not None or weights is not None):
        raise TypeError("labels= and weights= go with CSR rows; text examples carry their own labels")
    if csr is not None:
        if model.is_bandit:
            raise TypeError("CSR rows are single examples; a contextual-bandit model learns events (text or dicts)")
        if learn and labels is None:
            raise ValueError("learning from CSR rows needs labels= (one per row; NaN for an unlabelled row)")
        y, w = row_array(labels), row_array(weights)
        go = lambda o: core.run_csr(*csr, y, w, threaded(model, o, threads))  # noqa: E731
        res = (
            learning_run(model, "<csr>", go, opts, save_every=save_every, store=store, progress=progress)
            if learn
            else go(opts)
        )
    elif isinstance(source, (str, os.PathLike)):
        with open_input(source) as src:
            res = (
                learning_run(
                    model,
                    os.path.abspath(source),
                    lambda o: core.run_fd(src.fd, src.run_options(threaded(model, o, threads))),
                    opts,
                    save_every=save_every,
                    store=store,
                    progress=progress,
                )
                if learn
                else core.run_fd(src.fd, src.run_options(threaded(model, opts, threads)))
            )
        if src.problem is not None:
            # what could be read was learned; strict makes the rest's loss an error
            if strict:
                raise OSError(src.problem)
            warnings.warn(src.problem, stacklevel=3)
    else:
        problem = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            label, data = "<bytes>", source
            if is_gzip(source):  # gzip held in memory, as a gzip file would be read
                data, problem = inflate_bytes(bytes(source))
        else:
            label, data = "<lines>", b"\n".join(check_line(s, n) for n, s in enumerate(source, 1))
        if learn:
            res = learning_run(
                model,
                label,
                lambda o: core.run_buffer(data, threaded(model, o, threads)),
                opts,
                save_every=save_every,
                store=store,
                progress=progress,
            )
        else:
            res = core.run_buffer(data, threaded(model, opts, threads))
        if problem is not None:
            if strict:
                raise OSError(problem)
            warnings.warn(problem, stacklevel=3)
    for w in res["warnings"]:
        warnings.warn(f"malformed example skipped: {w}", stacklevel=3)
    for w in res.get("notes", ()):
        warnings.warn(w, stacklevel=3)
    return res["predictions"]


def learning_run(
    model: "Model",
    label: str,
    go: Callable[[Dict[str, Any]], Dict[str, Any]],
    opts: Dict[str, Any],
    *,
    save_every: int = 0,
    store: Optional["ModelStore"] = None,
    progress: Optional["Bar"] = None,
) -> Dict[str, Any]:
    """Run the core over one source (``go(options)``) with learning on, recording the source in
    the model's lineage under ``label``.

    With a ``progress`` bar: the core calls back every block of examples (the other hooks' period
    when there are any, so that no extra call is made, else :data:`wabbit.progress.BLOCK`) and the
    bar moves; it is closed at the end (or at an error).

    With a store: every ``save_every`` examples the core calls back (the learner waits only for
    a snapshot copy) and the snapshot goes to a background writer; at the end the final model
    goes the same way (unless the last snapshot already holds it) and the writer is flushed.
    """
    model.record_source(None)  # single learn() calls made before this run come first
    core = model.core
    first_line = int(opts.get("first_line_number", 1))
    started = time.time()
    before = core.stats()["example_number"]
    writer = BackgroundWriter(store) if store is not None and save_every else None
    hooks: List[Hook] = []
    if writer is not None:

        def snapshot(n: int) -> None:
            partial = SourceRecord(label, int(n), first_line, None, 0, started, time.time())
            writer.submit(snapshots.take(model, f"{label}: {n} examples", partial))

        hooks.append((int(save_every), snapshot))
    if progress is not None:
        monitor = model.drift_monitor
        block = hooks[0][0] if hooks else monitor.every if monitor is not None else BLOCK
        hooks.append((block, progress.update))
    opts = hooked(model, opts, hooks, learn=True)
    try:
        res = go(opts)
    except BaseException as e:
        if progress is not None:
            progress.close()
        if writer is not None:
            writer.close(raise_error=False)
        monitor = model.drift_monitor  # (an on_drift callable may have detached it meanwhile)
        if monitor is not None:  # what was learned before the failure is still watched
            try:
                monitor.hand_over(model)
            except Exception:
                pass
        # learned up to the failure (--strict stops at a malformed line): record that much
        done = core.stats()["example_number"] - before
        if done > 0:
            m = re.match(r"line (\d+):", str(e))
            last = int(m.group(1)) - 1 if m else None
            model.record_source(SourceRecord(label, done, first_line, last, 0, started, time.time()))
        raise
    if progress is not None:
        progress.close(int(res["examples"]))
    monitor = model.drift_monitor
    if monitor is not None:
        monitor.hand_over(model)  # the examples after the last batch boundary
    if res["examples"] > 0:
        last_line = first_line + int(res["lines"]) - 1
        model.record_source(
            SourceRecord(
                label, int(res["examples"]), first_line, last_line, int(res["bad_lines"]), started, time.time()
            )
        )
    if store is not None:
        # the end state; not a copy, as it is written before this call returns
        final = snapshots.of_model(model, f"{label}: end")
        if writer is None:
            store.save(final)
        else:
            try:
                writer.submit_last(final)
            finally:
                writer.close(raise_error=False)
            if writer.error is not None:
                raise writer.error
    return res


def hooked(model: "Model", opts: Dict[str, Any], hooks: List[Hook], *, learn: bool) -> Dict[str, Any]:
    """Run options with the monitor's (signals, challenger, batch hand-over) and one core hook
    that calls each of ``hooks`` (every, function) every ``every`` examples of the run."""
    opts = dict(opts)
    mon = model.drift_monitor
    if mon is not None:
        mon.flush_single(model)  # single learn() calls buffered before this run come first
        opts.update(mon.run_options(learn))
        hooks = hooks + [(mon.every, lambda n: mon.hand_over(model))]
    if not hooks:
        return opts
    every = 0
    for n, _ in hooks:
        every = math.gcd(every, n)
    if len(hooks) == 1:
        opts["every"], opts["hook"] = every, hooks[0][1]
        return opts

    def hook(n: int) -> None:
        for k, fn in hooks:
            if n % k == 0:
                fn(n)

    opts["every"], opts["hook"] = every, hook
    return opts

"""Model: a hashed linear model that learns one example at a time (the Python face of the core).

>>> import wabbit
>>> m = wabbit.Model("--loss_function logistic -q ua")
>>> for _ in range(20):
...     _ = m.learn("1 |u user=1 |a ad=7")
...     _ = m.learn("-1 |u user=2 |a ad=7")
>>> m.predict("|u user=1 |a ad=7") > 0 > m.predict("|u user=2 |a ad=7")
True
>>> m.predict({"u": ["user=1"], "a": {"ad=7": 1.0}}) == m.predict("|u user=1 |a ad=7")
True
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from copy import deepcopy
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple, Union, cast

import numpy as np

import wabbit._core as _core
from wabbit import bandit, multiclass, persistence, runs, snapshots
from wabbit import frames as _frames
from wabbit import passes as passes_mod
from wabbit import progress as progress_mod
from wabbit._version import __version__
from wabbit.decisions import DecisionLog
from wabbit.explain import Contribution, contributions
from wabbit.inputs import TEXT as _TEXT
from wabbit.inputs import Event, Example, Source
from wabbit.inputs import as_dict as _as_dict
from wabbit.inputs import number as _number
from wabbit.lineage import PYTHON, Lineage, SourceRecord
from wabbit.options import OptionError, Options, parse_args
from wabbit.snapshots import Snapshot

if TYPE_CHECKING:  # numpy is imported by the core when it returns arrays; the CLI never needs it
    import numpy as np

    from wabbit.monitor import DriftEvent, Monitor
    from wabbit.store import ModelStore

__all__ = ["Model", "load"]

# wabbit.model's loading and saving functions, as the command line and the store import them
read_model_file = persistence.read_model_file
write_model = persistence.write_model

_DECISIONS_ATTACH = threading.Lock()


class Model:
    """A linear model over hashed features with Vowpal Wabbit's flags and numbers.

    ``Model(args, **options)`` takes VW-style flags as a string, keywords, or both:
    ``Model("--loss_function logistic -q ua -b 24")`` equals
    ``Model(loss_function="logistic", quadratic="ua", bit_precision=24)``.

    Single examples: :meth:`learn` and :meth:`predict` take a VW text line or a dict
    ``{namespace: {feature: value}}`` (a list of feature names means value 1). Batches:
    :meth:`learn_many` and :meth:`predict_many` take a file path, a bytes buffer or an iterable of
    lines, and run in the compiled core without the GIL.
    """

    def __init__(self, args: str = "", **options: Any) -> None:
        opts = parse_args(args, **options)
        run_time = opts.run_time_flags()
        if run_time:
            raise OptionError(
                f"{', '.join(run_time)}: command-line flags, not model options; use learn_many(path), "
                "save(path) and wabbit.load(path) instead"
            )
        opts.reward_config()  # --reward_ttl/--max_pending: refuse bad values now, not at the first decision
        self._setup(opts, metadata=None)

    def _setup(self, opts: Options, metadata: Optional[Dict[str, Any]]) -> None:
        self._options = opts
        self._threads = opts.thread_count()
        try:
            self._core = _core.Model(opts.core_config())
        except _core.TableAllocError as e:  # -b too large for this machine: say so, not MemoryError
            raise OptionError(str(e)) from None
        # --json/--dsjson: text given to learn/predict/learn_many is VW's JSON (one object a line)
        self._core.set_input_format(opts.input_format(), opts.chain_hash)
        self._metadata: Dict[str, Any] = metadata or {"created": time.time(), "wabbit_version": __version__}
        # Lineage (wabbit/lineage.py). None: loaded from a file without one and not changed since
        # (so saving it again writes the same bytes). _parent: CRC of the file this model was
        # loaded from, adopted as parent when it first learns. _py_examples: single learn() calls
        # not yet added to the lineage (counted here to keep learn() cheap).
        self._lineage: Optional[Lineage] = None
        if metadata is None:
            self._lineage = Lineage(
                options=opts.model_args(), wabbit_version=__version__, created=self._metadata["created"]
            )
        self._parent: Optional[int] = None
        self._py_examples = 0
        self._py_started: Optional[float] = None
        self._monitor: Optional["Monitor"] = None

    @classmethod
    def from_options(cls, opts: Options, *, metadata: Optional[Dict[str, Any]] = None) -> "Model":
        """A new, untrained model built from parsed :class:`wabbit.Options` (the CLI's and the
        drift monitor's challenger's way; ``Model(args)`` parses and checks them first).

        ``metadata``: a model file's (:mod:`wabbit.persistence` loading one); the model then starts
        no lineage of its own (the file's is set with :meth:`set_origin`).

        >>> import wabbit
        >>> wabbit.Model.from_options(wabbit.parse_args("-q ab")).args == wabbit.Model("-q ab").args
        True
        """
        self = cls.__new__(cls)
        self._setup(opts, metadata)
        return self

    # ------------------------------------------------------------------ single examples
    def learn(self, example: Example, label: Optional[Any] = None, weight: float = 1.0, initial: float = 0.0) -> Any:
        """Learn from one example; returns the prediction made before the update.

        For a contextual-bandit model (--cb_adf, --cb_explore_adf) the example is an :data:`Event`
        and ``label`` is ``(action_index, cost, probability)`` (or the event's text carries
        ``action:cost:probability`` on the chosen action's line); the return value is what
        :meth:`predict` gave before the update.

        A text line carries its own label (``"1 |f a b"``); a dict example takes ``label`` (and
        optionally the importance ``weight`` and the ``initial`` offset). An unlabelled example
        changes nothing but the clock. A malformed line raises ValueError and changes nothing.
        With a :meth:`monitor` attached, the example's signal is buffered for the detector (handed
        over every ``every`` calls) and a challenger learns it too; a call then costs a few
        microseconds more.
        """
        p: Any
        if self._core.is_cb():
            if weight != 1.0 or initial != 0.0:
                raise ValueError("weight= and initial= apply to linear models; a bandit event's weight is 1, as in VW")
            p = bandit.learn(self, cast(Event, example), label)
        elif self._core.is_mc():
            p = multiclass.learn_line(self, self._mc_text(example, label, weight, initial))
        elif isinstance(example, _TEXT):
            if label is not None:
                raise TypeError("a text example carries its own label; pass label= only with a dict example")
            if self._monitor is not None:
                p = self._monitor.learn_single(self, example, None, 1.0, 0.0)
            else:
                p = self._core.learn_line(example)
        elif self._monitor is not None:
            p = self._monitor.learn_single(
                self, _as_dict(example), label, _number(weight, "weight"), _number(initial, "initial")
            )
        else:
            p = self._core.learn_dict(_as_dict(example), label, _number(weight, "weight"), _number(initial, "initial"))
        if not self._py_examples:
            self._py_started = time.time()
        self._py_examples += 1
        return p

    def predict(self, example: Example, initial: float = 0.0) -> Any:
        """Predict one example (a text line or a dict) without changing the model.

        For a contextual-bandit model, ``example`` is an :data:`Event` and the result a float32
        numpy array in the event's action order: the probabilities (--cb_explore_adf) or the scores
        (--cb_adf: predicted costs, lower is better).
        """
        if self._core.is_cb():
            if initial != 0.0:
                raise ValueError("initial= applies to linear models, not to bandit events")
            return bandit.predict(self, cast(Event, example))
        if self._core.is_mc():
            return multiclass.predict_line(self, self._mc_text(example, None, 1.0, initial))
        if isinstance(example, _TEXT):
            return self._core.predict_line(example)
        return self._core.predict_dict(_as_dict(example), _number(initial, "initial"))

    # ------------------------------------------------------------------ contextual bandits
    def rank(
        self, shared: Optional[Mapping[str, Any]], candidates: List[Mapping[str, Any]]
    ) -> "Tuple[np.ndarray, np.ndarray]":
        """Rank candidate actions for a context: ``(order, probabilities)``, best first.

        ``shared`` is the context ``{namespace: {feature: value}}`` (or None) and each candidate
        such a dict of the action's features; the shared features are crossed with the candidates'
        by the model's interactions (-q ua). ``order`` holds candidate indices (int64) as VW orders
        them (by score, ties by index; by probability for --bag); ``probabilities`` the pmf in that
        order: the exploration's (--cb_explore_adf), or the greedy one (--cb_adf: 1 on the best,
        split among ties). No text is parsed; the scoring runs without the GIL and changes nothing.

        >>> import wabbit
        >>> m = wabbit.Model("--cb_explore_adf --epsilon 0.2 -q ua")
        >>> for _ in range(30):
        ...     _ = m.learn(({"u": {"age": 1.0}}, [{"a": ["x"]}, {"a": ["y"]}]), label=(0, 1.0, 0.5))
        ...     _ = m.learn(({"u": {"age": 1.0}}, [{"a": ["x"]}, {"a": ["y"]}]), label=(1, 0.0, 0.5))
        >>> order, probs = m.rank({"u": {"age": 1.0}}, [{"a": ["x"]}, {"a": ["y"]}])
        >>> order.tolist(), [round(float(p), 3) for p in probs]
        ([1, 0], [0.9, 0.1])
        """
        return bandit.rank(self, shared, candidates)

    def sample(self, event: Event, seed: Optional[int] = None) -> Tuple[int, float]:
        """Draw an action from the predicted pmf: ``(action_index, probability)``, ready to log.

        The draw is VW's (``sample_after_normalizing`` over the pmf in the event's action order,
        with VW's merand48 generator): from ``seed`` when given (the same seed, the same draw),
        else from the model's own generator, seeded by --random_seed and advanced by each call.
        A --cb_adf model samples its greedy pmf (the best action; ties split).

        >>> import wabbit
        >>> m = wabbit.Model("--cb_explore_adf --epsilon 0.5")
        >>> event = "| a\\n| b\\n| c"
        >>> action, p = m.sample(event, seed=7)
        >>> (action, p) == m.sample(event, seed=7), round(p, 4)   # untrained: all tied, uniform
        (True, 0.3333)
        """
        return bandit.sample(self, event, seed)

    # ------------------------------------------------------------------ batches
    def learn_lines(self, lines: List[str], start: int = 0) -> Tuple[np.ndarray, int, Optional[str]]:
        """:meth:`learn` each VW text line of ``lines[start:]``, in order, in one call into the
        core (no Python call a line), stopping at the first line :meth:`learn` would refuse with a
        ValueError or TypeError (a malformed line, an update refused as non-finite), which changes
        nothing. Returns the progressive predictions of the lines learned (float32), the index of
        the refused line (``len(lines)`` when all were learned) and its message (or None). A model
        with a drift monitor, a bandit or a multiclass model learns them one :meth:`learn` at a
        time, with the same results.

        >>> m = Model()
        >>> p, stop, why = m.learn_lines(["1 |f a", "bad line|", "0 |f b"])
        >>> len(p), stop, why is not None
        (1, 1, True)
        >>> m.learn_lines(["1 |f a", "bad line|", "0 |f b"], start=2)[1:]
        (3, None)
        """
        if start < 0 or start > len(lines):
            raise ValueError(f"start must be within the lines (0 to {len(lines)}), got {start}")
        if self._monitor is not None or self._core.is_cb() or self._core.is_mc():
            out: List[float] = []
            for i in range(start, len(lines)):
                try:
                    out.append(float(self.learn(lines[i])))
                except (ValueError, TypeError) as e:
                    return np.asarray(out, dtype=np.float32), i, str(e)
            return np.asarray(out, dtype=np.float32), len(lines), None
        predictions, stop, why = self._core.learn_lines(lines, start)
        if len(predictions):  # what learn() counts of the single examples it learns (for the lineage)
            if not self._py_examples:
                self._py_started = time.time()
            self._py_examples += len(predictions)
        return predictions, int(stop), why

    def learn_many(
        self,
        source: Source,
        *,
        labels: Any = None,
        weights: Any = None,
        strict: bool = True,
        threads: Optional[int] = None,
        save_every: Optional[int] = None,
        store: Optional["ModelStore"] = None,
        passes: int = 1,
        cache: Union[None, bool, str, "os.PathLike[str]"] = None,
        kill_cache: bool = False,
        holdout_off: bool = False,
        holdout_period: int = 10,
        holdout_after: int = 0,
        early_terminate: int = 3,
        decay_learning_rate: float = 1.0,
        progress: Union[bool, Dict[str, Any]] = False,
        label: Any = None,
        namespaces: Optional[Mapping[str, Any]] = None,
        weight: Any = None,
    ) -> np.ndarray:
        """Learn from every example of a file path (plain or gzip), bytes buffer, iterable of lines,
        or pre-hashed CSR rows.

        Returns the progressive predictions (each made before learning its example) as float32,
        one per non-blank line. With ``strict=False`` a malformed line is skipped with a warning and
        gets NaN; with ``strict=True`` (the default) it raises ValueError naming the line, after
        the lines before it were learned.

        CSR rows: ``source=(indices, values, row_offsets)`` (or a ``scipy.sparse`` matrix) with
        ``labels`` (one per row; NaN for an unlabelled row) and optional importance ``weights``.
        Row ``r``'s features are ``indices[row_offsets[r]:row_offsets[r+1]]`` (feature hashes, taken
        modulo the table size) with their values, in VW's default namespace; interactions do not
        apply (there are no namespaces). The arrays are read in place, without a copy, when they are
        C-contiguous uint32 (or int32) indices, float32 values and int64 offsets; other dtypes are
        converted once. A refused row (a non-finite value or label) is named by its 0-based number.

        ``threads`` (default: the model's ``--threads``, 1 unless given) runs that many Hogwild
        workers: each takes blocks of the input, parses and learns them into the one weight table.
        ``threads=1`` gives exactly the single-threaded (VW) results; more threads give results
        that vary slightly from run to run. Runs with a monitor, ``save_every``, or gradient descent
        with ``--l1``/``--l2`` stay on one thread (a warning says so).

        With a :class:`wabbit.ModelStore`, the model is saved into it as a new version at the end;
        with ``save_every=N`` as well, a snapshot taken every N examples is written into the store
        by a background thread while learning goes on (see :class:`wabbit.store.BackgroundWriter`).
        The call returns once every version is on disk. The source is recorded in :attr:`lineage`.

        For a contextual-bandit model the source holds events (blank-line separated for ADF) and
        the result each event's values (pmf or scores) in action order, one event after the other.

        Several passes over a file path, as ``vw -d FILE --passes N -c`` makes them: ``passes=N``
        with ``cache=True`` (the file's name + ``.cache``) or ``cache=PATH``; the first pass parses
        the text and writes the cache, the others read it (a cache that is missing, ``kill_cache``,
        truncated, corrupted, not wabbit's, or older than the file is written again; an existing
        valid one is read from the first pass on). The other keywords are VW's flags of the same
        names: with ``passes > 1`` every ``holdout_period``-th example of each pass (or every one
        after the first ``holdout_after``) is held out, predicted and not learned, unless
        ``holdout_off``; after ``early_terminate`` passes without a better holdout loss the run
        stops and the model is left as it was after its best pass (what ``vw -f`` saves);
        ``decay_learning_rate`` multiplies the learning rate after each pass. The predictions are
        those of every pass, one pass after the other; :attr:`stats` holds ``current_pass``,
        ``holdout_best_loss`` and ``holdout_best_pass``. Passes run on one thread.

        ``progress=True`` shows a progress bar (tqdm, the ``progress`` extra: ``pip install
        wabbit[progress]``) with the examples a second and the running average loss, moved every
        block of examples by the core (:mod:`wabbit.progress`); a dict gives tqdm's options
        (``{"desc": "day 1"}``). The bar's callback makes the run one-threaded, as ``save_every`` does.
        A data frame (pandas, pyarrow, polars) with ``label=`` (its label column),
        ``namespaces={namespace: [columns]}`` and ``weight=`` (a column or None) is read column by
        column in the core, each row as VW would read the equivalent text line (:mod:`wabbit.frames`).
        """
        if save_every is not None and (
            isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1
        ):
            raise ValueError(f"save_every must be a positive number of examples, got {save_every!r}")
        if save_every is not None and store is None:
            raise ValueError("save_every needs a store (wabbit.ModelStore) to write the versions into")
        if _frames.is_frame(source):
            if passes != 1 or cache not in (None, False) or labels is not None or weights is not None:
                raise TypeError("a data frame goes with label=/namespaces=/weight= (one pass, no cache)")
            return _frames.run(
                self,
                source,
                learn=True,
                label=label,
                namespaces=namespaces,
                weight=weight,
                strict=strict,
                threads=threads,
                save_every=save_every or 0,
                store=store,
                progress=progress_mod.make(self, progress, source),
            )
        if label is not None or namespaces is not None or weight is not None:
            raise TypeError("label=, namespaces= and weight= go with a data frame (text carries its own labels)")
        pass_opts: Optional[Dict[str, Any]] = None
        if passes != 1 or cache not in (None, False) or holdout_after:
            if self._core.is_mc():
                raise ValueError("passes= and cache= are not supported with --oaa/--csoaa yet (one pass, no cache)")
            pass_opts = passes_mod.settings(
                passes, holdout_off, holdout_period, holdout_after, early_terminate, decay_learning_rate
            )
            if cache is not None and cache is not False:
                if not isinstance(source, (str, os.PathLike)):
                    raise TypeError("cache= needs a file path source")
                path = passes_mod.default_cache_path(os.fspath(source)) if cache is True else os.fspath(cache)
                plan = passes_mod.plan_cache(
                    path, os.fspath(source), kill=kill_cache, input=passes_mod.input_code(self.options)
                )
                if plan.rejected is not None:
                    warnings.warn(f"the cache file {path} {plan.rejected}; writing it again", stacklevel=2)
                pass_opts.update(plan.run_options(os.path.abspath(os.fspath(source))))
            elif pass_opts["passes"] > 1:
                raise ValueError("several passes need a cache: cache=True (the file's name + .cache) or cache=PATH")
        bar = progress_mod.make(self, progress, source)
        out = runs.run(
            self,
            source,
            learn=True,
            progress=bar,
            strict=strict,
            save_every=save_every or 0,
            store=store,
            labels=labels,
            weights=weights,
            threads=threads,
            passes=pass_opts,
        )
        return multiclass.outputs(self, out) if self._core.is_mc() else out

    def predict_many(
        self,
        source: Source,
        *,
        strict: bool = True,
        threads: Optional[int] = None,
        label: Any = None,
        namespaces: Optional[Mapping[str, Any]] = None,
        weight: Any = None,
    ) -> np.ndarray:
        """Predict every example of a file path, bytes buffer, iterable of lines, CSR rows or data
        frame (no learning), on ``threads`` threads (default: the model's ``--threads``). Safe to
        call while another thread learns: predictions read the weights as they are at that moment."""
        if _frames.is_frame(source):
            return _frames.run(
                self,
                source,
                learn=False,
                label=label,
                namespaces=namespaces,
                weight=weight,
                strict=strict,
                threads=threads,
            )
        if label is not None or namespaces is not None or weight is not None:
            raise TypeError("label=, namespaces= and weight= go with a data frame (text carries its own labels)")
        out = runs.run(self, source, learn=False, strict=strict, threads=threads)
        return multiclass.outputs(self, out) if self._core.is_mc() else out

    def _mc_text(self, example: Example, label: Any, weight: float, initial: float) -> Any:
        if not isinstance(example, _TEXT):
            raise TypeError("a multiclass model (--oaa, --csoaa) takes VW text lines, e.g. '2 |f a b'")
        if label is not None or weight != 1.0 or initial != 0.0:
            raise TypeError("a text example carries its own label; label=, weight= and initial= go with dicts")
        return example

    # ------------------------------------------------------------------ delayed rewards
    def log_decision(
        self, event_id: Any, event: Any, action: int, probability: float, *, timestamp: Optional[float] = None
    ) -> None:
        """Keep a decision (the event, the 0-based action taken, its probability) until
        :meth:`reward` brings its cost. Pending decisions wait ``--reward_ttl`` seconds (default
        3600), at most ``--max_pending`` of them (default 10^6); they live in memory: pickling and
        ``copy.deepcopy`` keep them, :meth:`copy`, snapshots and model files do not. The rules are
        in :mod:`wabbit.decisions`."""
        self.decisions.log_decision(event_id, event, action, probability, timestamp=timestamp)

    def reward(self, event_id: Any, cost: float, *, timestamp: Optional[float] = None) -> bool:
        """Learn decision ``event_id`` with its cost, ``learn(event, label=(action, cost,
        probability))``, if it is pending and within the TTL; returns whether it learned. Late,
        duplicate and unknown ids are counted in ``decisions.stats``, never raised."""
        return self.decisions.reward(event_id, cost, timestamp=timestamp)

    @property
    def decisions(self) -> "DecisionLog":
        """The pending decisions and their counts (:class:`wabbit.decisions.DecisionLog`)."""
        log = self.__dict__.get("_decisions")
        if log is None:
            with _DECISIONS_ATTACH:  # several threads asking first share one log
                log = self.__dict__.get("_decisions")
                if log is None:
                    ttl, cap = self._options.reward_config()
                    log = self._decisions = DecisionLog(self, ttl=ttl, max_pending=cap)
        return log

    def live_state(self) -> Dict[str, Any]:
        """What lives only in memory, beside what the model file holds: ``"monitor"`` (the
        attached drift monitor itself) and ``"decisions"`` (the pending decisions'
        :meth:`~wabbit.decisions.DecisionLog.state`), each only when there is one. Pickles and
        ``copy.deepcopy`` carry it (:mod:`wabbit.persistence`); :meth:`copy` does not.

        >>> import wabbit
        >>> m = wabbit.Model("--cb_explore_adf")
        >>> m.live_state()
        {}
        >>> m.log_decision("id-1", "| a\\n| b", 0, 0.5, timestamp=0.0)
        >>> sorted(m.live_state()), len(m.live_state()["decisions"]["pending"])
        (['decisions'], 1)
        """
        live: Dict[str, Any] = {}
        if self._monitor is not None:
            live["monitor"] = self._monitor
        log = self.__dict__.get("_decisions")
        if log is not None:
            live["decisions"] = log.state()
        return live

    def set_live_state(self, live: Mapping[str, Any]) -> None:
        """Take a :meth:`live_state` (a copy's or a pickle's): its monitor becomes this model's,
        its decisions this model's pending ones (this model learns them)."""
        if live.get("monitor") is not None:
            self._monitor = live["monitor"]
        if live.get("decisions") is not None:
            self._decisions = DecisionLog.restore(self, live["decisions"])

    # ------------------------------------------------------------------ monitoring
    def monitor(
        self,
        detector: Any,
        signal: Union[str, Callable[..., Any]] = "loss",
        on_drift: Union[str, Callable[["Model", "DriftEvent"], Any]] = "alert",
        *,
        every: int = 1000,
        boost_factor: float = 3.0,
        boost_examples: int = 10_000,
        gate: int = 1000,
        callback: Optional[Callable[["DriftEvent"], Any]] = None,
        log: Optional[Callable[[str], Any]] = None,
        name: Optional[str] = None,
        pool_size: int = 3,
        inversion_patience: int = 20_000,
    ) -> Optional["Monitor"]:
        """Watch this model's learning with a drift detector, and respond to its alarms.

        ``detector``: one of :mod:`wabbit.drift`'s (or anything with ``update_many`` and
        ``reset``); None detaches the monitor. ``signal``: ``"loss"`` (progressive loss),
        ``"error"`` (0/1 misclassification) or ``f(label, prediction, loss) -> values`` on numpy
        arrays. ``on_drift``: ``"alert"``, ``"reset"``, ``"boost"`` (learning rate times
        ``boost_factor`` for ``boost_examples`` examples), ``"switch"`` (promote a challenger;
        ``gate``: examples it learns before an alarm-started one is judged), ``"pool"`` (the
        champion, a challenger and up to ``pool_size`` frozen past champions, judged by a paired
        test; a challenger whose predictions are the champion's inverted is held for
        ``inversion_patience`` examples, 0: never; see :mod:`wabbit.monitor.pool`) or ``f(model, event)``. Every ``every`` examples the learning loop hands the detector a
        batch; responses apply at those boundaries. ``callback(event)`` is called for each event;
        ``log(message)`` replaces the ``wabbit.monitor`` logger. Returns the
        :class:`wabbit.monitor.Monitor` (its events are also in :attr:`drift_events`). The whole
        story, with the gate and the example indices, is in :mod:`wabbit.monitor`.

        >>> import wabbit
        >>> from wabbit.drift import PageHinkley
        >>> m = wabbit.Model("--loss_function logistic")
        >>> mon = m.monitor(PageHinkley(threshold=5, mode="up"), on_drift="reset", every=50, log=print)
        >>> _ = m.learn_many(["1 |f a", "-1 |f b"] * 200 + ["-1 |f a", "1 |f b"] * 200)
        drift detected at example 402 (PageHinkley): weights reset at example 451
        >>> m.drift_events[0].index, m.drift_events[0].response
        (401, 'reset')
        >>> m.monitor(None)
        """
        if self._monitor is not None:
            self._monitor.detach(self)  # (a pool's champion frozen during a trial learns again)
        if detector is None:
            self._monitor = None
            return None
        if self._core.is_cb():
            raise TypeError("drift monitors watch linear models; contextual bandits are not supported yet")
        if self._core.is_mc():
            raise TypeError("drift monitors watch linear models; multiclass models are not supported yet")
        from wabbit.monitor import Monitor

        mon = Monitor(
            detector,
            signal,
            on_drift,
            every=every,
            boost_factor=boost_factor,
            boost_examples=boost_examples,
            gate=gate,
            pool_size=pool_size,
            inversion_patience=inversion_patience,
            callback=callback,
            log=log,
            name=name,
        )
        mon.attach(self)
        self._monitor = mon
        return mon

    @property
    def drift_monitor(self) -> Optional["Monitor"]:
        """The attached :class:`wabbit.monitor.Monitor` (None when the model is not monitored)."""
        return self._monitor

    @property
    def drift_events(self) -> List["DriftEvent"]:
        """What the monitor noticed and did (warnings, alarms, switches, drops), oldest first.

        Single :meth:`learn` calls reach the monitor every ``every`` calls (and before the next
        ``learn_many``), so their latest events may not be here yet."""
        if self._monitor is None:
            return []
        return list(self._monitor.events)

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, note: str = "") -> "Snapshot":
        """An in-memory copy of the whole model (weights, online state, statistics, lineage).

        Taking one is one copy of the weight table; :meth:`restore` brings the model back to it
        exactly, as often as wanted.

        >>> import wabbit
        >>> m = wabbit.Model()
        >>> _ = m.learn_many(["1 |f a", "2 |f b"])
        >>> snap = m.snapshot(note="before the bad batch")
        >>> before = m.predict("|f a")
        >>> _ = m.learn_many(["-50 |f a"] * 10)
        >>> m.predict("|f a") == before
        False
        >>> m.restore(snap)
        >>> m.predict("|f a") == before, snap.note, snap.examples
        (True, 'before the bad batch', 2)
        """
        return snapshots.take(self, str(note))

    def restore(self, snapshot: "Snapshot") -> None:
        """Make this model exactly the snapshot's state (the snapshot stays usable)."""
        if not isinstance(snapshot, Snapshot):
            raise TypeError(f"restore() takes a Snapshot (from model.snapshot()), not {type(snapshot).__name__}")
        self._copy_state_from(snapshots.model_of(snapshot))

    # ------------------------------------------------------------------ lineage
    @property
    def lineage(self) -> Lineage:
        """What trained this model: sources with line ranges and example counts, the parent
        model file's checksum, options, wabbit version, times (a copy; see wabbit/lineage.py)."""
        self._flush_python()
        if self._lineage is not None:
            return self._lineage.copy()
        return Lineage.unrecorded(self.args, self._metadata)

    def record_source(self, record: Optional[SourceRecord]) -> None:
        """Add a source this model learned from to its lineage (:mod:`wabbit.runs` and the
        command line call it after a run). The single :meth:`learn` calls counted so far are added
        first, as the source before it; ``None`` adds only those.

        >>> import wabbit
        >>> from wabbit.lineage import SourceRecord
        >>> m = wabbit.Model()
        >>> _ = m.learn("1 |f a")
        >>> m.record_source(SourceRecord("data.txt", 5, 1, 5))
        >>> [(s.source, s.examples) for s in m.lineage.sources]
        [('<python>', 1), ('data.txt', 5)]
        """
        self._flush_python()
        if record is not None:
            self._add_source(record)

    def origin(self) -> Tuple[Optional[Lineage], Optional[int]]:
        """What a model file records of this model's history: its lineage (a copy; None when it
        was loaded from a file without one and has not learned since), with the single
        :meth:`learn` calls counted so far added, and the checksum of the file it was loaded from
        (None once it learned: the lineage holds it as parent then).

        >>> import wabbit
        >>> lineage, parent = wabbit.Model().origin()
        >>> lineage.examples, parent
        (0, None)
        """
        self._flush_python()
        return (None if self._lineage is None else self._lineage.copy()), self._parent

    def set_origin(self, lineage: Optional[Lineage], parent: Optional[int]) -> None:
        """Set what :meth:`origin` gives: a loaded file's lineage (None: not recorded) and the
        checksum of that file, adopted as parent when the model first learns."""
        self._lineage = lineage
        self._parent = parent

    def _add_source(self, record: SourceRecord) -> None:
        if self._lineage is None:  # a file written without lineage: what came before is unknown
            self._lineage = self.lineage
        self._lineage.add(record, parent=self._parent, options=self.args, version=__version__, now=time.time())
        self._parent = None

    def _flush_python(self) -> None:
        if self._py_examples:
            n, self._py_examples = self._py_examples, 0
            self._add_source(SourceRecord(PYTHON, n, started=self._py_started, finished=time.time()))

    # ------------------------------------------------------------------ state
    @property
    def options(self) -> Options:
        """The parsed options this model was built with."""
        return self._options

    @property
    def args(self) -> str:
        """The model-defining flags, as stored in the model file."""
        return self._options.model_args()

    @property
    def core(self) -> Any:
        """The compiled learner (``wabbit._core.Model``) behind this model: the low-level API the
        command line, :mod:`wabbit.runs` and the drift monitor drive (runs over file descriptors,
        signals, learning-rate factors). Using it bypasses the checks of this class."""
        return self._core

    @property
    def is_bandit(self) -> bool:
        """Whether this is a contextual-bandit model (--cb_adf, --cb_explore_adf, ...)."""
        return bool(self._core.is_cb())

    @property
    def stats(self) -> Dict[str, Any]:
        """VW's running statistics over what this model has learned (examples, weighted sums, loss)."""
        return self._core.stats()

    @property
    def average_loss(self) -> float:
        """Progressive average loss over the examples learned so far (NaN before any)."""
        s = self._core.stats()
        w = s["weighted_labeled_examples"]
        return s["sum_loss"] / w if w > 0 else float("nan")

    def weights(self) -> "Tuple[np.ndarray, np.ndarray]":
        """The non-zero weights as two arrays: row indices (uint32) and weights (float32).

        Weights are as the model uses them (pending L1 truncation and L2 shrinkage applied).

        >>> from wabbit import hash_feature, hash_namespace
        >>> m = Model("--noconstant")
        >>> _ = m.learn("1 |f a")
        >>> idx, w = m.weights()
        >>> int(idx[0]) == hash_feature("a", hash_namespace("f")) % 2**18 and bool(w[0] > 0)
        True
        """
        return self._core.nonzero_weights()

    def explain(self, example: Example, initial: float = 0.0) -> List[Contribution]:
        """Each feature's part in the prediction of ``example``, largest first.

        Interactions are named as VW names them (``"u^user=1*a^ad=7"``). The contributions plus
        ``initial`` sum to the raw score (the prediction before any --link, for an unclamped score).

        >>> m = Model("-q ua")
        >>> _ = m.learn("2 |u user=1 |a ad=7")
        >>> sorted(c.name for c in m.explain("|u user=1 |a ad=7"))
        ['Constant', 'a^ad=7', 'u^user=1', 'u^user=1*a^ad=7']
        >>> round(sum(c.contribution for c in m.explain("|u user=1 |a ad=7")), 5) == round(m.predict("|u user=1 |a ad=7"), 5)
        True
        """
        return contributions(self._core, example, initial)

    @property
    def bits(self) -> int:
        return int(self._core.bits())

    @property
    def metadata(self) -> Dict[str, Any]:
        """Free-form metadata stored in the model file (creation time, version; lineage apart)."""
        return self._metadata

    # ------------------------------------------------------------------ persistence
    def to_bytes(self, *, predict_only: bool = False) -> bytes:
        """The model file's bytes (see docs/model-format.md), checked to load back.

        Safe while another thread learns: the rows are read once each, as :meth:`snapshot` copies
        them. Raises :class:`wabbit.ModelError` rather than return bytes that would not load."""
        return persistence.to_bytes(self, predict_only=predict_only)

    def save(self, path: Union[str, "os.PathLike[str]"], *, predict_only: bool = False) -> None:
        """Write the model file atomically (temporary file, fsync, rename, fsync of the folder).

        The bytes are checked to load back before anything is written: a failed save raises and
        leaves the file that was at ``path`` as it was."""
        persistence.write_model(self, path, predict_only=predict_only)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Model":
        """Rebuild a model from :meth:`to_bytes` output; refuses corrupt data with ValueError."""
        return persistence.from_bytes(Model, data)

    def copy(self) -> "Model":
        """An independent copy of what was learned (weights, online state, statistics and
        lineage), without the drift monitor and the pending decisions (``copy.deepcopy`` and
        pickling keep those too)."""
        new = Model.__new__(Model)
        new._monitor = None
        new._copy_state_from(self)
        return new

    def _copy_state_from(self, other: "Model") -> None:
        other._flush_python()
        core = other._core.copy()
        self._options = other._options
        self._threads = other._threads
        self._metadata = deepcopy(other._metadata)
        self._lineage = other._lineage.copy() if other._lineage is not None else None
        self._parent = other._parent
        self._py_examples = 0
        self._py_started = None
        self._core = core

    def __copy__(self) -> "Model":
        return self.__deepcopy__({})

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Model":
        """copy.copy/copy.deepcopy: :meth:`copy` plus the drift monitor (with its detector's state
        and challenger) and the pending delayed-reward decisions, so the copy behaves as the
        original would. The monitor's callables (signal, on_drift, callback, log) are shared."""
        return persistence.deep_copy(self, memo)

    def __reduce__(self) -> Any:
        # the model file's bytes, the pending parent and the live state (wabbit/persistence.py)
        return (_unpickle, persistence.pickle_args(self))

    def __repr__(self) -> str:
        return f"wabbit.Model({self.args!r})"


def load(path: Union[str, "os.PathLike[str]"], args: str = "", **options: Any) -> Model:
    """Load a model file written by :meth:`Model.save` or ``wabbit -f``.

    The model brings its own flags; ``args``/``options`` may change tunable ones (learning rate,
    power_t, prediction bounds) but not the model's structure (bits, loss, interactions, rule).

    >>> import tempfile, os, wabbit
    >>> m = wabbit.Model("-q ab")
    >>> _ = m.learn("2 |a x |b y")
    >>> path = os.path.join(tempfile.mkdtemp(), "m.model")
    >>> m.save(path)
    >>> wabbit.load(path).predict("|a x |b y") == m.predict("|a x |b y")
    True
    """
    return persistence.load(Model, path, args, **options)


def from_loaded(
    header: Dict[str, Any], blob: Any, overrides: Optional[Options], checksum: Optional[int] = None
) -> Model:
    """A model from a parsed file (:func:`read_model_file`'s header and blob); see
    :func:`wabbit.persistence.from_loaded`."""
    return persistence.from_loaded(Model, header, blob, overrides, checksum)


def _unpickle(data: bytes, parent: Optional[int], carried: Optional[Dict[str, Any]] = None) -> Model:
    # named by every pickle of a Model (as wabbit.model._unpickle): keep the name and the arguments
    return persistence.unpickle(Model, data, parent, carried)

"""The :class:`Monitor`: a drift detector fed from a model's learning loop, and its response
(see :mod:`wabbit.monitor` for the signals, the responses and the switch gate)."""

from __future__ import annotations

import copy
import logging
import math
import pickle
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import numpy as np

import wabbit._core as _core
from wabbit.monitor.detectors import feed
from wabbit.monitor.events import RESPONSES, DriftEvent, Response, summarize
from wabbit.monitor.gate import Challenger, SignalHistory, verdict
from wabbit.monitor.pool import CHECKPOINTS, FROZEN_RATE, INVERSION_PATIENCE, Member, Pool
from wabbit.monitor.responses import Boost
from wabbit.monitor.signals import SIGNALS, Signal, error_signal, label_scheme

if TYPE_CHECKING:
    from wabbit.model import Model

__all__ = ["Monitor", "logger"]

logger = logging.getLogger("wabbit.monitor")


def _classes(label: np.ndarray) -> Optional[str]:
    """The label scheme when every label of the batch is -1/1 or 0/1, else None (not a classification)."""
    values = np.unique(label)
    if np.all(np.isin(values, (-1.0, 1.0))):
        return "-1/1"
    if np.all(np.isin(values, (0.0, 1.0))):
        return "0/1"
    return None


class Monitor:
    """A drift detector fed from a model's learning loop, with a response (see :mod:`wabbit.monitor`).

    Made by :meth:`wabbit.Model.monitor`; ``events`` lists what it noticed and did, ``n`` counts
    the labelled examples it has seen.

    >>> import wabbit
    >>> from wabbit.drift import ADWIN
    >>> mon = wabbit.Model("--loss_function logistic").monitor(ADWIN(), on_drift="reset")
    >>> mon
    Monitor(ADWIN(...), signal='loss', on_drift='reset', every=1000)
    >>> mon.summary()
    ['drift alarms = 0 (ADWIN)', 'weight resets = 0']
    """

    def __init__(
        self,
        detector: Any,
        signal: Signal = "loss",
        on_drift: Response = "alert",
        *,
        every: int = 1000,
        boost_factor: float = 3.0,
        boost_examples: int = 10_000,
        gate: int = 1000,
        pool_size: int = 3,
        inversion_patience: int = INVERSION_PATIENCE,
        callback: Optional[Callable[[DriftEvent], Any]] = None,
        log: Optional[Callable[[str], Any]] = None,
        name: Optional[str] = None,
    ) -> None:
        if not (hasattr(detector, "update_many") and hasattr(detector, "reset")):
            raise TypeError(
                f"a detector has update_many() and reset() (see wabbit.drift), not {type(detector).__name__}"
            )
        if not callable(signal) and signal not in SIGNALS:
            raise ValueError(f"signal must be one of {', '.join(SIGNALS)} or a callable, got {signal!r}")
        if not callable(on_drift) and on_drift not in RESPONSES:
            raise ValueError(f"on_drift must be one of {', '.join(RESPONSES)} or a callable, got {on_drift!r}")
        for what, v in (("every", every), ("boost_examples", boost_examples), ("gate", gate), ("pool_size", pool_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{what} must be a positive number of examples, got {v!r}")
        if isinstance(inversion_patience, bool) or not isinstance(inversion_patience, int) or inversion_patience < 0:
            raise ValueError(f"inversion_patience must be a number of examples (0: off), got {inversion_patience!r}")
        if not (boost_factor > 0 and math.isfinite(boost_factor)):
            raise ValueError(f"boost_factor must be a positive number, got {boost_factor!r}")
        self.detector = detector
        self.signal = signal
        self.on_drift = on_drift
        self.every = every
        self.boost_factor = float(boost_factor)
        self.boost_examples = boost_examples
        self.gate = gate
        self.callback = callback
        self.log = log
        self.name = name or type(detector).__name__
        self.events: List[DriftEvent] = []
        self.n = 0  # labelled examples seen
        self._warnings = hasattr(detector, "warning_detected")
        self._in_warning = False
        self._quiet = 0  # labelled examples since the last one in the warning zone
        self._scheme: Optional[str] = None
        # the gate's reference: the champion's recent signal (at least HISTORY_GATES * gate
        # values), the first index that belongs to the current model, and each alarm's estimate of
        # where the change began (ADWIN: where it cut its window; KSWIN: its newest sample)
        self._history = SignalHistory()
        self._model_since = 0
        self._cuts: Dict[int, int] = {}
        self._challenger: Optional["Model"] = None
        self._active: Optional[Challenger] = None
        self._after: List[np.ndarray] = []  # the champion's signal since a gated challenger started
        self._boost = Boost()
        self.pool: Optional[Pool] = Pool(pool_size, gate, inversion_patience) if on_drift == "pool" else None
        # single learn() calls: buffered signals, and the calls since the last hand-over
        self._pending: List[Tuple[np.ndarray, ...]] = []
        self._calls = 0

    def __repr__(self) -> str:
        response = (
            getattr(self.on_drift, "__name__", repr(self.on_drift)) if callable(self.on_drift) else repr(self.on_drift)
        )
        signal = getattr(self.signal, "__name__", "callable") if callable(self.signal) else repr(self.signal)
        return f"Monitor({self.detector!r}, signal={signal}, on_drift={response}, every={self.every})"

    # ------------------------------------------------------------------ copies and pickles
    _CALLABLES = ("signal", "on_drift", "callback", "log")

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Monitor":
        """A monitor in the same state (detector, buffers, challenger, events); the callables
        (signal, on_drift, callback, log) are shared, not copied."""
        new = Monitor.__new__(Monitor)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = value if key in self._CALLABLES else copy.deepcopy(value, memo)
        return new

    def __getstate__(self) -> Dict[str, Any]:
        """For pickle: the whole state, refused with a clear TypeError if a callable cannot be
        pickled (a lambda or a nested function) instead of dropping it."""
        for what in self._CALLABLES:
            fn = getattr(self, what)
            if callable(fn):
                try:
                    pickle.dumps(fn)
                except Exception as e:  # noqa: BLE001 - PicklingError, AttributeError, TypeError
                    raise TypeError(
                        f"cannot pickle the model's drift monitor: its {what}={fn!r} cannot be pickled ({e}); "
                        "pass a module-level function, or detach the monitor (model.monitor(None)) first"
                    ) from None
        return self.__dict__.copy()

    @property
    def challenger(self) -> Optional["Model"]:
        """The challenger model (``on_drift="switch"``); it learns every example, and is restarted
        when a warning or alarm calls for one."""
        return self._challenger

    # ------------------------------------------------------------------ wiring (used by Model)
    def attach(self, model: "Model") -> None:
        """Wire the monitor to ``model`` (:meth:`wabbit.Model.monitor` calls it): a ``"switch"``
        monitor builds its challenger with the model's options."""
        if self.on_drift in ("switch", "pool"):
            self._challenger = type(model).from_options(model.options)

    def detach(self, model: "Model") -> None:
        """The monitor leaves ``model`` (:meth:`wabbit.Model.monitor` calls it): a pool's champion
        frozen while a challenger is on trial gets its learning rate back."""
        if self.pool is not None and self.pool.trial is not None:
            model.core.set_rate_factor(self.pool.rate)
            self.pool.trial = None

    def run_options(self, learn: bool) -> Dict[str, Any]:
        """The core's run options a monitored run adds: signals, and the challenger as shadow learner."""
        opts: Dict[str, Any] = {"signals": True}
        if learn and self._challenger is not None:
            opts["shadow"] = self._challenger.core
        return opts

    def hand_over(self, model: "Model") -> None:
        """The learning loop's batch boundary: take the core's signals and process them."""
        s = model.core.take_signals()
        self._process(model, s["label"], s["prediction"], s["loss"], s.get("shadow_prediction"), s.get("shadow_loss"))

    def learn_single(self, model: "Model", example: Any, label: Any, weight: float, initial: float) -> float:
        """One monitored ``Model.learn`` call: the champion (and the challenger) learn it, its
        signal is buffered, and every ``every`` calls the buffer is processed."""
        core = model.core
        if self.pool is not None:
            self._pool_rates(model)
        if isinstance(example, (str, bytes, bytearray, memoryview)):
            line = (example.encode() if isinstance(example, str) else bytes(example)).rstrip(b"\r\n")
            if b"\n" in line:
                raise ValueError(
                    "learn() takes one example, but the text has a newline; pass several examples to learn_many()"
                )
            if not line.strip():  # a blank line: as unmonitored learn() (no label, so no signal)
                p = core.learn_line(line)
                if self._challenger is not None:
                    self._challenger.core.learn_line(line)
                self._count_call(model)
                return p
            opts: Dict[str, Any] = {"learn": True, "collect": True, "strict": True, "signals": True}
            if self._challenger is not None:
                opts["shadow"] = self._challenger.core
            try:
                res = core.run_buffer(line, opts)
            except _core.ParseError as e:  # the message learn_line gives, without "line 1: "
                msg = str(e)
                raise ValueError(msg[len("line 1: ") :] if msg.startswith("line 1: ") else msg) from None
            p = float(res["predictions"][0])
            s = core.take_signals()
            if len(s["label"]):
                extra = (s["shadow_prediction"], s["shadow_loss"]) if len(s.get("shadow_loss", ())) else ()
                self._pending.append((s["label"], s["prediction"], s["loss"], *extra))
        else:
            before = core.stats()["sum_loss"] if label is not None else 0.0
            p = core.learn_dict(example, label, weight, initial)
            shadow: Tuple[np.ndarray, ...] = ()
            if self._challenger is not None:
                other = self._challenger.core
                was = other.stats()["sum_loss"] if label is not None else 0.0
                q = other.learn_dict(example, label, weight, initial)
                if label is not None and self.pool is not None:
                    lost = (other.stats()["sum_loss"] - was) / weight if weight > 0 else 0.0
                    shadow = (np.array([q], np.float32), np.array([lost], np.float32))
            if label is not None:
                loss = (core.stats()["sum_loss"] - before) / weight if weight > 0 else 0.0
                self._pending.append(
                    (np.array([label], np.float32), np.array([p], np.float32), np.array([loss], np.float32), *shadow)
                )
        self._count_call(model)
        return p

    def _count_call(self, model: "Model") -> None:
        self._calls += 1
        if self._calls % self.every == 0:
            self.flush_single(model)

    def _pool_rates(self, model: "Model") -> None:
        """A pool's frozen learners (the champion during a trial, an archived member's copy in the
        shadow) stay frozen after a pickle (a model file does not keep the rate factor)."""
        pool = self.pool
        if pool is None or self._challenger is None:
            return
        if pool.trial is not None and model.core.rate_factor() != np.float32(FROZEN_RATE):
            model.core.set_rate_factor(FROZEN_RATE)
        if isinstance(pool.slot, Member) and self._challenger.core.rate_factor() != np.float32(FROZEN_RATE):
            self._challenger.core.set_rate_factor(FROZEN_RATE)

    def flush_single(self, model: "Model") -> None:
        """Process the signals of single ``learn`` calls buffered since the last hand-over."""
        self._pool_rates(model)  # (called before each run, too)
        if not self._pending:
            return
        parts, self._pending = self._pending, []
        k = 5 if all(len(p) == 5 for p in parts) else 3
        self._process(model, *(np.concatenate([p[i] for p in parts]) for i in range(k)))

    # ------------------------------------------------------------------ one batch
    def _values(self, label: np.ndarray, prediction: np.ndarray, loss: np.ndarray) -> np.ndarray:
        if self.signal == "loss":
            return loss.astype(np.float64)
        if self.signal == "error":
            if self._scheme is None:
                self._scheme = label_scheme(label)
            return error_signal(label, prediction, self._scheme or "-1/1")
        assert callable(self.signal)  # (a name other than loss/error is refused in __init__)
        values = np.asarray(self.signal(label, prediction, loss), dtype=np.float64)
        if values.shape != label.shape:
            raise ValueError(
                f"the signal callable returned shape {values.shape} for a batch of {label.shape[0]} examples"
            )
        return values

    def _process(
        self,
        model: "Model",
        label: np.ndarray,
        prediction: np.ndarray,
        loss: np.ndarray,
        shadow_prediction: Optional[np.ndarray] = None,
        shadow_loss: Optional[np.ndarray] = None,
    ) -> None:
        if len(label) == 0:
            return
        values = self._values(label, prediction, loss)
        if self.pool is not None:
            # the member that predicted beside the champion in this batch: the differences of the
            # signal and, with labels -1/1 or 0/1, of the errors
            diffs = None
            if shadow_loss is not None and shadow_prediction is not None and len(shadow_loss) == len(label):
                diffs = np.full((4, len(label)), np.nan)
                diffs[0] = self._values(label, shadow_prediction, shadow_loss) - values
                diffs[2], diffs[3] = shadow_prediction, prediction  # (for the inversion guard)
                scheme = _classes(label)
                if scheme is not None:
                    diffs[1] = error_signal(label, shadow_prediction, scheme) - error_signal(label, prediction, scheme)
            self._score(model, diffs)
        start = self.n
        drifts, warnings, rising, self._cuts = feed(self.detector, values, start, self._warnings)
        self._history.append(values, self.gate)
        if self._active is not None and self._active.alarm is not None:
            self._after.append(values)
        self.n += len(values)
        found: List[Tuple[int, str, Optional[bool]]] = []
        if len(warnings):
            w = np.asarray(warnings)
            prev = np.concatenate([[-2], w[:-1]])
            entries = w[prev != w - 1]
            if self._in_warning and len(w) and w[0] == 0:
                entries = entries[entries != 0]
            found += [(start + int(i), "warning", None) for i in entries]
            self._in_warning = bool(w[-1] == len(values) - 1)
            self._quiet = len(values) - 1 - int(w[-1])
        else:
            self._in_warning = False
            self._quiet += len(values)
        found += [(start + int(i), "drift", r) for i, r in zip(drifts, rising)]
        found.sort(key=lambda e: (e[0], e[1] == "warning"))
        if self.pool is not None:
            self._pool_batch(model, found)
        else:
            self._end_of_batch(model, found)

    def _end_of_batch(self, model: "Model", found: List[Tuple[int, str, Optional[bool]]]) -> None:
        boundary = self.n
        new: List[Tuple[DriftEvent, str]] = []
        sig = self._signal_name()
        reset = promoted = False
        start_challenger: Optional[Challenger] = None
        warned = -1  # where in `new` the warning that asked for start_challenger is

        def add(index: int, kind: str, response: str, rising: Optional[bool], message: str) -> DriftEvent:
            event = DriftEvent(index, kind, self.name, response, boundary, rising)
            new.append((event, message))
            return event

        for index, kind, rising in found:
            at = f"at example {index + 1} ({self.name})"
            if kind == "warning":
                if self.on_drift == "switch" and self._active is None and start_challenger is None and not promoted:
                    start_challenger = Challenger(boundary, None, None)
                    warned = len(new)
                    add(
                        index,
                        "warning",
                        "challenger",
                        None,
                        f"drift warning {at}: challenger started at example {boundary + 1}",
                    )
                else:
                    add(index, "warning", "none", None, f"drift warning {at}")
                continue
            if callable(self.on_drift):
                name = getattr(self.on_drift, "__name__", "callable")
                event = add(index, "drift", name, rising, f"drift detected {at}: {name}() called")
                self.on_drift(model, event)
                continue
            if self.on_drift == "alert":
                add(index, "drift", "alert", rising, f"drift detected {at}: alert")
            elif rising is False:
                add(index, "drift", "none", rising, f"drift detected {at}: the {sig} fell, no response")
            elif self.on_drift == "reset":
                reset = True
                add(index, "drift", "reset", rising, f"drift detected {at}: weights reset at example {boundary + 1}")
            elif self.on_drift == "boost":
                until = self._boost.start(model.core, boundary, self.boost_factor, self.boost_examples)
                add(
                    index,
                    "drift",
                    "boost",
                    rising,
                    f"drift detected {at}: learning rate x{self.boost_factor:g} from example {boundary + 1} "
                    f"until example {until}",
                )
            elif (
                promoted
                or (self._active is not None and self._active.alarm is not None)
                or (start_challenger is not None and start_challenger.alarm is not None)
            ):
                add(index, "drift", "none", rising, f"drift detected {at}: no response (a challenger is on trial)")
            elif self._active is not None:  # learning since a warning: promote it
                since = self._active.started
                self._promote(model)
                promoted = True
                start_challenger = None
                add(
                    index,
                    "drift",
                    "switch",
                    rising,
                    f"drift detected {at}: switched to challenger (learning since example {since + 1})",
                )
                add(
                    boundary,
                    "switch",
                    "switch",
                    None,
                    f"switched to challenger at example {boundary + 1} ({self.name})",
                )
            else:
                if start_challenger is not None:  # a warning in this batch asked for one: the alarm's replaces it
                    ev, _ = new[warned]
                    new[warned] = (
                        ev._replace(response="none"),
                        f"drift warning at example {ev.index + 1} ({self.name})",
                    )
                start_challenger = Challenger(
                    boundary,
                    index,
                    self._history.reference(
                        self._cuts.get(index, index + 1), self.n, self._model_since, self.gate, upto=index + 1
                    ),
                )
                add(
                    index,
                    "drift",
                    "challenger",
                    rising,
                    f"drift detected {at}: challenger started at example {boundary + 1}",
                )
        if reset:
            model.core.reset_learner()
            self._restart_detector()
        if start_challenger is not None and self._challenger is not None:
            self._challenger.core.reset_learner()
            self._active = start_challenger
            self._after = []
        elif self._active is not None and self._active.alarm is None:
            if self._quiet >= self.every:
                add(
                    boundary,
                    "drop",
                    "drop",
                    None,
                    f"challenger dropped at example {boundary + 1} ({self.name}: {self._quiet} examples without a warning)",
                )
                self._active = None
        elif self._active is not None:
            self._judge(model, boundary, add)
        self._boost.end(model.core, boundary)
        for event, message in new:
            self.events.append(event)
            self._tell(event, message)

    # ------------------------------------------------------------------ the pool (on_drift="pool")
    def _score(self, model: "Model", diffs: Optional[np.ndarray]) -> None:
        """Keep the differences of the member that predicted beside the champion in this batch,
        then give the shadow learner its challenger back."""
        pool = self.pool
        assert pool is not None and self._challenger is not None
        slot, pool.slot = pool.slot, None
        if diffs is not None:
            pool.record(slot, diffs)
        if isinstance(slot, Member) and pool.holder is not None:
            self._challenger.core.swap_learner(pool.holder.core)  # the challenger's state comes back
            pool.holder = None

    def _pool_batch(self, model: "Model", found: List[Tuple[int, str, Optional[bool]]]) -> None:
        pool = self.pool
        assert pool is not None and self._challenger is not None
        boundary = self.n
        new: List[Tuple[DriftEvent, str]] = []

        def add(index: int, kind: str, response: str, rising: Optional[bool], message: str) -> None:
            new.append((DriftEvent(index, kind, self.name, response, boundary, rising), message))

        # decisions on what was scored so far
        switched = False
        if pool.trial is not None and pool.trial_scored >= self.gate:
            wins, means = pool.judge(pool.trial_evidence)
            alarm = f"{self.name} alarm at example {pool.trial.alarm + 1}"
            held = False
            if wins:
                inverted, r = pool.inverted(pool.trial_evidence)
                if inverted:
                    if pool.inverted_since is None:
                        pool.inverted_since = boundary
                        add(
                            boundary,
                            "inversion",
                            "none",
                            None,
                            f"labels look inverted since example {pool.trial.started + 1}: kept the champion "
                            f"(the challenger would win, but its predictions correlate {r:+.2f} with the champion's; "
                            f"it serves if this lasts {pool.inversion_patience} examples; {alarm}): {means}",
                        )
                    held = boundary - pool.inverted_since < pool.inversion_patience
                    if not held:
                        means += (
                            f"; labels inverted since example {pool.trial.started + 1} for "
                            f"{boundary - pool.inverted_since} examples (correlation {r:+.2f}): taken as a change"
                        )
            else:
                pool.inverted_since = None  # (an inversion held must be won without a break)
            if wins and not held:
                model.core.swap_learner(self._challenger.core)
                model.core.set_rate_factor(pool.rate)  # (the shadow had the frozen champion's)
                pool.served = pool.trial.ident
                switched = True
                add(
                    boundary,
                    "switch",
                    "switch",
                    None,
                    f"switched to challenger at example {boundary + 1} ({alarm}): {means}",
                )
            elif pool.trial_scored >= pool.trial.limit and not held:
                add(boundary, "drop", "drop", None, f"challenger dropped at example {boundary + 1} ({alarm}): {means}")
                pool.trial = None
                model.core.set_rate_factor(pool.rate)  # the champion learns again
        if not switched:
            for member in pool.probeable():
                if not member.evidence.n:
                    continue
                wins, means = pool.judge(member.evidence)
                if not wins:
                    continue
                old = pool.served
                pool.add(model.copy(), boundary, f"replaced by model {member.id}")
                model.core.swap_learner(member.model.copy().core)  # a learning copy; the member stays frozen
                model.core.set_rate_factor(pool.rate)
                pool.served = member.id
                switched = True
                add(
                    boundary,
                    "switch",
                    "restore",
                    None,
                    f"archived model {member.id} (archived at example {member.archived_at + 1}) serves again at "
                    f"example {boundary + 1}, model {old} archived: {means}",
                )
                break
        if switched:
            pool.trial = None
            pool.first = []
            pool.clear()
            pool.checkpoints = []  # (they were the old champion's)
            self._restart_detector()
        # alarms: each clears the evidence; a rise starts a challenger and archives the champion
        for index, kind, rising in found:
            if kind != "drift":
                continue
            at = f"at example {index + 1} ({self.name})"
            pool.clear()
            pool.last_alarm = boundary
            if switched:
                add(index, "drift", "none", rising, f"drift detected {at}: no response (the served model changed)")
            elif rising is False:
                add(index, "drift", "none", rising, f"drift detected {at}: the {self._signal_name()} fell, no response")
            elif pool.trial is not None:
                add(index, "drift", "none", rising, f"drift detected {at}: no response (a challenger is on trial)")
            else:
                # the champion as it was before the change began (ADWIN's cut; the alarm otherwise)
                at_cut, kept = pool.before(self._cuts.get(index, index + 1))
                if kept is None:
                    at_cut, kept = boundary, model.copy()
                pool.add(kept, boundary, f"alarm at example {index + 1}", as_of=at_cut)
                self._challenger.core.reset_learner()
                # the champion is frozen while the challenger is on trial: a noise burst does not
                # reach it, and it learns again when the challenger is given up
                pool.rate = model.core.rate_factor() if model.core.rate_factor() > FROZEN_RATE else pool.rate
                self._challenger.core.set_rate_factor(pool.rate)
                model.core.set_rate_factor(FROZEN_RATE)
                pool.start_trial(boundary, index, boundary - self._model_since)
                add(
                    index,
                    "drift",
                    "challenger",
                    rising,
                    f"drift detected {at}: model {pool.served} archived, challenger started at example {boundary + 1}",
                )
        if not pool.checkpoints or boundary - pool.checkpoints[-1][0] >= self.gate:
            pool.checkpoints.append((boundary, model.copy()))
            del pool.checkpoints[:-CHECKPOINTS]
        # who predicts beside the champion in the next batch
        nxt = pool.next_slot()
        if isinstance(nxt, Member):
            probe = nxt.model.copy()
            probe.core.set_rate_factor(FROZEN_RATE)
            self._challenger.core.swap_learner(probe.core)  # the probe predicts; `probe` holds the challenger
            pool.holder = probe
        pool.slot = nxt
        for event, message in new:
            self.events.append(event)
            self._tell(event, message)

    def _judge(self, model: "Model", boundary: int, add: Callable[..., DriftEvent]) -> None:
        """The gate of a challenger started at an alarm, once it has learned ``gate`` examples."""
        active = self._active
        assert active is not None and active.alarm is not None and active.before is not None
        after = np.concatenate(self._after) if self._after else np.zeros(0)
        judged = verdict(active.before, after, self.gate, self._signal_name())
        if judged is None:
            return  # look again at the next boundary, with more of the champion's signal
        passed, means = judged
        alarm = f"{self.name} alarm at example {active.alarm + 1}"
        if passed:
            self._promote(model)
            add(
                boundary,
                "switch",
                "switch",
                None,
                f"switched to challenger at example {boundary + 1} ({alarm}): {means}",
            )
        else:
            add(boundary, "drop", "drop", None, f"challenger dropped at example {boundary + 1} ({alarm}): {means}")
        self._active = None
        self._after = []

    def _promote(self, model: "Model") -> None:
        """The challenger's weights and online state become the champion's, in place (the running
        loop keeps learning into the same learner, so the switch shows in what it reports)."""
        assert self._challenger is not None
        model.core.swap_learner(self._challenger.core)  # in place: instant, and the running loop sees it
        self._restart_detector()
        self._active = None
        self._after = []

    def _restart_detector(self) -> None:
        """The model changed: the detector watches a new stream from here."""
        self.detector.reset()
        self._in_warning = False
        self._quiet = 0
        self._model_since = self.n

    # ------------------------------------------------------------------ reporting
    def _tell(self, event: DriftEvent, message: str) -> None:
        loud = event.kind in ("drift", "switch", "drop", "inversion") or event.response == "challenger"
        if self.log is not None:
            if loud:
                self.log(message)
        else:
            logger.log(logging.WARNING if event.kind in ("drift", "switch", "inversion") else logging.INFO, message)
        if self.callback is not None:
            self.callback(event)

    def _signal_name(self) -> str:
        return self.signal if isinstance(self.signal, str) else "signal"

    def summary(self) -> List[str]:
        """Lines for the end of a run: counts and example numbers of alarms, warnings, switches."""
        return summarize(self.events, self.name, self.on_drift, self._warnings)

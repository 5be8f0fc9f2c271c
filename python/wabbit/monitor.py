"""Monitoring a model while it learns: a drift detector fed from the learning loop, and a response.

:meth:`wabbit.Model.monitor` attaches a :class:`Monitor`. While the model learns (``learn_many``,
``learn``, the ``wabbit`` command), the compiled core keeps each labelled example's label,
reported prediction and loss per unit of importance weight; every ``every`` examples the learning
loop hands them over in one batch, the monitor turns them into the watched **signal** and feeds
the detector with one ``update_many`` call (no Python call per example). Alarms, and warnings of
detectors with a warning zone, are recorded as :class:`DriftEvent` records with the index of the
example that raised them, and the **response** is applied at the batch boundary (so it takes
effect up to ``every`` examples after the alarm; the index recorded is the alarm's own).

Signals (``signal=``):

* ``"loss"``: the progressive loss of each example (what VW's "average loss" averages);
* ``"error"``: 1 for a misclassified example, 0 otherwise: with -1/1 labels the prediction's sign
  against the label's (a prediction of exactly 0 counts as negative); with 0/1 labels the
  prediction thresholded at 0.5. The label scheme is fixed by the first label that is negative
  (-1/1) or zero (0/1); until one is seen, the -1/1 rule is used;
* a callable ``f(label, prediction, loss) -> values``, called once per batch with three float32
  numpy arrays, returning one value per example.

Responses (``on_drift=``):

* ``"alert"``: record and log only (``logging`` logger ``wabbit.monitor``, level WARNING for
  alarms and switches; or ``log=``), and call ``callback`` if given;
* ``"reset"``: forget the weights and the online state (the configuration stays);
* ``"boost"``: multiply the learning rate (FTRL: alpha) by ``boost_factor`` for the next
  ``boost_examples`` examples, then restore it (another alarm meanwhile extends the period);
* ``"switch"``: promote a challenger, a second model with the same options that learns every
  example alongside the champion (the core's shadow learner) and is restarted when it is needed.
  With a detector that has a warning zone (DDM, EDDM, HDDMA, HDDMW) the challenger starts at the
  first batch boundary after a warning and is promoted at the alarm; it is dropped once ``every``
  examples pass without a warning. Otherwise (ADWIN, PageHinkley, KSWIN, or an alarm without a
  challenger learning since a warning) it starts at the boundary after the alarm and is promoted
  through the **gate**, which asks whether the rise the detector saw persisted: at each boundary
  once the challenger has learned ``gate`` examples, the champion's mean signal since the
  challenger started is compared with its mean over the ``5 * gate`` examples before the change
  (before ADWIN's cut point, KSWIN's newest sample, or the alarm for the other detectors; never
  reaching back before the model last changed); the challenger is promoted when the rise exceeds
  three standard errors (``sqrt(var_before / n_before + var_since / n_since)``), and dropped if
  that has not happened after ``5 * gate`` examples. The gate judges the champion, not the
  challenger: the core does not report the challenger's own losses. After a switch the detector
  starts afresh (it watches a new model). The challenger learns every example of a monitored run,
  so learning costs about twice as much;
* a callable ``f(model, event)``: called at the batch boundary for each alarm; it can do anything
  to the model (``model.core`` offers ``reset_learner()``, ``set_rate_factor()`` and ``swap_learner()``).

``reset``, ``boost`` and ``switch`` act only on alarms where the signal rose (a model that got
worse). The direction is ADWIN's own (the mean of the part of its window it kept against the part
it dropped); DDM and EDDM, and HDDMA/HDDMW without ``two_sided_test``, detect rises only; a
PageHinkley with ``mode="up"`` rises, ``"down"`` falls. For the others (PageHinkley with
``mode="both"``, KSWIN, two-sided HDDM, detectors of your own) the direction is unknown and every
alarm is acted on. An alarm where the signal fell is recorded with the response ``"none"``.

Indices: ``DriftEvent.index`` counts the labelled examples the monitor has seen since it was
attached, from 0 (unlabelled examples carry no loss and are not counted); in a stream where every
example has a label it is the example's index, and the messages name ``example index + 1``, VW's
1-based counter. Single :meth:`wabbit.Model.learn` calls are monitored too: their signals are
buffered and handed over every ``every`` calls, exactly as ``learn_many`` does every ``every``
examples, so the same lines learned one by one or in one batch give the same events and the same
model. ``predict``/``predict_many`` are not monitored. A monitor is not saved in the model file
nor carried by :meth:`~wabbit.Model.copy` and snapshots (which copy what was learned); pickling
and ``copy.deepcopy`` keep it, in its current state, so the copy raises the same alarms on the
same stream (pickling refuses with TypeError when one of its callables cannot be pickled).

>>> import wabbit
>>> from wabbit.drift import ADWIN
>>> from wabbit.synth import click_log
>>> model = wabbit.Model("--loss_function logistic -q ua")
>>> mon = model.monitor(ADWIN(), signal="loss", on_drift="switch", log=print)
>>> _ = model.learn_many(click_log(40_000, seed=1, drift_at=20_000))
drift detected at example 20416 (ADWIN): challenger started at example 21001
switched to challenger at example 22001 (ADWIN alarm at example 20416): mean loss 0.3481 before the alarm, 0.5047 since (+5.7 standard errors)
>>> [(e.kind, e.index, e.response) for e in model.drift_events]
[('drift', 20415, 'challenger'), ('switch', 22000, 'switch')]
"""

from __future__ import annotations

import copy
import logging
import math
import pickle
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np

import wabbit._core as _core
from wabbit.drift import ADWIN, DDM, EDDM, HDDMA, HDDMW, KSWIN, PageHinkley

if TYPE_CHECKING:
    from wabbit.model import Model

__all__ = ["DriftEvent", "Monitor", "error_signal", "RESPONSES", "SIGNALS"]

RESPONSES = ("alert", "reset", "boost", "switch")
SIGNALS = ("loss", "error")
#: How many standard errors the champion's signal must rise for the switch gate to pass.
GATE_SIGMAS = 3.0
#: How long the gate watches, in multiples of ``gate``, before it gives a challenger up.
GATE_PATIENCE = 5
#: The signal kept for the gate's reference, in multiples of ``gate`` (older changes compare with
#: the oldest values kept).
HISTORY_GATES = 20

logger = logging.getLogger("wabbit.monitor")

Signal = Union[str, Callable[[np.ndarray, np.ndarray, np.ndarray], Any]]
Response = Union[str, Callable[["Model", "DriftEvent"], Any]]


class DriftEvent(NamedTuple):
    """One thing a monitor noticed or did.

    ``kind``: ``"warning"`` (the detector entered its warning zone), ``"drift"`` (an alarm),
    ``"switch"`` (a challenger was promoted), ``"drop"`` (a challenger was given up).
    ``index``: the monitored example (0-based, labelled examples only) that raised it, or, for
    switches and drops, the count of examples seen when it happened. ``response``: what was done:
    ``"alert"``, ``"reset"``, ``"boost"``, ``"challenger"`` (a challenger started), ``"switch"``,
    ``"drop"``, ``"none"``, or the name of the ``on_drift`` callable. ``applied``: the first
    monitored example the response affected (the batch boundary). ``rising``: whether the signal
    rose (None: the detector cannot tell; see the module's documentation).
    """

    index: int  # type: ignore[assignment]  # the example number (a field, as river names it)
    kind: str
    detector: str
    response: str
    applied: int
    rising: Optional[bool] = None

    @property
    def example(self) -> int:
        """The example's 1-based number (VW's progress counter, when every example is labelled)."""
        return self.index + 1


def error_signal(label: np.ndarray, prediction: np.ndarray, scheme: Optional[str] = None) -> np.ndarray:
    """0/1 misclassification: ``scheme`` ``"-1/1"`` compares signs (a prediction of 0 is negative),
    ``"0/1"`` thresholds labels and predictions at 0.5. ``None``: decided from the labels, as the
    monitor does (see the module's documentation).

    >>> import numpy as np
    >>> error_signal(np.array([1, -1, 1, -1]), np.array([0.3, 0.2, -2.0, -0.1]))
    array([0., 1., 1., 0.])
    >>> error_signal(np.array([1, 0, 1, 0]), np.array([0.7, 0.2, 0.3, 0.6]))
    array([0., 0., 1., 1.])
    """
    label = np.asarray(label, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    if scheme is None:
        scheme = _label_scheme(label) or "-1/1"
    cut = 0.5 if scheme == "0/1" else 0.0
    return ((prediction > cut) != (label > cut)).astype(np.float64)


def _label_scheme(label: np.ndarray) -> Optional[str]:
    neg = np.flatnonzero(label < 0)
    zero = np.flatnonzero(label == 0)
    if neg.size == 0 and zero.size == 0:
        return None
    if zero.size == 0 or (neg.size and neg[0] < zero[0]):
        return "-1/1"
    return "0/1"


class _Challenger(NamedTuple):
    started: int  # monitored count when it started learning (a batch boundary)
    alarm: Optional[int]  # the alarm it answers (None: started at a warning)
    before: Optional[Tuple[int, float, float]]  # the champion's signal before the alarm: count, mean, variance


class Monitor:
    """A drift detector fed from a model's learning loop, with a response (see the module).

    Made by :meth:`wabbit.Model.monitor`; ``events`` lists what it noticed and did, ``n`` counts
    the labelled examples it has seen.
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
        for what, v in (("every", every), ("boost_examples", boost_examples), ("gate", gate)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{what} must be a positive number of examples, got {v!r}")
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
        self._history: List[np.ndarray] = []
        self._history_len = 0
        self._model_since = 0
        self._cuts: Dict[int, int] = {}
        self._challenger: Optional["Model"] = None
        self._active: Optional[_Challenger] = None
        self._after: List[np.ndarray] = []  # the champion's signal since a gated challenger started
        self._boost_until: Optional[int] = None
        self._rate_before = 1.0
        # single learn() calls: buffered signals, and the calls since the last hand-over
        self._pending: List[Tuple[np.ndarray, np.ndarray, np.ndarray]] = []
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
        if self.on_drift == "switch":
            self._challenger = type(model).from_options(model.options)

    def run_options(self, learn: bool) -> Dict[str, Any]:
        """The core's run options a monitored run adds: signals, and the challenger as shadow learner."""
        opts: Dict[str, Any] = {"signals": True}
        if learn and self._challenger is not None:
            opts["shadow"] = self._challenger.core
        return opts

    def hand_over(self, model: "Model") -> None:
        """The learning loop's batch boundary: take the core's signals and process them."""
        s = model.core.take_signals()
        self._process(model, s["label"], s["prediction"], s["loss"])

    def learn_single(self, model: "Model", example: Any, label: Any, weight: float, initial: float) -> float:
        """One monitored ``Model.learn`` call: the champion (and the challenger) learn it, its
        signal is buffered, and every ``every`` calls the buffer is processed."""
        core = model.core
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
                self._pending.append((s["label"], s["prediction"], s["loss"]))
        else:
            before = core.stats()["sum_loss"] if label is not None else 0.0
            p = core.learn_dict(example, label, weight, initial)
            if self._challenger is not None:
                self._challenger.core.learn_dict(example, label, weight, initial)
            if label is not None:
                loss = (core.stats()["sum_loss"] - before) / weight if weight > 0 else 0.0
                self._pending.append(
                    (np.array([label], np.float32), np.array([p], np.float32), np.array([loss], np.float32))
                )
        self._count_call(model)
        return p

    def _count_call(self, model: "Model") -> None:
        self._calls += 1
        if self._calls % self.every == 0:
            self.flush_single(model)

    def flush_single(self, model: "Model") -> None:
        """Process the signals of single ``learn`` calls buffered since the last hand-over."""
        if not self._pending:
            return
        parts, self._pending = self._pending, []
        self._process(model, *(np.concatenate([p[k] for p in parts]) for k in range(3)))

    # ------------------------------------------------------------------ one batch
    def _values(self, label: np.ndarray, prediction: np.ndarray, loss: np.ndarray) -> np.ndarray:
        if self.signal == "loss":
            return loss.astype(np.float64)
        if self.signal == "error":
            if self._scheme is None:
                self._scheme = _label_scheme(label)
            return error_signal(label, prediction, self._scheme or "-1/1")
        assert callable(self.signal)  # (a name other than loss/error is refused in __init__)
        values = np.asarray(self.signal(label, prediction, loss), dtype=np.float64)
        if values.shape != label.shape:
            raise ValueError(
                f"the signal callable returned shape {values.shape} for a batch of {label.shape[0]} examples"
            )
        return values

    def _process(self, model: "Model", label: np.ndarray, prediction: np.ndarray, loss: np.ndarray) -> None:
        if len(label) == 0:
            return
        values = self._values(label, prediction, loss)
        start = self.n
        drifts, warnings, rising = self._feed(values, start)
        self._remember(values)
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
        self._end_of_batch(model, found)

    def _feed(self, values: np.ndarray, start: int) -> Tuple[List[int], Any, List[Optional[bool]]]:
        """Feed the detector; the alarms' indices, the warnings' (or []), and each alarm's direction."""
        det = self.detector
        self._cuts = {}

        if isinstance(det, ADWIN):
            state = det.state()
            drifts = det.update_many(values)
            if len(drifts) == 0:
                return [], [], []
            # replay to the alarms, to see the part of the window ADWIN kept against the one it dropped
            det.set_state(state)
            rising: List[Optional[bool]] = []
            at = 0
            for i in drifts:
                det.update_many(values[at:i])
                width, total = det.width, det.total
                det.update(float(values[i]))
                kept_mean = det.total / det.width
                dropped = width + 1 - det.width
                rising.append(
                    bool(kept_mean > (total + float(values[i]) - det.total) / dropped) if dropped > 0 else None
                )
                self._cuts[start + int(i)] = start + int(i) + 1 - int(det.width)
                at = int(i) + 1
            det.update_many(values[at:])
            return [int(i) for i in drifts], [], rising
        if self._warnings:
            drifts, warnings = det.update_many(values, return_warnings=True)
        else:
            drifts, warnings = det.update_many(values), []
        if isinstance(det, KSWIN):
            self._cuts = {start + int(i): start + int(i) + 1 - int(det.params["stat_size"]) for i in drifts}
        return [int(i) for i in drifts], warnings, [_direction(det)] * len(drifts)

    def _remember(self, values: np.ndarray) -> None:
        self._history.append(values)
        self._history_len += len(values)
        keep = HISTORY_GATES * self.gate + len(values)
        while self._history_len - len(self._history[0]) >= keep:
            self._history_len -= len(self._history.pop(0))

    def _reference(self, alarm: int) -> Tuple[int, float, float]:
        """Count, mean and variance of the champion's signal over the ``GATE_PATIENCE * gate``
        values before the change the alarm answers (within the history, and since the model last
        changed)."""
        cut = self._cuts.get(alarm, alarm + 1)
        values = np.concatenate(self._history)
        first = self.n - len(values)
        lo = max(cut - GATE_PATIENCE * self.gate, first, self._model_since)
        ref = values[lo - first : max(cut, lo) - first]
        if len(ref) < 2:
            return (len(ref), float(ref.mean()) if len(ref) else 0.0, 0.0)
        return (len(ref), float(ref.mean()), float(np.var(ref, ddof=1)))

    def _end_of_batch(self, model: "Model", found: List[Tuple[int, str, Optional[bool]]]) -> None:
        boundary = self.n
        new: List[Tuple[DriftEvent, str]] = []
        sig = self._signal_name()
        reset = promoted = False
        start_challenger: Optional[_Challenger] = None
        warned = -1  # where in `new` the warning that asked for start_challenger is

        def add(index: int, kind: str, response: str, rising: Optional[bool], message: str) -> DriftEvent:
            event = DriftEvent(index, kind, self.name, response, boundary, rising)
            new.append((event, message))
            return event

        for index, kind, rising in found:
            at = f"at example {index + 1} ({self.name})"
            if kind == "warning":
                if self.on_drift == "switch" and self._active is None and start_challenger is None and not promoted:
                    start_challenger = _Challenger(boundary, None, None)
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
                if self._boost_until is None:
                    self._rate_before = model.core.rate_factor()
                    model.core.set_rate_factor(self._rate_before * self.boost_factor)
                self._boost_until = boundary + self.boost_examples
                add(
                    index,
                    "drift",
                    "boost",
                    rising,
                    f"drift detected {at}: learning rate x{self.boost_factor:g} from example {boundary + 1} "
                    f"until example {self._boost_until}",
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
                start_challenger = _Challenger(boundary, index, self._reference(index))
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
        if self._boost_until is not None and boundary >= self._boost_until:
            model.core.set_rate_factor(self._rate_before)
            self._boost_until = None
        for event, message in new:
            self.events.append(event)
            self._tell(event, message)

    def _judge(self, model: "Model", boundary: int, add: Callable[..., DriftEvent]) -> None:
        """The gate of a challenger started at an alarm, once it has learned ``gate`` examples."""
        active = self._active
        assert active is not None and active.alarm is not None and active.before is not None
        after = np.concatenate(self._after) if self._after else np.zeros(0)
        if len(after) < self.gate:
            return
        after = after[: GATE_PATIENCE * self.gate]
        count, mean, var = active.before
        sig = self._signal_name()
        if count >= 2:
            se = math.sqrt(var / count + float(np.var(after, ddof=1)) / len(after))
            rise = float(after.mean()) - mean
            passed = rise > GATE_SIGMAS * se
            sigmas = rise / se if se > 0 else (math.inf if rise > 0 else 0.0)
            means = f"mean {sig} {mean:.4f} before the alarm, {after.mean():.4f} since ({sigmas:+.1f} standard errors)"
        else:  # nothing to compare with: the champion had barely started
            passed, means = True, "no signal before the alarm to compare with"
        alarm = f"{self.name} alarm at example {active.alarm + 1}"
        if not passed and len(after) < GATE_PATIENCE * self.gate:
            return  # look again at the next boundary, with more of the champion's signal
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
        loud = event.kind in ("drift", "switch", "drop") or event.response == "challenger"
        if self.log is not None:
            if loud:
                self.log(message)
        else:
            logger.log(logging.WARNING if event.kind in ("drift", "switch") else logging.INFO, message)
        if self.callback is not None:
            self.callback(event)

    def _signal_name(self) -> str:
        return self.signal if isinstance(self.signal, str) else "signal"

    def summary(self) -> List[str]:
        """Lines for the end of a run: counts and example numbers of alarms, warnings, switches."""

        def where(events: List[DriftEvent]) -> str:
            shown = ", ".join(str(e.example) for e in events[:20])
            return (
                ("at example " if len(events) == 1 else "at examples ") + shown + (", ..." if len(events) > 20 else "")
            )

        out = []
        drifts = [e for e in self.events if e.kind == "drift"]
        out.append(
            f"drift alarms = {len(drifts)}" + (f" ({self.name}, {where(drifts)})" if drifts else f" ({self.name})")
        )
        warnings = [e for e in self.events if e.kind == "warning"]
        if self._warnings:
            out.append(f"drift warnings = {len(warnings)}" + (f" ({where(warnings)})" if warnings else ""))
        for kind, label in (("switch", "challenger switches"), ("drop", "challengers dropped")):
            es = [e for e in self.events if e.kind == kind]
            if self.on_drift == "switch":
                out.append(f"{label} = {len(es)}" + (f" ({where(es)})" if es else ""))
        if self.on_drift in ("reset", "boost"):
            acted = [e for e in drifts if e.response == self.on_drift]
            label = "weight resets" if self.on_drift == "reset" else "learning-rate boosts"
            out.append(f"{label} = {len(acted)}" + (f" (alarms {where(acted)})" if acted else ""))
        return out


def _direction(det: Any) -> Optional[bool]:
    """Whether an alarm of this detector means the signal rose (None: cannot tell)."""
    if isinstance(det, (DDM, EDDM)):
        return True
    if isinstance(det, (HDDMA, HDDMW)):
        return None if det.two_sided_test else True
    if isinstance(det, PageHinkley):
        return {"up": True, "down": False}.get(det.mode)
    return None

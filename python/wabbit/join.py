"""Label join for plain (non-bandit) models: predictions now, labels later, learned together.

A service predicts with features it has at hand and learns the outcome minutes or hours later.
Serving logs each prediction as ``(id, features, prediction, time)`` (:class:`PredictionRecord`,
one JSON line); labels come later as ``(id, label[, time])`` (:class:`LabelRecord`).
:class:`LabelJoiner` joins them by id within a TTL, in any order, and hands back
:class:`JoinedExample` s ready to learn. It generalises :class:`wabbit.DecisionLog` (the same for
bandit decisions and their costs) to plain models, labels that may come first, and a default
label for predictions whose label never comes.

Rules (none of them raises; each is counted in :attr:`LabelJoiner.stats`):

* a label and a prediction with the same id **join** when their times are at most ``ttl``
  seconds apart, whichever arrives first; a label that arrives first waits (up to ``ttl``);
* a label for an id whose prediction is pending but more than ``ttl`` away, or whose prediction
  already expired or was evicted, is **late**: counted, ignored;
* a second label for an id (already joined, or already waiting) is a **duplicate**; a second
  prediction for an id is a **duplicate prediction**; both are ignored (the first one stands);
* a label that waited ``ttl`` seconds and saw no prediction is **unknown**;
* a prediction that waited ``ttl`` seconds without its label **expires** at the next
  :meth:`~LabelJoiner.expire`: dropped (``default_label=None``), or returned by ``expire`` as a
  joined example with the default label ("no click within 30 minutes is a negative"); its label
  time is the expiry time (when the default became known);
* at most ``max_pending`` entries (waiting predictions plus waiting labels) are kept; one more
  evicts the oldest (**evicted**, never defaulted).

So every prediction ends as exactly one of joined, expired (dropped or defaulted), evicted,
duplicate, or is still pending; every label as exactly one of joined, duplicate, late, unknown,
evicted, or is still waiting. Ids recently closed are remembered for another ``ttl`` (at most
``max_pending`` of them) to tell duplicates and late labels from new ids; memory is bounded by
``2 * max_pending`` entries.

Time is whatever clock the caller uses (seconds: epoch seconds from the event system, say);
``labelled(id, label)`` without a time takes ``clock()`` (default ``time.time``). Only
:meth:`~LabelJoiner.expire` ends entries (the other calls never do): call it regularly with the
current time; entries are walked oldest first in insertion order, O(1) amortized each. One thread
owns a joiner (no lock: the trainer's consumer loop).

>>> j = LabelJoiner(ttl=60, max_pending=1000, default_label=-1.0)
>>> j.predicted("a", "|u user=1 |ad x", prediction=0.3, time=0)
>>> j.predicted("b", "|u user=2 |ad x", prediction=-0.2, time=1)
>>> e = j.labelled("a", 1.0, time=20)
>>> e.as_item(), e.label_time - e.prediction_time
('1.0 |u user=1 |ad x', 20.0)
>>> j.labelled("a", 1.0, time=21) is None       # a duplicate
True
>>> [x.as_item() for x in j.expire(100)]       # b: no label within 60 s: the default
['-1.0 |u user=2 |ad x']
>>> s = j.stats
>>> (s.predictions, s.labels, s.joined, s.duplicates, s.expired_defaulted, s.pending)
(2, 2, 1, 1, 1, 0)

The log lines the daemon writes and the trainer reads:

>>> line = PredictionRecord("a", "|u user=1", 0.3, 12.5).encode()
>>> line
'{"id":"a","features":"|u user=1","prediction":0.3,"time":12.5}'
>>> PredictionRecord.decode(line) == PredictionRecord("a", "|u user=1", 0.3, 12.5)
True
>>> LabelRecord.decode('{"id": "a", "label": 1}')
LabelRecord(id='a', label=1.0, time=None)
"""

from __future__ import annotations

import json
import math
import operator
import time as _time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, Hashable, Iterable, List, Mapping, NamedTuple, Optional, Tuple, Union

import numpy as np

_fast_loads: Callable[[Any], Any]
try:  # optional (pip install "wabbit[kafka]"): decodes a record in about a tenth of json's time
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - the standard library alone
    _fast_loads = json.loads

__all__ = ["Features", "JoinStats", "JoinedExample", "LabelJoiner", "LabelRecord", "PredictionRecord"]

#: What a prediction was made from: a VW text line without its label, or a dict example.
Features = Union[str, Mapping[str, Any]]

# what an id's closed entry was: tells a duplicate from a late label, a duplicate prediction
# from a new one
_JOINED, _EXPIRED, _EVICTED, _ORPHANED = 0, 1, 2, 3


class JoinedExample(NamedTuple):
    """A prediction with its label: what to learn, and when each half arrived.

    ``label_time`` is the label's arrival time (for a default label, the expiry time): the
    trainer measures freshness from it. ``defaulted`` says the label is the joiner's default.
    """

    id: Hashable
    features: Features
    label: float
    prediction: Optional[float]
    prediction_time: float
    label_time: float
    defaulted: bool = False

    def as_item(self) -> Union[str, Tuple[Mapping[str, Any], float]]:
        """The example as ``Model.learn`` and :func:`wabbit.evaluate.progressive_val` take it: a
        text line with the label put in front, or ``(dict example, label)``.

        >>> JoinedExample("x", "|f a", -1.0, 0.2, 0.0, 3.0).as_item()
        '-1.0 |f a'
        >>> JoinedExample("x", {"f": ["a"]}, 1.0, None, 0.0, 3.0).as_item()
        ({'f': ['a']}, 1.0)
        """
        if isinstance(self.features, str):
            sep = "" if self.features[:1].isspace() else " "
            return f"{self.label!r}{sep}{self.features}"
        return (self.features, self.label)

    def learn(self, model: Any) -> Any:
        """``model.learn`` this example; returns what it returns (the prediction before the update)."""
        if isinstance(self.features, str):
            return model.learn(self.as_item())
        return model.learn(self.features, label=self.label)


@dataclass(frozen=True)
class JoinStats:
    """Counts since the joiner was made (``pending_*`` are what waits now)."""

    predictions: int = 0  # predictions recorded (duplicates not included)
    labels: int = 0  # labelled() calls
    joined: int = 0  # labels joined to their predictions
    duplicates: int = 0  # second labels for an id (ignored)
    duplicate_predictions: int = 0  # second predictions for an id (ignored)
    late: int = 0  # labels more than ttl from their prediction, or after it expired or was evicted
    unknown: int = 0  # labels that waited ttl for a prediction that never came
    expired_dropped: int = 0  # predictions whose label never came, dropped
    expired_defaulted: int = 0  # predictions whose label never came, learned with the default label
    evicted: int = 0  # entries pushed out by max_pending (predictions and waiting labels)
    evicted_labels: int = 0  # of which waiting labels
    pending_predictions: int = 0
    pending_labels: int = 0

    @property
    def pending(self) -> int:
        """Entries waiting now (predictions plus labels): never more than ``max_pending``."""
        return self.pending_predictions + self.pending_labels

    def as_dict(self) -> Dict[str, int]:
        return dict(self.__dict__)


_COUNTERS = (
    "predictions",
    "labels",
    "joined",
    "duplicates",
    "duplicate_predictions",
    "late",
    "unknown",
    "expired_dropped",
    "expired_defaulted",
    "evicted",
    "evicted_labels",
)


class LabelJoiner:
    """Predictions waiting for their labels and labels waiting for their predictions, by id.

    ``ttl``: seconds a prediction and its label may be apart (``math.inf``: no limit; then only
    ``max_pending`` bounds memory). ``max_pending``: the most entries kept waiting.
    ``default_label``: learned for a prediction whose label never comes (None: drop it).
    ``clock``: the time of a label given without one (default ``time.time``).
    The rules are in :mod:`wabbit.join`.
    """

    def __init__(
        self,
        ttl: float,
        max_pending: int,
        default_label: Optional[float] = None,
        *,
        clock: Callable[[], float] = _time.time,
    ) -> None:
        ttl = float(ttl)
        if not ttl > 0:  # also refuses NaN
            raise ValueError(f"ttl must be a positive number of seconds (math.inf: no limit), got {ttl!r}")
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError(f"max_pending must be a positive integer, got {max_pending!r}")
        if default_label is not None:
            default_label = float(default_label)
            if not math.isfinite(default_label):
                raise ValueError(f"default_label must be a finite number or None, got {default_label!r}")
        self.ttl = ttl
        self.max_pending = max_pending
        self.default_label = default_label
        self._clock = clock
        # id -> [time, features, prediction, label]; a waiting label has features None. One
        # table for both kinds (an id cannot wait on both sides: they would have joined), in
        # insertion order, so eviction and expiry walk it from the front.
        self._pending: "OrderedDict[Hashable, list]" = OrderedDict()
        self._pending_labels = 0
        self._closed: "OrderedDict[Hashable, Tuple[float, int]]" = OrderedDict()
        # The closed table only grows at the end and shrinks at the front (a re-closed id aside),
        # so a packed state() is the previous one's columns without the entries popped since,
        # plus the entries closed since: _packed_closed (int64 ids, float64 times, uint8 fates,
        # or None: walk the table), _closed_log, _closed_popped.
        self._packed_closed: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
        self._closed_log: List[Tuple[Hashable, float, int]] = []
        self._closed_popped = 0
        self._closed_walks = 0  # packed states made by walking the table (the tests' check)
        self._counts: Dict[str, int] = dict.fromkeys(_COUNTERS, 0)

    # ------------------------------------------------------------------------------------
    def predicted(
        self, id: Hashable, features: Features, prediction: Optional[float], time: float
    ) -> Optional[JoinedExample]:
        """Record a served prediction. Returns the joined example when its label was waiting
        (and within the TTL), else None (the prediction waits, or was a duplicate). Features that
        are neither a text line nor a mapping raise TypeError."""
        if type(features) is not str and not isinstance(features, Mapping):
            raise TypeError(f"features are a VW text line or a dict example, got {type(features).__name__}")
        time = float(time)
        pending = self._pending
        entry = pending.get(id)
        counts = self._counts
        if entry is not None:
            if entry[1] is not None:  # a prediction already waits under this id
                counts["duplicate_predictions"] += 1
                return None
            # a label waited for this prediction
            del pending[id]
            self._pending_labels -= 1
            counts["predictions"] += 1
            if abs(time - entry[0]) <= self.ttl:
                counts["joined"] += 1
                self._close(id, time, _JOINED)
                return JoinedExample(id, features, entry[3], prediction, time, entry[0])
            counts["late"] += 1  # the label is too far from it; the prediction waits for another
            self._insert(id, [time, features, prediction, None])
            return None
        closed = self._closed.get(id)
        if closed is not None and closed[1] != _ORPHANED:
            counts["duplicate_predictions"] += 1
            return None
        counts["predictions"] += 1
        self._insert(id, [time, features, prediction, None])
        return None

    def labelled(self, id: Hashable, label: float, time: Optional[float] = None) -> Optional[JoinedExample]:
        """A label for ``id``. Returns the joined example when its prediction waits within the
        TTL; otherwise None: the label waits for its prediction, or is counted as duplicate or
        late and ignored. A label that is not a finite number raises ValueError."""
        label = float(label)
        if not math.isfinite(label):
            raise ValueError(f"label must be a finite number, got {label!r}")
        time = float(self._clock() if time is None else time)
        counts = self._counts
        counts["labels"] += 1
        pending = self._pending
        entry = pending.get(id)
        if entry is not None:
            if entry[1] is None:  # a label already waits under this id
                counts["duplicates"] += 1
                return None
            if abs(time - entry[0]) > self.ttl:
                counts["late"] += 1  # the prediction stays, to expire in turn
                return None
            del pending[id]
            counts["joined"] += 1
            self._close(id, time, _JOINED)
            return JoinedExample(id, entry[1], label, entry[2], entry[0], time)
        closed = self._closed.get(id)
        if closed is not None:
            counts["late" if closed[1] in (_EXPIRED, _EVICTED) else "duplicates"] += 1
            return None
        self._insert(id, [time, None, None, label])
        self._pending_labels += 1
        return None

    def expire(self, now: float) -> List[JoinedExample]:
        """End what waited more than ``ttl`` before ``now``: predictions (dropped, or returned here
        with the default label, oldest first) and labels (unknown). Forgets closed ids older than
        another ``ttl``. Entries stamped out of order wait behind their elders."""
        now = float(now)
        if math.isnan(now):
            raise ValueError("now must be a number of seconds, got NaN")
        ttl = self.ttl
        pending = self._pending
        counts = self._counts
        out: List[JoinedExample] = []
        default = self.default_label
        while pending:
            id, entry = next(iter(pending.items()))
            if now - entry[0] <= ttl:
                break
            pending.popitem(last=False)
            if entry[1] is None:
                self._pending_labels -= 1
                counts["unknown"] += 1
                self._close(id, now, _ORPHANED)
            else:
                self._close(id, now, _EXPIRED)
                if default is None:
                    counts["expired_dropped"] += 1
                else:
                    counts["expired_defaulted"] += 1
                    out.append(JoinedExample(id, entry[1], default, entry[2], entry[0], now, True))
        closed = self._closed
        popped = 0
        while closed:
            when = next(iter(closed.values()))[0]
            if now - when <= ttl:
                break
            closed.popitem(last=False)
            popped += 1
        self._closed_popped += popped
        return out

    def feed(
        self, events: Iterable[Tuple[bool, Hashable, Any, Optional[float], float, Any]], event_time: float
    ) -> Tuple[List[Tuple[JoinedExample, Any]], float]:
        """A stream's records in one call: for each event ``(is_prediction, id, features or label,
        prediction, time, tag)`` in order, :meth:`predicted` (or :meth:`labelled`), then, when its
        time is after ``event_time`` (the latest time seen), ``event_time`` moves there and
        :meth:`expire` runs (only when something is due: it would do nothing otherwise). Returns
        the joined and defaulted examples in the order they came, each with the tag of the event
        that joined it (None for a default at expiry), and the new ``event_time``: what calling
        the three methods record by record gives (the trainer's clock is the event time)."""
        out: List[Tuple[JoinedExample, Any]] = []
        add = out.append
        predicted, labelled, expire, close = self.predicted, self.labelled, self.expire, self._close
        pending, closed = self._pending, self._closed
        ttl, room = self.ttl, self.max_pending
        new_predictions = labels = joins = 0
        for is_prediction, id, x, prediction, t, tag in events:
            # the common cases inline (a new prediction with room for it; a label joining the
            # prediction waiting for it), as predicted() and labelled() would do them; the others
            # through those methods
            if is_prediction:
                if (
                    id not in pending
                    and id not in closed
                    and len(pending) < room
                    and (type(x) is str or type(x) is dict)
                    and type(t) is float
                ):
                    pending[id] = [t, x, prediction, None]
                    new_predictions += 1
                else:
                    joined = predicted(id, x, prediction, t)
                    if joined is not None:
                        add((joined, tag))
            else:
                entry = pending.get(id)
                if (
                    entry is not None
                    and entry[1] is not None
                    and type(t) is float
                    and type(x) is float
                    and abs(t - entry[0]) <= ttl
                    and x - x == 0.0  # finite
                ):
                    del pending[id]
                    labels += 1
                    joins += 1
                    close(id, t, _JOINED)
                    add((JoinedExample(id, entry[1], x, entry[2], entry[0], t), tag))
                else:
                    joined = labelled(id, x, t)
                    if joined is not None:
                        add((joined, tag))
            if t > event_time:
                event_time = t
                # what expire() checks first: the oldest waiting entry, the oldest closed id
                if (pending and t - next(iter(pending.values()))[0] > ttl) or (
                    closed and t - next(iter(closed.values()))[0] > ttl
                ):
                    for e in expire(t):
                        add((e, None))
        counts = self._counts
        counts["predictions"] += new_predictions
        counts["labels"] += labels
        counts["joined"] += joins
        return out, event_time

    # ------------------------------------------------------------------------------------
    @property
    def stats(self) -> JoinStats:
        """What happened so far: see :class:`JoinStats`."""
        n_labels = self._pending_labels
        return JoinStats(pending_predictions=len(self._pending) - n_labels, pending_labels=n_labels, **self._counts)

    def __len__(self) -> int:
        """Entries waiting (predictions plus labels)."""
        return len(self._pending)

    def __contains__(self, id: Hashable) -> bool:
        return id in self._pending

    def __repr__(self) -> str:
        return (
            f"LabelJoiner(ttl={self.ttl:g}, max_pending={self.max_pending}, "
            f"default_label={self.default_label!r}, pending={len(self._pending)})"
        )

    def state(self, *, packed: bool = False) -> Dict[str, Any]:
        """Everything but the clock, as plain lists and dicts (JSON-ready when the ids and
        features are): what a checkpoint keeps so that a restarted trainer joins as before. The
        tables go by column; ``packed``: the numeric columns as raw little-endian bytes
        (float64 times, int64 ids when every id is an int, one byte per closed id's fate), for
        :func:`wabbit.trainer_state.write_state`, which stores bytes apart from the JSON (a
        checkpoint of 500,000 closed ids then takes tens of milliseconds, not seconds).

        >>> j = LabelJoiner(ttl=10, max_pending=5)
        >>> _ = j.labelled(7, 1.0, time=0)
        >>> LabelJoiner.restore(j.state()).predicted(7, "|f a", 0.5, time=3).label
        1.0
        >>> LabelJoiner.restore(j.state(packed=True)).state() == j.state()
        True
        """
        pending = self._pending.values()
        closed = self._closed.values()
        closed_columns: Optional[Dict[str, Any]] = self._packed_closed_columns() if packed else None
        if closed_columns is None:
            closed_columns = {
                "ids": _ids_column(self._closed, packed),
                "times": _times_column(map(_first, closed), len(closed), packed),
                "how": bytes(map(_second, closed)) if packed else list(map(_second, closed)),
            }
        return {
            "ttl": self.ttl,
            "max_pending": self.max_pending,
            "default_label": self.default_label,
            # each column made by one C-level pass over the table
            "pending": {
                "ids": _ids_column(self._pending, packed),
                "times": _times_column(map(_first, pending), len(pending), packed),
                "features": list(map(_second, pending)),
                "predictions": list(map(_third, pending)),
                "labels": list(map(_fourth, pending)),
            },
            "closed": closed_columns,
            "counts": dict(self._counts),
        }

    def _packed_closed_columns(self) -> Optional[Dict[str, bytes]]:
        """The closed table's packed columns, from the previous ones when it only grew at the end
        and shrank at the front since (None: integer ids did not fit; the caller walks it)."""
        closed = self._closed
        log, popped, last = self._closed_log, self._closed_popped, self._packed_closed
        self._closed_log, self._closed_popped, self._packed_closed = [], 0, None
        columns: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
        try:
            if last is not None and (not log or set(map(type, map(_first, log))) == {int}):
                ids = np.concatenate([last[0], np.fromiter(map(_first, log), dtype="<i8", count=len(log))])[popped:]
                times = np.concatenate([last[1], np.fromiter(map(_second, log), dtype="<f8", count=len(log))])[popped:]
                how = np.concatenate([last[2], np.fromiter(map(_third, log), dtype="u1", count=len(log))])[popped:]
                if len(ids) == len(closed):
                    columns = (ids, times, how)
            if columns is None and closed and set(map(type, closed)) == {int}:
                self._closed_walks += 1
                values = closed.values()
                columns = (
                    np.fromiter(closed, dtype="<i8", count=len(closed)),
                    np.fromiter(map(_first, values), dtype="<f8", count=len(closed)),
                    np.fromiter(map(_second, values), dtype="u1", count=len(closed)),
                )
        except OverflowError:  # an int id past 64 bits
            columns = None
        if columns is None:
            return None
        self._packed_closed = columns
        return {"ids": columns[0].tobytes(), "times": columns[1].tobytes(), "how": columns[2].tobytes()}

    @classmethod
    def restore(cls, state: Mapping[str, Any], *, clock: Callable[[], float] = _time.time) -> "LabelJoiner":
        """A joiner holding ``state`` (from :meth:`state`, possibly through JSON)."""
        j = cls(state["ttl"], state["max_pending"], state["default_label"], clock=clock)
        pending, closed = state["pending"], state["closed"]
        if isinstance(pending, Mapping):  # by column (the rows of earlier versions below)
            j._pending = OrderedDict(
                (k, [t, f, p, y])
                for k, t, f, p, y in zip(
                    _ids_of(pending["ids"]),
                    _times_of(pending["times"]),
                    pending["features"],
                    pending["predictions"],
                    pending["labels"],
                )
            )
        else:
            j._pending = OrderedDict((_key(k), [t, f, p, y]) for k, t, f, p, y in pending)
        j._pending_labels = sum(1 for v in j._pending.values() if v[1] is None)
        if isinstance(closed, Mapping):
            how = [int(h) for h in closed["how"]]
            j._closed = OrderedDict(zip(_ids_of(closed["ids"]), zip(_times_of(closed["times"]), how)))
        else:
            j._closed = OrderedDict((_key(k), (float(t), int(how))) for k, t, how in closed)
        j._counts.update(state["counts"])
        return j

    # ------------------------------------------------------------------------------------
    def _insert(self, id: Hashable, entry: list) -> None:
        pending = self._pending
        while len(pending) >= self.max_pending:
            old_id, old = pending.popitem(last=False)
            self._counts["evicted"] += 1
            if old[1] is None:
                self._pending_labels -= 1
                self._counts["evicted_labels"] += 1
                self._close(old_id, entry[0], _ORPHANED)
            else:
                self._close(old_id, entry[0], _EVICTED)
        pending[id] = entry

    def _close(self, id: Hashable, now: float, how: int) -> None:
        closed = self._closed
        if id in closed:
            del closed[id]
            self._packed_closed = None  # (rare) not an append: the next packed state walks the table
        closed[id] = (now, how)
        if self._packed_closed is not None:
            self._closed_log.append((id, now, how))
        if len(closed) > self.max_pending:
            closed.popitem(last=False)
            self._closed_popped += 1


def _key(k: Any) -> Hashable:
    # JSON turns tuple ids into lists: back to tuples
    return tuple(_key(x) for x in k) if isinstance(k, list) else k


_first, _second, _third, _fourth = (operator.itemgetter(k) for k in range(4))


def _times_column(values: Iterable[float], count: int, packed: bool) -> Union[bytes, List[float]]:
    return np.fromiter(values, dtype="<f8", count=count).tobytes() if packed else list(values)


def _times_of(column: Union[bytes, List[float]]) -> List[float]:
    if isinstance(column, (bytes, bytearray, memoryview)):
        return np.frombuffer(column, dtype="<f8").tolist()
    return [float(t) for t in column]


def _ids_column(table: Mapping[Hashable, Any], packed: bool) -> Union[bytes, List[Any]]:
    # packed: int64 when every id is an int that fits (else the list, as JSON takes it)
    if packed and table and set(map(type, table)) == {int}:
        try:
            return np.fromiter(table, dtype="<i8", count=len(table)).tobytes()
        except OverflowError:
            pass
    return list(table)


def _ids_of(column: Union[bytes, List[Any]]) -> List[Hashable]:
    if isinstance(column, (bytes, bytearray, memoryview)):
        return np.frombuffer(column, dtype="<i8").tolist()
    return [_key(k) for k in column]


# ----------------------------------------------------------------------------------------------
# log lines


def _time_or_none(value: Any, what: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an integer past float's range (JSON has no limit): not a finite number
        raise ValueError(f"{what} must be a finite number, got an integer too large for a float") from None


def _a_time(value: Any, what: str) -> Optional[float]:
    # a time: a finite number (the joiner's clock could not move past NaN, and would stay at an
    # infinity: every entry after it would expire at once)
    if type(value) is float and math.isfinite(value):
        return value
    t = _time_or_none(value, what)
    if t is not None and not math.isfinite(t):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return t


def _check_id(value: Any) -> Union[str, int]:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"a record's id must be a string or an integer, got {value!r}")
    return value


def _load(line: Union[str, bytes], kind: str) -> Dict[str, Any]:
    try:
        obj = _fast_loads(line)
        if type(obj) is dict and (type(obj.get("id")) is float or type(obj.get("features")) is dict):
            # orjson reads an integer past 64 bits as a float: json's reading of such an id (an
            # int) or of a dict example's values (ints) is the one that counts
            obj = json.loads(line)
    except ValueError:
        # what orjson refuses and json takes (NaN, Infinity, integers past 64 bits, a BOM, UTF-16
        # or UTF-32 bytes, lone surrogates) is read as json reads it; the error is json's
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise ValueError(f"not a {kind} record (not JSON): {e}") from None
    if not isinstance(obj, dict) or "id" not in obj:
        raise ValueError(f"not a {kind} record: a JSON object with an id is expected, got {str(line)[:80]!r}")
    return obj


@dataclass(frozen=True)
class PredictionRecord:
    """One served prediction, as the daemon logs it: one compact JSON line
    ``{"id", "features", "prediction", "time"}``. ``features`` is a VW text line without label
    or a dict example; ``prediction`` may be null."""

    id: Union[str, int]
    features: Features
    prediction: Optional[float]
    time: float

    def encode(self) -> str:
        """The JSON line, without the newline."""
        return json.dumps(
            {"id": self.id, "features": self.features, "prediction": self.prediction, "time": self.time},
            separators=(",", ":"),
            allow_nan=False,
        )

    @classmethod
    def decode(cls, line: Union[str, bytes]) -> "PredictionRecord":
        """Parse one line (a trailing newline is fine); ValueError names what is wrong."""
        return cls(*decode_prediction(line))

    def feed(self, joiner: LabelJoiner) -> Optional[JoinedExample]:
        """``joiner.predicted(...)`` with this record."""
        return joiner.predicted(self.id, self.features, self.prediction, self.time)


@dataclass(frozen=True)
class LabelRecord:
    """One label, as the label topic carries it: ``{"id", "label", "time"}`` (time optional:
    the joiner then stamps its arrival)."""

    id: Union[str, int]
    label: float
    time: Optional[float] = None

    def encode(self) -> str:
        """The JSON line, without the newline."""
        obj: Dict[str, Any] = {"id": self.id, "label": self.label}
        if self.time is not None:
            obj["time"] = self.time
        return json.dumps(obj, separators=(",", ":"), allow_nan=False)

    @classmethod
    def decode(cls, line: Union[str, bytes]) -> "LabelRecord":
        """Parse one line (a trailing newline is fine); ValueError names what is wrong."""
        return cls(*decode_label(line))

    def feed(self, joiner: LabelJoiner) -> Optional[JoinedExample]:
        """``joiner.labelled(...)`` with this record."""
        return joiner.labelled(self.id, self.label, self.time)


def decode_prediction(line: Union[str, bytes]) -> Tuple[Union[str, int], Features, Optional[float], float]:
    """:meth:`PredictionRecord.decode` as a plain tuple ``(id, features, prediction, time)``: the
    trainer's per-record path (no object made)."""
    obj = _load(line, "prediction")
    features = obj.get("features")
    if type(features) is not str and not isinstance(features, dict):
        raise ValueError(f"a prediction record's features must be a text line or an object, got {features!r}")
    time = _a_time(obj.get("time"), "a prediction record's time")
    if time is None:
        raise ValueError("a prediction record needs a time")
    prediction = obj.get("prediction")
    if prediction is not None and type(prediction) is not float:
        prediction = _time_or_none(prediction, "prediction")
    id = obj["id"]
    if type(id) is not str and type(id) is not int:
        id = _check_id(id)
    return id, features, prediction, time


def decode_label(line: Union[str, bytes]) -> Tuple[Union[str, int], float, Optional[float]]:
    """:meth:`LabelRecord.decode` as a plain tuple ``(id, label, time)`` (time None when absent)."""
    obj = _load(line, "label")
    label = obj.get("label")
    if type(label) is not float:
        label = _time_or_none(label, "a label record's label")
        if label is None:
            raise ValueError("a label record needs a label")
    if not math.isfinite(label):
        raise ValueError(f"label must be a finite number, got {label!r}")
    time = obj.get("time")
    if time is not None:
        time = _a_time(time, "a label record's time")
    id = obj["id"]
    if type(id) is not str and type(id) is not int:
        id = _check_id(id)
    return id, label, time

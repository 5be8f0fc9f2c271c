"""Trainer: a model that learns an event stream unattended and publishes validated versions.

One loop ties the parts together (docs/architecture.md): a :class:`wabbit.stream.Source` of
events, the learner, optionally a :class:`wabbit.LabelJoiner` for late labels, a
:class:`wabbit.ReplayBuffer` against forgetting, a :class:`wabbit.gates.Gate` (with its
:class:`~wabbit.gates.GateKeeper`) before publication, and a :class:`wabbit.ModelStore` where
the versions go.

**Input.** Without a joiner, each record of ``source`` is a VW text line with its label, learned
as it comes. With a ``joiner``, records are JSON lines: :class:`wabbit.PredictionRecord` s (what
serving predicted, from what) and :class:`wabbit.LabelRecord` s (outcomes, later), either both
on ``source`` (a record with ``"features"`` is a prediction) or the labels on a second source
``labels``. Joined examples are learned in the order they join; with a default label, a
prediction whose label never came is learned at its expiry, in order. The joiner's clock is the
**event time**: ``expire`` is called with the latest prediction or label time seen, after each
record, and a label without a time takes its record's timestamp; so a replay of the same records
joins exactly as the first pass did (wall clocks play no part).

**Learning.** Each new example is learned (its progressive prediction, the one made before the
update, is kept for the gate), then, with a replay buffer, the replayed examples that
:meth:`ReplayBuffer.mix` draws. With a gate that has a forgetting check (``holdout > 0``), every
``holdout_every``-th new example is **held back**: not learned, not replayed, but offered to a
bounded uniform sample (:class:`wabbit.trainer_state.HoldoutSample`, ``gate.holdout`` examples):
the "older data neither model learned" of the forgetting check. (The replay reservoir would not
do: its examples were learned.)

**Publishing.** After every ``publish_every`` new examples (and/or ``publish_seconds``), the
candidate (the model learning) is checked against the champion (the store's current version;
with an empty store, a model with the same flags that learned nothing): on the examples learned
since the last publication (at most ``gate.recent``, with the candidate's progressive
predictions; the champion never learned them) and on the holdout sample. Passed: the version is
saved with the sources' positions, then the positions are committed to the sources (a Kafka
group's offsets are never ahead of a durable version). Failed: the reason is logged and nothing
is published; the examples go on accumulating for the next check; after ``max_failures`` failures
in a row the keeper pauses publication (:attr:`Trainer.paused`) and alerts. Then, by default
(the gate's ``confirm``), the trainer stays **on probation**: it goes on learning and checking,
publishes again as soon as a check passes (the stream came back), and accepts a **genuine concept
change** once the candidate has kept up with the present for ``confirm`` examples while failing
only the forgetting check: the holdout is re-based on examples held back during that stretch and
the candidate, checked again, is published (see :class:`wabbit.gates.GateKeeper`). With
``confirm=None``, a pause stops learning until a person calls :meth:`Trainer.resume`. Without a
gate, every check passes.

**Exactly once.** Each published version stores, per source, the per-partition position of the
next record not learned, and the state a restart needs to go on identically (the joiner, the
replay buffer and the generators, the holdout, the keeper, the counters): see
:mod:`wabbit.trainer_state` for where and how. A new Trainer on the same store loads the store's
current version, seeks every source to its positions and continues: nothing learned twice,
nothing skipped, and (given the same records in the same order) bitwise the same model as a run
that was never interrupted. Records learned after the last publication are simply learned again
after a crash. (Bitwise equality needs a deterministic record order: one partition per source,
or files; several Kafka partitions interleave as the broker delivers them, and two sources as
their polls return. ``publish_seconds`` adds wall-clock publication points.)

>>> import tempfile, wabbit
>>> from wabbit.trainer import Trainer
>>> class Lines:                       # a tiny Source: one partition, offsets are list indices
...     def __init__(self, lines): self.lines, self.next = lines, 0
...     def poll(self, max_records=1000, timeout=0.0):
...         out = [_Rec(v.encode(), "p", i, float(i)) for i, v in enumerate(self.lines)][self.next:self.next + max_records]
...         self.next += len(out); return out
...     def positions(self): return {"p": self.next}
...     def seek(self, positions): self.next = positions.get("p", self.next)
...     def commit(self, positions): pass
...     def lag(self): return len(self.lines) - self.next
>>> from collections import namedtuple; _Rec = namedtuple("_Rec", "value partition offset timestamp")
>>> lines = [f"{i % 2} |f x{i % 7}" for i in range(30)]
>>> store = wabbit.ModelStore(tempfile.mkdtemp())
>>> t = Trainer(wabbit.Model(), Lines(lines), store, publish_every=10)
>>> t.run(until=lambda tr: tr.source.lag() == 0)
'until'
>>> [v.metadata["trainer"]["positions"]["source"] for v in store.list()]
[{'p': 10}, {'p': 20}, {'p': 30}]
>>> again = Trainer(wabbit.Model(), Lines(lines), store)     # a restart resumes after record 30
>>> again.source.positions(), again.counts["examples"]
({'p': 30}, 30)
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Mapping, Optional, Protocol, Tuple, Union, cast

from wabbit.join import LabelJoiner, LabelRecord, PredictionRecord, decode_label, decode_prediction
from wabbit.model import Model
from wabbit.replay import ReplayBuffer
from wabbit.store import ModelStore
from wabbit.trainer_state import FORMAT, HoldoutSample, Item, read_state, remove_unused, write_state

if TYPE_CHECKING:
    from wabbit.gates import Gate, GateDecision, GateKeeper

__all__ = ["Trainer", "SourceLike"]

_log = logging.getLogger("wabbit.trainer")

_FRESHNESS_WINDOW = 100_000  # the last label-to-publication delays kept for the p50/p99
_PENDING_LABEL_TIMES = 1 << 20  # label times waiting for a publication, before thinning
_LAG_SECONDS = 5.0  # how often step() asks the sources for their lag


class _RecordLike(Protocol):
    value: bytes
    partition: str
    offset: int
    timestamp: float


class SourceLike(Protocol):
    """What the trainer needs of a source: :class:`wabbit.stream.Source`'s interface."""

    def poll(self, max_records: int = ..., timeout: float = ...) -> List[Any]: ...

    def positions(self) -> Dict[str, int]: ...

    def seek(self, positions: Dict[str, int]) -> None: ...

    def commit(self, positions: Dict[str, int]) -> None: ...

    def lag(self) -> Optional[int]: ...


OnCheck = Callable[["Trainer", Optional["GateDecision"], Optional[int]], Any]


def _learn(model: Model, item: Item) -> float:
    if isinstance(item, str):
        return float(model.learn(item))
    return float(model.learn(item[0], label=item[1]))


def _quantile(sorted_values: List[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    i = min(len(sorted_values) - 1, max(0, int(math.ceil(q * len(sorted_values))) - 1))
    return sorted_values[i]


class Trainer:
    """Learn ``source`` into ``model`` and publish validated versions to ``store``; see
    :mod:`wabbit.trainer`.

    ``labels``/``joiner``: late labels (``labels`` needs ``joiner``). ``gate`` or ``keeper``: the
    checks before publication (a keeper is made around a gate when not given); None: publish
    unconditionally. ``replay``: a :class:`ReplayBuffer` mixed into learning.
    ``publish_every``: new examples between checks (None: only ``publish_seconds``).
    ``publish_seconds``: also check when this many seconds (of ``clock``) passed since the last
    check. ``holdout_every``: hold back one new example in this many for the forgetting check
    (with a gate whose ``holdout`` is > 0; None or 0: none). ``batch``: the most records a poll
    returns; ``poll_timeout``: how long a poll waits. ``on_check(trainer, decision, version)`` is
    called after each check (``version`` None when nothing was published). ``resume``: continue
    from the store's current version (False: start from ``model`` and the sources as they are).
    """

    def __init__(
        self,
        model: Model,
        source: SourceLike,
        store: ModelStore,
        *,
        labels: Optional[SourceLike] = None,
        joiner: Optional[LabelJoiner] = None,
        gate: Optional["Gate"] = None,
        keeper: Optional["GateKeeper"] = None,
        replay: Optional[ReplayBuffer] = None,
        publish_every: Optional[int] = 10_000,
        publish_seconds: Optional[float] = None,
        holdout_every: Optional[int] = 100,
        holdout_seed: int = 0,
        batch: int = 1000,
        poll_timeout: float = 0.2,
        clock: Callable[[], float] = time.time,
        on_check: Optional[OnCheck] = None,
        resume: bool = True,
    ) -> None:
        if not isinstance(model, Model):
            raise TypeError(f"model must be a wabbit.Model, not {type(model).__name__}")
        if model.is_bandit:
            raise ValueError("the trainer learns plain (non-bandit) models; bandits learn through log_decision/reward")
        if labels is not None and joiner is None:
            raise ValueError("labels= needs joiner= (a LabelJoiner that joins them to the predictions)")
        for name, value in (("publish_every", publish_every), ("holdout_every", holdout_every)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if not publish_every and publish_seconds is None:
            raise ValueError("give publish_every, publish_seconds or both")
        if publish_seconds is not None and not float(publish_seconds) > 0:
            raise ValueError(f"publish_seconds must be a positive number of seconds, got {publish_seconds!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        if keeper is None and gate is not None:
            from wabbit.gates import GateKeeper

            keeper = GateKeeper(gate)
        self.model = model
        self.source = source
        self.labels = labels
        self.store = store
        self.joiner = joiner
        self.keeper = keeper
        self.gate = keeper.gate if keeper is not None else None
        self.replay = replay
        self.publish_every = publish_every or None
        self.publish_seconds = None if publish_seconds is None else float(publish_seconds)
        self.holdout_every = holdout_every or None
        self.batch = batch
        self.poll_timeout = float(poll_timeout)
        self.clock = clock
        self.on_check = on_check
        self.holdout: Optional[HoldoutSample] = None
        if self.gate is not None and self.gate.holdout > 0 and self.holdout_every:
            self.holdout = HoldoutSample(self.gate.holdout, holdout_seed)
        #: counters (restored from the checkpoint on resume): records consumed, examples learned...
        self.counts: Dict[str, int] = dict.fromkeys(
            (
                "events",
                "events_source",
                "events_labels",
                "examples",
                "replayed",
                "held_out",
                "defaulted",
                "bad_records",
                "commit_errors",
                "checks",
                "published",
            ),
            0,
        )
        self.paused = False
        self.published_version: Optional[int] = None
        #: the version the model learning continues from (None: from ``model`` as given)
        self.parent: Optional[int] = None
        self.last_decision: Optional["GateDecision"] = None
        self.last_published: Optional[float] = None  # clock() of the last publication
        self._champion: Optional[Model] = None
        self._baseline: Optional[Model] = None
        self._recent: Deque[Tuple[Item, float]] = deque(maxlen=self.gate.recent if self.gate is not None else 1)
        # held back since the last check: they join the holdout sample only when a version
        # passes (a poisoned stretch the gate refuses never becomes the reference of "older data");
        # at a refusal they become suspect: a re-based holdout (a concept change) takes them
        self._staged: Deque[Item] = deque(maxlen=10 * self.gate.holdout if self.gate is not None else 1)
        self._suspect: Deque[Item] = deque(maxlen=10 * self.gate.holdout if self.gate is not None else 1)
        self._new = 0  # new examples seen (learned or held back): picks the held-back ones
        self._since_check = 0
        self._since_publish = 0
        self._replayed_since = 0
        self._event_time = -math.inf
        self._last_check = clock()
        self._label_times: List[float] = []
        self._label_stride = 1
        self._label_skip = 0
        self._freshness: Deque[float] = deque(maxlen=_FRESHNESS_WINDOW)
        self._stop = threading.Event()
        self.lag: Dict[str, Optional[int]] = {}
        self._lag_at = -math.inf
        self.rate = 0.0  # new examples a second, over the last second or so
        self._rate_at = time.monotonic()
        self._rate_examples = 0
        if resume:
            self._resume()

    def __repr__(self) -> str:
        return (
            f"wabbit.Trainer(store={self.store.directory!r}, examples={self.counts['examples']}, "
            f"published_version={self.published_version}, paused={self.paused})"
        )

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        max_events: Optional[int] = None,
        until: Union[None, float, Callable[["Trainer"], bool]] = None,
        *,
        publish_on_exit: bool = True,
    ) -> str:
        """Step until :meth:`stop`, a pause, ``max_events`` records consumed (from all sources), or
        ``until`` (a ``clock()`` deadline, or a function of the trainer that says when). Then, with
        ``publish_on_exit``, check and publish what was learned since the last version. Returns why
        it stopped: ``"stopped"``, ``"paused"``, ``"max_events"`` or ``"until"``."""
        self._stop.clear()
        start = self.counts["events"]
        why = "stopped"
        while True:
            if self._stop.is_set():
                why = "stopped"
                break
            if self._halted():
                why = "paused"
                break
            done = self.counts["events"] - start
            if max_events is not None and done >= max_events:
                why = "max_events"
                break
            if until is not None and (until(self) if callable(until) else self.clock() >= until):
                why = "until"
                break
            self.step(None if max_events is None else max_events - done)
        if publish_on_exit and not self._halted() and self._since_publish > 0:
            self.publish()
        return why

    def _halted(self) -> bool:
        """Learning stopped: paused by a keeper without probation (``confirm=None``)."""
        return self.paused and not (self.keeper is not None and self.keeper.probation)

    def resume(self, *, new_holdout: bool = False) -> None:
        """Clear a pause (a person, having looked). ``new_holdout``: the stream changed for good
        (a genuine concept change, not poisoning): the examples held back since the last
        publication become the whole holdout sample, so that the forgetting check stops holding
        the candidate to the old concept. (With a keeper on probation, ``confirm``, the trainer
        does this by itself once the change has persisted: see :class:`wabbit.gates.GateKeeper`.)"""
        if self.keeper is not None:
            self.keeper.resume()
        self.paused = False
        if new_holdout:
            self._rebase_holdout(None)

    def _rebase_holdout(self, last: Optional[int]) -> None:
        """The holdout becomes the last ``last`` examples held back since the last publication
        (None: all of them), those of the new concept."""
        if self.holdout is None:
            return
        held = list(self._suspect) + list(self._staged)
        fresh = HoldoutSample(self.holdout.capacity, self.holdout.seed)
        for x in held[-last:] if last else held:
            fresh.add(x)
        self._suspect.clear()
        self._staged.clear()
        self.holdout = fresh

    def stop(self) -> None:
        """Make :meth:`run` return after the step under way (safe from a signal handler or another
        thread)."""
        self._stop.set()

    def step(self, max_events: Optional[int] = None) -> int:
        """One poll of each source (at most ``batch`` records, and ``max_events`` in all), their
        records learned, and a publication when one is due. Returns the records consumed (0 while
        paused without probation: such a trainer consumes nothing)."""
        if self._halted():
            return 0
        room = self.batch if max_events is None else min(self.batch, max_events)
        if self.joiner is None and self.publish_every:
            # a check falls exactly every publish_every examples (held-back ones aside)
            room = min(room, max(1, self.publish_every - self._since_check))
        n = 0
        # With a labels source, the labels waiting are read first, up to half the room, so that a
        # backlog of predictions cannot starve them (their predictions would expire meanwhile, the
        # event time having run ahead, and the labels count as late).
        label_room = room // 2 if self.labels is not None else 0
        if label_room > 0:
            n += self._poll_labels(label_room, 0.0)
        if room - n > 0:
            records = self.source.poll(room - n, self.poll_timeout if n == 0 else 0.0)
            self._on_records(records, False)
            self.counts["events_source"] += len(records)
            if not records and n == 0 and self.labels is not None and room > 0:
                n += self._poll_labels(room, self.poll_timeout)
            n += len(records)
        self.counts["events"] += n
        now = time.monotonic()
        if now - self._rate_at >= 1.0:
            self.rate = (self.counts["examples"] - self._rate_examples) / (now - self._rate_at)
            self._rate_at, self._rate_examples = now, self.counts["examples"]
        if now - self._lag_at >= _LAG_SECONDS:
            self._update_lag(now)
        if self._due():
            self.publish()
        return n

    def _poll_labels(self, room: int, timeout: float) -> int:
        assert self.labels is not None
        label_records = self.labels.poll(room, timeout)
        self._on_records(label_records, True)
        self.counts["events_labels"] += len(label_records)
        return len(label_records)

    def _due(self) -> bool:
        if self._since_check == 0:
            return False
        if self.publish_every and self._since_check >= self.publish_every:
            return True
        return self.publish_seconds is not None and self.clock() - self._last_check >= self.publish_seconds

    def _update_lag(self, now: float) -> None:
        self._lag_at = now
        self.lag = {"source": self.source.lag()}
        if self.labels is not None:
            self.lag["labels"] = self.labels.lag()

    # ------------------------------------------------------------------ records
    #: learn record by record (_on_record, _on_label, _example: the reference the batch path is
    #: tested against) instead of a poll's records at once
    _per_record = False

    def _on_records(self, records: List[Any], labels: bool) -> None:
        """A poll's records, in order: the same examples, learned in the same order, as
        :meth:`_on_record` / :meth:`_on_label` one by one would learn, with fewer Python calls
        (records decoded and joined in one loop, text examples learned by one call into the core)."""
        if not records:
            return
        if self._per_record:
            for r in records:
                self._on_label(r) if labels else self._on_record(r)
            return
        examples: List[Tuple[Item, float, Optional[_RecordLike]]] = []
        add = examples.append
        bad = self._bad
        if self.joiner is None:
            for record in records:
                try:
                    line = record.value.decode("utf-8")
                except UnicodeDecodeError:
                    bad(record, "not UTF-8")
                    continue
                if line.strip():
                    add((line, float(record.timestamp), record))
            self._examples(examples)
            return
        events: List[Tuple[bool, Any, Any, Optional[float], float, Any]] = []
        event = events.append
        for record in records:
            value = record.value
            try:
                if not labels and b'"features"' in value:
                    id, features, prediction, t = decode_prediction(value)
                    event((True, id, features, prediction, t, record))
                else:
                    id, label, t0 = decode_label(value)
                    event((False, id, label, None, float(record.timestamp) if t0 is None else t0, record))
            except (ValueError, TypeError) as e:
                bad(record, str(e))
        assert self.joiner is not None
        joined, self._event_time = self.joiner.feed(events, self._event_time)
        defaulted = 0
        for x, record in joined:
            add((x.as_item(), x.label_time, record))
            if record is None:
                defaulted += 1
        self.counts["defaulted"] += defaulted
        self._examples(examples)

    def _examples(self, examples: List[Tuple[Item, float, Optional[_RecordLike]]]) -> None:
        """:meth:`_example` for each, in order; text examples go to the core in blocks."""
        if self.replay is not None:
            # the replayed examples follow each new one (drawn only once it is learned): one by one
            for item, label_time, record in examples:
                self._example(item, label_time, record)
            return
        every = self.holdout_every if self.holdout is not None else None
        new = self._new
        learn: List[Tuple[Item, float, Optional[_RecordLike]]] = []
        for x in examples:
            new += 1
            if every and new % every == 0:
                self._hold_back(x[0], x[2])
            else:
                learn.append(x)
        self._new = new
        learned: List[Tuple[Item, float]] = []  # (item, progressive prediction)
        times: List[float] = []
        i, n = 0, len(learn)
        while i < n:
            item = learn[i][0]
            if not isinstance(item, str):  # a dict example: Model.learn, as _example does
                try:
                    learned.append((item, _learn(self.model, item)))
                    times.append(learn[i][1])
                except (ValueError, TypeError) as e:
                    self._bad(learn[i][2], str(e))
                i += 1
                continue
            j = i + 1
            while j < n and isinstance(learn[j][0], str):
                j += 1
            lines = [cast(str, x[0]) for x in learn[i:j]]
            start = 0
            while start < len(lines):
                predictions, stop, why = self.model.learn_lines(lines, start)
                for x, p in zip(learn[i + start : i + stop], predictions.tolist()):
                    learned.append((x[0], p))
                    times.append(x[1])
                if why is not None:
                    self._bad(learn[i + stop][2], why)
                    stop += 1
                start = stop
            i = j
        k = len(learned)
        if not k:
            return
        self.counts["examples"] += k
        self._since_check += k
        self._since_publish += k
        if self.keeper is not None:
            self._recent.extend(learned)
        if self._label_stride == 1 and len(self._label_times) + k < _PENDING_LABEL_TIMES:
            self._label_times.extend(times)
        else:
            for t in times:
                self._label_time(t)

    def _on_record(self, record: _RecordLike) -> None:
        if self.joiner is None:
            try:
                line = record.value.decode("utf-8")
            except UnicodeDecodeError:
                self._bad(record, "not UTF-8")
                return
            if line.strip():
                self._example(line, float(record.timestamp), record)
            return
        if b'"features"' in record.value:
            try:
                p = PredictionRecord.decode(record.value)
                joined = p.feed(self.joiner)
            except (ValueError, TypeError) as e:
                self._bad(record, str(e))
                return
            if joined is not None:
                self._example(joined.as_item(), joined.label_time, record)
            self._advance(p.time)
        else:
            self._on_label(record)

    def _on_label(self, record: _RecordLike) -> None:
        assert self.joiner is not None
        try:
            r = LabelRecord.decode(record.value)
            t = float(record.timestamp) if r.time is None else r.time
            joined = self.joiner.labelled(r.id, r.label, t)
        except (ValueError, TypeError) as e:
            self._bad(record, str(e))
            return
        if joined is not None:
            self._example(joined.as_item(), joined.label_time, record)
        self._advance(t)

    def _advance(self, t: float) -> None:
        """The event time moved to ``t``: expire what waited too long (defaults are learned now)."""
        if t <= self._event_time:
            return
        self._event_time = t
        assert self.joiner is not None
        for e in self.joiner.expire(t):
            self.counts["defaulted"] += 1
            self._example(e.as_item(), e.label_time, None)

    def _bad(self, record: Optional[_RecordLike], why: str) -> None:
        self.counts["bad_records"] += 1
        where = f"{record.partition}@{record.offset}" if record is not None else "a joined example"
        _log.warning("skipped a bad record at %s: %s", where, why)

    def _example(self, item: Item, label_time: float, record: Optional[_RecordLike]) -> None:
        """One new labelled example: held back, or learned (then its replays)."""
        self._new += 1
        if self.holdout is not None and self.holdout_every and self._new % self.holdout_every == 0:
            self._hold_back(item, record)
            return
        try:
            p = _learn(self.model, item)
        except (ValueError, TypeError) as e:
            self._bad(record, str(e))
            return
        if self.replay is not None:
            mixed = self.replay.mix(item, label_time)
            for r in mixed[1:]:
                self.replay.learn(self.model, r)
            self.counts["replayed"] += len(mixed) - 1
            self._replayed_since += len(mixed) - 1
        self.counts["examples"] += 1
        self._since_check += 1
        self._since_publish += 1
        if self.keeper is not None:
            self._recent.append((item, p))
        self._label_time(label_time)

    def _hold_back(self, item: Item, record: Optional[_RecordLike]) -> None:
        # a malformed example is skipped here as learning would skip it (in the holdout sample,
        # it would make every later forgetting check fail with its error)
        try:
            self.model.predict(item) if isinstance(item, str) else self.model.predict(item[0])
        except (ValueError, TypeError) as e:
            self._bad(record, str(e))
            return
        self._staged.append(item)  # joins the holdout when a version that never saw it is published
        self.counts["held_out"] += 1

    def _label_time(self, t: float) -> None:
        # every label time until the next publication (thinned to every 2^k-th when too many)
        self._label_skip += 1
        if self._label_skip < self._label_stride:
            return
        self._label_skip = 0
        self._label_times.append(t)
        if len(self._label_times) >= _PENDING_LABEL_TIMES:
            self._label_times = self._label_times[::2]
            self._label_stride *= 2

    # ------------------------------------------------------------------ publishing
    def champion(self) -> Model:
        """The model a candidate is judged against: the store's current version (reloaded when
        someone else changed it, e.g. a rollback), or a model with the same flags that learned
        nothing when the store is empty."""
        current = self.store.current
        if current is not None and (self._champion is None or current != self.published_version):
            self._champion = self.store.load(current)
            self.published_version = current
        if self._champion is not None:
            return self._champion
        if self._baseline is None:
            self._baseline = Model.from_options(self.model.options)
        return self._baseline

    def publish(self) -> Optional[int]:
        """Check the candidate now (the gate, when there is one) and publish it when it passes;
        returns the new version, or None (nothing new, failed, or paused)."""
        if self._halted() or self._since_publish == 0:
            return None
        examples = self._since_check
        self._since_check = 0
        self._last_check = self.clock()
        self.counts["checks"] += 1
        decision: Optional["GateDecision"] = None
        if self.keeper is not None:
            recent = list(self._recent)
            items, predicted = [x for x, _ in recent], [p for _, p in recent]
            decision = self.keeper.check(
                self.model,
                self.champion(),
                items,
                self.holdout.items if self.holdout is not None else [],
                examples=examples,
                candidate_predictions=predicted,
            )
            if not decision.passed and self.keeper.change_confirmed() and self.holdout is not None:
                # the change persisted: judge the candidate on a holdout of the new concept
                self._rebase_holdout(max(1, self.keeper.evidence // (self.holdout_every or 1)))
                again = self.keeper.gate.check(
                    self.model, self.champion(), items, self.holdout.items, candidate_predictions=predicted
                )
                decision = self.keeper.accept_change(again)
            self.last_decision = decision
            self.paused = self.keeper.paused
            if not decision.passed:
                _log.warning("not published: %s", decision.reason)
                self._suspect.extend(self._staged)
                self._staged.clear()
                if self.on_check is not None:
                    self.on_check(self, decision, None)
                return None
        version = self._save(decision)
        if self.on_check is not None:
            self.on_check(self, decision, version)
        return version

    def _save(self, decision: Optional["GateDecision"]) -> int:
        positions = {"source": self.source.positions()}
        if self.labels is not None:
            positions["labels"] = self.labels.positions()
        self.counts["published"] += 1  # counted in the state the version carries
        try:
            if self.holdout is not None:
                for x in self._staged:
                    self.holdout.add(x)
                self._staged.clear()
                self._suspect.clear()
            name, digest = write_state(self.store.directory, self._state())
            meta: Dict[str, Any] = {
                "format": FORMAT,
                "parent": self.parent,
                "positions": positions,
                "examples": self._since_publish,
                "replayed": self._replayed_since,
                "examples_total": self.counts["examples"],
                "replayed_total": self.counts["replayed"],
                "held_out_total": self.counts["held_out"],
                "events_total": self.counts["events"],
                "state": name,
                "sha256": digest,
            }
            if decision is not None:
                meta["gate"] = {k: v for k, v in decision.metrics.items() if math.isfinite(v)}
            version = self.store.save(self.model, note="trainer", trainer=meta)
        except BaseException:
            self.counts["published"] -= 1
            raise
        # the version is durable: only now may the sources record these positions
        self._commit(self.source, positions["source"], version)
        if self.labels is not None:
            self._commit(self.labels, positions["labels"], version)
        now = self.clock()
        self.last_published = now
        delays = [now - t for t in self._label_times]
        self._freshness.extend(delays)  # from a list: one step for a scrape in another thread
        self._label_times, self._label_stride, self._label_skip = [], 1, 0
        self.published_version = version
        self.parent = version
        self._champion = self.model.copy()
        self._recent.clear()
        self._since_publish = 0
        self._replayed_since = 0
        self._update_lag(time.monotonic())
        used = [v.metadata.get("trainer", {}).get("state", "") for v in self.store.list()]
        remove_unused(self.store.directory, [u for u in used if isinstance(u, str)])
        _log.info("published version %d: %d examples (%d in all)", version, meta["examples"], meta["examples_total"])
        return version

    def _commit(self, source: SourceLike, positions: Dict[str, int], version: int) -> None:
        # a hint to the outside world (a consumer group's offsets): the version's positions are
        # what a restart uses, so a refused commit (a rebalance under way) is logged, not fatal;
        # the next publication commits newer positions
        try:
            source.commit(positions)
        except Exception as e:  # noqa: BLE001 - any source's error
            self.counts["commit_errors"] += 1
            _log.warning("could not commit the positions of version %d: %s", version, e)

    def _state(self) -> Dict[str, Any]:
        return {
            "format": FORMAT,
            "counters": dict(self.counts),
            "new": self._new,
            "event_time": self._event_time if math.isfinite(self._event_time) else None,
            "joiner": self.joiner.state(packed=True) if self.joiner is not None else None,
            "replay": self.replay.state() if self.replay is not None else None,
            "holdout": self.holdout.state() if self.holdout is not None else None,
            "keeper": self.keeper.state() if self.keeper is not None else None,
        }

    def _resume(self) -> None:
        current = self.store.current
        if current is None:
            return
        record = next((v for v in self.store.list() if v.version == current), None)
        self.model = self.store.load(current)
        self._champion = self.model.copy()
        self.published_version = current
        self.parent = current
        meta = record.metadata.get("trainer") if record is not None else None
        if not isinstance(meta, Mapping):
            _log.info("version %d was not published by a trainer: learning on from it, sources as they are", current)
            return
        if meta.get("format") != FORMAT:
            raise ValueError(f"version {current}: trainer state format {meta.get('format')!r}, expected {FORMAT}")
        state = read_state(self.store.directory, str(meta["state"]), str(meta["sha256"]))
        for k, v in state["counters"].items():
            self.counts[k] = int(v)
        self._new = int(state["new"])
        self._event_time = -math.inf if state["event_time"] is None else float(state["event_time"])
        if state["joiner"] is not None:
            if self.joiner is None:
                raise ValueError(f"version {current} was trained with a label joiner: pass joiner=")
            self.joiner = LabelJoiner.restore(state["joiner"])
        if state["replay"] is not None and self.replay is not None:
            self.replay = ReplayBuffer.restore(state["replay"])
        if state["holdout"] is not None and self.holdout is not None:
            self.holdout = HoldoutSample.restore(state["holdout"])
        if state["keeper"] is not None and self.keeper is not None:
            self.keeper.restore(state["keeper"])
        positions = meta["positions"]
        self.source.seek(dict(positions["source"]))
        if self.labels is not None and "labels" in positions:
            self.labels.seek(dict(positions["labels"]))
        _log.info("resumed from version %d: %d examples learned", current, self.counts["examples"])

    # ------------------------------------------------------------------ what it did
    def metrics_registry(self) -> Any:
        """A new prometheus-client registry holding this trainer's metrics
        (:mod:`wabbit.trainer_metrics`; needs prometheus-client)."""
        from wabbit.trainer_metrics import registry

        return registry(self.stats)

    def serve_metrics(self, port: int = 0, addr: str = "127.0.0.1") -> Tuple[Any, Optional[Any], int]:
        """Expose the metrics at ``http://addr:port/metrics`` (a daemon thread); returns the HTTP
        server (``.shutdown()`` and ``.server_close()`` end it), its thread and the port."""
        from wabbit.trainer_metrics import serve_metrics

        return serve_metrics(self.stats, port, addr)

    def freshness(self) -> Tuple[float, float]:
        """The p50 and p99 of the seconds from a label's arrival (its event time) to the
        publication of the version that learned it, over the last 100,000 labels published (NaN
        before the first publication)."""
        values = sorted(self._freshness)
        return _quantile(values, 0.5), _quantile(values, 0.99)

    def stats(self) -> Dict[str, Any]:
        """Everything the metrics report, as one dict (see :mod:`wabbit.trainer_metrics`)."""
        p50, p99 = self.freshness()
        out: Dict[str, Any] = dict(self.counts)
        out.update(
            paused=self.paused,
            published_version=self.published_version,
            freshness_p50=p50,
            freshness_p99=p99,
            examples_per_second=self.rate,
            lag=dict(self.lag),
            replay_size=len(self.replay) if self.replay is not None else 0,
            holdout_size=len(self.holdout) if self.holdout is not None else 0,
            join=self.joiner.stats.as_dict() if self.joiner is not None else {},
            gate=dict(self.keeper.counts) if self.keeper is not None else {},
            change_evidence=self.keeper.evidence if self.keeper is not None else 0,
            unpublished_examples=self._since_publish,
        )
        return out

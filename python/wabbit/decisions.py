"""Delayed rewards: keep each decision until its outcome arrives, then learn from it.

A contextual-bandit service decides now (``model.sample(event)``) and learns the cost minutes or
hours later. :class:`DecisionLog` keeps what learning needs (the event, the action taken and its
probability) under the caller's id, and when :meth:`DecisionLog.reward` brings the cost it calls
``learn(event, label=(action, cost, probability))``, so rewards are learned in the order they
arrive. ``Model.log_decision`` and ``Model.reward`` are this with the model as learner; TTL and
capacity come from ``--reward_ttl`` and ``--max_pending`` (``Model(reward_ttl=600)``).

Rules (none of them raises; each is counted in :attr:`DecisionLog.stats`):

* a reward more than ``ttl`` seconds after its decision is **late**: counted, not learned;
* a second reward for an id already rewarded is a **duplicate**; a reward for an id never logged
  (or forgotten long ago) is **unknown**; a reward for a decision dropped by the cap is
  **dropped**;
* a second decision under an id that is still pending is a **duplicate decision** and ignored
  (the first one stands);
* at most ``max_pending`` decisions wait; one more evicts the oldest (**evicted**). Decisions
  past their TTL are forgotten as time goes on (**expired**), oldest first, in O(1) amortized per
  call: the table is ordered by logging time. Ids recently closed (rewarded, expired, evicted) are
  remembered for another ``ttl`` (at most ``max_pending`` of them) to tell duplicates and late
  rewards from unknown ids; memory is bounded by ``2 * max_pending`` entries. So a reward is
  surely reported late up to ``2 * ttl`` after its decision; later still, it may count as
  unknown.

Time is seconds from ``clock`` (default ``time.time``), or the ``timestamp=`` of each call (the
same clock: e.g. epoch seconds from your event system). A lock guards the table, so decisions and
rewards may come from several threads; learning happens under it too, one reward at a time.

>>> learned = []
>>> log = DecisionLog(lambda event, label: learned.append((event, label)), ttl=60)
>>> log.log_decision("a", "shared |u u1\\n|a x\\n|a y", action=1, probability=0.5, timestamp=0)
>>> log.log_decision("b", "shared |u u2\\n|a x\\n|a y", action=0, probability=0.8, timestamp=1)
>>> log.reward("b", 0.0, timestamp=30), log.reward("a", 1.0, timestamp=90)   # a: 90 s > ttl
(True, False)
>>> learned
[('shared |u u2\\n|a x\\n|a y', (0, 0.0, 0.8))]
>>> log.reward("b", 0.0, timestamp=31), log.reward("zzz", 1.0, timestamp=31)
(False, False)
>>> log.stats
DecisionStats(logged=2, learned=1, pending=0, late=1, duplicate=1, unknown=1, dropped=0, duplicate_decisions=0, expired=1, evicted=0)
"""

from __future__ import annotations

import math
import operator
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, Hashable, NamedTuple, Optional, Tuple

__all__ = ["DecisionLog", "DecisionStats"]

#: How learning is called: learn(event, label=(action, cost, probability)).
Learn = Callable[..., Any]

_REWARDED, _EXPIRED, _EVICTED = 0, 1, 2


class _Pending(NamedTuple):
    time: float
    event: Any
    action: int
    probability: float


@dataclass(frozen=True)
class DecisionStats:
    """Counts since the log was made (``pending`` is the number waiting now)."""

    logged: int = 0  # decisions accepted
    learned: int = 0  # rewards learned
    pending: int = 0  # decisions waiting for their reward
    late: int = 0  # rewards after the TTL (not learned)
    duplicate: int = 0  # second rewards for one decision (not learned)
    unknown: int = 0  # rewards for ids never logged or long forgotten (not learned)
    dropped: int = 0  # rewards for decisions evicted by the max_pending cap (not learned)
    duplicate_decisions: int = 0  # decisions under an id still pending (ignored)
    expired: int = 0  # decisions whose TTL passed without a reward
    evicted: int = 0  # decisions pushed out by the max_pending cap

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class DecisionLog:
    """Pending decisions keyed by id; learns each when its reward arrives within ``ttl`` seconds.

    ``learner``: an object with ``learn(event, label=(action, cost, probability))`` (a
    contextual-bandit :class:`wabbit.Model`), or such a function ``learn(event, label)``.
    ``ttl``: seconds a decision waits for its reward (default one hour; ``math.inf``: forever,
    then only the cap bounds memory). ``max_pending``: the most decisions kept waiting (default
    one million). ``clock``: a function returning seconds (default ``time.time``); tests inject
    their own.
    """

    def __init__(
        self,
        learner: Any,
        *,
        ttl: float = 3600.0,
        max_pending: int = 1_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if hasattr(learner, "learn"):
            learn = learner.learn
        elif callable(learner):
            learn = learner
        else:
            raise TypeError(
                f"DecisionLog needs a learner with learn(event, label=...) or a function, got {type(learner).__name__}"
            )
        ttl = float(ttl)
        if not ttl > 0:  # also refuses NaN
            raise ValueError(f"ttl must be a positive number of seconds (math.inf: no limit), got {ttl!r}")
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError(f"max_pending must be a positive integer, got {max_pending!r}")
        self._learn: Learn = learn
        self.ttl = ttl
        self.max_pending = max_pending
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: "OrderedDict[Hashable, _Pending]" = OrderedDict()
        # recently closed ids -> (time closed, how): tells a duplicate or late reward from an unknown id
        self._closed: "OrderedDict[Hashable, Tuple[float, int]]" = OrderedDict()
        self._counts = dict.fromkeys(
            (
                "logged",
                "learned",
                "late",
                "duplicate",
                "unknown",
                "dropped",
                "duplicate_decisions",
                "expired",
                "evicted",
            ),
            0,
        )

    # ---------------------------------------------------------------------------------------
    def log_decision(
        self, event_id: Hashable, event: Any, action: int, probability: float, *, timestamp: Optional[float] = None
    ) -> None:
        """Keep a decision until its reward: the ``event`` as it will be learned, the ``action``
        taken (0-based, in the event's action order) and the ``probability`` it had.

        The event is kept as it is (not copied): do not change it before its reward. Raises
        ValueError for an action or probability that could never be learned; an id still pending
        is counted as a duplicate decision and ignored.
        """
        try:
            index = operator.index(action)  # int or numpy integer, not 1.5 or "1"
        except TypeError:
            index = -1
        if isinstance(action, bool) or index < 0:
            raise ValueError(f"action must be a 0-based action index, got {action!r}")
        action = index
        probability = float(probability)
        if not 0 < probability <= 1:
            raise ValueError(f"probability must be in (0, 1] (the chance the action had), got {probability!r}")
        with self._lock:
            now = self._now(timestamp)
            self._expire(now)
            if event_id in self._pending:
                self._counts["duplicate_decisions"] += 1
                return
            self._closed.pop(event_id, None)  # an id may be reused once its decision is closed
            while len(self._pending) >= self.max_pending:
                old_id, _ = self._pending.popitem(last=False)
                self._counts["evicted"] += 1
                self._close(old_id, now, _EVICTED)
            self._pending[event_id] = _Pending(now, event, action, probability)
            self._counts["logged"] += 1

    def reward(self, event_id: Hashable, cost: float, *, timestamp: Optional[float] = None) -> bool:
        """The outcome of decision ``event_id`` (a cost: lower is better; a reward r is cost -r).

        Learns ``learn(event, label=(action, cost, probability))`` and returns True when the
        decision is pending and within its TTL; otherwise counts the reward as late, duplicate,
        dropped or unknown and returns False. Never raises for those (a cost that is not a finite
        number raises ValueError; an error from the learner propagates, and the decision is gone).
        """
        cost = float(cost)
        if not math.isfinite(cost):
            raise ValueError(f"cost must be a finite number, got {cost!r}")
        with self._lock:
            now = self._now(timestamp)
            self._expire(now)
            entry = self._pending.pop(event_id, None)
            if entry is None:
                closed = self._closed.get(event_id)
                kind = "unknown" if closed is None else ("duplicate", "late", "dropped")[closed[1]]
                self._counts[kind] += 1
                return False
            if now - entry.time > self.ttl:  # stamped out of order, so not expired in turn yet
                self._counts["late"] += 1
                self._counts["expired"] += 1
                self._close(event_id, now, _EXPIRED)
                return False
            self._close(event_id, now, _REWARDED)
            self._learn(entry.event, label=(entry.action, cost, entry.probability))
            self._counts["learned"] += 1
            return True

    def expire(self, timestamp: Optional[float] = None) -> int:
        """Forget decisions past their TTL now (calls do this as they go); returns how many."""
        with self._lock:
            before = self._counts["expired"]
            self._expire(self._now(timestamp))
            return self._counts["expired"] - before

    # ---------------------------------------------------------------------------------------
    @property
    def stats(self) -> DecisionStats:
        """What happened so far: see :class:`DecisionStats`."""
        with self._lock:
            return DecisionStats(pending=len(self._pending), **self._counts)

    @property
    def pending(self) -> int:
        """Decisions waiting for their reward."""
        return len(self._pending)

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, event_id: Hashable) -> bool:
        return event_id in self._pending

    def __repr__(self) -> str:
        return f"DecisionLog(ttl={self.ttl:g}, max_pending={self.max_pending}, pending={len(self._pending)})"

    # ---------------------------------------------------------------------------------------
    def state(self) -> Dict[str, Any]:
        """Everything but the learner and the lock: what a copy or a pickle of the model keeps."""
        with self._lock:
            return {
                "ttl": self.ttl,
                "max_pending": self.max_pending,
                "clock": self._clock,
                "pending": [(k, tuple(v)) for k, v in self._pending.items()],
                "closed": list(self._closed.items()),
                "counts": dict(self._counts),
            }

    @classmethod
    def restore(cls, learner: Any, state: Dict[str, Any]) -> "DecisionLog":
        """A log for ``learner`` holding ``state`` (from :meth:`state`)."""
        log = cls(learner, ttl=state["ttl"], max_pending=state["max_pending"], clock=state["clock"])
        log._pending = OrderedDict((k, _Pending(*v)) for k, v in state["pending"])
        log._closed = OrderedDict((k, tuple(v)) for k, v in state["closed"])
        log._counts.update(state["counts"])
        return log

    def __getstate__(self) -> Dict[str, Any]:
        raise TypeError(
            "a DecisionLog is copied or pickled with its model (copy.deepcopy(model), "
            "pickle.dumps(model)), not on its own: its learner is the model"
        )

    # ---------------------------------------------------------------------------------------
    def _now(self, timestamp: Optional[float]) -> float:
        now = float(self._clock() if timestamp is None else timestamp)
        if math.isnan(now):
            raise ValueError("timestamp must be a number of seconds, got NaN")
        return now

    def _close(self, event_id: Hashable, now: float, how: int) -> None:
        self._closed[event_id] = (now, how)
        self._closed.move_to_end(event_id)
        if len(self._closed) > self.max_pending:
            self._closed.popitem(last=False)

    def _expire(self, now: float) -> None:
        """Drop pending decisions older than the TTL, and closed ids older than another TTL.
        Both tables are in time order as far as the clock is monotonic; a decision stamped out of
        order waits behind its elders (the cap still bounds it), and reward() checks its own age."""
        ttl = self.ttl
        pending = self._pending
        while pending:
            event_id, entry = next(iter(pending.items()))
            if now - entry.time <= ttl:
                break
            pending.popitem(last=False)
            self._counts["expired"] += 1
            self._close(event_id, now, _EXPIRED)
        closed = self._closed
        while closed:
            event_id, (when, _) = next(iter(closed.items()))
            if now - when <= ttl:
                break
            closed.popitem(last=False)

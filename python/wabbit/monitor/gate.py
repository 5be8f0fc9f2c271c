"""The switch gate: whether the rise a detector saw persisted, judged on the champion's signal
before the change against its signal since a challenger started (see :mod:`wabbit.monitor`)."""

from __future__ import annotations

import math
from typing import List, NamedTuple, Optional, Tuple

import numpy as np

__all__ = ["GATE_PATIENCE", "GATE_SIGMAS", "HISTORY_GATES", "Challenger", "SignalHistory", "verdict"]

#: How many standard errors the champion's signal must rise for the switch gate to pass.
GATE_SIGMAS = 3.0
#: How long the gate watches, in multiples of ``gate``, before it gives a challenger up.
GATE_PATIENCE = 5
#: The signal kept for the gate's reference, in multiples of ``gate`` (a change that began before the
#: kept history is judged against the oldest values kept: see :meth:`SignalHistory.reference`).
HISTORY_GATES = 20


class Challenger(NamedTuple):
    """A challenger on trial: when it started, the alarm it answers, the reference it is judged by."""

    started: int  # monitored count when it started learning (a batch boundary)
    alarm: Optional[int]  # the alarm it answers (None: started at a warning)
    before: Optional[Tuple[int, float, float]]  # the champion's signal before the alarm: count, mean, variance


class SignalHistory:
    """The champion's recent signal: at least ``HISTORY_GATES * gate`` values, the newest last.

    >>> h = SignalHistory()
    >>> h.append(np.array([1.0, 1.0, 3.0, 3.0]), gate=1)
    >>> h.length
    4
    """

    def __init__(self) -> None:
        self.parts: List[np.ndarray] = []
        self.length = 0

    def append(self, values: np.ndarray, gate: int) -> None:
        self.parts.append(values)
        self.length += len(values)
        keep = HISTORY_GATES * gate + len(values)
        while self.length - len(self.parts[0]) >= keep:
            self.length -= len(self.parts.pop(0))

    def reference(
        self, cut: int, end: int, since: int, gate: int, upto: Optional[int] = None
    ) -> Tuple[int, float, float]:
        """Count, mean and variance of the signal over the ``GATE_PATIENCE * gate`` values before
        index ``cut``, where the change began (within the history, which ends at index ``end``, and
        from index ``since``, where the model last changed).

        When fewer than ``gate`` of those are kept (the change began before the oldest value kept,
        or just after the model last changed), the reference is the oldest ``GATE_PATIENCE * gate``
        values kept of the current model, before index ``upto`` (the alarm; default ``end``): still
        a sample of the champion's own past signal, so the gate always tests. It may hold some of
        the changed signal, which makes the gate harder to pass, never easier.

        >>> h = SignalHistory()
        >>> h.append(np.array([1.0, 1.0, 3.0, 3.0]), gate=1)
        >>> h.reference(cut=2, end=4, since=0, gate=1)     # the values before index 2: 1, 1
        (2, 1.0, 0.0)
        >>> h.parts = [np.array([2.0, 3.0, 9.0])]; h.length = 3   # as if index 0 had been dropped
        >>> h.reference(cut=0, end=4, since=0, gate=1, upto=3)   # the oldest kept before the alarm
        (2, 2.5, 0.5)
        """
        values = np.concatenate(self.parts)
        first = end - len(values)
        span = GATE_PATIENCE * gate
        lo = max(cut - span, first, since)
        hi = cut if cut - lo >= gate else max(cut, min(lo + span, end if upto is None else upto))
        ref = values[lo - first : hi - first]
        if len(ref) < 2:
            return (len(ref), float(ref.mean()) if len(ref) else 0.0, 0.0)
        return (len(ref), float(ref.mean()), float(np.var(ref, ddof=1)))


def verdict(before: Tuple[int, float, float], after: np.ndarray, gate: int, signal: str) -> Optional[Tuple[bool, str]]:
    """The gate on the champion's signal since the challenger started (``after``) against
    ``before`` (count, mean, variance): (promote?, the means compared), or None to look again at
    the next boundary (fewer than ``gate`` values, or no pass yet within ``GATE_PATIENCE * gate``).

    >>> verdict((100, 0.2, 0.01), np.full(10, 0.5), 10, "loss")
    (True, 'mean loss 0.2000 before the alarm, 0.5000 since (+30.0 standard errors)')
    >>> verdict((100, 0.2, 0.01), np.full(10, 0.2), 10, "loss") is None   # watch longer
    True
    """
    if len(after) < gate:
        return None
    after = after[: GATE_PATIENCE * gate]
    count, mean, var = before
    if count >= 2:
        se = math.sqrt(var / count + float(np.var(after, ddof=1)) / len(after))
        rise = float(after.mean()) - mean
        passed = rise > GATE_SIGMAS * se
        sigmas = rise / se if se > 0 else (math.inf if rise > 0 else 0.0)
        means = f"mean {signal} {mean:.4f} before the alarm, {after.mean():.4f} since ({sigmas:+.1f} standard errors)"
    else:  # nothing to compare with: the champion had barely started
        passed, means = True, "no signal before the alarm to compare with"
    if not passed and len(after) < GATE_PATIENCE * gate:
        return None
    return passed, means

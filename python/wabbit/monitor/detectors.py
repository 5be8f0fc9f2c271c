"""How a monitor reads a drift detector: a batch of signal values in, the alarms, the warnings,
each alarm's direction (did the signal rise?) and where the change began."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from wabbit.drift import ADWIN, DDM, EDDM, HDDMA, HDDMW, KSWIN, PageHinkley

__all__ = ["direction", "feed"]


def feed(
    det: Any, values: np.ndarray, start: int, warnings: bool
) -> Tuple[List[int], Any, List[Optional[bool]], Dict[int, int]]:
    """Feed ``det`` one batch (its first value the monitored example ``start``), asking for the
    warnings when ``warnings``. Returns the alarms' indices in the batch, the warnings' (or []),
    each alarm's direction, and where each alarm's change began (by monitored index; ADWIN: where
    it cut its window, KSWIN: its newest sample; other detectors: none).

    >>> from wabbit.drift import PageHinkley
    >>> drifts, _, rising, cuts = feed(PageHinkley(mode="up"), np.r_[np.zeros(100), np.ones(100)], 0, False)
    >>> len(drifts) > 0 and all(rising), cuts
    (True, {})
    """
    cuts: Dict[int, int] = {}
    if isinstance(det, ADWIN):
        state = det.state()
        drifts = det.update_many(values)
        if len(drifts) == 0:
            return [], [], [], cuts
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
            rising.append(bool(kept_mean > (total + float(values[i]) - det.total) / dropped) if dropped > 0 else None)
            cuts[start + int(i)] = start + int(i) + 1 - int(det.width)
            at = int(i) + 1
        det.update_many(values[at:])
        return [int(i) for i in drifts], [], rising, cuts
    if warnings:
        drifts, found = det.update_many(values, return_warnings=True)
    else:
        drifts, found = det.update_many(values), []
    if isinstance(det, KSWIN):
        cuts = {start + int(i): start + int(i) + 1 - int(det.params["stat_size"]) for i in drifts}
    return [int(i) for i in drifts], found, [direction(det)] * len(drifts), cuts


def direction(det: Any) -> Optional[bool]:
    """Whether an alarm of this detector means the signal rose (None: cannot tell).

    >>> from wabbit.drift import DDM, PageHinkley
    >>> direction(DDM()), direction(PageHinkley(mode="down")), direction(PageHinkley(mode="both"))
    (True, False, None)
    """
    if isinstance(det, (DDM, EDDM)):
        return True
    if isinstance(det, (HDDMA, HDDMW)):
        return None if det.two_sided_test else True
    if isinstance(det, PageHinkley):
        return {"up": True, "down": False}.get(det.mode)
    return None

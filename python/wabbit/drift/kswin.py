"""KSWIN: Kolmogorov-Smirnov windowing.

KSWIN keeps the last ``window_size`` values. Once the window is full, each new value triggers a
two-sample Kolmogorov-Smirnov test between the newest ``stat_size`` values and ``stat_size``
values drawn at random (without replacement) from the older part of the window; drift is
reported when the p-value is at most ``alpha`` and the statistic exceeds 0.1, and the window then
keeps only the newest ``stat_size`` values. Unlike the other detectors, KSWIN makes no
assumption about the distribution or the kind of change (mean, spread, shape).

Parameters
----------
alpha
    Significance level of the test (keep it small, below 0.01: there is a test per value).
window_size
    Length of the sliding window.
stat_size
    Size of each of the two samples compared (at most half the window).
seed
    Seed of the detector's random generator (numpy's PCG64), for reproducible alarms.
window
    Values to start the window with (avoids a cold start).

KSWIN follows river 0.26.1's ``drift.KSWIN`` except for the random generator (river draws with
Python's ``random``, so the alarms are the same in distribution, not value for value; the tests
compare detection delays and false alarm rates over many seeds). The p-value is exact
(:func:`wabbit.drift.ks_statistic`), as scipy's is at these sizes.

>>> import random
>>> from wabbit.drift import KSWIN
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> kswin = KSWIN(alpha=0.0001, seed=42)
>>> for i, x in enumerate(stream):
...     if kswin.update(x):
...         print(f"drift at index {i}, value {x}")
drift at index 1016, value 6

Reference: Christoph Raab, Moritz Heusinger and Frank-Michael Schleif, "Reactive soft prototype
computing for concept drift streams", Neurocomputing 416 (2020), 340-351.
"""

from __future__ import annotations

import collections
from typing import Any, Dict, Iterable, Optional

import numpy as np

from wabbit.drift.base import DriftDetector
from wabbit.drift.data import ks_gap, ks_pvalue

__all__ = ["KSWIN"]


class KSWIN(DriftDetector):
    """Kolmogorov-Smirnov windowing (see the module's documentation)."""

    def __init__(
        self,
        alpha: float = 0.005,
        window_size: int = 100,
        stat_size: int = 30,
        seed: Optional[int] = None,
        window: Optional[Iterable[float]] = None,
    ) -> None:
        if not 0 <= alpha <= 1:
            raise ValueError("alpha must be between 0 and 1")
        if stat_size < 1:
            raise ValueError("stat_size must be >= 1")
        if window_size < 2 * stat_size:
            raise ValueError(
                "window_size must be at least twice stat_size (the older part is sampled without replacement)"
            )
        initial = None if window is None else [float(x) for x in window]
        self._params["window"] = initial  # as a list: an iterator is read once
        self.reset()
        if initial:
            self._window.extend(initial)

    #: The p-value of the last test (0 before the first).
    p_value: float
    #: Values seen since the detector (re)started.
    n: int

    @property
    def drift_detected(self) -> bool:
        return self._drift

    @property
    def window(self) -> tuple:
        """The values in the window, oldest first."""
        return tuple(self._window)

    def reset(self) -> None:
        """Forget the stream (and the initial ``window``); keep the parameters and the seed."""
        self.p_value = 0.0
        self.n = 0
        self._window: collections.deque = collections.deque(maxlen=self._params["window_size"])
        self._rng = self._make_rng()
        self._drift = False

    def _make_rng(self) -> Any:
        """The generator that draws the older sample (``choice(n, k, replace=False)``)."""
        return np.random.Generator(np.random.PCG64(self._params["seed"]))

    def update(self, x: float) -> bool:
        """Update with one value; True when drift is detected at it."""
        x = float(x)
        if not np.isfinite(x):
            raise ValueError(f"drift detectors take finite numbers, got {x}")
        if self._drift:
            self.reset()
        self.n += 1
        w = self._window
        w.append(x)
        size = self._params["window_size"]
        if len(w) < size:
            return False
        stat_size = self._params["stat_size"]
        older = size - stat_size
        values = np.fromiter(w, dtype=np.float64, count=size)
        drawn = np.sort(values[self._rng.choice(older, stat_size, replace=False)])
        recent = np.sort(values[older:])
        gap = ks_gap(drawn, recent)
        self.p_value = ks_pvalue(stat_size, stat_size, gap)
        self._drift = self.p_value <= self._params["alpha"] and gap / (stat_size * stat_size) > 0.1
        if self._drift:
            self._window = collections.deque(values[older:].tolist(), maxlen=size)
        return self._drift

    def _state(self) -> Dict[str, Any]:
        return {
            "p_value": self.p_value,
            "n": self.n,
            "window": list(self._window),
            "rng": self._rng.bit_generator.state,
            "drift": self._drift,
        }

    def _set_state(self, state: Dict[str, Any]) -> None:
        self.p_value = float(state["p_value"])
        self.n = int(state["n"])
        self._window = collections.deque(state["window"], maxlen=self._params["window_size"])
        self._rng.bit_generator.state = state["rng"]
        self._drift = bool(state["drift"])

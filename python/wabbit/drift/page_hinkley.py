"""Page-Hinkley: a cumulative sum test for a change in the mean.

Page-Hinkley accumulates each value's deviation from the running mean (less a tolerance
``delta``, and fading the sum by ``alpha`` per value) and reports drift when the sum has risen
(or fallen) more than ``threshold`` above (below) its extreme so far.

Parameters
----------
min_instances
    No alarm before this many values.
delta
    Deviations smaller than this are tolerated.
threshold
    How far the cumulative sum must move from its extreme to raise an alarm (lambda).
alpha
    Forgetting factor of the cumulative sums.
mode
    ``"up"`` detects increases of the mean, ``"down"`` decreases, ``"both"`` either.

The alarms are river 0.26.1's ``drift.PageHinkley``'s, value for value; as there, the detector
starts afresh after an alarm. The loop runs in C++ (``cpp/drift.h``).

>>> import random
>>> from wabbit.drift import PageHinkley
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> ph = PageHinkley()
>>> for i, x in enumerate(stream):
...     if ph.update(x):
...         print(f"drift at index {i}, value {x}")
drift at index 1006, value 5
>>> PageHinkley(mode="down").update_many(stream)
array([], dtype=int64)

References: E. S. Page, "Continuous inspection schemes", Biometrika 41 (1954), 100-115;
R. Sebastião and J. M. Fernandes, "Supporting the Page-Hinkley test with empirical mode
decomposition for change detection", ISMIS 2017, 492-498.
"""

from __future__ import annotations

from wabbit import _core
from wabbit.drift.base import DriftDetector

__all__ = ["PageHinkley"]


class PageHinkley(_core.drift.PageHinkley, DriftDetector):
    """The Page-Hinkley test (see the module's documentation)."""

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        super().__init__(min_instances, delta, threshold, alpha, mode)

"""ADWIN: adaptive windowing.

ADWIN keeps a window of recent values whose length adapts to the stream: the window is split at
every possible cut into an older and a newer part, and when the two parts' means differ by more
than a bound that depends on ``delta``, the older values are dropped and drift is reported. The
window is stored compressed (ADWIN2's exponential histogram: at most ``max_buckets`` + 1
summaries of each size 1, 2, 4, ...), so memory and time per value are logarithmic in its length.

Parameters
----------
delta
    Significance of the test between the two parts of the window (smaller: fewer, later alarms).
clock
    Test for a change every ``clock`` values (1: after every value).
max_buckets
    Summaries of each size kept before the two oldest are merged into one of twice the size.
min_window_length
    Neither part of a cut may hold fewer values than this.
grace_period
    No test until the window holds more than this many values.

The alarms are river 0.26.1's ``drift.ADWIN``'s, value for value; as there, the detector starts a
new window after an alarm. The loop runs in C++ (``cpp/drift.h``).

>>> import random
>>> from wabbit.drift import ADWIN
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> adwin = ADWIN()
>>> for i, x in enumerate(stream):
...     if adwin.update(x):
...         print(f"drift at index {i}, value {x}, window of {adwin.width:.0f}")
drift at index 1023, value 4, window of 32
>>> ADWIN().update_many(stream)
array([1023])

Reference: Albert Bifet and Ricard Gavaldà, "Learning from time-changing data with adaptive
windowing", Proceedings of the 2007 SIAM International Conference on Data Mining, 443-448.
"""

from __future__ import annotations

from wabbit import _core
from wabbit.drift.base import DriftDetector

__all__ = ["ADWIN"]


class ADWIN(_core.drift.ADWIN, DriftDetector):
    """Adaptive windowing (see the module's documentation)."""

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        super().__init__(delta, clock, max_buckets, min_window_length, grace_period)

    @property
    def estimation(self) -> float:
        """The mean of the values in the window (0 when it is empty)."""
        return self.total / self.width if self.width else 0.0

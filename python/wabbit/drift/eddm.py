"""EDDM: the early drift detection method.

For a stream of errors (1: the model was wrong, 0: right) EDDM follows the distance between two
consecutive errors: its mean ``p'`` and standard deviation ``s'``. While the model improves the
distances grow; when ``p' + 2 s'`` falls below ``alpha`` times its maximum the detector warns,
below ``beta`` times it reports drift. Slowly rising error rates show in the distances earlier
than in the rate itself, which is what EDDM was designed for.

Parameters
----------
warm_start
    No warning or alarm before this many values and this many errors.
alpha
    Warning when ``p' + 2 s'`` falls below this fraction of its maximum.
beta
    Drift when it falls below this fraction (``beta <= alpha``).

The warnings and alarms are river 0.26.1's ``drift.binary.EDDM``'s, value for value; as there,
the detector starts afresh after an alarm. The loop runs in C++ (``cpp/drift.h``).

>>> import random
>>> from wabbit.drift import EDDM
>>> rng = random.Random(42)
>>> errors = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> eddm = EDDM(alpha=0.8, beta=0.75)
>>> for i, x in enumerate(errors):
...     if eddm.update(x):
...         print(f"drift at index {i}")
drift at index 1278

Reference: Manuel Baena-García, José del Campo-Ávila, Raúl Fidalgo, Albert Bifet, Ricard Gavaldà
and Rafael Morales-Bueno, "Early drift detection method", Fourth International Workshop on
Knowledge Discovery from Data Streams, 2006.
"""

from __future__ import annotations

from wabbit import _core
from wabbit.drift.base import DriftAndWarningDetector

__all__ = ["EDDM"]


class EDDM(_core.drift.EDDM, DriftAndWarningDetector):
    """The early drift detection method (see the module's documentation)."""

    def __init__(self, warm_start: int = 30, alpha: float = 0.95, beta: float = 0.9) -> None:
        super().__init__(warm_start, alpha, beta)

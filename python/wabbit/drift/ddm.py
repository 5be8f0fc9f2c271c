"""DDM: the drift detection method.

For a stream of errors (1: the model was wrong, 0: right) DDM follows the error rate ``p`` and its
binomial standard deviation ``s = sqrt(p (1 - p) / n)``, remembers the values where ``p + s`` was
lowest (``p_min``, ``s_min``), and reports a warning when ``p + s > p_min + warning_threshold *
s_min`` and drift when ``p + s > p_min + drift_threshold * s_min``.

Parameters
----------
warm_start
    No warning or alarm before this many values.
warning_threshold
    Standard deviations above the best for the warning zone (2: about 95% confidence).
drift_threshold
    Standard deviations above the best for an alarm (3: about 99% confidence).

The warnings and alarms are river 0.26.1's ``drift.binary.DDM``'s, value for value; as there,
the detector starts afresh after an alarm. The loop runs in C++ (``cpp/drift.h``).

>>> import random
>>> from wabbit.drift import DDM
>>> rng = random.Random(42)
>>> errors = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> ddm = DDM()
>>> drifts, warnings = ddm.update_many(errors, return_warnings=True)
>>> drifts, warnings[:3]
(array([1334]), array([1084, 1086, 1087]))

Reference: João Gama, Pedro Medas, Gladys Castillo and Pedro Rodrigues, "Learning with drift
detection", SBIA 2004, LNCS 3171, 286-295.
"""

from __future__ import annotations

from wabbit import _core
from wabbit.drift.base import DriftAndWarningDetector

__all__ = ["DDM"]


class DDM(_core.drift.DDM, DriftAndWarningDetector):
    """The drift detection method (see the module's documentation)."""

    def __init__(self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0) -> None:
        super().__init__(warm_start, warning_threshold, drift_threshold)

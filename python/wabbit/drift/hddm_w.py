"""HDDM_W: drift detection with McDiarmid's bound on exponentially weighted averages.

Like HDDM_A, but each side of the cut point is summarised by an exponentially weighted moving
average (weight ``lambda_val`` on the newest value), compared with McDiarmid's bound; recent
values count more, so gradual changes show sooner.

Parameters
----------
drift_confidence
    Confidence level of the bound for an alarm.
warning_confidence
    Confidence level of the bound for a warning.
lambda_val
    The weight of the newest value in the moving averages (in [0, 1]).
two_sided_test
    Also detect decreases of the mean (by default only increases).

The warnings and alarms are river 0.26.1's ``drift.binary.HDDMW``'s, value for value (river's
implementation follows MOA's); as there, the detector starts afresh after an alarm. The loop runs
in C++ (``cpp/drift.h``).

>>> import random
>>> from wabbit.drift import HDDMW
>>> rng = random.Random(42)
>>> errors = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> hddm = HDDMW()
>>> for i, x in enumerate(errors):
...     if hddm.update(x):
...         print(f"drift at index {i}")
drift at index 1077

References: Isvani Frías-Blanco, José del Campo-Ávila, Gonzalo Ramos-Jiménez, Rafael
Morales-Bueno, Agustín Ortiz-Díaz and Yailé Caballero-Mota, "Online and non-parametric drift
detection methods based on Hoeffding's bounds", IEEE Transactions on Knowledge and Data
Engineering 27(3) (2015), 810-823; Albert Bifet, Geoff Holmes, Richard Kirkby and Bernhard
Pfahringer, "MOA: Massive Online Analysis", JMLR 11 (2010), 1601-1604.
"""

from __future__ import annotations

from wabbit import _core
from wabbit.drift.base import DriftAndWarningDetector

__all__ = ["HDDMW"]


class HDDMW(_core.drift.HDDMW, DriftAndWarningDetector):
    """Hoeffding drift detection on weighted averages (see the module's documentation)."""

    def __init__(
        self,
        drift_confidence: float = 0.001,
        warning_confidence: float = 0.005,
        lambda_val: float = 0.05,
        two_sided_test: bool = False,
    ) -> None:
        super().__init__(drift_confidence, warning_confidence, lambda_val, two_sided_test)

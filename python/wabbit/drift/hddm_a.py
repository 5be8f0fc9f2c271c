"""HDDM_A: drift detection with Hoeffding's bound on moving averages.

For a stream of values in [0, 1] (typically errors: 1 wrong, 0 right) HDDM_A keeps the mean of
all values and the mean up to the cut point where that mean was lowest; when the overall mean
exceeds the cut point's by more than Hoeffding's bound at ``warning_confidence`` it warns, at
``drift_confidence`` it reports drift. With ``two_sided_test`` it also watches for decreases.

Parameters
----------
drift_confidence
    Confidence level of the bound for an alarm.
warning_confidence
    Confidence level of the bound for a warning.
two_sided_test
    Also detect decreases of the mean (by default only increases: a model getting worse).

The warnings and alarms are river 0.26.1's ``drift.binary.HDDMA``'s, value for value (river's
implementation follows MOA's); as there, the detector starts afresh after an alarm. The loop runs
in C++ (``cpp/drift.h``).

>>> import random
>>> from wabbit.drift import HDDMA
>>> rng = random.Random(42)
>>> errors = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> hddm = HDDMA()
>>> drifts, warnings = hddm.update_many(errors, return_warnings=True)
>>> drifts, warnings[:3]
(array([1206]), array([ 451, 1127, 1132]))

References: Isvani Frías-Blanco, José del Campo-Ávila, Gonzalo Ramos-Jiménez, Rafael
Morales-Bueno, Agustín Ortiz-Díaz and Yailé Caballero-Mota, "Online and non-parametric drift
detection methods based on Hoeffding's bounds", IEEE Transactions on Knowledge and Data
Engineering 27(3) (2015), 810-823; Albert Bifet, Geoff Holmes, Richard Kirkby and Bernhard
Pfahringer, "MOA: Massive Online Analysis", JMLR 11 (2010), 1601-1604.
"""

from __future__ import annotations

from wabbit import _core
from wabbit.drift.base import DriftAndWarningDetector

__all__ = ["HDDMA"]


class HDDMA(_core.drift.HDDMA, DriftAndWarningDetector):
    """Hoeffding drift detection on averages (see the module's documentation)."""

    def __init__(
        self, drift_confidence: float = 0.001, warning_confidence: float = 0.005, two_sided_test: bool = False
    ) -> None:
        super().__init__(drift_confidence, warning_confidence, two_sided_test)

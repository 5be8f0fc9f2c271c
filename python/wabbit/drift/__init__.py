"""Drift detection: notice when a stream stops looking like it used to.

Concept drift detectors watch one number per example (a loss, an error bit, a prediction) and
raise an alarm when its distribution changes. They have river 0.26's names, parameters and
defaults, and river 0.26.1's alarms value for value (KSWIN: in distribution); one interface
(:class:`DriftDetector`): ``update(x) -> bool``, ``drift_detected``, ``update_many(values)`` (the
indices of the alarms, in one call), ``reset()``, pickling; detectors with a warning zone
(:class:`DriftAndWarningDetector`) add ``warning_detected``.

=============  ====================================================  =========================
detector       watches                                               warning zone
=============  ====================================================  =========================
ADWIN          the mean of any bounded numbers (adaptive window)     no
PageHinkley    the mean of any numbers (cumulative sum)              no
KSWIN          the whole distribution (Kolmogorov-Smirnov test)      no
DDM            an error rate (0/1 values)                            yes
EDDM           the distance between errors (0/1 values)              yes
HDDMA          a mean of values in [0, 1] (Hoeffding's bound)        yes
HDDMW          a weighted mean of values in [0, 1] (McDiarmid's)     yes
=============  ====================================================  =========================

Data drift between a reference window and a live window of a feature: :func:`psi`,
:func:`js_divergence`, :func:`ks_statistic`.

>>> import numpy as np
>>> from wabbit import drift
>>> rng = np.random.default_rng(0)
>>> losses = np.concatenate([rng.exponential(0.3, 5000), rng.exponential(0.6, 5000)])
>>> drift.ADWIN().update_many(losses)
array([5087])
"""

from wabbit.drift.adwin import ADWIN
from wabbit.drift.base import DriftAndWarningDetector, DriftDetector
from wabbit.drift.data import KSResult, js_divergence, ks_statistic, psi
from wabbit.drift.ddm import DDM
from wabbit.drift.eddm import EDDM
from wabbit.drift.hddm_a import HDDMA
from wabbit.drift.hddm_w import HDDMW
from wabbit.drift.kswin import KSWIN
from wabbit.drift.page_hinkley import PageHinkley

__all__ = [
    "ADWIN",
    "DDM",
    "DriftAndWarningDetector",
    "DriftDetector",
    "EDDM",
    "HDDMA",
    "HDDMW",
    "KSResult",
    "KSWIN",
    "PageHinkley",
    "js_divergence",
    "ks_statistic",
    "psi",
]

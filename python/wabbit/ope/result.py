"""One estimate of a policy's expected cost per event, with its confidence interval."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np

__all__ = ["Estimate", "percent"]


@dataclass(frozen=True)
class Estimate:
    """One estimator's expected cost per event for a policy, with its confidence interval.

    ``value`` is the estimate, ``lower``/``upper`` the two-sided ``1 - alpha`` interval by
    ``method`` ("normal" or "bootstrap"), ``n`` the events used, ``ess`` the effective sample size
    (Kish's, of the importance weights; ``n`` for the logged policy and the direct method).

    >>> e = Estimate("ips", 0.5, 0.25, 0.75, 0.05, 100, 80.0, "normal")
    >>> e.interval, e.level, 0.3 in e
    ((0.25, 0.75), 0.95, True)
    >>> e
    Estimate(ips: 0.5 [0.25, 0.75] 95% normal, n=100, ess=80)
    """

    estimator: str
    value: float
    lower: float
    upper: float
    alpha: float
    n: int
    ess: float
    method: str
    # per-event terms whose mean is (or linearises) the estimate: used to compare two policies on
    # the same events (Report.difference)
    terms: Optional[np.ndarray] = field(default=None, repr=False, compare=False)

    @property
    def interval(self) -> Tuple[float, float]:
        return (self.lower, self.upper)

    @property
    def level(self) -> float:
        """The interval's nominal coverage, ``1 - alpha``."""
        return 1.0 - self.alpha

    def __contains__(self, value: float) -> bool:
        return self.lower <= value <= self.upper

    def __repr__(self) -> str:
        return (
            f"Estimate({self.estimator}: {self.value:.6g} [{self.lower:.6g}, {self.upper:.6g}] "
            f"{percent(self.level)} {self.method}, n={self.n}, ess={self.ess:.6g})"
        )


def percent(level: float) -> str:
    """A coverage level as the tables print it.

    >>> percent(0.95), percent(0.9)
    ('95%', '90%')
    """
    return f"{level * 100:.10g}%"

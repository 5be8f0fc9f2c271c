"""Confidence intervals of the estimates: normal (central limit, on the per-event terms) and
percentile bootstrap over events."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Optional, Tuple

import numpy as np

from wabbit.ope.result import Estimate

__all__ = ["INTERVALS", "check_alpha", "finish", "normal_interval"]

INTERVALS = ("normal", "bootstrap")


def check_alpha(alpha: float) -> None:
    """Refuses an ``alpha`` outside (0, 1)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1 (0.05 for a 95% interval), got {alpha!r}")


def finish(
    name: str,
    num: np.ndarray,
    den: Optional[np.ndarray],
    alpha: float,
    method: str,
    resamples: int,
    seed: int,
    *,
    ess: float,
) -> Estimate:
    """The estimate mean(num) (or sum(num)/sum(den)) with its interval."""
    n = len(num)
    if n == 0:
        raise ValueError("no events to evaluate")
    if den is None:
        value = float(num.mean())
        terms = num
    else:
        total = float(den.sum())
        if total <= 0:
            raise ValueError("snips: the target gives probability 0 to every logged action; nothing to estimate")
        value = float(num.sum() / total)
        terms = value + (num - value * den) / (total / n)  # the delta method's linearisation
    if method == "normal":
        lo, hi = normal_interval(terms, alpha)
    elif method == "bootstrap":
        lo, hi = _bootstrap(num, den, alpha, resamples, seed)
    else:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {method!r}")
    return Estimate(name, value, lo, hi, float(alpha), n, ess, method, terms)


def normal_interval(terms: np.ndarray, alpha: float) -> Tuple[float, float]:
    """The central-limit interval of the mean of ``terms``: mean -+ z(1 - alpha/2) s / sqrt(n).

    >>> lo, hi = normal_interval(np.array([0.0, 2.0]), 0.05)   # mean 1, s = sqrt(2), n = 2
    >>> round(hi - 1.0, 6), round(1.96 * 1.0, 2)                # half width z * s / sqrt(n) = z
    (1.959964, 1.96)
    """
    m = float(terms.mean())
    if len(terms) < 2:
        return (-math.inf, math.inf)
    half = NormalDist().inv_cdf(1 - alpha / 2) * float(terms.std(ddof=1)) / math.sqrt(len(terms))
    return (m - half, m + half)


def _bootstrap(
    num: np.ndarray, den: Optional[np.ndarray], alpha: float, resamples: int, seed: int
) -> Tuple[float, float]:
    """Percentile bootstrap over events, in chunks so memory stays near 8 MiB whatever n is."""
    if resamples < 10:
        raise ValueError(f"resamples must be at least 10, got {resamples}")
    n = len(num)
    rng = np.random.default_rng(seed)
    stats = np.empty(resamples)
    chunk = max(1, (1 << 20) // n)
    for start in range(0, resamples, chunk):
        k = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(k, n))
        top = num[idx].sum(axis=1)
        if den is None:
            stats[start : start + k] = top / n
        else:
            bottom = den[idx].sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                stats[start : start + k] = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.nan)
    stats = stats[~np.isnan(stats)]
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))

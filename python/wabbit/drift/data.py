"""Data drift: has a feature's distribution moved between a reference window and a live window?

Three comparisons of two samples of numbers (numpy arrays, or anything numpy turns into 1-D
arrays of finite numbers):

* :func:`psi`: the population stability index over bins of the reference.
* :func:`js_divergence`: the Jensen-Shannon divergence over the same bins.
* :func:`ks_statistic`: the two-sample Kolmogorov-Smirnov statistic and its p-value (no bins).

Binning (``psi``, ``js_divergence``): ``bins=k`` cuts the real line at the reference's quantiles
into ``k`` bins of (about) equal reference mass; repeated cut points (a feature with few distinct
values) are merged. ``bins`` may instead be an increasing sequence of cut points. The outer bins
are open (``(-inf, c_0)`` and ``[c_last, inf)``), so a live value outside the reference's range
still counts; a value equal to a cut point goes to the bin on its right.

>>> import numpy as np
>>> from wabbit.drift import psi, js_divergence, ks_statistic
>>> rng = np.random.default_rng(7)
>>> reference = rng.normal(0.0, 1.0, 5000)
>>> same, shifted = rng.normal(0.0, 1.0, 5000), rng.normal(0.5, 1.0, 5000)
>>> print(f"{psi(reference, same):.3f} {psi(reference, shifted):.3f}")
0.002 0.267
>>> print(f"{js_divergence(reference, same):.4f} {js_divergence(reference, shifted):.4f}")
0.0004 0.0471
>>> ks_statistic(reference, shifted).pvalue < 1e-50 < ks_statistic(reference, same).pvalue
True

A common reading of PSI: below 0.1 no change, 0.1 to 0.25 a moderate change, above 0.25 a major
one.

References: B. Yurdakul, "Statistical properties of population stability index", PhD thesis,
Western Michigan University, 2018 (PSI); J. Lin, "Divergence measures based on the Shannon
entropy", IEEE Transactions on Information Theory 37(1) (1991), 145-151 (Jensen-Shannon);
J. L. Hodges, "The significance probability of the Smirnov two-sample test", Arkiv för Matematik
3 (1958), 469-486, and M. A. Stephens, "Use of the Kolmogorov-Smirnov, Cramér-von Mises and
related statistics without extensive tables", JRSS B 32 (1970), 115-122 (KS p-values).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence, Union

import numpy as np

__all__ = ["KSResult", "ks_statistic", "psi", "js_divergence"]

#: ``bins``: a number of quantile bins of the reference, or increasing cut points.
Bins = Union[int, Sequence[float], np.ndarray]

# For samples of unequal sizes the KS p-value is exact (the lattice walk) up to these sizes, and
# asymptotic above.
_KS_EXACT_MAX_CELLS = 10_000_000
_KS_EXACT_MAX_STEPS = 10_000
_KS_EXACT_SMALL_SIDE = 100
_KS_EXACT_MAX_STEPS_SMALL_SIDE = 50_000


class KSResult(NamedTuple):
    """The two-sample Kolmogorov-Smirnov statistic and its two-sided p-value."""

    statistic: float
    pvalue: float


def psi(reference: np.ndarray, live: np.ndarray, bins: Bins = 10, eps: float = 1e-4) -> float:
    """The population stability index of ``live`` against ``reference``.

    ``sum((a - e) * ln(a / e))`` over the bins, where ``e`` and ``a`` are the fractions of the
    reference and live values in each bin; a fraction below ``eps`` (an empty bin) counts as
    ``eps``. PSI is the symmetrised Kullback-Leibler divergence ``KL(a||e) + KL(e||a)``; 0 for
    identical histograms.
    """
    if not eps > 0:
        raise ValueError("eps must be > 0")
    e, a = _histograms(reference, live, bins)
    e = np.maximum(e, eps)
    a = np.maximum(a, eps)
    return float(np.sum((a - e) * np.log(a / e)))


def js_divergence(reference: np.ndarray, live: np.ndarray, bins: Bins = 10, base: float = 2.0) -> float:
    """The Jensen-Shannon divergence between the binned reference and live distributions.

    ``(KL(p||m) + KL(q||m)) / 2`` with ``m = (p + q) / 2``, in logarithms to ``base`` (base 2,
    the default, puts it in [0, 1]). Empty bins need no smoothing. Its square root is the
    Jensen-Shannon distance (``scipy.spatial.distance.jensenshannon``).
    """
    if not base > 1:
        raise ValueError("base must be > 1")
    p, q = _histograms(reference, live, bins)
    m = (p + q) / 2
    kl_p = np.sum(p[p > 0] * np.log(p[p > 0] / m[p > 0]))
    kl_q = np.sum(q[q > 0] * np.log(q[q > 0] / m[q > 0]))
    return max(0.0, float((kl_p + kl_q) / 2 / math.log(base)))


def ks_statistic(reference: np.ndarray, live: np.ndarray) -> KSResult:
    """The two-sample Kolmogorov-Smirnov test of ``live`` against ``reference``.

    ``statistic`` is the largest distance between the two empirical distribution functions;
    ``pvalue`` the probability of a distance at least as large when both samples come from one
    continuous distribution (two-sided). The p-value is exact for samples of equal size (the
    reflection formula), and for unequal sizes whose sum is at most 10,000, or at most 50,000 when
    the smaller has at most 100 values (following the orderings of the pooled sample that reach
    the distance); otherwise it is Kolmogorov's limit
    with Stephens' correction for the effective size ``n1 n2 / (n1 + n2)`` (within a few per cent
    of the exact value where it matters, p > 1e-6). The statistic is scipy's ``ks_2samp``'s; so is
    the p-value wherever both are exact.
    """
    a = np.sort(_sample(reference, "reference"))
    b = np.sort(_sample(live, "live"))
    k = ks_gap(a, b)
    return KSResult(k / (len(a) * len(b)), ks_pvalue(len(a), len(b), k))


# ---------------------------------------------------------------------------------- helpers
def _sample(values: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of numbers")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains values that are not finite (NaN or infinite)")
    return a


def _histograms(reference: np.ndarray, live: np.ndarray, bins: Bins) -> tuple:
    ref = _sample(reference, "reference")
    cur = _sample(live, "live")
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise ValueError("bins must be >= 1")
        cuts = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, int(bins) + 1)[1:-1]))
    else:
        cuts = np.asarray(bins, dtype=np.float64)
        if cuts.ndim != 1 or not np.isfinite(cuts).all() or np.any(np.diff(cuts) <= 0):
            raise ValueError("bins must be a number of bins or a strictly increasing sequence of finite cut points")
    return _fractions(ref, cuts), _fractions(cur, cuts)


def _fractions(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(cuts, values, side="right"), minlength=len(cuts) + 1)
    return counts / len(values)


def ks_gap(a: np.ndarray, b: np.ndarray) -> int:
    """max |F_a - F_b| * len(a) * len(b), exactly, for sorted samples a and b."""
    both = np.concatenate([a, b])
    ca = np.searchsorted(a, both, side="right").astype(np.int64)
    cb = np.searchsorted(b, both, side="right").astype(np.int64)
    return int(np.max(np.abs(ca * len(b) - cb * len(a))))


def ks_pvalue(n1: int, n2: int, k: int) -> float:
    """P(max |F_1 - F_2| * n1 * n2 >= k) for samples of sizes n1 and n2 from one distribution."""
    if k <= 0:
        return 1.0
    if n1 == n2:
        return _ks_pvalue_equal(n1, k // n1)
    # The walk costs about (min + 1) * (n1 + n2) cell updates in n1 + n2 numpy steps: exact when
    # that is cheap, including a small sample against a large one, where the limit is poor.
    small_side = min(n1, n2) <= _KS_EXACT_SMALL_SIDE and n1 + n2 <= _KS_EXACT_MAX_STEPS_SMALL_SIDE
    if n1 * n2 <= _KS_EXACT_MAX_CELLS and (n1 + n2 <= _KS_EXACT_MAX_STEPS or small_side):
        return _ks_pvalue_lattice(min(n1, n2), max(n1, n2), k)
    return _ks_pvalue_asymptotic(n1, n2, k / (n1 * n2))


def _ks_pvalue_equal(n: int, h: int) -> float:
    """P(D >= h / n) for two samples of n: 2 * sum_k (-1)^(k+1) C(2n, n - kh) / C(2n, n)."""
    terms: list = []
    ratio = 1.0  # C(2n, n - j) / C(2n, n), built up one factor at a time
    for k in range(1, n // h + 1):
        for j in range((k - 1) * h, k * h):
            ratio *= (n - j) / (n + 1 + j)
        if terms and ratio < terms[0] * 1e-17:  # the terms shrink: the rest cannot matter
            break
        terms.append(ratio)
    total = 0.0
    for t in reversed(terms):  # smallest first: t1 - (t2 - (t3 - ...))
        total = t - total
    return min(1.0, max(0.0, 2.0 * total))


def _ks_pvalue_lattice(m: int, n: int, k: int) -> float:
    """P(D * m * n >= k) for samples of m < n, by walking the orderings of the pooled sample.

    Taking the pooled sample in sorted order is a walk from (0, 0) to (m, n) whose steps are
    i += 1 (a value of the first sample, probability (m - i) / values left) or j += 1 (of the
    second); D * m * n is the walk's largest |i n - j m|. ``alive[i]`` is the probability of being
    at (i, s - i) after s steps without having reached k; what reaches k is added up (so that
    small p-values keep their precision).
    """
    i = np.arange(m + 1)
    i_n = i * n
    alive = np.zeros(m + 1)
    alive[0] = 1.0
    reached = 0.0
    for s in range(1, m + n + 1):
        left = m + n - s + 1
        step_i = alive * (m - i) / left
        alive *= (n - (s - 1 - i)) / left  # a step in j; cells off the grid hold 0 and stay 0
        alive[1:] += step_i[:-1]
        out = np.abs(i_n - (s - i) * m) >= k
        reached += float(alive[out].sum())
        alive[out] = 0.0
    return min(1.0, reached)


def _ks_pvalue_asymptotic(n1: int, n2: int, d: float) -> float:
    """Kolmogorov's limiting distribution at Stephens' corrected argument."""
    en = math.sqrt(n1 * n2 / (n1 + n2))
    lam = (en + 0.12 + 0.11 / en) * d
    if lam < 1.0:
        # 1 - sqrt(2 pi) / lam * sum_k exp(-(2k - 1)^2 pi^2 / (8 lam^2)): fast for small lam
        s = sum(math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * lam * lam)) for k in range(1, 8))
        return min(1.0, max(0.0, 1.0 - math.sqrt(2 * math.pi) / lam * s))
    s = sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return min(1.0, max(0.0, 2.0 * s))

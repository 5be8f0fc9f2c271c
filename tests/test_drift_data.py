"""psi, js_divergence and ks_statistic against scipy (where it has the same statistic) and hand
computations. Samples come from a seed drawn per run (WABBIT_TEST_SEED replays one)."""

from __future__ import annotations

import math
import os
import random

import numpy as np
import pytest

from wabbit.drift import js_divergence, ks_statistic, psi
from wabbit.drift.data import _KS_EXACT_MAX_CELLS, _KS_EXACT_MAX_STEPS

scipy_stats = pytest.importorskip("scipy.stats")
from scipy.spatial.distance import jensenshannon  # noqa: E402

SEED = int(os.environ.get("WABBIT_TEST_SEED", random.SystemRandom().randrange(2**32)))


def samples(rng, n1, n2, kind):
    if kind == "same":
        return rng.normal(0, 1, n1), rng.normal(0, 1, n2)
    if kind == "shift":
        return rng.normal(0, 1, n1), rng.normal(0.3, 1, n2)
    if kind == "ties":
        return rng.integers(0, 5, n1).astype(float), rng.integers(1, 6, n2).astype(float)
    return rng.exponential(1, n1), rng.normal(1, 1, n2)  # different shapes


SIZES = [
    (1, 1),
    (3, 3),
    (5, 7),
    (30, 30),
    (17, 40),
    (250, 300),
    (1000, 1000),
    (700, 1200),
    (3000, 3000),
    (2500, 4000),
    (30, 20000),
]  # a small sample against a large one: the limit is poor there, so it is exact


@pytest.mark.parametrize("n1,n2", SIZES)
@pytest.mark.parametrize("kind", ["same", "shift", "ties", "shape"])
def test_ks_equals_scipys_exact_test(n1, n2, kind):
    rng = np.random.default_rng([SEED, n1, n2, len(kind)])
    a, b = samples(rng, n1, n2, kind)
    ours = ks_statistic(a, b)
    theirs = scipy_stats.ks_2samp(a, b, method="exact")
    where = f"seed {SEED} (WABBIT_TEST_SEED), sizes {n1}/{n2}, {kind}"
    assert ours.statistic == theirs.statistic, where
    assert ours.pvalue == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-300), where


@pytest.mark.parametrize("n1,n2", [(4000, 9000), (12000, 15000), (20000, 30000)])
@pytest.mark.parametrize("kind", ["same", "shift"])
def test_ks_large_samples_are_close_to_scipys_asymptotic_test(n1, n2, kind):
    assert n1 * n2 > _KS_EXACT_MAX_CELLS or (n1 + n2 > _KS_EXACT_MAX_STEPS and min(n1, n2) > 100)
    rng = np.random.default_rng([SEED, n1, n2, len(kind)])
    a, b = samples(rng, n1, n2, kind)
    ours = ks_statistic(a, b)
    theirs = scipy_stats.ks_2samp(a, b)
    where = f"seed {SEED} (WABBIT_TEST_SEED), sizes {n1}/{n2}, {kind}"
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12), where
    if theirs.pvalue > 1e-6:
        assert ours.pvalue == pytest.approx(theirs.pvalue, rel=0.05), where
    else:
        assert ours.pvalue < 1e-5, where


def test_ks_by_hand():
    # Disjoint samples of 3: D = 1; the p-value is 2 orderings (all of one first) of C(6, 3) = 20.
    r = ks_statistic([1, 2, 3], [4, 5, 6])
    assert r.statistic == 1.0 and r.pvalue == pytest.approx(2 / 20)
    # Interleaved: 1 4 2 5 3 6 -> largest gap 1/3; P(D >= 1/3) = 1 for n = 3.
    r = ks_statistic([1, 2, 3], [1.5, 2.5, 3.5])
    assert r.statistic == pytest.approx(1 / 3) and r.pvalue == pytest.approx(1.0)
    # Sizes 1 and 2, disjoint: D = 1, orderings 3, two reach it (x first or last): p = 2/3.
    r = ks_statistic([0.0], [1.0, 2.0])
    assert r.statistic == 1.0 and r.pvalue == pytest.approx(2 / 3)
    assert ks_statistic([1.0, 2.0], [1.0, 2.0]) == (0.0, 1.0)


def test_psi_by_hand():
    reference = np.array([0.5, 1.5, 1.5, 2.5])  # bins (-inf, 1) [1, 2) [2, inf): 1/4, 2/4, 1/4
    live = np.array([0.5, 0.5, 1.5, 2.5])  # 2/4, 1/4, 1/4
    expected = (0.5 - 0.25) * math.log(0.5 / 0.25) + (0.25 - 0.5) * math.log(0.25 / 0.5) + 0.0
    assert psi(reference, live, bins=[1.0, 2.0]) == pytest.approx(expected)
    # An empty bin counts as eps.
    live = np.array([0.5, 0.5, 0.5, 0.5])  # 1, 0, 0
    expected = (
        (1 - 0.25) * math.log(1 / 0.25) + (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1e-4 - 0.25) * math.log(1e-4 / 0.25)
    )
    assert psi(reference, live, bins=[1.0, 2.0]) == pytest.approx(expected)
    assert psi(reference, reference, bins=[1.0, 2.0]) == 0.0


@pytest.mark.parametrize("kind", ["same", "shift", "ties", "shape"])
def test_psi_is_the_symmetrised_kl_divergence_of_the_reference_decile_histograms(kind):
    rng = np.random.default_rng([SEED, 11, len(kind)])
    a, b = samples(rng, 5000, 3000, kind)
    cuts = np.unique(np.quantile(a, np.linspace(0, 1, 11)[1:-1]))
    e = np.bincount(np.searchsorted(cuts, a, side="right"), minlength=len(cuts) + 1) / len(a)
    q = np.bincount(np.searchsorted(cuts, b, side="right"), minlength=len(cuts) + 1) / len(b)
    e, q = np.maximum(e, 1e-4), np.maximum(q, 1e-4)
    # KL(q||e) + KL(e||q); scipy's entropy would renormalise the eps-floored fractions first
    expected = float(np.sum(q * np.log(q / e)) + np.sum(e * np.log(e / q)))
    assert psi(a, b) == pytest.approx(expected, rel=1e-12), f"seed {SEED}"
    if kind != "ties":  # no empty bin: scipy's relative entropies, both ways
        assert psi(a, b) == pytest.approx(scipy_stats.entropy(q, e) + scipy_stats.entropy(e, q), rel=1e-9)
    if kind == "same":
        assert psi(a, b) < 0.02
    if kind == "shift":
        assert psi(a, b) > 0.05


@pytest.mark.parametrize("kind", ["same", "shift", "ties", "shape"])
def test_js_divergence_is_the_square_of_scipys_distance(kind):
    rng = np.random.default_rng([SEED, 12, len(kind)])
    a, b = samples(rng, 4000, 2500, kind)
    cuts = [-1.0, 0.0, 0.5, 1.0, 2.0]
    p = np.bincount(np.searchsorted(cuts, a, side="right"), minlength=6) / len(a)
    q = np.bincount(np.searchsorted(cuts, b, side="right"), minlength=6) / len(b)
    where = f"seed {SEED}, {kind}"
    assert js_divergence(a, b, bins=cuts) == pytest.approx(jensenshannon(p, q, base=2) ** 2, rel=1e-9, abs=1e-15), where
    assert js_divergence(a, b, bins=cuts, base=math.e) == pytest.approx(
        jensenshannon(p, q) ** 2, rel=1e-9, abs=1e-15
    ), where


def test_js_divergence_bounds():
    a = np.zeros(100)
    assert js_divergence(a, a) == 0.0
    assert js_divergence(a, a + 10, bins=[5.0]) == pytest.approx(1.0)  # disjoint: 1 bit


def test_quantile_bins_of_few_distinct_values_merge():
    reference = np.array([0, 0, 0, 1] * 50, dtype=float)
    assert psi(reference, reference) == 0.0
    live = np.array([0, 1, 1, 1] * 50, dtype=float)
    # bins [0, 1) and [1, inf) (the cut at 0 leaves (-inf, 0) empty on both sides)
    expected = (0.25 - 0.75) * math.log(0.25 / 0.75) + (0.75 - 0.25) * math.log(0.75 / 0.25)
    assert psi(reference, live) == pytest.approx(expected)


@pytest.mark.parametrize("fn", [psi, js_divergence, ks_statistic])
def test_bad_input_is_refused(fn):
    with pytest.raises(ValueError):
        fn([], [1.0])
    with pytest.raises(ValueError):
        fn([1.0, math.nan], [1.0])
    with pytest.raises(ValueError):
        fn(np.zeros((2, 2)), [1.0])
    if fn is not ks_statistic:
        with pytest.raises(ValueError):
            fn([1.0, 2.0], [1.0], bins=[2.0, 1.0])
        with pytest.raises(ValueError):
            fn([1.0, 2.0], [1.0], bins=0)

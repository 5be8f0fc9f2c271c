"""KSWIN against river 0.26.1's.

With river's sampler plugged in, wabbit's KSWIN raises river's alarms at the same indices (so
the window, the test and its p-value are river's). With its own seeded generator it draws other
samples: over many seeds its detection delays and false alarms match river's in distribution.
The streams come from a seed drawn per run (printed in the messages; WABBIT_TEST_SEED replays).
"""

from __future__ import annotations

import math
import os
import random

import numpy as np
import pytest

from wabbit import drift

river_drift = pytest.importorskip("river.drift")

SEED = int(os.environ.get("WABBIT_TEST_SEED", random.SystemRandom().randrange(2**32)))


class RiverSampler:
    """river's draw: random.Random(seed).sample(range(n), k)."""

    def __init__(self, seed):
        self._random = random.Random(seed)

    def choice(self, n, k, replace=False):
        return np.array(self._random.sample(range(n), k))


class KSWINWithRiversSampler(drift.KSWIN):
    def _make_rng(self):
        return RiverSampler(self.seed)


def alarms(det, values):
    out = []
    for i, x in enumerate(values.tolist()):
        det.update(x)
        if det.drift_detected:
            out.append(i)
    return out


def stream(rng, n_before, n_after, kind):
    before = rng.normal(0.0, 1.0, n_before)
    if kind == "mean":
        after = rng.normal(1.0, 1.0, n_after)
    elif kind == "spread":
        after = rng.normal(0.0, 2.5, n_after)
    else:  # integers: ties in the windows
        before = rng.integers(0, 4, n_before).astype(float)
        after = rng.integers(2, 6, n_after).astype(float)
    return np.concatenate([before, after])


@pytest.mark.parametrize("kind", ["mean", "spread", "integers"])
def test_with_rivers_sampler_the_alarms_are_rivers(kind):
    rng = np.random.default_rng([SEED, ["mean", "spread", "integers"].index(kind)])
    for _trial in range(2):
        params = dict(
            alpha=float(10 ** rng.uniform(-4, -1.5)),
            window_size=int(rng.integers(60, 200)),
            seed=int(rng.integers(0, 2**31)),
        )
        params["stat_size"] = int(rng.integers(10, params["window_size"] // 2 + 1))
        values = stream(rng, 500, 500, kind)
        expected = alarms(river_drift.KSWIN(**params), values)
        where = f"seed {SEED} (WABBIT_TEST_SEED), KSWIN({params}), {kind} stream"
        ours = KSWINWithRiversSampler(**params)
        assert alarms(ours, values) == expected, where


def test_initial_window_is_used_like_rivers():
    rng = np.random.default_rng([SEED, 7])
    start = rng.normal(0, 1, 100).tolist()
    values = stream(rng, 300, 300, "mean")
    expected = alarms(river_drift.KSWIN(seed=3, window=start), values)
    assert alarms(KSWINWithRiversSampler(seed=3, window=start), values) == expected, f"seed {SEED}"


def test_own_generator_matches_rivers_delay_and_false_alarms_in_distribution():
    """Per seed: false alarms over 400 stationary values, then the delay to the first alarm
    after a change of mean. The means over 24 seeds must agree within 4 standard errors."""
    rng = np.random.default_rng([SEED, 99])
    n_before, n_after, seeds = 400, 250, 24
    stats = {"river": ([], []), "wabbit": ([], [])}
    for _trial in range(seeds):
        values = stream(rng, n_before, n_after, "mean")
        seed = int(rng.integers(0, 2**31))
        for name, det in (
            ("river", river_drift.KSWIN(alpha=0.005, seed=seed)),
            ("wabbit", drift.KSWIN(alpha=0.005, seed=seed)),
        ):
            hits = np.array(alarms(det, values))
            false_alarms = int(np.sum(hits < n_before))
            after = hits[hits >= n_before]
            delay = int(after[0] - n_before) if len(after) else n_after
            stats[name][0].append(false_alarms)
            stats[name][1].append(delay)
    for what, column in (("false alarms", 0), ("detection delay", 1)):
        a, b = np.array(stats["river"][column], float), np.array(stats["wabbit"][column], float)
        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        assert abs(a.mean() - b.mean()) <= 4 * se + 0.5, (
            f"{what}: river {a.mean():.2f} vs wabbit {b.mean():.2f} (se {se:.2f}); seed {SEED} (WABBIT_TEST_SEED)"
        )
        print(f"{what}: river {a.mean():.2f} +- {a.std():.2f}, wabbit {b.mean():.2f} +- {b.std():.2f}")
    # The change is found, and fast, by both.
    assert np.median(stats["wabbit"][1]) < 60 and np.median(stats["river"][1]) < 60

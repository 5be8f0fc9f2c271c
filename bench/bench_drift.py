"""Benchmark wabbit's drift detectors against river 0.26.1's, in one run.

For each detector and stream, three timings of the same values:

* river:            ``for x in values: det.update(x); det.drift_detected`` (river's idiom)
* wabbit update:    the same loop with wabbit's detector (per-value speed)
* wabbit many:      ``det.update_many(values)`` on a float64 numpy array

Both libraries raise their alarms at the same indices (checked here as well). Times are the
best of ``--repeat`` interleaved rounds (the machine's load moves both alike); the ratio is river
seconds / wabbit seconds. Streams (seeded): a stationary one (ADWIN's window grows to the whole
stream, its slowest case) and one whose mean changes every 50,000 values; binary error streams
for the binary detectors.

Run::

    python bench/bench_drift.py [--n 1000000] [--repeat 5] [--detectors ADWIN,PageHinkley]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np


def streams(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 1, n // 50_000 + 1)
    changing = rng.normal(np.repeat(means, 50_000)[:n], 1.0)
    p = np.repeat(rng.uniform(0.05, 0.4, n // 50_000 + 1), 50_000)[:n]
    return {
        "stationary": rng.normal(0, 1, n),
        "mean changes every 50k": changing,
        "binary errors, rate changes every 50k": (rng.random(n) < p).astype(np.float64),
    }


def river_loop(det, xs: list) -> list:
    hits = []
    for i, x in enumerate(xs):
        det.update(x)
        if det.drift_detected:
            hits.append(i)
    return hits


def wabbit_loop(det, xs: list) -> list:
    hits = []
    for i, x in enumerate(xs):
        det.update(x)
        if det.drift_detected:
            hits.append(i)
    return hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="values per stream")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds; the best time counts")
    ap.add_argument("--detectors", default="ADWIN,PageHinkley,DDM,EDDM,HDDMA,HDDMW")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import river
    from river import drift as river_drift

    import wabbit
    from wabbit import drift

    pairs = {
        "ADWIN": (river_drift.ADWIN, drift.ADWIN, ("stationary", "mean changes every 50k")),
        "PageHinkley": (river_drift.PageHinkley, drift.PageHinkley, ("stationary", "mean changes every 50k")),
        "DDM": (river_drift.binary.DDM, drift.DDM, ("binary errors, rate changes every 50k",)),
        "EDDM": (river_drift.binary.EDDM, drift.EDDM, ("binary errors, rate changes every 50k",)),
        "HDDMA": (river_drift.binary.HDDMA, drift.HDDMA, ("binary errors, rate changes every 50k",)),
        "HDDMW": (river_drift.binary.HDDMW, drift.HDDMW, ("binary errors, rate changes every 50k",)),
    }
    data = streams(args.n, args.seed)
    print(
        f"# wabbit {wabbit.__version__} vs river {river.__version__}; {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; {args.n:,} values per stream, best of {args.repeat}"
    )
    print(
        "| detector | stream | alarms | river ns/value | wabbit update ns/value | wabbit update_many ns/value "
        "| update_many vs river | update vs river |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in args.detectors.split(","):
        river_cls, wabbit_cls, stream_names = pairs[name]
        for sname in stream_names:
            values = data[sname]
            xs = values.tolist()
            t_river, t_update, t_many = [], [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                expected = river_loop(river_cls(), xs)
                t_river.append(time.perf_counter() - t)
                t = time.perf_counter()
                per_value = wabbit_loop(wabbit_cls(), xs)
                t_update.append(time.perf_counter() - t)
                t = time.perf_counter()
                many = wabbit_cls().update_many(values)
                t_many.append(time.perf_counter() - t)
                if per_value != expected or many.tolist() != expected:
                    raise SystemExit(f"{name} on {sname}: wabbit's alarms differ from river's")
            r, u, m = min(t_river), min(t_update), min(t_many)
            ns = 1e9 / len(values)
            print(
                f"| {name} | {sname} | {len(expected)} | {r * ns:.0f} | {u * ns:.0f} | {m * ns:.1f} "
                f"| {r / m:.1f}x | {r / u:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()

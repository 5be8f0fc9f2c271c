"""Data frames into wabbit (issue 19): the frame path against the two ways a notebook would do it.

    python bench/bench_frames.py [--rows 200000] [--repeat 3]

On one pandas frame of mixed columns (two string columns, a categorical, an int, a float, a bool,
the label ±1), each timing the best of ``--repeat`` rounds, all in this process:

- frame: ``Model("--loss_function logistic -b 18").learn_many(df, label=..., namespaces=...)``
  (the columns' conversion included; also from the same data as a pyarrow table and a polars frame,
  when installed);
- text: the VW lines built from the frame in Python (a loop over the columns' values, f-strings),
  then ``learn_many(lines)``; building included;
- sklearn: ``SGDClassifier(loss="log_loss").partial_fit`` on ``FeatureHasher(2**18)`` of the
  frame's records (``df.to_dict("records")``: a string value v of column c is the feature "c=v",
  as in VW), in chunks of 10,000 rows; the records and hashing included.

The frame and text paths' predictions are checked equal, bit for bit. The frame has no nulls
(FeatureHasher takes none; tests/test_frames.py covers them). Prints a Markdown section for
bench/RESULTS.md with the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

import wabbit

NAMESPACES = {"u": ["user", "device", "age"], "a": ["ad", "price", "premium"]}
LABEL = "clicked"


def make_frame(n: int, seed: int = 0) -> Any:
    import pandas as pd

    rng = np.random.default_rng(seed)
    users = np.array([f"u{k}" for k in range(5000)], dtype=object)
    devices = np.array(["phone", "tablet", "desktop", "tv"], dtype=object)
    user_code = rng.integers(0, len(users), n)
    user = users[user_code]
    device = devices[rng.integers(0, len(devices), n)]
    ad_code = rng.integers(0, 200, n)
    age = rng.integers(18, 80, n)
    price = np.round(rng.random(n) * 50, 2)
    premium = rng.random(n) < 0.2
    # a hidden logistic model over the same features
    w_user = rng.normal(0, 1, len(users))
    w_ad = rng.normal(0, 1, 200)
    logit = w_user[user_code] + w_ad[ad_code]
    logit += 0.02 * (age - 50) - 0.03 * (price - 25) + 0.5 * premium - 1.0
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), 1.0, -1.0)
    return pd.DataFrame(
        {
            "user": user,
            "device": device,
            "age": age,
            "ad": pd.Categorical.from_codes(ad_code, categories=[f"ad{k}" for k in range(200)]),
            "price": price,
            "premium": premium,
            LABEL: y,
        }
    )


def text_lines(df: Any) -> List[str]:
    """VW lines from the frame, as a user would write them in Python."""
    cols = {c: df[c].tolist() for c in df.columns}
    out = []
    for y, user, device, age, ad, price, premium in zip(
        cols[LABEL], cols["user"], cols["device"], cols["age"], cols["ad"], cols["price"], cols["premium"]
    ):
        line = f"{y} |u user={user} device={device} age:{age} |a ad={ad} price:{price}"
        if premium:
            line += " premium:1"
        out.append(line)
    return out


def best(fn: Callable[[], Any], repeat: int) -> Tuple[float, float]:
    """(best wall seconds, best CPU seconds of this process) over the rounds. On a shared machine
    the CPU time is the steadier measure (every path here runs on one thread, polars' conversion
    apart, whose threads' time it sums)."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    load_before = os.getloadavg()
    df = make_frame(a.rows)
    args = "--loss_function logistic -b 18"

    def frame_run(source: Any = None) -> Any:
        return wabbit.Model(args).learn_many(df if source is None else source, label=LABEL, namespaces=NAMESPACES)

    def text_run() -> Any:
        return wabbit.Model(args).learn_many(text_lines(df))

    p_frame, p_text = frame_run(), text_run()
    if not np.array_equal(p_frame.view(np.uint32), p_text.view(np.uint32)):
        print("frame and text predictions differ", file=sys.stderr)
        return 1
    results: Dict[str, Tuple[float, float]] = {}
    results["frame (pandas)"] = best(frame_run, a.repeat)
    try:
        import pyarrow as pa

        table = pa.Table.from_pandas(df, preserve_index=False)
        results["frame (pyarrow)"] = best(lambda: frame_run(table), a.repeat)
    except ImportError:
        pass
    try:
        import polars as pl

        pframe = pl.from_pandas(df)
        results["frame (polars)"] = best(lambda: frame_run(pframe), a.repeat)
    except ImportError:
        pass
    results["text lines in Python + learn_many"] = best(text_run, a.repeat)

    from sklearn.feature_extraction import FeatureHasher
    from sklearn.linear_model import SGDClassifier

    def sklearn_run() -> Any:
        hasher = FeatureHasher(n_features=2**18, input_type="dict", alternate_sign=False)
        clf = SGDClassifier(loss="log_loss")
        y = df[LABEL].to_numpy()
        feats = df.drop(columns=[LABEL])
        for s in range(0, len(df), 10_000):
            chunk = feats.iloc[s : s + 10_000]
            records = chunk.astype({"ad": str}).to_dict("records")
            clf.partial_fit(hasher.transform(records), y[s : s + 10_000], classes=[-1.0, 1.0])
        return clf

    results["sklearn FeatureHasher + SGDClassifier.partial_fit"] = best(sklearn_run, a.repeat)
    load_after = os.getloadavg()

    frame_w, frame_c = results["frame (pandas)"]
    text_w, text_c = results["text lines in Python + learn_many"]
    sk_w, sk_c = results["sklearn FeatureHasher + SGDClassifier.partial_fit"]
    import pandas as pd
    import sklearn

    print("## Data frames in (issue 19): the frame path vs text built in Python and vs scikit-learn\n")
    print(f"- command: `python bench/bench_frames.py --rows {a.rows} --repeat {a.repeat}`")
    print(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(
        f"- machine: nproc {os.cpu_count()}, {platform.platform()}, Python {platform.python_version()}; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (the machine is shared)"
    )
    versions = f"pandas {pd.__version__}, scikit-learn {sklearn.__version__}"
    for mod in ("pyarrow", "polars"):
        if mod in sys.modules:
            versions += f", {mod} {sys.modules[mod].__version__}"
    print(f"- versions: wabbit {wabbit.__version__}, {versions}")
    print(
        f"- data: {a.rows:,} rows; columns user (str, 5,000 values), device (str, 4), ad (categorical, 200), "
        "age (int64), price (float64), premium (bool), clicked (±1); no nulls"
    )
    print(
        "- each: best of the rounds (wall, and this process's CPU time: the steadier on a shared machine), "
        "from the frame to a trained model (conversion, text building or hashing included)"
    )
    print("- frame and text predictions checked equal bit for bit\n")
    print("| path | wall s | CPU s | rows/s (CPU) | wall / frame's | CPU / frame's |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (w, c) in results.items():
        print(f"| {name} | {w:.3f} | {c:.3f} | {a.rows / c:,.0f} | {w / frame_w:.1f}x | {c / frame_c:.1f}x |")
    print(
        f"\nframe (pandas) vs text: {text_w / frame_w:.1f}x wall, {text_c / frame_c:.1f}x CPU (target >= 5x); "
        f"vs sklearn: {sk_w / frame_w:.1f}x wall, {sk_c / frame_c:.1f}x CPU (target >= 3x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

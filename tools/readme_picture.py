"""Draw the README's picture, docs/img/progressive_loss.png: a click stream whose hidden model
changes half-way, learned by wabbit with a drift monitor that starts a challenger at the alarm and
switches to it, while a store keeps a version every 25,000 examples; the same stream learned
without the monitor for comparison.

    python tools/readme_picture.py [--out docs/img/progressive_loss.png] [--lines 200000]

Needs matplotlib (pip install wabbit[plot]). Deterministic: the data come from
``wabbit.synth.click_log(seed=0)``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
try:  # the wabbit under test: an installed one, else this checkout's
    import wabbit
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(ROOT / "python"))
    import wabbit

from wabbit import plot, synth  # noqa: E402  (after the path set-up above)
from wabbit.drift import ADWIN  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "img" / "progressive_loss.png"))
    ap.add_argument("--lines", type=int, default=200_000)
    a = ap.parse_args()
    n = a.lines
    lines = list(synth.click_log(n, seed=0, drift_at=n // 2))
    labels = np.array([float(s.split(" ", 1)[0]) for s in lines])
    flags = "--loss_function logistic -q ua"

    plain = wabbit.Model(flags)
    plain_loss = plot.losses(plain.learn_many(lines), labels, "logistic")

    watched = wabbit.Model(flags)
    watched.monitor(ADWIN(), on_drift="switch", every=1000, log=lambda message: None)
    with tempfile.TemporaryDirectory() as d:
        store = wabbit.ModelStore(d)
        every = 25_000
        for start in range(0, n, every):  # a version after each block, as a trainer would publish
            block = watched.learn_many(lines[start : start + every])
            if start == 0:
                preds = [block]
            else:
                preds.append(block)
            store.save(watched)
        versions = [v.examples for v in store.list()]
    watched_loss = plot.losses(np.concatenate(preds), labels, "logistic")

    fig = plot.progressive_loss(
        watched_loss,
        events=watched.drift_events,
        versions=versions,
        window=5000,
        title=f"wabbit {flags} on a click stream whose hidden model changes at example {n // 2 + 1:,}",
    )
    ax = fig.axes[0]
    w = 5000
    c = np.concatenate([[0.0], np.cumsum(plain_loss)])
    lo = np.maximum(np.arange(n) + 1 - w, 0)
    ax.plot(
        np.arange(1, n + 1),
        (c[1:] - c[lo]) / (np.arange(n) + 1 - lo),
        color="#999999",
        linewidth=1.0,
        label="last 5,000 examples, without the monitor",
        zorder=1,
    )
    ax.legend(loc="lower right", fontsize=8, ncol=2)
    fig.set_size_inches(10, 4.8)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=100)
    print(f"wrote {a.out}: {len(watched.drift_events)} monitor events, {len(versions)} versions", file=sys.stderr)


if __name__ == "__main__":
    main()

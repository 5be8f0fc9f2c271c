"""A trainer job the crash tests run in a subprocess (and once in-process, uninterrupted): a
deterministic stream (tests/streamkit.ListSource) learned into a store until the stream is drained.

python tests/trainer_job.py STORE MODE OUT   (MODE: direct | joined)
"""

from __future__ import annotations

import json
import os
import random
import sys
from typing import List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import wabbit  # noqa: E402
from streamkit import ListSource  # noqa: E402
from wabbit.gates import Gate  # noqa: E402
from wabbit.join import LabelJoiner, LabelRecord, PredictionRecord  # noqa: E402
from wabbit.replay import ReplayBuffer  # noqa: E402
from wabbit.trainer import Trainer  # noqa: E402

N = 40_000
FLAGS = "--loss_function logistic -b 16 -q ab"


def direct_lines(n: int = N, seed: int = 7) -> List[str]:
    r = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = r.randrange(40), r.randrange(25)
        y = 1 if (a + b) % 3 == 0 or r.random() < 0.1 else -1
        out.append(f"{y} |a a{a} |b b{b} c{r.randrange(5)}")
    return out


def joined_events(n: int = N // 2, seed: int = 11) -> Tuple[List[str], List[float]]:
    """Predictions and labels on one stream: labels come 0.5-20 s after their prediction,
    5% never, 2% twice; the stream ordered by time."""
    r = random.Random(seed)
    events: List[Tuple[float, str]] = []
    for i in range(n):
        a, b = r.randrange(40), r.randrange(25)
        t = i * 0.01
        events.append((t, PredictionRecord(i, f"|a a{a} |b b{b}", 0.0, t).encode()))
        u = r.random()
        if u < 0.05:
            continue
        y = 1.0 if (a + b) % 3 == 0 else -1.0
        lt = t + 0.5 + r.paretovariate(1.5)
        events.append((lt, LabelRecord(i, y, lt).encode()))
        if u > 0.98:
            events.append((lt + 1.0, LabelRecord(i, y, lt + 1.0).encode()))
    events.sort(key=lambda e: e[0])
    return [e[1] for e in events], [e[0] for e in events]


def make(store_dir: str, mode: str) -> Trainer:
    store = wabbit.ModelStore(store_dir, keep=1000)
    if mode == "direct":
        source = ListSource(direct_lines(), partitions=2)
        return Trainer(
            wabbit.Model(FLAGS),
            source,
            store,
            gate=Gate(margin=0.5, recent=500, holdout=300, max_failures=1000),
            replay=ReplayBuffer(500, ratio=0.2, seed=3),
            holdout_every=20,
            publish_every=1000,
            batch=300,
            poll_timeout=0.0,
        )
    lines, times = joined_events()
    return Trainer(
        wabbit.Model(FLAGS),
        ListSource(lines, partitions=1, times=times),
        store,
        joiner=LabelJoiner(ttl=30.0, max_pending=5000, default_label=-1.0),
        replay=ReplayBuffer(300, strategy="label", ratio=0.1, seed=5),
        publish_every=700,
        batch=250,
        poll_timeout=0.0,
    )


def main(store_dir: str, mode: str, out: str) -> Trainer:
    t = make(store_dir, mode)
    t.run(until=lambda tr: tr.source.lag() == 0)
    idx, w = t.model.weights()
    np.savez(out, idx=idx, w=w)
    with open(out + ".json", "w") as f:
        json.dump(t.counts, f)
    return t


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])

"""A smoke run of bench/bench_pipeline.py at tiny sizes (the bench's own checks compare against
expectations built independently of the trainer: counts by construction, a bare-joiner reference
model, an uninterrupted run). Kept under 20 s; the Kafka part is not run here (the group join alone
takes seconds)."""

from __future__ import annotations

import json
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)

bench_pipeline = pytest.importorskip("bench_pipeline")


def test_crash_two_kills_then_bitwise_equal():
    r = bench_pipeline.bench_crash(40_000, kills=2, seed=3)
    assert r["kills"] == 2 and r["versions_reference"] == 4
    assert r["bitwise_equal"] and r["counts_equal"] and r["versions_equal"] and r["chain_problems"] == []
    assert r["examples_learned_plus_held_out"] == 40_000


def test_late_stream_counts_and_reference(tmp_path):
    path = str(tmp_path / "late.jsonl")
    expected = bench_pipeline.late_stream(path, 3000, seed=9)
    with open(path) as f:
        lines = f.read().splitlines()
    assert len(lines) == expected["lines"] == expected["predictions"] + expected["labels"]
    assert sum('"features"' in x for x in lines) == 3000
    out = str(tmp_path / "out.json")
    bench_pipeline.late_child(path, expected["lines"], out)
    with open(out) as f:
        res = json.load(f)
    assert res["equal"]
    assert {k: res["join"][k] for k in expected if k != "lines"} == {k: v for k, v in expected.items() if k != "lines"}
    assert res["counts"]["examples"] == expected["joined"] + expected["expired_defaulted"] == res["reference_examples"]


def test_replay_run_records_every_progressive_prediction():
    lines, bounds = bench_pipeline.replay_stream(1500, 1500, 1000, seed=1)
    assert bounds == [1500, 3000, 4000]
    loss = bench_pipeline.replay_run(lines, 0.1)
    assert loss.shape == (4000,) and (loss > 0).all()

"""A smoke run of bench/bench_quality.py on two small shipped data sets (under a few seconds): every
learner runs, VW (pip) and wabbit's default give the same numbers, and the recommended regression
configuration beats the running mean where VW's default does not (issue 22)."""

from __future__ import annotations

import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)

pytest.importorskip("river")
pytest.importorskip("sklearn")
bench_quality = pytest.importorskip("bench_quality")


def test_two_sets_every_learner(vw_available):
    reg = bench_quality.run_task({"diabetes": bench_quality.REGRESSION["diabetes (sklearn)"]}, False, 200)
    cls = bench_quality.run_task({"wine": bench_quality.CLASSIFICATION["wine class 0 (sklearn)"]}, True, 178)
    r, c = reg["diabetes"], cls["wine"]
    assert r["n"] == 200 and c["n"] == 178
    assert r["VW (pip)"] == pytest.approx(r["wabbit default (= VW)"], rel=1e-4)
    assert c["VW (pip)"] == pytest.approx(c["wabbit default (= VW)"], rel=1e-4)
    assert r["wabbit recommended"] < r["baseline"] < r["wabbit default (= VW)"]
    assert c["wabbit recommended"] < c["baseline"]
    assert "regression" in "\n".join(bench_quality.acceptance(reg, cls))

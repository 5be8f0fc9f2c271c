"""``wabbit demo --pipeline``: the continuous-training loop end to end on librdkafka's mock cluster
(an ad server asking a replica, the trainer joining late clicks and publishing, the replica
swapping versions in), run once in a subprocess and checked through its ``--json`` summary."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from typing import Any, Dict, Tuple

import pytest

import wabbit

HERE = os.path.dirname(os.path.abspath(__file__))
# the folder the wabbit under test was imported from (a checkout's python/, or site-packages)
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(wabbit.__file__)))

SECONDS = 15
RATE = 2000


def _wabbit(*args: str, timeout: float) -> "subprocess.CompletedProcess[str]":
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "wabbit", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def demo_run() -> Tuple["subprocess.CompletedProcess[str]", Dict[str, Any]]:
    try:
        import confluent_kafka  # noqa: F401
    except ImportError as e:
        pytest.skip(f"the pipeline demo runs on librdkafka's mock cluster: confluent-kafka is not importable ({e})")
    proc = _wabbit("demo", "--pipeline", "--seconds", str(SECONDS), "--rate", str(RATE), "--json", timeout=180)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    summaries = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1, proc.stdout
    return proc, json.loads(summaries[0])


def test_versions_are_published_and_the_replica_serves_them(demo_run: Any) -> None:
    _, m = demo_run
    published = m["published"]
    assert len(published) >= 2, m
    assert published == sorted(set(published)), "versions are published in order, each once"
    served = [int(v) for v in m["served"]]
    # the replica only ever serves versions the trainer published, and at least two of them
    assert set(served) <= set(published), (served, published)
    assert len(set(served)) >= 2, m
    assert served == sorted(served), "a replica following the store moves forward only (no rollback here)"


def test_labels_join_and_missing_clicks_expire_as_negatives(demo_run: Any) -> None:
    _, m = demo_run
    assert m["joined"] > 0
    assert m["joined"] <= m["labels_sent"] <= m["clicks"], m  # a join needs a click label that was sent
    assert m["expired"] > 0  # impressions without a click: learned as -1 at their TTL
    # each prediction the trainer read ends as exactly one of joined, expired, evicted, or still waiting
    assert m["joined"] + m["expired"] + m["evicted"] + m["pending"] == m["predictions"], m
    assert 0 < m["predictions"] <= m["impressions"], m  # the replica logged what the ad server asked
    # the ad server paces itself: about rate x seconds impressions
    assert 0.8 * RATE * SECONDS <= m["impressions"] <= RATE * SECONDS + RATE, m["impressions"]


def test_freshness_is_reported(demo_run: Any) -> None:
    proc, m = demo_run
    p50, p99 = m["freshness_p50"], m["freshness_p99"]
    assert p50 is not None and p99 is not None, m
    assert math.isfinite(p50) and math.isfinite(p99)
    assert 0 < p50 <= p99 < 2 * SECONDS + 10, (p50, p99)
    # and the progress lines printed it while running
    assert re.search(r"freshness p50 [0-9.]+ s p99 [0-9.]+ s", proc.stderr), proc.stderr


def test_progress_lines_and_the_concept_change(demo_run: Any) -> None:
    proc, m = demo_run
    progress = [line for line in proc.stderr.splitlines() if "events/s" in line]
    assert len(progress) >= 3, proc.stderr
    assert "CONCEPT CHANGE" in proc.stderr
    gate = m["gate"]
    assert gate["checked"] == gate["passed"] + gate["failed"] >= len(m["published"])
    assert gate["passed"] == len(m["published"]), "each passed check publishes one version"
    # nothing resumes the trainer by hand: a concept change is accepted by the gate itself, after
    # `confirm` examples of evidence, and said so; a publication (a pass) follows each acceptance
    assert "resume(" not in proc.stderr
    assert proc.stderr.count("CONCEPT CHANGE ACCEPTED") == len(m["changes_accepted_at"]) <= gate.get("changes", 0)
    assert m["confirm"] == 4 * RATE
    if m["changes_accepted_at"]:
        assert min(m["changes_accepted_at"]) > m["concept_change_at"], m


def test_pipeline_flags_need_pipeline() -> None:
    proc = _wabbit("demo", "--seconds", "5", timeout=60)
    assert proc.returncode == 2
    assert "--pipeline" in proc.stderr

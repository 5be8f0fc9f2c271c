"""The daemon's prediction log (``--prediction_log``): what it logs, that labels joined to it
learn what the server predicted, its bound, and a Kafka target on librdkafka's mock cluster."""

from __future__ import annotations

import json
import os
import time

import pytest

import wabbit
from wabbit import LabelJoiner, LabelRecord, PredictionRecord, _core
from wabbit.serve import Client, serve


def test_each_tagged_unlabelled_prediction_is_logged_once_with_the_reply_it_got(tmp_path) -> None:
    path = os.path.join(tmp_path, "predictions.jsonl")
    model = wabbit.Model()
    model.learn("1 |u a |i x")
    lines = [f"'r{i} |u a{i % 3} |i x{i % 5}" for i in range(200)]
    with serve(model, port=0, threads=2, learn=False, prediction_log=path) as server:
        with Client(port=server.port) as client:
            replies = client.predict_many(lines + ["1 'labelled |u a", "|u untagged"])
    records = [PredictionRecord.decode(line) for line in open(path, encoding="utf-8")]
    assert [r.id for r in records] == [f"r{i}" for i in range(200)]  # labelled and untagged lines are not logged
    assert [r.features for r in records] == lines
    # the logged prediction is the reply (the reply has -p's six decimals)
    assert [round(r.prediction, 6) for r in records] == pytest.approx(replies[:200], abs=1e-6)
    assert all(abs(r.prediction - model.predict(r.features)) < 1e-6 for r in records)
    times = [r.time for r in records]
    assert times == sorted(times) and abs(times[-1] - time.time()) < 60


def test_labels_joined_to_the_log_learn_what_was_served(tmp_path) -> None:
    """The loop of issue 17 in small: predictions logged by the server, labels arriving later and
    out of order, joined, learned: the same model as learning the labelled lines directly."""
    path = os.path.join(tmp_path, "predictions.jsonl")
    with serve(wabbit.Model(), port=0, learn=False, prediction_log=path) as server:
        with Client(port=server.port) as client:
            client.predict_many([f"'q{i} |u a{i % 4}" for i in range(50)])
    joiner = LabelJoiner(ttl=3600, max_pending=1000)
    joined = []
    for line in open(path, encoding="utf-8"):
        PredictionRecord.decode(line).feed(joiner)
    labels = [LabelRecord(f"q{i}", float(i % 2), time.time()) for i in reversed(range(50))]
    for label in labels:
        got = label.feed(joiner)
        if got is not None:
            joined.append(got)
    assert len(joined) == 50
    learned = wabbit.Model()
    for j in joined:
        j.learn(learned)
    direct = wabbit.Model()
    for i in reversed(range(50)):
        direct.learn(f"{i % 2} 'q{i} |u a{i % 4}")
    assert learned.predict("|u a1") == direct.predict("|u a1")


def test_a_full_log_drops_and_counts_and_never_blocks_serving() -> None:
    model = wabbit.Model()
    srv = _core.Server(model.core, {"port": 0, "prediction_log": 5}, wabbit.__version__, model.args, "{}")
    out = srv.request("".join(f"'t{i} |f a\n" for i in range(13)))
    assert len(out.splitlines()) == 13
    stats = srv.stats()
    assert stats["predictions_logged"] == 5
    assert stats["predictions_log_dropped"] == 8
    assert [json.loads(line)["id"] for line in srv.take_predictions(100)] == [f"t{i}" for i in range(5)]
    assert srv.take_predictions(100) == []


def test_a_kafka_target_on_the_mock_cluster(tmp_path) -> None:
    pytest.importorskip("confluent_kafka", reason="the kafka extra (confluent-kafka) is not installed")
    from wabbit.stream.kafka import KafkaSource, mock_cluster

    with mock_cluster() as cluster:
        url = f"kafka://{cluster.bootstrap}/predictions"
        with serve(wabbit.Model(), port=0, learn=False, prediction_log=url) as server:
            with Client(port=server.port) as client:
                client.predict_many([f"'k{i} |f a" for i in range(20)])
        config = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
        with KafkaSource(cluster.bootstrap, "predictions", "test-log", config=config) as source:
            got = []
            deadline = time.time() + 30
            while len(got) < 20 and time.time() < deadline:
                got += source.poll(100, 0.5)
        assert sorted(PredictionRecord.decode(r.value).id for r in got) == sorted(f"k{i}" for i in range(20))

"""HTTP/JSON and /metrics beside the line protocol: the same numbers as the Python API, counters
checked against the requests sent, errors that say what to do, rollback and following a store."""

from __future__ import annotations

import json
import math
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
prometheus_parser = pytest.importorskip("prometheus_client.parser")

import cbdata  # noqa: E402
import wabbit as wb  # noqa: E402
from servekit import TIMEOUT, exchange, regression_lines, wait_for  # noqa: E402
from wabbit.serve import Client, ServerError, serve  # noqa: E402
from wabbit.serve import http as serve_http  # noqa: E402
from wabbit.serve import metrics as serve_metrics  # noqa: E402


def post(port, path, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT) as r:
        return r.status, r.read().decode()


def samples(text):
    """{(name, sorted labels): value} of a /metrics page, read by prometheus-client's own parser."""
    out = {}
    for family in prometheus_parser.text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def trained():
    m = wb.Model("-q ua")
    for line in regression_lines(200):
        m.learn(line)
    return m


def test_predict_gives_the_python_apis_numbers(trained):
    dicts = [{"u": {"f1": 0.5, "f7": -1.0}, "a": ["id=3"]}, {"u": {"f2": 2.0}, "a": {"id=1": 1.0}}, {"a": ["id=8"]}]
    with serve(trained, port=0, http_port=0, threads=1, learn=False) as server:
        status, one = post(server.http_port, "/predict", {"example": dicts[0]})
        assert status == 200 and one["prediction"] == trained.predict(dicts[0])  # the same float, exactly
        status, many = post(server.http_port, "/predict", {"examples": dicts + ["|u f1:0.5 f7:-1 |a id=3"]})
        assert status == 200
        assert many["predictions"][:3] == [trained.predict(d) for d in dicts]
        # a text line is answered through the line protocol: -p's six decimals
        assert many["predictions"][3] == pytest.approx(trained.predict(dicts[0]), abs=5e-7)


@pytest.mark.parametrize(
    "flags", ["--cb_explore_adf --epsilon 0.1 -q ua", "--cb_adf -q ua", "--cb_explore_adf --softmax --lambda 5 -q ua"]
)
def test_rank_gives_the_python_apis_numbers(flags):
    m = wb.Model(flags)
    for e in cbdata.events(80, actions=4, seed=6):
        m.learn(e)
    shared = {"u": {"f3": 0.25, "f11": -0.5}}
    candidates = [{"a": {"id=0": 1.0, "kind=0": 1.0}}, {"a": ["id=1", "kind=1"]}, {"a": ["id=2"]}, {"a": ["id=3"]}]
    order, probs = m.rank(shared, candidates)
    with serve(m, port=0, http_port=0, threads=1) as server:
        status, got = post(server.http_port, "/rank", {"shared": shared, "candidates": candidates})
        assert status == 200, got
        assert got["order"] == order.tolist()
        assert np.array_equal(np.asarray(got["probabilities"], dtype=np.float32), probs)
        assert sum(got["probabilities"]) == pytest.approx(1.0, abs=1e-6)
        status, bad = post(server.http_port, "/rank", {"shared": shared, "candidates": []})
        assert status == 400 and "candidates" in bad["error"]
        status, bad = post(server.http_port, "/predict", {"example": "|a x"})
        assert status == 400 and "/rank" in bad["error"]


def test_learn_over_http_learns_as_the_model_does():
    m = wb.Model()
    reference = wb.Model()
    items = ["1 |f a b", {"f": {"b": 1.0, "c": 2.0}}, "-1 'x |f c", {"g": ["d"]}]
    labels = [None, 0.5, None, 2.0]
    with serve(m, port=0, http_port=0, threads=1) as server:
        status, got = post(
            server.http_port, "/learn", {"examples": items, "labels": labels, "weights": [None, 2.0, None, None]}
        )
        assert status == 200, got
        expected = [
            reference.learn(items[0]),
            reference.learn(items[1], label=0.5, weight=2.0),
            reference.learn(items[2]),
            reference.learn(items[3], label=2.0),
        ]
        assert got["predictions"] == pytest.approx(expected, abs=5e-7)
        status, after = post(server.http_port, "/predict", {"example": {"f": ["a", "b", "c"], "g": ["d"]}})
        assert after["prediction"] == reference.predict({"f": ["a", "b", "c"], "g": ["d"]})


def test_bad_requests_get_400_with_what_to_do(trained):
    with serve(trained, port=0, http_port=0, threads=1) as server:
        h = server.http_port
        cases = [
            (b"{not json", "not JSON"),
            (b"[1, 2]", "object"),
            ({"nothing": 1}, '"example"'),
            ({"example": "1 |u f1"}, "/learn"),  # a label: /predict does not learn
            ({"example": 3}, "VW text line or a dict"),
            ({"example": "|f a:1e999x"}, "bad value"),
        ]
        for body, message in cases:
            status, got = post(h, "/predict", body)
            assert status == 400 and message in got["error"], (body, got)
        status, got = post(h, "/learn", {"example": {"f": ["a"]}})
        assert status == 400 and '"label"' in got["error"]
        status, got = post(h, "/model/save", {})
        assert status == 400 and "-f" in got["error"]


def test_health_model_save_and_rollback(trained, tmp_path):
    other = wb.Model("-q ua")
    other.learn("5 |u f1")
    probe = {"u": ["f1"]}
    with serve(trained, port=0, http_port=0, threads=1, learn=False) as server:
        h = server.http_port
        assert get(h, "/healthz") == (200, json.dumps({"status": "ok", "version": ""}, separators=(",", ":")))
        info = json.loads(get(h, "/model")[1])
        assert info["args"] == trained.args and info["options"] == {"quadratic": ["ua"]}
        assert info["lineage"]["examples"] == 200 and info["mode"] == "in-place"
        status, got = post(h, "/model/rollback", {})
        assert status == 409 and "no previous version" in got["error"]
        server.swap(other, "v2")
        assert post(h, "/predict", {"example": probe})[1]["prediction"] == other.predict(probe)
        assert json.loads(get(h, "/model")[1])["version"] == "v2"
        status, got = post(h, "/model/rollback", {})
        assert (status, got) == (200, {"version": "", "previous": "v2"})
        assert post(h, "/predict", {"example": probe})[1]["prediction"] == trained.predict(probe)
        status, got = post(h, "/model/save", {"path": str(tmp_path / "h.model")})
        assert status == 200 and got["path"] == str(tmp_path / "h.model")
    assert wb.load(tmp_path / "h.model").predict(probe) == trained.predict(probe)


def test_metrics_count_the_requests_sent():
    lines = regression_lines(40)
    unlabelled = ["|" + line.split("|", 1)[1] for line in lines[:25]]
    with serve(wb.Model(), port=0, http_port=0, threads=2) as server:
        exchange(server.port, "".join(x + "\n" for x in lines))  # 40 learned
        exchange(server.port, "".join(x + "\n" for x in unlabelled) + "abc |f a\n")  # 25 predicted, 1 bad
        with Client(port=server.port) as c:
            with pytest.raises(ServerError, match="cannot save"):
                c.save("/nonexistent-folder/m.model")
            wait_for(lambda: server.stats()["connections_open"] == 1, "the closed connections to be counted closed")
            status, text = get(server.http_port, "/metrics")
        assert status == 200
    got = samples(text)
    assert got[("wabbit_requests_total", (("kind", "learn"), ("outcome", "ok")))] == 40
    assert got[("wabbit_requests_total", (("kind", "predict"), ("outcome", "ok")))] == 25
    errors = sum(
        v for (name, labels), v in got.items() if name == "wabbit_requests_total" and ("outcome", "error") in labels
    )
    assert errors == 2 and got[("wabbit_errors_total", ())] == 2
    assert got[("wabbit_requests_total", (("kind", "save"), ("outcome", "error")))] == 1
    assert got[("wabbit_examples_learned_total", ())] == 40
    assert got[("wabbit_request_duration_seconds_count", (("kind", "learn"),))] == 40
    assert got[("wabbit_request_duration_seconds_count", (("kind", "predict"),))] == 25
    assert got[("wabbit_request_duration_seconds_bucket", (("kind", "predict"), ("le", "+Inf")))] == 25
    assert got[("wabbit_connections_total", ())] == 3
    assert got[("wabbit_connections_open", ())] == 1  # the client's, still open
    assert got[("wabbit_loss_window_examples", ())] == 40
    assert got[("wabbit_progressive_loss", ())] > 0
    assert got[("wabbit_model_info", (("version", ""),))] == 1
    assert 0 <= got[("wabbit_model_age_seconds", ())] < 600


def test_the_collector_reads_a_stats_dict():
    stats = {
        "requests": {
            "predict_ok": 7,
            "predict_error": 2,
            "learn_ok": 3,
            "learn_error": 0,
            "save_ok": 1,
            "rank_error": 4,
        },
        "latency_bounds": [0.001, 0.01],
        "latency_predict": [4, 2, 1],
        "latency_predict_sum": 0.5,
        "latency_learn": [3, 0, 0],
        "latency_learn_sum": 0.001,
        "examples_learned": 3,
        "loss_window": 0.25,
        "loss_window_count": 3,
        "loss_total": 1.5,
        "loss_count": 3,
        "version": "p4",
        "version_time": 1.0,
        "drift_alarms": 2,
        "connections_open": 5,
        "lines_too_long": 1,
    }
    got = samples(serve_metrics.exposition(serve_metrics.registry(lambda: stats)).decode())
    assert got[("wabbit_requests_total", (("kind", "rank"), ("outcome", "error")))] == 4
    assert got[("wabbit_errors_total", ())] == 6
    bucket = "wabbit_request_duration_seconds_bucket"
    assert [got[(bucket, (("kind", "predict"), ("le", le)))] for le in ("0.001", "0.01", "+Inf")] == [4, 6, 7]
    assert got[("wabbit_request_duration_seconds_sum", (("kind", "predict"),))] == 0.5
    assert got[("wabbit_progressive_loss", ())] == 0.5 and got[("wabbit_loss_window", ())] == 0.25
    assert got[("wabbit_model_info", (("version", "p4"),))] == 1
    assert got[("wabbit_drift_alarms_total", ())] == 2 and got[("wabbit_lines_too_long_total", ())] == 1
    assert got[("wabbit_model_age_seconds", ())] > 1e9  # installed at t=1: as old as the epoch
    empty = samples(serve_metrics.exposition(serve_metrics.registry(lambda: {})).decode())
    assert math.isnan(empty[("wabbit_loss_window", ())])


def test_two_servers_keep_their_own_metrics():
    with serve(wb.Model(), port=0, http_port=0, threads=1) as a, serve(wb.Model(), port=0, http_port=0, threads=1) as b:
        exchange(a.port, "1 |f a\n2 |f b\n")
        ga = samples(get(a.http_port, "/metrics")[1])
        gb = samples(get(b.http_port, "/metrics")[1])
    assert ga[("wabbit_examples_learned_total", ())] == 2 and gb[("wabbit_examples_learned_total", ())] == 0


def test_a_replica_follows_a_store_and_rolls_it_back(tmp_path):
    store = wb.ModelStore(tmp_path / "store")
    first, second = wb.Model(), wb.Model()
    first.learn("1 |f a")
    second.learn("10 |f a")
    store.save(first)
    probe = {"f": ["a"]}
    with serve(
        wb.Model(), port=0, http_port=0, threads=1, learn=False, watch=store.directory, poll_seconds=0.05
    ) as server:
        assert server.version == "1"  # the store's current version from the start
        assert post(server.http_port, "/predict", {"example": probe})[1]["prediction"] == first.predict(probe)
        store.save(second)
        wait_for(lambda: server.version == "2", "the replica to swap in version 2")
        assert post(server.http_port, "/predict", {"example": probe})[1]["prediction"] == second.predict(probe)
        status, got = post(server.http_port, "/model/rollback", {})
        assert (status, got) == (200, {"version": "1", "previous": "2"})
        assert store.current == 1  # the store itself rolled back: every replica follows
        assert post(server.http_port, "/predict", {"example": probe})[1]["prediction"] == first.predict(probe)
        assert json.loads(get(server.http_port, "/model")[1])["following"] == store.directory
    assert server.stats()["swaps"] >= 3


def test_a_missing_extra_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "starlette", None)
    with pytest.raises(ImportError, match=r'pip install "wabbit\[serve\]"'):
        serve_http.require()
    with pytest.raises(ImportError, match=r'pip install "wabbit\[serve\]"'):
        serve(wb.Model(), port=0, http_port=0, threads=1)

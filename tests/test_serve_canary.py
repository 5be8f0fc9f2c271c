"""The canary (issue 17, gates): a candidate answers a share of the requests and is scored beside
the served model on the labelled ones; a candidates store is followed; promotion swaps it in."""

from __future__ import annotations

import time

import pytest

import wabbit
from wabbit import _core
from wabbit.serve import Client, serve


def constant_model(label: float, times: int = 30) -> wabbit.Model:
    m = wabbit.Model(bits=12)
    for _ in range(times):
        m.learn(f"{label} |a x")
    return m


def test_the_candidate_answers_exactly_its_share_and_both_are_scored_on_labelled_requests() -> None:
    champion, candidate = constant_model(1.0), constant_model(-1.0)
    p_champion, p_candidate = champion.predict("|a x"), candidate.predict("|a x")
    assert p_champion > 0.9 and p_candidate < -0.9
    with serve(champion, port=0, threads=1, learn=False) as server:
        server.set_candidate(candidate, "c1", fraction=0.25)
        assert server.candidate_version == "c1"
        with Client(port=server.port) as client:
            replies = client.predict_many([f"'r{i} |a x" for i in range(40)])
            client.predict("0.5 |a x")  # labelled: scored by both (not learned: -t)
        from_candidate = [r for r in replies if r < 0]
        assert len(from_candidate) == 10  # every 4th request of the one worker
        assert replies[3] < 0 and replies[0] > 0
        canary = server.stats()["canary"]
        assert canary["requests"] == 10
        assert canary["paired_count"] == 1
        # squared loss of each model on the labelled request, by hand
        assert canary["champion_loss_window"] == pytest.approx((0.5 - p_champion) ** 2, rel=1e-5)
        assert canary["candidate_loss_window"] == pytest.approx((0.5 - p_candidate) ** 2, rel=1e-5)
        assert server.promote_candidate() == "c1"
        assert server.version == "c1" and server.candidate_version is None
        with Client(port=server.port) as client:
            assert client.predict("|a x") == pytest.approx(p_candidate, abs=1e-6)


def test_a_candidates_store_is_followed(tmp_path) -> None:
    store = wabbit.ModelStore(tmp_path / "candidates")
    with serve(
        constant_model(1.0), port=0, threads=1, learn=False, canary=0.5, candidates=store.directory, poll_seconds=0.05
    ) as server:
        assert server.candidate_version is None
        store.save(constant_model(-1.0))
        deadline = time.time() + 10
        while server.candidate_version != "1" and time.time() < deadline:
            time.sleep(0.05)
        assert server.candidate_version == "1"
        with Client(port=server.port) as client:
            replies = client.predict_many([f"'r{i} |a x" for i in range(10)])
        assert sum(r < 0 for r in replies) == 5
        assert server.version == ""  # the served model is unchanged


def test_canary_refusals() -> None:
    model = constant_model(1.0)
    with pytest.raises(ValueError, match="together"):
        serve(model, port=0, canary=0.1)
    srv = _core.Server(model.core, {"port": 0}, wabbit.__version__, model.args, "{}")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        srv.set_candidate(model.core, "x", model.args, "{}", 1.5)
    with pytest.raises(ValueError, match="-b"):
        other = wabbit.Model(bits=14)
        srv.set_candidate(other.core, "x", other.args, "{}", 0.1)
    with pytest.raises(RuntimeError, match="no candidate"):
        srv.promote_candidate()
    bandit = wabbit.Model("--cb_explore_adf")
    bsrv = _core.Server(bandit.core, {"port": 0}, wabbit.__version__, bandit.args, "{}")
    with pytest.raises(ValueError, match="linear"):
        bsrv.set_candidate(bandit.core, "x", bandit.args, "{}", 0.1)


def test_metrics_show_the_canary(tmp_path) -> None:
    pytest.importorskip("prometheus_client", reason="the serve extra (prometheus-client) is not installed")
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with serve(constant_model(1.0), port=0, http_port=0, threads=1, learn=False) as server:
        server.set_candidate(constant_model(-1.0), "c9", fraction=0.5)
        with Client(port=server.port) as client:
            client.predict_many([f"'r{i} |a x" for i in range(6)])
        text = urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics", timeout=10).read().decode()
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert got[("wabbit_canary_requests_total", ())] == 3
    assert got[("wabbit_canary_info", (("version", "c9"),))] == 1

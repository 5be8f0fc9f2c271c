"""The Python contextual-bandit API: events as text, lines or dicts; learn/predict/rank/sample.

References: VW's own -p output on the same events (pmfs), a linear model trained on the expanded
regression problem (cb_adf's scores under --cb_type dm), VW's merand48 and sampling rule written
out here from VW's explore library, and hand arithmetic.
"""

from __future__ import annotations

import math
import re
import threading

import numpy as np
import pytest

import cbdata
import vwcompare
import wabbit


def text_to_dicts(event: str):
    """An ADF text event -> (shared dict, [action dicts], label or None) with the same features."""
    shared = None
    actions = []
    label = None

    def feats(part: str):
        out = {}
        for group in part.split("|")[1:]:
            toks = group.split()
            ns, rest = toks[0], toks[1:]
            d = out.setdefault(ns, {})
            for t in rest:
                name, _, value = t.partition(":")
                d[name] = float(value) if value else 1.0
        return out

    for line in event.strip("\n").split("\n"):
        head = line.split("|")[0].split()
        if head[:1] == ["shared"]:
            shared = feats(line)
            continue
        if head:
            a, c, p = head[0].split(":")
            label = (len(actions), float(c), float(p))
        actions.append(feats(line))
    return shared, actions, label


def strip_label(event: str) -> str:
    return "\n".join(re.sub(r"^\d+:[^ ]+ ", "", line) for line in event.strip("\n").split("\n"))


@pytest.fixture(scope="module")
def events():
    return cbdata.events(400, seed=21, unlabeled_every=9)


def vw_pmfs(tmp_path, flags, events, run_vw):
    path = tmp_path / "ev.ldf"
    path.write_text("\n".join(events) + "\n")
    proc = run_vw(flags.split() + ["-d", str(path), "-p", "p.txt", "--quiet"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    out = []
    for line in (tmp_path / "p.txt").read_text().splitlines():
        if line.strip():
            pairs = [item.split(":") for item in line.split()[0].split(",")]
            pmf = np.zeros(len(pairs))
            for a, p in pairs:
                pmf[int(a)] = float(p)
            out.append(pmf)
    return out


@pytest.mark.parametrize(
    "flags",
    [
        "--cb_explore_adf -q ua --epsilon 0.1",
        "--cb_explore_adf -q ua --softmax --lambda 5",
        "--cb_explore_adf -q ua --squarecb --cb_type mtr",
    ],
)
@pytest.mark.parametrize("form", ["text", "lines", "dicts"])
def test_learn_returns_vws_pmf_in_action_order(flags, form, events, tmp_path, run_vw):
    """learn(event) returns the pmf predicted before the update, in the event's action order: VW's
    -p pmfs, whichever form the event takes (labels in the text, or label=(index, cost, p))."""
    expected = vw_pmfs(tmp_path, flags, events, run_vw)
    m = wabbit.Model(flags)
    for i, ev in enumerate(events):
        if form == "text":
            got = m.learn(ev)
        elif form == "lines":
            lines = strip_label(ev).split("\n")
            _, _, label = text_to_dicts(ev)
            got = m.learn(lines, label=label)
        else:
            shared, actions, label = text_to_dicts(ev)
            got = m.learn((shared, actions), label=label)
        assert got.dtype == np.float32 and got.shape == (10,)
        np.testing.assert_allclose(got, expected[i], atol=1e-4, err_msg=f"event {i}")
    assert m.stats["example_number"] == len(events)


def test_predict_changes_nothing_and_equals_learns_prediction(events):
    m = wabbit.Model("--cb_explore_adf -q ua --epsilon 0.2")
    for ev in events[:100]:
        m.learn(ev)
    ev = events[100]
    before = m.predict(ev)
    stats = m.stats
    assert np.array_equal(m.predict(ev), before)
    assert m.stats == stats
    np.testing.assert_array_equal(m.learn(ev), before)
    assert math.isclose(float(before.sum()), 1.0, rel_tol=1e-6)


def test_cb_adf_scores_are_the_regression_on_merged_examples(events):
    """--cb_adf --cb_type dm learns, for every action, the regression "cost on the chosen action, 0
    elsewhere" on the action's features plus the shared ones; its predict() returns those
    regressions' raw scores. A plain linear model trained on the same merged lines gives them too."""
    cb = wabbit.Model("--cb_adf --cb_type dm -q ua")
    lin = wabbit.Model("-q ua")
    for ev in events[:150]:
        shared, actions, label = text_to_dicts(ev)
        merged = [{**a, **(shared or {})} for a in actions]
        if label is not None:
            for i, a in enumerate(merged):
                lin.learn(a, label=label[1] if i == label[0] else 0.0)
        cb.learn(ev)
    shared, actions, _ = text_to_dicts(events[150])
    scores = cb.predict(events[150])
    expected = [sum(c.contribution for c in lin.explain({**a, **shared})) for a in actions]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert len(set(np.round(scores, 4))) > 3  # not all equal: the check has teeth


def test_rank_orders_candidates_and_gives_the_pmf(events):
    m = wabbit.Model("--cb_explore_adf -q ua --epsilon 0.3")
    for ev in events[:200]:
        m.learn(ev)
    shared, actions, _ = text_to_dicts(events[200])
    order, probs = m.rank(shared, actions)
    assert order.dtype == np.int64 and probs.dtype == np.float32
    assert sorted(order.tolist()) == list(range(10))
    pmf = m.predict((shared, actions))
    np.testing.assert_array_equal(probs, pmf[order])
    np.testing.assert_array_equal(pmf, m.predict(strip_label(events[200])))  # dicts and text agree
    assert probs[0] == pytest.approx(0.7 + 0.03) and np.allclose(probs[1:], 0.03)  # epsilon 0.3 over 10, no ties
    # without a shared context, and with a greedy (--cb_adf) model: one-hot on the best score
    greedy = wabbit.Model("--cb_adf -q ua")
    for ev in events[:200]:
        greedy.learn(ev)
    order, probs = greedy.rank(shared, actions)
    scores = greedy.predict((shared, actions))
    assert order[0] == int(np.argmin(scores)) and probs.tolist() == [1.0] + [0.0] * 9
    order, probs = greedy.rank(None, actions)
    assert len(order) == 10 and probs.sum() == 1.0


def test_rank_is_thread_safe():
    # (its speed is measured by bench/bench_cb.py, beside pyvw's, not asserted here)
    m = wabbit.Model("--cb_explore_adf --epsilon 0.1 -q ua -b 22")
    rng = np.random.default_rng(0)
    shared = {"u": {f"f{i}": float(rng.random()) for i in range(10)}}
    cands = [{"a": {f"id={i}": 1.0, f"k={i % 7}": 1.0, "price": float(rng.random())}} for i in range(1000)]
    for _ in range(100):
        m.learn((shared, cands[:10]), label=(int(rng.integers(10)), float(rng.random()), 0.1))
    expected = m.rank(shared, cands)
    results = [None] * 4

    def worker(k):
        for _ in range(20):
            results[k] = m.rank(shared, cands)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert np.array_equal(r[0], expected[0]) and np.array_equal(r[1], expected[1])


def vw_merand48(state: int):
    """VW's merand48 (random_details.h), written out: returns (draw, new state)."""
    state = (0xEECE66D5DEECE66D * state + 2147483647) % 2**64
    bits = ((state >> 25) & 0x7FFFFF) | (127 << 23)
    return float(np.array([bits], dtype=np.uint32).view(np.float32)[0]) - 1.0, state


def vw_sample(pmf, draw: float) -> int:
    """VW's sample_after_normalizing in float32 arithmetic."""
    pmf = np.asarray(pmf, dtype=np.float32)
    total = np.float32(0)
    for p in pmf:
        total = np.float32(total + max(p, np.float32(0)))
    d = np.float32(total * np.float32(draw))
    s = np.float32(0)
    for i, p in enumerate(pmf):
        s = np.float32(s + p)
        if s > d:
            return i
    return len(pmf) - 1


def test_sample_is_vws_draw_and_sampler(events):
    m = wabbit.Model("--cb_explore_adf -q ua --softmax --lambda 3")
    for ev in events[:100]:
        m.learn(ev)
    ev = events[100]
    pmf = m.predict(ev)
    for seed in (0, 1, 7, 12345, 2**63 + 5):
        draw, _ = vw_merand48(seed)
        action, p = m.sample(ev, seed=seed)
        assert action == vw_sample(pmf, draw)
        assert p == pytest.approx(float(pmf[action]), rel=1e-6)
        assert m.sample(ev, seed=seed) == (action, p)


def test_sample_frequencies_follow_the_pmf():
    m = wabbit.Model("--cb_explore_adf --epsilon 0.4 --random_seed 3")
    ev = ({"u": {"x": 1.0}}, [{"a": ["p"]}, {"a": ["q"]}, {"a": ["r"]}, {"a": ["s"]}])
    for _ in range(20):
        m.learn(ev, label=(2, 0.0, 0.25))
        m.learn(ev, label=(0, 1.0, 0.25))
    pmf = m.predict(ev)
    assert pmf[2] == pytest.approx(0.6 + 0.1)  # the learned best action: 1 - 0.4 + 0.4/4
    n = 4000
    counts = np.bincount([m.sample(ev)[0] for _ in range(n)], minlength=4)  # the model's own generator
    for k in range(4):
        sd = math.sqrt(n * pmf[k] * (1 - pmf[k]))
        assert abs(counts[k] - n * pmf[k]) < 5 * sd, (counts, pmf)
    # the generator is seeded by --random_seed: two fresh models draw the same sequence
    a, b = (
        wabbit.Model("--cb_explore_adf --epsilon 1 --random_seed 9"),
        wabbit.Model("--cb_explore_adf --epsilon 1 --random_seed 9"),
    )
    assert [a.sample(ev)[0] for _ in range(50)] == [b.sample(ev)[0] for _ in range(50)]


def test_save_load_and_copy_keep_the_bandit_state(tmp_path, events):
    """A model saved mid-stream and loaded goes on exactly as the uninterrupted one (SquareCB's
    counter, mtr's event/action sums and tau-first's countdown live beside the weights)."""
    for flags in (
        "--cb_explore_adf -q ua --squarecb",
        "--cb_explore_adf -q ua --first 80 --cb_type dr",
        "--cb_explore_adf -q ua --bag 3 --epsilon 0.05",
    ):
        whole = wabbit.Model(flags)
        half = wabbit.Model(flags)
        for ev in events[:60]:
            whole.learn(ev)
            half.learn(ev)
        half.save(tmp_path / "m.model")
        resumed = wabbit.load(tmp_path / "m.model")
        copied = half.copy()
        for ev in events[60:160]:
            w = whole.learn(ev)
            np.testing.assert_array_equal(resumed.learn(ev), w, err_msg=flags)
            np.testing.assert_array_equal(copied.learn(ev), w, err_msg=flags)


def test_fixed_actions_api():
    m = wabbit.Model("--cb_explore 3 --epsilon 0.3")
    p = m.learn("2:0:0.5 |u a b")
    np.testing.assert_allclose(p, [1 / 3] * 3, rtol=1e-6)  # nothing learned yet: all tied
    for _ in range(10):
        m.learn("2:0:0.5 |u a b")
        m.learn("|u a b", label=(0, 1.0, 0.5))
    # mtr learns only the chosen action: action 3 (never chosen) still scores 0, tied with action 2
    np.testing.assert_allclose(m.predict("|u a b"), [0.1, 0.45, 0.45], rtol=1e-6)
    for _ in range(10):
        m.learn("3:1:0.5 |u a b")
    np.testing.assert_allclose(m.predict("|u a b"), [0.1, 0.8, 0.1], rtol=1e-6)
    with pytest.raises(TypeError):
        m.predict(({"u": ["a"]}, []))


def test_learn_many_and_predict_many_on_events(events):
    """Batches of events go through the core: learn_many gives what learn() gives event by event,
    predict_many what predict() gives, and predict_many changes nothing."""
    one = wabbit.Model("--cb_explore_adf -q ua --epsilon 0.1")
    many = wabbit.Model("--cb_explore_adf -q ua --epsilon 0.1")
    expected = np.concatenate([one.learn(ev) for ev in events[:100]])
    got = many.learn_many("\n".join(events[:100]).encode())
    np.testing.assert_array_equal(got, expected)
    assert many.stats["example_number"] == 100
    stats = many.stats
    preds = many.predict_many("\n".join(events[100:120]).encode())
    np.testing.assert_array_equal(preds, np.concatenate([many.predict(ev) for ev in events[100:120]]))
    assert many.stats == stats


@pytest.mark.parametrize("cb_type", ["mtr", "dr"])
def test_cb_adf_predict_gives_vws_scores(cb_type, events, tmp_path, run_vw):
    """predict() of a --cb_adf model is VW's score per action (--rank_all), event by event."""
    flags = f"--cb_adf -q ua --cb_type {cb_type} --rank_all"
    expected = vw_pmfs(tmp_path, flags, events[:200], run_vw)  # action:score lines, in action order
    m = wabbit.Model(flags)
    for i, ev in enumerate(events[:200]):
        np.testing.assert_allclose(m.predict(ev), expected[i], atol=1e-4, rtol=1e-4, err_msg=f"event {i}")
        m.learn(ev)
    assert np.ptp(expected[-1]) > 0.01  # the scores differ between actions: the check has teeth

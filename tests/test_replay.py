"""The replay buffer: uniform and stratified reservoirs, the mixing ratio, exact restarts."""

from __future__ import annotations

import collections
import doctest
import json
import pickle

import pytest

from wabbit import replay
from wabbit.replay import ReplayBuffer, example_label


def _index(line: str) -> int:
    return int(line.rsplit("x", 1)[1])


def test_docstring_examples():
    result = doctest.testmod(replay, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_first_capacity_examples_are_all_kept_then_the_size_stays():
    buf = ReplayBuffer(capacity=10, seed=0)
    for i in range(10):
        buf.add(f"1 |f x{i}")
    assert sorted(_index(x) for x in buf) == list(range(10))
    for i in range(10, 1000):
        buf.add(f"1 |f x{i}")
        assert len(buf) == 10
    assert buf.strata == {0: (10, 1000)}


def test_the_uniform_reservoir_is_uniform_over_the_stream():
    """Over 300 seeds, a 50-example reservoir of a 1000-example stream: how often each tenth of
    the stream is in it. Each example is kept with probability 50/1000, so each tenth is expected
    300 * 50 / 10 = 1500 times; chi-square over the 10 tenths against its 0.1% critical value
    (27.88 for 9 degrees of freedom). Keeping the last 50 (a plain window) would put them all in
    the last tenth; a biased replacement (e.g. randrange(seen - 1)) skews the tenths too."""
    counts = collections.Counter()
    seeds, n, k = 300, 1000, 50
    for seed in range(seeds):
        buf = ReplayBuffer(capacity=k, seed=seed)
        for i in range(n):
            buf.add(f"1 |f x{i}")
        counts.update(_index(x) * 10 // n for x in buf)
    expected = seeds * k / 10
    chi2 = sum((counts[b] - expected) ** 2 / expected for b in range(10))
    assert chi2 < 27.88, (chi2, sorted(counts.items()))


def test_mix_returns_the_example_then_replays_at_the_ratio():
    buf = ReplayBuffer(capacity=100, ratio=0.1, seed=4)
    total_replayed = 0
    for i in range(5000):
        out = buf.mix(f"1 |f x{i}")
        assert out[0] == f"1 |f x{i}"
        # replays come from the past only (the example is added after they are drawn)
        assert all(_index(x) < i for x in out[1:])
        total_replayed += len(out) - 1
    # the first example has no past; each later one adds 0.1 to the credit
    assert abs(total_replayed - 0.1 * 4999) <= 1
    assert buf.replayed == total_replayed
    # a ratio above 1 replays several per example
    many = ReplayBuffer(capacity=10, ratio=2.5, seed=0)
    sizes = [len(many.mix(f"1 |f x{i}")) - 1 for i in range(101)]
    assert sizes[0] == 0 and sum(sizes) == 250


def test_the_ratio_zero_never_replays_but_fills():
    buf = ReplayBuffer(capacity=5, ratio=0.0)
    assert all(buf.mix(f"1 |f x{i}") == [f"1 |f x{i}"] for i in range(50))
    assert len(buf) == 5


def test_the_same_seed_gives_the_same_mix_and_another_seed_another():
    def run(seed):
        buf = ReplayBuffer(capacity=20, ratio=0.3, seed=seed)
        return [buf.mix(f"1 |f x{i}") for i in range(500)]

    assert run(11) == run(11)
    assert run(11) != run(12)


@pytest.mark.parametrize("strategy", ["uniform", "time", "label"])
def test_state_restore_continues_bitwise_identically(strategy):
    def items(lo, hi):
        return [(({"f": {f"x{i}": 1.0}}, float(i % 3 == 0)), float(i // 40)) for i in range(lo, hi)]

    a = ReplayBuffer(capacity=30, strategy=strategy, ratio=0.4, seed=9, window=5.0)
    for example, t in items(0, 700):
        a.mix(example, time=t)
    through_json = ReplayBuffer.restore(json.loads(json.dumps(a.state())))
    through_pickle = pickle.loads(pickle.dumps(a.state()))
    b = ReplayBuffer.restore(through_pickle)
    rest = items(700, 1400)
    out_a = [a.mix(example, time=t) for example, t in rest]
    assert out_a == [b.mix(example, time=t) for example, t in rest]
    assert out_a == [through_json.mix(example, time=t) for example, t in rest]
    assert a.state() == b.state() == through_json.state()


def test_label_strata_get_equal_shares_and_equal_replay():
    buf = ReplayBuffer(capacity=100, strategy="label", ratio=1.0, seed=2)
    replayed = collections.Counter()
    for i in range(20_000):
        line = ("1" if i % 20 == 0 else "-1") + f" |f x{i}"  # 5% positives
        for x in buf.mix(line)[1:]:
            replayed[example_label(x)] += 1
    assert buf.strata[1.0][0] == 50 and buf.strata[-1.0][0] == 50
    assert (buf.strata[1.0][1], buf.strata[-1.0][1]) == (1000, 19000)
    # strata drawn uniformly: positives are about half the replays (binomial sd ~ 70 of 20000)
    share = replayed[1.0] / sum(replayed.values())
    assert 0.48 < share < 0.52, share


def test_label_strata_with_a_key_and_a_cap():
    buf = ReplayBuffer(capacity=10, strategy="label", key=lambda x: x[1] > 0.5, max_strata=2)
    for i in range(100):
        buf.add(({"f": ["a"]}, i / 100))
    assert set(buf.strata) == {False, True} and len(buf) == 10
    capped = ReplayBuffer(capacity=10, strategy="label", max_strata=2)
    for y in (1, 2, 3, 3):
        capped.add(f"{y} |f a")
    assert set(capped.strata) == {1.0, 2.0} and capped.refused == 2


def test_time_windows_get_equal_shares_and_old_windows_merge_uniformly():
    """Windows of 10 s, at most 5 of them: the oldest merge. After 1000 s (100 windows), the merged
    stratum holds a sample of the first 960 s; over 100 seeds, its examples are spread evenly over
    those 960 s (each 96-s tenth expected 1/10 of them; a merge that kept the newer window's items
    over the older ones would pile them into the last tenths)."""
    tenths = collections.Counter()
    for seed in range(100):
        buf = ReplayBuffer(capacity=100, strategy="time", window=10.0, max_strata=5, seed=seed)
        for i in range(1000):
            buf.add(f"1 |f x{i}", time=float(i))
        strata = buf.strata
        assert list(strata) == [95, 96, 97, 98, 99]
        assert strata[95][1] == 960 and all(strata[w] == (10, 10) for w in (96, 97, 98, 99))
        tenths.update(_index(x) * 10 // 960 for x in buf if _index(x) < 960)
    total = sum(tenths.values())
    expected = total / 10
    chi2 = sum((tenths[b] - expected) ** 2 / expected for b in range(10))
    assert chi2 < 27.88, (chi2, sorted(tenths.items()))


def test_time_windows_by_example_count_when_no_time_is_given():
    buf = ReplayBuffer(capacity=40, strategy="time", window=100)
    for i in range(400):
        buf.add(f"1 |f x{i}")
    assert list(buf.strata) == [0, 1, 2, 3] and all(kept == 10 for kept, _ in buf.strata.values())


def test_example_label_reads_lines_and_pairs():
    assert example_label("0.5 |f a") == 0.5
    assert example_label("-2 3 'tag|f a") == -2.0
    assert example_label("|f a") is None and example_label("") is None
    assert example_label(({"f": ["a"]}, None)) is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": 5, "strategy": "newest"}, "strategy"),
        ({"capacity": 5, "ratio": -0.1}, "ratio"),
        ({"capacity": 5, "window": 0}, "window"),
        ({"capacity": 5, "key": len}, "key"),
    ],
)
def test_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReplayBuffer(**kwargs)


# ---------------------------------------------------------------------------- keep_rates
# Hand computations of one replayed example's update. With --adaptive -l 0.5 (no normalization, no
# importance-invariant closed form) VW's logistic step on a binary feature is
#   G += weight * d^2,  w += eta * weight * y / (1 + exp(y p)) / sqrt(G)   (the new G),
# where p is the prediction before the update and d = -y / (1 + exp(y p)) the loss's derivative.
# keep_rates makes the same step with the accumulator grown by 2^-10 of that: the step uses
# sqrt(G_before + 2^-10 * weight * d^2) and G keeps it.
EPS = 2.0**-10


def _rows(model, line):
    """{feature name: (weight, adaptive accumulator)} of the line's features."""
    return {
        name: tuple(float(v) for v in model.core.weight_row(i)[:2])
        for name, i, _, _ in model.core.explain_line(line.encode())
    }


def _warm(flags):
    import wabbit

    m = wabbit.Model(flags)
    for line in ("1 |f a", "1 |f a b", "-1 |f b", "1 |f a"):
        m.learn(line)
    return m


@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("example", ["-1 |f a b", "-1 2 'tag |f a b", ({"f": ["a", "b"]}, -1.0)])
def test_a_replayed_example_takes_the_same_step_without_growing_the_accumulators(keep, example):
    import math

    m = _warm("--adaptive -l 0.5 --loss_function logistic")
    line = example if isinstance(example, str) else "-1 |f a b"
    weight = 2.0 if "'tag" in line else 1.0
    before = _rows(m, line)
    p = float(m.predict(line))
    y = -1.0
    d2 = (1.0 / (1.0 + math.exp(y * p))) ** 2
    grow = weight * d2 * (EPS if keep else 1.0)
    ReplayBuffer(10, keep_rates=keep).learn(m, example)
    after = _rows(m, line)
    assert set(after) == {"f^a", "f^b", "Constant"}
    for name, (w0, g0) in before.items():
        w1, g1 = after[name]
        assert g1 == pytest.approx(g0 + grow, rel=1e-5)
        assert w1 == pytest.approx(w0 + 0.5 * weight * y / (1.0 + math.exp(y * p)) / math.sqrt(g0 + grow), rel=1e-5)


def test_keep_rates_with_the_default_update_grows_the_accumulators_by_2_to_the_minus_10():
    """VW's default (adaptive, normalized, invariant): on binary features the accumulator grows by
    weight * d^2 exactly; the step is the invariant closed form (not recomputed here), in the
    same direction and larger than a plain replay's (the step sizes did not shrink)."""
    import math

    steps = {}
    for keep in (True, False):
        m = _warm("--loss_function logistic")
        before = _rows(m, "-1 |f a b")
        p = float(m.predict("-1 |f a b"))
        d2 = (1.0 / (1.0 + math.exp(-p))) ** 2
        ReplayBuffer(10, keep_rates=keep).learn(m, "-1 |f a b")
        after = _rows(m, "-1 |f a b")
        for name, (_, g0) in before.items():
            assert after[name][1] == pytest.approx(g0 + d2 * (EPS if keep else 1.0), rel=1e-5)
        steps[keep] = {name: after[name][0] - before[name][0] for name in before}
    for name in steps[True]:
        assert steps[True][name] < steps[False][name] < 0


def test_keep_rates_restores_the_models_rate_factor():
    import math

    m = _warm("--adaptive -l 0.5 --loss_function logistic")
    m.core.set_rate_factor(2.0)  # as a drift response would
    (w0, g0) = _rows(m, "1 |f a")["f^a"]
    p = float(m.predict("1 |f a"))
    ReplayBuffer(10).learn(m, "1 |f a")
    assert m.core.rate_factor() == 2.0
    grow = EPS * (1.0 / (1.0 + math.exp(p))) ** 2
    assert _rows(m, "1 |f a")["f^a"][0] == pytest.approx(
        w0 + 2.0 * 0.5 / (1.0 + math.exp(p)) / math.sqrt(g0 + grow), rel=1e-5
    )


@pytest.mark.parametrize("flags", ["--ftrl --loss_function logistic", "--perceptron"])
def test_other_update_rules_learn_replays_as_new_examples(flags):
    models = [_warm(flags), _warm(flags)]
    ReplayBuffer(10, keep_rates=True).learn(models[0], "-1 |f a b")
    models[1].learn("-1 |f a b")
    assert _rows(models[0], "-1 |f a b") == _rows(models[1], "-1 |f a b")


def test_keep_rates_is_in_the_state_and_older_states_replay_as_before():
    for keep in (True, False):
        buf = ReplayBuffer(10, keep_rates=keep)
        buf.add("1 |f a")
        state = json.loads(json.dumps(buf.state()))
        assert ReplayBuffer.restore(state).keep_rates is keep
    del state["keep_rates"]
    assert ReplayBuffer.restore(state).keep_rates is False
    assert ReplayBuffer(10).keep_rates is True


@pytest.mark.parametrize(
    "line",
    [
        "1 |f a",
        "-1 2 'tag |f a",
        "0.5 2.5 -0.25 |f a b:2\n",
        "1 'x|f a",
        "  -1 |f a",
        "1e0 2 |f a",
        "-0.75 1.5e-1 3 |f a",
        "1\t3 |f a",
        "1. 7 'req42|f a |g b",
    ],
)
def test_a_keep_rates_line_is_the_line_at_2_to_the_minus_10_of_its_weight(line):
    """Whatever the header's form, the core reads the rewritten line with the same label, initial
    value and features, and exactly 2^-10 of the importance weight."""
    from wabbit import _core
    from wabbit.replay import _keep_rates_line

    out = _keep_rates_line(line)
    _, _, y0, w0, b0, _, feats0, _ = _core.parse_line(line.rstrip("\n").encode())
    status, _, y1, w1, b1, _, feats1, _ = _core.parse_line(out.encode())
    assert status == "example" and (y1, b1, feats1) == (y0, b0, feats0)
    assert w1 == w0 * EPS


@pytest.mark.parametrize("line", ["|f a", "'tag |f a", "no bar"])
def test_lines_without_a_label_are_left_to_the_core(line):
    from wabbit.replay import _keep_rates_line

    assert _keep_rates_line(line) is None

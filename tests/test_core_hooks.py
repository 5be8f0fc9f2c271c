"""The core's hooks for monitored learning: batches of signals, a shadow learner, in-place swap."""

import numpy as np
import pytest

import wabbit

LINES = [f"{1 if i % 3 else -1} |a x{i % 7} y{i % 5} |b z{i % 11}" for i in range(300)]


def run(model, every, hook, shadow=None):
    opts = {"every": every, "hook": hook, "signals": True, "collect": True}
    if shadow is not None:
        opts["shadow"] = shadow._core
    return model._core.run_buffer("\n".join(LINES).encode(), opts)


def test_signals_come_in_batches_and_match_the_progressive_predictions():
    m = wabbit.Model("--loss_function logistic")
    batches = []
    res = run(m, 100, lambda n: batches.append(m._core.take_signals()))
    assert [len(b["loss"]) for b in batches] == [100, 100, 100]
    preds = np.concatenate([b["prediction"] for b in batches])
    assert np.array_equal(preds, res["predictions"])
    labels = np.concatenate([b["label"] for b in batches])
    margins = labels * preds.astype(np.float64)
    expected = np.log1p(np.exp(-margins))  # logistic loss, by hand
    np.testing.assert_allclose(np.concatenate([b["loss"] for b in batches]), expected, rtol=1e-5)


def test_shadow_learns_the_same_examples_and_reports_its_own_signals():
    m, shadow = wabbit.Model("--loss_function logistic"), wabbit.Model("--loss_function logistic")
    batches = []
    run(m, 150, lambda n: batches.append(m._core.take_signals()), shadow=shadow)
    # a fresh shadow fed the same stream is the same model
    assert [shadow.predict(line) for line in LINES[:20]] == [m.predict(line) for line in LINES[:20]]
    for b in batches:
        assert np.array_equal(b["shadow_prediction"], b["prediction"])
        assert np.array_equal(b["shadow_loss"], b["loss"])


def test_swap_in_a_hook_takes_effect_for_the_rest_of_the_run():
    m = wabbit.Model("--loss_function logistic")
    other = wabbit.Model("--loss_function logistic")
    other.learn_many(["1 |a x0 y0 |b z0"] * 50)  # a different model
    expected_after = other.copy()

    def hook(n):
        if n == 60:
            m._core.swap_learner(other._core)

    res = run(m, 60, hook)
    seen = res["predictions"]
    # example 61 is predicted by what was `other` (before learning it)
    assert seen[60] == expected_after.predict(LINES[60])
    # and `other` now holds what m had learned from the first 60 examples
    reference = wabbit.Model("--loss_function logistic")
    reference.learn_many(LINES[:60])
    assert other.predict(LINES[0]) == reference.predict(LINES[0])


def test_reset_and_rate_factor():
    m = wabbit.Model("--sgd -l 0.1")
    m.learn_many(LINES[:50])
    m._core.reset_learner()
    assert m.predict(LINES[0]) == 0.0
    slow, fast = wabbit.Model("--sgd -l 0.1"), wabbit.Model("--sgd -l 0.1")
    fast._core.set_rate_factor(2.0)
    slow.learn("1 |a x"), fast.learn("1 |a x")
    # plain SGD's first step is proportional to the learning rate
    assert fast.predict("|a x") == pytest.approx(2 * slow.predict("|a x"), rel=1e-6)

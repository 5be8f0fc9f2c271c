"""--standardize_labels (issue 22): squared loss on labels standardised online.

The reference is a hand computation: the running mean and deviation of the labels (importance
weighted, in float64) give each example's standardised label z; a plain model (VW's rule) trained on
those z, and its predictions put back on the labels' scale with the statistics from before each
label, must be what the flag gives. Saving and loading in the middle changes nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

import wabbit
from wabbit.options import OptionError, parse_args


def stream(n, seed, scale=1000.0, offset=5000.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    w = np.array([1.0, -2.0, 0.5, 0.0])
    y = offset + scale * (X @ w + 0.3 * rng.normal(size=n))
    weights = rng.choice([1.0, 0.5, 2.0], size=n)
    return X, y, weights


def text(X, labels, weights):
    return [
        f"{lab} {wt:g} |f " + " ".join(f"x{j}:{v:.6f}" for j, v in enumerate(row))
        for row, lab, wt in zip(X, labels, weights)
    ]


def test_predictions_are_a_plain_model_on_standardised_labels_by_hand():
    X, y, wts = stream(3000, 7)
    y32 = y.astype(np.float32).astype(np.float64)  # the labels as the parser reads them
    ours = wabbit.Model("--standardize_labels").learn_many(text(X, [f"{v:.9g}" for v in y32], wts))
    total = mean = m2 = 0.0
    z, before = [], []
    for label, w in zip(y32, wts):
        dev_before = np.sqrt(m2 / total) if total > 0 and m2 > 0 else 1.0
        before.append((mean, dev_before))
        new_total = total + w
        d = label - mean
        mean = mean + d * w / new_total
        m2 = m2 + w * d * (label - mean)
        total = new_total
        dev = np.sqrt(m2 / total) if m2 > 0 else 1.0
        z.append(np.float32((label - mean) / dev))
    plain = wabbit.Model("").learn_many(text(X, [f"{v:.9g}" for v in z], wts))
    expected = np.array([m + d * float(p) for (m, d), p in zip(before, plain)], dtype=np.float32)
    diff = np.abs(ours - expected)
    assert np.allclose(ours, expected, rtol=1e-6, atol=1e-2), (diff.max(), int(diff.argmax()), (diff > 1e-3).sum())
    # (a few float32 ulps of labels in the thousands)
    # and it learns the target's scale from the start, where VW's defaults do not
    err_std = np.abs(ours[100:] - y[100:]).mean()
    err_vw = np.abs(wabbit.Model("").learn_many(text(X, [f"{v:.9g}" for v in y32], wts))[100:] - y[100:]).mean()
    err_mean = np.abs(np.cumsum(y)[99:-1] / np.arange(100, 3000) - y[100:]).mean()
    assert err_std < 0.5 * err_mean and err_std < 0.5 * err_vw


def test_a_constant_target_is_predicted_from_the_second_example():
    lines = [f"1234.5 |f a:{k % 7} b" for k in range(50)]
    p = wabbit.Model("--standardize_labels").learn_many(lines)
    assert p[0] == 0.0 and np.all(p[1:] == np.float32(1234.5))


def test_save_load_and_predict_paths():
    X, y, wts = stream(2000, 3)
    lines = text(X, [f"{v:.9g}" for v in y], wts)
    whole = wabbit.Model("--standardize_labels").learn_many(lines)
    first = wabbit.Model("--standardize_labels")
    a = first.learn_many(lines[:700])
    second = wabbit.Model.from_bytes(first.to_bytes())
    assert np.array_equal(second.predict_many(lines[:100]), first.predict_many(lines[:100]))
    b = second.learn_many(lines[700:])
    assert np.array_equal(np.r_[a, b], whole)
    # a test-only prediction is on the labels' scale, the same as the next learn's
    m = wabbit.Model("--standardize_labels")
    m.learn_many(lines[:1000])
    assert m.predict(lines[1000]) == pytest.approx(float(m.learn(lines[1000])), rel=1e-6)
    assert abs(m.predict(lines[1001]) - y[1001]) < 0.5 * np.std(y)


def test_flags():
    assert parse_args("--standardize_labels").core_config()["standardize_labels"] is True
    for bad in (
        "--standardize_labels --loss_function logistic",
        "--standardize_labels --binary",
        "--standardize_labels --link logistic",
        "--standardize_labels --oaa 3",
    ):
        with pytest.raises(OptionError, match="standardize_labels"):
            parse_args(bad).core_config()

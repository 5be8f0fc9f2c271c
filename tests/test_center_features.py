"""--center_features (issue 22): feature values centred online.

The documented rule: each feature value x (the constant's excepted) enters the model as x - mean,
mean = (sum of weight * x over the examples learned before this one) / (sum of their weights), an
absent feature counting 0; only learned examples (labelled, weight > 0) move the statistics.

References: a hand computation of that rule with plain SGD (whose rule, w -= eta * weight *
dloss/dp * x, is VW's --sgd --power_t 0), and pip's vowpalwabbit with its default update fed the
values centred by hand. Saving and loading in the middle changes nothing.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import wabbit
from wabbit.options import OptionError

# (label, importance weight, features): dense a, sparse b and c
STREAM = [
    (1, 1.0, {"a": 3.0, "b": 1.0}),
    (-1, 1.0, {"a": 5.0, "c": 2.0}),
    (1, 2.0, {"a": 4.0, "b": 2.0}),
    (-1, 1.0, {"a": 1.0, "c": 1.0}),
    (1, 0.5, {"a": 6.0, "b": 1.0, "c": 3.0}),
]


def line(y, imp, x):
    return f"{y} {imp:g} |f " + " ".join(f"{k}:{v:.9g}" for k, v in x.items())


def centred_by_hand(stream):
    """Each example's values centred with the statistics from before it (numpy, float64)."""
    names = sorted({k for _, _, x in stream for k in x})
    sums = np.zeros(len(names))
    total = 0.0
    out = []
    for y, imp, x in stream:
        mean = sums / total if total > 0 else np.zeros(len(names))
        out.append((y, imp, {k: v - mean[names.index(k)] for k, v in x.items()}))
        for k, v in x.items():
            sums[names.index(k)] += imp * v
        total += imp
    return out


def test_sgd_by_hand_on_a_tiny_stream():
    eta = 0.1
    ours = wabbit.Model(f"--center_features --sgd --power_t 0 -l {eta} --loss_function logistic").learn_many(
        [line(*e) for e in STREAM]
    )
    w: dict = {}
    expected = []
    for y, imp, z in centred_by_hand(STREAM):
        z = dict(z, constant=1.0)  # the constant is not centred
        p = sum(w.get(k, 0.0) * v for k, v in z.items())
        expected.append(p)
        g = -y / (1.0 + math.exp(y * p))
        for k, v in z.items():
            w[k] = w.get(k, 0.0) - eta * imp * g * v
    # the first example sees no statistics, the second a = 3 - 3 = 0 and b = 0 - 1 = -1 absent...
    assert centred_by_hand(STREAM)[1][2] == {"a": 2.0, "c": 2.0}
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    # and it is not what the raw values give
    raw = wabbit.Model(f"--sgd --power_t 0 -l {eta} --loss_function logistic").learn_many([line(*e) for e in STREAM])
    assert np.max(np.abs(np.asarray(raw) - np.asarray(expected))) > 0.05


def random_stream(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = {"a": 50.0 + 10.0 * rng.normal(), "b": 2.0 + rng.normal()}
        if rng.random() < 0.3:
            x["c"] = 1.0
        y = 1 if (x["a"] - 50.0) / 10.0 - 0.5 * (x["b"] - 2.0) + x.get("c", 0.0) + 0.3 * rng.normal() > 0.3 else -1
        out.append((y, float(rng.choice([1.0, 0.5, 2.0])), x))
    return out


@pytest.mark.parametrize("flags", ["--loss_function logistic", "--loss_function logistic -q ff", ""])
def test_vw_default_update_on_values_centred_by_hand(flags):
    """Interactions are products of the centred values; the squared loss with its label range too."""
    vowpalwabbit = pytest.importorskip("vowpalwabbit")
    stream = random_stream(400, 3)
    ours = wabbit.Model(f"{flags} --center_features").learn_many([line(*e) for e in stream])
    ws = vowpalwabbit.Workspace(flags + " --quiet")
    theirs = []
    for e in centred_by_hand(stream):
        ex = ws.parse(line(*e))
        ws.learn(ex)
        theirs.append(ex.get_simplelabel_prediction())
        ws.finish_example(ex)
    ws.finish()
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_predictions_and_unlabelled_examples_leave_the_statistics_alone():
    stream = random_stream(200, 5)
    lines = [line(*e) for e in stream]
    a = wabbit.Model("--center_features --loss_function logistic")
    b = wabbit.Model("--center_features --loss_function logistic")
    a.learn_many(lines[:100])
    b.learn_many(lines[:100])
    for e in stream[100:110]:  # predictions, and examples without a label or with weight 0
        x = " ".join(f"{k}:{v:.9g}" for k, v in e[2].items())
        p = a.predict(f"|f {x}")
        assert p == pytest.approx(a.learn_many([f"|f {x}"])[0], abs=1e-7)
        a.learn_many([f"1 0 |f {x}"])
    np.testing.assert_allclose(a.learn_many(lines[100:]), b.learn_many(lines[100:]), atol=1e-7)


def test_predict_is_the_prediction_learn_makes():
    stream = random_stream(150, 11)
    m = wabbit.Model("--center_features --loss_function logistic --link logistic")
    m.learn_many([line(*e) for e in stream[:100]])
    for e in stream[100:]:
        before = m.predict(line(*e))
        assert m.learn_many([line(*e)])[0] == pytest.approx(before, abs=1e-6)


def test_save_and_load_keep_the_statistics(tmp_path):
    stream = random_stream(300, 9)
    lines = [line(*e) for e in stream]
    flags = "--center_features --loss_function logistic -q ff"
    whole = wabbit.Model(flags).learn_many(lines)
    first = wabbit.Model(flags)
    head = first.learn_many(lines[:150])
    path = tmp_path / "m.wabbit"
    first.save(path)
    loaded = wabbit.load(path)
    again = wabbit.Model.from_bytes(first.to_bytes())
    tail = loaded.learn_many(lines[150:])
    np.testing.assert_allclose(np.r_[head, tail], whole, atol=1e-6)
    np.testing.assert_allclose(again.learn_many(lines[150:]), tail, atol=1e-6)
    # a copy carries them too
    c = wabbit.Model(flags)
    c.learn_many(lines[:150])
    np.testing.assert_allclose(c.copy().learn_many(lines[150:]), tail, atol=1e-6)
    # without the statistics the continuation would differ
    fresh = wabbit.Model(flags)
    assert np.max(np.abs(np.asarray(fresh.learn_many(lines[150:])) - tail)) > 1e-3


def test_the_flag_is_off_by_default_and_refused_where_it_has_no_meaning():
    assert "--center_features" not in wabbit.Model("").args
    assert "--center_features" in wabbit.Model("--center_features").args
    with pytest.raises(OptionError):
        wabbit.Model("--center_features --oaa 3")
    with pytest.raises(OptionError):
        wabbit.Model("--center_features --cb 2")


def test_the_command_line_learns_and_tests_as_python_does(tmp_path):
    """The driver maps an example's rows ahead of learning; the centred values must be what it learns on."""
    stream = random_stream(300, 13)
    data = tmp_path / "d.vw"
    data.write_text("\n".join(line(*e) for e in stream) + "\n")
    flags = ["--center_features", "--loss_function", "logistic"]
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(wabbit.__file__)))
    run = [sys.executable, "-m", "wabbit", "-d", str(data), "--quiet"]
    subprocess.run(
        run + flags + ["-p", str(tmp_path / "p"), "-f", str(tmp_path / "m")], env=env, check=True, timeout=120
    )
    subprocess.run(run + ["-t", "-i", str(tmp_path / "m"), "-p", str(tmp_path / "t")], env=env, check=True, timeout=120)
    m = wabbit.Model(" ".join(flags))
    np.testing.assert_allclose(np.loadtxt(tmp_path / "p"), m.learn_many([line(*e) for e in stream]), atol=1e-5)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "t"), [m.predict(line(*e)) for e in stream], atol=1e-5)


def test_explain_shows_the_centred_values_the_model_weighs():
    stream = random_stream(100, 17)
    m = wabbit.Model("--center_features --loss_function logistic")
    m.learn_many([line(*e) for e in stream])
    x = {"a": 70.0, "b": 1.0}
    mean_a = sum(e[1] * e[2]["a"] for e in stream) / sum(e[1] for e in stream)
    parts = {c.name: c for c in m.explain(line(1, 1.0, x))}
    assert parts["f^a"].value == pytest.approx(70.0 - mean_a, rel=1e-5)
    assert parts["Constant"].value == 1.0
    assert sum(c.contribution for c in parts.values()) == pytest.approx(m.predict(line(1, 1.0, x)), abs=1e-5)

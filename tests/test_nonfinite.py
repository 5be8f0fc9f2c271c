"""Hostile feature values never make a weight non-finite (issue 14, item 2).

VW (pip vowpalwabbit 9.x) writes inf/NaN into its model for these inputs (`1 |a x:1e20` leaves
inf in the adaptive slot: `--readable_model` shows `55432:0 inf 1e+20`); wabbit refuses such an
example instead: it is skipped and named like a malformed line, the run goes on learning the
good lines after it, and whatever `save` writes, `load` reads.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import wabbit

RULES = [
    "",
    "--sgd",
    "--adaptive",
    "--normalized",
    "--adaptive --invariant",
    "--ftrl",
    "--perceptron",
    "--pa",
    "--l1 1e-4 --l2 1e-3",
]
SHAPES = ["", "-q aa"]

HOSTILE = [
    "1 |a x:1e20 z",
    "1 |a t:1700000000000000000 z",  # a raw nanosecond timestamp
    "1 |a t:1.7e19",
    "1 |a x:3e38 z:2",
    "-1 |a x:1e-45 z",
    "1 |a x:1e20 y:1e-40 z",
    "1e30 |a z y",
    "1 1e30 |a z y",  # huge importance weight
    "1 1e20 |a x:1e10",
]
GOOD = ["1 |a z y", "-1 |a y w:0.5", "1 |a z w:2", "-1 |a w"]


def assert_finite_model(m: "wabbit.Model") -> None:
    _, w = m.weights()
    assert np.all(np.isfinite(w)), "non-finite weight"


def roundtrip(m: "wabbit.Model", tmp_path: Path, probe: list) -> None:
    path = tmp_path / "m.model"
    m.save(str(path))
    loaded = wabbit.load(str(path))
    for line in probe:
        assert loaded.predict(line) == m.predict(line)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("rule", RULES)
def test_hostile_values_keep_weights_finite(rule, shape, tmp_path):
    m = wabbit.Model(f"{rule} {shape}")
    lines = GOOD + HOSTILE + GOOD * 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.learn_many(lines, strict=False)
    assert_finite_model(m)
    roundtrip(m, tmp_path, GOOD)
    # every refusal names a hostile line (1-based numbers within the batch)
    hostile_numbers = set(range(len(GOOD) + 1, len(GOOD) + len(HOSTILE) + 1))
    for w in caught:
        text = str(w.message)
        if "non-finite" in text:
            number = int(re.search(r"line (\d+)", text).group(1))
            assert number in hostile_numbers, text
    # and the good lines after them were learned
    _, before = m.weights()
    m.learn_many(["1 |b fresh", "-1 |b fresh other"])
    _, after = m.weights()
    assert len(after) > len(before)


def test_1e20_cli_saves_a_loadable_model(tmp_path):
    data = tmp_path / "d.vw"
    data.write_text("1 |a x:1e20\n1 |a y\n-1 |a z\n")
    model = tmp_path / "m"
    env_py = str(Path(wabbit.__file__).resolve().parents[1])

    def run(*a: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "wabbit", *a],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PYTHONPATH": env_py, "PATH": "/usr/bin:/bin"},
        )

    p = run("-d", str(data), "-f", str(model))
    assert p.returncode == 0, p.stderr
    assert "line 1" in p.stderr and "non-finite" in p.stderr and "1e+20" in p.stderr
    assert "number of examples = 2" in p.stderr
    t = run("-t", "-i", str(model), "-d", str(data))
    assert t.returncode == 0, t.stderr


def test_refused_example_changes_nothing():
    good = ["1 |a z y", "-1 |a y w:0.5", "1 |a z w:2"]
    a = wabbit.Model("")
    a.learn_many(good[:2] + ["1 |a x:1e20 z"] + good[2:], strict=False)
    b = wabbit.Model("")
    b.learn_many(good)
    ia, wa = a.weights()
    ib, wb = b.weights()
    assert np.array_equal(ia, ib) and np.array_equal(wa, wb)


def test_single_learn_of_refused_example_raises():
    m = wabbit.Model("")
    with pytest.raises(ValueError, match="non-finite"):
        m.learn("1 |a x:1e20")
    assert_finite_model(m)


def test_finite_cases_equal_vw():
    # where VW stays finite, the guarded path is VW's update bit for bit
    pytest.importorskip("vowpalwabbit")
    from vowpalwabbit import pyvw

    lines = ["1 |a x:1e6 z", "-1 |a x:3e-7 y", "2 |a z:5e5", "1 |a y x:1e-6", "0.5 |a x:2e6"]
    for flags in ["", "--sgd", "-q aa", "--ftrl"]:
        vw = pyvw.Workspace("--quiet " + flags)
        m = wabbit.Model(flags)
        for line in lines:
            ex = vw.example(line)
            vw.learn(ex)
            theirs = ex.get_simplelabel_prediction()
            vw.finish_example(ex)
            assert np.float32(m.learn(line)) == np.float32(theirs), (flags, line)
        vw.finish()


@pytest.mark.parametrize("rule", ["", "--sgd", "--ftrl", "--perceptron"])
def test_random_extreme_values_property(rule, tmp_path):
    r = random.Random(14)
    m = wabbit.Model(f"{rule} -q aa")
    for _ in range(300):
        feats = []
        for k in range(r.randint(1, 4)):
            mag = 10.0 ** r.uniform(-45, 38.5)
            v = min(mag, 3.4e38) * r.choice([-1, 1])
            feats.append(f"f{k}:{v:.3g}")
        label = r.choice([1, -1, 10.0 ** r.uniform(-3, 35)])
        weight = r.choice([1, 10.0 ** r.uniform(-3, 35)])
        line = f"{label:.3g} {weight:.3g} |a " + " ".join(feats)
        try:
            m.learn(line)
        except ValueError as e:
            assert "non-finite" in str(e) or "line" in str(e) or "value" in str(e)
    assert_finite_model(m)
    roundtrip(m, tmp_path, ["1 |a f0:1 f1:2"])

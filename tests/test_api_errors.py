"""Argument errors say what is wrong in the caller's terms, and small inconsistencies (issue 14,
items 16 and 18)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import wabbit
from wabbit._version import __version__
from wabbit.options import flag_help


def _wabbit(args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "wabbit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        **kw,
    )


# ------------------------------------------------------------------ item 16


@pytest.mark.parametrize("value", [None, [1.0], object()])
def test_dict_value_that_is_not_a_number(value):
    m = wabbit.Model()
    with pytest.raises(TypeError, match=r"feature 'x' in namespace 'a'.*a number.*not " + type(value).__name__):
        m.learn({"a": {"x": value}}, label=1)
    with pytest.raises(TypeError, match="feature 'x' in namespace 'a'"):
        m.predict({"a": {"x": value}})
    assert m.stats["example_number"] == 0


@pytest.mark.parametrize("label", ["1", b"1", [1]])
def test_label_that_is_not_a_number(label):
    m = wabbit.Model()
    with pytest.raises(TypeError, match=r"label must be a number \(or None: unlabelled\), not " + type(label).__name__):
        m.learn({"a": ["x"]}, label=label)
    assert m.stats["example_number"] == 0


@pytest.mark.parametrize("what", ["weight", "initial"])
def test_weight_and_initial_that_are_not_numbers(what):
    m = wabbit.Model()
    with pytest.raises(TypeError, match=f"{what} must be a number, not str"):
        m.learn({"a": ["x"]}, label=1, **{what: "2"})


def test_lone_surrogate_in_a_line():
    m = wabbit.Model()
    for call in (m.learn, m.predict, m.explain):
        with pytest.raises(ValueError, match=r"not valid Unicode: it holds a lone surrogate \(U\+DC80 at position 5\)"):
            call("1 |a \udc80x")
    assert m.stats["example_number"] == 0


def test_lone_surrogate_in_a_batch_of_lines():
    m = wabbit.Model()
    with pytest.raises(ValueError, match=r"line 2 of the batch is not valid Unicode.*U\+DC80"):
        m.learn_many(["1 |a x", "1 |a \udc80"])


def test_lone_surrogate_in_a_name():
    m = wabbit.Model()
    with pytest.raises(ValueError, match=r"'a\\udce9' is not valid Unicode.*lone surrogate"):
        m.learn({"a\udce9": ["x"]}, label=1)
    with pytest.raises(ValueError, match=r"'x\\udce9' is not valid Unicode"):
        m.learn({"a": {"x\udce9": 1.0}}, label=1)


def test_nul_byte_does_not_cut_the_message():
    m = wabbit.Model()
    with pytest.raises(ValueError) as e:
        m.learn("1\x00 |a x")
    assert "\x00" not in str(e.value)
    assert str(e.value).endswith('"1\\x00": not a number')  # the whole message, the NUL shown
    with pytest.raises(ValueError) as e:
        m.learn_many(["1 |a x", "2\x00 |a y"])
    assert str(e.value).endswith('line 2: bad label "2\\x00": not a number')


def test_ope_with_a_model_that_is_not_a_bandit(tmp_path):
    linear = tmp_path / "linear.model"
    wabbit.Model().save(linear)
    log = tmp_path / "log.dat"
    log.write_text("shared |u a\n0:1:0.5 |a x\n|a y\n\n")
    r = _wabbit(["ope", "-d", str(log), "-i", str(linear)])
    assert r.returncode == 1
    assert "bad label" not in r.stderr
    assert "not a contextual-bandit model" in r.stderr and "--cb_adf" in r.stderr


# ------------------------------------------------------------------ item 18


@pytest.mark.parametrize("args", [["--quiet", "--version"], ["-d", "x.vw", "--version", "-b", "20"]])
def test_version_anywhere(args):
    r = _wabbit(args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == __version__


@pytest.mark.parametrize("lines", ["-5", "0"])
def test_demo_refuses_non_positive_lines(lines):
    r = _wabbit(["demo", "--lines", lines])
    assert r.returncode == 2
    assert f"--lines takes a positive number of lines, got {lines}" in r.stderr
    assert "saved" not in r.stderr


def test_store_keep_help_matches_the_store(tmp_path):
    text = " ".join(flag_help().split())
    line = text[text.index("--store_keep") :][:120]
    assert "besides" not in line and "current one included" in line
    # what the help says: --store_keep 2 leaves 2 versions in all after 3 saves
    data = tmp_path / "d.vw"
    data.write_text("1 |a x\n-1 |a y\n")
    for _ in range(3):
        r = _wabbit(["-d", str(data), "--store", str(tmp_path / "s"), "--store_keep", "2", "--quiet"])
        assert r.returncode == 0, r.stderr
    assert len(wabbit.ModelStore(tmp_path / "s").list()) == 2


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_learn_and_predict_take_bytes(kind):
    a, b = wabbit.Model(), wabbit.Model()
    for line in ("1 |a x y", "-1 |a y z", "1 |a x"):
        assert a.learn(kind(line.encode())) == b.learn(line)
    assert a.predict(kind(b"|a x y")) == b.predict("|a x y")
    assert [c.weight for c in a.explain(kind(b"|a x"))] == [c.weight for c in b.explain("|a x")]
    before = a.predict("|a x")
    m = wabbit.Model()
    m.learn_many(b"1 |a x y\n-1 |a y z\n1 |a x\n")
    assert m.predict("|a x") == before


def test_bytes_with_a_monitor():
    from wabbit.drift import PageHinkley

    a, b = wabbit.Model(), wabbit.Model()
    a.monitor(PageHinkley())
    assert a.learn(b"1 |a x") == b.learn("1 |a x")
    # bytes that are not UTF-8 are a feature name like any other, monitored or not
    assert a.learn(b"1 |a \xe9") == b.learn(b"1 |a \xe9")
    assert a.predict(b"|a \xe9") == b.predict(b"|a \xe9") != 0.0

"""Bad contextual-bandit input: every malformed event is named by its line, skipped (or stops the run
with --strict, or raises ValueError in Python), and leaves the model exactly as if it had not been
there; bad flags are refused with a reason."""

from __future__ import annotations

import numpy as np
import pytest

import cbdata
import vwcompare
import wabbit
from wabbit import OptionError

GOOD = cbdata.events(60, actions=4, seed=31)

# (bad event, the line of it that is named (1-based within the event), what the message says)
BAD_EVENTS = [
    ("shared |u a\n0:1:0 |a x\n|a y\n", 2, "outside (0, 1]"),
    ("shared |u a\n0:1:1.5 |a x\n|a y\n", 2, "outside (0, 1]"),
    ("shared |u a\n0:1:-0.2 |a x\n|a y\n", 2, "outside (0, 1]"),
    ("shared |u a\n0:1:nan |a x\n|a y\n", 2, "probability"),
    ("shared |u a\n0:nan:0.5 |a x\n|a y\n", 2, "bad cost"),
    ("shared |u a\n0:inf:0.5 |a x\n|a y\n", 2, "bad cost"),
    ("shared |u a\n0:1 |a x\n|a y\n", 2, "without a probability"),
    ("shared |u a\n0:1:0.5:3 |a x\n|a y\n", 2, "malformed cost"),
    ("shared |u a\nx:1:0.5 |a x\n|a y\n", 2, "bad action"),
    ("shared |u a\n0:1:0.5 |a x\n1:0:0.5 |a y\n", 3, "second labelled action"),
    ("shared |u a\n0:1:0.5 1:0:0.5 |a x\n|a y\n", 2, "two costs"),
    ("shared |u a\n", 1, "at least one action"),
    ("shared |u a\n0:1e38:1e-5 |a x\n|a y\n", 1, "not a finite number"),
    ("|a x\nshared |u a\n", 2, "shared line must come first"),
    ("shared 0:1:0.5 |u a\n|a x\n", 1, "shared line carries no cost"),
    ("shared |u a\n0:1:0.5 |a x:1.5abc\n|a y\n", 2, "bad value"),
    ("shared |u a\n0:1:0.5 |a x:1e40\n|a y\n", 2, "not finite"),
]


def write_with_bad(tmp_path, bad: str, position: int = 30):
    events = GOOD[:position] + [bad] + GOOD[position:]
    path = tmp_path / "data.ldf"
    path.write_text("\n".join(events) + "\n")
    first_line = sum(e.count("\n") + 1 for e in events[:position]) + 1
    return path, first_line


@pytest.mark.parametrize("bad,line,reason", BAD_EVENTS)
def test_bad_event_is_named_skipped_and_harmless(bad, line, reason, tmp_path, run_wabbit):
    good_path = tmp_path / "good.ldf"
    good_path.write_text("\n".join(GOOD) + "\n")
    clean = run_wabbit(["--cb_explore_adf", "-q", "ua", "-d", str(good_path), "-p", "good.p"], tmp_path)
    assert clean.returncode == 0, vwcompare.describe_run(clean)
    path, first = write_with_bad(tmp_path, bad)
    proc = run_wabbit(["--cb_explore_adf", "-q", "ua", "-d", str(path), "-p", "bad.p"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    named = first + line - 1
    assert f"line {named}: " in proc.stderr and reason in proc.stderr, proc.stderr
    assert "malformed events skipped = 1" in proc.stderr
    # the bad event was skipped whole: the other events' pmfs and the summary are those of the clean
    # run; the skipped one keeps its place in -p as "nan" (issue 14, item 10)
    good = (tmp_path / "good.p").read_text().split("\n\n")
    assert (tmp_path / "bad.p").read_text() == "\n\n".join(good[:30] + ["nan"] + good[30:])
    assert vwcompare.summary(proc.stderr)["average loss"] == vwcompare.summary(clean.stderr)["average loss"]
    assert vwcompare.summary(proc.stderr)["number of examples"] == str(len(GOOD))
    # --strict stops there, naming the line, and saves no model
    strict = run_wabbit(["--cb_explore_adf", "-d", str(path), "--strict", "-f", "m.model"], tmp_path)
    assert strict.returncode == 1 and f"line {named}: " in strict.stderr
    assert not (tmp_path / "m.model").exists()


@pytest.mark.parametrize("bad,line,reason", BAD_EVENTS)
def test_bad_event_in_python_raises_and_changes_nothing(bad, line, reason):
    m = wabbit.Model("--cb_explore_adf -q ua")
    for ev in GOOD[:20]:
        m.learn(ev)
    before, stats = m.predict(GOOD[20]), m.stats
    with pytest.raises(ValueError) as err:
        m.learn(bad)
    assert reason in str(err.value)
    if line > 1:  # event-level problems are named by the event's first line
        assert str(err.value).startswith(f"line {line}: ")
    assert m.stats == stats
    assert np.array_equal(m.predict(GOOD[20]), before)
    w = m.weights()[1]
    assert np.all(np.isfinite(w))


@pytest.mark.parametrize(
    "label,reason",
    [
        ((4, 1.0, 0.5), "not an action of this event"),
        ((-1, 1.0, 0.5), "not an action of this event"),
        ((0, 1.0, 0.0), r"\(0, 1\]"),
        ((0, 1.0, 1.01), r"\(0, 1\]"),
        ((0, float("nan"), 0.5), "finite"),
        ((0, float("inf"), 0.5), "finite"),
    ],
)
def test_bad_label_argument(label, reason):
    m = wabbit.Model("--cb_adf")
    ev = ({"u": ["a"]}, [{"a": ["x"]}, {"a": ["y"]}, {"a": ["z"]}, {"a": ["w"]}])
    with pytest.raises(ValueError, match=reason):
        m.learn(ev, label=label)
    assert m.stats["example_number"] == 0


def test_label_argument_and_text_label_conflict():
    m = wabbit.Model("--cb_adf")
    with pytest.raises(ValueError, match="already has a labelled action"):
        m.learn("0:1:0.5 |a x\n|a y", label=(1, 0.0, 0.5))
    with pytest.raises(TypeError):
        m.learn("|a x\n|a y", label=(1, 0.0))


def test_probability_one_and_tiny_costs_are_fine():
    m = wabbit.Model("--cb_adf")
    m.learn("shared |u a\n0:-2.5:1 |a x\n|a y")
    m.learn("shared |u a\n1:1e-30:0.001 |a x\n|a y")
    assert m.stats["example_number"] == 2 and np.all(np.isfinite(m.weights()[1]))


def test_fixed_actions_refuse_unknown_actions(tmp_path, run_wabbit):
    path = tmp_path / "k.dat"
    path.write_text("1:1:0.5 |u a\n4:1:0.5 |u b\n0:1:0.5 |u c\nshared |u d\n2:0:0.5 |u e\n")
    proc = run_wabbit(["--cb", "3", "-d", str(path)], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    assert "line 2: action 4 is not one of the actions 1..3" in proc.stderr
    assert "line 3: action 0 is not one of the actions 1..3" in proc.stderr
    assert "line 4: " in proc.stderr and "shared" in proc.stderr
    assert vwcompare.summary(proc.stderr)["number of examples"] == "2"
    m = wabbit.Model("--cb 3")
    with pytest.raises(ValueError, match="not one of the actions"):
        m.learn("7:1:0.5 |u a")
    with pytest.raises(ValueError, match="one line"):
        m.learn(["1:1:0.5 |u a", "|u b"])


@pytest.mark.parametrize(
    "flags,reason",
    [
        ("--epsilon 0.1", "contextual bandit mode"),
        ("--cb_adf --epsilon 0.1", "need --cb_explore_adf"),
        ("--cb_adf --softmax", "need --cb_explore_adf"),
        ("--cb_explore_adf --softmax --bag 3", "choose one exploration"),
        ("--cb_explore_adf --squarecb --cb_type ips", "only --cb_type mtr"),
        ("--cb_explore_adf --lambda 3", "only with --softmax"),
        ("--cb_explore_adf --gamma_scale 3", "only with --squarecb"),
        ("--cb_explore_adf --epsilon 1.5", r"\[0, 1\]"),
        ("--cb_adf --cb_type bogus", "mtr, ips, dr, dm or sm"),
        ("--cb 0", ">= 1"),
        ("--cb 3 --cb_adf", "choose one"),
        ("--cb_explore_adf --bag 0", ">= 1"),
        ("--cb_adf --clip_p 2", r"\[0, 1\]"),
    ],
)
def test_bad_flags(flags, reason):
    with pytest.raises(OptionError, match=reason):
        wabbit.Model(flags)


def test_bandit_calls_on_a_linear_model_and_vice_versa():
    lin = wabbit.Model()
    with pytest.raises(TypeError, match="not a contextual bandit"):
        lin.rank({"u": ["a"]}, [{"a": ["x"]}])
    cb = wabbit.Model("--cb_adf")
    with pytest.raises(TypeError):
        cb.learn(42)
    with pytest.raises(TypeError):
        cb.predict([{"a": ["x"]}])  # a list of dicts is not an event; (shared, actions) is
    with pytest.raises(ValueError, match="weight"):
        cb.learn("0:1:0.5 |a x\n|a y", weight=2.0)
    with pytest.raises(TypeError, match="explain"):
        cb.explain("|a x")
    with pytest.raises(TypeError, match="drift monitors"):
        from wabbit.drift import ADWIN

        cb.monitor(ADWIN())
    assert cb.stats["example_number"] == 0


@pytest.mark.parametrize("flag", [["--drift", "adwin"]])  # (--audit, --invert_hash: test_cb_more.py)
def test_cli_refuses_what_bandits_do_not_support_yet(flag, tmp_path, run_wabbit):
    path = tmp_path / "d.ldf"
    path.write_text(GOOD[0])
    proc = run_wabbit(["--cb_adf", "-d", str(path), *flag], tmp_path)
    assert proc.returncode == 1 and "not available for contextual bandits" in proc.stderr

"""Contextual bandits against the installed Vowpal Wabbit on generated logged-bandit data.

The data (tests/cbdata.py, seeded): events with a shared user line (namespace ``u``), 10 action lines
(namespace ``a``), the logged action's ``index:cost:probability`` label from an epsilon-greedy logging
policy, 0/1 or real costs, and some unlabelled events. Both programs run the same flags on the same
file with ``-p``; the test demands VW's chosen actions and probabilities (or, with --rank_all, the
scores) within 1e-4 for at least 99% of the numbers, and VW's average loss (within 1e-3 relative).
"""

from __future__ import annotations

import math
import shlex

import pytest

import cbdata
import vwcompare

EVENTS = 3000


def parse_pred(text: str):
    """-p output: one line per event (the top action, or ``action:value,...`` with the pmf or, with
    --rank_all, the scores), blank lines between."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        head = line.split()[0]
        if ":" in head:
            out.append([(int(a), float(p)) for a, p in (item.split(":") for item in head.split(","))])
        else:
            out.append([(int(head), 1.0)])
    return out


def run_both(tmp_path, flags: str, data: str, run_wabbit, run_vw):
    results = {}
    for name, runner in (("wabbit", run_wabbit), ("vw", run_vw)):
        d = tmp_path / name
        d.mkdir()
        proc = runner(shlex.split(flags) + ["-d", data, "-p", "p.txt"], d)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        results[name] = (proc.stderr, parse_pred((d / "p.txt").read_text()))
    return results


def assert_parity(results, flags: str) -> None:
    (err_w, ours), (err_v, theirs) = results["wabbit"], results["vw"]
    assert len(ours) == len(theirs) > 0, f"{flags}: {len(ours)} events vs VW's {len(theirs)}"
    same_top = sum(o[0][0] == t[0][0] for o, t in zip(ours, theirs))
    assert same_top >= 0.99 * len(theirs), f"{flags}: top action differs in {len(theirs) - same_top} events"
    close = total = 0
    for o, t in zip(ours, theirs):
        assert len(o) == len(t)
        mine = dict(o)
        for action, p in t:
            total += 1
            close += action in mine and abs(mine[action] - p) <= 1e-4
    assert close >= 0.99 * total, f"{flags}: {total - close} of {total} probabilities differ by more than 1e-4"
    s_w, s_v = vwcompare.summary(err_w), vwcompare.summary(err_v)
    assert s_w["number of examples"] == s_v["number of examples"]
    lw, lv = float(s_w["average loss"]), float(s_v["average loss"])
    assert math.isclose(lw, lv, rel_tol=1e-3, abs_tol=1e-6), f"{flags}: average loss {lw} vs VW {lv}"


@pytest.fixture(scope="module")
def adf_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cbdata")
    binary = d / "binary.ldf"
    cbdata.write(str(binary), EVENTS, seed=11, unlabeled_every=40)
    real = d / "real.ldf"
    cbdata.write(str(real), EVENTS, seed=12, real_costs=True)
    return {"binary": str(binary), "real": str(real)}


@pytest.mark.parametrize(
    "flags",
    [
        "--cb_adf -q ua",
        "--cb_adf -q ua --cb_type mtr",
        "--cb_adf -q ua --cb_type ips",
        "--cb_adf -q ua --cb_type dr",
        "--cb_adf -q ua --cb_type dm",
        "--cb_adf -q ua --cb_type dr --clip_p 0.1",
        "--cb_explore_adf -q ua --epsilon 0.1",
        "--cb_explore_adf -q ua --softmax --lambda 10",
        "--cb_explore_adf -q ua --squarecb",
        "--cb_explore_adf -q ua --squarecb --gamma_scale 100 --gamma_exponent 0.3 --epsilon 0.02",
        "--cb_explore_adf -q ua --cb_type dr --epsilon 0.2",
        "--cb_adf -q ua --rank_all",
        "--cb_adf -q ua --cb_type dr --rank_all",
        "--cb_adf -q ua --cb_type ips --rank_all",
    ],
)
@pytest.mark.parametrize("costs", ["binary", "real"])
def test_adf_parity(flags, costs, adf_data, tmp_path, run_wabbit, run_vw):
    assert_parity(run_both(tmp_path, flags, adf_data[costs], run_wabbit, run_vw), flags)


@pytest.mark.parametrize(
    "flags",
    [
        "--cb_explore_adf -q ua --bag 3",
        "--cb_explore_adf -q ua --bag 4 --greedify --epsilon 0.1",
        "--cb_explore_adf -q ua --bag 2 --cb_type dr",
        "--cb_explore_adf -q ua --first 50",
        "--cb_explore_adf --first 5 --epsilon 0.1",
        "--cb_explore_adf -q ua --epsilon 0.1 --first_only",
        "--cb_explore_adf -q ua --bag 3 --first_only",
        "--cb_adf --sgd -l 0.1",
        "--cb_adf -q ::",
        "--cb_adf --cb_type dr -q ua --initial_t 2",
        "--cb_explore_adf --bag 3 --cb_type dr --initial_t 1 --power_t 0.4 -q ua",
        "--cb_adf --cb_type ips --ftrl",
        "--cb_adf --cb_type dr --l2 1e-6 -q ua",
        "--cb_explore_adf --interactions ua: --epsilon 0.1",
        "--cb_adf -q ua --loss_function logistic --cb_type dr",
    ],
)
def test_adf_parity_small(flags, tmp_path, run_wabbit, run_vw):
    path = tmp_path / "small.ldf"
    cbdata.write(str(path), 300, seed=5, unlabeled_every=7)
    assert_parity(run_both(tmp_path, flags, str(path), run_wabbit, run_vw), flags)


@pytest.mark.parametrize(
    "flags",
    [
        "--cb 5",
        "--cb 5 --cb_type ips -q uv",
        "--cb 5 --cb_type dr -q uv",
        "--cb 5 --cb_type dm",
        "--cb 5 --rank_all -q uv",
        "--cb_explore 5",
        "--cb_explore 5 --softmax --lambda 4",
        "--cb_explore 5 --bag 3 --cb_type dr -q uv",
        "--cb_explore 5 --first 20 --epsilon 0.1",
        "--cb_explore 5 --squarecb",
    ],
)
def test_fixed_actions_parity(flags, tmp_path, run_wabbit, run_vw):
    path = tmp_path / "k5.dat"
    path.write_text("\n".join(cbdata.fixed_lines(2000)) + "\n")
    assert_parity(run_both(tmp_path, flags, str(path), run_wabbit, run_vw), flags)


def test_parity_check_catches_a_different_exploration(adf_data, tmp_path, run_wabbit, run_vw):
    """The comparison is not vacuous: epsilon 0.1 against VW's epsilon 0.2 fails it."""
    ours = run_both(tmp_path, "--cb_explore_adf -q ua --epsilon 0.1", adf_data["binary"], run_wabbit, run_vw)["wabbit"]
    (tmp_path / "other").mkdir()
    theirs = run_both(
        tmp_path / "other", "--cb_explore_adf -q ua --epsilon 0.2", adf_data["binary"], run_wabbit, run_vw
    )["vw"]
    with pytest.raises(AssertionError):
        assert_parity({"wabbit": ours, "vw": theirs}, "epsilon 0.1 vs 0.2")


@pytest.mark.parametrize(
    "flags", ["--cb_explore_adf -q ua --squarecb", "--cb_adf -q ua --cb_type dr", "--cb_explore 5 --bag 3 -q uv"]
)
def test_saved_model_tests_as_vw(flags, adf_data, tmp_path, run_wabbit, run_vw):
    """-f after training, then -t -i on other data: VW's predictions and loss (the saved model keeps
    the bandit's counters, e.g. SquareCB's gamma)."""
    if "--cb_explore 5" in flags:
        train, test = tmp_path / "a.dat", tmp_path / "b.dat"
        train.write_text("\n".join(cbdata.fixed_lines(1000, seed=3)) + "\n")
        test.write_text("\n".join(cbdata.fixed_lines(500, seed=4)) + "\n")
    else:
        train, test = adf_data["binary"], adf_data["real"]
    results = {}
    for name, runner in (("wabbit", run_wabbit), ("vw", run_vw)):
        d = tmp_path / name
        d.mkdir()
        first = runner(shlex.split(flags) + ["-d", str(train), "-f", "m.model", "--quiet"], d)
        assert first.returncode == 0, vwcompare.describe_run(first)
        proc = runner(["-t", "-i", "m.model", "-d", str(test), "-p", "p.txt"], d)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        results[name] = (proc.stderr, parse_pred((d / "p.txt").read_text()))
    assert_parity(results, flags + " (-t -i)")

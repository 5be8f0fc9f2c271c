"""More of VW's contextual-bandit input, against the installed Vowpal Wabbit.

- ``--cb K`` labels listing several ``action:cost[:probability]`` entries on one line: VW learns
  the observed cost (the first entry with a probability) and ignores the others;
- ``--cb_explore K`` (and ``--cb K``) on lines whose label is not a bandit label (a regression
  file's ``0.52 1 tag|...``): VW predicts them as unlabelled events;
- ``--cb_type sm`` (VW's "supervised method" estimator) for ``--cb_adf``.

Both programs run the same flags on the same generated file with ``-p``; the predictions must be
VW's (within 1e-4) and the summaries equal.
"""

from __future__ import annotations

import math
import random

import pytest

import cbdata
import vwcompare


def multi_cost_lines(n: int, k: int, seed: int) -> list:
    """--cb K lines: costs for a few actions, one of them observed (with a probability) at a random
    place in the label; some lines list a second observed cost (VW takes the first), some none."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        feats = " ".join(f"f{rng.randrange(30)}:{rng.uniform(-1, 1):.3f}" for _ in range(rng.randint(1, 5)))
        ctx = " ".join(f"c{rng.randrange(8)}" for _ in range(rng.randint(1, 3)))
        if i % 9 == 4:
            lines.append(f"|f {feats} |c {ctx}")  # unlabelled
            continue
        actions = rng.sample(range(1, k + 1), rng.randint(1, k))
        observed = rng.randrange(len(actions))
        words = []
        for j, a in enumerate(actions):
            cost = round(rng.uniform(-1, 2), 3)
            if j == observed or (j > observed and i % 7 == 0):
                words.append(f"{a}:{cost}:{rng.choice([0.25, 0.5, 0.8, 1.0])}")
            else:
                words.append(f"{a}:{cost}")
        if i % 5 == 0:
            words.insert(rng.randrange(len(words) + 1), str(rng.randint(1, k)))  # an action without a cost
        lines.append(" ".join(words) + f" |f {feats} |c {ctx}")
    return lines


def regression_lines(n: int, seed: int) -> list:
    """A regression file's lines (label, importance, tag touching the '|'): no bandit label."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        feats = " ".join(f"t{j}:{rng.uniform(-1, 1):.4f}" for j in rng.sample(range(20), rng.randint(2, 8)))
        out.append(f"{rng.uniform(0, 1):.6f} 1 T{i}|T T{i % 5} |f {feats}")
    return out


def parse_p(text: str) -> list:
    """-p output: a number per event (--cb K: the action) or a pmf ``a:p,a:p,...``."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        head = line.split()[0]
        if ":" in head:
            out.append(sorted((int(a), float(p)) for a, p in (t.split(":") for t in head.split(","))))
        else:
            out.append(float(head))
    return out


def run_both(tmp_path, flags, lines, run_wabbit, run_vw, name="data.dat"):
    data = tmp_path / name
    data.write_text("\n".join(lines) + "\n")
    got = {}
    for who, runner in (("wabbit", run_wabbit), ("vw", run_vw)):
        d = tmp_path / who
        d.mkdir()
        proc = runner([*flags, "-d", str(data), "-p", "p.txt"], d)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        got[who] = (proc, parse_p((d / "p.txt").read_text()))
    return got


def assert_same(got, flags):
    (pw, ours), (pv, theirs) = got["wabbit"], got["vw"]
    assert len(ours) == len(theirs) > 0
    for i, (o, t) in enumerate(zip(ours, theirs)):
        if isinstance(t, float):
            assert o == pytest.approx(t, abs=1e-4), f"{flags}: event {i + 1}: {o} vs VW's {t}"
        else:
            assert [a for a, _ in o] == [a for a, _ in t], f"{flags}: event {i + 1}"
            for (_, p), (_, q) in zip(o, t):
                assert p == pytest.approx(q, abs=1e-4), f"{flags}: event {i + 1}: {o} vs VW's {t}"
    sw, sv = vwcompare.summary(pw.stderr), vwcompare.summary(pv.stderr)
    for key in ("number of examples", "weighted example sum", "total feature number"):
        assert sw[key] == sv[key], f"{flags}: {key}: {sw[key]} vs VW's {sv[key]}"
    if sv["average loss"] == "n.a.":
        assert sw["average loss"] == "n.a."
    else:
        lw, lv = float(sw["average loss"]), float(sv["average loss"])
        assert math.isclose(lw, lv, rel_tol=1e-4, abs_tol=1e-6), f"{flags}: average loss {lw} vs VW's {lv}"
    assert vwcompare.progress_rows(pw.stderr) and not vwcompare.compare_lines(
        vwcompare.progress_rows(pw.stderr), vwcompare.progress_rows(pv.stderr)
    ), f"{flags}: progress tables differ\n{pw.stderr}\n{pv.stderr}"


# ---------------------------------------------------------------------------------- --cb K, costs


@pytest.mark.parametrize(
    "flags",
    [
        ["--cb", "4"],
        ["--cb", "4", "--cb_type", "ips"],
        ["--cb", "4", "--cb_type", "dr"],
        ["--cb_explore", "4", "--epsilon", "0.2"],
        ["--cb", "4", "-q", "fc"],
    ],
    ids=lambda f: " ".join(f),
)
def test_cb_k_several_costs_on_a_line_learn_the_observed_one(flags, tmp_path, run_wabbit, run_vw):
    lines = multi_cost_lines(600, 4, seed=5)
    assert sum(line.count(":") >= 4 for line in lines) > 300  # most lines list several costs
    assert_same(run_both(tmp_path, flags, lines, run_wabbit, run_vw), flags)


def test_the_other_costs_change_nothing(tmp_path, run_wabbit):
    """Only the observed cost is learned: dropping the unobserved entries gives the same predictions."""
    lines = multi_cost_lines(300, 4, seed=9)

    def observed_only(line):
        if line.startswith("|"):
            return line
        head, _, rest = line.partition(" |")
        words = [w for w in head.split() if w.count(":") == 2]
        return (words[0] + " |" + rest) if words else "|" + rest

    runs = []
    for name, data in (("all", lines), ("observed", [observed_only(s) for s in lines])):
        d = tmp_path / name
        d.mkdir()
        (d / "x.dat").write_text("\n".join(data) + "\n")
        proc = run_wabbit(["--cb", "4", "-d", "x.dat", "-p", "p.txt"], d)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        runs.append((d / "p.txt").read_text())
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "label,reason",
    [
        ("1:1 2:2", 'cost without a probability in "1:1"'),
        ("1:1:0.5:2 2:2", "malformed cost"),
        ("1:x 2:1:0.5", 'bad cost "x"'),
        ("a:1 2:1:0.5", 'bad action "a"'),
        ("1:1:0.5 2:1:1.5", "outside (0, 1]"),
        ("5:1:0.5 2:1", "not one of the actions 1..4"),
    ],
)
def test_bad_multi_cost_labels_are_named(label, reason, tmp_path, run_wabbit):
    lines = multi_cost_lines(20, 4, seed=3)
    lines[11] = f"{label} |f a b |c x"
    data = tmp_path / "d.dat"
    data.write_text("\n".join(lines) + "\n")
    proc = run_wabbit(["--cb", "4", "-d", str(data)], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    assert "line 12: " in proc.stderr and reason in proc.stderr, proc.stderr
    assert "malformed events skipped = 1" in proc.stderr or "malformed lines skipped = 1" in proc.stderr


def test_adf_line_with_two_costs_is_refused(tmp_path, run_wabbit):
    data = tmp_path / "d.ldf"
    data.write_text("shared |u a\n0:1:0.5 1:0 |a x\n|a y\n\n|a x\n|a y\n")
    proc = run_wabbit(["--cb_adf", "-d", str(data)], tmp_path)
    assert "line 2: two costs on one line" in proc.stderr, proc.stderr


# ------------------------------------------------------------------ labels that are not bandit labels


@pytest.mark.parametrize(
    "flags",
    [
        ["--cb_explore", "3", "--epsilon", "0.1"],
        ["--cb_explore", "3", "--bag", "3"],
        ["--cb_explore", "3", "--softmax", "--lambda", "2"],
        ["--cb", "3"],
    ],
    ids=lambda f: " ".join(f),
)
def test_lines_without_a_bandit_label_are_unlabelled_events(flags, tmp_path, run_wabbit, run_vw):
    lines = regression_lines(40, seed=2)
    got = run_both(tmp_path, flags, lines, run_wabbit, run_vw)
    assert_same(got, flags)
    assert "unknown" in got["wabbit"][0].stderr  # the progress table's label column, as VW's


def test_unlabelled_lines_mixed_with_labelled_ones(tmp_path, run_wabbit, run_vw):
    rng = random.Random(4)
    lines = []
    for i, line in enumerate(regression_lines(300, seed=6)):
        if i % 3 == 0:  # a bandit label in place of the regression one
            _, _, rest = line.partition("|")
            line = f"{rng.randint(1, 3)}:{rng.choice([0, 1])}:{rng.choice([0.2, 0.5, 0.9])} |{rest}"
        lines.append(line)
    flags = ["--cb_explore", "3", "--epsilon", "0.1"]
    assert_same(run_both(tmp_path, flags, lines, run_wabbit, run_vw), flags)


# ------------------------------------------------------------------------------------ --cb_type sm


@pytest.fixture(scope="module")
def adf_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("sm")
    path = d / "events.ldf"
    cbdata.write(str(path), 1500, seed=21, unlabeled_every=30, real_costs=True)
    return str(path)


@pytest.mark.parametrize(
    "flags",
    [
        ["--cb_adf", "--cb_type", "sm", "-q", "ua"],
        ["--cb_adf", "--cb_type", "sm", "--rank_all", "-q", "ua"],
        ["--cb_adf", "--cb_type", "sm", "-q", "ua", "-l", "0.1", "--power_t", "0"],
        ["--cb_explore_adf", "--cb_type", "sm", "--epsilon", "0.1", "-q", "ua"],
        ["--cb_explore_adf", "--cb_type", "sm", "--bag", "3", "-q", "ua"],
        ["--cb", "4", "--cb_type", "sm"],
    ],
    ids=lambda f: " ".join(f),
)
def test_cb_type_sm_matches_vw(flags, adf_file, tmp_path, run_wabbit, run_vw):
    """Real costs, a quarter of them negative (sm's sign trick), some events unlabelled."""
    if flags[0] == "--cb":
        adf_file = str(tmp_path / "fixed.dat")
        with open(adf_file, "w") as f:
            f.write("\n".join(multi_cost_lines(800, 4, seed=8)) + "\n")
    got = {}
    for who, runner in (("wabbit", run_wabbit), ("vw", run_vw)):
        d = tmp_path / who
        d.mkdir()
        proc = runner([*flags, "-d", adf_file, "-p", "p.txt"], d)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        got[who] = (proc, (d / "p.txt").read_text())
    (pw, tw), (pv, tv) = got["wabbit"], got["vw"]
    assert not vwcompare.compare_outputs(tw, tv, "predictions"), f"{flags}: -p differs from VW's"
    assert not vwcompare.compare_stderr(pw.stderr, pv.stderr), vwcompare.compare_stderr(pw.stderr, pv.stderr)


# ------------------------------------------------------------------------ --audit, --invert_hash


@pytest.fixture(scope="module")
def small_adf(tmp_path_factory):
    d = tmp_path_factory.mktemp("audit")
    path = d / "events.ldf"
    cbdata.write(str(path), 150, seed=5, unlabeled_every=7, real_costs=True)
    return str(path)


def _inputs(kind, small_adf, tmp_path):
    if kind == "adf":
        return small_adf
    path = tmp_path / f"{kind}.dat"
    lines = multi_cost_lines(60, 4, seed=12) if kind == "fixed" else regression_lines(25, seed=3)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize(
    "flags,kind",
    [
        (["--cb_adf", "-q", "ua"], "adf"),
        (["--cb_adf", "--cb_type", "ips"], "adf"),
        (["--cb_adf", "--cb_type", "dm", "-q", "ua"], "adf"),
        (["--cb_adf", "--cb_type", "sm"], "adf"),
        (["--cb_explore_adf", "--epsilon", "0.1", "-q", "ua"], "adf"),
        (["--cb_explore_adf", "--cb_type", "ips", "--epsilon", "0.2"], "adf"),
        (["--cb_explore_adf", "--squarecb"], "adf"),
        (["--cb_explore_adf", "--softmax", "--lambda", "3"], "adf"),
        (["--cb_explore_adf", "--first", "5", "--cb_type", "dm"], "adf"),
        (["--cb_adf", "-t"], "adf"),
        (["--cb", "4"], "fixed"),
        (["--cb", "4", "--cb_type", "sm"], "fixed"),
        (["--cb_explore", "4"], "fixed"),
        (["--cb_explore", "4", "--softmax"], "fixed"),
        (["--cb_explore", "3"], "regression"),
        (["--cb_explore", "3", "--first", "2"], "regression"),
    ],
    ids=lambda f: " ".join(f) if isinstance(f, list) else f,
)
def test_audit_matches_vw(flags, kind, small_adf, tmp_path, run_wabbit, run_vw):
    """VW's audit of a bandit: a block (prediction, then the features with their weights) for every
    action example scored, and one for every example learned."""
    data = _inputs(kind, small_adf, tmp_path)
    pw = run_wabbit([*flags, "-d", data, "--audit", "--quiet"], tmp_path)
    pv = run_vw([*flags, "-d", data, "--audit", "--quiet"], tmp_path)
    assert pw.returncode == 0 and pv.returncode == 0, vwcompare.describe_run(pw)
    assert pv.stdout.count("\n") > 40
    problems = vwcompare.compare_outputs(pw.stdout, pv.stdout, "audit")
    assert not problems, "\n".join(problems[:5])


def _hash_rows(path):
    rows = {}
    for line in open(path, encoding="utf-8").read().splitlines():
        head, sep, rest = line.rpartition(":")
        name, sep2, index = head.rpartition(":")
        if sep and sep2 and index.isdigit() and name and not name.startswith(("Min label", "Max label")):
            rows[int(index)] = (name, float(rest.split()[0]))
    return rows


@pytest.mark.parametrize(
    "flags,kind",
    [
        (["--cb_adf", "-q", "ua"], "adf"),
        (["--cb_explore_adf", "--cb_type", "ips"], "adf"),
        (["--cb_adf", "--cb_type", "sm", "-q", "ua"], "adf"),
        (["--cb", "4"], "fixed"),
    ],
    ids=lambda f: " ".join(f) if isinstance(f, list) else f,
)
def test_invert_hash_names_match_vw(flags, kind, small_adf, tmp_path, run_wabbit, run_vw):
    data = _inputs(kind, small_adf, tmp_path)
    for who, runner in (("wabbit", run_wabbit), ("vw", run_vw)):
        proc = runner([*flags, "-d", data, "--invert_hash", f"{who}.ih", "--quiet"], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
    ours, theirs = _hash_rows(tmp_path / "wabbit.ih"), _hash_rows(tmp_path / "vw.ih")
    assert len(theirs) > 10 and set(ours) == set(theirs)
    for index, (name, w) in theirs.items():
        assert ours[index][0] == name
        assert ours[index][1] == pytest.approx(w, abs=1e-4, rel=1e-4)


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--cb_explore_adf", "--bag", "3", "--audit"], "not available with --bag yet"),
        (["--cb_adf", "--cb_type", "dr", "--invert_hash", "x.ih"], "not available with --cb_type dr yet"),
    ],
    ids=lambda f: " ".join(f) if isinstance(f, list) else "",
)
def test_audit_refused_with_dr_and_bag(flags, message, small_adf, tmp_path, run_wabbit):
    """bag keeps several models in the weight table: not audited yet, and said so (nor named by
    --invert_hash with dr's regressor; --audit with dr: tests/test_audit_more.py)."""
    proc = run_wabbit([*flags, "-d", small_adf], tmp_path)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    "fmt,flags",
    [
        ("--json", ["--cb_explore_adf"]),
        ("--dsjson", ["--cb_explore_adf", "--epsilon", "0.2"]),
        ("--dsjson", ["--cb_adf"]),
    ],
    ids=lambda f: " ".join(f) if isinstance(f, list) else f,
)
def test_audit_of_json_events_matches_vw(fmt, flags, tmp_path, run_wabbit, run_vw):
    from test_json_input import dsjson_lines, json_adf_lines

    lines = json_adf_lines(40) if fmt == "--json" else dsjson_lines(40, skips=False)
    data = tmp_path / "d.json"
    data.write_text("\n".join(lines) + "\n")
    pw = run_wabbit([*flags, fmt, "-d", str(data), "--audit", "--quiet"], tmp_path)
    pv = run_vw([*flags, fmt, "-d", str(data), "--audit", "--quiet"], tmp_path)
    assert pw.returncode == 0 and pv.returncode == 0, vwcompare.describe_run(pw)
    assert pv.stdout.count("\n") > 40
    problems = vwcompare.compare_outputs(pw.stdout, pv.stdout, "audit")
    assert not problems, "\n".join(problems[:5])

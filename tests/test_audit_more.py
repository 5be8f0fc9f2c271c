"""--audit beyond the linear learner and the bandits, against pip's vowpalwabbit (issue 18).

Multiclass (--oaa, --csoaa): VW's audit is one block (the base learner's prediction, then the
features with their weights) for every problem predicted or learned, the problem's rows offset by
its number, and VW's "[info] label K found" notice among the blocks where the indexing was set.
"""

from __future__ import annotations

import pytest

import vwcompare
from test_multiclass import csoaa_lines, oaa_lines

STREAMS = {
    "oaa": lambda: oaa_lines(120, 11),
    "oaa0": lambda: oaa_lines(120, 12, zero_based=True),
    "named": lambda: oaa_lines(120, 13, names=True),
    "cs": lambda: csoaa_lines(120, 14),
}

CASES = [
    ("oaa", ["--oaa", "4"]),
    ("oaa", ["--oaa", "4", "-q", "ab", "--quiet"]),
    ("oaa", ["--oaa", "4", "--sgd"]),
    ("oaa", ["--oaa", "4", "--probabilities", "--loss_function", "logistic", "--quiet"]),
    ("oaa", ["--oaa", "5", "-b", "4", "--normalized"]),
    ("oaa", ["--oaa", "4", "-t"]),
    ("oaa0", ["--oaa", "4"]),  # 1-based until the first label 0: the notice among the blocks
    ("named", ["--oaa", "4", "--named_labels", "cat,dog,bird,fish", "--quiet"]),
    ("cs", ["--csoaa", "4"]),
    ("cs", ["--csoaa", "4", "-q", "ab", "--quiet"]),
    ("cs", ["--csoaa", "5", "--adaptive", "-l", "0.3"]),
    ("cs", ["--csoaa", "4", "-t", "--quiet"]),
]


@pytest.fixture(scope="module")
def stream_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("audit_more")
    for name, make in STREAMS.items():
        (d / f"{name}.txt").write_text("\n".join(make()) + "\n")
    return d


@pytest.mark.parametrize("stream,flags", CASES, ids=lambda f: " ".join(f) if isinstance(f, list) else f)
def test_multiclass_audit_matches_vw(stream, flags, stream_dir, tmp_path, run_wabbit, run_vw):
    data = str(stream_dir / f"{stream}.txt")
    pw = run_wabbit([*flags, "-d", data, "--audit"], tmp_path)
    pv = run_vw([*flags, "-d", data, "--audit"], tmp_path)
    assert pw.returncode == 0 and pv.returncode == 0, vwcompare.describe_run(pw)
    assert pv.stdout.count("\t") > 500  # features audited
    problems = vwcompare.compare_outputs(pw.stdout, pv.stdout, "audit")
    assert not problems, "\n".join(problems[:5])


def test_multiclass_audit_notice_position(tmp_path, run_wabbit, run_vw):
    """VW's csoaa sets the indexing before its blocks, oaa after them: the notice sits there."""
    for flags, lines in (
        (["--oaa", "3"], ["1 |f a", "3 |f b", "2 |f c"]),
        (["--csoaa", "3"], ["1:1 |f a", "3:0 |f b", "2:0.5 |f c"]),
    ):
        path = tmp_path / "d.txt"
        path.write_text("\n".join(lines) + "\n")
        pw = run_wabbit([*flags, "-d", str(path), "--audit"], tmp_path)
        pv = run_vw([*flags, "-d", str(path), "--audit"], tmp_path)
        ours = [line for line in pw.stdout.splitlines() if not line.startswith("\t")]
        theirs = [line for line in pv.stdout.splitlines() if not line.startswith("\t")]
        assert any(line.startswith("[info] label 3 found") for line in theirs)
        assert [line.split()[0] for line in ours] == [line.split()[0] for line in theirs]
        assert not vwcompare.compare_outputs(pw.stdout, pv.stdout, "audit")


# ------------------------------------------------------------------ --audit with a cache and passes

CACHE_LINES = [
    "1 |s p^the_man w^the w^man |t p^un_homme w^un w^homme",
    "2 |s p^the_man w^the w^man |t p^le_homme w^le w^homme",
    "1 'x |s p^a_man w^a w^man |t p^un_homme w^un w^homme",
    "2 0.5 |s p^a_man w^a w^man |t p^le_homme w^le w^homme",
    "3 |s w^a:0.5 |t w^le",
]


@pytest.mark.parametrize(
    "flags",
    [
        ["-c", "-k", "--passes", "2", "-q", "st"],
        ["-c", "-k", "--passes", "3", "--holdout_off"],
        ["-c", "-k", "--passes", "2", "--sgd", "-q", "st"],
        ["-c", "-k"],
    ],
    ids=lambda f: " ".join(f),
)
def test_cache_audit_matches_vw(flags, tmp_path, run_wabbit, run_vw):
    """The first pass reads the text (names); the later ones read the cache, which keeps no names:
    VW prints an empty name there, "Constant" for the constant, and so must wabbit."""
    outs = []
    for who, runner in (("wabbit", run_wabbit), ("vw", run_vw)):
        data = tmp_path / f"{who}.txt"
        data.write_text("\n".join(CACHE_LINES * 3) + "\n")
        proc = runner([*flags, "-d", str(data), "--audit"], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        outs.append(proc.stdout)
    ours, theirs = outs
    if "--passes" in flags:
        assert "\t:" in theirs and "\tConstant:" in theirs.split("\t:", 1)[1]  # the cached passes
    problems = vwcompare.compare_outputs(ours, theirs, "audit")
    assert not problems, "\n".join(problems[:5])
    # a second run reads the cache it left (-c without -k): every pass is unnamed
    if "-k" in flags and "--passes" in flags:
        kept = [f for f in flags if f != "-k"]
        outs = []
        for who, runner in (("wabbit", run_wabbit), ("vw", run_vw)):
            proc = runner([*kept, "-d", str(tmp_path / f"{who}.txt"), "--audit"], tmp_path)
            assert proc.returncode == 0, vwcompare.describe_run(proc)
            outs.append(proc.stdout)
        assert "^" not in outs[1]
        problems = vwcompare.compare_outputs(outs[0], outs[1], "audit")
        assert not problems, "\n".join(problems[:5])


def test_invert_hash_still_refused_with_a_cache(tmp_path, run_wabbit):
    data = tmp_path / "d.txt"
    data.write_text("\n".join(CACHE_LINES) + "\n")
    proc = run_wabbit(["-c", "-k", "-d", str(data), "--invert_hash", "m.ih"], tmp_path)
    assert proc.returncode != 0 and "--invert_hash is incompatible with a cache file" in proc.stderr


# ------------------------------------------------------------------ bandits: --cb_type dr

FIXED_LINES = ["1:1:0.5 |x a", "2:0:0.25 |x b c", "|x a", "3:2:0.5 tg|x c", "2:1:0.5 'u |x a c"]


@pytest.fixture(scope="module")
def bandit_files(tmp_path_factory):
    import cbdata

    d = tmp_path_factory.mktemp("audit_dr")
    cbdata.write(str(d / "events.ldf"), 80, seed=7, unlabeled_every=6, real_costs=True)
    (d / "fixed.dat").write_text("\n".join(FIXED_LINES * 4) + "\n")
    return d


@pytest.mark.parametrize(
    "flags,kind",
    [
        (["--cb_adf", "--cb_type", "dr", "-q", "ua"], "events.ldf"),
        (["--cb_adf", "--cb_type", "dr", "-t"], "events.ldf"),
        (["--cb_explore_adf", "--cb_type", "dr"], "events.ldf"),
        (["--cb_explore_adf", "--cb_type", "dr", "--softmax"], "events.ldf"),
        (["--cb_explore_adf", "--cb_type", "dr", "--first", "5"], "events.ldf"),
        (["--cb", "3", "--cb_type", "dr"], "fixed.dat"),
        (["--cb_explore", "3", "--cb_type", "dr", "--first", "2"], "fixed.dat"),
    ],
    ids=lambda f: " ".join(f) if isinstance(f, list) else f,
)
def test_dr_audit_matches_vw(flags, kind, bandit_files, tmp_path, run_wabbit, run_vw):
    """dr: the regressor's blocks (its own rows, index + 1) before the policy's, in VW's order."""
    data = str(bandit_files / kind)
    pw = run_wabbit([*flags, "-d", data, "--audit", "--quiet"], tmp_path)
    pv = run_vw([*flags, "-d", data, "--audit", "--quiet"], tmp_path)
    assert pw.returncode == 0 and pv.returncode == 0, vwcompare.describe_run(pw)
    assert pv.stdout.count("\n") > 40
    problems = vwcompare.compare_outputs(pw.stdout, pv.stdout, "audit")
    assert not problems, "\n".join(problems[:5])

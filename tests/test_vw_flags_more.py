"""--initial_weight, --permutations, the expectile loss and the readable model's online-state block,
each against pip's ``vowpalwabbit`` (VW 9.11.9) on generated streams.

* Predictions (``-p``) agree within 1e-4 (VW's ratio rule above 1) on every line.
* ``--readable_model``: the online-state block VW writes after ``:1`` (``initial_t``, ``t``,
  ``sum_loss``, ``dump_interval``, ``example_number``, ``total_features``, ... ``l2_state``) has
  the same keys in the same order and the same numbers, and the weight lines agree.
* ``--invert_hash`` with ``--predict_only_model``: a row whose name this run never saw is written
  ``:index:weight`` (an empty name), as VW writes it.

The flags' rules (VW's): ``--expectile_q`` only with ``--loss_function expectile``, which needs
it in (0, 0.5].
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence, Tuple

import pytest

import vwcompare
import vwreadable
import wabbit
from test_vw_parity import generate_stream

N_LINES = 1200


def _run_wabbit(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
    """``python -m wabbit``, importing the wabbit under test (not the checkout's python/ blindly)."""
    env = dict(os.environ)
    here = str(Path(wabbit.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run(
        [sys.executable, "-m", "wabbit", *map(str, args)],
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory, vw_available):
    d = tmp_path_factory.mktemp("flags_more")
    text, _ = generate_stream(N_LINES, 4242)
    (d / "r.txt").write_text(text, encoding="utf-8")
    text, _ = generate_stream(N_LINES, 99, unlabeled=0.2)
    (d / "u.txt").write_text(text, encoding="utf-8")
    return d


def _both(d: Path, args: List[str]) -> Tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """Run wabbit and VW with the same args, each writing its own files: W/V in args become w/v."""
    ours = _run_wabbit([a.replace("@", "w") for a in args], d)
    theirs = vwcompare.run_vw([a.replace("@", "v") for a in args], d)
    assert ours.returncode == 0, vwcompare.describe_run(ours)
    assert theirs.returncode == 0, vwcompare.describe_run(theirs)
    return ours, theirs


def _assert_same_predictions(d: Path) -> None:
    ours = vwcompare.parse_predictions((d / "w.p").read_text(encoding="utf-8"))
    theirs = vwcompare.parse_predictions((d / "v.p").read_text(encoding="utf-8"))
    assert len(ours) == len(theirs) > 0
    far = [(i, p, q) for i, ((p, _), (q, _)) in enumerate(zip(ours, theirs)) if not vwcompare.floats_close(p, q, 1e-4)]
    assert not far, f"{len(far)} predictions differ (line, wabbit, VW): {far[:5]}"


PREDICTION_CASES = {
    # the expectile loss: q weighs the squared loss above the label, 1-q below it
    "expectile_q025": "--loss_function expectile --expectile_q 0.25",
    "expectile_q05": "--loss_function expectile --expectile_q 0.5",
    "expectile_q01_sgd": "--loss_function expectile --expectile_q 0.1 --sgd -l 0.3",
    "expectile_unsafe": "--loss_function expectile --expectile_q 0.3 --adaptive --normalized",
    # every weight starts at --initial_weight (the optimizer's slots at 0)
    "initial_weight": "--initial_weight 0.1",
    "initial_weight_sgd": "--initial_weight -0.3 --sgd",
    "initial_weight_ftrl": "--initial_weight 0.2 --ftrl",
    "initial_weight_initial_t": "--initial_weight 0.1 --initial_t 3 --adaptive",
    "initial_weight_b6_q": "--initial_weight 0.05 -b 6 -q ab",
    # a namespace with itself: every ordered pair of its features, not only j >= i
    "permutations_q_aa": "-q aa --permutations",
    "permutations_cubic_aab": "--cubic aab --permutations",
    "permutations_interactions": "--interactions aaa --interactions bb --permutations -q ab",
    "permutations_wildcard": "-q :: --permutations",
}


@pytest.mark.parametrize("case", sorted(PREDICTION_CASES))
def test_predictions_match_vw(case, data):
    _both(data, ["-d", "r.txt", "-p", "@.p", *shlex.split(PREDICTION_CASES[case])])
    _assert_same_predictions(data)


def test_flags_change_the_predictions(data):
    """Each flag does something: without it the predictions are not the same (the parity above is
    not a comparison of two runs that ignore it)."""
    plain = {}
    for args in (
        "-q aa",
        "-q aa --permutations",
        "",
        "--initial_weight 0.1",
        "--loss_function expectile --expectile_q 0.2",
    ):
        proc = _run_wabbit(["-d", "r.txt", "-p", "/dev/stdout", "--quiet", *shlex.split(args)], data)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        plain[args] = [p for p, _ in vwcompare.parse_predictions(proc.stdout)]
    assert plain["-q aa"] != plain["-q aa --permutations"]
    assert plain[""] != plain["--initial_weight 0.1"]
    assert plain[""] != plain["--loss_function expectile --expectile_q 0.2"]


def _state_block(text: str) -> List[str]:
    """The lines from VW's ':1' up to the first weight line (the online state)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() in (":0", ":1"))
    out = []
    for line in lines[start:]:
        if vwreadable.parse_weight_line(line) is not None:
            break
        out.append(line.strip())
    return out


STATE_KEYS = [
    ":1",
    "initial_t",
    "norm normalizer",
    "t",
    "sum_loss",
    "sum_loss_since_last_dump",
    "dump_interval",
    "min_label",
    "max_label",
    "weighted_labeled_examples",
    "weighted_labels",
    "weighted_unlabeled_examples",
    "example_number",
    "total_features",
    "total_weight",
    "sd::oec.weighted_labeled_examples",
    "current_pass",
    "l1_state",
    "l2_state",
]

READABLE_CASES = {
    "default": ("r.txt", ""),
    "unlabelled": ("u.txt", ""),
    "progress_3": ("r.txt", "-P 3 -b 12"),
    "quiet": ("r.txt", "--quiet"),  # VW moves dump_interval only when it prints a row
    "ftrl": ("r.txt", "--ftrl"),
    "l1_l2": ("r.txt", "--l1 1e-5 --l2 1e-4"),
    "passes": ("r.txt", "--passes 3 -c -k"),
    "passes_early_terminate": ("r.txt", "--passes 5 -c -k --early_terminate 1"),
    "expectile": ("r.txt", "--loss_function expectile --expectile_q 0.3"),
    "initial_weight": ("r.txt", "--initial_weight 0.1 -b 8"),
    "testonly": ("r.txt", "-t"),
}


@pytest.mark.parametrize("case", sorted(READABLE_CASES))
def test_readable_model_state_block_matches_vw(case, data):
    source, flags = READABLE_CASES[case]
    _both(data, ["-d", source, "--readable_model", "@.rm", *shlex.split(flags)])
    ours_text = (data / "w.rm").read_text(encoding="utf-8")
    theirs_text = (data / "v.rm").read_text(encoding="utf-8")
    ours, theirs = _state_block(ours_text), _state_block(theirs_text)
    keys = [line.rsplit(" ", 1)[0] if line != ":1" else line for line in theirs]
    assert keys == STATE_KEYS  # the harness: VW writes this block
    assert [line.rsplit(" ", 1)[0] if line != ":1" else line for line in ours] == keys
    for mine, vws in zip(ours, theirs):
        assert vwcompare.line_difference(mine, vws, 1e-4) is None, f"{mine!r} vs VW's {vws!r}"
    assert (
        vwcompare.compare_lines(vwreadable.feature_lines(ours_text), vwreadable.feature_lines(theirs_text), 1e-4) == []
    )


def test_readable_model_of_a_loaded_model(data):
    """-i then more data: the counters are this run's, t and the normalizer continue the model's."""
    _both(data, ["-d", "r.txt", "-f", "@.m", "--quiet"])
    for extra in (["-t"], []):
        _both(data, ["-d", "u.txt", "-i", "@.m", "--readable_model", "@.rm", *extra])
        ours = _state_block((data / "w.rm").read_text(encoding="utf-8"))
        theirs = _state_block((data / "v.rm").read_text(encoding="utf-8"))
        assert len(ours) == len(theirs) == len(STATE_KEYS)
        for mine, vws in zip(ours, theirs):
            assert vwcompare.line_difference(mine, vws, 1e-4) is None, f"{extra}: {mine!r} vs VW's {vws!r}"


def test_no_input_state_block(tmp_path, vw_available):
    """No example at all (--no_stdin): every counter 0, dump_interval 1. VW's command line still
    counts the one (empty) pass: its suite's reference for this run (case 387,
    train-sets/ref/l1_l2_default_model.txt) has "current_pass 1"; pip's entry point, which drives
    the passes itself, writes 0 there."""
    _both(tmp_path, ["--no_stdin", "--readable_model", "@.rm"])
    ours = _state_block((tmp_path / "w.rm").read_text(encoding="utf-8"))
    theirs = _state_block((tmp_path / "v.rm").read_text(encoding="utf-8"))
    assert len(ours) == len(theirs) == len(STATE_KEYS)
    assert "current_pass 1" in ours and "current_pass 0" in theirs
    assert [x for x in ours if not x.startswith("current_pass")] == [
        y for y in theirs if not y.startswith("current_pass")
    ]
    assert "dump_interval 1" in ours and "example_number 0" in ours


def test_predict_only_model_has_no_state_block(data):
    _both(data, ["-d", "r.txt", "--readable_model", "@.rm", "--predict_only_model"])
    for who in "wv":
        assert _state_block((data / f"{who}.rm").read_text(encoding="utf-8")) == [":0"]
    ours = vwreadable.feature_lines((data / "w.rm").read_text(encoding="utf-8"))
    theirs = vwreadable.feature_lines((data / "v.rm").read_text(encoding="utf-8"))
    assert vwcompare.compare_lines(ours, theirs, 1e-4) == []


@pytest.mark.parametrize("predict_only", [True, False])
def test_invert_hash_rows_without_a_name(predict_only, tmp_path, vw_available):
    """Weights learned before -i have no name in the second run: VW writes them ':index:w' in a
    predict-only file and 'index:w ...' in a full one; the named ones 'name:index:...'."""
    (tmp_path / "one.txt").write_text("1 |a first second\n0 |a first\n1 |b third\n")
    (tmp_path / "two.txt").write_text("1 |a fourth\n0 |a first fifth\n")
    keep = ["--predict_only_model"] if predict_only else []
    _both(tmp_path, ["-d", "one.txt", "-f", "@.m", "--noconstant", *keep])
    _both(tmp_path, ["-d", "two.txt", "-i", "@.m", "--noconstant", "--invert_hash", "@.ih", *keep])
    ours = vwreadable.weights((tmp_path / "w.ih").read_text(encoding="utf-8"))
    theirs = vwreadable.weights((tmp_path / "v.ih").read_text(encoding="utf-8"))
    assert sorted(ours) == sorted(theirs)
    assert {i: w.name for i, w in ours.items()} == {i: w.name for i, w in theirs.items()}
    unnamed = [w for w in theirs.values() if not w.name]
    assert len(unnamed) == 2  # second, third: learned in the first run only
    assert all(w.name == ("" if predict_only else None) for w in unnamed)


@pytest.mark.parametrize(
    "flags, message",
    [
        ("--expectile_q 0.2", "--expectile_q applies only to --loss_function expectile"),
        ("--loss_function expectile", "needs --expectile_q in (0, 0.5]"),
        ("--loss_function expectile --expectile_q 0.6", "needs --expectile_q in (0, 0.5]"),
        ("--loss_function expectile --expectile_q 0", "needs --expectile_q in (0, 0.5]"),
    ],
)
def test_expectile_rules(flags, message):
    with pytest.raises(wabbit.OptionError, match=message.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
        wabbit.Model(flags)


def test_model_api_and_save_load(tmp_path, vw_available):
    """The flags through Model(...): progressive predictions are VW's (pyvw), and a saved model
    predicts as the one that saved it."""
    text, _ = generate_stream(400, 777)
    lines = [line for line in text.splitlines() if line.strip()]
    flags = "--initial_weight 0.05 --permutations -q aa --loss_function expectile --expectile_q 0.35"
    expected = vwcompare.vw_progressive(flags, lines)
    m = wabbit.Model(flags)
    got = [m.learn(line) for line in lines]
    far = [(i, a, b) for i, (a, b) in enumerate(zip(got, expected)) if not vwcompare.floats_close(a, b, 1e-4)]
    assert not far, far[:5]
    m.save(str(tmp_path / "m.wabbit"))
    back = wabbit.load(str(tmp_path / "m.wabbit"))
    assert back.options.initial_weight == 0.05 and back.options.permutations
    assert [back.predict(line) for line in lines[:50]] == [m.predict(line) for line in lines[:50]]


# ---------------------------------------------------------------------------------------------
# The notices VW prints on stdout ("[warning] ...", "[info] ..."), word for word
# ---------------------------------------------------------------------------------------------

NOTICE_CASES = {
    "progress_below_1": "-d s.txt -P 0.5",
    "progress_above_9": "-d s.txt -P 10.0",
    "progress_integer": "-d s.txt -P 3",
    "readable_model": "-d s.txt --readable_model @.rm",
    "invert_hash": "-d s.txt --invert_hash @.ih",
    "readable_predict_only": "-d s.txt --readable_model @.rm --predict_only_model",
    "duplicates_and_order": "-d s.txt -q aa -q ab -q ba --cubic aba --cubic aab",
    "wildcard": "-d s.txt -q ::",
    "save_resume": "-d s.txt --save_resume",
    "several": "-d s.txt -P 0.25 -q ab -q ba --readable_model @.rm",
    "quiet": "-d s.txt -P 0.5 -q ab -q ba --readable_model @.rm --quiet",
    "oaa_one_based": "-d mc1.txt --oaa 3",
    "oaa_zero_based": "-d mc0.txt --oaa 3",
    "csoaa_one_based": "-d cs.txt --csoaa 3",
}


@pytest.fixture(scope="module")
def notice_dir(tmp_path_factory, vw_available):
    d = tmp_path_factory.mktemp("notices")
    (d / "s.txt").write_text("1 |a x y |b z\n0 |a x |b w\n1 |a y\n")
    (d / "mc1.txt").write_text("1 |f a\n3 |f b\n2 |f c\n")
    (d / "mc0.txt").write_text("1 |f a\n0 |f b\n2 |f c\n")
    (d / "cs.txt").write_text("1:0 2:1 |f a\n3:0 |f b\n")
    return d


@pytest.mark.parametrize("case", sorted(NOTICE_CASES))
def test_stdout_notices_are_vws(case, notice_dir):
    ours, theirs = _both(notice_dir, shlex.split(NOTICE_CASES[case]))
    assert ours.stdout.splitlines() == theirs.stdout.splitlines()


def test_stdout_notices_with_an_initial_model(notice_dir):
    """-i of a model with -q, and -q on the command line: VW warns that the line overrides the file
    (a VW model file and a wabbit one alike; nothing when the command line gives none)."""
    _both(notice_dir, ["-d", "s.txt", "-q", "ab", "-f", "@.m", "--quiet"])
    for extra in (["-q", "ab"], []):
        ours, theirs = _both(notice_dir, ["-d", "s.txt", "-i", "@.m", "-t", *extra])
        assert ours.stdout.splitlines() == theirs.stdout.splitlines()
        assert ("OVERRIDDEN" in ours.stdout) == bool(extra)
    # wabbit reading VW's file: VW does not record --permutations; the command line gives it
    proc = _run_wabbit(["-d", "s.txt", "-i", "v.m", "-q", "ab", "--permutations", "-t", "--quiet"], notice_dir)
    assert proc.returncode == 0, vwcompare.describe_run(proc)


def test_no_input_prints_the_table_header(tmp_path, vw_available):
    """--no_stdin and no -d: VW prints the progress table's header (and an empty table) anyway."""
    ours, theirs = _both(tmp_path, ["--no_stdin"])
    assert vwcompare.has_progress_header(theirs.stderr)
    assert vwcompare.has_progress_header(ours.stderr)
    assert vwcompare.progress_rows(ours.stderr) == []


@pytest.mark.parametrize(
    "reduction, lines",
    [
        ("--oaa 3 -q ef", "3 |f a b c |e x y z\n2 |f a y c |e x\n1 |e q\n"),
        ("--csoaa 3", "1:1 2:0 |f a b\n3:0 |e x\n2:0.5 |f c\n"),
        ("--oaa 3 -q :: --predict_only_model", "3 |f a b c |e x y z\n2 |f a y c |e x\n"),
    ],
)
def test_multiclass_invert_hash_names_every_class(reduction, lines, tmp_path, vw_available):
    """--invert_hash with --oaa/--csoaa: each class's row is named, 'name' for the first class and
    'name[k]' for class k+1, as VW names them; the whole file from ':0'/':1' on is VW's."""
    (tmp_path / "mc.txt").write_text(lines)
    _both(tmp_path, ["-d", "mc.txt", "--invert_hash", "@.ih", *shlex.split(reduction)])
    ours = vwreadable.weights((tmp_path / "w.ih").read_text(encoding="utf-8"))
    theirs = vwreadable.weights((tmp_path / "v.ih").read_text(encoding="utf-8"))
    assert {i: w.name for i, w in ours.items()} == {i: w.name for i, w in theirs.items()}
    assert any(w.name and w.name.endswith("]") for w in theirs.values())
    assert _state_block((tmp_path / "w.ih").read_text()) == _state_block((tmp_path / "v.ih").read_text())
    for i, w in theirs.items():
        assert all(vwcompare.floats_close(a, b, 1e-4) for a, b in zip(ours[i].values, w.values)), (ours[i], w)

"""Vowpal Wabbit's own test suite (test/core.vwtest.json) against wabbit: an opt-in regression net.

Opt-in: set WABBIT_VW_TESTS to VW's ``test/`` folder (core.vwtest.json, train-sets/, test-sets/,
pred-sets/, model-sets/ ...), e.g. from ``git clone https://github.com/VowpalWabbit/vowpal_wabbit``
(then ``WABBIT_VW_TESTS=vowpal_wabbit/test``). Without it every VW-suite test is skipped; nothing is
fetched from the network.

Every case whose flags wabbit claims (tools/vw_suite.py classifies them: no unknown flag, nothing
but VW and a few file utilities, its dependencies claimed too) is run in a temporary copy of the tree
and its outputs are compared with VW's reference files under VW's runner tolerance (tests/vwcompare.py).
The set is computed from the flags wabbit declares, so a newly declared flag brings its cases in:
they must reproduce, or be listed in KNOWN_FAILURES with the reason (docs/vw_test_suite.md has the
investigation of each). A case wabbit refuses when it runs (``... not supported yet``) is skipped.

The tests of the tool's own parsing and comparison below need no test tree and always run.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

_TOOL = Path(__file__).resolve().parent.parent / "tools" / "vw_suite.py"
_spec = importlib.util.spec_from_file_location("vw_suite", _TOOL)
assert _spec is not None and _spec.loader is not None
vw_suite = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("vw_suite", vw_suite)
_spec.loader.exec_module(vw_suite)

SKIP_MESSAGE = (
    f"set {vw_suite.ENV_VAR} to Vowpal Wabbit's test/ folder to run VW's suite "
    "(git clone https://github.com/VowpalWabbit/vowpal_wabbit; WABBIT_VW_TESTS=vowpal_wabbit/test)"
)

# Claimed cases that do not reproduce VW's reference today, with the reason (docs/vw_test_suite.md).
KNOWN_FAILURES = {
    # VW writes a message on stdout ([warning]/[error]/[critical] lines) that wabbit does not write
    176: "stdout: VW's '[warning] cb_adf is used with JSON input but without any interaction features ...'",
    408: "stdout: VW's '[warning] The label -0.5 is not in the range [0,1] as the logistic loss function expects.'",
    355: "negative test: both refuse --cb_type bad_type; VW's '[critical] ... not a valid choice' is on stdout",
    191: "negative test: both stop at malformed.dat's NUL; VW's [error]/[critical] on stdout, wabbit's error in the table",
    192: "negative test: both stop at malformed.dat's NUL; VW's [error]/[critical] on stdout, wabbit's error in the table",
    # wabbit refuses input VW reads with a warning or a guess (docs/decisions.md, "Refuse, don't guess")
    233: "features of 1e9 in a 5-way interaction: VW forces the NaN prediction to 0 and counts the example, wabbit skips it",
    234: "features of 1e9 in a 5-way interaction: VW forces the NaN prediction to 0 and counts the example, wabbit skips it",
    360: "--oaa 4: label 4 once 0 made the labels 0-based: VW warns and reads class 0, wabbit skips the line",
    375: "--csoaa 4 --indexing 0 on class 4: VW warns and reads class 0, wabbit skips the lines",
    639: "--named_labels with numeric labels ('1:1.0'): VW reads an unknown class, wabbit skips the line",
    647: "--named_labels with numeric labels ('1'): VW reads an unknown class, wabbit skips the line",
    326: "--dsjson with pdrop 0.9 and --invert_hash: VW weights the event 1/(1-pdrop), wabbit skips it (so no weights)",
    327: "--dsjson with pdrop 1: VW's '[error] JSON parser error' on stdout and no table row; wabbit's warning row",
    700: "--dsjson with pdrop 1: VW skips the event silently; wabbit's warning row in the table",
    699: "--dsjson with pdrop 0.9: VW weights the event 1/(1-pdrop), wabbit skips it",
    # not there yet in wabbit
    204: "labels '1:1', '2:0': VW reads the number before the ':' silently, wabbit refuses the lines as bad labels "
    "(--audit with the cache and its passes is VW's, see docs/vw_test_suite.md)",
    # wabbit differs from VW
    208: "--invert_hash after -i of a --predict_only_model model: one weight differs (0.265213 vs 0.278967): wabbit's "
    "predict-only file keeps t/normalizer, VW's second run starts from t = 0",
    426: "--invert_hash after -i of VW's --cb_explore_adf model (cb_spin_off.m): a few weights differ slightly "
    "(-0.195369 vs -0.196466): training on from VW's cb model file departs a little (not investigated yet)",
    450: "--invert_hash after -i of VW's --cb_explore_adf model (ep_dec_spin_off_cb.m): a few weights differ slightly "
    "(-0.445568 vs -0.446641): training on from VW's cb model file departs a little (not investigated yet)",
}

# how long one command of a case may take
TIMEOUT = 60.0


def _tests_dir():
    return vw_suite.find_tests_dir(os.environ.get(vw_suite.ENV_VAR))


def _claimed_ids():
    tests_dir = _tests_dir()
    if tests_dir is None:
        return []
    suite = vw_suite.load_suite(tests_dir)
    classes = vw_suite.classify(suite, tests_dir)
    return [cid for cid in sorted(suite) if classes[cid]["class"] == "claimed"]


def _params():
    ids = _claimed_ids()
    if not ids:
        return [pytest.param(None, id="no-vw-test-tree")]
    return [
        pytest.param(cid, id=str(cid), marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[cid], strict=False)])
        if cid in KNOWN_FAILURES
        else pytest.param(cid, id=str(cid))
        for cid in ids
    ]


@pytest.fixture(scope="module")
def vw_suite_tree():
    tests_dir = _tests_dir()
    if tests_dir is None:
        pytest.skip(SKIP_MESSAGE)
    return tests_dir, vw_suite.load_suite(tests_dir)


@pytest.mark.parametrize("case_id", _params())
def test_vw_suite_case(case_id, vw_suite_tree):
    tests_dir, suite = vw_suite_tree
    if case_id is None:
        pytest.skip(SKIP_MESSAGE)
    outcome = vw_suite.run_case(case_id, suite, tests_dir, TIMEOUT)
    if outcome["result"] == "refused":
        pytest.skip(f"wabbit refuses case {case_id}: {outcome['detail']}")
    if outcome["result"] == "dependency" and "(refused)" in outcome["detail"]:
        pytest.skip(f"a dependency of case {case_id} is refused: {outcome['detail']}")
    shown = "\n  ".join(outcome["differences"][:10]) or outcome["detail"]
    assert outcome["result"] == "pass", (
        f"VW case {case_id} ({vw_suite.command_text(suite[case_id])}): {outcome['result']}\n  {shown}"
    )


def test_known_failures_are_claimed_cases(vw_suite_tree):
    """Every KNOWN_FAILURES entry names a case of the suite that is still claimed (else: drop it)."""
    tests_dir, suite = vw_suite_tree
    classes = vw_suite.classify(suite, tests_dir)
    stale = {
        cid: classes[cid]["reason"] for cid in KNOWN_FAILURES if cid in suite and classes[cid]["class"] != "claimed"
    }
    assert not stale, f"KNOWN_FAILURES lists cases that are not claimed any more: {stale}"
    assert set(KNOWN_FAILURES) <= set(suite)


# ---------------------------------------------------------------------------------------------
# the tool itself (no VW test tree needed)
# ---------------------------------------------------------------------------------------------


def test_unknown_flags_lists_every_unknown_flag_and_skips_values():
    args = ["-k", "-d", "x.dat", "--ngram", "3", "--skips", "1", "-b24", "--passes", "8", "--holdout_off", "--cover=3"]
    assert vw_suite.unknown_flags(args) == ["--ngram", "--skips", "--cover"]
    # a negative number is an unknown flag's value, not a flag; a stray word is a positional argument
    assert vw_suite.unknown_flags(["--min_value", "-5", "--max_value", "5"]) == ["--min_value", "--max_value"]
    assert vw_suite.unknown_flags(["train.dat", "-l", "0.5"]) == ["<positional>"]
    assert vw_suite.unknown_flags(["-q", "::", "--invert_hash", "x.cmp", "--quiet"]) == []


def test_refusal_comes_from_wabbits_checks():
    assert vw_suite.refusal(["--cb_adf", "--cb_type", "bogus"]) is not None
    assert vw_suite.refusal(["--cb_adf", "--cb_type", "dr", "-d", "x"]) is None
    assert vw_suite.refusal(["--bogus"]) is not None


def test_shell_commands_split_into_vw_invocations():
    inv, why = vw_suite.shell_invocations(
        "printf '1 |f a\\n' |  {VW} -q ef --invert_hash a.cmp && tail -n +2 a.cmp > a.new && mv a.new a.cmp"
    )
    assert why is None and inv == [["-q", "ef", "--invert_hash", "a.cmp"]]
    inv, why = vw_suite.shell_invocations("./negative-test.sh {VW} -d m.dat --strict_parse")
    assert why is None and inv == [["-d", "m.dat", "--strict_parse"]]
    assert vw_suite.shell_invocations("./daemon-test.sh --port 1 --vw '{VW}'")[1] == "runs ./daemon-test.sh"
    assert vw_suite.shell_invocations("diff a.m b.m")[1] == "runs diff"
    assert vw_suite.shell_invocations("python3 x.py --vw {VW}")[1] == "runs python3 x.py"


def test_classification_of_a_small_suite(tmp_path):
    (tmp_path / "train-sets").mkdir()
    (tmp_path / "train-sets" / "a.dat").write_text("1 | x\n")
    suite = {
        1: {"id": 1, "vw_command": "-d train-sets/a.dat -f models/a.model", "input_files": ["train-sets/a.dat"]},
        2: {"id": 2, "vw_command": "-t -i models/a.model -d train-sets/a.dat", "depends_on": [1]},
        3: {"id": 3, "vw_command": "--cover 3 -d train-sets/a.dat -f models/b.model"},
        4: {"id": 4, "vw_command": "-t -i models/b.model -d train-sets/a.dat", "depends_on": [3]},
        5: {"id": 5, "bash_command": "./daemon-test.sh --vw '{VW}'"},
        6: {"id": 6, "vw_command": "-d train-sets/gone.dat", "input_files": ["train-sets/gone.dat"]},
    }
    got = vw_suite.classify(suite, tmp_path)
    assert [got[i]["class"] for i in range(1, 7)] == ["claimed", "claimed", "flags", "other", "other", "other"]
    assert got[3]["blockers"] == ["--cover"] and got[4]["blockers"] == ["--cover"]
    assert got[4]["reason"] == "depends on case 3, not claimed"
    assert "gone.dat" in got[6]["reason"]
    summary = vw_suite.summarize(
        [dict(id=i, result="unsupported", detail="", **got[i]) for i in range(1, 7) if got[i]["class"] != "claimed"]
    )
    assert summary["flags_blocking"] == [["--cover", 2, 2]]
    cover = [f for f in summary["families_unblocking"] if f[0] == "--cover"]
    assert cover == [["--cover", 2, [3, 4]]]


def test_families_take_prefixes_and_refusals():
    assert vw_suite._in_family(["--search", "--search_task"], ["--search*"])
    assert not vw_suite._in_family(["--search", "--oaa"], ["--search*"])
    assert vw_suite._in_family(["--passes (refused)"], vw_suite.FAMILIES["--passes N, cache, holdout"])
    assert vw_suite._refused_flag("--passes other than 1 is not supported yet") == "--passes (refused)"


def test_json_outputs_compare_key_by_key():
    assert vw_suite.json_differences({"a": 1.0005, "b": "x"}, {"a": 1.0, "b": "x"}) == []  # VW CI's 1e-3
    assert vw_suite.json_differences({"a": 1.0005}, {"a": 1.0}, epsilon=1e-4)
    assert vw_suite.json_differences({"a": 1.002}, {"a": 1.0})
    assert vw_suite.json_differences({"a": 1.0}, {"a": 1.0, "b": 2})
    assert vw_suite.json_differences({"a": {"c": "y"}}, {"a": {"c": "z"}})


def test_a_case_runs_and_compares_in_a_copy_of_the_tree(tmp_path):
    """A hand-made one-case suite; the reference is what VW 9.11.9 (pip's vowpalwabbit) prints for one
    example labelled 1 with one feature. A reference with another prediction makes the case fail."""
    tree = tmp_path / "test"
    (tree / "train-sets" / "ref").mkdir(parents=True)
    (tree / "train-sets" / "a.dat").write_text("1 | x\n")
    table = (
        "average  since         example        example        current        current  current\n"
        "loss     last          counter         weight          label        predict features\n"
        "1.000000 1.000000            1            1.0         1.0000         0.0000        2\n"
        "\nfinished run\nnumber of examples = 1\nweighted example sum = 1.000000\n"
        "weighted label sum = 1.000000\naverage loss = 1.000000\nbest constant = 1.000000\n"
        "best constant's loss = 0.000000\ntotal feature number = 2\n"
    )
    (tree / "train-sets" / "ref" / "a.stderr").write_text(table)
    (tree / "train-sets" / "ref" / "wrong.stderr").write_text(table.replace("0.0000        2", "0.5000        2"))
    suite = {
        1: {"id": 1, "vw_command": "-d train-sets/a.dat", "diff_files": {"stderr": "train-sets/ref/a.stderr"}},
        2: {"id": 2, "vw_command": "-d train-sets/a.dat", "diff_files": {"stderr": "train-sets/ref/wrong.stderr"}},
    }
    assert vw_suite.run_case(1, suite, tree, 60)["result"] == "pass"
    wrong = vw_suite.run_case(2, suite, tree, 60)
    assert wrong["result"] == "fail" and "numbers differ: 0.0000 vs expected 0.5000" in wrong["detail"], wrong
    assert not (tree / "models").exists()  # the runs happen in a copy of the tree

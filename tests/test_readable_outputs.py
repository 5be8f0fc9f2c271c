"""Readable outputs against Vowpal Wabbit: ``--readable_model``, ``--invert_hash`` and ``--audit``.

Readable model files are compared on their feature lines (``[name:]index:values``; the header names
the program and its version): the same indices, the same names (``--invert_hash``), the same number
of values per line (the weight, plus the optimizer's state when VW writes it: 3 values for the
default adaptive+normalized rule and for FTRL with its resume state, 1 for ``--predict_only_model``
and ``--sgd``), values equal under VW's runner rule (1e-4 absolute, ratio for |x| > 1).

``--audit`` stdout is compared with VW's line by line and token by token (numbers under the same
rule), keeping only the audit lines (a prediction line, then a line that starts with a tab), since
``python -m vowpalwabbit`` may print notices on stdout too.

Inputs: a small hand-written file with string-valued features (``color:red``), anonymous features
(``:2.5``, in a named namespace and in the unnamed one), the unnamed namespace (``| u v:0.3``), a
namespace scale, a tag, an importance weight and an initial value; and the first 300 lines of
test_vw_parity's regression stream.
"""

from __future__ import annotations

import pytest

import vwcompare
import vwreadable
from test_vw_parity import STREAMS, generate_stream

SMALL = """\
1 |a x:0.5 y |bravo z:2 w |c q
-0.5 |a x |bravo w:1.5 | u v:0.3
2 |a y:-1 color:red |bravo z :2.5
0.3 | :1.5 u |a x
1.5 2 'tag1 |a x:2 |bravo z w:0.5 |c q:-1 r
0.7 1 0.25 |a:0.5 y color:blue |bravo:2 :0.5 z |c r
-1 |bravo w |a color:red x:-0.3
"""

# case -> (flags, values per feature line)
READABLE_CASES = {
    "default_q_ab": ("-q ab", 3),  # save_resume: weight, adaptive sum, normalizer
    "predict_only_model": ("-q ab --predict_only_model", 1),
    "sgd": ("--sgd", 1),
    "ftrl": ("--ftrl", 3),  # weight, z, n
    "ftrl_l1_q": ("--ftrl --l1 0.01 -q ab", 3),
    "cubic_predict_only": ("--cubic abc --predict_only_model", 1),
    "l1_l2": ("--l1 1e-4 --l2 1e-4", 3),
}

AUDIT_CASES = {
    "q_ab": "-q ab",
    "cubic_abc": "--cubic abc",
    "q_aa": "-q aa",
    "sgd_l1_l2": "--sgd --l1 1e-4 --l2 1e-4",
    "hinge": "--loss_function hinge",
    "quantile": "--loss_function quantile --quantile_tau 0.3",
    "ignore_q": "--ignore c -q ab",
    "keep": "--keep ab",
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("readable_inputs")
    small = d / "small.txt"
    small.write_text(SMALL, encoding="utf-8")
    seed, logistic, unlabeled = STREAMS["regression"]
    text, _ = generate_stream(300, seed, logistic=logistic, unlabeled=unlabeled)
    stream = d / "stream.txt"
    stream.write_text(text, encoding="utf-8")
    return {"small": small, "stream": stream}


def run_both(args, tmp_path):
    """Run wabbit and VW with the same arguments in two folders; return (wabbit, VW) procs and folders."""
    out = []
    for who, runner in (("wabbit", vwcompare.run_wabbit), ("vw", vwcompare.run_vw)):
        d = tmp_path / who
        d.mkdir()
        proc = runner(args, d)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        out.append((proc, d))
    return out


@pytest.mark.parametrize("data", ["small", "stream"])
@pytest.mark.parametrize("case", list(READABLE_CASES))
def test_readable_model_and_invert_hash_match_vw(case, data, inputs, tmp_path, vw_available):
    flags, n_values = READABLE_CASES[case]
    args = [
        "-d",
        str(inputs[data]),
        "--quiet",
        "--readable_model",
        "model.txt",
        "--invert_hash",
        "model.inv",
        *flags.split(),
    ]
    (wb, wb_dir), (vw, vw_dir) = run_both(args, tmp_path)
    failures = []
    for name in ("model.txt", "model.inv"):
        assert (wb_dir / name).is_file(), f"wabbit did not write {name}\n" + vwcompare.describe_run(wb)
        ours = (wb_dir / name).read_text(encoding="utf-8")
        theirs = (vw_dir / name).read_text(encoding="utf-8")
        expected = vwreadable.weights(theirs)
        assert expected, f"VW wrote no feature lines in {name}"
        assert {len(w.values) for w in expected.values()} == {n_values}, f"VW's {name}: not {n_values} values per line"
        assert all((w.name is None) == (name == "model.txt") for w in expected.values())
        problems = vwreadable.compare_weights(ours, theirs)
        # VW writes the lines in index order; so must we
        order = [w.index for w in map(vwreadable.parse_weight_line, vwreadable.feature_lines(ours))]
        if order != sorted(order):
            problems.append("feature lines are not in index order")
        if problems:
            failures.append(f"{name}: {len(problems)} difference(s)\n  " + "\n  ".join(problems[:10]))
    assert not failures, f"{case} ({flags}) on {data}:\n" + "\n".join(failures)


def test_invert_hash_names_string_anonymous_and_unnamed_features(inputs, tmp_path, vw_available):
    """The small file's special features are in VW's --invert_hash with the names VW gives them, and
    in wabbit's with the same names and indices."""
    args = ["-d", str(inputs["small"]), "--quiet", "--invert_hash", "model.inv", "-q", "ab", "--predict_only_model"]
    (wb, wb_dir), (vw, vw_dir) = run_both(args, tmp_path)
    theirs = {w.name: w.index for w in vwreadable.weights((vw_dir / "model.inv").read_text(encoding="utf-8")).values()}
    ours = {w.name: w.index for w in vwreadable.weights((wb_dir / "model.inv").read_text(encoding="utf-8")).values()}
    for name in (
        "a^color^red",  # string-valued: the value is hashed onto the name
        "bravo^",  # anonymous feature ":2.5" in namespace bravo
        "",  # anonymous feature ":1.5" in the unnamed namespace
        "u",  # unnamed namespace: no "ns^" prefix
        "v",
        "Constant",
        "a^x*bravo^z",
        "a^color^red*bravo^",
        "a^y*bravo^",
    ):
        assert name in theirs, f"VW has no {name!r} in --invert_hash (test input changed?)"
        assert ours.get(name) == theirs[name], f"{name!r}: wabbit index {ours.get(name)}, VW {theirs[name]}"
    assert ours == theirs


@pytest.mark.parametrize("data", ["small", "stream"])
@pytest.mark.parametrize("case", list(AUDIT_CASES))
def test_audit_matches_vw(case, data, inputs, tmp_path, vw_available):
    flags = AUDIT_CASES[case]
    args = ["-d", str(inputs[data]), "--audit", "--quiet", *flags.split()]
    (wb, _), (vw, _) = run_both(args, tmp_path)
    theirs = vwreadable.audit_lines(vw.stdout)
    ours = vwreadable.audit_lines(wb.stdout)
    n_examples = sum(1 for line in inputs[data].read_text(encoding="utf-8").splitlines() if line.strip())
    assert len(theirs) == 2 * n_examples, "VW's audit should have two lines per example"
    stray = [l for l in wb.stdout.splitlines() if l not in ours]
    assert not stray, f"wabbit printed non-audit lines on stdout: {stray[:5]}"
    problems = vwcompare.compare_lines(ours, theirs, what="audit line")
    assert not problems, f"{case} ({flags}) on {data}: {len(problems)} difference(s)\n" + "\n".join(problems[:6])


def test_audit_parser_sees_names_and_weights(inputs, tmp_path, vw_available):
    """The -q ab audit of the small file: VW's names as the issue describes them, parsed."""
    (wb, _), (vw, _) = run_both(["-d", str(inputs["small"]), "--audit", "--quiet", "-q", "ab"], tmp_path)
    examples = vwreadable.audit_examples(vw.stdout)
    assert len(examples) == SMALL.count("\n")
    names = {f.name for _, feats in examples for f in feats}
    assert {"a^x", "bravo^z", "a^x*bravo^z", "Constant", "u", "", "a^color^red*bravo^"} <= names
    assert examples[4][0].split() == [examples[4][0].split()[0], "tag1"]
    ours = vwreadable.audit_examples(wb.stdout)
    assert [[(f.name, f.index) for f in feats] for _, feats in ours] == [
        [(f.name, f.index) for f in feats] for _, feats in examples
    ]

"""Fine points where wabbit follows VW 9.11.9 exactly: FTRL reports its prediction clamped to the
labels seen before the example; -t with --l2 scales only the weights' part, not the initial value;
--audit prints the score before --link/--binary and lists --ignore_linear namespaces too.

Two VW behaviours are deliberately not copied (and so not tested here): VW prints FTRL's audit twice
per learned example (once per internal predict), and explain() leaves out --ignore_linear features,
which do not contribute to the prediction, while VW's audit lists them with weight 0.
"""

import random

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import test_linear_parity as lp  # noqa: E402
import test_linear_save_load as sl  # noqa: E402
import vwcompare  # noqa: E402
import vwreadable  # noqa: E402
import wabbit  # noqa: E402
from test_vw_parity import STREAMS, generate_stream  # noqa: E402


# FTRL: the reported prediction is clamped to the labels seen before the example (VW predicts, then
# learns); the stream-level FTRL cases are in test_linear_parity.py.
@pytest.mark.parametrize("flags", ["--ftrl --ftrl_alpha 5", "--ftrl --ftrl_alpha 5 --loss_function quantile"])
def test_ftrl_clamps_to_labels_seen_before(flags, tmp_path):
    """The 4th prediction is clamped to max label 1, the largest label before it (VW's numbers)."""
    (tmp_path / "d.txt").write_text("1 |a x\n1 |a x\n1 |a x\n3 |a x\n")
    preds = {}
    for who, run in (("wabbit", vwcompare.run_wabbit), ("vw", vwcompare.run_vw)):
        proc = run(["-d", "d.txt", "-p", f"{who}.p", "--quiet", *flags.split()], tmp_path)
        assert proc.returncode == 0
        preds[who] = [p for p, _ in vwcompare.parse_predictions((tmp_path / f"{who}.p").read_text())]
    assert preds["vw"] == [0, 1, 1, 1]
    assert preds["wabbit"] == preds["vw"]


# ---------------------------------------------------------------------------------------------
# 2. --l2 (default rule and --sgd): '-t -i' predictions of examples with an initial value differ.
#    VW: initial + contraction * w.x ; wabbit: contraction * (initial + w.x)
#    -> tests/test_linear_save_load.py, FAMILIES entries:
L2_FAMILIES = {
    "l2": ("regression", "--l2 1e-4", dict(l2=1e-4)),
    "l1_l2": ("regression", "--l1 1e-5 --l2 1e-4", dict(l1=1e-5, l2=1e-4)),
    "sgd_l1_l2": ("regression", "--sgd --l1 1e-4 --l2 1e-4", dict(sgd=True, l1=1e-4, l2=1e-4)),
}
sl.FAMILIES.update(L2_FAMILIES)
splits = sl.splits


@pytest.mark.parametrize("family", list(L2_FAMILIES))
def test_l2_test_only_predictions_equal_vw(family, splits, tmp_path):
    sl.test_cli_test_only_predictions_equal_vw(family, splits, tmp_path, True)


def test_l2_test_only_with_initial_minimal(tmp_path):
    (tmp_path / "tr.txt").write_text("1 |a x\n2 |a x\n1 |a x y\n")
    (tmp_path / "te.txt").write_text("0 1 1 |a x\n0 |a x\n0 1 0.5 |a y\n")
    preds = {}
    for who, run in (("wabbit", vwcompare.run_wabbit), ("vw", vwcompare.run_vw)):
        assert run(["-d", "tr.txt", "-f", f"{who}.m", "--l2", "0.01", "--quiet"], tmp_path).returncode == 0
        assert run(["-d", "te.txt", "-t", "-i", f"{who}.m", "-p", f"{who}.p", "--quiet"], tmp_path).returncode == 0
        preds[who] = [p for p, _ in vwcompare.parse_predictions((tmp_path / f"{who}.p").read_text())]
    assert preds["vw"] == [1.990491, 0.990491, 1.004613]
    assert preds["wabbit"] == preds["vw"]


# ---------------------------------------------------------------------------------------------
# 3. --audit differences -> tests/test_readable_outputs.py, AUDIT_CASES entries
#    (pm1 cases on the logistic stream: add a "stream_pm1" input there)
AUDIT_CASES = {
    # VW lists the --ignore_linear namespace's linear features too (weight 0, never used)
    "ignore_linear_q": ("regression", "--ignore_linear a -q ab"),
    # VW's audit prediction line is the raw score (before the link / the sign); wabbit prints -p's value
    "link_logistic": ("logistic", "--loss_function logistic --link logistic"),
    "link_glf1": ("logistic", "--loss_function logistic --link glf1"),
    "binary": ("logistic", "--loss_function logistic --binary"),
    "link_poisson": ("counts", "--loss_function poisson --link poisson"),
}


@pytest.fixture(scope="module")
def audit_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("audit_failing")
    out = {}
    for name, (base, transform) in {
        "regression": ("regression", None),
        "logistic": ("logistic", None),
        "counts": ("regression", lp.poisson_counts),
    }.items():
        seed, logistic, unlabeled = STREAMS[base]
        text, ex = generate_stream(300, seed, logistic=logistic, unlabeled=unlabeled)
        text, _ = lp.relabel(text, ex, transform)
        (d / f"{name}.txt").write_text(text, encoding="utf-8")
        out[name] = d / f"{name}.txt"
    return out


@pytest.mark.parametrize("case", list(AUDIT_CASES))
def test_audit_matches_vw(case, audit_inputs, tmp_path):
    stream, flags = AUDIT_CASES[case]
    args = ["-d", str(audit_inputs[stream]), "--audit", "--quiet", *flags.split()]
    wb = vwcompare.run_wabbit(args, tmp_path)
    vw = vwcompare.run_vw(args, tmp_path)
    problems = vwcompare.compare_lines(
        vwreadable.audit_lines(wb.stdout), vwreadable.audit_lines(vw.stdout), what="audit line"
    )
    assert not problems, f"{case} ({flags}): {len(problems)} difference(s)\n" + "\n".join(problems[:4])


@pytest.mark.parametrize(
    "flags,data",
    [
        ("--ignore_linear a -q ab", "1 |a x |bravo y\n"),
        ("--loss_function logistic --link logistic", "1 |a x\n-1 |a x\n"),
    ],
)
def test_audit_minimal(flags, data, tmp_path):
    (tmp_path / "d.txt").write_text(data)
    args = ["-d", "d.txt", "--audit", "--quiet", *flags.split()]
    wb = vwcompare.run_wabbit(args, tmp_path)
    vw = vwcompare.run_vw(args, tmp_path)
    assert vwreadable.audit_lines(wb.stdout) == vwreadable.audit_lines(vw.stdout), (wb.stdout, vw.stdout)


def test_feature_values_are_read_as_vws_float_loop_reads_them():
    """VW reads "d.ddd" by acc = acc * 10 + digit in float, then times its float table of 10^-k;
    wabbit takes an integer shortcut up to 7 digits: the same floats, checked on 20,000 strings."""
    rng = random.Random(0)

    def vw_float(s):  # VW's parseFloat, transcribed in float32 arithmetic
        sign = np.float32(-1 if s.startswith("-") else 1)
        acc, decimals, seen = np.float32(0), 0, False
        for ch in s.lstrip("-"):
            if ch == ".":
                seen = True
                continue
            acc = np.float32(acc * np.float32(10) + np.float32(int(ch)))
            decimals += seen
        scale = np.float32(1)
        for _ in range(decimals):
            scale = np.float32(scale / np.float32(10))
        return sign * np.float32(acc * scale)

    m = wabbit.Model("--noconstant -b 20")
    checked = 0
    for _ in range(20_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
        k = rng.randint(0, len(digits))
        s = digits[:k] + "." + digits[k:] if rng.random() < 0.7 else digits
        s = "-" + s if rng.random() < 0.3 else s
        want = vw_float(s)
        if want == 0:
            continue
        got = m.explain(f"|f x:{s}")[0].value
        assert np.float32(got) == want, s
        checked += 1
    assert checked > 19_000

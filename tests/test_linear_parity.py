"""wabbit vs Vowpal Wabbit for the rest of the linear learner (issue 3): losses, links, --binary,
prediction bounds, FTRL-Proximal, L1/L2 for SGD, interactions of any order, --ignore/--keep.

The streams are test_vw_parity's (``generate_stream``: the whole simple-label text grammar, same
seeds).  Each case names a stream and a small label transform where the loss needs other labels
(Poisson: non-negative counts; hinge, --binary and the logistic links use the logistic stream's
-1/1 labels).  VW (``python -m vowpalwabbit``) and wabbit run with ``-p`` on the same file; as in
test_vw_parity: at least 99% of predictions within 1e-4, none off by more than 1e-2 (VW's ratio
rule for |values| > 1), tags equal, and the summary's example count, weighted sums, feature total
and average loss (1e-4 relative) equal.  VW's numbers are the expected values.
"""

from __future__ import annotations

import math
import re

import pytest

import vwcompare
from test_vw_parity import STREAMS, generate_stream

N_LINES = 3000


def poisson_counts(label: float) -> str:
    """Regression label (about -6..6) -> a non-negative count."""
    return str(max(0, int(round(label + 1.5))))


# stream -> (base stream of test_vw_parity, label transform or None)
LINEAR_STREAMS = {
    "regression": ("regression", None),
    "pm1": ("logistic", None),  # labels -1/1
    "counts": ("regression", poisson_counts),
    "regression_unlabeled": ("regression_unlabeled", None),
}

# case -> (stream, flags)
CASES = {
    "ftrl_l1": ("regression", "--ftrl --l1 0.01"),
    "ftrl_q": ("regression", "--ftrl -q ab"),
    "ftrl_unlabeled": ("regression_unlabeled", "--ftrl"),
    "hinge": ("pm1", "--loss_function hinge"),
    "hinge_sgd": ("pm1", "--loss_function hinge --sgd"),
    "quantile_tau_0.3": ("regression", "--loss_function quantile --quantile_tau 0.3"),
    "quantile_tau_0.8": ("regression", "--loss_function quantile --quantile_tau 0.8"),
    "classic": ("regression", "--loss_function classic"),
    "poisson": ("counts", "--loss_function poisson"),
    "poisson_link_poisson": ("counts", "--loss_function poisson --link poisson"),
    "ftrl_alpha_beta_l2": ("regression", "--ftrl --ftrl_alpha 0.1 --ftrl_beta 0.5 --l2 0.1"),
    "ftrl_logistic": ("pm1", "--ftrl --loss_function logistic"),
    "ftrl_hinge_binary": ("pm1", "--ftrl --loss_function hinge --ftrl_alpha 0.05 --binary"),
    "sgd_l1_l2": ("regression", "--sgd --l1 1e-4 --l2 1e-4"),
    "l1": ("regression", "--l1 1e-5"),
    "l2": ("regression", "--l2 1e-4"),
    "l1_unlabeled": ("regression_unlabeled", "--sgd --l1 1e-4"),
    "cubic": ("regression", "--cubic abc"),
    "interactions_2_and_3": ("regression", "--interactions ab --interactions abc"),
    "interactions_aab": ("regression", "--interactions aab"),
    "q_aa": ("regression", "-q aa"),
    "cubic_aaa": ("regression", "--cubic aaa"),
    "ignore_q": ("regression", "--ignore c -q ab"),
    "keep": ("regression", "--keep ab"),
    "keep_twice_q": ("regression", "--keep a --keep b -q ab"),
    "ignore_twice_q": ("regression", "--ignore cd --ignore e -q ab"),
    "ignore_linear_q": ("regression", "--ignore_linear a -q ab"),
    "link_logistic": ("pm1", "--loss_function logistic --link logistic"),
    "link_glf1": ("pm1", "--loss_function logistic --link glf1"),
    "binary": ("pm1", "--loss_function logistic --binary"),
    "min_max_prediction": ("regression", "--min_prediction -0.5 --max_prediction 0.5"),
}

# VW's notices on stdout that a flag set is expected to cause
EXPECTED_VW_NOTICES = {
    "interactions_aab": "[warning] Some interactions contain duplicate characters and their characters order has been changed.",
}


def relabel(text: str, examples: list, transform) -> tuple:
    """Apply ``transform(label) -> label text`` to every labeled line (first token)."""
    if transform is None:
        return text, examples
    lines = text.split("\n")
    out = []
    for e in examples:
        e = dict(e)
        if e["label"] is not None:
            i = e["line"] - 1
            stripped = lines[i].lstrip(" ")
            lead = lines[i][: len(lines[i]) - len(stripped)]
            token, rest = stripped.split(" ", 1)
            assert float(token) == e["label"], (lines[i], e)
            new = transform(e["label"])
            lines[i] = lead + new + " " + rest
            e["label"] = float(new)
        out.append(e)
    return "\n".join(lines), out


@pytest.fixture(scope="module")
def linear_streams(tmp_path_factory):
    d = tmp_path_factory.mktemp("linear_streams")
    out = {}
    for name, (base, transform) in LINEAR_STREAMS.items():
        seed, logistic, unlabeled = STREAMS[base]
        text, examples = generate_stream(N_LINES, seed, logistic=logistic, unlabeled=unlabeled)
        text, examples = relabel(text, examples, transform)
        path = d / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        out[name] = (path, examples)
    return out


@pytest.fixture(scope="module")
def vw_runs(linear_streams, tmp_path_factory, vw_available):
    """VW once per case: (CompletedProcess, predictions text)."""
    cache = {}

    def get(case: str):
        if case not in cache:
            stream, flags = CASES[case]
            d = tmp_path_factory.mktemp(f"vw_{case}")
            data, _ = linear_streams[stream]
            proc = vwcompare.run_vw(["-d", str(data), "-p", "vw.pred", *flags.split()], d)
            assert proc.returncode == 0, vwcompare.describe_run(proc)
            cache[case] = (proc, (d / "vw.pred").read_text(encoding="utf-8"))
        return cache[case]

    return get


def assert_predictions_match(ours: list, theirs: list, examples: list, what: str) -> None:
    assert len(ours) == len(theirs), f"{what}: {len(ours)} predictions, VW wrote {len(theirs)}"
    tag_diffs = [(i, o[1], t[1]) for i, (o, t) in enumerate(zip(ours, theirs)) if o[1] != t[1]]
    assert not tag_diffs, f"{what}: tags differ (example index, wabbit, VW): {tag_diffs[:10]}"
    close = 0
    far = []
    for e, (p, _), (q, _) in zip(examples, ours, theirs):
        if vwcompare.floats_close(p, q, 1e-4):
            close += 1
        elif not vwcompare.floats_close(p, q, 1e-2):
            far.append((e["line"], p, q))
    frac = close / len(theirs)
    worst = sorted(((abs(p - q), e["line"], p, q) for e, (p, _), (q, _) in zip(examples, ours, theirs)), reverse=True)[
        :5
    ]
    assert frac >= 0.99 and not far, (
        f"{what}: {close}/{len(theirs)} predictions within 1e-4 ({frac:.2%}, need 99%); "
        f"{len(far)} off by more than 1e-2, first (line, wabbit, VW): {far[:5]}; "
        f"largest differences (diff, line, wabbit, VW): {worst}"
    )


def run_wabbit_case(case, linear_streams, tmp_path):
    stream, flags = CASES[case]
    data, examples = linear_streams[stream]
    proc = vwcompare.run_wabbit(["-d", str(data), "-p", "wabbit.pred", *flags.split()], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    pred_path = tmp_path / "wabbit.pred"
    assert pred_path.is_file(), "wabbit did not write the -p file\n" + vwcompare.describe_run(proc)
    return proc, pred_path.read_text(encoding="utf-8", errors="replace"), examples


@pytest.mark.parametrize("case", list(CASES))
def test_linear_parity_with_vw(case, linear_streams, vw_runs, tmp_path):
    vw_proc, vw_pred = vw_runs(case)
    proc, pred, examples = run_wabbit_case(case, linear_streams, tmp_path)
    ours = vwcompare.parse_predictions(pred)
    theirs = vwcompare.parse_predictions(vw_pred)
    assert_predictions_match(ours, theirs, examples, f"{case} ({CASES[case][1]})")
    problems = vwcompare.summary_problems(proc.stderr, vw_proc.stderr)
    assert not problems, (
        f"{case}: summary differs from VW:\n  " + "\n  ".join(problems) + "\n" + vwcompare.describe_run(proc)
    )


_PM1 = re.compile(r"^-?1$")


def zero_one_loss(predictions: list, examples: list) -> float:
    labeled = [(p, e) for (p, _), e in zip(predictions, examples) if e["label"] is not None]
    wrong = sum(e["weight"] for p, e in labeled if p != e["label"])
    return wrong / sum(e["weight"] for _, e in labeled)


def test_binary_predicts_signs_and_reports_zero_one_loss(linear_streams, vw_runs, tmp_path):
    """--binary: -p holds the integers -1 and 1 (as VW prints them) and the average loss is the
    weighted 0/1 loss of those predictions, for VW and for wabbit."""
    vw_proc, vw_pred = vw_runs("binary")
    proc, pred, examples = run_wabbit_case("binary", linear_streams, tmp_path)
    for who, text in (("VW", vw_pred), ("wabbit", pred)):
        firsts = [line.split()[0] for line in text.splitlines() if line.strip()]
        odd = [t for t in firsts if not _PM1.match(t)]
        assert not odd, f"{who} --binary predictions that are not the integers -1/1: {odd[:10]}"
        assert set(firsts) == {"-1", "1"}
    vw_preds = vwcompare.parse_predictions(vw_pred)
    ours = vwcompare.parse_predictions(pred)
    assert [p for p, _ in ours] == [p for p, _ in vw_preds]
    expected = zero_one_loss(vw_preds, examples)
    assert 0.05 < expected < 0.5, "the stream should make --binary err sometimes"
    assert math.isclose(vwcompare.summary_value(vw_proc.stderr, "average loss"), expected, abs_tol=1.01e-6)
    assert math.isclose(vwcompare.summary_value(proc.stderr, "average loss"), expected, abs_tol=1.01e-6)


@pytest.mark.harness
@pytest.mark.parametrize("case", list(CASES))
def test_harness_vw_takes_linear_case_silently(case, linear_streams, vw_runs):
    """VW reads every line of each case's stream without complaint (labels fit the loss)."""
    proc, pred = vw_runs(case)
    _, examples = linear_streams[CASES[case][0]]
    notice = EXPECTED_VW_NOTICES.get(case)
    if notice:
        assert notice in proc.stdout
    noise = [
        l
        for l in proc.stdout.splitlines() + proc.stderr.splitlines()
        if re.search(r"warning|error|not a good|invalid|magnitude", l, re.I) and not (notice and notice in l)
    ]
    assert not noise, f"VW complained on {case}: {noise[:5]}"
    assert vwcompare.summary_value(proc.stderr, "number of examples") == len(examples)
    preds = vwcompare.parse_predictions(pred)
    assert len(preds) == len(examples)
    assert all(math.isfinite(p) for p, _ in preds)


@pytest.mark.harness
def test_harness_counts_stream(linear_streams):
    _, examples = linear_streams["counts"]
    labels = [e["label"] for e in examples if e["label"] is not None]
    assert min(labels) == 0 and max(labels) >= 5
    assert all(l >= 0 and l == int(l) for l in labels)

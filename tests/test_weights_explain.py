"""``Model.weights()`` and ``Model.explain()`` against Vowpal Wabbit's readable model and audit.

* ``weights()`` returns exactly the non-zero weights that VW writes with ``--readable_model`` and
  ``--predict_only_model`` after the same training (same indices; values within 1e-5 relative, VW
  printing 6 significant digits), including FTRL's and L1's exact zeros (sparsity).
* ``explain(line)`` names each feature as VW's ``--audit`` does for that example (VW: trained with
  ``-f``, then ``-t -i --audit`` on the example), with VW's index, value and weight; and for an
  identity-link squared model the contributions sum to the prediction (a property over many
  examples, interactions ``a^x*bravo^y`` included).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

import vwcompare
import vwreadable
from test_vw_parity import STREAMS, generate_stream

N_TRAIN = 1500
N_EXPLAIN = 150

WEIGHT_CASES = {
    "default": ("regression", ""),
    "q_ab": ("regression", "-q ab"),
    "l1": ("regression", "--l1 1e-4"),
    "l2": ("regression", "--l2 1e-3"),
    "sgd_l1_l2": ("regression", "--sgd --l1 1e-3 --l2 1e-4"),
    "ftrl_l1": ("regression", "--ftrl --l1 0.05"),  # sparse
    "ftrl_q": ("regression", "--ftrl -q ab"),
    "cubic_keep": ("regression", "--cubic abc --keep abc -b 20"),
    "logistic_ignore": ("logistic", "--loss_function logistic --ignore c"),
    "hinge": ("logistic", "--loss_function hinge"),
    "quantile": ("regression", "--loss_function quantile --quantile_tau 0.8"),
}

EXPLAIN_CASES = {
    "q_ab": "-q ab",
    "cubic": "--cubic abc",
    "q_aa": "-q aa",
    "ftrl_q": "--ftrl -q ab",
    "l2_q": "--l2 1e-3 -q ab",
    "sgd_l1": "--sgd --l1 1e-3",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("weights_explain")
    out = {}
    for kind in ("regression", "logistic"):
        seed, logistic, unlabeled = STREAMS[kind]
        text, _ = generate_stream(N_TRAIN + N_EXPLAIN + 40, seed, logistic=logistic, unlabeled=unlabeled)
        lines = [l for l in text.splitlines() if l.strip()]
        train = d / f"{kind}_train.txt"
        train.write_text("\n".join(lines[:N_TRAIN]) + "\n", encoding="utf-8")
        # features only (from the first bar: no label, initial or tag), for explain and audit
        feats = [l[l.index("|") :] for l in lines[N_TRAIN : N_TRAIN + N_EXPLAIN]]
        test = d / f"{kind}_features.txt"
        test.write_text("\n".join(feats) + "\n", encoding="utf-8")
        out[kind] = (train, test, feats)
    return out


@pytest.mark.parametrize("case", list(WEIGHT_CASES))
def test_weights_equal_vw_readable_model(case, data, tmp_path, wabbit_module, vw_available):
    kind, flags = WEIGHT_CASES[case]
    train, _, _ = data[kind]
    proc = vwcompare.run_vw(
        ["-d", str(train), "--quiet", "--readable_model", "vw.txt", "--predict_only_model", *flags.split()], tmp_path
    )
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    expected = vwreadable.weights((tmp_path / "vw.txt").read_text(encoding="utf-8"))
    assert expected and all(len(w.values) == 1 and w.values[0] != 0 for w in expected.values())

    model = wabbit_module.Model(flags)
    model.learn_many(str(train))
    idx, w = model.weights()
    assert isinstance(idx, np.ndarray) and isinstance(w, np.ndarray) and idx.shape == w.shape
    assert np.all(w != 0), "weights() returned zero weights"
    assert len(set(idx.tolist())) == len(idx), "weights() returned an index twice"
    got = dict(zip(idx.tolist(), w.tolist()))
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, (
        f"{case} ({flags}): indices differ from VW's readable model: {len(missing)} missing "
        f"(e.g. {[expected[i] for i in missing[:5]]}), {len(extra)} extra (e.g. {[(i, got[i]) for i in extra[:5]]})"
    )
    off = [
        (i, got[i], expected[i].values[0])
        for i in sorted(got)
        if not math.isclose(got[i], expected[i].values[0], rel_tol=1e-5, abs_tol=1e-6)
    ]
    assert not off, f"{case} ({flags}): {len(off)} weights differ from VW's by more than 1e-5, e.g. {off[:5]}"


def test_ftrl_l1_is_sparse_like_vw(data, tmp_path, wabbit_module, vw_available):
    """FTRL with L1 zeroes weights that plain FTRL keeps: the same ones as VW (covered above), and some."""
    train, _, _ = data["regression"]
    dense = wabbit_module.Model("--ftrl")
    dense.learn_many(str(train))
    sparse = wabbit_module.Model("--ftrl --l1 0.05")
    sparse.learn_many(str(train))
    assert len(sparse.weights()[0]) < 0.99 * len(dense.weights()[0])


def vw_audit_after_training(flags, train, test, tmp_path):
    proc = vwcompare.run_vw(["-d", str(train), "--quiet", "-f", "vw.model", *flags.split()], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    proc = vwcompare.run_vw(["-d", str(test), "-t", "-i", "vw.model", "--audit", "--quiet"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    return vwreadable.audit_examples(proc.stdout)


@pytest.mark.parametrize("case", list(EXPLAIN_CASES))
def test_explain_names_match_vw_audit(case, data, tmp_path, wabbit_module, vw_available):
    flags = EXPLAIN_CASES[case]
    train, test, lines = data["regression"]
    audits = vw_audit_after_training(flags, train, test, tmp_path)
    assert len(audits) == len(lines)
    model = wabbit_module.Model(flags)
    model.learn_many(str(train))
    failures = []
    for line, (_, feats) in zip(lines, audits):
        contribs = model.explain(line)
        ours = Counter((c.name, c.index) for c in contribs)
        theirs = Counter((f.name, f.index) for f in feats)
        if ours != theirs:
            failures.append(
                f"{line[:80]!r}: wabbit only {list((ours - theirs).items())[:4]}, VW only {list((theirs - ours).items())[:4]}"
            )
            continue
        by_key = {}
        for f in feats:
            by_key.setdefault((f.name, f.index), []).append(f)
        for c in contribs:
            cands = by_key[(c.name, c.index)]
            if not any(
                vwcompare.floats_close(c.value, f.value) and vwcompare.floats_close(c.weight, f.weight) for f in cands
            ):
                failures.append(f"{line[:60]!r}: {c} vs VW {cands}")
            if not math.isclose(c.contribution, c.value * c.weight, rel_tol=1e-6, abs_tol=1e-9):
                failures.append(f"{c}: contribution is not value * weight")
    assert not failures, f"{case} ({flags}): {len(failures)} example(s) differ from VW's audit:\n" + "\n".join(
        failures[:8]
    )
    if "-q" in flags or "--cubic" in flags:
        assert any("*" in c.name for line in lines for c in model.explain(line)), "no interaction names seen"


@pytest.mark.parametrize("flags", ["", "-q ab", "--cubic abc", "-q ab --interactions abc --noconstant"])
def test_explain_contributions_sum_to_prediction(flags, data, wabbit_module):
    """Identity link, squared loss: the prediction is the sum of w*x over the features explain lists
    (for every example whose prediction is inside the label range, so not clamped)."""
    train, _, lines = data["regression"]
    model = wabbit_module.Model(flags)
    model.learn_many(str(train))
    checked = 0
    seen_interaction = False
    for line in lines:
        pred = model.predict(line)
        contribs = model.explain(line)
        seen_interaction |= any(c.name.count("*") >= (2 if "abc" in flags else 1) for c in contribs)
        if not -6 < pred < 6:  # clamped to the labels seen (-6..6)
            continue
        checked += 1
        total = math.fsum(c.contribution for c in contribs)
        assert math.isclose(total, pred, rel_tol=1e-4, abs_tol=1e-4), (
            f"{line!r}: contributions sum to {total}, prediction {pred}"
        )
        assert all(c.weight != 0 or c.contribution == 0 for c in contribs)
        assert [abs(c.contribution) for c in contribs] == sorted((abs(c.contribution) for c in contribs), reverse=True)
    assert checked > 0.9 * len(lines)
    if flags:
        assert seen_interaction, "no interaction feature (a^x*bravo^y...) in explain()"


def test_explain_names_interactions_as_vw(wabbit_module):
    model = wabbit_module.Model("-q ab --cubic abc")
    model.learn("2 |a x |bravo y |c z")
    names = {c.name for c in model.explain("|a x |bravo y |c z")}
    assert names == {"a^x", "bravo^y", "c^z", "Constant", "a^x*bravo^y", "a^x*bravo^y*c^z"}

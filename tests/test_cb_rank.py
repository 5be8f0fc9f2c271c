"""rank()'s fast path against the text path, bit for bit.

Model.rank (and predict on dict events) reads the candidates straight into a flat buffer and,
when they share their namespaces and none is shared, scores them with a per-request plan
(cpp/cb.cc: RankPlan); anything unusual goes through the general scorer. The reference is the same
model predicting the same event written as VW text (parsed into Examples, merged, scored by
Learner::score_const): scores (--cb_adf) and pmfs must be identical, not merely close.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import wabbit

# Feature values: small integers, which VW's float parser (and so the text path) reads exactly (it
# reads 1.375 as 1.3749999).
VALUES = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0]


def make_event(rng, n, shared_ns=("u",), cand_ns=("a",), extra=None):
    shared = {ns: {f"s{ns}{i}": float(rng.choice(VALUES)) for i in range(int(rng.integers(2, 6)))} for ns in shared_ns}
    cands = []
    for c in range(n):
        d = {}
        for ns in cand_ns:
            feats = {f"id={int(rng.integers(50))}": 1.0, f"k{int(rng.integers(5))}": float(rng.choice(VALUES))}
            if rng.random() < 0.5:
                feats["p"] = float(rng.choice(VALUES))
            d[ns] = feats
        if extra is not None:
            extra(rng, c, d)
        cands.append(d)
    return shared, cands


def to_text(shared, cands, label=None):
    def feature_text(feats):
        if isinstance(feats, list):
            return " ".join(feats)
        return " ".join(f"{k}:{int(v)}" for k, v in feats.items())

    def part(d):
        return " ".join(f"|{ns} " + feature_text(feats) for ns, feats in d.items())

    lines = [] if shared is None else ["shared " + part(shared)]
    for i, c in enumerate(cands):
        head = f"{label[0]}:{label[1]!r}:{label[2]!r} " if label is not None and label[0] == i else ""
        lines.append(head + (part(c) or "|"))  # (a blank line would end the event)
    return "\n".join(lines)


def trained(flags, rng, **kw):
    m = wabbit.Model(flags)
    for _ in range(60):
        shared, cands = make_event(rng, 6, **kw)
        m.learn(to_text(shared, cands, (int(rng.integers(6)), float(rng.choice(VALUES)), 0.5)))
    return m


def check_same(m, shared, cands):
    ranked = m.predict((shared, cands))  # the dict path: rank's
    text = m.predict(to_text(shared, cands))  # the text path: Examples through score_const
    np.testing.assert_array_equal(ranked, text)
    order, probs = m.rank(shared, cands)
    assert sorted(order.tolist()) == list(range(len(cands)))
    return ranked


CASES = [
    ("--cb_adf -q ua", {}),
    ("--cb_adf -q ua -q aa -q uu -q au", {}),  # every kind of cross: candidate x candidate, shared x shared, both ways
    ("--cb_adf -q ab -q ua -q ub -q bb", {"cand_ns": ("a", "b")}),
    ("--cb_adf -q ua -q va --cb_type dr", {"shared_ns": ("u", "v")}),
    ("--cb_explore_adf -q ua --bag 3", {}),  # three policies: three model offsets
    ("--cb_explore_adf -q ua --cb_type dr --bag 2", {}),
    ("--cb_adf --cubic uaa -q ua", {}),  # general path: a cubic interaction
    ("--cb_adf -q ua --l1 1e-4", {}),  # general path: L1 truncation
    ("--cb_adf -q ::", {}),  # general path: wildcards
    ("--cb_adf -q ua --ignore_linear u", {}),
    ("--cb_adf -q ua --ignore b", {"cand_ns": ("a", "b")}),
    ("--cb_adf -q ua --noconstant", {}),
    ("--cb_explore_adf -q ua --softmax --lambda 3", {}),
    ("--cb_explore_adf -q ua --epsilon 0.2", {}),
    ("--cb_adf -q ua --ftrl", {}),
    ("--cb_adf -q ua --l2 1e-3", {}),
]


@pytest.mark.parametrize("flags,kw", CASES, ids=[c[0] for c in CASES])
def test_rank_equals_the_text_path(flags, kw):
    rng = np.random.default_rng(zlib.crc32(flags.encode()))
    m = trained(flags, rng, **kw)
    for n in (1, 7, 40):
        shared, cands = make_event(rng, n, **kw)
        scores = check_same(m, shared, cands)
        check_same(m, None, cands)
    if flags.startswith("--cb_adf") and "--ignore " not in flags:
        assert len(set(np.round(scores, 5).tolist())) > 5  # the models learned something: the check has teeth


def test_rank_mixed_layouts_overlaps_and_repeated_slots():
    rng = np.random.default_rng(5)
    m = trained("--cb_adf -q ua -q ub -q ab", rng, cand_ns=("a", "b"))
    shared, cands = make_event(rng, 12, cand_ns=("a", "b"))
    check_same(m, shared, cands)
    # some candidates without namespace b: the layouts differ
    check_same(m, shared, [c if i % 3 else {"a": c["a"]} for i, c in enumerate(cands)])
    # a candidate namespace that is also shared: merged as VW's shared_feature_merger does
    check_same(m, shared, [{**c, "u": {"extra": 0.5}} for c in cands])
    # namespaces sharing a slot (first letter), not adjacent: one group, in order of first appearance
    check_same(m, shared, [{"a1": c["a"], "b": c["b"], "a2": {"more": 0.25, "id=3": 1.0}} for c in cands])
    check_same(m, shared, [{"b": c["b"], "a1": c["a"], "b2": {"x": 0.75}} for c in cands])
    # zero-valued features are dropped (as the text parser drops them), list and str forms
    check_same(m, shared, [{"a": {**c["a"], "zero": 0.0}, "b": list(c["b"])} for c in cands])
    # a candidate with no features at all besides the constant
    check_same(m, shared, [{}] + cands[1:])


def test_rank_spreads_indices_over_models():
    # --bag 3 interleaves 4 models: indices are multiplied by 4, each policy adds its offset
    rng = np.random.default_rng(8)
    m = trained("--cb_explore_adf -q ua --bag 3 --epsilon 0", rng)
    shared, cands = make_event(rng, 30)
    probs = check_same(m, shared, cands)
    assert probs.max() > probs.min()


def test_rank_survives_a_value_that_changes_its_dict():
    # a value whose float() empties the dict being read: the name read before stays alive
    class Emptying:
        def __init__(self, d):
            self.d = d

        def __float__(self):
            self.d.clear()
            return 2.0

    m = wabbit.Model("--cb_adf -q ua")
    m.learn("shared |u x:2\n0:1:0.5 |a f1:2\n|a f2:3")
    feats = {}
    name = "".join(["f", "1"])  # a str no one else holds
    feats[name] = Emptying(feats)
    del name
    got = m.predict(({"u": {"x": 2.0}}, [{"a": feats}, {"a": {"f2": 3.0}}]))
    want = m.predict(({"u": {"x": 2.0}}, [{"a": {"f1": 2.0}}, {"a": {"f2": 3.0}}]))
    np.testing.assert_array_equal(got, want)

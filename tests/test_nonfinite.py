"""Hostile feature values never make a weight non-finite (issue 14, item 2).

VW (pip vowpalwabbit 9.x) writes inf/NaN into its model for these inputs (`1 |a x:1e20` leaves
inf in the adaptive slot: `--readable_model` shows `55432:0 inf 1e+20`); wabbit refuses such an
example instead: it is skipped and named like a malformed line, the run goes on learning the
good lines after it, and whatever `save` writes, `load` reads.
"""

from __future__ import annotations

import os
import random
import re
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import wabbit

RULES = [
    "",
    "--sgd",
    "--adaptive",
    "--normalized",
    "--adaptive --invariant",
    "--ftrl",
    "--perceptron",
    "--pa",
    "--l1 1e-4 --l2 1e-3",
]
SHAPES = ["", "-q aa"]

HOSTILE = [
    "1 |a x:1e20 z",
    "1 |a t:1700000000000000000 z",  # a raw nanosecond timestamp
    "1 |a t:1.7e19",
    "1 |a x:3e38 z:2",
    "-1 |a x:1e-45 z",
    "1 |a x:1e20 y:1e-40 z",
    "1e30 |a z y",
    "1 1e30 |a z y",  # huge importance weight
    "1 1e20 |a x:1e10",
]
GOOD = ["1 |a z y", "-1 |a y w:0.5", "1 |a z w:2", "-1 |a w"]


def assert_finite_model(m: "wabbit.Model") -> None:
    _, w = m.weights()
    assert np.all(np.isfinite(w)), "non-finite weight"


def roundtrip(m: "wabbit.Model", tmp_path: Path, probe: list) -> None:
    path = tmp_path / "m.model"
    m.save(str(path))
    loaded = wabbit.load(str(path))
    for line in probe:
        assert loaded.predict(line) == m.predict(line)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("rule", RULES)
def test_hostile_values_keep_weights_finite(rule, shape, tmp_path):
    m = wabbit.Model(f"{rule} {shape}")
    lines = GOOD + HOSTILE + GOOD * 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.learn_many(lines, strict=False)
    assert_finite_model(m)
    roundtrip(m, tmp_path, GOOD)
    # every refusal names a hostile line (1-based numbers within the batch)
    hostile_numbers = set(range(len(GOOD) + 1, len(GOOD) + len(HOSTILE) + 1))
    for w in caught:
        text = str(w.message)
        if "non-finite" in text:
            number = int(re.search(r"line (\d+)", text).group(1))
            assert number in hostile_numbers, text
    # and the good lines after them were learned
    _, before = m.weights()
    m.learn_many(["1 |b fresh", "-1 |b fresh other"])
    _, after = m.weights()
    assert len(after) > len(before)


def test_1e20_cli_saves_a_loadable_model(tmp_path):
    data = tmp_path / "d.vw"
    data.write_text("1 |a x:1e20\n1 |a y\n-1 |a z\n")
    model = tmp_path / "m"
    env_py = str(Path(wabbit.__file__).resolve().parents[1])

    def run(*a: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "wabbit", *a],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PYTHONPATH": env_py, "PATH": "/usr/bin:/bin"},
        )

    p = run("-d", str(data), "-f", str(model))
    assert p.returncode == 0, p.stderr
    assert "line 1" in p.stderr and "non-finite" in p.stderr and "1e+20" in p.stderr
    assert "number of examples = 2" in p.stderr
    t = run("-t", "-i", str(model), "-d", str(data))
    assert t.returncode == 0, t.stderr


def test_refused_example_changes_nothing():
    good = ["1 |a z y", "-1 |a y w:0.5", "1 |a z w:2"]
    a = wabbit.Model("")
    a.learn_many(good[:2] + ["1 |a x:1e20 z"] + good[2:], strict=False)
    b = wabbit.Model("")
    b.learn_many(good)
    ia, wa = a.weights()
    ib, wb = b.weights()
    assert np.array_equal(ia, ib) and np.array_equal(wa, wb)


def test_single_learn_of_refused_example_raises():
    m = wabbit.Model("")
    with pytest.raises(ValueError, match="non-finite"):
        m.learn("1 |a x:1e20")
    assert_finite_model(m)


def test_finite_cases_equal_vw():
    # where VW stays finite, the guarded path is VW's update bit for bit
    pytest.importorskip("vowpalwabbit")
    from vowpalwabbit import pyvw

    lines = ["1 |a x:1e6 z", "-1 |a x:3e-7 y", "2 |a z:5e5", "1 |a y x:1e-6", "0.5 |a x:2e6"]
    for flags in ["", "--sgd", "-q aa", "--ftrl"]:
        vw = pyvw.Workspace("--quiet " + flags)
        m = wabbit.Model(flags)
        for line in lines:
            ex = vw.example(line)
            vw.learn(ex)
            theirs = ex.get_simplelabel_prediction()
            vw.finish_example(ex)
            assert np.float32(m.learn(line)) == np.float32(theirs), (flags, line)
        vw.finish()


@pytest.mark.parametrize("rule", ["", "--sgd", "--ftrl", "--perceptron"])
def test_random_extreme_values_property(rule, tmp_path):
    r = random.Random(14)
    m = wabbit.Model(f"{rule} -q aa")
    for _ in range(300):
        feats = []
        for k in range(r.randint(1, 4)):
            mag = 10.0 ** r.uniform(-45, 38.5)
            v = min(mag, 3.4e38) * r.choice([-1, 1])
            feats.append(f"f{k}:{v:.3g}")
        label = r.choice([1, -1, 10.0 ** r.uniform(-3, 35)])
        weight = r.choice([1, 10.0 ** r.uniform(-3, 35)])
        line = f"{label:.3g} {weight:.3g} |a " + " ".join(feats)
        try:
            m.learn(line)
        except ValueError as e:
            assert "non-finite" in str(e) or "line" in str(e) or "value" in str(e)
    assert_finite_model(m)
    roundtrip(m, tmp_path, ["1 |a f0:1 f1:2"])


# ================================================================================================
# One test per input surface (issue 21, "Non-finite values"): no NaN or infinity reaches the weight
# table (all of it: weights and the adaptive, normalizer and FTRL slots) from any surface, and the
# bad example is refused with an error naming it, changing nothing. The expectations come from the
# documented rules (README "nothing non-finite ever reaches the weights ... refused ... changes
# nothing ... named"; docs/frames.md, docs/json_input.md, docs/decisions.md, docs/model-format.md).

INF, NAN = float("inf"), float("nan")


def table_bytes(m: "wabbit.Model") -> bytes:
    return m.core.weight_table().tobytes()


def assert_finite_table(table: np.ndarray, what: str = "") -> None:
    assert np.isfinite(table).all(), f"non-finite weight table {what}"


def assert_refused(m: "wabbit.Model", call, match: str) -> None:
    """call() raises ValueError matching `match`, and the model's table is as it was."""
    before = table_bytes(m)
    with pytest.raises(ValueError, match=match):
        call()
    assert table_bytes(m) == before
    assert_finite_table(m.core.weight_table())


def away(m: "wabbit.Model") -> int:
    """A label the model does not predict (so that the update's gradient is not 0)."""
    return -1 if m.predict("|a x") > 0 else 1


def trained(flags: str = "-b 12") -> "wabbit.Model":
    m = wabbit.Model(flags)
    m.learn_many(["1 |a z y", "-1 |a y w:0.5", "1 |a z w:2"])
    return m


# values whose float32 is not finite (the text and JSON readers read numbers as float32)
NON_FINITE_TEXT = ["inf", "-inf", "nan", "NaN", "Infinity", "1e39", "-1e39", "1e308", "3.5e38"]
# finite floats whose update overflows (x^2 or the gradient's square past float's 3.4e38)
HUGE_TEXT = ["1e38", "3e38", "-3.4e38", "1e20", "1e30"]


@pytest.mark.parametrize("flags", ["-b 12", "-b 12 -q aa", "-b 12 --ftrl", "-b 12 --normalized", "-b 12 --coin"])
def test_text_learn_refuses_non_finite_and_overflowing_numbers(flags):
    m = trained(flags)
    for v in NON_FINITE_TEXT:
        for line in [f"1 |a x:{v}", f"{v} |a x", f"1 {v} |a x", f"1 1 {v} |a x"]:
            assert_refused(m, lambda line=line: m.learn(line), r"not finite|non-finite")
    for v in HUGE_TEXT:
        # a huge value or label: refused (the update would overflow) or learned finitely
        for line in [f"1 |a x:{v} z", f"{v} |a x", f"1 {v} |a x", f"1 1 {v} |a x"]:
            before = table_bytes(m)
            try:
                m.learn(line)
            except ValueError as e:  # refused: named, and nothing changed
                assert "example skipped" in str(e) or "must be >= 0" in str(e), e
                assert table_bytes(m) == before
            assert_finite_table(m.core.weight_table(), line)
    # the feature values near float's limit, whose square overflows in the adaptive sums, on a model
    # whose prediction is not the label yet (a zero gradient changes nothing, whatever the value): refused
    # (--normalized alone divides by x^2 instead, and --coin's update is bounded: those learn finitely)
    for v in ["3e38", "1e38", "1e20"]:
        if flags in ("-b 12", "-b 12 -q aa", "-b 12 --ftrl"):  # the rules that sum x^2 (adaptive, FTRL)
            fresh = trained(flags)
            y = away(fresh)
            assert_refused(
                fresh, lambda v=v, f=fresh, y=y: f.learn(f"{y} |a x:{v}"), r"non-finite \(feature values from 1 to"
            )
    # and predict never sees a non-finite number either
    for v in NON_FINITE_TEXT:
        with pytest.raises(ValueError, match="not finite"):
            m.predict(f"|a x:{v}")


def test_text_file_through_the_cli_names_each_refused_line(tmp_path):
    good = ["1 |a z y", "-1 |a y w:0.5", "1 |a z w:2"]
    bad = ["1 |a x:inf", "nan |a x", "1 1e308 |a x", "1 |a x:1e39", "3e38 |a x", "1 |a x:3e38", "1 1 -inf |a x"]
    lines = good + bad + good
    data = tmp_path / "d.vw"
    data.write_text("".join(line + "\n" for line in lines))
    model = tmp_path / "m"
    env_py = str(Path(wabbit.__file__).resolve().parents[1])
    p = subprocess.run(
        [sys.executable, "-m", "wabbit", "-d", str(data), "-f", str(model), "-q", "aa"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": env_py, "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr
    for k in range(len(good) + 1, len(good) + len(bad) + 1):
        assert f"line {k}:" in p.stderr, (k, p.stderr)
    assert f"number of examples = {2 * len(good)}" in p.stderr
    loaded = wabbit.load(model)
    assert_finite_table(loaded.core.weight_table())
    # the refused lines changed nothing: the model is the one of the good lines alone
    ref = wabbit.Model("-q aa")
    ref.learn_many(good + good)
    assert table_bytes(loaded) == table_bytes(ref)


@pytest.mark.parametrize("flags", ["-b 12", "-b 12 -q ab --adaptive", "-b 12 --ftrl"])
def test_dict_input_refuses_non_finite_values_labels_and_weights(flags):
    m = trained(flags)
    for v in [INF, -INF, NAN, 1e308, -1e300, 3.5e38]:  # (1e308 and 3.5e38 are infinite as float32)
        assert_refused(m, lambda v=v: m.learn({"a": {"x": v}}, label=1), r"feature 'x' in namespace 'a'.*non-finite")
        assert_refused(m, lambda v=v: m.learn({"a": ["x"]}, label=v), "label must be a finite number")
        assert_refused(m, lambda v=v: m.learn({"a": ["x"]}, label=1, weight=v), "weight must be a finite number")
        assert_refused(m, lambda v=v: m.learn({"a": ["x"]}, label=1, initial=v), "initial must be a finite number")
        with pytest.raises(ValueError, match="non-finite"):
            m.predict({"a": {"x": v}})
    for v in [3e38, -3e38, 1e38, 1e20]:
        fresh = trained(flags)
        y = away(fresh)
        assert_refused(
            fresh, lambda v=v, f=fresh, y=y: f.learn({"a": {"x": v}}, label=y), r"non-finite.*example skipped"
        )
    for kw in [{"label": 3e38}, {"weight": 3e38}]:
        fresh = trained(flags)
        kw.setdefault("label", away(fresh))
        assert_refused(fresh, lambda kw=kw, f=fresh: f.learn({"a": ["x"]}, **kw), r"non-finite.*example skipped")


CSR_BAD = [
    ("value", INF, None, None, "non-finite value"),
    ("value", NAN, None, None, "non-finite value"),
    ("value", 1e308, None, None, "non-finite value"),  # float64 1e308 becomes float32 inf
    ("value", 3e38, None, None, "non-finite"),  # finite, but its update overflows
    ("label", None, INF, None, "label is infinite"),
    ("label", None, 3e38, None, "non-finite"),
    ("weight", None, None, INF, "importance weight"),
    ("weight", None, None, NAN, "importance weight"),
    ("weight", None, None, -INF, "importance weight"),
]


@pytest.mark.parametrize("what, value, label, weight, match", CSR_BAD)
def test_csr_arrays_refuse_the_row_and_learn_the_others(what, value, label, weight, match):
    # rows: 0 good, 1 bad, 2 good; strict=False skips row 1 naming it, the model is that of rows 0 and 2
    idx = np.array([1, 2, 3, 2, 4], dtype=np.uint32)
    vals = np.array([1.0, 0.5, 1.0 if value is None else value, 2.0, 1.0], dtype=np.float64)
    offs = np.array([0, 2, 3, 5], dtype=np.int64)
    labels = np.array([1.0, 1.0 if label is None else label, -1.0])
    weights = np.array([1.0, 1.0 if weight is None else weight, 1.0])
    m = wabbit.Model("-b 12")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = m.learn_many((idx, vals, offs), labels=labels, weights=weights, strict=False)
    # a number the reader refuses leaves NaN in the row's place; an update the learner refuses keeps the
    # prediction made before it, as a text line's does (README: refused "the same way", named, changing nothing)
    assert np.isnan(p[1]) == (match != "non-finite") and np.isfinite(p[[0, 2]]).all()
    assert any("row 1" in str(w.message) and match in str(w.message) for w in caught), [str(w.message) for w in caught]
    ref = wabbit.Model("-b 12")
    ref.learn_many((idx[[0, 1, 3, 4]], vals[[0, 1, 3, 4]], np.array([0, 2, 4])), labels=labels[[0, 2]])
    assert table_bytes(m) == table_bytes(ref)
    strict = wabbit.Model("-b 12")
    with pytest.raises(wabbit.ParseError, match=f"row 1: .*{match}"):
        strict.learn_many((idx, vals, offs), labels=labels, weights=weights)
    assert_finite_table(strict.core.weight_table())


def test_csr_nan_label_is_an_unlabelled_row():
    # README: NaN for an unlabelled row (predicted, not learned)
    m = wabbit.Model("-b 12")
    idx, vals, offs = np.array([1, 2], dtype=np.uint32), np.array([1.0, 1.0], np.float32), np.array([0, 1, 2])
    m.learn_many((idx, vals, offs), labels=np.array([NAN, 1.0]))
    ref = wabbit.Model("-b 12")
    ref.learn_many((idx[1:], vals[1:], np.array([0, 1])), labels=np.array([1.0]))
    assert table_bytes(m) == table_bytes(ref)


def _frame_cases(pd):
    rows = {
        "x": [1.0, INF, 2.0, NAN, 0.5, 1.0, 1.0, -INF, 3e38, 1.0],
        "k": ["a", "b", "c", None, "a", "b", "c", "a", "b", "c"],
        "y": [1.0, 1.0, -1.0, 1.0, INF, NAN, 1.0, 1.0, 1.0, 3e38],
        "w": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -INF, 1.0, 1.0, 1.0],
    }
    # the text each row means (docs/frames.md): NaN/None cells are absent features, a NaN label an
    # unlabelled row; an infinite value or label, a negative or infinite weight: refused. Huge finite
    # values (3e38, row 8; label 3e38, row 9) are refused as their text lines are: the update overflows.
    text = [
        "1.0 1.0 |f x:1.0 k=a",
        None,
        "-1.0 1.0 |f x:2.0 k=c",
        "1.0 1.0 |f",
        None,
        "|f x:1.0 k=b",
        None,
        None,
        None,
        None,
    ]
    return pd.DataFrame(rows), text


@pytest.mark.parametrize("library", ["pandas", "pyarrow", "polars"])
def test_frames_refuse_infinite_cells_and_take_nan_as_null(library):
    pd = pytest.importorskip("pandas")
    df, text = _frame_cases(pd)
    if library == "pyarrow":
        pa = pytest.importorskip("pyarrow")
        frame = pa.Table.from_pandas(df, preserve_index=False)  # NaN stays a float NaN, not a null
    elif library == "polars":
        pl = pytest.importorskip("polars")
        frame = pl.from_pandas(df, nan_to_null=False)
    else:
        frame = df
    m = wabbit.Model("-b 12 -q ff")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = m.learn_many(frame, label="y", namespaces={"f": ["x", "k"]}, weight="w", strict=False)
    refused = [r for r, line in enumerate(text) if line is None]
    assert np.isnan(p[[1, 4, 6, 7]]).all()  # refused cells; rows 8 and 9 are refused by the learner
    assert np.isfinite(p[[0, 2, 3, 5, 8, 9]]).all()
    named = " ".join(str(w.message) for w in caught)
    for r in refused:
        assert f"row {r}:" in named, (r, named)
    assert_finite_table(m.core.weight_table(), library)
    ref = wabbit.Model("-b 12 -q ff")
    ref.learn_many([line for line in text if line is not None])
    assert table_bytes(m) == table_bytes(ref)
    with pytest.raises(ValueError, match="row 1: .*not finite"):
        wabbit.Model("-b 12").learn_many(frame, label="y", namespaces={"f": ["x", "k"]}, weight="w")


JSON_BAD = [
    ('{"_label": 1, "a": {"x": 1e39}}', "not a finite number"),
    ('{"_label": 1, "a": {"x": -1e308}}', "not a finite number"),
    ('{"_label": 1, "a": {"x": NaN}}', "not valid JSON"),
    ('{"_label": 1, "a": {"x": Infinity}}', "not valid JSON"),
    ('{"_label": 1e39, "a": {"x": 1}}', "not a finite number"),
    ('{"_label": {"Label": 1, "Weight": 1e308}, "a": {"x": 1}}', "not a finite number"),
    ('{"_label": "1 inf", "a": {"x": 1}}', "not finite"),
    ('{"_label": "1 1 nan", "a": {"x": 1}}', "not finite"),
    ('{"_label": 1, "v": [1, 2, 1e39]}', "not a finite number"),
    ('{"_label": 1, "a": {"x": 3e38}}', "non-finite"),
    ('{"_label": 3e38, "a": {"x": 1}}', "non-finite"),
]


def test_json_lines_refuse_non_finite_numbers(tmp_path):
    m = wabbit.Model("--json -b 12")
    m.learn_many(['{"_label": 1, "a": {"z": 1, "y": 1}}', '{"_label": -1, "a": {"y": 1, "w": 0.5}}'])
    for line, match in JSON_BAD:
        assert_refused(m, lambda line=line: m.learn(line), match)
    # and through a file, each refused line named and the good ones learned
    good = ['{"_label": 1, "a": {"z": 1}}', '{"_label": -1, "a": {"y": 2}}']
    path = tmp_path / "d.json"
    path.write_text("\n".join(good + [line for line, _ in JSON_BAD] + good) + "\n")
    f = wabbit.Model("--json -b 12")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = f.learn_many(str(path), strict=False)
    # NaN in a line's place when the reader refuses it; the learner's refusals keep their prediction
    assert [bool(np.isnan(x)) for x in p[2 : 2 + len(JSON_BAD)]] == [m != "non-finite" for _, m in JSON_BAD]
    named = " ".join(str(w.message) for w in caught)
    for k in range(3, 3 + len(JSON_BAD)):
        assert f"line {k}:" in named, (k, named)
    ref = wabbit.Model("--json -b 12")
    ref.learn_many(good + good)
    assert table_bytes(f) == table_bytes(ref)


def _dsjson(cost, probability, x=1.0):
    return (
        '{"_label_cost": %s, "_label_probability": %s, "_label_Action": 1, "_labelIndex": 0, "a": [1, 2], '
        '"c": {"u": {"x": %s}, "_multi": [{"i": {"id": "a"}}, {"i": {"id": "b"}}]}, "p": [0.5, 0.5]}'
    ) % (cost, probability, x)


BANDIT_BAD = [  # (cost, probability): docs/decisions.md "Refuse bad bandit input whole"
    ("inf", "0.5"),
    ("nan", "0.5"),
    ("1e308", "0.5"),
    ("1", "0"),
    ("1", "inf"),
    ("1", "nan"),
    ("1", "-0.5"),
    ("1", "2"),
    ("1", "1e-45"),  # a denormal probability: 1/p overflows
    ("3e38", "0.5"),  # the importance-weighted cost overflows a float
]


@pytest.mark.parametrize("flags", ["--cb_explore_adf", "--cb_adf -q ua", "--cb_explore_adf --cb_type dr", "--cb 3"])
def test_bandit_lines_refuse_non_finite_costs_and_bad_probabilities(flags):
    m = wabbit.Model(f"{flags} -b 12")
    adf = "--cb 3" not in flags

    def event(cost, p, x="1"):
        return f"shared |u u1 x:{x}\n0:{cost}:{p} |a a1\n|a a2" if adf else f"1:{cost}:{p} |a a1 x:{x}"

    m.learn(event("1", "0.5"))
    m.learn(event("0", "0.5"))
    for cost, p in BANDIT_BAD:
        assert_refused(m, lambda cost=cost, p=p: m.learn(event(cost, p)), r"cost|probability")
    for v in NON_FINITE_TEXT:
        assert_refused(m, lambda v=v: m.learn(event("1", "0.5", v)), "not finite")
    # a huge finite feature value: learned finitely or refused, never inf in the table
    for v in HUGE_TEXT:
        try:
            m.learn(event("1", "0.5", v))
        except ValueError:
            pass
        assert_finite_table(m.core.weight_table(), v)


def test_bandit_dict_events_refuse_non_finite_values_and_labels():
    m = wabbit.Model("--cb_explore_adf -q ua -b 12")
    shared, actions = {"u": {"age": 1.0}}, [{"a": ["x"]}, {"a": ["y"]}]
    m.learn((shared, actions), label=(0, 1.0, 0.5))
    for v in [INF, -INF, NAN, 1e308]:
        bad_actions = [{"a": {"x": v}}, {"a": ["y"]}]
        assert_refused(m, lambda a=bad_actions: m.learn((shared, a), label=(0, 1.0, 0.5)), "non-finite value")
        assert_refused(m, lambda v=v: m.learn(({"u": {"age": v}}, actions), label=(0, 1.0, 0.5)), "non-finite")
        assert_refused(m, lambda v=v: m.learn((shared, actions), label=(0, v, 0.5)), "cost")
        assert_refused(m, lambda v=v: m.learn((shared, actions), label=(0, 1.0, v)), "probability")
        with pytest.raises(ValueError, match="non-finite"):
            m.rank(shared, [{"a": {"x": v}}])
    assert_refused(m, lambda: m.learn((shared, actions), label=(0, 1.0, 0.0)), "probability")
    assert_refused(m, lambda: m.learn((shared, actions), label=(0, 3e38, 0.5)), "cost")


def test_dsjson_refuses_non_finite_costs_and_bad_probabilities():
    m = wabbit.Model("--cb_explore_adf --dsjson -b 12")
    m.learn(_dsjson(1, 0.5))
    for cost, p in BANDIT_BAD:
        cost = {"inf": "Infinity", "nan": "NaN"}.get(cost, cost)
        p = {"inf": "Infinity", "nan": "NaN"}.get(p, p)
        assert_refused(m, lambda cost=cost, p=p: m.learn(_dsjson(cost, p)), r"cost|probability|not valid JSON")
    for v in ["1e39", "-1e308", "NaN"]:
        assert_refused(m, lambda v=v: m.learn(_dsjson(1, 0.5, v)), r"not a finite number|not valid JSON")


MC_BAD = ["1 |a x:inf", "2 inf |a x", "3 nan |a x", "1 |a x:1e39", "2 1e308 |a x"]


@pytest.mark.parametrize("flags", ["--oaa 3", "--oaa 3 --loss_function logistic --probabilities", "--csoaa 3"])
def test_multiclass_lines_refuse_non_finite_numbers(flags):
    m = wabbit.Model(f"{flags} -b 12")
    csoaa = "csoaa" in flags
    good = ["1:0 2:1 3:1 |a z y", "2:1 2:0 3:1 |a y w"] if csoaa else ["1 |a z y", "2 |a y w"]
    m.learn_many(good)
    bad = MC_BAD + (["1:inf 2:0 |a x", "1:nan |a x", "1:1e39 |a x"] if csoaa else [])
    for line in bad:
        if csoaa and line[1] == " ":
            line = f"{line[0]}:1 " + line[2:].replace(" |", " |", 1)
        assert_refused(m, lambda line=line: m.learn(line), r"not finite|bad class|bad cost")


@pytest.mark.parametrize("flags", ["--oaa 3", "--csoaa 3"])
def test_multiclass_huge_values_never_reach_the_weights(flags):
    m = wabbit.Model(f"{flags} -b 12 -q aa")
    lines = ["1 |a x:1e20", "2 1e30 |a x", "3 |a x:3e38 y", "1 |a y:1e38"]
    if "csoaa" in flags:
        lines = ["1:0 2:3e38 |a x:1e20", "1:1e38 3:-3e38 |a x", "2:0 |a x:3e38 y", "3:1 |a y:1e38"]
    for line in lines:
        try:
            m.learn(line)
        except ValueError:
            pass
        assert_finite_table(m.core.weight_table(), line)


def test_multiclass_refusal_is_named():
    m = wabbit.Model("--oaa 3 -b 12")
    m.learn("1 |a z")
    assert_refused(m, lambda: m.learn("1 |a x:1e20"), "non-finite")


# A csoaa example learns one regression per listed class: here the first class's update is finite
# and the second's is not, so the refusal has to undo the first one too (the whole example is
# refused). The same for a value that only one class's update cannot take.
@pytest.mark.parametrize(
    "bad", ["1:0.5 2:3e38 |a x", "2:0.5 1:-3e38 3:1 |a x y", "1:0 2:1 |a x:1e20", "3:2 1:1e30 |a z x:2e19"]
)
def test_csoaa_refusal_undoes_every_class_of_the_example(bad):
    m = wabbit.Model("--csoaa 3 -b 12")
    m.learn("1:0 2:1 |a z")
    m.learn("2:0 3:1 |a x")
    assert_refused(m, lambda: m.learn(bad), "non-finite")
    # the model goes on as if the example had never come
    ref = wabbit.Model("--csoaa 3 -b 12")
    for line in ["1:0 2:1 |a z", "2:0 3:1 |a x", "1:1 2:0 3:1 |a x z"]:
        ref.learn(line)
    m.learn("1:1 2:0 3:1 |a x z")
    assert table_bytes(m) == table_bytes(ref)


@pytest.mark.parametrize("flags", ["--oaa 3", "--oaa 3 --probabilities --loss_function logistic", "--csoaa 3"])
def test_multiclass_text_file_through_the_cli_names_each_refused_line(tmp_path, flags):
    if "csoaa" in flags:
        good = ["1:0 2:1 |a z y", "2:0 3:0.5 |a y w:0.5", "3:0 1:2 |a z w:2"]
        bad = ["1:0.5 2:3e38 |a x", "1:1 |a x:1e39", "2:0 3:1 |a x:3e38", "1:0 2:1 |a x:1e20 z"]
    else:
        good = ["1 |a z y", "2 |a y w:0.5", "3 |a z w:2"]
        bad = ["1 |a x:1e39", "2 3e38 |a x:2", "3 |a x:3e38", "1 |a x:1e20 z"]
    lines = good + bad + good
    data = tmp_path / "d.vw"
    data.write_text("".join(line + "\n" for line in lines))
    model = tmp_path / "m"
    env_py = str(Path(wabbit.__file__).resolve().parents[1])

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "wabbit", *flags.split(), "-b", "12", "-d", str(data), "-f", str(model), *extra],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PYTHONPATH": env_py, "PATH": "/usr/bin:/bin"},
        )

    p = run()
    assert p.returncode == 0, p.stderr
    for k in range(len(good) + 1, len(good) + len(bad) + 1):
        assert f"line {k}:" in p.stderr and "non-finite" in p.stderr, (k, p.stderr)
    loaded = wabbit.load(model)
    assert_finite_table(loaded.core.weight_table())
    # the refused lines changed nothing: the model is the one of the good lines alone
    ref = wabbit.Model(flags + " -b 12")
    for line in good + good:
        ref.learn(line)
    assert table_bytes(loaded) == table_bytes(ref)
    # --strict stops at the first refused line, naming it
    s = run("--strict")
    assert s.returncode != 0 and f"line {len(good) + 1}" in s.stderr, s.stderr


# ------------------------------------------------------------------------------------ cache files
# A cache file crafted in wabbit's format (cpp/formats/cache.h): a valid header for the data file,
# one block of records with its checksum, the footer. The checksum is the format's, written out
# here (and checked against wabbit._core.cache_checksum).
_M64 = (1 << 64) - 1
_P1, _P2 = 0x9FB21C651E98DF25, 0xD6E8FEB86659FD93


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _mix(x: int) -> int:
    x ^= x >> 32
    x = (x * _P2) & _M64
    x ^= x >> 29
    x = (x * _P1) & _M64
    return x ^ (x >> 32)


def cache_checksum(data: bytes, seed: int = 0) -> int:
    lanes = [(seed + _P1) & _M64, seed ^ _P2, (seed - _P1) & _M64, ~seed & _M64]
    n, i = len(data), 0

    def u64(k: int) -> int:
        return int.from_bytes(data[k : k + 8], "little")

    while i + 32 <= n:
        lanes = [_rotl(((lanes[j] ^ u64(i + 8 * j)) * _P1) & _M64, 29) for j in range(4)]
        i += 32
    a, b, c, d = (_mix(x) for x in lanes)
    h = a ^ _rotl(b, 17) ^ _rotl(c, 31) ^ _rotl(d, 47) ^ ((n * _P2) & _M64)
    while i + 8 <= n:
        h = _rotl(((h ^ u64(i)) * _P1) & _M64, 31)
        i += 8
    for byte in data[i:]:
        h = ((h ^ byte) * _P2) & _M64
    return _mix(h)


def cache_record(label=None, weight=None, initial=None, features=()) -> bytes:
    """One record: flags, the numbers present, then one namespace 'a' with every value stored."""
    flags = (label is not None) | (weight is not None) << 1 | (initial is not None) << 2
    out = bytearray([flags])
    for v in (label, weight, initial):
        if v is not None:
            out += struct.pack("<f", v)
    out += bytes([1, ord("a"), len(features), 0])
    out += b"".join(struct.pack("<I", i) for i, _ in features)
    out += b"".join(struct.pack("<f", v) for _, v in features)
    return bytes(out)


def write_cache(path: Path, source: Path, records: list) -> None:
    st = os.stat(source)
    head = b"WBTCACHE" + struct.pack("<IIIIQq", 1, 1, 1, 0, st.st_size, st.st_mtime_ns)
    head += bytes(56 - len(head))
    head += struct.pack("<Q", cache_checksum(head))
    payload = b"".join(records)
    block_sum = cache_checksum(payload, (len(records) << 32) | len(payload))
    block = b"BLCK" + struct.pack("<IIIQ", len(payload), len(records), 0, block_sum)
    chain = cache_checksum(struct.pack("<Q", block_sum), struct.unpack("<Q", head[56:])[0])
    path.write_bytes(head + block + payload + b"DONE" + struct.pack("<IQQQ", 0, 1, len(records), chain))


def test_the_crafted_cache_checksum_is_the_formats():
    rng = random.Random(21)
    for n in [0, 1, 7, 8, 31, 32, 33, 100]:
        data = bytes(rng.randrange(256) for _ in range(n))
        assert cache_checksum(data) == wabbit._core.cache_checksum(data)


def _cache_run(tmp_path: Path, records: list, flags: str = "-b 12", strict: bool = True):
    data = tmp_path / "d.vw"  # the text is not read once the cache is accepted: it says something else
    data.write_text("0 |a dummy\n" * len(records))
    cache = tmp_path / "d.cache"
    write_cache(cache, data, records)
    assert wabbit._core.check_cache(str(cache), str(data), 0) is None
    m = wabbit.Model(flags)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            m.learn_many(str(data), cache=str(cache), strict=strict)
            error = None
        except (ValueError, RuntimeError) as e:
            error = e
    assert not any("writing it again" in str(w.message) for w in caught)  # the crafted cache was read
    return m, error, caught


@pytest.mark.parametrize("flags", ["-b 12", "-b 12 -q aa", "-b 12 --ftrl", "-b 12 --sgd", "-b 12 --normalized"])
def test_cache_records_with_huge_finite_numbers_never_reach_the_weights(flags, tmp_path):
    ns = wabbit.hash_namespace("a")
    z, x = wabbit.hash_feature("z", ns), wabbit.hash_feature("x", ns)
    good = cache_record(1.0, features=[(z, 1.0)])
    huge = [
        cache_record(1.0, features=[(x, 3e38)]),
        cache_record(1.0, features=[(x, -3.4e38), (z, 1e38)]),
        cache_record(3e38, features=[(x, 1.0)]),
        cache_record(1.0, 3e38, features=[(x, 1.0)]),
        cache_record(-3e38, 1e30, 3e38, features=[(x, 1e20)]),
        cache_record(1.0, features=[(x, 1e-45), (z, 1e20)]),
    ]
    for bad in huge:
        m, error, caught = _cache_run(tmp_path, [good, bad, good], flags, strict=False)
        assert error is None
        assert_finite_table(m.core.weight_table(), flags)
        for w in caught:  # a refusal names the record's place
            assert "line 2" in str(w.message), str(w.message)
        if caught:  # refused: the model is the one of the two good records
            ref, _, _ = _cache_run(tmp_path, [good, good], flags)
            assert table_bytes(m) == table_bytes(ref)


@pytest.mark.parametrize("value", [INF, -INF, NAN])
@pytest.mark.parametrize("where", ["label", "weight", "initial", "feature"])
def test_cache_records_with_non_finite_numbers_are_refused(where, value, tmp_path):
    ns = wabbit.hash_namespace("a")
    z = wabbit.hash_feature("z", ns)
    good = cache_record(1.0, features=[(z, 1.0)])
    bad = {
        "label": cache_record(value, features=[(z, 1.0)]),
        "weight": cache_record(1.0, value, features=[(z, 1.0)]),
        "initial": cache_record(1.0, None, value, features=[(z, 1.0)]),
        "feature": cache_record(1.0, features=[(z, value)]),
    }[where]
    # check() decodes every record, so the cache is refused before the run (never learned in part) and
    # written again from the text; Reader::next's own refusal (a file changed after check()) is in
    # tests/cpp/test_cache.cc.
    data = tmp_path / "d.vw"
    data.write_text("0 |a dummy\n" * 3)
    cache = tmp_path / "d.cache"
    write_cache(cache, data, [good, bad, good])
    why = wabbit._core.check_cache(str(cache), str(data), 0)
    assert why == "holds a non-finite number in record 2 of block 1 (a damaged record)"
    m = wabbit.Model("-b 12")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.learn_many(str(data), cache=str(cache))
    assert any("writing it again" in str(w.message) and why in str(w.message) for w in caught)
    assert wabbit._core.check_cache(str(cache), str(data), 0) is None
    assert_finite_table(m.core.weight_table())


def test_a_cache_with_a_non_finite_record_is_rejected_before_the_run(tmp_path):
    ns = wabbit.hash_namespace("a")
    z = wabbit.hash_feature("z", ns)
    data = tmp_path / "d.vw"
    data.write_text("0 |a dummy\n" * 3)
    cache = tmp_path / "d.cache"
    write_cache(cache, data, [cache_record(1.0, features=[(z, 1.0)]), cache_record(INF, features=[(z, 1.0)])])
    assert wabbit._core.check_cache(str(cache), str(data), 0) is not None


# ------------------------------------------------------------------------------------ model files
def _patch_weights(data: bytes, value: float) -> bytes:
    """The model file with its first non-zero stored weight float replaced by `value` (the
    checksum recomputed, so the loader has to judge the number itself)."""
    import model_mutations

    f = model_mutations.split(data)
    w = bytearray(f["weights"])
    floats = np.frombuffer(bytes(w[len(w) % 4 :]), dtype="<f4")
    k = int(np.flatnonzero((floats != 0) & (np.abs(floats) != 0))[-1])
    at = len(w) % 4 + 4 * k
    w[at : at + 4] = struct.pack("<f", value)
    f["weights"] = bytes(w)
    return model_mutations.join(f)


@pytest.mark.parametrize("flags", ["-b 12", "-b 12 --sgd", "-b 12 --ftrl", "-b 12 --cb_explore_adf", "-b 12 --oaa 3"])
@pytest.mark.parametrize("value", [INF, -INF, NAN])
def test_a_model_file_holding_a_non_finite_weight_is_refused(flags, value, tmp_path):
    m = wabbit.Model(flags)
    if "cb" in flags:
        m.learn_many(b"shared |u a\n0:1:0.5 |a x\n|a y\n\nshared |u b\n|a x\n1:0:0.5 |a y\n\n")
    elif "oaa" in flags:
        m.learn_many(["1 |a x y", "2 |a y z", "3 |a z"])
    else:
        m.learn_many(["1 |a x y", "-1 |a y z"])
    good = m.to_bytes()
    bad = _patch_weights(good, value)
    assert bad != good and len(bad) == len(good)
    with pytest.raises(wabbit.ModelError, match="not finite|finite|corrupt"):
        wabbit.Model.from_bytes(bad)
    path = tmp_path / "bad.model"
    path.write_bytes(bad)
    with pytest.raises(wabbit.ModelError):
        wabbit.load(path)


def test_a_model_file_with_a_non_finite_online_state_is_refused():
    import model_mutations

    good = trained().to_bytes()
    for k in range(6):  # t, normalized_sum_norm_x, total_weight, weighted_unlabeled, gravity, contraction
        for value in (INF, NAN):
            f = model_mutations.split(good)
            fixed = bytearray(f["fixed"])
            fixed[8 * k : 8 * k + 8] = struct.pack("<d", value)
            f["fixed"] = bytes(fixed)
            with pytest.raises(wabbit.ModelError):
                wabbit.Model.from_bytes(model_mutations.join(f))


def test_a_vw_model_file_with_inf_weights_is_refused(tmp_path):
    # pip's VW writes inf into its model for x:1e20 (the adaptive slot); wabbit refuses to load it
    pytest.importorskip("vowpalwabbit")
    from vowpalwabbit import pyvw

    path = tmp_path / "vw.model"
    vw = pyvw.Workspace(f"--quiet -b 10 -f {path}")
    for line in ["1 |a x:1e20 z", "-1 |a z"]:
        vw.learn(line)
    vw.finish()
    with pytest.raises(wabbit.ModelError, match="not a finite number"):
        wabbit.load(path)


# ------------------------------------------------------------------------------------ the daemon
def test_the_daemon_line_protocol_refuses_each_bad_line_by_name(tmp_path):
    from servekit import exchange
    from wabbit.serve import serve

    good = ["1 |a z y", "-1 |a y w:0.5", "1 |a z w:2"]
    bad = ["1 |a x:inf", "nan |a x", "1 inf |a x", "1 |a x:1e39", "1 |a x:3e38", "3e38 |a x", "1 1e308 |a x"]
    sent = good + bad + good
    with serve(wabbit.Model("-q aa -b 12"), port=0, threads=1) as server:
        replies = exchange(server.port, "".join(line + "\n" for line in sent)).splitlines()
        served = server.engine.snapshot()
    assert len(replies) == len(sent)
    for k, reply in enumerate(replies):
        if len(good) <= k < len(good) + len(bad):
            assert reply.startswith(f"error: line {k + 1}:") and "finite" in reply, reply
        else:
            assert np.isfinite(float(reply.split()[0])), reply
    assert_finite_table(served.weight_table())
    ref = wabbit.Model("-q aa -b 12")
    ref.learn_many(good + good)
    assert served.weight_table().tobytes() == table_bytes(ref)


def test_the_daemon_http_json_refuses_non_finite_numbers():
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    import urllib.error
    import urllib.request

    from wabbit.serve import serve

    def post(port, body: str):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/learn", data=body.encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    bodies = [  # Python's json reads NaN and Infinity: the numbers reach the server as floats
        '{"example": {"a": {"x": Infinity}}, "label": 1}',
        '{"example": {"a": {"x": NaN}}, "label": 1}',
        '{"example": {"a": {"x": 1e308}}, "label": 1}',
        '{"example": {"a": {"x": 3e38}}, "label": 1}',
        '{"example": {"a": {"x": 1}}, "label": Infinity}',
        '{"example": {"a": {"x": 1}}, "label": NaN}',
        '{"example": {"a": {"x": 1}}, "label": 3e38}',
        '{"example": {"a": {"x": 1}}, "label": 1, "weight": -Infinity}',
        '{"example": {"a": {"x": 1}}, "label": 1, "weight": NaN}',
        '{"example": "1 |a x:inf"}',
        '{"example": "1 |a x:1e20"}',
        '{"examples": [{"a": {"x": NaN}}, {"a": {"x": 1}}], "labels": [1, 1]}',
    ]
    with serve(wabbit.Model("-b 12"), port=0, http_port=0, threads=1) as server:
        status, _ = post(server.http_port, '{"example": {"a": {"z": 1}}, "label": 1}')
        assert status == 200
        before = server.engine.snapshot().weight_table().tobytes()
        for body in bodies:
            status, reply = post(server.http_port, body)
            assert status == 400 and "finite" in reply, (body, status, reply)
        after = server.engine.snapshot().weight_table()
        assert_finite_table(after)
        assert after.tobytes() == before
        # a batch is learned in order: the refused example is named, with what was learned before it
        status, reply = post(
            server.http_port,
            '{"examples": [{"a": {"z": 1}}, {"a": {"x": Infinity}}, {"a": {"y": 1}}], "labels": [1, 1, 1]}',
        )
        assert status == 400 and "example 1: " in reply and "examples 0 to 0 were learned" in reply, reply
        assert_finite_table(server.engine.snapshot().weight_table())


# ------------------------------------------------------------------------------------ the trainer
def _trainer_run(tmp_path: Path, lines: list, joined: bool):
    from streamkit import ListSource
    from wabbit.join import LabelJoiner
    from wabbit.trainer import Trainer

    store = wabbit.ModelStore(tmp_path / "store")
    joiner = LabelJoiner(ttl=100.0, max_pending=1000) if joined else None
    t = Trainer(wabbit.Model("-b 12"), ListSource(lines), store, joiner=joiner, publish_every=1000)
    assert t.run(until=lambda tr: tr.source.lag() == 0) == "until"
    return t


def test_the_trainer_skips_non_finite_text_records(tmp_path):
    good = ["1 |f a b", "-1 |f b c"]
    bad = ["1 |f x:inf", "nan |f x", "1e308 |f x", "1 |f x:1e20", "3e38 |f x", "1 |f x:3e38", "1 inf |f x"]
    t = _trainer_run(tmp_path, good + bad + good, joined=False)
    assert t.counts["bad_records"] == len(bad) and t.counts["examples"] == 2 * len(good)
    assert_finite_table(t.model.core.weight_table())
    ref = wabbit.Model("-b 12")
    ref.learn_many(good + good)
    assert table_bytes(t.model) == table_bytes(ref)


def test_the_trainer_skips_non_finite_joined_records(tmp_path):
    from wabbit.join import LabelRecord, PredictionRecord

    def pred(i, features, time, extra=""):
        return '{"id": %d, "features": %s, "prediction": 0.5, "time": %s%s}' % (i, features, time, extra)

    def label(i, y, time):
        return '{"id": %d, "label": %s, "time": %s}' % (i, y, time)

    big = "1" + "0" * 400  # an integer JSON allows and a float cannot hold
    records = [
        pred(1, '"|f a b"', 1),
        label(1, 1, 2),
        pred(2, '{"f": {"x": Infinity}}', 3),
        label(2, 1, 4),  # joins, then the example is refused by the learner
        pred(3, '{"f": {"x": 1e308}}', 5),
        label(3, -1, 6),
        pred(4, '"|f x:inf"', 7),
        label(4, 1, 8),
        pred(5, '"|f x:1e20"', 9),
        label(5, 1, 10),
        pred(6, '"|f c"', 11),
        label(6, "Infinity", 12),  # refused record
        label(6, "NaN", 12),
        label(6, big, 12),
        label(6, 3e38, 12),  # a finite label whose update overflows: refused by the learner
        pred(7, '"|f d"', "Infinity"),  # a time the clock could never pass: refused record
        pred(8, '"|f d"', big),
        label(7, 1, 13),
        pred(9, '"|f b c"', 14),
        label(9, -1, 15),
    ]
    for r in records:  # every record reads or raises ValueError (never OverflowError)
        try:
            (PredictionRecord if '"features"' in r else LabelRecord).decode(r)
        except ValueError:
            pass
    t = _trainer_run(tmp_path, records, joined=True)
    assert t.counts["examples"] == 2  # ids 1 and 9; everything else refused, never learned
    assert t.counts["bad_records"] == 10, t.counts
    assert_finite_table(t.model.core.weight_table())
    ref = wabbit.Model("-b 12")
    ref.learn_many(["1 |f a b", "-1 |f b c"])
    assert table_bytes(t.model) == table_bytes(ref)


def test_the_trainer_on_the_mock_kafka_cluster_skips_non_finite_records(tmp_path):
    # the same records through librdkafka's in-process mock cluster (KafkaSink -> KafkaSource -> Trainer)
    pytest.importorskip("confluent_kafka")
    import time

    from wabbit.stream import KafkaSink, KafkaSource, mock_cluster
    from wabbit.trainer import Trainer

    good = ["1 |f a b", "-1 |f b c"]
    bad = ["1 |f x:inf", "nan |f x", "1e308 |f x", "1 |f x:1e20", "3e38 |f x", "1 1 -inf |f x", "1 |f \x00x:1e39"]
    lines = good + bad + good
    cluster = mock_cluster()
    try:
        with KafkaSink(cluster.bootstrap, "events") as sink:
            for line in lines:
                sink.send(line, partition=0)
        source = KafkaSource(
            cluster.bootstrap, "events", "nonfinite", config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
        )
        t = Trainer(wabbit.Model("-b 12"), source, wabbit.ModelStore(tmp_path / "store"), publish_every=1000)
        deadline = time.monotonic() + 60
        t.run(until=lambda tr: tr.counts["events"] >= len(lines) or time.monotonic() > deadline)
        source.close()
    finally:
        cluster.close()
    assert t.counts["events"] == len(lines)
    assert t.counts["bad_records"] == len(bad) and t.counts["examples"] == 2 * len(good)
    assert_finite_table(t.model.core.weight_table())
    ref = wabbit.Model("-b 12")
    ref.learn_many(good + good)
    assert table_bytes(t.model) == table_bytes(ref)


@pytest.mark.parametrize(
    "flags, good, bad",
    [
        (
            "--cb_explore_adf -b 12",
            ["shared |u a\n0:1:0.5 |a x\n|a y\n", "shared |u b\n|a x\n1:0:0.5 |a y\n"],
            [
                "shared |u a\n0:inf:0.5 |a x\n|a y\n",
                "shared |u a\n0:1:0 |a x\n|a y\n",
                "shared |u a\n0:1:nan |a x\n|a y\n",
                "shared |u a\n0:3e38:0.5 |a x\n|a y\n",
                "shared |u a x:inf\n0:1:0.5 |a x\n|a y\n",
            ],
        ),
        (
            "--json -b 12",
            ['{"_label": 1, "a": {"z": 1}}\n', '{"_label": -1, "a": {"y": 2}}\n'],
            [line + "\n" for line, m in JSON_BAD if m != "non-finite"],
        ),
    ],
)
def test_the_daemon_refuses_bad_bandit_events_and_json_lines(flags, good, bad):
    from servekit import exchange
    from wabbit.serve import serve

    if "cb" in flags:  # a bandit event ends with a blank line
        good, bad = [e + "\n" for e in good], [e + "\n" for e in bad]
    sent = good + bad + good
    with serve(wabbit.Model(flags), port=0, threads=1) as server:
        replies = exchange(server.port, "".join(sent)).split("\n")
        served = server.engine.snapshot()
    errors = [r for r in replies if r.startswith("error:")]
    assert len(errors) == len(bad), replies
    assert_finite_table(served.weight_table())
    ref = wabbit.Model(flags)
    ref.learn_many("".join(good + good).encode())
    assert served.weight_table().tobytes() == table_bytes(ref)


# ------------------------------------------------------------------------------------ bandits
# A bandit event learns one regression per action (ips, dm, dr, sm) or the chosen one's (mtr), with
# dr's regressor besides: when any of them is refused, the whole event is, and it changes nothing.
CB_GOOD = ["shared |u a\n0:1:0.5 |a x\n|a y\n", "shared |u b\n|a x\n1:-1:0.5 |a y w\n"]
CB_BAD = [
    "shared |u a\n0:1:0.5 |a z:1e20\n|a y\n",
    "shared |u a\n|a y\n0:1:0.5 |a z:1e20\n",
    "shared |u a\n0:1:0.5 |a x\n|a z:1e20\n",
    "shared |u a\n0:-1:0.5 |a x\n|a w\n|a z:3e19\n",
]


def cb_bad(flags: str) -> list:
    """The events of CB_BAD whose updates `flags` refuse: mtr (the default) learns only the chosen
    action, so an extreme value on another action is not learned and not refused."""
    return CB_BAD if "--cb_type" in flags else CB_BAD[:2]


@pytest.mark.parametrize(
    "flags",
    [
        "--cb_explore_adf -b 12",
        "--cb_explore_adf --cb_type ips -b 12",
        "--cb_adf --cb_type dr -b 12",
        "--cb_adf --cb_type dm -b 12",
        "--cb_explore_adf --cb_type sm -b 12",
    ],
)
def test_a_refused_bandit_event_is_named_and_changes_nothing(flags):
    m = wabbit.Model(flags)
    for e in CB_GOOD:
        m.learn(e)
    for e in cb_bad(flags):
        assert_refused(m, lambda e=e: m.learn(e), "non-finite")
    ref = wabbit.Model(flags)
    for e in CB_GOOD + CB_GOOD:
        ref.learn(e)
    for e in CB_GOOD:
        m.learn(e)
    assert table_bytes(m) == table_bytes(ref)


def test_a_refused_cb_line_is_named():
    m = wabbit.Model("--cb 2 -b 12")
    m.learn("1:1:0.5 |a x")
    assert_refused(m, lambda: m.learn("1:1:0.5 |a z:1e20"), "non-finite")
    assert_refused(m, lambda: m.learn("2:1:0.5 |a x z:1e20"), "non-finite")


@pytest.mark.parametrize("flags", ["--cb_explore_adf", "--cb_adf --cb_type dr"])
def test_bandit_events_through_the_cli_name_each_refused_event(tmp_path, flags):
    data = tmp_path / "d.vw"
    bad = cb_bad(flags)
    data.write_text("\n".join(CB_GOOD + bad + CB_GOOD))
    model = tmp_path / "m"
    env_py = str(Path(wabbit.__file__).resolve().parents[1])
    p = subprocess.run(
        [sys.executable, "-m", "wabbit", *flags.split(), "-b", "12", "-d", str(data), "-f", str(model)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": env_py, "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr
    # each bad event's first line, counted in the file (an event and its blank line)
    starts, at = [], 1
    for e in CB_GOOD + bad + CB_GOOD:
        starts.append(at)
        at += e.count("\n") + 1
    for k in starts[len(CB_GOOD) : len(CB_GOOD) + len(bad)]:
        assert f"line {k}:" in p.stderr, (k, p.stderr)
    assert p.stderr.count("non-finite") == len(bad), p.stderr
    ref = wabbit.Model(flags + " -b 12")
    for e in CB_GOOD + CB_GOOD:
        ref.learn(e)
    assert table_bytes(wabbit.load(model)) == table_bytes(ref)


def test_the_daemon_refuses_a_non_finite_bandit_update_by_name():
    from servekit import exchange
    from wabbit.serve import serve

    flags = "--cb_explore_adf --cb_type ips -b 12"
    sent = [e + "\n" for e in CB_GOOD + CB_BAD + CB_GOOD]
    with serve(wabbit.Model(flags), port=0, threads=1) as server:
        replies = exchange(server.port, "".join(sent)).split("\n")
        served = server.engine.snapshot()
    errors = [r for r in replies if r.startswith("error:")]
    assert len(errors) == len(CB_BAD) and all("non-finite" in r for r in errors), replies
    ref = wabbit.Model(flags)
    for e in CB_GOOD + CB_GOOD:
        ref.learn(e)
    assert served.weight_table().tobytes() == table_bytes(ref)

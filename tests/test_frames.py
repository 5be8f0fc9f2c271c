"""Data frames into learn_many/predict_many (wabbit.frames): each row is learned exactly as the VW
text line naming its columns, written here from the frame in plain Python."""

from __future__ import annotations

import doctest
import math
import os
import warnings

import numpy as np
import pytest

import wabbit

pd = pytest.importorskip("pandas")

NAMESPACES = {"u": ["user", "age", "premium", "visits"], "ad": ["ad", "price", "score", "edge"], "": ["7"]}


def mixed_frame(n: int, seed: int = 1) -> "pd.DataFrame":
    """n rows of every column type, with nulls in each kind that has them, and zeros."""
    rng = np.random.default_rng(seed)
    user = np.array([f"u{k}" for k in rng.integers(0, 1000, n)], dtype=object)
    user[rng.random(n) < 0.05] = None
    ads = [f"ad{k}" for k in range(50)]
    ad = pd.Categorical.from_codes(rng.integers(0, 50, n), categories=ads)
    ad[rng.random(n) < 0.03] = np.nan
    price = rng.random(n) * 100
    price[rng.random(n) < 0.05] = np.nan
    price[rng.random(n) < 0.02] = 0.0
    visits = pd.array(rng.integers(0, 20, n), dtype="Int64")
    visits[rng.random(n) < 0.1] = pd.NA
    clicked = np.where(rng.random(n) < 0.3, 1.0, -1.0)
    clicked[rng.random(n) < 0.02] = np.nan
    w = rng.random(n) * 3
    w[rng.random(n) < 0.1] = np.nan
    # numbers whose Python text takes several of VW's reading paths: scientific ("1e-05"), more than
    # 7 digits (VW's float loop), integers written "31.0" (test_large_and_tiny_values has the rest)
    edge = rng.choice([1e-5, 3.3e-7, 31.0, -0.1, 12.345678901, 0.0001, 0.123456789, 9.87654321], n)
    edge *= rng.choice([1.0, -1.0, 0.37], n)
    return pd.DataFrame(
        {
            "user": user,
            "edge": edge,
            "age": rng.integers(0, 80, n),  # int64, zeros included
            "premium": rng.random(n) < 0.2,  # bool
            "visits": visits,  # nullable Int64
            "ad": ad,  # categorical with nulls
            "price": price,  # float64 with NaN
            "score": (rng.standard_normal(n)).astype(np.float32),
            "7": rng.integers(-3, 4, n).astype(np.int32),  # a digits-only name: hashed as VW hashes "7"
            "clicked": clicked,
            "w": w,
        }
    )


def text_lines(df: "pd.DataFrame", namespaces, label="clicked", weight="w") -> list:
    """The VW text line of each row, as a user would write it: null features and zeros left out."""
    cols = {c: df[c].tolist() for c in df.columns}  # the values as Python gives them: ints, floats
    lines = []
    for r in range(len(df)):
        head = ""
        y = cols[label][r] if label else None
        if y is not None and not (isinstance(y, float) and math.isnan(y)):
            head = f"{y}"
            if weight is not None:
                wv = cols[weight][r]
                if not (isinstance(wv, float) and math.isnan(wv)):
                    head += f" {wv}"
            head += " "
        parts = []
        for ns, members in namespaces.items():
            feats = []
            for c in members:
                v = cols[c][r]
                if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                    continue
                if isinstance(v, str):
                    feats.append(f"{c}={v}")
                elif isinstance(v, (bool, np.bool_)):
                    if v:
                        feats.append(f"{c}:1")
                else:
                    feats.append(f"{c}:{v}")
            parts.append(f"|{ns} " + " ".join(feats))
        lines.append(head + " ".join(parts))
    return lines


def bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).view(np.uint32)


@pytest.fixture(scope="module")
def big():
    df = mixed_frame(100_000)
    return df, text_lines(df, NAMESPACES)


@pytest.mark.parametrize("args", ["--loss_function logistic -q ua", "--noconstant -q ::", "--l2 1e-6 --adaptive"])
def test_frame_matches_text_bit_for_bit(big, args):
    df, lines = big
    m_frame, m_text = wabbit.Model(args), wabbit.Model(args)
    p_frame = m_frame.learn_many(df, label="clicked", namespaces=NAMESPACES, weight="w")
    p_text = m_text.learn_many(lines)
    assert len(p_frame) == len(df) == len(p_text)
    assert np.array_equal(bits(p_frame), bits(p_text))
    for key in ("example_number", "weighted_labeled_examples", "sum_loss", "total_features"):
        assert m_frame.stats[key] == m_text.stats[key], key
    # predictions after learning, and the weights themselves
    q_frame = m_frame.predict_many(df, namespaces=NAMESPACES)
    assert np.array_equal(bits(q_frame), bits(m_text.predict_many(text_lines(df, NAMESPACES, label=None))))
    assert np.array_equal(bits(q_frame), bits(m_frame.predict_many(lines)))
    i1, w1 = m_frame.weights()
    i2, w2 = m_text.weights()
    assert np.array_equal(i1, i2) and np.array_equal(bits(w1), bits(w2))


def test_the_features_are_the_text_lines(big):
    """explain() of a row's text names exactly the features the frame gave (via the weights they touch)."""
    df, lines = big
    m = wabbit.Model("--noconstant")
    m.learn_many(df.iloc[:1], label="clicked", namespaces=NAMESPACES, weight="w")
    t = wabbit.Model("--noconstant")
    t.learn_many(lines[:1])
    assert np.array_equal(m.weights()[0], t.weights()[0]) and len(m.weights()[0]) > 0


def test_pyarrow_and_polars_match_pandas():
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    df = mixed_frame(20_000, seed=5)
    args = "--loss_function logistic -q ua"
    want = wabbit.Model(args).learn_many(text_lines(df, NAMESPACES))
    table = pa.Table.from_pandas(df, preserve_index=False)
    assert pa.types.is_dictionary(table.schema.field("ad").type)
    got_arrow = wabbit.Model(args).learn_many(table, label="clicked", namespaces=NAMESPACES, weight="w")
    assert np.array_equal(bits(got_arrow), bits(want))
    # several chunks, and a record batch
    chunked = pa.concat_tables([table.slice(0, 7000), table.slice(7000)])
    assert np.array_equal(
        bits(wabbit.Model(args).learn_many(chunked, label="clicked", namespaces=NAMESPACES, weight="w")), bits(want)
    )
    batch = table.to_batches(max_chunksize=len(df))[0]
    assert np.array_equal(
        bits(wabbit.Model(args).learn_many(batch, label="clicked", namespaces=NAMESPACES, weight="w")), bits(want)
    )
    # arrow's other string types
    for kind in ("large_string", "string_view"):
        if not hasattr(pa, kind):
            continue
        try:
            other = table.set_column(0, "user", table.column("user").cast(getattr(pa, kind)()))
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            continue
        got = wabbit.Model(args).learn_many(other, label="clicked", namespaces=NAMESPACES, weight="w")
        assert np.array_equal(bits(got), bits(want)), kind
    frame = pl.from_pandas(df)
    with pytest.raises(TypeError, match="collect"):
        wabbit.Model(args).learn_many(frame.lazy(), label="clicked", namespaces=NAMESPACES)
    assert frame["visits"].null_count() > 0 and frame["user"].null_count() > 0
    got_polars = wabbit.Model(args).learn_many(frame, label="clicked", namespaces=NAMESPACES, weight="w")
    assert np.array_equal(bits(got_polars), bits(want))
    # polars' own string and categorical columns
    frame2 = frame.with_columns(pl.col("ad").cast(pl.String).cast(pl.Categorical))
    got2 = wabbit.Model(args).learn_many(frame2, label="clicked", namespaces=NAMESPACES, weight="w")
    assert np.array_equal(bits(got2), bits(want))


def text_of(df: "pd.DataFrame") -> list:
    cols = {c: df[c].tolist() for c in df.columns}
    return ["|f " + " ".join(f"{c}:{cols[c][r]}" for c in df.columns) for r in range(len(df))]


def test_large_and_tiny_values():
    """Values whose Python text VW reads by strtof ("1.5e+16"), by its exponent loop ("-3e-30") or its
    float loop (many digits): predictions equal the text's, bit for bit."""
    rng = np.random.default_rng(7)
    base = np.array([1.5e16, 2.5e20, -3e-30, 1e-05, 0.30000000000000004, 123456789012.0, 5e-324, 1e300, 7.0])
    x = base[rng.integers(0, len(base), 500)] * rng.choice([1.0, -1.0], 500)
    k = rng.integers(-(2**62), 2**62, 500)
    with np.errstate(over="ignore"):  # (1e300 and 2.5e20 have no float32: inf, refused)
        df = pd.DataFrame({"x": x, "k": k, "x32": x.astype(np.float32)})
    m = wabbit.Model("--noconstant")
    m.learn_many(["1 |f x:0.001 k:0.002 x32:0.003"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the refused rows
        got = m.predict_many(df, namespaces={"f": ["x", "k", "x32"]}, strict=False)
        want = m.predict_many(text_of(df), strict=False)  # (1e300 as float32 is infinite: refused either way)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got).any()
    assert np.array_equal(bits(got[~np.isnan(got)]), bits(want[~np.isnan(want)]))


def test_short_decimals_of_every_size():
    """Numbers with few digits (prices, rates, rounded measurements, integers as floats) at every
    magnitude and rounding: each read as VW reads its Python text."""
    rng = np.random.default_rng(11)
    n = 4000
    raw = rng.random(n) * 10.0 ** rng.integers(-8, 9, n)
    x = np.array([round(float(v), int(d)) for v, d in zip(raw, rng.integers(0, 9, n))])
    x *= rng.choice([1.0, -1.0], n)
    df = pd.DataFrame({"x": x, "x32": x.astype(np.float32), "i": np.round(x).astype(np.int64)})
    m = wabbit.Model("--noconstant")
    m.learn_many(["1 |f x:0.001 x32:0.002 i:0.0003"])
    got = m.predict_many(df, namespaces={"f": ["x", "x32", "i"]})
    want = m.predict_many(text_of(df))
    assert np.array_equal(bits(got), bits(want))


def test_pandas_string_dtypes():
    df = pd.DataFrame(
        {
            "a": pd.array(["x", None, "y", "x"], dtype="string[python]"),
            "b": pd.Categorical([1, 2, None, 1]),  # categories that are numbers: "b=1" as str(1)
            "o": pd.Series(["p", "q", None, 7], dtype=object),  # object: each value's str()
            "s": pd.Series(["k", None, "k", "m"], dtype="str"),
            "y": [1.0, -1.0, 1.0, -1.0],
        }
    )
    ns = {"f": ["a", "b", "o", "s"]}
    lines = ["1 |f a=x b=1 o=p s=k", "-1 |f b=2 o=q", "1 |f a=y s=k", "-1 |f a=x b=1 o=7 s=m"]
    assert np.array_equal(
        bits(wabbit.Model().learn_many(df, label="y", namespaces=ns)), bits(wabbit.Model().learn_many(lines))
    )


def test_empty_frame_and_nullable_types():
    empty = pd.DataFrame({"a": pd.Series([], dtype=float), "y": pd.Series([], dtype=float)})
    assert len(wabbit.Model().learn_many(empty, label="y", namespaces={"f": ["a"]})) == 0
    df = pd.DataFrame(
        {
            "b": pd.array([True, None, False], dtype="boolean"),
            "f": pd.array([1.5, None, 2.25], dtype="Float64"),
            "u": np.array([3, 4, 5], dtype=np.uint16),
            "y": pd.array([1, 0, None], dtype="Int64"),
        }
    )
    lines = ["1 |n b:1 f:1.5 u:3", "0 |n u:4", "|n f:2.25 u:5"]
    m, t = wabbit.Model(), wabbit.Model()
    assert np.array_equal(
        bits(m.learn_many(df, label="y", namespaces={"n": ["b", "f", "u"]})), bits(t.learn_many(lines))
    )


def test_zero_values_are_dropped_as_in_text():
    df = pd.DataFrame({"x": [0.0, 0.0], "z": [False, False], "y": [1.0, 1.0]})
    m = wabbit.Model("--noconstant")
    p = m.learn_many(df, label="y", namespaces={"f": ["x", "z"]})
    assert p.tolist() == [0.0, 0.0] and m.stats["total_features"] == 0
    idx, _ = m.weights()
    assert len(idx) == 0


def test_against_vowpal_wabbit():
    """VW itself (pip's vowpalwabbit) on the frame's text: it drops a zero-valued feature as the frame
    path does, and its progressive predictions agree with the frame's (VW's tolerance, as
    test_vw_parity)."""
    vowpalwabbit = pytest.importorskip("vowpalwabbit")
    import vwcompare

    vw = vowpalwabbit.Workspace("--quiet --noconstant")
    ex = vw.example("1 |u age:0")
    assert ex.get_feature_number() == 0
    vw.finish_example(ex)
    vw.finish()
    df = mixed_frame(3000, seed=9)
    flags = "--loss_function logistic -q ua"
    got = wabbit.Model(flags).learn_many(df, label="clicked", namespaces=NAMESPACES, weight="w")
    want = vwcompare.vw_progressive(flags, text_lines(df, NAMESPACES))
    bad = [i for i, (a, b) in enumerate(zip(got.tolist(), want)) if not vwcompare.floats_close(a, b)]
    assert not bad, f"{len(bad)} rows differ from VW, first {bad[:5]}"


def test_default_namespace_and_unlabelled_rows():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "s": ["p", "q", "p"], "y": [1.0, np.nan, 0.0]})
    m, t = wabbit.Model(), wabbit.Model()
    p = m.learn_many(df, label="y")  # namespaces=None: every other column, unnamed namespace
    q = t.learn_many(["1 | a:1 s=p", "| a:2 s=q", "0 | a:3 s=p"])
    assert np.array_equal(bits(p), bits(q))
    assert m.stats["weighted_labeled_examples"] == 2.0


def test_refused_rows_strict_and_not():
    df = pd.DataFrame({"a": [1.0, np.inf, 2.0], "y": [1.0, 1.0, 1.0]})
    m = wabbit.Model()
    with pytest.raises(ValueError, match=r"row 1: column \"a\": value is not finite"):
        m.learn_many(df, label="y", namespaces={"f": ["a"]})
    assert m.stats["example_number"] == 1  # the row before it was learned
    m = wabbit.Model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = m.learn_many(df, label="y", namespaces={"f": ["a"]}, strict=False)
    assert math.isnan(p[1]) and not math.isnan(p[2])
    assert any("row 1" in str(w.message) for w in caught)
    bad_weight = pd.DataFrame({"a": [1.0], "y": [1.0], "w": [-1.0]})
    with pytest.raises(ValueError, match="importance weight"):
        wabbit.Model().learn_many(bad_weight, label="y", namespaces={"f": ["a"]}, weight="w")


def test_argument_errors():
    df = pd.DataFrame({"a": [1.0], "t": pd.to_datetime(["2020-01-01"]), "y": [1.0], "s": ["x"]})
    m = wabbit.Model()
    with pytest.raises(ValueError, match="needs label="):
        m.learn_many(df, namespaces={"f": ["a"]})
    with pytest.raises(KeyError, match="nope"):
        m.learn_many(df, label="y", namespaces={"f": ["nope"]})
    with pytest.raises(KeyError, match="label column"):
        m.learn_many(df, label="nope", namespaces={"f": ["a"]})
    with pytest.raises(TypeError, match="datetime"):
        m.learn_many(df, label="y", namespaces={"f": ["t"]})
    with pytest.raises(TypeError, match="label or weight"):
        m.learn_many(df, label="s", namespaces={"f": ["a"]})
    with pytest.raises(ValueError, match="namespace name"):
        m.learn_many(df, label="y", namespaces={"a b": ["a"]})
    with pytest.raises(TypeError, match="one pass"):
        m.learn_many(df, label="y", namespaces={"f": ["a"]}, passes=2)
    with pytest.raises(TypeError, match="contextual-bandit"):
        wabbit.Model("--cb_explore_adf").learn_many(df, label="y", namespaces={"f": ["a"]})
    assert m.stats["example_number"] == 0


def test_threads_and_lineage():
    df = mixed_frame(20_000, seed=3)
    m = wabbit.Model("--loss_function logistic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a 2-core machine may warn about oversubscription)
        p = m.learn_many(df, label="clicked", namespaces=NAMESPACES, weight="w", threads=2)
    assert len(p) == len(df) and np.isfinite(p).all()
    assert m.stats["example_number"] == len(df)
    assert [(s.source, s.examples) for s in m.lineage.sources] == [("<frame>", len(df))]


def test_docs_and_docstrings_run():
    """docs/frames.md's examples and wabbit.frames' docstring examples are true."""
    import wabbit.frames

    res = doctest.testmod(wabbit.frames)
    assert res.attempted > 0 and res.failed == 0
    path = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "frames.md")
    res = doctest.testfile(path, module_relative=False)
    assert res.attempted > 0 and res.failed == 0


def test_monitor_sees_frame_rows_as_text_rows():
    """A drift monitor watches a frame's rows as it watches the same text: the same alarms, at the
    same examples, with the same response."""
    from wabbit.drift import PageHinkley

    n = 400
    a = np.array(["a", "b"] * n)
    y = np.where(a == "a", 1.0, -1.0)
    y[n:] *= -1  # the concept flips half-way
    df = pd.DataFrame({"f": a, "y": y})
    events = []
    for source in (df, [f"{lab} |n f={v}" for lab, v in zip(y.tolist(), a.tolist())]):
        m = wabbit.Model("--loss_function logistic")
        m.monitor(PageHinkley(threshold=5, mode="up"), on_drift="reset", every=50, log=lambda s: None)
        if isinstance(source, list):
            m.learn_many(source)
        else:
            m.learn_many(source, label="y", namespaces={"n": ["f"]})
        events.append([(e.index, e.response) for e in m.drift_events])
    assert events[0] and events[0] == events[1]


def test_frame_keywords_and_snapshots_into_a_store(tmp_path):
    with pytest.raises(TypeError, match="go with a data frame"):
        wabbit.Model().learn_many(["1 |f a"], label="y")
    with pytest.raises(TypeError, match="go with a data frame"):
        wabbit.Model().predict_many(["|f a"], namespaces={"f": ["a"]})
    df = mixed_frame(12_000, seed=4)
    store = wabbit.ModelStore(str(tmp_path / "store"))
    m = wabbit.Model("--loss_function logistic")
    p = m.learn_many(df, label="clicked", namespaces=NAMESPACES, weight="w", save_every=5000, store=store)
    versions = store.list()  # snapshots every 5,000 examples (the writer may skip one while busy), then the end
    assert len(versions) >= 2 and versions[0].note.startswith("<frame>: ") and versions[0].examples in (5000, 10000)
    assert versions[-1].note == "<frame>: end" and versions[-1].examples == len(df)
    assert (
        store.load().predict_many(df, namespaces=NAMESPACES).tolist()
        == m.predict_many(df, namespaces=NAMESPACES).tolist()
    )
    assert len(p) == len(df)

"""wabbit.Model, the Python API: checked against Vowpal Wabbit (pyvw and its CLI) and against itself.

Expected values come from VW (``vowpalwabbit.Workspace`` fed the same lines, or ``python -m
vowpalwabbit`` on the same file) or from properties that hold whatever the numbers are: a dict
example must behave exactly like the equivalent text line, batch calls must equal single calls,
prediction must not change the model, a refused example must change nothing.
"""

from __future__ import annotations

import copy
import math
import random
import threading

import numpy as np
import pytest

import vwcompare
import wabbit
from wabbit import OptionError

# ------------------------------------------------------------------------------------ data


def make_lines(n=1500, seed=11, unlabeled=True, weights=True, tags=True):
    """VW text lines: regression labels, some importance weights, tags, unlabeled examples,
    features with and without values, string-valued features (``x:zz``), namespaces u/a/c."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if unlabeled and rng.random() < 0.08:
            head = ""
        else:
            head = rng.choice(["1", "-1", "0.5", "2", "-0.25"])
            if weights and rng.random() < 0.2:
                head += " " + rng.choice(["2", "0.5", "3"])
        tag = f"'t{i}" if tags and rng.random() < 0.25 else ""
        u = " ".join(
            f"{rng.choice('abcdefg')}{rng.randint(0, 40)}"
            + (f":{rng.uniform(-2, 2):.3f}" if rng.random() < 0.4 else "")
            for _ in range(rng.randint(1, 5))
        )
        a = f"ad={rng.randint(0, 60)} price:{rng.uniform(0.01, 1):.2f}"
        if rng.random() < 0.3:
            a += f" col:{rng.choice(['red', 'zz', 'blue'])}"
        c = f"hour={rng.randint(0, 23)}"
        out.append(f"{head} {tag}|u {u} |a {a} |c {c}")
    return out


def binary_lines(n=1000, seed=5):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x = rng.randint(0, 30)
        y = "1" if (x % 3 == 0) ^ (rng.random() < 0.1) else "-1"
        out.append(f"{y} |u user={x} age={x % 5} |a ad={rng.randint(0, 9)} price:{rng.uniform(0, 1):.2f}")
    return out


def assert_close_to_vw(got, expected, atol=1e-4):
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape
    diff = np.abs(got - expected)
    # VW's rule: absolute 1e-4, or relative for |expected| > 1
    tol = np.maximum(atol, atol * np.abs(expected))
    bad = np.nonzero(diff > tol)[0]
    assert bad.size == 0, (
        f"{bad.size} of {got.size} predictions differ from VW; first at {bad[0]}: "
        f"got {got[bad[0]]}, VW {expected[bad[0]]}"
    )


@pytest.fixture(scope="module")
def lines():
    return make_lines()


@pytest.fixture(scope="module")
def data_file(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("api") / "train.vw"
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------------------------ vs pyvw


@pytest.mark.parametrize("flags", ["", "--loss_function logistic", "-q ua", "--sgd -l 0.1"])
def test_learn_predict_text_vs_pyvw(vw_available, flags):
    lines = binary_lines() if "logistic" in flags else make_lines(800, seed=3)
    expected = vwcompare.vw_progressive(flags, lines)
    m = wabbit.Model(flags)
    got = [m.learn(line) for line in lines]
    assert_close_to_vw(got, expected)

    # post-learning predictions on fresh lines (VW's predict, last so its bookkeeping does not matter)
    import vowpalwabbit

    vw = vowpalwabbit.Workspace("--quiet " + flags)
    for line in lines:
        vw.learn(line)
    probes = ["|u a1 b2:0.5 |a ad=3 price:0.5", "|u user=3 age=3 |a ad=1", "| nothing", "|c hour=4"]
    assert_close_to_vw([m.predict(p) for p in probes], [vw.predict(p) for p in probes])
    vw.finish()


def test_keywords_equal_string(vw_available):
    lines = binary_lines(600, seed=9)
    a = wabbit.Model(loss_function="logistic", quadratic="ua", b=20)
    b = wabbit.Model("--loss_function logistic -q ua -b 20")
    c = wabbit.Model("-q ua", loss_function="logistic", bit_precision=20)
    pa = [a.learn(l) for l in lines]
    pb = [b.learn(l) for l in lines]
    pc = [c.learn(l) for l in lines]
    assert pa == pb == pc
    assert a.bits == 20
    # and the keywords took effect: VW with the same flags agrees, the default model does not
    assert_close_to_vw(pa, vwcompare.vw_progressive("--loss_function logistic -q ua -b 20", lines))
    d = wabbit.Model()
    assert [d.learn(l) for l in lines] != pytest.approx(pa, abs=1e-3)


def test_learn_returns_pre_update_prediction():
    m = wabbit.Model()
    for line in make_lines(50, seed=1, unlabeled=False):
        before = m.predict(line)
        assert m.learn(line) == before
    # after learning a positive example many times the prediction moves towards it
    m2 = wabbit.Model()
    first = m2.learn("1 |f a b")
    assert first == 0.0
    assert m2.predict("|f a b") > 0.0


# ------------------------------------------------------------------------------------ dict examples

DICT_CASES = [
    # (text line, dict example, label, weight, initial)
    ("2 |f a:2 b", {"f": {"a": 2, "b": 1}}, 2.0, 1.0, 0.0),
    ("2 |f a b c", {"f": ["a", "b", "c"]}, 2.0, 1.0, 0.0),
    ("-1 |f x:zz y:0.5 |g q", {"f": {"x": "zz", "y": 0.5}, "g": ["q"]}, -1.0, 1.0, 0.0),
    ("0.5 |f x:zz", {"f": {"x": "zz"}}, 0.5, 1.0, 0.0),
    (
        "1 3 |user u=1 age:0.3 |ad 17 price:-1.5",
        {"user": {"u=1": 1, "age": 0.3}, "ad": {"17": 1, "price": -1.5}},
        1.0,
        3.0,
        0.0,
    ),
    ("1 0.5 0.25 |f a", {"f": ["a"]}, 1.0, 0.5, 0.25),
    ("1 | a b:2", {"": {"a": 1, "b": 2}}, 1.0, 1.0, 0.0),
]


@pytest.mark.parametrize("flags", ["", "--sgd", "-q fg"])
@pytest.mark.parametrize("case", range(len(DICT_CASES)))
def test_dict_equals_text(flags, case):
    text, d, label, weight, initial = DICT_CASES[case]
    mt = wabbit.Model(flags)
    md = wabbit.Model(flags)
    probe_text = "|" + text.split("|", 1)[1]
    for step in range(4):
        pt = mt.learn(text)
        pd = md.learn(d, label=label, weight=weight, initial=initial)
        assert pd == pt, f"step {step}: dict {d} learned {pd}, text {text!r} {pt}"
        assert md.predict(d, initial=initial) == mt.predict(text), f"step {step}"
        assert md.predict(d) == mt.predict(probe_text), f"step {step}"
    assert md.stats == mt.stats


def test_dict_learning_equals_text_learning_on_a_stream():
    """A whole stream fed as dicts gives the same progressive predictions as the text lines."""
    rng = random.Random(4)
    mt, md = wabbit.Model("-q ua"), wabbit.Model("-q ua")
    for _ in range(300):
        # quarters: VW's text parser reads these exactly, so text and dict carry the very same
        # float (it is not exact for e.g. 0.125 = 125 * 1e-3f; see the next test)
        u = {f"f{rng.randint(0, 20)}": rng.randint(-16, 16) / 4 for _ in range(rng.randint(1, 4))}
        a = [f"ad={rng.randint(0, 9)}"]
        y = rng.choice([1.0, -1.0, 0.5])
        text = f"{y:g} |u " + " ".join(f"{k}:{v:g}" for k, v in u.items()) + " |a " + a[0]
        assert md.learn({"u": u, "a": a}, label=y) == mt.learn(text)
    assert md.stats == mt.stats


def test_dict_decimal_values_match_text_to_one_float_step(vw_available):
    """Text values are read with VW's float reader (checked here against pyvw, bit for bit); a dict
    value is a number, converted to float32 correctly rounded. VW's reader is not correctly rounded
    (for about a third of 3-decimal values it is one float32 step away), so the two agree to one
    float32 step, not bitwise: a deliberate choice, since dict values come from numeric data.
    """
    import vowpalwabbit

    vw = vowpalwabbit.Workspace("--quiet --noconstant")
    vw.learn("1 |f a")
    m = wabbit.Model("--noconstant")
    m.learn("1 |f a")
    w = m.predict("|f a")  # the weight of a: predictions below are w * value
    rng = random.Random(0)
    values = [f"{rng.uniform(-2, 2):.3f}" for _ in range(200)] + ["0.689", "0.023", "1e-3", "-0.816"]
    for v in values:
        expected = vw.predict(f"|f a:{v}")
        text = m.predict(f"|f a:{v}")
        as_dict = m.predict({"f": {"a": float(v)}})
        assert text == expected, (v, text, expected)
        assert abs(as_dict - text) <= 2.5e-7 * abs(w) * max(1.0, abs(float(v))), (v, as_dict, text)
    vw.finish()


def test_unlabelled_dict_changes_no_weights():
    m = wabbit.Model()
    m.learn("1 |f a")
    before = m.predict("|f a")
    m.learn({"f": ["a"]})  # no label
    assert m.predict("|f a") == before


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_dict_values_and_labels_raise(bad):
    m = wabbit.Model()
    m.learn("1 |f a b")
    before = (m.predict("|f a b"), m.stats)
    with pytest.raises(ValueError):
        m.learn({"f": {"a": bad}}, label=1)
    with pytest.raises(ValueError):
        m.predict({"f": {"a": bad}})
    with pytest.raises(ValueError):
        m.learn({"f": ["a"]}, label=bad)
    with pytest.raises(ValueError):
        m.learn({"f": ["a"]}, label=1, weight=bad)
    assert (m.predict("|f a b"), m.stats) == before


# ------------------------------------------------------------------------------------ batches


def test_learn_many_sources_agree_with_cli_and_vw(vw_available, tmp_path, data_file, lines):
    from_path = wabbit.Model("-q ua").learn_many(data_file)
    from_str_path = wabbit.Model("-q ua").learn_many(str(data_file))
    from_bytes = wabbit.Model("-q ua").learn_many(data_file.read_bytes())
    from_list = wabbit.Model("-q ua").learn_many(list(lines))
    assert from_path.shape == (len(lines),)
    assert np.array_equal(from_path, from_str_path)
    assert np.array_equal(from_path, from_bytes)
    assert np.array_equal(from_path, from_list)
    # single-example learning gives the same numbers
    m = wabbit.Model("-q ua")
    assert np.array_equal(from_path, np.array([m.learn(l) for l in lines], dtype=np.float32))

    cli = vwcompare.run_wabbit(["-d", data_file, "-q", "ua", "-p", "w.p", "--quiet"], tmp_path)
    assert cli.returncode == 0, vwcompare.describe_run(cli)
    cli_preds = np.array([p for p, _ in vwcompare.parse_predictions((tmp_path / "w.p").read_text())])
    assert cli_preds.shape == from_path.shape
    # the CLI prints 6 decimals
    assert np.max(np.abs(cli_preds - from_path)) <= 5e-7 + 1e-6 * np.max(np.abs(from_path))

    vw = vwcompare.run_vw(["-d", data_file, "-q", "ua", "-p", "v.p", "--quiet"], tmp_path)
    assert vw.returncode == 0, vwcompare.describe_run(vw)
    vw_preds = [p for p, _ in vwcompare.parse_predictions((tmp_path / "v.p").read_text())]
    assert_close_to_vw(from_path, vw_preds)


def test_predict_many_does_not_change_model(data_file, lines):
    m = wabbit.Model("-q ua")
    m.learn_many(lines[:700])
    stats = m.stats
    before = m.predict_many(data_file)
    again = m.predict_many(lines)
    after = m.predict_many(data_file.read_bytes())
    assert np.array_equal(before, again) and np.array_equal(before, after)
    assert m.stats == stats
    singles = np.array([m.predict(l) for l in lines], dtype=np.float32)
    assert np.array_equal(before, singles)
    # whereas learning them does change it
    m.learn_many(lines[700:])
    assert not np.array_equal(m.predict_many(lines), before)


@pytest.mark.parametrize("flags", ["", "-q ua --sgd", "--noconstant"])
def test_stats_match_vw_summary(vw_available, tmp_path, data_file, flags):
    m = wabbit.Model(flags)
    m.learn_many(data_file)
    vw = vwcompare.run_vw(["-d", data_file, *flags.split()], tmp_path)
    assert vw.returncode == 0, vwcompare.describe_run(vw)
    s = m.stats
    assert s["example_number"] == vwcompare.summary_value(vw.stderr, "number of examples")
    assert s["weighted_examples"] == pytest.approx(vwcompare.summary_value(vw.stderr, "weighted example sum"), abs=1e-6)
    assert s["weighted_labels"] == pytest.approx(vwcompare.summary_value(vw.stderr, "weighted label sum"), abs=1e-6)
    assert s["total_features"] == vwcompare.summary_value(vw.stderr, "total feature number")
    assert m.average_loss == pytest.approx(vwcompare.summary_value(vw.stderr, "average loss"), abs=2e-6)


def test_average_loss_by_hand():
    m = wabbit.Model()
    assert math.isnan(m.average_loss)
    p1 = m.learn("2 |f a")
    p2 = m.learn("-1 3 |f b")
    m.learn("|f c")  # unlabeled: no loss, no weight
    expected = ((p1 - 2) ** 2 + 3 * (p2 + 1) ** 2) / 4
    assert m.average_loss == pytest.approx(expected, rel=1e-6)
    assert m.stats["weighted_labeled_examples"] == 4
    assert m.stats["example_number"] == 3


# ------------------------------------------------------------------------------------ malformed input


def test_strict_learn_many_names_the_line():
    good = make_lines(10, seed=2, unlabeled=False)
    batch = good[:4] + ["abc |f x"] + good[4:]
    m = wabbit.Model()
    with pytest.raises(ValueError) as e:
        m.learn_many(batch, strict=True)
    assert "line 5" in str(e.value)
    # the four lines before it were learned, nothing after it
    ref = wabbit.Model()
    ref.learn_many(good[:4])
    assert m.stats == ref.stats
    assert m.predict_many(good).tolist() == ref.predict_many(good).tolist()


def test_non_strict_learn_many_warns_and_skips():
    good = make_lines(12, seed=2, unlabeled=False)
    batch = good[:4] + ["abc |f x"] + good[4:]
    m = wabbit.Model()
    with pytest.warns(UserWarning, match="line 5"):
        preds = m.learn_many(batch, strict=False)
    assert preds.shape == (len(batch),)
    assert math.isnan(preds[4])
    assert not np.isnan(np.delete(preds, 4)).any()
    ref = wabbit.Model()
    ref_preds = ref.learn_many(good)
    assert np.array_equal(np.delete(preds, 4), ref_preds)
    assert m.predict_many(good).tolist() == ref.predict_many(good).tolist()


@pytest.mark.parametrize("bad", ["1 |f x:nan", "1 |f x:inf", "nan |f x", "abc |f x", "1 abc |f x"])
def test_malformed_single_learn_raises_and_changes_nothing(bad):
    m = wabbit.Model()
    lines = make_lines(30, seed=8)
    m.learn_many(lines)
    before = m.predict_many(lines)
    stats = m.stats
    with pytest.raises(ValueError):
        m.learn(bad)
    assert np.array_equal(m.predict_many(lines), before)
    assert m.stats == stats
    with pytest.raises(ValueError):
        m.predict(bad)


# ------------------------------------------------------------------------------------ options


@pytest.mark.parametrize(
    "args, flag",
    [
        ("-d x", "--data"),
        ("-f model.bin", "--final_regressor"),
        ("-i model.bin", "--initial_regressor"),
        ("-p preds.txt", "--predictions"),
        ("-t", "--testonly"),
    ],
)
def test_run_time_flags_refused(args, flag):
    with pytest.raises(OptionError) as e:
        wabbit.Model(args)
    msg = str(e.value)
    assert flag in msg
    assert "learn_many" in msg or "load" in msg or "save" in msg  # says what to do instead


# ------------------------------------------------------------------------------------ threads and copies


def test_concurrent_predict_while_learning():
    lines = make_lines(1200, seed=21)
    probes = [("|" + l.split("|", 1)[1]) for l in lines[:50]]
    m = wabbit.Model("-q ua")
    m.learn_many(lines[:100])
    errors = []
    bad_values = []
    stop = threading.Event()

    def predictor():
        try:
            k = 0
            while not stop.is_set() and k < 20000:
                p = m.predict(probes[k % len(probes)])
                if not math.isfinite(p):
                    bad_values.append(p)
                k += 1
            arr = m.predict_many(probes)
            if not np.isfinite(arr).all():
                bad_values.append("predict_many")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def learner():
        try:
            for l in lines[100:600]:
                m.learn(l)
            for i in range(600, 1200, 100):
                m.learn_many(lines[i : i + 100])  # releases the GIL while learning
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            stop.set()

    threads = [threading.Thread(target=predictor) for _ in range(3)] + [threading.Thread(target=learner)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert bad_values == []
    # the model learned everything exactly once
    assert m.stats["example_number"] == 1200
    ref = wabbit.Model("-q ua")
    ref.learn_many(lines)
    assert np.array_equal(m.predict_many(probes), ref.predict_many(probes))


@pytest.mark.parametrize("how", ["copy", "deepcopy", "method"])
def test_copies_are_independent(how):
    lines = make_lines(200, seed=13)
    m = wabbit.Model("-q ua --loss_function logistic")
    m.learn_many(lines[:100])
    c = {"copy": copy.copy, "deepcopy": copy.deepcopy, "method": lambda x: x.copy()}[how](m)
    assert c is not m
    assert c.args == m.args
    assert np.array_equal(c.predict_many(lines), m.predict_many(lines))
    assert c.stats == m.stats
    before = m.predict_many(lines)
    stats = m.stats
    c.learn_many(lines[100:])
    assert np.array_equal(m.predict_many(lines), before)
    assert m.stats == stats
    # the copy continued exactly as the original would have
    m.learn_many(lines[100:])
    assert np.array_equal(c.predict_many(lines), m.predict_many(lines))


def test_public_wiring_for_the_cli_runs_and_monitor():
    # the public methods other modules use instead of Model's private names
    from wabbit.lineage import SourceRecord

    m = wabbit.Model("--cb_explore_adf")
    assert m.is_bandit and not wabbit.Model().is_bandit
    lin = wabbit.Model.from_options(wabbit.parse_args("-q ab"))
    assert lin.args == wabbit.Model("-q ab").args and lin.lineage.examples == 0
    assert lin.core.bits() == lin.bits == 18
    _ = lin.learn("1 |a x |b y")
    lin.record_source(SourceRecord("file.txt", 4, 1, 5))
    lin.record_source(None)  # nothing pending: nothing added
    sources = lin.lineage.sources
    assert [(s.source, s.examples) for s in sources] == [("<python>", 1), ("file.txt", 4)]
    assert lin.lineage.examples == 5


def test_a_pickle_written_by_earlier_versions_still_loads():
    # Every pickle of a Model names the function wabbit.model._unpickle with (file bytes, pending
    # parent[, live state]); the stream is written here by hand, opcode by opcode, so moving the
    # code behind it (wabbit/persistence.py) cannot change what old pickles need.
    import pickle

    m = wabbit.Model("-q ab")
    m.learn("2 |a x |b y")
    args = pickle.dumps((m.to_bytes(), 1234), protocol=2)[2:-1]  # the tuple's opcodes, no header/STOP
    stream = b"\x80\x02cwabbit.model\n_unpickle\n" + args + b"R."
    loaded = pickle.loads(stream)
    assert type(loaded) is wabbit.Model
    assert loaded.predict("|a x |b y") == m.predict("|a x |b y") != 0
    loaded.learn("1 |a x")  # the pickled pending parent is adopted at the first learning, not the bytes' CRC
    assert loaded.lineage.parent_checksum == 1234

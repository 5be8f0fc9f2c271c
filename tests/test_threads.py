"""Hogwild threads, CSR batches and predictions made while another thread learns (issue 5).

Independent references: the single-threaded run (itself VW-exact, see test_vw_parity.py), hand-made
inputs whose right answers are known, and properties that hold whatever the interleaving.
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import wabbit
from wabbit.synth import write_click_log

LOGISTIC = "--loss_function logistic -b 20"


@pytest.fixture(scope="module")
def click(tmp_path_factory):
    path = tmp_path_factory.mktemp("threads") / "click.txt"
    write_click_log(path, 60_000, seed=3)
    return path


def test_one_thread_is_the_default_and_exact(click):
    a = wabbit.Model(LOGISTIC).learn_many(click)
    b = wabbit.Model(LOGISTIC, threads=1).learn_many(click)
    c = wabbit.Model(LOGISTIC + " --threads 1").learn_many(click, threads=1)
    assert a.tobytes() == b.tobytes() == c.tobytes()


@pytest.mark.parametrize("args", [LOGISTIC, LOGISTIC + " -q ua", "-b 20", LOGISTIC + " --ftrl"])
def test_two_threads_learn_every_example_with_the_same_loss(click, args):
    one = wabbit.Model(args)
    one.learn_many(click)
    two = wabbit.Model(args, threads=2)
    p2 = two.learn_many(click)
    s1, s2 = one.stats, two.stats
    # order-independent counts are exact
    for key in ("example_number", "weighted_labeled_examples", "weighted_labels", "total_features"):
        assert s1[key] == s2[key], key
    assert s1["example_number"] == 60_000 and len(p2) == 60_000
    assert np.isfinite(p2).all()
    # Hogwild changes the order of updates, not what is learned: loss within 1%
    assert abs(two.average_loss - one.average_loss) <= 0.01 * one.average_loss
    # the online clock adds up over the workers
    assert two._core.state()["t"] == pytest.approx(one._core.state()["t"])
    # and the two models predict alike (on average: Hogwild moves single predictions a little)
    lines = click.read_text().splitlines()[-5000:]
    prob = lambda score: 1 / (1 + np.exp(-score.astype(np.float64)))  # noqa: E731
    gap = np.abs(prob(one.predict_many(lines)) - prob(two.predict_many(lines)))
    assert gap.mean() < 0.04 and np.quantile(gap, 0.99) < 0.2


def test_threaded_predictions_keep_input_order(click, tmp_path):
    """-t with threads writes -p in input order: equal, line by line, to one thread's output."""
    model = tmp_path / "m.bin"
    wabbit.Model(LOGISTIC).learn_many(click)
    m = wabbit.Model(LOGISTIC)
    m.learn_many(click)
    m.save(model)
    outs = []
    for th in ("1", "2"):
        pred = tmp_path / f"p{th}.txt"
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "wabbit",
                "-t",
                "-i",
                str(model),
                "-d",
                str(click),
                "--threads",
                th,
                "-p",
                str(pred),
                "--quiet",
            ],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        outs.append(pred.read_text())
    assert outs[0] == outs[1]
    assert len(outs[0].splitlines()) == 60_000
    # and predict_many on two threads returns them in order as well
    a = m.predict_many(click, threads=1)
    b = m.predict_many(click, threads=2)
    assert a.tobytes() == b.tobytes()


def test_threaded_errors_name_the_right_lines(tmp_path):
    lines = [f"{1 if i % 3 else -1} |f a{i % 50} b{i % 7}" for i in range(50_000)]
    bad = {1234: "1 |f a:nan", 33_333: "x |f a"}  # 0-based positions
    for i, text in bad.items():
        lines[i] = text
    data = ("\n".join(lines) + "\n").encode()
    m = wabbit.Model(threads=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = m.learn_many(data, strict=False)
    named = sorted(int(str(w.message).split("line ")[1].split(":")[0]) for w in caught if "line" in str(w.message))
    assert named == [1235, 33_334]
    assert np.isnan(p[1234]) and np.isnan(p[33_333]) and np.isfinite(np.delete(p, [1234, 33_333])).all()
    assert m.stats["bad_lines"] == 2 and m.stats["example_number"] == 49_998
    one_bad = lines[:]
    one_bad[33_333] = lines[33_332]
    with pytest.raises(ValueError, match="line 1235:"):
        wabbit.Model(threads=2).learn_many(("\n".join(one_bad) + "\n").encode(), strict=True)


def test_runs_that_need_order_stay_on_one_thread(click):
    with pytest.warns(UserWarning, match="one thread because of --l1"):
        p2 = wabbit.Model(LOGISTIC + " --l1 1e-6", threads=2).learn_many(click)
    p1 = wabbit.Model(LOGISTIC + " --l1 1e-6").learn_many(click)
    assert p1.tobytes() == p2.tobytes()


def test_cli_threads_progress_and_summary(click):
    r = subprocess.run(
        [sys.executable, "-m", "wabbit", "-d", str(click), "--loss_function", "logistic", "-b", "20", "--threads", "2"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "Hogwild threads = 2" in r.stderr
    assert "number of examples = 60000" in r.stderr
    rows = [ln for ln in r.stderr.splitlines() if ln[:1].isdigit() and len(ln.split()) == 7]
    counts = [int(ln.split()[2]) for ln in rows]
    assert len(rows) >= 3 and counts == sorted(counts) and counts[-1] <= 60_000
    bad = subprocess.run(
        [sys.executable, "-m", "wabbit", "--threads", "-2", "--no_stdin"], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "--threads" in bad.stderr


# --------------------------------------------------------------------------------------------- CSR
def _csr_and_text(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 8, size=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = rng.integers(0, 5000, size=offsets[-1]).astype(np.uint32)
    values = rng.choice(np.array([0.5, 1.0, 2.0, -1.5], dtype=np.float32), size=offsets[-1])
    labels = np.where(rng.random(n) < 0.4, 1.0, -1.0).astype(np.float32)
    # In VW's text format an all-digit feature name in the unnamed namespace IS its index.
    lines = [
        f"{labels[r]:g} | " + " ".join(f"{indices[k]}:{values[k]:g}" for k in range(offsets[r], offsets[r + 1]))
        for r in range(n)
    ]
    return (indices, values, offsets), labels, lines


def test_csr_learns_exactly_like_the_same_rows_as_text():
    csr, labels, lines = _csr_and_text()
    a = wabbit.Model(LOGISTIC)
    pa = a.learn_many(csr, labels=labels)
    b = wabbit.Model(LOGISTIC)
    pb = b.learn_many(lines)
    assert pa.tobytes() == pb.tobytes()
    assert a.average_loss == b.average_loss
    assert a.predict_many(csr).tobytes() == b.predict_many(lines).tobytes()


def test_csr_dtypes_scipy_and_weights():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    (indices, values, offsets), labels, _ = _csr_and_text(500, seed=1)
    ref = wabbit.Model(LOGISTIC).learn_many((indices, values, offsets), labels=labels)
    as_int32 = wabbit.Model(LOGISTIC).learn_many(
        (indices.astype(np.int32), values.astype(np.float64), offsets.astype(np.int32)), labels=labels.tolist()
    )
    assert ref.tobytes() == as_int32.tobytes()
    mat = scipy_sparse.csr_matrix((values, indices, offsets), shape=(500, 5000))
    assert wabbit.Model(LOGISTIC).learn_many(mat, labels=labels).tobytes() == ref.tobytes()
    # importance weight 2 on every row equals VW's weight in the text label
    w = np.full(500, 2.0, np.float32)
    a = wabbit.Model(LOGISTIC)
    a.learn_many((indices, values, offsets), labels=labels, weights=w)
    assert a.stats["weighted_labeled_examples"] == 1000.0


def test_csr_bad_rows_and_bad_arrays():
    (indices, values, offsets), labels, _ = _csr_and_text(100, seed=2)
    bad_values = values.copy()
    bad_values[offsets[7]] = np.nan
    m = wabbit.Model(LOGISTIC)
    with pytest.raises(ValueError, match="row 7: feature .* non-finite"):
        m.learn_many((indices, bad_values, offsets), labels=labels)
    assert m.stats["example_number"] == 7  # the rows before it were learned
    with pytest.warns(UserWarning, match="row 7"):
        p = wabbit.Model(LOGISTIC).learn_many((indices, bad_values, offsets), labels=labels, strict=False)
    assert np.isnan(p[7]) and np.isfinite(np.delete(p, 7)).all()
    # the prediction path (no Examples built) refuses the same row the same way
    trained = wabbit.Model(LOGISTIC)
    trained.learn_many((indices, values, offsets), labels=labels)
    with pytest.raises(ValueError, match="row 7: feature .* non-finite"):
        trained.predict_many((indices, bad_values, offsets))
    with pytest.warns(UserWarning, match="row 7"):
        q = trained.predict_many((indices, bad_values, offsets), strict=False)
    good = trained.predict_many((indices, values, offsets))
    assert np.isnan(q[7]) and np.array_equal(np.delete(q, 7), np.delete(good, 7))
    m = wabbit.Model(LOGISTIC)
    with pytest.raises(ValueError, match="labels must be a 1-d array with one number per row"):
        m.learn_many((indices, values, offsets), labels=labels[:-1])
    with pytest.raises(ValueError, match="differ in length"):
        m.learn_many((indices[:-1], values, offsets), labels=labels)
    with pytest.raises(ValueError, match="start at 0"):
        m.learn_many((indices, values, offsets + 1), labels=labels)
    with pytest.raises(ValueError, match="needs labels"):
        m.learn_many((indices, values, offsets))
    with pytest.raises(TypeError, match="CSR"):
        m.learn_many(["1 |f a"], labels=[1.0])
    with pytest.raises(ValueError, match=r"\[0, 2\*\*32\)"):
        m.learn_many((indices.astype(np.int64) - 10**6, values, offsets), labels=labels)
    assert m.stats["example_number"] == 0
    assert np.isfinite(m.weights()[1]).all()


def test_csr_two_threads():
    rng = np.random.default_rng(5)
    n, k = 40_000, 12
    indices = rng.integers(0, 2**18, size=n * k).astype(np.uint32)
    values = np.ones(n * k, np.float32)
    offsets = np.arange(0, n * k + 1, k, dtype=np.int64)
    truth = rng.normal(size=2**18)
    labels = np.where(truth[indices.reshape(n, k)].sum(axis=1) > 0, 1.0, -1.0).astype(np.float32)
    one, two = wabbit.Model(LOGISTIC), wabbit.Model(LOGISTIC, threads=2)
    one.learn_many((indices, values, offsets), labels=labels)
    p = two.learn_many((indices, values, offsets), labels=labels)
    assert two.stats["example_number"] == n and np.isfinite(p).all()
    assert abs(two.average_loss - one.average_loss) <= 0.01 * one.average_loss
    a = two.predict_many((indices, values, offsets), threads=1)
    b = two.predict_many((indices, values, offsets), threads=2)
    assert a.tobytes() == b.tobytes()


# ------------------------------------------------------------------------------------- concurrency
def test_predicting_threads_while_one_learns(click):
    """Three threads predict (single lines, dicts and batches) while a fourth learns for seconds."""
    m = wabbit.Model(LOGISTIC + " -q ua")
    data = click.read_bytes()
    lines = data.decode().splitlines()[:2000]
    stop = threading.Event()
    errors: list = []
    counts = [0, 0, 0]

    def predict_lines(slot):
        try:
            while not stop.is_set():
                for line in lines[:200]:
                    v = m.predict(line)
                    if math.isnan(v):
                        raise AssertionError("NaN prediction")
                    counts[slot] += 1
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def predict_dicts(slot):
        try:
            while not stop.is_set():
                v = m.predict({"u": {"user=u1": 1.0, "age=2": 1.0}, "a": ["ad=a7", "cat=c1"]})
                if math.isnan(v):
                    raise AssertionError("NaN prediction")
                counts[slot] += 1
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    def predict_batches(slot):
        try:
            while not stop.is_set():
                p = m.predict_many(lines, threads=2)
                if np.isnan(p).any():
                    raise AssertionError("NaN in a batch prediction")
                counts[slot] += 1
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    readers = [
        threading.Thread(target=f, args=(i,)) for i, f in enumerate((predict_lines, predict_dicts, predict_batches))
    ]
    for t in readers:
        t.start()
    started = time.monotonic()
    passes = 0
    try:
        while time.monotonic() - started < 3.0 or passes < 2:
            m.learn_many(data, threads=2 if passes % 2 else 1)
            m.learn("1 |u user=u1 |a ad=a7")  # single learns interleave with the batch runs
            passes += 1
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors, errors
    assert all(c > 0 for c in counts)
    assert m.stats["example_number"] == passes * 60_001
    assert np.isfinite(m.weights()[1]).all()


def test_learning_calls_from_two_threads_do_not_interleave(click):
    """A single learn() waits for a batch run on another thread; nothing is lost."""
    m = wabbit.Model(LOGISTIC)
    data = click.read_bytes()
    t = threading.Thread(target=m.learn_many, args=(data,))
    t.start()
    n = 0
    while t.is_alive() or n < 100:
        m.learn("1 |u user=u1")
        n += 1
    t.join()
    assert m.stats["example_number"] == 60_000 + n


def test_ranking_threads_while_one_learns_events():
    """rank() and predict() on a bandit model from three threads while a fourth learns events."""
    m = wabbit.Model("--cb_explore_adf --epsilon 0.1 -q ua -b 20")
    rng = np.random.default_rng(1)
    shared = {"u": {f"f{i}": float(rng.random()) for i in range(10)}}
    cands = [{"a": {f"id={i}": 1.0, f"k={i % 7}": 1.0, "price": float(rng.random())}} for i in range(300)]
    stop = threading.Event()
    errors: list = []
    calls = [0, 0, 0]

    def ranker(slot):
        try:
            while not stop.is_set():
                order, probs = m.rank(shared, cands)
                if sorted(order.tolist()) != list(range(300)) or not np.isfinite(probs).all():
                    raise AssertionError("a ranking that is not a permutation with finite probabilities")
                if abs(float(probs.sum()) - 1.0) > 1e-3:
                    raise AssertionError(f"probabilities sum to {probs.sum()}")
                pmf = m.predict((shared, cands[:10]))
                if not np.isfinite(pmf).all():
                    raise AssertionError("NaN in a pmf")
                calls[slot] += 1
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=ranker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    started = time.monotonic()
    learned = 0
    try:
        while time.monotonic() - started < 2.0 or learned < 200:
            a = int(rng.integers(10))
            m.learn((shared, cands[learned % 290 : learned % 290 + 10]), label=(a, float(a != 3), 0.1))
            learned += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert all(c > 0 for c in calls)
    assert np.isfinite(m.weights()[1]).all()


def test_spin_probe_computes_what_it_says(tmp_path):
    # bench_suite's machine-ceiling probe (bench/spin.c, built with the system C compiler at bench
    # time; not part of the package): the checksum of the loops it documents, here recomputed in
    # Python (mod 2^64), and a usage error for an unknown kind.
    import shutil
    import subprocess

    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "spin"
    source = Path(__file__).resolve().parent.parent / "bench" / "spin.c"
    subprocess.run([cc, "-O2", "-o", str(exe), str(source)], check=True)

    def spin(kind, n):
        proc = subprocess.run([str(exe), kind, str(n)], capture_output=True, text=True)
        return proc.returncode, proc.stdout.strip()

    mask = 2**64 - 1
    n = 1000
    a, b, c, d, e, f, g, h = 1, 2, 3, 4, 5, 6, 7, 8
    for i in range(n):
        a = (a + i) & mask
        b ^= i
        c = (c + a) & mask
        d ^= b
        e = (e + c) & mask
        f ^= d
        g = (g + e) & mask
        h ^= f
    assert spin("alu", n) == (0, str((a + b + c + d + e + f + g + h) & mask))
    x = 1
    for i in range(n):
        x = (x * 0x9E3779B97F4A7C15 + i) & mask
    assert spin("latency", n) == (0, str(x))
    assert spin("fpu", 10)[0] == 2


def test_the_package_has_no_spin_probe():
    # the calibration loop lives in bench/, not in the production module
    from wabbit import _core

    assert not hasattr(_core, "_spin")

"""The model file: exact round trips, resumable training, predict-only files, the checksum,
refusal of corrupt files, atomic saves, and the CLI's handling of model files.

The layout checked here is the one written by cpp/model_io.cc (all little-endian):

    magic "WABBITM\\n" (8) | format version u32 | wabbit version str | args str | metadata str
    | t f64 | normalized_sum_norm_x f64 | total_weight f64 | weighted_unlabeled f64 | gravity f64 | contraction f64
    | min_label f32 | max_label f32 | bits u32 | stride u32 | predict_only u8 | encoding u8
    | config size u32 | config (that many bytes: the resolved Config, a bandit flag u8, then for a
      bandit its CbConfig and state; format version 2 on)
    | [encoding 1 (sparse): count u64, then count x (row u32, stride x f32)]
    | [encoding 0 (dense): 2^bits x stride x f32]
    | CRC-32 (zlib's) of every byte before it, u32

where ``str`` is a u32 byte length followed by the bytes.  Expected values come from properties
(a save/load must not change a single bit; resuming must equal never stopping), from zlib for the
checksum, and from that layout for the hand-built corrupt headers.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import random
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib

import numpy as np
import pytest

import vwcompare

wabbit = pytest.importorskip("wabbit")

# ---------------------------------------------------------------------------------------------
# data and helpers
# ---------------------------------------------------------------------------------------------


def make_lines(n, seed, *, logistic=False, unlabeled=0.0):
    """VW text lines over namespaces u, a, c with a planted linear signal (some importance
    weights, some tags; a fraction ``unlabeled`` of the lines carries no label)."""
    rng = random.Random(seed)
    wu = [rng.gauss(0, 1) for _ in range(40)]
    wa = [rng.gauss(0, 1) for _ in range(25)]
    out = []
    for _ in range(n):
        user, ad = rng.randrange(40), rng.randrange(25)
        age, price = rng.uniform(0.1, 2.0), rng.uniform(-1.0, 1.0)
        target = wu[user] + wa[ad] + 0.5 * age - 0.8 * price + (0.7 if (user + ad) % 3 == 0 else -0.2)
        feats = f"|u user={user} age:{age:.4f} |a ad={ad} price:{price:.4f}"
        if rng.random() < 0.5:
            feats += f" |c ctx{rng.randrange(6)} hour:{rng.randrange(24)}"
        if rng.random() < unlabeled:
            head = f"'t{rng.randrange(100)} " if rng.random() < 0.5 else ""
            out.append(head + feats)
            continue
        if logistic:
            label = "1" if target + rng.gauss(0, 0.5) > 0 else "-1"
        else:
            label = f"{target + rng.gauss(0, 0.2):.4f}"
        if rng.random() < 0.25:
            label += " " + rng.choice(["0.5", "2", "1.5", "3"])
        out.append(f"{label} {feats}")
    return out


TRAIN = make_lines(300, 11)
TRAIN_LOGISTIC = make_lines(300, 12, logistic=True)
TEST = make_lines(120, 13, unlabeled=1.0)


def f32bits(values):
    return np.ascontiguousarray(np.asarray(values, dtype=np.float32)).view(np.uint32)


def assert_bitwise_equal(actual, expected, what):
    a, e = f32bits(actual), f32bits(expected)
    assert a.shape == e.shape, f"{what}: {a.size} predictions vs {e.size}"
    bad = np.nonzero(a != e)[0]
    if bad.size:
        av = np.asarray(actual, dtype=np.float32)
        ev = np.asarray(expected, dtype=np.float32)
        first = [(int(i), float(av[i]), float(ev[i])) for i in bad[:5]]
        raise AssertionError(
            f"{what}: {bad.size} of {a.size} predictions differ bitwise; max |diff| "
            f"{float(np.max(np.abs(av[bad].astype(np.float64) - ev[bad]))):.3g}; first (index, got, expected): {first}"
        )


def layout(b: bytes) -> dict:
    """Offsets of the fields of a model file, per the layout in the module docstring."""
    assert b[:8] == b"WABBITM\n", b[:8]
    f = {"version": 8}
    off = 12
    for name in ("wabbit_version", "args", "metadata"):
        f[name] = off
        (n,) = struct.unpack_from("<I", b, off)
        off += 4 + n
    for name in ("t", "normalized_sum_norm_x", "total_weight", "weighted_unlabeled", "gravity", "contraction"):
        f[name] = off
        off += 8
    for name in ("min_label", "max_label", "bits", "stride"):
        f[name] = off
        off += 4
    f["predict_only"], f["encoding"] = off, off + 1
    off += 2
    f["config"] = off
    off += 4 + struct.unpack_from("<I", b, off)[0]
    if b[f["encoding"]] == 1:
        f["count"] = off
        off += 8
    f["weights"] = off
    f["crc"] = len(b) - 4
    return f


def u32(b, off):
    return struct.unpack_from("<I", b, off)[0]


def with_crc(body: bytes) -> bytes:
    """Replace the last 4 bytes by zlib's CRC-32 of everything before them."""
    body = bytes(body)
    return body[:-4] + struct.pack("<I", zlib.crc32(body[:-4]))


def patched(b: bytes, off: int, fmt: str, value) -> bytes:
    c = bytearray(b)
    struct.pack_into(fmt, c, off, value)
    return with_crc(bytes(c))


def trained(flags, lines=None):
    m = wabbit.Model(flags)
    m.learn_many(lines if lines is not None else (TRAIN_LOGISTIC if "logistic" in flags else TRAIN))
    return m


def after_metadata(b: bytes) -> bytes:
    """Everything a model file holds after the metadata string (state, weights, CRC excluded)."""
    return b[layout(b)["t"] : -4]


# ---------------------------------------------------------------------------------------------
# exact round trips
# ---------------------------------------------------------------------------------------------

ROUND_TRIP_FLAGS = {
    "default": "",
    "sgd": "--sgd",
    "logistic_q": "--loss_function logistic -q ua",
    "b10": "-b 10",
}


def _via_file(m, tmp_path):
    p = tmp_path / "m.model"
    m.save(p)
    return wabbit.load(p)


ROUND_TRIPS = {
    "save_load": _via_file,
    "bytes": lambda m, _: wabbit.Model.from_bytes(m.to_bytes()),
    "pickle": lambda m, _: pickle.loads(pickle.dumps(m)),
    "deepcopy": lambda m, _: copy.deepcopy(m),
}


@pytest.mark.parametrize("how", list(ROUND_TRIPS))
@pytest.mark.parametrize("flagset", list(ROUND_TRIP_FLAGS))
def test_round_trip_predicts_bitwise_identically(flagset, how, tmp_path):
    flags = ROUND_TRIP_FLAGS[flagset]
    m = trained(flags)
    before = m.predict_many(TEST)
    m2 = ROUND_TRIPS[how](m, tmp_path)
    assert m2 is not m
    assert m2.args == m.args
    assert_bitwise_equal(m2.predict_many(TEST), before, f"{flagset} via {how}")
    assert_bitwise_equal([m2.predict(line) for line in TEST[:20]], before[:20], f"{flagset} via {how}, predict()")
    # the copy serializes to the very same bytes (state, weights and metadata survive)
    assert m2.to_bytes() == m.to_bytes(), f"{flagset} via {how}: re-serialized model differs"
    # and it is independent of the original
    m2.learn_many((TRAIN_LOGISTIC if "logistic" in flags else TRAIN)[:30])
    assert_bitwise_equal(m.predict_many(TEST), before, f"{flagset}: original after the copy learned")


def test_saved_file_is_to_bytes(tmp_path):
    m = trained("--loss_function logistic -q ua")
    p = tmp_path / "m.model"
    m.save(p)
    assert p.read_bytes() == m.to_bytes()


def test_cli_model_equals_python_model(tmp_path):
    data = tmp_path / "train.vw"
    data.write_text("\n".join(TRAIN_LOGISTIC) + "\n", encoding="utf-8")
    test = tmp_path / "test.vw"
    test.write_text("\n".join(TEST) + "\n", encoding="utf-8")
    flags = ["--loss_function", "logistic", "-q", "ua", "-b", "16"]
    proc = vwcompare.run_wabbit(["-d", data, "-f", "m.model", "--quiet", *flags], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    proc = vwcompare.run_wabbit(["-d", test, "-t", "-i", "m.model", "-p", "p.txt", "--quiet"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)

    loaded = wabbit.load(tmp_path / "m.model")
    py = loaded.predict_many(test)
    cli = [v for v, _ in vwcompare.parse_predictions((tmp_path / "p.txt").read_text())]
    assert len(cli) == len(py) == len(TEST)
    # the -p file prints VW's 6 decimals: each must be the loaded model's prediction, rounded
    bad = [(i, c, float(p)) for i, (c, p) in enumerate(zip(cli, py)) if abs(c - float(p)) > 5.0001e-7]
    assert not bad, f"CLI -t predictions differ from wabbit.load(...).predict_many (index, CLI, Python): {bad[:5]}"

    # the CLI-trained model is the Python-trained model, bit for bit
    direct = wabbit.Model(" ".join(flags))
    direct.learn_many(TRAIN_LOGISTIC)
    assert_bitwise_equal(py, direct.predict_many(TEST), "CLI -f model vs Model(...).learn_many")
    cli_bytes = (tmp_path / "m.model").read_bytes()
    assert after_metadata(cli_bytes) == after_metadata(direct.to_bytes()), "state/weights of the CLI file differ"


# ---------------------------------------------------------------------------------------------
# resuming training
# ---------------------------------------------------------------------------------------------


def _items(lines, seed, weighted_unlabeled):
    """Interleave dict examples without a label but with an importance weight (wabbit's dict API)."""
    rng = random.Random(seed)
    items = []
    for line in lines:
        items.append(line)
        if weighted_unlabeled and rng.random() < 0.1:
            items.append(
                ({"u": [f"user={rng.randrange(40)}"], "a": {"price": rng.uniform(-1, 1)}}, rng.choice([0.5, 2.0, 3.0]))
            )
    return items


def _feed(model, items):
    out = []
    for it in items:
        if isinstance(it, str):
            out.append(model.learn(it))
        else:
            ex, w = it
            out.append(model.learn(ex, weight=w))
    return np.asarray(out, dtype=np.float32)


RESUME_CASES = {
    "default": ("", make_lines(400, 21), False),
    "sgd_unlabeled": ("--sgd", make_lines(400, 22, unlabeled=0.3), True),
    "normalized_power_t": ("--normalized --power_t 0.3", make_lines(400, 23, unlabeled=0.2), True),
    "logistic_q": ("--loss_function logistic -q ua", make_lines(400, 24, logistic=True), False),
}

RELOADS = {
    "file": _via_file,
    "bytes": lambda m, _: wabbit.Model.from_bytes(m.to_bytes()),
    "pickle": lambda m, _: pickle.loads(pickle.dumps(m)),
}


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_resumed_training_equals_uninterrupted(case, tmp_path):
    flags, lines, weighted_unlabeled = RESUME_CASES[case]
    items = _items(lines, 5, weighted_unlabeled)
    full = wabbit.Model(flags)
    full_preds = _feed(full, items)

    # one break in the middle, through a file
    half = len(items) // 2
    a = wabbit.Model(flags)
    p1 = _feed(a, items[:half])
    a = _via_file(a, tmp_path)
    p2 = _feed(a, items[half:])
    resumed = np.concatenate([p1, p2])
    diff = float(np.max(np.abs(resumed.astype(np.float64) - full_preds)))
    assert diff <= 1e-6, f"{case}: progressive predictions after save/load differ by up to {diff:.3g}"
    assert_bitwise_equal(resumed, full_preds, f"{case}: progressive predictions, one reload")
    assert_bitwise_equal(a.predict_many(TEST), full.predict_many(TEST), f"{case}: final model, one reload")
    assert after_metadata(a.to_bytes()) == after_metadata(full.to_bytes()), f"{case}: final state/weights differ"

    # several breaks, through each kind of reload
    b = wabbit.Model(flags)
    cuts = [0, len(items) // 5, 2 * len(items) // 5, 3 * len(items) // 5, 4 * len(items) // 5, len(items)]
    parts = []
    for k, (lo, hi) in enumerate(zip(cuts, cuts[1:])):
        parts.append(_feed(b, items[lo:hi]))
        b = list(RELOADS.values())[k % len(RELOADS)](b, tmp_path)
    assert_bitwise_equal(np.concatenate(parts), full_preds, f"{case}: progressive predictions, four reloads")
    assert after_metadata(b.to_bytes()) == after_metadata(full.to_bytes()), f"{case}: state after four reloads"


def test_resume_through_cli(tmp_path):
    """wabbit -d a -f m1; wabbit -d b -i m1 -f m2  ==  wabbit -d a+b -f m."""
    lines = make_lines(300, 31, unlabeled=0.2)
    (tmp_path / "a.vw").write_text("\n".join(lines[:150]) + "\n")
    (tmp_path / "b.vw").write_text("\n".join(lines[150:]) + "\n")
    (tmp_path / "ab.vw").write_text("\n".join(lines) + "\n")
    flags = ["--sgd", "-l", "0.3", "-b", "12"]
    for args in (
        ["-d", "a.vw", "-f", "m1", *flags],
        ["-d", "b.vw", "-i", "m1", "-f", "m2", "-p", "p2"],
        ["-d", "ab.vw", "-f", "m", "-p", "p", *flags],
    ):
        proc = vwcompare.run_wabbit([*args, "--quiet"], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
    p_all = (tmp_path / "p").read_text().splitlines()
    p_second = (tmp_path / "p2").read_text().splitlines()
    assert p_second == p_all[150:], "progressive predictions after -i differ from one uninterrupted run"
    assert after_metadata((tmp_path / "m2").read_bytes()) == after_metadata((tmp_path / "m").read_bytes())


# ---------------------------------------------------------------------------------------------
# predict-only files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", ["", "--loss_function logistic -q ua", "--normalized", "--adaptive -b 12"])
def test_predict_only_is_smaller_and_predicts_identically(flags, tmp_path):
    m = trained(flags)
    full, small = m.to_bytes(), m.to_bytes(predict_only=True)
    assert len(small) < len(full), (
        f"predict-only file ({len(small)} bytes) is not smaller than the full one ({len(full)})"
    )
    # the weights section keeps only the weight of each row
    lf, ls = layout(full), layout(small)
    assert small[ls["predict_only"]] == 1 and full[lf["predict_only"]] == 0
    assert u32(small, ls["stride"]) == 1 and u32(full, lf["stride"]) > 1
    assert zlib.crc32(small[:-4]) == u32(small, len(small) - 4)
    expected = m.predict_many(TEST)
    assert_bitwise_equal(wabbit.Model.from_bytes(small).predict_many(TEST), expected, "predict-only from_bytes")
    m.save(tmp_path / "po.model", predict_only=True)
    assert (tmp_path / "po.model").read_bytes() == small
    po = wabbit.load(tmp_path / "po.model")
    assert_bitwise_equal(po.predict_many(TEST), expected, "predict-only file")

    # training on from a predict-only model works: finite, it moves, and it can be saved again
    p = po.learn_many(TRAIN_LOGISTIC if "logistic" in flags else TRAIN)
    assert np.all(np.isfinite(p))
    after = po.predict_many(TEST)
    assert np.all(np.isfinite(after))
    assert not np.array_equal(f32bits(after), f32bits(expected)), "learning from a predict-only model changed nothing"
    again = wabbit.Model.from_bytes(po.to_bytes())
    assert_bitwise_equal(again.predict_many(TEST), after, "predict-only model, trained on, round trip")


def test_predict_only_sgd_loses_nothing():
    """--sgd keeps one float per row, so a predict-only file is the whole model: resuming from it
    equals resuming from the full file."""
    m = trained("--sgd")
    full = wabbit.Model.from_bytes(m.to_bytes())
    small = wabbit.Model.from_bytes(m.to_bytes(predict_only=True))
    more = make_lines(150, 41, unlabeled=0.2)
    assert_bitwise_equal(small.learn_many(more), full.learn_many(more), "--sgd: resume from predict-only file")
    assert_bitwise_equal(small.predict_many(TEST), full.predict_many(TEST), "--sgd: after resuming")


def test_cli_predict_only_model(tmp_path):
    data = tmp_path / "train.vw"
    data.write_text("\n".join(TRAIN) + "\n")
    test = tmp_path / "test.vw"
    test.write_text("\n".join(TEST) + "\n")
    for out, extra in (("full.model", []), ("po.model", ["--predict_only_model"])):
        proc = vwcompare.run_wabbit(["-d", data, "-f", out, "--quiet", "-b", "14", *extra], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
    full, po = (tmp_path / "full.model").read_bytes(), (tmp_path / "po.model").read_bytes()
    assert len(po) < len(full)
    assert po[layout(po)["predict_only"]] == 1
    assert_bitwise_equal(
        wabbit.load(tmp_path / "po.model").predict_many(test),
        wabbit.load(tmp_path / "full.model").predict_many(test),
        "CLI --predict_only_model",
    )
    # continue training from it with the CLI
    proc = vwcompare.run_wabbit(["-d", data, "-i", "po.model", "-f", "more.model", "--quiet"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    assert np.all(np.isfinite(wabbit.load(tmp_path / "more.model").predict_many(test)))


# ---------------------------------------------------------------------------------------------
# the checksum
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", ["", "--sgd", "-b 4", "--loss_function logistic -q ua -b 10"])
@pytest.mark.parametrize("predict_only", [False, True])
def test_checksum_is_zlib_crc32_little_endian(flags, predict_only):
    b = trained(flags).to_bytes(predict_only=predict_only)
    assert b[:8] == b"WABBITM\n"
    assert u32(b, 8) == 2, "format version"
    assert b[-4:] == struct.pack("<I", zlib.crc32(b[:-4]))
    # and the layout accounts for every byte
    L = layout(b)
    bits, stride = u32(b, L["bits"]), u32(b, L["stride"])
    if b[L["encoding"]] == 0:
        assert L["crc"] - L["weights"] == (1 << bits) * stride * 4
    else:
        (count,) = struct.unpack_from("<Q", b, L["count"])
        assert L["crc"] - L["weights"] == count * (4 + 4 * stride)


def test_empty_model_checksum():
    b = wabbit.Model("-b 6").to_bytes()
    assert b[-4:] == struct.pack("<I", zlib.crc32(b[:-4]))


# ---------------------------------------------------------------------------------------------
# corrupt files
# ---------------------------------------------------------------------------------------------

CLEAR_MESSAGE = re.compile(r"not a wabbit model|truncated|corrupt|checksum|format version|inconsistent", re.IGNORECASE)

# Runs in a child interpreter so that a crash is reported as a failure instead of killing pytest.
_FUZZ_CHILD = textwrap.dedent(
    r"""
    import json, random, sys, os
    import wabbit
    src, workdir = sys.argv[1], sys.argv[2]
    good = open(src, "rb").read()
    n = len(good)
    cases = []
    lengths = sorted(set(list(range(0, min(200, n))) + [int(i * n / 300) for i in range(300)] + [n - k for k in range(1, 9)]))
    for L in lengths:
        cases.append(("truncate", L, good[:L]))
    rng = random.Random(20240607)
    for _ in range(1000):
        bit = rng.randrange(8 * n)
        c = bytearray(good)
        c[bit // 8] ^= 1 << (bit % 8)
        cases.append(("flip", bit, bytes(c)))
    out = []
    for i, (kind, where, data) in enumerate(cases):
        via_file = i % 7 == 0
        try:
            if via_file:
                p = os.path.join(workdir, "c.model")
                with open(p, "wb") as fh:
                    fh.write(data)
                m = wabbit.load(p)
            else:
                m = wabbit.Model.from_bytes(data)
            out.append([kind, where, "LOADED", "", False])
        except BaseException as e:
            out.append([kind, where, type(e).__name__, str(e), isinstance(e, ValueError)])
    print(json.dumps(out))
    """
)


def test_truncations_and_bit_flips_are_refused(tmp_path):
    m = wabbit.Model("-b 10 -q ua")
    m.learn_many(TRAIN[:40])
    good = m.to_bytes()
    assert 300 < len(good) < 20000
    src = tmp_path / "good.model"
    src.write_bytes(good)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _FUZZ_CHILD, str(src), str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("loading corrupt model files hung (no answer in 60 s)")
    assert proc.returncode == 0, (
        f"the interpreter died while loading corrupt model files (exit {proc.returncode}, "
        f"signal {-proc.returncode if proc.returncode < 0 else None})\n{proc.stderr[-3000:]}"
    )
    results = json.loads(proc.stdout)
    assert len(results) >= 1300
    loaded = [(k, w) for k, w, t, _, _ in results if t == "LOADED"]
    assert not loaded, f"{len(loaded)} corrupt files loaded, e.g. (kind, length or bit): {loaded[:10]}"
    wrong_type = [(k, w, t, msg) for k, w, t, msg, is_value_error in results if not is_value_error]
    assert not wrong_type, f"refused with a non-ValueError: {wrong_type[:10]}"
    unclear = [(k, w, msg) for k, w, _, msg, _ in results if not CLEAR_MESSAGE.search(msg) or "\n" in msg.strip()]
    assert not unclear, f"unclear messages: {unclear[:10]}"
    assert time.monotonic() - start < 60


def _small_model_bytes(flags="-b 10"):
    m = wabbit.Model(flags)
    m.learn_many(TRAIN[:40])
    return m.to_bytes()


def _refused(data: bytes, pattern: str):
    with pytest.raises(ValueError) as info:
        wabbit.Model.from_bytes(data)
    assert re.search(pattern, str(info.value), re.IGNORECASE), f"message {str(info.value)!r} does not match {pattern!r}"
    return str(info.value)


@pytest.mark.parametrize("version", [3, 7, 2**31 + 1])
def test_newer_format_version_is_refused(version, tmp_path):
    b = patched(_small_model_bytes(), 8, "<I", version)
    msg = _refused(b, rf"version\D*{version}\b")
    assert isinstance(pytest.raises(wabbit.ModelError, wabbit.Model.from_bytes, b).value, ValueError)
    p = tmp_path / "new.model"
    p.write_bytes(b)
    with pytest.raises(ValueError, match=str(version)):
        wabbit.load(p)
    assert "version" in msg


def test_version_zero_is_refused():
    _refused(patched(_small_model_bytes(), 8, "<I", 0), r"version")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"W",
        b"WABBITM",
        b"WABBITX\n" + b"\0" * 200,
        b"1 |f a b c\n" * 20,
        b"\x1f\x8b" + b"\0" * 100,
    ],
    ids=["empty", "one_byte", "seven_bytes", "wrong_magic", "text", "gzip"],
)
def test_wrong_magic_is_refused(data):
    _refused(data, r"not a wabbit model")


def test_wrong_magic_with_valid_crc_is_refused():
    b = bytearray(_small_model_bytes())
    b[0:8] = b"WABBITN\n"
    _refused(with_crc(bytes(b)), r"not a wabbit model")


def test_vw_model_file_loads_from_a_path_only(tmp_path, vw_available):
    """wabbit.load reads VW's model files (tests/test_vw_model_files.py); the bytes of one are not
    a wabbit model file's (Model.from_bytes)."""
    data = tmp_path / "d.vw"
    data.write_text("\n".join(TRAIN[:50]) + "\n")
    proc = vwcompare.run_vw(["-d", data, "-f", "vw.model", "--quiet"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    assert wabbit.load(tmp_path / "vw.model").metadata["vw_model"]["version"].startswith("9.")
    with pytest.raises(ValueError, match=r"not a wabbit model"):
        wabbit.Model.from_bytes((tmp_path / "vw.model").read_bytes())


def _header_edits():
    b = _small_model_bytes()
    L = layout(b)
    count = struct.unpack_from("<Q", b, L["count"])[0]
    assert b[L["encoding"]] == 1 and count > 0
    return (
        b,
        L,
        [
            ("bits_40", patched(b, L["bits"], "<I", 40), r"bits"),
            ("bits_0", patched(b, L["bits"], "<I", 0), r"bits"),
            ("bits_2^31", patched(b, L["bits"], "<I", 2**31), r"bits"),
            ("bits_11_vs_args_10", patched(b, L["bits"], "<I", 11), r"\b11\b.*\b10\b|\b10\b.*\b11\b"),
            ("stride_3", patched(b, L["stride"], "<I", 3), r"stride|inconsistent"),
            ("stride_0", patched(b, L["stride"], "<I", 0), r"stride|inconsistent"),
            ("stride_2^31", patched(b, L["stride"], "<I", 2**31), r"stride|inconsistent"),
            ("encoding_2", patched(b, L["encoding"], "<B", 2), r"encoding"),
            ("count_huge", patched(b, L["count"], "<Q", 2**63), r"count|inconsistent"),
            ("count_wraps", patched(b, L["count"], "<Q", (2**64) // 20 + 1), r"count|inconsistent"),
            ("count_plus_1", patched(b, L["count"], "<Q", count + 1), r"count|inconsistent"),
            ("count_minus_1", patched(b, L["count"], "<Q", count - 1), r"count|inconsistent"),
            ("row_out_of_range", patched(b, L["weights"], "<I", 1 << 10), r"range|corrupt"),
            ("row_max", patched(b, L["weights"], "<I", 2**32 - 1), r"range|corrupt"),
            ("nan_weight", patched(b, L["weights"] + 4, "<f", float("nan")), r"non-finite|corrupt"),
            ("inf_weight", patched(b, L["weights"] + 4, "<f", float("inf")), r"non-finite|corrupt"),
            ("nan_t", patched(b, L["t"], "<d", float("nan")), r"non-finite|corrupt"),
            ("inf_total_weight", patched(b, L["total_weight"], "<d", float("inf")), r"non-finite|corrupt"),
            ("nan_weighted_unlabeled", patched(b, L["weighted_unlabeled"], "<d", float("nan")), r"non-finite|corrupt"),
            ("nan_gravity", patched(b, L["gravity"], "<d", float("nan")), r"corrupt"),
            ("zero_contraction", patched(b, L["contraction"], "<d", 0.0), r"corrupt"),
            ("trailing_byte", with_crc(b[:-4] + b"\0" + b[-4:]), r"inconsistent|corrupt"),
            ("missing_row_byte", with_crc(b[:-5] + b[-4:]), r"inconsistent|corrupt|truncated"),
            ("header_only", with_crc(b[: L["count"]] + b"\0\0\0\0"), r"truncated|inconsistent"),
        ],
    )


@pytest.mark.parametrize("name", [c[0] for c in _header_edits()[2]])
def test_consistent_crc_but_corrupt_header_is_refused(name):
    _, _, cases = _header_edits()
    data, pattern = {n: (d, p) for n, d, p in cases}[name]
    assert data[-4:] == struct.pack("<I", zlib.crc32(data[:-4]))
    _refused(data, pattern)


@pytest.mark.parametrize("field", ["wabbit_version", "args", "metadata"])
@pytest.mark.parametrize("length", [2**31, 2**32 - 1, 2**24 + 1, 1 << 20, 5000])
def test_string_length_is_bounded(field, length):
    """A string length beyond the file (or beyond the 16 MiB limit) is refused before allocating."""
    b = _small_model_bytes()
    data = patched(b, layout(b)[field], "<I", length)
    start = time.monotonic()
    _refused(data, r"implausibly long|not enough bytes|truncated|inconsistent|corrupt")
    assert time.monotonic() - start < 1.0


def test_dense_file_size_must_match_bits():
    b = _small_model_bytes("-b 4")
    L = layout(b)
    assert b[L["encoding"]] == 0
    _refused(patched(b, L["bits"], "<I", 5), r"inconsistent|bits")
    _refused(with_crc(b[:-8] + b[-4:]), r"inconsistent")


def test_garbage_args_are_refused():
    b = _small_model_bytes()
    L = layout(b)
    old = b[L["args"] + 4 : L["args"] + 4 + u32(b, L["args"])]
    assert old == b"--bit_precision 10"
    for args in (b"--no_such_flag 3", b"--bit_precision 12", b"\xff\xfe"):
        data = with_crc(b[: L["args"]] + struct.pack("<I", len(args)) + args + b[L["args"] + 4 + len(old) :])
        with pytest.raises(ValueError):
            wabbit.Model.from_bytes(data)


def test_refused_load_leaves_no_trace(tmp_path):
    """A refused file raises and nothing else: the interpreter and other models go on working."""
    m = trained("-b 10")
    before = m.predict_many(TEST)
    for _ in range(50):
        with pytest.raises(ValueError):
            wabbit.Model.from_bytes(m.to_bytes()[:-1])
    assert_bitwise_equal(m.predict_many(TEST), before, "model after refused loads")


# ---------------------------------------------------------------------------------------------
# atomic save
# ---------------------------------------------------------------------------------------------


def test_save_leaves_no_temporary_files(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    m = trained("-b 12")
    for _k in range(5):
        m.save(d / "m.model")
        m.save(d / "po.model", predict_only=True)
        m.learn_many(TRAIN[:10])
    assert sorted(os.listdir(d)) == ["m.model", "po.model"]


def test_save_over_existing_file_replaces_it(tmp_path):
    p = tmp_path / "m.model"
    p.write_text("not a model, longer than any model written below " * 2000)
    a, b = trained("-b 12"), trained("-b 12 --sgd")
    a.save(p)
    assert p.read_bytes() == a.to_bytes()
    os.link(p, tmp_path / "old_link")  # a second name for the file as it is now
    b.save(p)
    assert p.read_bytes() == b.to_bytes()
    assert_bitwise_equal(wabbit.load(p).predict_many(TEST), b.predict_many(TEST), "overwritten file")
    # the new content went to a new file renamed over the old name: the old file is untouched
    assert (tmp_path / "old_link").read_bytes() == a.to_bytes(), "save wrote into the existing file in place"
    assert sorted(os.listdir(tmp_path)) == ["m.model", "old_link"]


def test_save_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = trained("-b 10")
    m.save("rel.model")
    assert sorted(os.listdir(tmp_path)) == ["rel.model"]
    assert_bitwise_equal(wabbit.load("rel.model").predict_many(TEST), m.predict_many(TEST), "relative path")


def test_save_into_missing_directory_fails_cleanly(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "m.model"
    with pytest.raises((OSError, RuntimeError)) as info:
        trained("-b 10").save(target)
    assert str(target) in str(info.value), f"message does not name the path: {info.value}"
    assert os.listdir(tmp_path) == [], "save into a missing directory left something behind"


def test_save_onto_a_directory_fails_cleanly(tmp_path):
    (tmp_path / "m.model").mkdir()
    with pytest.raises((OSError, RuntimeError)) as info:
        trained("-b 10").save(tmp_path / "m.model")
    assert "m.model" in str(info.value)
    assert os.listdir(tmp_path) == ["m.model"] and os.listdir(tmp_path / "m.model") == []


def test_load_missing_file_names_it(tmp_path):
    target = tmp_path / "missing.model"
    with pytest.raises((OSError, RuntimeError)) as info:
        wabbit.load(target)
    assert str(target) in str(info.value)


_KILL_CHILD = textwrap.dedent(
    r"""
    import random, sys, wabbit
    src, target = sys.argv[1], sys.argv[2]
    m = wabbit.load(src)
    m.save(target)
    print("ready", flush=True)
    rng = random.Random(0)
    k = 0
    while True:
        m.learn("%g |f x%d" % (rng.uniform(-1, 1), k))
        k += 1
        m.save(target)
    """
)


def test_kill_during_save_never_leaves_a_broken_file(tmp_path):
    """SIGKILL a process that keeps saving a 16 MiB model (-b 22 --sgd, dense rows); the target
    always loads: it is the previous or the new file, never a part of one."""
    rng = random.Random(0)
    big = wabbit.Model("-b 22 --sgd")
    big.learn_many(
        "".join(
            "%g |f " % rng.uniform(-3, 3) + " ".join("x%d_%d" % (i, j) for j in range(5000)) + "\n" for i in range(700)
        ).encode()
    )
    src = tmp_path / "src" / "big.model"
    src.parent.mkdir()
    big.save(src)
    assert src.stat().st_size > (1 << 24), "expected a dense 16 MiB file"
    work = tmp_path / "work"
    work.mkdir()
    target = work / "big.model"
    probe = ["|f x1_1 x2_2 x3_3", "|f x600_4000", "|g new"]
    for _attempt in range(20):  # the issue asks for 20 kills
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILL_CHILD, str(src), str(target)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = proc.stdout.readline()
            assert line.strip() == "ready", f"child did not start: {line!r} {proc.stderr.read()[-2000:]}"
            time.sleep(rng.uniform(0.02, 0.3))
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            proc.stdout.close()
            proc.stderr.close()
        m = wabbit.load(target)  # must never be half-written
        assert m.bits == 22
        assert np.all(np.isfinite(m.predict_many(probe)))
        assert m.to_bytes()[layout(m.to_bytes())["encoding"]] == 0  # still the dense 16 MiB model
    # leftovers of killed saves are temporary files next to the target, never the target itself
    stray = [n for n in os.listdir(work) if n != "big.model"]
    assert all(n.startswith("big.model.tmp.") for n in stray), stray


# ---------------------------------------------------------------------------------------------
# the CLI and model files
# ---------------------------------------------------------------------------------------------


def _assert_one_line_error(proc, *needles):
    assert proc.returncode != 0, "expected a non-zero exit\n" + vwcompare.describe_run(proc)
    assert "Traceback" not in proc.stderr, "the CLI printed a traceback\n" + vwcompare.describe_run(proc)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    errors = [l for l in lines if "error" in l.lower()]
    assert len(errors) == 1, "expected one error line\n" + vwcompare.describe_run(proc)
    for n in needles:
        assert re.search(n, errors[0], re.IGNORECASE), f"{n!r} not in {errors[0]!r}"


@pytest.fixture
def cli_files(tmp_path):
    data = tmp_path / "d.vw"
    data.write_text("\n".join(TRAIN[:50]) + "\n")
    good = _small_model_bytes()
    (tmp_path / "truncated.model").write_bytes(good[: len(good) // 2])
    flipped = bytearray(good)
    flipped[len(good) // 3] ^= 0x10
    (tmp_path / "flipped.model").write_bytes(bytes(flipped))
    (tmp_path / "newer.model").write_bytes(patched(good, 8, "<I", 3))
    (tmp_path / "text.model").write_text("1 |f a\n")
    (tmp_path / "empty.model").write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize(
    "name,pattern",
    [
        ("truncated.model", r"checksum|truncated|corrupt"),
        ("flipped.model", r"checksum|corrupt"),
        ("newer.model", r"version"),
        ("text.model", r"not a wabbit model"),
        ("empty.model", r"not a wabbit model|empty|truncated"),
    ],
)
@pytest.mark.parametrize("testonly", [False, True])
def test_cli_refuses_corrupt_model(cli_files, name, pattern, testonly):
    args = ["-d", "d.vw", "-i", name, "-f", "out.model"] + (["-t"] if testonly else [])
    proc = vwcompare.run_wabbit(args, cli_files)
    _assert_one_line_error(proc, pattern)
    assert not (cli_files / "out.model").exists(), "a model was saved after a refused -i"


def test_cli_missing_model_file(cli_files):
    proc = vwcompare.run_wabbit(["-d", "d.vw", "-t", "-i", "missing.model"], cli_files)
    _assert_one_line_error(proc, r"missing\.model")


def test_cli_model_path_is_a_directory(cli_files):
    (cli_files / "adir").mkdir()
    proc = vwcompare.run_wabbit(["-d", "d.vw", "-t", "-i", "adir"], cli_files)
    _assert_one_line_error(proc, r"adir")


def test_cli_final_regressor_in_missing_directory(cli_files):
    proc = vwcompare.run_wabbit(["-d", "d.vw", "-f", "nodir/m.model"], cli_files)
    _assert_one_line_error(proc, r"nodir/m\.model")
    assert not (cli_files / "nodir").exists()


@pytest.mark.parametrize("flags", ["-q ::", "--cubic a:: --noconstant", "--cb_explore_adf -q ::"])
def test_wildcard_interactions_survive_a_round_trip(flags, tmp_path):
    # ':' is expanded over the namespaces seen so far; a loaded model that forgot them predicted
    # without the interactions its weights hold (until it saw each namespace again).
    m = wabbit.Model(flags)
    rng = random.Random(3)
    if "cb" in flags:
        for _ in range(60):
            a = rng.randrange(3)
            event = ["shared |u user=%d" % rng.randrange(4)] + [
                ("%d:%d:0.5 " % (a, rng.randrange(2)) if k == a else "") + "|a ad=%d" % k for k in range(3)
            ]
            m.learn(event)
        probe = ["shared |u user=1", "|a ad=0", "|a ad=1", "|a ad=2"]
    else:
        for _ in range(60):
            m.learn("%d |a x%d |b y%d |c z:%.2f" % (rng.randrange(2), rng.randrange(5), rng.randrange(3), rng.random()))
        probe = "|a x1 |b y2 |c z:0.5"
    expected = np.asarray(m.predict(probe))
    path = tmp_path / "m.bin"
    m.save(path)
    for loaded in (wabbit.load(path), wabbit.Model.from_bytes(m.to_bytes()), pickle.loads(pickle.dumps(m))):
        assert np.array_equal(np.asarray(loaded.predict(probe)), expected)
        assert loaded.to_bytes() == m.to_bytes()


def _with_metadata(data, edit):
    """The model file `data` with its metadata JSON replaced by edit(metadata), checksum recomputed."""
    pos = 12
    fields = []
    for _ in range(3):  # wabbit version, options, metadata
        (n,) = struct.unpack_from("<I", data, pos)
        fields.append((pos, data[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    at, meta = fields[2]
    new = json.dumps(edit(json.loads(meta))).encode()
    body = data[:at] + struct.pack("<I", len(new)) + new + data[pos:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def test_wildcard_namespaces_in_a_file_are_checked():
    m = wabbit.Model("-q ::")
    m.learn("1 |a x |b y")
    data = m.to_bytes()
    same = _with_metadata(data, lambda d: d)
    assert wabbit.Model.from_bytes(same).predict("|a x |b y") == m.predict("|a x |b y")
    for bad in ("aa", "\u00e9", 7, ["a"], "\n", "x" * 96):
        forged = _with_metadata(data, lambda d, bad=bad: {**d, "wildcard_namespaces": bad})
        with pytest.raises(wabbit.ModelError, match="wildcard_namespaces"):
            wabbit.Model.from_bytes(forged)


def _as_format_1(data, cb_state):
    """A format-2 file rewritten as format 1 wrote it: no configuration section, version 1, and a
    bandit's counters (``cb_state``) in the metadata JSON."""
    L = layout(data)
    body = bytearray(data[: L["config"]] + data[L["config"] + 4 + u32(data, L["config"]) : -4])
    struct.pack_into("<I", body, 8, 1)
    return _with_metadata(bytes(body) + b"\0\0\0\0", lambda d: {**d, "cb_state": cb_state} if cb_state else d)


def _bandit_events(seed, n):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = rng.randrange(3)
        out.append(
            ["shared |u user=%d" % rng.randrange(4)]
            + [("%d:%d:0.4 " % (a, rng.randrange(2)) if k == a else "") + "|a ad=%d" % k for k in range(3)]
        )
    return out


@pytest.mark.parametrize(
    "flags",
    ["--cb_explore_adf", "--cb_explore_adf --squarecb", "--cb_explore_adf --first 40", "--cb_explore_adf --bag 3"],
)
def test_format_1_bandit_files_still_load(flags):
    # The counters (mtr's sums, SquareCB's count, tau-first's budget, bag's generator) steer what is
    # learned next: a loaded model that lost them would diverge from the one that never stopped.
    m = wabbit.Model(flags)
    for ev in _bandit_events(5, 30):
        m.learn(ev)
    data = m.to_bytes()
    assert "cb_state" not in json.loads(data[layout(data)["metadata"] + 4 : layout(data)["t"]])
    old = _as_format_1(data, m._core.cb_state())
    assert u32(old, 8) == 1
    fresh = wabbit.Model.from_bytes(data)
    legacy = wabbit.Model.from_bytes(old)
    for ev in _bandit_events(6, 30):
        ref = np.asarray(m.learn(ev)[1])
        assert np.array_equal(np.asarray(fresh.learn(ev)[1]), ref)
        assert np.array_equal(np.asarray(legacy.learn(ev)[1]), ref)
    # (the metadata differs: each lineage names the file it was loaded from)
    state = [b[layout(b)["t"] : -4] for b in (fresh.to_bytes(), legacy.to_bytes(), m.to_bytes())]
    assert state[0] == state[1] == state[2]


def test_bandit_state_needs_no_metadata():
    # Format 2 keeps the bandit's counters in the core's section: a file whose metadata is emptied
    # still continues exactly as the model that never stopped (tau-first: the exploring budget).
    m = wabbit.Model("--cb_explore_adf --first 8")
    for ev in _bandit_events(7, 5):
        m.learn(ev)
    bare = wabbit.Model.from_bytes(_with_metadata(m.to_bytes(), lambda d: {}))
    for ev in _bandit_events(8, 10):
        assert np.array_equal(np.asarray(bare.learn(ev)[1]), np.asarray(m.learn(ev)[1]))

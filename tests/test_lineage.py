"""Lineage (what trained a model) and ``wabbit inspect``.

Expected values come from the inputs themselves (paths, line counts, example counts), from zlib for
the parent checksum, and from the model file's bytes parsed here with the documented layout
(``test_model_file.layout``) for what ``wabbit inspect`` must print.
"""

from __future__ import annotations

import copy
import json
import pickle
import re
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

import vwcompare
from test_model_file import layout

wabbit = pytest.importorskip("wabbit")
from wabbit.cli import describe_model_file  # noqa: E402


def lines_of(n, seed):
    import random

    rng = random.Random(seed)
    return [
        f"{rng.choice(['1', '-1'])} |u u{rng.randrange(30)} |a a{rng.randrange(10)} x:{rng.uniform(0, 1):.3f}"
        for _ in range(n)
    ]


def crc_of(path):
    data = open(path, "rb").read()
    stored = struct.unpack("<I", data[-4:])[0]
    assert stored == zlib.crc32(data[:-4])
    return stored


def sources(model):
    return [(s.source, s.first_line, s.last_line, s.examples, s.bad_lines, s.generation) for s in model.lineage.sources]


@pytest.fixture
def files(tmp_path):
    a = tmp_path / "a.vw"
    a.write_text("\n".join(lines_of(120, 1)) + "\n")
    # b: blank lines and a malformed line count as lines, not examples
    b_lines = lines_of(80, 2)
    b_lines[10] = ""
    b_lines[20] = "notalabel |u u1"  # malformed
    b_lines[30] = ""
    b = tmp_path / "b.vw"
    b.write_text("\n".join(b_lines) + "\n")
    return tmp_path, a, b


def test_lineage_after_two_files_then_load_and_learn_more(files):
    tmp, a, b = files
    start = time.time()
    m = wabbit.Model("--loss_function logistic -q ua -b 14")
    m.learn_many(a)
    with pytest.warns(UserWarning, match="malformed"):
        m.learn_many(str(b), strict=False)
    assert sources(m) == [(str(a), 1, 120, 120, 0, 0), (str(b), 1, 80, 77, 1, 0)]
    lin = m.lineage
    assert lin.examples == 197 == m.stats["example_number"]
    assert lin.parent_checksum is None and lin.ancestors == []
    assert lin.options == m.args == "--bit_precision 14 --loss_function logistic --quadratic ua"
    assert lin.wabbit_version == wabbit.__version__
    assert start - 1 <= lin.created <= lin.updated <= time.time() + 1
    assert lin.complete
    for s in lin.sources:
        assert lin.created <= s.started <= s.finished <= lin.updated

    path = tmp / "m1.model"
    m.save(path)
    parent_crc = crc_of(path)

    m2 = wabbit.load(path)
    assert m2.lineage == lin, "loading changed the lineage"
    more = lines_of(30, 3)
    m2.learn_many(more)
    lin2 = m2.lineage
    assert lin2.parent_checksum == parent_crc == zlib.crc32(open(path, "rb").read()[:-4])
    assert lin2.ancestors == [parent_crc]
    assert sources(m2) == sources(m) + [("<lines>", 1, 30, 30, 0, 1)]
    assert lin2.examples == 227
    assert lin2.created == lin.created and lin2.updated >= lin.updated

    # the lineage is in the saved file and comes back on load
    m2.save(tmp / "m2.model")
    m3 = wabbit.load(tmp / "m2.model")
    assert m3.lineage == lin2
    meta = json.loads(_metadata_of(open(tmp / "m2.model", "rb").read()))
    assert meta["lineage"]["parent_checksum"] == parent_crc
    assert meta["lineage"]["examples"] == 227
    assert [s["source"] for s in meta["lineage"]["sources"]] == [str(a), str(b), "<lines>"]

    # a third generation keeps the chain
    m3.learn(more[0])
    assert m3.lineage.ancestors == [parent_crc, crc_of(tmp / "m2.model")]
    assert m3.lineage.sources[-1].generation == 2


def _metadata_of(data: bytes) -> str:
    off = layout(data)["metadata"]
    (n,) = struct.unpack_from("<I", data, off)
    return data[off + 4 : off + 4 + n].decode()


def test_single_learn_calls_are_one_python_source_between_batches():
    m = wabbit.Model()
    for k in range(3):
        m.learn(f"{k} |f a")
    m.learn({"f": ["b"]}, label=1.0)
    m.learn_many(b"1 |f a\n2 |f b\n")
    m.learn("1 |f c")
    with pytest.raises(ValueError):
        m.learn("notalabel |f a")  # refused: not counted
    m.learn("1 |f d")
    assert sources(m) == [
        ("<python>", None, None, 4, 0, 0),
        ("<bytes>", 1, 2, 2, 0, 0),
        ("<python>", None, None, 2, 0, 0),
    ]
    assert m.lineage.examples == 8 == m.stats["example_number"]
    # predictions and test-only runs are not training
    m.predict("|f a")
    m.predict_many(["|f a"])
    assert m.lineage.examples == 8


def test_strict_error_records_what_was_learned():
    m = wabbit.Model()
    data = ["1 |f a", "", "2 |f b", "notalabel |f a", "3 |f c"]
    with pytest.raises(ValueError, match="line 4"):
        m.learn_many(data)
    assert sources(m) == [("<lines>", 1, 3, 2, 0, 0)]


def test_load_and_save_without_learning_keeps_the_file(tmp_path):
    m = wabbit.Model("-b 12")
    m.learn_many(lines_of(50, 4))
    m.save(tmp_path / "a.model")
    loaded = wabbit.load(tmp_path / "a.model")
    loaded.save(tmp_path / "b.model")
    assert open(tmp_path / "b.model", "rb").read() == open(tmp_path / "a.model", "rb").read()
    assert loaded.lineage.parent_checksum is None


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_copies_keep_lineage_and_pending_parent(tmp_path, how):
    m = wabbit.Model("-b 12")
    m.learn_many(lines_of(50, 4))
    m.save(tmp_path / "a.model")
    loaded = wabbit.load(tmp_path / "a.model")
    other = {"copy": lambda x: x.copy(), "deepcopy": copy.deepcopy, "pickle": lambda x: pickle.loads(pickle.dumps(x))}[
        how
    ](loaded)
    assert other.lineage == loaded.lineage
    other.learn("1 |u u1")
    assert other.lineage.parent_checksum == crc_of(tmp_path / "a.model")
    assert loaded.lineage.parent_checksum is None  # the original has not learned


def test_from_bytes_parent_is_the_bytes_checksum():
    m = wabbit.Model()
    m.learn("1 |f a")
    data = m.to_bytes()
    m2 = wabbit.Model.from_bytes(data)
    m2.learn("1 |f b")
    assert m2.lineage.parent_checksum == zlib.crc32(data[:-4])


def test_snapshot_and_restore_carry_lineage():
    m = wabbit.Model()
    m.learn_many(["1 |f a", "2 |f b"])
    snap = m.snapshot()
    assert snap.examples == 2 and snap.lineage == m.lineage
    m.learn_many(["1 |f c"] * 5)
    assert m.lineage.examples == 7
    m.restore(snap)
    assert m.lineage.examples == 2 and sources(m) == [("<lines>", 1, 2, 2, 0, 0)]


def test_file_without_lineage(tmp_path):
    """A model file written before lineage existed: loads, saves unchanged, learns (marked incomplete)."""
    m = wabbit.Model("-b 10")
    m.learn("1 |f a")
    data = m.to_bytes()
    meta = json.loads(_metadata_of(data))
    old_meta = json.dumps({k: v for k, v in meta.items() if k != "lineage"}).encode()
    off = layout(data)["metadata"]
    (n,) = struct.unpack_from("<I", data, off)
    body = data[:off] + struct.pack("<I", len(old_meta)) + old_meta + data[off + 4 + n : -4]
    old = body + struct.pack("<I", zlib.crc32(body))
    loaded = wabbit.Model.from_bytes(old)
    assert not loaded.lineage.complete and loaded.lineage.sources == []
    assert loaded.to_bytes() == old
    loaded.learn("1 |f b")
    lin = loaded.lineage
    assert not lin.complete and lin.examples == 1 and lin.parent_checksum == zlib.crc32(body)


# ---------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------


def test_cli_runs_record_lineage(files):
    tmp, a, b = files
    ok = lambda p: p.returncode == 0 or pytest.fail(vwcompare.describe_run(p))  # noqa: E731
    ok(vwcompare.run_wabbit(["-d", "a.vw", "-f", "m1.model", "-b", "14", "--quiet"], tmp))
    ok(vwcompare.run_wabbit(["-d", "b.vw", "-i", "m1.model", "-f", "m2.model", "--quiet"], tmp))
    proc = subprocess.run(
        [sys.executable, "-m", "wabbit", "-i", "m2.model", "-f", "m3.model", "--quiet"],
        cwd=str(tmp),
        input=a.read_bytes(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    # -t is not training: nothing is recorded
    ok(vwcompare.run_wabbit(["-d", "a.vw", "-t", "-i", "m3.model", "-f", "m4.model", "--quiet"], tmp))
    m3 = wabbit.load(tmp / "m3.model")
    assert sources(m3) == [(str(a), 1, 120, 120, 0, 0), (str(b), 1, 80, 77, 1, 1), ("<stdin>", 1, 120, 120, 0, 2)]
    assert m3.lineage.ancestors == [crc_of(tmp / "m1.model"), crc_of(tmp / "m2.model")]
    assert wabbit.load(tmp / "m4.model").lineage == m3.lineage


def _inspect(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "wabbit", "inspect", *map(str, args)],
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


def _nonzero_from_file(data: bytes) -> int:
    """Rows with a non-zero weight, counted with numpy from the file's own bytes."""
    L = layout(data)
    stride = struct.unpack_from("<I", data, L["stride"])[0]
    body = data[L["weights"] : L["crc"]]
    if data[L["encoding"]] == 0:
        w = np.frombuffer(body, dtype="<f4").reshape(-1, stride)[:, 0]
    else:
        rec = np.frombuffer(body, dtype=np.dtype([("row", "<u4"), ("w", "<f4", (stride,))]))
        assert rec.size == struct.unpack_from("<Q", data, L["count"])[0]
        w = rec["w"][:, 0]
    return int(np.count_nonzero(w))


@pytest.mark.parametrize("flags", ["-b 12 --loss_function logistic -q ua", "-b 5 --sgd"])
def test_inspect_prints_the_right_numbers(files, flags):
    tmp, a, b = files
    m = wabbit.Model(flags)
    m.learn_many(a)
    m.save(tmp / "p.model")
    m = wabbit.load(tmp / "p.model")
    m.learn_many(lines_of(40, 9))
    path = tmp / "m.model"
    m.save(path)
    data = path.read_bytes()
    L = layout(data)
    bits = int(re.search(r"-b (\d+)", flags).group(1))
    nonzero = _nonzero_from_file(data)
    assert nonzero == len(m._core.nonzero_weights()[0]) and nonzero > 0
    t = struct.unpack_from("<d", data, L["t"])[0]
    parent = crc_of(tmp / "p.model")

    proc = _inspect(["m.model"], tmp)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"^format version: 2$", out, re.M), out
    assert re.search(rf"^wabbit version: {re.escape(wabbit.__version__)}$", out, re.M)
    assert re.search(rf"^options: {re.escape(m.args)}$", out, re.M)
    assert re.search(rf"^bits: {bits} \({1 << bits} rows", out, re.M), out
    assert re.search(rf"^non-zero weights: {nonzero}$", out, re.M), out
    assert re.search(rf"^  t: {re.escape(repr(t))}$", out, re.M), out
    assert re.search(rf"checksum 0x{crc_of(path):08x}\)", out)
    assert re.search(rf"^  parent checksum: 0x{parent:08x}$", out, re.M), out
    assert re.search(r"^  examples: 160$", out, re.M), out
    assert re.search(rf"^    1\. {re.escape(str(a))}: lines 1-120, 120 examples \(generation 0", out, re.M), out
    assert re.search(r"^    2\. <lines>: lines 1-40, 40 examples \(generation 1", out, re.M), out

    proc = _inspect(["--json", "m.model"], tmp)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    expected = describe_model_file(str(path))
    expected["path"] = "m.model"
    assert info == json.loads(json.dumps(expected))
    assert (info["format_version"], info["bits"], info["nonzero_weights"]) == (2, bits, nonzero)
    assert info["checksum"] == crc_of(path) and info["size"] == len(data)
    assert info["state"]["t"] == t
    assert info["lineage"]["parent_checksum"] == parent
    assert info["lineage"]["examples"] == 160


def test_inspect_refuses_a_corrupt_file(tmp_path):
    m = wabbit.Model()
    m.learn("1 |f a")
    data = bytearray(m.to_bytes())
    data[20] ^= 1
    (tmp_path / "bad.model").write_bytes(bytes(data))
    proc = _inspect(["bad.model"], tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert re.search(r"error: bad\.model: .*checksum", proc.stderr), proc.stderr
    proc = _inspect(["missing.model"], tmp_path)
    assert proc.returncode == 1 and "missing.model" in proc.stderr and "Traceback" not in proc.stderr

"""Snapshots, the ModelStore (versions, rollback, pruning, concurrent readers) and write-behind
saving during training (``--save_every``, ``learn_many(save_every=...)``).

Expected values come from properties: a restored snapshot must predict bit for bit what the model
predicted when the snapshot was taken; a version saved after k examples must equal a model trained
on those k examples alone; a reader must only ever see versions the writer saved.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib

import numpy as np
import pytest

import vwcompare
from test_model_file import layout

wabbit = pytest.importorskip("wabbit")
from wabbit.store import BackgroundWriter, ModelStore, StoreError  # noqa: E402


def make_lines(n, seed, logistic=False):
    rng = random.Random(seed)
    wu = [rng.gauss(0, 1) for _ in range(60)]
    out = []
    for _ in range(n):
        u, a = rng.randrange(60), rng.randrange(30)
        x = rng.uniform(-1, 1)
        y = wu[u] + 0.3 * (a % 5) - 0.7 * x + rng.gauss(0, 0.1)
        label = ("1" if y > 0 else "-1") if logistic else f"{y:.4f}"
        out.append(f"{label} |u user={u} |a ad={a} x:{x:.4f} |c h{rng.randrange(24)}")
    return out


TRAIN = make_lines(600, 1)
MORE = make_lines(400, 2)
TEST = [line.split(" ", 1)[1] for line in make_lines(150, 3)]
FLAGS = "-q ua -b 16"


def f32bits(values):
    return np.ascontiguousarray(np.asarray(values, dtype=np.float32)).view(np.uint32)


def assert_bitwise_equal(actual, expected, what):
    a, e = f32bits(actual), f32bits(expected)
    assert a.shape == e.shape, f"{what}: {a.size} predictions vs {e.size}"
    diff = np.nonzero(a != e)[0]
    assert diff.size == 0, f"{what}: {diff.size} of {a.size} predictions differ (first at {diff[:5].tolist()})"


def trained(lines=TRAIN, flags=FLAGS):
    m = wabbit.Model(flags)
    m.learn_many(lines)
    return m


def state_of(data: bytes) -> bytes:
    """A model file without its header strings: online state, table and weights."""
    return data[layout(data)["t"] : -4]


def file_crc(path):
    data = open(path, "rb").read()
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])
    return zlib.crc32(data[:-4])


# ---------------------------------------------------------------------------------------------
# snapshots
# ---------------------------------------------------------------------------------------------


def test_restore_gives_the_predictions_of_the_snapshot_moment():
    m = trained()
    at_snapshot = m.predict_many(TEST)
    bytes_at_snapshot = m.to_bytes()
    stats_at_snapshot = m.stats
    snap = m.snapshot(note="after TRAIN")
    assert (snap.note, snap.examples) == ("after TRAIN", len(TRAIN))
    assert abs(snap.created - time.time()) < 60

    m.learn_many(MORE)
    moved = m.predict_many(TEST)
    assert np.any(f32bits(moved) != f32bits(at_snapshot)), "learning more should change predictions"

    m.restore(snap)
    assert_bitwise_equal(m.predict_many(TEST), at_snapshot, "after restore")
    assert m.to_bytes() == bytes_at_snapshot, "restored state (weights, online state, lineage) differs"
    assert m.stats == stats_at_snapshot

    # the snapshot stays usable: learn again, restore again
    m.learn_many(MORE[:50])
    m.restore(snap)
    assert_bitwise_equal(m.predict_many(TEST), at_snapshot, "after a second restore")
    # and continuing from the restored state equals continuing from the original moment
    m.learn_many(MORE)
    assert_bitwise_equal(m.predict_many(TEST), moved, "learning MORE after restore vs before")


def test_snapshot_is_independent_of_the_model():
    m = trained()
    before = m.predict_many(TEST)
    snap = m.snapshot()
    m.learn_many(MORE)
    assert_bitwise_equal(snap.to_model().predict_many(TEST), before, "snapshot after the model learned")
    other = snap.to_model()
    other.learn_many(MORE)  # a model made from it learns without touching the snapshot
    assert_bitwise_equal(snap.to_model().predict_many(TEST), before, "snapshot after its copy learned")


def test_restore_into_another_model_and_errors():
    m = trained()
    snap = m.snapshot()
    fresh = wabbit.Model("-b 10")
    fresh.restore(snap)
    assert fresh.args == m.args and fresh.bits == 16
    assert_bitwise_equal(fresh.predict_many(TEST), m.predict_many(TEST), "restored into another model")
    with pytest.raises(TypeError):
        m.restore(m)


def test_snapshot_save_writes_a_model_file(tmp_path):
    m = trained()
    snap = m.snapshot()
    m.learn_many(MORE)
    snap.save(tmp_path / "s.model")
    assert_bitwise_equal(
        wabbit.load(tmp_path / "s.model").predict_many(TEST), snap.to_model().predict_many(TEST), "snapshot file"
    )


# ---------------------------------------------------------------------------------------------
# ModelStore
# ---------------------------------------------------------------------------------------------


def test_save_list_load_rollback(tmp_path):
    store = ModelStore(tmp_path / "store", keep=10)
    m = wabbit.Model(FLAGS)
    expected = {}
    for k, chunk in enumerate([TRAIN[:200], TRAIN[200:400], TRAIN[400:]], 1):
        m.learn_many(chunk)
        v = store.save(m, batch=k, tag=f"t{k}")
        assert v == k
        expected[v] = m.predict_many(TEST)

    listed = store.list()
    assert [x.version for x in listed] == [1, 2, 3]
    assert [x.metadata for x in listed] == [{"batch": k, "tag": f"t{k}"} for k in (1, 2, 3)]
    assert [x.current for x in listed] == [False, False, True]
    assert [x.examples for x in listed] == [200, 400, 600]
    for x in listed:
        assert x.path == store.path(x.version) and os.path.exists(x.path)
        assert x.checksum == file_crc(x.path) and x.size == os.path.getsize(x.path)
    assert listed[0].saved <= listed[1].saved <= listed[2].saved
    assert store.current == 3

    assert_bitwise_equal(store.load().predict_many(TEST), expected[3], "load() = current")
    for v in (1, 2, 3):
        assert_bitwise_equal(store.load(v).predict_many(TEST), expected[v], f"load({v})")

    back = store.rollback()
    assert store.current == 2
    assert_bitwise_equal(back.predict_many(TEST), expected[2], "rollback() returns version 2")
    assert_bitwise_equal(store.load().predict_many(TEST), expected[2], "load() after rollback")
    assert [x.current for x in store.list()] == [False, True, False]
    assert open(tmp_path / "store" / "CURRENT").read().strip() == "2"

    assert_bitwise_equal(store.rollback().predict_many(TEST), expected[1], "second rollback")
    with pytest.raises(StoreError, match="no version before version 1"):
        store.rollback()
    assert store.current == 1

    # a later save continues after the highest version, and becomes current
    m.learn_many(MORE[:20])
    assert store.save(m) == 4
    assert store.current == 4
    assert_bitwise_equal(store.load().predict_many(TEST), m.predict_many(TEST), "version 4")
    # the version rolled back over is still there by number
    assert_bitwise_equal(store.load(3).predict_many(TEST), expected[3], "load(3) after rollbacks")


def test_store_saves_snapshots_with_their_note(tmp_path):
    store = ModelStore(tmp_path)
    m = trained()
    snap = m.snapshot(note="nightly")
    m.learn_many(MORE)
    v = store.save(snap, source="test")
    [x] = store.list()
    assert (x.version, x.note, x.examples, x.metadata) == (v, "nightly", len(TRAIN), {"source": "test"})
    assert_bitwise_equal(store.load().predict_many(TEST), snap.to_model().predict_many(TEST), "saved snapshot")
    assert store.save(m, note="explicit") == 2 and store.list()[-1].note == "explicit"


def test_version_file_is_the_model_file(tmp_path):
    store = ModelStore(tmp_path)
    m = trained()
    v = store.save(m)
    assert open(store.path(v), "rb").read() == m.to_bytes()


def test_pruning_keeps_the_newest(tmp_path):
    d = tmp_path / "s"
    store = ModelStore(d, keep=2)
    m = wabbit.Model(FLAGS)
    preds = {}
    for k in range(6):
        m.learn_many(TRAIN[k * 100 : (k + 1) * 100])
        preds[store.save(m)] = m.predict_many(TEST)
    assert [x.version for x in store.list()] == [5, 6]
    assert sorted(n for n in os.listdir(d) if not n.startswith(".")) == [
        "CURRENT",
        "v00000005.json",
        "v00000005.model",
        "v00000006.json",
        "v00000006.model",
    ]
    with pytest.raises(StoreError, match="version 2 is not in"):
        store.load(2)
    assert_bitwise_equal(store.rollback().predict_many(TEST), preds[5], "rollback after pruning")
    with pytest.raises(StoreError):
        store.rollback()  # version 4 was pruned


def test_pruning_never_deletes_the_current_version(tmp_path):
    store = ModelStore(tmp_path, keep=4)
    m = wabbit.Model(FLAGS)
    for k in range(4):
        m.learn_many(TRAIN[k * 50 : (k + 1) * 50])
        store.save(m)
    store.rollback()
    at_2 = store.rollback().predict_many(TEST)
    assert store.current == 2
    smaller = ModelStore(tmp_path, keep=1)
    assert smaller.prune() == [1, 3]
    assert [x.version for x in smaller.list()] == [2, 4]
    assert_bitwise_equal(smaller.load().predict_many(TEST), at_2, "current version survived pruning")
    # the next save numbers after the highest (4), becomes current, and may now prune 2
    assert smaller.save(m) == 5
    assert [x.version for x in smaller.list()] == [5]


def test_missing_directory_is_created_and_empty_store(tmp_path):
    d = tmp_path / "a" / "b" / "store"
    store = ModelStore(d)
    assert d.is_dir()
    assert store.current is None and store.list() == []
    with pytest.raises(StoreError, match="no versions"):
        store.load()
    with pytest.raises(StoreError):
        store.rollback()
    with pytest.raises(StoreError, match="version 1 is not in"):
        store.load(1)
    with pytest.raises(ValueError):
        ModelStore(d, keep=0)


def test_corrupt_version_is_reported_with_its_path(tmp_path):
    store = ModelStore(tmp_path)
    m = trained()
    store.save(m)
    m.learn_many(MORE)
    store.save(m)
    p1 = store.path(1)
    data = bytearray(open(p1, "rb").read())
    data[len(data) // 2] ^= 0x04
    open(p1, "wb").write(bytes(data))
    with pytest.raises(wabbit.ModelError) as info:
        store.load(1)
    assert p1 in str(info.value) and "checksum" in str(info.value)
    # rollback refuses to make a corrupt version current
    with pytest.raises(wabbit.ModelError, match=p1.replace(".", r"\.")):
        store.rollback()
    assert store.current == 2
    # a corrupt record is named too
    open(os.path.join(tmp_path, "v00000002.json"), "w").write("{not json")
    with pytest.raises(StoreError, match="v00000002.json"):
        store.list()


def test_metadata_must_be_json_and_nothing_is_written_otherwise(tmp_path):
    store = ModelStore(tmp_path)
    with pytest.raises(TypeError):
        store.save(trained(), when=object())
    assert [n for n in os.listdir(tmp_path) if not n.startswith(".")] == []
    with pytest.raises(TypeError):
        store.save("not a model")


def test_killed_writers_leftovers_are_ignored_and_cleaned(tmp_path):
    store = ModelStore(tmp_path)
    m = trained()
    store.save(m)
    # what a writer killed mid-save leaves: a temporary file, and a model file without its record
    open(os.path.join(tmp_path, "v00000002.model.tmp.999.1"), "wb").write(b"partial")
    open(os.path.join(tmp_path, "v00000002.model"), "wb").write(m.to_bytes())
    assert [x.version for x in store.list()] == [1] and store.current == 1
    assert store.save(m) == 3  # never reuses a number that may have been half-written
    names = sorted(n for n in os.listdir(tmp_path) if not n.startswith("."))
    assert names == ["CURRENT", "v00000001.json", "v00000001.model", "v00000003.json", "v00000003.model"]


_READER = textwrap.dedent(
    r"""
    import os, sys, wabbit
    store_dir, stop, probe = sys.argv[1], sys.argv[2], sys.argv[3:]
    store = wabbit.ModelStore(store_dir)
    loads = 0
    seen = set()
    store.load()
    print("ready", flush=True)
    while True:
        stopping = os.path.exists(stop)
        m = store.load()   # must never fail
        seen.add(tuple(float(p).hex() for p in m.predict_many(probe)))
        loads += 1
        if stopping:
            break
    for s in seen:
        print(" ".join(s))
    print("loads", loads, flush=True)
    """
)


@pytest.mark.parametrize("keep", [1, 3])
def test_readers_never_fail_while_a_writer_saves(tmp_path, keep):
    """Reader processes load the current version in a loop while this process saves 50 versions
    (pruning down to ``keep``); every load succeeds and is one of the saved versions exactly."""
    d = tmp_path / "store"
    store = ModelStore(d, keep=keep)
    m = wabbit.Model("-q ua -b 18")
    m.learn_many(TRAIN[:20])
    probe = TEST[:5]
    saved = {tuple(float(p).hex() for p in m.predict_many(probe))}
    store.save(m)
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", _READER, str(d), str(stop), *probe],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    # an in-process reader thread too
    errors, thread_loads = [], [0]
    done = threading.Event()

    def read_loop():
        reader = ModelStore(d)
        while not done.is_set():
            try:
                reader.load()
                thread_loads[0] += 1
            except Exception as e:  # noqa: BLE001
                errors.append(e)

    t = threading.Thread(target=read_loop)
    t.start()
    try:
        for r in readers:
            assert r.stdout.readline().strip() == "ready", r.stderr.read()[-3000:]
        rng = random.Random(keep)
        for k in range(50):
            m.learn_many(rng.sample(TRAIN, 10))
            saved.add(tuple(float(p).hex() for p in m.predict_many(probe)))
            store.save(m, k=k)
            time.sleep(0.01)  # let the readers run between saves too
    finally:
        done.set()
        stop.touch()
        t.join()
        outs = [r.communicate(timeout=120) for r in readers]
    assert not errors, f"the in-process reader failed: {errors[:3]}"
    assert thread_loads[0] > 0
    for r, (out, err) in zip(readers, outs):
        assert r.returncode == 0, f"a reader failed:\n{err[-3000:]}"
        lines = out.strip().splitlines()
        assert lines[-1].startswith("loads ")
        assert int(lines[-1].split()[1]) >= 10, "the reader barely ran during the writes"
        seen = {tuple(line.split()) for line in lines[:-1]}
        assert seen <= saved, "a reader loaded a model the writer never saved"
        assert len(seen) >= 2, "the reader never saw a new version"
    assert len(store.list()) == keep and store.current == 51


# ---------------------------------------------------------------------------------------------
# write-behind
# ---------------------------------------------------------------------------------------------


class _GatedStore(ModelStore):
    """A store whose saves wait for a gate (a slow disk)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.gate = threading.Event()
        self.started = threading.Event()

    def save(self, model, **metadata):
        self.started.set()
        assert self.gate.wait(30)
        return super().save(model, **metadata)


def test_background_writer_never_waits_and_queues_only_the_newest(tmp_path):
    store = _GatedStore(tmp_path)
    m = wabbit.Model(FLAGS)
    writer = BackgroundWriter(store, run="r1")
    snaps = []
    for k in range(5):
        m.learn_many(TRAIN[k * 10 : (k + 1) * 10])
        snaps.append(m.snapshot(note=f"s{k}"))
        start = time.perf_counter()
        writer.submit(snaps[-1])
        assert time.perf_counter() - start < 0.5, "submit() waited for the disk"
        if k == 0:
            assert store.started.wait(10)  # the first write is under way (and stuck)
    assert writer.replaced == 3  # s1, s2, s3 were replaced in the one-slot queue
    store.gate.set()
    writer.close()
    assert writer.versions == [1, 2]
    listed = store.list()
    assert [x.note for x in listed] == ["s0", "s4"]
    assert [x.metadata for x in listed] == [{"run": "r1"}, {"run": "r1"}]
    assert_bitwise_equal(store.load(2).predict_many(TEST), snaps[4].to_model().predict_many(TEST), "newest snapshot")


def test_end_state_replaces_a_waiting_snapshot_of_it_and_is_not_written_twice(tmp_path):
    store = _GatedStore(tmp_path)
    m = trained()
    writer = BackgroundWriter(store)
    writer.submit(m.snapshot(note="first"))
    assert store.started.wait(10)
    writer.submit(m.snapshot(note="waiting"))  # same examples as the end state, still queued
    assert writer.submit_last(m.snapshot(note="end"))
    store.gate.set()
    writer.close()
    assert [x.note for x in store.list()] == ["first", "end"] and writer.replaced == 1
    # the state was already written (nothing waits): the end state is not written again
    writer2 = BackgroundWriter(store)
    writer2.submit(m.snapshot(note="same"))
    writer2.flush()
    assert not writer2.submit_last(m.snapshot(note="end"))
    m.learn_many(MORE[:3])
    assert writer2.submit_last(m.snapshot(note="moved on"))
    writer2.close()
    assert [x.note for x in store.list()] == ["first", "end", "same", "moved on"]


class _FailingStore(ModelStore):
    def save(self, model, **metadata):
        raise OSError(28, "No space left on device")


def test_a_failed_background_save_is_raised(tmp_path):
    writer = BackgroundWriter(_FailingStore(tmp_path))
    m = trained()
    writer.submit(m.snapshot())
    with pytest.raises(OSError, match="No space"):
        writer.flush()
    with pytest.raises(OSError, match="No space"):  # the next snapshot is refused: training stops
        writer.submit(m.snapshot())
    with pytest.raises(OSError, match="No space"):
        writer.close()


def test_a_failed_background_save_stops_learn_many(tmp_path):
    m = wabbit.Model(FLAGS)
    with pytest.raises(OSError, match="No space"):
        m.learn_many(TRAIN * 5, save_every=10, store=_FailingStore(tmp_path))
    learned = m.stats["example_number"]
    assert learned >= 10
    assert m.lineage.examples == learned  # what was learned before the error is recorded


def test_learn_many_save_every_writes_versions_equal_to_training_on_a_prefix(tmp_path):
    # The writer keeps one pending snapshot and a newer one replaces it (the learner never waits),
    # so when the writer thread is not scheduled during the ~1 ms this run takes, only the final
    # model is written (seen on a loaded machine). That is correct; the test needs an intermediate
    # version to check, so it tries a few fresh stores.
    for attempt in range(10):
        store = ModelStore(tmp_path / str(attempt), keep=100)
        m = wabbit.Model(FLAGS)
        preds = m.learn_many(TRAIN, save_every=110, store=store)  # 600 = 5 x 110 + 50
        assert preds.shape == (len(TRAIN),)
        listed = store.list()
        assert listed[-1].examples == len(TRAIN) and listed[-1].current
        if len(listed) >= 2:
            break
    assert len(listed) >= 2
    assert open(listed[-1].path, "rb").read() == m.to_bytes(), "the last version is not the final model"
    for x in listed[:-1]:
        assert x.examples % 110 == 0 and 0 < x.examples < len(TRAIN)
        reference = trained(TRAIN[: x.examples])
        assert_bitwise_equal(
            store.load(x.version).predict_many(TEST),
            reference.predict_many(TEST),
            f"version {x.version} (after {x.examples} examples)",
        )
    with pytest.raises(ValueError, match="store"):
        m.learn_many(TRAIN[:5], save_every=10)
    with pytest.raises(ValueError, match="save_every"):
        m.learn_many(TRAIN[:5], save_every=0, store=store)


def test_learn_many_with_a_store_saves_the_final_model(tmp_path):
    store = ModelStore(tmp_path)
    m = wabbit.Model(FLAGS)
    m.learn_many(TRAIN, store=store)
    assert [x.version for x in store.list()] == [1]
    assert open(store.path(1), "rb").read() == m.to_bytes()


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("n", [2900, 3000])
def test_cli_save_every_writes_versions_and_the_last_is_the_final_model(tmp_path, n):
    """Versions every 250 examples and the final model last. With 3000 lines the last snapshot
    may already hold the final state: then it is the last version (same state; its lineage has no
    last line number) rather than a second version of the same model."""
    lines = make_lines(n, 7, logistic=True)
    _write(tmp_path / "train.vw", lines)
    flags = ["--loss_function", "logistic", "-q", "ua", "-b", "18"]
    proc = vwcompare.run_wabbit(
        ["-d", "train.vw", *flags, "-f", "final.model", "--save_every", "250", "--store", "st", "--store_keep", "50"],
        tmp_path,
    )
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    store = ModelStore(tmp_path / "st")
    listed = store.list()
    assert len(listed) >= 2, [x.examples for x in listed]
    assert listed[-1].current and listed[-1].examples == n
    final = (tmp_path / "final.model").read_bytes()
    last = open(listed[-1].path, "rb").read()
    if n % 250:
        assert last == final, "the last version differs from the -f model"
    else:
        assert state_of(last) == state_of(final), "the last version's state differs from the -f model's"
    assert_bitwise_equal(
        store.load().predict_many(TEST), wabbit.load(tmp_path / "final.model").predict_many(TEST), "last version"
    )
    assert [x.version for x in listed] == list(range(1, len(listed) + 1))
    examples = [x.examples for x in listed]
    assert examples == sorted(set(examples)), f"versions out of order or repeated: {examples}"
    assert all(e % 250 == 0 for e in examples[:-1])
    # an intermediate version is exactly the model after its first k examples
    x = listed[0]
    reference = wabbit.Model(" ".join(flags))
    reference.learn_many(lines[: x.examples])
    assert_bitwise_equal(
        store.load(x.version).predict_many(TEST),
        reference.predict_many(TEST),
        f"version {x.version} after {x.examples} examples",
    )
    assert store.load(x.version).lineage.sources[0].examples == x.examples


def test_cli_store_keep_prunes(tmp_path):
    _write(tmp_path / "a.vw", TRAIN)
    for _ in range(4):
        proc = vwcompare.run_wabbit(["-d", "a.vw", "--quiet", "--store", "st", "--store_keep", "2"], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
    assert [x.version for x in ModelStore(tmp_path / "st").list()] == [3, 4]


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["--save_every", "10"], r"--save_every needs --store"),
        (["--store_keep", "3"], r"--store_keep needs --store"),
        (["--save_every", "0", "--store", "st"], r"positive"),
        (["--store", "st", "--store_keep", "0"], r"positive"),
        (["--store", "st", "-t"], r"-t"),
    ],
)
def test_cli_store_flag_errors(tmp_path, args, pattern):
    _write(tmp_path / "a.vw", TRAIN[:20])
    proc = vwcompare.run_wabbit(["-d", "a.vw", *args], tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, vwcompare.describe_run(proc)
    errors = [l for l in proc.stderr.splitlines() if "error" in l]
    assert len(errors) == 1 and __import__("re").search(pattern, errors[0]), proc.stderr
    assert not (tmp_path / "st").exists() or os.listdir(tmp_path / "st") == []

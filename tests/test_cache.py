"""wabbit's cache file (-c, --cache_file; cpp/formats/cache.h): written on the first pass, read by
the later passes and runs; a truncated, corrupted, stale or foreign file is rejected with the
reason and written again, never trusted; the flags applied after parsing (-b, -q, --ignore,
--noconstant) do not change it.

The reference each time is the same run with -k (a cache written from the text, then read):
reading a cache must give what reading the text gives."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import vwcompare
from test_passes import click_stream

TRAIN = ["-d", "train.vw", "-c", "--passes", "3", "--loss_function", "logistic"]


def table(stderr: str):
    """The progress rows and the summary: what a run reports of its numbers."""
    return vwcompare.progress_rows(stderr), vwcompare.summary(stderr)


@pytest.fixture
def work(tmp_path):
    (tmp_path / "train.vw").write_text(click_stream(500, seed=2))
    return tmp_path


def fresh(run_wabbit, work, args=TRAIN):
    proc = run_wabbit([*args, "-k"], work)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    assert "creating cache_file = train.vw.cache" in proc.stderr
    return proc


def test_a_cache_is_reused(run_wabbit, work):
    first = fresh(run_wabbit, work)
    again = run_wabbit(TRAIN, work)
    assert again.returncode == 0, vwcompare.describe_run(again)
    assert "using cache_file = train.vw.cache" in again.stderr
    assert "Reading datafile" not in again.stderr
    assert table(again.stderr) == table(first.stderr)


def test_a_cache_replaces_the_text(run_wabbit, work):
    """As VW does: once the cache exists, the data file is not read (a run works without it)."""
    first = fresh(run_wabbit, work)
    os.rename(work / "train.vw", work / "elsewhere.vw")
    again = run_wabbit(TRAIN, work)
    assert again.returncode == 0, vwcompare.describe_run(again)
    assert table(again.stderr) == table(first.stderr)


def _corrupt(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "empty":
        data = bytearray()
    elif how == "cut in the header":
        data = data[:30]
    elif how == "cut in a block":
        data = data[: len(data) // 2]
    elif how == "no footer":
        data = data[:-32]
    elif how == "cut in the footer":
        data = data[:-5]
    elif how == "a flipped bit in a block":
        data[len(data) // 2] ^= 0x10
    elif how == "a flipped bit in the header":
        data[30] ^= 0x01
    elif how == "bytes after the footer":
        data += b"\n"
    elif how == "random bytes":
        data = bytearray(os.urandom(4096))
    path.write_bytes(bytes(data))


REJECTED = {
    "empty": "not a wabbit cache",
    "cut in the header": "truncated",
    "cut in a block": "truncated",
    "no footer": "truncated",
    "cut in the footer": "truncated",
    "a flipped bit in a block": "corrupted",
    "a flipped bit in the header": "corrupted",
    "bytes after the footer": "corrupted",
    "random bytes": "not a wabbit cache",
}


@pytest.mark.parametrize("how", list(REJECTED))
def test_a_damaged_cache_is_rejected_and_rebuilt(how, run_wabbit, work):
    import wabbit._core as core

    first = fresh(run_wabbit, work)
    _corrupt(work / "train.vw.cache", how)
    why = core.check_cache(str(work / "train.vw.cache"), str(work / "train.vw"))
    assert why is not None and REJECTED[how] in why
    again = run_wabbit(TRAIN, work)
    assert again.returncode == 0, vwcompare.describe_run(again)
    assert f"wabbit: warning: the cache file train.vw.cache {why}; writing it again" in again.stderr
    assert "creating cache_file = train.vw.cache" in again.stderr
    assert table(again.stderr) == table(first.stderr)
    assert core.check_cache(str(work / "train.vw.cache"), str(work / "train.vw")) is None


def test_a_stale_cache_is_rebuilt(run_wabbit, work):
    """The data file changed after the cache was made (the cache keeps its size and mtime)."""
    fresh(run_wabbit, work)
    with open(work / "train.vw", "a") as f:
        f.write("1 |u id1 |a ad1\n")
    again = run_wabbit(TRAIN, work)
    assert again.returncode == 0
    assert "is stale" in again.stderr
    assert table(again.stderr) == table(fresh(run_wabbit, work).stderr)
    # the same size, only touched: stale too (the file may have been rewritten)
    st = os.stat(work / "train.vw")
    os.utime(work / "train.vw", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert "is stale" in run_wabbit(TRAIN, work).stderr


def test_vw_cache_is_foreign(run_wabbit, work, vw_available):
    """VW's own cache at the same name (vw -c writes DATA.cache too)."""
    vw = vwcompare.run_vw(["-d", "train.vw", "-c", "-k", "--quiet"], work)
    assert vw.returncode == 0
    ours = run_wabbit(TRAIN, work)
    assert ours.returncode == 0
    assert "is not a wabbit cache file" in ours.stderr
    assert table(ours.stderr) == table(fresh(run_wabbit, work).stderr)


def test_another_format_or_parser_version(run_wabbit, work):
    """A header with another version (and a matching checksum) is refused by its version."""
    import wabbit._core as core

    fresh(run_wabbit, work)
    path = work / "train.vw.cache"
    good = path.read_bytes()
    for offset, word in ((8, "format version"), (12, "parser version")):
        head = bytearray(good[:64])
        struct.pack_into("<I", head, offset, 999)
        struct.pack_into("<Q", head, 56, core.cache_checksum(bytes(head[:56])))
        path.write_bytes(bytes(head) + good[64:])
        why = core.check_cache(str(path), str(work / "train.vw"))
        assert why is not None and "999" in why, (word, why)
        assert "writing it again" in run_wabbit(TRAIN, work).stderr


def test_flags_after_parsing_do_not_change_the_cache(run_wabbit, work):
    """-b, -q, --ignore, --keep, --noconstant apply when an example is read back: a cache written
    with the defaults serves them, and gives what the text gives."""
    fresh(run_wabbit, work)
    flags = [*TRAIN, "-b", "20", "-q", "ua", "--ignore", "c", "--noconstant"]
    reused = run_wabbit(flags, work)
    assert "using cache_file" in reused.stderr
    assert table(reused.stderr) == table(fresh(run_wabbit, work, flags).stderr)


def test_cache_file_from_stdin(run_wabbit, work):
    """--cache_file with the data on standard input; the next run reads the cache alone."""
    args = ["--cache_file", "in.cache", "--passes", "3", "--loss_function", "logistic"]
    with open(work / "train.vw") as data:
        first = subprocess.run(
            [sys.executable, "-m", "wabbit", *args], cwd=work, stdin=data, capture_output=True, text=True, timeout=120
        )
    assert first.returncode == 0, first.stderr
    again = run_wabbit(args, work)  # stdin is empty now (DEVNULL): the cache holds the data
    assert "using cache_file = in.cache" in again.stderr
    assert table(again.stderr) == table(first.stderr)
    assert table(first.stderr) == table(run_wabbit(["-d", "train.vw", "-k", *args], work).stderr)


def test_a_failed_first_pass_leaves_no_cache(run_wabbit, work):
    """--strict stops at a malformed line: no cache file, no temporary file left behind."""
    with open(work / "train.vw", "a") as f:
        f.write("notalabel |u x\n")
    proc = run_wabbit([*TRAIN, "-k", "--strict"], work)
    assert proc.returncode != 0
    assert sorted(p.name for p in work.iterdir()) == ["train.vw"]


def test_malformed_lines_keep_their_place(run_wabbit, work):
    """A line the parser refuses still counts towards the holdout period on every pass."""
    lines = (work / "train.vw").read_text().splitlines(keepends=True)
    lines.insert(5, "notalabel |u x\n")
    (work / "train.vw").write_text("".join(lines))
    first = fresh(run_wabbit, work)
    assert "malformed lines skipped = 1" in first.stderr
    again = run_wabbit(TRAIN, work)  # the cache only: no warning about the line this time
    rows, summary = table(first.stderr)
    assert (rows, summary) != table(again.stderr)
    assert ([r for r in rows if not r.startswith("wabbit:")], summary) == table(again.stderr)


def test_the_cache_is_read_faster_than_the_text_is_parsed(tmp_path):
    """Not a timing: the cache holds the hashed examples, so a pass over it does no parsing. Its
    size is about that of the features' (index, value) pairs (values of 1 left out)."""
    import wabbit._core as core

    lines = [f"1 |a x{i} y{i} z{i}\n" for i in range(1000)]
    (tmp_path / "t.vw").write_text("".join(lines))
    import wabbit

    wabbit.Model().learn_many(str(tmp_path / "t.vw"), cache=str(tmp_path / "t.cache"))
    size = (tmp_path / "t.cache").stat().st_size
    assert core.check_cache(str(tmp_path / "t.cache"), str(tmp_path / "t.vw")) is None
    # per example: flags, label, group count, slot, count, group flags, 3 indices of 4 bytes
    assert size < 64 + 1000 * (1 + 4 + 1 + 3 + 12) + 1000, size


def test_a_cache_made_from_json_is_not_read_as_text_and_back(run_wabbit, work):
    """A cache holds parsed examples: one made by --json is rebuilt for a run reading the same file
    as VW text (whose lines then fail to parse, as without a cache), and the other way round."""
    (work / "d.json").write_text(
        "".join(f'{{"_label": {1 if i % 3 else -1}, "f": {{"x{i % 5}": 1}}}}\n' for i in range(60))
    )
    args = ["-d", "d.json", "-c", "--passes", "2"]
    first = run_wabbit([*args, "--json"], work)
    assert first.returncode == 0 and "creating cache_file = d.json.cache" in first.stderr, vwcompare.describe_run(first)
    assert "using cache_file" in run_wabbit([*args, "--json"], work).stderr  # the same way: reused
    text = run_wabbit(args, work)
    assert "made from input read another way (--json, this run reads VW text)" in text.stderr, text.stderr
    assert "creating cache_file = d.json.cache" in text.stderr
    again = run_wabbit([*args, "--json", "--chain_hash"], work)
    assert "(VW text, this run reads --json with --chain_hash)" in again.stderr, again.stderr


def test_multiclass_refuses_passes_and_a_cache_for_now(run_wabbit, work):
    proc = run_wabbit(["--oaa", "2", "-d", "train.vw", "-c"], work)
    assert proc.returncode != 0 and "not supported with --oaa/--csoaa yet" in proc.stderr

"""Huge pages for a table the stream will fill (issue 5; cpp/driver.cc: advise_huge_pages).

A learning run samples the start of its input; when the sample alone touches at least a quarter as
many distinct rows as the table has 4 KiB pages, the (fresh, >= 32 MiB) table is advised to use
2 MiB pages. The advice must change nothing but speed and memory layout: the tests check that
results are bit-identical across the reading paths (a regular file is read ahead for the sample,
then parsed from that prefix), and, where the kernel hands out transparent huge pages on request,
that a dense stream gets them and a sparse one does not.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest

import wabbit

BITS = 22  # 64 MiB table at stride 4: 16,384 pages, so a dense sample needs >= 4,096 distinct rows


def dense_lines(n: int, seed: int = 3) -> list[str]:
    """Lines with 20 features drawn from a million ids: nearly every feature is a new row."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        feats = " ".join(f"f{rng.randrange(1_000_000)}" for _ in range(20))
        out.append(f"{rng.choice(['1', '-1'])} |a {feats}")
    return out


def sparse_lines(n: int, seed: int = 4) -> list[str]:
    """Lines over 50 ids in all: the sample touches 51 rows (with the constant)."""
    rng = random.Random(seed)
    return [f"{rng.choice(['1', '-1'])} |a g{rng.randrange(50)} h{rng.randrange(50)}" for _ in range(n)]


def thp_mode() -> str:
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return "absent"
    m = re.search(r"\[(\w+)\]", text)
    return m.group(1) if m else "absent"


def anon_huge_kb() -> int:
    text = Path("/proc/self/smaps_rollup").read_text()
    m = re.search(r"^AnonHugePages:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


def write(path: Path, lines: list[str], trailing_newline: bool = True) -> Path:
    path.write_text("\n".join(lines) + ("\n" if trailing_newline else ""))
    return path


@pytest.mark.parametrize("n_lines", [100, 5000])
@pytest.mark.parametrize("trailing_newline", [True, False])
def test_file_read_ahead_gives_the_same_run(tmp_path, n_lines, trailing_newline):
    # A file shorter than the sample (read whole, EOF inside the read-ahead) and one longer than it
    # (the sample, then the rest of the file): both must learn exactly what the bytes path learns.
    lines = dense_lines(n_lines)
    path = write(tmp_path / "d.vw", lines, trailing_newline)
    args = f"-b {BITS} --loss_function logistic"
    from_file = wabbit.Model(args)
    p_file = from_file.learn_many(str(path))
    from_bytes = wabbit.Model(args)
    p_bytes = from_bytes.learn_many(path.read_bytes())
    assert len(p_file) == n_lines
    assert np.array_equal(p_file, p_bytes)
    assert from_file.stats == from_bytes.stats
    probe = lines[:50]
    assert np.array_equal(from_file.predict_many(probe), from_bytes.predict_many(probe))


def test_file_read_ahead_keeps_line_numbers_in_errors(tmp_path):
    # The bad line sits inside the read-ahead sample; its number must still be right, and with
    # strict=True everything before it is learned.
    lines = dense_lines(300)
    bad = lines[:120] + ["abc |a x"] + lines[120:]
    path = write(tmp_path / "bad.vw", bad)
    m = wabbit.Model(f"-b {BITS} --loss_function logistic")
    with pytest.raises(ValueError, match="line 121"):
        m.learn_many(str(path))
    ref = wabbit.Model(f"-b {BITS} --loss_function logistic")
    ref.learn_many(lines[:120])
    assert m.stats == ref.stats


@pytest.mark.parametrize("threads", [1, 2])
def test_dense_stream_gets_huge_pages_and_sparse_does_not(tmp_path, threads):
    if thp_mode() != "madvise":
        pytest.skip(f"transparent huge pages are '{thp_mode()}' here: only 'madvise' makes the advice observable")
    args = f"-b {BITS} --loss_function logistic --threads {threads}"
    before = anon_huge_kb()
    sparse = wabbit.Model(args)
    sparse.learn_many(str(write(tmp_path / "s.vw", sparse_lines(6000))))
    assert anon_huge_kb() - before == 0  # 51 rows: 4 KiB pages, only what is used

    before = anon_huge_kb()
    dense = wabbit.Model(args)
    dense.learn_many(str(write(tmp_path / "d.vw", dense_lines(6000))))
    # 120,000 features over a million ids touch nearly every 2 MiB region of the 64 MiB table
    assert anon_huge_kb() - before >= 16 * 1024
    del dense, sparse

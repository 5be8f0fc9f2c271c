"""Learning from a file path reads the file in 256 KiB blocks and carries a line that crosses a
block into the next (cpp/driver.cc: for_each_fd_line). The bytes path splits one buffer in memory,
a separate implementation: both must see exactly the same lines.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import wabbit

BLOCK = 256 * 1024


def short_lines(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(['1', '-1'])} |a f{rng.randrange(500)} g{rng.randrange(50)}:{rng.random():.3f}" for _ in range(n)
    ]


def same_run(path, data: bytes, args: str = "--loss_function logistic") -> np.ndarray:
    a, b = wabbit.Model(args), wabbit.Model(args)
    pa = a.learn_many(str(path))
    pb = b.learn_many(data)
    assert np.array_equal(pa, pb)
    assert a.stats == b.stats
    return pa


def test_lines_longer_than_a_block(tmp_path):
    # one line of ~600 KB (more than two blocks) between ordinary ones
    long = "1 |w " + " ".join(f"x{i}:0.5" for i in range(60_000))
    assert len(long) > 2 * BLOCK
    lines = short_lines(50, 1) + [long] + short_lines(50, 2) + [long]
    data = ("\n".join(lines) + "\n").encode()
    path = tmp_path / "long.vw"
    path.write_bytes(data)
    assert len(same_run(path, data)) == len(lines)


@pytest.mark.parametrize("shift", [-2, -1, 0, 1, 2])
def test_newline_at_a_block_boundary(tmp_path, shift):
    # pad the first line so that a newline falls at, just before and just after byte 256 KiB
    head = "1 |a pad " + "p" * (BLOCK + shift - len("1 |a pad ") - 1)
    lines = [head] + short_lines(3000, 3)
    data = ("\n".join(lines) + "\n").encode()
    assert data.index(b"\n") == BLOCK + shift - 1
    path = tmp_path / "edge.vw"
    path.write_bytes(data)
    assert len(same_run(path, data)) == len(lines)


def test_no_final_newline_crlf_and_blank_lines(tmp_path):
    lines = short_lines(20_000, 4)
    text = "\r\n".join(lines[:10_000]) + "\n\n\n" + "\n".join(lines[10_000:])  # last line without "\n"
    data = text.encode()
    path = tmp_path / "mixed.vw"
    path.write_bytes(data)
    assert len(same_run(path, data)) == len(lines)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.vw"
    path.write_bytes(b"")
    m = wabbit.Model()
    assert len(m.learn_many(str(path))) == 0
    assert m.stats["example_number"] == 0


def test_strict_error_deep_in_a_file_stops_the_reader(tmp_path):
    # the error is many blocks in: the run stops there, names the line and keeps what came before
    lines = short_lines(60_000, 5)
    bad_at = 40_000
    lines[bad_at] = "abc |a x"
    path = tmp_path / "bad.vw"
    path.write_text("\n".join(lines) + "\n")
    m = wabbit.Model("--loss_function logistic")
    with pytest.raises(ValueError, match=f"line {bad_at + 1}"):
        m.learn_many(str(path))
    ref = wabbit.Model("--loss_function logistic")
    ref.learn_many(lines[:bad_at])
    assert m.stats == ref.stats

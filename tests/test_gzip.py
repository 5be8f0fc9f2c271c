"""Gzip input is read transparently, as Vowpal Wabbit reads it."""

import gzip
import subprocess
import sys

import numpy as np

import wabbit

LINES = [f"{i % 3} {1 + i % 2} 'ex{i}|a x{i % 7} y:{i % 5 / 4}|b z{i % 11}" for i in range(500)]


def test_gzip_file_equals_plain_file(tmp_path):
    plain = tmp_path / "d.vw"
    plain.write_text("\n".join(LINES) + "\n")
    gz = tmp_path / "d.vw.gz"
    with gzip.open(gz, "wt") as f:
        f.write("\n".join(LINES) + "\n")
    a = wabbit.Model("-q ab").learn_many(plain)
    b = wabbit.Model("-q ab").learn_many(gz)
    assert len(a) == len(LINES)
    assert np.array_equal(a, b)


def test_truncated_gzip_is_learned_up_to_the_cut(tmp_path):
    # issue 14, item 5: as VW, what can be read is learned and the model saved, with a warning
    # naming where the data ends; --strict makes it an error (and saves nothing)
    gz = tmp_path / "d.vw.gz"
    with gzip.open(gz, "wt") as f:
        f.write("\n".join(LINES * 20) + "\n")
    cut = tmp_path / "cut.vw.gz"
    cut.write_bytes(gz.read_bytes()[:2000])
    out = tmp_path / "m.bin"
    cmd = [sys.executable, "-m", "wabbit", "-d", str(cut), "-f", str(out), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "ends early at byte 2000" in proc.stderr and "Traceback" not in proc.stderr
    assert out.exists()
    out.unlink()
    proc = subprocess.run(cmd + ["--strict"], capture_output=True, text=True)
    assert proc.returncode == 1 and "ends early at byte 2000" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()

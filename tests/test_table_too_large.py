"""A weight table too large for the machine (issue 14, item 9).

``-b`` is documented as 1 to 32, but ``-b 31``/``-b 32`` ended in a ``MemoryError`` traceback, and
a model file whose options say ``-b 32`` allocated before anything was checked. VW refuses such a
table too ("Failed to allocate weight array with 31 bits: try decreasing -b"); wabbit now says
what the table needs and what the machine has, as an OptionError (a new model) or a ModelError (a
model file), and the command line prints that one line.

The children run with a 6 GiB address-space limit (``ulimit -v``), so a 2^31-row table (32 GiB
at 16 bytes a row) is refused on any machine.
"""

from __future__ import annotations

import resource
import struct
import subprocess
import sys
import textwrap
import zlib

import pytest

wabbit = pytest.importorskip("wabbit")

pytestmark = pytest.mark.asan_skip("a ulimit -v: ASan's shadow memory needs terabytes of address space")

LIMIT = 6 << 30


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def run(args, stdin: bytes = b"", code: str = ""):
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "wabbit", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=120, preexec_fn=_limited)


@pytest.mark.parametrize("bits,needs", [(31, "32 GiB"), (32, "64 GiB")])
def test_cli_says_what_the_table_needs(bits, needs):
    proc = run(["-b", str(bits), "--quiet"], stdin=b"1 |a x\n")
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in err and "MemoryError" not in err, err
    assert err.startswith(f"wabbit: error: -b {bits} needs {needs} for the weight table"), err
    assert "ulimit -v" in err and "6 GiB" in err and "smaller -b" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_python_api_raises_option_error():
    code = textwrap.dedent(
        """
        import wabbit
        for bits in (31, 32):
            try:
                wabbit.Model(bit_precision=bits)
            except wabbit.OptionError as e:
                print(type(e).__name__, e)
        m = wabbit.Model(bit_precision=24)  # 256 MiB: fits under the limit
        m.learn("1 |a x")
        """
    )
    proc = run([], code=code)
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    lines = out.strip().splitlines()
    assert len(lines) == 2, out
    assert lines[0].startswith("OptionError -b 31 needs 32 GiB") and lines[1].startswith(
        "OptionError -b 32 needs 64 GiB"
    ), out


def _file_claiming(bits: int, options: str) -> bytes:
    """A small model file whose header says ``bits`` (sparse, no rows) and whose options say
    ``options``, with its checksum recomputed."""
    data = wabbit.Model("-b 6").to_bytes()
    off = 12
    parts = []
    for i in range(3):
        (n,) = struct.unpack_from("<I", data, off)
        s = data[off + 4 : off + 4 + n]
        parts.append(options.encode() if i == 1 else s)
        off += 4 + n
    fixed = bytearray(data[off : off + 66])
    struct.pack_into("<I", fixed, 56, bits)
    fixed[65] = 1  # sparse
    # written as format 1 (no configuration section): the header's bits and the options are all it says
    head = data[:8] + struct.pack("<I", 1)
    body = head + b"".join(struct.pack("<I", len(p)) + p for p in parts) + bytes(fixed) + struct.pack("<Q", 0)
    return body + struct.pack("<I", zlib.crc32(body))


def test_model_file_with_a_table_too_large_raises_model_error(tmp_path):
    path = tmp_path / "big.model"
    path.write_bytes(_file_claiming(32, "--bit_precision 32"))
    code = textwrap.dedent(
        f"""
        import wabbit
        for how in ("load", "from_bytes"):
            try:
                wabbit.load({str(path)!r}) if how == "load" else wabbit.Model.from_bytes(open({str(path)!r}, "rb").read())
            except wabbit.ModelError as e:
                print(how, type(e).__name__, e)
        """
    )
    proc = run([], code=code)
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.count("ModelError") == 2 and out.count("-b 32 needs 64 GiB") == 2, out
    cli = run(["-t", "-i", str(path), "--quiet"], stdin=b"|a x\n")
    err = cli.stderr.decode()
    assert cli.returncode == 1 and "Traceback" not in err and "-b 32 needs 64 GiB" in err, err


@pytest.mark.parametrize("bits,options", [(6, "--bit_precision 32"), (32, "--bit_precision 6"), (31, "")])
def test_options_that_disagree_with_the_table_are_refused_before_allocating(bits, options):
    """The stored options and the header's bits are compared before anything is allocated (no
    limit needed: nothing large is ever asked for)."""
    with pytest.raises(wabbit.ModelError, match="its options say -b .* but its weight table has"):
        wabbit.Model.from_bytes(_file_claiming(bits, options))

"""Bad input loses nothing (issue 14, items 1, 5, 10, 13, 14): non-UTF-8 bytes, cut or corrupt gzip,
-p alignment with skipped lines, several lines in one example, inputs that cannot seek.

Expected values come from VW (pip vowpalwabbit) or from properties (counts, a model that loads,
the same predictions as the plain file), never from wabbit's own earlier output."""

import gzip
import os
import re
import subprocess
import sys
import threading
import warnings
import zlib

import numpy as np
import pytest

import wabbit

LINES = [f"{i % 2} |u user=u{i % 13} |a ad=a{i % 7} pos:{i % 3}" for i in range(400)]
TEXT = "\n".join(LINES) + "\n"


def run_cli(args, cwd, stdin=None, timeout=120):
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "wabbit", *args], cwd=cwd, input=stdin, capture_output=True, timeout=timeout, env=env
    )


def write_gzip(path, text):
    with gzip.open(path, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)


# ---------------------------------------------------------------- item 1: non-UTF-8 bytes

BAD_BYTES = [
    b"\xe9t\xe9 |u uid=1",  # a Latin-1 label
    b"1 |a x:1\xc3\xa9",  # valid UTF-8, a value glued to a two-byte character
    b"1 |a x:1\xc3",  # a value glued to half a character
    b"\x80\x80 1 |a x",  # stray continuation bytes
    b"a" + "é".encode() * 40 + b" |a x",  # a long non-ASCII label, cut mid-character at 60 bytes
]


@pytest.mark.parametrize("bad", BAD_BYTES)
def test_cli_run_with_non_utf8_line_saves_the_model(bad, tmp_path):
    data = tmp_path / "x.vw"
    data.write_bytes(TEXT.encode() + bad + b"\n" + TEXT.encode())
    proc = run_cli(["-d", str(data), "-f", "m", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr and b"UnicodeDecodeError" not in proc.stderr
    assert (tmp_path / "m").exists()
    wabbit.load(tmp_path / "m")  # loads


@pytest.mark.parametrize("bad", BAD_BYTES)
@pytest.mark.parametrize("threads", [1, 2])
def test_learn_many_non_strict_warns_in_valid_text(bad, threads):
    m = wabbit.Model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = m.learn_many(TEXT.encode() + bad + b"\n" + TEXT.encode(), strict=False, threads=threads)
    assert len(p) == 2 * len(LINES) + 1
    for w in caught:
        str(w.message).encode("utf-8")  # valid text, no surrogates
    assert m.stats["example_number"] >= 2 * len(LINES)


def test_messages_quote_whole_characters_and_escape_bad_bytes():
    m = wabbit.Model()
    with pytest.raises(wabbit.ParseError) as e:
        m.learn_many(b"1 |a x:1\xc3\xa9\n")
    assert '"1é"' in str(e.value)  # the whole glued token, not half a character
    with pytest.raises(wabbit.ParseError) as e:
        m.learn_many(b"\xe9t\xe9 |u uid=1\n")
    assert "\\xe9t\\xe9" in str(e.value)
    with pytest.raises(ValueError) as e:
        m.learn(b"1 |a x:1\x01z\x00")  # (a NUL right after a value is read as VW reads it: test_text_nul.py)
    assert "\\x01z\\x00" in str(e.value)  # control bytes escaped, not cut at the NUL
    with pytest.raises(ValueError) as e:
        m.learn(b"a" + "é".encode() * 40 + b" |a x")
    assert '"a' + "é" * 29 + '..."' in str(e.value)


def test_non_utf8_feature_names_in_readable_outputs(tmp_path):
    data = tmp_path / "n.vw"
    data.write_bytes(b"1 |a \xe9t\xe9 b\n0 |a c\n" * 5)
    proc = run_cli(
        ["-d", str(data), "--invert_hash", "ih.txt", "--readable_model", "rm.txt", "-f", "m", "--quiet"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "a^\\xe9t\\xe9:" in (tmp_path / "ih.txt").read_text(encoding="utf-8")
    m = wabbit.Model()
    m.learn(b"1 |a \xe9t\xe9 b")
    names = {c.name for c in m.explain(b"|a \xe9t\xe9 b")}
    assert "a^\\xe9t\\xe9" in names


# ---------------------------------------------------------------- item 13: one example, one line


@pytest.mark.parametrize("call", ["learn", "predict", "explain"])
@pytest.mark.parametrize("text", ["1 |a x\n-1 |a y", b"1 |a x\n-1 |a y", "1 |a x\r\n-1 |a y\n"])
def test_a_newline_inside_one_example_is_refused(call, text):
    m = wabbit.Model()
    before = m.weights()[0].size
    with pytest.raises(ValueError, match="newline.*learn_many"):
        getattr(m, call)(text)
    assert m.weights()[0].size == before and m.stats["example_number"] == 0


@pytest.mark.parametrize("suffix", ["\n", "\r\n"])
def test_a_trailing_newline_is_accepted(suffix):
    a, b = wabbit.Model(), wabbit.Model()
    a.learn("1 |a x" + suffix)
    b.learn("1 |a x")
    assert a.predict("|a x" + suffix) == b.predict("|a x")
    assert a.predict(("|a x" + suffix).encode()) == b.predict("|a x")


def test_bytes_examples_equal_str_examples():
    a, b = wabbit.Model(), wabbit.Model()
    for line in LINES[:50]:
        a.learn(line)
        b.learn(line.encode())
    assert a.predict(LINES[60]) == b.predict(LINES[60].encode())


# ---------------------------------------------------------------- item 10: -p lines up with the input

# What VW 9 (pip vowpalwabbit) does with these lines: a prediction line for each one of them.
MALFORMED = [b"abc |a x", b"-1 2 3 4 5 |a x", b"1 -2 |a x", b"1 |a x:nan", b"1 |:3 x", b"1 |a x:1\xc3", b"1 |a x:inf"]


def vw_prediction_lines(path, tmp_path):
    vw = pytest.importorskip("vowpalwabbit")
    out = tmp_path / "vw.p"
    proc = subprocess.run(
        [sys.executable, "-m", "vowpalwabbit", "-d", str(path), "-p", str(out), "--quiet"],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    del vw
    return out.read_text().splitlines()


@pytest.mark.parametrize("threads", [1, 2])
def test_predictions_file_has_one_line_per_example_line(threads, tmp_path):
    lines = [line.encode() for line in LINES[:10]]
    for k, bad in enumerate(MALFORMED):
        lines.insert(1 + 2 * k, bad)
    data = tmp_path / "d.vw"
    data.write_bytes(b"\n".join(lines) + b"\n")
    vw_lines = vw_prediction_lines(data, tmp_path)
    proc = run_cli(["-d", str(data), "-p", "w.p", "--quiet", "--threads", str(threads)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    ours = (tmp_path / "w.p").read_text().splitlines()
    assert len(ours) == len(vw_lines) == len(lines)
    # refused lines are "nan" in their place, the others are numbers
    refused = {i for i, line in enumerate(lines) if line in MALFORMED}
    assert {i for i, p in enumerate(ours) if p == "nan"} == refused
    # and learn_many gives NaN at the same places
    p = wabbit.Model().learn_many(data.read_bytes(), strict=False, threads=threads)
    assert set(np.flatnonzero(np.isnan(p))) == refused


def test_predictions_file_keeps_places_on_many_threads(tmp_path):
    # Hogwild: blocks of lines finish out of order; the nan lines stay where their lines are
    lines = [f"{i % 2} |a x{i % 50} y{i % 7}" for i in range(60000)]
    for i in range(0, len(lines), 997):
        lines[i] = "bad |a x"
    data = tmp_path / "d.vw"
    data.write_text("\n".join(lines) + "\n")
    proc = run_cli(["-d", str(data), "-p", "w.p", "--quiet", "--threads", "2"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    ours = (tmp_path / "w.p").read_text().splitlines()
    assert len(ours) == len(lines)
    assert [i for i, p in enumerate(ours) if p == "nan"] == list(range(0, len(lines), 997))


def test_skipped_bandit_event_keeps_its_place():
    good = ["shared |u a\n0:1:0.5 |a x\n|a y", "|a x\n|a y\n|a z"]
    bad = "shared |u a\n0:1:7 |a x\n|a y"  # probability outside (0, 1]
    m = wabbit.Model("--cb_explore_adf")
    text = "\n\n".join([good[0], bad, good[1]]) + "\n"
    p = m.learn_many(text.encode(), strict=False)
    assert len(p) == 2 + 2 + 3  # one value per action line, the skipped event's as NaN
    assert np.isnan(p[2:4]).all() and not np.isnan(p[:2]).any() and not np.isnan(p[4:]).any()


# ---------------------------------------------------------------- item 5: cut and corrupt gzip


def test_truncated_gzip_learns_what_is_readable_and_saves(tmp_path):
    full = tmp_path / "full.vw.gz"
    write_gzip(full, TEXT * 20)
    blob = full.read_bytes()
    cut = tmp_path / "t.gz"
    cut.write_bytes(blob[: len(blob) * 9 // 10])
    proc = run_cli(["-d", str(cut), "-f", "m", "-p", "p.txt"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.decode()
    assert f"ends early at byte {len(blob) * 9 // 10}" in err and "cut short" in err
    wabbit.load(tmp_path / "m")
    # every whole line before the cut was learned (the last, cut one was not)
    text = zlib.decompressobj(31).decompress(blob[: len(blob) * 9 // 10])
    whole = text.count(b"\n")
    assert f"number of examples = {whole}\n" in err
    assert len((tmp_path / "p.txt").read_text().splitlines()) == whole
    # --strict: an error, and no model
    proc = run_cli(["-d", str(cut), "-f", "m2", "--strict", "--quiet"], tmp_path)
    assert proc.returncode == 1 and b"ends early" in proc.stderr and b"Traceback" not in proc.stderr
    assert not (tmp_path / "m2").exists()


def test_truncated_gzip_in_python(tmp_path):
    full = tmp_path / "full.vw.gz"
    write_gzip(full, TEXT * 5)
    cut = tmp_path / "t.gz"
    cut.write_bytes(full.read_bytes()[:-100])
    m = wabbit.Model()
    with pytest.warns(UserWarning, match="ends early"):
        p = m.learn_many(cut, strict=False)
    assert 0 < len(p) < 5 * len(LINES) and m.stats["example_number"] == len(p)
    m2 = wabbit.Model()
    with pytest.raises(OSError, match="ends early"):
        m2.learn_many(cut)
    assert m2.stats["example_number"] == len(p)  # learned up to the cut before raising


def test_corrupt_gzip_names_the_byte_and_saves(tmp_path):
    full = tmp_path / "full.vw.gz"
    write_gzip(full, TEXT * 20)
    blob = bytearray(full.read_bytes())
    blob[-6] ^= 0xFF  # the CRC-32 of the member: the text inflates, the check fails
    bad = tmp_path / "crc.gz"
    bad.write_bytes(bytes(blob))
    proc = run_cli(["-d", str(bad), "-f", "m"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.decode()
    at = int(re.search(r"corrupt at byte (\d+) \(CRC", err).group(1))
    assert len(blob) - 8 <= at < len(blob)  # in the member's trailer (CRC-32, length)
    assert f"number of examples = {20 * len(LINES)}\n" in err
    wabbit.load(tmp_path / "m")
    # garbage after a whole member
    junk = tmp_path / "junk.gz"
    junk.write_bytes(full.read_bytes() + b"not gzip at all")
    proc = run_cli(["-d", str(junk), "-f", "m3"], tmp_path)
    assert proc.returncode == 0 and f"corrupt at byte {len(blob)}".encode() in proc.stderr
    assert f"number of examples = {20 * len(LINES)}\n".encode() in proc.stderr
    wabbit.load(tmp_path / "m3")


# ---------------------------------------------------------------- item 14: inputs that cannot seek


def plain_predictions(tmp_path):
    plain = tmp_path / "plain.vw"
    plain.write_text(TEXT)
    proc = run_cli(["-d", str(plain), "-p", "plain.p", "--quiet"], tmp_path)
    assert proc.returncode == 0
    return (tmp_path / "plain.p").read_text()


@pytest.mark.parametrize("gz", [False, True])
def test_stdin_plain_and_gzip(gz, tmp_path):
    expected = plain_predictions(tmp_path)
    data = gzip.compress(TEXT.encode()) if gz else TEXT.encode()
    proc = run_cli(["-p", "s.p", "--quiet"], tmp_path, stdin=data)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "s.p").read_text() == expected
    proc = run_cli(["-d", "/dev/stdin", "-p", "s2.p", "--quiet", "--threads", "2"], tmp_path, stdin=data)
    assert proc.returncode == 0, proc.stderr
    assert len((tmp_path / "s2.p").read_text().splitlines()) == len(LINES)


def feed_fifo(path, data):
    def write():
        with open(path, "wb") as f:
            f.write(data)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("gz", [False, True])
def test_fifo_in_cli_and_learn_many(gz, tmp_path):
    expected = plain_predictions(tmp_path)
    half = len(TEXT) // 2
    # gzip: two members (as `cat a.gz b.gz`) and zero padding after them, as gzip itself reads them
    data = (
        gzip.compress(TEXT[:half].encode()) + gzip.compress(TEXT[half:].encode()) + b"\0" * 9 if gz else TEXT.encode()
    )
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    t = feed_fifo(fifo, data)
    proc = run_cli(["-d", str(fifo), "-p", "f.p", "--quiet"], tmp_path)
    t.join(10)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "f.p").read_text() == expected
    t = feed_fifo(fifo, data)
    p = wabbit.Model().learn_many(fifo)
    t.join(10)
    assert np.array_equal(p, wabbit.Model().learn_many(TEXT.encode()))


def test_process_substitution(tmp_path):
    if not os.path.exists("/bin/bash"):
        pytest.skip("needs bash")
    expected = plain_predictions(tmp_path)
    gz = tmp_path / "d.vw.gz"
    write_gzip(gz, TEXT)
    script = f'"{sys.executable}" -m wabbit -d <(cat "{gz}") -p ps.p --quiet'
    proc = subprocess.run(["/bin/bash", "-c", script], cwd=tmp_path, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ps.p").read_text() == expected


def test_short_inputs_on_streams(tmp_path):
    # fewer bytes than the gzip magic, and a single byte that is its first half
    for data, n in ((b"", 0), (b"\x1f", 1), (b"1 |a x", 1), (b"\x1f\x8b", None)):
        proc = run_cli(["-p", "s.p", "--quiet"], tmp_path, stdin=data)
        assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr
        if n is not None:
            assert len((tmp_path / "s.p").read_text().splitlines()) == n
        else:  # the magic alone: a gzip stream that ends at once
            assert b"ends early at byte 2" in proc.stderr
    # inputs of about the size of the peek (2 bytes), newlines inside it: as the same file gives
    for data, n in ((b"1\n", 1), (b"\n\n", 0), (b"1", 1), (b"\n1 |a x", 1), (b"2\n\n1 |a x\n", 2), (b"\r\n1 |a x", 1)):
        (tmp_path / "f.vw").write_bytes(data)
        for threads in ("1", "2"):
            proc = run_cli(["-p", "s.p", "--quiet", "--threads", threads], tmp_path, stdin=data)
            ref = run_cli(["-d", "f.vw", "-p", "f.p", "--quiet", "--threads", threads], tmp_path)
            assert proc.returncode == ref.returncode == 0
            assert (tmp_path / "s.p").read_bytes() == (tmp_path / "f.p").read_bytes(), (data, threads)
            assert len((tmp_path / "s.p").read_bytes().splitlines()) == n, (data, threads)


def test_ope_reads_a_gzip_log_from_a_pipe(tmp_path):
    # wabbit ope -d: the same stream handling (it opened the path twice: a pipe lost its first bytes)
    import random

    r = random.Random(0)
    events = []
    for i in range(200):
        chosen = r.randrange(3)
        events.append(
            f"shared |u u{i % 5}\n"
            + "".join((f"{k}:{r.random():.2f}:0.33 " if k == chosen else "") + f"|a ad{k}\n" for k in range(3))
        )
    log = tmp_path / "log.ldf"
    log.write_text("\n".join(events))
    proc = run_cli(["--cb_explore_adf", "-d", str(log), "-f", "pol", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    from_file = run_cli(["ope", "-i", "pol", "-d", str(log)], tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    piped = run_cli(["ope", "-i", "pol", "-d", "/dev/stdin"], tmp_path, stdin=gzip.compress(log.read_bytes()))
    assert piped.returncode == 0, piped.stderr
    # the same report, but for the name of the log on its first line
    assert piped.stdout.splitlines()[1:] == from_file.stdout.splitlines()[1:]
    assert b"dr " in piped.stdout

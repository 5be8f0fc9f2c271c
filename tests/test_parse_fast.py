"""The text reader's fast path against its general reader.

Plain lines ("label |ns name name:value ...") are read by a fast path; anything else falls back to
the general reader, which words the errors. The two must agree on every line: same status, error,
label, weight, base, tag, and the same features (slot, index, value) bit for bit. The general reader
itself is checked against VW elsewhere (test_vw_details, test_vw_parity, the reference cases); this
file checks that the fast path adds nothing of its own, on hand-picked edge cases and on random
lines drawn from an alphabet full of the bytes that matter to the format.
"""

from __future__ import annotations

import random

import pytest

from wabbit import _core

EDGE_CASES = [
    b"1 |u a b c",
    b"-1 |u user=u13083 age=5 geo=de |a ad=a1025 cat=c4 adv=v80 price:0.37 |c hour=0 dev=mobile pos:1",
    b"|u a",
    b"| a b",
    b"|",
    b"",
    b"1",
    b"1 ",
    b"1|u a",  # the label touches the bar: a tag
    b"1 'tag|u a",
    b"1 2 |u a",  # importance weight
    b"1 2 0.5 |u a",
    b"1\t|u a",
    b"x\t1 |u a",
    b"1e3 |u a",
    b"+1 |u a",
    b"1.5 |u a:1e-3 b:-0.25 c:.5 d:5. e:-0 f:0",
    b"1 |u a:12345678 b:1234567 c:0.1234567 d:0.12345678",
    b"1 |u a:1.2.3",
    b"1 |u a:x",  # a string value
    b"1 |u a: b",
    b"1 |u :0.5 :2",  # anonymous features
    b"1 |u:2 a b:3",  # a namespace scale
    b"1 |u:x a",
    b"1 |u 123 0042 -5 7a",  # digit-only names hash to their value
    b"1 |u 12345678901234 99999999999:2 000000000000000 4294967296 4294967295 x y z w v u t s r q",
    b"1 |12 a |3x b",
    b"1 |u a\r",
    b"1 |u a\rb",
    b"1 |u a\x01b",
    b"1 |u \x01a",
    b"1 |u a\x7fb \xc3\xa9t\xc3\xa9",
    b"1 |u a  b\t\tc \t d",
    b"1 |u a |u b |a c |u d",
    b"1 |u " + b"n" * 40 + b" " + b"m" * 15 + b":2 " + b"k" * 16 + b" " + b"z" * 17,
    b"1 |u a|v b",
    b"1 |u a:1|v b",
    b"1 |u a: |v b",
    b"nan |u a",
    b"1 |u a:nan b:inf",
    b"1 |u a:99999999999999999999999999999999999999999",
    b"1 |u a:1e39",
    b"0 |u a:0.0000000",
    # one-digit labels and one-letter namespaces (read without the general loops)
    b"-0 |u a",
    b"5 |u a",
    b"-9 |a b",
    b"0 |",
    b"1 |u",
    b"1 |  a",
    b"-1 ||u a",
    b"7 |7 a",
    b"1 |\xc3 a",
    b"1 |\x7f a",
    b"1 |u\ta",
    b"1 |:a",
    b"1 |u:",
    b"-1 |\x01 a",
    b"1  |u a",
    b"-- |u a",
    b"-x |u a",
    b"1x |u a",
    b"1 x|u a",
    b"1 |",
    b"-1 |",
    b"1 |u |",
    b"1 |u  ",
]


def _boundary_cases() -> list[bytes]:
    """Lines whose tokens start, end or break at 16- and 64-byte steps from the line's start or its
    first '|', and short lines: the places where a reader working on blocks of bytes changes gear."""
    out = []
    for width in [1, 2, 3, 4, 5, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18, 31, 32, 33, 63, 64, 65]:
        name = b"n" * width
        digits = b"7" * min(width, 9)
        for prefix in [b"", b"1 ", b"-1 ", b"1234567 "]:
            for tail in [b"", b" ", b"\r", b" \r", b":2", b":0.5 ", b"|", b" |", b"\t"]:
                out.append(prefix + b"|u " + name + tail)
                out.append(prefix + b"|u " + digits + tail)
                out.append(prefix + b"|" + name + b" a" + tail)
        # a feature straddling every offset of a 64-byte block
        for pad in range(0, 70, 3):
            out.append(b"1 |u " + b"x" * pad + b" " + name + b":3 b")
            out.append(b"1 |u " + b"x" * pad + b"\t" + name + b" |v c:1")
    for n in range(0, 20):  # short lines, cut anywhere
        out.append(b"1 |u ab:1 c"[:n])
        out.append(b"|u a:0.25\tb"[:n])
    out += [
        b"1 |u a:",
        b"1 |u a::1",
        b"1 |u a:1:2",
        b"1 |u :",
        b"1 |u a :1",
        b"1 |u 0:1 00 01a",
        b"1 |u a |:1 b",
        b"1 |u a ||b c",
        b"1 ||u a",
        b"1 |u a \r",
        b"1 |u a\r\r",
        b"1 |u a |\r",
        b"1 | \t a",
        b"1 |u a\x00",
        b"1 |u\x01 a",
        b"1 |u a\x1fb",
    ]
    return out


@pytest.mark.parametrize("line", _boundary_cases())
def test_block_boundaries_agree(line: bytes) -> None:
    fast, general, _ = _both(line)
    assert fast == general


def _both(line: bytes):
    """(parse_vw_line's result, the general reader's result, whether the fast path read the line)."""
    fast = _core.parse_line(line, False)
    return fast[:7], _core.parse_line(line, True)[:7], fast[7]


@pytest.mark.parametrize("line", EDGE_CASES)
def test_edge_cases_agree(line: bytes) -> None:
    fast, general, _ = _both(line)
    assert fast == general


def test_fast_path_reads_plain_lines_and_declines_the_rest() -> None:
    assert _both(EDGE_CASES[1])[2]
    assert _both(b"1 |u a:0.5 |c 12 b\r")[2]
    for line in [
        b"1|u a",
        b"1 2 |u a",
        b"1 |u:2 a",
        b"1 |u a:x",
        b"1 |u a:1e3",
        b"1 |u :1",
        b"1 |u a\x01b",
        b"1 |u a\rb",
    ]:
        assert not _both(line)[2], line


def test_plain_line_is_read_as_vw_reads_it() -> None:
    # An independent check of one plain line: hashes from the hashing module (checked against VW),
    # values by hand.
    status, error, label, weight, base, tag, feats, fast = _core.parse_line(b"-1 |u a=1 7 x:0.25 |c y:-2", False)
    assert fast
    assert (status, error, label, weight, base, tag) == ("example", b"", -1.0, 1.0, 0.0, b"")
    u, c = _core.hash_namespace("u"), _core.hash_namespace("c")
    assert feats == [
        (ord("u"), _core.hash_feature("a=1", u), 1.0),
        (ord("u"), (7 + u) & 0xFFFFFFFF, 1.0),
        (ord("u"), _core.hash_feature("x", u), 0.25),
        (ord("c"), _core.hash_feature("y", c), -2.0),
    ]


ALPHABET = [
    b"a",
    b"b",
    b"ab=",
    b"u",
    b"x1",
    b"7",
    b"42",
    b"0",
    b"-",
    b".",
    b"e",
    b"E",
    b"+",
    b":",
    b":",
    b"|",
    b"|",
    b" ",
    b" ",
    b" ",
    b"\t",
    b"\r",
    b"'",
    b"\x01",
    b"\x7f",
    b"\xc3\xa9",
    b"0.5",
    b"-1",
    b"1234567",
    b"12345678",
    b"nan",
    b"inf",
]


def _plain_line(rng: random.Random) -> bytes:
    """A line the fast path should read: names and numbers of the common forms only."""
    parts = [rng.choice([b"1", b"-1", b"0.5", b"", b"-0.25", b"1234567"])]
    for _ in range(rng.randint(0, 4)):
        parts.append(b" |" + rng.choice([b"", b"u", b"ab", b"u7", b"9"]))
        for _ in range(rng.randint(0, 6)):
            name = b"".join(
                rng.choice([b"a", b"b", b"x=", b"7", b"42", b"\xc3\xa9", b"_"]) for _ in range(rng.randint(1, 24))
            )
            if rng.random() < 0.4:
                name += b":" + rng.choice([b"0.25", b"-3", b"0", b"1234567", b"7.", b".5", b"-0.0001"])
            parts.append(rng.choice([b" ", b"  ", b"\t"]) + name)
    return b"".join(parts) + rng.choice([b"", b"", b" ", b"\r"])


def _random_line(rng: random.Random) -> bytes:
    if rng.random() < 0.3:
        return _plain_line(rng)
    if rng.random() < 0.6:
        # mostly plain structure, with random tokens: exercises the fast path's boundaries
        parts = [rng.choice([b"1", b"-1", b"0.5", b"", b"2 3", b"1 'tag", b"1e2"]), b" "]
        for _ in range(rng.randint(0, 4)):
            parts.append(b"|" + rng.choice([b"", b"u", b"ab", b"u:2", b"9"]))
            for _ in range(rng.randint(0, 6)):
                name = b"".join(rng.choice(ALPHABET[:12]) for _ in range(rng.randint(0, 20)))
                if rng.random() < 0.4:
                    name += b":" + rng.choice([b"0.25", b"-3", b"1.5e2", b"x", b"", b"0", b"12345678", b"7."])
                parts.append(rng.choice([b" ", b"  ", b"\t"]) + name)
        return b"".join(parts)
    return b"".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))


def test_random_lines_agree() -> None:
    rng = random.Random(20261122)
    seen = {"example": 0, "blank": 0, "error": 0, "fast": 0}
    for _ in range(30000):
        line = _random_line(rng)
        fast, general, took_fast = _both(line)
        assert fast == general, line
        seen[fast[0]] += 1
        seen["fast"] += took_fast
    # the generator reaches all three outcomes, and the fast path reads a good share of the lines,
    # so the comparison covers both the fast path and its fallbacks
    assert seen["blank"] > 100 and min(seen["example"], seen["error"], seen["fast"]) > 1000, seen


def test_long_digit_names_wrap_as_vw_does() -> None:
    # VW hashes a digits-only name to its value plus the namespace hash, in a 64-bit integer whose
    # low 32 bits become the index: check against Python's arithmetic, on the fast path's SIMD scan
    # (names followed by at least 16 bytes) and its scalar tail.
    line = b"1 |u 12345678901234 4294967296 x y z w v u t s r q p o n m 99999999999"
    status, _, _, _, _, _, feats, fast = _core.parse_line(line, False)
    assert status == "example" and fast
    u = _core.hash_namespace("u")
    assert feats[0][1] == (12345678901234 + u) % 2**32
    assert feats[1][1] == (4294967296 + u) % 2**32
    assert feats[-1][1] == (99999999999 + u) % 2**32


def test_many_features_then_a_fallback() -> None:
    # The fast path grows a namespace's columns while it reads; when it then gives up on the line
    # (here at a string value), the general reader must start from an empty example, not from the
    # features the fast path had written.
    for n in (15, 16, 17, 40, 1000):
        names = b" ".join(b"f%d" % k for k in range(n))
        for tail in (b"", b" s:text", b" t:1e3", b"\x01", b" |v w"):
            line = b"1 |u " + names + tail
            fast, general, _ = _both(line)
            assert fast == general, (n, tail)
            assert len(fast[6]) == n + (1 if tail in (b" s:text", b" t:1e3", b" |v w") else 0)


def test_names_of_every_length_hash_as_vw() -> None:
    # Names of 1..40 bytes, each in the middle of a line (the 16-byte scan, whose hash reads the
    # tail as one word) and at its end (the byte-at-a-time scan), against the hashing module.
    u = _core.hash_namespace("u")
    for n in range(1, 41):
        name = (b"abcdefghijklmnopqrstuvwxyz0123456789=_.-" * 2)[:n]
        for line in (b"1 |u " + name + b" padding_padding_padding", b"1 |u " + name, b"1 |u " + name + b":2 x"):
            status, _, _, _, _, _, feats, fast = _core.parse_line(line, False)
            assert status == "example" and fast, line
            assert feats[0][1] == _core.hash_feature(name.decode(), u), line
            assert feats == _core.parse_line(line, True)[6], line


@pytest.mark.parametrize(
    "value",
    [
        b"0",
        b"7",
        b"-7",
        b"0.5",
        b"-0.25",
        b".5",
        b"5.",
        b"1234567",
        b"123.4567",
        b"-.0001",
        b"12345678",
        b"1.2345678",
        b".",
        b"-",
        b"1.2.3",
        b"1e3",
        b"1|",
        b"0.0000000",
    ],
)
def test_values_before_and_without_a_stop_in_reach(value: bytes) -> None:
    # A value whose end the 16-byte scan sees (read without end checks) and one it does not (at the
    # end of the line, or after a long name): the same reading as the general reader's.
    for line in (
        b"1 |u a:" + value + b" b c d e f g",
        b"1 |u a:" + value,
        b"1 |u " + b"n" * 12 + b":" + value + b" b c d e f",
        b"1 |u a:" + value + b"\tb c d e f g",
        b"1 |u a:" + value + b"|v b c d e f g",
    ):
        fast, general, _ = _both(line)
        assert fast == general, line

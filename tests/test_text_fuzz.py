"""Random mutations of valid VW lines through the text path (issue 14's acceptance).

Byte flips (non-UTF-8 bytes, NUL), truncations, doubled separators, huge numbers, ':' and '|'
inserted, very long tokens, CR, tabs and newlines go through ``learn``, ``predict``, ``explain``
and ``learn_many``/``predict_many`` (bytes, a plain file, a gzip file, gzip bytes, cut gzip),
on 1 and 2 threads. The only exceptions allowed are the documented ones: ValueError (ParseError is
one) for a malformed example, OSError for cut gzip data with strict. No crash: the mutations run
in a child process, so a segfault fails the test with its seed instead of killing pytest. After
each run the model's weights must all be finite, and learn_many must return one prediction per
non-blank line (issue 14, item 10). Seeded and bounded: a few seconds.
"""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
import tempfile
import warnings

import pytest

VALID = [
    b"1 |a x y:2 |b z",
    b"-1 0.5 'tag|u user=u1 |a ad=3 pos:0.25",
    b"0 |f a:1.5 b:-2 c",
    b"|a x",
    b"2 1 0.5 |x:2 a b:3",
    b"1 |a s:text |b t:1e-3",
    b"0.5 tag2| :1 :2 x",
    b"1\t|a x\t y",
    b"-1 |a x:12345678 y:0.000001 |c w",
]
TOKENS = [
    b"\x00",
    b"\xff",
    b"\xe9",
    b"\xc3",
    b"\xc3\xa9",
    b"\xed\xa0\x80",
    b"\r",
    b"\t",
    b"\n",
    b"|",
    b":",
    b" ",
    b"||",
    b"::",
    b"| |",
    b"1e39",
    b"1e308",
    b"-1e38",
    b"3e20",
    b"1e-45",
    b"9" * 60,
    b"nan",
    b"inf",
    b"-",
    b"'",
    b"\x1f\x8b",
    b"x" * 5000,
    b":" * 100,
    b"\xef\xbb\xbf",
]


def mutate(rng: random.Random, line: bytes) -> bytes:
    b = bytearray(line)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(6)
        pos = rng.randint(0, len(b))
        if op == 0 and b:  # flip a byte to any value
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1:  # insert a troublesome token
            b[pos:pos] = rng.choice(TOKENS)
        elif op == 2:  # truncate
            del b[pos:]
        elif op == 3 and b:  # double a separator
            seps = [i for i, c in enumerate(b) if c in b" |:\t"]
            if seps:
                i = rng.choice(seps)
                b[i:i] = b[i : i + 1] * rng.randint(1, 4)
        elif op == 4 and b:  # delete a byte
            del b[rng.randrange(len(b))]
        else:  # a number made huge, tiny or odd
            b[pos:pos] = rng.choice(
                [b"1e38", b"-3.4e38", b"1e39", b"340282356779733661637539395458142568447", b"0x10", b"+1"]
            )
    return bytes(b)


def example_lines(data: bytes) -> int:
    """How many predictions learn_many gives for data: its non-blank lines (a line's one trailing
    CR and the first line's byte-order mark are not part of it)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    n = 0
    for k, line in enumerate(lines):
        if k == 0 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if line.endswith(b"\r"):
            line = line[:-1]
        n += bool(line)
    return n


def check_finite(m, what: str) -> None:
    import numpy as np

    _, w = m.weights()
    assert np.isfinite(w).all(), f"non-finite weights after {what}"
    p = m.predict("|a x y")
    assert np.isfinite(p), f"non-finite prediction after {what}"


def fuzz_single(seed: int, n: int) -> None:
    import wabbit

    rng = random.Random(seed)
    for args in ("", "-q ab --adaptive", "--loss_function logistic --ftrl", "--sgd -q ab"):
        m = wabbit.Model(args)
        for _ in range(n):
            line = mutate(rng, rng.choice(VALID))
            for call in (m.learn, m.predict, m.explain):
                for arg in (line, line.decode("latin-1"), line.decode("utf-8", "replace")):
                    try:
                        call(arg)
                    except ValueError:
                        pass
                    except Exception as e:  # anything else fails the run, with the input
                        raise AssertionError(f"{call.__name__}({arg!r}) raised {type(e).__name__}: {e}") from e
        check_finite(m, f"single examples with {args!r}")


def fuzz_batches(seed: int, batches: int, folder: str) -> None:
    import numpy as np

    import wabbit

    rng = random.Random(seed)
    for b in range(batches):
        lines = [
            mutate(rng, rng.choice(VALID)) if rng.random() < 0.5 else rng.choice(VALID)
            for _ in range(rng.randint(20, 400))
        ]
        data = b"\n".join(lines) + rng.choice([b"\n", b"", b"\r\n"])
        plain = os.path.join(folder, f"b{b}.vw")
        with open(plain, "wb") as f:
            f.write(data)
        packed = gzip.compress(data)
        zipped = os.path.join(folder, f"b{b}.vw.gz")
        with open(zipped, "wb") as f:
            f.write(packed)
        cut = os.path.join(folder, f"b{b}.cut.gz")
        with open(cut, "wb") as f:
            f.write(packed[: rng.randint(1, len(packed))])
        sources = [("bytes", data), ("file", plain), ("gzip file", zipped), ("gzip bytes", packed), ("cut gzip", cut)]
        for threads in (1, 2):
            for name, source in sources:
                m = wabbit.Model(rng.choice(["", "-q ab", "--loss_function logistic", "--ftrl"]))
                what = f"batch {b} ({name}, {threads} threads)"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        p = m.learn_many(source, strict=False, threads=threads)
                        if name != "cut gzip":
                            assert len(p) == example_lines(data), (
                                f"{what}: {len(p)} predictions for {example_lines(data)} lines"
                            )
                        q = m.predict_many(source, strict=False, threads=threads)
                        assert len(q) == len(p), what
                        assert np.isfinite(q[~np.isnan(q)]).all(), what
                    except Exception as e:
                        raise AssertionError(f"{what} raised {type(e).__name__}: {e}\ndata={data!r}") from e
                    try:  # strict: the first malformed line (or cut gzip) raises a documented error
                        wabbit.Model().learn_many(source, threads=threads)
                    except (ValueError, OSError):
                        pass
                    except Exception as e:
                        raise AssertionError(f"{what}, strict, raised {type(e).__name__}: {e}\ndata={data!r}") from e
                check_finite(m, what)


def main(seed: int) -> None:
    fuzz_single(seed, 150)
    with tempfile.TemporaryDirectory() as folder:
        fuzz_batches(seed, 6, folder)
    print("FUZZ OK")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_text_path_mutations(seed):
    import wabbit

    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(wabbit.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), str(seed)], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0 and "FUZZ OK" in proc.stdout, (
        f"seed {seed}: exit status {proc.returncode} (negative: killed by that signal)\n{proc.stderr[-4000:]}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))

"""Corners of VW's text format that VW reads with a warning or a quirk, against the installed VW.

- ``name:   text``: VW skips the blanks after the ``:`` and reads ``text`` as the string value
  (the feature ``name^text``), VW's suite case 206.
"""

from __future__ import annotations

import random
import warnings

import pytest

import vwcompare

wabbit = pytest.importorskip("wabbit")


def blank_value_lines(n: int, seed: int) -> list:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        feats = []
        for _ in range(rng.randint(1, 5)):
            name = f"n{rng.randrange(6)}"
            kind = rng.randrange(4)
            if kind == 0:
                feats.append(f"{name}:{' ' * rng.randint(1, 4)}v{rng.randrange(5)}")  # name:   text
            elif kind == 1:
                feats.append(f"{name}:\tw{rng.randrange(5)}")  # name:<tab>text
            elif kind == 2:
                feats.append(f"{name}:{rng.uniform(-1, 1):.3f}")
            else:
                feats.append(name)
        out.append(f"{rng.choice([0, 1])} |s {' '.join(feats)} |t x{rng.randrange(3)}")
    return out


def test_blanks_after_colon_read_the_text_value_as_vw_does():
    lines = blank_value_lines(300, seed=1)
    theirs = vwcompare.vw_progressive("", lines)
    m = wabbit.Model("")
    ours = [m.learn(line) for line in lines]
    assert ours == pytest.approx(theirs, abs=1e-4)


def test_blanks_after_colon_audit_name_is_name_caret_text():
    m = wabbit.Model("")
    names = sorted(c.name for c in m.explain("1 |s happiness:    true sadness:\tfalse"))
    assert names == ["Constant", "s^happiness^true", "s^sadness^false"]


# ------------------------------------------------------------------------------- stray NUL bytes
# A value followed by NUL bytes (a file padded with NULs, VW's suite case 193): VW keeps the value,
# ignores the rest of the line and warns (two "[warning] malformed example! ..." lines on stdout).


def nul_lines(n: int, seed: int) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        feats = [f"f{rng.randrange(12)}:{rng.uniform(-1, 1):.3f}" for _ in range(rng.randint(1, 4))]
        line = f"{rng.choice([0, 1])} |a {' '.join(feats)}"
        if i % 4 == 1:
            line += "\0" * rng.randint(1, 3)  # NULs at the end
        elif i % 4 == 2:
            line += "\0 g:1 |b h"  # NULs then more features: VW ignores them
        out.append(line)
    return out


def test_nul_after_value_model_learn_keeps_the_value_as_vw():
    lines = nul_lines(200, seed=2)
    theirs = vwcompare.vw_progressive("", lines)
    m = wabbit.Model("")
    ours = []
    for line in lines:
        if "\0" in line:
            with pytest.warns(UserWarning, match="NUL byte after a feature's value"):
                ours.append(m.learn(line))
        else:
            ours.append(m.learn(line))
    assert ours == pytest.approx(theirs, abs=1e-4)


def test_nul_ignores_the_rest_of_the_line():
    m = wabbit.Model("")
    with pytest.warns(UserWarning):
        a = m.predict("|a f1:0.5\0 f2:1 |b g")
    m.learn("1 |a f1:0.5 f2:1 |b g")
    with pytest.warns(UserWarning):
        assert m.predict("|a f1:0.5\0 f2:1 |b g") == m.predict("|a f1:0.5")
    assert a == 0.0


def test_nul_learn_many_on_a_file(tmp_path):
    lines = nul_lines(300, seed=3)
    path = tmp_path / "nul.dat"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    theirs = vwcompare.vw_progressive("", lines)
    m = wabbit.Model("")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = m.learn_many(str(path))  # strict (the default): the lines are read, not refused
    said = [str(w.message) for w in caught]
    assert said and said[0].startswith("line 2: ") and all("NUL byte after a feature's value" in w for w in said)
    assert list(ours) == pytest.approx(theirs, abs=1e-4)


def test_nul_cli_prints_vws_warnings_and_numbers(tmp_path, run_wabbit, run_vw):
    data = tmp_path / "nul.dat"
    data.write_bytes(("\n".join(nul_lines(120, seed=4)) + "\n").encode())
    got = {}
    for who, runner in (("wabbit", run_wabbit), ("vw", run_vw)):
        d = tmp_path / who
        d.mkdir()
        proc = runner(["-d", str(data), "-p", "p.txt"], d)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        got[who] = (proc, (d / "p.txt").read_text())
    (pw, tw), (pv, tv) = got["wabbit"], got["vw"]
    assert pv.stdout.count("[warning] malformed example!") == 2 * 60  # two per line with a NUL
    assert pw.stdout == pv.stdout
    assert not vwcompare.compare_outputs(tw, tv, "predictions")
    assert not vwcompare.compare_stderr(pw.stderr, pv.stderr), vwcompare.compare_stderr(pw.stderr, pv.stderr)
    assert "skipped" not in pw.stderr
    quiet = run_wabbit(["-d", str(data), "--quiet"], tmp_path)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_nul_cli_strict_stops_there_as_vws_strict_parse(tmp_path, run_wabbit):
    data = tmp_path / "nul.dat"
    data.write_bytes(b"1 |a x:1\n0 |a x:0.7\x00\n1 |a y\n")
    proc = run_wabbit(["-d", str(data), "--strict"], tmp_path)
    assert proc.returncode == 1 and "line 2: " in proc.stderr and "NUL byte" in proc.stderr, proc.stderr

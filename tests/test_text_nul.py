"""Corners of VW's text format that VW reads with a warning or a quirk, against the installed VW.

- ``name:   text``: VW skips the blanks after the ``:`` and reads ``text`` as the string value
  (the feature ``name^text``), VW's suite case 206.
"""

from __future__ import annotations

import random

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

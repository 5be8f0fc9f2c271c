"""Parsing VW's human-readable outputs: ``--readable_model`` / ``--invert_hash`` files and ``--audit``.

Readable model files start with a header that names the program and its version (``Version 9.11.9``,
``Checksum: ...``), then, with ``--save_resume`` (VW's default), a block of the online state
(``t 5``, ``sd::oec.weighted_labeled_examples 0`` ...), and then one line per non-zero weight:

    index:value [value ...]            (--readable_model)
    name:index:value [value ...]       (--invert_hash)

where the values are the weight alone (``--predict_only_model``, ``--sgd``) or the weight and the
optimizer's per-weight state (adaptive/normalized: 3 values; FTRL: 3 values).  The header ends with
the line ``:0`` or ``:1`` (VW's "resume" flag).  Only the feature lines are compared across programs,
as the reference README says.

``--audit`` prints, per example, the prediction (and tag) on one line and the features on the next,
which starts with a tab: ``\\tname:index:value:weight[@state]`` per feature.  ``python -m vowpalwabbit``
may print other things on stdout (warnings), so :func:`audit_lines` keeps only such line pairs.

Plain Python; no dependency on VW or wabbit.
"""

from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional, Tuple

import vwcompare

_RESUME_FLAG = re.compile(r"^:\d+$")
_INDEX = re.compile(r"^\d+$")


class WeightLine(NamedTuple):
    name: Optional[str]  # None in --readable_model files (no names)
    index: int
    values: Tuple[float, ...]


def feature_lines(text: str) -> List[str]:
    """The feature lines of a readable model file (header and online-state block dropped)."""
    lines = text.splitlines()
    ends = [i for i, line in enumerate(lines) if _RESUME_FLAG.match(line.strip())]
    assert ends, "no ':0'/':1' line ending the readable model's header:\n" + "\n".join(lines[:20])
    out = []
    for line in lines[ends[0] + 1 :]:
        if parse_weight_line(line) is not None:
            out.append(line.rstrip("\n"))
    return out


def parse_weight_line(line: str) -> Optional[WeightLine]:
    """``name:index:v1 v2 ...`` or ``index:v1 ...``; None for anything else (state lines)."""
    line = line.rstrip("\r\n")
    head, sep, values = line.rpartition(":")
    if not sep:
        return None
    vals = []
    for tok in values.split():
        v = vwcompare.parse_float(tok)
        if v is None:
            return None
        vals.append(v)
    if not vals:
        return None
    name, sep2, index = head.rpartition(":")
    if not _INDEX.match(index):
        return None
    return WeightLine(name if sep2 else None, int(index), tuple(vals))


def weights(text: str) -> Dict[int, WeightLine]:
    """Feature lines keyed by index (an index must not appear twice)."""
    out: Dict[int, WeightLine] = {}
    for line in feature_lines(text):
        w = parse_weight_line(line)
        assert w is not None
        assert w.index not in out, f"index {w.index} appears twice: {out[w.index]} and {w}"
        out[w.index] = w
    return out


def compare_weights(actual_text: str, expected_text: str, epsilon: float = vwcompare.EPSILON) -> List[str]:
    """Differences between two readable models' feature lines: the same indices (and names, for
    --invert_hash), the same number of values per line, values equal under VW's fuzzy rule."""
    act = weights(actual_text)
    exp = weights(expected_text)
    problems = []
    missing = sorted(set(exp) - set(act))
    extra = sorted(set(act) - set(exp))
    if missing:
        problems.append(f"{len(missing)} index(es) missing, e.g. {[exp[i] for i in missing[:5]]}")
    if extra:
        problems.append(f"{len(extra)} unexpected index(es), e.g. {[act[i] for i in extra[:5]]}")
    for i in sorted(set(act) & set(exp)):
        a, e = act[i], exp[i]
        if a.name != e.name:
            problems.append(f"index {i}: name {a.name!r}, expected {e.name!r}")
        if len(a.values) != len(e.values):
            problems.append(f"index {i}: {len(a.values)} values, expected {len(e.values)} ({a} vs {e})")
            continue
        if not all(vwcompare.floats_close(x, y, epsilon) for x, y in zip(a.values, e.values)):
            problems.append(f"index {i} ({e.name}): values {a.values}, expected {e.values}")
    return problems


# ---------------------------------------------------------------------------------------------
# --audit
# ---------------------------------------------------------------------------------------------


class AuditFeature(NamedTuple):
    name: str
    index: int
    value: float
    weight: float


def audit_lines(stdout: str) -> List[str]:
    """The audit output proper: each prediction line followed by its tab-led feature line."""
    lines = stdout.splitlines()
    out = []
    for i in range(len(lines) - 1):
        if lines[i + 1].startswith("\t") and not lines[i].startswith("\t"):
            out += [lines[i], lines[i + 1]]
    return out


def audit_examples(stdout: str) -> List[Tuple[str, List[AuditFeature]]]:
    """[(prediction line, [features])] from an audit stdout."""
    lines = audit_lines(stdout)
    out = []
    for pred_line, feat_line in zip(lines[0::2], lines[1::2]):
        feats = []
        for tok in feat_line.strip("\t").split("\t"):
            tok = tok.split("@", 1)[0]  # adaptive/normalized state after '@'
            name, index, value, weight = tok.rsplit(":", 3)
            feats.append(AuditFeature(name, int(index), float(value), float(weight)))
        out.append((pred_line, feats))
    return out

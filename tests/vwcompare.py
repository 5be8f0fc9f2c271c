"""Output comparison in the style of Vowpal Wabbit's own test runner.

VW's runner (test/run_tests.py, ``--fuzzy_compare``) compares an output with its reference
line by line after stripping each line: the number of lines must agree, each line is split into
tokens on runs of spaces, tabs, ``:``, ``,`` and ``@``, the number of tokens must agree, and
token pairs where both sides parse as floats are compared numerically; every other token must
match exactly.  Two numbers are equal when they differ by less than ``epsilon`` (1e-4 here) or,
when the reference number is larger than 1 in magnitude, when their ratio differs from 1 by less
than ``epsilon``.  This module re-implements that rule (plus sane handling of nan/inf, which the
original gets wrong for nan) and adds the stderr filtering this project uses: only the progress
table rows and the summary block of VW's stderr are compared.

Everything here is plain Python with no dependency on VW or wabbit so that it can be imported by
conftest.py and by the test modules.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

EPSILON = 1e-4

# Keys of VW's end-of-run summary that are compared ("finished run" block).
SUMMARY_KEYS = (
    "number of examples",
    "number of examples per pass",
    "passes used",
    "weighted example sum",
    "weighted label sum",
    "average loss",
    "best constant",
    "best constant's loss",
    "total feature number",
)

_TOKEN_SPLIT = re.compile(r"[ \t:,@]+")
_PROGRESS_HEADER = re.compile(r"^\s*average\s+since\b")


def parse_float(token: str) -> Optional[float]:
    """Return the float value of ``token`` or None when it is not a number.

    Python's float() is a little more permissive than needed (it accepts "1_0"); tokens with an
    underscore are therefore treated as text.
    """
    if "_" in token:
        return None
    try:
        return float(token)
    except ValueError:
        return None


def floats_close(actual: float, expected: float, epsilon: float = EPSILON) -> bool:
    """VW's fuzzy float rule: absolute tolerance, or ratio tolerance for |expected| > 1."""
    if math.isnan(actual) or math.isnan(expected):
        return math.isnan(actual) and math.isnan(expected)
    if math.isinf(actual) or math.isinf(expected):
        return actual == expected
    # VW's runner uses a strict "< epsilon".  We allow a hair more (one part in 1e9) so that a
    # difference of exactly one unit in the 4th decimal -- e.g. 0.2217 vs 0.2216 in the
    # progress table's 4-decimal label/predict columns, which is 1.00000000000001e-4 in binary
    # floating point -- counts as within 1e-4.  (VW 9.11.9 itself differs from its own
    # reference file by exactly that in case 36.)
    limit = epsilon * (1.0 + 1e-9)
    if abs(actual - expected) <= limit:
        return True
    if abs(expected) <= 1.0:
        return False
    return abs(actual / expected - 1.0) <= limit


def line_difference(actual: str, expected: str, epsilon: float = EPSILON) -> Optional[str]:
    """Compare one line token by token; return None if equal, else a reason."""
    # VW's runner drops "..." (used when long labels are shortened) before comparing.
    actual = actual.replace("...", "").strip()
    expected = expected.replace("...", "").strip()
    a_tokens = _TOKEN_SPLIT.split(actual)
    e_tokens = _TOKEN_SPLIT.split(expected)
    if len(a_tokens) != len(e_tokens):
        return f"different number of tokens ({len(a_tokens)} vs expected {len(e_tokens)})"
    for a_tok, e_tok in zip(a_tokens, e_tokens):
        a_val = parse_float(a_tok)
        e_val = parse_float(e_tok)
        if a_val is not None and e_val is not None:
            if not floats_close(a_val, e_val, epsilon):
                return f"numbers differ: {a_tok} vs expected {e_tok}"
        elif a_tok != e_tok:
            return f"tokens differ: {a_tok!r} vs expected {e_tok!r}"
    return None


def compare_lines(
    actual_lines: Sequence[str],
    expected_lines: Sequence[str],
    epsilon: float = EPSILON,
    what: str = "line",
) -> List[str]:
    """Compare two sequences of lines; returns a list of human-readable differences."""
    problems: List[str] = []
    if len(actual_lines) != len(expected_lines):
        problems.append(f"{what} count differs: got {len(actual_lines)}, expected {len(expected_lines)}")
    for i, (a, e) in enumerate(zip(actual_lines, expected_lines), start=1):
        reason = line_difference(a, e, epsilon)
        if reason is not None:
            problems.append(f"{what} {i}: {reason}\n    got:      {a.strip()}\n    expected: {e.strip()}")
    return problems


def _stripped_lines(text: str) -> List[str]:
    return [line.strip() for line in text.strip().splitlines()]


# --------------------------------------------------------------------------------------------
# stderr: progress table and summary block
# --------------------------------------------------------------------------------------------


def progress_rows(stderr_text: str) -> List[str]:
    """Rows of VW's progress table.

    The table starts with a two-line header (``average  since ...`` / ``loss     last ...``) and
    ends at the first blank line (or at ``finished run``).  Only the data rows are returned.
    """
    lines = stderr_text.splitlines()
    rows: List[str] = []
    i = 0
    while i < len(lines):
        if _PROGRESS_HEADER.match(lines[i]):
            i += 1
            # second header line ("loss     last   counter ...")
            if i < len(lines) and lines[i].strip().startswith("loss"):
                i += 1
            while i < len(lines) and lines[i].strip() and lines[i].strip() != "finished run":
                rows.append(lines[i].strip())
                i += 1
            continue
        i += 1
    return rows


def has_progress_header(stderr_text: str) -> bool:
    return any(_PROGRESS_HEADER.match(line) for line in stderr_text.splitlines())


def summary(stderr_text: str) -> Dict[str, str]:
    """The summary block as an ordered mapping key -> value text (e.g. "average loss" -> "0.5")."""
    result: Dict[str, str] = {}
    for line in stderr_text.splitlines():
        key, sep, value = line.strip().partition(" = ")
        if sep and key.strip() in SUMMARY_KEYS:
            result[key.strip()] = value.strip()
    return result


def summary_value(stderr_text: str, key: str) -> float:
    """Numeric value of one summary entry; raises AssertionError when absent or not numeric."""
    s = summary(stderr_text)
    assert key in s, f"{key!r} missing from stderr summary; got keys {list(s)}"
    token = s[key].split()[0] if s[key].split() else ""
    value = parse_float(token)
    assert value is not None, f"{key!r} is not numeric: {s[key]!r}"
    return value


def summary_problems(actual_stderr: str, expected_stderr: str) -> List[str]:
    """Differences between wabbit's and VW's summaries for a parity run: counts and sums as VW's
    runner compares them; average loss within 1e-4 relative (plus one unit of the 6th decimal VW
    prints)."""
    problems: List[str] = []
    act = summary(actual_stderr)
    exp = summary(expected_stderr)
    for key in ("number of examples", "weighted example sum", "weighted label sum", "total feature number"):
        if key not in act:
            problems.append(f"'{key}' missing from wabbit's summary")
        elif line_difference(act[key], exp[key]):
            problems.append(f"'{key}': wabbit {act[key]}, VW {exp[key]}")
    if "average loss" not in act:
        problems.append("'average loss' missing from wabbit's summary")
    else:
        a = summary_value(actual_stderr, "average loss")
        e = summary_value(expected_stderr, "average loss")
        if not math.isclose(a, e, rel_tol=1e-4, abs_tol=1.01e-6):
            problems.append(
                f"'average loss': wabbit {a}, VW {e} (relative difference {abs(a - e) / max(abs(e), 1e-300):.3g})"
            )
    return problems


def compare_stderr(actual: str, expected: str, epsilon: float = EPSILON) -> List[str]:
    problems: List[str] = []
    exp_rows = progress_rows(expected)
    act_rows = progress_rows(actual)
    if has_progress_header(expected) and not has_progress_header(actual):
        problems.append("progress table header ('average  since ...') not found in stderr")
    problems += compare_lines(act_rows, exp_rows, epsilon, what="progress row")

    exp_sum = summary(expected)
    act_sum = summary(actual)
    missing = [k for k in exp_sum if k not in act_sum]
    extra = [k for k in act_sum if k not in exp_sum]
    if missing:
        problems.append(f"summary lines missing: {missing}")
    if extra:
        problems.append(f"unexpected summary lines: {extra}")
    for key in exp_sum:
        if key in act_sum:
            reason = line_difference(act_sum[key], exp_sum[key], epsilon)
            if reason is not None:
                problems.append(f"summary '{key}': {reason} (got {act_sum[key]!r}, expected {exp_sum[key]!r})")
    return problems


def compare_outputs(actual_text: str, expected_text: str, kind: str, epsilon: float = EPSILON) -> List[str]:
    """Compare an output with its reference the way VW's test runner does.

    ``kind`` is ``"stderr"`` (only progress rows + summary are compared) or anything else
    (e.g. ``"predictions"``): every line is compared.  Returns a list of differences; an empty
    list means the outputs match.
    """
    if kind == "stderr":
        return compare_stderr(actual_text, expected_text, epsilon)
    return compare_lines(_stripped_lines(actual_text), _stripped_lines(expected_text), epsilon)


def assert_outputs_match(
    actual_text: str, expected_text: str, kind: str, label: str = "", epsilon: float = EPSILON
) -> None:
    problems = compare_outputs(actual_text, expected_text, kind, epsilon)
    if problems:
        shown = "\n".join(problems[:15])
        more = f"\n... and {len(problems) - 15} more" if len(problems) > 15 else ""
        raise AssertionError(
            f"{label or kind} differs from reference ({len(problems)} difference(s)):\n{shown}{more}"
            + (f"\n--- actual {kind} ---\n{actual_text[-4000:]}" if kind == "stderr" else "")
        )


# --------------------------------------------------------------------------------------------
# predictions files ("prediction [tag]" per line)
# --------------------------------------------------------------------------------------------


def parse_predictions(text: str) -> List[tuple]:
    """Parse a simple-label ``-p`` file into (prediction, tag) pairs; tag is '' when absent."""
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 1)
        value = parse_float(parts[0])
        if value is None:
            raise AssertionError(f"predictions line {lineno} does not start with a number: {line!r}")
        out.append((value, parts[1] if len(parts) > 1 else ""))
    return out


# --------------------------------------------------------------------------------------------
# reference data and running the programs
# --------------------------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_ENV_VAR = "WABBIT_VW_REFERENCE"
DEFAULT_TIMEOUT = 120


def reference_dir_candidates() -> List[Path]:
    env = os.environ.get(REFERENCE_ENV_VAR)
    if env:
        return [Path(env)]
    return [REPO_ROOT.parent / "shared" / "vw-reference"]


def find_reference_dir() -> Optional[Path]:
    """The VW reference folder (env var WABBIT_VW_REFERENCE, else ../shared/vw-reference)."""
    for cand in reference_dir_candidates():
        if (cand / "cases.json").is_file():
            return cand.resolve()
    return None


def load_cases(reference_dir: Path) -> Dict[int, dict]:
    import json

    with open(reference_dir / "cases.json", encoding="utf-8") as fh:
        data = json.load(fh)
    cases = data["cases"] if isinstance(data, dict) else data
    return {int(c["vw_test_id"]): c for c in cases}


def case_args(case: dict) -> List[str]:
    args = case["args"]
    return shlex.split(args) if isinstance(args, str) else list(args)


def _run(cmd: List[str], cwd, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd,
        cwd=str(cwd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )


def run_wabbit(args: Sequence[str], cwd, timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess:
    """Run ``python -m wabbit ARGS`` in ``cwd`` (text mode, stdout/stderr captured)."""
    return _run([sys.executable, "-m", "wabbit", *map(str, args)], cwd, timeout)


def vw_args(args: Sequence[str]) -> List[str]:
    """VW's Python entry point refuses --onethread (it is single-threaded anyway): drop it."""
    return [str(a) for a in args if str(a) != "--onethread"]


def run_vw(args: Sequence[str], cwd, timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess:
    """Run Vowpal Wabbit itself (``python -m vowpalwabbit ARGS``) in ``cwd``."""
    return _run([sys.executable, "-m", "vowpalwabbit", *vw_args(args)], cwd, timeout)


def describe_run(proc: subprocess.CompletedProcess) -> str:
    cmd = " ".join(shlex.quote(str(c)) for c in proc.args)
    return (
        f"command: {cmd}\nexit code: {proc.returncode}\n"
        f"--- stderr (tail) ---\n{(proc.stderr or '')[-3000:]}\n"
        f"--- stdout (tail) ---\n{(proc.stdout or '')[-1000:]}"
    )


def vw_progressive(flags, lines):
    """VW's (pyvw's) prediction for each line, made while learning it (before its update)."""
    out, vw = vw_progressive_workspace(flags, lines)
    vw.finish()
    return out


def vw_progressive_workspace(flags, lines):
    """vw_progressive's predictions and the workspace, still open (to read its weights)."""
    import vowpalwabbit

    vw = vowpalwabbit.Workspace("--quiet " + flags)
    out = []
    for line in lines:
        ex = vw.example(line)
        vw.learn(ex)
        out.append(ex.get_simplelabel_prediction())
        vw.finish_example(ex)
    return out, vw

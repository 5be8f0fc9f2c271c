"""Run Vowpal Wabbit's own test suite (test/core.vwtest.json) against wabbit, and say what happens.

Every case of ``core.vwtest.json`` is put in one of three classes:

* ``flags``: a VW invocation of the case uses a flag wabbit does not declare, or that wabbit refuses
  (its parser or VW-rule checks raise, or the run stops at once with "... not supported");
* ``other``: something else is missing: a shell script or program other than VW (daemon tests, the
  cluster and active-learning drivers, ``diff`` of two models), an input file absent from the test tree,
  or a dependency (``depends_on``) that is itself not claimed;
* ``claimed``: wabbit accepts every flag: the case is run (``python -m wabbit ARGS``, after its
  dependencies, in order, in one temporary copy of the test tree) and every ``diff_files`` output is
  compared with VW's reference under VW's runner tolerance (tests/vwcompare.py): stderr on its progress
  rows and summary, stdout and -p files line by line, readable models (``--readable_model``,
  ``--invert_hash``) on their feature lines, ``.json`` files key by key. Numbers agree within 1e-3 (absolute,
  or relative above 1), the tolerance VW's CI runs this suite with (``run_tests.py -f --epsilon 0.001``);
  passes that hold only at 1e-3, not at run_tests.py's default 1e-4, are listed.

Simple shell cases (``printf ... | {VW} ...``, ``./negative-test.sh {VW} ...``, ``tail``/``rm``/``mv`` of the
outputs) are run with ``bash`` when every VW invocation in them is claimed.

Result of a claimed case: ``pass``, ``fail`` (the first difference), ``error`` (wabbit exited non-zero with
a message), ``crash`` (a traceback or a signal), ``timeout`` (per command, --timeout seconds) or
``dependency`` (a case it depends on did not run cleanly).

    PYTHONPATH=$PWD/python python tools/vw_suite.py --tests /path/to/vowpal_wabbit/test \\
        --json vw_suite.json --markdown vw_suite.md [--cases 1-50,97] [--timeout 60] [--classify-only]

The test tree may also be named by $WABBIT_VW_TESTS. It is VW's ``test/`` folder (core.vwtest.json,
train-sets/, test-sets/, pred-sets/, model-sets/ and the scripts), e.g. from a clone of
github.com/VowpalWabbit/vowpal_wabbit. The wabbit that runs is the one this script imports (its folder
goes first on the child's PYTHONPATH). docs/vw_test_suite.md has the results.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

_TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"
if str(_TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(_TESTS_DIR))

import vwcompare  # noqa: E402
import vwreadable  # noqa: E402

ENV_VAR = "WABBIT_VW_TESTS"
SUITE_FILE = "core.vwtest.json"
DEFAULT_TIMEOUT = 60.0
# VW's CI runs this suite with `run_tests.py --fuzzy_compare --epsilon 0.001` (.github/workflows): its
# reference files are only kept true to that; run_tests.py's own default, 1e-4, is also reported
DEFAULT_EPSILON = 1e-3
STRICT_EPSILON = vwcompare.EPSILON

# flags whose argument is a readable model (compared on feature lines, not the header naming the program)
READABLE_MODEL_FLAGS = ("--readable_model", "--invert_hash")
# commands a shell case may run besides VW (and what VW's runner substitutes for {VW})
SHELL_COMMANDS = {"echo", "printf", "tail", "rm", "mv", "cat", "./negative-test.sh"}
SHELL_OPERATORS = {"|", "&&", ";", "||"}
REDIRECTS = {">", ">>", "<", "2>", "2>&1"}
# Groups of flags that one piece of work would bring in (a reduction and its options): how many cases
# each unblocks on its own is reported. An entry ending in "*" stands for every flag with that prefix.
FAMILIES = {
    "--passes N, cache, holdout": ["--passes (refused)", "--cache_file", "--holdout_period", "--holdout_after"],
    "--oaa/--csoaa/--named_labels": ["--oaa", "--csoaa", "--named_labels", "--probabilities", "--indexing"],
    "--json/--dsjson": ["--json", "--dsjson", "--chain_hash"],
    "--ccb_explore_adf": ["--ccb_explore_adf"],
    "--ccb_explore_adf and --json/--dsjson": ["--ccb_explore_adf", "--json", "--dsjson", "--chain_hash"],
    "--cover": ["--cover"],
    "--ngram/--skips": ["--ngram", "--skips"],
    "--search (learning to search)": ["--search*"],
    "--csoaa_ldf/--wap_ldf": ["--csoaa_ldf", "--wap_ldf", "--ldf_override"],
    "--bfgs (with passes and cache)": ["--bfgs", "--mem", "--conjugate_gradient", "--termination"]
    + ["--passes (refused)", "--cache_file", "--holdout_period", "--holdout_after"],
    "--lda": ["--lda*", "--minibatch", "--math-mode"],
    "--coin": ["--coin"],
    "--cbify": ["--cbify"],
    "--automl": ["--automl*", "--aml_predict_only_model", "--oracle_type", "--default_lease", "--max_live_configs"],
    "--audit with bandits (refused)": ["--audit (refused)"],
    "weight initialisation": ["--initial_weight", "--random_weights", "--normal_weights", "--truncated_normal_weights"]
    + ["--sparse_weights"],
    "--cb_force_legacy": ["--cb_force_legacy"],
    "--extra_metrics": ["--extra_metrics"],
}
# what a refusal at run time looks like (wabbit: error: --passes other than 1 is not supported yet)
_REFUSAL = re.compile(r"wabbit: error: (.*(?:not supported|unsupported|not available).*)")


# ---------------------------------------------------------------------------------------------
# wabbit's flags
# ---------------------------------------------------------------------------------------------


def _wabbit_flags() -> Dict[str, Any]:
    from wabbit.options import FLAGS

    return {name: f for f in FLAGS for name in f.names}


def _is_number(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def unknown_flags(args: Sequence[str], flags: Optional[Dict[str, Any]] = None) -> List[str]:
    """The flags in ``args`` that wabbit does not declare (all of them, not only the first);
    a positional argument shows as ``<positional>``."""
    flags = _wabbit_flags() if flags is None else flags
    out: List[str] = []
    i = 0
    args = list(args)
    while i < len(args):
        tok = args[i]
        i += 1
        if not tok.startswith("-") or tok == "-" or _is_number(tok):
            out.append("<positional>")
            continue
        name, has_value = (tok.split("=", 1)[0], True) if tok.startswith("--") and "=" in tok else (tok, False)
        flag = flags.get(name)
        if flag is None and not tok.startswith("--") and len(tok) > 2:
            glued = flags.get(tok[:2])  # -b24, -qab
            if glued is not None and glued.kind != "bool":
                continue
        if flag is None:
            if name not in out:
                out.append(name)
            # an unknown flag's value: the next token unless it looks like a flag
            if not has_value and i < len(args) and (not args[i].startswith("-") or _is_number(args[i])):
                i += 1
            continue
        if flag.kind != "bool" and not has_value:
            i += 1
    return out


def refusal(args: Sequence[str]) -> Optional[str]:
    """Why wabbit's parser or its VW-rule checks refuse ``args`` (None when they accept them)."""
    from wabbit.options import OptionError, parse_args

    try:
        opts = parse_args(list(args))
        opts.core_config()
        opts.cb_config()
        opts.progress_schedule()
        opts.drift_config()
    except (OptionError, ValueError) as e:
        return str(e)
    return None


# ---------------------------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------------------------


def find_tests_dir(given: Optional[str] = None) -> Optional[Path]:
    """VW's test/ folder: the argument, else $WABBIT_VW_TESTS; None when neither holds core.vwtest.json."""
    for cand in (given, os.environ.get(ENV_VAR)):
        if cand and (Path(cand) / SUITE_FILE).is_file():
            return Path(cand).resolve()
    return None


def load_suite(tests_dir: Path) -> Dict[int, dict]:
    with open(tests_dir / SUITE_FILE, encoding="utf-8") as fh:
        return {int(c["id"]): c for c in json.load(fh)}


def shell_invocations(command: str) -> Tuple[List[List[str]], Optional[str]]:
    """The VW invocations of a ``bash_command`` (the words after each ``{VW}``), or a reason why the
    command needs more than VW and a few file utilities."""
    try:
        lex = shlex.shlex(command, posix=True, punctuation_chars="|&;<>")
        lex.whitespace_split = True
        words = list(lex)
    except ValueError as e:
        return [], f"shell syntax: {e}"
    invocations: List[List[str]] = []
    segment: List[str] = []
    segments: List[List[str]] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in SHELL_OPERATORS:
            segments.append(segment)
            segment = []
        elif w in REDIRECTS:
            i += 1  # the file name
        else:
            segment.append(w)
        i += 1
    segments.append(segment)
    for seg in segments:
        if not seg:
            continue
        head = seg[0]
        if head == "{VW}":
            invocations.append(seg[1:])
        elif head == "./negative-test.sh" and seg[1:2] == ["{VW}"]:
            invocations.append(seg[2:])
        elif head not in SHELL_COMMANDS:
            return [], f"runs {head}" + (f" {seg[1]}" if head.startswith("python") and len(seg) > 1 else "")
        elif any("{" in w for w in seg):
            return [], f"{head} with {{VW}} inside"
    return invocations, None


def case_invocations(case: dict) -> Tuple[List[List[str]], Optional[str]]:
    if "vw_command" in case:
        return [shlex.split(case["vw_command"])], None
    if "bash_command" in case:
        return shell_invocations(case["bash_command"])
    return [], "neither vw_command nor bash_command"


def dependency_order(case_id: int, suite: Dict[int, dict]) -> List[int]:
    """Transitive ``depends_on`` of a case, in the order they must run (the case itself excluded)."""
    order: List[int] = []

    def visit(cid: int, stack: Tuple[int, ...]) -> None:
        if cid in stack:
            raise ValueError(f"dependency cycle through case {cid}")
        for dep in suite[cid].get("depends_on", []):
            visit(int(dep), stack + (cid,))
            if int(dep) not in order:
                order.append(int(dep))

    visit(case_id, ())
    return order


def classify(suite: Dict[int, dict], tests_dir: Path) -> Dict[int, dict]:
    """Each case's class (``flags``, ``other`` or ``claimed``), the reason, and its unknown flags
    (its own and its dependencies', for ranking what blocks the most cases)."""
    flags = _wabbit_flags()
    own: Dict[int, dict] = {}
    for cid, case in suite.items():
        invocations, why_not = case_invocations(case)
        entry: Dict[str, Any] = {"unknown": [], "refused": None, "other": why_not}
        for args in invocations:
            for name in unknown_flags(args, flags):
                if name not in entry["unknown"]:
                    entry["unknown"].append(name)
            # a negative test expects VW to refuse: wabbit refusing too is no reason to skip it
            if not entry["unknown"] and entry["refused"] is None and not _negative(case):
                entry["refused"] = refusal(args)
        if entry["other"] is None:
            missing = [
                f
                for f in case.get("input_files", [])
                if not (tests_dir / f).exists() and not _made_by_dependency(f, cid, suite)
            ]
            if missing:
                entry["other"] = f"input missing from the test tree: {', '.join(missing)}"
        own[cid] = entry
    out: Dict[int, dict] = {}
    for cid in sorted(suite):
        deps = dependency_order(cid, suite)
        e = own[cid]
        blockers = list(e["unknown"])
        for d in deps:
            blockers += [f for f in own[d]["unknown"] if f not in blockers]
            if own[d]["refused"] and _refused_flag(own[d]["refused"]) not in blockers:
                blockers.append(_refused_flag(own[d]["refused"]))
        if e["unknown"]:
            cls, reason = "flags", "unknown flag(s): " + " ".join(e["unknown"])
        elif e["refused"]:
            cls, reason = "flags", f"refused: {e['refused']}"
            blockers.append(_refused_flag(e["refused"]))
        elif e["other"]:
            cls, reason = "other", e["other"]
        else:
            bad = [d for d in deps if own[d]["unknown"] or own[d]["refused"] or own[d]["other"]]
            if bad:
                cls, reason = "other", f"depends on case {bad[0]}, not claimed"
            else:
                cls, reason = "claimed", ""
        out[cid] = {"class": cls, "reason": reason, "blockers": blockers, "depends_on": deps}
    return out


def _negative(case: dict) -> bool:
    return "negative-test.sh" in case.get("bash_command", "")


def _made_by_dependency(path: str, case_id: int, suite: Dict[int, dict]) -> bool:
    deps = dependency_order(case_id, suite)
    return bool(deps)  # VW's runner copies dependency outputs in: trust them to make it


def command_text(case: dict) -> str:
    return case.get("vw_command") or case.get("bash_command") or ""


# ---------------------------------------------------------------------------------------------
# running and comparing
# ---------------------------------------------------------------------------------------------


def _child_env() -> Dict[str, str]:
    import wabbit

    root = str(Path(wabbit.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


# the programs a case can be run with: wabbit, or (to tell a wabbit bug from a reference written by
# another VW version) the installed Vowpal Wabbit, whose Python entry point refuses --onethread
PROGRAMS = {"wabbit": "wabbit", "vw": "vowpalwabbit"}


def run_command(case: dict, workdir: Path, timeout: float, env: Dict[str, str], program: str = "wabbit") -> dict:
    """Run one case's command in ``workdir``: exit code, stdout, stderr, seconds (or a timeout)."""
    module = PROGRAMS[program]
    if "vw_command" in case:
        args = shlex.split(case["vw_command"])
        if program == "vw":
            args = vwcompare.vw_args(args)
        cmd: Any = [sys.executable, "-m", module, *args]
        shell = False
    else:
        text = case["bash_command"]
        if program == "vw":
            text = text.replace(" --onethread", "")
        cmd = text.replace("{VW}", f"{shlex.quote(sys.executable)} -m {module}")
        shell = True
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            cwd=str(workdir),
            shell=shell,
            executable="/bin/bash" if shell else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired as e:
        return {
            "code": None,
            "stdout": _text(e.stdout),
            "stderr": _text(e.stderr),
            "seconds": time.monotonic() - start,
        }
    return {
        "code": proc.returncode,
        "stdout": _text(proc.stdout),
        "stderr": _text(proc.stderr),
        "seconds": time.monotonic() - start,
    }


def _text(data: Optional[bytes]) -> str:
    return data.decode("utf-8", "ignore") if data else ""


def readable_outputs(case: dict) -> set:
    out = set()
    for args in case_invocations(case)[0]:
        out |= {args[i + 1] for i, a in enumerate(args[:-1]) if a in READABLE_MODEL_FLAGS}
    return out


def json_differences(actual: Any, expected: Any, where: str = "", epsilon: float = DEFAULT_EPSILON) -> List[str]:
    """VW's runner's rule for .json outputs: the same keys, numbers within 1e-4, the rest equal."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = [f"{where}{k}: missing" for k in expected if k not in actual]
        problems += [f"{where}{k}: unexpected" for k in actual if k not in expected]
        for k in expected:
            if k in actual:
                problems += json_differences(actual[k], expected[k], f"{where}{k}.", epsilon)
        return problems
    both_numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (actual, expected))
    if both_numbers:
        if math.isclose(actual, expected, abs_tol=epsilon, rel_tol=0.0):
            return []
        return [f"{where.rstrip('.')}: {actual} vs expected {expected}"]
    return [] if actual == expected else [f"{where.rstrip('.')}: {actual!r} vs expected {expected!r}"]


def compare_case(case: dict, run: dict, tests_dir: Path, workdir: Path, epsilon: float = DEFAULT_EPSILON) -> List[str]:
    """Every difference between the run's outputs and the case's reference files."""
    problems: List[str] = []
    readable = readable_outputs(case)
    for output, ref_rel in case.get("diff_files", {}).items():
        ref_path = tests_dir / ref_rel
        if not ref_path.is_file():
            problems.append(f"{output}: reference {ref_rel} missing from the test tree")
            continue
        expected = ref_path.read_text(encoding="utf-8", errors="ignore")
        if output == "stderr":
            actual = run["stderr"]
        elif output == "stdout":
            actual = run["stdout"]
        else:
            path = workdir / output
            if not path.is_file():
                problems.append(f"{output}: not written")
                continue
            actual = path.read_text(encoding="utf-8", errors="ignore")
        try:
            if ref_rel.endswith(".json"):
                found = json_differences(
                    json.loads(actual) if actual.strip() else {},
                    json.loads(expected) if expected.strip() else {},
                    epsilon=epsilon,
                )
            elif output in readable:
                found = vwreadable.compare_weights(actual, expected, epsilon)
                found += vwcompare.compare_lines(
                    vwreadable.feature_lines(actual), vwreadable.feature_lines(expected), epsilon, what="feature line"
                )
            else:
                kind = "stderr" if output == "stderr" else "lines"
                found = vwcompare.compare_outputs(actual, expected, kind, epsilon)
        except (AssertionError, ValueError) as e:
            found = [f"cannot compare: {str(e).splitlines()[0] if str(e) else type(e).__name__}"]
        problems += [f"{output}: {p}" for p in found]
    return problems


def _failure_kind(run: dict) -> Tuple[str, str]:
    """(result, detail) of a run that did not exit 0."""
    if run["code"] is None:
        return "timeout", f"no exit within the time limit ({run['seconds']:.0f} s)"
    stderr = run["stderr"]
    refused = _REFUSAL.search(stderr)
    if refused:
        return "refused", refused.group(1).strip()
    if "Traceback (most recent call last)" in stderr or run["code"] < 0:
        last = [line for line in stderr.strip().splitlines() if line.strip()][-1:] or [f"signal {-run['code']}"]
        return "crash", f"exit {run['code']}: {last[0].strip()}"
    msg = [line for line in stderr.splitlines() if "wabbit: error:" in line]
    detail = msg[-1].strip() if msg else (stderr.strip().splitlines() or [""])[-1].strip()
    return "error", f"exit {run['code']}: {detail}"


def run_case(
    case_id: int,
    suite: Dict[int, dict],
    tests_dir: Path,
    timeout: float = DEFAULT_TIMEOUT,
    program: str = "wabbit",
    epsilon: float = DEFAULT_EPSILON,
) -> dict:
    """Run a claimed case (its dependencies first) in a temporary copy of the test tree with wabbit
    (or ``program="vw"``: the installed VW); returns {"result", "detail", "seconds", "differences",
    "strict"}: "strict" lists the first differences within run_tests.py's default 1e-4 (empty: none)."""
    env = _child_env()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"vwsuite{case_id}_") as tmp:
        workdir = Path(tmp) / "test"
        shutil.copytree(tests_dir, workdir, symlinks=True)
        (workdir / "models").mkdir(exist_ok=True)
        for dep in dependency_order(case_id, suite):
            dep_run = run_command(suite[dep], workdir, timeout, env, program)
            if dep_run["code"] != 0:
                kind, detail = _failure_kind(dep_run)
                return {
                    "result": "dependency",
                    "detail": f"case {dep} ({kind}): {detail}",
                    "seconds": time.monotonic() - start,
                    "differences": [],
                }
        run = run_command(suite[case_id], workdir, timeout, env, program)
        if run["code"] != 0:
            kind, detail = _failure_kind(run)
            return {"result": kind, "detail": detail, "seconds": time.monotonic() - start, "differences": []}
        problems = compare_case(suite[case_id], run, tests_dir, workdir, epsilon)
        strict = compare_case(suite[case_id], run, tests_dir, workdir, min(epsilon, STRICT_EPSILON))
    seconds = time.monotonic() - start
    if problems:
        return {"result": "fail", "detail": problems[0], "seconds": seconds, "differences": problems[:20]}
    return {"result": "pass", "detail": "", "seconds": seconds, "differences": [], "strict": strict[:3]}


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------


def parse_id_list(text: str) -> List[int]:
    ids: List[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        ids += list(range(int(lo), int(hi or lo) + 1))
    return ids


def summarize(rows: List[dict]) -> dict:
    """Counts by class and result; unsupported flags ranked by the cases they block (alone or not)."""
    by_class = Counter(r["class"] for r in rows)
    by_result = Counter(r["result"] for r in rows if r["class"] == "claimed")
    strict_misses = [r["id"] for r in rows if r["result"] == "pass" and r.get("strict")]
    blocks: Counter = Counter()
    alone: Counter = Counter()
    for r in rows:
        if r["class"] == "claimed" or not r["blockers"]:
            continue
        for f in r["blockers"]:
            blocks[f] += 1
        if len(r["blockers"]) == 1:
            alone[r["blockers"][0]] += 1
    families = []
    for name, members in FAMILIES.items():
        unblocked = [
            r["id"] for r in rows if r["class"] != "claimed" and r["blockers"] and _in_family(r["blockers"], members)
        ]
        families.append([name, len(unblocked), unblocked])
    families.sort(key=lambda f: -f[1])
    sets = Counter(" ".join(sorted(r["blockers"])) for r in rows if r["class"] != "claimed" and r["blockers"])
    other = Counter(_reason_kind(r["reason"]) for r in rows if r["class"] == "other")
    refused = Counter(r["reason"] for r in rows if r["reason"].startswith("refused: "))
    return {
        "cases": len(rows),
        "by_class": dict(by_class),
        "claimed_results": dict(by_result),
        "pass_only_within_epsilon": strict_misses,
        "flags_blocking": [[f, n, alone.get(f, 0)] for f, n in blocks.most_common()],
        "families_unblocking": families,
        "blocker_sets": [[flags, n] for flags, n in sets.most_common(40)],
        "refusals": [[why, n] for why, n in refused.most_common()],
        "other_reasons": [[why, n] for why, n in other.most_common()],
    }


def _in_family(blockers: Sequence[str], members: Sequence[str]) -> bool:
    """Whether every blocker is one of the family's flags (a member ending in "*" is a prefix)."""
    return all(any(b == m or (m.endswith("*") and b.startswith(m[:-1])) for m in members) for b in blockers)


_REFUSED_DEPENDENCY = re.compile(r"case (\d+) \(refused\): (.*)")


def _refused_flag(message: str) -> str:
    """The flag a refusal names, marked as refused (``--passes (refused)``)."""
    if "VW model file version" in message:
        return "-i of a model from VW < 9 (refused)"
    m = re.search(r"(?<![\w-])(--?[A-Za-z_]+)", message)
    return f"{m.group(1) if m else message} (refused)"


def _reason_kind(reason: str) -> str:
    if reason.startswith("depends on case"):
        return "depends on a case not claimed"
    if reason.startswith("input missing"):
        return "input missing from the test tree"
    return reason


def markdown(rows: List[dict], summary: dict, header: str = "") -> str:
    out = [header] if header else []
    c = summary["by_class"]
    r = summary["claimed_results"]
    out.append(
        f"{summary['cases']} cases: {c.get('claimed', 0)} claimed "
        f"({', '.join(f'{k} {v}' for k, v in sorted(r.items()))}), "
        f"{c.get('flags', 0)} blocked by flags, {c.get('other', 0)} needing something else."
    )
    out += ["", "| id | class | result | seconds | command | detail |", "|---:|---|---|---:|---|---|"]
    for row in rows:
        detail = row["detail"] or row["reason"]
        if row.get("strict"):
            detail = f"within {summary.get('epsilon', DEFAULT_EPSILON):g} only; at 1e-4: {row['strict'][0]}"
        if row.get("vw_result"):
            detail += f" [installed VW: {row['vw_result']}{': ' + row['vw_detail'] if row['vw_detail'] else ''}]"
        cmd = row["command"] if len(row["command"]) <= 140 else row["command"][:137] + "..."
        secs = f"{row['seconds']:.1f}" if row["seconds"] is not None else ""
        out.append(f"| {row['id']} | {row['class']} | {row['result']} | {secs} | `{_md(cmd)}` | {_md(detail[:300])} |")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", help=f"VW's test/ folder (default: ${ENV_VAR})")
    ap.add_argument("--cases", help="only these case ids, e.g. 1-50,97")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per command (default 60)")
    ap.add_argument(
        "--epsilon",
        type=float,
        default=DEFAULT_EPSILON,
        help="float tolerance (default 1e-3, what VW's CI runs its suite with)",
    )
    ap.add_argument("--classify-only", action="store_true", help="classify without running anything")
    ap.add_argument("--json", help="write the table as JSON here")
    ap.add_argument("--markdown", help="write the table as Markdown here")
    ap.add_argument(
        "--check-vw",
        action="store_true",
        help="run the claimed cases that do not pass with the installed VW too (python -m vowpalwabbit): "
        "does VW itself reproduce the reference?",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="print each case as it ends")
    ns = ap.parse_args(argv)
    tests_dir = find_tests_dir(ns.tests)
    if tests_dir is None:
        print(
            f"vw_suite: no {SUITE_FILE} in --tests or ${ENV_VAR}; give VW's test/ folder "
            "(git clone https://github.com/VowpalWabbit/vowpal_wabbit; then --tests vowpal_wabbit/test)",
            file=sys.stderr,
        )
        return 2
    suite = load_suite(tests_dir)
    classes = classify(suite, tests_dir)
    wanted = parse_id_list(ns.cases) if ns.cases else sorted(suite)
    rows: List[dict] = []
    for cid in wanted:
        info = classes[cid]
        row = {
            "id": cid,
            "command": command_text(suite[cid]),
            "class": info["class"],
            "reason": info["reason"],
            "blockers": info["blockers"],
            "depends_on": info["depends_on"],
            "result": "unsupported" if info["class"] != "claimed" else "not run",
            "detail": "",
            "seconds": None,
            "differences": [],
        }
        if info["class"] == "claimed" and not ns.classify_only:
            row.update(run_case(cid, suite, tests_dir, ns.timeout, epsilon=ns.epsilon))
            refused = _REFUSED_DEPENDENCY.match(row["detail"]) if row["result"] == "dependency" else None
            if row["result"] == "refused":  # refused at run time: the flags are not supported after all
                row.update({"class": "flags", "reason": f"refused: {row['detail']}", "result": "unsupported"})
                row.update({"detail": "", "blockers": row["blockers"] + [_refused_flag(row["reason"])]})
            elif refused:  # so was a dependency's
                row.update({"class": "other", "reason": f"depends on case {refused.group(1)}, not claimed"})
                row.update({"result": "unsupported", "detail": ""})
                row["blockers"] = row["blockers"] + [_refused_flag(refused.group(2))]
            elif row["result"] != "pass" and ns.check_vw:
                vw = run_case(cid, suite, tests_dir, ns.timeout, program="vw", epsilon=ns.epsilon)
                row.update({"vw_result": vw["result"], "vw_detail": vw["detail"]})
        rows.append(row)
        if ns.verbose:
            print(f"{cid:4d} {row['class']:8s} {row['result']:11s} {row['detail'] or row['reason']}"[:200], flush=True)
    summary = summarize(rows)
    summary["epsilon"] = ns.epsilon
    import wabbit

    meta = {
        "tests_dir": str(tests_dir),
        "wabbit": str(Path(wabbit.__file__).resolve().parent),
        "wabbit_commit": _git_head(Path(wabbit.__file__).resolve().parent),
        "timeout": ns.timeout,
        "epsilon": ns.epsilon,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if ns.json:
        Path(ns.json).write_text(json.dumps({"meta": meta, "summary": summary, "cases": rows}, indent=1) + "\n")
    text = markdown(rows, summary, f"VW suite on wabbit {meta['wabbit_commit']} ({meta['date']})\n")
    if ns.markdown:
        Path(ns.markdown).write_text(text)
    c, r = summary["by_class"], summary["claimed_results"]
    print(f"{summary['cases']} cases: classes {dict(c)}; claimed results {dict(r)}")
    for f, n, alone in summary["flags_blocking"][:15]:
        print(f"  {f}: blocks {n} case(s), the only blocker of {alone}")
    return 0


def _git_head(where: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())

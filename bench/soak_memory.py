"""Leak checks of the Python API (issue 21): RSS over 10^6 learn/predict calls and 10^4 Model
constructions, in this process.

``calls``: ``--calls`` calls (default 10^6), round-robin over four models (default flags,
``-q ua``, ``--cb_explore_adf -q ua``, ``--oaa 3``): ``learn``/``predict`` of text lines,
of dicts (with ``label=``), of bandit events (text and dict forms), ``learn_many``/``predict_many``
batches of 32 lines (one call each), and one call in 100 a bad input that must raise wabbit's
error (ValueError, ParseError) without leaking. The examples are drawn from fixed vocabularies,
and every feature and u x a pair is learned once before the first sample (the weight tables'
pages count in RSS when first touched: memory the model needs, not a leak).

``models``: ``--models`` constructions (default 10^4) cycling over the option sets default,
``-q ua``, ``--cb_explore_adf`` and ``--oaa 3``; each learns and predicts two examples; one in 10 also
goes through ``to_bytes``/``Model.from_bytes``, one in 50 through ``save`` to a file and
``wabbit.load``, and the copies predict as the original does.

RSS (VmRSS of /proc/self/status) is sampled every ``--every`` calls (constructions). The first
``--warmup`` share (10%) is the warm-up. **Bounds** (exit status 1 when exceeded):

* the least-squares slope of RSS after the warm-up is below ``--calls_slope_kb`` KiB per 10^5
  calls (default 100 KiB: one byte a call) or ``--models_slope_kb`` KiB per 10^4 constructions
  (default 1024 KiB: 100 bytes a construction); judged only when the samples after the warm-up
  span at least that many calls (constructions): over a shorter run a single 4 KiB page would
  extrapolate to a slope (the short mode checks the growth only);
* the RSS at the end exceeds the largest warm-up sample by at most ``--growth_mb`` (default 2 MB)
  or 2%, whichever is larger.

    python bench/soak_memory.py calls  [--calls 1000000] [--json out.json]
    python bench/soak_memory.py models [--models 10000] [--json out.json]
    python bench/soak_memory.py all --short      # ~5 s: 20,000 calls and 300 models (smoke test)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from soak_common import fail_lines, loadavg, report, rss_kb, slope  # noqa: E402

OPTION_SETS = ["", "-q ua", "--cb_explore_adf -q ua", "--oaa 3"]


def text_line(rng: random.Random, label: bool = True) -> str:
    u = " ".join(f"u{rng.randrange(200)}:{rng.uniform(-1, 1):.2f}" for _ in range(rng.randint(1, 6)))
    head = f"{rng.choice(['1', '-1'])} " if label else ""
    return f"{head}|u {u} |a a{rng.randrange(50)}"


def dict_example(rng: random.Random) -> Dict[str, Dict[str, float]]:
    return {
        "u": {f"u{rng.randrange(200)}": rng.uniform(-1, 1) for _ in range(rng.randint(1, 6))},
        "a": {f"a{rng.randrange(50)}": 1.0},
    }


def cb_text(rng: random.Random, label: bool) -> str:
    k = rng.randint(2, 4)
    chosen = rng.randrange(k) if label else -1
    lines = [f"shared |u u{rng.randrange(200)} u{rng.randrange(200)}"]
    for i in range(k):
        lab = f"{i}:{rng.choice([0.0, 1.0])}:{1.0 / k:.4f} " if i == chosen else ""
        lines.append(f"{lab}|a a{rng.randrange(50)}")
    return "\n".join(lines)


def cb_dict(rng: random.Random) -> Tuple[Dict[str, Dict[str, float]], List[Dict[str, Dict[str, float]]]]:
    """An event as (shared, [actions]) dicts."""
    shared = {"u": {f"u{rng.randrange(200)}": 1.0}}
    return shared, [{"a": {f"a{rng.randrange(50)}": 1.0}} for _ in range(rng.randint(2, 4))]


BAD_INPUTS = ["abc |u x", "1 |u x:nan", "1 |u x:1e40", "1:2:3:4 |u", "1 |u x:0x1p", 3.5]


def make_call(kind: int, model: Any, rng: random.Random, batch: List[str]) -> Tuple[str, Callable[[], Any]]:
    """One API call on ``model`` (kind cycles through the mix)."""
    bandit = model.is_bandit
    multiclass = model.core.is_mc()
    if kind % 100 == 99:
        bad = rng.choice(BAD_INPUTS)
        return "bad", lambda: model.learn(bad)
    k = kind % 6
    if bandit:
        if k < 2:
            ev = cb_text(rng, label=k == 0)
            return (
                ("learn_cb_text", lambda: model.learn(ev)) if k == 0 else ("predict_cb_text", lambda: model.predict(ev))
            )
        if k < 4:
            evd = cb_dict(rng)
            lab = (rng.randrange(len(evd[1])), rng.choice([0.0, 1.0]), 0.5)
            if k == 2:
                return "learn_cb_dict", lambda: model.learn(evd, label=lab)
            return "predict_cb_dict", lambda: model.predict(evd)
        ev = cb_text(rng, label=False)
        return "predict_cb_text", lambda: model.predict(ev)
    if multiclass:
        line = f"{rng.randint(1, 3)} {text_line(rng, label=False)}"
        return ("learn_mc", lambda: model.learn(line)) if k % 2 == 0 else ("predict_mc", lambda: model.predict(line))
    if k == 0:
        line = text_line(rng)
        return "learn_text", lambda: model.learn(line)
    if k == 1:
        line = text_line(rng, label=False)
        return "predict_text", lambda: model.predict(line)
    if k == 2:
        d = dict_example(rng)
        y = rng.choice([1.0, -1.0])
        return "learn_dict", lambda: model.learn(d, label=y)
    if k == 3:
        d = dict_example(rng)
        return "predict_dict", lambda: model.predict(d)
    if k == 4:
        return "learn_many", lambda: model.learn_many(batch)
    return "predict_many", lambda: model.predict_many(batch)


def expected_errors() -> Tuple[Type[BaseException], ...]:
    import wabbit

    return (ValueError, TypeError, wabbit.ParseError)


def prime(model: Any) -> None:
    """Learn every feature and every u x a pair once: the weight table's pages that the calls
    will touch are touched now (they are memory the model needs, not a leak)."""
    for i in range(200):
        for j in range(50):
            if model.is_bandit:
                model.learn(f"shared |u u{i}\n0:1:0.5 |a a{j}\n|a a{(j + 1) % 50}")
            elif model.core.is_mc():
                model.learn(f"{1 + (i + j) % 3} |u u{i} |a a{j}")
            else:
                model.learn(f"{1 if (i + j) % 2 else -1} |u u{i} |a a{j}")


def soak_calls(n: int, every: int) -> Dict[str, Any]:
    import wabbit

    rng = random.Random(5)
    models = [wabbit.Model(o) for o in OPTION_SETS]
    for m in models:
        prime(m)
    batches = [[text_line(random.Random(s)) for _ in range(32)] for s in range(16)]
    errors = expected_errors()
    counts: Dict[str, int] = {}
    samples: List[Tuple[int, int]] = [(0, rss_kb())]
    t0 = time.perf_counter()
    for i in range(n):
        model = models[i % len(models)]
        kind, call = make_call(i // len(models), model, rng, batches[i % len(batches)])
        try:
            call()
        except errors:
            kind += "_raised"
        counts[kind] = counts.get(kind, 0) + 1
        if (i + 1) % every == 0:
            samples.append((i + 1, rss_kb()))
    return {"seconds": round(time.perf_counter() - t0, 1), "counts": dict(sorted(counts.items())), "samples": samples}


def soak_models(n: int, every: int) -> Dict[str, Any]:
    import numpy as np

    import wabbit

    rng = random.Random(9)
    counts: Dict[str, int] = {}
    samples: List[Tuple[int, int]] = [(0, rss_kb())]
    problems: List[str] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soak_models_") as tmp:
        path = os.path.join(tmp, "m.bin")
        for i in range(n):
            opts = OPTION_SETS[i % len(OPTION_SETS)]
            m = wabbit.Model(opts)
            if m.is_bandit:
                m.learn(cb_text(rng, True))
                probe: Any = cb_text(rng, False)
            elif m.core.is_mc():
                m.learn(f"2 {text_line(rng, False)}")
                probe = text_line(rng, False)
            else:
                m.learn(text_line(rng))
                m.learn(dict_example(rng), label=1.0)
                probe = text_line(rng, False)
            want = m.predict(probe)
            copies = []
            if i % 10 == 0:
                copies.append(("bytes", wabbit.Model.from_bytes(m.to_bytes())))
            if i % 50 == 0:
                m.save(path)
                copies.append(("file", wabbit.load(path)))
            for how, c in copies:
                counts[how] = counts.get(how, 0) + 1
                if not np.array_equal(np.asarray(c.predict(probe)), np.asarray(want)) and len(problems) < 10:
                    problems.append(
                        f"model {i} ({opts or 'default'}) through {how} predicts {c.predict(probe)} != {want}"
                    )
            counts[opts or "default"] = counts.get(opts or "default", 0) + 1
            del m, copies
            if (i + 1) % every == 0:
                samples.append((i + 1, rss_kb()))
    gc.collect()
    return {"seconds": round(time.perf_counter() - t0, 1), "counts": counts, "samples": samples, "problems": problems}


def judge(res: Dict[str, Any], per: int, slope_kb: float, growth_mb: float, warmup: float, what: str) -> List[str]:
    samples = res["samples"]
    n = samples[-1][0]
    warm = [s for s in samples if s[0] <= warmup * n]
    later = [s for s in samples if s[0] > warmup * n]
    warm_max = max(s[1] for s in warm)
    s_kb = slope([s[0] for s in later], [s[1] for s in later]) * per
    growth = samples[-1][1] - warm_max
    res["rss_mb"] = {
        "start": round(samples[0][1] / 1024, 1),
        "warm_max": round(warm_max / 1024, 1),
        "peak": round(max(s[1] for s in samples) / 1024, 1),
        "end": round(samples[-1][1] / 1024, 1),
    }
    res["slope_kb_per_unit"] = round(s_kb, 1)
    res["unit"] = f"{per} {what}"
    res["growth_after_warmup_kb"] = growth
    out = []
    judged = later and later[-1][0] - later[0][0] >= per  # over a shorter span one page is a slope
    res["slope_judged"] = bool(judged)
    if judged and s_kb > slope_kb:
        out.append(f"{what}: RSS slope {s_kb:.0f} KiB per {per} after the warm-up (bound {slope_kb:.0f})")
    bound = max(growth_mb * 1024, 0.02 * warm_max)
    if growth > bound:
        out.append(f"{what}: RSS grew {growth} KiB after the warm-up (bound {bound:.0f} KiB)")
    return out + list(res.get("problems", []))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["calls", "models", "all"])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=0, help="sample RSS every N calls (default: n/100)")
    ap.add_argument("--warmup", type=float, default=0.1, help="share of the run that is warm-up")
    ap.add_argument("--calls_slope_kb", type=float, default=100.0, help="KiB per 10^5 calls after the warm-up")
    ap.add_argument("--models_slope_kb", type=float, default=1024.0, help="KiB per 10^4 constructions")
    ap.add_argument("--growth_mb", type=float, default=2.0)
    ap.add_argument("--short", action="store_true", help="20,000 calls and 300 constructions (smoke test)")
    ap.add_argument("--json", help="write every number here")
    a = ap.parse_args(argv)
    if a.short:
        a.calls, a.models = 20_000, 300
    result: Dict[str, Any] = {"loadavg_start": loadavg()}
    failures: List[str] = []
    if a.what in ("calls", "all"):
        r = soak_calls(a.calls, a.every or max(1, a.calls // 100))
        failures += judge(r, 100_000, a.calls_slope_kb, a.growth_mb, a.warmup, "calls")
        result["calls"] = r
    if a.what in ("models", "all"):
        r = soak_models(a.models, a.every or max(1, a.models // 100))
        failures += judge(r, 10_000, a.models_slope_kb, a.growth_mb, a.warmup, "constructions")
        result["models"] = r
    result["loadavg_end"] = loadavg()
    result["failures"] = failures
    report(result, a.json)
    brief = {
        k: ({kk: vv for kk, vv in v.items() if kk != "samples"} if isinstance(v, dict) else v)
        for k, v in result.items()
    }
    print(json.dumps(brief, indent=1))
    return fail_lines(failures)


if __name__ == "__main__":
    sys.exit(main())

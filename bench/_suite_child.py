"""One timed run for bench_suite.py, in a fresh process: ``python bench/_suite_child.py JSON``.

The parent starts this script once per tool, case and repeat, and reads its peak RSS from
``os.wait4``. Imports happen before the timed region; the region itself is ``time.perf_counter()``
around the model's construction and the learning pass (VW's ``Workspace(arg_list=["-d", ...])``
does both in its constructor, so wabbit's ``Model(args)`` is inside the region too). The result is printed
as one line ``RESULT {json}`` on stdout; a failure exits non-zero with the traceback on stderr, and
an unavailable feature is reported as ``{"unavailable": "why"}``.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from _suite_data import iter_lines, parse_line

Spec = Dict[str, Any]


def _threads_rejected(exc: BaseException) -> bool:
    return "--threads" in str(exc) or "threads" in str(exc).lower()


def _wabbit_args(args: str, threads: int | None) -> Tuple[str, str]:
    """(``args --threads N``, "") if this wabbit's option parser takes --threads, else (args, a note).

    Only the flags are parsed (``wabbit.options.parse_args``), so no weight table is allocated here.
    """
    if threads is None:
        return args, ""
    from wabbit.options import parse_args

    try:
        opts = parse_args(f"{args} --threads {threads}")
        run_time = [f for f in opts.run_time_flags() if "threads" in f]
        if run_time:  # a command-line-only flag: Model() would refuse it
            raise ValueError(f"{', '.join(run_time)} is a run-time flag that Model() refuses")
    except Exception as exc:  # OptionError (a ValueError) from a wabbit without --threads
        if not _threads_rejected(exc):
            raise
        print(f"--threads rejected: {exc}", file=sys.stderr)
        return args, threads_note(threads)
    return f"{args} --threads {threads}", ""


def threads_note(threads: int) -> str:
    """The row's note when this wabbit rejects --threads (the same text for the Python and CLI runs)."""
    return (
        "--threads not accepted: ran without it" if threads == 1 else f"--threads {threads} not accepted: ran 1 thread"
    )


def run_wabbit(spec: Spec) -> Dict[str, Any]:
    import wabbit

    args, note = _wabbit_args(spec["args"], spec.get("threads"))
    with warnings.catch_warnings(record=True) as caught:  # e.g. "--threads 2 runs on one thread because ..."
        warnings.simplefilter("always")
        start = time.perf_counter()  # like VW's constructor: the weight table's allocation is timed too
        model = wabbit.Model(args)
        preds = model.learn_many(spec["data"])
        seconds = time.perf_counter() - start
    note = "; ".join([note] * bool(note) + _warning_notes(caught))
    return {"seconds": seconds, "examples": int(len(preds)), "loss": model.average_loss, "note": note}


def run_vw(spec: Spec) -> Dict[str, Any]:
    import vowpalwabbit

    argv = ["-d", spec["data"], "--quiet", *spec["args"]]
    start = time.perf_counter()
    ws = vowpalwabbit.Workspace(arg_list=argv)  # the whole pass over -d runs in the constructor
    seconds = time.perf_counter() - start
    n = ws.get_weighted_examples()
    loss = ws.get_sum_loss() / n if n else float("nan")
    ws.finish()
    return {"seconds": seconds, "examples": int(n), "loss": loss, "note": ""}


def _warning_notes(caught: List[warnings.WarningMessage]) -> List[str]:
    """The distinct warnings a run raised, shortened for a table cell."""
    return list(dict.fromkeys(f"warning: {str(w.message)[:160]}" for w in caught))


def _log_loss(y: int, p: float) -> float:
    """log(1 + exp(-y s)) for the probability p = sigmoid(s) of label 1 (p clipped to 1e-15)."""
    p = min(max(p, 1e-15), 1.0 - 1e-15)
    return -math.log(p if y > 0 else 1.0 - p)


def run_river(spec: Spec) -> Dict[str, Any]:
    from river import linear_model

    start = time.perf_counter()
    model = linear_model.LogisticRegression()  # river's defaults: optim.SGD(0.01), intercept_lr 0.01
    total, n = 0.0, 0
    for line in iter_lines(spec["data"]):
        y, x = parse_line(line)
        total += _log_loss(y, model.predict_proba_one(x).get(True, 0.5))
        model.learn_one(x, y > 0)
        n += 1
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "examples": n, "loss": total / n if n else float("nan"), "note": ""}


def run_sklearn(spec: Spec) -> Dict[str, Any]:
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.linear_model import SGDClassifier

    classes = np.array([-1, 1])
    batch = int(spec["batch"])
    start = time.perf_counter()
    hasher = FeatureHasher(n_features=2 ** spec["bits"], input_type="dict", alternate_sign=False)
    clf = SGDClassifier(loss="log_loss", **spec["sgd"])
    total, n, fitted = 0.0, 0, False
    lines = iter_lines(spec["data"])
    while True:
        chunk = [parse_line(line) for _, line in zip(range(batch), lines)]
        if not chunk:
            break
        y = np.fromiter((c[0] for c in chunk), dtype=np.float64, count=len(chunk))
        X = hasher.transform(c[1] for c in chunk)
        score = clf.decision_function(X) if fitted else np.zeros(len(y))  # before any fit: p = 0.5
        total += float(np.logaddexp(0.0, -y * score).sum())
        clf.partial_fit(X, y, classes=classes)
        fitted = True
        n += len(chunk)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "examples": n, "loss": total / n if n else float("nan"), "note": ""}


def run_latency(spec: Spec) -> Dict[str, Any]:
    """Per-call time of predict(line) on one trained model, each call timed on its own."""
    test = [line.partition("|")[2].rstrip("\n") for line in iter_lines(spec["lines"])]
    test = ["|" + t for t in test]  # unlabelled, as at serving time
    if spec["tool"] == "wabbit":
        import wabbit

        model = wabbit.Model(spec["args"])
        model.learn_many(spec["train"])
        predict: Callable[[str], float] = model.predict
    else:
        import vowpalwabbit

        ws = vowpalwabbit.Workspace(arg_list=["--quiet", *spec["args"].split()])
        for line in iter_lines(spec["train"]):
            ws.learn(line.rstrip("\n"))
        predict = ws.predict
    clock = time.perf_counter_ns
    k = len(test)
    for i in range(spec["warmup"]):
        predict(test[i % k])
    calls = spec["calls"]
    ns = np.empty(calls, dtype=np.int64)
    for i in range(calls):
        line = test[i % k]
        t0 = clock()
        predict(line)
        ns[i] = clock() - t0
    empty = np.empty(10_000, dtype=np.int64)  # the timer's own cost, included in every call above
    for i in range(len(empty)):
        t0 = clock()
        empty[i] = clock() - t0
    sample = [float(predict(t)) for t in test[:200]]
    return {
        "median_us": float(np.median(ns)) / 1e3,
        "p99_us": float(np.percentile(ns, 99)) / 1e3,
        "mean_us": float(ns.mean()) / 1e3,
        "timer_us": float(np.median(empty)) / 1e3,
        "calls": calls,
        "sample": sample,
    }


def run_csr(spec: Spec) -> Dict[str, Any]:
    """learn_many / predict_many on pre-hashed CSR arrays (indices, values, offsets)."""
    import wabbit

    arrays = np.load(spec["npz"])
    indices, values, offsets, labels = (
        np.ascontiguousarray(arrays[k]) for k in ("indices", "values", "offsets", "labels")
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()  # Model() inside, as in the text runs
        model = wabbit.Model(spec["args"])
        try:
            preds = model.learn_many((indices, values, offsets), labels=labels)
        except (TypeError, ValueError, NotImplementedError, AttributeError) as exc:
            return {
                "unavailable": f"learn_many((indices, values, offsets), labels=labels) raised {type(exc).__name__}: {exc}"
            }
        learn_s = time.perf_counter() - start
    out: Dict[str, Any] = {
        "learn_seconds": learn_s,
        "loss": model.average_loss,
        "rows": int(len(offsets) - 1),
        "warnings": _warning_notes(caught),
    }
    out["learn_returned"] = (
        f"{type(preds).__name__} {getattr(preds, 'dtype', '')} len {len(preds) if hasattr(preds, '__len__') else '?'}"
    )
    start = time.perf_counter()
    try:
        p = model.predict_many((indices, values, offsets))
    except (TypeError, ValueError, NotImplementedError, AttributeError) as exc:
        out["predict_unavailable"] = f"predict_many((indices, values, offsets)) raised {type(exc).__name__}: {exc}"
        return out
    out["predict_seconds"] = time.perf_counter() - start
    p = np.asarray(p)
    out["predict_returned"] = f"{type(p).__name__} {p.dtype} len {len(p)}"
    out["predict_loss"] = float(np.logaddexp(0.0, -labels.astype(np.float64) * p.astype(np.float64)).mean())
    return out


RUNNERS: Dict[str, Callable[[Spec], Dict[str, Any]]] = {
    "wabbit": run_wabbit,
    "vw": run_vw,
    "river": run_river,
    "sklearn": run_sklearn,
    "latency": run_latency,
    "csr": run_csr,
}


def main(argv: List[str]) -> int:
    spec = json.loads(argv[1])
    result = RUNNERS[spec["kind"]](spec)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

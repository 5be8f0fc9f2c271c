"""Learning quality out of the box (issue 22): test-then-train on the real data sets that ship inside
scikit-learn and river (no downloads), for wabbit's default (VW's numbers), the recommended
configuration (wabbit.recommended), --coin, Vowpal Wabbit itself (pip's vowpalwabbit), river's
StandardScaler | LinearRegression / LogisticRegression and scikit-learn's SGD with a StandardScaler.

Each example is predicted before it is learned; regression reports the mean absolute error (and the
running mean's, the baseline every learner should beat), classification the mean log loss of the
predicted probability (the running base rate's as the baseline). Multiclass sets are made binary (one
class against the rest, named in the table), multi-output ones use one target. Sets longer than
--limit examples are cut to their first --limit.

    python bench/bench_quality.py [--limit 10000] [--markdown]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

import numpy as np

import wabbit
from wabbit.presets import recommended

Example = Tuple[Dict[str, float], float]


def _numeric(x: Dict[str, Any], origin: Dict[str, float]) -> Dict[str, float]:
    """Numbers as they are, datetimes as days since the set's first, strings one-hot."""
    out: Dict[str, float] = {}
    for k, v in x.items():
        k = str(k).replace(" ", "_").replace(":", "_").replace("|", "_")
        if isinstance(v, (dt.datetime, dt.date)):
            ts = v.timestamp() / 86400.0 if isinstance(v, dt.datetime) else v.toordinal()
            origin.setdefault(k, ts)
            out[k] = float(ts - origin[k])
        elif isinstance(v, str):
            out[f"{k}={v}".replace(" ", "_").replace(":", "_").replace("|", "_")] = 1.0
        elif v is not None and not (isinstance(v, float) and math.isnan(v)):
            out[k] = float(v)
    return out


def _sklearn(name: str, target: Callable[[Any], float] = float) -> Callable[[], Iterator[Example]]:
    def load() -> Iterator[Example]:
        import sklearn.datasets as sd

        data = getattr(sd, name)()
        X, Y = data.data, data.target
        names = [f"x{i}" for i in range(X.shape[1])]
        for row, y in zip(X, Y):
            yield {n: float(v) for n, v in zip(names, row)}, target(y[0] if np.ndim(y) else y)

    return load


def _river(name: str, target: Callable[[Any], float] = float) -> Callable[[], Iterator[Example]]:
    def load() -> Iterator[Example]:
        import river.datasets as rd

        origin: Dict[str, float] = {}
        for x, y in getattr(rd, name)():
            yield _numeric(x, origin), target(y)

    return load


REGRESSION = {
    "diabetes (sklearn)": _sklearn("load_diabetes"),
    "linnerud weight (sklearn)": _sklearn("load_linnerud"),
    "chick weights (river)": _river("ChickWeights"),
    "Trump approval (river)": _river("TrumpApproval"),
    "airline passengers (river)": _river("AirlinePassengers"),
    "water flow (river)": _river("WaterFlow"),
    "solar flare C-class (river)": _river("SolarFlare", lambda y: float(y["c-class-flares"])),
}
CLASSIFICATION = {
    "breast cancer (sklearn)": _sklearn("load_breast_cancer"),
    "iris versicolor (sklearn)": _sklearn("load_iris", lambda y: float(y == 1)),
    "wine class 0 (sklearn)": _sklearn("load_wine", lambda y: float(y == 0)),
    "digits < 5 (sklearn)": _sklearn("load_digits", lambda y: float(y < 5)),
    "phishing (river)": _river("Phishing", lambda y: float(bool(y))),
    "bananas (river)": _river("Bananas", lambda y: float(bool(y))),
    "image segments path (river)": _river("ImageSegments", lambda y: float(y == "path")),
    "shuttle (river)": _river("Shuttle", lambda y: float(y == 1)),
}


def _line(x: Dict[str, float], label: str) -> str:
    return label + " |f " + " ".join(f"{k}:{v:.9g}" for k, v in x.items())


def _sigmoid(s: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(s, -50, 50)))


def wabbit_learner(flags: str, classify: bool) -> Callable[[List[Example]], np.ndarray]:
    def run(data: List[Example]) -> np.ndarray:
        lines = [_line(x, ("1" if y > 0.5 else "-1") if classify else f"{y:.9g}") for x, y in data]
        model = wabbit.Model(flags)
        p = np.asarray(model.learn_many(lines), dtype=np.float64)
        return _sigmoid(p) if classify and "--link logistic" not in flags else p

    return run


def vw_learner(flags: str, classify: bool) -> Callable[[List[Example]], np.ndarray]:
    def run(data: List[Example]) -> np.ndarray:
        import vowpalwabbit

        ws = vowpalwabbit.Workspace(flags + " --quiet")
        out = []
        for x, y in data:
            line = _line(x, ("1" if y > 0.5 else "-1") if classify else f"{y:.9g}")
            ex = ws.parse(line)
            ws.learn(ex)  # VW predicts before it updates: the prediction is the pre-update one
            out.append(ex.get_simplelabel_prediction())
            ws.finish_example(ex)
        ws.finish()
        p = np.asarray(out, dtype=np.float64)
        return _sigmoid(p) if classify else p

    return run


def river_learner(classify: bool) -> Callable[[List[Example]], np.ndarray]:
    def run(data: List[Example]) -> np.ndarray:
        from river import linear_model, preprocessing

        model = preprocessing.StandardScaler() | (
            linear_model.LogisticRegression() if classify else linear_model.LinearRegression()
        )
        out = []
        for x, y in data:
            if classify:
                out.append(model.predict_proba_one(x).get(True, 0.5))
                model.learn_one(x, bool(y > 0.5))
            else:
                out.append(model.predict_one(x))
                model.learn_one(x, y)
        return np.asarray(out, dtype=np.float64)

    return run


def sklearn_learner(classify: bool) -> Callable[[List[Example]], np.ndarray]:
    def run(data: List[Example]) -> np.ndarray:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import SGDClassifier, SGDRegressor
        from sklearn.preprocessing import StandardScaler

        vec = DictVectorizer(sparse=False).fit([x for x, _ in data])  # the feature names only
        scaler = StandardScaler()
        model = SGDClassifier(loss="log_loss") if classify else SGDRegressor()
        out = []
        for i, (x, y) in enumerate(data):
            row = vec.transform([x])
            scaler.partial_fit(row)
            z = scaler.transform(row)
            if i == 0 or (classify and len({d[1] > 0.5 for d in data[:i]}) < 2):
                out.append(0.5 if classify else (data[0][1] if i else 0.0))
            else:
                out.append(float(model.predict_proba(z)[0, 1]) if classify else float(model.predict(z)[0]))
            if classify:
                model.partial_fit(z, [int(y > 0.5)], classes=[0, 1])
            else:
                model.partial_fit(z, [y])
        return np.asarray(out, dtype=np.float64)

    return run


def running_mean(data: List[Example]) -> np.ndarray:
    y = np.array([d[1] for d in data], dtype=np.float64)
    c = np.cumsum(y)
    prior = np.r_[0.0, c[:-1] / np.arange(1, len(y))]
    return prior


def base_rate(data: List[Example]) -> np.ndarray:
    y = np.array([d[1] > 0.5 for d in data], dtype=np.float64)
    c = np.cumsum(y)
    return np.r_[0.5, (c[:-1] + 0.5) / (np.arange(1, len(y)) + 1.0)]


def learners(classify: bool) -> Dict[str, Callable[[List[Example]], np.ndarray]]:
    loss = "--loss_function logistic" if classify else ""
    task = "classification" if classify else "regression"
    return {
        "baseline": base_rate if classify else running_mean,
        "wabbit default (= VW)": wabbit_learner(loss, classify),
        "wabbit recommended": wabbit_learner(recommended(task), classify),
        "wabbit --coin": wabbit_learner(f"--coin {loss}", classify),
        "VW (pip)": vw_learner(loss, classify),
        "river scaled": river_learner(classify),
        "sklearn SGD scaled": sklearn_learner(classify),
    }


def score(p: np.ndarray, data: List[Example], classify: bool) -> float:
    y = np.array([d[1] for d in data], dtype=np.float64)
    if classify:
        q = np.clip(p, 1e-15, 1 - 1e-15)
        y = (y > 0.5).astype(np.float64)
        return float(np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q))))
    return float(np.mean(np.abs(p - y)))


def run_task(
    sets: Dict[str, Callable[[], Iterator[Example]]], classify: bool, limit: int
) -> Dict[str, Dict[str, float]]:
    table: Dict[str, Dict[str, float]] = {}
    for name, load in sets.items():
        data = []
        for x, y in load():
            data.append((x, y))
            if len(data) >= limit:
                break
        row = {}
        for who, fn in learners(classify).items():
            t0 = time.perf_counter()
            row[who] = score(fn(data), data, classify)
            print(f"  {name:32s} {who:24s} {row[who]:12.4f}  ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        row["n"] = len(data)
        table[name] = row
    return table


def markdown(table: Dict[str, Dict[str, float]], what: str) -> str:
    cols = [c for c in next(iter(table.values())) if c != "n"]
    out = [f"| data set | n | {' | '.join(cols)} |", "|---|---:|" + "---:|" * len(cols)]
    for name, row in table.items():
        best = min(row[c] for c in cols)
        cells = [(f"**{row[c]:.4g}**" if row[c] == best else f"{row[c]:.4g}") for c in cols]
        out.append(f"| {name} | {int(row['n'])} | {' | '.join(cells)} |")
    return f"{what}\n\n" + "\n".join(out)


def acceptance(reg: Dict[str, Dict[str, float]], cls: Dict[str, Dict[str, float]]) -> List[str]:
    lines = []
    r = "wabbit recommended"
    beat = [n for n, row in reg.items() if row[r] < row["baseline"]]
    near = [n for n, row in reg.items() if row[r] <= 1.10 * row["river scaled"]]
    lines.append(
        f"- regression: recommended beats the running mean on {len(beat)}/{len(reg)} sets, "
        f"within 10% of river's MAE on {len(near)}/{len(reg)}"
    )
    ok = [n for n, row in cls.items() if row[r] <= row["river scaled"]]
    bad = [(n, row[r] / row["river scaled"] - 1) for n, row in cls.items() if row[r] > 1.10 * row["river scaled"]]
    lines.append(
        f"- classification: recommended's log loss no worse than river's on {len(ok)}/{len(cls)} sets; "
        f"worse by more than 10% on {len(bad)}" + (f": {', '.join(f'{n} (+{d:.0%})' for n, d in bad)}" if bad else "")
    )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=10_000)
    ap.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    ap.add_argument("--drift", action="store_true", help="also the drift scenarios (bench/_quality_drift.py)")
    ap.add_argument("--drift-write", action="store_true", help="with --drift: write its section of bench/RESULTS.md")
    ap.add_argument("--drift-seeds", default="0", help="with --drift: comma-separated stream seeds (mean and spread)")
    a = ap.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    import warnings

    warnings.filterwarnings("ignore")
    reg = run_task(REGRESSION, False, a.limit)
    cls = run_task(CLASSIFICATION, True, a.limit)
    print(markdown(reg, "Regression, mean absolute error (test-then-train; baseline: the running mean)"))
    print()
    print(markdown(cls, "Binary classification, mean log loss (test-then-train; baseline: the running base rate)"))
    print()
    print(f"recommended: regression `{recommended('regression')}`, classification `{recommended('classification')}`")
    print("\n".join(acceptance(reg, cls)))
    if a.drift:  # issue 22's drift responses (bench/_quality_drift.py)
        import _quality_drift

        _quality_drift.main(["--click-log", "--seeds", a.drift_seeds] + (["--write"] if a.drift_write else []))


if __name__ == "__main__":
    main()

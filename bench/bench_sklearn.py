"""A real grid search with wabbit.sklearn (issue 19): GridSearchCV over the learning rate and -q on
scikit-learn's breast cancer data, next to SGDClassifier searched the same way.

    python bench/bench_sklearn.py [--splits 5] [--passes 5]

Each of ``--splits`` stratified train/test splits (25% test, seeds 0, 1, ...) runs two searches with
5-fold cross-validation on the training part, each a ``StandardScaler`` pipeline:

- wabbit: ``WabbitClassifier(passes=P)`` over ``learning_rate`` x ``quadratic`` (None or ``::``,
  VW's ``-q ::``: every pair of columns);
- scikit-learn: ``SGDClassifier(loss="log_loss")`` over ``alpha`` x ``PolynomialFeatures``
  (degree 1, or degree 2 interactions only: the same pairs ``-q ::`` adds) with ``max_iter=P``.

The best estimator of each search is scored on the test part. Printed: a markdown section for
bench/RESULTS.md (accuracies, best parameters, search times).
"""

from __future__ import annotations

import argparse
import collections
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

# the wabbit under test: the package next to this checkout's python/ unless one is importable
try:
    import wabbit
except ImportError:  # pragma: no cover - a checkout without an installed wabbit
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
    import wabbit

import sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from wabbit.sklearn import WabbitClassifier

RATES = [0.03, 0.1, 0.3, 1.0, 3.0]
ALPHAS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]


def searches(passes: int):
    wabbit_search = (
        Pipeline([("scale", StandardScaler()), ("clf", WabbitClassifier(passes=passes))]),
        {"clf__learning_rate": RATES, "clf__quadratic": [None, "::"]},
    )
    sgd_search = (
        Pipeline(
            [
                ("scale", StandardScaler()),
                ("pairs", PolynomialFeatures(degree=1, include_bias=False)),
                ("clf", SGDClassifier(loss="log_loss", max_iter=passes, tol=None, random_state=0)),
            ]
        ),
        {
            "clf__alpha": ALPHAS,
            "pairs": [
                PolynomialFeatures(degree=1, include_bias=False),
                PolynomialFeatures(degree=2, interaction_only=True, include_bias=False),
            ],
        },
    )
    return {"wabbit": wabbit_search, "sgd": sgd_search}


def short(params: dict) -> str:
    out = []
    for k, v in sorted(params.items()):
        if isinstance(v, PolynomialFeatures):
            v = "pairs" if v.degree == 2 else "none"
            k = "interactions"
        out.append(f"{k.split('__')[-1]}={v}")
    return ", ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--passes", type=int, default=5)
    a = ap.parse_args()
    X, y = load_breast_cancer(return_X_y=True)
    acc = collections.defaultdict(list)
    cv_acc = collections.defaultdict(list)
    seconds = collections.defaultdict(list)
    best = collections.defaultdict(collections.Counter)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load0 = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    for seed in range(a.splits):
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
        for name, (pipe, grid) in searches(a.passes).items():
            search = GridSearchCV(pipe, grid, cv=StratifiedKFold(5, shuffle=True, random_state=seed))
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=passes is meant
                search.fit(Xtr, ytr)
            seconds[name].append(time.perf_counter() - t)
            acc[name].append(search.score(Xte, yte))
            cv_acc[name].append(search.best_score_)
            best[name][short(search.best_params_)] += 1
            print(
                f"split {seed}: {name} test accuracy {acc[name][-1]:.4f} ({short(search.best_params_)})",
                file=sys.stderr,
            )
    load1 = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    n_wabbit = len(RATES) * 2
    n_sgd = len(ALPHAS) * 2
    print("# scikit-learn estimators (issue 19): a grid search on breast cancer\n")
    print(f"- command: `python bench/bench_sklearn.py --splits {a.splits} --passes {a.passes}`")
    print(f"- date: {started}; load average {load0} at the start, {load1} at the end")
    print(
        f"- machine: nproc {len(__import__('os').sched_getaffinity(0))}, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    print(f"- versions: wabbit {wabbit.__version__}; scikit-learn {sklearn.__version__}")
    print(
        f"- data: `sklearn.datasets.load_breast_cancer` (569 rows, 30 columns, 2 classes); {a.splits} stratified "
        "train/test splits (25% test, seeds 0..), each searched with 5-fold CV on its training part"
    )
    print(
        f"- wabbit: `StandardScaler` + `WabbitClassifier(passes={a.passes})` (logistic loss), grid "
        f"learning_rate {RATES} x quadratic [None, '::'] ({n_wabbit} settings)"
    )
    print(
        f"- scikit-learn: `StandardScaler` + `PolynomialFeatures` + `SGDClassifier(loss='log_loss', max_iter={a.passes}, "
        f"tol=None)`, grid alpha {ALPHAS} x (no interactions, degree-2 interactions only) ({n_sgd} settings)\n"
    )
    print(
        "| estimator | test accuracy, mean | min | max | best CV accuracy, mean | search seconds, mean | best settings (splits) |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, label in (("wabbit", "WabbitClassifier"), ("sgd", "SGDClassifier")):
        settings = "; ".join(f"{k} ({n})" for k, n in best[name].most_common())
        print(
            f"| {label} | {statistics.mean(acc[name]):.4f} | {min(acc[name]):.4f} | {max(acc[name]):.4f} "
            f"| {statistics.mean(cv_acc[name]):.4f} | {statistics.mean(seconds[name]):.2f} | {settings} |"
        )


if __name__ == "__main__":
    main()

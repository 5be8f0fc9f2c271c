"""wabbit.evaluate: metrics against scikit-learn and hand computations; progressive validation
against the model's own progressive predictions and VW's average loss. Data come from a seed
drawn per run (WABBIT_TEST_SEED replays one)."""

from __future__ import annotations

import io
import math
import os
import random

import numpy as np
import pytest

import wabbit
from wabbit.evaluate import MAE, RMSE, Accuracy, LogLoss, RollingAUC, _vw_label, progressive_val

skm = pytest.importorskip("sklearn.metrics")

SEED = int(os.environ.get("WABBIT_TEST_SEED", random.SystemRandom().randrange(2**32)))


def _binary_data(rng, n=2000):
    labels01 = rng.integers(0, 2, n)
    margins = rng.normal(0, 2, n) + (labels01 * 2 - 1) * rng.uniform(0, 2)
    weights = rng.uniform(0, 3, n)
    return labels01, margins, weights


def _feed(metric, y, p, w=None):
    for i in range(len(y)):
        metric.update(float(y[i]), float(p[i]), 1.0 if w is None else float(w[i]))
    return metric.get()


@pytest.mark.parametrize("labels", ["0/1", "-1/1"])
def test_log_loss_equals_sklearns(labels):
    rng = np.random.default_rng([SEED, 1])
    y01, m, w = _binary_data(rng)
    y = y01 if labels == "0/1" else 2 * y01 - 1
    prob = 1 / (1 + np.exp(-m))
    where = f"seed {SEED} (WABBIT_TEST_SEED)"
    assert _feed(LogLoss(), y, m) == pytest.approx(skm.log_loss(y01, prob), rel=1e-9), where
    assert _feed(LogLoss(margin=False), y, prob) == pytest.approx(skm.log_loss(y01, prob), rel=1e-9), where
    assert _feed(LogLoss(), y, m, w) == pytest.approx(skm.log_loss(y01, prob, sample_weight=w), rel=1e-9), where


def test_log_loss_of_extreme_margins_is_exact_and_finite():
    metric = LogLoss()
    metric.update(1, 800.0)  # log(1 + e^-800) underflows to 0 ...
    metric.update(-1, 800.0)  # ... and log(1 + e^800) is 800, not inf
    assert metric.get() == pytest.approx(400.0)
    p = LogLoss(margin=False)
    p.update(1, 0.0)  # clipped to 1e-15
    assert p.get() == pytest.approx(-math.log(1e-15))


@pytest.mark.parametrize("labels", ["0/1", "-1/1"])
def test_accuracy_equals_sklearns(labels):
    rng = np.random.default_rng([SEED, 2])
    y01, m, w = _binary_data(rng)
    y = y01 if labels == "0/1" else 2 * y01 - 1
    prob = 1 / (1 + np.exp(-m))
    predicted = (m > 0).astype(int)
    assert _feed(Accuracy(), y, m) == pytest.approx(skm.accuracy_score(y01, predicted))
    assert _feed(Accuracy(margin=False), y, prob) == pytest.approx(skm.accuracy_score(y01, predicted))
    assert _feed(Accuracy(), y, m, w) == pytest.approx(skm.accuracy_score(y01, predicted, sample_weight=w))


def test_regression_metrics_equal_sklearns():
    rng = np.random.default_rng([SEED, 3])
    y, p, w = rng.normal(0, 5, 3000), rng.normal(0, 5, 3000), rng.uniform(0, 2, 3000)
    assert _feed(MAE(), y, p) == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-9)
    assert _feed(MAE(), y, p, w) == pytest.approx(skm.mean_absolute_error(y, p, sample_weight=w), rel=1e-9)
    assert _feed(RMSE(), y, p) == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)), rel=1e-9)
    assert _feed(RMSE(), y, p, w) == pytest.approx(math.sqrt(skm.mean_squared_error(y, p, sample_weight=w)), rel=1e-9)


@pytest.mark.parametrize("window", [1, 50, 1000, 5000])
def test_rolling_auc_is_sklearns_auc_of_the_window(window):
    rng = np.random.default_rng([SEED, 4, window])
    y01, m, _ = _binary_data(rng, 3000)
    m = np.round(m, 1)  # ties
    metric = RollingAUC(window_size=window)
    for i in range(len(y01)):
        metric.update(int(2 * y01[i] - 1), float(m[i]))
        if i % 500 == 499 or i == len(y01) - 1:
            lo = max(0, i + 1 - window)
            ys, ms = y01[lo : i + 1], m[lo : i + 1]
            if len(set(ys)) < 2:
                assert math.isnan(metric.get())
            else:
                assert metric.get() == pytest.approx(skm.roc_auc_score(ys, ms), rel=1e-12), f"seed {SEED}"


def test_rolling_auc_by_hand():
    metric = RollingAUC(window_size=4)
    for y, s in [(1, 0.9), (-1, 0.1), (1, 0.4), (-1, 0.4)]:
        metric.update(y, s)
    # pairs (pos, neg): (0.9, 0.1) 1, (0.9, 0.4) 1, (0.4, 0.1) 1, (0.4, 0.4) 1/2 -> 3.5 / 4
    assert metric.get() == 0.875
    metric.update(1, 0.0)  # the window drops (1, 0.9): positives 0.4, 0.0; negatives 0.1, 0.4
    assert metric.get() == pytest.approx((1 + 0.5 + 0 + 0) / 4)


def test_vw_labels():
    assert _vw_label("1 |f a") == (1.0, 1.0)
    assert _vw_label("-1 2.5 |f a") == (-1.0, 2.5)
    assert _vw_label("0.5 2 0.1 'tag|f a") == (0.5, 2.0)
    assert _vw_label("1 tag|f a") == (1.0, 1.0)  # a word touching the bar is the tag
    assert _vw_label("|f a") == (None, 1.0)
    assert _vw_label("'only_tag |f a") == (None, 1.0)
    assert _vw_label("prefix\t-1 |f a\n") == (-1.0, 1.0)


def _click_stream(rng, n):
    lines = []
    for _ in range(n):
        u, a = int(rng.integers(0, 30)), int(rng.integers(0, 10))
        y = 1 if (u + a) % 3 == 0 or rng.random() < 0.1 else -1
        w = "" if rng.random() < 0.8 else f" {rng.uniform(0.5, 2):.2f}"
        tag = "" if rng.random() < 0.8 else " 'ex"
        lines.append(f"{y}{w}{tag} |u user={u} |a ad={a} price:{rng.uniform(0, 1):.3f}")
    return lines


def test_progressive_validation_scores_the_models_progressive_predictions():
    rng = np.random.default_rng([SEED, 5])
    lines = _click_stream(rng, 3000)
    lines[100] = "|u user=1 |a ad=2"  # unlabelled: learned, not scored
    lines.insert(200, "")  # blank: skipped
    model = wabbit.Model("--loss_function logistic -q ua")
    metrics = progressive_val(model, lines, [LogLoss(), Accuracy(), RollingAUC(500)])

    reference = wabbit.Model("--loss_function logistic -q ua")
    predictions = reference.learn_many([line for line in lines if line])
    labelled = [(i, _vw_label(line)) for i, line in enumerate(line for line in lines if line)]
    y = np.array([lab for _, (lab, _) in labelled if lab is not None])
    w = np.array([wt for _, (lab, wt) in labelled if lab is not None])
    p = np.array([predictions[i] for i, (lab, _) in labelled if lab is not None], dtype=np.float64)
    prob = 1 / (1 + np.exp(-p))
    where = f"seed {SEED} (WABBIT_TEST_SEED)"
    # by hand rather than sklearn's log_loss, which clips probabilities at 1 - 1e-16 (margins > ~36)
    signs = np.where(y > 0, 1.0, -1.0)
    by_hand = float(np.sum(w * np.logaddexp(0.0, -signs * p)) / np.sum(w))
    assert metrics[0].get() == pytest.approx(by_hand, rel=1e-9), where
    if np.all(np.abs(p) < 30):  # where no clipping happens, sklearn agrees too, to the precision
        # its log(1 - prob) keeps for large margins (1 - prob loses digits as prob nears 1: a seed
        # with margins near 25 differed by 5e-9 relative)
        assert metrics[0].get() == pytest.approx(skm.log_loss(y > 0, prob, sample_weight=w), rel=1e-6), where
    # ... which is VW's progressive average loss (the weighted logistic loss)
    assert metrics[0].get() == pytest.approx(model.average_loss, rel=1e-5), where
    assert metrics[1].get() == pytest.approx(skm.accuracy_score(y > 0, p > 0, sample_weight=w)), where
    assert metrics[2].get() == pytest.approx(skm.roc_auc_score(y[-500:] > 0, p[-500:]), rel=1e-12), where
    assert metrics[1].get() > 0.75


def test_progressive_validation_of_dict_examples_and_regression():
    rng = np.random.default_rng([SEED, 6])
    xs = rng.normal(0, 1, (2000, 3))
    ys = xs @ np.array([1.0, -2.0, 0.5]) + 3 + rng.normal(0, 0.1, 2000)
    stream = [({"x": {f"f{j}": float(v[j]) for j in range(3)}}, float(t)) for v, t in zip(xs, ys)]
    model = wabbit.Model()
    mae, rmse = progressive_val(model, stream, [MAE(), RMSE()])
    reference = wabbit.Model()
    p = np.array([reference.learn(x, label=t) for x, t in stream])
    assert mae.get() == pytest.approx(skm.mean_absolute_error(ys, p), rel=1e-9)
    assert rmse.get() == pytest.approx(math.sqrt(skm.mean_squared_error(ys, p)), rel=1e-9)
    assert rmse.get() == pytest.approx(math.sqrt(model.average_loss), rel=1e-4)  # VW's loss is squared error


def test_progressive_validation_prints_and_returns_what_it_was_given():
    model = wabbit.Model("--loss_function logistic")
    out = io.StringIO()
    single = LogLoss()
    assert progressive_val(model, ["1 |f a", "-1 |f b"] * 5, single, print_every=4, file=out) is single
    rows = out.getvalue().splitlines()
    assert [r.split("]")[0] for r in rows] == ["[4", "[8", "[10"]
    assert rows[-1] == f"[10] {single!r}" and rows[-1].startswith("[10] LogLoss: ")
    acc = Accuracy()
    acc.update(1, 1.0)
    assert repr(acc) == "Accuracy: 100.00%"
    with pytest.raises(ValueError):
        progressive_val(model, [], [LogLoss()], print_every=-1)

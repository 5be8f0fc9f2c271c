"""Progressive validation: test on each example, then learn from it, and keep score.

:func:`progressive_val` runs a model over a stream the way river's ``progressive_val_score`` does:
each example is first predicted (the prediction is scored against its label), then learned. Every
example is unseen when it is scored, so the metrics estimate performance on new data without a
held-out set, and they describe the model as it evolves (after a drift, they show it).

Metrics are small objects with ``update(y_true, y_pred, w=1.0)`` and ``get()``:

* :class:`LogLoss` and :class:`Accuracy` for binary labels: a label is positive when it is
  above 0, so VW's -1/1 and 0/1 labels both work. ``y_pred`` is a **margin** by default (wabbit's
  and VW's prediction with ``--loss_function logistic``: the probability is ``1 / (1 + exp(-y_pred))``);
  pass ``margin=False`` for probabilities (a model with ``--link logistic``).
* :class:`RollingAUC`: the ROC AUC of the last ``window_size`` predictions (any score: a margin
  and its probability rank the examples alike).
* :class:`MAE`, :class:`RMSE` for regression.

>>> import wabbit
>>> from wabbit.evaluate import Accuracy, LogLoss, progressive_val
>>> model = wabbit.Model("--loss_function logistic")
>>> stream = ["1 |f a", "-1 |f b", "1 |f a", "-1 |f b"] * 50
>>> progressive_val(model, stream, [LogLoss(), Accuracy()], print_every=100)
[100] LogLoss: 0.182943 – Accuracy: 98.00%
[200] LogLoss: 0.117173 – Accuracy: 99.00%
[LogLoss: 0.117173, Accuracy: 99.00%]

The log loss of a logistic model equals VW's progressive "average loss" on the same stream:

>>> round(model.average_loss, 6)
0.117173
"""

from __future__ import annotations

import collections
import math
import sys
from typing import Any, Iterable, List, Optional, Sequence, TextIO, Tuple, Union

import numpy as np

__all__ = ["Metric", "LogLoss", "Accuracy", "RollingAUC", "MAE", "RMSE", "progressive_val"]


class Metric:
    """A running score: ``update(y_true, y_pred, w=1.0)`` with each example, ``get()`` for the
    value. ``bigger_is_better`` says which way is good."""

    bigger_is_better: bool = False
    _fmt = ",.6f"

    def update(self, y_true: float, y_pred: float, w: float = 1.0) -> None:  # pragma: no cover
        raise NotImplementedError

    def get(self) -> float:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {self.get():{self._fmt}}"


class _WeightedMean(Metric):
    """A weighted mean of a per-example score."""

    def __init__(self) -> None:
        self._sum = 0.0
        self._weight = 0.0

    def _add(self, score: float, w: float) -> None:
        if not w >= 0:
            raise ValueError(f"a weight is a number >= 0, got {w}")
        self._sum += w * score
        self._weight += w

    def get(self) -> float:
        """The weighted mean so far (0 before any example)."""
        return self._sum / self._weight if self._weight > 0 else 0.0


class LogLoss(_WeightedMean):
    """Binary log loss: ``log(1 + exp(-y m))`` for a margin ``m`` and ``y`` in {-1, 1} (VW's
    logistic loss), or ``-log(p)`` / ``-log(1 - p)`` for a probability ``p`` (``margin=False``;
    ``p`` is clipped to [1e-15, 1 - 1e-15]). A label is positive when it is above 0."""

    def __init__(self, margin: bool = True) -> None:
        super().__init__()
        self.margin = margin

    def update(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        positive = y_true > 0
        if self.margin:
            z = y_pred if positive else -y_pred  # loss = log(1 + exp(-z))
            loss = math.log1p(math.exp(-z)) if z > 0 else -z + math.log1p(math.exp(z))
        else:
            p = min(max(y_pred, 1e-15), 1 - 1e-15)
            loss = -math.log(p) if positive else -math.log(1 - p)
        self._add(loss, w)


class Accuracy(_WeightedMean):
    """The fraction of examples whose class is predicted right: positive when the margin is above 0
    (or, with ``margin=False``, the probability above 0.5). A label is positive when it is above 0."""

    bigger_is_better = True
    _fmt = ".2%"

    def __init__(self, margin: bool = True) -> None:
        super().__init__()
        self.margin = margin

    def update(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        predicted = y_pred > (0.0 if self.margin else 0.5)
        self._add(float(predicted == (y_true > 0)), w)


class MAE(_WeightedMean):
    """Mean absolute error."""

    def update(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        self._add(abs(y_true - y_pred), w)


class RMSE(_WeightedMean):
    """Root mean squared error."""

    def update(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        self._add((y_true - y_pred) ** 2, w)

    def get(self) -> float:
        return math.sqrt(super().get())


class RollingAUC(Metric):
    """ROC AUC of the last ``window_size`` examples: the probability that a positive example
    (label above 0) scores higher than a negative one, ties counting half. NaN while the window
    holds only one class. Weights are ignored; ``get()`` sorts the window (O(w log w)), so call it
    when reporting, not with every example."""

    bigger_is_better = True

    def __init__(self, window_size: int = 1000) -> None:
        if window_size < 1:
            raise ValueError("window_size must be >= 1")
        self.window_size = window_size
        self._window: collections.deque = collections.deque(maxlen=window_size)

    def update(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        self._window.append((y_true > 0, y_pred))

    def get(self) -> float:
        if not self._window:
            return math.nan
        labels, scores = zip(*self._window)
        return _roc_auc(np.asarray(labels, dtype=bool), np.asarray(scores, dtype=np.float64))


def _roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney: (sum of the positives' ranks - n+(n+ + 1)/2) / (n+ n-), tied scores sharing
    their average rank."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0  # ranks from 1
    rank_sum = float(average_rank[inverse][positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


#: One example of a stream: a VW text line, or a (dict example, label) pair.
StreamItem = Union[str, Tuple[Any, Optional[float]]]


def progressive_val(
    model: Any,
    stream: Iterable[StreamItem],
    metrics: Union[Metric, Sequence[Metric]],
    print_every: int = 0,
    *,
    file: Optional[TextIO] = None,
) -> Union[Metric, List[Metric]]:
    """Score ``model`` on each example of ``stream`` before learning it; returns ``metrics``.

    ``stream`` yields VW text lines (the label, and importance weight, are read from the line;
    blank lines are skipped) or ``(example, label)`` pairs of a dict example and its label.
    ``model`` is a :class:`wabbit.Model` (anything whose ``learn(example)`` /
    ``learn(example, label=y)`` returns the prediction made before learning). Each metric gets
    ``update(label, prediction, importance weight)`` for each labelled example; unlabelled
    examples are learned (they move the clock) but not scored. With ``print_every=n``, a line
    with the metrics is printed every ``n`` examples, and at the end.
    """
    ms: List[Metric] = [metrics] if isinstance(metrics, Metric) else list(metrics)
    if print_every < 0:
        raise ValueError("print_every must be >= 0")
    out = file if file is not None else sys.stdout
    n = 0
    for item in stream:
        if isinstance(item, str):
            if not item.strip():
                continue
            prediction = model.learn(item)
            label, weight = _vw_label(item)
        else:
            example, label = item
            prediction = model.learn(example, label=label)
            weight = 1.0
        n += 1
        if label is not None:
            for m in ms:
                m.update(label, prediction, weight)
        if print_every and n % print_every == 0:
            print(_progress(n, ms), file=out)
    if print_every and n % print_every:
        print(_progress(n, ms), file=out)
    return metrics if isinstance(metrics, Metric) else ms


def _progress(n: int, ms: Sequence[Metric]) -> str:
    return f"[{n:,d}] " + " – ".join(repr(m) for m in ms)


def _vw_label(line: str) -> Tuple[Optional[float], float]:
    """(label, importance weight) of a VW text line the core accepted, as the core's text reader
    reads them (``label [weight [base]] ['tag]`` before the first '|'); (None, 1.0) unlabelled."""
    from wabbit import _core

    status, _, label, weight, *_ = _core.parse_line(line.rstrip("\r\n").encode())
    if status != "example" or label == _NO_LABEL:
        return None, 1.0
    return float(label), float(weight)


#: The core's marker of an unlabelled example (VW's FLT_MAX), as parse_line returns it.
_NO_LABEL = float(np.finfo(np.float32).max)

"""Gates before publication: a candidate model reaches users only when it is no worse than the champion.

A trainer learns continuously but publishes a version only when :meth:`Gate.check` passes three
checks of the candidate against the serving version (the champion):

1. **recent**: a paired comparison on the most recent ``recent`` examples: the candidate's mean
   loss on them against the champion's on the same examples;
2. **weights**: every weight is finite, and the largest ``|w|`` is below ``max_weight``;
3. **forgetting**: the same comparison on a held-back sample of older data (``holdout``
   examples that neither model learned), so that following the present does not cost the past.

**The margin is relative**: a check passes when
``candidate_loss <= champion_loss * (1 + margin) + tolerance``. Losses have no common scale
(a log loss near 0.3, a squared loss on prices in the thousands, a quantile loss in the label's
units), so an absolute margin would have to be tuned per model and per label scale, while
"no more than 1 % worse" means the same everywhere and needs no tuning when the label's units
change. ``tolerance`` (absolute, tiny by default) keeps a champion with zero loss from failing every
candidate on rounding. The comparison is paired (the same examples, the same weights); the
decision's metrics also give the mean paired difference and its standard error, for whoever wants
a significance level on top.

Losses are computed from batch predictions (``Model.predict_many`` for text lines,
``Model.predict`` for dict examples). For the recent check, pass the candidate's **progressive**
predictions when the trainer has them (``candidate_predictions=``: what ``learn`` returned, each
made before learning its example); otherwise the recent examples should be ones the candidate has
not learned yet (scored after learning, a candidate would look better than it is). The loss
follows the champion's ``--loss_function`` and ``--link`` (:func:`loss_function`), or ``loss=``.

Around the gate: :class:`GateKeeper` counts consecutive failures, pauses after ``max_failures``
and calls an alert; :class:`Shadow` records a candidate's predictions beside the champion's on live
traffic and, as labels arrive, reports both losses.

>>> import wabbit
>>> champion = wabbit.Model("--noconstant")                   # predicts 0 everywhere
>>> candidate = wabbit.Model("--noconstant")
>>> _ = candidate.learn_many(["2 |f a"] * 20)                 # predicts about 2 for |f a
>>> recent = ["2 |f a", "2 |f a", "1 |f b"]    # champion: (4 + 4 + 1) / 3 = 3; candidate: about 1 / 3
>>> d = Gate(margin=0.01).check(candidate, champion, recent, [])
>>> d.passed, d.metrics["champion_recent_loss"], d.metrics["recent_n"]
(True, 3.0, 3)
>>> Gate().check(champion, candidate, recent, []).reason      # the other way round: worse
'recent: loss 3 > 0.33... * (1 + 0.01)'
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from wabbit import _core
from wabbit.model import Model

__all__ = ["Gate", "GateDecision", "GateKeeper", "Loss", "Shadow", "ShadowReport", "loss_function"]

#: A loss: ``loss(labels, predictions) -> per-example losses`` (float64 numpy arrays).
Loss = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: An example: a VW text line with its label, or a (dict example, label) pair.
Item = Union[str, Tuple[Mapping[str, Any], Optional[float]]]

_log = logging.getLogger("wabbit.gates")
_NO_LABEL = 3.4028234663852886e38  # the core's marker of an unlabelled example (VW's FLT_MAX)


# ------------------------------------------------------------------------------------ losses
def _squared(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return (p - y) ** 2


def _logistic_margin(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, -np.where(y > 0, p, -p))


def _logistic_probability(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-15, 1 - 1e-15)
    return -np.log(np.where(y > 0, q, 1 - q))


def _hinge(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, 1.0 - np.where(y > 0, p, -p))


def _zero_one(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return ((p > 0) != (y > 0)).astype(np.float64)


def _poisson(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.exp(p) - y * p  # VW's poisson loss of the raw score, up to a term in y alone


def _quantile(tau: float) -> Loss:
    def loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
        e = y - p
        return np.where(e >= 0, tau * e, (tau - 1.0) * e)

    return loss


_NAMED: Dict[str, Loss] = {
    "squared": _squared,
    "classic": _squared,
    "logistic": _logistic_margin,
    "hinge": _hinge,
    "poisson": _poisson,
    "zero_one": _zero_one,
}


def loss_function(model_or_name: Union[Model, str, Loss]) -> Loss:
    """The loss to judge a model by: its own ``--loss_function`` on what it predicts (a
    logistic model's margin, or its probability with ``--link logistic``; 0/1 loss with
    ``--binary``), a name (``"squared"``, ``"logistic"``, ``"hinge"``, ``"poisson"``,
    ``"quantile"``, ``"zero_one"``), or a function ``loss(labels, predictions)`` as it is.

    >>> import numpy as np, wabbit
    >>> f = loss_function(wabbit.Model("--loss_function quantile --quantile_tau 0.9"))
    >>> f(np.array([1.0, 1.0]), np.array([0.0, 2.0])).tolist()      # under by 1, over by 1
    [0.9, 0.09999999999999998]
    """
    if callable(model_or_name) and not isinstance(model_or_name, Model):
        return model_or_name
    if isinstance(model_or_name, str):
        if model_or_name == "quantile":
            return _quantile(0.5)
        if model_or_name not in _NAMED:
            raise ValueError(f"unknown loss {model_or_name!r}: one of {', '.join(sorted(_NAMED))}, quantile")
        return _NAMED[model_or_name]
    opts = model_or_name.options
    if model_or_name.is_bandit:
        raise TypeError("gates judge plain models; a contextual bandit is judged off-policy (wabbit.ope)")
    if opts.binary:
        return _zero_one
    name = opts.loss_function or "squared"
    if name == "quantile":
        return _quantile(0.5 if opts.quantile_tau is None else float(opts.quantile_tau))
    if name == "logistic" and opts.link == "logistic":
        return _logistic_probability
    if name not in _NAMED:
        raise ValueError(f"no gate loss for --loss_function {name}: pass loss=")
    return _NAMED[name]


def labels_and_weights(items: Sequence[Item]) -> Tuple[np.ndarray, np.ndarray]:
    """Each example's label and importance weight (a text line's as the core reads them; a pair's
    label with weight 1). An unlabelled or malformed example gets weight 0 (it is not scored).

    >>> labels_and_weights(["1 2 |f a", "|f b", ({"f": ["a"]}, -1.0)])
    (array([ 1.,  0., -1.]), array([2., 0., 1.]))
    """
    y = np.zeros(len(items))
    w = np.zeros(len(items))
    for i, item in enumerate(items):
        if isinstance(item, str):
            status, _, label, weight, *_ = _core.parse_line(item.rstrip("\r\n").encode())
            if status == "example" and label != _NO_LABEL:
                y[i], w[i] = label, weight
        elif item[1] is not None:
            y[i], w[i] = float(item[1]), 1.0
    return y, w


def predictions(model: Model, items: Sequence[Item]) -> np.ndarray:
    """What ``model`` predicts for each example, without learning (float64): one batch through the
    core for text lines, ``Model.predict`` for dict examples."""
    if all(isinstance(x, str) for x in items):
        return np.asarray(model.predict_many(list(items), strict=False), dtype=np.float64)
    out = np.empty(len(items))
    for i, item in enumerate(items):
        if isinstance(item, str):
            out[i] = model.predict(item)
        else:
            out[i] = model.predict(item[0])
    return out


# ------------------------------------------------------------------------------------ the gate
@dataclass(frozen=True)
class GateDecision:
    """What a gate said: ``passed``, a one-line ``reason`` (``"ok"``, or each failed check's
    ``"check: why"``, joined by ``"; "``), the ``failed`` checks' names (``"weights"``,
    ``"recent"``, ``"forgetting"``, ``"paused"``) and the numbers behind it."""

    passed: bool
    reason: str
    metrics: Dict[str, float] = field(default_factory=dict)
    failed: Tuple[str, ...] = ()


@dataclass
class _Comparison:
    n: int
    candidate: float
    champion: float
    diff: float
    se: float


def _compare(loss: Loss, y: np.ndarray, w: np.ndarray, pc: np.ndarray, pk: np.ndarray) -> _Comparison:
    keep = w > 0
    y, w, pc, pk = y[keep], w[keep], pc[keep], pk[keep]
    n = int(keep.sum())
    if n == 0:
        return _Comparison(0, math.nan, math.nan, math.nan, math.nan)
    lc, lk = loss(y, pc), loss(y, pk)
    total = float(w.sum())
    mc, mk = float(np.dot(w, lc) / total), float(np.dot(w, lk) / total)
    d = lc - lk
    diff = float(np.dot(w, d) / total)
    se = float(np.sqrt(np.dot(w, (d - diff) ** 2) / total / max(n - 1, 1))) if n > 1 else math.nan
    return _Comparison(n, mc, mk, diff, se)


class Gate:
    """Three checks of a candidate against the champion (see :mod:`wabbit.gates`).

    ``margin``: how much worse (relative: 0.01 is 1 %) the candidate's loss may be than the
    champion's, on recent examples and on the holdout. ``recent``/``holdout``: how many of the
    examples given (the last ones) are used. ``max_weight``: the largest ``|w|`` allowed.
    ``max_failures`` and ``confirm``: the defaults of a :class:`GateKeeper` on this gate.
    ``loss``: a name or a function (default: the champion's own, :func:`loss_function`).
    ``tolerance``: absolute slack added to both comparisons (float rounding).
    """

    def __init__(
        self,
        margin: float = 0.01,
        recent: int = 10_000,
        holdout: int = 5_000,
        max_weight: float = 1e6,
        max_failures: int = 3,
        loss: Union[None, str, Loss] = None,
        *,
        tolerance: float = 1e-9,
        confirm: Optional[int] = 50_000,
    ) -> None:
        margin = float(margin)
        if not (math.isfinite(margin) and margin >= 0):
            raise ValueError(f"margin must be a finite number >= 0 (relative: 0.01 is 1%), got {margin!r}")
        for name, value in (("recent", recent), ("holdout", holdout), ("max_failures", max_failures)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name != "holdout" else 0):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not float(max_weight) > 0:
            raise ValueError(f"max_weight must be a positive number, got {max_weight!r}")
        _check_confirm(confirm)
        self.margin = margin
        self.recent = recent
        self.holdout = holdout
        self.max_weight = float(max_weight)
        self.max_failures = max_failures
        self.loss = loss
        self.tolerance = float(tolerance)
        self.confirm = confirm

    def __repr__(self) -> str:
        return (
            f"Gate(margin={self.margin:g}, recent={self.recent}, holdout={self.holdout}, "
            f"max_weight={self.max_weight:g}, max_failures={self.max_failures}, confirm={self.confirm})"
        )

    def check(
        self,
        candidate: Model,
        champion: Model,
        recent_examples: Sequence[Item],
        holdout_examples: Sequence[Item] = (),
        *,
        candidate_predictions: Optional[Sequence[float]] = None,
    ) -> GateDecision:
        """Judge ``candidate`` against ``champion``; see :mod:`wabbit.gates`.

        ``recent_examples``: the stream's latest labelled examples (the last ``recent`` are used);
        without any, the recent check fails (nothing was validated). ``holdout_examples``: older
        examples neither model learned (the last ``holdout`` are used); without any, the forgetting
        check is skipped (a young stream has no past yet), and ``metrics["holdout_n"]`` is 0.
        ``candidate_predictions``: the candidate's progressive predictions on
        ``recent_examples`` (one each, aligned), used instead of predicting them now.
        """
        loss = loss_function(champion if self.loss is None else self.loss)
        metrics: Dict[str, float] = {}
        failed: List[str] = []
        reasons: List[str] = []

        # (b) weights: finite, not exploding
        _, w = candidate.weights()
        w = np.asarray(w, dtype=np.float64)
        finite = np.isfinite(w)
        nonfinite = int(w.size - finite.sum())
        max_abs = float(np.max(np.abs(w[finite]))) if finite.any() else 0.0
        metrics.update(nonfinite_weights=nonfinite, max_abs_weight=max_abs, nonzero_weights=int(w.size))
        if nonfinite:
            failed.append("weights")
            reasons.append(f"weights: {nonfinite} not finite")
        elif max_abs >= self.max_weight:
            failed.append("weights")
            reasons.append(f"weights: max |w| {max_abs:.6g} >= {self.max_weight:.6g}")

        # (a) recent: paired, on the last `recent` examples
        recent = list(recent_examples[-self.recent :]) if len(recent_examples) else []
        if candidate_predictions is not None:
            if len(candidate_predictions) != len(recent_examples):
                raise ValueError(
                    f"candidate_predictions has {len(candidate_predictions)} values for "
                    f"{len(recent_examples)} recent examples"
                )
            pc = np.asarray(candidate_predictions, dtype=np.float64)[len(recent_examples) - len(recent) :]
        else:
            pc = predictions(candidate, recent) if recent else np.empty(0)
        why = self._paired("recent", loss, recent, pc, champion, metrics)
        if why:
            failed.append("recent")
            reasons.append(why)

        # (c) forgetting: the same on the held-back past
        holdout = list(holdout_examples[-self.holdout :]) if self.holdout and len(holdout_examples) else []
        if holdout:
            why = self._paired("holdout", loss, holdout, predictions(candidate, holdout), champion, metrics)
            if why:
                failed.append("forgetting")
                reasons.append(why.replace("holdout:", "forgetting:", 1))
        else:
            metrics["holdout_n"] = 0
        return GateDecision(not failed, "; ".join(reasons) or "ok", metrics, tuple(failed))

    def _paired(
        self, name: str, loss: Loss, items: List[Item], pc: np.ndarray, champion: Model, metrics: Dict[str, float]
    ) -> Optional[str]:
        if not items:
            metrics[f"{name}_n"] = 0
            return f"{name}: no examples to compare on"
        y, w = labels_and_weights(items)
        c = _compare(loss, y, w, pc, predictions(champion, items))
        metrics.update(
            {
                f"{name}_n": c.n,
                f"candidate_{name}_loss": c.candidate,
                f"champion_{name}_loss": c.champion,
                f"{name}_mean_difference": c.diff,
                f"{name}_difference_se": c.se,
            }
        )
        if c.n == 0:
            return f"{name}: no labelled examples to compare on"
        bound = c.champion * (1 + self.margin) + self.tolerance
        if not c.candidate <= bound:  # NaN fails
            return f"{name}: loss {c.candidate:.6g} > {c.champion:.6g} * (1 + {self.margin:g})"
        return None


# ------------------------------------------------------------------------------------ keeper
def _check_confirm(confirm: Optional[int]) -> None:
    if confirm is not None and (isinstance(confirm, bool) or not isinstance(confirm, int) or confirm < 1):
        raise ValueError(f"confirm must be a positive number of examples or None (a person decides), got {confirm!r}")


def _default_alert(decision: GateDecision, failures: int) -> None:
    _log.error("gate failed %d times in a row; publication paused: %s", failures, decision.reason)


class GateKeeper:
    """A gate with a memory: counts consecutive failures and, after ``max_failures`` of them,
    sets :attr:`paused` and calls ``alert(decision, failures)`` once (default: an error on the
    ``wabbit.gates`` logger). A pass resets the count.

    **While paused**, nothing is published. What happens next depends on ``confirm``:

    - ``confirm=None``: :meth:`check` still evaluates but never passes, and a trainer stops
      learning; :meth:`resume` (a person, having looked) clears the pause.
    - ``confirm=N`` (examples; the default comes from the gate, 50,000): **probation**. A trainer
      goes on learning (the candidate, not served) and checking. A check that passes again ends
      the pause by itself (:attr:`counts` ``"recovered"``: the stream came back, e.g. after a
      poisoned stretch, and the candidate is as good as the champion on both the recent examples
      and the holdout again). And a **genuine concept change** is told from poisoning by its
      persistence: :attr:`evidence` counts the new examples of consecutive checks that failed
      *only* the forgetting check (the candidate keeps up with the present, the champion does not,
      but the holdout is of the old concept). Once it reaches ``confirm``, :meth:`change_confirmed`
      says so; the trainer re-bases its holdout on examples held back during that stretch, checks
      again and, on a pass, :meth:`accept_change` ends the pause (``"changes"``). Any other
      failure (the recent check, the weights) resets the evidence. A poisoned stretch shorter
      than ``confirm`` examples is therefore never accepted; a longer one would be (it is
      indistinguishable from a change, by data alone): choose ``confirm`` longer than the
      attacks or outages you must survive, or None.

    Evidence counts also before the pause (a change starts failing the forgetting check at once),
    so with checks every ``publish_every`` examples a genuine change is published after at most
    ``confirm + publish_every`` examples from the first check it fails only on the forgetting
    check (docs/pipeline.md, "Gates").

    >>> alerts = []
    >>> keeper = GateKeeper(Gate(), max_failures=2, alert=lambda d, n: alerts.append(n), confirm=None)
    >>> bad = GateDecision(False, "recent: loss 2 > 1 * (1 + 0.01)", failed=("recent",))
    >>> keeper.record(bad).passed, keeper.paused
    (False, False)
    >>> keeper.record(bad).passed, keeper.paused, alerts
    (False, True, [2])
    >>> keeper.record(GateDecision(True, "ok")).reason
    'paused after 2 consecutive failures (resume() to go on); gate: ok'
    >>> keeper.resume(); keeper.record(GateDecision(True, "ok")).passed
    True
    >>> forgot = GateDecision(False, "forgetting: loss 0.7 > 0.3 * (1 + 0.01)", failed=("forgetting",))
    >>> k = GateKeeper(Gate(), max_failures=2, confirm=5000)
    >>> [k.record(forgot, examples=2000).passed for _ in range(3)], k.paused, k.evidence, k.change_confirmed()
    ([False, False, False], True, 6000, True)
    >>> k.accept_change(GateDecision(True, "ok")).passed, k.paused, k.counts["changes"]
    (True, False, 1)
    """

    def __init__(
        self,
        gate: Gate,
        max_failures: Optional[int] = None,
        alert: Optional[Callable[[GateDecision, int], Any]] = None,
        *,
        history: int = 100,
        confirm: Union[None, int, str] = "gate",
    ) -> None:
        self.gate = gate
        self.max_failures = gate.max_failures if max_failures is None else max_failures
        if isinstance(self.max_failures, bool) or not isinstance(self.max_failures, int) or self.max_failures < 1:
            raise ValueError(f"max_failures must be a positive integer, got {self.max_failures!r}")
        if confirm == "gate":
            confirm = gate.confirm
        assert not isinstance(confirm, str)
        _check_confirm(confirm)
        #: examples of persistent evidence that accept a concept change (None: a person decides)
        self.confirm: Optional[int] = confirm
        self.alert = alert if alert is not None else _default_alert
        self.failures = 0  # consecutive
        self.paused = False
        #: new examples of the consecutive checks refused only by the forgetting check
        self.evidence = 0
        self.counts: Dict[str, int] = {
            "checked": 0,
            "passed": 0,
            "failed": 0,
            "alerts": 0,
            "recovered": 0,
            "changes": 0,
        }
        self.history: Deque[GateDecision] = deque(maxlen=history)

    @property
    def probation(self) -> bool:
        """Paused, but learning and checking on (``confirm`` is set): see the class."""
        return self.paused and self.confirm is not None

    def check(
        self,
        candidate: Model,
        champion: Model,
        recent_examples: Sequence[Item],
        holdout_examples: Sequence[Item] = (),
        *,
        examples: int = 0,
        **kwargs: Any,
    ) -> GateDecision:
        """``gate.check(...)``, then :meth:`record` it (``examples``: new examples since the
        last check, the weight of this check's evidence)."""
        decision = self.gate.check(candidate, champion, recent_examples, holdout_examples, **kwargs)
        return self.record(decision, examples=examples)

    def record(self, decision: GateDecision, *, examples: int = 0) -> GateDecision:
        """Count a decision made by the gate; returns what stands (failed while paused, unless
        on probation and it passed)."""
        self.counts["checked"] += 1
        self.evidence = self.evidence + examples if decision.failed == ("forgetting",) else 0
        if self.paused and decision.passed and self.confirm is not None:
            self.counts["recovered"] += 1
            _log.warning("gate passed again after %d failures: publication resumes", self.failures)
            self.failures = 0
            self.paused = False
        elif self.paused:
            if self.confirm is None:
                why = f"paused after {self.failures} consecutive failures (resume() to go on)"
            else:
                why = (
                    f"paused after {self.failures} consecutive failures, on probation "
                    f"(evidence of a change: {self.evidence} of {self.confirm} examples)"
                )
            decision = GateDecision(
                False, f"{why}; gate: {decision.reason}", decision.metrics, decision.failed + ("paused",)
            )
        elif decision.passed:
            self.failures = 0
        else:
            self.failures += 1
            _log.warning("gate failed (%d in a row): %s", self.failures, decision.reason)
        self._count(decision)
        if not self.paused and self.failures >= self.max_failures:
            self.paused = True
            self.counts["alerts"] += 1
            self.alert(decision, self.failures)
        return decision

    def _count(self, decision: GateDecision) -> None:
        if decision.passed:
            self.counts["passed"] += 1
        else:
            self.counts["failed"] += 1
            for name in decision.failed:
                self.counts[f"failed_{name}"] = self.counts.get(f"failed_{name}", 0) + 1
        self.history.append(decision)

    def change_confirmed(self) -> bool:
        """The evidence of a genuine concept change reached ``confirm`` examples."""
        return self.confirm is not None and self.evidence >= self.confirm

    def accept_change(self, decision: GateDecision) -> GateDecision:
        """The gate's decision after the holdout was re-based on the new concept: a pass ends the
        pause and the failure count (``"changes"``); a failure stays a failure (the evidence is
        reset: the candidate must prove itself again). Returns what stands."""
        self.counts["checked"] += 1
        self.evidence = 0
        if decision.passed:
            self.counts["changes"] += 1
            _log.warning("concept change accepted after %d failures: the holdout was re-based", self.failures)
            self.failures = 0
            self.paused = False
            decision = GateDecision(True, f"concept change accepted; gate: {decision.reason}", decision.metrics)
        elif self.paused:
            decision = GateDecision(
                False,
                f"concept change refused; gate: {decision.reason}",
                decision.metrics,
                decision.failed + ("paused",),
            )
        self._count(decision)
        return decision

    def resume(self) -> None:
        """Clear the pause, the failure count and the evidence."""
        self.paused = False
        self.failures = 0
        self.evidence = 0

    def state(self) -> Dict[str, Any]:
        """The count, the pause, the evidence and the counters (not the history): what a restart
        keeps."""
        return {
            "failures": self.failures,
            "paused": self.paused,
            "evidence": self.evidence,
            "counts": dict(self.counts),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take a :meth:`state` (the gate and the alert are this keeper's)."""
        self.failures = int(state["failures"])
        self.paused = bool(state["paused"])
        self.evidence = int(state.get("evidence", 0))
        self.counts = dict(self.counts, **state["counts"])


# ------------------------------------------------------------------------------------ shadow
@dataclass(frozen=True)
class ShadowReport:
    """Both models' mean loss over the last ``n`` labelled predictions, and the bookkeeping."""

    n: int
    champion_loss: float
    candidate_loss: float
    pending: int
    evicted: int
    unknown: int


class Shadow:
    """A candidate's predictions beside the champion's on live traffic, scored as labels come.

    :meth:`record` (or :meth:`predict`, which runs the candidate) keeps both predictions under the
    request's id; :meth:`labelled` scores them. At most ``capacity`` predictions wait for their
    label (the oldest is evicted, counted) and the report covers the last ``window`` labelled
    ones. ``loss``: a name, a function, or a model whose loss to use (:func:`loss_function`).

    >>> s = Shadow(loss="squared")
    >>> s.record("r1", champion_prediction=0.0, candidate_prediction=1.0)
    >>> s.record("r2", champion_prediction=3.0, candidate_prediction=2.0)
    >>> s.labelled("r1", 1.0), s.labelled("r2", 2.0), s.labelled("r3", 0.0)
    (True, True, False)
    >>> s.report()      # champion: (1 + 1) / 2; candidate: (0 + 0) / 2
    ShadowReport(n=2, champion_loss=1.0, candidate_loss=0.0, pending=0, evicted=0, unknown=1)
    """

    def __init__(
        self, loss: Union[str, Loss, Model] = "squared", capacity: int = 100_000, window: int = 10_000
    ) -> None:
        if capacity < 1 or window < 1:
            raise ValueError("capacity and window must be positive")
        self.loss = loss_function(loss)
        self.capacity = capacity
        self._pending: "OrderedDict[Hashable, Tuple[float, float]]" = OrderedDict()
        self._scored: Deque[Tuple[float, float, float]] = deque(maxlen=window)
        self.evicted = 0
        self.unknown = 0

    def record(self, id: Hashable, champion_prediction: float, candidate_prediction: float) -> None:
        """Keep both predictions of request ``id`` until its label."""
        pending = self._pending
        if id in pending:
            del pending[id]
        elif len(pending) >= self.capacity:
            pending.popitem(last=False)
            self.evicted += 1
        pending[id] = (float(champion_prediction), float(candidate_prediction))

    def predict(self, id: Hashable, candidate: Model, features: Any, champion_prediction: float) -> float:
        """The candidate's prediction for ``features`` (text or dict), recorded beside the
        champion's; returns it (what a canary would serve)."""
        p = float(candidate.predict(features))
        self.record(id, champion_prediction, p)
        return p

    def labelled(self, id: Hashable, label: float) -> bool:
        """Score request ``id``'s two predictions; False for an id not waiting (counted unknown)."""
        pair = self._pending.pop(id, None)
        if pair is None:
            self.unknown += 1
            return False
        self._scored.append((float(label), pair[0], pair[1]))
        return True

    def report(self) -> ShadowReport:
        """Both mean losses over the window (NaN before any label)."""
        if not self._scored:
            return ShadowReport(0, math.nan, math.nan, len(self._pending), self.evicted, self.unknown)
        a = np.asarray(self._scored, dtype=np.float64)
        y, pk, pc = a[:, 0], a[:, 1], a[:, 2]
        return ShadowReport(
            len(a),
            float(self.loss(y, pk).mean()),
            float(self.loss(y, pc).mean()),
            len(self._pending),
            self.evicted,
            self.unknown,
        )

    def reset(self) -> None:
        """Forget everything (a new candidate)."""
        self._pending.clear()
        self._scored.clear()
        self.evicted = self.unknown = 0

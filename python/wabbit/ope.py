"""Off-policy evaluation: what a target policy would have cost on logged contextual-bandit data.

A log records, for each event, the action the logging policy took, the **cost** it observed (VW's
convention: lower is better; a reward r is the cost -r) and the probability with which that
action was chosen. From it these estimators tell the expected cost per event that a different
(target) policy would have had, without deploying it:

* ``ips``: inverse propensity scoring, mean of ``w_i c_i`` with ``w_i = pi(a_i|x_i) / p_i``;
  unbiased, high variance when the weights are large.
* ``snips``: self-normalised IPS, ``sum(w c) / sum(w)``; slightly biased, often far less variance.
* ``dm``: the direct method, mean of ``sum_a pi(a|x_i) chat(x_i, a)``: only as good as the cost
  model ``chat``.
* ``dr``: doubly robust, ``dm`` plus the IPS-weighted residual of the logged action,
  ``sum_a pi(a|x_i) chat(x_i,a) + w_i (c_i - chat(x_i, a_i))``: unbiased like IPS whatever the
  cost model (if ``chat`` for event i does not depend on event i's cost), with less variance
  the better the cost model.

Every estimate comes with a two-sided ``1 - alpha`` confidence interval. The default,
``interval="normal"``, is the central-limit interval on the per-event terms (for SNIPS, on its
linearisation ``w_i (c_i - V) / mean(w)``, the delta method): cheap, needs no bound on costs or
weights, and covers at close to the nominal rate once the effective sample size is in the
hundreds. ``interval="bootstrap"`` is a percentile bootstrap over events (seeded, ``resamples``
draws): more honest for small or skewed logs, and it resamples SNIPS's ratio itself, at the cost
of ``resamples`` passes over the data.

The effective sample size is Kish's ``(sum w)^2 / sum w^2``: how many events the weighted
estimate is worth; far below ``n`` means the target strays from what the logger did.

By hand: two actions, three events.

>>> from wabbit import ope
>>> actions = [0, 1, 0]
>>> costs = [1.0, 0.0, 0.5]
>>> probabilities = [0.5, 0.5, 0.25]
>>> target = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]    # pi(.|x_i) per event
>>> # weights w = 1/0.5, 1/0.5, 0.5/0.25 = 2, 2, 2; w*c = 2, 0, 1; IPS = 3/3 = 1
>>> est = ope.ips(actions, costs, probabilities, target)
>>> est.value, est.n, est.ess
(1.0, 3, 3.0)
>>> ope.snips(actions, costs, probabilities, target).value     # (2 + 0 + 1) / (2 + 2 + 2)
0.5
>>> chat = [[0.8, 0.2], [0.6, 0.1], [0.4, 0.4]]
>>> # DM terms: 0.8, 0.1, 0.4; residual terms: 2 (1 - 0.8), 2 (0 - 0.1), 2 (0.5 - 0.4)
>>> round(ope.dr(actions, costs, probabilities, target, chat).value, 12)   # (1.2 + -0.1 + 0.6) / 3
0.566666666667
>>> est
Estimate(ips: 1 [..., ...] 95% normal, n=3, ess=3)

From a VW ADF log (plain or gzip) and a target (a Model, or a function event -> pmf):
``ope.evaluate_log("log.dat", model)`` returns a :class:`Report` with every estimator and the
logging policy's own average cost; ``wabbit ope -d log.dat -i model.bin`` prints it.
"""

from __future__ import annotations

import itertools
import math
import os
from array import array
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "Estimate",
    "LoggedEvent",
    "OnlineCostModel",
    "Report",
    "dm",
    "dr",
    "estimate",
    "evaluate_log",
    "greedy",
    "ips",
    "observed",
    "read_adf_log",
    "snips",
    "ESTIMATORS",
    "INTERVALS",
]

ESTIMATORS = ("ips", "snips", "dr", "dm")
INTERVALS = ("normal", "bootstrap")

#: Per-event action distributions or per-action costs: an (n, K) array, or one 1-D array per event
#: when events have different numbers of actions (ADF).
PerAction = Union[np.ndarray, Sequence[Sequence[float]]]


# ---------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Estimate:
    """One estimator's expected cost per event for a policy, with its confidence interval.

    ``value`` is the estimate, ``lower``/``upper`` the two-sided ``1 - alpha`` interval by
    ``method`` ("normal" or "bootstrap"), ``n`` the events used, ``ess`` the effective sample size
    (Kish's, of the importance weights; ``n`` for the logged policy and the direct method).
    """

    estimator: str
    value: float
    lower: float
    upper: float
    alpha: float
    n: int
    ess: float
    method: str
    # per-event terms whose mean is (or linearises) the estimate: used to compare two policies on
    # the same events (Report.difference)
    terms: Optional[np.ndarray] = field(default=None, repr=False, compare=False)

    @property
    def interval(self) -> Tuple[float, float]:
        return (self.lower, self.upper)

    @property
    def level(self) -> float:
        """The interval's nominal coverage, ``1 - alpha``."""
        return 1.0 - self.alpha

    def __contains__(self, value: float) -> bool:
        return self.lower <= value <= self.upper

    def __repr__(self) -> str:
        return (
            f"Estimate({self.estimator}: {self.value:.6g} [{self.lower:.6g}, {self.upper:.6g}] "
            f"{_pct(self.level)} {self.method}, n={self.n}, ess={self.ess:.6g})"
        )


# ---------------------------------------------------------------------------------- estimators
def ips(
    actions: Sequence[int],
    costs: Sequence[float],
    probabilities: Sequence[float],
    target_pmf: PerAction,
    *,
    alpha: float = 0.05,
    interval: str = "normal",
    resamples: int = 1000,
    seed: int = 0,
) -> Estimate:
    """Inverse propensity scoring: the mean of ``pi(a_i|x_i) / p_i * c_i``.

    ``actions`` are 0-based indices into each event's actions, ``costs`` the observed costs,
    ``probabilities`` the logging policy's probability of the logged action, ``target_pmf`` the
    target's distribution over each event's actions (rows of an (n, K) array, or one array per
    event). See the module docstring for ``alpha``, ``interval``, ``resamples`` and ``seed``.
    """
    return estimate(
        "ips", actions, costs, probabilities, target_pmf, alpha=alpha, interval=interval, resamples=resamples, seed=seed
    )


def snips(
    actions: Sequence[int],
    costs: Sequence[float],
    probabilities: Sequence[float],
    target_pmf: PerAction,
    *,
    alpha: float = 0.05,
    interval: str = "normal",
    resamples: int = 1000,
    seed: int = 0,
) -> Estimate:
    """Self-normalised IPS: ``sum(w_i c_i) / sum(w_i)`` (arguments as :func:`ips`)."""
    return estimate(
        "snips",
        actions,
        costs,
        probabilities,
        target_pmf,
        alpha=alpha,
        interval=interval,
        resamples=resamples,
        seed=seed,
    )


def dr(
    actions: Sequence[int],
    costs: Sequence[float],
    probabilities: Sequence[float],
    target_pmf: PerAction,
    predicted_costs: PerAction,
    *,
    alpha: float = 0.05,
    interval: str = "normal",
    resamples: int = 1000,
    seed: int = 0,
) -> Estimate:
    """Doubly robust: the mean of ``sum_a pi(a|x_i) chat_i[a] + w_i (c_i - chat_i[a_i])``.

    ``predicted_costs`` holds a cost model's estimate for every action of every event (same shape
    as ``target_pmf``); the other arguments are as :func:`ips`. For the estimate to stay unbiased
    the cost model must not have learned event i's cost before predicting event i (train it on
    other data, or progressively: predict, then learn, as :class:`OnlineCostModel` does).
    """
    return estimate(
        "dr",
        actions,
        costs,
        probabilities,
        target_pmf,
        predicted_costs,
        alpha=alpha,
        interval=interval,
        resamples=resamples,
        seed=seed,
    )


def dm(
    target_pmf: PerAction,
    predicted_costs: PerAction,
    *,
    alpha: float = 0.05,
    interval: str = "normal",
    resamples: int = 1000,
    seed: int = 0,
) -> Estimate:
    """The direct method: the mean of ``sum_a pi(a|x_i) chat_i[a]``. Its interval covers only the
    sampling noise of the contexts, not the cost model's bias."""
    pmf = _per_action(target_pmf, "target_pmf")
    chat = _per_action(predicted_costs, "predicted_costs")
    _check_pmf(pmf)
    _same_shape(pmf, chat)
    terms = _expected(pmf, chat)
    return _finish("dm", terms, None, alpha, interval, resamples, seed, ess=float(len(terms)))


def observed(
    costs: Sequence[float], *, alpha: float = 0.05, interval: str = "normal", resamples: int = 1000, seed: int = 0
) -> Estimate:
    """The logging policy's own average cost (what the log actually cost), with its interval.

    >>> observed([1.0, 0.0, 0.5, 0.5]).value
    0.5
    """
    c = _costs(costs)
    return _finish("logged", c, None, alpha, interval, resamples, seed, ess=float(len(c)))


def estimate(
    estimator: str,
    actions: Sequence[int],
    costs: Sequence[float],
    probabilities: Sequence[float],
    target_pmf: PerAction,
    predicted_costs: Optional[PerAction] = None,
    *,
    alpha: float = 0.05,
    interval: str = "normal",
    resamples: int = 1000,
    seed: int = 0,
) -> Estimate:
    """Any estimator by name (``"ips"``, ``"snips"``, ``"dr"``, ``"dm"``) on logged arrays."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose from {', '.join(ESTIMATORS)}")
    if estimator in ("dr", "dm") and predicted_costs is None:
        raise ValueError(f"{estimator} needs predicted_costs: a cost model's estimate for every action of every event")
    _check_alpha(alpha)
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    c = _costs(costs)
    n = len(c)
    a = np.asarray(actions)
    p = np.asarray(probabilities, dtype=np.float64)
    if a.shape != (n,) or p.shape != (n,):
        raise ValueError(
            f"actions ({a.shape}), costs ({c.shape}) and probabilities ({p.shape}) must be 1-D arrays of one length"
        )
    if n and not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.equal(np.mod(a, 1), 0)):
            raise ValueError("actions must be integer action indices (0-based, in each event's action order)")
        a = a.astype(np.int64)
    bad = np.flatnonzero(~((p > 0) & (p <= 1)))
    if bad.size:
        raise ValueError(f"event {bad[0]}: the logged probability must be in (0, 1], got {p[bad[0]]!r}")
    pmf = _per_action(target_pmf, "target_pmf")
    if len(pmf) != n:
        raise ValueError(f"target_pmf has {len(pmf)} events, the log {n}")
    _check_pmf(pmf)
    target_p = _at(pmf, a)
    direct = chat_a = None
    if estimator in ("dr", "dm"):
        chat = _per_action(predicted_costs, "predicted_costs")  # type: ignore[arg-type]
        _same_shape(pmf, chat)
        direct, chat_a = _expected(pmf, chat), _at(chat, a)
    return _from_terms(estimator, c, p, target_p, direct, chat_a, alpha, interval, resamples, seed)


def _from_terms(
    estimator: str,
    c: np.ndarray,
    p: np.ndarray,
    target_p: np.ndarray,
    direct: Optional[np.ndarray],
    chat_a: Optional[np.ndarray],
    alpha: float,
    interval: str,
    resamples: int,
    seed: int,
) -> Estimate:
    """An estimator from what it needs of each event: the cost, the logging probability, the
    target's probability of the logged action, and (DR, DM) the target's expected predicted cost
    ``sum_a pi(a) chat[a]`` and the predicted cost of the logged action."""
    n = len(c)
    w = target_p / p
    ess = float(w.sum() ** 2 / (w * w).sum()) if n and (w * w).sum() > 0 else 0.0
    if estimator == "ips":
        return _finish("ips", w * c, None, alpha, interval, resamples, seed, ess=ess)
    if estimator == "snips":
        return _finish("snips", w * c, w, alpha, interval, resamples, seed, ess=ess)
    assert direct is not None and chat_a is not None
    if estimator == "dm":
        return _finish("dm", direct, None, alpha, interval, resamples, seed, ess=float(n))
    return _finish("dr", direct + w * (c - chat_a), None, alpha, interval, resamples, seed, ess=ess)


# ---------------------------------------------------------------------------------- intervals
def _finish(
    name: str,
    num: np.ndarray,
    den: Optional[np.ndarray],
    alpha: float,
    method: str,
    resamples: int,
    seed: int,
    *,
    ess: float,
) -> Estimate:
    """The estimate mean(num) (or sum(num)/sum(den)) with its interval."""
    n = len(num)
    if n == 0:
        raise ValueError("no events to evaluate")
    if den is None:
        value = float(num.mean())
        terms = num
    else:
        total = float(den.sum())
        if total <= 0:
            raise ValueError("snips: the target gives probability 0 to every logged action; nothing to estimate")
        value = float(num.sum() / total)
        terms = value + (num - value * den) / (total / n)  # the delta method's linearisation
    if method == "normal":
        lo, hi = _normal(terms, alpha)
    elif method == "bootstrap":
        lo, hi = _bootstrap(num, den, alpha, resamples, seed)
    else:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {method!r}")
    return Estimate(name, value, lo, hi, float(alpha), n, ess, method, terms)


def _normal(terms: np.ndarray, alpha: float) -> Tuple[float, float]:
    m = float(terms.mean())
    if len(terms) < 2:
        return (-math.inf, math.inf)
    half = NormalDist().inv_cdf(1 - alpha / 2) * float(terms.std(ddof=1)) / math.sqrt(len(terms))
    return (m - half, m + half)


def _bootstrap(
    num: np.ndarray, den: Optional[np.ndarray], alpha: float, resamples: int, seed: int
) -> Tuple[float, float]:
    """Percentile bootstrap over events, in chunks so memory stays near 8 MiB whatever n is."""
    if resamples < 10:
        raise ValueError(f"resamples must be at least 10, got {resamples}")
    n = len(num)
    rng = np.random.default_rng(seed)
    stats = np.empty(resamples)
    chunk = max(1, (1 << 20) // n)
    for start in range(0, resamples, chunk):
        k = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(k, n))
        top = num[idx].sum(axis=1)
        if den is None:
            stats[start : start + k] = top / n
        else:
            bottom = den[idx].sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                stats[start : start + k] = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.nan)
    stats = stats[~np.isnan(stats)]
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


# ---------------------------------------------------------------------------------- checks
def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1 (0.05 for a 95% interval), got {alpha!r}")


def _costs(costs: Sequence[float]) -> np.ndarray:
    c = np.asarray(costs, dtype=np.float64)
    if c.ndim != 1:
        raise ValueError(f"costs must be a 1-D array, got shape {c.shape}")
    bad = np.flatnonzero(~np.isfinite(c))
    if bad.size:
        raise ValueError(f"event {bad[0]}: the cost must be a finite number, got {c[bad[0]]!r}")
    return c


def _per_action(values: PerAction, what: str) -> Union[np.ndarray, List[np.ndarray]]:
    """An (n, K) float array, or a list of 1-D float arrays when the events differ in K."""
    if isinstance(values, np.ndarray) and values.ndim == 2:
        return values.astype(np.float64, copy=False)
    rows = [np.asarray(v, dtype=np.float64).reshape(-1) for v in values]
    if rows and all(len(r) == len(rows[0]) for r in rows):
        return np.vstack(rows)
    if not rows:
        return np.zeros((0, 0))
    return rows


def _check_pmf(pmf: Union[np.ndarray, List[np.ndarray]]) -> None:
    rows = pmf if isinstance(pmf, list) else [pmf] if len(pmf) else []
    for block in rows:  # one ragged event, or the whole (n, K) array at once
        block2 = np.atleast_2d(block)
        totals = block2.sum(axis=1)
        bad = np.flatnonzero((block2 < 0).any(axis=1) | ~(np.abs(totals - 1.0) <= 1e-3))
        if bad.size:
            i = bad[0] if not isinstance(pmf, list) else next(j for j, r in enumerate(pmf) if r is block)
            raise ValueError(
                f"event {i}: the target's action probabilities must be >= 0 and sum to 1, got "
                f"{block2[bad[0]].tolist()!r} (for a model that scores actions, e.g. --cb_adf, evaluate ope.greedy(model))"
            )


def _same_shape(pmf: Union[np.ndarray, List[np.ndarray]], chat: Union[np.ndarray, List[np.ndarray]]) -> None:
    if len(pmf) != len(chat):
        raise ValueError(f"predicted_costs has {len(chat)} events, target_pmf {len(pmf)}")
    for i, (p, c) in enumerate(zip(pmf, chat)):
        if len(p) != len(c):
            raise ValueError(f"event {i}: {len(p)} target probabilities but {len(c)} predicted costs")
        if isinstance(pmf, np.ndarray) and isinstance(chat, np.ndarray):
            break
    if isinstance(chat, np.ndarray):
        if not np.all(np.isfinite(chat)):
            raise ValueError("predicted_costs must be finite numbers")
    elif not all(np.all(np.isfinite(c)) for c in chat):
        raise ValueError("predicted_costs must be finite numbers")


def _at(rows: Union[np.ndarray, List[np.ndarray]], a: np.ndarray) -> np.ndarray:
    """rows[i][a[i]] for every event, with a clear error for an action out of range."""
    sizes = np.array([rows.shape[1]] * len(a)) if isinstance(rows, np.ndarray) else np.array([len(r) for r in rows])
    bad = np.flatnonzero((a < 0) | (a >= sizes))
    if bad.size:
        i = bad[0]
        raise ValueError(f"event {i}: logged action {a[i]} is not one of its {sizes[i]} actions (0-based)")
    if isinstance(rows, np.ndarray):
        return rows[np.arange(len(a)), a]
    return np.array([r[k] for r, k in zip(rows, a)], dtype=np.float64)


def _expected(pmf: Union[np.ndarray, List[np.ndarray]], chat: Union[np.ndarray, List[np.ndarray]]) -> np.ndarray:
    if isinstance(pmf, np.ndarray) and isinstance(chat, np.ndarray):
        return (pmf * chat).sum(axis=1)
    return np.array([float(np.dot(p, c)) for p, c in zip(pmf, chat)], dtype=np.float64)


def _pct(level: float) -> str:
    return f"{level * 100:.10g}%"


# ---------------------------------------------------------------------------------- VW ADF logs
class LoggedEvent(NamedTuple):
    """One event of a VW ADF log: its text without the label, the chosen action (0-based among the
    action lines), its cost and the logging probability, and the line number where it starts."""

    event: str
    action: int
    cost: float
    probability: float
    line: int


def read_adf_log(path: Union[str, "os.PathLike[str]"]) -> Iterator[LoggedEvent]:
    """The labelled events of a VW ADF text log (plain or gzip), in order.

    An event is an optional ``shared |...`` line and one line per action, ended by a blank line
    (or the end of the file). The chosen action's line starts with its label
    ``action:cost:probability`` (VW ignores the action number in ADF; so does this reader: the
    action is the line's position). Events without a label (predict-only) are skipped; a malformed
    event (a second label, a cost that is not a number, a probability outside (0, 1], ...) raises
    ValueError naming the file and the line, in the words the CLI and Model.learn use.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "log.dat")
    >>> with open(path, "w") as f:
    ...     _ = f.write("shared |u user=1\\n|a ad=1\\n0:0.5:0.25 |a ad=2\\n\\n|a ad=1\\n|a ad=2\\n")
    >>> [tuple(e) for e in read_adf_log(path)]
    [('shared |u user=1\\n|a ad=1\\n|a ad=2', 1, 0.5, 0.25, 1)]
    """
    for event in _read_events(path):
        if event is not None:
            yield event[0]


def _read_events(path: Union[str, "os.PathLike[str]"]) -> Iterator[Optional[Tuple[LoggedEvent, int]]]:
    """Every event of the log: (the LoggedEvent, its number of actions), or None for one without a label."""
    path = os.fspath(path)
    lines: List[str] = []
    start = 0
    for number, text in enumerate(_log_lines(path), 1):
        text = text.rstrip("\r\n")
        if text.strip():
            if not lines:
                start = number
            lines.append(text)
            continue
        if lines:
            yield _parse_event(lines, start, path)
            lines = []
    if lines:
        yield _parse_event(lines, start, path)


def _log_lines(path: str) -> Iterator[str]:
    """The log's lines as text: plain or gzip, from a file, a FIFO or /dev/stdin (read once, without
    seeking). Gzip cut short or corrupt: the lines before the damage, then a warning."""
    import warnings

    from wabbit._io import open_input

    with open_input(path) as src:
        with open(src.fd, "rb", closefd=False) as f:
            # the bytes taken to look for the gzip magic start the first line(s)
            first = (src.head + f.readline()).splitlines(keepends=True)
            for number, raw in enumerate(itertools.chain(first, f), 1):
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ValueError(
                        f"{path}:{number}: not UTF-8 text ({e.reason} at byte {e.start} of the line)"
                    ) from None
    if src.problem is not None:
        warnings.warn(src.problem, stacklevel=2)


def _parse_event(lines: List[str], start: int, path: str) -> Optional[Tuple[LoggedEvent, int]]:
    """One event through the core's event builder (the CLI's and Model.learn's rules and error
    messages), its label taken off the labelled line; None for an event without a label."""
    from wabbit import _core

    try:
        parsed = _core.cb_logged_event(lines, start)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    if parsed is None:
        return None
    action, cost, prob, actions, label_line, stripped, word = parsed
    parts = word.split(":")
    try:  # the core checked the label (at VW's float32); the estimates read its numbers in double
        cost, prob = float(parts[1]), float(parts[2])
    except ValueError:  # a spelling only the core's reader takes: its float32 values
        pass
    out = list(lines)
    out[label_line] = stripped
    return LoggedEvent("\n".join(out), int(action), float(cost), float(prob), start), int(actions)


# ---------------------------------------------------------------------------------- policies
Policy = Union[Any, Callable[[Any], Sequence[float]]]


def greedy(scorer: Union[Any, Callable[[Any], Sequence[float]]]) -> Callable[[Any], np.ndarray]:
    """The deterministic policy that picks the lowest-cost action of a scorer (a model whose
    ``predict(event)`` gives per-action costs, e.g. ``--cb_adf``, or a function event -> costs).
    Ties go to the first such action.

    >>> greedy(lambda event: [0.3, 0.1, 0.1])("any event").tolist()
    [0.0, 1.0, 0.0]
    """
    score = _caller(scorer)

    def policy(event: Any) -> np.ndarray:
        s = np.asarray(score(event), dtype=np.float64).reshape(-1)
        out = np.zeros(len(s))
        out[int(np.argmin(s))] = 1.0
        return out

    return policy


def _caller(obj: Any) -> Callable[[Any], Any]:
    if hasattr(obj, "predict"):
        return obj.predict
    if callable(obj):
        return obj
    raise TypeError(f"expected a model with predict(event) or a function of the event, got {type(obj).__name__}")


def _as_policy(target: Policy) -> Callable[[Any], Any]:
    """A target's pmf function: a Model that scores rather than explores (--cb_adf without
    exploration) is evaluated greedily, as it would act."""
    opts = getattr(target, "options", None)
    core = getattr(target, "_core", None)
    if core is not None and not core.is_cb():
        raise TypeError(
            f"the target model is not a contextual-bandit model (its options: '{getattr(target, 'args', '')}'); "
            "off-policy evaluation needs a --cb_adf or --cb_explore_adf model"
        )
    if opts is not None and getattr(opts, "cb_adf", False) and not getattr(opts, "cb_explore_adf", False):
        return greedy(target)
    return _caller(target)


class OnlineCostModel:
    """A cost model for DR learned progressively from the log itself: for each event it predicts
    every action's cost, then learns the logged action's cost. Each action is one regression
    example, the event's shared features joined with the action's (``shared |u a`` and ``|a x``
    give ``|u a |a x``), learned by a plain :class:`wabbit.Model` with ``args`` (default ``-q ::``,
    every pair of namespaces). As each prediction precedes learning its event, DR stays unbiased.

    >>> cm = OnlineCostModel()
    >>> cm.predict("shared |u a\\n|a x\\n|a y").tolist()
    [0.0, 0.0]
    >>> for _ in range(50):
    ...     cm.learn("shared |u a\\n|a x\\n|a y", 1, 2.0)
    >>> round(float(cm.predict("shared |u a\\n|a x\\n|a y")[1]), 1)
    2.0
    """

    def __init__(self, args: str = "-q ::") -> None:
        from wabbit.model import Model

        self.model = Model(args)

    @staticmethod
    def _examples(event: Any) -> List[str]:
        lines = event.split("\n") if isinstance(event, str) else list(event)
        lines = [ln for ln in lines if ln.strip()]
        shared = ""
        if lines and lines[0].split("|", 1)[0].split()[:1] == ["shared"]:
            shared = lines[0][lines[0].find("|") :] if "|" in lines[0] else ""
            lines = lines[1:]
        out = []
        for ln in lines:
            bar = ln.find("|")
            out.append((shared + " " + ln[bar:]) if bar >= 0 else shared)
        return out

    def predict(self, event: Any) -> np.ndarray:
        return np.array([self.model.predict(x) for x in self._examples(event)], dtype=np.float64)

    def learn(self, event: Any, action: int, cost: float) -> None:
        self.model.learn(f"{float(cost)!r} {self._examples(event)[action]}")


# ---------------------------------------------------------------------------------- reports
@dataclass(frozen=True)
class Report:
    """The answer to "would the target have done better on this log?": ``estimates`` (by name)
    for the target, ``logged`` (what the logging policy actually cost), the events used and the
    events skipped (no label). ``str(report)`` is the table ``wabbit ope`` prints."""

    estimates: Dict[str, Estimate]
    logged: Estimate
    n: int
    skipped: int = 0
    source: str = ""
    target: str = ""

    def difference(self, estimator: Optional[str] = None) -> Estimate:
        """The target's estimated cost minus the logged cost on the same events, with the
        interval of the paired per-event differences (normal), by ``estimator`` (default: the
        first of dr, snips, ips that was computed). Below zero: the target is cheaper."""
        name = estimator or next((e for e in ("dr", "snips", "ips", "dm") if e in self.estimates), None)
        if name is None or name not in self.estimates:
            raise ValueError(f"no estimate named {estimator!r} in this report ({', '.join(self.estimates)})")
        est = self.estimates[name]
        assert est.terms is not None and self.logged.terms is not None
        d = est.terms - self.logged.terms
        lo, hi = _normal(d, est.alpha)
        return Estimate(
            f"{name} - logged", est.value - self.logged.value, lo, hi, est.alpha, est.n, est.ess, "normal", d
        )

    def verdict(self) -> str:
        """One line: yes (the difference's interval is below 0), no (above), or cannot tell."""
        d = self.difference()
        by = d.estimator.split(" ")[0]
        pct = _pct(d.level)
        if d.upper < 0:
            return f"yes: by {by}, the target costs {-d.value:.4g} less per event ({pct} interval of the difference [{d.lower:.4g}, {d.upper:.4g}])"
        if d.lower > 0:
            return f"no: by {by}, the target costs {d.value:.4g} more per event ({pct} interval of the difference [{d.lower:.4g}, {d.upper:.4g}])"
        return f"cannot tell: by {by}, the difference {d.value:.4g} has a {pct} interval [{d.lower:.4g}, {d.upper:.4g}] that contains 0"

    def __str__(self) -> str:
        pct = _pct(self.logged.level)
        rows = [("policy", "estimator", "expected cost", f"{pct} interval", "ess")]
        rows.append(
            (
                "logged",
                "observed",
                f"{self.logged.value:.6g}",
                f"[{self.logged.lower:.6g}, {self.logged.upper:.6g}]",
                f"{self.n}",
            )
        )
        for name, e in self.estimates.items():
            rows.append(("target", name, f"{e.value:.6g}", f"[{e.lower:.6g}, {e.upper:.6g}]", f"{e.ess:.1f}"))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        head = f"off-policy evaluation of {self.target or 'the target'} on {self.source or 'the log'}: {self.n} events"
        if self.skipped:
            head += f" ({self.skipped} without a label skipped)"
        head += f"; costs (lower is better), {self.logged.method} intervals"
        lines = [head]
        for r in rows:
            lines.append(
                "  ".join(r[i].ljust(widths[i]) if i < 2 else r[i].rjust(widths[i]) for i in range(5)).rstrip()
            )
        if self.estimates:
            lines.append("better than the logging policy? " + self.verdict())
        return "\n".join(lines) + "\n"


def evaluate_log(
    path: Union[str, "os.PathLike[str]"],
    target: Policy,
    *,
    cost_model: Union[None, str, Any, Callable[[Any], Sequence[float]]] = "online",
    estimators: Sequence[str] = ("ips", "snips", "dr"),
    alpha: float = 0.05,
    interval: str = "normal",
    resamples: int = 1000,
    seed: int = 0,
) -> Report:
    """Evaluate ``target`` on the VW ADF log at ``path`` (plain or gzip) with ``estimators``.

    ``target``: a Model (``--cb_explore_adf``: its ``predict`` is the pmf; ``--cb_adf``: it acts
    greedily on its scores, see :func:`greedy`) or a function event -> pmf over the event's
    actions. Events are passed as the log's text without the label.

    ``cost_model`` (for ``dr`` and ``dm``): ``"online"`` (default) learns an
    :class:`OnlineCostModel` progressively along the log; ``"online:ARGS"`` gives it flags
    (``"online:-q ua -b 20"``); an object with ``learn(event, action, cost)`` and ``predict`` is
    used the same way; a Model whose ``predict(event)`` gives per-action costs (``--cb_adf``) or
    a function event -> costs is used as it is (it must not have been trained on this log).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "log.dat")
    >>> with open(path, "w") as f:
    ...     _ = f.write("|a x\\n0:1:0.5 |a y\\n\\n0:0:0.5 |a x\\n|a y\\n")
    >>> report = evaluate_log(path, lambda event: [0.0, 1.0], estimators=["ips"])
    >>> report.estimates["ips"].value, report.logged.value   # (1/0.5 * 1 + 0/0.5 * 0) / 2; (1 + 0) / 2
    (1.0, 0.5)
    """
    names = list(estimators)
    for e in names:
        if e not in ESTIMATORS:
            raise ValueError(f"unknown estimator {e!r}; choose from {', '.join(ESTIMATORS)}")
    _check_alpha(alpha)
    policy = _as_policy(target)
    need_model = any(e in ("dr", "dm") for e in names)
    progressive: Optional[Any] = None
    fixed: Optional[Callable[[Any], Any]] = None
    if need_model:
        if cost_model is None:
            raise ValueError(
                "dr and dm need a cost model: cost_model='online' or a model/function giving per-action costs"
            )
        if isinstance(cost_model, str):
            if cost_model != "online" and not cost_model.startswith("online:"):
                raise ValueError(f"cost_model: 'online' or 'online:FLAGS', got {cost_model!r}")
            progressive = OnlineCostModel(cost_model[7:] if cost_model.startswith("online:") else "-q ::")
        elif hasattr(cost_model, "learn") and not hasattr(cost_model, "options") and hasattr(cost_model, "predict"):
            progressive = cost_model
        else:
            if getattr(getattr(cost_model, "options", None), "cb_explore_adf", False):
                raise ValueError(
                    "a --cb_explore_adf model predicts action probabilities, not costs; "
                    "for dr/dm give a --cb_adf model (or leave the default online cost model)"
                )
            fixed = _caller(cost_model)
    costs, probs, target_p, direct, chat_a = (array("d") for _ in range(5))
    skipped = 0
    for parsed in _read_events(path):
        if parsed is None:
            skipped += 1
            continue
        ev, k = parsed
        where = f"{os.fspath(path)}:{ev.line}"
        pmf = np.asarray(policy(ev.event), dtype=np.float64).reshape(-1)
        if len(pmf) != k:
            raise ValueError(f"{where}: the target gave {len(pmf)} probabilities for {k} actions")
        if not (np.all(pmf >= 0) and abs(float(pmf.sum()) - 1.0) <= 1e-3):
            raise ValueError(
                f"{where}: the target's action probabilities must be >= 0 and sum to 1, got {pmf.tolist()!r}"
                " (for a model that scores actions, e.g. --cb_adf, evaluate ope.greedy(model))"
            )
        if need_model:
            if progressive is not None:
                chat = np.asarray(progressive.predict(ev.event), dtype=np.float64).reshape(-1)
                progressive.learn(ev.event, ev.action, ev.cost)
            else:
                chat = np.asarray(fixed(ev.event), dtype=np.float64).reshape(-1)  # type: ignore[misc]
            if len(chat) != k or not np.all(np.isfinite(chat)):
                raise ValueError(
                    f"{where}: the cost model gave {chat.tolist()!r} for {k} actions (want {k} finite costs)"
                )
            direct.append(float(np.dot(pmf, chat)))
            chat_a.append(float(chat[ev.action]))
        costs.append(ev.cost)
        probs.append(ev.probability)
        target_p.append(float(pmf[ev.action]))
    if not costs:
        raise ValueError(
            f"{os.fspath(path)}: no labelled events (a chosen action's line starts with action:cost:probability)"
        )
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    c, p, tp = (np.frombuffer(x, dtype=np.float64) for x in (costs, probs, target_p))
    d, ca = (np.frombuffer(x, dtype=np.float64) if need_model else None for x in (direct, chat_a))
    out = {e: _from_terms(e, c, p, tp, d, ca, alpha, interval, resamples, seed) for e in names}
    logged = observed(c.tolist(), alpha=alpha, interval=interval, resamples=resamples, seed=seed)
    return Report(out, logged, len(c), skipped, os.fspath(path), _describe_target(target))


def _describe_target(target: Any) -> str:
    return repr(target) if hasattr(target, "options") else getattr(target, "__name__", type(target).__name__)

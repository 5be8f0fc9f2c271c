"""The estimators (IPS, SNIPS, DR, DM, the logged policy's own cost) on logged arrays, their
per-event terms and the checks of their inputs."""

from __future__ import annotations

from typing import List, Optional, Sequence, Union

import numpy as np

from wabbit.ope.intervals import INTERVALS, check_alpha, finish
from wabbit.ope.result import Estimate

__all__ = ["ESTIMATORS", "PerAction", "dm", "dr", "estimate", "from_terms", "ips", "observed", "snips"]

ESTIMATORS = ("ips", "snips", "dr", "dm")


#: Per-event action distributions or per-action costs: an (n, K) array, or one 1-D array per event
#: when events have different numbers of actions (ADF).
PerAction = Union[np.ndarray, Sequence[Sequence[float]]]


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
    return finish("dm", terms, None, alpha, interval, resamples, seed, ess=float(len(terms)))


def observed(
    costs: Sequence[float], *, alpha: float = 0.05, interval: str = "normal", resamples: int = 1000, seed: int = 0
) -> Estimate:
    """The logging policy's own average cost (what the log actually cost), with its interval.

    >>> observed([1.0, 0.0, 0.5, 0.5]).value
    0.5
    """
    c = _costs(costs)
    return finish("logged", c, None, alpha, interval, resamples, seed, ess=float(len(c)))


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
    check_alpha(alpha)
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
    return from_terms(estimator, c, p, target_p, direct, chat_a, alpha, interval, resamples, seed)


def from_terms(
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
        return finish("ips", w * c, None, alpha, interval, resamples, seed, ess=ess)
    if estimator == "snips":
        return finish("snips", w * c, w, alpha, interval, resamples, seed, ess=ess)
    assert direct is not None and chat_a is not None
    if estimator == "dm":
        return finish("dm", direct, None, alpha, interval, resamples, seed, ess=float(n))
    return finish("dr", direct + w * (c - chat_a), None, alpha, interval, resamples, seed, ess=ess)


# ---------------------------------------------------------------------------------- checks
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

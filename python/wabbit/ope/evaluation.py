"""Off-policy evaluation of a target on a VW ADF log file: reading, the target's and the cost
model's answers per event, the estimates and the report."""

from __future__ import annotations

import os
from array import array
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from wabbit.ope.cost_model import OnlineCostModel
from wabbit.ope.estimators import ESTIMATORS, from_terms, observed
from wabbit.ope.intervals import INTERVALS, check_alpha
from wabbit.ope.log import read_events
from wabbit.ope.policy import Policy, as_policy, caller
from wabbit.ope.report import Report

__all__ = ["evaluate_log"]


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
    check_alpha(alpha)
    policy = as_policy(target)
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
            fixed = caller(cost_model)
    costs, probs, target_p, direct, chat_a = (array("d") for _ in range(5))
    skipped = 0
    for parsed in read_events(path):
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
    out = {e: from_terms(e, c, p, tp, d, ca, alpha, interval, resamples, seed) for e in names}
    logged = observed(c.tolist(), alpha=alpha, interval=interval, resamples=resamples, seed=seed)
    return Report(out, logged, len(c), skipped, os.fspath(path), _describe_target(target))


def _describe_target(target: Any) -> str:
    return repr(target) if hasattr(target, "options") else getattr(target, "__name__", type(target).__name__)

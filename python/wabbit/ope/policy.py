"""Targets as policies: a model or a function turned into a function event -> pmf."""

from __future__ import annotations

from typing import Any, Callable, Sequence, Union

import numpy as np

from wabbit.model import Model

__all__ = ["Policy", "as_policy", "caller", "greedy"]

Policy = Union[Any, Callable[[Any], Sequence[float]]]


def greedy(scorer: Union[Any, Callable[[Any], Sequence[float]]]) -> Callable[[Any], np.ndarray]:
    """The deterministic policy that picks the lowest-cost action of a scorer (a model whose
    ``predict(event)`` gives per-action costs, e.g. ``--cb_adf``, or a function event -> costs).
    Ties go to the first such action.

    >>> greedy(lambda event: [0.3, 0.1, 0.1])("any event").tolist()
    [0.0, 1.0, 0.0]
    """
    score = caller(scorer)

    def policy(event: Any) -> np.ndarray:
        s = np.asarray(score(event), dtype=np.float64).reshape(-1)
        out = np.zeros(len(s))
        out[int(np.argmin(s))] = 1.0
        return out

    return policy


def caller(obj: Any) -> Callable[[Any], Any]:
    """A model's ``predict``, or the function itself."""
    if hasattr(obj, "predict"):
        return obj.predict
    if callable(obj):
        return obj
    raise TypeError(f"expected a model with predict(event) or a function of the event, got {type(obj).__name__}")


def as_policy(target: Policy) -> Callable[[Any], Any]:
    """A target's pmf function: a Model that scores rather than explores (--cb_adf without
    exploration) is evaluated greedily, as it would act; a Model that is not a bandit is refused.

    >>> from wabbit import Model
    >>> as_policy(Model("--cb_explore_adf")).__name__
    'predict'
    >>> as_policy(Model("--cb_adf")).__name__      # acts greedily on its scores
    'policy'
    """
    if isinstance(target, Model):
        if not target.is_bandit:
            raise TypeError(
                f"the target model is not a contextual-bandit model (its options: '{target.args}'); "
                "off-policy evaluation needs a --cb_adf or --cb_explore_adf model"
            )
        opts: Any = target.options
    else:  # any other object that says it was built with --cb_adf is read the same way
        opts = getattr(target, "options", None)
    if opts is not None and getattr(opts, "cb_adf", False) and not getattr(opts, "cb_explore_adf", False):
        return greedy(target)
    return caller(target)

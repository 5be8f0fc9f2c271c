"""Explanations: each feature's part in one prediction, as VW's audit names it.

>>> import wabbit
>>> m = wabbit.Model()
>>> _ = m.learn("1 |f a")
>>> sorted(c.name for c in m.explain("|f a"))
['Constant', 'f^a']
"""

from __future__ import annotations

from typing import Any, List, NamedTuple

from wabbit.inputs import TEXT, Example, as_dict, number

__all__ = ["Contribution", "contributions"]


class Contribution(NamedTuple):
    """One feature's part in a prediction (see :meth:`Model.explain`)."""

    name: str  # VW's audit name: "ns^feature", "a^x*b^y" for interactions, "Constant"
    index: int  # type: ignore[assignment]  # the row of the weight table (a field named as VW names it)
    value: float  # x
    weight: float  # w
    contribution: float  # w * x


def contributions(core: Any, example: Example, initial: float = 0.0) -> List[Contribution]:
    """The contributions of ``example``'s features under the compiled learner ``core``, largest first."""
    if core.is_cb():
        raise TypeError(
            "explain() takes one linear example; for a bandit, explain a Model trained on the "
            "merged action lines, or look at predict()/rank()"
        )
    if isinstance(example, TEXT):
        rows = core.explain_line(example)
    else:
        rows = core.explain_dict(as_dict(example), number(initial, "initial"))
    out = [Contribution(name, index, value, weight, value * weight) for name, index, value, weight in rows]
    out.sort(key=lambda c: -abs(c.contribution))
    return out

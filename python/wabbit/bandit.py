"""Contextual bandits on the Python side: an event for the core, its learning, ranking and sampling.

The bandit learner itself is the core's (``cpp/cb/``); this module turns the Python forms of an
event (:data:`wabbit.inputs.Event`) into the core's arguments and its answers into arrays in the
event's action order. :meth:`wabbit.Model.learn`, :meth:`~wabbit.Model.predict`,
:meth:`~wabbit.Model.rank` and :meth:`~wabbit.Model.sample` call these functions for a bandit model.

>>> import wabbit
>>> from wabbit import bandit
>>> m = wabbit.Model("--cb_explore_adf --epsilon 0.2")
>>> [round(float(p), 3) for p in bandit.predict(m, "| a\\n| b")]    # untrained: uniform
[0.5, 0.5]
>>> bandit.event_parts(({"u": {"age": 1.0}}, [{"a": ["x"]}]))
({'u': {'age': 1.0}}, [{'a': ['x']}], True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Mapping, Optional, Tuple

import wabbit._core as _core
from wabbit.inputs import Event, as_dict

if TYPE_CHECKING:  # annotations only: the model calls this module, never the other way round
    import numpy as np

    from wabbit.model import Model

__all__ = ["event_parts", "in_action_order", "learn", "predict", "rank", "sample"]


def _check_unicode(text: str) -> None:
    """A str the core can take: UTF-8 cannot hold a lone surrogate (ValueError, as for a line)."""
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as e:
            raise ValueError(
                f"the event is not valid Unicode: it holds a lone surrogate (U+{ord(text[e.start]):04X} at "
                f"position {e.start}), which UTF-8 cannot encode"
            ) from None


def event_parts(event: Any) -> Tuple[Any, List[Any], bool]:
    """(shared, actions, dicts) for the core from an Event: text (str or list of lines) or dicts."""
    if isinstance(event, str):
        _check_unicode(event)
        lines = event.split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        return None, lines, False
    if isinstance(event, tuple):
        if len(event) != 2:
            raise TypeError("a dict event is (shared dict or None, [action dict, ...])")
        shared, actions = event
        return (None if shared is None else as_dict(shared)), [as_dict(a) for a in actions], True
    if isinstance(event, list):
        if all(isinstance(x, str) for x in event):
            for x in event:
                _check_unicode(x)
            return None, [x.rstrip("\n") for x in event], False
        raise TypeError("a list event holds text lines; for dicts pass (shared, [action, ...])")
    raise TypeError(f"an event is text, a list of lines or (shared, [actions]), not {type(event).__name__}")


def in_action_order(order: Any, values: Any) -> "np.ndarray":
    """The core's ``values`` (listed in ``order``, best first) as a float32 array in action order."""
    import numpy as np

    out = np.empty(len(values), dtype=np.float32)
    out[order] = values
    return out


def learn(model: "Model", event: Event, label: Optional[Any]) -> "np.ndarray":
    """Learn one event (``label``: ``(action_index, cost, probability)`` or None, when the text
    carries it); returns the values :func:`predict` gave before the update, in action order."""
    if label is not None and not (isinstance(label, (tuple, list)) and len(label) == 3):
        raise TypeError("label is (action_index, cost, probability)")
    shared, actions, dicts = event_parts(event)
    order, values, _, _ = model.core.cb_event(shared, actions, dicts, None if label is None else tuple(label), True)
    return in_action_order(order, values)


def predict(model: "Model", event: Event) -> "np.ndarray":
    """The event's pmf (--cb_explore_adf) or scores (--cb_adf), in action order; changes nothing."""
    order, values, _, _ = model.core.cb_predict(*event_parts(event))
    return in_action_order(order, values)


def _greedy_unless_exploring(model: "Model", values: "np.ndarray") -> "np.ndarray":
    """``values`` listed best first; a model that does not explore gets the greedy pmf instead
    (1 on the best, split among ties)."""
    import numpy as np

    if model.options.cb_explore_adf or model.options.cb_explore is not None:
        return values
    tied = int(np.count_nonzero(values == values[0])) if len(values) else 0
    greedy = np.zeros(len(values), dtype=np.float32)
    greedy[:tied] = 1.0 / tied
    return greedy


def rank(
    model: "Model", shared: Optional[Mapping[str, Any]], candidates: List[Mapping[str, Any]]
) -> "Tuple[np.ndarray, np.ndarray]":
    """:meth:`wabbit.Model.rank`: ``(order, probabilities)``, best first."""
    import numpy as np

    if not isinstance(candidates, list):
        candidates = list(candidates)
    order, values, _, _ = model.core.cb_predict(shared, candidates, True)
    return order.astype(np.int64), _greedy_unless_exploring(model, values)


def sample(model: "Model", event: Event, seed: Optional[int] = None) -> Tuple[int, float]:
    """:meth:`wabbit.Model.sample`: ``(action_index, probability)`` drawn from the event's pmf."""
    import numpy as np

    shared, actions, dicts = event_parts(event)
    order, values, _, _ = model.core.cb_predict(shared, actions, dicts)
    pmf = in_action_order(order, _greedy_unless_exploring(model, values))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None, not {type(seed).__name__}")
    draw = model.core.cb_draw(None if seed is None else seed % 2**64)
    index = _core.sample_pmf(pmf, draw)
    total = float(np.sum(np.maximum(pmf, 0), dtype=np.float32))
    return int(index), float(pmf[index]) / total if total > 0 else 1.0

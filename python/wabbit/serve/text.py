"""Examples as VW text lines for the line protocol, and its replies back as numbers.

A dict example ``{namespace: {feature: value}}`` (or ``{namespace: [feature, ...]}``, value 1)
becomes ``label weight |namespace feature:value ...``. VW's text cannot carry every name: a space,
``|`` or ``:`` in a name (or an empty feature name) would be read as something else, so such names
are refused with a ValueError that says which one, instead of being sent as another example.

>>> example_line({"u": {"age": 3, "city=paris": 1}, "": ["x"]}, label=1, weight=2)
'1 2 |u age:3 city=paris | x'
>>> event_lines({"u": ["a"]}, [{"a": ["x"]}, {"a": ["y"]}], (1, 0.5, 0.25))
['shared |u a', '|a x', '1:0.5:0.25 |a y']
>>> parse_action_list("1:0.9,0:0.1")
([1, 0], [0.9, 0.1])
"""

from __future__ import annotations

import math
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["example_line", "event_lines", "parse_prediction", "parse_action_list", "is_error", "number_text"]

_FORBIDDEN = (" ", "\t", "\n", "\r", "\v", "\f", "|", ":")


def number_text(x: Any, what: str) -> str:
    """A finite number as text that reads back to the same double (``1.0`` as ``1``)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) and not hasattr(x, "__float__"):
        raise TypeError(f"{what} must be a number, not {type(x).__name__}")
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite for VW's text, not {v}")
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


def _name(name: Any, what: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what} names are str, not {type(name).__name__}: {name!r}")
    bad = next((c for c in _FORBIDDEN if c in name), None)
    if bad is not None:
        raise ValueError(
            f"{what} {name!r} holds {bad!r}, which VW's text format cannot carry in a name (it separates "
            "features, namespaces and values); rename it, or send the dict through Model/HTTP instead of text"
        )
    return name


def _namespace(ns: str, features: Any) -> str:
    head = "|" + _name(ns, "namespace")
    if isinstance(features, Mapping):
        parts = []
        for f, v in features.items():
            f = _name(f, "feature")
            if not f:
                raise ValueError(f"an empty feature name in namespace {ns!r} cannot be written as VW text")
            value = number_text(v, f"the value of feature {f!r}")
            parts.append(f if value == "1" else f"{f}:{value}")
    elif isinstance(features, (list, tuple)):
        parts = []
        for f in features:
            f = _name(f, "feature")
            if not f:
                raise ValueError(f"an empty feature name in namespace {ns!r} cannot be written as VW text")
            parts.append(f)
    else:
        raise TypeError(
            f"namespace {ns!r} holds {type(features).__name__}; a namespace is {{feature: value}} or [feature, ...]"
        )
    return " ".join([head, *parts])


def features_text(example: Mapping[str, Any]) -> str:
    """``|ns f:v ...`` for each namespace of a dict example."""
    if not isinstance(example, Mapping):
        raise TypeError(f"a dict example is {{namespace: {{feature: value}}}}, not {type(example).__name__}")
    if not example:
        return "|"
    return " ".join(_namespace(ns, feats) for ns, feats in example.items())


def example_line(
    example: Union[str, Mapping[str, Any]], label: Optional[Any] = None, weight: Optional[Any] = None
) -> str:
    """One example as one line of text (no newline): a text line is checked to be one line; a
    dict is written with ``label`` and ``weight`` in front (a weight needs a label)."""
    if isinstance(example, str):
        if label is not None or weight is not None:
            raise TypeError("a text example carries its own label and weight; pass label=/weight= only with a dict")
        line = example.rstrip("\n")
        if "\n" in line or "\r" in line:
            raise ValueError("one example is one line: this text holds a newline (send several with predict_many)")
        return line
    if weight is not None and label is None:
        raise ValueError("weight= needs label= (VW's text puts the weight after the label)")
    head = []
    if label is not None:
        head.append(number_text(label, "label"))
    if weight is not None:
        head.append(number_text(weight, "weight"))
    return " ".join([*head, features_text(example)])


def event_lines(
    shared: Optional[Mapping[str, Any]],
    actions: Sequence[Mapping[str, Any]],
    label: Optional[Tuple[int, float, float]] = None,
) -> List[str]:
    """A contextual-bandit event as VW's multiline text (without the blank line that ends it):
    ``shared |...``, one line per action, ``index:cost:probability`` on the chosen one."""
    if isinstance(actions, (str, bytes)) or not isinstance(actions, Sequence) or not actions:
        raise ValueError("an event needs a list of at least one action dict")
    chosen: Optional[int] = None
    prefix = ""
    if label is not None:
        if not (isinstance(label, (tuple, list)) and len(label) == 3):
            raise TypeError("label is (action_index, cost, probability)")
        index, cost, prob = label
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(actions):
            raise ValueError(f"label's action index must be 0..{len(actions) - 1}, not {index!r}")
        chosen = index
        prefix = f"{index}:{number_text(cost, 'cost')}:{number_text(prob, 'probability')} "
    out = []
    if shared is not None:
        out.append("shared " + features_text(shared))
    for i, action in enumerate(actions):
        out.append((prefix if i == chosen else "") + features_text(action))
    return out


def is_error(reply: str) -> bool:
    """Whether a reply line is the server's error line."""
    return reply.startswith("error")


def parse_prediction(reply: str) -> float:
    """The number of a prediction reply (``0.553585 tag``: the prediction, then the tag)."""
    token = reply.split(" ", 1)[0]
    try:
        return float(token)
    except ValueError:
        raise ValueError(f"not a prediction reply: {reply!r}") from None


def parse_action_list(reply: str) -> Tuple[List[int], List[float]]:
    """``action:value,...`` (a bandit event's reply) as (actions, values) in the reply's order;
    a bare action index (``--cb_adf``'s reply: the best action) as ([action], [1.0])."""
    text = reply.strip().split(" ", 1)[0]
    actions: List[int] = []
    values: List[float] = []
    try:
        if ":" not in text:
            return [int(text)], [1.0]
        for pair in text.split(","):
            a, v = pair.split(":")
            actions.append(int(a))
            values.append(float(v))
    except ValueError:
        raise ValueError(f"not a bandit event's reply: {reply!r}") from None
    return actions, values

"""Multiclass models (``--oaa K``, ``--csoaa K``): what learn/predict return.

The core predicts a class number (or, with ``--probabilities``, one probability per class); this
module turns them into what the Python API returns: an ``int`` class (its name with
``--named_labels``), or a float32 array of the K probabilities in class order; ``learn_many`` and
``predict_many`` return an int64 array of classes (an object array of names; -1 or None for a
skipped line) or an ``(n, K)`` float32 array of probabilities (NaN rows for a skipped line).

>>> import wabbit
>>> m = wabbit.Model("--oaa 3")
>>> for _ in range(5):
...     _ = m.learn("2 | a b")
>>> m.predict("| a b")
2
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

import numpy as np

if TYPE_CHECKING:
    from wabbit.model import Model

__all__ = ["learn_line", "predict_line", "outputs"]


def _names(model: "Model") -> Optional[List[str]]:
    names = model.options.named_labels
    return names.split(",") if names else None


def _classes(model: "Model") -> int:
    o = model.options
    k = o.oaa if o.oaa is not None else o.csoaa
    assert k is not None, "not a multiclass model"
    return int(k)


def _line(text: Any) -> bytes:
    b = text.encode() if isinstance(text, str) else bytes(text)
    if b"\n" in b.rstrip(b"\r\n"):
        raise ValueError("learn()/predict() take one line; use learn_many() for several")
    return b.rstrip(b"\r\n")


def _one(model: "Model", values: "np.ndarray") -> Any:
    if model.options.probabilities:
        return values.astype(np.float32)
    c = int(values[0])
    names = _names(model)
    return names[c - 1] if names is not None else c


def learn_line(model: "Model", text: Any) -> Any:
    """Learns one text line; returns the prediction made before the update."""
    res = model.core.run_buffer(_line(text), {"learn": True, "strict": True, "collect": True})
    if res["examples"] == 0:
        raise ValueError("no example in the line (blank)")
    return _one(model, res["predictions"])


def predict_line(model: "Model", text: Any) -> Any:
    """Predicts one text line without changing the model."""
    res = model.core.run_buffer(_line(text), {"learn": False, "account": False, "strict": True, "collect": True})
    if res["examples"] == 0:
        raise ValueError("no example in the line (blank)")
    return _one(model, res["predictions"])


def outputs(model: "Model", values: "np.ndarray") -> "np.ndarray":
    """A run's collected predictions as the API returns them (see the module's docstring)."""
    if model.options.probabilities:
        return values.reshape(-1, _classes(model))
    names = _names(model)
    if names is None:
        return np.where(np.isnan(values), -1, values).astype(np.int64)
    return np.array([None if np.isnan(v) else names[int(v) - 1] for v in values], dtype=object)

"""The signals a monitor watches: the loss, the 0/1 error, or a function of the batch."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import numpy as np

__all__ = ["SIGNALS", "Signal", "error_signal", "label_scheme"]

SIGNALS = ("loss", "error")

#: ``signal=``: one of SIGNALS, or a callable ``f(label, prediction, loss) -> values``.
Signal = Union[str, Callable[[np.ndarray, np.ndarray, np.ndarray], Any]]


def error_signal(label: np.ndarray, prediction: np.ndarray, scheme: Optional[str] = None) -> np.ndarray:
    """0/1 misclassification: ``scheme`` ``"-1/1"`` compares signs (a prediction of 0 is negative),
    ``"0/1"`` thresholds labels and predictions at 0.5. ``None``: decided from the labels, as the
    monitor does (see :func:`label_scheme`).

    >>> import numpy as np
    >>> error_signal(np.array([1, -1, 1, -1]), np.array([0.3, 0.2, -2.0, -0.1]))
    array([0., 1., 1., 0.])
    >>> error_signal(np.array([1, 0, 1, 0]), np.array([0.7, 0.2, 0.3, 0.6]))
    array([0., 0., 1., 1.])
    """
    label = np.asarray(label, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    if scheme is None:
        scheme = label_scheme(label) or "-1/1"
    cut = 0.5 if scheme == "0/1" else 0.0
    return ((prediction > cut) != (label > cut)).astype(np.float64)


def label_scheme(label: np.ndarray) -> Optional[str]:
    """The label scheme, fixed by the first label that is negative (``"-1/1"``) or zero
    (``"0/1"``); None while there is none.

    >>> label_scheme(np.array([1.0, 0.0, -1.0])), label_scheme(np.array([1.0, 1.0]))
    ('0/1', None)
    """
    neg = np.flatnonzero(label < 0)
    zero = np.flatnonzero(label == 0)
    if neg.size == 0 and zero.size == 0:
        return None
    if zero.size == 0 or (neg.size and neg[0] < zero[0]):
        return "-1/1"
    return "0/1"

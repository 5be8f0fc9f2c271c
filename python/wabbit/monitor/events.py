"""What a monitor records: :class:`DriftEvent`, and the names of the responses it can apply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional, Union

if TYPE_CHECKING:
    from wabbit.model import Model

__all__ = ["DriftEvent", "RESPONSES", "Response"]

RESPONSES = ("alert", "reset", "boost", "switch")

#: ``on_drift=``: one of RESPONSES, or a callable ``f(model, event)``.
Response = Union[str, Callable[["Model", "DriftEvent"], Any]]


class DriftEvent(NamedTuple):
    """One thing a monitor noticed or did.

    ``kind``: ``"warning"`` (the detector entered its warning zone), ``"drift"`` (an alarm),
    ``"switch"`` (a challenger was promoted), ``"drop"`` (a challenger was given up).
    ``index``: the monitored example (0-based, labelled examples only) that raised it, or, for
    switches and drops, the count of examples seen when it happened. ``response``: what was done:
    ``"alert"``, ``"reset"``, ``"boost"``, ``"challenger"`` (a challenger started), ``"switch"``,
    ``"drop"``, ``"none"``, or the name of the ``on_drift`` callable. ``applied``: the first
    monitored example the response affected (the batch boundary). ``rising``: whether the signal
    rose (None: the detector cannot tell; see :mod:`wabbit.monitor`).

    >>> e = DriftEvent(41, "drift", "ADWIN", "reset", 100, True)
    >>> e.example, e.response
    (42, 'reset')
    """

    index: int  # type: ignore[assignment]  # the example number (a field, as river names it)
    kind: str
    detector: str
    response: str
    applied: int
    rising: Optional[bool] = None

    @property
    def example(self) -> int:
        """The example's 1-based number (VW's progress counter, when every example is labelled)."""
        return self.index + 1

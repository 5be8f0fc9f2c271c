"""What a monitor records: :class:`DriftEvent`, the names of the responses it can apply, and\nthe summary of its events printed at the end of a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, List, NamedTuple, Optional, Union

if TYPE_CHECKING:
    from wabbit.model import Model

__all__ = ["DriftEvent", "RESPONSES", "Response", "summarize"]

RESPONSES = ("alert", "reset", "boost", "switch", "pool")

#: ``on_drift=``: one of RESPONSES, or a callable ``f(model, event)``.
Response = Union[str, Callable[["Model", "DriftEvent"], Any]]


class DriftEvent(NamedTuple):
    """One thing a monitor noticed or did.

    ``kind``: ``"warning"`` (the detector entered its warning zone), ``"drift"`` (an alarm),
    ``"switch"`` (a challenger was promoted), ``"drop"`` (a challenger was given up),
    ``"inversion"`` (``"pool"``: a winning challenger held, its predictions the champion's inverted).
    ``index``: the monitored example (0-based, labelled examples only) that raised it, or, for
    switches and drops, the count of examples seen when it happened. ``response``: what was done:
    ``"alert"``, ``"reset"``, ``"boost"``, ``"challenger"`` (a challenger started), ``"switch"``,
    ``"restore"`` (``"pool"``: an archived model serves again),
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


def summarize(events: List[DriftEvent], detector: str, on_drift: Response, warnings: bool) -> List[str]:
    """Lines for the end of a run: counts and example numbers of alarms, warnings (when the
    detector has a warning zone), switches and drops (``"switch"``), resets or boosts.

    >>> summarize([DriftEvent(41, "drift", "ADWIN", "reset", 100, True)], "ADWIN", "reset", False)
    ['drift alarms = 1 (ADWIN, at example 42)', 'weight resets = 1 (alarms at example 42)']
    """

    def where(events: List[DriftEvent]) -> str:
        shown = ", ".join(str(e.example) for e in events[:20])
        return ("at example " if len(events) == 1 else "at examples ") + shown + (", ..." if len(events) > 20 else "")

    out = []
    drifts = [e for e in events if e.kind == "drift"]
    out.append(f"drift alarms = {len(drifts)}" + (f" ({detector}, {where(drifts)})" if drifts else f" ({detector})"))
    found = [e for e in events if e.kind == "warning"]
    if warnings:
        out.append(f"drift warnings = {len(found)}" + (f" ({where(found)})" if found else ""))
    for kind, label in (("switch", "challenger switches"), ("drop", "challengers dropped")):
        es = [e for e in events if e.kind == kind and e.response != "restore"]
        if on_drift in ("switch", "pool"):
            out.append(f"{label} = {len(es)}" + (f" ({where(es)})" if es else ""))
    if on_drift == "pool":
        es = [e for e in events if e.kind == "switch" and e.response == "restore"]
        out.append(f"archived models restored = {len(es)}" + (f" ({where(es)})" if es else ""))
    if on_drift in ("reset", "boost"):
        acted = [e for e in drifts if e.response == on_drift]
        label = "weight resets" if on_drift == "reset" else "learning-rate boosts"
        out.append(f"{label} = {len(acted)}" + (f" (alarms {where(acted)})" if acted else ""))
    return out

"""The timed response of a monitor: ``"boost"``, a learning-rate factor that lasts a number of
examples (the other responses are one call on the core: ``reset_learner()``, ``swap_learner()``)."""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["Boost"]


class Boost:
    """The learning rate (FTRL: alpha) times a factor from a batch boundary until an example, then
    restored; another alarm meanwhile extends the period (from the rate before the first one).

    >>> class Core:                       # the two calls of wabbit._core.Model a boost makes
    ...     rate = 1.0
    ...     def rate_factor(self): return self.rate
    ...     def set_rate_factor(self, f): self.rate = f
    >>> core, boost = Core(), Boost()
    >>> boost.start(core, 1000, factor=3.0, examples=500), core.rate
    (1500, 3.0)
    >>> boost.start(core, 1200, factor=3.0, examples=500), core.rate   # extended, not compounded
    (1700, 3.0)
    >>> boost.end(core, 1600); core.rate
    3.0
    >>> boost.end(core, 1700); core.rate, boost.until
    (1.0, None)
    """

    def __init__(self) -> None:
        self.until: Optional[int] = None  # the boundary at which the rate is restored (None: no boost)
        self.rate_before = 1.0

    def start(self, core: Any, boundary: int, factor: float, examples: int) -> int:
        """Boost from ``boundary`` for ``examples`` examples; returns the example it lasts until."""
        if self.until is None:
            self.rate_before = core.rate_factor()
            core.set_rate_factor(self.rate_before * factor)
        self.until = boundary + examples
        return self.until

    def end(self, core: Any, boundary: int) -> None:
        """At a batch boundary: restore the rate once the boost has lasted its examples."""
        if self.until is not None and boundary >= self.until:
            core.set_rate_factor(self.rate_before)
            self.until = None

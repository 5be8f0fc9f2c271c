"""The report of an off-policy evaluation: the estimates, the logged cost, their difference and
the table ``wabbit ope`` prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from wabbit.ope.intervals import normal_interval
from wabbit.ope.result import Estimate, percent

__all__ = ["Report"]


@dataclass(frozen=True)
class Report:
    """The answer to "would the target have done better on this log?": ``estimates`` (by name)
    for the target, ``logged`` (what the logging policy actually cost), the events used and the
    events skipped (no label). ``str(report)`` is the table ``wabbit ope`` prints.

    A target that never takes the logged action (cost 0 by IPS) against a log that cost 0.75:

    >>> from wabbit import ope
    >>> costs = [1.0, 0.0, 1.0, 1.0]
    >>> est = ope.ips([0, 0, 0, 0], costs, [0.5] * 4, [[0.0, 1.0]] * 4)
    >>> report = Report({"ips": est}, ope.observed(costs), 4)
    >>> report.difference().value                    # 0 - (1 + 0 + 1 + 1) / 4
    -0.75
    >>> report.verdict()[:4]     # paired terms -1, 0, -1, -1: -0.75 -+ 1.96 * 0.5 / 2 is below 0
    'yes:'
    """

    estimates: Dict[str, Estimate]
    logged: Estimate
    n: int
    skipped: int = 0
    source: str = ""
    target: str = ""

    def difference(self, estimator: Optional[str] = None) -> Estimate:
        """The target's estimated cost minus the logged cost on the same events, with the
        interval of the paired per-event differences (normal), by ``estimator`` (default: the
        first of dr, snips, ips that was computed). Below zero: the target is cheaper."""
        name = estimator or next((e for e in ("dr", "snips", "ips", "dm") if e in self.estimates), None)
        if name is None or name not in self.estimates:
            raise ValueError(f"no estimate named {estimator!r} in this report ({', '.join(self.estimates)})")
        est = self.estimates[name]
        assert est.terms is not None and self.logged.terms is not None
        d = est.terms - self.logged.terms
        lo, hi = normal_interval(d, est.alpha)
        return Estimate(
            f"{name} - logged", est.value - self.logged.value, lo, hi, est.alpha, est.n, est.ess, "normal", d
        )

    def verdict(self) -> str:
        """One line: yes (the difference's interval is below 0), no (above), or cannot tell."""
        d = self.difference()
        by = d.estimator.split(" ")[0]
        pct = percent(d.level)
        if d.upper < 0:
            return f"yes: by {by}, the target costs {-d.value:.4g} less per event ({pct} interval of the difference [{d.lower:.4g}, {d.upper:.4g}])"
        if d.lower > 0:
            return f"no: by {by}, the target costs {d.value:.4g} more per event ({pct} interval of the difference [{d.lower:.4g}, {d.upper:.4g}])"
        return f"cannot tell: by {by}, the difference {d.value:.4g} has a {pct} interval [{d.lower:.4g}, {d.upper:.4g}] that contains 0"

    def __str__(self) -> str:
        pct = percent(self.logged.level)
        rows = [("policy", "estimator", "expected cost", f"{pct} interval", "ess")]
        rows.append(
            (
                "logged",
                "observed",
                f"{self.logged.value:.6g}",
                f"[{self.logged.lower:.6g}, {self.logged.upper:.6g}]",
                f"{self.n}",
            )
        )
        for name, e in self.estimates.items():
            rows.append(("target", name, f"{e.value:.6g}", f"[{e.lower:.6g}, {e.upper:.6g}]", f"{e.ess:.1f}"))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        head = f"off-policy evaluation of {self.target or 'the target'} on {self.source or 'the log'}: {self.n} events"
        if self.skipped:
            head += f" ({self.skipped} without a label skipped)"
        head += f"; costs (lower is better), {self.logged.method} intervals"
        lines = [head]
        for r in rows:
            lines.append(
                "  ".join(r[i].ljust(widths[i]) if i < 2 else r[i].rjust(widths[i]) for i in range(5)).rstrip()
            )
        if self.estimates:
            lines.append("better than the logging policy? " + self.verdict())
        return "\n".join(lines) + "\n"

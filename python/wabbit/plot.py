"""Plots (matplotlib, the ``plot`` extra: ``pip install wabbit[plot]``): did learning work?

- :func:`progressive_loss`: the progressive loss over the examples (a moving window and the
  running average), with drift alarms, challenger switches and published versions marked;
- :func:`progress_log`: the same from a run's progress log (VW's table on stderr, with the drift
  lines the monitor prints and the ``published vN`` lines of ``wabbit train``);
- :func:`ope_report`: an off-policy evaluation's estimates with their intervals, next to the cost
  of the logged policy;
- :func:`bench_chart`: a table of bench/RESULTS.md as a bar chart.

Each returns the matplotlib ``Figure`` (drawn without pyplot's global state: nothing opens a
window; ``fig.savefig("out.png")`` writes it). The marks carry matplotlib ``gid``\\ s: ``"drift"``,
``"switch"``, ``"version"`` (vertical lines), ``"estimate"``, ``"logged"``. ``wabbit plot`` draws
them from the command line (:mod:`wabbit.cli.plot_command`).

>>> import numpy as np
>>> from wabbit.plot import losses, progressive_loss
>>> y = np.array([1.0, -1.0] * 500)
>>> per_example = losses(np.zeros(1000), y, "logistic")
>>> round(float(per_example[0]), 6)                               # log(1 + exp(0))
0.693147
>>> fig = progressive_loss(per_example, drift=[400], switches=[600], versions=[500, 1000])
>>> ax = fig.axes[0]
>>> ax.get_xlabel(), sorted({line.get_gid() for line in ax.lines if line.get_gid()})
('example', ['drift', 'loss', 'switch', 'version', 'window'])
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, List, Optional, Sequence, Tuple, Union, cast

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from wabbit.ope.report import Report

__all__ = [
    "INSTALL_HINT",
    "ProgressLog",
    "bench_chart",
    "bench_tables",
    "losses",
    "ope_report",
    "progress_log",
    "progressive_loss",
    "read_labels",
    "read_predictions",
    "read_progress_log",
]

INSTALL_HINT = "plots need matplotlib: pip install wabbit[plot] (or pip install matplotlib)"
LOSSES = ("squared", "logistic", "hinge")
COLORS = {"loss": "#2e6fba", "window": "#9dbbe0", "drift": "#d62728", "switch": "#2ca02c", "version": "#7f4fbf"}


def _figure(ax: Optional["Axes"], size: Tuple[float, float] = (9.0, 4.5)) -> Tuple["Figure", "Axes"]:
    if ax is not None:
        return cast("Figure", ax.figure), ax
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


# ---------------------------------------------------------------------- progressive loss


def losses(predictions: Any, labels: Any, loss_function: str = "squared") -> np.ndarray:
    """Each example's loss, as VW counts it in its progressive loss: ``squared`` (p - y)^2,
    ``logistic`` log(1 + exp(-y p)) on the raw score (labels -1/1), ``hinge`` max(0, 1 - y p).
    Unlabelled examples (NaN label) get NaN."""
    p = np.asarray(predictions, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape:
        raise ValueError(f"{p.shape[0] if p.ndim else 1} predictions for {y.shape[0] if y.ndim else 1} labels")
    if loss_function == "squared":
        return (p - y) ** 2
    if loss_function == "logistic":
        return np.logaddexp(0.0, -y * p)
    if loss_function == "hinge":
        return np.maximum(0.0, 1.0 - y * p)
    raise ValueError(f"loss_function is one of {', '.join(LOSSES)}, not {loss_function!r}")


def _marks(ax: "Axes", where: Iterable[float], gid: str, label: str, style: str) -> None:
    first = True
    for x in where:
        ax.axvline(float(x), color=COLORS[gid], linestyle=style, linewidth=1.2, gid=gid, label=label if first else None)
        first = False


def _event_examples(events: Iterable[Any], kind: str) -> List[int]:
    # DriftEvent (wabbit.monitor) or anything with .kind and .example (1-based)
    return [int(e.example) for e in events if getattr(e, "kind", None) == kind]


def progressive_loss(
    per_example: Any,
    *,
    events: Iterable[Any] = (),
    drift: Iterable[int] = (),
    switches: Iterable[int] = (),
    versions: Iterable[int] = (),
    window: Optional[int] = None,
    title: str = "Progressive loss",
    ax: Optional["Axes"] = None,
) -> "Figure":
    """The progressive loss over the examples: each example's loss (made before it was learned),
    averaged over a moving ``window`` (default: 1/50 of the examples, at least 100) and from the
    start (VW's "average loss"). Marked at their 1-based example numbers: drift alarms
    (``drift``, or the ``"drift"`` :class:`wabbit.monitor.DriftEvent`\\ s of ``events``, e.g.
    ``model.drift_events``), challenger ``switches`` (``"switch"`` events) and published
    ``versions`` (the example counts at which versions were saved: ``[v.examples for v in
    store.list()]``). NaN losses (unlabelled examples) are left out of the averages."""
    loss = np.asarray(per_example, dtype=np.float64).ravel()
    events = list(events)
    fig, ax = _figure(ax)
    n = len(loss)
    x = np.arange(1, n + 1)
    ok = ~np.isnan(loss)
    filled = np.where(ok, loss, 0.0)
    count = np.cumsum(ok)
    running = np.cumsum(filled) / np.maximum(count, 1)
    w = window or max(100, n // 50)
    if n:
        w = min(w, n)
        csum, ccount = np.concatenate([[0.0], np.cumsum(filled)]), np.concatenate([[0], count])
        lo = np.maximum(np.arange(n) + 1 - w, 0)
        moving = (csum[1:] - csum[lo]) / np.maximum(ccount[1:] - ccount[lo], 1)
        ax.plot(x, moving, color=COLORS["window"], linewidth=1.0, label=f"last {w:,} examples", gid="window")
        ax.plot(x, running, color=COLORS["loss"], linewidth=2.0, label="average since the start", gid="loss")
    _marks(ax, list(drift) + _event_examples(events, "drift"), "drift", "drift alarm", "--")
    _marks(ax, list(switches) + _event_examples(events, "switch"), "switch", "challenger switch", "-")
    _marks(ax, versions, "version", "published version", ":")
    ax.set_xlabel("example")
    ax.set_ylabel("progressive loss")
    ax.set_title(title)
    ax.set_xlim(0, max(n, 1))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return fig


def read_predictions(path: Union[str, "os.PathLike[str]"]) -> np.ndarray:
    """A ``-p`` file's predictions (the first number of each line; a tag after it is ignored)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        values = [line.split()[0] if line.strip() else "nan" for line in f]
    return np.asarray(values, dtype=np.float64)


def read_labels(path: Union[str, "os.PathLike[str]"]) -> np.ndarray:
    """The label of each example of a VW text file (NaN: unlabelled), as the core's parser reads it."""
    import wabbit._core as _core

    out: List[float] = []
    with open(path, "rb") as f:
        for line in f:
            status, _, label, *_ = _core.parse_line(line.rstrip(b"\r\n"))
            if status == "blank":
                continue
            out.append(float(label) if status == "example" and abs(float(label)) < 3e38 else math.nan)
    return np.asarray(out, dtype=np.float64)


# ---------------------------------------------------------------------- progress logs

_ROW = re.compile(r"^\s*(-?[\d.]+(?:e[-+]?\d+)?|n\.a\.)\s+(-?[\d.]+(?:e[-+]?\d+)?|n\.a\.)\s+(\d+)\s+([\d.]+)\s")
_DRIFT = re.compile(r"drift detected at example (\d+)")
_SWITCH = re.compile(r"switched to challenger at example (\d+)")
_PUBLISHED = re.compile(r"published v(\d+): (\d+) examples")
_FINAL_COUNT = re.compile(r"^number of examples = (\d+)")
_FINAL_LOSS = re.compile(r"^average loss = (-?[\d.]+(?:e[-+]?\d+)?)")


@dataclass
class ProgressLog:
    """What a run's progress log says: VW's table (``examples``, ``average_loss``, ``since_last``
    per row) and the events printed between its rows (1-based example numbers)."""

    examples: List[int] = field(default_factory=list)
    average_loss: List[float] = field(default_factory=list)
    since_last: List[float] = field(default_factory=list)
    drift: List[int] = field(default_factory=list)
    switches: List[int] = field(default_factory=list)
    versions: List[int] = field(default_factory=list)


def read_progress_log(source: Union[str, "os.PathLike[str]", Iterable[str]]) -> ProgressLog:
    """Parse a run's progress log (a path, or its lines): the rows of VW's progress table, the drift
    monitor's "drift detected at example N" and "switched to challenger at example N" lines, and
    ``wabbit train``'s "published vN: M examples learned" lines; the closing summary's average loss
    ends the table (at its "number of examples").

    >>> log = read_progress_log([
    ...     "average  since         example        example        current        current  current",
    ...     "0.693147 0.693147            1            1.0         1.0000         0.0000        3",
    ...     "drift detected at example 3 (adwin): challenger started at example 4",
    ...     "0.500000 0.400000            4            4.0        -1.0000        -0.2000        3",
    ...     "switched to challenger at example 5 (adwin alarm at example 3): ...",
    ... ])
    >>> log.examples, log.average_loss, log.drift, log.switches
    ([1, 4], [0.693147, 0.5], [3], [5])
    """
    lines: Iterable[str]
    if isinstance(source, (str, os.PathLike)):
        with open(source, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    else:
        lines = source
    log = ProgressLog()
    final_count: Optional[int] = None
    for line in lines:
        found = _FINAL_COUNT.match(line)
        if found is not None:
            final_count = int(found.group(1))
        found = _FINAL_LOSS.match(line)
        if found is not None and final_count is not None and (not log.examples or final_count > log.examples[-1]):
            # the closing summary: the average loss at the last example, after the table's last row
            log.examples.append(final_count)
            log.average_loss.append(float(found.group(1)))
            log.since_last.append(math.nan)
        m = _ROW.match(line)
        if m is not None:
            log.examples.append(int(m.group(3)))
            log.average_loss.append(float(m.group(1)) if m.group(1) != "n.a." else math.nan)
            log.since_last.append(float(m.group(2)) if m.group(2) != "n.a." else math.nan)
            continue
        for pattern, into in ((_DRIFT, log.drift), (_SWITCH, log.switches)):
            found = pattern.search(line)
            if found is not None:
                into.append(int(found.group(1)))
        found = _PUBLISHED.search(line)
        if found is not None:
            log.versions.append(int(found.group(2)))
    return log


def progress_log(
    log: Union[ProgressLog, str, "os.PathLike[str]"],
    *,
    versions: Iterable[int] = (),
    title: str = "Progressive loss (progress log)",
    ax: Optional["Axes"] = None,
) -> "Figure":
    """A progress log's average loss and "since last" loss at each row of VW's table (the rows
    double, so the example axis is logarithmic), with the log's drift alarms, switches and
    published versions (plus ``versions`` given here) marked."""
    if not isinstance(log, ProgressLog):
        log = read_progress_log(log)
    if not log.examples:
        raise ValueError("the progress log has no row of VW's progress table (was the run --quiet?)")
    fig, ax = _figure(ax)
    ax.plot(
        log.examples, log.since_last, "o-", color=COLORS["window"], markersize=3, label="since last row", gid="window"
    )
    ax.plot(log.examples, log.average_loss, "o-", color=COLORS["loss"], markersize=3, label="average loss", gid="loss")
    _marks(ax, log.drift, "drift", "drift alarm", "--")
    _marks(ax, log.switches, "switch", "challenger switch", "-")
    _marks(ax, list(log.versions) + list(versions), "version", "published version", ":")
    ax.set_xscale("log")
    ax.set_xlabel("example")
    ax.set_ylabel("progressive loss")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return fig


# ---------------------------------------------------------------------- off-policy evaluation


def ope_report(report: "Report", *, title: Optional[str] = None, ax: Optional["Axes"] = None) -> "Figure":
    """An off-policy evaluation (:func:`wabbit.ope.evaluate_log`'s report): each estimator's
    expected cost per event for the target policy, with its interval, and the logged policy's
    observed cost with its interval (a band): an estimate whose interval lies below the band
    is a cheaper policy."""
    fig, ax = _figure(ax, (8.0, 1.2 + 0.6 * (len(report.estimates) + 1)))
    names = list(report.estimates)
    rows = [report.estimates[n] for n in names] + [report.logged]
    labels = [f"{n} (target)" for n in names] + ["logged policy"]
    y = np.arange(len(rows))
    for i, est in enumerate(rows):
        gid = "logged" if i == len(rows) - 1 else "estimate"
        color = "#555555" if gid == "logged" else COLORS["loss"]
        lower, upper = est.value - est.lower, est.upper - est.value
        bar = ax.errorbar(
            [est.value], [i], xerr=[[max(lower, 0.0)], [max(upper, 0.0)]], fmt="o", color=color, capsize=4
        )
        bar.lines[0].set_gid(gid)  # the point (the container itself has no gid)
        ax.annotate(
            f"{est.value:.4g}", (est.value, i), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8
        )
    ax.axvspan(report.logged.lower, report.logged.upper, color="#cccccc", alpha=0.4, gid="logged_band")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    level = 100 * (1 - rows[0].alpha) if rows else 95
    ax.set_xlabel(f"expected cost per event ({level:g}% intervals; lower is better)")
    ax.set_title(
        title or f"Off-policy evaluation: {report.n:,} events" + (f" of {report.source}" if report.source else "")
    )
    ax.grid(True, axis="x", alpha=0.3)
    return fig


# ---------------------------------------------------------------------- bench results


@dataclass
class BenchTable:
    """One markdown table of bench/RESULTS.md, under its nearest heading."""

    heading: str
    columns: List[str]
    rows: List[List[str]]

    def numbers(self, column: str) -> List[float]:
        """The column's cells as numbers (thousands separators, ``x`` and ``%`` dropped; NaN when empty)."""
        k = self.columns.index(column)
        out = []
        for row in self.rows:
            cell = re.sub(r"[,x%]|\*\*", "", row[k]).strip() if k < len(row) else ""
            try:
                out.append(float(cell))
            except ValueError:
                out.append(math.nan)
        return out


def bench_tables(path: Union[str, "os.PathLike[str]"]) -> List[BenchTable]:
    """Every markdown table of a results file, with the heading above it.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "R.md"
    >>> _ = p.write_text("# Speed\\n\\n| tool | lines/s |\\n|---|---:|\\n| vw | 1,000 |\\n| wabbit | 2,500 |\\n")
    >>> t = bench_tables(p)[0]
    >>> t.heading, t.columns, t.numbers("lines/s")
    ('Speed', ['tool', 'lines/s'], [1000.0, 2500.0])
    """
    tables: List[BenchTable] = []
    heading = ""
    current: Optional[BenchTable] = None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            if not line.startswith("|"):
                current = None
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if current is None:
                current = BenchTable(heading, cells, [])
                tables.append(current)
            elif not all(re.fullmatch(r":?-+:?", c) for c in cells if c):
                current.rows.append(cells)
    return tables


def _find_table(tables: Sequence[BenchTable], table: Optional[str], column: Optional[str]) -> Tuple[BenchTable, str]:
    for t in tables:
        if table is not None and table.lower() not in t.heading.lower():
            continue
        if column is not None:
            if column in t.columns:
                return t, column
            continue
        for c in t.columns[1:]:  # the first column that holds numbers
            if any(not math.isnan(v) for v in t.numbers(c)):
                return t, c
    raise ValueError(f"no table{f' under a heading with {table!r}' if table else ''} with a column {column!r}")


def bench_chart(
    path: Union[str, "os.PathLike[str]"],
    table: Optional[str] = None,
    column: Optional[str] = None,
    *,
    label_columns: int = 2,
    log: bool = False,
    ax: Optional["Axes"] = None,
) -> "Figure":
    """A table of bench/RESULTS.md as horizontal bars: the first table whose heading contains
    ``table`` (case-insensitive) and that has ``column`` (default: its first numeric column); each
    bar is labelled by the row's first ``label_columns`` cells. ``log``: a logarithmic axis."""
    found, col = _find_table(bench_tables(path), table, column)
    values = found.numbers(col)
    keep = [i for i, v in enumerate(values) if not math.isnan(v)]
    labels = [" | ".join(found.rows[i][:label_columns]) for i in keep]
    vals = [values[i] for i in keep]
    fig, ax = _figure(ax, (9.0, 1.5 + 0.3 * len(vals)))
    bars = ax.barh(range(len(vals)), vals, color=COLORS["loss"], gid="bar")
    for bar, v in zip(bars, vals):
        ax.annotate(
            f" {v:,.0f}" if abs(v) >= 100 else f" {v:.4g}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=7,
        )
    ax.set_yticks(range(len(vals)), labels, fontsize=8)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(col)
    ax.set_title(found.heading)
    ax.set_xlim(right=max(vals, default=1) * (3 if log else 1.2))
    return fig

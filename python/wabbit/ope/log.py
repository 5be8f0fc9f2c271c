"""The reader of VW ADF logs: events through the core's event builder (the CLI's and Model.learn's
rules and error messages)."""

from __future__ import annotations

import itertools
import os
from typing import Iterator, List, NamedTuple, Optional, Tuple, Union

__all__ = ["LoggedEvent", "read_adf_log", "read_events"]


class LoggedEvent(NamedTuple):
    """One event of a VW ADF log: its text without the label, the chosen action (0-based among the
    action lines), its cost and the logging probability, and the line number where it starts."""

    event: str
    action: int
    cost: float
    probability: float
    line: int


def read_adf_log(path: Union[str, "os.PathLike[str]"]) -> Iterator[LoggedEvent]:
    """The labelled events of a VW ADF text log (plain or gzip), in order.

    An event is an optional ``shared |...`` line and one line per action, ended by a blank line
    (or the end of the file). The chosen action's line starts with its label
    ``action:cost:probability`` (VW ignores the action number in ADF; so does this reader: the
    action is the line's position). Events without a label (predict-only) are skipped; a malformed
    event (a second label, a cost that is not a number, a probability outside (0, 1], ...) raises
    ValueError naming the file and the line, in the words the CLI and Model.learn use.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "log.dat")
    >>> with open(path, "w") as f:
    ...     _ = f.write("shared |u user=1\\n|a ad=1\\n0:0.5:0.25 |a ad=2\\n\\n|a ad=1\\n|a ad=2\\n")
    >>> [tuple(e) for e in read_adf_log(path)]
    [('shared |u user=1\\n|a ad=1\\n|a ad=2', 1, 0.5, 0.25, 1)]
    """
    for event in read_events(path):
        if event is not None:
            yield event[0]


def read_events(path: Union[str, "os.PathLike[str]"]) -> Iterator[Optional[Tuple[LoggedEvent, int]]]:
    """Every event of the log: (the LoggedEvent, its number of actions), or None for one without a label."""
    path = os.fspath(path)
    lines: List[str] = []
    start = 0
    for number, text in enumerate(_log_lines(path), 1):
        text = text.rstrip("\r\n")
        if text.strip():
            if not lines:
                start = number
            lines.append(text)
            continue
        if lines:
            yield _parse_event(lines, start, path)
            lines = []
    if lines:
        yield _parse_event(lines, start, path)


def _log_lines(path: str) -> Iterator[str]:
    """The log's lines as text: plain or gzip, from a file, a FIFO or /dev/stdin (read once, without
    seeking). Gzip cut short or corrupt: the lines before the damage, then a warning."""
    import warnings

    from wabbit._io import open_input

    with open_input(path) as src:
        with open(src.fd, "rb", closefd=False) as f:
            # the bytes taken to look for the gzip magic start the first line(s)
            first = (src.head + f.readline()).splitlines(keepends=True)
            for number, raw in enumerate(itertools.chain(first, f), 1):
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ValueError(
                        f"{path}:{number}: not UTF-8 text ({e.reason} at byte {e.start} of the line)"
                    ) from None
    if src.problem is not None:
        warnings.warn(src.problem, stacklevel=2)


def _parse_event(lines: List[str], start: int, path: str) -> Optional[Tuple[LoggedEvent, int]]:
    """One event through the core's event builder (the CLI's and Model.learn's rules and error
    messages), its label taken off the labelled line; None for an event without a label."""
    from wabbit import _core

    try:
        parsed = _core.cb_logged_event(lines, start)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    if parsed is None:
        return None
    action, cost, prob, actions, label_line, stripped, word = parsed
    parts = word.split(":")
    try:  # the core checked the label (at VW's float32); the estimates read its numbers in double
        cost, prob = float(parts[1]), float(parts[2])
    except ValueError:  # a spelling only the core's reader takes: its float32 values
        pass
    out = list(lines)
    out[label_line] = stripped
    return LoggedEvent("\n".join(out), int(action), float(cost), float(prob), start), int(actions)

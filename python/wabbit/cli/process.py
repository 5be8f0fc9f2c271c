"""How the ``wabbit`` command meets its process: signals, exit statuses and error text.

>>> EXIT_SIGINT, EXIT_SIGTERM
(130, 143)
>>> describe_error(FileNotFoundError(2, "No such file or directory", "train.vw"))
'train.vw: No such file or directory'
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, Callable

__all__ = ["Terminated", "EXIT_SIGINT", "EXIT_SIGTERM", "catch_sigterm", "silence_stdout", "describe_error"]


class Terminated(BaseException):
    """SIGTERM, raised in the main thread while the command runs (as SIGINT raises KeyboardInterrupt)."""


#: The exit status after a signal: 128 + its number, as a shell reports a process it ended.
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM


def catch_sigterm() -> Callable[[], None]:
    """SIGTERM raises Terminated in the main thread while the command runs (so that learning stops
    at a block boundary and -f is saved), unless it is ignored or already handled; returns the undo."""
    try:
        if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
            return lambda: None

        def on_term(signum: int, frame: Any) -> None:
            raise Terminated()

        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: signals are not ours to take
        return lambda: None

    def restore() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return restore


def silence_stdout() -> None:
    """After EPIPE on stdout: point it at /dev/null, so that the exit's flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def describe_error(e: BaseException) -> str:
    """An error as the one line after ``wabbit: error:`` (a file error names the file first)."""
    if isinstance(e, OSError) and e.strerror and e.filename:
        return f"{e.filename}: {e.strerror}"
    if isinstance(e, MemoryError):
        return f"out of memory ({e or 'an allocation failed'}); nothing is saved"
    return str(e)

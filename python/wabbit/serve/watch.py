"""Following a :class:`wabbit.ModelStore` (``--watch DIR``): its current version is swapped in.

A thread reads the store's ``CURRENT`` every ``poll_seconds`` (a read of a few bytes); when it
names another version, that version is loaded (in this thread, while the server keeps answering
on the version it has) and swapped in under its number. A version that fails to load (pruned in
between, corrupt) is reported once and skipped: the server keeps the version it serves and tries
again when ``CURRENT`` changes. :meth:`Watcher.start` makes the first poll before it returns, so a
server started on a store serves the store's current version from its first request.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Callable, Optional

from wabbit.model import Model
from wabbit.store import ModelStore, StoreError

if TYPE_CHECKING:
    from wabbit.serve.server import Server

__all__ = ["Watcher"]


class Watcher:
    """Polls ``store`` and swaps its current version into ``server``; stops with the server."""

    def __init__(
        self,
        server: "Server",
        store: ModelStore,
        poll_seconds: float = 0.2,
        log: Optional[Callable[[str], None]] = None,
        install: Optional[Callable[[Model, str], None]] = None,
        served: Optional[Callable[[], str]] = None,
    ) -> None:
        if not poll_seconds > 0:
            raise ValueError(f"poll_seconds must be positive, not {poll_seconds}")
        self.server = server
        self.store = store
        self.poll_seconds = float(poll_seconds)
        self._log = log or (lambda line: print(line, file=sys.stderr))
        # what a new version is given to, and the version already there: the served model by default
        # (a canary's watcher installs candidates instead: serve(canary=..., candidates=DIR))
        self._install = install or server.swap
        self._served = served or (lambda: server.version)
        self._failed: Optional[str] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def poll(self) -> bool:
        """One look at the store: swap its current version in if the server serves another; True
        if it did (a version the server already serves, e.g. after a rollback, is not loaded again)."""
        try:
            current = self.store.current
        except (OSError, StoreError) as e:
            self._report(f"cannot read the store's current version: {e}", "read")
            return False
        if current is None:
            return False
        version = str(current)
        if version == self._served():
            return False
        try:
            model = self.store.load(current)
        except (OSError, ValueError, StoreError) as e:
            self._report(
                f"version {version} of {self.store.directory} did not load; still serving the last: {e}", version
            )
            return False
        self._install(model, version)
        self._failed = None
        return True

    def _report(self, message: str, key: str) -> None:
        if self._failed != key:
            self._failed = key
            self._log(f"wabbit: warning: {message}")

    def start(self) -> None:
        """The first poll (here), then the polling thread."""
        self.poll()
        self._thread = threading.Thread(target=self._run, name="wabbit-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.poll()

    def stop(self) -> None:
        """Stop polling (waits for a load in progress to finish)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

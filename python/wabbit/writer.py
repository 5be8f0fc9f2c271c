"""BackgroundWriter: write-behind of snapshots into a model store, from a thread of its own.

The learner hands a snapshot over and goes on; see :class:`BackgroundWriter`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, List, Optional

from wabbit.snapshots import Snapshot

if TYPE_CHECKING:  # annotations only: the store imports the model, which imports this module
    from wabbit.store import ModelStore

__all__ = ["BackgroundWriter"]


class BackgroundWriter:
    """Writes snapshots into a :class:`ModelStore` from a background thread.

    :meth:`submit` never waits for the disk. One write runs at a time; a snapshot submitted while
    one is running waits in a one-slot queue, and a newer snapshot replaces it there (counted in
    ``replaced``). So a slow disk costs versions, never learning time, and at most two snapshots
    exist besides the model. If a write fails, the next :meth:`submit` (and :meth:`close`) raises
    that error, so training does not go on believing it is being saved.

    >>> import tempfile, wabbit
    >>> store = wabbit.ModelStore(tempfile.mkdtemp())
    >>> m = wabbit.Model()
    >>> with BackgroundWriter(store) as writer:
    ...     for k in range(3):
    ...         _ = m.learn(f"{k} |f a")
    ...         writer.submit(m.snapshot(note=f"after {k + 1}"))
    >>> store.load().predict("|f a") == m.predict("|f a")
    True
    """

    def __init__(self, store: ModelStore, **metadata: Any) -> None:
        self.store = store
        self.metadata = metadata
        self.versions: List[int] = []  # written, in order
        self.replaced = 0  # snapshots dropped from the queue for a newer one
        self.error: Optional[BaseException] = None
        self._cond = threading.Condition()
        self._pending: Optional[Snapshot] = None
        self._taken: Optional[int] = None  # examples of the snapshot last taken for writing
        self._busy = False
        self._closed = False
        self._thread: Optional[threading.Thread] = None

    def submit(self, snapshot: Snapshot) -> None:
        """Queue a snapshot for writing and return at once."""
        with self._cond:
            self._submit(snapshot)

    def submit_last(self, snapshot: Snapshot) -> bool:
        """Submit the end state of a run. If nothing waits and the snapshot written last (or being
        written) has as many examples, it already holds this state: nothing is queued, so no two
        versions in a row are the same model (returns False). Otherwise as :meth:`submit`."""
        with self._cond:
            if self.error is None and self._pending is None and self._taken == snapshot.examples:
                return False
            self._submit(snapshot)
            return True

    def _submit(self, snapshot: Snapshot) -> None:
        if not isinstance(snapshot, Snapshot):
            raise TypeError(f"submit() takes a Snapshot (from model.snapshot()), not {type(snapshot).__name__}")
        if self.error is not None:
            raise self.error
        if self._closed:
            raise RuntimeError("the writer is closed")
        if self._pending is not None:
            self.replaced += 1
        self._pending = snapshot
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="wabbit-store-writer", daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def flush(self) -> None:
        """Wait until every submitted snapshot is written (or dropped after an error)."""
        with self._cond:
            while (self._pending is not None or self._busy) and self.error is None:
                self._cond.wait()
            if self.error is not None:
                raise self.error

    def close(self, raise_error: bool = True) -> None:
        """Write what is queued, stop the thread; raise a write's error unless told not to."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        if raise_error and self.error is not None:
            raise self.error

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(raise_error=exc[0] is None)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                snapshot, self._pending = self._pending, None
                self._taken = snapshot.examples
                self._busy = True
            try:
                version = self.store.save(snapshot, **self.metadata)
            except BaseException as e:  # noqa: BLE001 - handed to the learner's thread
                with self._cond:
                    self.error = e
                    self._pending = None
                    self._busy = False
                    self._cond.notify_all()
                return
            with self._cond:
                self.versions.append(version)
                self._busy = False
                self._cond.notify_all()

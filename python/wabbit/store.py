"""ModelStore: numbered model versions in a folder, a current pointer, rollback and pruning.

>>> import tempfile, wabbit
>>> store = wabbit.ModelStore(tempfile.mkdtemp(), keep=3)
>>> m = wabbit.Model()
>>> _ = m.learn("1 |f a")
>>> store.save(m, note="first", batch=1)
1
>>> _ = m.learn("5 |f a")
>>> store.save(m, batch=2)
2
>>> [(v.version, v.metadata, v.current) for v in store.list()]
[(1, {'batch': 1}, False), (2, {'batch': 2}, True)]
>>> store.load().predict("|f a") == m.predict("|f a")       # the current version
True
>>> old = store.rollback()                                   # version 1 becomes current
>>> store.current, old.predict("|f a") == store.load(1).predict("|f a")
(1, True)
>>> store.save(m)                                            # numbering goes on after the highest
3

The folder holds, per version, ``vNNNNNNNN.model`` (a model file written by :meth:`Model.save`)
and ``vNNNNNNNN.json`` (what :meth:`ModelStore.list` reports), plus ``CURRENT`` (the current
version's number). Every one of them is written atomically (temporary file, fsync, rename, fsync
of the folder), in that order, so a version is listed only once its model file is complete and
CURRENT only ever names a complete version. Pruning deletes a version's ``.json`` before its
``.model``.

One writer at a time (saves and rollbacks take a lock on ``.lock`` in the folder); any number of
readers, in any process, without a lock: :meth:`ModelStore.load` reads CURRENT, then the model
file; if that version was pruned in between (a writer saved ``keep`` more versions meanwhile) it
reads CURRENT again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple, Union

import wabbit._core as _core
from wabbit import snapshots
from wabbit.model import Model, load, write_model
from wabbit.snapshots import Snapshot
from wabbit.writer import BackgroundWriter  # re-exported: wabbit.store.BackgroundWriter

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the in-process lock only
    fcntl = None  # type: ignore[assignment]

__all__ = ["ModelStore", "StoreVersion", "StoreError", "BackgroundWriter"]

_VERSION_FILE = re.compile(r"^v(\d{8,})\.(model|json)$")
_TEMPORARY = re.compile(r"^(?:v\d{8,}\.(?:model|json)|CURRENT)\.tmp\.")
_RESOLVE_ATTEMPTS = 100


class StoreError(LookupError):
    """The store has no such version, no versions at all, or nothing to roll back to."""


@dataclass(frozen=True)
class StoreVersion:
    """One version of a :class:`ModelStore`, as :meth:`ModelStore.list` reports it."""

    version: int
    path: str  # the model file
    saved: float  # when it was saved (seconds since the epoch)
    note: Optional[str]  # save(note=...) or the snapshot's note
    examples: int  # examples the model had learned (its lineage's count)
    checksum: int  # the model file's CRC-32 (its last 4 bytes)
    size: int  # the model file's size in bytes
    metadata: Dict[str, Any]  # save(**metadata)
    current: bool


class ModelStore:
    """Numbered versions of a model in ``directory`` (created if missing), at most ``keep`` of
    them besides the current one; see the module docstring for the layout and the guarantees."""

    def __init__(self, directory: Union[str, "os.PathLike[str]"], keep: int = 10) -> None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be a positive number of versions, got {keep!r}")
        self.directory = os.path.abspath(os.fspath(directory))
        os.makedirs(self.directory, exist_ok=True)
        self.keep = keep
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"wabbit.ModelStore({self.directory!r}, keep={self.keep})"

    # ------------------------------------------------------------------ reading
    def path(self, version: int) -> str:
        """The model file of ``version``."""
        return os.path.join(self.directory, f"v{int(version):08d}.model")

    def _record_path(self, version: int) -> str:
        return os.path.join(self.directory, f"v{int(version):08d}.json")

    @property
    def _current_path(self) -> str:
        return os.path.join(self.directory, "CURRENT")

    @property
    def current(self) -> Optional[int]:
        """The current version (what :meth:`load` returns by default), or None when empty."""
        v = self._read_current()
        if v is not None:
            return v
        versions = self._complete()
        return versions[-1] if versions else None

    def list(self) -> List[StoreVersion]:
        """The versions, oldest first, with what was saved along with each."""
        current = self.current
        out = []
        for v in self._complete():
            path = self._record_path(v)
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except FileNotFoundError:
                continue  # pruned by a writer since the folder was listed
            try:
                r = json.loads(raw)
                out.append(
                    StoreVersion(
                        version=v,
                        path=self.path(v),
                        saved=float(r["saved"]),
                        note=r.get("note"),
                        examples=int(r.get("examples", 0)),
                        checksum=int(r["checksum"]),
                        size=int(r["size"]),
                        metadata=dict(r.get("metadata", {})),
                        current=v == current,
                    )
                )
            except (ValueError, KeyError, TypeError) as e:
                raise StoreError(f"{path}: corrupt version record ({e})") from None
        return out

    def load(self, version: Optional[int] = None) -> Model:
        """Load ``version``, or the current one. A corrupt file raises :class:`wabbit.ModelError`
        naming its path; a missing version raises :class:`StoreError`."""
        if version is not None:
            try:
                return self._load(int(version))
            except FileNotFoundError:
                raise StoreError(f"version {version} is not in {self.directory} (never saved, or pruned)") from None
        for _ in range(_RESOLVE_ATTEMPTS):
            v = self.current
            if v is None:
                raise StoreError(f"{self.directory}: the store has no versions yet")
            try:
                return self._load(v)
            except FileNotFoundError:
                if self.current == v:  # not pruned under us: the file was removed by hand
                    raise StoreError(f"{self.path(v)}: the current version's model file is missing") from None
        raise StoreError(f"{self.directory}: the current version kept being pruned while loading")

    def _load(self, version: int) -> Model:
        path = self.path(version)
        try:
            return load(path)
        except _core.ModelError as e:
            raise _core.ModelError(f"{path}: {e}") from None

    def _read_current(self) -> Optional[int]:
        try:
            with open(self._current_path, "rb") as f:
                text = f.read(64)
        except FileNotFoundError:
            return None
        try:
            return int(text.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise StoreError(f"{self._current_path}: not a version number: {text[:20]!r}") from None

    def _scan(self) -> Tuple[Set[int], Set[int]]:
        models: Set[int] = set()
        records: Set[int] = set()
        for name in os.listdir(self.directory):
            m = _VERSION_FILE.match(name)
            if m:
                (models if m.group(2) == "model" else records).add(int(m.group(1)))
        return models, records

    def _complete(self) -> List[int]:
        models, records = self._scan()
        return sorted(models & records)

    # ------------------------------------------------------------------ writing
    def save(self, model: Union[Model, Snapshot], *, note: Optional[str] = None, **metadata: Any) -> int:
        """Save a model (or a :class:`wabbit.Snapshot`) as a new version, make it current, prune;
        returns its number (one more than the highest ever kept). ``metadata`` must be JSON."""
        if isinstance(model, Snapshot):
            source, examples = snapshots.model_of(model), model.examples
            note = model.note if note is None else note
        elif isinstance(model, Model):
            source, examples = model, model.lineage.examples
        else:
            raise TypeError(f"save() takes a wabbit.Model or a Snapshot, not {type(model).__name__}")
        json.dumps(metadata)  # not JSON: TypeError before anything is written
        with self._writing():
            models, records = self._scan()
            version = max(models | records, default=0) + 1
            path = self.path(version)
            checksum = write_model(source, path)
            size = os.stat(path).st_size
            record = {
                "version": version,
                "file": os.path.basename(path),
                "saved": time.time(),
                "note": note,
                "examples": examples,
                "checksum": checksum,
                "size": size,
                "metadata": metadata,
            }
            _write_atomic(self._record_path(version), json.dumps(record, indent=1).encode() + b"\n")
            _write_atomic(self._current_path, f"{version}\n".encode())
            self._prune()
        return version

    def rollback(self) -> Model:
        """Make the version before the current one current, and return it loaded. Later saves
        still number after the highest version; the newer versions stay loadable by number."""
        with self._writing():
            current = self.current
            if current is None:
                raise StoreError(f"{self.directory}: the store has no versions to roll back")
            earlier = [v for v in self._complete() if v < current]
            if not earlier:
                raise StoreError(f"{self.directory}: no version before version {current} to roll back to")
            previous = earlier[-1]
            model = self._load(previous)  # refuse to point CURRENT at a file that does not load
            _write_atomic(self._current_path, f"{previous}\n".encode())
        return model

    def prune(self) -> List[int]:
        """Delete all but the newest ``keep`` versions, never the current one (each save does
        this); returns the versions deleted."""
        with self._writing():
            return self._prune()

    def _prune(self) -> List[int]:
        current = self._read_current()
        versions = self._complete()
        keep = set(versions[-self.keep :]) | {current}
        deleted = []
        for v in versions:
            if v not in keep:
                _unlink(self._record_path(v))  # unlisted first, then gone
                _unlink(self.path(v))
                deleted.append(v)
        models, records = self._scan()
        newest = versions[-1] if versions else 0
        for v in models - records:  # a model file whose save never finished (a killed writer)
            if v < newest and v not in keep:
                _unlink(self.path(v))
        for name in os.listdir(self.directory):  # temporary files of killed writers (we hold the lock)
            if _TEMPORARY.match(name):
                _unlink(os.path.join(self.directory, name))
        return deleted

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock:
            if fcntl is None:
                yield
                return
            fd = os.open(os.path.join(self.directory, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the lock


def _write_atomic(path: str, data: bytes) -> None:
    """Temporary file in the same folder, fsync, rename over ``path``, fsync of the folder: the
    core's one atomic writer, as for model files."""
    _core.write_file_atomic(path, data)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)

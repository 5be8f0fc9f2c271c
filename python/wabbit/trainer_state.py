"""What a :class:`wabbit.Trainer` stores with each published version, so that a restart continues
exactly where that version stopped.

A published version is a :class:`wabbit.ModelStore` version (its model file and its record)
whose metadata holds a ``"trainer"`` dict (small: it is in the store's JSON record):

- ``format``: 1;
- ``parent``: the version this one continued from (None for the first). A kill after a version's
  record is written but before CURRENT names it leaves a complete version that is not current; the
  restart resumes from CURRENT and publishes the same content again under the next number, so
  the chain of what was learned is the one of ``parent`` links from the current version back,
  not the list of versions;
- ``positions``: per source (``"source"``, ``"labels"``), the per-partition offset of the next
  record not learned (what :meth:`Source.positions` returned when the version was made);
- ``examples``: new examples learned since the previous version (replays not counted), and
  ``examples_total``, ``replayed_total``, ``held_out_total``, ``events_total`` (records consumed
  from all sources): the counters that show that no example was learned twice;
- ``state`` and ``sha256``: the name (relative to the store's folder) and the SHA-256 of the
  **sidecar**, a JSON file holding the rest: the joiner's and the replay buffer's state (with
  their generators), the gate's holdout sample, the gate keeper's counts and the trainer's
  counters. It can be megabytes (a replay reservoir of 100,000 lines, a joiner's 500,000 recently
  closed ids), so it is not put in the store's record. Large numeric columns (the joiner's ids and
  times) are bytes: they follow the JSON text after a newline, raw, and the JSON holds
  ``{"$bytes": [start, length]}`` in their place (a sidecar without bytes is plain JSON).

The sidecar is ``<store>/trainer/state-<first 16 hex digits of its SHA-256>.json``, written
atomically (``wabbit._core.write_file_atomic``: temporary file, fsync, rename, fsync of the folder)
**before** the version is saved, so a listed version always names a complete sidecar; its name
comes from its content, so a save that is repeated after a crash writes the same file again.
ModelStore's own files are untouched (the subfolder is invisible to it). Sidecars that no listed
version names (pruned versions, or a crash between the sidecar and the version) are deleted after
each save.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> name, digest = write_state(d, {"counters": {"examples": 3}})
>>> name.startswith("trainer/state-"), read_state(d, name, digest)
(True, {'counters': {'examples': 3}})
>>> read_state(d, *write_state(d, {"times": b"12345678", "n": [b"", b"ab"]}))
{'n': [b'', b'ab'], 'times': b'12345678'}
>>> h = HoldoutSample(capacity=2, seed=1)
>>> for i in range(10):
...     h.add(f"1 |f x{i}")
>>> len(h), h.seen, HoldoutSample.restore(h.state()).items == h.items
(2, 10, True)
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple, Union

import wabbit._core as _core

__all__ = ["FORMAT", "STATE_FOLDER", "HoldoutSample", "write_state", "read_state", "remove_unused", "item_of"]

FORMAT = 1
STATE_FOLDER = "trainer"
_BYTES = "$bytes"

#: An example as the trainer keeps it: a VW text line with its label, or a (dict example, label) pair.
Item = Union[str, Tuple[Mapping[str, Any], Optional[float]]]


def item_of(value: Any) -> Item:
    """An example back from JSON (a pair comes back as a list)."""
    return value if isinstance(value, str) else (value[0], value[1])


def _plain(item: Item) -> Any:
    return item if isinstance(item, str) else [item[0], item[1]]


class HoldoutSample:
    """A bounded uniform sample (Vitter's algorithm R) of the examples the trainer held back from
    learning: the "older data" of the gate's forgetting check. Its generator is seeded and is part
    of :meth:`state`, so a restored sample continues identically."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        self.capacity = capacity
        self.seed = seed
        self.items: List[Item] = []
        self.seen = 0
        self._rng = random.Random(seed)

    def add(self, item: Item) -> None:
        self.seen += 1
        if len(self.items) < self.capacity:
            self.items.append(item)
            return
        j = self._rng.randrange(self.seen)
        if j < self.capacity:
            self.items[j] = item

    def __len__(self) -> int:
        return len(self.items)

    def state(self) -> Dict[str, Any]:
        version, internal, gauss = self._rng.getstate()
        return {
            "capacity": self.capacity,
            "seed": self.seed,
            "seen": self.seen,
            "items": [_plain(x) for x in self.items],
            "rng": [version, list(internal), gauss],
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> "HoldoutSample":
        h = cls(int(state["capacity"]), state["seed"])
        h.seen = int(state["seen"])
        h.items = [item_of(x) for x in state["items"]]
        version, internal, gauss = state["rng"]
        h._rng.setstate((version, tuple(internal), gauss))
        return h


def _encode(state: Mapping[str, Any]) -> bytes:
    # the JSON text; with bytes values, each becomes {"$bytes": [start, length]} and the bytes
    # follow the JSON after a newline (compact JSON has none), in the order met
    blobs: List[bytes] = []
    size = 0

    def blob(value: Any) -> Any:
        nonlocal size
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"a trainer state holds JSON values and bytes, not {type(value).__name__}")
        data = bytes(value)
        blobs.append(data)
        size += len(data)
        return {_BYTES: [size - len(data), len(data)]}

    text = json.dumps(state, separators=(",", ":"), sort_keys=True, default=blob).encode()
    return b"\n".join([text, b"".join(blobs)]) if blobs else text


def _decode(data: bytes) -> Any:
    end = data.find(b"\n")
    if end < 0:
        return json.loads(data)
    area = memoryview(data)[end + 1 :]

    def hook(obj: Dict[str, Any]) -> Any:
        if len(obj) == 1 and _BYTES in obj:
            start, length = obj[_BYTES]
            return area[start : start + length].tobytes()
        return obj

    return json.loads(data[:end], object_hook=hook)


def write_state(directory: str, state: Mapping[str, Any]) -> Tuple[str, str]:
    """Write ``state`` as the sidecar of a version about to be saved in the store at ``directory``;
    returns its name (relative to ``directory``) and its SHA-256 (hex). Values are what JSON
    holds, and bytes (stored raw after the JSON text; :func:`read_state` gives them back)."""
    data = _encode(state)
    digest = hashlib.sha256(data).hexdigest()
    name = f"{STATE_FOLDER}/state-{digest[:16]}.json"
    os.makedirs(os.path.join(directory, STATE_FOLDER), exist_ok=True)
    _core.write_file_atomic(os.path.join(directory, name), data)
    return name, digest


def read_state(directory: str, name: str, digest: str) -> Dict[str, Any]:
    """The sidecar ``name`` of the store at ``directory``, checked against ``digest``; ValueError
    when it is missing or its bytes are not the ones the version was saved with."""
    if os.path.isabs(name) or ".." in name.split("/"):
        raise ValueError(f"a trainer state file must be inside the store's folder, got {name!r}")
    path = os.path.join(directory, name)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ValueError(f"{path}: the trainer state of this version is missing") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"{path}: the trainer state does not match its version (SHA-256 differs)")
    out = _decode(data)
    if not isinstance(out, dict):
        raise ValueError(f"{path}: not a trainer state")
    return out


def remove_unused(directory: str, used: Iterable[str]) -> List[str]:
    """Delete the sidecars of the store at ``directory`` that ``used`` (names) does not hold;
    returns the names deleted."""
    keep: Set[str] = set(used)
    folder = os.path.join(directory, STATE_FOLDER)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    deleted = []
    for n in sorted(names):
        rel = f"{STATE_FOLDER}/{n}"
        ours = n.startswith("state-") and (n.endswith(".json") or ".json.tmp." in n)  # tmp: a killed writer's
        if ours and rel not in keep:
            try:
                os.unlink(os.path.join(folder, n))
                deleted.append(rel)
            except FileNotFoundError:
                pass
    return deleted

"""Lineage: what trained a model, kept in the model file's metadata and restored on load.

A model records every source it learned from (a file's absolute path, ``<stdin>``, ``<bytes>``,
``<lines>`` for an iterable, or ``<python>`` for single :meth:`~wabbit.Model.learn` calls, which
are counted together), with line numbers and example counts; the checksums of the model files it
descends from; its options; and when it was created and last changed. Consecutive in-memory batches
of one kind (``<lines>``, ``<bytes>``, ``<csr>``, ``<frame>``) make one record, their lines numbered
as one stream; once there are :data:`MAX_SOURCES` records, an in-memory batch joins the latest
record of its kind since the last file instead of adding one: a model that learns through
``learn`` and ``learn_many`` for ever keeps a lineage (and a model file) of bounded size.

>>> import wabbit
>>> m = wabbit.Model()
>>> _ = m.learn_many(["1 |f a", "", "-1 |f b"])
>>> _ = m.learn("1 |f c")
>>> _ = m.learn("1 |f d")
>>> [(s.source, s.first_line, s.last_line, s.examples) for s in m.lineage.sources]
[('<lines>', 1, 3, 2), ('<python>', None, None, 2)]
>>> m.lineage.examples, m.lineage.parent_checksum
(4, None)
>>> m2 = wabbit.Model.from_bytes(m.to_bytes())     # loading keeps the lineage ...
>>> m2.lineage.examples
4
>>> _ = m2.learn("1 |f e")                         # ... and learning makes the file the parent
>>> m2.lineage.parent_checksum == int.from_bytes(m.to_bytes()[-4:], "little")
True
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

__all__ = ["Lineage", "SourceRecord"]

PYTHON = "<python>"
#: In-memory sources (no file to name): consecutive records of one of them merge into one.
MERGED = frozenset({PYTHON, "<lines>", "<bytes>", "<csr>", "<frame>"})
#: Records beyond which an in-memory source joins the latest record of its kind since the last file.
MAX_SOURCES = 256


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_time(v: Any) -> bool:
    """Seconds since the epoch, as time.time() gives them (up to the year 5138)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v < 1e11


def _require(ok: bool, name: str) -> None:
    if not ok:
        raise ValueError(f"lineage field {name!r} is malformed")


@dataclass
class SourceRecord:
    """One source a model learned from.

    ``first_line``/``last_line`` are the source's line numbers (1-based, blank and skipped lines
    included) that were read; they are ``None`` for ``<python>`` and ``last_line`` is ``None`` in a
    snapshot taken in the middle of a source. ``generation`` is how many ancestor model files
    preceded this source (``0``: learned before the model was ever loaded from a file).
    """

    source: str
    examples: int
    first_line: Optional[int] = None
    last_line: Optional[int] = None
    bad_lines: int = 0
    started: Optional[float] = None
    finished: Optional[float] = None
    generation: int = 0

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SourceRecord":
        """From a model file's JSON; ValueError (or TypeError) unless every known field has its type."""
        if not isinstance(d, Mapping):
            raise TypeError("a lineage source is an object")
        names = {f.name for f in dataclasses.fields(cls)}
        out = cls(**{k: v for k, v in d.items() if k in names})
        _require(isinstance(out.source, str), "source")
        for name in ("examples", "bad_lines", "generation"):
            _require(_is_count(getattr(out, name)), name)
        for name in ("first_line", "last_line"):
            _require(getattr(out, name) is None or _is_count(getattr(out, name)), name)
        for name in ("started", "finished"):
            _require(getattr(out, name) is None or _is_time(getattr(out, name)), name)
        return out


@dataclass
class Lineage:
    """What trained a model (see the module docstring); ``model.lineage`` returns a copy.

    ``ancestors`` are the checksums (the CRC-32 stored in the last 4 bytes) of the model files this
    model descends from, oldest first; ``parent_checksum`` is the last of them. A model that is
    loaded and saved again without learning is the same model: its file is byte for byte the one it
    was loaded from, and the loaded file becomes the parent only once the model learns more.
    ``complete`` is False for a model loaded from a file written without lineage.
    """

    sources: List[SourceRecord] = field(default_factory=list)
    examples: int = 0
    ancestors: List[int] = field(default_factory=list)
    options: str = ""
    wabbit_version: str = ""
    created: Optional[float] = None
    updated: Optional[float] = None
    complete: bool = True

    @property
    def parent_checksum(self) -> Optional[int]:
        """CRC-32 of the model file this model was loaded from before it learned more (or None)."""
        return self.ancestors[-1] if self.ancestors else None

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["parent_checksum"] = self.parent_checksum
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Lineage":
        """From a model file's JSON; ValueError (or TypeError) unless every known field has its
        type (the loader then treats the lineage as not recorded)."""
        if not isinstance(d, Mapping):
            raise TypeError("a lineage is an object")
        names = {f.name for f in dataclasses.fields(cls)} - {"sources"}
        out = cls(**{k: v for k, v in d.items() if k in names})
        sources = d.get("sources", [])
        _require(isinstance(sources, list), "sources")
        out.sources = [SourceRecord.from_dict(s) for s in sources]
        _require(
            isinstance(out.ancestors, list) and all(_is_count(a) and a < 2**32 for a in out.ancestors), "ancestors"
        )
        _require(_is_count(out.examples), "examples")
        _require(isinstance(out.options, str) and isinstance(out.wabbit_version, str), "options")
        for name in ("created", "updated"):
            _require(getattr(out, name) is None or _is_time(getattr(out, name)), name)
        _require(isinstance(out.complete, bool), "complete")
        return out

    def copy(self) -> "Lineage":
        return copy.deepcopy(self)

    @classmethod
    def unrecorded(cls, options: str, metadata: Mapping[str, Any]) -> "Lineage":
        """The lineage of a model loaded from a file written without one: what trained it is
        unknown (``complete`` is False); its options, and the version and creation time its
        ``metadata`` gives (when well formed), are known."""
        created = metadata.get("created")
        return cls(
            options=options,
            wabbit_version=str(metadata.get("wabbit_version", "")),
            created=created if _is_time(created) else None,
            complete=False,
        )

    def add(self, record: SourceRecord, *, parent: Optional[int], options: str, version: str, now: float) -> None:
        """Append a source, or merge an in-memory one into the previous record of its kind (see the
        module docstring: their counts add up, their lines continue each other's numbering); a
        pending parent is adopted first."""
        if parent is not None:
            self.ancestors.append(parent)
        record.generation = len(self.ancestors)
        last = self.sources[-1] if self.sources else None
        same = last is not None and last.source == record.source and last.generation == record.generation
        if record.source in MERGED and not same and len(self.sources) >= MAX_SOURCES:
            for earlier in reversed(self.sources):  # the trailing stretch of in-memory records
                if earlier.source not in MERGED or earlier.generation != record.generation:
                    break
                if earlier.source == record.source:
                    last, same = earlier, True
                    break
        if record.source in MERGED and same and last is not None:
            last.examples += record.examples
            last.bad_lines += record.bad_lines
            if last.last_line is not None and record.last_line is not None:
                last.last_line += record.last_line
            else:
                last.last_line = None
            last.finished = record.finished
        else:
            self.sources.append(record)
        self.examples += record.examples
        self.options = options
        self.wabbit_version = version
        self.updated = now

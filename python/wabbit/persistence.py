"""Persistence: a model to bytes, to a file and to a pickle, and back (the Python side of saving
and loading; the bytes themselves are the core's, cpp/formats/, checked by :mod:`wabbit._modelfile`).

Saving: :func:`serialize` asks the core for the file's bytes (options, metadata with the lineage,
weights, a bandit's counters); :func:`to_bytes` and :func:`write_model` check that they load back
before anything leaves (the file through the core's one atomic writer). Loading:
:func:`read_model_file` (the core's one reader) and :func:`from_loaded`, which checks every header
field before the table is allocated. Pickles and ``copy.deepcopy`` carry the model file's bytes
plus the live state (drift monitor, pending decisions). :class:`wabbit.Model`'s ``save``,
``to_bytes``, ``from_bytes``, ``__deepcopy__`` and ``__reduce__`` and :func:`wabbit.load` call
these functions; the loading ones take the model class to build (this module never imports it).

>>> import wabbit
>>> from wabbit import persistence
>>> m = wabbit.Model("-q ab")
>>> _ = m.learn("2 |a x |b y")
>>> data = persistence.to_bytes(m)
>>> persistence.from_bytes(wabbit.Model, data).predict("|a x |b y") == m.predict("|a x |b y")
True
"""

from __future__ import annotations

import os
from copy import deepcopy
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Type, Union

import wabbit._core as _core
from wabbit import _modelfile
from wabbit._core import ModelError
from wabbit._version import __version__
from wabbit.lineage import Lineage
from wabbit.options import OptionError, Options, parse_args

if TYPE_CHECKING:  # annotations only: the model calls this module, never the other way round
    from wabbit.model import Model

__all__ = [
    "deep_copy",
    "from_bytes",
    "from_loaded",
    "load",
    "metadata_json",
    "pickle_args",
    "read_model_file",
    "serialize",
    "to_bytes",
    "unpickle",
    "write_model",
]

PathLike = Union[str, "os.PathLike[str]"]


# ------------------------------------------------------------------ saving
def metadata_json(model: "Model") -> str:
    """The metadata the file stores: the model's own, the namespaces ':' interactions were
    expanded over so far, and the lineage (the single learn() calls counted so far included)."""
    lineage, _ = model.origin()
    extra: Dict[str, Any] = {}  # (a bandit's counters are in the core's section of the file)
    seen = model.core.wildcard_namespaces()
    if seen:  # ':' interactions are expanded over the namespaces seen so far: keep them
        extra["wildcard_namespaces"] = seen.decode("ascii")
    if lineage is None:
        return _modelfile.metadata_to_json({**model.metadata, **extra})
    return _modelfile.metadata_to_json({**model.metadata, **extra, "lineage": lineage.to_dict()})


def serialize(model: "Model", predict_only: bool) -> Any:
    """The file's bytes as a buffer held by the core (no copy until bytes() is asked for)."""
    return model.core.serialize(__version__, model.args, metadata_json(model), predict_only)


def to_bytes(model: "Model", *, predict_only: bool = False) -> bytes:
    """:meth:`wabbit.Model.to_bytes`: the file's bytes, checked to load back (ModelError if not)."""
    data = serialize(model, predict_only)
    _modelfile.verify_saved(data)
    return bytes(data)


def write_model(model: "Model", path: PathLike, *, predict_only: bool = False) -> int:
    """:meth:`Model.save`, returning the file's checksum (the CRC-32 that loading it reports, as
    ``lineage.parent_checksum``), as the core's checks read it from the bytes written."""
    data = serialize(model, predict_only)
    checksum = _modelfile.verify_saved(data)
    _core.write_file_atomic(os.fspath(path), data)
    return checksum


# ------------------------------------------------------------------ loading
def read_model_file(path: str) -> Tuple[Dict[str, Any], Any, int]:
    """The core's parsed model file plus its checksum (the CRC-32 the core checked)."""
    header, blob = _core.read_model_file(path)
    return header, blob, int(header["checksum"])


def from_loaded(
    cls: Type["Model"], header: Dict[str, Any], blob: Any, overrides: Optional[Options], checksum: Optional[int] = None
) -> "Model":
    """A ``cls`` model from a parsed file (:func:`read_model_file`'s header and blob): every header
    field is checked before the table is allocated (ModelError for the file's own problems;
    OptionError for ``overrides`` that do not fit it). ``checksum`` becomes the parent the model
    adopts when it first learns."""
    stored = _modelfile.stored_options(header["args"], int(header["bits"]))
    metadata = _modelfile.metadata_from_json(header["metadata"])
    opts = overrides.merged_with_model(stored) if overrides is not None else stored
    lineage = None
    raw = metadata.pop("lineage", None)
    if isinstance(raw, dict):  # a malformed lineage means "not recorded" (docs/model-format.md)
        try:
            lineage = Lineage.from_dict(raw)
        except (TypeError, ValueError):
            lineage = None
    # Format 1 kept a bandit's counters in the metadata; format 2 keeps them in the core's section
    # (installed with the weights), and a "cb_state" key in its metadata is not the model's.
    cb_state = metadata.pop("cb_state", None)
    if header.get("has_cb_state"):
        cb_state = None
    seen = _modelfile.check_wildcard_namespaces(metadata.pop("wildcard_namespaces", None))
    try:
        model = cls.from_options(opts, metadata=metadata)
    except (OptionError, ValueError) as e:
        if overrides is not None:
            raise
        raise ModelError(f"the model in this file cannot be built: {e}") from None
    core = model.core
    if cb_state is not None and core.is_cb():
        cb_state = _modelfile.check_cb_state(cb_state, core.cb_state())
    model.set_origin(lineage, checksum)
    core.install(blob)
    if seen and core.wildcard_namespaces() is not None:
        core.observe_wildcard_namespaces(seen)
    if cb_state is not None and core.is_cb():
        core.set_cb_state(cb_state)
    return model


def from_bytes(cls: Type["Model"], data: bytes) -> "Model":
    """:meth:`wabbit.Model.from_bytes`: a ``cls`` model from a file's bytes; refuses corrupt data
    with ValueError."""
    header, blob = _core.read_model(bytes(data))
    return from_loaded(cls, header, blob, None, int(header["checksum"]))


def load(cls: Type["Model"], path: PathLike, args: str = "", **options: Any) -> "Model":
    """:func:`wabbit.load`: a ``cls`` model from a file, ``args``/``options`` changing tunable flags."""
    header, blob, checksum = read_model_file(os.fspath(path))
    overrides = parse_args(args, **options) if (args or options) else None
    return from_loaded(cls, header, blob, overrides, checksum)


# ------------------------------------------------------------------ copies and pickles
def deep_copy(model: "Model", memo: Dict[int, Any]) -> "Model":
    """``copy.deepcopy(model)``: :meth:`wabbit.Model.copy` plus the live state (the drift monitor
    with its detector's state and challenger, the pending decisions), so the copy behaves as the
    original would. The monitor's callables (signal, on_drift, callback, log) are shared."""
    new = model.copy()
    memo[id(model)] = new
    live = model.live_state()
    if live:
        new.set_live_state(deepcopy(live, memo))
    return new


def pickle_args(model: "Model") -> Tuple[Any, ...]:
    """What a pickle holds: the file's bytes, the pending parent (the file this model was loaded
    from, as :meth:`wabbit.Model.copy` keeps it) and the live state when there is any (a monitor
    whose callables cannot be pickled refuses with TypeError, see Monitor.__getstate__)."""
    _, parent = model.origin()
    live = model.live_state()
    if live:
        return (to_bytes(model), parent, live)
    return (to_bytes(model), parent)


def unpickle(
    cls: Type["Model"], data: bytes, parent: Optional[int], carried: Optional[Dict[str, Any]] = None
) -> "Model":
    """The model a pickle made of :func:`pickle_args` rebuilds."""
    header, blob = _core.read_model(bytes(data))
    model = from_loaded(cls, header, blob, None, parent)  # the pickled model's parent, not the bytes'
    if carried:
        model.set_live_state(carried)
    return model

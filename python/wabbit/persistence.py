"""Persistence: a model to bytes, to a file and to a pickle, and back (the Python side of saving
and loading; the bytes themselves are the core's, cpp/formats/, checked by :mod:`wabbit._modelfile`).

VW's own model files (``vw -f``, VW 9.x) load too: :func:`read_model_file` tells them by their first
bytes, and :func:`from_loaded` builds the model from the options VW stored (parsed by the one flag
parser) and lets the core read VW's rows into it (docs/vw_model_files.md).

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

import dataclasses
import os
from copy import deepcopy
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Type, Union

import wabbit._core as _core
from wabbit import _modelfile
from wabbit._core import ModelError
from wabbit._version import __version__
from wabbit.lineage import Lineage
from wabbit.options import FLAGS, OptionError, Options, parse_args

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
    "vw_from_loaded",
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
    """The core's parsed model file plus its checksum (the CRC-32 the core checked). A VW model
    file, told by its first bytes, is read by the core's VW reader: its header's ``format`` is
    ``"vw"`` and its checksum the CRC-32 of the whole file."""
    if _is_vw_file(path):
        header, blob = _core.read_vw_model_file(path)
    else:
        header, blob = _core.read_model_file(path)
    return header, blob, int(header["checksum"])


def _is_vw_file(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:  # the core's reader reports it
        return False
    return bool(_core.looks_like_vw_model(head))


# What VW writes into a model file's options that is not a flag of its own model: the reductions a
# contextual bandit stacks under itself (VW adds them when it trains, and again when it loads; VW 9
# runs --cb K and --cb_explore K on --cb_adf). Each: the flags that imply it, then the flag and the
# values it may take (none: a switch).
_VW_IMPLIED = (
    (("--cb_adf",), "--csoaa_ldf", ("multiline", "m")),
    (("--cb_adf",), "--csoaa_rank", ()),
    (("--cb", "--cb_explore"), "--cb_adf", ()),
    (("--cb_explore",), "--cb_explore_adf", ()),
)
# What VW does not record in a model file (its command line gives them when it loads one): these
# may be given with -i or wabbit.load for a VW model without conflicting with it.
_VW_UNRECORDED = (
    "loss_function",
    "quantile_tau",
    "expectile_q",
    "logistic_min",
    "logistic_max",
    "probabilities",
    "permutations",
)


def _vw_tokens(text: str) -> list:
    """VW's stored options as tokens, without the flags VW implies (_VW_IMPLIED); ModelError naming the
    flags wabbit does not have (an unsupported reduction) or that are not model flags."""
    toks = text.split()
    out = []
    unknown = []
    model_names = {n for f in FLAGS if f.model for n in f.names}
    i = 0
    while i < len(toks):
        tok = toks[i]
        implied = [values for by, flag, values in _VW_IMPLIED if flag == tok and any(b in toks for b in by)]
        if implied:
            i += 2 if implied[0] and i + 1 < len(toks) and toks[i + 1] in implied[0] else 1
            continue
        if tok.startswith("-") and tok not in model_names:
            value = toks[i + 1] if i + 1 < len(toks) and not toks[i + 1].startswith("--") else ""
            unknown.append(f"{tok} {value}".rstrip())
        out.append(tok)
        i += 1
    if unknown:
        raise _vw_unsupported(unknown)
    return out


def _vw_unsupported(flags: list) -> ModelError:
    return ModelError(
        f"this VW model file uses {', '.join(flags)}, which wabbit does not support (it reads VW models of the "
        "linear learner: the default rule, --sgd, --ftrl, -q/--cubic/--interactions, and --cb_adf, "
        "--cb_explore_adf, --cb, --cb_explore)"
    )


def vw_options(header: Dict[str, Any]) -> Options:
    """The options of a VW model file's header as wabbit's, checked as ``Model(args)`` checks them;
    ModelError naming what wabbit does not support."""
    unsupported = []
    if int(header["lda"]):
        unsupported.append(f"--lda {int(header['lda'])}")
    unsupported += [f"--ngram {g}" for g in header["ngram"]] + [f"--skips {g}" for g in header["skips"]]
    if unsupported:
        raise _vw_unsupported(unsupported)
    tokens = _vw_tokens(header["options"]) + ["--bit_precision", str(int(header["bits"]))]
    try:
        opts = parse_args(tokens)
        opts.core_config()
        opts.cb_config()
    except (OptionError, ValueError) as e:
        raise ModelError(f"this VW model file's options {header['options'].strip()!r} do not fit wabbit: {e}") from None
    return opts


def vw_from_loaded(
    cls: Type["Model"], header: Dict[str, Any], blob: Any, overrides: Optional[Options], checksum: Optional[int] = None
) -> Tuple["Model", Dict[str, Any]]:
    """A ``cls`` model from a VW model file (:func:`read_model_file`'s header and blob) and what the
    core read from the file's body (its online state, the rows). ``overrides``: the command line's
    flags, as VW's on top of a model it loads (the loss, which VW does not record, among them)."""
    stored = vw_options(header)
    if overrides is not None:
        stored = dataclasses.replace(stored)
        for dest in _VW_UNRECORDED:
            if overrides.given(dest) and not stored.given(dest):
                setattr(stored, dest, getattr(overrides, dest))
        opts = overrides.merged_with_model(stored)
    else:
        opts = stored
    metadata = {"vw_model": {"version": header["vw_version"], "options": header["options"].strip()}}
    try:
        model = cls.from_options(opts, metadata=metadata)
    except (OptionError, ValueError) as e:
        if overrides is not None:
            raise
        raise ModelError(f"the VW model in this file cannot be built: {e}") from None
    model.set_origin(None, checksum)
    body = model.core.install_vw(blob)
    return model, body


def from_loaded(
    cls: Type["Model"], header: Dict[str, Any], blob: Any, overrides: Optional[Options], checksum: Optional[int] = None
) -> "Model":
    """A ``cls`` model from a parsed file (:func:`read_model_file`'s header and blob): every header
    field is checked before the table is allocated (ModelError for the file's own problems;
    OptionError for ``overrides`` that do not fit it). ``checksum`` becomes the parent the model
    adopts when it first learns. A VW model file goes through :func:`vw_from_loaded`."""
    if header.get("format") == "vw":
        return vw_from_loaded(cls, header, blob, overrides, checksum)[0]
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

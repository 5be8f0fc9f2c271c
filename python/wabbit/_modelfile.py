"""The Python side of the model file's checks (docs/model-format.md, "What loading checks").

The core (cpp/model_io.cc) checks the bytes: magic, version, checksum, sizes, every number. The
header's text fields are read here: the options (parsed by wabbit/options.py, the same parser as
the command line), the metadata (a JSON object) and what the metadata carries for the model (the
bandit's counters). Every problem raises :class:`wabbit.ModelError`, before anything is allocated.

Saving runs the same checks on what it is about to write, so whatever ``save`` writes, ``load``
reads.
"""

from __future__ import annotations

import json
from typing import Any, Dict

import wabbit._core as _core
from wabbit.lineage import Lineage
from wabbit.options import FLAGS, OptionError, Options, parse_args

ModelError = _core.ModelError

#: How deeply the metadata's JSON may nest (deeper cannot be copied or written back reliably).
MAX_METADATA_DEPTH = 100

_U64 = 2**64


def _shown(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def stored_options(args: Any, bits: int) -> Options:
    """The model-defining options stored in a file, checked as ``Model(args)`` checks them, and
    against the table's size (``bits`` from the header)."""
    if not isinstance(args, str):
        raise ModelError("model file is corrupt: its options are not text")
    try:
        opts = parse_args(args)
        extra = [f.names[-1] for f in FLAGS if not f.model and opts.given(f.dest)]
        if extra:
            raise OptionError(
                f"{', '.join(extra)} {'is not a model option' if len(extra) == 1 else 'are not model options'}"
            )
        opts.core_config()
        opts.reward_config()
    except (OptionError, ValueError) as e:  # ValueError: shlex's "No closing quotation"
        raise ModelError(f"model file is corrupt: its options {_shown(args)} are invalid: {e}") from None
    stated = 18 if opts.bits is None else opts.bits
    if stated != bits:
        raise ModelError(
            f"model file is inconsistent: its options say -b {stated} but its weight table has {bits} bits"
        )
    return opts


def _too_deep(obj: Any, limit: int) -> bool:
    stack = [(obj, 1)]
    while stack:
        o, depth = stack.pop()
        if isinstance(o, dict):
            children = list(o.values())
        elif isinstance(o, (list, tuple)):
            children = list(o)
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children)
    return False


def metadata_from_json(text: str) -> Dict[str, Any]:
    """The metadata object of a model file ({} when empty)."""
    if not text:
        return {}
    too_deep = False
    try:
        meta = json.loads(text)
    except RecursionError:
        too_deep = True
    except ValueError as e:  # JSONDecodeError, or an integer of more than 4300 digits
        raise ModelError(f"model file is corrupt: its metadata is not JSON ({e})") from None
    if too_deep or _too_deep(meta, MAX_METADATA_DEPTH):
        raise ModelError(f"model file is corrupt: its metadata nests more than {MAX_METADATA_DEPTH} levels deep")
    if not isinstance(meta, dict):
        raise ModelError(f"model file is corrupt: its metadata is not a JSON object but {type(meta).__name__}")
    return meta


def metadata_to_json(meta: Dict[str, Any]) -> str:
    """The metadata as saved; refuses what the loader would refuse (or what JSON cannot hold)."""
    if _too_deep(meta, MAX_METADATA_DEPTH):
        raise ValueError(f"Model.metadata nests more than {MAX_METADATA_DEPTH} levels deep; it cannot be saved")
    try:
        text = json.dumps(meta)
    except (TypeError, ValueError, RecursionError) as e:
        raise type(e)(f"Model.metadata cannot be saved as JSON: {e}") from None
    try:
        json.loads(text)
    except ValueError as e:  # e.g. an integer too long to read back
        raise ValueError(f"Model.metadata cannot be saved: it would not load back ({e})") from None
    return text


def _is_u64(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < _U64


def _is_sum(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < float("inf")


def check_wildcard_namespaces(raw: Any) -> bytes:
    """The namespace slots a model with ':' interactions had seen (``metadata["wildcard_namespaces"]``,
    printable ASCII, each once), as bytes; empty when absent."""
    if raw is None:
        return b""
    if not isinstance(raw, str) or len(raw) > 95 or len(set(raw)) != len(raw) or any(not " " <= c <= "~" for c in raw):
        raise ModelError(
            "model file is corrupt: the namespaces seen by its ':' interactions "
            "(metadata key wildcard_namespaces) are not distinct printable characters"
        )
    return raw.encode("ascii")


def check_cb_state(raw: Any, current: Dict[str, Any]) -> Dict[str, Any]:
    """A bandit's saved counters (``metadata["cb_state"]``), checked against the shapes of the
    model's own (``current``, from a freshly built model)."""

    def bad(why: str) -> Exception:
        return ModelError(f"model file is corrupt: the bandit state in its metadata {why}")

    if not isinstance(raw, dict):
        raise bad("is not an object")
    out: Dict[str, Any] = {}
    for key in ("event_sum", "action_sum"):
        v = raw.get(key)
        if not (isinstance(v, list) and all(_is_u64(x) for x in v)):
            raise bad(f"has no list of counts {key!r}")
        if len(v) != len(current[key]):
            raise bad(f"has {len(v)} counts in {key!r}; the options need {len(current[key])}")
        out[key] = v
    for key in ("counter", "tau", "rng"):
        v = raw.get(key)
        if not _is_u64(v):
            raise bad(f"has no count {key!r} in [0, 2**64)")
        out[key] = v
    if "norm_x" in raw or "total_weight" in raw:
        for key in ("norm_x", "total_weight"):
            v = raw.get(key)
            if not (isinstance(v, list) and all(_is_sum(x) for x in v)):
                raise bad(f"has no list of finite sums {key!r}")
            if len(v) != len(current[key]):
                raise bad(f"has {len(v)} sums in {key!r}; the options need {len(current[key])}")
            out[key] = [float(x) for x in v]
    return out


def verify_saved(data: Any) -> int:
    """The loader's checks on a model file about to be returned or written: every check of the
    core (sizes, checksum, numbers) and of this module (options, metadata, lineage). Returns the
    file's checksum, as the core read it."""
    try:
        header = _core.verify_model(data)
        stored_options(header["args"], int(header["bits"]))
        meta = metadata_from_json(header["metadata"])
        if "lineage" in meta:
            try:
                Lineage.from_dict(meta["lineage"])
            except (TypeError, ValueError) as e:
                raise ModelError(f"its lineage would not be read back ({e})") from None
    except ModelError as e:
        raise ModelError(f"refusing to save a model that would not load back: {e}") from None
    return int(header["checksum"])

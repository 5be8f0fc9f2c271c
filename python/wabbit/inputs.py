"""Inputs: what a single example or a batch may be, and their conversion for the core.

>>> from wabbit.inputs import as_dict, check_line, number
>>> check_line("1 |f a\\n", 1), number(2, "weight"), as_dict({"f": ["a"]})
(b'1 |f a', 2.0, {'f': ['a']})
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

__all__ = ["Example", "Event", "Source", "TEXT", "as_csr", "as_dict", "check_line", "number", "row_array"]

#: One example: a VW text line, or {namespace: {feature: value} | [feature, ...]}.
Example = Union[str, bytes, Mapping[str, Any]]
#: The types a single example's text may have.
TEXT = (str, bytes, bytearray, memoryview)
#: A contextual-bandit event: VW's multiline text (one str with newlines, or a list of lines), or
#: ``(shared, [action, ...])`` with dicts ``{namespace: {feature: value}}`` (shared may be None).
Event = Union[str, List[str], Tuple[Optional[Mapping[str, Any]], List[Mapping[str, Any]]]]
#: A batch: a file path, a bytes buffer of VW lines, an iterable of VW lines, or pre-hashed rows as
#: CSR arrays ``(indices, values, row_offsets)`` (or a ``scipy.sparse`` matrix).
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Iterable[str], Tuple[Any, Any, Any], Any]


def number(x: Any, what: str) -> float:
    """float(x) for a number argument; a str or other non-number is a TypeError naming ``what``."""
    if isinstance(x, (str, bytes)) or not hasattr(x, "__float__"):
        raise TypeError(f"{what} must be a number, not {type(x).__name__}")
    return float(x)


def as_csr(source: Any) -> Optional[Tuple[Any, Any, Any]]:
    """(indices as uint32, values as float32, offsets as int64) for CSR input, else None.

    Arrays already of those dtypes (int32 indices are reinterpreted) pass through without a copy.
    """
    if hasattr(source, "tocsr") and hasattr(source, "shape"):  # scipy.sparse
        m = source.tocsr()
        source = (m.indices, m.data, m.indptr)
    if not isinstance(source, tuple):
        return None
    if len(source) != 3:
        raise TypeError("CSR rows are a tuple (indices, values, row_offsets)")
    import numpy as np

    indices, values, offsets = (np.asarray(a) for a in source)
    if indices.dtype == np.int32:
        indices = indices.view(np.uint32)
    elif indices.dtype != np.uint32:
        if indices.size and (indices.min() < 0 or indices.max() > 0xFFFFFFFF):
            raise ValueError("CSR indices must be feature hashes in [0, 2**32)")
        indices = indices.astype(np.uint32)
    return (
        np.ascontiguousarray(indices),
        np.ascontiguousarray(values, dtype=np.float32),
        np.ascontiguousarray(offsets, dtype=np.int64),
    )


def row_array(a: Any) -> Any:
    """Per-row labels or weights as a contiguous float32 array (None stays None)."""
    if a is None:
        return None
    import numpy as np

    return np.ascontiguousarray(a, dtype=np.float32)


def as_dict(example: Mapping[str, Any]) -> Dict[str, Any]:
    """A dict example as the core takes it (a plain dict; TypeError for anything but a mapping)."""
    if not isinstance(example, Mapping):
        raise TypeError(f"an example is a VW text line or a dict of namespaces, not {type(example).__name__}")
    return example if isinstance(example, dict) else dict(example)


def check_line(s: Any, number: int) -> bytes:
    """Line `number` (1-based) of an iterable of lines (str or bytes) as bytes, without its trailing newline."""
    if isinstance(s, str):
        try:
            s = s.encode()
        except UnicodeEncodeError as e:
            raise ValueError(
                f"line {number} of the batch is not valid Unicode: it holds a lone surrogate "
                f"(U+{ord(s[e.start]):04X} at position {e.start}), which UTF-8 cannot encode; "
                "pass raw lines as bytes, or decode the source as UTF-8"
            ) from None
    elif isinstance(s, (bytearray, memoryview)):
        s = bytes(s)
    elif not isinstance(s, bytes):
        raise TypeError(f"expected lines of text (str or bytes), got {type(s).__name__}")
    s = s.rstrip(b"\n")
    if b"\n" in s:
        raise ValueError(f"line {number} of the batch contains a newline; pass one example per item")
    return s

"""Model: a hashed linear model that learns one example at a time (the Python face of the core).

>>> import wabbit
>>> m = wabbit.Model("--loss_function logistic -q ua")
>>> for _ in range(20):
...     _ = m.learn("1 |u user=1 |a ad=7")
...     _ = m.learn("-1 |u user=2 |a ad=7")
>>> m.predict("|u user=1 |a ad=7") > 0 > m.predict("|u user=2 |a ad=7")
True
>>> m.predict({"u": ["user=1"], "a": {"ad=7": 1.0}}) == m.predict("|u user=1 |a ad=7")
True
"""

from __future__ import annotations

import json
import os
import time
import warnings
from typing import TYPE_CHECKING, Any, Dict, Iterable, Mapping, Optional, Union

from wabbit import _core
from wabbit._io import input_fd
from wabbit._version import __version__
from wabbit.options import Options, OptionError, parse_args

if TYPE_CHECKING:  # numpy is imported by the core when it returns arrays; the CLI never needs it
    import numpy as np

__all__ = ["Model", "load", "Example", "Source"]

#: One example: a VW text line, or {namespace: {feature: value} | [feature, ...]}.
Example = Union[str, Mapping[str, Any]]
#: A batch: a file path, a bytes buffer of VW lines, or an iterable of VW lines.
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Iterable[str]]


class Model:
    """A linear model over hashed features with Vowpal Wabbit's flags and numbers.

    ``Model(args, **options)`` takes VW-style flags as a string, keywords, or both:
    ``Model("--loss_function logistic -q ua -b 24")`` equals
    ``Model(loss_function="logistic", quadratic="ua", bit_precision=24)``.

    Single examples: :meth:`learn` and :meth:`predict` take a VW text line or a dict
    ``{namespace: {feature: value}}`` (a list of feature names means value 1). Batches:
    :meth:`learn_many` and :meth:`predict_many` take a file path, a bytes buffer or an iterable of
    lines, and run in the compiled core without the GIL.
    """

    def __init__(self, args: str = "", **options: Any) -> None:
        opts = parse_args(args, **options)
        run_time = opts.run_time_flags()
        if run_time:
            raise OptionError(
                f"{', '.join(run_time)}: command-line flags, not model options; use learn_many(path), "
                "save(path) and wabbit.load(path) instead"
            )
        self._setup(opts, metadata=None)

    def _setup(self, opts: Options, metadata: Optional[Dict[str, Any]]) -> None:
        self._options = opts
        self._core = _core.Model(opts.core_config())
        self._metadata: Dict[str, Any] = metadata or {"created": time.time(), "wabbit_version": __version__}

    @classmethod
    def _from_options(cls, opts: Options, metadata: Optional[Dict[str, Any]] = None) -> "Model":
        self = cls.__new__(cls)
        self._setup(opts, metadata)
        return self

    # ------------------------------------------------------------------ single examples
    def learn(self, example: Example, label: Optional[float] = None, weight: float = 1.0, initial: float = 0.0) -> float:
        """Learn from one example; returns the prediction made before the update.

        A text line carries its own label (``"1 |f a b"``); a dict example takes ``label`` (and
        optionally the importance ``weight`` and the ``initial`` offset). An unlabelled example
        changes nothing but the clock. A malformed line raises ValueError and changes nothing.
        """
        if isinstance(example, str):
            if label is not None:
                raise TypeError("a text example carries its own label; pass label= only with a dict example")
            return self._core.learn_line(example)
        return self._core.learn_dict(_as_dict(example), label, float(weight), float(initial))

    def predict(self, example: Example, initial: float = 0.0) -> float:
        """Predict one example (a text line or a dict) without changing the model."""
        if isinstance(example, str):
            return self._core.predict_line(example)
        return self._core.predict_dict(_as_dict(example), float(initial))

    # ------------------------------------------------------------------ batches
    def learn_many(self, source: Source, *, strict: bool = True) -> np.ndarray:
        """Learn from every example of a file path (plain or gzip), bytes buffer or iterable of lines.

        Returns the progressive predictions (each made before learning its example) as float32,
        one per non-blank line. With ``strict=False`` a malformed line is skipped with a warning and
        gets NaN; with ``strict=True`` (the default) it raises ValueError naming the line, after
        the lines before it were learned.
        """
        return self._run(source, learn=True, strict=strict)

    def predict_many(self, source: Source, *, strict: bool = True) -> np.ndarray:
        """Predict every example of a file path, bytes buffer or iterable of lines (no learning)."""
        return self._run(source, learn=False, strict=strict)

    def _run(self, source: Source, *, learn: bool, strict: bool) -> np.ndarray:
        opts = {"learn": learn, "strict": strict, "collect": True, "account": learn}
        if isinstance(source, (str, os.PathLike)):
            with input_fd(source) as fd:
                res = self._core.run_fd(fd, opts)
        elif isinstance(source, (bytes, bytearray, memoryview)):
            res = self._core.run_buffer(source, opts)
        else:
            res = self._core.run_buffer("\n".join(_check_line(s) for s in source).encode(), opts)
        for w in res["warnings"]:
            warnings.warn(f"malformed example skipped: {w}", stacklevel=3)
        return res["predictions"]

    # ------------------------------------------------------------------ state
    @property
    def options(self) -> Options:
        """The parsed options this model was built with."""
        return self._options

    @property
    def args(self) -> str:
        """The model-defining flags, as stored in the model file."""
        return self._options.model_args()

    @property
    def stats(self) -> Dict[str, Any]:
        """VW's running statistics over what this model has learned (examples, weighted sums, loss)."""
        return self._core.stats()

    @property
    def average_loss(self) -> float:
        """Progressive average loss over the examples learned so far (NaN before any)."""
        s = self._core.stats()
        w = s["weighted_labeled_examples"]
        return s["sum_loss"] / w if w > 0 else float("nan")

    @property
    def bits(self) -> int:
        return int(self._core.bits())

    @property
    def metadata(self) -> Dict[str, Any]:
        """Free-form metadata stored in the model file (creation time, version)."""
        return self._metadata

    # ------------------------------------------------------------------ persistence
    def to_bytes(self, *, predict_only: bool = False) -> bytes:
        """The model file's bytes (see docs/model-format.md)."""
        return self._core.to_bytes(__version__, self.args, json.dumps(self._metadata), predict_only)

    def save(self, path: Union[str, "os.PathLike[str]"], *, predict_only: bool = False) -> None:
        """Write the model file atomically (temporary file, fsync, rename, fsync of the folder)."""
        self._core.save(os.fspath(path), __version__, self.args, json.dumps(self._metadata), predict_only)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Model":
        """Rebuild a model from :meth:`to_bytes` output; refuses corrupt data with ValueError."""
        header, blob = _core.read_model(bytes(data))
        return _from_loaded(header, blob, None)

    def copy(self) -> "Model":
        """An independent copy (weights, online state and statistics)."""
        new = Model.__new__(Model)
        new._options = self._options
        new._metadata = dict(self._metadata)
        new._core = self._core.copy()
        return new

    def __copy__(self) -> "Model":
        return self.copy()

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Model":
        return self.copy()

    def __reduce__(self) -> Any:
        return (Model.from_bytes, (self.to_bytes(),))

    def __repr__(self) -> str:
        return f"wabbit.Model({self.args!r})"


def load(path: Union[str, "os.PathLike[str]"], args: str = "", **options: Any) -> Model:
    """Load a model file written by :meth:`Model.save` or ``wabbit -f``.

    The model brings its own flags; ``args``/``options`` may change tunable ones (learning rate,
    power_t, prediction bounds) but not the model's structure (bits, loss, interactions, rule).

    >>> import tempfile, os, wabbit
    >>> m = wabbit.Model("-q ab")
    >>> _ = m.learn("2 |a x |b y")
    >>> path = os.path.join(tempfile.mkdtemp(), "m.model")
    >>> m.save(path)
    >>> wabbit.load(path).predict("|a x |b y") == m.predict("|a x |b y")
    True
    """
    header, blob = _core.read_model_file(os.fspath(path))
    overrides = parse_args(args, **options) if (args or options) else None
    return _from_loaded(header, blob, overrides)


def _from_loaded(header: Dict[str, Any], blob: Any, overrides: Optional[Options]) -> Model:
    stored = parse_args(header["args"])
    opts = overrides.merged_with_model(stored) if overrides is not None else stored
    try:
        metadata = json.loads(header["metadata"]) if header["metadata"] else {}
    except json.JSONDecodeError:
        metadata = {}
    model = Model._from_options(opts, metadata)
    model._core.install(blob)
    return model


def _as_dict(example: Mapping[str, Any]) -> Dict[str, Any]:
    if not isinstance(example, Mapping):
        raise TypeError(f"an example is a VW text line or a dict of namespaces, not {type(example).__name__}")
    return example if isinstance(example, dict) else dict(example)


def _check_line(s: Any) -> str:
    if not isinstance(s, str):
        raise TypeError(f"expected lines of text, got {type(s).__name__}")
    if "\n" in s.rstrip("\n"):
        raise ValueError("a line in the batch contains a newline; pass one example per item")
    return s.rstrip("\n")

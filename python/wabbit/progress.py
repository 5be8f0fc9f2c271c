"""Progress bars for long Python calls: ``Model.learn_many(..., progress=True)``.

The bar is tqdm's (the ``progress`` extra: ``pip install wabbit[progress]``). The learning loop runs
in the core without the GIL; every block of examples it calls back once (the run's hook, as
``save_every`` and the drift monitor use it), and the bar moves by that block: examples a second,
and the running (progressive) average loss of the model. Nothing is done per example in Python.

>>> import io, wabbit
>>> out = io.StringIO()
>>> m = wabbit.Model("--loss_function logistic")
>>> _ = m.learn_many(["1 |f a", "-1 |f b"] * 5000, progress={"file": out, "mininterval": 0})
>>> line = out.getvalue().strip().splitlines()[-1].split("\\r")[-1]
>>> "10.0k/10.0k" in line and "ex/s" in line and "loss=" in line
True
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional

if TYPE_CHECKING:
    from wabbit.model import Model

__all__ = ["Bar", "BLOCK", "INSTALL_HINT", "count_examples", "make"]

#: Examples between two updates of the bar (when the run has no other hook to share).
BLOCK = 10_000
INSTALL_HINT = "progress=True needs tqdm: pip install wabbit[progress] (or pip install tqdm)"


def count_examples(source: Any) -> Optional[int]:
    """How many examples a source will give, when that is cheap to know (None otherwise): the rows
    of CSR input, the items of a list, the lines of bytes or of a plain (not gzip) file."""
    shape = getattr(source, "shape", None)
    if shape is not None and len(shape) == 2:
        return int(shape[0])
    if isinstance(source, tuple) and len(source) == 3:
        return max(len(source[2]) - 1, 0)
    if isinstance(source, (list, tuple)):
        return len(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data[:2] == b"\x1f\x8b":
            return None
        return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                first = f.read(1 << 20)
                if first[:2] == b"\x1f\x8b":
                    return None
                n, last = first.count(b"\n"), first[-1:]
                while True:
                    chunk = f.read(1 << 22)
                    if not chunk:
                        break
                    n += chunk.count(b"\n")
                    last = chunk[-1:]
                return n + (1 if last and last != b"\n" else 0)
        except OSError:
            return None
    return None


class Bar:
    """A tqdm bar fed by a run's hook: :meth:`update` with the run's example count, then :meth:`close`."""

    def __init__(self, model: "Model", total: Optional[int], options: Optional[Dict[str, Any]] = None) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            raise ImportError(INSTALL_HINT) from None
        kw: Dict[str, Any] = {"total": total, "unit": "ex", "unit_scale": True, "desc": "learning", "leave": True}
        kw.update(options or {})
        self.model = model
        self.bar = tqdm(**kw)
        self.shown = 0

    def update(self, examples: int) -> None:
        """The run has processed ``examples`` examples (counted from its start)."""
        step = int(examples) - self.shown
        if step > 0:
            self.shown = int(examples)
            loss = self.model.average_loss
            if loss == loss:  # not NaN
                self.bar.set_postfix_str(f"loss={loss:.6g}", refresh=False)
            self.bar.update(step)

    def close(self, examples: Optional[int] = None) -> None:
        """The end of the run (``examples``: its final count, when known)."""
        if examples is not None:
            self.update(examples)
        self.bar.close()


def make(model: "Model", progress: Any, source: Any) -> Optional[Bar]:
    """The bar ``progress=`` asks for: None for False/None, a :class:`Bar` for True or a dict of
    tqdm's keyword arguments (``{"desc": "day 1", "file": f}``)."""
    if progress is None or progress is False:
        return None
    if progress is not True and not isinstance(progress, dict):
        raise TypeError(f"progress is True, False or a dict of tqdm's options, not {type(progress).__name__}")
    return Bar(model, count_examples(source), progress if isinstance(progress, dict) else None)

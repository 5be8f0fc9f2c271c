"""Several passes over the data, VW's holdout and the cache file: the run options the core takes
(``passes``, ``holdout``, ``cache_read``/``cache_write``, ...), from the flags or from
:meth:`wabbit.Model.learn_many`'s arguments.

VW's rules: more than one pass needs a cache (the text is parsed once, on the first pass, and the
other passes read the cache); with more than one pass (or ``--holdout_after``), every 10th example
of each pass (``--holdout_period``) is held out unless ``--holdout_off``: predicted, not learned,
and its loss reported; after ``--early_terminate`` passes (default 3) without a better holdout
loss the run stops, and the model is the one of the best pass. The cache format is wabbit's own
(``cpp/formats/cache.h``): a cache that is not whole, not wabbit's, or made from another version
of the data file is rejected with the reason and written again.

>>> s = settings(passes=3)
>>> (s["passes"], s["holdout"], s["holdout_period"], s["early_terminate"])
(3, True, 10, 3)
>>> settings(passes=3, holdout_off=True)["holdout"]
False
>>> settings(passes=1)["holdout"]              # one pass: no holdout unless --holdout_after
False
>>> default_cache_path("train.vw")
'train.vw.cache'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import wabbit._core as _core
from wabbit.flags import OptionError

__all__ = ["settings", "CachePlan", "plan_cache", "default_cache_path"]


def settings(
    passes: Optional[int] = 1,
    holdout_off: bool = False,
    holdout_period: Optional[int] = None,
    holdout_after: Optional[int] = None,
    early_terminate: Optional[int] = None,
    decay_learning_rate: Optional[float] = None,
) -> Dict[str, Any]:
    """The core's pass options (without the cache) from VW's flags, checked."""
    n = 1 if passes is None else int(passes)
    if n < 1:
        raise OptionError(f"--passes takes a positive number of passes, got {passes}")
    period = 10 if holdout_period is None else int(holdout_period)
    after = 0 if holdout_after is None else int(holdout_after)
    if period < 1:
        raise OptionError(f"--holdout_period takes a positive number, got {holdout_period}")
    if after < 0:
        raise OptionError(f"--holdout_after takes a number of examples >= 0, got {holdout_after}")
    stop = 3 if early_terminate is None else int(early_terminate)
    if stop < 0:
        raise OptionError(f"--early_terminate takes a number of passes >= 0, got {early_terminate}")
    decay = 1.0 if decay_learning_rate is None else float(decay_learning_rate)
    if not decay > 0 or decay != decay or decay == float("inf"):
        raise OptionError(f"--decay_learning_rate takes a positive factor, got {decay_learning_rate}")
    return {
        "passes": n,
        "holdout": (n > 1 or after > 0) and not holdout_off,
        "holdout_period": period,
        "holdout_after": after,
        "early_terminate": stop,
        "decay_learning_rate": decay,
    }


def input_code(options: Any) -> int:
    """How a model's options read input lines, as the cache records it: 0 VW text, 1 ``--json``,
    2 ``--dsjson``, + 4 with ``--chain_hash`` (a cache made one way is not read another way).

    >>> from wabbit.options import parse_args
    >>> input_code(parse_args("")), input_code(parse_args("--json --chain_hash"))
    (0, 5)
    """
    return int(options.input_format()) + (4 if options.chain_hash else 0)


def default_cache_path(data: Optional[str]) -> str:
    """VW's -c: the data file's name + ``.cache`` (standard input: ``.cache``)."""
    return (data or "") + ".cache"


@dataclass
class CachePlan:
    """What a run does with its cache: read it (``mode == "read"``) or write it on the first pass
    (``"write"``); ``messages`` say so as VW does, and why an existing file was not used."""

    path: str
    mode: str
    messages: List[str]
    rejected: Optional[str] = None  # why an existing file was rejected (None: none was)

    def run_options(self, source: Optional[str]) -> Dict[str, Any]:
        if self.mode == "read":
            return {"cache_read": self.path}
        return {"cache_write": self.path, "source_path": source or ""}


def plan_cache(path: str, source: Optional[str], kill: bool = False, input: int = 0) -> CachePlan:
    """Whether the cache at ``path`` can be read for the data file ``source`` (None: standard
    input) read as ``input`` (0 VW text, 1 ``--json``, 2 ``--dsjson``; + 4 with ``--chain_hash``)
    or must be written: a missing, killed (``-k``), foreign, truncated, corrupted or stale file, or
    one made from input read another way, is written again."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OptionError(f"cache file {path}: folder {folder} does not exist")
    why: Optional[str] = None
    if not kill and os.path.exists(path):
        src = source if source is not None and os.path.exists(source) else ""  # VW reads a cache without its data
        why = _core.check_cache(path, src, input)
        if why is None:
            return CachePlan(
                path, "read", [f"using cache_file = {path}", "ignoring text input in favor of cache input"]
            )
    messages = []
    if why is not None:
        messages.append(f"wabbit: warning: the cache file {path} {why}; writing it again")
    messages.append(f"creating cache_file = {path}")
    return CachePlan(path, "write", messages, rejected=why)

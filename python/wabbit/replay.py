"""A replay buffer against forgetting: a bounded sample of the past, mixed into learning.

An online learner follows its stream: when a segment of traffic goes away for a while, what was
learned about it fades, and it is learned again from scratch when it comes back.
:class:`ReplayBuffer` keeps a bounded random sample of past examples and, for each new example,
says what to learn: the example, plus now and then a replayed one, so that replayed / new is
``ratio`` on average (``--replay 0.1``).

Strategies:

* ``"uniform"``: one reservoir over the whole stream (Vitter's algorithm R): after ``n``
  examples, each of them is in the buffer with probability ``capacity / n``.
* ``"time"``: one reservoir per time window of ``window`` seconds (the example's time, or the
  number of examples seen when no time is given), each with an equal share of the capacity, so a
  quiet hour is kept as well as a busy one. At most ``max_strata`` windows: beyond that, the two
  oldest merge into one (a sample of their union in proportion to what each saw).
* ``"label"``: one reservoir per label value (``key=``: any function of the example instead, e.g.
  a bucket of a continuous label), each with an equal share: rare positives are kept as well as
  the common negatives. At most ``max_strata`` strata (then new ones are refused, counted).

Replayed examples are drawn one stratum at a time, uniformly, then uniformly within it. How many
follow each new example is decided by a running credit (``ratio`` per new example, one replay per
whole unit), so the ratio holds exactly over any stretch and replays are spread evenly; which
ones, by the buffer's generator (``seed``). Everything, the generator's state included, is in
:meth:`ReplayBuffer.state`: a buffer restored from it continues identically.

**Learning a replayed example** (:meth:`ReplayBuffer.learn`, what the trainer calls): with
``keep_rates=True`` (the default) a replayed example moves the weights as a new one would, but
leaves the learner's per-feature step sizes as they are. VW's default update (adaptive,
normalized) shrinks a feature's step as the squared gradients it has seen add up; an example seen
twice would count twice, as if there were more data than there is. A replay of an old segment
during a new one hits the shared features with large gradients (the old example is mispredicted
now), and counting them would slow the new segment's learning on exactly those features. Measured
on ``bench/bench_pipeline.py``'s two replay streams (``bench/RESULTS.md``, 5 seeds each): at the
same ratio, ``keep_rates`` cut what replay costs the new segment by 23-41% with a linear model
(with ``-q gs`` both cost at most 0.1%) and helped the returning one as much or more (never worse
by more than 0.0001 of loss), in every seed. That is why it is the default.

How: the example is learned with its importance weight times 2^-10 and the learning rate times
2^10 (powers of two: exact). The step is then the one it would take as a new example, but with the
step sizes as they are: what the accumulators gain (its squared gradient, and the model's clock)
is 2^-10 of a new example's. Only for VW's gradient descent (the default, ``--sgd``,
``--adaptive``, ``--normalized``, ``--invariant``); ``--ftrl``, ``--coin``, ``--freegrad``, the perceptron and PA rules and
bandit models learn replays as new examples. Only the model's own learner is concerned: a
monitor's challenger (``Model.monitor``) learns a replay at weight 2^-10, i.e. hardly at all.
``keep_rates=False`` learns a replayed example exactly as a new one.

Examples are VW text lines (``"1 |f a"``, the label in front) or ``(dict example, label)`` pairs,
as :func:`wabbit.evaluate.progressive_val` takes them; they are kept as given (not copied).

>>> buf = ReplayBuffer(capacity=100, ratio=0.5, seed=1)
>>> learned = []
>>> for i in range(8):
...     learned += buf.mix(f"1 |f x{i}")
>>> len(learned), len(buf), buf.replayed     # the first has no past; then one replay every other
(11, 8, 3)
>>> learned[:4] == ['1 |f x0', '1 |f x1', '1 |f x2', learned[3]] and learned[3] in ('1 |f x0', '1 |f x1')
True
"""

from __future__ import annotations

import math
import random
import re
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Hashable, List, Mapping, Optional, Tuple, Union

from wabbit import _core

if TYPE_CHECKING:  # pragma: no cover
    from wabbit.model import Model

__all__ = ["ReplayBuffer", "example_label"]

#: An example as the buffer keeps it: a VW text line, or a (dict example, label) pair.
Item = Union[str, Tuple[Mapping[str, Any], Optional[float]]]

_STRATEGIES = ("uniform", "time", "label")
#: The core's marker of an unlabelled example (VW's FLT_MAX), as parse_line returns it.
_NO_LABEL = 3.4028234663852886e38
#: keep_rates: a replayed example's importance weight is multiplied by this, its learning rate
#: divided by it (a power of two: the step is exactly the same).
_KEEP_RATES_WEIGHT = 2.0**-10


def example_label(example: Item) -> Optional[float]:
    """The label of an example: a text line's (as the core reads it), or a pair's second half;
    None when unlabelled or malformed.

    >>> example_label("-1 2 'tag |f a"), example_label("|f a"), example_label(({"f": ["a"]}, 0.5))
    (-1.0, None, 0.5)
    """
    if isinstance(example, str):
        status, _, label, *_ = _core.parse_line(example.rstrip("\r\n").encode())
        return None if status != "example" or label == _NO_LABEL else float(label)
    label = example[1]
    return None if label is None else float(label)


class _Stratum:
    """One reservoir (algorithm R) with its share of the capacity."""

    __slots__ = ("items", "seen")

    def __init__(self, items: Optional[List[Any]] = None, seen: int = 0) -> None:
        self.items: List[Any] = items if items is not None else []
        self.seen = seen


class ReplayBuffer:
    """A bounded reservoir of past examples, mixed into learning at ``ratio``.

    ``capacity``: the most examples kept (split equally among strata). ``strategy``:
    ``"uniform"``, ``"time"`` or ``"label"`` (see :mod:`wabbit.replay`). ``ratio``: replayed
    examples per new one, on average (0 turns replay off, but the buffer still fills).
    ``seed``: the generator's seed. ``window``: seconds per stratum (``"time"``).
    ``key``: the stratum of an example (``"label"``; default: its label). ``max_strata``: the
    most strata at once. ``keep_rates``: :meth:`learn` leaves the learner's per-feature step
    sizes as they are (see :mod:`wabbit.replay`).
    """

    def __init__(
        self,
        capacity: int,
        strategy: str = "uniform",
        ratio: float = 0.1,
        seed: int = 0,
        window: float = 3600.0,
        *,
        key: Optional[Callable[[Item], Hashable]] = None,
        max_strata: int = 64,
        keep_rates: bool = True,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        if strategy not in _STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(_STRATEGIES)}, got {strategy!r}")
        ratio = float(ratio)
        if not (math.isfinite(ratio) and ratio >= 0):
            raise ValueError(f"ratio must be a finite number >= 0, got {ratio!r}")
        window = float(window)
        if not (math.isfinite(window) and window > 0):
            raise ValueError(f"window must be a positive number of seconds, got {window!r}")
        if isinstance(max_strata, bool) or not isinstance(max_strata, int) or max_strata < 1:
            raise ValueError(f"max_strata must be a positive integer, got {max_strata!r}")
        if key is not None and strategy != "label":
            raise ValueError('key= picks the strata of strategy="label"')
        self.capacity = capacity
        self.strategy = strategy
        self.ratio = ratio
        self.seed = seed
        self.window = window
        self.max_strata = min(max_strata, capacity)
        self._key = key
        self.keep_rates = bool(keep_rates)
        # model -> whether its update rule takes keep_rates (checked once a model)
        self._rule_ok: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()
        self._rng = random.Random(seed)
        # stratum key -> reservoir, oldest stratum first
        self._strata: Dict[Hashable, _Stratum] = {}
        self._credit = 0.0
        self.added = 0  # examples offered to the buffer
        self.replayed = 0  # replayed examples handed out by mix()
        self.refused = 0  # examples of a stratum beyond max_strata ("label"), not kept

    # ------------------------------------------------------------------------------------
    def mix(self, example: Item, time: Optional[float] = None) -> List[Item]:
        """What to learn now: ``[example, *replayed]``. The replayed ones are drawn from the
        past (before ``example`` is added); their number makes replayed / new = ``ratio`` over
        time. ``time`` places the example in its window (``"time"``)."""
        out: List[Item] = [example]
        if self._strata and self.ratio > 0:
            self._credit += self.ratio
            while self._credit >= 1.0:
                self._credit -= 1.0
                out.append(self._draw())
            self.replayed += len(out) - 1
        self.add(example, time)
        return out

    def learn(self, model: "Model", example: Item) -> None:
        """Learn a replayed ``example`` (one :meth:`mix` handed out) into ``model``: as a new
        example, or, with ``keep_rates``, without growing the per-feature step-size state."""
        if not (self.keep_rates and self._takes_keep_rates(model)):
            _learn_plain(model, example)
            return
        core = model.core
        if isinstance(example, str):
            line = _keep_rates_line(example)
            if line is None:
                _learn_plain(model, example)  # the core skips it or says why, as for a new one
                return
            factor = core.rate_factor()
            core.set_rate_factor(factor / _KEEP_RATES_WEIGHT)
            try:
                model.learn(line)
            finally:
                core.set_rate_factor(factor)
        else:
            factor = core.rate_factor()
            core.set_rate_factor(factor / _KEEP_RATES_WEIGHT)
            try:
                model.learn(example[0], label=example[1], weight=_KEEP_RATES_WEIGHT)
            finally:
                core.set_rate_factor(factor)

    def _takes_keep_rates(self, model: "Model") -> bool:
        try:
            return self._rule_ok[model]
        except (KeyError, TypeError):
            pass
        ok = False
        core = getattr(model, "core", None)
        if core is not None and not core.is_cb():
            cfg = model.options.core_config()
            ok = not any(cfg.get(k) for k in ("ftrl", "coin", "freegrad", "classic_rule"))
        try:
            self._rule_ok[model] = ok
        except TypeError:  # pragma: no cover - a model that cannot be weakly referenced
            pass
        return ok

    def add(self, example: Item, time: Optional[float] = None) -> None:
        """Offer ``example`` to the buffer (kept or not, as its reservoir decides)."""
        key = self._stratum_key(example, time)
        self.added += 1
        stratum = self._strata.get(key)
        if stratum is None:
            if len(self._strata) >= self.max_strata:
                if self.strategy != "time":
                    self.refused += 1
                    return
                self._merge_oldest()
            stratum = self._strata[key] = _Stratum()
            self._rebalance()
        share = self._share(key)
        stratum.seen += 1
        if len(stratum.items) < share:
            stratum.items.append(example)
        else:
            j = self._rng.randrange(stratum.seen)
            if j < share:
                stratum.items[j] = example

    def sample(self, k: int) -> List[Item]:
        """``k`` examples drawn (with replacement) as :meth:`mix` draws them; [] when empty."""
        if not self._strata:
            return []
        return [self._draw() for _ in range(k)]

    def __len__(self) -> int:
        return sum(len(s.items) for s in self._strata.values())

    def __iter__(self) -> Any:
        for s in self._strata.values():
            yield from s.items

    @property
    def strata(self) -> Dict[Hashable, Tuple[int, int]]:
        """Each stratum's (examples kept, examples seen), oldest first."""
        return {k: (len(s.items), s.seen) for k, s in self._strata.items()}

    def __repr__(self) -> str:
        return (
            f"ReplayBuffer(capacity={self.capacity}, strategy={self.strategy!r}, ratio={self.ratio:g}, "
            f"size={len(self)}, strata={len(self._strata)}, keep_rates={self.keep_rates})"
        )

    # ------------------------------------------------------------------------------------
    def state(self) -> Dict[str, Any]:
        """Everything, the generator's state included, as plain lists and dicts (JSON-ready when
        the examples are; a custom ``key`` is not included: pass it again to :meth:`restore`).

        >>> a = ReplayBuffer(10, ratio=0.5, seed=3)
        >>> for i in range(30):
        ...     _ = a.mix(f"1 |f x{i}")
        >>> b = ReplayBuffer.restore(a.state())
        >>> [a.mix(f"1 |f y{i}") for i in range(5)] == [b.mix(f"1 |f y{i}") for i in range(5)]
        True
        """
        version, internal, gauss = self._rng.getstate()
        return {
            "capacity": self.capacity,
            "strategy": self.strategy,
            "ratio": self.ratio,
            "seed": self.seed,
            "window": self.window,
            "max_strata": self.max_strata,
            "keep_rates": self.keep_rates,
            "rng": [version, list(internal), gauss],
            "credit": self._credit,
            "strata": [[k, s.seen, [_plain(x) for x in s.items]] for k, s in self._strata.items()],
            "added": self.added,
            "replayed": self.replayed,
            "refused": self.refused,
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any], *, key: Optional[Callable[[Item], Hashable]] = None) -> "ReplayBuffer":
        """A buffer holding ``state`` (from :meth:`state`, possibly through JSON)."""
        buf = cls(
            state["capacity"],
            state["strategy"],
            state["ratio"],
            state["seed"],
            state["window"],
            key=key,
            max_strata=state["max_strata"],
            keep_rates=state.get("keep_rates", False),  # saved before keep_rates existed: as then
        )
        version, internal, gauss = state["rng"]
        buf._rng.setstate((version, tuple(internal), gauss))
        buf._credit = float(state["credit"])
        buf._strata = {
            _hashable(k): _Stratum([_item(x) for x in items], int(seen)) for k, seen, items in state["strata"]
        }
        buf.added = int(state["added"])
        buf.replayed = int(state["replayed"])
        buf.refused = int(state["refused"])
        return buf

    # ------------------------------------------------------------------------------------
    def _stratum_key(self, example: Item, time: Optional[float]) -> Hashable:
        if self.strategy == "uniform":
            return 0
        if self.strategy == "time":
            t = float(self.added if time is None else time)
            return math.floor(t / self.window)
        if self._key is not None:
            return self._key(example)
        return example_label(example)

    def _share(self, key: Hashable) -> int:
        """The stratum's part of the capacity: equal shares, the remainder to the oldest."""
        n = len(self._strata)
        base, extra = divmod(self.capacity, n)
        if extra == 0:
            return base
        for i, k in enumerate(self._strata):
            if k == key:
                return base + (1 if i < extra else 0)
        return base  # pragma: no cover

    def _rebalance(self) -> None:
        """Shrink each reservoir to its share (a uniform subset of a uniform sample is uniform)."""
        for k, s in self._strata.items():
            share = self._share(k)
            while len(s.items) > share:
                s.items.pop(self._rng.randrange(len(s.items)))

    def _merge_oldest(self) -> None:
        """Merge the two oldest strata into one sample of their union (time windows)."""
        keys = list(self._strata)
        a, b = self._strata.pop(keys[0]), self._strata[keys[1]]
        # a sample as large as the larger of the two (within the share it will have); how many
        # of it come from a: draws without replacement from the union of what both saw
        size = max(len(a.items), len(b.items))
        na, nb, from_a = a.seen, b.seen, 0
        for _ in range(size):
            if self._rng.random() * (na + nb) < na:
                from_a += 1
                na -= 1
            else:
                nb -= 1
        from_a = max(size - len(b.items), min(from_a, len(a.items)))
        kept = self._rng.sample(a.items, from_a) + self._rng.sample(b.items, size - from_a)
        b.items = kept
        b.seen += a.seen

    def _draw(self) -> Item:
        strata = [s for s in self._strata.values() if s.items]
        s = strata[self._rng.randrange(len(strata))] if len(strata) > 1 else strata[0]
        return s.items[self._rng.randrange(len(s.items))]


#: The common headers (label [importance [base]] ['tag]: plain decimals), read here; others by the core.
_SIMPLE_HEADER = re.compile(r" *(-?\d+(?:\.\d*)?)(?: +(\d+(?:\.\d*)?))?(?: +(-?\d+(?:\.\d*)?))?(?: *'[^ \t]*)? *")


def _keep_rates_line(example: str) -> Optional[str]:
    """``example`` with its importance weight times 2^-10 (and no tag); None when it has no label
    or no ``|`` (then it is learned as is: the core skips it or says why)."""
    bar = example.find("|")
    if bar < 0:
        return None
    rest = example[bar:].rstrip("\r\n")
    m = _SIMPLE_HEADER.fullmatch(example, 0, bar)
    if m is not None:
        label, weight, initial = m.group(1), float(m.group(2) or 1.0), m.group(3) or "0"
    else:  # anything else as the core reads it (a tab, exponents, ...)
        status, _, y, w, b, *_ = _core.parse_line(example[:bar].encode() + b"|")
        if status != "example" or y == _NO_LABEL:
            return None
        label, weight, initial = y.hex(), w, b.hex()
    # hexadecimal: read exactly (the core's decimal reader is VW's, not correctly rounded); a power
    # of two: float32(w * 2^-10) == float32(w) * 2^-10
    return f"{label} {(weight * _KEEP_RATES_WEIGHT).hex()} {initial} {rest}"


def _learn_plain(model: "Model", example: Item) -> None:
    if isinstance(example, str):
        model.learn(example)
    else:
        model.learn(example[0], label=example[1])


def _plain(x: Item) -> Any:
    return x if isinstance(x, str) else [x[0], x[1]]


def _item(x: Any) -> Item:
    return x if isinstance(x, str) else (x[0], x[1])


def _hashable(k: Any) -> Hashable:
    return tuple(_hashable(x) for x in k) if isinstance(k, list) else k

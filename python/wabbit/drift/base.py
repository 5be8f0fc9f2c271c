"""The interface every drift detector shares.

A detector watches a stream of numbers (a loss, an error bit, a feature) and raises an alarm when
their distribution changes:

* ``update(x) -> bool``: one value; True when drift is detected at it (also in ``drift_detected``).
* ``update_many(values) -> numpy array``: the indices of the values, in a 1-D array, at which
  drift was detected; the same as calling ``update`` on each in turn, but in one call (for the
  compiled detectors, one loop in C++ without the GIL).
* ``warning_detected`` and ``update_many(values, return_warnings=True)`` on detectors with a
  warning zone (:class:`DriftAndWarningDetector`).
* ``reset()``: forget the stream, keep the parameters. As in river, a detector that raised an
  alarm also starts afresh by itself at the next value.
* Detectors pickle and copy (their complete state, so a restored detector continues the stream).

>>> import pickle
>>> from wabbit.drift import ADWIN, DriftDetector
>>> adwin = ADWIN(delta=0.01)
>>> isinstance(adwin, DriftDetector), adwin
(True, ADWIN(delta=0.01, clock=32, max_buckets=5, min_window_length=5, grace_period=10))
>>> _ = adwin.update_many([0.0, 1.0] * 100)
>>> twin = pickle.loads(pickle.dumps(adwin))
>>> twin.update_many([5.0] * 100).tolist() == adwin.update_many([5.0] * 100).tolist()
True
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Dict, Iterable, Tuple, Union

import numpy as np

__all__ = ["DriftDetector", "DriftAndWarningDetector"]

#: What ``update_many`` takes: a 1-D numpy array or anything numpy turns into one.
Values = Union[np.ndarray, Iterable[float]]


class DriftDetector:
    """Base class of the drift detectors (see the module's documentation for the interface).

    The compiled detectors inherit ``update``, ``update_many``, ``reset`` and ``drift_detected``
    from their C++ class (listed first among the bases) and only their parameters, pickling and
    ``repr`` from here. A pure-Python detector implements ``update``, ``reset``,
    ``drift_detected``, ``_state`` and ``_set_state``.

    Parameters are named once, in the constructor's signature (river's ``_get_params`` idea): the
    arguments each instance was built with are read from that signature into ``_params`` before
    the constructor's body runs, and each parameter of the package's detectors becomes a read-only
    attribute (unless the class defines that name itself). ``clone``, pickling and ``repr`` use ``_params``.
    """

    _params: Dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)
        names = list(signature.parameters)[1:]
        if any(signature.parameters[n].kind in (_VAR_POSITIONAL, _VAR_KEYWORD) for n in names):
            return  # *args/**kwargs: the parameters are not named; the class keeps its own _params
        if cls.__module__.startswith("wabbit.drift."):
            # the package's detectors: each parameter a read-only attribute (a subclass of one's
            # own keeps its attributes as it sets them, as in river)
            for name in names:
                if name not in cls.__dict__:
                    setattr(cls, name, param(name))

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kw: Any) -> None:
            bound = signature.bind(self, *args, **kw)
            bound.apply_defaults()
            self._params = dict(list(bound.arguments.items())[1:])
            init(self, *args, **kw)

        cls.__init__ = __init__  # type: ignore[method-assign]

    @property
    def params(self) -> Dict[str, Any]:
        """The parameters this detector was built with (a copy): ``type(d)(**d.params)`` is a fresh twin.

        >>> from wabbit.drift import DDM
        >>> DDM(warm_start=10).params
        {'warm_start': 10, 'warning_threshold': 2.0, 'drift_threshold': 3.0}
        """
        return dict(self._params)

    def update(self, x: float) -> bool:  # pragma: no cover - every detector overrides it
        """Update with one value; True when drift is detected at it."""
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - every detector overrides it
        """Forget the stream; keep the parameters."""
        raise NotImplementedError

    @property
    def drift_detected(self) -> bool:  # pragma: no cover - every detector overrides it
        """Whether the last value raised an alarm."""
        raise NotImplementedError

    def update_many(self, values: Values) -> np.ndarray:
        """Update with each value in turn; the indices (int64) of the values that raised an alarm."""
        update = self.update
        return np.array([i for i, x in enumerate(_as_values(values)) if update(float(x))], dtype=np.int64)

    def clone(self) -> "DriftDetector":
        """A fresh detector with the same parameters."""
        return type(self)(**self._params)

    def state(self) -> Any:
        """The detector's stream state (not its parameters): :meth:`set_state` resumes from it."""
        return self._state()

    def set_state(self, state: Any) -> None:
        """Resume the stream from :meth:`state`'s value (the parameters stay as they are)."""
        self._set_state(state)

    # The complete state, for pickling: the parameters rebuild the detector, the state resumes it.
    def _state(self) -> Any:  # pragma: no cover - every detector overrides it
        raise NotImplementedError

    def _set_state(self, state: Any) -> None:  # pragma: no cover - every detector overrides it
        raise NotImplementedError

    def __getstate__(self) -> Dict[str, Any]:
        return {"params": dict(self._params), "state": self._state()}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        type(self).__init__(self, **state["params"])
        self._set_state(state["state"])

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_new, (type(self),), self.__getstate__())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"


class DriftAndWarningDetector(DriftDetector):
    """A detector with a warning zone: ``warning_detected`` is True while the stream looks like it
    may be drifting but no alarm was raised yet."""

    @property
    def warning_detected(self) -> bool:  # pragma: no cover - every detector overrides it
        """Whether the last value left the detector in its warning zone."""
        raise NotImplementedError

    def update_many(  # type: ignore[override]
        self, values: Values, return_warnings: bool = False
    ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """Update with each value in turn; the indices of the alarms (and, with
        ``return_warnings=True``, also those of the values that left the detector in its warning
        zone, as a second array)."""
        drifts, warnings = [], []
        for i, x in enumerate(_as_values(values)):
            if self.update(float(x)):
                drifts.append(i)
            if return_warnings and self.warning_detected:
                warnings.append(i)
        d = np.array(drifts, dtype=np.int64)
        return (d, np.array(warnings, dtype=np.int64)) if return_warnings else d


_VAR_POSITIONAL, _VAR_KEYWORD = inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD


def param(name: str) -> property:
    """A read-only attribute for a constructor parameter (changing it would not change the
    detector, which was built with it)."""
    return property(lambda self: self._params[name], doc=f"The ``{name}`` parameter (read-only).")


def _as_values(values: Values) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError("update_many takes a 1-D array of values")
    if not np.isfinite(a).all():
        raise ValueError("drift detectors take finite numbers")
    return a


def _new(cls: Any) -> Any:
    return cls.__new__(cls)

"""Snapshots: in-memory copies of a model, taken between examples or in the middle of a run.

>>> import wabbit
>>> m = wabbit.Model()
>>> _ = m.learn("1 |f a")
>>> snap = m.snapshot(note="one")
>>> (snap.note, snap.examples), snap.to_model().predict("|f a") == m.predict("|f a")
(('one', 1), True)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Union

from wabbit.lineage import Lineage, SourceRecord

if TYPE_CHECKING:  # annotations only: this module takes models as arguments, it never builds one
    from wabbit.model import Model

__all__ = ["Snapshot", "model_of", "of_model", "take"]


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An in-memory copy of a model taken by :meth:`Model.snapshot`.

    ``note`` is the caller's text, ``created`` the time it was taken (seconds since the epoch),
    ``examples`` the examples the model had learned by then (its lineage's count). The copy is
    private so the snapshot never changes: :meth:`Model.restore` and :meth:`to_model` copy it again.
    """

    note: str
    created: float
    examples: int
    _model: "Model" = field(repr=False)

    def to_model(self) -> "Model":
        """An independent Model in the snapshot's state."""
        return self._model.copy()

    @property
    def lineage(self) -> Lineage:
        return self._model.lineage

    def save(self, path: Union[str, "os.PathLike[str]"], *, predict_only: bool = False) -> None:
        """Write the snapshot as a model file (atomically, as :meth:`Model.save`)."""
        self._model.save(path, predict_only=predict_only)


def take(model: "Model", note: str, partial: Optional[SourceRecord] = None) -> Snapshot:
    """A snapshot of ``model``: one copy of it. ``partial`` is the source a run is in the middle
    of (learned so far), added to the copy's lineage."""
    copy = model.copy()
    if partial is not None:
        copy.record_source(partial)
    return Snapshot(note=note, created=time.time(), examples=copy.lineage.examples, _model=copy)


def of_model(model: "Model", note: str) -> Snapshot:
    """A snapshot that *is* ``model``, not a copy: for a state written out before the model changes
    again (the end of a run saved into a store)."""
    return Snapshot(note=note, created=time.time(), examples=model.lineage.examples, _model=model)


def model_of(snapshot: Snapshot) -> "Model":
    """The snapshot's own model (not a copy), for callers that only read it (:meth:`Model.restore`)."""
    return snapshot._model

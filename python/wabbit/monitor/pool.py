"""The ``"pool"`` response: a small pool of models judged by a paired test, so that a drift response
can tell a change from noise (issue 22; see :mod:`wabbit.monitor`).

The pool holds the **champion** (the model that serves: the monitored model itself), a
**challenger** (a model started from scratch at an alarm, learning from the alarm on: the core's
shadow learner) and up to ``size`` **archived** past champions, frozen (they never learn). At an
alarm where the signal rose, the champion as it was before the change began (the newest of
``CHECKPOINTS`` copies taken every ``gate`` examples at or before the detector's estimate of where
the change began) is archived, the challenger starts, and the champion itself is frozen while the
challenger is on trial (so a noise burst does not reach it; it learns again when the challenger is
given up). The champion is archived again whenever another member replaces it, so no decision
loses a model, and each can be reversed.

Every batch of ``every`` examples one member (the challenger on trial, or an archived member)
predicts alongside the champion, and the per-example differences (member - champion) of the
signal, and with -1/1 or 0/1 labels of the errors, are kept for that member. A member replaces the
champion when over its last ``GATE_PATIENCE * gate`` scored examples (at least ``gate``) its mean
signal difference is below zero by more than ``GATE_SIGMAS`` standard errors (a paired test:
``mean(d) / (std(d) / sqrt(n))``) and, for classification, its mean error difference by more than
``ERROR_SIGMAS``. Every alarm, and every switch, clears the differences kept, so each decision
rests on evidence gathered after the last change. The turns: when a challenger starts, the members
archived before this alarm predict first, one batch each (a returning concept brings its model back
at once); then the challenger has ``CHALLENGER_TURNS`` batches in every ``CHALLENGER_TURNS + 1``
(it learns only in those) and those archived members take turns in the others (the copy archived
at this alarm has no turn during the trial: the champion is frozen, it is the same model's past); it is given up after
``TRIAL_GATES * gate`` scored examples without a win. With no challenger, the archived members take
every turn.

**Suspected label inversion.** A label stream inverted wholesale (an inverted join, a sign error)
cannot be told from a concept change by the loss alone, but it has a signature: a challenger that
learned it predicts the champion's predictions negated. When the challenger would win and the
rank (Spearman) correlation of its predictions with the (frozen) champion's on the examples of the
judging window is below ``INVERSION_CORRELATION`` (-0.5: orthogonal concepts give about 0, the
inverse concept -1; for jointly Gaussian margins Spearman's is ``(6/pi) asin(r/2)`` of Pearson's r,
so -0.5 is r = -0.52, two linear concepts more than 121 degrees apart), it is not served: an
``"inversion"`` event tells the operator, the champion keeps serving and the trial goes on (past its
limit while the inversion lasts). Only once the challenger has kept winning, anti-correlated, for
``inversion_patience`` examples (default 20,000: twice the 10,000 examples of issue 22's noise burst;
0 turns the guard off) is the inversion taken for a genuine change and the challenger served. The
guard holds for the challenger only: an archived member serving again (labels back from an accepted
inversion) is not held.

>>> inversion_statistic(np.array([1.0, -2.0, 0.5]), np.array([-1.1, 1.9, -0.4]))  # ranks 3 1 2 and 1 3 2
-1.0

>>> d = np.array([-0.2, -0.1, -0.3, -0.2])            # a member 0.2 better on four examples
>>> n, mean, se, t = paired_test(d)
>>> n, round(mean, 3), round(se, 4), round(t, 2)      # se = std(d, ddof=1) / sqrt(4) = 0.0816 / 2
(4, -0.2, 0.0408, -4.9)
"""

from __future__ import annotations

import math
from typing import Any, List, NamedTuple, Optional, Tuple

import numpy as np

from wabbit.monitor.gate import GATE_PATIENCE, GATE_SIGMAS

__all__ = [
    "CHALLENGER_TURNS",
    "CHECKPOINTS",
    "ERROR_SIGMAS",
    "TRIAL_GATES",
    "FROZEN_RATE",
    "INVERSION_CORRELATION",
    "INVERSION_PATIENCE",
    "Member",
    "Pool",
    "Trial",
    "inversion_statistic",
    "paired_test",
]

#: The learning-rate factor of an archived member while it predicts as the core's shadow learner:
#: its updates are far below float resolution, so its weights, and so its predictions, stay as
#: archived (the copy that predicts is thrown away afterwards; the archived member is never touched).
FROZEN_RATE = 1e-30
#: Copies of the champion kept, one taken every ``gate`` examples, so that an alarm archives the
#: champion as it was before the change began (ADWIN's estimate), not after it learned the change.
CHECKPOINTS = 2
#: For classification, a member must also make fewer errors than the champion on the same examples,
#: by this many standard errors: under label noise that flips labels at random (any rate below 1/2)
#: the ranking by error rate is the ranking on clean labels, while the log loss rewards a less
#: confident model (a challenger that learned the noise), so the error test is what keeps a noise
#: burst from replacing a good model.
ERROR_SIGMAS = 2.0
#: With a challenger on trial and archived members, the challenger predicts (and learns) in this
#: many batches out of every one more; the archived members take turns in the others.
CHALLENGER_TURNS = 2
#: A challenger is given up once it has been scored on this many multiples of ``gate`` examples
#: without a win (its test looks at the last ``GATE_PATIENCE * gate`` only, so its first, untrained
#: examples drop out of it).
TRIAL_GATES = 50
#: A winning challenger whose predictions correlate (Spearman, over the judging window) with the
#: champion's below this is held as a suspected label inversion (see the module's docstring).
INVERSION_CORRELATION = -0.5
#: The default span, in examples, for which a suspected inversion must last before it is served:
#: twice a 10,000-example burst (issue 22's), so a labelling bug of that length never serves.
INVERSION_PATIENCE = 20_000


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their mean rank."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]


def inversion_statistic(member: np.ndarray, champion: np.ndarray) -> float:
    """Spearman's rank correlation (the Pearson correlation of the ranks, ties at their mean rank)
    of a member's predictions with the champion's on the same examples: the same for raw margins
    and for probabilities (any increasing link keeps the ranks; mirrored around 0.5 they give -1
    too), and a young challenger's few outlying first predictions move it little (they move
    Pearson's a lot). 0 when either is constant or there are fewer than two."""
    m = np.asarray(member, dtype=np.float64)
    c = np.asarray(champion, dtype=np.float64)
    if len(m) < 2:
        return 0.0
    m, c = _ranks(m), _ranks(c)
    m, c = m - m.mean(), c - c.mean()
    den = math.sqrt(float(m @ m) * float(c @ c))
    return float(m @ c) / den if den > 0 else 0.0


def paired_test(d: np.ndarray) -> Tuple[int, float, float, float]:
    """Count, mean, standard error of the mean and t statistic (mean / se) of paired differences
    ``d`` (member - champion); t is -inf/+inf/0 when every difference is the same."""
    n = len(d)
    if n == 0:
        return 0, 0.0, 0.0, 0.0
    mean = float(np.mean(d))
    se = float(np.std(d, ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    if se > 0:
        return n, mean, se, mean / se
    return n, mean, 0.0, (-math.inf if mean < 0 else math.inf if mean > 0 else 0.0)


class Member:
    """An archived past champion: a frozen model, when it was archived, and its scored differences."""

    def __init__(self, ident: int, model: Any, archived_at: int, why: str, as_of: Optional[int] = None) -> None:
        self.id = ident
        self.model = model  # a wabbit.Model that never learns
        self.archived_at = archived_at
        self.as_of = archived_at if as_of is None else as_of  # the examples it had learned
        self.why = why
        self.diffs: List[np.ndarray] = []

    def __repr__(self) -> str:
        return f"Member(id={self.id}, archived_at={self.archived_at}, why={self.why!r})"


class Trial(NamedTuple):
    started: int  # the batch boundary from which the challenger learns
    alarm: int  # the alarm's example index
    ident: int  # the id the challenger gets if it is promoted
    limit: int  # scored examples after which it is given up


def _recent(parts: List[np.ndarray], keep: int) -> np.ndarray:
    d = np.concatenate(parts, axis=1) if parts else np.zeros((4, 0))
    return d[:, -keep:]


class Pool:
    """The pool's state and decisions; :class:`wabbit.monitor.Monitor` drives it at each batch
    boundary. ``served`` is the id of the model serving (0: the model the monitor was attached to;
    a promoted challenger gets a new id; a restored archived member serves under its own id)."""

    def __init__(self, size: int = 3, gate: int = 1000, inversion_patience: int = INVERSION_PATIENCE) -> None:
        self.size = size
        self.gate = gate
        self.inversion_patience = inversion_patience
        self.inverted_since: Optional[int] = None  # where a held (suspected inverted) challenger's win began
        self.archive: List[Member] = []
        self.trial: Optional[Trial] = None
        self.trial_diffs: List[np.ndarray] = []
        self.trial_scored = 0
        self.served = 0
        self.next_id = 1
        self.last_alarm = -1  # the batch boundary of the latest alarm
        self.slot: Any = None  # who predicts beside the champion in this batch: "challenger", a Member, None
        self.holder: Any = None  # while a member is in the slot: the core holding the challenger's state
        self.rate = 1.0  # the champion's learning-rate factor when it is not frozen
        self.checkpoints: List[Tuple[int, Any]] = []  # (boundary, copy of the champion), oldest first
        self.first: List[Member] = []  # members to score first, one batch each, when a trial starts
        self._turn = 0  # round robin over the archived members
        self._challenger_turns = 0

    # ------------------------------------------------------------------ decisions
    def window(self) -> int:
        return GATE_PATIENCE * self.gate

    def judge(self, parts: List[np.ndarray]) -> Tuple[bool, str]:
        """Whether a member's differences ``parts`` (rows: signal, and for classification the
        error, member - champion) show a win, and the numbers: the mean signal difference over
        the last ``GATE_PATIENCE * gate`` scored examples (at least ``gate``) below zero by more
        than ``GATE_SIGMAS`` standard errors, and for classification no more errors than the
        champion on those examples."""
        d = _recent(parts, self.window())
        n, mean, se, t = paired_test(d[0])
        wins = n >= self.gate and mean < 0 and t < -GATE_SIGMAS
        text = f"mean loss difference {mean:+.4f} over {n} examples ({t:+.1f} standard errors)"
        if len(d[1]) and not np.isnan(d[1][0]):
            _, errors, _, te = paired_test(d[1])
            wins = wins and errors < 0 and te < -ERROR_SIGMAS
            text += f", error rate difference {errors:+.4f} ({te:+.1f} standard errors)"
        return wins, text

    def inverted(self, parts: List[np.ndarray]) -> Tuple[bool, float]:
        """Whether the member's predictions over the judging window (rows 2 and 3 of ``parts``:
        member, champion) look like the champion's inverted (see ``INVERSION_CORRELATION``), and the
        correlation; never with the guard off (``inversion_patience`` 0)."""
        d = _recent(parts, self.window())
        if self.inversion_patience <= 0 or d.shape[0] < 4:
            return False, 0.0
        r = inversion_statistic(d[2], d[3])
        return r < INVERSION_CORRELATION, r

    def probeable(self) -> List[Member]:
        return list(self.archive)

    def add(self, model: Any, at: int, why: str, as_of: Optional[int] = None) -> Member:
        """Archive ``model`` (frozen; it had learned ``as_of`` examples, default ``at``); the oldest
        member leaves when more than ``size`` are kept."""
        member = Member(self.served, model, at, why, as_of)
        self.archive.append(member)
        while len(self.archive) > self.size:
            gone = self.archive.pop(0)
            if self.slot is gone:
                self.slot = None
        return member

    def before(self, cut: int) -> Tuple[int, Any]:
        """The newest checkpoint of the champion taken at or before index ``cut`` (where the change
        began), or the oldest kept, as (boundary, model); (cut, None) when none is kept."""
        for at, model in reversed(self.checkpoints):
            if at <= cut:
                return at, model
        return self.checkpoints[0] if self.checkpoints else (cut, None)

    def start_trial(self, boundary: int, alarm: int, champion_age: int) -> None:
        """A challenger learns from ``boundary``; the members archived before the newest one (a copy
        of the champion from before this change) are scored first, one batch each, newest first:
        a concept that returns brings its model back before the challenger has learned much. It is
        given up after ``TRIAL_GATES * gate`` scored examples, or once it has learned as many
        examples as the (frozen) champion had learned (``champion_age``; at least ``gate``): past
        that, on a stream that did not change, a challenger could win by its larger sample alone."""
        limit = min(TRIAL_GATES * self.gate, max(self.gate, champion_age))
        self.trial = Trial(boundary, alarm, self.next_id, limit)
        self.next_id += 1
        self.trial_diffs, self.trial_scored = [], 0
        self.inverted_since = None
        self.first = list(reversed(self.archive[:-1]))
        self._challenger_turns = 0

    def clear(self) -> None:
        for m in self.archive:
            m.diffs = []

    def next_slot(self) -> Any:
        """Who predicts beside the champion in the next batch: with a challenger on trial it and
        the archived members that may be scored take turns (the challenger learns only in its
        turns); otherwise the archived members take turns; None when there is no one."""
        members = self.probeable()
        if self.trial is not None:
            # the copy archived at this trial's alarm is the frozen champion's own past: no turn
            members = [m for m in members if m.archived_at < self.trial.started]
        while self.first:  # a new trial: the members archived before it predict first, one batch each
            member = self.first.pop(0)
            if member in members:
                return member
        if self.trial is not None and (not members or self._challenger_turns < CHALLENGER_TURNS):
            self._challenger_turns += 1
            return "challenger"
        self._challenger_turns = 0
        if not members:
            return None
        self._turn = (self._turn + 1) % len(members)
        return members[self._turn]

    def memory_bytes(self, bits: int, floats_per_weight: int = 4) -> int:
        """The weight tables the pool can hold for a model of ``bits`` bits (``-b``): the champion,
        the challenger, ``size`` archived members, the copy that predicts and ``CHECKPOINTS`` copies
        of the champion: (size + 3 + CHECKPOINTS) tables of
        2**bits rows of ``floats_per_weight`` float32 (VW's default rule keeps 4)."""
        return (self.size + 3 + CHECKPOINTS) * (2**bits) * floats_per_weight * 4

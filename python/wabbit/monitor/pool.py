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
signal, and with -1/1 or 0/1 labels of the errors, are added to that member's **evidence**. Every
alarm, and every switch, clears the archived members' evidence, so each decision rests on evidence
gathered after the last change (a challenger's evidence starts with it).

**The decision: a test that stays valid however often it is looked at.** The evidence is looked at
after every batch, for as long as a member is kept. A fixed threshold (3 standard errors of a t
statistic, what the pool first used) is a 3-standard-error test for one look only: over the up to
50 looks of a trial, and the unbounded looks at an archived member, the chance that some look
crosses it by luck is many times the nominal level; on tests/test_drift_pool.py's stationary and
noise-burst streams a member no better than the champion replaced it on about 7 streams in 90
each. So a member replaces the champion only when a **confidence sequence** for its mean
difference, an interval that holds at every look at once, lies below zero. With ``S`` the sum of
the ``n`` differences counted and ``s`` their standard deviation, that is ``S < -s * sqrt((n + m) *
(log(1 + n / m) + 2 * log(1 / alpha)))``; in standard errors, the t statistic ``mean / (s /
sqrt(n))`` must be below ``-boundary(n)``, ``boundary(n) = sqrt((1 + m / n) * (log(1 + n / m) + 2 *
log(1 / alpha)))``. Why this holds: for differences with conditional means ``mu_i`` and variance
``s**2``, ``exp(l * (S - sum(mu)) - l**2 * n * s**2 / 2)`` is (for normal-like differences) a
nonnegative supermartingale with mean at most 1 for each ``l``; averaged over ``l`` drawn from a
normal of variance ``1 / (m * s**2)`` it is ``sqrt(m / (n + m)) * exp((S - sum(mu))**2 / (2 * s**2 *
(n + m)))``, still one, and by Ville's inequality it ever exceeds ``1 / alpha`` with probability at
most ``alpha``: ``|S - sum(mu)|`` stays within the boundary at every ``n`` at once with probability
``1 - alpha``. A member no better than the champion on average (``sum(mu) >= 0``) then ever wins
with probability at most ``alpha`` per stretch of evidence, however often it is looked at
(``LOSS_ALPHA``; the error test, which must pass too, at ``ERROR_ALPHA``). The differences' own
standard deviation stands for ``s``: the normal-mixture boundary with a plug-in variance, valid as
the count grows, as the central limit theorem makes the one-look t test valid (the boundary is
two-sided and one side is used, so it is conservative; simulated, tests/test_drift_pool.py, a
mean-zero stream crosses it on 0-0.5% of streams over 50 looks, a fixed 3 standard errors over
the last 5 gates on 4-12%). ``m`` (``MIXTURE_GATES * gate`` examples) is where the boundary is tight: at ``alpha`` 0.01
it is 4.5 standard errors at ``n = m``, 3.6 from ``3 m`` to ``50 m``, growing as ``sqrt(log n)``
after. Alternatives weighed: alpha spending, or a Bonferroni correction, over a trial's looks (at
most ``TRIAL_GATES * gate / every``) bound a trial but not the unbounded looks at archived
members, and over 50 overlapping windows a Bonferroni correction asks 3.5-4 standard errors of the
last 5 gates alone, where the confidence sequence asks about as much of all the evidence since the
last change.

Two refinements keep real changes caught fast. A challenger starts from nothing, so its first
examples are worse than any trained model's; after an abrupt change it wins anyway, at once, but
after a slow one its untrained beginning would hold it back. Its evidence is therefore counted
twice, from its first example scored and from ``LATE_START_GATES * gate`` on (start points fixed in
advance), each sequence at ``alpha / 2`` (a union bound: the level holds for the pair). And a member
must also be better over its last ``GATE_PATIENCE * gate`` examples scored (a negative mean signal
difference, no more errors): evidence that went stale (a challenger that won during a burst of
inverted labels, and no longer does) does not win; requiring more of a win never raises the chance
of a false one. The evidence is a running count, mean and sum of squared deviations per start
and row (constant memory), and the last ``GATE_PATIENCE * gate`` rows as they came (for that check
and the inversion guard).

The turns: when a challenger starts, the members
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

The boundary, in standard errors, at ``alpha`` 0.01 and ``m`` 200 (a gate of 200), against the
fixed 3 of a single look: ``sqrt((1 + 200/200) * (log(2) + 2 log(100)))`` at ``n`` 200:

>>> [round(boundary(n, 0.01, 200), 2) for n in (200, 600, 1000, 10_000)]
[4.45, 3.76, 3.63, 3.66]
>>> ev = Evidence()
>>> ev.add(np.vstack([np.tile([-0.3, 0.1], 100), np.full(200, np.nan)]))  # mean -0.1, sd 0.2
>>> n, mean, se, t = ev.test(0)
>>> n, round(mean, 3), round(t, 2)                    # t = -0.1 / (0.2005 / sqrt(200)): 4.45 needed
(200, -0.1, -7.05)
"""

from __future__ import annotations

import math
from typing import Any, List, NamedTuple, Optional, Tuple

import numpy as np

from wabbit.monitor.gate import GATE_PATIENCE

__all__ = [
    "CHALLENGER_TURNS",
    "CHECKPOINTS",
    "ERROR_ALPHA",
    "LOSS_ALPHA",
    "MIXTURE_GATES",
    "TRIAL_GATES",
    "FROZEN_RATE",
    "INVERSION_CORRELATION",
    "INVERSION_PATIENCE",
    "LATE_START_GATES",
    "Evidence",
    "Member",
    "Pool",
    "Trial",
    "boundary",
    "inversion_statistic",
    "paired_test",
]

#: A challenger's evidence is counted twice: from its first example scored (it can win at once when
#: the champion is badly wrong: an abrupt change) and from this many multiples of ``gate`` on (when
#: its untrained beginning, a learning curve, is past: a slow change), each confidence sequence at
#: half the level (a union bound over the two; see the module's docstring).
LATE_START_GATES = GATE_PATIENCE
#: The learning-rate factor of an archived member while it predicts as the core's shadow learner:
#: its updates are far below float resolution, so its weights, and so its predictions, stay as
#: archived (the copy that predicts is thrown away afterwards; the archived member is never touched).
FROZEN_RATE = 1e-30
#: Copies of the champion kept, one taken every ``gate`` examples, so that an alarm archives the
#: champion as it was before the change began (ADWIN's estimate), not after it learned the change.
CHECKPOINTS = 2
#: The chance, per member and per stretch of evidence (from an alarm or a switch to the next), that
#: a member no better than the champion on average ever passes the signal's test, however often it
#: is looked at (the confidence sequence's level; see the module's docstring).
LOSS_ALPHA = 0.01
#: For classification, a member must also make fewer errors than the champion on the same examples,
#: by the same kind of test at this level: under label noise that flips labels at random (any rate
#: below 1/2) the ranking by error rate is the ranking on clean labels, while the log loss rewards a
#: less confident model (a challenger that learned the noise), so the error test is what keeps a
#: noise burst from replacing a good model.
ERROR_ALPHA = 0.01
#: Where the confidence sequence's boundary is tightest, in multiples of ``gate`` (the ``m`` of the
#: module's docstring: the normal mixture's variance is ``1 / (m * s**2)``).
MIXTURE_GATES = 1.0
#: With a challenger on trial and archived members, the challenger predicts (and learns) in this
#: many batches out of every one more; the archived members take turns in the others.
CHALLENGER_TURNS = 2
#: A challenger is given up once it has been scored on this many multiples of ``gate`` examples
#: without a win (its first ``gate`` scored examples, untrained, are not counted in its evidence).
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


def boundary(n: int, alpha: float, m: float) -> float:
    """How many standard errors below zero the mean of ``n`` paired differences must be for the
    confidence sequence of level ``alpha`` tuned at ``m`` examples to exclude zero:
    ``sqrt((1 + m / n) * (log(1 + n / m) + 2 * log(1 / alpha)))`` (see the module's docstring);
    inf when ``n`` is 0."""
    if n <= 0:
        return math.inf
    return math.sqrt((1.0 + m / n) * (math.log1p(n / m) + 2.0 * math.log(1.0 / alpha)))


class Evidence:
    """A member's paired differences since they were last cleared, counted from each of ``starts``
    (examples scored before counting begins; one confidence sequence each): per start and row (0: the
    signal, 1: the errors, NaN when the labels are not -1/1 or 0/1) the count, mean and sum of
    squared deviations of the values counted, merged batch by batch. The last ``window`` examples'
    rows are kept as they came (rows 2 and 3, the member's and the champion's predictions, are the
    inversion guard's)."""

    def __init__(self, starts: Tuple[int, ...] = (0,), window: int = 0) -> None:
        self.starts = tuple(starts)
        self.window = window
        self.scored = 0
        self.stats = np.zeros((len(self.starts), 2, 3))  # per start and row: count, mean, squared deviations
        self.recent: List[np.ndarray] = []

    @property
    def n(self) -> int:
        """The signal differences counted from the first start."""
        return int(self.stats[0, 0, 0])

    def add(self, diffs: np.ndarray) -> None:
        """Count a batch's differences (rows as in :class:`Evidence`; 2 to 4 rows, one column an example)."""
        k = diffs.shape[1]
        for i, start in enumerate(self.starts):
            counted = diffs[:, min(k, max(0, start - self.scored)) :]
            for row in range(min(2, counted.shape[0])):
                x = counted[row][np.isfinite(counted[row])]
                if len(x) == 0:
                    continue
                n, mean, m2 = self.stats[i, row]
                nb, mb = len(x), float(np.mean(x))
                m2b = float(np.sum((x - mb) ** 2))
                total = n + nb
                delta = mb - mean
                self.stats[i, row] = (total, mean + delta * nb / total, m2 + m2b + delta * delta * n * nb / total)
        self.scored += k
        if self.window > 0:
            self.recent.append(diffs)
            while self.recent[0].shape[1] <= sum(d.shape[1] for d in self.recent) - self.window:
                self.recent.pop(0)

    def test(self, row: int, start: int = 0) -> Tuple[int, float, float, float]:
        """Count, mean, standard error of the mean and t statistic (mean / se) of a row's differences
        counted from ``starts[start]``, as :func:`paired_test` gives them for the values themselves."""
        n, mean, m2 = self.stats[start, row]
        if n == 0:
            return 0, 0.0, 0.0, 0.0
        se = math.sqrt(m2 / (n - 1) / n) if n > 1 else 0.0
        if se > 0:
            return int(n), float(mean), se, float(mean) / se
        return int(n), float(mean), 0.0, (-math.inf if mean < 0 else math.inf if mean > 0 else 0.0)

    def last(self) -> np.ndarray:
        """The rows of the last ``window`` examples scored (4 x up to ``window``)."""
        return _recent(self.recent, self.window)


class Member:
    """An archived past champion: a frozen model, when it was archived, and its evidence."""

    def __init__(
        self, ident: int, model: Any, archived_at: int, why: str, as_of: Optional[int] = None, window: int = 0
    ) -> None:
        self.id = ident
        self.model = model  # a wabbit.Model that never learns
        self.archived_at = archived_at
        self.as_of = archived_at if as_of is None else as_of  # the examples it had learned
        self.why = why
        self.evidence = Evidence(window=window)

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
        self.trial_evidence = Evidence()
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

    @property
    def trial_scored(self) -> int:
        """The examples the challenger on trial has been scored on."""
        return self.trial_evidence.scored

    def record(self, slot: Any, diffs: np.ndarray) -> None:
        """Add the differences of the batch to the evidence of who predicted beside the champion
        (``slot``: "challenger" or a Member)."""
        if slot == "challenger" and self.trial is not None:
            self.trial_evidence.add(diffs)
        elif isinstance(slot, Member):
            slot.evidence.add(diffs)

    def judge(self, evidence: Evidence) -> Tuple[bool, str]:
        """Whether a member's ``evidence`` shows a win, and the numbers: counted from one of its
        starts (``len(starts)`` confidence sequences, each at ``1 / len(starts)`` of the level: a
        union bound), at least ``gate`` differences, their mean signal difference below zero by
        more than ``boundary(n, LOSS_ALPHA / len(starts), MIXTURE_GATES * gate)`` standard errors
        and, when the error row was counted (-1/1 or 0/1 labels), the mean error difference below
        zero by more than the boundary at ``ERROR_ALPHA / len(starts)``; and over the last
        ``GATE_PATIENCE * gate`` examples scored, a negative mean signal difference and no more
        errors (evidence that went stale does not win)."""
        m = MIXTURE_GATES * self.gate
        k = len(evidence.starts)
        last = evidence.last()
        recent = float(np.mean(last[0])) if last.shape[1] else 0.0
        has_errors = last.shape[1] > 0 and bool(np.isfinite(last[1]).any())
        recent_errors = float(np.nanmean(last[1])) if has_errors else 0.0
        fresh = recent < 0 and recent_errors <= 0
        texts = []
        wins = False
        for i, start in enumerate(evidence.starts):
            n, mean, _, t = evidence.test(0, i)
            if i and not n:
                continue
            c = boundary(n, LOSS_ALPHA / k, m)
            won = n >= self.gate and mean < 0 and t < -c
            text = (
                f"mean loss difference {mean:+.4f} over {n} examples ({t:+.1f} standard errors, needs below {-c:.1f})"
            )
            ne, errors, _, te = evidence.test(1, i)
            if ne:
                ce = boundary(ne, ERROR_ALPHA / k, m)
                won = won and errors < 0 and te < -ce
                text += f", error rate difference {errors:+.4f} ({te:+.1f} standard errors, needs below {-ce:.1f})"
            if start:
                text = f"from example {start + 1} scored: " + text
            texts.append(text)
            wins = wins or won
        text = "; ".join(texts) + f"; over the last {last.shape[1]}: {recent:+.4f}"
        if has_errors:
            text += f", error rate {recent_errors:+.4f}"
        return wins and fresh, text

    def inverted(self, evidence: Evidence) -> Tuple[bool, float]:
        """Whether the member's predictions over the last ``GATE_PATIENCE * gate`` examples scored
        (rows 2 and 3 of ``evidence.last()``: member, champion) look like the champion's inverted
        (see ``INVERSION_CORRELATION``), and the correlation; never with the guard off
        (``inversion_patience`` 0)."""
        d = evidence.last()
        if self.inversion_patience <= 0 or d.shape[0] < 4:
            return False, 0.0
        r = inversion_statistic(d[2], d[3])
        return r < INVERSION_CORRELATION, r

    def probeable(self) -> List[Member]:
        return list(self.archive)

    def add(self, model: Any, at: int, why: str, as_of: Optional[int] = None) -> Member:
        """Archive ``model`` (frozen; it had learned ``as_of`` examples, default ``at``); the oldest
        member leaves when more than ``size`` are kept."""
        member = Member(self.served, model, at, why, as_of, self.window())
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
        self.trial_evidence = Evidence(starts=(0, LATE_START_GATES * self.gate), window=self.window())
        self.inverted_since = None
        self.first = list(reversed(self.archive[:-1]))
        self._challenger_turns = 0

    def clear(self) -> None:
        for m in self.archive:
            m.evidence = Evidence(window=self.window())

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

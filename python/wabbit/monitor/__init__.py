"""Monitoring a model while it learns: a drift detector fed from the learning loop, and a response.

:meth:`wabbit.Model.monitor` attaches a :class:`Monitor`. While the model learns (``learn_many``,
``learn``, the ``wabbit`` command), the compiled core keeps each labelled example's label,
reported prediction and loss per unit of importance weight; every ``every`` examples the learning
loop hands them over in one batch, the monitor turns them into the watched **signal** and feeds
the detector with one ``update_many`` call (no Python call per example). Alarms, and warnings of
detectors with a warning zone, are recorded as :class:`DriftEvent` records with the index of the
example that raised them, and the **response** is applied at the batch boundary (so it takes
effect up to ``every`` examples after the alarm; the index recorded is the alarm's own).

Signals (``signal=``):

* ``"loss"``: the progressive loss of each example (what VW's "average loss" averages);
* ``"error"``: 1 for a misclassified example, 0 otherwise: with -1/1 labels the prediction's sign
  against the label's (a prediction of exactly 0 counts as negative); with 0/1 labels the
  prediction thresholded at 0.5. The label scheme is fixed by the first label that is negative
  (-1/1) or zero (0/1); until one is seen, the -1/1 rule is used;
* a callable ``f(label, prediction, loss) -> values``, called once per batch with three float32
  numpy arrays, returning one value per example.

Responses (``on_drift=``):

* ``"alert"``: record and log only (``logging`` logger ``wabbit.monitor``, level WARNING for
  alarms and switches; or ``log=``), and call ``callback`` if given;
* ``"reset"``: forget the weights and the online state (the configuration stays);
* ``"boost"``: multiply the learning rate (FTRL: alpha) by ``boost_factor`` for the next
  ``boost_examples`` examples, then restore it (another alarm meanwhile extends the period);
* ``"switch"``: promote a challenger, a second model with the same options that learns every
  example alongside the champion (the core's shadow learner) and is restarted when it is needed.
  With a detector that has a warning zone (DDM, EDDM, HDDMA, HDDMW) the challenger starts at the
  first batch boundary after a warning and is promoted at the alarm; it is dropped once ``every``
  examples pass without a warning. Otherwise (ADWIN, PageHinkley, KSWIN, or an alarm without a
  challenger learning since a warning) it starts at the boundary after the alarm and is promoted
  through the **gate**, which asks whether the rise the detector saw persisted: at each boundary
  once the challenger has learned ``gate`` examples, the champion's mean signal since the
  challenger started is compared with its mean over the ``5 * gate`` examples before the change
  (before ADWIN's cut point, KSWIN's newest sample, or the alarm for the other detectors; never
  reaching back before the model last changed); the challenger is promoted when the rise exceeds
  three standard errors (``sqrt(var_before / n_before + var_since / n_since)``), and dropped if
  that has not happened after ``5 * gate`` examples. The gate judges the champion, not the
  challenger: the core does not report the challenger's own losses. After a switch the detector
  starts afresh (it watches a new model). The challenger learns every example of a monitored run,
  so learning costs about twice as much;
* ``"pool"`` (:mod:`wabbit.monitor.pool`; opt-in: the other responses and VW's numbers are
  unchanged): a small pool of models that tells a change from noise. The champion (the model
  itself) serves; at an alarm where the signal rose, the champion as it was before the change
  began (the newest of two checkpoints, copies taken every ``gate`` examples, at or before ADWIN's
  cut, or the alarm) is archived, a challenger starts from scratch as the shadow learner, and the
  champion is frozen (it predicts, it does not learn) while the challenger is on trial. Up to
  ``pool_size`` (default 3) archived past champions are kept, frozen; the oldest leaves first.
  Each batch one member predicts beside the champion: when a trial starts, the members archived
  before it, one batch each; then, if there are such members, the challenger two batches in
  three (it learns only in those) and they take turns in the third, else the challenger every
  batch; with no trial, the archived members in turns. The
  evidence is looked at after every batch, so the decision is a test that stays valid under
  continuous monitoring: a member replaces the champion when a confidence sequence (a normal-mixture
  boundary with the variance estimated from the differences; it holds at every look at once) for its
  mean signal difference with the champion on the same examples, since the last alarm or switch
  (at least ``gate`` of them), lies below zero, and, with -1/1 or 0/1 labels, the one for its mean
  error difference too (labels flipped at random keep the error ranking of the clean labels, while
  the log loss rewards a model that learned the noise); it must also be better over its last
  ``5 * gate`` examples (stale evidence does not win). So a member no better than the champion
  replaces it with probability at most 1% per stretch of evidence however often it is looked at,
  where a fixed 3 standard errors at every look switched on about 7 streams in 90 of
  tests/test_drift_pool.py's stationary and noise-burst streams (the boundary is 4.5 standard errors at ``gate`` examples, 3.6 from 3 to 50 gates, growing as
  ``sqrt(log n)``). A challenger's evidence is counted from its first example (an abrupt change
  is caught at once) and from ``5 * gate`` on (past its learning curve), each at half the level.
  The replaced champion is archived, so no decision loses
  a model, and each can be reversed. A challenger is given up after ``50 * gate`` scored examples,
  or once it has learned as many examples as the frozen champion had (past that it could win on
  a stream that did not change by its larger sample alone); the champion then learns again. Every
  alarm and switch clears the archived members' evidence; the detector starts afresh after a switch. So
  after a noise burst the champion, frozen through the trial or restored from its checkpoint,
  serves again; a concept that returns brings its archived model back a batch after the alarm; a
  covariate shift alone or a stationary stream leaves the champion serving (alarms may fire,
  nothing beats it). A challenger that would win while its predictions are the frozen champion's
  inverted (rank correlation below -0.5 over the judging window: the labels look inverted, as an
  inverted join or a sign error does) is held: an ``"inversion"`` event ("labels look inverted
  since example N: kept the champion"), the champion serves, the trial goes on, and the challenger
  serves only once that has lasted ``inversion_patience`` examples (default 20,000; 0: off). Cost: the shadow learner learns, or a frozen member's copy predicts, every
  example (about twice the learning work, as with ``"switch"``), plus a copy of the weight table
  every ``gate`` examples (a checkpoint) and one for each batch an archived member predicts in.
  Memory: ``pool_size + 5`` weight tables (champion, challenger, archived members, two
  checkpoints, the predicting copy) of ``2**b`` rows of 4 float32 with VW's default update rule:
  8 x 4 MiB = 32 MiB at the default ``-b 18`` with ``pool_size=3`` (``Pool.memory_bytes``). Decisions
  come at batch boundaries and a member needs ``gate`` scored examples, so ``every=200, gate=200``
  (what ``bench/_quality_drift.py`` runs) reacts within a few hundred examples; with the defaults a
  restore takes at least one batch of 1000 examples after the alarm's boundary. On the command
  line: ``--drift_response pool`` (``--drift_pool_size``; ``--drift_gate`` is ``gate``). After a
  slow change (a gradual rotation) the pool is a little worse than ``switch`` (bench/RESULTS.md:
  0.8% on average over 5 stream seeds, 0 to 1.4%, on the 30,000 examples from the change): it
  serves the champion frozen through the trial, while switch's champion goes on learning the
  turning concept, and the valid test asks the challenger a few hundred examples more evidence
  than a fixed 3-standard-error look did;
* a callable ``f(model, event)``: called at the batch boundary for each alarm; it can do anything
  to the model (``model.core`` offers ``reset_learner()``, ``set_rate_factor()`` and ``swap_learner()``).

``reset``, ``boost`` and ``switch`` act only on alarms where the signal rose (a model that got
worse). The direction is ADWIN's own (the mean of the part of its window it kept against the part
it dropped); DDM and EDDM, and HDDMA/HDDMW without ``two_sided_test``, detect rises only; a
PageHinkley with ``mode="up"`` rises, ``"down"`` falls. For the others (PageHinkley with
``mode="both"``, KSWIN, two-sided HDDM, detectors of your own) the direction is unknown and every
alarm is acted on. An alarm where the signal fell is recorded with the response ``"none"``.

Indices: ``DriftEvent.index`` counts the labelled examples the monitor has seen since it was
attached, from 0 (unlabelled examples carry no loss and are not counted); in a stream where every
example has a label it is the example's index, and the messages name ``example index + 1``, VW's
1-based counter. Single :meth:`wabbit.Model.learn` calls are monitored too: their signals are
buffered and handed over every ``every`` calls, exactly as ``learn_many`` does every ``every``
examples, so the same lines learned one by one or in one batch give the same events and the same
model. ``predict``/``predict_many`` are not monitored. A monitor is not saved in the model file
nor carried by :meth:`~wabbit.Model.copy` and snapshots (which copy what was learned); pickling
and ``copy.deepcopy`` keep it, in its current state, so the copy raises the same alarms on the
same stream (pickling refuses with TypeError when one of its callables cannot be pickled).

>>> import wabbit
>>> from wabbit.drift import ADWIN
>>> from wabbit.synth import click_log
>>> model = wabbit.Model("--loss_function logistic -q ua")
>>> mon = model.monitor(ADWIN(), signal="loss", on_drift="switch", log=print)
>>> _ = model.learn_many(click_log(40_000, seed=1, drift_at=20_000))
drift detected at example 20416 (ADWIN): challenger started at example 21001
switched to challenger at example 22001 (ADWIN alarm at example 20416): mean loss 0.3481 before the alarm, 0.5047 since (+5.7 standard errors)
>>> [(e.kind, e.index, e.response) for e in model.drift_events]
[('drift', 20415, 'challenger'), ('switch', 22000, 'switch')]
"""

from __future__ import annotations

from wabbit.monitor.events import RESPONSES, DriftEvent
from wabbit.monitor.gate import GATE_PATIENCE as GATE_PATIENCE
from wabbit.monitor.gate import GATE_SIGMAS as GATE_SIGMAS
from wabbit.monitor.gate import HISTORY_GATES as HISTORY_GATES
from wabbit.monitor.monitor import Monitor
from wabbit.monitor.monitor import logger as logger
from wabbit.monitor.pool import Pool, paired_test
from wabbit.monitor.signals import SIGNALS, error_signal

__all__ = ["DriftEvent", "Monitor", "Pool", "error_signal", "paired_test", "RESPONSES", "SIGNALS"]

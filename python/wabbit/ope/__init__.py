"""Off-policy evaluation: what a target policy would have cost on logged contextual-bandit data.

A log records, for each event, the action the logging policy took, the **cost** it observed (VW's
convention: lower is better; a reward r is the cost -r) and the probability with which that
action was chosen. From it these estimators tell the expected cost per event that a different
(target) policy would have had, without deploying it:

* ``ips``: inverse propensity scoring, mean of ``w_i c_i`` with ``w_i = pi(a_i|x_i) / p_i``;
  unbiased, high variance when the weights are large.
* ``snips``: self-normalised IPS, ``sum(w c) / sum(w)``; slightly biased, often far less variance.
* ``dm``: the direct method, mean of ``sum_a pi(a|x_i) chat(x_i, a)``: only as good as the cost
  model ``chat``.
* ``dr``: doubly robust, ``dm`` plus the IPS-weighted residual of the logged action,
  ``sum_a pi(a|x_i) chat(x_i,a) + w_i (c_i - chat(x_i, a_i))``: unbiased like IPS whatever the
  cost model (if ``chat`` for event i does not depend on event i's cost), with less variance
  the better the cost model.

Every estimate comes with a two-sided ``1 - alpha`` confidence interval. The default,
``interval="normal"``, is the central-limit interval on the per-event terms (for SNIPS, on its
linearisation ``w_i (c_i - V) / mean(w)``, the delta method): cheap, needs no bound on costs or
weights, and covers at close to the nominal rate once the effective sample size is in the
hundreds. ``interval="bootstrap"`` is a percentile bootstrap over events (seeded, ``resamples``
draws): more honest for small or skewed logs, and it resamples SNIPS's ratio itself, at the cost
of ``resamples`` passes over the data.

The effective sample size is Kish's ``(sum w)^2 / sum w^2``: how many events the weighted
estimate is worth; far below ``n`` means the target strays from what the logger did.

By hand: two actions, three events.

>>> from wabbit import ope
>>> actions = [0, 1, 0]
>>> costs = [1.0, 0.0, 0.5]
>>> probabilities = [0.5, 0.5, 0.25]
>>> target = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]    # pi(.|x_i) per event
>>> # weights w = 1/0.5, 1/0.5, 0.5/0.25 = 2, 2, 2; w*c = 2, 0, 1; IPS = 3/3 = 1
>>> est = ope.ips(actions, costs, probabilities, target)
>>> est.value, est.n, est.ess
(1.0, 3, 3.0)
>>> ope.snips(actions, costs, probabilities, target).value     # (2 + 0 + 1) / (2 + 2 + 2)
0.5
>>> chat = [[0.8, 0.2], [0.6, 0.1], [0.4, 0.4]]
>>> # DM terms: 0.8, 0.1, 0.4; residual terms: 2 (1 - 0.8), 2 (0 - 0.1), 2 (0.5 - 0.4)
>>> round(ope.dr(actions, costs, probabilities, target, chat).value, 12)   # (1.2 + -0.1 + 0.6) / 3
0.566666666667
>>> est
Estimate(ips: 1 [..., ...] 95% normal, n=3, ess=3)

From a VW ADF log (plain or gzip) and a target (a Model, or a function event -> pmf):
``ope.evaluate_log("log.dat", model)`` returns a :class:`Report` with every estimator and the
logging policy's own average cost; ``wabbit ope -d log.dat -i model.bin`` prints it.
"""

from __future__ import annotations

from wabbit.ope.cost_model import OnlineCostModel
from wabbit.ope.estimators import ESTIMATORS, dm, dr, estimate, ips, observed, snips
from wabbit.ope.estimators import PerAction as PerAction
from wabbit.ope.evaluation import evaluate_log
from wabbit.ope.intervals import INTERVALS
from wabbit.ope.log import LoggedEvent, read_adf_log
from wabbit.ope.policy import Policy as Policy
from wabbit.ope.policy import greedy
from wabbit.ope.report import Report
from wabbit.ope.result import Estimate

__all__ = [
    "Estimate",
    "LoggedEvent",
    "OnlineCostModel",
    "Report",
    "dm",
    "dr",
    "estimate",
    "evaluate_log",
    "greedy",
    "ips",
    "observed",
    "read_adf_log",
    "snips",
    "ESTIMATORS",
    "INTERVALS",
]

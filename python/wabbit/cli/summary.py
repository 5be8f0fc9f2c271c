"""What the ``wabbit`` command prints around a run, as VW prints it: the settings before the data
(the header) and the closing block (counts, average loss, best constant).

>>> fmt(0.5), fmt(10.0), fmt(1e-07)
('0.5', '10', '1e-07')
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

if TYPE_CHECKING:
    from wabbit.model import Model
    from wabbit.options import Options

__all__ = ["header", "bandit_header", "summary", "best_constant", "fmt"]


def fmt(v: float) -> str:
    """A setting's number as VW prints it (``%g``)."""
    return f"{v:g}"


def header(model: Model, opts: Options) -> List[str]:
    """The learner's settings, printed before the data: interactions, outputs, update rule."""
    lines: List[str] = []
    mo = model.options
    if mo.quadratic:
        lines.append("creating quadratic features for pairs: " + " ".join(mo.quadratic))
    if mo.cubic:
        lines.append("creating cubic features for triples: " + " ".join(mo.cubic))
    if mo.interactions:
        lines.append("creating features for following interactions: " + " ".join(mo.interactions))
    if opts.final_regressor:
        lines.append(f"final_regressor = {opts.final_regressor}")
    if opts.testonly:
        lines.append("only testing")
    if opts.predictions:
        lines.append(f"predictions = {opts.predictions}")
    lines.append(f"Num weight bits = {model.bits}")
    lines.append(f"learning rate = {fmt(model.core.effective_learning_rate())}")
    lines.append(f"initial_t = {fmt(model.core.state()['t'])}")
    cfg = mo.core_config()
    lines.append(f"power_t = {fmt(cfg['power_t'])}")
    if (opts.passes or 1) > 1:  # VW prints it for several passes only
        decay = 1.0 if opts.decay_learning_rate is None else opts.decay_learning_rate
        lines.append(f"decay_learning_rate = {fmt(decay)}")
    if cfg["l1"] > 0 and not cfg["ftrl"]:
        lines.append(f"using l1 regularization = {fmt(cfg['l1'])}")
    if cfg["l2"] > 0 and not cfg["ftrl"]:
        lines.append(f"using l2 regularization = {fmt(cfg['l2'])}")
    if cfg["ftrl"] or cfg["coin"]:
        lines.append("Enabling FTRL based optimization")
        lines.append("Algorithm used: " + ("Coin Betting" if cfg["coin"] else "Proximal-FTRL"))
        lines.append(f"ftrl_alpha = {fmt(cfg['ftrl_alpha'])}")
        lines.append(f"ftrl_beta = {fmt(cfg['ftrl_beta'])}")
    if cfg["freegrad"]:
        lines.append("Enabling FreeGrad based optimization")
        lines.append("Algorithm used: FreeGrad")
    return lines


def bandit_header(cb: Dict[str, Any]) -> List[str]:
    """A contextual bandit's settings (``cb`` as :meth:`Options.cb_config` gives them)."""
    lines = [f"cb_type = {cb['cb_type']}"]
    if cb["explore"] != "none":
        lines.append(f"exploration = {cb['explore']}")
    return lines


# FLT_MAX, and half of it: VW's holdout losses before any pass and of a pass without a holdout
_NO_HOLDOUT = (3.4028234663852886e38, 1.7014117331926443e38)


def summary(model: Model, bad_lines: int = 0, multipass: bool = False) -> str:
    """VW's closing block: counts, weighted sums, average loss (the best pass's holdout loss,
    marked h, when examples were held out), best constant, features."""
    s = model.stats
    w = s["weighted_labeled_examples"]
    passes = s["current_pass"]
    lines = ["", "finished run"]
    if multipass and passes > 1:
        lines.append(f"number of examples per pass = {s['example_number'] // passes}")
        lines.append(f"passes used = {passes}")
    else:
        lines.append(f"number of examples = {s['example_number']}")
    lines.append(f"weighted example sum = {s['weighted_examples']:.6f}")
    lines.append(f"weighted label sum = {s['weighted_labels']:.6f}")
    if s["holdout_on"]:
        best_loss = s["holdout_best_loss"]
        lines.append(
            "average loss = " + ("undefined (no holdout)" if best_loss in _NO_HOLDOUT else f"{best_loss:.6f} h")
        )
    else:
        lines.append("average loss = " + (f"{s['sum_loss'] / w:.6f}" if w > 0 else "n.a."))
    if model.options.probabilities and model.core.is_mc() and w > 0:  # --oaa K --probabilities
        lines.append(f"average multiclass log loss = {model.core.mc_state()['log_loss'] / w:.6f}")
    best = best_constant(model)
    if best is not None:
        lines.append(f"best constant = {best[0]:.6f}")
        if best[1] is not None:
            lines.append(f"best constant's loss = {best[1]:.6f}")
    lines.append(f"total feature number = {s['total_features']}")
    if bad_lines:
        what = "events" if model.is_bandit else "lines"
        lines.append(f"malformed {what} skipped = {bad_lines}")
    return "\n".join(lines) + "\n"


def best_constant(model: Model) -> "Optional[tuple[float, Optional[float]]]":
    """VW's best constant prediction and its loss, from the labels seen (None when undefined)."""
    s = model.stats
    first, second = s["first_observed_label"], s["second_observed_label"]
    if first is None:
        return None
    l1, l2 = first, (0.0 if second is None else second)
    if l1 > l2:
        l1, l2 = l2, l1
    if l1 == l2:
        return None
    n = s["weighted_labeled_examples"]
    c1 = (s["weighted_labels"] - l2 * n) / (l1 - l2)
    c2 = n - c1
    if c1 + c2 <= 0:
        return None
    cfg = model.options.core_config()
    kind = cfg["loss"]
    loss: Callable[[float, float], float]
    if kind in ("squared", "classic"):
        best = s["weighted_labels"] / n

        def loss(p: float, y: float) -> float:
            return (p - y) ** 2

    elif s["more_than_two_labels"]:
        return None  # VW has no general formula for the other losses
    elif kind == "hinge":
        best = -1.0 if c2 <= c1 else 1.0

        def loss(p: float, y: float) -> float:
            return max(0.0, 1.0 - y * p)

    elif kind == "logistic":
        l1, l2 = -1.0, 1.0
        best = 1.0 if c1 <= 0 else -1.0 if c2 <= 0 else math.log(c2 / c1)

        def loss(p: float, y: float) -> float:
            return math.log1p(math.exp(-y * p))

    elif kind == "quantile":
        tau = cfg["quantile_tau"]
        best = l2 if tau * (c1 + c2) < c2 else l1

        def loss(p: float, y: float) -> float:
            e = y - p
            return tau * e if e > 0 else -(1.0 - tau) * e

    else:
        return None
    if s["more_than_two_labels"]:
        return best, None
    total = (loss(best, l1) * c1 if c1 > 0 else 0.0) + (loss(best, l2) * c2 if c2 > 0 else 0.0)
    return best, total / (c1 + c2)

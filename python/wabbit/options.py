"""The one flag parser: Vowpal Wabbit-style options to a typed configuration.

The same :class:`Options` feeds the ``wabbit`` command, ``wabbit.Model(...)`` and the model file
header (which stores the model-defining flags as text, re-parsed here on load).

>>> o = parse_args("--loss_function logistic -q ua -b 24")
>>> (o.loss_function, o.quadratic, o.bits)
('logistic', ['ua'], 24)
>>> o.core_config()["learning_rate"]
0.5
>>> parse_args("--sgd").core_config()["learning_rate"]    # VW: non-default rules default to 10
10.0
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

__all__ = ["Options", "OptionError", "parse_args", "FLAGS"]


class OptionError(ValueError):
    """A flag is unknown, lacks its value, or has a value of the wrong kind."""


@dataclass(frozen=True)
class Flag:
    dest: str
    names: tuple  # e.g. ("-b", "--bit_precision")
    kind: str  # "bool", "int", "float", "str", "list"
    help: str
    model: bool = False  # defines the model: stored in the model file
    structural: bool = False  # cannot change when continuing from a saved model


FLAGS: List[Flag] = [
    # --- model-defining ---------------------------------------------------------------
    Flag("bits", ("-b", "--bit_precision"), "int", "number of bits in the feature table (default 18)", True, True),
    Flag(
        "loss_function",
        ("--loss_function",),
        "str",
        "squared (default), logistic, hinge, quantile, poisson or classic",
        True,
        True,
    ),
    Flag("quantile_tau", ("--quantile_tau",), "float", "tau of the quantile loss (default 0.5)", True, True),
    Flag("link", ("--link",), "str", "what is predicted: identity (default), logistic, poisson or glf1", True),
    Flag("binary", ("--binary",), "bool", "predict the sign (-1/1) and report 0/1 loss", True),
    Flag("logistic_min", ("--logistic_min",), "float", "smallest label of the logistic loss (default -1)", True, True),
    Flag("logistic_max", ("--logistic_max",), "float", "largest label of the logistic loss (default 1)", True, True),
    Flag(
        "learning_rate",
        ("-l", "--learning_rate"),
        "float",
        "learning rate (default 0.5; 10 for non-default rules)",
        True,
    ),
    Flag("power_t", ("--power_t",), "float", "t power for the learning rate decay (default 0.5)", True),
    Flag("initial_t", ("--initial_t",), "float", "initial t value", True),
    Flag("sgd", ("--sgd",), "bool", "plain stochastic gradient descent", True, True),
    Flag("adaptive", ("--adaptive",), "bool", "adaptive, per-feature learning rates", True, True),
    Flag("normalized", ("--normalized",), "bool", "per-feature normalized updates", True, True),
    Flag("invariant", ("--invariant",), "bool", "importance-invariant (safe) updates", True, True),
    Flag("l1", ("--l1",), "float", "L1 regularization (SGD: truncated gradient; FTRL: proximal)", True),
    Flag("l2", ("--l2",), "float", "L2 regularization", True),
    Flag("ftrl", ("--ftrl",), "bool", "FTRL-Proximal instead of gradient descent", True, True),
    Flag("ftrl_alpha", ("--ftrl_alpha",), "float", "FTRL learning rate alpha (default 0.5)", True),
    Flag("ftrl_beta", ("--ftrl_beta",), "float", "FTRL beta (default 1)", True),
    Flag("perceptron", ("--perceptron",), "bool", "the perceptron rule (labels -1/1; river's Perceptron)", True, True),
    Flag("pa", ("--pa",), "bool", "passive-aggressive classifier (labels -1/1; river's PAClassifier)", True, True),
    Flag("pa_regressor", ("--pa_regressor",), "bool", "passive-aggressive regressor (river's PARegressor)", True, True),
    Flag("pa_c", ("--pa_c",), "float", "passive-aggressive aggressiveness C (default 1)", True),
    Flag("pa_variant", ("--pa_variant",), "int", "passive-aggressive variant: 0 PA, 1 PA-I (default), 2 PA-II", True),
    Flag("pa_eps", ("--pa_eps",), "float", "passive-aggressive regressor: insensitive zone width (default 0.1)", True),
    Flag("noconstant", ("--noconstant",), "bool", "do not add the constant feature", True, True),
    Flag("ignore", ("--ignore",), "list", "drop namespaces starting with these letters", True, True),
    Flag("ignore_linear", ("--ignore_linear",), "list", "use these namespaces only inside interactions", True, True),
    Flag("keep", ("--keep",), "list", "keep only namespaces starting with these letters", True, True),
    Flag(
        "quadratic",
        ("-q", "--quadratic"),
        "list",
        "quadratic interaction between two namespaces (e.g. -q ua)",
        True,
        True,
    ),
    Flag("cubic", ("--cubic",), "list", "cubic interaction between three namespaces", True, True),
    Flag("interactions", ("--interactions",), "list", "interaction of any order (e.g. --interactions abc)", True, True),
    Flag("min_prediction", ("--min_prediction",), "float", "smallest prediction to output", True),
    # --- contextual bandits (model-defining) ---------------------------------------------
    Flag(
        "cb",
        ("--cb",),
        "int",
        "contextual bandit with K fixed actions: single-line examples labelled action:cost:probability",
        True,
        True,
    ),
    Flag(
        "cb_adf",
        ("--cb_adf",),
        "bool",
        "contextual bandit with action-dependent features: multiline events (shared line, one line per action, blank line)",
        True,
        True,
    ),
    Flag(
        "cb_explore",
        ("--cb_explore",),
        "int",
        "like --cb K, predicting a probability for each action (exploration)",
        True,
        True,
    ),
    Flag(
        "cb_explore_adf",
        ("--cb_explore_adf",),
        "bool",
        "like --cb_adf, predicting a probability for each action (exploration)",
        True,
        True,
    ),
    Flag("cb_type", ("--cb_type",), "str", "cost estimator: mtr (default), ips, dr or dm", True, True),
    Flag(
        "epsilon",
        ("--epsilon",),
        "float",
        "exploration: epsilon-greedy's epsilon (default 0.05); with --softmax/--squarecb/--first/--bag the pmf's floor (default 0)",
        True,
    ),
    Flag("softmax", ("--softmax",), "bool", "exploration: softmax over the scores (--lambda)", True, True),
    Flag("softmax_lambda", ("--lambda",), "float", "softmax's lambda (default 1)", True),
    Flag(
        "squarecb",
        ("--squarecb",),
        "bool",
        "exploration: SquareCB (gamma = gamma_scale * learned_events^gamma_exponent)",
        True,
        True,
    ),
    Flag("gamma_scale", ("--gamma_scale",), "float", "SquareCB's gamma scale (default 10)", True),
    Flag("gamma_exponent", ("--gamma_exponent",), "float", "SquareCB's gamma exponent (default 0.5)", True),
    Flag("first", ("--first",), "int", "exploration: uniform for the first N learned events, then greedy", True, True),
    Flag("bag", ("--bag",), "int", "exploration: bagging with N policies (Poisson bootstrap)", True, True),
    Flag("greedify", ("--greedify",), "bool", "--bag: the first policy always learns once", True, True),
    Flag(
        "first_only", ("--first_only",), "bool", "greedy/bag: only the first of tied actions gets the greedy mass", True
    ),
    Flag(
        "rank_all",
        ("--rank_all",),
        "bool",
        "--cb_adf/--cb: -p writes every action's score (action:score,... best first)",
        True,
    ),
    Flag(
        "clip_p",
        ("--clip_p",),
        "float",
        "clip probabilities below this in importance weights (default 0: no clipping)",
        True,
    ),
    Flag(
        "random_seed",
        ("--random_seed",),
        "int",
        "seed of the random generator (--bag bootstrap, sample() without a seed)",
        True,
    ),
    Flag("max_prediction", ("--max_prediction",), "float", "largest prediction to output", True),
    Flag(
        "reward_ttl",
        ("--reward_ttl",),
        "float",
        "delayed rewards: seconds a logged decision waits for its reward (default 3600)",
        True,
    ),
    Flag(
        "max_pending",
        ("--max_pending",),
        "int",
        "delayed rewards: most decisions kept waiting; more evict the oldest (default 1000000)",
        True,
    ),
    # --- run-time (the command line) ---------------------------------------------------
    Flag("data", ("-d", "--data"), "str", "input file (default: standard input)"),
    Flag("final_regressor", ("-f", "--final_regressor"), "str", "save the model to this file at the end"),
    Flag("initial_regressor", ("-i", "--initial_regressor"), "str", "load a model and continue from it"),
    Flag("testonly", ("-t", "--testonly"), "bool", "predict only, do not learn"),
    Flag("predictions", ("-p", "--predictions"), "str", "write predictions to this file (- or /dev/stdout: stdout)"),
    Flag("progress", ("-P", "--progress"), "str", "progress rows: an integer adds, a float multiplies (default 2.0)"),
    Flag("quiet", ("--quiet",), "bool", "print nothing but errors"),
    Flag("audit", ("-a", "--audit"), "bool", "print each example's features with index, value and weight (stdout)"),
    Flag("readable_model", ("--readable_model",), "str", "write the weights as text (index:weight lines)"),
    Flag("invert_hash", ("--invert_hash",), "str", "write the weights as text with feature names (name:index:weight)"),
    Flag("strict", ("--strict", "--strict_parse"), "bool", "stop at the first malformed line instead of skipping it"),
    Flag("predict_only_model", ("--predict_only_model",), "bool", "save only the weights, without optimizer state"),
    Flag(
        "save_every",
        ("--save_every",),
        "int",
        "every N examples, write a snapshot into --store from a background thread",
    ),
    Flag(
        "store",
        ("--store",),
        "str",
        "model store folder: versions, CURRENT pointer, rollback (the final model is saved there too)",
    ),
    Flag(
        "store_keep",
        ("--store_keep",),
        "int",
        "versions the --store keeps in all, the current one included (default 10)",
    ),
    Flag(
        "drift",
        ("--drift",),
        "str",
        "watch the learning with a drift detector: adwin, ph, kswin, ddm, eddm, hddm_a or hddm_w",
    ),
    Flag(
        "drift_response",
        ("--drift_response",),
        "str",
        "on a drift alarm: alert (default), reset, boost or switch (to a challenger)",
    ),
    Flag(
        "drift_signal",
        ("--drift_signal",),
        "str",
        "what the detector watches: loss (default for adwin, ph, kswin) or error (0/1; default for the others)",
    ),
    Flag(
        "drift_every",
        ("--drift_every",),
        "int",
        "hand the detector the signal every N examples; responses apply there (default 1000)",
    ),
    Flag(
        "drift_delta",
        ("--drift_delta",),
        "float",
        "ADWIN's delta (default 0.002) or Page-Hinkley's delta (default 0.005)",
    ),
    Flag(
        "drift_threshold",
        ("--drift_threshold",),
        "float",
        "Page-Hinkley's threshold (default 50) or DDM's drift threshold (default 3)",
    ),
    Flag(
        "drift_param",
        ("--drift_param",),
        "list",
        "any detector parameter as NAME=VALUE, with river's names (e.g. clock=16, alpha=0.001)",
    ),
    Flag("drift_boost", ("--drift_boost",), "float", "--drift_response boost: learning-rate factor (default 3)"),
    Flag(
        "drift_boost_examples",
        ("--drift_boost_examples",),
        "int",
        "--drift_response boost: examples the boost lasts (default 10000)",
    ),
    Flag(
        "drift_gate",
        ("--drift_gate",),
        "int",
        "--drift_response switch: examples a challenger started at an alarm learns before the gate (default 1000)",
    ),
    Flag(
        "threads",
        ("--threads",),
        "int",
        "Hogwild: N threads parse and learn blocks of the input into one weight table "
        "(default 1: exact, reproducible, VW's results; 0: one per core)",
    ),
    Flag("onethread", ("--onethread",), "bool", "accepted for VW compatibility (the same as --threads 1, the default)"),
    Flag("kill_cache", ("-k", "--kill_cache"), "bool", "accepted for VW compatibility (wabbit keeps no cache file)"),
    Flag("passes", ("--passes",), "int", "number of passes (only 1 is supported)"),
    Flag("no_stdin", ("--no_stdin",), "bool", "do not read standard input when -d is absent"),
    Flag(
        "save_resume",
        ("--save_resume",),
        "bool",
        "accepted for VW compatibility (model files always keep the online state)",
    ),
    Flag(
        "cache", ("-c", "--cache"), "bool", "accepted for VW compatibility (wabbit parses fast enough to need no cache)"
    ),
    Flag("holdout_off", ("--holdout_off",), "bool", "accepted for VW compatibility (there is no holdout in one pass)"),
]

# Run-time flags that Model(...) also accepts: how to run, not what to learn (not saved with the model).
_EXECUTION = ("threads",)

# What the core takes: a float flag is a float32; --reward_ttl may be infinite (no TTL).
_FLOAT32_MAX = 3.4028234663852886e38
_MAY_BE_INFINITE = ("reward_ttl",)
# Integer model flags with an upper bound (what the core holds; lower bounds have their own checks).
_INT_MAX: Dict[str, int] = {"cb": 65536, "cb_explore": 65536, "bag": 65536, "first": 2**64 - 1}

_BY_NAME: Dict[str, Flag] = {n: f for f in FLAGS for n in f.names}
_BY_DEST: Dict[str, Flag] = {f.dest: f for f in FLAGS}
# Keyword spellings accepted by Model(**options): the dest and every flag name without dashes.
_KEYWORDS: Dict[str, Flag] = {**{n.lstrip("-"): f for f in FLAGS for n in f.names}, **_BY_DEST}

_LOSSES = ("squared", "logistic", "hinge", "quantile", "poisson", "classic")
_LOSS_ALIASES = {"pinball": "quantile", "absolute": "quantile"}
_LINKS = ("identity", "logistic", "poisson", "glf1")


@dataclass
class Options:
    """Every flag wabbit understands, typed. ``None`` means "not given" (VW's default applies)."""

    bits: Optional[int] = None
    loss_function: Optional[str] = None
    quantile_tau: Optional[float] = None
    link: Optional[str] = None
    binary: bool = False
    logistic_min: Optional[float] = None
    logistic_max: Optional[float] = None
    learning_rate: Optional[float] = None
    power_t: Optional[float] = None
    initial_t: Optional[float] = None
    sgd: bool = False
    adaptive: bool = False
    normalized: bool = False
    invariant: bool = False
    l1: Optional[float] = None
    l2: Optional[float] = None
    ftrl: bool = False
    ftrl_alpha: Optional[float] = None
    ftrl_beta: Optional[float] = None
    perceptron: bool = False
    pa: bool = False
    pa_regressor: bool = False
    pa_c: Optional[float] = None
    pa_variant: Optional[int] = None
    pa_eps: Optional[float] = None
    noconstant: bool = False
    ignore: List[str] = field(default_factory=list)
    ignore_linear: List[str] = field(default_factory=list)
    keep: List[str] = field(default_factory=list)
    quadratic: List[str] = field(default_factory=list)
    cubic: List[str] = field(default_factory=list)
    interactions: List[str] = field(default_factory=list)
    min_prediction: Optional[float] = None
    max_prediction: Optional[float] = None
    reward_ttl: Optional[float] = None
    max_pending: Optional[int] = None
    cb: Optional[int] = None
    cb_adf: bool = False
    cb_explore: Optional[int] = None
    cb_explore_adf: bool = False
    cb_type: Optional[str] = None
    epsilon: Optional[float] = None
    softmax: bool = False
    softmax_lambda: Optional[float] = None
    squarecb: bool = False
    gamma_scale: Optional[float] = None
    gamma_exponent: Optional[float] = None
    first: Optional[int] = None
    bag: Optional[int] = None
    greedify: bool = False
    first_only: bool = False
    rank_all: bool = False
    clip_p: Optional[float] = None
    random_seed: Optional[int] = None
    data: Optional[str] = None
    final_regressor: Optional[str] = None
    initial_regressor: Optional[str] = None
    testonly: bool = False
    predictions: Optional[str] = None
    progress: Optional[str] = None
    quiet: bool = False
    audit: bool = False
    readable_model: Optional[str] = None
    invert_hash: Optional[str] = None
    strict: bool = False
    predict_only_model: bool = False
    save_every: Optional[int] = None
    store: Optional[str] = None
    store_keep: Optional[int] = None
    drift: Optional[str] = None
    drift_response: Optional[str] = None
    drift_signal: Optional[str] = None
    drift_every: Optional[int] = None
    drift_delta: Optional[float] = None
    drift_threshold: Optional[float] = None
    drift_param: List[str] = field(default_factory=list)
    drift_boost: Optional[float] = None
    drift_boost_examples: Optional[int] = None
    drift_gate: Optional[int] = None
    threads: Optional[int] = None
    onethread: bool = False
    kill_cache: bool = False
    passes: Optional[int] = None
    no_stdin: bool = False
    save_resume: bool = False
    cache: bool = False
    holdout_off: bool = False

    # ---------------------------------------------------------------------------------------
    def given(self, dest: str) -> bool:
        v = getattr(self, dest)
        # not `v in (None, False, [])`: 0.0 == False, and --power_t 0 is a value that was given
        return v is not None and v is not False and v != []

    def model_args(self) -> str:
        """The model-defining flags that were given, as canonical VW-style text."""
        parts: List[str] = []
        for f in FLAGS:
            if not f.model or not self.given(f.dest):
                continue
            v = getattr(self, f.dest)
            name = f.names[-1]
            if f.kind == "bool":
                parts.append(name)
            elif f.kind == "list":
                for item in v:
                    parts += [name, shlex.quote(item)]
            else:
                parts += [name, shlex.quote(_fmt(v))]
        return " ".join(parts)

    def merged_with_model(self, stored: "Options") -> "Options":
        """These (command-line) options on top of a saved model's: structural flags must agree."""
        out = dataclasses.replace(stored)
        for f in FLAGS:
            if not self.given(f.dest):
                continue
            mine, theirs = getattr(self, f.dest), getattr(stored, f.dest)
            if f.model and f.structural and mine != theirs:
                shown = f.names[-1]
                raise OptionError(
                    f"{shown} {_fmt(mine) if f.kind != 'bool' else ''}".rstrip()
                    + f" conflicts with the loaded model, which was trained with: {stored.model_args() or '(defaults)'}"
                )
            setattr(out, f.dest, mine)
        return out

    def _check_numbers(self) -> None:
        """Model flags' numbers must fit the core: floats finite in float32 (NaN never; infinity
        only where it means "no bound"), counts within the limits documented in the README."""
        for f in FLAGS:
            if not f.model or not self.given(f.dest):
                continue
            v = getattr(self, f.dest)
            name = f.names[-1]
            if f.kind == "float":
                if v != v:
                    raise OptionError(f"{name} must be a number, got nan")
                if abs(v) > _FLOAT32_MAX and not (f.dest in _MAY_BE_INFINITE and abs(v) == float("inf")):
                    raise OptionError(
                        f"{name} must be a finite number of at most {_FLOAT32_MAX:.4g} in size, got {v!r}"
                    )
            elif f.kind == "int" and f.dest in _INT_MAX and v > _INT_MAX[f.dest]:
                raise OptionError(f"{name} takes at most {_INT_MAX[f.dest]}, got {v}")

    def interaction_specs(self) -> List[str]:
        specs: List[str] = []
        for q in self.quadratic:
            if len(q) != 2:
                raise OptionError(f"-q takes exactly two namespace letters, got {q!r}")
            specs.append(q)
        for c in self.cubic:
            if len(c) != 3:
                raise OptionError(f"--cubic takes exactly three namespace letters, got {c!r}")
            specs.append(c)
        for i in self.interactions:
            if len(i) < 2:
                raise OptionError(f"--interactions needs at least two namespace letters, got {i!r}")
            specs.append(i)
        return specs

    def core_config(self) -> Dict[str, Any]:
        """The learner's configuration, after Vowpal Wabbit's defaulting rules.

        VW's default update is adaptive + normalized + invariant with learning rate 0.5. Naming any of
        --sgd/--adaptive/--normalized/--invariant switches to exactly the named ones; then the
        learning rate defaults to 10 (unless both adaptive and normalized are on), and when neither
        adaptive nor normalized is on, initial_t defaults to 1.
        """
        bits = 18 if self.bits is None else self.bits
        if not 1 <= bits <= 32:
            raise OptionError(f"-b must be between 1 and 32, got {bits}")
        self._check_numbers()
        classic = [
            name
            for name, on in (
                ("--perceptron", self.perceptron),
                ("--pa", self.pa),
                ("--pa_regressor", self.pa_regressor),
                ("--ftrl", self.ftrl),
            )
            if on
        ]
        if len(classic) > 1:
            raise OptionError(f"{' and '.join(classic)} are different update rules; choose one")
        default_loss = "hinge" if (self.perceptron or self.pa) else "squared"
        loss = _LOSS_ALIASES.get(self.loss_function or default_loss, self.loss_function or default_loss)
        if loss not in _LOSSES:
            raise OptionError(f"--loss_function must be one of {', '.join(_LOSSES)}, got {loss!r}")
        explicit = self.sgd or self.adaptive or self.normalized or self.invariant
        if explicit:
            adaptive, normalized, invariant = self.adaptive, self.normalized, self.invariant
        else:
            adaptive = normalized = invariant = True
        lr = self.learning_rate
        if lr is None:
            lr = 10.0 if explicit and not (adaptive and normalized) else 0.5
        initial_t = self.initial_t
        if initial_t is None:
            initial_t = 1.0 if explicit and not adaptive and not normalized else 0.0
        power_t = 0.5 if self.power_t is None else self.power_t
        for name, v in (("--learning_rate", lr), ("--power_t", power_t), ("--initial_t", initial_t)):
            if v != v or v in (float("inf"), float("-inf")):
                raise OptionError(f"{name} must be a finite number")
        if lr <= 0:
            raise OptionError(f"--learning_rate must be positive, got {lr}")
        if power_t < 0:
            raise OptionError(f"--power_t must be >= 0, got {power_t}")
        if initial_t < 0:
            raise OptionError(f"--initial_t must be >= 0, got {initial_t}")
        if (self.logistic_min is not None or self.logistic_max is not None) and loss != "logistic":
            raise OptionError("--logistic_min/--logistic_max apply only to --loss_function logistic")
        lo = -1.0 if self.logistic_min is None else self.logistic_min
        hi = 1.0 if self.logistic_max is None else self.logistic_max
        if loss == "logistic" and not hi > lo:
            raise OptionError("--logistic_max must be greater than --logistic_min")
        tau = 0.5 if self.quantile_tau is None else self.quantile_tau
        if self.quantile_tau is not None and loss != "quantile":
            raise OptionError("--quantile_tau applies only to --loss_function quantile")
        if not 0.0 < tau < 1.0:
            raise OptionError(f"--quantile_tau must be between 0 and 1, got {tau}")
        link = self.link or "identity"
        if link not in _LINKS:
            raise OptionError(f"--link must be one of {', '.join(_LINKS)}, got {link!r}")
        l1 = 0.0 if self.l1 is None else self.l1
        l2 = 0.0 if self.l2 is None else self.l2
        if l1 < 0 or l2 < 0:
            raise OptionError("--l1 and --l2 must be >= 0")
        alpha = 0.5 if self.ftrl_alpha is None else self.ftrl_alpha
        beta = 1.0 if self.ftrl_beta is None else self.ftrl_beta
        if (self.ftrl_alpha is not None or self.ftrl_beta is not None) and not self.ftrl:
            raise OptionError("--ftrl_alpha/--ftrl_beta apply only with --ftrl")
        if self.ftrl and (alpha <= 0 or beta < 0):
            raise OptionError("--ftrl_alpha must be > 0 and --ftrl_beta >= 0")
        rule = 1 if self.perceptron else 2 if self.pa else 3 if self.pa_regressor else 0
        if rule < 2 and (self.pa_c is not None or self.pa_variant is not None or self.pa_eps is not None):
            raise OptionError("--pa_c/--pa_variant/--pa_eps apply only with --pa or --pa_regressor")
        pa_c = 1.0 if self.pa_c is None else self.pa_c
        pa_variant = 1 if self.pa_variant is None else self.pa_variant
        pa_eps = 0.1 if self.pa_eps is None else self.pa_eps
        if pa_variant not in (0, 1, 2) or pa_c <= 0 or pa_eps < 0:
            raise OptionError("--pa_variant must be 0, 1 or 2, --pa_c > 0 and --pa_eps >= 0")
        ignore = bytearray()
        for group in self.ignore:
            ignore += group.encode()
        if self.keep:
            kept = set(b"".join(k.encode() for k in self.keep))
            ignore += bytes(b for b in range(256) if b not in kept)
        ignore_linear = b"".join(g.encode() for g in self.ignore_linear)
        return {
            "bits": bits,
            "loss": loss,
            "quantile_tau": float(tau),
            "link": link,
            "binary": self.binary,
            "l1": float(l1),
            "l2": float(l2),
            "ftrl": self.ftrl,
            "classic_rule": rule,
            "pa_c": float(pa_c),
            "pa_variant": int(pa_variant),
            "pa_eps": float(pa_eps),
            "ftrl_alpha": float(alpha),
            "ftrl_beta": float(beta),
            "ignore": bytes(ignore),
            "ignore_linear": ignore_linear,
            "logistic_min": lo,
            "logistic_max": hi,
            "learning_rate": float(lr),
            "power_t": float(power_t),
            "initial_t": float(initial_t),
            "adaptive": adaptive,
            "normalized": normalized,
            "invariant": invariant,
            "constant": not self.noconstant,
            "interactions": self.interaction_specs(),
            "has_min_prediction": self.min_prediction is not None,
            "has_max_prediction": self.max_prediction is not None,
            "min_prediction": 0.0 if self.min_prediction is None else float(self.min_prediction),
            "max_prediction": 0.0 if self.max_prediction is None else float(self.max_prediction),
            "cb": self.cb_config(),
        }

    def cb_config(self) -> Optional[Dict[str, Any]]:
        """The contextual-bandit settings for the core (None for a plain linear model), checked.

        >>> parse_args("--cb_explore_adf --softmax --lambda 5").cb_config()["explore"]
        'softmax'
        >>> parse_args("--cb_adf --cb_type dr").cb_config()["cb_type"]
        'dr'
        """
        modes = [
            n
            for n, on in (
                ("--cb", self.cb is not None),
                ("--cb_adf", self.cb_adf),
                ("--cb_explore", self.cb_explore is not None),
                ("--cb_explore_adf", self.cb_explore_adf),
            )
            if on
        ]
        explore_flags = [
            f.names[-1]
            for f in FLAGS
            if f.dest
            in (
                "epsilon",
                "softmax",
                "softmax_lambda",
                "squarecb",
                "gamma_scale",
                "gamma_exponent",
                "first",
                "bag",
                "greedify",
                "first_only",
            )
            and self.given(f.dest)
        ]
        if not modes:
            given = explore_flags + [
                f.names[-1] for f in FLAGS if f.dest in ("cb_type", "clip_p", "rank_all") and self.given(f.dest)
            ]
            if given:
                raise OptionError(f"{', '.join(given)} need a contextual bandit mode (--cb_adf, --cb_explore_adf, ...)")
            return None
        if len(modes) > 1 and not (set(modes) == {"--cb_explore_adf", "--cb_adf"}):
            raise OptionError(f"{' and '.join(modes)}: choose one contextual bandit mode")
        k = self.cb if self.cb is not None else self.cb_explore
        if k is not None and k < 1:
            raise OptionError(f"--cb/--cb_explore takes a number of actions >= 1, got {k}")
        explore = self.cb_explore_adf or self.cb_explore is not None
        if explore_flags and not explore:
            raise OptionError(f"{', '.join(explore_flags)} need --cb_explore_adf or --cb_explore K")
        algos = [
            n
            for n, on in (
                ("--softmax", self.softmax),
                ("--squarecb", self.squarecb),
                ("--first", self.first is not None),
                ("--bag", self.bag is not None),
            )
            if on
        ]
        if len(algos) > 1:
            raise OptionError(f"{' and '.join(algos)}: choose one exploration algorithm")
        algo = "none" if not explore else (algos[0].lstrip("-") if algos else "epsilon")
        cb_type = self.cb_type or "mtr"
        if cb_type not in ("mtr", "ips", "dr", "dm"):
            raise OptionError(f"--cb_type must be mtr, ips, dr or dm, got {cb_type!r}")
        if algo == "squarecb" and cb_type != "mtr":
            raise OptionError("--squarecb supports only --cb_type mtr (as in VW)")
        if self.softmax_lambda is not None and algo != "softmax":
            raise OptionError("--lambda applies only with --softmax")
        if (self.gamma_scale is not None or self.gamma_exponent is not None) and algo != "squarecb":
            raise OptionError("--gamma_scale/--gamma_exponent apply only with --squarecb")
        if self.greedify and algo != "bag":
            raise OptionError("--greedify applies only with --bag")
        eps = self.epsilon if self.epsilon is not None else (0.05 if algo == "epsilon" else 0.0)
        if not 0.0 <= eps <= 1.0:
            raise OptionError(f"--epsilon must be in [0, 1], got {eps}")
        clip = 0.0 if self.clip_p is None else self.clip_p
        if not 0.0 <= clip <= 1.0:
            raise OptionError(f"--clip_p must be in [0, 1], got {clip}")
        if self.first is not None and self.first < 0:
            raise OptionError(f"--first takes a number of events >= 0, got {self.first}")
        if self.bag is not None and self.bag < 1:
            raise OptionError(f"--bag takes a number of policies >= 1, got {self.bag}")
        seed = 0 if self.random_seed is None else self.random_seed
        return {
            "num_actions": 0 if k is None else int(k),
            "cb_type": cb_type,
            "explore": algo,
            "epsilon": float(eps),
            "lambda": 1.0 if self.softmax_lambda is None else float(self.softmax_lambda),
            "gamma_scale": 10.0 if self.gamma_scale is None else float(self.gamma_scale),
            "gamma_exponent": 0.5 if self.gamma_exponent is None else float(self.gamma_exponent),
            "first": 0 if self.first is None else int(self.first),
            "bag": 0 if self.bag is None else int(self.bag),
            "greedify": self.greedify,
            "first_only": self.first_only,
            "rank_all": self.rank_all,
            "clip_p": float(clip),
            "seed": int(seed) % 2**64,
        }

    def progress_schedule(self) -> Tuple[bool, float, float]:
        """(additive, step, first dump) for the progress table, with VW's adjustments."""
        if self.progress is None:
            return False, 2.0, 1.0
        try:
            value = float(self.progress)
        except ValueError:
            raise OptionError(f"-P/--progress takes a number, got {self.progress!r}") from None
        if "." not in self.progress:
            step = max(value, 1.0)
            return True, step, step
        if value <= 1.0:
            value += 1.0
        return False, value, 1.0

    def drift_config(self) -> Optional[Dict[str, Any]]:
        """The --drift flags, checked: the detector's class name in :mod:`wabbit.drift` and its
        parameters, and the monitor's settings (None without --drift).

        --drift_delta goes to ADWIN or Page-Hinkley, --drift_threshold to Page-Hinkley or DDM;
        --drift_param NAME=VALUE to any detector (river's parameter names). Page-Hinkley watches
        increases only (``mode="up"``) unless --drift_param mode=both: a falling loss is no alarm.

        >>> parse_args("--drift adwin --drift_delta 0.01 --drift_response switch").drift_config()["params"]
        {'delta': 0.01}
        >>> c = parse_args("--drift ph --drift_param min_instances=100").drift_config()
        >>> c["detector"], c["params"], c["signal"], c["response"]
        ('PageHinkley', {'mode': 'up', 'min_instances': 100}, 'loss', 'alert')
        """
        given = [f.names[-1] for f in FLAGS if f.dest.startswith("drift_") and self.given(f.dest)]
        if self.drift is None:
            if given:
                raise OptionError(f"{', '.join(given)} need --drift DETECTOR")
            return None
        name = self.drift.lower()
        if name not in _DETECTORS:
            raise OptionError(f"--drift must be one of {', '.join(_DETECTORS)}, got {self.drift!r}")
        detector = _DETECTORS[name]
        params: Dict[str, Any] = {"mode": "up"} if name == "ph" else {}
        for flag, value, takers in (
            ("--drift_delta", self.drift_delta, {"adwin": "delta", "ph": "delta"}),
            ("--drift_threshold", self.drift_threshold, {"ph": "threshold", "ddm": "drift_threshold"}),
        ):
            if value is None:
                continue
            if name not in takers:
                raise OptionError(f"{flag} applies to {' and '.join(takers)}; use --drift_param NAME=VALUE for {name}")
            params[takers[name]] = value
        for item in self.drift_param:
            key, eq, raw = item.partition("=")
            if not eq or not key.strip():
                raise OptionError(f"--drift_param takes NAME=VALUE, got {item!r}")
            params[key.strip()] = _param_value(raw.strip())
        response = self.drift_response or "alert"
        if response not in ("alert", "reset", "boost", "switch"):
            raise OptionError(f"--drift_response must be alert, reset, boost or switch, got {response!r}")
        if self.testonly and response != "alert":
            raise OptionError(f"--drift_response {response} changes what is learned; with -t only alert applies")
        signal = self.drift_signal or ("loss" if name in ("adwin", "ph", "kswin") else "error")
        if signal not in ("loss", "error"):
            raise OptionError(f"--drift_signal must be loss or error, got {signal!r}")
        for flag, value in (
            ("--drift_every", self.drift_every),
            ("--drift_boost_examples", self.drift_boost_examples),
            ("--drift_gate", self.drift_gate),
        ):
            if value is not None and value < 1:
                raise OptionError(f"{flag} takes a positive number of examples, got {value}")
        if self.drift_boost is not None and not self.drift_boost > 0:
            raise OptionError(f"--drift_boost takes a positive factor, got {self.drift_boost}")
        for flag, value, wanted in (
            ("--drift_boost", self.drift_boost, "boost"),
            ("--drift_boost_examples", self.drift_boost_examples, "boost"),
            ("--drift_gate", self.drift_gate, "switch"),
        ):
            if value is not None and response != wanted:
                raise OptionError(f"{flag} applies only to --drift_response {wanted}")
        return {
            "name": name,
            "detector": detector,
            "params": params,
            "response": response,
            "signal": signal,
            "every": 1000 if self.drift_every is None else self.drift_every,
            "boost_factor": 3.0 if self.drift_boost is None else self.drift_boost,
            "boost_examples": 10_000 if self.drift_boost_examples is None else self.drift_boost_examples,
            "gate": 1000 if self.drift_gate is None else self.drift_gate,
        }

    def reward_config(self) -> Tuple[float, int]:
        """(ttl seconds, max pending decisions) for delayed rewards (wabbit/decisions.py), checked.

        >>> parse_args("--reward_ttl 600").reward_config()
        (600.0, 1000000)
        """
        ttl = 3600.0 if self.reward_ttl is None else float(self.reward_ttl)
        cap = 1_000_000 if self.max_pending is None else self.max_pending
        if not ttl > 0:
            raise OptionError(f"--reward_ttl takes a positive number of seconds (inf: no limit), got {self.reward_ttl}")
        if cap < 1:
            raise OptionError(f"--max_pending takes a positive number of decisions, got {self.max_pending}")
        return ttl, cap

    def run_time_flags(self) -> List[str]:
        """Names of run-time flags that were given (these make no sense in Model(...))."""
        return [f.names[-1] for f in FLAGS if not f.model and f.dest not in _EXECUTION and self.given(f.dest)]

    def thread_count(self) -> int:
        """--threads as a number of threads: 1 by default (and with --onethread), 0 means one per core."""
        if self.threads is None or self.onethread:
            return 1
        if self.threads < 0:
            raise OptionError(f"--threads takes a number of threads >= 0 (0: one per core), got {self.threads}")
        if self.threads > MAX_THREADS:
            raise OptionError(
                f"--threads {self.threads}: at most {MAX_THREADS} threads (this machine has "
                f"{cpu_cores()} cores; more threads than cores learn a worse model)"
            )
        return self.threads or cpu_cores()


#: The most threads a run takes (the core refuses more; see README "Threads").
MAX_THREADS = 1024


def cpu_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def oversubscribed(threads: int) -> Optional[str]:
    """A warning when ``threads`` exceed the cores: Hogwild threads that share a core take turns
    mid-block, so their updates go stale and the model learns worse (None otherwise)."""
    cores = cpu_cores()
    if threads <= cores:
        return None
    return (
        f"{threads} threads on {cores} cores: threads beyond the cores make no run faster and learn a worse model "
        f"(their updates overwrite each other's); use at most {cores}"
    )


def _fmt(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)  # "inf", "-inf": read back by float()
    if isinstance(v, float):
        return repr(v) if v != int(v) else str(int(v)) if abs(v) < 1e15 else repr(v)
    return str(v)


_DETECTORS = {
    "adwin": "ADWIN",
    "ph": "PageHinkley",
    "kswin": "KSWIN",
    "ddm": "DDM",
    "eddm": "EDDM",
    "hddm_a": "HDDMA",
    "hddm_w": "HDDMW",
}


def _param_value(raw: str) -> Any:
    """A --drift_param value: an integer, a number, true/false, none, or the text itself."""
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def _convert(flag: Flag, name: str, raw: str) -> Any:
    try:
        if flag.kind == "int":
            return int(raw)
        if flag.kind == "float":
            return float(raw)
    except ValueError:
        kind = "an integer" if flag.kind == "int" else "a number"
        raise OptionError(f"{name} takes {kind}, got {raw!r}") from None
    return raw


def parse_args(args: Union[str, Sequence[str]] = "", **keywords: Any) -> Options:
    """Parse VW-style flags (a string or a list of tokens) plus keyword options into Options.

    Keywords use the long flag names without dashes (``loss_function="logistic"``,
    ``quadratic=["ua"]``, ``bit_precision=24``) or the short ones (``b=24``, ``q="ua"``, ``l=0.1``).

    >>> parse_args("-b 20", quadratic=["ab"], learning_rate=0.1).model_args()
    '--bit_precision 20 --learning_rate 0.1 --quadratic ab'
    """
    tokens = shlex.split(args) if isinstance(args, str) else list(args)
    opts = Options()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        value: Optional[str] = None
        name = tok
        if tok.startswith("--") and "=" in tok:
            name, value = tok.split("=", 1)
        flag = _BY_NAME.get(name)
        if flag is None and tok.startswith("-") and not tok.startswith("--") and len(tok) > 2:
            # -b24 / -qab: a short flag glued to its value
            flag = _BY_NAME.get(tok[:2])
            if flag is not None and flag.kind != "bool":
                name, value = tok[:2], tok[2:]
            else:
                flag = None
        if flag is None:
            if not tok.startswith("-"):
                raise OptionError(f"unexpected argument {tok!r} (input files go after -d)")
            raise OptionError(f"unknown option {name!r}; run 'wabbit --help' for the supported flags")
        i += 1
        if flag.kind == "bool":
            if value is not None:
                raise OptionError(f"{name} takes no value")
            setattr(opts, flag.dest, True)
            continue
        if value is None:
            if i >= len(tokens):
                raise OptionError(f"{name} needs a value")
            value = tokens[i]
            i += 1
        if flag.kind == "list":
            getattr(opts, flag.dest).append(value)
        else:
            setattr(opts, flag.dest, _convert(flag, name, value))
    for key, value in keywords.items():
        flag = _KEYWORDS.get(key)
        if flag is None:
            raise OptionError(f"unknown option {key!r}")
        if flag.kind == "bool":
            setattr(opts, flag.dest, bool(value))
        elif flag.kind == "list":
            items = [value] if isinstance(value, str) else list(value)
            getattr(opts, flag.dest).extend(str(v) for v in items)
        elif value is None:
            setattr(opts, flag.dest, None)
        elif flag.kind == "str":
            setattr(opts, flag.dest, str(value))
        else:
            setattr(opts, flag.dest, _convert(flag, key, str(value)))
    return opts


def flag_help() -> str:
    """One line per flag, for ``wabbit --help``."""
    lines = []
    for f in FLAGS:
        names = ", ".join(f.names)
        arg = "" if f.kind == "bool" else " ARG"
        lines.append(f"  {names}{arg}\n      {f.help}")
    return "\n".join(lines)

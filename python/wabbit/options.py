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
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Type, TypeVar, Union

import wabbit._core as _core

if TYPE_CHECKING:
    import argparse

__all__ = [
    "Options",
    "OptionError",
    "parse_args",
    "FLAGS",
    "option",
    "switch",
    "repeated",
    "subcommand_parser",
    "parse_subcommand",
]


class OptionError(ValueError):
    """A flag is unknown, lacks its value, or has a value of the wrong kind."""


# Run-time flags that Model(...) also accepts: how to run, not what to learn (not saved with the model).
_EXECUTION = ("threads",)

# What the core takes: a float flag is a float32; --reward_ttl may be infinite (no TTL).
_FLOAT32_MAX = 3.4028234663852886e38
_MAY_BE_INFINITE = ("reward_ttl",)
# Integer model flags with an upper bound (what the core holds; lower bounds have their own checks).
_INT_MAX: Dict[str, int] = {"cb": 65536, "cb_explore": 65536, "bag": 65536, "first": 2**64 - 1}

_LOSSES = ("squared", "logistic", "hinge", "quantile", "poisson", "classic")
_LOSS_ALIASES = {"pinball": "quantile", "absolute": "quantile"}
_LINKS = ("identity", "logistic", "poisson", "glf1")


@dataclass(frozen=True)
class Flag:
    """One flag as its declaration (a field of :class:`Options`) defines it."""

    dest: str
    names: Tuple[str, ...]  # e.g. ("-b", "--bit_precision")
    kind: str  # "bool", "int", "float", "str", "list"
    help: str  # with "(default X)" from the declared default
    model: bool = False  # defines the model: stored in the model file
    structural: bool = False  # cannot change when continuing from a saved model
    default: Any = None  # the value when not given (None: none declared, or it depends on other flags)


# The learner's declared defaults (cpp/core/config.h, cpp/cb/config.h): a flag that maps to a core
# field names it (``core="power_t"``, ``core="cb.epsilon"``) instead of repeating its number.
_CORE_DEFAULTS: Dict[str, Any] = _core.config_defaults()


def _spec(
    names: Tuple[str, ...],
    help: str,
    model: bool,
    structural: bool,
    core: Optional[str],
    default: Any,
    note: str,
    **argparse_only: Any,
) -> Dict[str, Any]:
    if core is not None:
        table: Any = _CORE_DEFAULTS
        for part in core.split("."):
            table = table[part]
        default = table
    return {
        "flag": {
            "names": names,
            "help": help,
            "model": model,
            "structural": structural,
            "default": default,
            "note": note,
            **argparse_only,
        }
    }


def option(
    *names: str,
    help: str,
    model: bool = False,
    structural: bool = False,
    core: Optional[str] = None,
    default: Any = None,
    note: str = "",
    required: bool = False,
    choices: Optional[Sequence[str]] = None,
    metavar: Optional[str] = None,
) -> Any:
    """Declares a flag with a value (its kind, int/float/str, from the field's annotation); the
    field is None when the flag is not given. ``core`` names the core field whose declared default
    applies (``"power_t"``, ``"cb.epsilon"``); ``default`` declares one otherwise; either is shown in
    the help as "(default X; note)". ``required``, ``choices`` and ``metavar`` serve subcommands."""
    extra = {"required": required, "choices": choices, "metavar": metavar}
    return field(default=None, metadata=_spec(names, help, model, structural, core, default, note, **extra))


def switch(*names: str, help: str, model: bool = False, structural: bool = False) -> Any:
    """Declares a flag without a value: False unless given."""
    return field(default=False, metadata=_spec(names, help, model, structural, None, None, ""))


def repeated(*names: str, help: str, model: bool = False, structural: bool = False) -> Any:
    """Declares a flag that may be given several times: the list of its values."""
    return field(default_factory=list, metadata=_spec(names, help, model, structural, None, None, ""))


@dataclass
class Options:
    """Every flag wabbit understands, typed; each field is the flag's one declaration (names, help,
    whether it defines the model, its default). ``None`` means "not given" (the default applies).

    The order of the fields is the order of ``--help`` and of the model file's options text."""

    # --- model-defining ---------------------------------------------------------------
    bits: Optional[int] = option(
        "-b", "--bit_precision", help="number of bits in the feature table", model=True, structural=True, core="bits"
    )
    loss_function: Optional[str] = option(
        "--loss_function",
        help="squared, logistic, hinge, quantile, poisson or classic",
        model=True,
        structural=True,
        core="loss",
    )
    quantile_tau: Optional[float] = option(
        "--quantile_tau", help="tau of the quantile loss", model=True, structural=True, core="quantile_tau"
    )
    link: Optional[str] = option(
        "--link", help="what is predicted: identity, logistic, poisson or glf1", model=True, core="link"
    )
    binary: bool = switch("--binary", help="predict the sign (-1/1) and report 0/1 loss", model=True)
    logistic_min: Optional[float] = option(
        "--logistic_min", help="smallest label of the logistic loss", model=True, structural=True, core="logistic_min"
    )
    logistic_max: Optional[float] = option(
        "--logistic_max", help="largest label of the logistic loss", model=True, structural=True, core="logistic_max"
    )
    learning_rate: Optional[float] = option(
        "-l", "--learning_rate", help="learning rate", model=True, core="learning_rate", note="10 for non-default rules"
    )
    power_t: Optional[float] = option(
        "--power_t", help="t power for the learning rate decay", model=True, core="power_t"
    )
    initial_t: Optional[float] = option(
        "--initial_t",
        help="initial t value",
        model=True,
        core="initial_t",
        note="1 for rules neither adaptive nor normalized",
    )
    sgd: bool = switch("--sgd", help="plain stochastic gradient descent", model=True, structural=True)
    adaptive: bool = switch("--adaptive", help="adaptive, per-feature learning rates", model=True, structural=True)
    normalized: bool = switch("--normalized", help="per-feature normalized updates", model=True, structural=True)
    invariant: bool = switch("--invariant", help="importance-invariant (safe) updates", model=True, structural=True)
    l1: Optional[float] = option(
        "--l1", help="L1 regularization (SGD: truncated gradient; FTRL: proximal)", model=True, core="l1"
    )
    l2: Optional[float] = option("--l2", help="L2 regularization", model=True, core="l2")
    ftrl: bool = switch("--ftrl", help="FTRL-Proximal instead of gradient descent", model=True, structural=True)
    ftrl_alpha: Optional[float] = option("--ftrl_alpha", help="FTRL learning rate alpha", model=True, core="ftrl_alpha")
    ftrl_beta: Optional[float] = option("--ftrl_beta", help="FTRL beta", model=True, core="ftrl_beta")
    perceptron: bool = switch(
        "--perceptron", help="the perceptron rule (labels -1/1; river's Perceptron)", model=True, structural=True
    )
    pa: bool = switch(
        "--pa", help="passive-aggressive classifier (labels -1/1; river's PAClassifier)", model=True, structural=True
    )
    pa_regressor: bool = switch(
        "--pa_regressor", help="passive-aggressive regressor (river's PARegressor)", model=True, structural=True
    )
    pa_c: Optional[float] = option("--pa_c", help="passive-aggressive aggressiveness C", model=True, core="pa_c")
    pa_variant: Optional[int] = option(
        "--pa_variant", help="passive-aggressive variant: 0 PA, 1 PA-I, 2 PA-II", model=True, core="pa_variant"
    )
    pa_eps: Optional[float] = option(
        "--pa_eps", help="passive-aggressive regressor: insensitive zone width", model=True, core="pa_eps"
    )
    noconstant: bool = switch("--noconstant", help="do not add the constant feature", model=True, structural=True)
    ignore: List[str] = repeated(
        "--ignore", help="drop namespaces starting with these letters", model=True, structural=True
    )
    ignore_linear: List[str] = repeated(
        "--ignore_linear", help="use these namespaces only inside interactions", model=True, structural=True
    )
    keep: List[str] = repeated(
        "--keep", help="keep only namespaces starting with these letters", model=True, structural=True
    )
    quadratic: List[str] = repeated(
        "-q",
        "--quadratic",
        help="quadratic interaction between two namespaces (e.g. -q ua)",
        model=True,
        structural=True,
    )
    cubic: List[str] = repeated(
        "--cubic", help="cubic interaction between three namespaces", model=True, structural=True
    )
    interactions: List[str] = repeated(
        "--interactions", help="interaction of any order (e.g. --interactions abc)", model=True, structural=True
    )
    min_prediction: Optional[float] = option("--min_prediction", help="smallest prediction to output", model=True)
    # --- contextual bandits (model-defining) ---------------------------------------------
    cb: Optional[int] = option(
        "--cb",
        help="contextual bandit with K fixed actions: single-line examples labelled action:cost:probability",
        model=True,
        structural=True,
    )
    cb_adf: bool = switch(
        "--cb_adf",
        help="contextual bandit with action-dependent features: multiline events (shared line, one line per action, blank line)",
        model=True,
        structural=True,
    )
    cb_explore: Optional[int] = option(
        "--cb_explore",
        help="like --cb K, predicting a probability for each action (exploration)",
        model=True,
        structural=True,
    )
    cb_explore_adf: bool = switch(
        "--cb_explore_adf",
        help="like --cb_adf, predicting a probability for each action (exploration)",
        model=True,
        structural=True,
    )
    cb_type: Optional[str] = option(
        "--cb_type", help="cost estimator: mtr, ips, dr or dm", model=True, structural=True, core="cb.cb_type"
    )
    epsilon: Optional[float] = option(
        "--epsilon",
        help="exploration: epsilon-greedy's epsilon",
        model=True,
        core="cb.epsilon",
        note="with --softmax/--squarecb/--first/--bag the pmf's floor, default 0",
    )
    softmax: bool = switch(
        "--softmax", help="exploration: softmax over the scores (--lambda)", model=True, structural=True
    )
    softmax_lambda: Optional[float] = option("--lambda", help="softmax's lambda", model=True, core="cb.lambda")
    squarecb: bool = switch(
        "--squarecb",
        help="exploration: SquareCB (gamma = gamma_scale * learned_events^gamma_exponent)",
        model=True,
        structural=True,
    )
    gamma_scale: Optional[float] = option(
        "--gamma_scale", help="SquareCB's gamma scale", model=True, core="cb.gamma_scale"
    )
    gamma_exponent: Optional[float] = option(
        "--gamma_exponent", help="SquareCB's gamma exponent", model=True, core="cb.gamma_exponent"
    )
    first: Optional[int] = option(
        "--first", help="exploration: uniform for the first N learned events, then greedy", model=True, structural=True
    )
    bag: Optional[int] = option(
        "--bag", help="exploration: bagging with N policies (Poisson bootstrap)", model=True, structural=True
    )
    greedify: bool = switch(
        "--greedify", help="--bag: the first policy always learns once", model=True, structural=True
    )
    first_only: bool = switch(
        "--first_only", help="greedy/bag: only the first of tied actions gets the greedy mass", model=True
    )
    rank_all: bool = switch(
        "--rank_all", help="--cb_adf/--cb: -p writes every action's score (action:score,... best first)", model=True
    )
    clip_p: Optional[float] = option(
        "--clip_p",
        help="clip probabilities below this in importance weights",
        model=True,
        core="cb.clip_p",
        note="no clipping",
    )
    random_seed: Optional[int] = option(
        "--random_seed",
        help="seed of the random generator (--bag bootstrap, sample() without a seed)",
        model=True,
        core="cb.seed",
    )
    max_prediction: Optional[float] = option("--max_prediction", help="largest prediction to output", model=True)
    reward_ttl: Optional[float] = option(
        "--reward_ttl",
        help="delayed rewards: seconds a logged decision waits for its reward",
        model=True,
        default=3600.0,
    )
    max_pending: Optional[int] = option(
        "--max_pending",
        help="delayed rewards: most decisions kept waiting; more evict the oldest",
        model=True,
        default=1000000,
    )
    # --- run-time (the command line) ---------------------------------------------------
    data: Optional[str] = option("-d", "--data", help="input file (default: standard input)")
    final_regressor: Optional[str] = option("-f", "--final_regressor", help="save the model to this file at the end")
    initial_regressor: Optional[str] = option("-i", "--initial_regressor", help="load a model and continue from it")
    testonly: bool = switch("-t", "--testonly", help="predict only, do not learn")
    predictions: Optional[str] = option(
        "-p", "--predictions", help="write predictions to this file (- or /dev/stdout: stdout)"
    )
    progress: Optional[str] = option(
        "-P", "--progress", help="progress rows: an integer adds, a float multiplies", default="2.0"
    )
    quiet: bool = switch("--quiet", help="print nothing but errors")
    audit: bool = switch("-a", "--audit", help="print each example's features with index, value and weight (stdout)")
    readable_model: Optional[str] = option("--readable_model", help="write the weights as text (index:weight lines)")
    invert_hash: Optional[str] = option(
        "--invert_hash", help="write the weights as text with feature names (name:index:weight)"
    )
    strict: bool = switch("--strict", "--strict_parse", help="stop at the first malformed line instead of skipping it")
    predict_only_model: bool = switch("--predict_only_model", help="save only the weights, without optimizer state")
    save_every: Optional[int] = option(
        "--save_every", help="every N examples, write a snapshot into --store from a background thread"
    )
    store: Optional[str] = option(
        "--store", help="model store folder: versions, CURRENT pointer, rollback (the final model is saved there too)"
    )
    store_keep: Optional[int] = option(
        "--store_keep", help="versions the --store keeps in all, the current one included", default=10
    )
    drift: Optional[str] = option(
        "--drift", help="watch the learning with a drift detector: adwin, ph, kswin, ddm, eddm, hddm_a or hddm_w"
    )
    drift_response: Optional[str] = option(
        "--drift_response", help="on a drift alarm: alert, reset, boost or switch (to a challenger)", default="alert"
    )
    drift_signal: Optional[str] = option(
        "--drift_signal",
        help="what the detector watches: loss (default for adwin, ph, kswin) or error (0/1; default for the others)",
    )
    drift_every: Optional[int] = option(
        "--drift_every", help="hand the detector the signal every N examples; responses apply there", default=1000
    )
    drift_delta: Optional[float] = option(
        "--drift_delta", help="ADWIN's delta (default 0.002) or Page-Hinkley's delta (default 0.005)"
    )
    drift_threshold: Optional[float] = option(
        "--drift_threshold", help="Page-Hinkley's threshold (default 50) or DDM's drift threshold (default 3)"
    )
    drift_param: List[str] = repeated(
        "--drift_param", help="any detector parameter as NAME=VALUE, with river's names (e.g. clock=16, alpha=0.001)"
    )
    drift_boost: Optional[float] = option(
        "--drift_boost", help="--drift_response boost: learning-rate factor", default=3.0
    )
    drift_boost_examples: Optional[int] = option(
        "--drift_boost_examples", help="--drift_response boost: examples the boost lasts", default=10000
    )
    drift_gate: Optional[int] = option(
        "--drift_gate",
        help="--drift_response switch: examples a challenger started at an alarm learns before the gate",
        default=1000,
    )
    threads: Optional[int] = option(
        "--threads",
        help="Hogwild: N threads parse and learn blocks of the input into one weight table",
        default=1,
        note="exact, reproducible, VW's results; 0: one per core",
    )
    onethread: bool = switch("--onethread", help="accepted for VW compatibility (the same as --threads 1, the default)")
    kill_cache: bool = switch("-k", "--kill_cache", help="accepted for VW compatibility (wabbit keeps no cache file)")
    passes: Optional[int] = option("--passes", help="number of passes (only 1 is supported)")
    no_stdin: bool = switch("--no_stdin", help="do not read standard input when -d is absent")
    save_resume: bool = switch(
        "--save_resume", help="accepted for VW compatibility (model files always keep the online state)"
    )
    cache: bool = switch(
        "-c", "--cache", help="accepted for VW compatibility (wabbit parses fast enough to need no cache)"
    )
    holdout_off: bool = switch("--holdout_off", help="accepted for VW compatibility (there is no holdout in one pass)")

    # ---------------------------------------------------------------------------------------
    def value(self, dest: str) -> Any:
        """The flag's value: as given, else its declared default (None if it declares none).

        >>> parse_args("--power_t 0.25").value("power_t"), parse_args("").value("power_t")
        (0.25, 0.5)
        """
        v = getattr(self, dest)
        return _BY_DEST[dest].default if v is None else v

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
        bits = self.value("bits")
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
        default_loss = "hinge" if (self.perceptron or self.pa) else self.value("loss_function")
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
            lr = 10.0 if explicit and not (adaptive and normalized) else self.value("learning_rate")
        initial_t = self.initial_t
        if initial_t is None:
            initial_t = 1.0 if explicit and not adaptive and not normalized else self.value("initial_t")
        power_t = self.value("power_t")
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
        lo, hi = self.value("logistic_min"), self.value("logistic_max")
        if loss == "logistic" and not hi > lo:
            raise OptionError("--logistic_max must be greater than --logistic_min")
        tau = self.value("quantile_tau")
        if self.quantile_tau is not None and loss != "quantile":
            raise OptionError("--quantile_tau applies only to --loss_function quantile")
        if not 0.0 < tau < 1.0:
            raise OptionError(f"--quantile_tau must be between 0 and 1, got {tau}")
        link = self.value("link")
        if link not in _LINKS:
            raise OptionError(f"--link must be one of {', '.join(_LINKS)}, got {link!r}")
        l1, l2 = self.value("l1"), self.value("l2")
        if l1 < 0 or l2 < 0:
            raise OptionError("--l1 and --l2 must be >= 0")
        alpha, beta = self.value("ftrl_alpha"), self.value("ftrl_beta")
        if (self.ftrl_alpha is not None or self.ftrl_beta is not None) and not self.ftrl:
            raise OptionError("--ftrl_alpha/--ftrl_beta apply only with --ftrl")
        if self.ftrl and (alpha <= 0 or beta < 0):
            raise OptionError("--ftrl_alpha must be > 0 and --ftrl_beta >= 0")
        rule = 1 if self.perceptron else 2 if self.pa else 3 if self.pa_regressor else 0
        if rule < 2 and (self.pa_c is not None or self.pa_variant is not None or self.pa_eps is not None):
            raise OptionError("--pa_c/--pa_variant/--pa_eps apply only with --pa or --pa_regressor")
        pa_c, pa_variant, pa_eps = self.value("pa_c"), self.value("pa_variant"), self.value("pa_eps")
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
        cb_type = self.value("cb_type")
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
        eps = self.epsilon if self.epsilon is not None else (self.value("epsilon") if algo == "epsilon" else 0.0)
        if not 0.0 <= eps <= 1.0:
            raise OptionError(f"--epsilon must be in [0, 1], got {eps}")
        clip = self.value("clip_p")
        if not 0.0 <= clip <= 1.0:
            raise OptionError(f"--clip_p must be in [0, 1], got {clip}")
        if self.first is not None and self.first < 0:
            raise OptionError(f"--first takes a number of events >= 0, got {self.first}")
        if self.bag is not None and self.bag < 1:
            raise OptionError(f"--bag takes a number of policies >= 1, got {self.bag}")
        seed = self.value("random_seed")
        return {
            "num_actions": 0 if k is None else int(k),
            "cb_type": cb_type,
            "explore": algo,
            "epsilon": float(eps),
            "lambda": float(self.value("softmax_lambda")),
            "gamma_scale": float(self.value("gamma_scale")),
            "gamma_exponent": float(self.value("gamma_exponent")),
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
        progress = self.value("progress")
        try:
            value = float(progress)
        except ValueError:
            raise OptionError(f"-P/--progress takes a number, got {progress!r}") from None
        if "." not in progress:
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
        response = self.value("drift_response")
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
            "every": self.value("drift_every"),
            "boost_factor": self.value("drift_boost"),
            "boost_examples": self.value("drift_boost_examples"),
            "gate": self.value("drift_gate"),
        }

    def reward_config(self) -> Tuple[float, int]:
        """(ttl seconds, max pending decisions) for delayed rewards (wabbit/decisions.py), checked.

        >>> parse_args("--reward_ttl 600").reward_config()
        (600.0, 1000000)
        """
        ttl = float(self.value("reward_ttl"))
        cap = self.value("max_pending")
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


def _kind(f: "dataclasses.Field[Any]") -> str:
    annotation = str(f.type)
    if annotation == "bool":
        return "bool"
    if annotation.startswith("List"):
        return "list"
    return next(k for k in ("int", "float", "str") if k in annotation)


def _help(spec: Dict[str, Any]) -> str:
    help, default, note = spec["help"], spec["default"], spec["note"]
    if default is not None:
        help += f" (default {_fmt(default)}{'; ' + note if note else ''})"
    return str(help)


def _derive_flags() -> List[Flag]:
    flags = []
    for f in dataclasses.fields(Options):
        spec = f.metadata["flag"]
        flags.append(
            Flag(f.name, spec["names"], _kind(f), _help(spec), spec["model"], spec["structural"], spec["default"])
        )
    return flags


def subcommand_parser(declared: type, prog: str, description: Optional[str]) -> "argparse.ArgumentParser":
    """The parser of a subcommand (``wabbit ope``, ``wabbit inspect``, ``wabbit demo``) from a
    dataclass whose fields are declared as :class:`Options`'s are (:func:`option`, :func:`switch`,
    :func:`repeated`): names, help with "(default X)" and defaults come from those declarations. A
    name without a dash is a positional argument.

    >>> @dataclasses.dataclass
    ... class Demo:
    ...     lines: Optional[int] = option("--lines", help="lines to make", default=10)
    >>> parse_subcommand(Demo, subcommand_parser(Demo, "demo", None), ["--lines", "3"])
    Demo(lines=3)
    >>> subcommand_parser(Demo, "demo", None).format_help().split("--lines LINES")[-1].split()
    ['lines', 'to', 'make', '(default', '10)']
    """
    import argparse

    p = argparse.ArgumentParser(prog=prog, description=description)
    for f in dataclasses.fields(declared):
        spec, kind = f.metadata["flag"], _kind(f)
        kw: Dict[str, Any] = {"help": _help(spec).replace("%", "%%")}
        if kind == "bool":
            kw["action"] = "store_true"
        elif kind == "list":
            kw.update(action="append", default=[])
        else:
            kw.update(type={"int": int, "float": float, "str": str}[kind], default=spec["default"])
            for key in ("choices", "metavar"):
                if spec.get(key) is not None:
                    kw[key] = spec[key]
        names = spec["names"]
        if names[0].startswith("-"):
            kw["dest"] = f.name
            if spec.get("required"):
                kw["required"] = True
            p.add_argument(*names, **kw)
        else:
            kw.pop("default", None)
            p.add_argument(f.name, **kw)
    return p


_Declared = TypeVar("_Declared")


def parse_subcommand(declared: Type[_Declared], parser: "argparse.ArgumentParser", argv: Sequence[str]) -> _Declared:
    """The subcommand's arguments as an instance of its declaring dataclass."""
    return declared(**vars(parser.parse_args(list(argv))))


#: Every flag, derived from the fields of :class:`Options` (their one declaration).
FLAGS: List[Flag] = _derive_flags()

_BY_NAME: Dict[str, Flag] = {n: f for f in FLAGS for n in f.names}
_BY_DEST: Dict[str, Flag] = {f.dest: f for f in FLAGS}
# Keyword spellings accepted by Model(**options): the dest and every flag name without dashes.
_KEYWORDS: Dict[str, Flag] = {**{n.lstrip("-"): f for f in FLAGS for n in f.names}, **_BY_DEST}

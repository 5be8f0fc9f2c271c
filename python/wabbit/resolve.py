"""Vowpal Wabbit's resolution rules: from the flags given to the learner's configuration.

A flag left out takes its declared default, but some defaults depend on other flags (``--sgd``
makes the learning rate 10), some flags exclude each other, and every number must fit the core.
These rules live here, as functions of an :class:`~wabbit.options.Options`; its methods
(``opts.core_config()``, ``opts.cb_config()``, ...) call them.

>>> from wabbit.options import parse_args
>>> core_config(parse_args("--loss_function logistic"))["learning_rate"]
0.5
>>> core_config(parse_args("--sgd"))["learning_rate"]    # VW: non-default rules default to 10
10.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from wabbit.flags import Flag, OptionError, flag_table

if TYPE_CHECKING:
    from wabbit.options import Options

__all__ = ["core_config", "cb_config", "mc_config", "reward_config", "check_numbers", "interaction_specs"]

# What the core takes: a float flag is a float32; --reward_ttl may be infinite (no TTL).
_FLOAT32_MAX = 3.4028234663852886e38
_MAY_BE_INFINITE = ("reward_ttl",)
# Integer model flags with an upper bound (what the core holds; lower bounds have their own checks).
_INT_MAX: Dict[str, int] = {"cb": 65536, "cb_explore": 65536, "bag": 65536, "first": 2**64 - 1}

_LOSSES = ("squared", "logistic", "hinge", "quantile", "expectile", "poisson", "classic")
_LOSS_ALIASES = {"pinball": "quantile", "absolute": "quantile"}
_LINKS = ("identity", "logistic", "poisson", "glf1")


def _flags(opts: Options) -> List[Flag]:
    return flag_table(type(opts)).flags


def check_numbers(opts: Options) -> None:
    """Model flags' numbers must fit the core: floats finite in float32 (NaN never; infinity
    only where it means "no bound"), counts within the limits documented in the README."""
    for f in _flags(opts):
        if not f.model or not opts.given(f.dest):
            continue
        v = getattr(opts, f.dest)
        name = f.names[-1]
        if f.kind == "float":
            if v != v:
                raise OptionError(f"{name} must be a number, got nan")
            if abs(v) > _FLOAT32_MAX and not (f.dest in _MAY_BE_INFINITE and abs(v) == float("inf")):
                raise OptionError(f"{name} must be a finite number of at most {_FLOAT32_MAX:.4g} in size, got {v!r}")
        elif f.kind == "int" and f.dest in _INT_MAX and v > _INT_MAX[f.dest]:
            raise OptionError(f"{name} takes at most {_INT_MAX[f.dest]}, got {v}")


def interaction_specs(opts: Options) -> List[str]:
    specs: List[str] = []
    for q in opts.quadratic:
        if len(q) != 2:
            raise OptionError(f"-q takes exactly two namespace letters, got {q!r}")
        specs.append(q)
    for c in opts.cubic:
        if len(c) != 3:
            raise OptionError(f"--cubic takes exactly three namespace letters, got {c!r}")
        specs.append(c)
    for i in opts.interactions:
        if len(i) < 2:
            raise OptionError(f"--interactions needs at least two namespace letters, got {i!r}")
        specs.append(i)
    return specs


def core_config(opts: Options) -> Dict[str, Any]:
    """The learner's configuration, after Vowpal Wabbit's defaulting rules.

    VW's default update is adaptive + normalized + invariant with learning rate 0.5. Naming any of
    --sgd/--adaptive/--normalized/--invariant switches to exactly the named ones; then the
    learning rate defaults to 10 (unless both adaptive and normalized are on), and when neither
    adaptive nor normalized is on, initial_t defaults to 1.
    """
    bits = opts.value("bits")
    if not 1 <= bits <= 32:
        raise OptionError(f"-b must be between 1 and 32, got {bits}")
    check_numbers(opts)
    classic = [
        name
        for name, on in (
            ("--perceptron", opts.perceptron),
            ("--pa", opts.pa),
            ("--pa_regressor", opts.pa_regressor),
            ("--ftrl", opts.ftrl),
            ("--coin", opts.coin),
            ("--freegrad", opts.freegrad),
        )
        if on
    ]
    if len(classic) > 1:
        raise OptionError(f"{' and '.join(classic)} are different update rules; choose one")
    default_loss = "hinge" if (opts.perceptron or opts.pa) else opts.value("loss_function")
    loss = _LOSS_ALIASES.get(opts.loss_function or default_loss, opts.loss_function or default_loss)
    if loss not in _LOSSES:
        raise OptionError(f"--loss_function must be one of {', '.join(_LOSSES)}, got {loss!r}")
    explicit = opts.sgd or opts.adaptive or opts.normalized or opts.invariant
    if explicit:
        adaptive, normalized, invariant = opts.adaptive, opts.normalized, opts.invariant
    else:
        adaptive = normalized = invariant = True
    lr = opts.learning_rate
    if lr is None:
        lr = 10.0 if explicit and not (adaptive and normalized) else opts.value("learning_rate")
    initial_t = opts.initial_t
    if initial_t is None:
        initial_t = 1.0 if explicit and not adaptive and not normalized else opts.value("initial_t")
    power_t = opts.value("power_t")
    for name, v in (("--learning_rate", lr), ("--power_t", power_t), ("--initial_t", initial_t)):
        if v != v or v in (float("inf"), float("-inf")):
            raise OptionError(f"{name} must be a finite number")
    if lr <= 0:
        raise OptionError(f"--learning_rate must be positive, got {lr}")
    if power_t < 0:
        raise OptionError(f"--power_t must be >= 0, got {power_t}")
    if initial_t < 0:
        raise OptionError(f"--initial_t must be >= 0, got {initial_t}")
    if (opts.logistic_min is not None or opts.logistic_max is not None) and loss != "logistic":
        raise OptionError("--logistic_min/--logistic_max apply only to --loss_function logistic")
    lo, hi = opts.value("logistic_min"), opts.value("logistic_max")
    if loss == "logistic" and not hi > lo:
        raise OptionError("--logistic_max must be greater than --logistic_min")
    tau = opts.value("quantile_tau")
    if opts.quantile_tau is not None and loss != "quantile":
        raise OptionError("--quantile_tau applies only to --loss_function quantile")
    if not 0.0 < tau < 1.0:
        raise OptionError(f"--quantile_tau must be between 0 and 1, got {tau}")
    q = opts.expectile_q
    if q is not None and loss != "expectile":
        raise OptionError("--expectile_q applies only to --loss_function expectile")
    if loss == "expectile" and not (q is not None and 0.0 < q <= 0.5):
        raise OptionError(f"--loss_function expectile needs --expectile_q in (0, 0.5], got {q}")
    link = opts.value("link")
    if link not in _LINKS:
        raise OptionError(f"--link must be one of {', '.join(_LINKS)}, got {link!r}")
    l1, l2 = opts.value("l1"), opts.value("l2")
    if l1 < 0 or l2 < 0:
        raise OptionError("--l1 and --l2 must be >= 0")
    alpha, beta = opts.value("ftrl_alpha"), opts.value("ftrl_beta")
    if (opts.ftrl_alpha is not None or opts.ftrl_beta is not None) and not (opts.ftrl or opts.coin):
        raise OptionError("--ftrl_alpha/--ftrl_beta apply only with --ftrl or --coin")
    if opts.coin:  # VW's coin betting defaults
        alpha = 4.0 if opts.ftrl_alpha is None else alpha
        beta = 1.0 if opts.ftrl_beta is None else beta
    if (opts.ftrl or opts.coin) and (alpha <= 0 or beta < 0):
        raise OptionError("--ftrl_alpha must be > 0 and --ftrl_beta >= 0")
    if opts.standardize_labels and (loss != "squared" or link != "identity" or opts.binary):
        raise OptionError("--standardize_labels applies only to the squared loss, without --link or --binary")
    if opts.standardize_labels and (cb_config(opts) is not None or mc_config(opts) is not None):
        raise OptionError("--standardize_labels applies only to a single regression model (not --cb or --oaa/--csoaa)")
    if opts.center_features and (cb_config(opts) is not None or mc_config(opts) is not None):
        raise OptionError("--center_features applies only to a single model (not --cb or --oaa/--csoaa)")
    fg_flags = (opts.restart, opts.project, opts.radius, opts.fepsilon, opts.flipschitz_const)
    if not opts.freegrad and any(f not in (None, False) for f in fg_flags):
        raise OptionError("--restart/--project/--radius/--fepsilon/--flipschitz_const apply only with --freegrad")
    fepsilon, lipschitz = opts.value("fepsilon"), opts.value("flipschitz_const")
    if not (fepsilon > 0 and lipschitz >= 0 and (opts.radius is None or opts.radius >= 0)):
        raise OptionError("--fepsilon must be > 0, --flipschitz_const >= 0 and --radius >= 0")
    rule = 1 if opts.perceptron else 2 if opts.pa else 3 if opts.pa_regressor else 0
    if rule < 2 and (opts.pa_c is not None or opts.pa_variant is not None or opts.pa_eps is not None):
        raise OptionError("--pa_c/--pa_variant/--pa_eps apply only with --pa or --pa_regressor")
    pa_c, pa_variant, pa_eps = opts.value("pa_c"), opts.value("pa_variant"), opts.value("pa_eps")
    if pa_variant not in (0, 1, 2) or pa_c <= 0 or pa_eps < 0:
        raise OptionError("--pa_variant must be 0, 1 or 2, --pa_c > 0 and --pa_eps >= 0")
    ignore = bytearray()
    for group in opts.ignore:
        ignore += group.encode()
    if opts.keep:
        kept = set(b"".join(k.encode() for k in opts.keep))
        ignore += bytes(b for b in range(256) if b not in kept)
    ignore_linear = b"".join(g.encode() for g in opts.ignore_linear)
    return {
        "bits": bits,
        "loss": loss,
        "quantile_tau": float(tau),
        "link": link,
        "binary": opts.binary,
        "l1": float(l1),
        "l2": float(l2),
        "ftrl": opts.ftrl,
        "coin": opts.coin,
        "standardize_labels": opts.standardize_labels,
        "center_features": opts.center_features,
        "freegrad": opts.freegrad,
        "freegrad_restart": opts.restart,
        "freegrad_project": opts.project,
        "freegrad_radius": -1.0 if opts.radius is None else float(opts.radius),
        "fepsilon": float(fepsilon),
        "flipschitz_const": float(lipschitz),
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
        "constant": not opts.noconstant,
        "initial_weight": float(opts.value("initial_weight")),
        "permutations": opts.permutations,
        "interactions": interaction_specs(opts),
        "has_min_prediction": opts.min_prediction is not None,
        "has_max_prediction": opts.max_prediction is not None,
        "min_prediction": 0.0 if opts.min_prediction is None else float(opts.min_prediction),
        "max_prediction": 0.0 if opts.max_prediction is None else float(opts.max_prediction),
        **({} if q is None else {"expectile_q": float(q)}),
        "cb": cb_config(opts),
        "mc": mc_config(opts),
    }


def mc_config(opts: Options) -> Optional[Dict[str, Any]]:
    """The multiclass settings for the core (None without --oaa/--csoaa), checked as VW checks them.

    >>> from wabbit.options import parse_args
    >>> mc_config(parse_args("--oaa 3 --named_labels cat,dog,bird"))["named_labels"]
    ['cat', 'dog', 'bird']
    >>> mc_config(parse_args("--csoaa 4 --indexing 0"))["indexing"]
    0
    """
    given = [
        f.names[-1]
        for f in _flags(opts)
        if f.dest in ("probabilities", "indexing", "named_labels") and opts.given(f.dest)
    ]
    if opts.oaa is None and opts.csoaa is None:
        if given:
            raise OptionError(f"{', '.join(given)} need --oaa K or --csoaa K")
        return None
    if opts.oaa is not None and opts.csoaa is not None:
        raise OptionError("--oaa and --csoaa are two reductions: give one")
    if opts.cb is not None or opts.cb_adf or opts.cb_explore is not None or opts.cb_explore_adf:
        raise OptionError("--oaa/--csoaa cannot be combined with a contextual bandit")
    k = opts.oaa if opts.oaa is not None else opts.csoaa
    if k is None or not 1 <= k <= 2**24:
        raise OptionError(f"--oaa/--csoaa takes a number of classes in [1, 2^24], got {k}")
    if opts.indexing is not None and opts.indexing not in (0, 1):
        raise OptionError(f"--indexing must be 0 or 1, got {opts.indexing}")
    if opts.probabilities and opts.csoaa is not None:
        raise OptionError("csoaa does not support --probabilities (use --oaa)")
    names: List[str] = []
    if opts.named_labels is not None:
        names = opts.named_labels.split(",")
        if any(not n or any(c in n for c in " \t|:") for n in names) or len(set(names)) != len(names):
            raise OptionError(
                f"--named_labels: distinct, non-empty names without spaces, '|' or ':', got {opts.named_labels!r}"
            )
        if len(names) != k:
            raise OptionError(f"there are {len(names)} named labels: use that as the argument to --oaa/--csoaa")
        if opts.indexing == 0:
            raise OptionError("--named_labels numbers its classes from 1: --indexing 0 does not apply")
    return {
        "oaa": opts.oaa or 0,
        "csoaa": opts.csoaa or 0,
        "probabilities": opts.probabilities,
        "indexing": 2 if opts.indexing is None else int(opts.indexing),
        "named_labels": names,
    }


def cb_config(opts: Options) -> Optional[Dict[str, Any]]:
    """The contextual-bandit settings for the core (None for a plain linear model), checked.

    >>> from wabbit.options import parse_args
    >>> cb_config(parse_args("--cb_explore_adf --softmax --lambda 5"))["explore"]
    'softmax'
    >>> cb_config(parse_args("--cb_adf --cb_type dr"))["cb_type"]
    'dr'
    """
    modes = [
        n
        for n, on in (
            ("--cb", opts.cb is not None),
            ("--cb_adf", opts.cb_adf),
            ("--cb_explore", opts.cb_explore is not None),
            ("--cb_explore_adf", opts.cb_explore_adf),
        )
        if on
    ]
    explore_flags = [
        f.names[-1]
        for f in _flags(opts)
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
        and opts.given(f.dest)
    ]
    if not modes:
        given = explore_flags + [
            f.names[-1] for f in _flags(opts) if f.dest in ("cb_type", "clip_p", "rank_all") and opts.given(f.dest)
        ]
        if given:
            raise OptionError(f"{', '.join(given)} need a contextual bandit mode (--cb_adf, --cb_explore_adf, ...)")
        return None
    if len(modes) > 1 and not (set(modes) == {"--cb_explore_adf", "--cb_adf"}):
        raise OptionError(f"{' and '.join(modes)}: choose one contextual bandit mode")
    k = opts.cb if opts.cb is not None else opts.cb_explore
    if k is not None and k < 1:
        raise OptionError(f"--cb/--cb_explore takes a number of actions >= 1, got {k}")
    explore = opts.cb_explore_adf or opts.cb_explore is not None
    if explore_flags and not explore:
        raise OptionError(f"{', '.join(explore_flags)} need --cb_explore_adf or --cb_explore K")
    algos = [
        n
        for n, on in (
            ("--softmax", opts.softmax),
            ("--squarecb", opts.squarecb),
            ("--first", opts.first is not None),
            ("--bag", opts.bag is not None),
        )
        if on
    ]
    if len(algos) > 1:
        raise OptionError(f"{' and '.join(algos)}: choose one exploration algorithm")
    algo = "none" if not explore else (algos[0].lstrip("-") if algos else "epsilon")
    cb_type = opts.value("cb_type")
    if cb_type not in ("mtr", "ips", "dr", "dm", "sm"):
        raise OptionError(f"--cb_type must be mtr, ips, dr, dm or sm, got {cb_type!r}")
    if algo == "squarecb" and cb_type != "mtr":
        raise OptionError("--squarecb supports only --cb_type mtr (as in VW)")
    if opts.softmax_lambda is not None and algo != "softmax":
        raise OptionError("--lambda applies only with --softmax")
    if (opts.gamma_scale is not None or opts.gamma_exponent is not None) and algo != "squarecb":
        raise OptionError("--gamma_scale/--gamma_exponent apply only with --squarecb")
    if opts.greedify and algo != "bag":
        raise OptionError("--greedify applies only with --bag")
    eps = opts.epsilon if opts.epsilon is not None else (opts.value("epsilon") if algo == "epsilon" else 0.0)
    if not 0.0 <= eps <= 1.0:
        raise OptionError(f"--epsilon must be in [0, 1], got {eps}")
    clip = opts.value("clip_p")
    if not 0.0 <= clip <= 1.0:
        raise OptionError(f"--clip_p must be in [0, 1], got {clip}")
    if opts.first is not None and opts.first < 0:
        raise OptionError(f"--first takes a number of events >= 0, got {opts.first}")
    if opts.bag is not None and opts.bag < 1:
        raise OptionError(f"--bag takes a number of policies >= 1, got {opts.bag}")
    seed = opts.value("random_seed")
    return {
        "num_actions": 0 if k is None else int(k),
        "cb_type": cb_type,
        "explore": algo,
        "epsilon": float(eps),
        "lambda": float(opts.value("softmax_lambda")),
        "gamma_scale": float(opts.value("gamma_scale")),
        "gamma_exponent": float(opts.value("gamma_exponent")),
        "first": 0 if opts.first is None else int(opts.first),
        "bag": 0 if opts.bag is None else int(opts.bag),
        "greedify": opts.greedify,
        "first_only": opts.first_only,
        "rank_all": opts.rank_all,
        "clip_p": float(clip),
        "seed": int(seed) % 2**64,
    }


def reward_config(opts: Options) -> Tuple[float, int]:
    """(ttl seconds, max pending decisions) for delayed rewards (wabbit/decisions.py), checked.

    >>> from wabbit.options import parse_args
    >>> reward_config(parse_args("--reward_ttl 600"))
    (600.0, 1000000)
    """
    ttl = float(opts.value("reward_ttl"))
    cap = opts.value("max_pending")
    if not ttl > 0:
        raise OptionError(f"--reward_ttl takes a positive number of seconds (inf: no limit), got {opts.reward_ttl}")
    if cap < 1:
        raise OptionError(f"--max_pending takes a positive number of decisions, got {opts.max_pending}")
    return ttl, cap

"""Every flag wabbit understands, each declared once: a field of :class:`Options`.

The same :class:`Options` feeds the ``wabbit`` command, ``wabbit.Model(...)`` and the model file
header (which stores the model-defining flags as text, re-parsed here on load). How a flag is
declared and parsed is :mod:`wabbit.flags`; what the flags mean once given (VW's defaulting rules)
is :mod:`wabbit.resolve` (the learner) and :mod:`wabbit.run_settings` (the run).

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
import shlex
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from wabbit import resolve, run_settings
from wabbit.flags import (
    Flag,
    OptionError,
    flag_table,
    format_value,
    help_text,
    option,
    parse_into,
    parse_subcommand,
    repeated,
    subcommand_parser,
    switch,
)
from wabbit.run_settings import MAX_THREADS, cpu_cores, oversubscribed

__all__ = [
    "Options",
    "OptionError",
    "parse_args",
    "flag_help",
    "FLAGS",
    "Flag",
    "option",
    "switch",
    "repeated",
    "subcommand_parser",
    "parse_subcommand",
    "MAX_THREADS",
    "cpu_cores",
    "oversubscribed",
]

# Run-time flags that Model(...) also accepts: how to run, not what to learn (not saved with the model).
_EXECUTION = ("threads", "json", "dsjson", "chain_hash")


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
        help="squared, logistic, hinge, quantile, expectile, poisson or classic",
        model=True,
        structural=True,
        core="loss",
    )
    quantile_tau: Optional[float] = option(
        "--quantile_tau", help="tau of the quantile loss", model=True, structural=True, core="quantile_tau"
    )
    expectile_q: Optional[float] = option(
        "--expectile_q",
        help="q of the expectile loss, in (0, 0.5] (required with it): the squared loss weighted by q where the "
        "prediction is above the label, by 1-q where it is below",
        model=True,
        structural=True,
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
    ftrl: bool = switch(
        "--ftrl",
        help="FTRL-Proximal instead of gradient descent (VW's defaults are often overconfident: "
        "tune --ftrl_alpha, or use --coin)",
        model=True,
        structural=True,
    )
    ftrl_alpha: Optional[float] = option(
        "--ftrl_alpha", help="FTRL learning rate alpha; --coin's alpha", model=True, core="ftrl_alpha", note="--coin: 4"
    )
    ftrl_beta: Optional[float] = option("--ftrl_beta", help="FTRL beta; --coin's beta", model=True, core="ftrl_beta")
    coin: bool = switch(
        "--coin",
        help="coin betting (COCOB), a parameter-free rule instead of gradient descent",
        model=True,
        structural=True,
    )
    standardize_labels: bool = switch(
        "--standardize_labels",
        help="squared loss: learn on labels standardised online (running mean and deviation) and predict "
        "on their scale; for regression targets far from unit scale (not VW's numbers)",
        model=True,
        structural=True,
    )
    center_features: bool = switch(
        "--center_features",
        help="learn on feature values centred online: each minus its feature's running mean over the examples "
        "learned so far (an absent feature counts 0; the constant is not centred); not VW's numbers",
        model=True,
        structural=True,
    )
    freegrad: bool = switch(
        "--freegrad", help="FreeGrad, a parameter-free rule instead of gradient descent", model=True, structural=True
    )
    restart: bool = switch("--restart", help="FreeGrad: use FreeRange restarts", model=True)
    project: bool = switch(
        "--project", help="FreeGrad: project onto a ball (adapts to the comparator's norm)", model=True
    )
    radius: Optional[float] = option(
        "--radius", help="FreeGrad: radius of the projection ball", model=True, note="adaptive when not given"
    )
    fepsilon: Optional[float] = option("--fepsilon", help="FreeGrad: initial wealth", model=True, core="fepsilon")
    flipschitz_const: Optional[float] = option(
        "--flipschitz_const",
        help="FreeGrad: a bound on the gradients' norm, if known (0: none)",
        model=True,
        core="flipschitz_const",
    )
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
    initial_weight: Optional[float] = option(
        "--initial_weight", help="every weight's starting value", model=True, core="initial_weight"
    )
    permutations: bool = switch(
        "--permutations",
        help="interactions of a namespace with itself use every ordered pair of its features (not only i <= j)",
        model=True,
        structural=True,
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
        "--cb_type", help="cost estimator: mtr, ips, dr, dm or sm", model=True, structural=True, core="cb.cb_type"
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
    # --- multiclass (model-defining) --------------------------------------------------------
    oaa: Optional[int] = option(
        "--oaa",
        help="one-against-all multiclass with K classes: labels are a class (1..K) [weight]",
        model=True,
        structural=True,
    )
    csoaa: Optional[int] = option(
        "--csoaa",
        help="cost-sensitive one-against-all with K classes: labels are class:cost ... (lowest cost best)",
        model=True,
        structural=True,
    )
    probabilities: bool = switch(
        "--probabilities",
        help="--oaa: predict every class's probability (use with --loss_function logistic)",
        model=True,
        structural=True,
    )
    indexing: Optional[int] = option(
        "--indexing",
        help="--oaa/--csoaa: classes are 0..K-1 (0) or 1..K (1)",
        model=True,
        structural=True,
        note="1-based until a label 0 is seen",
    )
    named_labels: Optional[str] = option(
        "--named_labels",
        help="--oaa/--csoaa: class names, comma-separated (the first is class 1)",
        model=True,
        structural=True,
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
    raw_predictions: Optional[str] = option(
        "-r", "--raw_predictions", help="--oaa/--csoaa: write every class's raw score to this file (- : stdout)"
    )
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
    json: bool = switch("--json", help="each input line is a JSON example (VW's JSON format; docs/json_input.md)")
    dsjson: bool = switch(
        "--dsjson", help="each input line is a decision-service JSON log line (a bandit event: _label_cost, a, p, c)"
    )
    chain_hash: bool = switch(
        "--chain_hash", help="JSON: a string value's feature hashes as text's key:value, not as key+value"
    )
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
        "--drift_response",
        help="on a drift alarm: alert, reset, boost, switch (to a challenger) or pool (champion, challenger and "
        "frozen past champions judged by a paired test; noise-robust, opt-in)",
        default="alert",
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
        help="--drift_response switch: examples a challenger started at an alarm learns before the gate "
        "(pool: the checkpoint spacing; the paired test's window is 5 gates)",
        default=1000,
    )
    drift_pool_size: Optional[int] = option(
        "--drift_pool_size", help="--drift_response pool: frozen past champions kept", default=3
    )
    threads: Optional[int] = option(
        "--threads",
        help="Hogwild: N threads parse and learn blocks of the input into one weight table",
        default=1,
        note="exact, reproducible, VW's results; 0: one per core",
    )
    onethread: bool = switch("--onethread", help="accepted for VW compatibility (the same as --threads 1, the default)")
    kill_cache: bool = switch("-k", "--kill_cache", help="do not reuse an existing cache file: always write a new one")
    passes: Optional[int] = option(
        "--passes", help="number of passes over the data (more than 1 needs -c or --cache_file)", default=1
    )
    no_stdin: bool = switch("--no_stdin", help="do not read standard input when -d is absent")
    save_resume: bool = switch(
        "--save_resume", help="accepted for VW compatibility (model files always keep the online state)"
    )
    cache: bool = switch("-c", "--cache", help="use a cache file: the data file's name + .cache (<stdin>: .cache)")
    cache_file: Optional[str] = option(
        "--cache_file", help="use this cache file (written on the first pass, read on the others and by later runs)"
    )
    holdout_off: bool = switch("--holdout_off", help="no holdout data in multiple passes")
    holdout_period: Optional[int] = option(
        "--holdout_period", help="hold out every Nth example of a pass (with --passes > 1)", default=10
    )
    holdout_after: Optional[int] = option(
        "--holdout_after", help="hold out every example after the first N of a pass (replaces --holdout_period)"
    )
    early_terminate: Optional[int] = option(
        "--early_terminate",
        help="stop after N passes without a better holdout loss (-f then keeps the best pass's model)",
        default=3,
    )
    decay_learning_rate: Optional[float] = option(
        "--decay_learning_rate", help="multiply the learning rate by this after each pass", default=1.0
    )
    # --- data-parallel training (mpiexec -n N wabbit ... --allreduce; wabbit.distributed) ------
    allreduce: bool = switch(
        "--allreduce",
        help="under mpiexec: each rank learns its share of -d (every N-th block, or -d 'part-{rank}.vw'); "
        "the models are averaged at the end of each pass (docs/distributed.md)",
    )
    sync_every: Optional[int] = option(
        "--sync_every", help="--allreduce: also average the models every N examples (counted on each rank)"
    )
    # --- serving (wabbit --daemon; wabbit.serve.daemon) -----------------------------------
    daemon: bool = switch(
        "--daemon", help="serve the model over VW's line protocol (one example per line in, its prediction out)"
    )
    port: Optional[int] = option(
        "--port", help="--daemon: TCP port of the line protocol (0: the system picks a free one)", default=26542
    )
    port_file: Optional[str] = option("--port_file", help="--daemon: write the bound port to this file")
    pid_file: Optional[str] = option("--pid_file", help="--daemon: write the daemon's process id to this file")
    foreground: bool = switch("--foreground", help="--daemon: stay in the foreground instead of detaching")
    num_children: Optional[int] = option(
        "--num_children", help="--daemon: worker threads, not processes as in VW (default: one per core)"
    )
    listen: Optional[str] = option(
        "--listen",
        help="--daemon: address to bind (0.0.0.0: every interface, as VW binds; the default serves this machine only)",
        default="127.0.0.1",
    )
    http_port: Optional[int] = option(
        "--http_port", help="--daemon: also serve HTTP/JSON and /metrics on this port (0: a free one)"
    )
    publish_every: Optional[int] = option(
        "--publish_every",
        help="--daemon: learn on a private copy and publish it to the readers every N learned examples",
    )
    publish_seconds: Optional[float] = option(
        "--publish_seconds", help="--daemon: learn on a private copy and publish it every S seconds"
    )
    watch: Optional[str] = option(
        "--watch", help="--daemon: follow a model store's current version (-t --watch DIR: a serving replica)"
    )
    canary: Optional[float] = option(
        "--canary",
        help="--daemon with --candidates DIR: answer this share (0..1] of the requests with the candidate "
        "(that store's current version) and score both models on labelled requests (/metrics)",
    )
    candidates: Optional[str] = option(
        "--candidates", help="--daemon --canary F: the model store whose current version is the canary's candidate"
    )
    prediction_log: Optional[str] = option(
        "--prediction_log",
        help="--daemon: log each prediction of a tagged, unlabelled example (the tag is its id) as a JSON line to "
        "a file or kafka://HOST:PORT/TOPIC, for joining late labels (wabbit train --labels)",
    )
    max_line_bytes: Optional[int] = option(
        "--max_line_bytes",
        help="--daemon: longest request line; a longer one gets an error and a close",
        default=1048576,
    )

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
                parts += [name, shlex.quote(format_value(v))]
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
                    f"{shown} {format_value(mine) if f.kind != 'bool' else ''}".rstrip()
                    + f" conflicts with the loaded model, which was trained with: {stored.model_args() or '(defaults)'}"
                )
            setattr(out, f.dest, mine)
        return out

    def model_only(self) -> "Options":
        """Only the model-defining flags of these options (the run-time ones left unset)."""
        out = Options()
        for f in FLAGS:
            if f.model:
                setattr(out, f.dest, getattr(self, f.dest))
        return out

    def run_time_flags(self) -> List[str]:
        """Names of run-time flags that were given (these make no sense in Model(...))."""
        return [f.names[-1] for f in FLAGS if not f.model and f.dest not in _EXECUTION and self.given(f.dest)]

    # What the flags mean: VW's rules, in wabbit/resolve.py (the learner) and wabbit/run_settings.py.
    def interaction_specs(self) -> List[str]:
        """The -q/--cubic/--interactions specs, checked (see :func:`wabbit.resolve.interaction_specs`)."""
        return resolve.interaction_specs(self)

    def core_config(self) -> Dict[str, Any]:
        """The learner's configuration, after VW's defaulting rules (:func:`wabbit.resolve.core_config`)."""
        return resolve.core_config(self)

    def cb_config(self) -> Optional[Dict[str, Any]]:
        """The contextual-bandit settings, or None (:func:`wabbit.resolve.cb_config`)."""
        return resolve.cb_config(self)

    def mc_config(self) -> Optional[Dict[str, Any]]:
        """The multiclass settings, or None (:func:`wabbit.resolve.mc_config`)."""
        return resolve.mc_config(self)

    def reward_config(self) -> Tuple[float, int]:
        """(ttl seconds, max pending decisions) for delayed rewards (:func:`wabbit.resolve.reward_config`)."""
        return resolve.reward_config(self)

    def progress_schedule(self) -> Tuple[bool, float, float]:
        """(additive, step, first dump) of the progress table (:func:`wabbit.run_settings.progress_schedule`)."""
        return run_settings.progress_schedule(self)

    def drift_config(self) -> Optional[Dict[str, Any]]:
        """The --drift settings, or None (:func:`wabbit.run_settings.drift_config`)."""
        return run_settings.drift_config(self)

    def input_format(self) -> int:
        """How input lines are read, as the core numbers it: 0 VW text, 1 --json, 2 --dsjson."""
        return 2 if self.dsjson else 1 if self.json else 0

    def thread_count(self) -> int:
        """--threads as a number of threads (:func:`wabbit.run_settings.thread_count`)."""
        return run_settings.thread_count(self)


#: Every flag, derived from the fields of :class:`Options` (their one declaration).
FLAGS: List[Flag] = flag_table(Options).flags
_BY_DEST: Dict[str, Flag] = flag_table(Options).by_dest


def parse_args(args: Union[str, Sequence[str]] = "", **keywords: Any) -> Options:
    """Parse VW-style flags (a string or a list of tokens) plus keyword options into Options.

    Keywords use the long flag names without dashes (``loss_function="logistic"``,
    ``quadratic=["ua"]``, ``bit_precision=24``) or the short ones (``b=24``, ``q="ua"``, ``l=0.1``).

    >>> parse_args("-b 20", quadratic=["ab"], learning_rate=0.1).model_args()
    '--bit_precision 20 --learning_rate 0.1 --quadratic ab'
    """
    return parse_into(Options(), args, keywords)


def flag_help() -> str:
    """One line per flag, for ``wabbit --help``."""
    return help_text(FLAGS)

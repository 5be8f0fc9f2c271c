"""wabbit's flag parser (wabbit.parse_args / Options) against what Vowpal Wabbit reports.

VW prints the learner's settings on stderr before reading data (``learning rate = X``,
``initial_t = X``, ``power_t = X``); ``--no_stdin`` makes it print them and stop. For each flag set
below the three values VW prints are the expected ones:

* ``initial_t`` and ``power_t`` must equal ``core_config()``'s values;
* VW's printed learning rate is its ``eta`` after setup, which for the non-adaptive,
  non-normalized rules (``--sgd``, ``--invariant``) already includes the factor
  ``initial_t ** power_t`` (``--sgd --initial_t 5`` prints ``10 * sqrt(5) = 22.3607``). So
  ``core_config()["learning_rate"]`` times that factor (when neither adaptive nor normalized)
  must equal VW's number, and the ``learning rate =`` line of wabbit's own CLI must equal VW's line.

The rest checks the parser's contract: model_args() round-trips, errors name the flag, glued
short flags (``-qab``) work as in VW.
"""

from __future__ import annotations

import math
import random
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

import vwcompare
import wabbit
from wabbit import OptionError, parse_args
from wabbit.options import FLAGS

FLAG_SETS = [
    "",
    "--sgd",
    "--adaptive",
    "--normalized",
    "--adaptive --normalized",
    "--invariant",
    "--sgd -l 0.3",
    "--sgd --initial_t 5",
    "--power_t 0.3 --sgd",
    "--sgd --initial_t 5 --power_t 0.3",
    "--invariant --initial_t 4 -l 0.1",
    "--normalized --initial_t 4",
    "--adaptive --initial_t 4",
    "--adaptive --invariant",
    "--normalized --invariant",
    "--sgd --initial_t 0.25 -l 2",
    "--sgd --power_t 0",
    "--initial_t 3",
    "-l 2 --power_t 0.2",
]

_SETTING = re.compile(r"^(learning rate|initial_t|power_t) = (\S+)\s*$")


def _settings(stderr: str) -> dict:
    out = {}
    for line in stderr.splitlines():
        m = _SETTING.match(line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


@pytest.fixture(scope="module")
def reported(vw_available, tmp_path_factory):
    """{flags: (VW's printed settings, wabbit CLI's printed settings)}, run two at a time."""
    cwd = tmp_path_factory.mktemp("options")

    def both(flags):
        args = ["--no_stdin", *flags.split()]
        vw = vwcompare.run_vw(args, cwd)
        wb = vwcompare.run_wabbit(args, cwd)
        assert vw.returncode == 0, vwcompare.describe_run(vw)
        assert wb.returncode == 0, vwcompare.describe_run(wb)
        return flags, (_settings(vw.stderr), _settings(wb.stderr))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(both, FLAG_SETS))


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda f: f or "default")
def test_core_config_matches_vw_settings(reported, flags):
    vw, _ = reported[flags]
    assert set(vw) == {"learning rate", "initial_t", "power_t"}, vw
    cfg = parse_args(flags).core_config()
    assert cfg["initial_t"] == pytest.approx(float(vw["initial_t"]), rel=1e-5, abs=1e-9)
    assert cfg["power_t"] == pytest.approx(float(vw["power_t"]), rel=1e-5, abs=1e-9)
    lr = cfg["learning_rate"]
    if not cfg["adaptive"] and not cfg["normalized"]:
        lr *= cfg["initial_t"] ** cfg["power_t"]
    # VW prints with 6 significant digits
    assert lr == pytest.approx(float(vw["learning rate"]), rel=1e-5, abs=1e-9), (flags, cfg, vw)


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda f: f or "default")
def test_cli_prints_vw_settings(reported, flags):
    vw, wb = reported[flags]
    assert wb == vw


def test_default_rule_is_adaptive_normalized_invariant():
    # VW's default; naming any of the four switches to exactly the named ones (VW's gd setup).
    c = parse_args("").core_config()
    assert (c["adaptive"], c["normalized"], c["invariant"]) == (True, True, True)
    c = parse_args("--sgd").core_config()
    assert (c["adaptive"], c["normalized"], c["invariant"]) == (False, False, False)
    c = parse_args("--adaptive --invariant").core_config()
    assert (c["adaptive"], c["normalized"], c["invariant"]) == (True, False, True)


# ------------------------------------------------------------------------------------ round trip

ROUND_TRIP = [
    "",
    "-b 20",
    "-b24",
    "--loss_function logistic -q ua -b 20",
    "--loss_function=logistic --logistic_min 0 --logistic_max 1",
    "-qab -q ac --cubic abc --interactions abcd",
    "--sgd -l 0.3 --power_t 0.25 --initial_t 5",
    "--adaptive --invariant --noconstant",
    "--normalized -l 0.7",
    "--min_prediction -1.5 --max_prediction 2.25",
    # zero values are values too (0 must not be mistaken for "not given")
    "--sgd --power_t 0",
    "--sgd --initial_t 0",
    "--min_prediction 0 --max_prediction 1",
    "-l 0.1",
    "--learning_rate 1e-3",
    "-d data.vw -f m.bin -p p.txt --quiet -P 3 -b 22",
]


@pytest.mark.parametrize("flags", ROUND_TRIP)
def test_model_args_round_trip(flags):
    o = parse_args(flags)
    again = parse_args(o.model_args())
    assert again.core_config() == o.core_config()
    assert again.model_args() == o.model_args()
    # run-time flags are not part of the model
    assert again.run_time_flags() == []


def test_model_args_keeps_non_default_values():
    o = parse_args("--sgd -l 0.3 --power_t 0.25 --initial_t 5 -q ua -b 20")
    c = parse_args(o.model_args()).core_config()
    assert (c["learning_rate"], c["power_t"], c["initial_t"], c["bits"]) == (0.3, 0.25, 5.0, 20)
    assert c["interactions"] == ["ua"]
    assert (c["adaptive"], c["normalized"], c["invariant"]) == (False, False, False)


def test_keywords_equal_flags():
    kw = parse_args(loss_function="logistic", quadratic=["ua", "ub"], b=20, l=0.25, sgd=True)
    text = parse_args("--loss_function logistic -q ua -q ub -b 20 -l 0.25 --sgd")
    assert kw.core_config() == text.core_config()
    assert parse_args(bit_precision=21).core_config()["bits"] == 21
    assert parse_args("-q ua", q="ub").quadratic == ["ua", "ub"]


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("flag", ["--foo", "--bits", "-z", "--loss", "--sgdd"])
def test_unknown_flag_is_named(flag):
    with pytest.raises(OptionError) as e:
        parse_args(f"-b 20 {flag}")
    assert flag in str(e.value)


def test_unknown_keyword_is_named():
    with pytest.raises(OptionError) as e:
        parse_args(no_such_option=1)
    assert "no_such_option" in str(e.value)
    with pytest.raises(OptionError) as e:
        wabbit.Model(lossfunction="logistic")
    assert "lossfunction" in str(e.value)


@pytest.mark.parametrize(
    "flags, named",
    [
        ("-b", "-b"),
        ("--loss_function", "--loss_function"),
        ("-q", "-q"),
        ("--sgd -l", "-l"),
        ("--power_t", "--power_t"),
    ],
)
def test_missing_value(flags, named):
    with pytest.raises(OptionError) as e:
        parse_args(flags)
    msg = str(e.value)
    assert named in msg and "value" in msg, msg


@pytest.mark.parametrize(
    "flags, named, bad",
    [
        ("-b x", "-b", "x"),
        ("-b 24.5", "-b", "24.5"),
        ("-l abc", "-l", "abc"),
        ("--power_t half", "--power_t", "half"),
        ("--initial_t 1,5", "--initial_t", "1,5"),
    ],
)
def test_wrong_type(flags, named, bad):
    with pytest.raises(OptionError) as e:
        parse_args(flags)
    msg = str(e.value)
    assert named in msg and bad in msg, msg


def test_bool_flag_takes_no_value():
    with pytest.raises(OptionError) as e:
        parse_args("--sgd=1")
    assert "--sgd" in str(e.value)


def test_b33_refused():
    # VW cannot allocate 2**33 weights either; wabbit refuses it up front with a message.
    with pytest.raises(OptionError) as e:
        parse_args("-b 33").core_config()
    assert "-b" in str(e.value) and "33" in str(e.value)
    with pytest.raises(OptionError):
        wabbit.Model("-b 33")
    with pytest.raises(OptionError):
        parse_args("-b 0").core_config()


def test_unknown_loss_refused():
    with pytest.raises(OptionError) as e:
        wabbit.Model("--loss_function expectile")  # VW has it; wabbit does not (yet)
    assert "expectile" in str(e.value)


def test_cli_reports_option_errors(tmp_path):
    for args, named in ((["--foo"], "--foo"), (["-b", "x"], "-b"), (["--loss_function", "expectile"], "expectile")):
        proc = vwcompare.run_wabbit(["--no_stdin", *args], tmp_path)
        assert proc.returncode != 0
        assert named in proc.stderr
        assert "Traceback" not in proc.stderr


def test_bad_interaction_specs():
    # VW: "error, quadratic features must involve two sets."
    with pytest.raises(OptionError):
        parse_args("-q abc").core_config()
    with pytest.raises(OptionError):
        parse_args("--cubic ab").core_config()


# ------------------------------------------------------------------------------------ glued -qab


def _stream(n=300, seed=3):
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        a = " ".join(f"x{rng.randint(0, 9)}" for _ in range(rng.randint(1, 3)))
        b = " ".join(f"y{rng.randint(0, 9)}:{rng.uniform(-1, 1):.3f}" for _ in range(rng.randint(1, 3)))
        lines.append(f"{rng.choice(['1', '-1', '0.5'])} |a {a} |b {b}")
    return lines


def test_glued_short_flags(vw_available):
    o = parse_args("-qab -b20")
    assert o.quadratic == ["ab"] and o.bits == 20
    lines = _stream()
    expected = vwcompare.vw_progressive("-q ab -b 20", lines)
    m = wabbit.Model("-qab -b20")
    got = [m.learn(line) for line in lines]
    assert got == pytest.approx(expected, abs=1e-5)
    # and the interaction really is on: without it predictions differ
    plain = wabbit.Model("-b20")
    assert [plain.learn(line) for line in lines] != pytest.approx(expected, abs=1e-5)


def test_equals_form_for_long_flags():
    assert parse_args("--quadratic=ua --bit_precision=20").core_config() == parse_args("-q ua -b 20").core_config()
    assert not math.isnan(parse_args("--learning_rate=0.25").core_config()["learning_rate"])
    assert parse_args("--learning_rate=0.25").core_config()["learning_rate"] == 0.25


# ------------------------------------------------------------------ one declaration per flag


def test_defaults_come_from_the_core_declarations():
    # The learner's defaults are declared once (cpp/core/config.h, cpp/cb/config.h); the Python
    # config without flags must be exactly those, and VW's documented values (VW: -l 0.5,
    # --power_t 0.5, --epsilon 0.05 for cb_explore_adf, --gamma_scale 10, --lambda 1).
    import wabbit._core as core

    declared = core.config_defaults()
    resolved = parse_args("").core_config()
    for key in ("bits", "loss", "learning_rate", "power_t", "initial_t", "l1", "l2", "link", "quantile_tau"):
        assert resolved[key] == declared[key], key
    assert (declared["learning_rate"], declared["power_t"], declared["bits"]) == (0.5, 0.5, 18)
    cb = parse_args("--cb_explore_adf").cb_config()
    for key in ("epsilon", "lambda", "gamma_scale", "gamma_exponent", "clip_p", "seed", "cb_type"):
        assert cb[key] == declared["cb"][key], key
    assert (cb["epsilon"], cb["gamma_scale"], cb["lambda"]) == (0.05, 10.0, 1.0)


def test_help_shows_the_declared_default():
    by_dest = {f.dest: f for f in FLAGS}
    assert by_dest["epsilon"].default == 0.05
    assert "(default 0.05;" in by_dest["epsilon"].help
    assert by_dest["bits"].help.endswith("(default 18)")
    assert by_dest["quiet"].default is None and "default" not in by_dest["quiet"].help


def test_model_only_keeps_the_model_flags_and_drops_the_run():
    # what `wabbit -i MODEL ...` lays over a saved model: the model flags given, none of the run's
    given = parse_args("-d train.vw -f m.bin -p - --quiet --threads 2 -l 0.25 -q ua --cb_explore_adf --epsilon 0.1")
    kept = given.model_only()
    assert (
        kept.model_args() == given.model_args() == "--learning_rate 0.25 --quadratic ua --cb_explore_adf --epsilon 0.1"
    )
    assert kept.run_time_flags() == [] and kept.threads is None
    assert given.run_time_flags() == ["--data", "--final_regressor", "--predictions", "--quiet"]


def test_the_flag_machinery_serves_any_declaring_dataclass():
    # wabbit.flags knows nothing of Options: a dataclass of its own gets the same table, tokenizer
    # (glued short flags, --name=value, repeated flags) and errors
    import dataclasses
    from typing import List, Optional

    from wabbit.flags import flag_table, option, parse_into, repeated, switch

    @dataclasses.dataclass
    class Small:
        rate: Optional[float] = option("-r", "--rate", help="a rate", default=0.5)
        pairs: List[str] = repeated("-q", "--pairs", help="pairs")
        loud: bool = switch("--loud", help="say more")

    table = flag_table(Small)
    assert [f.dest for f in table.flags] == ["rate", "pairs", "loud"]
    assert [f.kind for f in table.flags] == ["float", "list", "bool"]
    assert table.by_name["-r"].help == "a rate (default 0.5)"
    assert parse_into(Small(), "-r0.25 -qab --pairs=cd --loud", {}) == Small(0.25, ["ab", "cd"], True)
    assert parse_into(Small(), "", {"rate": 2, "q": "ef"}) == Small(2.0, ["ef"], False)
    with pytest.raises(OptionError, match="-r takes a number, got 'x'"):
        parse_into(Small(), "-r x", {})
    with pytest.raises(OptionError, match="unknown option '--bits'"):
        parse_into(Small(), "--bits 3", {})

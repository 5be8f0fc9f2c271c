"""One malformed bandit event, one error text: the CLI (``--cb_explore_adf -d FILE``, its warning on
stderr), ``Model.learn`` and ``wabbit.ope.evaluate_log`` all assemble events with the core's one
event builder (cpp/cb/event.h), so each refuses the same event with the same words, naming the line
and what was wrong in it."""

from __future__ import annotations

import re

import pytest

import vwcompare
import wabbit
from wabbit import ope

# (event, the words the message must hold: the line and what was wrong, with the offending text)
MALFORMED = [
    pytest.param(
        "shared |u a\n0:1:1.5 |a x\n|a y\n",
        ["line 2: ", 'probability 1.5 in "0:1:1.5" is outside (0, 1]'],
        id="probability-above-1",
    ),
    pytest.param(
        "shared |u a\n0:1:0 |a x\n|a y\n",
        ["line 2: ", 'probability 0 in "0:1:0" is outside (0, 1]'],
        id="probability-0",
    ),
    pytest.param(
        "shared |u a\n0:1:0.5 |a x\n1:0:0.5 |a y\n",
        ["line 3: ", "a second labelled action in one event", "the first is action 0"],
        id="two-labelled-actions",
    ),
    pytest.param(
        "shared |u a\n0:abc:0.5 |a x\n|a y\n",
        ["line 2: ", 'bad cost "abc" in "0:abc:0.5"', "not a finite number"],
        id="cost-not-a-number",
    ),
    pytest.param(
        "shared |u a\n0:1:p |a x\n|a y\n",
        ["line 2: ", 'bad probability "p" in "0:1:p"', "not a number"],
        id="probability-not-a-number",
    ),
    pytest.param(
        "shared 0:1:0.5 |u a\n|a x\n|a y\n",
        ["line 1: ", 'a shared line carries no cost: "0:1:0.5"'],
        id="label-on-the-shared-line",
    ),
    pytest.param(
        "|a x\nshared |u a\n0:1:0.5 |a y\n",
        ["line 2: ", "a shared line must come first in its event"],
        id="shared-line-not-first",
    ),
    pytest.param(
        "shared |u a\n0:1 |a x\n|a y\n",
        ["line 2: ", 'cost without a probability in "0:1"', "action:cost:probability"],
        id="label-without-probability",
    ),
    pytest.param(
        "shared |u a\n0:1:0.5 |a x:1.5abc\n|a y\n",
        ["line 2: ", '"1.5abc"'],
        id="feature-value-not-a-number",
    ),
    pytest.param(
        "shared |u a\n",
        ["line 1: ", "an event needs at least one action"],
        id="no-action",
    ),
]


def cli_error(path, tmp_path) -> str:
    proc = vwcompare.run_wabbit(["--cb_explore_adf", "-d", str(path)], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)  # the event is skipped, the run goes on
    found = re.findall(r"wabbit: (line \d+: .*) \(event skipped\)", proc.stderr)
    assert len(found) == 1, proc.stderr
    assert "malformed events skipped = 1" in proc.stderr
    return found[0]


def learn_error(event: str) -> str:
    m = wabbit.Model("--cb_explore_adf")
    with pytest.raises(ValueError) as err:
        m.learn(event)
    return str(err.value)


def ope_error(path) -> str:
    with pytest.raises(ValueError) as err:
        ope.evaluate_log(path, lambda event: [0.5, 0.5], estimators=["ips"])
    text = str(err.value)
    prefix = f"{path}: "
    assert text.startswith(prefix), text  # the log's file, then the core's message
    return text[len(prefix) :]


@pytest.mark.parametrize("event, words", MALFORMED)
def test_the_same_malformed_event_gets_the_same_error_everywhere(event, words, tmp_path):
    path = tmp_path / "log.dat"  # the event alone: its lines are the file's lines
    path.write_text(event)
    cli, api, log = cli_error(path, tmp_path), learn_error(event), ope_error(path)
    assert cli == api == log, (cli, api, log)
    for w in words:
        assert w in cli, (w, cli)
    assert cli.startswith(words[0])


@pytest.mark.parametrize("event, words", MALFORMED[:3])
def test_a_list_of_lines_is_refused_with_the_same_words(event, words):
    lines = event.rstrip("\n").split("\n")
    m = wabbit.Model("--cb_explore_adf")
    with pytest.raises(ValueError) as err:
        m.learn(lines)
    assert str(err.value) == learn_error(event)


def test_a_later_event_is_named_by_its_line_in_the_file(tmp_path):
    good = "shared |u a\n0:1:0.5 |a x\n|a y\n"
    bad = "shared |u b\n|a x\n0:1:7 |a y\n"
    path = tmp_path / "log.dat"
    path.write_text(good + "\n" + bad)
    expected = 'line 7: probability 7 in "0:1:7" is outside (0, 1]'
    assert cli_error(path, tmp_path) == expected
    assert ope_error(path) == expected
    # Model.learn numbers the lines of the event it is given
    assert learn_error(bad) == expected.replace("line 7", "line 3")

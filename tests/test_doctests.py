"""The runnable examples in the package's docstrings are true."""

import doctest
import importlib

import pytest

MODULES = [
    "wabbit",
    "wabbit.model",
    "wabbit.options",
    "wabbit.flags",
    "wabbit.resolve",
    "wabbit.run_settings",
    "wabbit.synth",
    "wabbit.lineage",
    "wabbit.store",
]
MODULES += ["wabbit.drift", "wabbit.drift.base", "wabbit.drift.data", "wabbit.evaluate", "wabbit.monitor"]
MODULES += ["wabbit.ope", "wabbit.decisions"]
MODULES += [f"wabbit.ope.{m}" for m in ("result", "intervals", "estimators", "log", "policy", "cost_model")]
MODULES += [f"wabbit.ope.{m}" for m in ("report", "evaluation")]
MODULES += [f"wabbit.monitor.{m}" for m in ("monitor", "events", "signals", "detectors", "gate", "responses", "pool")]
MODULES += [f"wabbit.cli.{m}" for m in ("process", "summary", "outputs")]
MODULES += ["wabbit.inputs", "wabbit.runs", "wabbit.snapshots", "wabbit.writer", "wabbit.explain", "wabbit.bandit"]
MODULES += ["wabbit.persistence", "wabbit.join", "wabbit.replay", "wabbit.gates"]
MODULES += ["wabbit.stream.source", "wabbit.stream.files", "wabbit.serve.prediction_log"]
MODULES += ["wabbit.trainer", "wabbit.trainer_state", "wabbit.trainer_metrics", "wabbit.cli.trainer_command"]
MODULES += [
    "wabbit.cli.pipeline_demo",
    "wabbit.sklearn",
    "wabbit.progress",
    "wabbit.plot",
    "wabbit.frames",
    "wabbit.distributed",
]
MODULES += [f"wabbit.drift.{m}" for m in ("adwin", "page_hinkley", "kswin", "ddm", "eddm", "hddm_a", "hddm_w")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no runnable examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {name}"

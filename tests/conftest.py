"""Shared fixtures for wabbit's tests against Vowpal Wabbit.

Helpers live in the plain module ``vwcompare`` (next to this file) so test modules can import
them directly; this file exposes them as fixtures:

* ``vw_reference_dir``: the VW reference folder (``$WABBIT_VW_REFERENCE`` or
  ``<repo>/../shared/vw-reference``); tests using it are skipped when it is absent.
* ``reference_cases``: ``{vw_test_id: case}`` from its cases.json.
* ``run_wabbit(args, cwd)`` / ``run_vw(args, cwd)``: run ``python -m wabbit`` / ``python -m
  vowpalwabbit`` and return the CompletedProcess (text, captured output).  ``run_vw`` drops
  ``--onethread``, which VW's Python entry point refuses.
* ``compare_outputs(actual_text, expected_text, kind)``: VW-test-runner style comparison,
  returns a list of differences (empty when equal).

Tests marked ``harness`` check the harness itself against VW and can run before wabbit exists:
``pytest tests -m harness`` (or ``-k harness``).

Tests marked ``asan_skip(reason)`` are skipped under tools/asan.sh (which sets ``WABBIT_ASAN=1``),
with that reason: the few that give a process a ``ulimit -v`` (AddressSanitizer reserves terabytes of
address space for its shadow memory, so a limited process cannot start) or bound its resident
memory (ASan keeps freed blocks in a quarantine of up to 256 MB and adds its shadow). Everything
else they check runs under ASan in other tests.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vwcompare  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "harness: checks of the test harness itself against Vowpal Wabbit (no wabbit needed)",
    )
    config.addinivalue_line("markers", "asan_skip(reason): skipped under AddressSanitizer (tools/asan.sh)")


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("WABBIT_ASAN"):
        return
    for item in items:
        marker = item.get_closest_marker("asan_skip")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason=f"under AddressSanitizer (tools/asan.sh): {marker.args[0]}"))


@pytest.fixture(scope="session")
def vw_reference_dir():
    path = vwcompare.find_reference_dir()
    if path is None:
        tried = ", ".join(str(p) for p in vwcompare.reference_dir_candidates())
        pytest.skip(
            f"VW reference data not found (looked for cases.json in: {tried}); "
            f"set {vwcompare.REFERENCE_ENV_VAR} to the vw-reference folder"
        )
    return path


@pytest.fixture(scope="session")
def reference_cases(vw_reference_dir):
    return vwcompare.load_cases(vw_reference_dir)


@pytest.fixture(scope="session")
def vw_available():
    if importlib.util.find_spec("vowpalwabbit") is None:
        pytest.skip("the vowpalwabbit package (Vowpal Wabbit itself) is not installed")
    return True


@pytest.fixture(scope="session")
def run_wabbit():
    return vwcompare.run_wabbit


@pytest.fixture(scope="session")
def run_vw(vw_available):
    return vwcompare.run_vw


@pytest.fixture(scope="session")
def compare_outputs():
    return vwcompare.compare_outputs


@pytest.fixture(scope="session")
def wabbit_module():
    """The wabbit Python package; a clear failure (not a skip) when it cannot be imported."""
    try:
        import wabbit
    except Exception as exc:  # pragma: no cover - depends on the build state
        pytest.fail(f"cannot import the wabbit package: {exc!r}")
    return wabbit

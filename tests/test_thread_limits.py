"""Thread counts the machine cannot give (issue 14, items 7 and 11).

Asking for more threads than can be started must give a clear error, not an abort ("terminate
called without an active exception") and not a dead interpreter; more threads than cores must be
said; progress rows with threads must fall at VW's counts. All in subprocesses, with timeouts.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import textwrap

import pytest

import wabbit
from wabbit.synth import write_click_log


@pytest.fixture(scope="module")
def clicks(tmp_path_factory):
    path = tmp_path_factory.mktemp("threads") / "clicks.vw"
    write_click_log(path, 20_000, seed=7)
    return path


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0))


def _limit_memory():
    # 8 MiB thread stacks in 700 MB of address space: about 80 threads fit, 150 do not
    resource.setrlimit(resource.RLIMIT_STACK, (8 << 20, 8 << 20))
    resource.setrlimit(resource.RLIMIT_AS, (700 << 20, 700 << 20))


def _wabbit(args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "wabbit", *args],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def _no_abort(r):
    assert r.returncode >= 0, f"killed by signal {-r.returncode}: {r.stderr[-500:]}"
    assert "terminate called" not in r.stderr
    assert "Traceback" not in r.stderr
    assert "bad label" not in r.stderr


def test_cli_too_many_threads_is_a_clear_error(tmp_path, clicks):
    model = tmp_path / "m.model"
    r = _wabbit(["-d", str(clicks), "--threads", "100000", "-f", str(model)])
    _no_abort(r)
    assert r.returncode == 1
    assert "--threads 100000: at most 1024 threads" in r.stderr
    assert not model.exists()


@pytest.mark.asan_skip("a ulimit -v: ASan's shadow memory needs terabytes of address space")
def test_cli_threads_the_system_refuses(tmp_path, clicks):
    model = tmp_path / "m.model"
    r = _wabbit(["-d", str(clicks), "--threads", "150", "-f", str(model)], preexec_fn=_limit_memory)
    _no_abort(r)
    assert r.returncode == 1
    assert re.search(r"cannot start thread \d+ of 150 \(.*\).*nothing was learned; use fewer threads", r.stderr), (
        r.stderr
    )
    assert not model.exists()


CHILD = textwrap.dedent(
    """
    import resource, sys, warnings
    import wabbit
    path, threads, limit = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "limit"
    m = wabbit.Model()
    if limit:
        resource.setrlimit(resource.RLIMIT_STACK, (8 << 20, 8 << 20))
        resource.setrlimit(resource.RLIMIT_AS, (900 << 20, 900 << 20))
    warnings.simplefilter("ignore")
    try:
        m.learn_many(path, threads=threads)
        print("learned")
    except (ValueError, RuntimeError) as e:
        print(type(e).__name__, e)
    print("examples", m.stats["example_number"])
    m.learn("1 |u user=u1")  # the interpreter and the model live on
    print("alive", m.stats["example_number"])
    """
)


@pytest.mark.parametrize(
    "threads,limit,error",
    [
        (10**6, "none", r"ValueError threads=1000000: at most 1024"),
        pytest.param(
            300,
            "limit",
            r"RuntimeError cannot start thread \d+ of 300 .*nothing was learned",
            marks=pytest.mark.asan_skip("a ulimit -v: ASan's shadow memory needs terabytes of address space"),
        ),
    ],
)
def test_learn_many_threads_that_cannot_be(tmp_path, clicks, threads, limit, error):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    r = subprocess.run(
        [sys.executable, str(script), str(clicks), str(threads), limit], capture_output=True, text=True, timeout=300
    )
    _no_abort(r)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.match(error, lines[0]), r.stdout
    assert lines[1:] == ["examples 0", "alive 1"]  # nothing learned by the failed run


def test_cli_warns_about_more_threads_than_cores(clicks):
    n = cpu_cores() + 1
    r = _wabbit(["-d", str(clicks), "--threads", str(n), "--quiet"])
    assert r.returncode == 0, r.stderr
    assert f"warning: {n} threads on {cpu_cores()} cores" in r.stderr
    r = _wabbit(["-d", str(clicks), "--threads", str(cpu_cores()), "--quiet"])
    assert "warning" not in r.stderr


def test_learn_many_warns_about_more_threads_than_cores(clicks):
    n = cpu_cores() + 1
    m = wabbit.Model()
    with pytest.warns(RuntimeWarning, match=f"{n} threads on {cpu_cores()} cores"):
        m.learn_many(str(clicks), threads=n)


def _counters(stderr: str):
    """The example counter of each progress row."""
    out = []
    for line in stderr.splitlines():
        f = line.split()
        if len(f) == 7 and re.fullmatch(r"\d+", f[2]) and re.fullmatch(r"[\d.]+", f[3]):
            out.append(int(f[2]))
    return out


@pytest.mark.parametrize("progress", [[], ["-P", "1000"], ["-P", "3.0"]])
def test_progress_rows_with_threads_at_vws_counts(tmp_path, clicks, progress):
    vw = subprocess.run(
        [sys.executable, "-m", "vowpalwabbit", "-d", str(clicks), *progress],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert vw.returncode == 0, vw.stderr
    expected = _counters(vw.stderr)
    assert len(expected) > 5
    r = _wabbit(["-d", str(clicks), "--threads", "2", *progress])
    assert r.returncode == 0, r.stderr
    assert "Hogwild threads = 2" in r.stderr
    assert _counters(r.stderr) == expected

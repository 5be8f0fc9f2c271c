"""Data-parallel training over MPI (wabbit.distributed, ``wabbit ... --allreduce``), with the ranks
started by the tests themselves through ``mpiexec -n 2`` and ``-n 4`` (oversubscribed on a 2-core
machine: MPICH's mpiexec allows it by default).

- Exact averaging: after each sync every rank's table is the same, and equals the stated rule
  computed here in numpy from the ranks' tables before the sync (default, --sgd, --ftrl and
  --sgd --normalized).
- Quality: a click log split 4 ways, 3 passes: the holdout loss is within 1% of one process on all
  the data, and better than each rank's share learned alone.
- Faults: a flag mismatch is named; a rank with an empty share takes part; a rank that dies or
  fails ends the others within seconds.

Skipped, with the reason, only when mpi4py or mpiexec is not installed (``pip install 'wabbit[mpi]'``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest

import wabbit
from wabbit import synth

try:
    import mpi4py  # noqa: F401

    _MPI_PROBLEM: Optional[str] = None
except ImportError as e:  # pragma: no cover - the test extra installs it
    _MPI_PROBLEM = f"mpi4py is not installed ({e}): pip install 'wabbit[mpi]'"
MPIEXEC = shutil.which("mpiexec")
if _MPI_PROBLEM is None and MPIEXEC is None:  # pragma: no cover
    _MPI_PROBLEM = "mpiexec is not on PATH (pip's mpich wheel provides it: pip install 'wabbit[mpi]')"

pytestmark = pytest.mark.skipif(_MPI_PROBLEM is not None, reason=str(_MPI_PROBLEM))

# The wabbit under test, for the ranks (a fresh clone's CI imports it from site-packages).
_WABBIT_PARENT = str(Path(wabbit.__file__).resolve().parent.parent)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = _WABBIT_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("WABBIT_DEBUG", None)
    return env


def _mpiexec(parts: List[List[str]], cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    """mpiexec with one or more ``-n N command...`` parts (MPMD: ``a : b``), in its own process
    group, killed whole when it outlives the timeout."""
    cmd: List[str] = [str(MPIEXEC)]
    for i, p in enumerate(parts):
        cmd += ([":"] if i else []) + p
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"mpiexec did not finish in {timeout} s:\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _wabbit(n: int, *args: str) -> List[str]:
    return ["-n", str(n), sys.executable, "-m", "wabbit", *args]


# --- exact averaging ------------------------------------------------------------------------

_RULES = ["", "--sgd", "--ftrl", "--sgd --normalized"]

_WORKER = r"""
import json, sys
import numpy as np
from mpi4py import MPI
import wabbit
from wabbit import distributed

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
out = sys.argv[1]
rules = json.loads(sys.argv[2])
rng = np.random.default_rng(100 + rank)
for k, flags in enumerate(rules):
    m = wabbit.Model("-b 12 --loss_function logistic " + flags)
    for rnd in range(2):
        # each rank its own examples (and some features only it sees), a different number each
        for i in range(50 + 40 * rank + 10 * rnd):
            feats = " ".join(f"f{int(j)}:{rng.uniform(0.1, 3):.3f}" for j in rng.integers(0, 60, 5))
            own = f"r{rank}_{int(rng.integers(0, 5))}"
            m.learn(f"{1 if rng.random() < 0.3 + 0.1 * rank else -1} |a {feats} {own}")
        np.save(f"{out}/pre_{k}_{rnd}_{rank}.npy", m.core.weight_table().copy())
        with open(f"{out}/state_{k}_{rnd}_{rank}.json", "w") as f:
            json.dump(m.core.state(), f)
        distributed.allreduce(m, comm, chunk_floats=768)  # several calls, some of scattered blocks
        np.save(f"{out}/post_{k}_{rnd}_{rank}.npy", m.core.weight_table().copy())
        with open(f"{out}/poststate_{k}_{rnd}_{rank}.json", "w") as f:
            json.dump(m.core.state(), f)
    if rank == 0:
        with open(f"{out}/layout_{k}.json", "w") as f:
            json.dump(m.core.table_layout(), f)
"""


def _stated_rule(pre: List[np.ndarray], layout: dict) -> "tuple[np.ndarray, np.ndarray]":
    """docs/distributed.md's rule, written out again here in numpy (float32); with the sum of the
    terms' magnitudes, which bounds the rounding of a float32 sum taken in another order."""
    n = len(pre)
    slots = layout["slots"]
    if layout["rule"] in ("adaptive", "ftrl"):
        acc = slots["adaptive"] if layout["rule"] == "adaptive" else slots["n"]
        g = np.zeros(pre[0].shape[0], np.float32)
        for t in pre:
            g = g + t[:, acc]
        out = np.zeros_like(pre[0])
        mag = np.zeros_like(pre[0])
        for t in pre:
            share = np.full_like(g, np.float32(1 / n))
            used = g > 0
            share[used] = t[used, acc] / g[used]
            out = out + t * share[:, None]
            mag = mag + np.abs(t * share[:, None])
        return out, mag
    out = sum(pre[1:], pre[0].copy()) * np.float32(1 / n)
    mag = sum((np.abs(t) for t in pre[1:]), np.abs(pre[0])) * np.float32(1 / n)
    if "normalized" in slots:
        c = slots["normalized"]
        out[:, c] = np.maximum.reduce([t[:, c] for t in pre])
        mag[:, c] = 0  # a maximum is exact
    return out, mag


@pytest.mark.parametrize("ranks", [2, 4])
def test_each_sync_is_the_stated_average_on_every_rank(tmp_path: Path, ranks: int) -> None:
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    r = _mpiexec([["-n", str(ranks), sys.executable, str(script), str(tmp_path), json.dumps(_RULES)]], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    for k, flags in enumerate(_RULES):
        layout = json.loads((tmp_path / f"layout_{k}.json").read_text())
        expected_rule = {"": "adaptive", "--sgd": "gd", "--ftrl": "ftrl", "--sgd --normalized": "gd"}[flags]
        assert layout["rule"] == expected_rule
        for rnd in range(2):
            pre = [np.load(tmp_path / f"pre_{k}_{rnd}_{q}.npy") for q in range(ranks)]
            post = [np.load(tmp_path / f"post_{k}_{rnd}_{q}.npy") for q in range(ranks)]
            # the ranks learned different things: the sync had something to average
            assert not np.array_equal(pre[0], pre[1])
            for q in range(1, ranks):
                assert np.array_equal(post[q], post[0]), f"{flags or 'default'}: rank {q} differs after sync {rnd}"
            want, mag = _stated_rule(pre, layout)
            # float32 sums of `ranks` terms in MPI's order, not necessarily numpy's: within a few
            # roundings of the terms' magnitudes (z's terms have both signs and may cancel)
            off = np.abs(post[0].astype(np.float64) - want) - 4 * ranks * np.finfo(np.float32).eps * mag
            assert np.all(off <= 0), f"{flags or 'default'} sync {rnd}: {np.argwhere(off > 0)[:5]}"
            assert np.count_nonzero(want) > 40  # rows to compare
            states = [json.loads((tmp_path / f"state_{k}_{rnd}_{q}.json").read_text()) for q in range(ranks)]
            after = [json.loads((tmp_path / f"poststate_{k}_{rnd}_{q}.json").read_text()) for q in range(ranks)]
            assert all(a == after[0] for a in after)
            assert after[0]["t"] == pytest.approx(np.mean([s["t"] for s in states]))
            assert after[0]["min_label"] == min(s["min_label"] for s in states)
            assert after[0]["max_label"] == max(s["max_label"] for s in states)


# --- quality ----------------------------------------------------------------------------------


def _holdout_loss(model_path: Path, test: Path) -> float:
    m = wabbit.load(str(model_path))
    lines = test.read_text().splitlines()
    p = np.asarray(m.predict_many(lines), dtype=np.float64)  # logistic: the raw score
    y = np.array([1.0 if ln.split(" ", 1)[0] == "1" else -1.0 for ln in lines])
    return float(np.mean(np.logaddexp(0.0, -y * p)))


def test_four_ranks_learn_as_well_as_one_process_and_better_than_each_rank(tmp_path: Path) -> None:
    all_lines = tmp_path / "all.vw"
    synth.write_click_log(all_lines, 100_000, seed=3)
    lines = all_lines.read_text().splitlines(keepends=True)
    train, test = tmp_path / "train.vw", tmp_path / "test.vw"
    train.write_text("".join(lines[:80_000]))
    test.write_text("".join(lines[80_000:]))
    flags = ["--loss_function", "logistic", "-b", "20", "--passes", "3", "--quiet"]
    r = _mpiexec([_wabbit(4, "-d", "train.vw", "--allreduce", "-f", "dist.bin", *flags)], tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    one = subprocess.run(
        [sys.executable, "-m", "wabbit", "-d", "train.vw", "-c", "-k", "--holdout_off", "-f", "one.bin", *flags],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    # each rank's share alone (the same blocks --allreduce gives it), three passes on one process
    from wabbit.distributed import share_buffers

    rank_losses = []
    for q in range(4):
        part = tmp_path / f"part{q}.vw"
        part.write_bytes(b"".join(share_buffers(str(train), q, 4)))
        assert 15_000 < len(part.read_bytes().splitlines()) < 25_000
        alone = subprocess.run(
            [sys.executable, "-m", "wabbit", "-d", part.name, "-c", "-k", "--holdout_off", "-f", f"r{q}.bin", *flags],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert alone.returncode == 0, alone.stderr[-2000:]
        rank_losses.append(_holdout_loss(tmp_path / f"r{q}.bin", test))
    dist = _holdout_loss(tmp_path / "dist.bin", test)
    single = _holdout_loss(tmp_path / "one.bin", test)
    assert dist <= single * 1.01, (dist, single)
    assert dist < min(rank_losses), (dist, rank_losses)


# --- faults -----------------------------------------------------------------------------------


def test_a_flag_mismatch_is_named_at_start(tmp_path: Path) -> None:
    synth.write_click_log(tmp_path / "d.vw", 200, seed=1)
    base = ["-d", "d.vw", "--allreduce", "--loss_function", "logistic"]
    r = _mpiexec([_wabbit(1, *base, "-l", "0.5"), _wabbit(1, *base, "-l", "0.1")], tmp_path, timeout=60)
    assert r.returncode != 0
    assert "different flags" in r.stderr and "--learning_rate" in r.stderr and "rank 1 0.1" in r.stderr, r.stderr


def test_a_rank_with_an_empty_share_takes_part(tmp_path: Path) -> None:
    synth.write_click_log(tmp_path / "part-0.vw", 3000, seed=1)
    (tmp_path / "part-1.vw").write_text("")
    synth.write_click_log(tmp_path / "test.vw", 500, seed=2)
    flags = ["--loss_function", "logistic", "-b", "16"]
    r = _mpiexec([_wabbit(2, "-d", "part-{rank}.vw", "--allreduce", "-f", "dist.bin", *flags)], tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "number of examples = 3000" in r.stderr
    # rank 1 learned nothing: its adaptive sums are 0, so the weighted average is rank 0's model
    alone = wabbit.Model(" ".join(flags))
    alone.learn_many((tmp_path / "part-0.vw").read_text().splitlines())
    test = (tmp_path / "test.vw").read_text().splitlines()
    np.testing.assert_array_equal(wabbit.load(str(tmp_path / "dist.bin")).predict_many(test), alone.predict_many(test))


def test_a_failing_rank_ends_every_rank_with_its_reason(tmp_path: Path) -> None:
    synth.write_click_log(tmp_path / "part-0.vw", 2000, seed=1)  # part-1.vw is missing
    t0 = time.monotonic()
    r = _mpiexec([_wabbit(2, "-d", "part-{rank}.vw", "--allreduce", "--passes", "2")], tmp_path, timeout=60)
    assert r.returncode != 0
    assert "rank 1 of 2" in r.stderr and "part-1.vw: no such file" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 30


_DIES = r"""
import os, signal, sys, time
from mpi4py import MPI
import wabbit
from wabbit import distributed

comm = MPI.COMM_WORLD
m = wabbit.Model("-b 12")
m.learn("1 |a x")
distributed.allreduce(m, comm)
if comm.Get_rank() == 1:
    os.kill(os.getpid(), signal.SIGKILL)  # dies between two syncs
time.sleep(0.5)
distributed.allreduce(m, comm)  # the others wait here for the dead rank
print("not reached", flush=True)
"""


def test_a_dead_rank_ends_the_others_within_seconds(tmp_path: Path) -> None:
    script = tmp_path / "dies.py"
    script.write_text(_DIES)
    t0 = time.monotonic()
    r = _mpiexec([["-n", "3", sys.executable, str(script)]], tmp_path, timeout=60)
    took = time.monotonic() - t0
    assert r.returncode != 0
    assert "not reached" not in r.stdout
    from mpi4py import MPI

    if "MPICH" in MPI.Get_library_version():  # MPICH's mpiexec names the dead process and cleans up
        assert "BAD TERMINATION" in r.stdout + r.stderr
    assert took < 20, took


def test_the_shares_hold_every_line_once(tmp_path: Path) -> None:
    from wabbit.distributed import share_buffers

    path = tmp_path / "d.vw"
    lines = [f"{i} |a f{i} " + "x" * (i % 97) for i in range(20_000)]
    lines[500] = "1 |a " + "long " * 3000  # a line longer than a block
    path.write_text("\n".join(lines) + "\n")
    for ranks in (1, 3, 4):
        got = []
        for q in range(ranks):
            share = b"".join(share_buffers(str(path), q, ranks)).decode().splitlines()
            if ranks > 1:
                assert 0.15 < len(share) / len(lines) < 0.5
            got += share
        assert sorted(got) == sorted(lines)


def test_sync_every_averages_during_the_pass(tmp_path: Path) -> None:
    synth.write_click_log(tmp_path / "d.vw", 6000, seed=4)
    r = _mpiexec([_wabbit(2, "-d", "d.vw", "--allreduce", "--sync_every", "1000", "-b", "16")], tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "number of examples = 6000" in r.stderr
    rows = [ln.split() for ln in r.stderr.splitlines() if ln[:1].isdigit()]
    counters = [int(x[2]) for x in rows]
    assert counters == sorted(counters) and counters[-1] == 6000
    assert int(rows[-1][5]) >= 3  # each rank's ~3000 examples: a sync every 1000 of them, at least 3


_OTHER_MODELS = r"""
import json, sys
import numpy as np
from mpi4py import MPI
import wabbit
from wabbit import distributed

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
out = sys.argv[1]
rng = np.random.default_rng(7 + rank)
cb = wabbit.Model("--cb_explore_adf -q ua --squarecb --cb_type mtr -b 12")
for i in range(30 + 20 * rank):
    chosen = int(rng.integers(0, 3))
    lines = [f"shared |u user=u{int(rng.integers(0, 5))}"]
    for a in range(3):
        label = f"{a}:{float(rng.random()):.2f}:0.34 " if a == chosen else ""
        lines.append(f"{label}|a ad=a{a} r{rank}")
    cb.learn("\n".join(lines))
mc = wabbit.Model("--oaa 3 -b 12")
for i in range(40 + 25 * rank):
    mc.learn(f"{int(rng.integers(1, 4))} |f x{int(rng.integers(0, 20))} y{rank}")
result = {}
for name, m in (("cb", cb), ("mc", mc)):
    pre = m.core.weight_table().copy()
    distributed.allreduce(m, comm)
    np.save(f"{out}/{name}_pre_{rank}.npy", pre)
    np.save(f"{out}/{name}_post_{rank}.npy", m.core.weight_table())
    extra = m.core.cb_state() if name == "cb" else m.core.mc_state()
    result[name] = {"layout": m.core.table_layout(), "state": m.core.state(), "extra": extra}
with open(f"{out}/other_{rank}.json", "w") as f:
    json.dump(result, f)
"""


def test_bandit_and_multiclass_models_average_their_rows_and_agree(tmp_path: Path) -> None:
    script = tmp_path / "other.py"
    script.write_text(_OTHER_MODELS)
    r = _mpiexec([["-n", "2", sys.executable, str(script), str(tmp_path)]], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    res = [json.loads((tmp_path / f"other_{q}.json").read_text()) for q in range(2)]
    for name in ("cb", "mc"):
        assert res[0][name] == res[1][name]  # the same state, counters and random state on both ranks
        pre = [np.load(tmp_path / f"{name}_pre_{q}.npy") for q in range(2)]
        post = [np.load(tmp_path / f"{name}_post_{q}.npy") for q in range(2)]
        assert np.array_equal(post[0], post[1]) and not np.array_equal(pre[0], pre[1])
        want, mag = _stated_rule(pre, res[0][name]["layout"])
        assert np.all(np.abs(post[0].astype(np.float64) - want) <= 8 * np.finfo(np.float32).eps * mag)

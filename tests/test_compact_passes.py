"""Passes 2..N over memory and over a compact row space (run/pass_store.h) change no number: for every
update rule, with and without interactions and regularisation, a run whose later passes read the cache
file (``WABBIT_PASSES_FROM=cache``, the path tests/test_passes.py checks against Vowpal Wabbit) and runs
whose later passes read the first pass's examples from memory (``memory``) or learn on a gathered copy of
the rows those examples touch (``compact``, the default) leave the same bits in every slot of every row,
the same online state, counts and predictions.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np
import pytest

import wabbit

BITS = 11  # 2048 rows: every row can be read back, and features collide under the mask


def stream(n: int, seed: int, regression: bool = False) -> str:
    """A sparse stream with a weak signal (a few passes overfit it, so the holdout ends runs early),
    values other than 1, importance weights, tags and blank lines."""
    r = random.Random(seed)
    lines = []
    for k in range(n):
        if k % 97 == 50:
            lines.append("\n")
            continue
        u, a = r.randrange(300), r.randrange(40)
        ctx = " ".join(f"c{r.randrange(500)}:{r.uniform(0.2, 2):.3f}" for _ in range(r.randint(0, 3)))
        signal = (u % 7 - 3) * 0.3 + (a % 5 - 2) * 0.4 + r.gauss(0, 1.2)
        label = f"{signal:.4f}" if regression else ("1" if signal > 0 else "-1")
        weight = f" {r.choice([0.5, 1, 1, 2])}" if k % 3 == 0 else ""
        tag = f" 't{k}" if k % 5 == 0 else ""
        lines.append(f"{label}{weight}{tag} |u id{u} |a ad{a} x:{r.uniform(-3, 3):.3f} |c {ctx}\n")
    return "".join(lines)


def run(
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    tmp: Path,
    flags: str,
    data: Path,
    pretrain: Optional[Path],
    **passes: Any,
) -> Tuple[Dict[str, Any], np.ndarray, bytes]:
    """Learns `data` with several passes (after `pretrain`, one plain pass over other features, so that
    rows outside the passes' examples hold weights too); returns the state and statistics, every row of
    the table, and the predictions, as bits."""
    monkeypatch.setenv("WABBIT_PASSES_FROM", source)
    m = wabbit.Model(f"-b {BITS} {flags}")
    if pretrain is not None:
        m.learn_many(str(pretrain))
    preds = m.learn_many(str(data), cache=str(tmp / f"{source}.cache"), **passes)
    rows = np.stack([m._core.weight_row(i) for i in range(1 << BITS)])
    info = {"state": m._core.state(), "stats": m.stats, "rate": m._core.effective_learning_rate()}
    return info, rows, np.asarray(preds, dtype=np.float32).tobytes()


RULES = [
    "",  # adaptive, normalized, invariant
    "--sgd",
    "--adaptive",
    "--normalized",
    "--invariant",
    "--adaptive --normalized",
    "--ftrl",
    "--ftrl --l1 0.01 --l2 0.01",
    "--l1 1e-5",
    "--l2 1e-4",
    "--l1 1e-6 --l2 1e-5 --sgd",
    "--power_t 0.3 --initial_t 2",
]


@pytest.mark.parametrize("interactions", ["", "-q ua"])
@pytest.mark.parametrize("rule", RULES)
def test_every_rule_is_bitwise_the_same(rule, interactions, tmp_path, monkeypatch):
    data = tmp_path / "train.vw"
    data.write_text(stream(600, seed=3))
    pretrain = tmp_path / "pretrain.vw"
    pretrain.write_text(stream(200, seed=4).replace("|u ", "|v ").replace("|a ", "|b "))
    flags = f"--loss_function logistic {rule} {interactions}"
    # with the holdout, runs end early (the best pass is often the first); without it, every pass
    # is learned on the compact rows and scattered back
    for passes in ({"passes": 8}, {"passes": 4, "holdout_off": True}):
        ref = run(monkeypatch, "cache", tmp_path, flags, data, pretrain, **passes)
        assert np.count_nonzero(ref[1][:, 0]) > 100
        for source in ("memory", "compact"):
            got = run(monkeypatch, source, tmp_path, flags, data, pretrain, **passes)
            assert got[0] == ref[0], (source, passes)
            assert got[1].tobytes() == ref[1].tobytes(), (source, passes)
            assert got[2] == ref[2], (source, passes)


@pytest.mark.parametrize("rule", ["--l1 1e-5", "--l2 1e-3", "--l1 1e-4 --l2 1e-3 --sgd", "--l2 0.3 --sgd -l 5"])
def test_regularisation_on_a_fresh_model(rule, tmp_path, monkeypatch):
    """--l1/--l2 with gradient descent on a model that holds no other weights: the compact passes run
    (with other weights in the table they read the cache: the whole-table truncation that a large
    gravity or a small contraction triggers would change rows the compact passes do not hold)."""
    data = tmp_path / "train.vw"
    data.write_text(stream(600, seed=8))
    for passes in ({"passes": 8}, {"passes": 5, "holdout_off": True}):
        ref = run(monkeypatch, "cache", tmp_path, f"--loss_function logistic {rule}", data, None, **passes)
        got = run(monkeypatch, "compact", tmp_path, f"--loss_function logistic {rule}", data, None, **passes)
        assert got[0] == ref[0]
        assert got[1].tobytes() == ref[1].tobytes()
        assert got[2] == ref[2]


@pytest.mark.parametrize(
    "flags, passes",
    [
        ("", {"passes": 6, "holdout_period": 4}),  # squared loss, regression labels
        ("", {"passes": 5, "decay_learning_rate": 0.7}),
        ("--normalized", {"passes": 5, "holdout_off": True}),
        ("", {"passes": 10, "early_terminate": 1}),  # the best pass is the first: kept from the model's table
        ("", {"passes": 4, "early_terminate": 0}),
        ("--noconstant --ignore c", {"passes": 5, "holdout_after": 300}),
    ],
)
def test_holdout_schedules_and_the_kept_pass(flags, passes, tmp_path, monkeypatch):
    data = tmp_path / "train.vw"
    data.write_text(stream(500, seed=5, regression=True))
    pretrain = tmp_path / "pretrain.vw"
    pretrain.write_text(stream(100, seed=6, regression=True))
    ref = run(monkeypatch, "cache", tmp_path, flags, data, pretrain, **passes)
    got = run(monkeypatch, "compact", tmp_path, flags, data, pretrain, **passes)
    assert got[0] == ref[0]
    assert got[1].tobytes() == ref[1].tobytes()
    assert got[2] == ref[2]


def test_the_command_line_saves_the_same_model(tmp_path, run_wabbit, monkeypatch):
    """-f after passes: the same readable model (every row, the online state) either way."""
    (tmp_path / "train.vw").write_text(stream(800, seed=7))
    out = {}
    for source in ("cache", "compact"):
        monkeypatch.setenv("WABBIT_PASSES_FROM", source)
        args = ["-d", "train.vw", "-c", "-k", "--passes", "6", "--loss_function", "logistic", "-b", "16"]
        proc = run_wabbit([*args, "--readable_model", f"{source}.txt", "--save_resume"], tmp_path)
        assert proc.returncode == 0, proc.stderr
        out[source] = ((tmp_path / f"{source}.txt").read_text(), proc.stderr)
    assert out["compact"] == out["cache"]


def test_an_unknown_source_is_refused(tmp_path, monkeypatch):
    (tmp_path / "t.vw").write_text("1 |a b\n-1 |a c\n")
    monkeypatch.setenv("WABBIT_PASSES_FROM", "disk")
    with pytest.raises(Exception, match="WABBIT_PASSES_FROM"):
        wabbit.Model().learn_many(str(tmp_path / "t.vw"), passes=2, cache=str(tmp_path / "c"))


def test_more_rows_than_16_bit_ids_hold(tmp_path, monkeypatch):
    """Past 32,768 distinct rows the kept examples' ids widen from 16 to 32 bits mid-pass."""
    r = random.Random(9)
    lines = []
    for k in range(4000):
        feats = " ".join(
            f"f{r.randrange(200_000)}" + (f":{r.uniform(0.5, 2):.3f}" if j % 4 == 0 else "") for j in range(12)
        )
        lines.append(f"{r.choice(['1', '-1'])} |x {feats} |y k{k % 7}\n")
    data = tmp_path / "wide.vw"
    data.write_text("".join(lines))
    out = {}
    for source in ("cache", "memory", "compact"):
        monkeypatch.setenv("WABBIT_PASSES_FROM", source)
        m = wabbit.Model("-b 18 --loss_function logistic")
        preds = m.learn_many(str(data), cache=str(tmp_path / f"{source}.cache"), passes=3, holdout_off=True)
        idx, _ = m.weights()
        rows = np.stack([m._core.weight_row(int(i)) for i in idx])
        out[source] = (m._core.state(), m.stats, idx.tobytes(), rows.tobytes(), np.asarray(preds).tobytes())
    assert len(idx) > 35_000  # (2^15 = 32,768)
    assert out["memory"] == out["cache"]
    assert out["compact"] == out["cache"]


@pytest.mark.parametrize("max_rows", [1, 300, 1 << 20])  # at once, mid-pass, never
@pytest.mark.parametrize("rule", ["", "--ftrl", "--normalized", "--sgd"])
def test_too_many_rows_go_back_to_the_model_table(rule, max_rows, tmp_path, monkeypatch):
    """Past WABBIT_COMPACT_MAX_ROWS distinct rows (by default an eighth of the table) the first pass
    scatters the compact rows back and goes on on the model's table, the kept examples' ids turned
    back into rows: still the same bits."""
    data = tmp_path / "train.vw"
    data.write_text(stream(600, seed=10))
    pretrain = tmp_path / "pretrain.vw"
    pretrain.write_text(stream(100, seed=11))
    flags = f"--loss_function logistic {rule}"
    for passes in ({"passes": 8}, {"passes": 4, "holdout_off": True}):
        ref = run(monkeypatch, "cache", tmp_path, flags, data, pretrain, **passes)
        monkeypatch.setenv("WABBIT_COMPACT_MAX_ROWS", str(max_rows))
        got = run(monkeypatch, "compact", tmp_path, flags, data, pretrain, **passes)
        monkeypatch.delenv("WABBIT_COMPACT_MAX_ROWS")
        assert got[0] == ref[0]
        assert got[1].tobytes() == ref[1].tobytes()
        assert got[2] == ref[2]

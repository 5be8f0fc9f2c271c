"""VW's own model files (``vw -f``, VW 9.x) loaded by wabbit (docs/vw_model_files.md).

The reference is pip's vowpalwabbit: it trains each configuration and saves the model; then both
programs load that file (``-i model -t``) and predict held-out lines with ``-p``, and the test
demands VW's predictions (or pmfs, scores) within 1e-4. Models VW saved with their online state
(VW 9's default) also continue learning from the file (``-i model`` on new lines, progressive
predictions with ``-p``), compared the same way. Files of reductions wabbit does not have, and
damaged files, are refused with a message that names the reduction or the damage.
"""

from __future__ import annotations

import json
import math
import random
import shlex
import struct

import pytest

import cbdata
import vwcompare

wabbit = pytest.importorskip("wabbit")
vowpalwabbit = pytest.importorskip("vowpalwabbit")

TOL = 1e-4


def regression_lines(n: int, seed: int) -> str:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.uniform(-1, 1), rng.uniform(0, 2)
        y = 2 * a - b + rng.gauss(0, 0.1) + (1 if i % 7 == 0 else 0)
        out.append(
            f"{y:.4f} |a x:{a:.3f} w{rng.randrange(30)} |b y:{b:.3f} v{rng.randrange(10)} "
            f"|c z{rng.randrange(8)} t:{rng.uniform(0, 5):.2f}"
        )
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("vwdata")
    files = {}
    for name, n, seed in (("train", 400, 1), ("test", 100, 2), ("more", 200, 3)):
        files[name] = str(d / f"{name}.txt")
        with open(files[name], "w") as f:
            f.write(regression_lines(n, seed))
    for name, n, seed in (("cbtrain", 300, 5), ("cbtest", 80, 6), ("cbmore", 150, 7)):
        files[name] = str(d / f"{name}.txt")
        cbdata.write(files[name], n, seed=seed)
    for name, n, seed in (("fixtrain", 300, 2), ("fixtest", 80, 9)):
        files[name] = str(d / f"{name}.txt")
        with open(files[name], "w") as f:
            f.write("\n".join(cbdata.fixed_lines(n, seed=seed)) + "\n")
    return files


def numbers(path) -> list:
    """-p output as lists of numbers, one list a line (actions and values of a pmf included)."""
    out = []
    for line in open(path).read().splitlines():
        if line.strip():
            out.append([float(t) for t in line.replace(":", " ").replace(",", " ").split()])
    return out


def assert_close(ours: list, theirs: list, what: str) -> None:
    assert len(ours) == len(theirs) > 0, f"{what}: {len(ours)} predictions vs VW's {len(theirs)}"
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert len(o) == len(t), f"{what}, line {i + 1}: {o} vs VW's {t}"
        for x, y in zip(o, t):
            assert abs(x - y) <= TOL or abs(x - y) <= TOL * abs(y), f"{what}, line {i + 1}: {o} vs VW's {t}"


def vw_train(run_vw, tmp_path, flags: str, train: str) -> str:
    model = str(tmp_path / "model.vw")
    proc = run_vw(shlex.split(flags) + ["-d", train, "-f", model, "--quiet"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    return model


def both(run_wabbit, run_vw, tmp_path, args: list, what: str) -> None:
    """Runs `args` + -p through VW and wabbit and compares the predictions."""
    preds = {}
    for name, runner in (("vw", run_vw), ("wabbit", run_wabbit)):
        out = str(tmp_path / f"{name}.p")
        proc = runner(args + ["-p", out, "--quiet"], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        preds[name] = numbers(out)
    assert_close(preds["wabbit"], preds["vw"], what)


LINEAR = [
    "",  # the default rule (adaptive, normalized, invariant), saved with its state
    "--sgd",
    "--ftrl",
    "-q ab",
    "--cubic abc",
    "--interactions abc",
    "--interactions abc --interactions ac -q bc",
    "--predict_only_model",  # the weights only
    "--sgd --predict_only_model",
    "--ftrl --predict_only_model -q ab",
    "--adaptive",  # two floats a row
    "--normalized",
    "--l2 1e-4",  # a pending L2 factor in the state
    "--noconstant -q ab --ignore c --ignore_linear a",
    "--loss_function logistic --link logistic",
    "-b 20 --sgd --initial_t 3",
    "--power_t 0.3 -l 0.2 --ftrl_alpha 0.1",
]


@pytest.mark.parametrize("flags", LINEAR)
def test_linear_model_predicts_held_out_lines_as_vw(flags, data, tmp_path, run_wabbit, run_vw):
    model = vw_train(run_vw, tmp_path, flags, data["train"])
    both(run_wabbit, run_vw, tmp_path, ["-i", model, "-t", "-d", data["test"]], f"{flags!r}, -t")


@pytest.mark.parametrize("flags", ["", "--sgd", "--ftrl", "-q ab", "--l2 1e-4", "--predict_only_model"])
def test_linear_model_continues_learning_as_vw(flags, data, tmp_path, run_wabbit, run_vw):
    model = vw_train(run_vw, tmp_path, flags, data["train"])
    both(run_wabbit, run_vw, tmp_path, ["-i", model, "-d", data["more"]], f"{flags!r}, continued")


def test_l1_model_tested_with_l1_predicts_as_vw(data, tmp_path, run_wabbit, run_vw):
    """VW does not record --l1; given again with -i, both apply the file's pending truncation
    (without it VW's -t applies it and wabbit does not: docs/vw_model_files.md)."""
    model = vw_train(run_vw, tmp_path, "--l1 1e-4", data["train"])
    both(run_wabbit, run_vw, tmp_path, ["-i", model, "-t", "--l1", "1e-4", "-d", data["test"]], "--l1, -t")


BANDITS = [
    "--cb_adf -q ua",
    "--cb_adf --cb_type dr",
    "--cb_adf --cb_type ips --rank_all",
    "--cb_explore_adf -q ua",
    "--cb_explore_adf --epsilon 0.2 --sgd",
    "--cb_explore_adf --softmax --lambda 5",
    "--cb_explore_adf -q ua --squarecb",
    "--cb_explore_adf --first 500",
    "--cb_explore_adf --bag 3",
    "--cb_explore_adf --ftrl --cb_type dr",
]


@pytest.mark.parametrize("flags", BANDITS)
def test_bandit_model_predicts_and_continues_as_vw(flags, data, tmp_path, run_wabbit, run_vw):
    model = vw_train(run_vw, tmp_path, flags, data["cbtrain"])
    both(run_wabbit, run_vw, tmp_path, ["-i", model, "-t", "-d", data["cbtest"]], f"{flags!r}, -t")
    both(run_wabbit, run_vw, tmp_path, ["-i", model, "-d", data["cbmore"]], f"{flags!r}, continued")


@pytest.mark.parametrize("flags", ["--cb 5", "--cb_explore 5", "--cb 5 --cb_type dr"])
def test_fixed_action_bandit_model_as_vw(flags, data, tmp_path, run_wabbit, run_vw):
    model = vw_train(run_vw, tmp_path, flags, data["fixtrain"])
    both(run_wabbit, run_vw, tmp_path, ["-i", model, "-t", "-d", data["fixtest"]], f"{flags!r}, -t")


def test_python_load_predicts_as_vw(data, tmp_path):
    path = str(tmp_path / "m.vw")
    vw = vowpalwabbit.Workspace(f"-q ab --quiet -f {path}")
    for line in open(data["train"]).read().splitlines():
        vw.learn(line)
    vw.finish()
    ref = vowpalwabbit.Workspace(f"-i {path} -t --quiet")
    model = wabbit.load(path)
    for line in open(data["test"]).read().splitlines()[:30]:
        assert math.isclose(model.predict(line), ref.predict(line), abs_tol=TOL)
    ref.finish()


def test_python_load_gives_vws_pmf(data, tmp_path):
    path = str(tmp_path / "m.vw")
    events = cbdata.events(200, seed=5)
    vw = vowpalwabbit.Workspace(f"--cb_explore_adf -q ua --softmax --lambda 3 --quiet -f {path}")
    for e in events:
        vw.learn(e.strip().split("\n"))
    vw.finish()
    ref = vowpalwabbit.Workspace(f"-i {path} -t --quiet")
    model = wabbit.load(path)
    for e in cbdata.events(20, seed=8):
        theirs = ref.predict(e.strip().split("\n"))
        ours = model.predict(e)
        assert len(ours) == len(theirs) == 10
        assert all(abs(float(o) - t) <= TOL for o, t in zip(ours, theirs)), (list(ours), theirs)
    ref.finish()


def readable_weights(path) -> dict:
    """VW's --readable_model: index:weight lines after the header's ':0' line."""
    lines = open(path).read().splitlines()
    start = lines.index(":0") + 1
    return {int(i): float(w) for i, w in (line.split(":") for line in lines[start:])}


def test_weights_and_inspect_show_what_vw_saved(data, tmp_path, run_vw, run_wabbit):
    model = vw_train(run_vw, tmp_path, "-q ab -b 12", data["train"])
    readable = ["--readable_model", "r.txt", "--predict_only_model", "--quiet"]
    proc = run_vw(["-i", model, "-t", "-d", data["test"]] + readable, tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    theirs = readable_weights(tmp_path / "r.txt")
    rows, values = wabbit.load(model).weights()
    # (VW writes 6 significant digits)
    assert {int(r): pytest.approx(float(v), rel=1e-5, abs=1e-6) for r, v in zip(rows, values)} == theirs
    proc = run_wabbit(["inspect", "--json", model], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    info = json.loads(proc.stdout)
    assert info["format"] == "vw"
    assert info["vw_version"].startswith("9.")
    assert info["vw_options"] == "--quadratic ab" and info["bits"] == 12
    assert info["nonzero_weights"] == len(theirs) and info["saved_state"] is True
    assert info["state"]["t"] == 400.0  # 400 examples of weight 1
    text = run_wabbit(["inspect", model], tmp_path).stdout
    assert "Vowpal Wabbit" in text and "--quadratic ab" in text


def test_a_loaded_vw_model_saves_as_a_wabbit_model(data, tmp_path, run_vw):
    model = vw_train(run_vw, tmp_path, "--cb_explore_adf -q ua --squarecb", data["cbtrain"])
    loaded = wabbit.load(model)
    loaded.save(str(tmp_path / "w.model"))
    again = wabbit.load(str(tmp_path / "w.model"))
    assert again.metadata["vw_model"]["options"].startswith("--cb_adf --cb_explore_adf")
    for e in cbdata.events(10, seed=4):
        assert list(again.predict(e)) == list(loaded.predict(e))


# ------------------------------------------------------------------ what is refused
@pytest.mark.parametrize(
    "flags, named",
    [
        ("--ect 3", "--ect 3"),  # --oaa is supported since issue 18 (tests/test_multiclass.py)
        ("--nn 2", "--nn 2"),
        ("--lda 3", "--lda 3"),
        ("--boosting 3", "--boosting 3"),
        ("--ngram a2", "--ngram a2"),
        ("--cb_explore_adf --cover 3", "--cover 3"),
        ("--cb_explore_adf --regcb", "--regcb"),
        ("--pistol", "--pistol"),
    ],
)
def test_an_unsupported_reduction_is_named(flags, named, data, tmp_path, run_wabbit):
    path = str(tmp_path / "m.vw")
    vowpalwabbit.Workspace(f"{flags} -b 10 --quiet -f {path}").finish()
    with pytest.raises(wabbit.ModelError, match=f"uses {named}, which wabbit does not support"):
        wabbit.load(path)
    proc = run_wabbit(["-i", path, "-t", "-d", data["test"]], tmp_path)
    assert proc.returncode != 0
    assert named in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture()
def saved(tmp_path):
    path = tmp_path / "m.vw"
    vw = vowpalwabbit.Workspace(f"-q ab -b 10 --quiet -f {path}")
    for line in regression_lines(50, 1).splitlines():
        vw.learn(line)
    vw.finish()
    return path.read_bytes()


def test_every_truncation_is_refused_or_ends_on_a_row(saved, tmp_path):
    """VW's file has no length or checksum over its rows: a file cut between two rows is a whole
    file with fewer rows (VW reads it too). Every other cut is refused with ModelError."""
    path = tmp_path / "t.vw"
    header_end = saved.index(b"--quadratic ab") + len(b"--quadratic ab") + 1 + 8  # NUL, checksum
    row = 4 + 3 * 4  # a u32 index and the default rule's three floats
    for n in range(len(saved)):
        path.write_bytes(saved[:n])
        try:
            wabbit.load(str(path))
        except wabbit.ModelError as e:
            assert n < header_end or "truncated" in str(e), (n, str(e))
            if 5 <= n < header_end:
                assert "truncated" in str(e) or "not a wabbit model" in str(e), (n, str(e))
            continue
        assert n > header_end and (len(saved) - n) % row == 0, f"a cut at byte {n} loaded"


def test_a_damaged_header_fails_its_checksum(saved, tmp_path):
    path = tmp_path / "t.vw"
    at = saved.index(b"--quadratic ab")
    for i in range(at, at + 14):
        damaged = bytearray(saved)
        damaged[i] ^= 0x04
        path.write_bytes(bytes(damaged))
        with pytest.raises(wabbit.ModelError, match="checksum"):
            wabbit.load(str(path))
    damaged = bytearray(saved)
    damaged[at + 15 + 4] ^= 0x01  # the stored checksum itself
    path.write_bytes(bytes(damaged))
    with pytest.raises(wabbit.ModelError, match="checksum"):
        wabbit.load(str(path))


def test_every_bit_flip_is_refused_or_loads_a_working_model(saved, tmp_path):
    """Past the header VW's file has no checksum: a flipped bit in a weight is a different weight.
    Whatever is flipped, loading refuses with ModelError or gives a model that predicts."""
    path = tmp_path / "t.vw"
    for i in range(len(saved)):
        damaged = bytearray(saved)
        damaged[i] ^= 1 << (i % 8)
        path.write_bytes(bytes(damaged))
        try:
            model = wabbit.load(str(path))
        except wabbit.ModelError:
            continue
        assert math.isfinite(model.predict("|a x:0.5 w1 |b y:1 v2"))


def test_damaged_rows_are_refused(saved, tmp_path):
    path = tmp_path / "t.vw"
    # the last row: its index beyond the table, then its normalizer negative
    bad_index = saved[:-16] + struct.pack("<I", 1 << 10) + saved[-12:]
    path.write_bytes(bad_index)
    with pytest.raises(wabbit.ModelError, match="row index 1024 is outside"):
        wabbit.load(str(path))
    path.write_bytes(saved[:-4] + struct.pack("<f", -1.0))
    with pytest.raises(wabbit.ModelError, match="negative"):
        wabbit.load(str(path))
    path.write_bytes(saved[:-8] + struct.pack("<f", math.nan) + saved[-4:])
    with pytest.raises(wabbit.ModelError, match="not a finite number"):
        wabbit.load(str(path))


def test_other_vw_versions_are_refused(saved, tmp_path):
    path = tmp_path / "t.vw"
    assert saved[4:5] == b"9"
    path.write_bytes(saved[:4] + b"8" + saved[5:])  # VW's checksum starts after the version
    with pytest.raises(wabbit.ModelError, match=r"version 8\.\d+\.\d+ is not supported"):
        wabbit.load(str(path))


def test_overrides_apply_to_a_vw_model(data, tmp_path, run_vw):
    """The loss is not in VW's file: given with -i (or to load) it is taken, as VW takes it; a
    structural flag the file records still conflicts."""
    model = vw_train(run_vw, tmp_path, "-q ab", data["train"])
    m = wabbit.load(model, "--loss_function quantile")
    assert "--loss_function quantile" in m.args and "--quadratic ab" in m.args
    with pytest.raises(wabbit.OptionError, match="conflicts with the loaded model"):
        wabbit.load(model, "--sgd")

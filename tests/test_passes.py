"""Several passes (--passes with -c), VW's holdout and early termination, against Vowpal Wabbit itself
(pip's vowpalwabbit, run as ``python -m vowpalwabbit``) on generated streams, for every update rule
VW shares with wabbit: the progress table (holdout rows marked 'h'), the summary (examples per pass,
passes used, the best pass's holdout loss), and the predictions of the model -f saved (after early
termination: the best pass's model).

Each program runs in its own folder (both default to DATA.cache, and each rejects the other's
cache). Numbers are compared with VW's test-runner rule (1e-4, by ratio above 1: vwcompare).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import List, Tuple

import pytest

import vwcompare


def click_stream(n: int, seed: int, regression: bool = False, weights: bool = False) -> str:
    """A sparse stream that a few passes overfit: user, ad and context namespaces over many ids,
    labels from a weak signal plus noise (so the holdout loss improves, then gets worse)."""
    r = random.Random(seed)
    lines = []
    for _ in range(n):
        u, a = r.randrange(300), r.randrange(40)
        ctx = " ".join(f"c{r.randrange(500)}:{r.uniform(0.2, 2):.3f}" for _ in range(r.randint(1, 4)))
        signal = (u % 7 - 3) * 0.3 + (a % 5 - 2) * 0.4 + r.gauss(0, 1.2)
        if regression:
            label = f"{signal:.4f}"
        else:
            label = "1" if signal > 0 else "-1"
        w = f" {r.choice([0.5, 1, 1, 2])}" if weights else ""
        lines.append(f"{label}{w} |u id{u} |a ad{a} |c {ctx}\n")
    return "".join(lines)


def run_both(tmp_path: Path, data: str, train: List[str], test_data: str = "") -> Tuple[object, object, str, str]:
    """Train with wabbit and with VW (each in its own folder, -f model), then predict test.vw with
    each saved model; returns (wabbit's run, VW's run, wabbit's test predictions, VW's)."""
    runs = []
    preds = []
    for name, runner in (("wabbit", vwcompare.run_wabbit), ("vw", vwcompare.run_vw)):
        d = tmp_path / name
        d.mkdir()
        (d / "train.vw").write_text(data)
        (d / "test.vw").write_text(test_data or data)
        proc = runner(["-d", "train.vw", "-f", "model", *train], d)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        runs.append(proc)
        t = runner(["-t", "-i", "model", "-d", "test.vw", "-p", "p.txt", "--quiet"], d)
        assert t.returncode == 0, vwcompare.describe_run(t)
        preds.append((d / "p.txt").read_text())
    return runs[0], runs[1], preds[0], preds[1]


def assert_same(tmp_path: Path, data: str, train: List[str], test_data: str = "") -> str:
    ours, vw, our_preds, vw_preds = run_both(tmp_path, data, train, test_data)
    problems = vwcompare.compare_outputs(ours.stderr, vw.stderr, "stderr")
    assert not problems, "\n".join(problems[:10]) + "\n" + vwcompare.describe_run(ours) + vwcompare.describe_run(vw)
    problems = vwcompare.compare_outputs(our_preds, vw_preds, "predictions")
    assert not problems, "the saved models predict differently:\n" + "\n".join(problems[:10])
    return vw.stderr


# Every update rule wabbit shares with VW (--perceptron and --pa are river's, not VW's), with the
# end-of-pass work each exercises: the learning-rate decay, the weights' sync under --l1/--l2.
RULES = [
    "",
    "--sgd",
    "--adaptive",
    "--normalized",
    "--invariant",
    "--adaptive --normalized",
    "--sgd --invariant",
    "--ftrl",
    "--ftrl --ftrl_alpha 0.3 --ftrl_beta 0.5 --l1 0.001",
    "--l1 1e-4 --l2 1e-4",
    "--sgd --l2 1e-4 --decay_learning_rate 0.8",
    "--decay_learning_rate 0.7 -l 2",
    "--power_t 0.3 --initial_t 2 --sgd",
]


@pytest.mark.parametrize("rule", RULES)
def test_logistic_passes_early_termination(rule, tmp_path, vw_available):
    """20 passes that overfit: VW stops early; the same rows, summary, passes used, and the best
    pass's model in -f."""
    data = click_stream(400, seed=11)
    rate = [] if "-l" in rule.split() else ["-l", "1.5"]
    flags = ["-c", "-k", "--passes", "20", "--loss_function", "logistic", *rate, *rule.split()]
    vw_err = assert_same(tmp_path, data, flags, click_stream(150, seed=12))
    assert "h" in vw_err.split()  # holdout rows were compared


def test_some_rules_terminate_early(tmp_path, vw_available):
    """The stream above does make VW stop early (so the early-termination path is what is compared)."""
    data = click_stream(400, seed=11)
    d = tmp_path / "vw"
    d.mkdir()
    (d / "train.vw").write_text(data)
    used = []
    for rule in ("", "--sgd", "--ftrl"):
        proc = vwcompare.run_vw(
            ["-d", "train.vw", "-c", "-k", "--passes", "20", "--loss_function", "logistic", "-l", "1.5", *rule.split()],
            d,
        )
        used.append(int(vwcompare.summary(proc.stderr)["passes used"]))
    assert min(used) < 20, used


@pytest.mark.parametrize("rule", ["", "--sgd", "--adaptive", "--normalized", "--ftrl", "--l2 1e-3"])
def test_squared_weighted_passes(rule, tmp_path, vw_available):
    """Regression labels with importance weights, 6 passes, a holdout every 7th example."""
    data = click_stream(300, seed=5, regression=True, weights=True)
    assert_same(tmp_path, data, ["-c", "-k", "--passes", "6", "--holdout_period", "7", *rule.split()])


@pytest.mark.parametrize(
    "flags",
    [
        "--holdout_off --passes 5",
        "--holdout_after 250 --passes 4",
        "--holdout_after 250",  # one pass, still a holdout (VW: --holdout_after turns it on)
        "--early_terminate 1 --passes 10 -l 3",
        "--early_terminate 0 --passes 4",
        "--passes 6 --holdout_period 3 --decay_learning_rate 0.5",
        "--passes 3 -q ua --noconstant -b 16",
        "--passes 4 --ignore c --keep u --keep a",
        "--passes 2 --binary",
    ],
)
def test_holdout_flags(flags, tmp_path, vw_available):
    data = click_stream(300, seed=3)
    assert_same(tmp_path, data, ["-c", "-k", "--loss_function", "logistic", *flags.split()])


def test_predictions_of_every_pass(tmp_path, vw_available):
    """-p during training writes every pass's predictions (held-out ones included), as VW does."""
    data = click_stream(200, seed=8)
    out = []
    for name, runner in (("wabbit", vwcompare.run_wabbit), ("vw", vwcompare.run_vw)):
        d = tmp_path / name
        d.mkdir()
        (d / "train.vw").write_text(data)
        proc = runner(["-d", "train.vw", "-c", "-k", "--passes", "4", "-p", "p.txt", "--loss_function", "logistic"], d)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        out.append((d / "p.txt").read_text())
    assert len(out[0].splitlines()) == len(out[1].splitlines())
    assert not vwcompare.compare_outputs(out[0], out[1], "predictions")


def test_blank_lines_count_towards_the_holdout(tmp_path, vw_available):
    """VW counts a blank line as an example of the pass when it picks every 10th to hold out."""
    lines = click_stream(120, seed=4).splitlines(keepends=True)
    data = "".join(line + ("\n" if k % 7 == 3 else "") for k, line in enumerate(lines))
    assert_same(tmp_path, data, ["-c", "-k", "--passes", "3", "--loss_function", "logistic"])


def test_the_best_pass_model_is_kept(tmp_path, run_wabbit):
    """A property, without VW: the model an early-terminated run saves is the model of a run with
    --passes set to its best pass (the holdout is the same, so is everything learned)."""
    data = click_stream(1000, seed=11)
    (tmp_path / "train.vw").write_text(data)
    args = ["-d", "train.vw", "-c", "--loss_function", "logistic", "-l", "0.1"]
    long = run_wabbit([*args, "--passes", "20", "-f", "long.model"], tmp_path)
    assert long.returncode == 0, vwcompare.describe_run(long)
    used = int(vwcompare.summary(long.stderr)["passes used"])
    assert used < 20
    best = used - 3  # --early_terminate 3: three passes without a win after the best one
    assert best > 1  # (a one-pass run has no holdout)
    short = run_wabbit([*args, "--passes", str(best), "-f", "short.model"], tmp_path)
    assert short.returncode == 0, vwcompare.describe_run(short)
    assert vwcompare.summary(short.stderr)["average loss"] == vwcompare.summary(long.stderr)["average loss"]
    preds = []
    for m in ("long.model", "short.model"):
        p = run_wabbit(["-t", "-i", m, "-d", "train.vw", "-p", m + ".p", "--quiet"], tmp_path)
        assert p.returncode == 0
        preds.append((tmp_path / (m + ".p")).read_text())
    assert preds[0] == preds[1]


def test_passes_need_a_cache(tmp_path, run_wabbit, vw_available):
    (tmp_path / "train.vw").write_text(click_stream(20, seed=1))
    ours = run_wabbit(["-d", "train.vw", "--passes", "2"], tmp_path)
    vw = vwcompare.run_vw(["-d", "train.vw", "--passes", "2"], tmp_path)
    assert vw.returncode != 0 and ours.returncode != 0
    assert "cache" in ours.stderr


def test_learn_many_passes_equal_the_command_line(tmp_path, vw_available):
    """Model.learn_many(path, passes=N, cache=True) is `vw -d path --passes N -c`: VW's holdout loss,
    and the same model (predictions on the data)."""
    import wabbit

    data = click_stream(300, seed=21)
    (tmp_path / "train.vw").write_text(data)
    vwdir = tmp_path / "vw"
    vwdir.mkdir()
    shutil.copy(tmp_path / "train.vw", vwdir / "train.vw")
    vw = vwcompare.run_vw(
        ["-d", "train.vw", "-c", "--passes", "12", "--loss_function", "logistic", "-l", "1.5", "-f", "m"], vwdir
    )
    assert vw.returncode == 0
    m = wabbit.Model("--loss_function logistic -l 1.5")
    preds = m.learn_many(str(tmp_path / "train.vw"), passes=12, cache=True)
    passes = int(vwcompare.summary(vw.stderr)["passes used"])
    assert m.stats["current_pass"] == passes
    assert len(preds) == 300 * passes
    assert vwcompare.floats_close(m.stats["holdout_best_loss"], vwcompare.summary_value(vw.stderr, "average loss"))
    t = vwcompare.run_vw(["-t", "-i", "m", "-d", "train.vw", "-p", "p.txt", "--quiet"], vwdir)
    assert t.returncode == 0
    theirs = [float(x) for x in (vwdir / "p.txt").read_text().split()]
    ours = [m.predict(line) for line in data.splitlines()]
    assert all(vwcompare.floats_close(a, b) for a, b in zip(ours, theirs))
    # the cache written by the first call is read by the next one
    assert (tmp_path / "train.vw.cache").is_file()


def test_learn_many_refuses_passes_without_a_cache(tmp_path):
    import wabbit

    (tmp_path / "t.vw").write_text("1 |a b\n")
    with pytest.raises(ValueError, match="cache"):
        wabbit.Model().learn_many(str(tmp_path / "t.vw"), passes=2)
    with pytest.raises(TypeError, match="file path"):
        wabbit.Model().learn_many(["1 |a b"], passes=2, cache=str(tmp_path / "c"))


def test_the_header_names_the_decay(tmp_path, vw_available):
    """VW prints decay_learning_rate in its header with more than one pass (and only then)."""
    (tmp_path / "train.vw").write_text(click_stream(30, seed=2))

    def decay_lines(runner, args):
        proc = runner(["-d", "train.vw", *args], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        return [line for line in proc.stderr.splitlines() if line.startswith("decay_learning_rate")]

    for args in (["-c", "-k", "--passes", "3", "--decay_learning_rate", "0.7"], ["--decay_learning_rate", "0.7"]):
        assert decay_lines(vwcompare.run_wabbit, args) == decay_lines(vwcompare.run_vw, args)
    assert decay_lines(vwcompare.run_wabbit, ["-c", "-k", "--passes", "2"]) == ["decay_learning_rate = 1"]


def test_each_learn_many_call_is_a_run_of_its_own(tmp_path):
    """The pass count and the holdout's best loss belong to one call: a second call on the same
    model starts from pass 0 and compares its passes among themselves (as a new `vw -i` run would)."""
    import wabbit

    (tmp_path / "t.vw").write_text(click_stream(300, seed=9))
    m = wabbit.Model("--loss_function logistic")
    m.learn_many(str(tmp_path / "t.vw"), passes=3, cache=True, early_terminate=5)
    assert (m.stats["current_pass"], m.stats["holdout_on"]) == (3, True)
    m.learn_many(str(tmp_path / "t.vw"), passes=2, cache=True, early_terminate=5)
    assert m.stats["current_pass"] == 2 and 1 <= m.stats["holdout_best_pass"] <= 2
    m.learn_many(str(tmp_path / "t.vw"))
    assert (m.stats["current_pass"], m.stats["holdout_on"]) == (0, False)


@pytest.mark.parametrize("rule", ["", "--sgd", "--ftrl", "--perceptron", "--pa", "--pa_regressor"])
def test_held_out_examples_are_not_learned(rule, tmp_path, run_wabbit):
    """A property for every rule, river's classics included: with --holdout_period 1 every example
    is held out, so nothing is learned and the saved model still predicts what an untrained one does;
    with --holdout_off the same passes do learn."""
    data = click_stream(100, seed=6)
    (tmp_path / "train.vw").write_text(data)
    preds = {}
    for name, extra in (("held", ["--holdout_period", "1"]), ("none", []), ("learned", ["--holdout_off"])):
        args = ["-d", "train.vw", "-c", "-k", "--passes", "3", *rule.split(), *extra]
        if name == "none":
            args = ["-d", "train.vw", *rule.split(), "--passes", "1", "-t"]  # an untrained model
        proc = run_wabbit([*args, "-f", f"{name}.model"] if name != "none" else args + ["-p", "none.p"], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        if name != "none":
            p = run_wabbit(["-t", "-i", f"{name}.model", "-d", "train.vw", "-p", f"{name}.p", "--quiet"], tmp_path)
            assert p.returncode == 0, vwcompare.describe_run(p)
        preds[name] = (tmp_path / f"{name}.p").read_text()
    assert preds["held"] == preds["none"]
    assert preds["learned"] != preds["none"]

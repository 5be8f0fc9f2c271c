"""The ``wabbit`` command line: VW's flags and outputs, compared with ``python -m vowpalwabbit``.

Expected values come from VW run with the same flags on the same file (predictions, progress
rows), from wabbit run another way that must be equivalent (standard input vs ``-d``, training in
two halves vs at once), or from a hand computation (the demo's best constant).
"""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest

import vwcompare


def make_lines(n, seed, unlabeled=True, weights=True, tags=True, labels=("1", "-1", "0.5", "2", "-0.25")):
    """VW text lines with regression labels, importance weights, tags and unlabeled examples."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if unlabeled and rng.random() < 0.1:
            head = ""
        else:
            head = rng.choice(labels)
            if weights and rng.random() < 0.2:
                head += " " + rng.choice(["2", "0.5", "3"])
        tag = f"'t{i}" if tags and rng.random() < 0.25 else ""
        u = " ".join(
            f"{rng.choice('abcdefg')}{rng.randint(0, 40)}"
            + (f":{rng.uniform(-2, 2):.3f}" if rng.random() < 0.4 else "")
            for _ in range(rng.randint(1, 5))
        )
        out.append(f"{head} {tag}|u {u} |a ad={rng.randint(0, 60)} price:{rng.uniform(0.01, 1):.2f} |c h={i % 24}")
    return out


def write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def preds(path):
    return vwcompare.parse_predictions(path.read_text())


def ok(proc):
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    return proc


def run_wabbit_stdin(args, cwd, data: bytes):
    return subprocess.run(
        [sys.executable, "-m", "wabbit", *map(str, args)],
        cwd=str(cwd),
        input=data,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=120,
    )


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    lines = make_lines(1200, seed=17)
    return d, write(d / "train.vw", lines), lines


# ------------------------------------------------------------------------------------ input/output


def test_stdin_equals_file(stream, tmp_path):
    _, data, _ = stream
    from_file = ok(vwcompare.run_wabbit(["-d", data, "-q", "ua", "-p", "file.p"], tmp_path))
    from_stdin = run_wabbit_stdin(["-q", "ua", "-p", "stdin.p"], tmp_path, data.read_bytes())
    assert from_stdin.returncode == 0, from_stdin.stderr.decode()
    stdin_err = from_stdin.stderr.decode()
    assert (tmp_path / "stdin.p").read_text() == (tmp_path / "file.p").read_text()
    assert vwcompare.progress_rows(stdin_err) == vwcompare.progress_rows(from_file.stderr)
    assert vwcompare.summary(stdin_err) == vwcompare.summary(from_file.stderr)
    assert vwcompare.summary(stdin_err)["number of examples"] == "1200"


@pytest.mark.parametrize("target", ["-", "/dev/stdout"])
def test_predictions_to_stdout(vw_available, stream, tmp_path, target):
    _, data, lines = stream
    w = ok(vwcompare.run_wabbit(["-d", data, "-p", target, "--quiet"], tmp_path))
    v = ok(vwcompare.run_vw(["-d", data, "-p", "/dev/stdout", "--quiet"], tmp_path))
    assert len(w.stdout.splitlines()) == len(lines)
    vwcompare.assert_outputs_match(w.stdout, v.stdout, "predictions", label=f"-p {target}")
    # tags are written after the prediction, as VW does
    assert [t for _, t in vwcompare.parse_predictions(w.stdout)] == [
        t for _, t in vwcompare.parse_predictions(v.stdout)
    ]
    assert any(t for _, t in vwcompare.parse_predictions(w.stdout))
    # and equal to what -p FILE writes
    ok(vwcompare.run_wabbit(["-d", data, "-p", "f.p", "--quiet"], tmp_path))
    assert (tmp_path / "f.p").read_text() == w.stdout


def test_quiet_is_silent(stream, tmp_path):
    _, data, _ = stream
    proc = ok(vwcompare.run_wabbit(["-d", data, "--quiet", "-f", "m.bin"], tmp_path))
    assert proc.stderr == ""
    assert proc.stdout == ""
    assert (tmp_path / "m.bin").stat().st_size > 0


def test_progress_additive(vw_available, tmp_path):
    unit = write(tmp_path / "unit.vw", make_lines(40, seed=2, unlabeled=False, weights=False))
    w = ok(vwcompare.run_wabbit(["-d", unit, "-P", "3"], tmp_path))
    v = ok(vwcompare.run_vw(["-d", unit, "-P", "3"], tmp_path))
    counters = [int(row.split()[2]) for row in vwcompare.progress_rows(w.stderr)]
    assert counters == list(range(3, 40, 3))
    vwcompare.assert_outputs_match(w.stderr, v.stderr, "stderr", label="-P 3")


def test_progress_additive_weighted_matches_vw(vw_available, stream, tmp_path):
    # with importance weights VW counts the interval in weight, not examples: follow VW exactly
    _, data, _ = stream
    for flag in (["-P", "3"], ["-P", "100"], ["--progress", "1.5"]):
        w = ok(vwcompare.run_wabbit(["-d", data, *flag], tmp_path))
        v = ok(vwcompare.run_vw(["-d", data, *flag], tmp_path))
        vwcompare.assert_outputs_match(w.stderr, v.stderr, "stderr", label=" ".join(flag))


def test_help(tmp_path):
    proc = ok(vwcompare.run_wabbit(["--help"], tmp_path))
    assert "--loss_function" in proc.stdout
    assert "--quiet" in proc.stdout and "-P" in proc.stdout


# ------------------------------------------------------------------------------------ errors


def test_missing_input_file(tmp_path):
    proc = vwcompare.run_wabbit(["-d", "no_such_file.vw"], tmp_path)
    assert proc.returncode != 0
    assert "no_such_file.vw" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_model_file(stream, tmp_path):
    _, data, _ = stream
    proc = vwcompare.run_wabbit(["-d", data, "-t", "-i", "no_such_model.bin"], tmp_path)
    assert proc.returncode != 0
    assert "no_such_model.bin" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unwritable_final_regressor(stream, tmp_path):
    _, data, _ = stream
    target = tmp_path / "no_such_dir" / "m.bin"
    proc = vwcompare.run_wabbit(["-d", data, "--quiet", "-f", target], tmp_path)
    assert proc.returncode != 0
    assert "m.bin" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------------ models


@pytest.mark.parametrize(
    "flags",
    [[], ["--loss_function", "logistic", "-q", "ua"], ["--sgd"], ["-b", "20", "--noconstant"]],
    ids=lambda f: " ".join(f) or "default",
)
def test_test_only_with_saved_model_matches_vw(vw_available, tmp_path, flags):
    train = write(tmp_path / "train.vw", make_lines(800, seed=31))
    test = write(tmp_path / "test.vw", make_lines(300, seed=32))
    ok(vwcompare.run_wabbit(["-d", train, "-f", "w.model", "--quiet", *flags], tmp_path))
    ok(vwcompare.run_wabbit(["-d", test, "-t", "-i", "w.model", "-p", "w.p", "--quiet"], tmp_path))
    ok(vwcompare.run_vw(["-d", train, "-f", "v.model", "--quiet", *flags], tmp_path))
    ok(vwcompare.run_vw(["-d", test, "-t", "-i", "v.model", "-p", "v.p", "--quiet"], tmp_path))
    vwcompare.assert_outputs_match(
        (tmp_path / "w.p").read_text(), (tmp_path / "v.p").read_text(), "predictions", label="-t -i predictions"
    )
    # -t does not learn: a second test pass gives the same numbers
    ok(vwcompare.run_wabbit(["-d", test, "-t", "-i", "w.model", "-p", "w2.p", "--quiet"], tmp_path))
    assert (tmp_path / "w2.p").read_text() == (tmp_path / "w.p").read_text()


HALVES_FLAGS = {
    "default": [],
    "sgd": ["--sgd"],
    "sgd_logistic_q": ["--sgd", "--loss_function", "logistic", "-q", "ua", "-l", "0.5"],
    # zero-valued flags must survive the model file too
    "sgd_power_t_0": ["--sgd", "--power_t", "0", "-l", "0.05"],
    "logistic_min_0": ["--loss_function", "logistic", "--logistic_min", "0", "--logistic_max", "1"],
}


@pytest.mark.parametrize("name", list(HALVES_FLAGS))
def test_training_in_two_halves_equals_at_once(tmp_path, name):
    flags = HALVES_FLAGS[name]
    labels = ("0", "1") if name == "logistic_min_0" else ("1", "-1", "0.5", "2", "-0.25")
    lines = make_lines(1000, seed=41, labels=labels)  # with unlabeled examples and importance weights
    all_ = write(tmp_path / "all.vw", lines)
    h1 = write(tmp_path / "h1.vw", lines[:500])
    h2 = write(tmp_path / "h2.vw", lines[500:])
    test = write(tmp_path / "test.vw", make_lines(300, seed=42))
    ok(vwcompare.run_wabbit(["-d", all_, "-f", "all.model", "--quiet", *flags], tmp_path))
    ok(vwcompare.run_wabbit(["-d", h1, "-f", "h1.model", "--quiet", *flags], tmp_path))
    ok(vwcompare.run_wabbit(["-d", h2, "-i", "h1.model", "-f", "h2.model", "--quiet"], tmp_path))
    ok(vwcompare.run_wabbit(["-d", test, "-t", "-i", "all.model", "-p", "all.p", "--quiet"], tmp_path))
    ok(vwcompare.run_wabbit(["-d", test, "-t", "-i", "h2.model", "-p", "h2.p", "--quiet"], tmp_path))
    at_once = preds(tmp_path / "all.p")
    halves = preds(tmp_path / "h2.p")
    assert len(at_once) == len(halves) == 300
    worst = max(abs(a - b) for (a, _), (b, _) in zip(at_once, halves))
    assert worst <= 1e-6, f"{name}: two halves differ from one run by up to {worst}"


# ------------------------------------------------------------------------------------ demo


def test_demo(tmp_path):
    from wabbit.synth import click_log

    proc = ok(
        subprocess.run(
            [sys.executable, "-m", "wabbit", "demo", "--lines", "20000"],
            cwd=str(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    )
    avg = vwcompare.summary_value(proc.stderr, "average loss")
    assert vwcompare.summary_value(proc.stderr, "number of examples") == 20000
    # best constant and its loss by hand, from the labels the demo generates (seed 0)
    labels = [float(line.split(" ", 1)[0]) for line in click_log(20000, seed=0)]
    pos = sum(1 for y in labels if y > 0)
    neg = len(labels) - pos
    best = math.log(pos / neg)
    best_loss = (pos * math.log1p(math.exp(-best)) + neg * math.log1p(math.exp(best))) / len(labels)
    assert vwcompare.summary_value(proc.stderr, "best constant") == pytest.approx(best, abs=1e-5)
    assert vwcompare.summary_value(proc.stderr, "best constant's loss") == pytest.approx(best_loss, abs=1e-5)
    assert avg < best_loss

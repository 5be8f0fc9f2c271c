"""Multiclass reductions (--oaa, --csoaa, --probabilities, --indexing, --named_labels) against Vowpal
Wabbit itself (pip's vowpalwabbit): the -p and -r files, the progress table and summary through the
command line (VW's runner rules, vwcompare.py), the progressive predictions through the Python API
(pyvw), on generated streams with weights, tags, unlabelled lines and cost-sensitive test lines.
Also: a saved model goes on exactly as the original, and bad labels are refused naming the line.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import List

import numpy as np
import pytest

import vwcompare

K = 4
NAMES = ["cat", "dog", "bird", "fish"]


def _features(rng: random.Random, c: int) -> str:
    feats = " ".join(f"f{rng.randint(0, 30)}:{rng.random():.3f}" for _ in range(4))
    return f"|a {feats} c{c}_{rng.randint(0, 2)} |b x{rng.randint(0, 5)}"


def oaa_lines(n: int, seed: int, zero_based: bool = False, names: bool = False) -> List[str]:
    """Classes (1..K, 0..K-1 or names), some weighted, some tagged, some unlabelled."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        c = rng.randint(0, K - 1) if zero_based else rng.randint(1, K)
        label = NAMES[c - 1] if names else str(c)
        if i % 17 == 5:
            label = ""
        elif i % 5 == 0:
            label += f" {rng.choice([0.5, 2, 3])}"
        tag = f" 't{i}" if i % 3 == 0 else ""
        out.append(f"{label}{tag} {_features(rng, c)}")
    return out


def csoaa_lines(n: int, seed: int) -> List[str]:
    """Costs for every class, for some classes, none (unlabelled) or classes without costs (test)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        c = rng.randint(1, K)
        if i % 13 == 4:
            label = ""
        elif i % 11 == 3:
            label = "1 2 3"
        elif i % 7 == 2:
            label = f"{c}:0 {c % K + 1}:{rng.random():.3f} 't{i}"
        else:
            label = " ".join(f"{k}:{(0 if k == c else rng.random()):.3f}" for k in range(1, K + 1))
        out.append(f"{label} {_features(rng, c)}")
    return out


STREAMS = {
    "oaa": lambda: oaa_lines(300, 1),
    "oaa0": lambda: oaa_lines(300, 2, zero_based=True),
    "named": lambda: oaa_lines(300, 3, names=True),
    "cs": lambda: csoaa_lines(300, 4),
}

CLI_CASES = [
    ("oaa", "--oaa 4"),
    ("oaa", "--oaa 4 --sgd"),
    ("oaa", "--oaa 4 --adaptive"),
    ("oaa", "--oaa 4 --normalized -q ab"),
    ("oaa", "--oaa 4 -q ab --loss_function logistic"),
    ("oaa", "--oaa 5 -b 3"),
    ("oaa", "--oaa 4 --probabilities --loss_function logistic"),
    ("oaa", "--oaa 4 --indexing 1 --power_t 0.3 --initial_t 2 --sgd"),
    ("oaa0", "--oaa 4"),  # 1-based until the first label 0
    ("oaa0", "--oaa 4 --indexing 0 --adaptive"),
    ("oaa0", "--oaa 4 --indexing 0 --probabilities --loss_function logistic -q ab"),
    ("named", "--oaa 4 --named_labels cat,dog,bird,fish"),
    ("named", "--oaa 4 --named_labels cat,dog,bird,fish --probabilities --loss_function logistic"),
    ("cs", "--csoaa 4"),
    ("cs", "--csoaa 4 --sgd -q ab"),
    ("cs", "--csoaa 4 --normalized"),
    ("cs", "--csoaa 5 --adaptive -l 0.3"),
]


@pytest.fixture(scope="module")
def stream_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("multiclass")
    for name, make in STREAMS.items():
        (d / f"{name}.txt").write_text("\n".join(make()) + "\n")
    return d


@pytest.mark.parametrize("stream,flags", CLI_CASES)
def test_cli_matches_vw(stream, flags, stream_dir, tmp_path, run_vw, run_wabbit):
    data = stream_dir / f"{stream}.txt"
    outs = {}
    for who, run in (("vw", run_vw), ("wb", run_wabbit)):
        proc = run([*flags.split(), "-d", data, "-p", f"{who}.p", "-r", f"{who}.r"], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
        outs[who] = (proc.stderr, (tmp_path / f"{who}.p").read_text(), (tmp_path / f"{who}.r").read_text())
    (vw_err, vw_p, vw_r), (wb_err, wb_p, wb_r) = outs["vw"], outs["wb"]
    assert vwcompare.progress_rows(wb_err), wb_err
    vwcompare.assert_outputs_match(wb_err, vw_err, "stderr", label=f"stderr of {flags}")
    vwcompare.assert_outputs_match(wb_p, vw_p, "predictions", label=f"-p of {flags}")
    assert wb_r.splitlines() == vw_r.splitlines() or not vwcompare.compare_outputs(wb_r, vw_r, "raw")
    assert len(wb_p.splitlines()) == len(data.read_text().splitlines())


def _pyvw_progressive(flags: str, lines: List[str]):
    import vowpalwabbit

    vw = vowpalwabbit.Workspace("--quiet " + flags)
    out = []
    for line in lines:
        ex = vw.example(line)
        vw.learn(ex)
        if "--probabilities" in flags:
            out.append(list(ex.get_scalars()))
        elif "--csoaa" in flags:
            out.append(ex.get_costsensitive_prediction())
        else:
            out.append(ex.get_multiclass_prediction())
        vw.finish_example(ex)
    vw.finish()
    return out


@pytest.mark.parametrize(
    "stream,flags",
    [
        ("oaa", "--oaa 4 --normalized -q ab"),
        ("oaa0", "--oaa 4 --indexing 0 --sgd"),
        ("oaa", "--oaa 4 --probabilities --loss_function logistic"),
        ("cs", "--csoaa 4 -q ab"),
    ],
)
def test_api_progressive_predictions_match_pyvw(stream, flags, wabbit_module, vw_available):
    lines = STREAMS[stream]()
    expected = _pyvw_progressive(flags, lines)
    m = wabbit_module.Model(flags)
    got = [m.learn(line) for line in lines]
    if "--probabilities" in flags:
        np.testing.assert_allclose(np.array(got), np.array(expected), rtol=1e-5, atol=1e-7)
        assert all(isinstance(g, np.ndarray) and g.shape == (K,) for g in got)
    else:
        assert got == expected
        assert all(type(g) is int for g in got)
    # learn_many on a fresh model gives the same progressive predictions, as an array
    many = wabbit_module.Model(flags).learn_many(lines)
    if "--probabilities" in flags:
        assert many.shape == (len(lines), K)
        np.testing.assert_allclose(many, np.array(expected), rtol=1e-5, atol=1e-7)
    else:
        assert many.dtype == np.int64 and many.tolist() == expected


def test_named_labels_api_returns_names(wabbit_module, vw_available):
    lines = STREAMS["named"]()
    flags = "--oaa 4 --named_labels cat,dog,bird,fish"
    import vowpalwabbit

    vw = vowpalwabbit.Workspace("--quiet " + flags)
    expected = []
    for line in lines:
        ex = vw.example(line)
        vw.learn(ex)
        expected.append(NAMES[ex.get_multiclass_prediction() - 1])
        vw.finish_example(ex)
    vw.finish()
    m = wabbit_module.Model(flags)
    assert [m.learn(line) for line in lines] == expected
    assert m.predict("| x") in NAMES
    assert list(wabbit_module.Model(flags).learn_many(lines)) == expected


def test_save_load_goes_on_exactly(wabbit_module, tmp_path):
    for flags, stream in (("--oaa 4 --normalized", "oaa0"), ("--csoaa 4 --adaptive -q ab", "cs")):
        lines = STREAMS[stream]()
        a = wabbit_module.Model(flags)
        a.learn_many(lines[:150])
        a.save(tmp_path / "m.bin")
        b = wabbit_module.load(tmp_path / "m.bin")
        assert b.core.mc_state() == a.core.mc_state()
        assert a.predict_many(lines).tolist() == b.predict_many(lines).tolist()
        # the per-class normalized sums and the learned indexing came back: learning goes on alike
        assert a.learn_many(lines[150:]).tolist() == b.learn_many(lines[150:]).tolist()
        assert a.predict_many(lines).tolist() == b.predict_many(lines).tolist()


@pytest.mark.parametrize(
    "flags,line,words",
    [
        ("--oaa 3", "4 | a", "class 4 is not in 1..3"),
        ("--oaa 3 --indexing 1", "0 | a", "class 0 is not in 1..3"),
        ("--oaa 3 --indexing 0", "3 | a", "class 3 is not in 0..2"),
        ("--oaa 3", "x | a", 'bad class "x"'),
        ("--oaa 3", "1.5 | a", 'bad class "1.5"'),
        ("--oaa 3", "1 2 3 | a", "too many tokens"),
        ("--oaa 3 --named_labels a,b,c", "d | a", 'label "d" is not one of --named_labels'),
        ("--csoaa 3", "1:0.5 2:x | a", 'bad cost "2:x"'),
        ("--csoaa 3", "1:0.5 4:1 | a", "class 4 is not in 1..3"),
        ("--csoaa 3", "1:nan | a", 'bad cost "1:nan"'),
        ("--csoaa 3", "shared | a", "csoaa_ldf"),
    ],
)
def test_bad_labels_named_by_line(flags, line, words, wabbit_module):
    m = wabbit_module.Model(flags)
    good = "1 | a" if "--oaa" in flags and "named" not in flags else ("a | a" if "named" in flags else "1:0 2:1 | a")
    with pytest.raises(ValueError, match="line 2: .*" + re.escape(words)):
        m.learn_many([good, line, good])
    assert m.stats["example_number"] == 1  # the line before was learned, nothing after
    m2 = wabbit_module.Model(flags)
    with pytest.warns(UserWarning, match="line 2"):
        out = m2.learn_many([good, line, good], strict=False)
    assert m2.stats["example_number"] == 2 and m2.stats["bad_lines"] == 1
    assert out[1] in (-1, None)
    with pytest.raises(ValueError, match=re.escape(words)):
        wabbit_module.Model(flags).learn(line)


def test_bad_label_cli_strict_and_not(tmp_path, run_wabbit):
    (tmp_path / "d.txt").write_text("1 | a\n7 | b\n2 | c\n")
    proc = run_wabbit(["--oaa", "3", "-d", "d.txt", "-p", "p.txt"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    assert "line 2: class 7 is not in 1..3" in proc.stderr
    assert (tmp_path / "p.txt").read_text().splitlines()[1] == "nan"
    proc = run_wabbit(["--oaa", "3", "-d", "d.txt", "--strict"], tmp_path)
    assert proc.returncode != 0 and "line 2: class 7" in proc.stderr


@pytest.mark.parametrize(
    "flags,words",
    [
        ("--csoaa 3 --probabilities", "csoaa does not support --probabilities"),
        ("--oaa 3 --named_labels a,b", "there are 2 named labels"),
        ("--oaa 2 --named_labels a,a", "distinct"),
        ("--probabilities", "need --oaa K or --csoaa K"),
        ("--oaa 3 --csoaa 3", "give one"),
        ("--oaa 0", "number of classes"),
        ("--oaa 3 --indexing 2", "--indexing"),
    ],
)
def test_bad_options(flags, words, wabbit_module):
    with pytest.raises(wabbit_module.OptionError, match=words):
        wabbit_module.Model(flags)


def test_unlabelled_lines_predict_and_do_not_learn(wabbit_module):
    m = wabbit_module.Model("--oaa 3")
    for _ in range(20):
        m.learn("2 | a")
    before = m.predict_many(["| a", "| b"]).tolist()
    assert m.learn("| a") == 2  # unlabelled: a prediction, no update
    assert m.predict_many(["| a", "| b"]).tolist() == before
    cs = wabbit_module.Model("--csoaa 3")
    for _ in range(20):
        cs.learn("1:1 2:1 3:0 | a")
    assert cs.predict("| a") == 3
    assert cs.predict("1 2 | a") in (1, 2)  # only the listed classes are candidates


@pytest.mark.parametrize("stream,flags", [("oaa", "--oaa 4 -q ab"), ("cs", "--csoaa 4 --sgd")])
def test_vw_model_files_predict_as_vw(stream, flags, stream_dir, tmp_path, run_vw, run_wabbit):
    """A model VW trained (vw -f) is read by -i and predicts (-t) what VW predicts from it."""
    data = stream_dir / f"{stream}.txt"
    proc = run_vw([*flags.split(), "-d", data, "-f", "vw.model", "--quiet"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    for who, run in (("vw", run_vw), ("wb", run_wabbit)):
        proc = run(["-t", "-i", "vw.model", "-d", data, "-p", f"{who}.p", "-r", f"{who}.r", "--quiet"], tmp_path)
        assert proc.returncode == 0, vwcompare.describe_run(proc)
    vwcompare.assert_outputs_match((tmp_path / "wb.p").read_text(), (tmp_path / "vw.p").read_text(), "predictions")
    assert (tmp_path / "wb.r").read_text() == (tmp_path / "vw.r").read_text()


def test_vw_model_file_with_probabilities(stream_dir, tmp_path, run_vw, wabbit_module):
    """VW does not record --probabilities (nor the loss): given to load(), they apply as in VW."""
    data = stream_dir / "oaa.txt"
    flags = ["--oaa", "4", "--probabilities", "--loss_function", "logistic"]
    assert run_vw([*flags, "-d", data, "-f", "vw.model", "--quiet"], tmp_path).returncode == 0
    proc = run_vw([*flags[2:], "-t", "-i", "vw.model", "-d", data, "-p", "vw.p", "--quiet"], tmp_path)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    lines = (tmp_path / "vw.p").read_text().splitlines()
    expected = [[float(t.split(":")[1]) for t in line.split() if ":" in t] for line in lines]  # tags dropped
    m = wabbit_module.load(tmp_path / "vw.model", "--probabilities --loss_function logistic")
    np.testing.assert_allclose(m.predict_many(str(data)), np.array(expected), rtol=1e-4, atol=1e-6)


def test_not_yet_supported_uses_refused(wabbit_module, tmp_path, run_wabbit):
    from wabbit.drift import PageHinkley

    m = wabbit_module.Model("--oaa 3")
    with pytest.raises(TypeError, match="multiclass"):
        m.monitor(PageHinkley())
    with pytest.raises(TypeError, match="--oaa/--csoaa"):
        wabbit_module.serve(m, port=0)
    with pytest.raises(TypeError, match="text lines"):
        m.learn({"f": {"a": 1}}, label=1)
    (tmp_path / "d.txt").write_text("1 | a\n")
    proc = run_wabbit(["-d", "d.txt", "-r", "raw.txt"], tmp_path)
    assert proc.returncode != 0 and "--oaa/--csoaa only" in proc.stderr

"""Saving and loading models of each new option family (issue 3): FTRL, L1/L2, quantile tau, links,
--binary, --ignore/--keep/--ignore_linear, prediction bounds.

For each family, on test_vw_parity's streams split into a training part and a test part:

* CLI: ``-d train -f model FLAGS`` then ``-d test -t -i model -p preds`` (no flags repeated) gives
  VW's ``-t -i`` predictions for the same two commands (every prediction within VW's runner
  tolerance);
* Python: ``Model(FLAGS)`` (and the same options as keywords) learns the training part; the model
  saved and loaded with ``wabbit.load`` has the same options and predicts the test part identically;
  those predictions are the CLI's ``-t`` predictions, and so are those of the CLI's model file loaded
  in Python.
"""

from __future__ import annotations

import numpy as np
import pytest

import vwcompare
from test_linear_parity import poisson_counts, relabel
from test_vw_parity import STREAMS, generate_stream

N_LINES = 3000
N_TRAIN = 2000

# family -> (stream, flags, the same as Model keywords)
FAMILIES = {
    "ftrl": (
        "regression",
        "--ftrl --ftrl_alpha 0.1 --ftrl_beta 0.5 --l1 0.01 --l2 0.1 -q ab",
        dict(ftrl=True, ftrl_alpha=0.1, ftrl_beta=0.5, l1=0.01, l2=0.1, quadratic="ab"),
    ),
    "ftrl_logistic_link": (
        "pm1",
        "--ftrl --loss_function logistic --link logistic",
        dict(ftrl=True, loss_function="logistic", link="logistic"),
    ),
    "l1": ("regression", "--l1 1e-5", dict(l1=1e-5)),
    "sgd_l1": ("regression", "--sgd --l1 1e-4", dict(sgd=True, l1=1e-4)),
    "quantile_tau": (
        "regression",
        "--loss_function quantile --quantile_tau 0.3",
        dict(loss_function="quantile", quantile_tau=0.3),
    ),
    "link_logistic": (
        "pm1",
        "--loss_function logistic --link logistic",
        dict(loss_function="logistic", link="logistic"),
    ),
    "link_glf1": ("pm1", "--loss_function logistic --link glf1", dict(loss_function="logistic", link="glf1")),
    "link_poisson": ("counts", "--loss_function poisson --link poisson", dict(loss_function="poisson", link="poisson")),
    "binary": ("pm1", "--loss_function logistic --binary", dict(loss_function="logistic", binary=True)),
    "binary_hinge": ("pm1", "--loss_function hinge --binary", dict(loss_function="hinge", binary=True)),
    "ignore": ("regression", "--ignore c -q ab", dict(ignore="c", quadratic="ab")),
    "keep": ("regression", "--keep ab --cubic abb", dict(keep="ab", cubic="abb")),
    "ignore_linear": ("regression", "--ignore_linear a -q ab", dict(ignore_linear="a", quadratic="ab")),
    "min_max_prediction": (
        "regression",
        "--min_prediction -0.5 --max_prediction 0.5",
        dict(min_prediction=-0.5, max_prediction=0.5),
    ),
}

_STREAM_SOURCES = {
    "regression": ("regression", None),
    "pm1": ("logistic", None),
    "counts": ("regression", poisson_counts),
}


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    d = tmp_path_factory.mktemp("save_load")
    out = {}
    for name, (base, transform) in _STREAM_SOURCES.items():
        seed, logistic, unlabeled = STREAMS[base]
        text, examples = generate_stream(N_LINES, seed, logistic=logistic, unlabeled=unlabeled)
        text, _ = relabel(text, examples, transform)
        lines = [l for l in text.splitlines() if l.strip()]
        train, test = d / f"{name}_train.txt", d / f"{name}_test.txt"
        train.write_text("\n".join(lines[:N_TRAIN]) + "\n", encoding="utf-8")
        test.write_text("\n".join(lines[N_TRAIN:]) + "\n", encoding="utf-8")
        out[name] = (train, test)
    return out


def train_then_test(runner, flags, train, test, folder):
    folder.mkdir()
    proc = runner(["-d", str(train), "-f", "model.bin", *flags.split()], folder)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    proc = runner(["-d", str(test), "-t", "-i", "model.bin", "-p", "test.pred"], folder)
    assert proc.returncode == 0, vwcompare.describe_run(proc)
    return vwcompare.parse_predictions((folder / "test.pred").read_text(encoding="utf-8")), folder / "model.bin"


@pytest.mark.parametrize("family", list(FAMILIES))
def test_cli_test_only_predictions_equal_vw(family, splits, tmp_path, vw_available):
    stream, flags, _ = FAMILIES[family]
    train, test = splits[stream]
    ours, _ = train_then_test(vwcompare.run_wabbit, flags, train, test, tmp_path / "wabbit")
    theirs, _ = train_then_test(vwcompare.run_vw, flags, train, test, tmp_path / "vw")
    lines = test.read_text(encoding="utf-8").splitlines()
    assert len(ours) == len(theirs) == len(lines)
    assert [t for _, t in ours] == [t for _, t in theirs], "tags differ"
    off = [
        (i + 1, p, q, lines[i][:70])
        for i, ((p, _), (q, _)) in enumerate(zip(ours, theirs))
        if not vwcompare.floats_close(p, q)
    ]
    assert not off, (
        f"{family} ({flags}): {len(off)}/{len(theirs)} '-t -i' predictions differ from VW's "
        f"(test line, wabbit, VW, line): {off[:5]}"
    )


@pytest.mark.parametrize("family", list(FAMILIES))
def test_model_file_round_trip(family, splits, tmp_path, wabbit_module):
    stream, flags, keywords = FAMILIES[family]
    train, test = splits[stream]
    model = wabbit_module.Model(flags)
    assert wabbit_module.Model(**keywords).options == model.options, "keywords and flags give different models"
    model.learn_many(str(train))
    before = model.predict_many(str(test))
    path = tmp_path / "model.bin"
    model.save(path)
    loaded = wabbit_module.load(path)
    assert loaded.options == model.options
    after = loaded.predict_many(str(test))
    assert np.array_equal(before, after), (
        f"{family}: predictions change after save/load (max diff {np.max(np.abs(before - after))})"
    )
    # the same bytes again, and the weights
    assert loaded.to_bytes() == wabbit_module.Model.from_bytes(loaded.to_bytes()).to_bytes()
    for a, b in zip(model.weights(), loaded.weights()):
        assert np.array_equal(a, b)

    # the CLI's -t predictions and its model file agree with the Python model
    cli_preds, cli_model = train_then_test(vwcompare.run_wabbit, flags, train, test, tmp_path / "cli")
    cli = np.array([p for p, _ in cli_preds])
    np.testing.assert_allclose(after, cli, rtol=1e-6, atol=1e-6)  # -p prints 6 decimals
    from_cli = wabbit_module.load(cli_model)
    assert from_cli.options == model.options
    assert np.array_equal(from_cli.predict_many(str(test)), after)
    if "--binary" in flags:
        assert set(np.unique(after).tolist()) == {-1.0, 1.0}

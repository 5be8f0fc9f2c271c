"""Model files of older format versions keep loading and predicting what they must, forever."""

from pathlib import Path

import numpy as np
import pytest

import wabbit

DATA = Path(__file__).parent / "data" / "compat"


@pytest.mark.parametrize("name", ["model-v1.bin"])
def test_old_model_files_load_and_predict_as_vw_does(name):
    model = wabbit.load(DATA / name)
    ours = model.predict_many(DATA / "test.vw")
    vw = np.loadtxt(DATA / "vw-expected.predict", dtype=np.float64)
    assert ours.shape == vw.shape
    np.testing.assert_allclose(ours, vw, atol=1e-4, rtol=1e-4)


def test_v1_file_carries_its_flags():
    model = wabbit.load(DATA / "model-v1.bin")
    assert model.options.loss_function == "logistic"
    assert model.options.quadratic == ["ua"]
    assert model.bits == 12

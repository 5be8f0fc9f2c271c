"""learn_many(..., progress=True): a tqdm bar moved by the core once a block, with the rate and loss."""

import io
import sys

import numpy as np
import pytest

import wabbit
from wabbit import progress

pytest.importorskip("tqdm")

LINES = ["1 |f a b", "-1 |f c", "1 |g a"] * 8000  # 24,000 examples


def _last_state(text):
    return text.replace("\r", "\n").strip().splitlines()[-1]


def test_the_bar_shows_the_count_the_rate_and_the_running_loss():
    out = io.StringIO()
    m = wabbit.Model("--loss_function logistic")
    m.learn_many(LINES, progress={"file": out, "mininterval": 0})
    last = _last_state(out.getvalue())
    assert "24.0k/24.0k" in last and "ex/s" in last
    assert f"loss={m.average_loss:.6g}" in last  # the model's own running average loss, at the end


def test_the_bar_does_not_change_what_is_learned():
    a, b = wabbit.Model("-q fg"), wabbit.Model("-q fg")
    pa = a.learn_many(LINES, progress={"file": io.StringIO()})
    pb = b.learn_many(LINES)
    np.testing.assert_array_equal(pa, pb)
    assert a.stats["sum_loss"] == b.stats["sum_loss"]


def test_the_core_calls_back_once_a_block_not_once_an_example(monkeypatch):
    seen = []
    real = progress.Bar.update

    def spy(self, n):
        seen.append(n)
        real(self, n)

    monkeypatch.setattr(progress.Bar, "update", spy)
    wabbit.Model().learn_many(LINES, progress={"file": io.StringIO()})
    assert seen == [10_000, 20_000, 24_000]  # two blocks of BLOCK, then the end


def test_csr_rows_and_files_have_a_total(tmp_path):
    sp = pytest.importorskip("scipy.sparse")
    X = sp.random(5000, 20, density=0.2, format="csr", random_state=0)
    assert progress.count_examples(X) == 5000
    assert progress.count_examples((X.indices, X.data, X.indptr)) == 5000
    path = tmp_path / "d.vw"
    path.write_text("\n".join(LINES[:999]) + "\n" + LINES[999])  # no newline at the end
    assert progress.count_examples(str(path)) == 1000
    assert progress.count_examples(b"1 |f a\n2 |f b\n") == 2
    assert progress.count_examples(iter(LINES)) is None  # a generator: not known before the run
    out = io.StringIO()
    m = wabbit.Model()
    m.learn_many(X, labels=np.ones(5000), progress={"file": out, "mininterval": 0})
    assert "5.00k/5.00k" in _last_state(out.getvalue())


def test_without_tqdm_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    m = wabbit.Model()
    with pytest.raises(ImportError, match=r"pip install wabbit\[progress\]"):
        m.learn_many(LINES[:10], progress=True)
    assert m.stats["example_number"] == 0  # refused before anything was learned
    m.learn_many(LINES[:10])  # without progress= tqdm is not needed


def test_progress_takes_true_false_or_tqdm_options():
    with pytest.raises(TypeError, match="progress"):
        wabbit.Model().learn_many(LINES[:10], progress="yes")

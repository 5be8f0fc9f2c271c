"""Contextual bandits against Vowpal Wabbit's own reference cases (../shared/vw-reference).

Case 82: ``--cb_adf -d train-sets/cb_test.ldf --noconstant`` (stderr: progress table and summary,
cost estimator mtr). Case 126: ``--cb_explore_adf --epsilon 0.1 ... -p cbe_adf_epsilon.predict``
(stderr and the predictions file: one pmf line ``action:probability,...`` per event, then a blank
line). Run and compared exactly as test_reference_cases does for the linear cases.
"""

from __future__ import annotations

import pytest

import vwcompare
from test_reference_cases import check_case_outputs, run_case


@pytest.mark.parametrize("case_id", [82, 126])
def test_cb_reference_case(case_id, reference_cases, vw_reference_dir, run_wabbit, tmp_path):
    proc = run_case(run_wabbit, case_id, reference_cases, vw_reference_dir, tmp_path)
    check_case_outputs(proc, reference_cases[case_id], vw_reference_dir, tmp_path)


def test_cb_adf_predictions_file_matches_vw(vw_reference_dir, run_wabbit, run_vw, tmp_path):
    """Case 82 has no -p; with one, wabbit writes what the installed VW writes (the top action per
    event, then a blank line)."""
    args = ["--cb_adf", "-d", str(vw_reference_dir / "train-sets" / "cb_test.ldf"), "--noconstant", "-p", "p.txt"]
    (tmp_path / "w").mkdir()
    (tmp_path / "v").mkdir()
    ours = run_wabbit(args, tmp_path / "w")
    theirs = run_vw(args, tmp_path / "v")
    assert ours.returncode == 0 and theirs.returncode == 0, vwcompare.describe_run(ours)
    assert (tmp_path / "w" / "p.txt").read_text() == (tmp_path / "v" / "p.txt").read_text() == "0\n\n1\n\n1\n\n"


def test_cb_reference_rows_would_catch_a_wrong_loss(reference_cases, vw_reference_dir):
    """The comparison used above is sensitive to the cb columns (label, prediction, features)."""
    ref = (vw_reference_dir / reference_cases[126]["expect"]["stderr"]).read_text()
    assert vwcompare.compare_outputs(ref, ref, "stderr") == []
    assert vwcompare.compare_outputs(ref.replace("1:0.95", "0:0.95"), ref, "stderr")
    assert vwcompare.compare_outputs(ref.replace("0:1:0.5", "0:1:0.4"), ref, "stderr")
    assert vwcompare.compare_outputs(ref.replace("0.95        6", "0.95        7"), ref, "stderr")

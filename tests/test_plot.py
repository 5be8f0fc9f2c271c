"""wabbit.plot and `wabbit plot`: each plot renders to a non-empty PNG with its axes and marks."""

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
from matplotlib.image import imread  # noqa: E402

import wabbit  # noqa: E402
from wabbit import ope, plot  # noqa: E402
from wabbit.cli import main  # noqa: E402
from wabbit.drift import ADWIN  # noqa: E402
from wabbit.ope.report import Report  # noqa: E402


def _png(fig, path):
    """Writes the figure; returns its pixels (checked to hold more than a blank canvas)."""
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > 5000
    pixels = imread(str(path))
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert (pixels[..., :3] < 0.5).mean() > 0.002  # ink: lines, text
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10  # colours, not one fill
    return pixels


def _gids(ax, gid):
    return [line for line in ax.lines if line.get_gid() == gid]


def _drifting_lines(n=12000, change=6000, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random(n) < 0.5
    flip = np.where(np.arange(n) < change, 1, -1)
    return [
        f"{int(y)} |f a={int(x)} b={int(r)}" for y, x, r in zip(np.where(a, 1, -1) * flip, a, rng.integers(0, 5, n))
    ]


def test_losses_are_vws_losses_by_hand():
    p, y = np.array([0.0, 2.0, -1.0]), np.array([1.0, -1.0, -1.0])
    np.testing.assert_allclose(plot.losses(p, y, "squared"), [1.0, 9.0, 0.0])
    np.testing.assert_allclose(plot.losses(p, y, "logistic"), np.log1p(np.exp(-y * p)))
    np.testing.assert_allclose(plot.losses(p, y, "hinge"), [1.0, 3.0, 0.0])
    with pytest.raises(ValueError, match="loss_function"):
        plot.losses(p, y, "quantile")


def test_progressive_loss_marks_the_monitor_events_and_the_versions(tmp_path):
    lines = _drifting_lines()
    m = wabbit.Model("--loss_function logistic")
    m.monitor(ADWIN(), on_drift="switch", every=500, log=lambda s: None)
    preds = m.learn_many(lines)
    y = np.array([float(s.split()[0]) for s in lines])
    events = m.drift_events
    alarms = [e for e in events if e.kind == "drift"]
    switches = [e for e in events if e.kind == "switch"]
    assert alarms and switches  # the data changes at 6000: the monitor must notice
    fig = plot.progressive_loss(plot.losses(preds, y, "logistic"), events=events, versions=[4000, 8000, 12000])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "example" and ax.get_ylabel() == "progressive loss"
    assert [line.get_xdata()[0] for line in _gids(ax, "drift")] == [e.example for e in alarms]
    assert [line.get_xdata()[0] for line in _gids(ax, "switch")] == [e.example for e in switches]
    assert [line.get_xdata()[0] for line in _gids(ax, "version")] == [4000, 8000, 12000]
    (running,) = _gids(ax, "loss")
    assert running.get_ydata()[-1] == pytest.approx(m.average_loss, rel=1e-6)  # VW's average loss at the end
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"drift alarm", "challenger switch", "published version"} <= set(labels)
    _png(fig, tmp_path / "loss.png")


def test_wabbit_plot_from_a_runs_predictions_log_and_store(tmp_path, capsys):
    data = tmp_path / "d.vw"
    data.write_text("\n".join(_drifting_lines()) + "\n")
    preds, store = tmp_path / "p.txt", tmp_path / "store"
    args = ["-d", str(data), "--loss_function", "logistic", "-p", str(preds), "--drift", "adwin"]
    args += ["--drift_response", "switch", "--store", str(store), "--save_every", "4000"]
    assert main(args) == 0
    log_text = capsys.readouterr().err
    (tmp_path / "run.log").write_text(log_text)
    alarms = int(next(x for x in log_text.splitlines() if x.startswith("drift alarms = ")).split()[3])
    out = tmp_path / "run.png"
    argv = ["plot", "-p", str(preds), "-d", str(data), "--loss_function", "logistic"]
    assert main(argv + ["--log", str(tmp_path / "run.log"), "--store", str(store), "-o", str(out)]) == 0
    _png_file_ok(out)
    log = plot.read_progress_log(tmp_path / "run.log")
    assert len(log.drift) == alarms and log.switches
    assert log.examples[-1] == 12000  # the closing summary's count ends the table
    saved = sorted(v.examples for v in wabbit.ModelStore(str(store)).list())
    assert saved[-1] == 12000 and set(saved) <= {4000, 8000, 12000}  # (a busy writer may skip a snapshot)
    fig = plot.progress_log(log, versions=saved)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(_gids(ax, "drift")) == alarms
    assert [line.get_xdata()[0] for line in _gids(ax, "version")] == saved
    _png(fig, tmp_path / "log.png")
    assert main(["plot", "--log", str(tmp_path / "run.log"), "-o", str(tmp_path / "log2.png")]) == 0
    _png_file_ok(tmp_path / "log2.png")
    # -p without its data: an error that says what is missing, and no picture
    assert main(["plot", "-p", str(preds), "-o", str(tmp_path / "no.png")]) == 1
    assert "-p needs -d" in capsys.readouterr().err and not (tmp_path / "no.png").exists()


def _png_file_ok(path):
    assert path.stat().st_size > 5000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ope_report_shows_each_estimate_with_its_interval(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    actions = rng.integers(0, 2, n)
    costs = np.where(actions == 1, 0.2, 0.8) + rng.normal(0, 0.1, n)
    target = [[0.1, 0.9]] * n
    estimates = {
        "ips": ope.ips(actions, costs, [0.5] * n, target),
        "snips": ope.snips(actions, costs, [0.5] * n, target),
    }
    report = Report(estimates, ope.observed(costs), n, source="log.dat")
    fig = plot.ope_report(report)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ips (target)", "snips (target)", "logged policy"]
    bars = [c for c in ax.containers if c.lines[0].get_gid() in ("estimate", "logged")]
    assert len(bars) == 3
    for container, est in zip(bars, [*estimates.values(), report.logged]):
        (x,), _ = container.lines[0].get_data()
        assert x == pytest.approx(est.value)
        segment = container.lines[2][0].get_segments()[0]  # the interval's bar
        assert segment[0][0] == pytest.approx(est.lower) and segment[1][0] == pytest.approx(est.upper)
    assert "95% intervals" in ax.get_xlabel()
    _png(fig, tmp_path / "ope.png")


def test_bench_chart_draws_a_results_table(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text(
        "# Speed\n\nsome text\n\n| case | tool | lines/s | ratio |\n|---|---|---:|---:|\n"
        "| logistic | vw | 556,535 | 1.00 |\n| logistic | wabbit | 1,411,769 | 2.54x |\n\n"
        "# Other\n\n| a | b |\n|---|---|\n| x | 1 |\n"
    )
    fig = plot.bench_chart(results, "speed", "ratio")
    ax = fig.axes[0]
    bars = ax.containers[0].patches
    assert [b.get_width() for b in bars] == [1.0, 2.54]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["logistic | vw", "logistic | wabbit"]
    assert ax.get_xlabel() == "ratio" and ax.get_title() == "Speed"
    _png(fig, tmp_path / "bench.png")
    assert plot.bench_chart(results, "speed").axes[0].get_xlabel() == "lines/s"  # the first numeric column
    with pytest.raises(ValueError, match="no table"):
        plot.bench_chart(results, "speed", "missing")
    out = tmp_path / "cli.png"
    assert main(["plot", "--bench", str(results), "--table", "speed", "--column", "lines/s", "-o", str(out)]) == 0
    _png_file_ok(out)


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install wabbit\[plot\]"):
        plot.progressive_loss([1.0, 2.0])

"""Each output succeeds or fails on its own, and a reader that stops is no error (issue 14, items 6
and 17).

A -p write that fails (a full disk: /dev/full, or a tiny tmpfs) must not cost the -f model; a
--readable_model that cannot be written must leave no partial file; output into a pipe whose
reader has gone (`| head`) must end quietly, with -f still saved.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

import wabbit
from wabbit.synth import write_click_log


@pytest.fixture(scope="module")
def clicks(tmp_path_factory):
    path = tmp_path_factory.mktemp("outputs") / "clicks.vw"
    write_click_log(path, 20_000, seed=5)
    return path


def _wabbit(args, timeout=120, **kw):
    return subprocess.run(
        [sys.executable, "-m", "wabbit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def _same_model(a, b, probe="|u user=u3 |a ad=a7 |c hour=2"):
    ma, mb = wabbit.load(a), wabbit.load(b)
    assert ma.lineage.examples == mb.lineage.examples
    assert ma.predict(probe) == mb.predict(probe)
    assert (ma.weights()[1] == mb.weights()[1]).all()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, clicks):
    """The -f model of the same run without the output that fails."""
    path = tmp_path_factory.mktemp("outputs_ref") / "ref.model"
    r = _wabbit(["-d", str(clicks), "-f", str(path), "--quiet"])
    assert r.returncode == 0, r.stderr
    return path


def test_predictions_to_full_device_keep_the_model(tmp_path, clicks, reference):
    model = tmp_path / "m.model"
    r = _wabbit(["-d", str(clicks), "-f", str(model), "-p", "/dev/full"])
    assert r.returncode != 0
    assert r.stderr.count("No space left on device") == 2  # once when it happens, once at the end
    assert "learning goes on" in r.stderr
    assert "-p /dev/full" in r.stderr.splitlines()[-1]
    assert "finished run" in r.stderr and "number of examples = 20000" in r.stderr
    _same_model(model, reference)


@pytest.mark.parametrize("flag", ["--readable_model", "--invert_hash"])
def test_readable_outputs_to_full_device_keep_the_model(tmp_path, clicks, reference, flag):
    model = tmp_path / "m.model"
    r = _wabbit(["-d", str(clicks), "-f", str(model), flag, "/dev/full", "--quiet"])
    assert r.returncode != 0
    assert f"{flag} /dev/full: No space left on device" in r.stderr
    _same_model(model, reference)
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")  # a device still


@pytest.fixture
def tiny_fs():
    """A 64 KiB tmpfs (needs root; skipped where it cannot be mounted)."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    where = tempfile.mkdtemp(prefix="wabbit-tiny-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", where], capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(where)
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", where], capture_output=True)
        os.rmdir(where)


def test_readable_model_on_full_disk_leaves_no_partial_file(tmp_path, tiny_fs, clicks, reference):
    model = tmp_path / "m.model"
    readable = os.path.join(tiny_fs, "readable.txt")
    with open(readable, "w") as f:
        f.write("the previous readable model\n")
    r = _wabbit(["-d", str(clicks), "-f", str(model), "--readable_model", readable, "--quiet"])
    assert r.returncode != 0
    assert f"--readable_model {readable}: No space left on device" in r.stderr
    with open(readable) as f:
        assert f.read() == "the previous readable model\n"  # untouched: no partial file
    assert os.listdir(tiny_fs) == ["readable.txt"]  # no temporary file left behind either
    _same_model(model, reference)


def test_predictions_on_full_disk_stop_but_learning_goes_on(tmp_path, tiny_fs, clicks, reference):
    model = tmp_path / "m.model"
    preds = os.path.join(tiny_fs, "p.txt")  # 20,000 predictions are far more than 64 KiB
    r = _wabbit(["-d", str(clicks), "-f", str(model), "-p", preds, "--quiet"])
    assert r.returncode != 0
    assert f"-p {preds}: No space left on device" in r.stderr
    _same_model(model, reference)
    everything = tmp_path / "all.txt"
    assert _wabbit(["-d", str(clicks), "-p", str(everything), "--quiet"]).returncode == 0
    with open(preds) as f:
        partial = f.read()
    whole = everything.read_text()
    assert 0 < len(partial) < len(whole) and whole.startswith(partial)  # the predictions up to the failure


# ------------------------------------------------------------------ readers that stop (| head)


def _into_closed_pipe(args, read_first_line=False):
    """Run wabbit with stdout a pipe whose reader goes away (at once, or after the first line)."""
    p = subprocess.Popen(
        [sys.executable, "-m", "wabbit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    first = p.stdout.readline() if read_first_line else b""
    p.stdout.close()
    try:
        err = p.stderr.read().decode()
        rc = p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    return rc, first.decode(), err


def test_predictions_into_head(tmp_path, clicks, reference):
    model = tmp_path / "m.model"
    rc, first, err = _into_closed_pipe(["-d", str(clicks), "-f", str(model), "-p", "/dev/stdout"], True)
    assert first.strip() == "0"  # VW's first prediction, before any update
    assert rc == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err and "error" not in err
    assert "number of examples = 20000" in err
    _same_model(model, reference)


def test_audit_into_head(tmp_path, clicks):
    small = tmp_path / "small.vw"
    with open(clicks) as src, open(small, "w") as dst:
        dst.writelines(line for _, line in zip(range(3000), src))
    rc, first, err = _into_closed_pipe(["-d", str(small), "--audit", "--quiet"], True)
    assert rc == 0, err
    assert err == ""


def test_inspect_json_into_head(reference):
    rc, _, err = _into_closed_pipe(["inspect", "--json", str(reference)])
    assert rc == 0, err
    assert err == ""


def test_readable_model_into_head(clicks):
    rc, first, err = _into_closed_pipe(["-d", str(clicks), "--readable_model", "/dev/stdout", "--quiet"], True)
    assert first.startswith("Version ")
    assert rc == 0, err
    assert err == ""


def test_save_through_a_symlink_replaces_the_file_and_keeps_the_link(tmp_path):
    real = tmp_path / "models" / "m.bin"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "current.bin"
    link.symlink_to(real)
    m = wabbit.Model()
    m.learn("1 |a x")
    m.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert wabbit.load(real).predict("|a x") == m.predict("|a x")


def test_save_into_a_fifo_writes_through_it_and_leaves_the_fifo(tmp_path):
    # A path that is not a regular file (a pipe, a device such as /dev/null) is written in place: a
    # temporary file renamed over it would replace the node itself (as root, even /dev/full).
    import threading

    fifo = tmp_path / "model.pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    m = wabbit.Model()
    m.learn("1 |a x")
    try:
        m.save(fifo)
    finally:
        if reader.is_alive():  # the save went elsewhere: let the reader finish
            with open(fifo, "wb"):
                pass
        reader.join(10)
    import stat

    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got and wabbit.Model.from_bytes(got[0]).predict("|a x") == m.predict("|a x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pipe"]


def test_save_onto_a_directory_is_a_clear_error(tmp_path):
    m = wabbit.Model()
    with pytest.raises(OSError, match="directory"):
        m.save(tmp_path)

"""``wabbit --daemon``: VW's own daemon test rebuilt (test/daemon-test.sh in VW's repository), detaching
and --foreground, pid and port files, SIGTERM with -f, and the flags that do not fit a daemon."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from servekit import TIMEOUT, exchange, predictions_of, process_gone, regression_lines, wabbit, wait_for

# VW's test: train on these two lines with -b 10, serve the model with -t, send the same lines.
VW_TRAIN = ["0.55 1 '1| a", "0.99 1 '2| b c"]
VW_EXPECTED = ["0.553585 1", "0.733882 2"]  # VW's daemon-test.sh reference replies


@pytest.fixture
def vw_model(tmp_path):
    (tmp_path / "train").write_text("".join(line + "\n" for line in VW_TRAIN))
    proc = wabbit(["-b", "10", "--quiet", "-d", "train", "-f", "model"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    return tmp_path


def _launch(cwd, args):
    err = open(os.path.join(str(cwd), "daemon.err"), "w")  # not a pipe: the detached child keeps it open
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "wabbit", *map(str, args)],
            cwd=str(cwd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    finally:
        err.close()


def _read_int(path):
    wait_for(lambda: os.path.exists(path), f"{path} to be written")
    with open(path) as f:
        return int(f.read())


def _stop(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    wait_for(lambda: process_gone(pid), f"process {pid} to exit")


def test_vw_daemon_test_detached(vw_model):
    d = vw_model
    launcher = _launch(
        d,
        ["-t", "-i", "model", "--daemon", "--quiet", "--num_children", "1", "--port", "0"]
        + ["--port_file", "port", "--pid_file", "pid"],
    )
    assert launcher.wait(TIMEOUT) == 0, (d / "daemon.err").read_text()
    pid = _read_int(str(d / "pid"))
    try:
        assert pid != launcher.pid  # VW's check: the daemon runs in the background
        assert not process_gone(pid)
        port = _read_int(str(d / "port"))
        replies = exchange(port, "".join(line + "\n" for line in VW_TRAIN)).splitlines()
    finally:
        _stop(pid)
    assert [r[:5] for r in replies] == [r[:5] for r in VW_EXPECTED]  # VW's fuzzy compare (cut -c-5)
    assert replies == predictions_of(["-t", "-i", "model"], d, VW_TRAIN).splitlines()  # exactly -p, tags too
    assert not (d / "pid").exists() and not (d / "port").exists()  # a clean exit removes them


def test_vw_daemon_test_foreground(vw_model):
    d = vw_model
    proc = _launch(
        d,
        ["-t", "-i", "model", "--daemon", "--foreground", "--quiet", "--port", "0"]
        + ["--port_file", "port", "--pid_file", "pid"],
    )
    try:
        assert _read_int(str(d / "pid")) == proc.pid  # VW's check: --foreground stays in the process
        port = _read_int(str(d / "port"))
        replies = exchange(port, "".join(line + "\n" for line in VW_TRAIN)).splitlines()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
    assert [r[:5] for r in replies] == [r[:5] for r in VW_EXPECTED]


def test_sigterm_answers_what_was_sent_and_saves_with_f(tmp_path):
    lines = regression_lines(3000, seed=21)
    proc = _launch(
        tmp_path,
        ["--daemon", "--foreground", "--port", "0", "--port_file", "port"]
        + ["--num_children", "1", "-f", "served.model"],
    )
    try:
        port = _read_int(str(tmp_path / "port"))
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            s.sendall("".join(line + "\n" for line in lines).encode())
            reader = s.makefile("rb")
            first = reader.readline()  # the server is at work on this connection
            proc.send_signal(signal.SIGTERM)  # with the rest of the lines in flight
            rest = reader.read()
        assert proc.wait(TIMEOUT) == 0, (tmp_path / "daemon.err").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
    replies = (first + rest).decode().splitlines()
    assert replies == predictions_of([], tmp_path, lines).splitlines()  # all answered, as one pass
    # the saved model is the one that learned every line: it predicts as -f of the same run
    assert wabbit(["--quiet", "-d", "in.txt", "-f", "reference.model"], tmp_path).returncode == 0
    probes = [line.split(" |", 1)[1] for line in lines[:50]]
    probes = ["|" + p for p in probes]
    assert predictions_of(["-t", "-i", "served.model"], tmp_path, probes, "p1") == predictions_of(
        ["-t", "-i", "reference.model"], tmp_path, probes, "p2"
    )


def test_a_failing_start_is_reported_by_the_detaching_parent(tmp_path):
    proc = wabbit(["-i", "missing.model", "--daemon", "--port", "0"], tmp_path)
    assert proc.returncode == 1
    assert "missing.model" in proc.stderr


def test_a_port_in_use_is_reported(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = wabbit(["--daemon", "--foreground", "--port", port, "--quiet"], tmp_path)
    assert proc.returncode == 1
    assert "error" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--daemon", "-d", "x.txt"], "-d"),
        (["--daemon", "-p", "out.txt"], "-p"),
        (["--port", "0", "-p", "out.txt"], "-p"),  # --port means a daemon, as in VW
        (["--listen", "0.0.0.0", "-d", "x.txt"], "add --daemon"),
        (["--daemon", "--port", "70000"], "0..65535"),
        (["--daemon", "--num_children", "0"], "--num_children"),
        (["--daemon", "--watch", "no-such-store"], "no such folder"),
    ],
)
def test_flags_that_do_not_fit_a_daemon_are_refused(tmp_path, args, message):
    (tmp_path / "x.txt").write_text("1 |f a\n")
    start = time.monotonic()
    proc = wabbit(args, tmp_path)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert time.monotonic() - start < 60  # refused at once, nothing started


def test_serving_flags_are_not_model_flags():
    from wabbit.options import parse_args

    opts = parse_args("--daemon --port 0 --num_children 2 --listen 127.0.0.1 --http_port 0 -b 12")
    assert opts.model_args() == "--bit_precision 12"


def test_a_replica_daemon_follows_a_store(tmp_path):
    import wabbit as wb

    store = wb.ModelStore(tmp_path / "store")
    first, second = wb.Model(), wb.Model()
    first.learn("1 |f a")
    second.learn("10 |f a")
    store.save(first)
    proc = _launch(
        tmp_path, ["-t", "--watch", "store", "--daemon", "--foreground", "--port", "0", "--port_file", "port"]
    )
    try:
        port = _read_int(str(tmp_path / "port"))
        assert exchange(port, "|f a\n") == predictions_of(["-t", "-i", store.path(1)], tmp_path, ["|f a"], "p1")
        store.save(second)
        expected = predictions_of(["-t", "-i", store.path(2)], tmp_path, ["|f a"], "p2")
        wait_for(lambda: exchange(port, "|f a\n") == expected, "the replica to serve version 2")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)

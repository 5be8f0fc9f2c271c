"""``wabbit --daemon``: the command line's side of serving (VW's flags, detaching, pid and port files).

wabbit -i model.bin --daemon --port 26542 -f model.bin      # learn from what clients send, save on exit
wabbit -t -i model.bin --daemon --port 0 --port_file port   # predict only, on a free port
wabbit -t --watch store/ --daemon --http_port 8080          # a replica following a ModelStore

Without ``--foreground`` the process detaches as VW's daemon does: it forks before any thread is
started; the parent waits on a pipe until the child listens (exit 0) or fails (its error is printed,
exit 1). The child starts a new session and points its standard input and output at /dev/null
(standard error stays, for warnings and errors). ``--pid_file`` and ``--port_file`` are written
atomically once the port is bound, and removed at a clean exit. SIGTERM or SIGINT stops the
server: what each connection already sent is answered, and with ``-f`` the model is saved; the
exit status is 0.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any, Callable, List, Optional, TextIO

import wabbit._core as _core
from wabbit.cli.process import describe_error
from wabbit.cli.train import starting_model
from wabbit.model import Model
from wabbit.options import OptionError, Options
from wabbit.serve.server import Server, serve
from wabbit.store import ModelStore

__all__ = ["run_daemon", "serving_requested", "check_options", "SERVE_ONLY"]

#: Flags that only mean something with --daemon.
SERVE_ONLY = (
    "port_file",
    "pid_file",
    "foreground",
    "num_children",
    "listen",
    "http_port",
    "publish_every",
    "publish_seconds",
    "watch",
    "max_line_bytes",
    "prediction_log",
    "canary",
    "candidates",
)

#: Flags of a run over an input that a server does not have.
_NOT_SERVING = {
    "data": "-d (the examples come from the connections)",
    "predictions": "-p (each prediction is the reply to its request)",
    "audit": "--audit",
    "readable_model": "--readable_model",
    "invert_hash": "--invert_hash",
    "store": "--store (a server saves with -f and save requests; a replica follows a store with --watch)",
    "save_every": "--save_every",
    "drift": "--drift (the server watches its losses with ADWIN: see /metrics)",
    "passes": "--passes",
}

_POLL_SECONDS = 0.1


def serving_requested(opts: Options) -> bool:
    """--daemon, or --port as VW reads it (a port to listen on means a daemon)."""
    return bool(opts.daemon or opts.given("port"))


def check_options(opts: Options) -> None:
    """OptionError for flags that do not fit serving (or serving flags without --daemon)."""
    if not serving_requested(opts):
        stray = [f"--{name}" for name in SERVE_ONLY if opts.given(name)]
        if stray:
            raise OptionError(f"{', '.join(stray)}: serving flags; add --daemon to serve")
        return
    for dest, what in _NOT_SERVING.items():
        if opts.given(dest):
            raise OptionError(f"--daemon serves requests from its connections: {what} does not apply to it")
    for dest, low, high in (("port", 0, 65535), ("http_port", 0, 65535)):
        v = opts.value(dest)
        if v is not None and not low <= v <= high:
            raise OptionError(f"--{dest} takes a port number in {low}..{high} (0: a free one), got {v}")
    if opts.num_children is not None and opts.num_children < 1:
        raise OptionError(f"--num_children takes a number of threads >= 1, got {opts.num_children}")
    if opts.publish_every is not None and opts.publish_every < 0:
        raise OptionError(f"--publish_every takes a number of examples >= 0, got {opts.publish_every}")
    if opts.publish_seconds is not None and not opts.publish_seconds >= 0:
        raise OptionError(f"--publish_seconds takes a number of seconds >= 0, got {opts.publish_seconds}")
    if opts.value("max_line_bytes") < 1:
        raise OptionError(f"--max_line_bytes takes a positive number of bytes, got {opts.max_line_bytes}")
    if opts.watch is not None and not os.path.isdir(opts.watch):
        raise OptionError(f"--watch {opts.watch}: no such folder (a wabbit.ModelStore's)")
    for dest in ("final_regressor", "pid_file", "port_file"):
        path = getattr(opts, dest)
        if path:
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                raise OptionError(f"{path}: folder {folder} does not exist or is not writable")


def _model(opts: Options) -> Model:
    """-i's model (with the flags on top), a followed store's current version, or a new model."""
    if opts.watch is not None and not opts.initial_regressor:
        if opts.model_only().model_args():
            raise OptionError("--watch without -i serves the store's models: model flags do not apply")
        store = ModelStore(opts.watch)
        if store.current is None:
            raise OptionError(f"--watch {opts.watch}: the store has no versions yet (save one, or give -i)")
        return store.load()
    return starting_model(opts)


def _write_atomic(path: str, text: str) -> None:
    _core.write_file_atomic(os.path.abspath(path), text.encode())


def _remove_if(path: Optional[str], text: str) -> None:
    """Remove ``path`` if it still holds ``text`` (another daemon may have taken it over)."""
    if not path:
        return
    try:
        with open(path) as f:
            if f.read() != text:
                return
        os.unlink(path)
    except OSError:
        pass


def _serve(opts: Options, err: TextIO, ready: Callable[[], None]) -> int:
    """Run the server until SIGTERM/SIGINT; ``ready`` is called once it listens."""
    stop: List[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        stop.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    server: Optional[Server] = None
    pid_text = f"{os.getpid()}\n"
    port_text = ""
    try:
        model = _model(opts)
        model.core.set_input_format(opts.input_format(), opts.chain_hash)  # --json/--dsjson requests
        server = serve(
            model,
            port=int(opts.value("port")),
            http_port=opts.http_port,
            threads=opts.num_children,
            listen=str(opts.value("listen")),
            learn=not opts.testonly,
            publish_every=opts.publish_every or 0,
            publish_seconds=opts.publish_seconds or 0.0,
            save_path=opts.final_regressor,
            watch=opts.watch,
            max_line_bytes=int(opts.value("max_line_bytes")),
            prediction_log=opts.prediction_log,
            canary=opts.canary or 0.0,
            candidates=opts.candidates,
        )
        port_text = f"{server.port}\n"
        if opts.pid_file:
            _write_atomic(opts.pid_file, pid_text)
        if opts.port_file:
            _write_atomic(opts.port_file, port_text)
        if not opts.quiet:
            http = "" if server.http_port is None else f", HTTP on port {server.http_port}"
            mode = "predicting only" if opts.testonly else ("publish mode" if server.publish_mode else "learning")
            err.write(f"wabbit: serving on {server.listen}:{server.port}{http} ({mode}; pid {os.getpid()})\n")
            err.flush()
        ready()
        while not stop:
            time.sleep(_POLL_SECONDS)
        save = bool(opts.final_regressor)
        server.stop(save=save)
        if not opts.quiet:
            saved = f"; saved {opts.final_regressor}" if save else ""
            err.write(f"wabbit: stopped ({signal.Signals(stop[0]).name}){saved}\n")
        return 0
    finally:
        if server is not None:
            server.stop()  # idempotent: after an error too
        _remove_if(opts.pid_file, pid_text)
        _remove_if(opts.port_file, port_text)
        for s, handler in previous.items():
            signal.signal(s, handler)


def _detach(opts: Options, err: TextIO) -> int:
    """Fork; the parent waits for the child's word (listening, or its error) and returns."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(write_end)
        chunks = []
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read_end)
        word = b"".join(chunks).decode("utf-8", "replace")
        if word == "ok":
            return 0
        err.write(word or "wabbit: error: the daemon exited before it was listening\n")
        return 1
    # the child: a new session, away from the terminal; it returns its status as the foreground
    # run does (through the command's normal exit)
    os.close(read_end)
    told: List[bool] = []
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.close(devnull)

        def ready() -> None:
            os.write(write_end, b"ok")
            os.close(write_end)
            told.append(True)

        return _serve(opts, err, ready)
    except BaseException as e:  # before ready: the parent prints it; after it: standard error
        if told:
            raise
        os.write(write_end, f"wabbit: error: {describe_error(e)}\n".encode())
        return 1
    finally:
        if not told:
            os.close(write_end)


def run_daemon(opts: Options, err: TextIO = sys.stderr) -> int:
    """``wabbit --daemon ...``: check the flags, then serve (detached unless --foreground)."""
    check_options(opts)
    if opts.foreground:
        return _serve(opts, err, lambda: None)
    return _detach(opts, err)

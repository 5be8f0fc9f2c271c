"""What a run writes besides its text: the -p predictions stream, the model (-f) and the readable
models (--readable_model, --invert_hash), each on its own, and how their failures are reported.

>>> from wabbit.options import parse_args
>>> not_written(["-f m.bin: No space left on device"], parse_args("-f m.bin -p p.txt"))
'wabbit: error: not written: -f m.bin: No space left on device (the other outputs were)\\n'
"""

from __future__ import annotations

import errno
import os
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import wabbit._core as _core
from wabbit._version import __version__

if TYPE_CHECKING:
    from wabbit.model import Model
    from wabbit.options import Options

__all__ = ["open_predictions", "close_predictions", "failed_streams", "write_outputs", "write_text_atomic"]
__all__ += ["not_written"]


def open_predictions(opts: Options, path: Optional[str] = None) -> Tuple[int, bool]:
    """(file descriptor for -p, or -1; whether the run must close it): ``-`` and ``/dev/stdout``
    write to standard output. ``path``: another prediction stream's (-r)."""
    path = opts.predictions if path is None else path
    if not path:
        return -1, False
    if path in ("-", "/dev/stdout"):
        sys.stdout.flush()
        return sys.stdout.fileno(), False
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), True


def close_predictions(fd: int, close: bool) -> None:
    if close:
        try:
            os.close(fd)
        except OSError:
            pass


def _outputs(opts: Options) -> int:
    return sum(1 for p in (opts.final_regressor, opts.readable_model, opts.invert_hash, opts.predictions) if p)


def failed_streams(result: Dict[str, Any], opts: Options) -> List[str]:
    """-p and --audit writes that failed during the run (EPIPE, a reader that stopped, is no failure)."""
    out = []
    for key, name in (("predictions_error", f"-p {opts.predictions}"), ("audit_error", "--audit")):
        code = int(result.get(key) or 0)
        if code and code != errno.EPIPE:
            out.append(f"{name}: {os.strerror(code)} (written up to there)")
    return out


def not_written(failed: List[str], opts: Options) -> str:
    """The error line naming the outputs that failed (and saying whether the others were written)."""
    return (
        "wabbit: error: not written: "
        + "; ".join(failed)
        + (" (the other outputs were)" if _outputs(opts) > len(failed) else "")
        + "\n"
    )


def write_outputs(model: Model, opts: Options) -> List[str]:
    """-f, --readable_model and --invert_hash, each on its own: one that fails (a full disk) leaves no
    partial file and keeps the others from being skipped. Returns what failed, with why."""
    failed = []
    if opts.final_regressor:
        try:
            model.save(opts.final_regressor, predict_only=opts.predict_only_model)
        except OSError as e:
            failed.append(f"-f {opts.final_regressor}: {e.strerror or e}")
    for flag, path, names in (
        ("--readable_model", opts.readable_model, False),
        ("--invert_hash", opts.invert_hash, True),
    ):
        if path:
            try:
                text = model.core.readable_model(__version__, model.args, names, opts.predict_only_model)
                write_text_atomic(path, text)
            except BrokenPipeError:
                pass  # a pipe whose reader has seen enough (| head): no failure
            except OSError as e:
                failed.append(f"{flag} {path}: {e.strerror or e}")
    return failed


def write_text_atomic(path: str, text: str) -> None:
    """Write text through the core's one atomic writer (as model files): path is either the whole
    text or as it was, never a partial file; a device, a FIFO or /dev/stdout is written in place."""
    try:
        _core.write_file_atomic(path, text.encode("utf-8"))
    except OSError as e:  # the reason alone: the caller names the flag and the path
        if e.errno is None:
            raise
        raise type(e)(e.errno, os.strerror(e.errno), path) from None

"""Input files and streams as file descriptors for the core, with gzip inflated on its own thread.

Gzip is recognised by its first two bytes, on files and on streams alike (a pipe, a FIFO, stdin,
``<(...)``): those bytes are read, and when the input is not gzip they go to the core as the run's
``head`` (read before the rest of the fd), so nothing needs to seek.

A gzip input that ends early (a partial copy, a log still being written) or is corrupt is read up
to the last byte that inflates; the last line, cut short, is dropped, and :attr:`Input.problem`
says where the data stopped. Callers decide what that means (a warning, or an error with strict).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import zlib
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Tuple, Union

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16  # compressed bytes read at a time (inflated in pieces of at most _OUT bytes)
_OUT = 1 << 20
_JOIN_SECONDS = 2.0  # how long an early stop waits for the inflater thread


@dataclass
class Input:
    """What the core reads: ``fd``, after ``head`` (bytes already taken from it)."""

    fd: int
    head: bytes
    name: str
    gzip: bool = False
    problem: Optional[str] = None  # set (after the with-block) when gzip data ended early or was corrupt

    def run_options(self, opts: Dict[str, Any]) -> Dict[str, Any]:
        """``opts`` with the head for the core's ``run_fd``."""
        return {**opts, "head": self.head} if self.head else opts


@contextlib.contextmanager
def open_input(source: Union[str, "os.PathLike[str]", int]) -> Iterator[Input]:
    """Yield an :class:`Input` for a path or an open fd (not closed here); gzip is inflated by a
    background thread into a pipe that the core reads with the GIL released, so inflating and
    learning run at the same time."""
    own = not isinstance(source, int)
    if isinstance(source, int):
        fd, name = source, "<stdin>" if source == 0 else f"<fd {source}>"
    else:
        name = os.fspath(source)
        fd = os.open(name, os.O_RDONLY)
    thread: Optional[threading.Thread] = None
    try:
        head = _read_head(fd, len(_GZIP_MAGIC))
        if head != _GZIP_MAGIC:
            yield Input(fd, head, name)
            return
        read_end, write_end = os.pipe()
        src = Input(read_end, b"", name, gzip=True)
        inflater = _Inflater(fd, head, name)
        thread = threading.Thread(target=inflater.run, args=(write_end,), name="wabbit-gunzip", daemon=True)
        thread.start()
        try:
            yield src
        finally:
            # At the end of the text the inflater is done (it closes the pipe last). After an early
            # stop (strict, an interrupt) it ends at its next write, with a broken pipe, unless it
            # waits on a stream that sends nothing (tail -f): then it is left behind (a daemon).
            os.close(read_end)
            thread.join(_JOIN_SECONDS)
        src.problem = inflater.problem
    finally:
        if own and (thread is None or not thread.is_alive()):  # (not under a thread still reading it)
            os.close(fd)


def inflate_bytes(data: bytes, name: str = "<bytes>") -> Tuple[bytes, Optional[str]]:
    """The text of gzip bytes held in memory, and what went wrong (None, or as Input.problem)."""
    out = io.BytesIO()
    inflater = _Inflater(None, data, name)
    inflater.inflate(out)
    return out.getvalue(), inflater.problem


def is_gzip(data: Any) -> bool:
    return bytes(data[: len(_GZIP_MAGIC)]) == _GZIP_MAGIC


def _read_head(fd: int, n: int) -> bytes:
    """The first n bytes of fd (fewer at its end), read without seeking (a pipe may give fewer)."""
    head = b""
    while len(head) < n:
        part = os.read(fd, n - len(head))
        if not part:
            break
        head += part
    return head


class _Pipe:
    """Writes go straight to the fd, whole."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: Any) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]


class _Inflater:
    """Inflates gzip members from ``head`` + the fd ``src`` (None: head only), whole lines at a time."""

    def __init__(self, src: Optional[int], head: bytes, name: str) -> None:
        self.src, self.head, self.name = src, head, name
        self.problem: Optional[str] = None
        self.text_bytes = 0  # inflated bytes written
        self.pending = b""  # inflated bytes after the last newline, not written yet

    def run(self, dst: int) -> None:
        """Into the pipe dst (closed at the end); the thread's target."""
        try:
            self.inflate(_Pipe(dst))  # unbuffered: the text of a slow stream reaches the core at once
        except BrokenPipeError:
            pass  # the reader stopped early (e.g. strict); nothing to report
        finally:
            os.close(dst)

    def inflate(self, out: Any) -> None:
        problem = self._inflate(out)
        if problem is None:
            out.write(self.pending)  # a last line without a newline, in a whole file
        else:
            self.problem = self._describe(problem)

    def _inflate(self, out: Any) -> Optional[str]:
        d = zlib.decompressobj(31)
        started = False  # d has been fed bytes of its member
        offset = 0  # file offset of data[0]
        member = 0
        data = self.head
        while True:
            if not data:
                if self.src is not None:
                    try:
                        data = os.read(self.src, _CHUNK)
                    except OSError as e:
                        return f"cannot read at byte {offset}: {e.strerror}"
                if not data:
                    return (
                        f"ends early at byte {offset} (the file is cut short or still being written)"
                        if started
                        else None
                    )
            if not started:
                skip = len(data) - len(data.lstrip(b"\0"))  # zero padding between or after members
                offset += skip
                data = data[skip:]
                if not data:
                    continue
            if not started:
                member = offset  # where this gzip member starts
            started = True
            before = d.copy()  # to find the bad byte if zlib refuses this piece
            try:
                text = d.decompress(data, _OUT)
            except zlib.error as e:
                return self._locate_error(before, data, offset, member, out, e)
            self._emit(out, text)
            rest = d.unconsumed_tail if not d.eof else d.unused_data
            offset += len(data) - len(rest)
            data = rest
            if d.eof:
                d, started = zlib.decompressobj(31), False

    def _locate_error(self, d: Any, data: bytes, offset: int, member: int, out: Any, error: zlib.error) -> str:
        """zlib refused ``data`` (and gave none of its text): feed it again a byte at a time from the
        state before, writing the text before the bad byte, and name that byte's offset (for a
        bad header, where the member starts)."""
        for i in range(len(data)):
            try:
                self._emit(out, d.decompress(data[i : i + 1]))
            except zlib.error as e:
                reason = _zlib_reason(e)
                return f"is corrupt at byte {member if reason == 'not gzip data' else offset + i} ({reason})"
        return f"is corrupt at about byte {offset} ({_zlib_reason(error)})"

    def _emit(self, out: Any, text: bytes) -> None:
        if not text:
            return
        self.text_bytes += len(text)
        cut = text.rfind(b"\n") + 1
        if cut == 0:
            self.pending += text
            return
        if self.pending:
            out.write(self.pending)
        out.write(memoryview(text)[:cut])
        self.pending = text[cut:]

    def _describe(self, problem: str) -> str:
        msg = f"{self.name}: the gzip data {problem}; the {self.text_bytes - len(self.pending):,} bytes of text before it were read"
        if self.pending:
            msg += f"; the last line, cut short ({len(self.pending):,} bytes without a newline), was skipped"
        return msg


def _zlib_reason(e: zlib.error) -> str:
    text = str(e)
    reason = text.split(": ", 1)[-1]
    return {
        "incorrect data check": "CRC mismatch: the text may be damaged",
        "incorrect header check": "not gzip data",
    }.get(reason, reason)

"""Sources over local bytes: a file or a folder followed as it grows, and stdin.

:class:`FileSource` follows a file, or every file of a folder, like ``tail -F``: it returns each
complete line as a :class:`~wabbit.stream.Record` whose ``partition`` is the file's absolute
path and whose ``offset`` is the byte offset of the line's start; the file's position (the
offset just past the last line returned) is what a checkpoint stores, and :meth:`FileSource.seek`
resumes there exactly.

>>> import os, tempfile
>>> from wabbit.stream import FileSource
>>> d = tempfile.mkdtemp()
>>> path = os.path.join(d, "events.txt")
>>> with open(path, "wb") as f:
...     _ = f.write(b"1 |f a\\n0 |f b\\n1 |f")       # the last line is not complete yet
>>> src = FileSource(path)
>>> [(r.value, r.offset) for r in src.poll(10, timeout=0)]
[(b'1 |f a', 0), (b'0 |f b', 7)]
>>> with open(path, "ab") as f:
...     _ = f.write(b" c\\n")                        # now it is
>>> [(r.value, r.offset) for r in src.poll(10, timeout=0)]
[(b'1 |f c', 14)]
>>> saved = src.positions(); saved == {path: 21}
True
>>> src.close()
>>> with open(path, "ab") as f:
...     _ = f.write(b"0 |f d\\n")
>>> with FileSource(path) as again:                  # a restart: seek to the checkpoint
...     again.seek(saved)
...     [r.value for r in again.poll(10, timeout=0)]
[b'0 |f d']

What :class:`FileSource` does, precisely:

- **Lines.** A record is a line without its ``\\n`` (and a ``\\r`` before it); empty lines are
  records too (bandit events are separated by them). A last line without its newline waits
  until the newline is written; a writer that never ends its last line leaves it unread.
- **Folders.** The files of the folder (not its subfolders, not names starting with ``.``, which
  writers use for temporary files) are read in name order; a new file is picked up on the next
  poll; each file has its own position. Within a poll, the new lines of an earlier name come
  before those of a later one. Give files names that sort in the order they are written
  (``events-2026-12-03T10.txt``) and do not rename them: a file is identified by its path,
  so a file renamed inside the folder is a new file and is read again from its start. A file
  deleted from the folder is read to its last complete line (through the open handle) and then
  forgotten (it leaves :meth:`FileSource.positions`).
- **Rotation** (the path now names another file, e.g. ``logrotate`` renamed it and created a new
  one): the old file is read to its last complete line through the open handle, then the new
  file from its start; :attr:`FileSource.rotations` counts it. A partial last line of the old
  file is lost.
- **Truncation** (the file became shorter than its position, e.g. ``copytruncate``, or a
  checkpoint's position is past the end of the file found at restart): reading restarts at byte
  0, with a warning, and :attr:`FileSource.truncations` counts it. Lines written and removed
  between two polls are lost, as with ``tail -F``.
- **Exactly-once across restarts** holds while files only grow: a checkpoint's byte offset names
  a line start in the same bytes. After a rotation or truncation it names bytes of another file;
  :meth:`FileSource.seek` refuses an offset that is not a line start (the byte before it is not
  ``\\n``), and an offset past the end restarts that file at 0 as above.

:class:`StdinSource` reads lines from stdin (or a given file descriptor); its one partition is
``"<stdin>"`` and its positions count lines. stdin cannot be re-read, so :meth:`StdinSource.seek`
only moves forward: a restart that pipes the same stream again seeks to the checkpoint's line
count, and the lines before it are read and dropped.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import time
from typing import BinaryIO, Dict, List, Optional, Tuple, Union

from wabbit.stream.source import Record, Source, StreamError, check_poll_args, check_positions

__all__ = ["FileSource", "StdinSource"]

_log = logging.getLogger("wabbit.stream")

STDIN_PARTITION = "<stdin>"
_LAG_SCAN_LIMIT = 64 << 20  # lag() counts newlines in at most this many unread bytes


def _record_value(line: Union[bytes, bytearray]) -> bytes:
    if line.endswith(b"\r"):
        line = line[:-1]
    return bytes(line)


class _Followed:
    """One followed file: its path, the offset of its next unreturned line, the open handle and
    the identity (device, inode) of the file that handle reads."""

    __slots__ = ("path", "offset", "handle", "ident")

    def __init__(self, path: str, offset: int) -> None:
        self.path = path
        self.offset = offset
        self.handle: Optional[BinaryIO] = None
        self.ident: Optional[Tuple[int, int]] = None

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
            self.ident = None


class FileSource(Source):
    """Follow a file, or the files of a folder, as they grow (see the module docstring).

    ``path`` must exist (a file, or a folder, which may be empty). ``interval`` is how long a
    poll sleeps between looks at the files while it waits; ``chunk_size`` how many bytes it reads
    at a time.
    """

    def __init__(
        self, path: Union[str, "os.PathLike[str]"], *, interval: float = 0.05, chunk_size: int = 1 << 20
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        if not os.path.exists(self.path):
            raise StreamError(f"{self.path}: no such file or folder to follow")
        self.folder = os.path.isdir(self.path)
        if not interval > 0:
            raise ValueError(f"interval must be a number of seconds > 0, got {interval!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive number of bytes, got {chunk_size!r}")
        self.interval = float(interval)
        self.chunk_size = int(chunk_size)
        self.rotations = 0
        self.truncations = 0
        self._files: Dict[str, _Followed] = {}
        self._pending: Dict[str, int] = {}  # seek positions of files not (yet) followed
        self._closed = False
        if not self.folder:
            self._files[self.path] = _Followed(self.path, 0)

    def __repr__(self) -> str:
        return f"wabbit.stream.FileSource({self.path!r})"

    # ------------------------------------------------------------------ the interface
    def poll(self, max_records: int = 1000, timeout: float = 1.0) -> List[Record]:
        """Up to ``max_records`` complete lines, in file-name order then line order, waiting at
        most ``timeout`` seconds for the first."""
        check_poll_args(max_records, timeout)
        if self._closed:
            raise StreamError(f"{self!r} is closed")
        deadline = time.monotonic() + timeout
        while True:
            out: List[Record] = []
            for f in self._refresh():
                if len(out) >= max_records:
                    break
                self._read(f, max_records - len(out), out)
            remaining = deadline - time.monotonic()
            if out or remaining <= 0:
                return out
            time.sleep(min(self.interval, remaining))

    def positions(self) -> Dict[str, int]:
        out = dict(self._pending)
        out.update((f.path, f.offset) for f in self._files.values())
        return out

    def seek(self, positions: Dict[str, int]) -> None:
        """Resume each named file at its offset, which must be a line start of that file (0, or
        just after a ``\\n``); an offset past the file's end restarts it at 0 when read (it is
        another file now). Paths outside what this source follows raise StreamError."""
        for path, offset in check_positions(positions).items():
            full = os.path.abspath(path)
            if self.folder:
                if os.path.dirname(full) != self.path:
                    raise StreamError(f"{full}: not a file of the followed folder {self.path}")
            elif full != self.path:
                raise StreamError(f"{full}: this source follows {self.path}, not that file")
            _check_line_start(full, offset)
            f = self._files.get(full)
            if f is None:
                self._pending[full] = offset
            else:
                f.offset = offset

    def lag(self) -> Optional[int]:
        """Complete lines written but not yet returned, counted by reading the unread bytes;
        None when there are more than 64 MiB of them (too costly to count)."""
        total, budget = 0, _LAG_SCAN_LIMIT
        for f in self._refresh():
            try:
                size = os.stat(f.path).st_size
            except FileNotFoundError:
                continue
            start = f.offset if size >= f.offset else 0
            if size - start > budget:
                return None
            budget -= size - start
            with open(f.path, "rb") as h:
                h.seek(start)
                left = size - start
                while left > 0:
                    chunk = h.read(min(self.chunk_size, left))
                    if not chunk:
                        break
                    total += chunk.count(b"\n")
                    left -= len(chunk)
        return total

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._closed = True

    # ------------------------------------------------------------------ reading
    def _refresh(self) -> List[_Followed]:
        """The followed files in name order, after picking up new files of the folder."""
        if self.folder:
            try:
                names = os.listdir(self.path)
            except FileNotFoundError:
                names = []
            for name in names:
                full = os.path.join(self.path, name)
                if name.startswith(".") or full in self._files or not os.path.isfile(full):
                    continue
                self._files[full] = _Followed(full, self._pending.pop(full, 0))
        return [self._files[p] for p in sorted(self._files)]

    def _read(self, f: _Followed, room: int, out: List[Record]) -> None:
        try:
            st: Optional[os.stat_result] = os.stat(f.path)
        except FileNotFoundError:
            st = None
        if f.handle is not None and (st is None or (st.st_dev, st.st_ino) != f.ident):
            # rotated, replaced or deleted: finish the old file through the open handle first
            before = len(out)
            if not self._drain(f, room, out):
                return  # no room left: the rest of the old file comes next poll
            room -= len(out) - before
            f.close()
            f.offset = 0
            if st is not None:
                self.rotations += 1
                _log.info("%s: the path names another file now (rotated); reading it from its start", f.path)
        if st is None:
            if self.folder and f.handle is None:
                del self._files[f.path]  # deleted and drained: forgotten
            return
        if f.handle is None:
            try:
                f.handle = open(f.path, "rb")  # kept open across polls
            except FileNotFoundError:
                return
            fst = os.fstat(f.handle.fileno())
            f.ident = (fst.st_dev, fst.st_ino)
        if room <= 0:
            return
        size = os.fstat(f.handle.fileno()).st_size
        if size < f.offset:
            self.truncations += 1
            _log.warning(
                "%s: the file is shorter (%d bytes) than its position %d (truncated); reading it from byte 0",
                f.path,
                size,
                f.offset,
            )
            f.offset = 0
        if size > f.offset:
            self._drain(f, room, out)

    def _drain(self, f: _Followed, room: int, out: List[Record]) -> bool:
        """Append up to ``room`` complete lines of ``f`` from its offset; True when every complete
        line of the handle's file was read."""
        assert f.handle is not None
        f.handle.seek(f.offset)
        buf = bytearray()
        base = f.offset  # the file offset of buf[0]
        now = time.time()
        while True:
            chunk = f.handle.read(self.chunk_size)
            if not chunk:
                return True
            buf += chunk
            start = 0
            while room > 0:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                out.append(Record(_record_value(buf[start:nl]), f.path, base + start, now))
                start = nl + 1
                room -= 1
            f.offset = base + start
            del buf[:start]
            base += start
            if room <= 0:
                return False


def _check_line_start(path: str, offset: int) -> None:
    if offset == 0:
        return
    try:
        with open(path, "rb") as h:
            h.seek(offset - 1)
            before = h.read(1)
    except FileNotFoundError:
        return  # followed when it appears
    if before and before != b"\n":
        raise StreamError(
            f"{path}: offset {offset} is not the start of a line (byte {offset - 1} is {before!r}, not a newline)"
        )


class StdinSource(Source):
    """Lines from stdin, or from ``stream`` (a binary file object or a file descriptor).

    Positions count lines: ``{"<stdin>": n}`` after n lines. At end of input a last line without
    its newline is a record too, and :attr:`eof` becomes True (polls then return at once).
    :meth:`seek` moves only forward: to ``n`` at least the lines already read, dropping the lines
    before it as they come (a restart piping the same input again resumes at its checkpoint).
    The descriptor is read directly (``os.read``), bypassing what ``sys.stdin`` may have buffered.

    >>> import os
    >>> from wabbit.stream import StdinSource
    >>> r, w = os.pipe()
    >>> _ = os.write(w, b"1 |f a\\n0 |f b\\n1 |f c\\n"); os.close(w)
    >>> src = StdinSource(r)
    >>> src.seek({"<stdin>": 1})                         # resume after the first line
    >>> [(x.value, x.offset) for x in src.poll(10, timeout=1)], src.positions()
    ([(b'0 |f b', 1), (b'1 |f c', 2)], {'<stdin>': 3})
    >>> src.close(); os.close(r)
    """

    def __init__(self, stream: Union[None, int, BinaryIO] = None) -> None:
        if stream is None:
            self._fd = sys.stdin.fileno()
        elif isinstance(stream, int):
            self._fd = stream
        else:
            self._fd = stream.fileno()
        self._buf = bytearray()
        self._count = 0  # lines read (returned or dropped by a seek)
        self._skip_to = 0
        self.eof = False
        self._closed = False

    def poll(self, max_records: int = 1000, timeout: float = 1.0) -> List[Record]:
        check_poll_args(max_records, timeout)
        if self._closed:
            raise StreamError("the stdin source is closed")
        deadline = time.monotonic() + timeout
        out: List[Record] = []
        while True:
            self._take(max_records - len(out), out)
            if len(out) >= max_records or self.eof:
                return out
            wait = 0.0 if out else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._fd], [], [], wait)
            if not ready:
                return out
            data = os.read(self._fd, 1 << 16)
            if data:
                self._buf += data
            else:
                self.eof = True
                if self._buf:
                    self._buf += b"\n"  # the last line, unterminated: a record all the same
                self._take(max_records - len(out), out)
                return out

    def _take(self, room: int, out: List[Record]) -> None:
        start = 0
        now = time.time()
        while room > 0:
            nl = self._buf.find(b"\n", start)
            if nl < 0:
                break
            if self._count >= self._skip_to:
                out.append(Record(_record_value(self._buf[start:nl]), STDIN_PARTITION, self._count, now))
                room -= 1
            self._count += 1
            start = nl + 1
        del self._buf[:start]

    def positions(self) -> Dict[str, int]:
        return {STDIN_PARTITION: max(self._count, self._skip_to)}

    def seek(self, positions: Dict[str, int]) -> None:
        checked = check_positions(positions)
        for k in checked:
            if k != STDIN_PARTITION:
                raise StreamError(f"the stdin source has one partition, {STDIN_PARTITION!r}, not {k!r}")
        n = checked.get(STDIN_PARTITION)
        if n is None:
            return
        if n < self.positions()[STDIN_PARTITION]:
            raise StreamError(
                f"stdin cannot go back: {self.positions()[STDIN_PARTITION]} lines were read, seek asked for line {n}"
            )
        self._skip_to = n

    def close(self) -> None:
        self._closed = True

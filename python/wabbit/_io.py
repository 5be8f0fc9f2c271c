"""Input files as file descriptors for the core, with gzip decompressed on its own thread."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import threading
import zlib
from typing import Iterator, List, Union

_GZIP_MAGIC = b"\x1f\x8b"


@contextlib.contextmanager
def input_fd(path: Union[str, "os.PathLike[str]"]) -> Iterator[int]:
    """Yield a readable fd with the file's text; a gzip file is inflated by a background thread.

    The decompressor writes into a pipe that the core reads with the GIL released, so inflating
    and learning run at the same time. A corrupt gzip stream raises OSError when the block exits.
    """
    path = os.fspath(path)
    fd = os.open(path, os.O_RDONLY)
    if os.pread(fd, 2, 0) != _GZIP_MAGIC:
        try:
            yield fd
        finally:
            os.close(fd)
        return
    os.close(fd)
    read_end, write_end = os.pipe()
    errors: List[BaseException] = []

    def pump() -> None:
        try:
            with os.fdopen(write_end, "wb") as dst, gzip.open(path, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
        except BrokenPipeError:
            pass  # the reader stopped early (e.g. --strict); nothing to report
        except (OSError, EOFError, zlib.error) as e:
            errors.append(e)

    thread = threading.Thread(target=pump, name="wabbit-gunzip", daemon=True)
    thread.start()
    try:
        yield read_end
    finally:
        os.close(read_end)
        thread.join()
    if errors:
        raise OSError(f"{path}: cannot decompress: {errors[0]}")

"""Files out of the page cache, as a blob pushed with ``O_DIRECT`` (or not read for long) is.

cold_file(tmp_path / "blob", data)   # written, flushed and evicted; the test skips where the
                                     # filesystem keeps it cached whatever it is advised
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def drop_cache(path: Path, offset: int = 0) -> None:
    """Evict ``path``'s clean pages from ``offset`` on from the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, offset, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def is_cached(path: Path, offset: int, size: int) -> bool:
    """Whether the page cache holds all of ``[offset, offset + size)`` of ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.preadv(fd, [bytearray(size)], offset, os.RWF_NOWAIT) == size
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def cold_file(path: Path, data: bytes) -> Path:
    """``data`` written to ``path`` and evicted from the page cache (or the test skipped)."""
    path.write_bytes(data)
    skip_unless_evicted(path)
    return path


def skip_unless_evicted(path: Path, offset: int = 0) -> None:
    """Evict ``path`` from ``offset`` on; skip the test where the filesystem keeps it cached."""
    drop_cache(path, offset)
    if is_cached(path, offset, 4096):
        pytest.skip("this filesystem keeps the file cached whatever it is advised")

"""Appending to a file with ``O_DIRECT``: aligned blocks bypass the page cache.

Why: an upload is written once and read back rarely soon after, yet a buffered write copies
every byte into freshly allocated page-cache pages and leaves them dirty for the commit's
fsync to flush. On the 2-core VMs this project is measured on, allocating those pages costs
2 to 4 s of CPU per GiB (the hypervisor backs guest memory on first touch), several times the
cost of hashing the same bytes; ``O_DIRECT`` writes from one reused, already-touched buffer
cost about 0.1 s per GiB and leave nothing for fsync to flush. On a machine where page-cache
pages are cheap the wall time is still bounded by the disk, which the commit's fsync waits
for in either case. ``benchmarks/limits.py`` measures both ways of writing. The cost moves
rather than vanishes where the blob is pulled right after its push: the first pull then reads
it from disk into pages new to the guest, and on a freshly booted VM copying out of those
costs the same 2 s per GiB (the README's Benchmarks section has the figures of both settings).

``O_DIRECT`` needs the file offset, the length and the buffer address aligned (``ALIGN``).
Bytes arrive in arbitrary pieces and at arbitrary offsets (a chunked upload may end a PATCH
anywhere), so ``append`` copies them into an aligned staging buffer, one per thread and
reused, and writes whole staged blocks directly; the bytes before the first aligned offset
and the last partial block are written through the page cache. Linux keeps the two kinds of
write coherent on one file (a direct write flushes and drops cached pages in its range).
Where the filesystem refuses ``O_DIRECT`` (``EINVAL``), the writer switches to buffered
writes for good.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import threading
from collections.abc import Iterable

ALIGN = 4096
STAGE = 4 * 1024 * 1024  # a multiple of ALIGN


class DirectAppender:
    """Appends to open files with ``O_DIRECT`` where it can. One per store; thread-safe."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._local = threading.local()

    def append(self, fd: int, size: int, chunks: Iterable[bytes]) -> int:
        """Append ``chunks`` to ``fd`` (opened ``O_WRONLY | O_APPEND``, currently ``size``
        bytes long) and return the new size.

        OS errors of the writes propagate as ``OSError``. Whatever ``chunks`` raises
        propagates too, after every byte taken from it is written (the caller may keep them).
        """
        if not self.enabled:
            return _append_buffered(fd, size, chunks)
        staging = self._stage()
        stage = staging.buffer
        fill = 0
        try:
            for chunk in chunks:
                whole = memoryview(chunk).cast("B")
                view = whole
                while view:
                    if fill == 0 and size % ALIGN:
                        # Up to the next aligned offset through the page cache.
                        head = view[: ALIGN - size % ALIGN]
                        size += _write_all(fd, head)
                        view = view[len(head) :]
                        continue
                    take = min(len(view), STAGE - fill)
                    staging.copy(fill, chunk, len(whole) - len(view), view[:take])
                    fill += take
                    view = view[take:]
                    if fill == STAGE:
                        fill = 0  # taken: a failed write must not be retried below
                        size += self._write_staged(fd, stage, 0, STAGE)
        finally:
            if fill:
                aligned = fill - fill % ALIGN
                if aligned:
                    size += self._write_staged(fd, stage, 0, aligned)
                if fill > aligned:
                    size += self._write_staged(fd, stage, aligned, fill, direct=False)
        return size

    def _stage(self) -> _Stage:
        stage: _Stage | None = getattr(self._local, "stage", None)
        if stage is None:
            stage = self._local.stage = _Stage()
        return stage

    def _write_staged(
        self, fd: int, stage: mmap.mmap, start: int, end: int, *, direct: bool = True
    ) -> int:
        """Write ``stage[start:end]``: directly when ``direct`` (``end - start`` aligned) and
        the filesystem allows it, else buffered. Returns the bytes written (all of them)."""
        done = 0
        with memoryview(stage) as whole:
            view = whole[start:end]
            if direct and self.enabled:
                if not _set_direct(fd, True):
                    self.enabled = False
                else:
                    try:
                        while done < len(view):
                            done += os.write(fd, view[done:])
                    except OSError as exc:
                        if exc.errno != errno.EINVAL:
                            raise
                        # Refused as unaligned: the rest goes buffered. Refused from the
                        # start: this filesystem takes the flag but not the I/O.
                        if done == 0:
                            self.enabled = False
                    finally:
                        _set_direct(fd, False)
            if done < len(view):
                done += _write_all(fd, view[done:])
            view.release()
        return done


class _Stage:
    """A thread's staging buffer: an anonymous mmap (page-aligned, as O_DIRECT needs), kept for
    the thread's life so that its pages stay touched.

    Filling it is a 4 MiB copy per batch. A slice assignment makes it holding the GIL (about a
    millisecond here, during which the event loop cannot read the network); ``ctypes.memmove``
    releases the GIL, and is used for ``bytes``, whose buffer address ctypes can take without a
    copy (what request bodies arrive as). Measured on 10 MiB chunked pushes: 7% faster.
    """

    __slots__ = ("_address", "_pin", "buffer")

    def __init__(self) -> None:
        self.buffer = mmap.mmap(-1, STAGE)
        # The export pins the mapping (it cannot be closed or resized while exported), so the
        # address stays valid for the stage's life.
        self._pin = ctypes.c_char.from_buffer(self.buffer)
        self._address = ctypes.addressof(self._pin)

    def copy(self, at: int, chunk: object, start: int, view: memoryview) -> None:
        """``buffer[at:at + len(view)] = view``, where ``view`` is ``chunk[start:...]``."""
        n = len(view)
        if not 0 <= at <= STAGE - n:
            raise ValueError(f"stage copy out of range: {at} + {n} > {STAGE}")
        if type(chunk) is bytes:
            source = ctypes.cast(ctypes.c_char_p(chunk), ctypes.c_void_p).value
            assert source is not None and start + n <= len(chunk)
            ctypes.memmove(self._address + at, source + start, n)
        else:
            self.buffer[at : at + n] = view


def _set_direct(fd: int, on: bool) -> bool:
    """Set or clear ``O_DIRECT`` on ``fd``; False if the filesystem refuses it."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    wanted = flags | os.O_DIRECT if on else flags & ~os.O_DIRECT
    if wanted == flags:
        return True
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, wanted)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return False
        raise
    return True


def _write_all(fd: int, view: memoryview) -> int:
    """``os.write`` until ``view`` is written (short writes happen on signals or a full disk)."""
    total = len(view)
    while view:
        view = view[os.write(fd, view) :]
    return total


def _append_buffered(fd: int, size: int, chunks: Iterable[bytes]) -> int:
    for chunk in chunks:
        size += _write_all(fd, memoryview(chunk))
    return size

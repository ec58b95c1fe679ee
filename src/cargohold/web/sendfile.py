"""Sending a byte range of a local blob file as a response body, as fast as the machine allows.

The body goes out by ``os.preadv`` into a 2 MiB buffer and a blocking ``sendall``, on a sender
thread (kept, with its buffer, for later transfers) that holds duplicates of the file and
socket descriptors, while the event loop serves other requests. Measured with
benchmarks/bench_registry.py (1 GiB, loopback, 2 cores): aiohttp's ``FileResponse``
(``loop.sendfile``: one non-blocking ``os.sendfile`` per writability wake-up, on the loop)
hands the receiver small bursts, which cost it 1.6x the CPU per GiB (378 against 237 ms) at the
same server CPU, and pulled 0.82x as fast (median of 7); ``os.sendfile`` itself is no faster
than read + send over loopback on these VMs (1.3-1.6 against 2.2-2.9 GB/s on one). Streaming
chunks through aiohttp's writer costs twice the server CPU per byte.

Past ``Senders.limit`` transfers at once, or without a plain TCP socket under the transport,
the body is streamed through aiohttp's writer on the loop instead: a slow reader ties up one
thread at most, and never the capacity to serve pulls.

A file that is not in the page cache (a blob pushed with ``O_DIRECT``, or not read lately) is
warmed ahead of its sender by a ``_Warmer`` on another thread; see there.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import mmap
import os
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, Protocol

from aiohttp import web

from cargohold.errors import BlobUnknownError, StorageError

BUFFER: Final = 2 * 1024 * 1024
"""A sender thread's buffer. Interleaved pulls of 1 GiB here (10 rounds, the same process
for each size): 2 MiB pulled 1.30x as fast as 1 MiB whole (3,377 against 2,595 MB/s) and 1.22x
by 64 MiB ranges, at 310 against 400 ms of server CPU per GiB (fewer, larger system calls); an
anonymous-mmap 4 MiB buffer was no better than 2 MiB (2,905 / 3,073) and costs twice the memory
per thread. The bare servers that give the benchmark's limit agree (1 MiB 2,950, 2 MiB 3,534,
4 MiB 3,451 MB/s); their limit is the best of those sizes."""
# Bodies up to this size are read and written inline: a thread costs more than they do.
INLINE_MAX: Final = 64 * 1024
# A client must take each BUFFER within this many seconds or the connection is closed.
SEND_TIMEOUT: Final = 60
_SEND_TIMEVAL: Final = struct.pack("ll", SEND_TIMEOUT, 0)  # struct timeval for SO_SNDTIMEO


class Senders:
    """The sender threads of one application (``SENDERS``): at most ``limit`` at once.

    Threads and their buffers are kept and reused: a fresh buffer per transfer cost about 3 ms
    of page faults on these VMs (the hypervisor backs memory on first touch), a third of the
    time of a 64 MiB range request.
    """

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self.active = 0
        self.warmed = 0  # transfers that found their file out of the page cache and warmed it
        self._warming = 0  # warmers submitted and not ended
        self._pool: ThreadPoolExecutor | None = None
        self._warm_pool: ThreadPoolExecutor | None = None
        self._warm_lock = threading.Lock()
        self._closed = False  # no new warmer pool once the app is cleaned up
        self._local = threading.local()

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.limit, thread_name_prefix="cargohold-send")
        return self._pool

    def buffer(self) -> memoryview:
        """This sender thread's buffer: an anonymous mapping of its own, not the heap.

        A heap ``bytearray`` of the same size comes from whatever the allocator has (the
        process has freed many large request bodies by then). Measured on one: with a 4 MiB
        heap buffer, pulls ran at 1,236-1,740 MB/s and the kernel's copy into the buffer took
        64% of the server's CPU; with a mapping of the same size, 2,905-3,875.
        """
        view: memoryview | None = getattr(self._local, "buffer", None)
        if view is None:
            view = memoryview(mmap.mmap(-1, BUFFER))
            self._local.buffer = view
        return view

    def warm(self, fd: int, start: int, end: int) -> _Warmer | None:
        """Start warming ``[start, end)`` of ``fd`` ahead of its sender; None when no warmer
        thread can be had (then the sender reads the cold pages itself, as before)."""
        with self._warm_lock:  # called from sender threads
            # Never more warmers than threads, so none waits in a queue holding a descriptor:
            # a flood of cold pulls must not pile up open files behind two slow ones.
            if self._warming >= WARMERS or self._closed:
                return None
            if self._warm_pool is None:
                self._warm_pool = ThreadPoolExecutor(WARMERS, thread_name_prefix="cargohold-warm")
            pool = self._warm_pool
            self._warming += 1
            self.warmed += 1
        warmer = _Warmer(fd, start, end)

        def ended(future: Future[None]) -> None:
            if future.cancelled():  # the pool shut down before it ran: it still owns its fd
                warmer.close()
            with self._warm_lock:
                self._warming -= 1

        try:
            pool.submit(warmer.run).add_done_callback(ended)
        except RuntimeError:  # shut down
            warmer.close()
            with self._warm_lock:
                self._warming -= 1
            return None
        return warmer

    def close(self) -> None:
        """Stop the threads once their transfers end (the app's cleanup)."""
        with self._warm_lock:
            self._closed = True
            pools = (self._pool, self._warm_pool)
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)


SENDERS: Final = web.AppKey("blob_senders", Senders)

WARMERS: Final = 2  # warmer threads per process: a third would find no core of its own here
WARM_AHEAD: Final = 8 * 1024 * 1024  # how far ahead of its sender a warmer may be
WARM_STEP: Final = BUFFER  # a stretch: what the warmer or the sender brings in at a time
WARM_PATIENCE = 2.0  # seconds a warmer waits for its sender to move before it gives up


class _Warmer:
    """Brings ``[start, end)`` of a file into the page cache ahead of the thread sending it,
    sharing the cost with that thread.

    What a page-cache miss costs here is the first copy out of the new pages: on these VMs
    (pages the guest has not touched yet are backed by the hypervisor on first touch) the
    first read of 1 GiB freshly written with ``O_DIRECT`` took 1.9-2.1 s of CPU at 530-560 MB/s,
    the next 0.15-0.2 s, whether or not the pages had been brought in first without a copy
    (``MADV_POPULATE_READ``: 0.01 s). That cost parallelises only over different pages: two
    threads reading the two halves of such a file ran at 984-999 MB/s, twice one, while a
    second thread reading just ahead of the sender doubled the CPU and gained nothing.

    So the range is cut into stretches of ``WARM_STEP``, each claimed once, in order, by
    whichever thread comes to it first: the warmer claims the next one up to ``WARM_AHEAD``
    beyond what was sent and reads it (a plain read: the kernel reads ahead into large folios,
    and the copy touches the pages); the sender reads and sends a stretch nobody claimed itself
    (the first, where it missed, is its own), and while the warmer is still on the stretch the
    sender needs, it reads the next unclaimed one instead of waiting. The warmer owns a
    duplicate of the descriptor and closes it when it ends.
    """

    def __init__(self, fd: int, start: int, end: int) -> None:
        self._fd = os.dup(fd)
        self._end = end
        self._sent = start
        self._claimed = min(start + WARM_STEP, end)  # every stretch before this is claimed
        self._touching: int | None = None  # the stretch the warmer is reading
        self._stopped = False
        self._cond = threading.Condition()
        self._closed = False

    def run(self) -> None:
        """On a warmer thread: claim and read stretch after stretch, never more than
        ``WARM_AHEAD`` beyond what was sent, until the end or ``stop``."""
        try:
            while True:
                with self._cond:
                    # A sender stuck on a slow client must not keep a warmer thread from the
                    # transfers behind it: past WARM_PATIENCE without progress, it gives up.
                    if not self._cond.wait_for(self._may_go_on, WARM_PATIENCE):
                        return
                    if self._stopped or self._claimed >= self._end:
                        return
                    at = self._touching = self._claimed
                    self._claimed += WARM_STEP
                try:
                    _bring_in(self._fd, at, min(WARM_STEP, self._end - at))
                finally:
                    with self._cond:
                        self._touching = None
                        self._cond.notify_all()
        except OSError:
            return  # only an optimisation: the sender reads what it needs anyway
        finally:
            self.close()

    def _may_go_on(self) -> bool:
        return self._stopped or self._claimed - self._sent < WARM_AHEAD

    def turn(self, position: int) -> int | None:
        """The sender needs the stretch at ``position``: None when it may read it now (it is
        brought in, or nobody claimed it and it is now the sender's), or the start of another
        stretch, now the sender's, to read meanwhile while the warmer finishes this one."""
        with self._cond:
            if position >= self._claimed:
                self._claimed = min(position + WARM_STEP, self._end)
                return None
            if self._touching != position:
                return None
            if self._claimed < self._end:
                other = self._claimed
                self._claimed = min(other + WARM_STEP, self._end)
                return other
            # Nothing left to read meanwhile: wait for the warmer (or read it anyway).
            self._cond.wait_for(lambda: self._touching != position, WARM_PATIENCE)
            return None

    def sent(self, position: int) -> None:
        """The sender has sent everything before ``position``."""
        with self._cond:
            self._sent = position
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
        os.close(self._fd)


def _bring_in(fd: int, offset: int, length: int) -> None:
    """Read ``[offset, offset + length)`` of ``fd`` into this thread's scratch buffer: into the
    page cache, in large folios (the kernel reads ahead as for any sequential read), and
    touched. ``posix_fadvise(WILLNEED)``, used before, left single pages, and the file stayed so
    while it was cached: a later whole pull of it ran at 0.82 of a bare server's rate (2,214
    against 2,708 MB/s), with 5% of the server's samples in page-cache lookups, against
    0.95-0.99 for a file read in."""
    scratch: memoryview | None = getattr(_scratch, "view", None)
    if scratch is None:
        scratch = _scratch.view = memoryview(mmap.mmap(-1, WARM_STEP))
    at, end = offset, offset + length
    while at < end:
        n = os.preadv(fd, [scratch[: min(WARM_STEP, end - at)]], at)
        if not n:
            return
        at += n


_scratch = threading.local()  # a warmer thread's buffer (the mapping is kept, its pages touched)


class _Body(Protocol):
    """What a sender thread sends: ``send`` on the blocking socket (with the thread's buffer
    to use), then ``release``, on that thread, however ``send`` ended."""

    def send(self, sock: socket.socket, view: memoryview) -> None: ...

    def release(self) -> None: ...


async def send_file(
    request: web.Request, path: str, status: int, headers: dict[str, str], start: int, length: int
) -> web.StreamResponse:
    """Answer with ``[start, start + length)`` of the file at ``path`` as the body.

    ``headers`` and the range are already validated against the blob's recorded size; a file
    missing by now is ``BlobUnknownError``, one shorter than the range ``StorageError`` (both
    before anything is sent). A client that goes away or stalls mid-body loses its connection.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BlobUnknownError() from None
    except OSError as exc:
        raise StorageError(f"open blob: {exc}") from exc
    try:
        if os.fstat(fd).st_size < start + length:
            raise StorageError("blob shorter than its recorded size")
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = length
        await response.prepare(request)
        if length <= INLINE_MAX:
            await response.write(_pread(fd, start, length))
        else:
            body = _FileBody(fd, start, length, request.app[SENDERS].warm)
            if not await _on_thread(request, response, body):
                body.release()
                await _on_loop(response, fd, start, length)
        await response.write_eof()
        return response
    finally:
        os.close(fd)


async def send_chunks(
    request: web.Request,
    chunks: Iterator[bytes],
    status: int,
    headers: dict[str, str],
    length: int,
    run: Callable[[Callable[[], bytes]], Awaitable[bytes]],
) -> web.StreamResponse:
    """Answer with the ``length`` bytes ``chunks`` yields (a store's ``open_read``).

    The chunks are taken and sent on a sender thread like a file's; past the limit, each is
    taken by ``run`` (an executor) and written by the loop. A source that fails mid-body
    loses the client its connection (the status line is gone already).
    """
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = length
    await response.prepare(request)
    body = _ChunkBody(chunks)
    if not await _on_thread(request, response, body):
        try:
            while chunk := await run(lambda: next(chunks, b"")):
                await response.write(chunk)
        finally:
            body.release()
    await response.write_eof()
    return response


class _FileBody:
    """``[start, start + length)`` of a file, sent by preadv into the thread's buffer. Owns a
    duplicate of the descriptor: a cancelled handler closing its own must not let the number
    be reused under a thread still reading.

    Reads ask for cached pages only (``RWF_NOWAIT``) until one misses: then ``warm`` starts a
    warmer for the rest of the range, and the two share it by stretches (``_Warmer.turn``).
    """

    def __init__(
        self,
        fd: int,
        start: int,
        length: int,
        warm: Callable[[int, int, int], _Warmer | None] | None = None,
    ) -> None:
        self._fd = os.dup(fd)
        self._start, self._end = start, start + length
        self._warm = warm

    def send(self, sock: socket.socket, view: memoryview) -> None:
        pos, end = self._start, self._end
        probing = self._warm is not None
        warmer: _Warmer | None = None
        try:
            while pos < end:
                target = view[: min(BUFFER, end - pos)]
                if warmer is not None:
                    other = warmer.turn(pos)
                    if other is not None:  # the warmer is on this stretch: read another
                        os.preadv(self._fd, [view[: min(WARM_STEP, end - other)]], other)
                        continue
                    n: int | None = os.preadv(self._fd, [target], pos)
                else:
                    n = _read_cached(self._fd, target, pos) if probing else None
                    if n is not None and n < 0:  # the filesystem cannot tell: no warming
                        probing, n = False, None
                    if n is None:
                        if probing and self._warm is not None:
                            probing = False
                            warmer = self._warm(self._fd, pos, end)
                        n = os.preadv(self._fd, [target], pos)
                if not n:
                    raise OSError("blob shorter than its recorded size")
                sock.sendall(view[:n])
                pos += n
                if warmer is not None:
                    warmer.sent(pos)
        finally:
            if warmer is not None:
                warmer.stop()

    def release(self) -> None:
        os.close(self._fd)


class _ChunkBody:
    """The chunks of a store's stream, sent as they come."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def send(self, sock: socket.socket, view: memoryview) -> None:
        for chunk in self._chunks:
            sock.sendall(chunk)

    def release(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


async def _on_thread(request: web.Request, response: web.StreamResponse, body: _Body) -> bool:
    """Send ``body`` from a sender thread; False (nothing sent) when that cannot be done.

    Once handed to the thread, ``body`` is the thread's to release; if this raises before
    that, it is released here; on False it is still the caller's.
    """
    try:
        return await _hand_over(request, response, body)
    except _NotHandedOver as exc:
        body.release()
        raise exc.error from None


class _NotHandedOver(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


async def _hand_over(request: web.Request, response: web.StreamResponse, body: _Body) -> bool:
    senders = request.app[SENDERS]
    transport = request.transport
    if senders.active >= senders.limit or transport is None:
        return False
    tsock = transport.get_extra_info("socket")
    if tsock is None or transport.get_extra_info("sslcontext") is not None:
        return False
    # The headers go first, through aiohttp; the thread may write only on an empty buffer.
    try:
        await response.write(b"")
        if transport.get_write_buffer_size():
            return False
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        sock = tsock.dup()
    except BaseException as exc:
        raise _NotHandedOver(exc) from exc
    senders.active += 1
    # While the thread sends on a blocking descriptor the loop must not read from it (a
    # spurious wake-up would block the loop), nor write (the buffer is empty and stays so).
    transport.pause_reading()
    try:
        senders.pool.submit(_send, loop, done, senders, body, sock)
    except BaseException as exc:
        sock.close()
        senders.active -= 1
        transport.resume_reading()
        raise _NotHandedOver(exc) from exc
    try:
        await done
        transport.resume_reading()
    except BaseException as exc:
        # Part of the body may be on the wire: the connection cannot carry another response,
        # and a thread still sending (the handler was cancelled) must stop.
        with contextlib.suppress(OSError):
            tsock.shutdown(socket.SHUT_RDWR)
        transport.abort()
        if isinstance(exc, OSError):
            raise ConnectionResetError(f"blob body not sent: {exc}") from exc
        raise
    return True


def _send(
    loop: asyncio.AbstractEventLoop,
    done: asyncio.Future[None],
    senders: Senders,
    body: _Body,
    sock: socket.socket,
) -> None:
    """The sender thread: send ``body``, release it, then settle ``done`` on the loop."""
    error: BaseException | None = None
    try:
        # Blocking sends: one system call per buffer, where a non-blocking descriptor needs a
        # poll and a retry each time the socket's buffer fills (measured: 0.45-0.53 s of
        # server CPU per GiB against 0.35-0.50, and slower pulls). O_NONBLOCK belongs to the
        # open file, which the loop shares: it is cleared here and set again below, before the
        # loop, which paused reading meanwhile, touches the socket. SO_SNDTIMEO bounds a send
        # to a client that stops reading.
        sock.setblocking(True)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _SEND_TIMEVAL)
        body.send(sock, senders.buffer())
    except BaseException as exc:
        error = exc
    finally:
        with contextlib.suppress(OSError):
            os.set_blocking(sock.fileno(), False)
        sock.close()
        with contextlib.suppress(Exception):
            body.release()
    # A closed loop (RuntimeError) has nobody waiting any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, done, senders, error)


def _settle(done: asyncio.Future[None], senders: Senders, error: BaseException | None) -> None:
    senders.active -= 1
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


async def _on_loop(response: web.StreamResponse, fd: int, start: int, length: int) -> None:
    """Stream the body through aiohttp's writer, reading on the default executor."""
    loop = asyncio.get_running_loop()
    pos, end = start, start + length
    while pos < end:
        chunk = await loop.run_in_executor(None, _pread, fd, pos, min(BUFFER, end - pos))
        await response.write(chunk)
        pos += len(chunk)


def _read_cached(fd: int, target: memoryview, offset: int) -> int | None:
    """Read into ``target`` only what the page cache holds from ``offset`` on: the byte count
    (short when the cache holds less, 0 at the end of the file), None when the first page is
    not cached, -1 when the filesystem cannot tell (``EOPNOTSUPP``)."""
    try:
        return os.preadv(fd, [target], offset, os.RWF_NOWAIT)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):
            return -1
        raise


def _pread(fd: int, offset: int, length: int) -> bytes:
    chunk = os.pread(fd, length, offset)
    if len(chunk) != length:
        raise StorageError("blob shorter than its recorded size")
    return chunk

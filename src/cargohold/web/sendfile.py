"""Sending a byte range of a local blob file as a response body, as fast as the machine allows.

The body goes out by ``os.preadv`` into a 1 MiB buffer and a blocking ``sendall``, on a sender
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
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Final, Protocol

from aiohttp import web

from cargohold.errors import BlobUnknownError, StorageError

BUFFER: Final = 1024 * 1024
# Bodies up to this size are read and written inline: a thread costs more than they do.
INLINE_MAX: Final = 64 * 1024
# A client must take each BUFFER within this many seconds or the connection is closed.
SEND_TIMEOUT: Final = 60
_SEND_TIMEVAL: Final = struct.pack("ll", SEND_TIMEOUT, 0)  # struct timeval for SO_SNDTIMEO


class Senders:
    """The sender threads of one application (``SENDERS``): at most ``limit`` at once.

    Threads and their 1 MiB buffers are kept and reused: a fresh buffer per transfer cost
    about 3 ms of page faults on these VMs (the hypervisor backs memory on first touch),
    a third of the time of a 64 MiB range request.
    """

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self.active = 0
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.limit, thread_name_prefix="cargohold-send")
        return self._pool

    def buffer(self) -> memoryview:
        """This sender thread's buffer."""
        view: memoryview | None = getattr(self._local, "buffer", None)
        if view is None:
            view = memoryview(bytearray(BUFFER))
            self._local.buffer = view
        return view

    def close(self) -> None:
        """Stop the threads once their transfers end (the app's cleanup)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


SENDERS: Final = web.AppKey("blob_senders", Senders)


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
            body = _FileBody(fd, start, length)
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
    be reused under a thread still reading."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        self._fd = os.dup(fd)
        self._start, self._end = start, start + length

    def send(self, sock: socket.socket, view: memoryview) -> None:
        pos, end = self._start, self._end
        while pos < end:
            n = os.preadv(self._fd, [view[: min(BUFFER, end - pos)]], pos)
            if not n:
                raise OSError("blob shorter than its recorded size")
            sock.sendall(view[:n])
            pos += n

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


def _pread(fd: int, offset: int, length: int) -> bytes:
    chunk = os.pread(fd, length, offset)
    if len(chunk) != length:
        raise StorageError("blob shorter than its recorded size")
    return chunk

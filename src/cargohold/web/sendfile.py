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
from concurrent.futures import ThreadPoolExecutor
from typing import Final

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
        elif not await _on_thread(request, response, fd, start, length):
            await _on_loop(response, fd, start, length)
        await response.write_eof()
        return response
    finally:
        os.close(fd)


async def _on_thread(
    request: web.Request, response: web.StreamResponse, fd: int, start: int, length: int
) -> bool:
    """Send the body from a thread of its own; False (nothing sent) when that cannot be done."""
    senders = request.app[SENDERS]
    transport = request.transport
    if senders.active >= senders.limit or transport is None:
        return False
    tsock = transport.get_extra_info("socket")
    if tsock is None or transport.get_extra_info("sslcontext") is not None:
        return False
    # The headers go first, through aiohttp; the thread may write only on an empty buffer.
    await response.write(b"")
    if transport.get_write_buffer_size():
        return False
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    # The thread owns duplicates: a cancelled handler closing its descriptors must not let
    # the numbers be reused under a thread still reading and sending.
    file_fd = os.dup(fd)
    try:
        sock = tsock.dup()
    except BaseException:
        os.close(file_fd)
        raise
    senders.active += 1
    # While the thread sends on a blocking descriptor the loop must not read from it (a
    # spurious wake-up would block the loop), nor write (the buffer is empty and stays so).
    transport.pause_reading()
    try:
        senders.pool.submit(_send, loop, done, senders, file_fd, sock, start, length)
    except BaseException:
        os.close(file_fd)
        sock.close()
        senders.active -= 1
        transport.resume_reading()
        raise
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
    file_fd: int,
    sock: socket.socket,
    start: int,
    length: int,
) -> None:
    """The sender thread: preadv + sendall, then settle ``done`` on the loop."""
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
        view = senders.buffer()
        pos, end = start, start + length
        while pos < end:
            n = os.preadv(file_fd, [view[: min(BUFFER, end - pos)]], pos)
            if not n:
                raise OSError("blob shorter than its recorded size")
            sock.sendall(view[:n])
            pos += n
    except BaseException as exc:
        error = exc
    finally:
        with contextlib.suppress(OSError):
            os.set_blocking(sock.fileno(), False)
        os.close(file_fd)
        sock.close()
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

"""web.sendfile: the bytes of a local file range, on a sender thread or on the loop."""

from __future__ import annotations

import asyncio
import mmap
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cargohold.errors import BlobUnknownError, StorageError
from cargohold.web import sendfile
from cargohold.web.sendfile import BUFFER, INLINE_MAX, SENDERS, Senders, send_chunks, send_file
from support.cold_files import cold_file, drop_cache, is_cached, skip_unless_evicted

MIB = 1 << 20
Make = Callable[..., Awaitable[tuple[TestClient[web.Request, web.Application], Senders]]]


@pytest.fixture
def blob(tmp_path: Path) -> tuple[Path, bytes]:
    # Not a multiple of the buffer, so the last read is a short one.
    data = os.urandom(3 * BUFFER + 12345)
    path = tmp_path / "blob"
    path.write_bytes(data)
    return path, data


@pytest.fixture
async def make(blob: tuple[Path, bytes]) -> Make:
    clients: list[TestClient[web.Request, web.Application]] = []
    made: list[Senders] = []

    async def build(
        limit: int = 64, path: Path | None = None
    ) -> tuple[TestClient[web.Request, web.Application], Senders]:
        senders = Senders(limit)
        made.append(senders)

        async def handler(request: web.Request) -> web.StreamResponse:
            if "probe" in request.query:  # is this connection's socket blocking?
                assert request.transport is not None
                fd = request.transport.get_extra_info("socket").fileno()
                return web.Response(text=str(os.get_blocking(fd)))
            start = int(request.query.get("start", "0"))
            target = path or blob[0]
            size = target.stat().st_size if target.exists() else 0
            length = int(request.query.get("length", str(size - start)))
            try:
                return await send_file(request, str(target), 200, {"X-Test": "yes"}, start, length)
            except BlobUnknownError:
                return web.Response(status=404, text="unknown")
            except StorageError as exc:
                return web.Response(status=500, text=str(exc))

        app = web.Application()
        app[SENDERS] = senders
        app.router.add_get("/", handler)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client, senders

    yield build  # type: ignore[misc]
    for client in clients:
        await client.close()
    for senders in made:
        senders.close()


@pytest.mark.parametrize("limit", [64, 0], ids=["thread", "loop"])
@pytest.mark.parametrize(
    ("start", "length"),
    [(0, None), (0, 1), (BUFFER - 1, BUFFER + 2), (5, INLINE_MAX), (7, INLINE_MAX + 1), (100, 0)],
)
async def test_sends_exactly_the_range(
    make: Make, blob: tuple[Path, bytes], limit: int, start: int, length: int | None
) -> None:
    client, senders = await make(limit)
    data = blob[1]
    want = data[start:] if length is None else data[start : start + length]
    query = {"start": str(start)} | ({} if length is None else {"length": str(length)})
    resp = await client.get("/", params=query)
    assert resp.status == 200
    assert resp.headers["X-Test"] == "yes"
    assert resp.headers["Content-Length"] == str(len(want))
    assert await resp.read() == want
    assert await _settled(senders)


async def test_connection_serves_the_next_request_after_a_threaded_body(
    make: Make, blob: tuple[Path, bytes]
) -> None:
    client, _ = await make()
    for start in (0, 10, 0):
        resp = await client.get("/", params={"start": str(start)})
        assert await resp.read() == blob[1][start:]
    # One kept-alive connection carried all three responses.
    connector = client.session.connector
    assert connector is not None
    assert sum(len(c) for c in connector._conns.values()) == 1  # type: ignore[attr-defined]


async def test_the_socket_is_non_blocking_again_for_the_loop(
    make: Make, blob: tuple[Path, bytes]
) -> None:
    """The sender thread clears O_NONBLOCK (shared with the loop's descriptor) while it
    sends; the next request on the connection must find it set again."""
    client, _ = await make()
    resp = await client.get("/")
    assert await resp.read() == blob[1]
    probe = await client.get("/", params={"probe": "1"})
    assert await probe.text() == "False"


async def test_sender_threads_and_buffers_are_reused(make: Make, blob: tuple[Path, bytes]) -> None:
    """One transfer after another runs on one kept thread with one buffer: a fresh thread and
    buffer per transfer cost page faults that showed in range-request throughput."""
    client, senders = await make()
    for _ in range(3):
        resp = await client.get("/")
        assert await resp.read() == blob[1]
        assert await _settled(senders)
    assert len(senders.pool._threads) == 1
    buffers = {id(senders.pool.submit(senders.buffer).result().obj) for _ in range(3)}
    assert len(buffers) == 1


def test_a_sender_buffer_is_a_mapping_of_its_own() -> None:
    """Each thread's buffer is an anonymous mapping of BUFFER bytes, not heap memory: a heap
    buffer of the same kind sent pulls at half the speed here (see ``Senders.buffer``)."""
    senders = Senders()
    mine = senders.buffer()
    assert isinstance(mine.obj, mmap.mmap) and len(mine) == BUFFER and not mine.readonly
    assert senders.buffer() is mine
    theirs: list[memoryview] = []
    worker = threading.Thread(target=lambda: theirs.append(senders.buffer()))
    worker.start()
    worker.join()
    assert theirs[0].obj is not mine.obj


async def test_missing_file_is_blob_unknown_before_anything_is_sent(
    make: Make, tmp_path: Path
) -> None:
    client, _ = await make(path=tmp_path / "gone")
    resp = await client.get("/", params={"length": "10"})
    assert resp.status == 404


async def test_file_shorter_than_the_range_is_a_storage_error(
    make: Make, blob: tuple[Path, bytes]
) -> None:
    client, _ = await make()
    resp = await client.get("/", params={"start": "0", "length": str(len(blob[1]) + 1)})
    assert resp.status == 500
    assert "shorter" in await resp.text()


async def _settled(senders: Senders) -> bool:
    """Whether every sender thread is accounted for (the client may read the last byte
    before the thread reports back to the loop)."""
    for _ in range(1000):
        if not senders.active:
            return True
        await asyncio.sleep(0.01)
    return False


async def _request(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=MIB)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def test_stalled_reader_beyond_the_limit_does_not_block_other_pulls(
    make: Make, tmp_path: Path
) -> None:
    # A body far larger than the socket buffers, so the stalled transfer cannot finish.
    data = os.urandom(64 * MIB)
    path = tmp_path / "big"
    path.write_bytes(data)
    client, senders = await make(limit=1, path=path)
    port = client.port
    assert port is not None
    _, stalled = await _request(port)
    for _ in range(100):
        if senders.active:
            break
        await asyncio.sleep(0.01)
    assert senders.active == 1
    # The one thread is taken: this pull is served on the loop, in full.
    # (wait_for only turns a hang into a failure; nothing here is timed.)
    resp = await asyncio.wait_for(client.get("/", params={"start": str(len(data) - 3 * MIB)}), 120)
    assert await asyncio.wait_for(resp.read(), 120) == data[-3 * MIB :]
    stalled.close()
    await stalled.wait_closed()


async def _big(
    make: Make, tmp_path: Path
) -> tuple[bytes, TestClient[web.Request, web.Application], Senders]:
    """A server of a 64 MiB file, far larger than the socket buffers: (data, client, senders)."""
    data = os.urandom(64 * MIB)
    path = tmp_path / "big"
    path.write_bytes(data)
    client, senders = await make(path=path)
    return data, client, senders


async def test_client_gone_mid_body_frees_the_thread_and_the_server_goes_on(
    make: Make, tmp_path: Path
) -> None:
    data, client, senders = await _big(make, tmp_path)
    assert client.port is not None
    reader, writer = await _request(client.port)
    await reader.readexactly(BUFFER)
    writer.transport.abort()
    assert await _settled(senders)
    resp = await client.get("/", params={"start": str(len(data) - 10)})
    assert await resp.read() == data[-10:]


async def test_a_reader_that_stops_is_cut_off_after_the_send_timeout(
    make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread's sends block; SO_SNDTIMEO ends one that a client never takes, the
    connection is dropped and the thread is free again."""
    import struct

    from cargohold.web import sendfile

    monkeypatch.setattr(sendfile, "_SEND_TIMEVAL", struct.pack("ll", 0, 300_000))
    data, client, senders = await _big(make, tmp_path)
    assert client.port is not None
    reader, writer = await _request(client.port)
    assert await _settled(senders), "the stalled send never timed out"
    # Whatever the socket buffers held arrives, then the server's end is closed.
    received = len(await asyncio.wait_for(reader.read(), 120))
    assert received < len(data)
    writer.close()
    await writer.wait_closed()
    resp = await client.get("/", params={"start": str(len(data) - 10)})
    assert await resp.read() == data[-10:]


class _Source:
    """Chunks of ``data``, failing after ``fail_after`` chunks if given; records closing."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._pieces = [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
        self._fail_after = fail_after
        self.closed = False

    def __iter__(self) -> _Source:
        return self

    def __next__(self) -> bytes:
        if self._fail_after is not None and self._fail_after <= 0:
            raise StorageError("store went away")
        if not self._pieces:
            raise StopIteration
        if self._fail_after is not None:
            self._fail_after -= 1
        return self._pieces.pop(0)

    def close(self) -> None:
        self.closed = True

    async def released(self) -> bool:
        """Whether the handler closes it (the client may have every byte before it does)."""
        for _ in range(1000):
            if self.closed:
                return True
            await asyncio.sleep(0.01)
        return False


async def _chunk_client(
    senders: Senders, source: _Source, length: int
) -> TestClient[web.Request, web.Application]:
    async def run(fn: Callable[[], bytes]) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    async def handler(request: web.Request) -> web.StreamResponse:
        return await send_chunks(request, source, 200, {"X-Test": "yes"}, length, run)

    app = web.Application()
    app[SENDERS] = senders
    app.router.add_get("/", handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.mark.parametrize("limit", [64, 0], ids=["thread", "loop"])
async def test_chunks_of_a_store_stream_are_sent_whole_and_released(limit: int) -> None:
    data = os.urandom(3 * BUFFER + 777)
    source, senders = _Source(data), Senders(limit)
    client = await _chunk_client(senders, source, len(data))
    try:
        resp = await client.get("/")
        assert resp.headers["X-Test"] == "yes"
        assert await resp.read() == data
        assert await _settled(senders)
        assert await source.released()
    finally:
        await client.close()
        senders.close()


@pytest.mark.parametrize("limit", [64, 0], ids=["thread", "loop"])
async def test_a_stream_failing_mid_body_drops_the_connection(limit: int) -> None:
    data = os.urandom(3 * BUFFER)
    source, senders = _Source(data, fail_after=5), Senders(limit)
    client = await _chunk_client(senders, source, len(data))
    try:
        with pytest.raises(aiohttp.ClientPayloadError):
            resp = await client.get("/")
            await resp.read()
        assert await _settled(senders)
        assert await source.released()
    finally:
        await client.close()
        senders.close()


async def test_a_file_out_of_the_cache_is_warmed_ahead_and_sent_intact(
    make: Make, blob: tuple[Path, bytes]
) -> None:
    client, senders = await make()
    skip_unless_evicted(blob[0])
    resp = await client.get("/")
    assert await resp.read() == blob[1]
    assert await _settled(senders)
    assert senders.warmed == 1
    # Cached now: the next transfer reads without warming.
    resp = await client.get("/")
    assert await resp.read() == blob[1]
    assert senders.warmed == 1


async def test_a_range_cold_in_its_middle_is_warmed_from_there(
    make: Make, blob: tuple[Path, bytes]
) -> None:
    client, senders = await make()
    path, data = blob
    skip_unless_evicted(path, 2 * BUFFER)
    resp = await client.get("/", params={"start": str(BUFFER)})
    assert await resp.read() == data[BUFFER:]
    assert await _settled(senders)
    assert senders.warmed == 1


def test_a_warmer_brings_the_pages_ahead_of_the_sender_and_no_further(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sendfile, "WARM_PATIENCE", 60.0)
    size = sendfile.WARM_AHEAD * 4
    path = cold_file(tmp_path / "cold", os.urandom(size))
    fd = os.open(path, os.O_RDONLY)
    try:
        warmer = sendfile._Warmer(fd, 0, size)
        done = threading.Thread(target=warmer.run)
        done.start()
        # Nothing sent yet: the warmer stops WARM_AHEAD in and waits. (The kernel reads
        # ahead of its reads, but not by a whole WARM_AHEAD more.)
        deadline = time.monotonic() + 30
        while not is_cached(path, sendfile.WARM_AHEAD - 4096, 4096):
            assert time.monotonic() < deadline, "the warmer did not warm the first stretch"
            time.sleep(0.01)
        time.sleep(0.2)
        assert done.is_alive()
        assert not is_cached(path, 3 * sendfile.WARM_AHEAD, 4096)
        warmer.sent(size)  # everything sent: it warms the rest and ends
        done.join(30)
        assert not done.is_alive()
        assert is_cached(path, size - 4096, 4096)
        with pytest.raises(OSError):
            os.fstat(warmer._fd)  # its own descriptor is closed, the caller's is not
        os.fstat(fd)
    finally:
        os.close(fd)


def test_each_stretch_is_read_by_the_warmer_or_the_sender_never_both(tmp_path: Path) -> None:
    """The first stretch is the sender's; one the warmer is reading sends the sender to the
    next one nobody claimed; with none left, it waits for the warmer."""
    step = sendfile.WARM_STEP
    path = tmp_path / "blob"
    path.write_bytes(b"x" * (4 * step + 100))
    fd = os.open(path, os.O_RDONLY)
    try:
        warmer = sendfile._Warmer(fd, 0, 4 * step + 100)
        assert warmer.turn(0) is None  # the sender's own
        assert warmer.turn(step) is None  # unclaimed: now the sender's
        warmer._claimed, warmer._touching = 3 * step, 2 * step  # the warmer is on stretch 2
        assert warmer.turn(2 * step) == 3 * step  # read stretch 3 meanwhile
        assert warmer.turn(2 * step) == 4 * step  # and the short last one
        assert warmer._claimed == 4 * step + 100
        released: list[float] = []

        def finish() -> None:
            time.sleep(0.1)
            with warmer._cond:
                warmer._touching = None
                warmer._cond.notify_all()
            released.append(time.monotonic())

        threading.Thread(target=finish).start()
        assert warmer.turn(2 * step) is None  # nothing left to claim: it waited
        assert released, "the sender did not wait for the warmer's stretch"
        assert warmer.turn(3 * step) is None  # read meanwhile: in the cache now
    finally:
        warmer.close()
        os.close(fd)


async def test_a_long_cold_file_is_shared_between_warmer_and_sender_and_sent_intact(
    tmp_path: Path,
) -> None:
    data = os.urandom(10 * sendfile.WARM_STEP + 777)
    path = cold_file(tmp_path / "long", data)
    senders = Senders()
    app = web.Application()
    app[SENDERS] = senders

    async def handler(request: web.Request) -> web.StreamResponse:
        start = int(request.query.get("start", "0"))
        return await send_file(request, str(path), 200, {}, start, len(data) - start)

    app.router.add_get("/", handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        resp = await client.get("/", params={"start": "4097"})  # stretches off page bounds
        assert await resp.read() == data[4097:]
        assert await _settled(senders)
        assert senders.warmed == 1
    finally:
        await client.close()
        senders.close()


def test_a_stopped_warmer_ends_and_closes_its_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "cold"
    path.write_bytes(os.urandom(3 * sendfile.WARM_AHEAD))
    fd = os.open(path, os.O_RDONLY)
    try:
        warmer = sendfile._Warmer(fd, 0, 3 * sendfile.WARM_AHEAD)
        warmer.stop()
        warmer.run()  # returns at once
        with pytest.raises(OSError):
            os.fstat(warmer._fd)
        warmer.close()  # twice is harmless
    finally:
        os.close(fd)


def _large_folio_share(path: Path) -> float | None:
    """The share of ``path``'s pages in the page cache that sit in large folios, from the
    kernel's page flags (``/proc/kpageflags``, root only); None when this process cannot read
    them."""
    size = path.stat().st_size
    fd = os.open(path, os.O_RDONLY)
    try:
        with mmap.mmap(fd, size, prot=mmap.PROT_READ) as view:
            start = next(
                int(line.split("-", 1)[0], 16)
                for line in Path("/proc/self/maps").read_text().splitlines()
                if line.endswith(str(path))
            )
            large = seen = 0
            try:
                with (
                    open("/proc/self/pagemap", "rb") as pagemap,
                    open("/proc/kpageflags", "rb") as flags,
                ):
                    for page in range(size // mmap.PAGESIZE):
                        view[page * mmap.PAGESIZE]  # map the cached page
                        pagemap.seek((start // mmap.PAGESIZE + page) * 8)
                        entry = int.from_bytes(pagemap.read(8), "little")
                        frame = entry & ((1 << 55) - 1)
                        if not entry >> 63 or not frame:  # not mapped after all, or hidden
                            continue
                        flags.seek(frame * 8)
                        bits = int.from_bytes(flags.read(8), "little")
                        seen += 1
                        large += bool(bits & (1 << 15 | 1 << 16))  # COMPOUND_HEAD / TAIL
            except PermissionError:
                return None
            return large / seen if seen else None
    finally:
        os.close(fd)


def test_a_warmer_brings_a_file_in_as_a_sequential_read_would(tmp_path: Path) -> None:
    """In large folios where the kernel reads so, not in single pages (WILLNEED's): every
    later pull of the file pays per folio."""
    size = 32 * MIB  # readahead grows its folios as a sequential read goes on
    path = cold_file(tmp_path / "cold", os.urandom(size))
    fd = os.open(path, os.O_RDONLY)
    try:
        for offset in range(0, size, MIB):  # what a plain sequential read gives here
            os.pread(fd, MIB, offset)
        control = _large_folio_share(path)
        if control is None or control < 0.5:
            pytest.skip(f"plain reads give no large folios here ({control}), or no page flags")
        drop_cache(path)
        for offset in range(0, size, sendfile.WARM_STEP):
            sendfile._bring_in(fd, offset, sendfile.WARM_STEP)
        assert is_cached(path, 0, size)
        share = _large_folio_share(path)
        assert share is not None and share >= control / 2, (share, control)
    finally:
        os.close(fd)

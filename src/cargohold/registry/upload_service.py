"""Blob uploads as one call each: open, mount, append a chunk, commit, cancel.

Distribution's shape: the handler parses the request and calls one method; ``commit`` verifies
the digest, moves the bytes into the store and links the blob into the package (what
distribution's ``blobWriter.Commit`` does). See ``cargohold.registry.uploads`` for the session
lifecycle, ownership and the claim that serialises writers.

Bodies are streamed: the caller hands an async iterator of chunks, cut into batches of
``BlobStore.write_size`` bytes. Each batch is hashed in one lane and written in another
(``cargohold.registry.lanes``: in order, on worker threads) while the event loop reads the
next, so memory stays flat whatever the blob size and hashing overlaps writing and network
reads. A store that hashes what it writes (S3) is not hashed for a second time here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from cargohold.db.runner import Database
from cargohold.db.tx import now
from cargohold.errors import (
    DigestInvalidError,
    RangeInvalidError,
    ServiceUnavailableError,
    SizeInvalidError,
)
from cargohold.oci.digest import Digest
from cargohold.registry import blobs, uploads
from cargohold.registry.janitor import SweepResult, sweep
from cargohold.registry.lanes import Lane
from cargohold.registry.package_service import PackageService
from cargohold.registry.uploads import UploadRow
from cargohold.registry.values import Actor, BlobRef, Mount, Target, UploadStatus
from cargohold.storage.protocol import BlobStore

RENEW_EVERY = uploads.CLAIM_TTL.total_seconds() / 4


class _Claim:
    """A held claim, as the heartbeat sees it: ``lost`` once a renewal failed."""

    lost = False


COLLECTION_WAIT_STEPS = 100  # x 0.1 s


class UploadService:
    def __init__(
        self,
        db: Database,
        store: BlobStore,
        hashes: uploads.RunningHashes,
        packages: PackageService,
    ) -> None:
        self._db = db
        self._store = store
        self._hashes = hashes
        self._packages = packages

    async def start(
        self,
        target: Target,
        actor: Actor,
        *,
        mount: Mount | None = None,
        digest: Digest | None = None,
        body: AsyncIterable[bytes] | None = None,
        length: int | None = None,
    ) -> BlobRef | UploadStatus:
        """POST: mount (when ``mount`` names a blob of a readable source), push the whole blob
        (``digest`` and ``body``), or open a session. Creates the package on first push.

        Returns the blob now in the package, or the new session.
        """
        package = await self._packages.for_push(target, actor)
        if mount is not None:
            source, wanted = mount.source_id, mount.digest
            size = await self._db.write(lambda c: blobs.mount(c, package.id, source, wanted))
            if size is not None:
                return BlobRef(wanted, size)
        storage_id = await self._db.blocking(self._store.begin_upload)
        claimed = digest is not None
        cred = actor.credential_id
        upload = await self._db.write(
            lambda c: uploads.open_session(c, package.id, storage_id, cred, claimed=claimed)
        )
        if digest is None:
            return UploadStatus(upload.id, 0)
        async with self._holding(upload) as claim:
            try:
                size = await self._receive(upload, body, length, claim)
            except BaseException:
                await self._db.write(lambda c: uploads.close(c, upload.id))
                await self._db.blocking(lambda: self._store.cancel(storage_id))
                raise
            return await self._commit(upload, size, digest)

    async def status(self, target: Target, actor: Actor, session: str) -> UploadStatus:
        """GET: how many bytes the caller's session holds."""
        package_id = self._packages.existing_id(target)
        cred = actor.credential_id
        row = await self._db.write(lambda c: uploads.get(c, package_id, session, cred))
        return UploadStatus(row.id, row.size)

    async def append(
        self,
        target: Target,
        actor: Actor,
        session: str,
        body: AsyncIterable[bytes],
        *,
        span: tuple[int, int] | None = None,
        length: int | None = None,
    ) -> UploadStatus:
        """PATCH: append ``body`` where the session ends.

        ``span`` is the Content-Range (first, last) if given: it must start at the session's
        size and agree with ``length``. Raises ``RangeInvalidError`` (416) when it does not, or
        when another request is writing to the session; nothing is written or lost then.
        """
        package_id = self._packages.existing_id(target)
        if span is not None and length is not None and length != span[1] - span[0] + 1:
            raise RangeInvalidError(
                f"Content-Range {span[0]}-{span[1]} does not match Content-Length {length}"
            )
        # The claim takes a database round trip (a millisecond or more under load); the body's
        # first batch is read meanwhile, so that the writing starts as soon as it is granted.
        # Nothing is written before it is: a refused PATCH loses only what it read.
        claiming = asyncio.ensure_future(
            self._claim(package_id, session, actor, span[0] if span else None)
        )
        ahead = _ReadAhead(body)
        try:
            await ahead.fill(claiming, self._store.write_size)
        except BaseException:
            ahead.cancel()
            await _give_back(claiming, self._release)
            raise
        try:
            upload = await claiming
        except BaseException:
            ahead.cancel()
            raise
        try:
            async with self._holding(upload) as claim:
                size = await self._receive(upload, ahead, length, claim)
                await self._db.write(lambda c: uploads.advance(c, upload, size))
        except BaseException:
            ahead.cancel()
            await self._release(upload)
            raise
        return UploadStatus(upload.id, size)

    async def commit(
        self,
        target: Target,
        actor: Actor,
        session: str,
        digest: Digest,
        body: AsyncIterable[bytes] | None = None,
        *,
        length: int | None = None,
    ) -> BlobRef:
        """PUT ?digest=: append the final chunk if any, verify, store and link the blob.

        On a digest mismatch the session and its bytes are discarded (DIGEST_INVALID).
        """
        package_id = self._packages.existing_id(target)
        upload = await self._claim(package_id, session, actor, None)
        try:
            async with self._holding(upload) as claim:
                size = upload.size
                if body is not None:
                    size = await self._receive(upload, body, length, claim)
                return await self._commit(upload, size, digest)
        except BaseException:
            await self._release(upload)  # a no-op when the session is gone
            raise

    async def cancel(self, target: Target, actor: Actor, session: str) -> None:
        """DELETE: drop the session and its bytes."""
        package_id = self._packages.existing_id(target)
        upload = await self._claim(package_id, session, actor, None)
        await self._db.write(lambda c: uploads.close(c, upload.id))
        await self._db.blocking(lambda: self._store.cancel(upload.storage_id))
        self._hashes.drop(upload.id)

    async def sweep(self, older_than: timedelta) -> SweepResult:
        """Remove sessions and temporary objects abandoned for longer than ``older_than``."""
        store = self._store
        return await self._db.write(lambda c: sweep(c, store, older_than, now()))

    async def _claim(
        self, package_id: int, session: str, actor: Actor, offset: int | None
    ) -> UploadRow:
        cred = actor.credential_id
        return await self._db.write(
            lambda c: uploads.claim(c, package_id, session, cred, offset=offset)
        )

    async def _release(self, upload: UploadRow) -> None:
        with contextlib.suppress(Exception):
            await self._db.write(lambda c: uploads.release(c, upload))

    @contextlib.asynccontextmanager
    async def _holding(self, upload: UploadRow) -> AsyncIterator[_Claim]:
        """Keep the claim on ``upload`` alive while the block runs: renewed every
        ``RENEW_EVERY`` seconds by a timer, whether bytes arrive or not (a slow client, a long
        commit), so that only a dead process's claim ever lapses, ``CLAIM_TTL`` after its last
        renewal. If a renewal finds the claim taken over (or cannot reach the database),
        ``lost`` is set and the writer stops at its next batch."""
        claim = _Claim()
        db = self._db

        async def beat() -> None:
            while True:
                await asyncio.sleep(RENEW_EVERY)
                try:
                    kept = await db.write(lambda c: uploads.renew(c, upload))
                except Exception:
                    kept = False
                if not kept:
                    claim.lost = True
                    return

        task = asyncio.create_task(beat())
        try:
            yield claim
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _receive(
        self,
        upload: UploadRow,
        body: AsyncIterable[bytes] | None,
        length: int | None,
        claim: _Claim,
    ) -> int:
        """Append ``body`` to the claimed upload; returns the new size (not yet recorded).

        On any failure (client gone mid-body, wrong Content-Length) the stored bytes are cut
        back to ``upload.size``: safe, because this request holds the claim.
        """
        store, db = self._store, self._db
        hasher = None if store.hashes_writes else self._hashes.take(upload.id, upload.size)
        if hasher is None and upload.size == 0 and not store.hashes_writes:
            hasher = hashlib.sha256()
        batch_size = store.write_size
        loop = asyncio.get_running_loop()
        submitted = upload.size
        # Hashing and writing both release the GIL: batches are hashed in one lane and written
        # in another, each in order, while the loop reads the next (see IN_FLIGHT_BYTES).
        hashing, writing = Lane(db.executor, loop), Lane(db.executor, loop)
        in_flight: deque[_Batch] = deque()
        most = max(1, IN_FLIGHT_BYTES // batch_size)

        def sink(batch: list[bytes], at: int) -> None:
            def digest() -> None:
                if hasher is not None:
                    for piece in batch:
                        hasher.update(piece)

            def write() -> int:
                return store.write(upload.storage_id, at, batch)

            in_flight.append((hashing.submit(digest), writing.submit(write)))

        buf: list[bytes] = []
        buffered = 0
        try:
            if body is not None:
                async for chunk in body:
                    buf.append(chunk)
                    buffered += len(chunk)
                    # Batches end on multiples of the store's write size (an S3 segment, an
                    # O_DIRECT staging buffer): the first one of a body that starts between
                    # two is short, the chunk that crosses a boundary is cut there.
                    while buffered >= (due := batch_size - submitted % batch_size):
                        batch, buf, buffered = _cut(buf, buffered, due)
                        sink(batch, submitted)
                        submitted += due
                        while len(in_flight) > most:
                            await _both(in_flight[0])
                            in_flight.popleft()
                        if claim.lost:
                            raise RangeInvalidError(
                                "the upload was taken over by another request",
                                detail={"session": upload.id},
                            )
            if buf:
                sink(buf, submitted)
                submitted += buffered
            while in_flight:
                await _both(in_flight[0])
                in_flight.popleft()
            if length is not None and submitted - upload.size != length:
                raise SizeInvalidError(
                    f"received {submitted - upload.size} bytes, Content-Length said {length}"
                )
        except BaseException:
            if in_flight:
                # Even when this request was cancelled: the truncate below must not race a
                # write still running on its thread (asyncio.wait never cancels what it waits
                # for). A write queued after a failed one finds the upload shorter than its
                # offset and writes nothing.
                with contextlib.suppress(BaseException):
                    await asyncio.wait([f for batch in in_flight for f in batch])
            await db.blocking(lambda: store.truncate(upload.storage_id, upload.size))
            raise
        if hasher is not None:
            self._hashes.put(upload.id, submitted, hasher)
        return submitted

    async def _commit(self, upload: UploadRow, size: int, expected: Digest) -> BlobRef:
        """Verify the claimed upload against ``expected``, store it, link it, close the session."""
        store, db = self._store, self._db
        hasher = self._hashes.take(upload.id, size)
        if hasher is not None and expected.algorithm == "sha256":
            computed = f"sha256:{hasher.hexdigest()}"
        else:
            computed = await db.blocking(
                lambda: store.digest_upload(upload.storage_id, expected.algorithm)
            )
        if computed != str(expected):
            await db.blocking(lambda: store.cancel(upload.storage_id))
            await db.write(lambda c: uploads.close(c, upload.id))
            raise DigestInvalidError(
                f"provided digest {expected} did not match uploaded content ({computed}); "
                "the upload was discarded",
                detail={"expected": str(expected), "computed": computed},
            )
        await self._await_collection(str(expected))
        info = await db.blocking(
            lambda: store.commit(upload.storage_id, str(expected), hashed=computed, size=size)
        )

        def stored() -> bool:
            return store.stat(info.digest) is not None

        def record(conn: Connection) -> bool:
            linked = blobs.link(conn, upload.package_id, info.digest, info.size, stored)
            uploads.close(conn, upload.id)
            return linked

        if not await db.write(record):
            raise ServiceUnavailableError(
                f"blob {info.digest} was being garbage-collected as this upload completed; "
                "push it again",
                detail={"digest": info.digest},
            )
        return BlobRef(info.digest, info.size)

    async def _await_collection(self, digest: str) -> None:
        """Wait (briefly) while the collector removes an earlier copy of ``digest``.

        Committing now could drop this upload as a duplicate of bytes about to be deleted; once
        the collector is done the commit stores these bytes afresh. A collector that died mid-way
        leaves the mark until the next collection: then 503, the session intact.
        """
        for _ in range(COLLECTION_WAIT_STEPS):
            if self._db.read_on_loop(lambda r: blobs.state_of(r, digest)) != "deleting":
                return
            await asyncio.sleep(0.1)
        raise ServiceUnavailableError(
            f"blob {digest} is being garbage-collected; retry shortly", detail={"digest": digest}
        )


class _ReadAhead:
    """A request body, the start of which may be read before the writing may start.

    ``fill`` reads chunks while a future (the claim) is pending; iterating yields them, then
    the chunk being read when ``fill`` returned, then the rest of the body.
    """

    def __init__(self, body: AsyncIterable[bytes] | None) -> None:
        self._body = None if body is None else aiter(body)
        self._head: list[bytes] = []
        self._reading: asyncio.Future[bytes] | None = None
        self._ended = body is None

    async def fill(self, until: asyncio.Future[Any], limit: int) -> None:
        """Read ahead until ``until`` is done, the body ends or ``limit`` bytes are held."""
        held = 0
        while not until.done() and not self._ended and held < limit:
            if self._reading is None:
                assert self._body is not None
                self._reading = asyncio.ensure_future(anext(self._body))
            await asyncio.wait((until, self._reading), return_when=asyncio.FIRST_COMPLETED)
            if not self._reading.done():
                return
            reading, self._reading = self._reading, None
            try:
                chunk = reading.result()
            except StopAsyncIteration:
                self._ended = True
                return
            self._head.append(chunk)
            held += len(chunk)

    def cancel(self) -> None:
        """Stop a read still under way (the request failed before consuming it)."""
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        head, self._head = self._head, []
        for chunk in head:
            yield chunk
        if self._reading is not None:
            reading, self._reading = self._reading, None
            try:
                yield await reading
            except StopAsyncIteration:
                self._ended = True
        if not self._ended and self._body is not None:
            async for chunk in self._body:
                yield chunk


async def _give_back(
    claiming: asyncio.Future[UploadRow],
    release: Callable[[UploadRow], Awaitable[None]],
) -> None:
    """After a failure while the claim was being taken: wait for it and, if it was taken, give
    it back (the request that wanted it is failing)."""
    await asyncio.wait((claiming,))
    if not claiming.cancelled() and claiming.exception() is None:
        await release(claiming.result())


def _cut(buf: list[bytes], buffered: int, due: int) -> tuple[list[bytes], list[bytes], int]:
    """Split ``buf`` (``buffered`` bytes in all, at least ``due``) after its first ``due``
    bytes: (those, the rest, the rest's size).

    ``buf`` held fewer than ``due`` bytes before its last chunk (the caller cuts as soon as
    it may), so the cut falls inside that chunk, the only one copied; aiohttp hands bodies
    over in chunks bounded by its flow control, so that copy is small.
    """
    over = buffered - due
    if not over:
        return buf, [], 0
    last = buf[-1]
    keep = len(last) - over
    return [*buf[:-1], last[:keep]], [last[keep:]], over


_Batch = tuple["asyncio.Future[None]", "asyncio.Future[int]"]
"""One batch in flight: its hashing and its writing, each in its lane."""

IN_FLIGHT_BYTES = 8 * 1024 * 1024
"""How much of one upload's body may be handed to its lanes and not yet both hashed and written
when the loop stops reading: the batches of at most this many bytes (at least one), and the one
just cut. With a batch queued behind the one running, a lane goes on without a thread wake-up.
Two 4 MiB batches on the filesystem were 7% faster than one on chunked pushes (12 MiB held per
upload at most, was 8); S3's 8 MiB batches keep one, and 16 MiB per upload as before."""


async def _both(batch: _Batch) -> int:
    """Wait for both halves of a batch, even when one fails (the caller truncates the file
    afterwards, which must not race a write still running); then raise the first error.

    A coroutine, not a task: cancelling the request cancels this wait, never the futures.
    """
    hashed, written = batch
    await asyncio.wait(batch)
    hashed.result()
    return written.result()

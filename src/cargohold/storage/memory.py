"""An in-memory blob store: the fake for service tests. Same contract as the real backends.

State lives in the instance (dicts guarded by one ``threading.Lock``). A write marks its upload
busy, consumes the chunks outside the lock (so uploads do not serialise on each other), then
publishes the new size; a second writer meanwhile gets the same 416 the filesystem gives.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from cargohold.errors import (
    BlobUnknownError,
    BlobUploadInvalidError,
    BlobUploadUnknownError,
    DigestInvalidError,
    SizeInvalidError,
)
from cargohold.storage._checks import (
    check_algorithm,
    check_range,
    check_upload_id,
    parse_digest,
    range_error,
)
from cargohold.storage.protocol import CHUNK_SIZE, BlobInfo, UploadState


@dataclass
class _Upload:
    data: bytearray = field(default_factory=bytearray)
    mtime: float = field(default_factory=time.time)
    busy: bool = False


class MemoryBlobStore:
    """A ``BlobStore`` held in process memory. ``local_path`` and ``redirect_url`` are None."""

    name = "memory"
    write_size = 4 * 1024 * 1024
    hashes_writes = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[str, bytes] = {}
        self._stored_at: dict[str, float] = {}  # digest -> when it was stored
        self._uploads: dict[str, _Upload] = {}

    # -- blobs ------------------------------------------------------------------------------

    def stat(self, digest: str) -> BlobInfo | None:
        parse_digest(digest)
        with self._lock:
            data = self._blobs.get(digest)
        return None if data is None else BlobInfo(digest, len(data))

    def local_path(self, digest: str) -> str | None:
        self._get(digest)
        return None

    def open_read(self, digest: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        data = self._get(digest)
        end = check_range(len(data), offset, length)
        return _chunks(memoryview(data)[offset:end])

    def redirect_url(self, digest: str, *, expires_in: int = 300) -> str | None:
        parse_digest(digest)
        return None

    def delete(self, digest: str) -> bool:
        parse_digest(digest)
        with self._lock:
            self._stored_at.pop(digest, None)
            return self._blobs.pop(digest, None) is not None

    def iter_blobs(self) -> Iterator[tuple[BlobInfo, float]]:
        with self._lock:
            listing = [
                (BlobInfo(digest, len(data)), self._stored_at[digest])
                for digest, data in self._blobs.items()
            ]
        return iter(listing)

    def _get(self, digest: str) -> bytes:
        parse_digest(digest)
        with self._lock:
            data = self._blobs.get(digest)
        if data is None:
            raise BlobUnknownError(detail={"digest": digest})
        return data

    # -- uploads ----------------------------------------------------------------------------

    def begin_upload(self) -> str:
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._uploads[upload_id] = _Upload()
        return upload_id

    def upload_size(self, upload_id: str) -> int:
        return self.upload_state(upload_id).size

    def upload_state(self, upload_id: str) -> UploadState:
        with self._lock:
            return UploadState(upload_id, len(self._upload(upload_id).data))

    def write(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> int:
        with self._lock:
            upload = self._upload(upload_id)
            if upload.busy or offset != len(upload.data):
                raise range_error(len(upload.data), offset)
            upload.busy = True
        try:
            # Only this writer touches upload.data while busy is set.
            for chunk in chunks:
                upload.data += chunk
        finally:
            with self._lock:
                upload.busy = False
                upload.mtime = time.time()
        return len(upload.data)

    def truncate(self, upload_id: str, size: int) -> None:
        with self._lock:
            upload = self._upload(upload_id)
            if upload.busy:
                raise BlobUploadInvalidError("upload is being written")
            current = len(upload.data)
            if not 0 <= size <= current:
                raise range_error(current, size)
            del upload.data[size:]
            upload.mtime = time.time()

    def digest_upload(self, upload_id: str, algorithm: str) -> str:
        check_algorithm(algorithm)
        with self._lock:
            upload = self._upload(upload_id)
            if upload.busy:
                raise BlobUploadInvalidError("upload is being written")
            data = bytes(upload.data)
        return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"

    def commit(
        self,
        upload_id: str,
        expected: str,
        *,
        hashed: str | None = None,
        size: int | None = None,
    ) -> BlobInfo:
        algorithm, _ = parse_digest(expected)
        if hashed is not None:
            parse_digest(hashed)
        with self._lock:
            upload = self._upload(upload_id)
            if upload.busy:
                raise BlobUploadInvalidError("upload is being written")
            # Taking the upload out first means a failed commit leaves nothing behind.
            del self._uploads[upload_id]
        data = bytes(upload.data)
        if size is not None and size != len(data):
            raise SizeInvalidError(detail={"expected": size, "received": len(data)})
        actual = hashed
        if actual is None:
            actual = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
        if actual != expected:
            raise DigestInvalidError(detail={"expected": expected, "actual": actual})
        with self._lock:
            if expected not in self._blobs:  # stored once: the first copy (and its time) stays
                self._blobs[expected] = data
                self._stored_at[expected] = time.time()
        return BlobInfo(expected, len(data))

    def cancel(self, upload_id: str) -> None:
        check_upload_id(upload_id)
        with self._lock:
            self._uploads.pop(upload_id, None)

    def iter_uploads(self) -> Iterator[tuple[str, float]]:
        with self._lock:
            listing = [(upload_id, u.mtime) for upload_id, u in self._uploads.items()]
        return iter(listing)

    def _upload(self, upload_id: str) -> _Upload:
        """Return the upload; call with the lock held. Raises ``BlobUploadUnknownError``."""
        upload = self._uploads.get(check_upload_id(upload_id))
        if upload is None:
            raise BlobUploadUnknownError(detail={"upload_id": upload_id})
        return upload


def _chunks(view: memoryview) -> Iterator[bytes]:
    for start in range(0, len(view), CHUNK_SIZE):
        yield bytes(view[start : start + CHUNK_SIZE])

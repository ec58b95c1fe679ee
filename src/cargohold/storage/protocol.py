"""The blob-store protocol: content-addressed bytes behind digests, nothing more.

A blob store knows digests and byte streams. It knows nothing of repositories, manifests or
permissions: which repository may see which blob is metadata in the database.

The API is synchronous on purpose: the web layer runs writes in a worker thread, and hashlib and
file I/O release the GIL, so a thread per upload streams at disk speed. Reads expose a local
path where one exists so the web layer can serve blobs with ``sendfile``.

Upload lifecycle (one upload id, possibly continued by several processes)::

    begin_upload() ──> [open] ──write(offset == size)──> [open] ──commit(expected)──> blob
                          │  ^                         │           │
                          │  └─────────────────────────┘           └─ digest/size mismatch:
                          │     write(offset != size): 416,           DigestInvalidError /
                          │     data unchanged                        SizeInvalidError and the
                          └─ cancel() ─> gone (idempotent)            upload is deleted

Blobs are stored once: committing content that is already stored drops the upload and returns
the existing blob. A blob path only ever holds complete, verified data.

Errors (all from ``cargohold.errors``): ``DigestInvalidError`` for a malformed or mismatching
digest, ``BlobUnknownError`` for a blob that is not stored, ``BlobUploadUnknownError`` for an
unknown or malformed upload id, ``RangeInvalidError`` (416) for a write at the wrong offset or a
read outside the blob, ``BlobUploadInvalidError`` when an upload is busy in another writer,
``SizeInvalidError`` for a size mismatch at commit, and ``StorageError`` for backend failures
(vendor and OS exceptions never cross this boundary; they are chained with ``from exc``).

Fit for S3 (a later backend): ``write`` maps to multipart ``UploadPart`` calls (buffering to the
5 MiB part minimum), the multipart id and part ETags live in a stored upload-state object keyed
by our ``upload_id`` so any process can continue an upload, ``commit`` completes the multipart
upload and copies it to its digest key, ``local_path`` is ``None`` and ``redirect_url`` returns a
pre-signed GET.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cargohold.oci.digest import ALGORITHMS

CHUNK_SIZE = 1024 * 1024
"""Size of the chunks ``open_read`` yields and of the reads used to hash uploads."""

DIGEST_HEX_LENGTHS = ALGORITHMS
"""Digest algorithms a blob store accepts, with the length of their lower-hex encoding (the
OCI core's table: one definition)."""


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob: its digest (``"sha256:<hex>"``) and its size in bytes."""

    digest: str
    size: int


@dataclass(frozen=True)
class UploadState:
    """An upload in progress: its id and the number of bytes received so far."""

    upload_id: str
    size: int


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed blob storage. Every method is safe to call from any thread.

    Digests are ``"<alg>:<lower hex>"`` with ``alg`` in ``DIGEST_HEX_LENGTHS``; anything else
    raises ``DigestInvalidError`` before the backend is touched. Upload ids are the 32 lower-hex
    strings ``begin_upload`` returns; anything else raises ``BlobUploadUnknownError``.
    """

    name: str
    # Bytes per ``write`` call the store works best with: callers streaming a body hand it
    # batches of at least this many bytes (but the last). An S3 segment; a staging buffer.
    write_size: int
    # True when ``write`` keeps a SHA-256 of the upload itself, so ``digest_upload(...,
    # "sha256")`` costs no read-back and callers need not hash the bytes a second time.
    hashes_writes: bool

    def stat(self, digest: str) -> BlobInfo | None:
        """Return the blob's info, or ``None`` if it is not stored."""
        ...

    def local_path(self, digest: str) -> str | None:
        """Return a filesystem path to the blob usable with ``sendfile``, or ``None`` if the
        backend has none (memory, S3). Raises ``BlobUnknownError`` if the blob is not stored.

        The file at the path is never modified in place; it may be deleted (open it, then
        handle ``FileNotFoundError`` as an unknown blob).
        """
        ...

    def open_read(self, digest: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Return an iterator over the bytes ``[offset, offset + length)`` of the blob (to the
        end if ``length`` is ``None``) in chunks of at most ``CHUNK_SIZE``.

        Raises ``BlobUnknownError`` immediately (not on first iteration) if the blob is not
        stored, and ``RangeInvalidError`` if the range does not lie inside the blob. Exhaust the
        iterator or call its ``close()`` to release the underlying file promptly.
        """
        ...

    def redirect_url(self, digest: str, *, expires_in: int = 300) -> str | None:
        """Return a pre-signed URL valid for ``expires_in`` seconds, or ``None`` if the backend
        has none. Need not check that the blob exists."""
        ...

    def begin_upload(self) -> str:
        """Create an empty upload and return its id: 32 lower-hex characters from ``uuid4``,
        unguessable, never reused."""
        ...

    def upload_size(self, upload_id: str) -> int:
        """Return the number of bytes received so far. Raises ``BlobUploadUnknownError``."""
        ...

    def upload_state(self, upload_id: str) -> UploadState:
        """Return the upload's state. Raises ``BlobUploadUnknownError``."""
        ...

    def write(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> int:
        """Append ``chunks`` to the upload and return its new size.

        ``offset`` must equal the current size (which another process may have changed), else
        ``RangeInvalidError`` (status 416, ``detail={"size": current}``) and nothing is written.
        A concurrent write to the same upload also gets ``RangeInvalidError``. If ``chunks``
        raises part-way, the bytes already consumed stay written (the client may resume) and
        the exception propagates. Raises ``BlobUploadUnknownError``.
        """
        ...

    def truncate(self, upload_id: str, size: int) -> None:
        """Cut the upload back to its first ``size`` bytes, e.g. to the size the database
        recorded after a client went away mid-chunk. Idempotent at the current size.

        Raises ``RangeInvalidError`` if ``size`` is negative or beyond the current size,
        ``BlobUploadUnknownError``, and ``BlobUploadInvalidError`` while another writer holds
        the upload.
        """
        ...

    def digest_upload(self, upload_id: str, algorithm: str) -> str:
        """Re-hash the bytes received so far and return ``"<algorithm>:<hex>"``.

        For a process that continues an upload without the running hasher of the process that
        started it. Raises ``BlobUploadUnknownError``, ``DigestInvalidError`` for an unsupported
        algorithm, ``BlobUploadInvalidError`` while another writer holds the upload.
        """
        ...

    def commit(
        self,
        upload_id: str,
        expected: str,
        *,
        hashed: str | None = None,
        size: int | None = None,
    ) -> BlobInfo:
        """Verify the upload and store it as the blob ``expected``; return the blob's info.

        The whole upload is hashed with ``expected``'s algorithm, unless the caller passes
        ``hashed``, the digest it computed itself while streaming every byte of this upload
        (then it is trusted and compared with ``expected``). If ``size`` is given the upload
        must have exactly that many bytes. On mismatch raises ``DigestInvalidError`` or
        ``SizeInvalidError`` and deletes the upload: nothing half-written remains.

        Content is always verified, even when the blob is already stored: success is what
        proves the caller holds the content (a digest alone must not "mount" a blob another
        repository stored). If already stored, the upload is dropped (blobs are stored once).
        Otherwise the data is made durable and moved into place atomically. Either way the
        upload id is gone afterwards. Raises ``BlobUploadUnknownError``, and
        ``BlobUploadInvalidError`` while another writer holds the upload.
        """
        ...

    def cancel(self, upload_id: str) -> None:
        """Delete the upload. Idempotent: an unknown (well-formed) id is not an error."""
        ...

    def delete(self, digest: str) -> bool:
        """Delete the blob; return whether it was stored. Readers that already opened it may
        finish. Deciding that no repository references it is the caller's job."""
        ...

    def iter_uploads(self) -> Iterator[tuple[str, float]]:
        """Yield ``(upload_id, mtime)`` for every upload in progress, ``mtime`` being the Unix
        time of its last write, for stale-upload cleanup (which calls ``cancel``)."""
        ...

    def iter_blobs(self) -> Iterator[tuple[BlobInfo, float]]:
        """Yield ``(info, mtime)`` for every stored blob, ``mtime`` being the Unix time it was
        stored; for the garbage collector's search for bytes no database row knows.

        A commit of content already stored does not change ``mtime`` (the old copy is kept), so
        age says when the bytes arrived, not that nobody is using them. A backend that keeps
        blobs outside the process streams the listing (a directory, a listing page at a time),
        never holding the whole store's; the caller may delete each blob it is given before
        asking for the next. Blobs stored or deleted by others while the iterator runs may or
        may not be yielded; anything in the blob area not named like a blob is skipped. Raises
        ``StorageError``.
        """
        ...

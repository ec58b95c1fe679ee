"""Blobs in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, ...), through obstore.

Layout under ``<prefix>`` in the bucket::

    blobs/<alg>/<ab>/<ab12...ef>      complete, verified data; written only by a commit
    uploads/<upload_id>/state         JSON (``_s3_state``): segments, lease, SHA-256 state, ...
    uploads/<upload_id>/<start>-<rnd> segments: immutable objects holding the upload's bytes

An upload is a list of *segments*, each an ordinary object, rather than the parts of an open S3
multipart upload: parts of an unfinished multipart upload cannot be read back, and the
protocol needs the bytes of an upload in progress (``truncate`` cuts inside one, a process
that continues another's upload re-hashes them). ``commit`` maps the upload onto one S3
multipart upload at the blob key, one ``UploadPartCopy`` per segment, so the bytes are copied
inside the store, never through this process, and the blob appears whole at ``Complete``::

    begin_upload ─> state{[]}
    write ─> lease (CAS) ─> PUT segments ─> state{segments} (CAS, lease dropped)
    commit ─> lease ─> verify digest ─> CreateMultipartUpload(blob key) ─> UploadPartCopy xN
          ─> CompleteMultipartUpload: the blob is visible ─> delete segments, then state

S3 wants every part but the last to be at least 5 MiB, and clients send chunks of any size,
so a ``write`` that starts after a short last segment folds it into its first new segment
(read back, once, at most 5 MiB): every segment but the last is at least ``MIN_PART`` bytes.
A ``write`` holds at most ``part_size`` plus one chunk in memory, however long the upload.

The state also carries the running SHA-256 of the upload (``_sha256_state``: OpenSSL's
context, resumable anywhere), so a process that continues or commits another's upload gets its
digest without reading the bytes back; without it (after a truncate) the segments are re-read.

Every change of an upload is a compare-and-swap of its state object (``If-Match``), and a
change that takes more than one request (write, truncate, commit) first takes a *lease* in the
state: a second writer gets the 416 of a lost race, ``commit`` and ``truncate`` get
``BlobUploadInvalidError``. A lease outlives a process that died holding it by at most
``lease_ttl`` seconds (replicas' clocks must agree to well within that); long writes renew it.

Crash safety: the blob key only ever receives a completed multipart upload of verified
segments; a crash leaves segments, a state or an unfinished multipart upload under
``uploads/`` (reported by ``iter_uploads``, removed by ``cancel``), never a wrong blob.

obstore does every request but the multipart commit: it has no API for a multipart upload
whose id outlives a call, nor ``UploadPartCopy``; those few calls use boto3 (imported on the
first commit of a multi-segment upload).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import obstore
from obstore.exceptions import NotFoundError, PreconditionError
from obstore.store import S3Store

from cargohold.errors import (
    BlobUnknownError,
    BlobUploadInvalidError,
    BlobUploadUnknownError,
    CargoholdError,
    ConfigError,
    DigestInvalidError,
    RangeInvalidError,
    SizeInvalidError,
    StorageError,
)
from cargohold.storage import _sha256_state as sha256_state
from cargohold.storage._checks import (
    check_algorithm,
    check_range,
    check_upload_id,
    parse_digest,
    range_error,
    stored_digest,
)
from cargohold.storage._s3_io import (
    MultipartComposer,
    ObjectChunks,
    StaticCredentials,
    describe,
)
from cargohold.storage._s3_state import Lease, Segment, UploadRecord, segment_name
from cargohold.storage._sha256_state import ResumableSha256
from cargohold.storage.protocol import CHUNK_SIZE, BlobInfo, UploadState

MIN_PART = 5 * 1024 * 1024
WRITE_SIZE = 8 * 1024 * 1024
"""S3's smallest part of a multipart upload (all but the last)."""
MAX_PART = 5 * 1024 * 1024 * 1024
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 16 * 1024 * 1024

_NOT_FOUND = (NotFoundError, FileNotFoundError)
_PREFIX = re.compile(r"[A-Za-z0-9._\-]+(/[A-Za-z0-9._\-]+)*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_STATE_KEY = re.compile(r"uploads/([0-9a-f]{32})/state")
_BLOB_KEY = re.compile(r"blobs/([a-z0-9]+)/([0-9a-f]{2})/([0-9a-f]+)")
_LIST_PAGE = 1000  # keys per listing request, S3's maximum


class S3BlobStore:
    """A ``BlobStore`` in ``bucket`` under ``prefix``.

    ``endpoint`` is the S3 URL (empty for AWS); ``path_style`` addresses the bucket in the path
    (what S3-compatible servers expect) rather than the host name. ``part_size`` bounds the
    bytes a write holds in memory and the size of segments (5 MiB to 5 GiB). With ``redirect``,
    ``redirect_url`` returns pre-signed GET URLs. Raises ``ConfigError`` for a bad option; no
    request is made until the store is used.

    The credentials are kept out of ``repr`` and out of every error message.
    """

    name = "s3"
    hashes_writes = True  # the SHA-256 state travels with the upload record

    def __init__(
        self,
        *,
        bucket: str,
        access_key_id: str,
        secret_access_key: str,
        endpoint: str = "",
        region: str = "us-east-1",
        prefix: str = "",
        path_style: bool = True,
        part_size: int = DEFAULT_PART_SIZE,
        redirect: bool = False,
        lease_ttl: float = 10.0,
    ) -> None:
        if _BUCKET.fullmatch(bucket or "") is None:
            raise ConfigError(f"s3_bucket: not a valid bucket name: {bucket!r}")
        prefix = (prefix or "").strip("/")
        if prefix and (_PREFIX.fullmatch(prefix) is None or ".." in prefix.split("/")):
            raise ConfigError(f"s3_prefix: letters, digits, '._-' and '/' only: {prefix!r}")
        if not MIN_PART <= part_size <= MAX_PART:
            raise ConfigError(f"s3_part_size: must be between {MIN_PART} and {MAX_PART} bytes")
        if endpoint and not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"s3_endpoint: expected an http:// or https:// URL: {endpoint!r}")
        if not access_key_id or not secret_access_key:
            raise ConfigError("s3 credentials: access key id and secret access key are required")
        self.bucket = bucket
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.prefix = f"{prefix}/" if prefix else ""
        self.path_style = path_style
        self.part_size = part_size
        # Batches of at least MIN_PART go up as segments of their own: smaller ones would be
        # read back and sent again, folded into the next write's first segment. At most
        # WRITE_SIZE, because memory grows with it (the service keeps two batches per upload
        # in flight, this store buffers one): a 320 MiB push grew the server's peak RSS by
        # 188 MiB with 16 MiB batches, 92 with 8 and 64 with 5. 8 MiB segments keep the
        # largest blob at 78 GiB within S3's 10,000 parts (5 MiB ones: 48 GiB).
        self.write_size = min(part_size, WRITE_SIZE)
        self.redirect = redirect
        self._lease_ttl = lease_ttl
        options: dict[str, Any] = {
            "region": region,
            "virtual_hosted_style_request": not path_style,
        }
        if self.endpoint:
            options["endpoint"] = self.endpoint
        # A credential provider rather than plain keys: obstore would otherwise add whatever
        # AWS_SESSION_TOKEN the process environment holds to our keys.
        self._obs = S3Store(
            bucket,
            client_options={
                "allow_http": self.endpoint.startswith("http://"),
                "connect_timeout": timedelta(seconds=5),
                "timeout": timedelta(seconds=120),
            },
            retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=30)},
            credential_provider=StaticCredentials(access_key_id, secret_access_key),
            **options,
        )
        self._composer = MultipartComposer(
            bucket=bucket,
            endpoint=self.endpoint,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            path_style=path_style,
        )

    def __repr__(self) -> str:
        where = f"endpoint={self.endpoint!r}, bucket={self.bucket!r}, prefix={self.prefix!r}"
        return f"S3BlobStore({where})"

    # -- blobs ------------------------------------------------------------------------------

    def stat(self, digest: str) -> BlobInfo | None:
        key = self._blob_key(digest)
        try:
            meta = obstore.head(self._obs, key)
        except _NOT_FOUND:
            return None
        except Exception as exc:
            raise StorageError(f"stat {digest}: {describe(exc)}") from exc
        return BlobInfo(digest, int(meta["size"]))

    def local_path(self, digest: str) -> str | None:
        if self.stat(digest) is None:
            raise BlobUnknownError(detail={"digest": digest})
        return None

    def open_read(self, digest: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        info = self.stat(digest)
        if info is None:
            raise BlobUnknownError(detail={"digest": digest})
        end = check_range(info.size, offset, length)
        if end == offset:
            return ObjectChunks(iter(()))
        try:
            result = obstore.get(
                self._obs, self._blob_key(digest), options={"range": (offset, end)}
            )
        except _NOT_FOUND:
            raise BlobUnknownError(detail={"digest": digest}) from None
        except Exception as exc:
            raise StorageError(f"read {digest}: {describe(exc)}") from exc
        return ObjectChunks(iter(result.stream(min_chunk_size=CHUNK_SIZE // 4)))

    def redirect_url(self, digest: str, *, expires_in: int = 300) -> str | None:
        key = self._blob_key(digest)
        if not self.redirect:
            return None
        try:
            return obstore.sign(self._obs, "GET", key, timedelta(seconds=expires_in))
        except Exception as exc:
            raise StorageError(f"sign {digest}: {describe(exc)}") from exc

    def delete(self, digest: str) -> bool:
        if self.stat(digest) is None:
            return False
        self._delete_keys([self._blob_key(digest)])
        return True

    def _blob_key(self, digest: str) -> str:
        algorithm, hexdigest = parse_digest(digest)
        return f"{self.prefix}blobs/{algorithm}/{hexdigest[:2]}/{hexdigest}"

    # -- uploads ----------------------------------------------------------------------------

    def begin_upload(self) -> str:
        upload_id = uuid.uuid4().hex
        fresh = UploadRecord(sha256=ResumableSha256().save() if sha256_state.available() else None)
        try:
            obstore.put(self._obs, self._state_key(upload_id), fresh.encode(), mode="create")
        except Exception as exc:
            raise StorageError(f"begin upload: {describe(exc)}") from exc
        return upload_id

    def upload_size(self, upload_id: str) -> int:
        return self._load(upload_id)[0].size

    def upload_state(self, upload_id: str) -> UploadState:
        return UploadState(upload_id, self.upload_size(upload_id))

    def write(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> int:
        record, etag = self._load(upload_id)
        if record.leased():
            raise _busy_writing(record.size)
        if offset != record.size:
            raise range_error(record.size, offset)
        held = self._acquire(upload_id, record, etag, _busy_writing)
        hasher = _resume_sha256(record)
        kept = list(record.segments)
        added: list[Segment] = []
        replaced: Segment | None = None
        buffer = bytearray()
        position = record.size
        source_error: BaseException | None = None
        try:
            source = iter(chunks)
            while True:
                try:
                    chunk = next(source)
                except StopIteration:
                    break
                except BaseException as exc:  # the client's error: keep what arrived, re-raise
                    source_error = exc
                    break
                if not chunk:
                    continue
                if hasher is not None:
                    hasher.update(chunk)
                if not buffer and not added and kept and kept[-1].size < MIN_PART:
                    # Fold the short last segment into this write's first (see module doc).
                    replaced = kept.pop()
                    buffer += self._read_segment(upload_id, replaced)
                    position = replaced.start
                buffer += chunk
                while len(buffer) >= self.part_size:
                    added.append(self._put_segment(upload_id, position, buffer[: self.part_size]))
                    position += self.part_size
                    del buffer[: self.part_size]
                held = self._renew_if_due(held)
            if buffer:
                added.append(self._put_segment(upload_id, position, buffer))
            sha256 = None if hasher is None else hasher.save()
            self._release(held, segments=(*kept, *added), sha256=sha256)
        except BaseException:
            self._delete_quietly([self._segment_key(upload_id, s) for s in added])
            self._release_quietly(held)
            raise
        if replaced is not None:
            self._delete_quietly([self._segment_key(upload_id, replaced)])
        if source_error is not None:
            raise source_error
        return position + len(buffer)

    def truncate(self, upload_id: str, size: int) -> None:
        record, etag = self._load(upload_id)
        if record.leased():
            raise _busy_other(record.size)
        if not 0 <= size <= record.size:
            raise range_error(record.size, size)
        if size == record.size:
            return
        held = self._acquire(upload_id, record, etag, _busy_other)
        kept = [s for s in record.segments if s.end <= size]
        cut = next((s for s in record.segments if s.start < size < s.end), None)
        added: list[Segment] = []
        try:
            if cut is not None:
                head = self._read_segment(upload_id, cut, size - cut.start)
                added.append(self._put_segment(upload_id, cut.start, head))
            # The hash state of a shorter upload is unknown (SHA-256 cannot be rewound).
            fresh = ResumableSha256().save() if size == 0 and sha256_state.available() else None
            self._release(held, segments=(*kept, *added), sha256=fresh)
        except BaseException:
            self._delete_quietly([self._segment_key(upload_id, s) for s in added])
            self._release_quietly(held)
            raise
        dropped = [s for s in record.segments if s.end > size]
        self._delete_quietly([self._segment_key(upload_id, s) for s in dropped])

    def digest_upload(self, upload_id: str, algorithm: str) -> str:
        check_algorithm(algorithm)
        record, _ = self._load(upload_id)
        if record.leased():
            raise _busy_other(record.size)
        return self._digest_of(upload_id, record, algorithm)

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
        self._blob_key(expected)
        record, etag = self._load(upload_id)
        if record.leased():
            raise _busy_other(record.size)
        held = self._acquire(upload_id, record, etag, _busy_other)
        received = record.size
        try:
            if size is not None and size != received:
                raise SizeInvalidError(detail={"expected": size, "received": received})
            actual = hashed
            if actual is None:
                actual = self._digest_of(upload_id, record, algorithm)
            if actual != expected:
                raise DigestInvalidError(detail={"expected": expected, "actual": actual})
        except (SizeInvalidError, DigestInvalidError):
            self._discard(upload_id)
            raise
        except BaseException:
            self._release_quietly(held)
            raise
        try:
            if self.stat(expected) is None:  # stored once: a verified duplicate is dropped
                self._compose(held, expected)
        except BaseException:
            self._release_quietly(held)
            raise
        self._discard(upload_id)
        return BlobInfo(expected, received)

    def cancel(self, upload_id: str) -> None:
        check_upload_id(upload_id)
        self._discard(upload_id)

    def iter_uploads(self) -> Iterator[tuple[str, float]]:
        base = f"{self.prefix}uploads/"
        try:
            batches = list(obstore.list(self._obs, base, chunk_size=1000))
        except Exception as exc:
            raise StorageError(f"list uploads: {describe(exc)}") from exc
        for batch in batches:
            for meta in batch:
                match = _STATE_KEY.fullmatch(meta["path"][len(self.prefix) :])
                if match is not None:
                    yield match.group(1), meta["last_modified"].timestamp()

    def iter_blobs(self) -> Iterator[tuple[BlobInfo, float]]:
        # One listing page at a time (S3 pages by key, so deleting keys already yielded does
        # not disturb the listing's continuation).
        pages = iter(obstore.list(self._obs, f"{self.prefix}blobs/", chunk_size=_LIST_PAGE))
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except Exception as exc:
                raise StorageError(f"list blobs: {describe(exc)}") from exc
            for meta in page:
                match = _BLOB_KEY.fullmatch(meta["path"][len(self.prefix) :])
                digest = None if match is None else stored_digest(*match.groups())
                if digest is not None:
                    yield BlobInfo(digest, int(meta["size"])), meta["last_modified"].timestamp()

    # -- upload state -----------------------------------------------------------------------

    def _state_key(self, upload_id: str) -> str:
        return f"{self.prefix}uploads/{check_upload_id(upload_id)}/state"

    def _segment_key(self, upload_id: str, segment: Segment) -> str:
        return f"{self.prefix}uploads/{upload_id}/{segment.name}"

    def _load(self, upload_id: str) -> tuple[UploadRecord, str]:
        """The upload's state and its ETag. Raises ``BlobUploadUnknownError``."""
        key = self._state_key(upload_id)
        try:
            result = obstore.get(self._obs, key)
            raw = bytes(result.bytes())
            etag = result.meta["e_tag"]
        except _NOT_FOUND:
            raise BlobUploadUnknownError(detail={"upload_id": upload_id}) from None
        except Exception as exc:
            raise StorageError(f"read upload {upload_id}: {describe(exc)}") from exc
        if not etag:
            raise StorageError(f"read upload {upload_id}: the store returned no ETag")
        return UploadRecord.decode(raw, upload_id), etag

    def _save(self, upload_id: str, record: UploadRecord, etag: str) -> str:
        """Replace the state if it still has ``etag``; return the new ETag.

        Raises ``_LostRaceError`` if it changed, ``BlobUploadUnknownError`` if it is gone.
        """
        try:
            result = obstore.put(
                self._obs, self._state_key(upload_id), record.encode(), mode={"e_tag": etag}
            )
        except PreconditionError:
            raise _LostRaceError() from None
        except _NOT_FOUND:
            raise BlobUploadUnknownError(detail={"upload_id": upload_id}) from None
        except Exception as exc:
            raise StorageError(f"update upload {upload_id}: {describe(exc)}") from exc
        if not result["e_tag"]:
            raise StorageError(f"update upload {upload_id}: the store returned no ETag")
        return result["e_tag"]

    def _acquire(
        self,
        upload_id: str,
        record: UploadRecord,
        etag: str,
        busy: Callable[[int], CargoholdError],
    ) -> _Held:
        """Take the lease on ``record`` (read with ``etag``); ``busy(size)`` if we lose it."""
        lease = Lease(secrets.token_hex(16), time.time() + self._lease_ttl)
        leased = dataclasses.replace(record, lease=lease)
        try:
            new_etag = self._save(upload_id, leased, etag)
        except _LostRaceError:
            raise busy(record.size) from None
        return _Held(upload_id, leased, new_etag, time.monotonic())

    def _renew_if_due(self, held: _Held) -> _Held:
        if time.monotonic() - held.renewed < self._lease_ttl / 3:
            return held
        assert held.record.lease is not None
        lease = Lease(held.record.lease.token, time.time() + self._lease_ttl)
        record = dataclasses.replace(held.record, lease=lease)
        try:
            etag = self._save(held.upload_id, record, held.etag)
        except _LostRaceError:
            raise StorageError(f"upload {held.upload_id}: lease lost") from None
        return _Held(held.upload_id, record, etag, time.monotonic())

    def _release(self, held: _Held, **changes: Any) -> None:
        """Store ``changes`` to the held record and drop the lease, in one swap."""
        record = dataclasses.replace(held.record, lease=None, **changes)
        try:
            self._save(held.upload_id, record, held.etag)
        except _LostRaceError:
            raise StorageError(f"upload {held.upload_id}: lease lost") from None

    def _release_quietly(self, held: _Held) -> None:
        with contextlib.suppress(StorageError, CargoholdError):  # else it expires on its own
            self._release(held)

    def _discard(self, upload_id: str) -> None:
        """Delete everything of the upload: an unfinished commit, segments, then the state
        (last, so that a crash in between still leaves the upload listed for cleanup)."""
        base = f"{self.prefix}uploads/{upload_id}/"
        state_key = base + "state"
        try:
            record: UploadRecord | None = self._load(upload_id)[0]
        except BlobUploadUnknownError:
            record = None
        if record is not None and record.compose is not None:
            digest, mpu = record.compose
            self._composer.abort(self._blob_key(digest), mpu)
        try:
            keys = [m["path"] for batch in obstore.list(self._obs, base) for m in batch]
        except Exception as exc:
            raise StorageError(f"list upload {upload_id}: {describe(exc)}") from exc
        self._delete_keys([k for k in keys if k != state_key])
        if state_key in keys or record is not None:
            self._delete_keys([state_key])

    # -- segments ---------------------------------------------------------------------------

    def _put_segment(self, upload_id: str, start: int, data: bytes | bytearray) -> Segment:
        name = segment_name(start)
        key = f"{self.prefix}uploads/{upload_id}/{name}"
        try:
            result = obstore.put(self._obs, key, data, use_multipart=False)
        except Exception as exc:
            raise StorageError(f"write upload {upload_id}: {describe(exc)}") from exc
        return Segment(name, start, len(data), result["e_tag"] or "")

    def _read_segment(self, upload_id: str, segment: Segment, length: int | None = None) -> bytes:
        key = self._segment_key(upload_id, segment)
        try:
            if length is None:
                data = bytes(obstore.get(self._obs, key).bytes())
            else:
                data = bytes(obstore.get_range(self._obs, key, start=0, length=length))
        except _NOT_FOUND:
            raise BlobUploadUnknownError(detail={"upload_id": upload_id}) from None
        except Exception as exc:
            raise StorageError(f"read upload {upload_id}: {describe(exc)}") from exc
        if len(data) != (segment.size if length is None else length):
            raise StorageError(f"upload {upload_id}: segment {segment.name} has the wrong size")
        return data

    def _digest_of(self, upload_id: str, record: UploadRecord, algorithm: str) -> str:
        """The upload's digest: from the stored SHA-256 state when there is one, else by
        reading every segment back."""
        if algorithm == "sha256":
            hasher = _resume_sha256(record)
            if hasher is not None:
                return f"sha256:{hasher.hexdigest()}"
        return self._hash_segments(upload_id, record.segments, algorithm)

    def _hash_segments(self, upload_id: str, segments: Sequence[Segment], algorithm: str) -> str:
        hasher = hashlib.new(algorithm)
        for segment in segments:
            key = self._segment_key(upload_id, segment)
            try:
                for piece in obstore.get(self._obs, key).stream(min_chunk_size=CHUNK_SIZE):
                    hasher.update(piece)
            except _NOT_FOUND:
                raise BlobUploadInvalidError("upload changed while it was hashed") from None
            except Exception as exc:
                raise StorageError(f"read upload {upload_id}: {describe(exc)}") from exc
        return f"{algorithm}:{hasher.hexdigest()}"

    def _delete_keys(self, keys: list[str]) -> None:
        if not keys:
            return
        try:
            obstore.delete(self._obs, keys)
        except _NOT_FOUND:
            pass
        except Exception as exc:
            raise StorageError(f"delete: {describe(exc)}") from exc

    def _delete_quietly(self, keys: list[str]) -> None:
        # On failure, left for cancel and the stale-upload sweep, which list the upload's prefix.
        with contextlib.suppress(StorageError):
            self._delete_keys(keys)

    # -- commit: one multipart upload at the blob key ---------------------------------------

    def _compose(self, held: _Held, digest: str) -> None:
        """Make the held upload's segments the blob ``digest``, appearing whole or not at all."""
        dest = self._blob_key(digest)
        segments = held.record.segments
        if len(segments) > MAX_PARTS:
            raise StorageError(f"commit {held.upload_id}: more than {MAX_PARTS} segments")
        if len(segments) > 1:

            def started(mpu: str) -> None:
                # Recorded before any part is copied: after a crash, ``cancel`` aborts it.
                record = dataclasses.replace(held.record, compose=(digest, mpu))
                try:
                    held.etag = self._save(held.upload_id, record, held.etag)
                except _LostRaceError:
                    raise StorageError(f"upload {held.upload_id}: lease lost") from None
                held.record = record

            keys = [self._segment_key(held.upload_id, s) for s in segments]
            self._composer.compose(dest, keys, started)
            return
        try:
            if segments:
                obstore.copy(self._obs, self._segment_key(held.upload_id, segments[0]), dest)
            else:
                obstore.put(self._obs, dest, b"")
        except Exception as exc:
            raise StorageError(f"commit {held.upload_id}: {describe(exc)}") from exc


def _resume_sha256(record: UploadRecord) -> ResumableSha256 | None:
    """The upload's running SHA-256, or None if unknown or not a state of this upload."""
    if record.sha256 is None:
        return None
    try:
        return ResumableSha256(record.sha256, record.size)
    except ValueError:
        return None  # forged or foreign: the bytes get re-read instead


@dataclasses.dataclass
class _Held:
    """A lease this process holds: the state as last written, and its ETag."""

    upload_id: str
    record: UploadRecord
    etag: str
    renewed: float


class _LostRaceError(Exception):
    """The state changed between our read and our conditional write."""


def _busy_writing(size: int) -> CargoholdError:
    return RangeInvalidError(
        "upload is being written by another request", detail={"size": size}, status=416
    )


def _busy_other(size: int) -> CargoholdError:
    del size
    return BlobUploadInvalidError("upload is being written")

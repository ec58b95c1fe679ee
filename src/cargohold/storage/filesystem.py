"""Blobs as files under one root directory, served with ``sendfile`` via ``local_path``.

Layout::

    <root>/
      blobs/
        sha256/
          ab/
            ab12...ef        complete, verified, read-only data; never modified in place
        sha512/
          ...
      uploads/
        <upload_id>          32 lower hex; in-progress data, appended to by ``write``

Uploads live under the same root as blobs, so the final ``os.replace`` is a rename within one
filesystem (checked at start-up) and therefore atomic: a blob path either does not exist or
holds the complete data, fsynced before the rename. A crash leaves at most a stale file in
``uploads/``, which ``iter_uploads`` reports for cleanup; it never becomes a blob.

Concurrency, within and across processes: every write, hash and commit of an upload holds an
exclusive non-blocking ``flock`` on the upload file, and after taking it re-checks that the path
still names the same inode. Without that re-check, a writer that opened the upload just before
a commit renamed it could append to the published blob.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import stat as stat_mod
import uuid
from collections.abc import Iterable, Iterator
from types import TracebackType

from cargohold.errors import (
    BlobUnknownError,
    BlobUploadInvalidError,
    BlobUploadUnknownError,
    ConfigError,
    DigestInvalidError,
    RangeInvalidError,
    SizeInvalidError,
    StorageError,
)
from cargohold.storage._checks import (
    check_algorithm,
    check_range,
    check_upload_id,
    parse_digest,
    range_error,
    stored_digest,
)
from cargohold.storage._direct import STAGE, DirectAppender
from cargohold.storage.protocol import CHUNK_SIZE, DIGEST_HEX_LENGTHS, BlobInfo, UploadState

_UPLOAD_NAME = re.compile(r"[0-9a-f]{32}")
# Read-only, and for the server's user only: blobs of private packages are not for other
# local users (security finding 11).
_BLOB_MODE = 0o400


class FilesystemBlobStore:
    """A ``BlobStore`` on a local (or network) filesystem rooted at ``root``.

    Creates ``root/blobs/<alg>`` and ``root/uploads`` if missing. Raises ``ConfigError`` if they
    are on different filesystems (the commit rename would not be atomic) and ``StorageError``
    if they cannot be created. ``direct_writes``: append upload bytes with ``O_DIRECT`` where
    the filesystem allows (``storage._direct`` says why), else through the page cache.
    """

    name = "filesystem"
    # Bytes per write, one staging buffer. Each batch costs two thread hand-offs (hash and
    # write): on these VMs 1 MiB batches pushed at 0.6x of 4 MiB ones. 8 MiB ones pushed about
    # 1.1x as fast but tripled the peak RSS of 32 concurrent pushes (two batches in flight
    # per upload: 406 -> 1,162 MiB), so 4 MiB it is.
    write_size = STAGE
    hashes_writes = False

    def __init__(self, root: str, *, direct_writes: bool = True) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self._appender = DirectAppender(direct_writes)
        self._blobs = os.path.join(self.root, "blobs")
        self._uploads = os.path.join(self.root, "uploads")
        try:
            for algorithm in DIGEST_HEX_LENGTHS:
                os.makedirs(os.path.join(self._blobs, algorithm), exist_ok=True)
            os.makedirs(self._uploads, exist_ok=True)
            same_fs = os.stat(self._blobs).st_dev == os.stat(self._uploads).st_dev
        except OSError as exc:
            raise StorageError(f"cannot prepare blob store at {self.root}: {exc}") from exc
        if not same_fs:
            raise ConfigError(f"storage root {self.root}: blobs/ and uploads/ differ in device")

    def __repr__(self) -> str:
        return f"FilesystemBlobStore({self.root!r})"

    # -- blobs ------------------------------------------------------------------------------

    def stat(self, digest: str) -> BlobInfo | None:
        path = self._blob_path(digest)
        try:
            return BlobInfo(digest, os.stat(path).st_size)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"stat {digest}: {exc}") from exc

    def local_path(self, digest: str) -> str | None:
        if self.stat(digest) is None:
            raise BlobUnknownError(detail={"digest": digest})
        return self._blob_path(digest)

    def open_read(self, digest: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self._blob_path(digest)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise BlobUnknownError(detail={"digest": digest}) from None
        except OSError as exc:
            raise StorageError(f"open {digest}: {exc}") from exc
        try:
            end = check_range(os.fstat(fd).st_size, offset, length)
        except BaseException:
            os.close(fd)
            raise
        return _FileChunks(fd, offset, end)

    def redirect_url(self, digest: str, *, expires_in: int = 300) -> str | None:
        parse_digest(digest)
        return None

    def delete(self, digest: str) -> bool:
        path = self._blob_path(digest)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"delete {digest}: {exc}") from exc
        return True

    def iter_blobs(self) -> Iterator[tuple[BlobInfo, float]]:
        # One shard directory (1/256 of an algorithm's blobs) is listed at a time; the caller
        # may delete what it was given before the next one is read.
        for algorithm in DIGEST_HEX_LENGTHS:
            base = os.path.join(self._blobs, algorithm)
            for shard in sorted(_list_dir(base)):
                if len(shard) != 2:
                    continue
                folder = os.path.join(base, shard)
                for name in _list_dir(folder):
                    digest = stored_digest(algorithm, shard, name)
                    if digest is None:
                        continue
                    try:
                        info = os.stat(os.path.join(folder, name), follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # deleted while we listed
                    except OSError as exc:
                        raise StorageError(f"stat {digest}: {exc}") from exc
                    if stat_mod.S_ISREG(info.st_mode):
                        yield BlobInfo(digest, info.st_size), info.st_mtime

    def _blob_path(self, digest: str) -> str:
        algorithm, hexdigest = parse_digest(digest)
        return os.path.join(self._blobs, algorithm, hexdigest[:2], hexdigest)

    # -- uploads ----------------------------------------------------------------------------

    def begin_upload(self) -> str:
        upload_id = uuid.uuid4().hex
        try:
            fd = os.open(
                self._upload_path(upload_id),
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                0o600,
            )
        except OSError as exc:
            raise StorageError(f"begin upload: {exc}") from exc
        os.close(fd)
        return upload_id

    def upload_size(self, upload_id: str) -> int:
        path = self._upload_path(upload_id)
        try:
            return os.stat(path).st_size
        except FileNotFoundError:
            raise BlobUploadUnknownError(detail={"upload_id": upload_id}) from None
        except OSError as exc:
            raise StorageError(f"stat upload {upload_id}: {exc}") from exc

    def upload_state(self, upload_id: str) -> UploadState:
        return UploadState(upload_id, self.upload_size(upload_id))

    def write(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> int:
        with _LockedUpload(self._upload_path(upload_id), upload_id, writable=True) as up:
            size = up.size
            if offset != size:
                raise range_error(size, offset)
            # Only OS errors of our own writes become StorageError; whatever the chunk source
            # raises (a client disconnect is an OSError too) propagates unchanged.
            try:
                return self._appender.append(up.fd, size, _Source(chunks))
            except _SourceError as exc:
                raise exc.error from None
            except OSError as exc:
                raise StorageError(f"write upload {upload_id}: {exc}") from exc

    def truncate(self, upload_id: str, size: int) -> None:
        path = self._upload_path(upload_id)
        with _LockedUpload(path, upload_id, writable=True, busy_is_range=False) as up:
            if not 0 <= size <= up.size:
                raise range_error(up.size, size)
            if size != up.size:
                try:
                    os.ftruncate(up.fd, size)
                except OSError as exc:
                    raise StorageError(f"truncate upload {upload_id}: {exc}") from exc

    def digest_upload(self, upload_id: str, algorithm: str) -> str:
        check_algorithm(algorithm)
        with _LockedUpload(self._upload_path(upload_id), upload_id) as up:
            return _hash_fd(up.fd, algorithm, upload_id)

    def commit(
        self,
        upload_id: str,
        expected: str,
        *,
        hashed: str | None = None,
        size: int | None = None,
    ) -> BlobInfo:
        dest = self._blob_path(expected)
        algorithm, _ = parse_digest(expected)
        if hashed is not None:
            parse_digest(hashed)
        source = self._upload_path(upload_id)
        with _LockedUpload(source, upload_id) as up:
            received = up.size
            try:
                if size is not None and size != received:
                    raise SizeInvalidError(detail={"expected": size, "received": received})
                actual = hashed if hashed is not None else _hash_fd(up.fd, algorithm, upload_id)
                if actual != expected:
                    raise DigestInvalidError(detail={"expected": expected, "actual": actual})
            except (SizeInvalidError, DigestInvalidError):
                _unlink_quietly(source)
                raise
            try:
                if os.path.exists(dest):
                    # Stored once: the content is verified and identical, keep the old file.
                    os.unlink(source)
                else:
                    os.fchmod(up.fd, _BLOB_MODE)
                    # A blob's mtime is when it was stored (``iter_blobs``), not the upload's
                    # last write, which may be long before a commit.
                    os.utime(up.fd)
                    os.fsync(up.fd)
                    _make_dir(os.path.dirname(dest))
                    os.replace(source, dest)
                    _fsync_dir(os.path.dirname(dest))
            except OSError as exc:
                raise StorageError(f"commit upload {upload_id} as {expected}: {exc}") from exc
        return BlobInfo(expected, received)

    def cancel(self, upload_id: str) -> None:
        path = self._upload_path(upload_id)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cancel upload {upload_id}: {exc}") from exc

    def iter_uploads(self) -> Iterator[tuple[str, float]]:
        try:
            entries = list(os.scandir(self._uploads))
        except OSError as exc:
            raise StorageError(f"list uploads: {exc}") from exc
        for entry in entries:
            if _UPLOAD_NAME.fullmatch(entry.name) is None:
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # committed or cancelled while we listed
            except OSError as exc:
                raise StorageError(f"stat upload {entry.name}: {exc}") from exc
            if stat_mod.S_ISREG(info.st_mode):
                yield entry.name, info.st_mtime

    def _upload_path(self, upload_id: str) -> str:
        return os.path.join(self._uploads, check_upload_id(upload_id))


class _LockedUpload:
    """An open upload file under an exclusive, non-blocking ``flock``.

    Raises ``BlobUploadUnknownError`` if the upload does not exist (or was committed or
    cancelled while we waited to open it), ``RangeInvalidError`` (for appends: the client sees
    the 416 of a lost race) or ``BlobUploadInvalidError`` (for anything else) if another writer
    holds it.
    """

    def __init__(
        self,
        path: str,
        upload_id: str,
        *,
        writable: bool = False,
        busy_is_range: bool | None = None,
    ) -> None:
        self._path = path
        self._upload_id = upload_id
        self._writable = writable
        self._busy_is_range = writable if busy_is_range is None else busy_is_range
        self.fd = -1
        self.size = 0

    def __enter__(self) -> _LockedUpload:
        flags = (os.O_WRONLY | os.O_APPEND) if self._writable else os.O_RDONLY
        try:
            self.fd = os.open(self._path, flags | os.O_CLOEXEC)
        except FileNotFoundError:
            raise BlobUploadUnknownError(detail={"upload_id": self._upload_id}) from None
        except OSError as exc:
            raise StorageError(f"open upload {self._upload_id}: {exc}") from exc
        try:
            self._lock()
        except BaseException:
            os.close(self.fd)
            raise
        return self

    def _lock(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StorageError(f"lock upload {self._upload_id}: {exc}") from exc
            if self._busy_is_range:
                raise RangeInvalidError(
                    "upload is being written by another request",
                    detail={"size": os.fstat(self.fd).st_size},
                    status=416,
                ) from None
            raise BlobUploadInvalidError("upload is being written") from None
        try:
            mine = os.fstat(self.fd)
            current = os.stat(self._path)
        except FileNotFoundError:
            raise BlobUploadUnknownError(detail={"upload_id": self._upload_id}) from None
        except OSError as exc:
            raise StorageError(f"stat upload {self._upload_id}: {exc}") from exc
        if (mine.st_dev, mine.st_ino) != (current.st_dev, current.st_ino):
            raise BlobUploadUnknownError(detail={"upload_id": self._upload_id})
        self.size = mine.st_size

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        os.close(self.fd)  # also releases the flock


class _SourceError(Exception):
    """What the chunk source raised, carried past the write's own ``OSError`` handler."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class _Source:
    """Wraps the chunk iterable so that its errors are told apart from the writes' own."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)

    def __iter__(self) -> _Source:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._it)
        except StopIteration:
            raise
        except Exception as exc:
            raise _SourceError(exc) from exc


class _FileChunks:
    """Iterator over ``[offset, end)`` of an open file, by ``os.pread`` of ``CHUNK_SIZE``.

    ``os.pread`` returns a fresh ``bytes`` per chunk: one allocation and no extra copy, which a
    reused buffer could not avoid since consumers keep the chunks they are given.
    """

    def __init__(self, fd: int, offset: int, end: int) -> None:
        self._fd = fd
        self._pos = offset
        self._end = end

    def __iter__(self) -> _FileChunks:
        return self

    def __next__(self) -> bytes:
        if self._fd < 0:
            raise StopIteration
        if self._pos >= self._end:
            self.close()
            raise StopIteration
        try:
            chunk = os.pread(self._fd, min(CHUNK_SIZE, self._end - self._pos), self._pos)
        except OSError as exc:
            self.close()
            raise StorageError(f"read blob: {exc}") from exc
        if not chunk:
            self.close()
            raise StorageError("blob shorter than its recorded size")
        self._pos += len(chunk)
        return chunk

    def close(self) -> None:
        """Release the file. Idempotent."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __del__(self) -> None:
        self.close()


def _hash_fd(fd: int, algorithm: str, upload_id: str) -> str:
    hasher = hashlib.new(algorithm)
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    try:
        with open(fd, "rb", buffering=0, closefd=False) as f:
            while n := f.readinto(buffer):
                hasher.update(view[:n])
    except OSError as exc:
        raise StorageError(f"read upload {upload_id}: {exc}") from exc
    return f"{algorithm}:{hasher.hexdigest()}"


def _list_dir(path: str) -> list[str]:
    """The names in ``path``; none if it is missing or not a directory."""
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise StorageError(f"list {path}: {exc}") from exc


def _make_dir(path: str) -> None:
    """Create ``path`` (one level) if missing, making the new entry durable in its parent."""
    try:
        os.mkdir(path)
    except FileExistsError:
        return
    _fsync_dir(os.path.dirname(path))


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StorageError(f"delete upload: {exc}") from exc

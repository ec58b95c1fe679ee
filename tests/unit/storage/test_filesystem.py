"""What only the filesystem backend promises: layout, durability, atomicity, cross-process use."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from storage_helpers import push, read_all, sha256, sha512

import cargohold
from cargohold.errors import (
    BlobUploadInvalidError,
    BlobUploadUnknownError,
    ConfigError,
    RangeInvalidError,
    StorageError,
)
from cargohold.storage.filesystem import FilesystemBlobStore

DATA = b"layer bytes " * 5000


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def fs(root: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(str(root))


def test_creates_layout(fs: FilesystemBlobStore, root: Path) -> None:
    assert (root / "blobs" / "sha256").is_dir()
    assert (root / "blobs" / "sha512").is_dir()
    assert (root / "uploads").is_dir()


def test_blob_layout(fs: FilesystemBlobStore, root: Path) -> None:
    digest = push(fs, DATA)
    hexdigest = digest.split(":")[1]
    path = root / "blobs" / "sha256" / hexdigest[:2] / hexdigest
    assert path.read_bytes() == DATA
    assert fs.local_path(digest) == str(path)
    digest512 = push(fs, DATA, sha512(DATA))
    hex512 = digest512.split(":")[1]
    assert (root / "blobs" / "sha512" / hex512[:2] / hex512).read_bytes() == DATA


def test_upload_layout_and_blobs_are_read_only(fs: FilesystemBlobStore, root: Path) -> None:
    upload_id = fs.begin_upload()
    fs.write(upload_id, 0, [DATA])
    assert (root / "uploads" / upload_id).read_bytes() == DATA
    fs.commit(upload_id, sha256(DATA))
    assert not (root / "uploads" / upload_id).exists()
    local = fs.local_path(sha256(DATA))
    assert local is not None
    assert stat.S_IMODE(os.stat(local).st_mode) == 0o400


def test_stored_once_on_disk(fs: FilesystemBlobStore, root: Path) -> None:
    for _ in range(3):
        push(fs, DATA)
    files = [p for p in (root / "blobs").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert list((root / "uploads").iterdir()) == []


def test_commit_fsyncs_file_then_replaces_then_fsyncs_dir(
    fs: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("replace")
        real_replace(src, dst)

    upload_id = fs.begin_upload()
    fs.write(upload_id, 0, [DATA])
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    fs.commit(upload_id, sha256(DATA))
    # The new <first two hex> directory is made durable too, before the rename.
    assert events == ["fsync-file", "fsync-dir", "replace", "fsync-dir"]


def test_crash_before_rename_leaves_no_blob(
    fs: FilesystemBlobStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_id = fs.begin_upload()
    fs.write(upload_id, 0, [DATA])

    def crash(src: str, dst: str) -> None:
        raise OSError(errno.EIO, "simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StorageError) as caught:
        fs.commit(upload_id, sha256(DATA))
    assert isinstance(caught.value.__cause__, OSError)
    monkeypatch.undo()
    assert fs.stat(sha256(DATA)) is None
    assert [p for p in (root / "blobs").rglob("*") if p.is_file()] == []
    # The upload survives and can still be committed.
    assert fs.commit(upload_id, sha256(DATA)).size == len(DATA)


def test_leftover_upload_after_crash_never_becomes_a_blob(root: Path) -> None:
    before = FilesystemBlobStore(str(root))
    upload_id = before.begin_upload()
    before.write(upload_id, 0, [DATA[:1000]])  # the process dies here
    after = FilesystemBlobStore(str(root))
    assert after.stat(sha256(DATA)) is None
    assert after.stat(sha256(DATA[:1000])) is None
    assert [uid for uid, _ in after.iter_uploads()] == [upload_id]


def test_upload_continued_by_another_process(fs: FilesystemBlobStore, root: Path) -> None:
    upload_id = fs.begin_upload()
    fs.write(upload_id, 0, [DATA[:1000]])
    src = os.path.dirname(os.path.dirname(cargohold.__file__))
    code = textwrap.dedent(
        f"""
        from cargohold.storage.filesystem import FilesystemBlobStore
        store = FilesystemBlobStore({str(root)!r})
        size = store.upload_size({upload_id!r})
        store.write({upload_id!r}, size, [{DATA!r}[size:]])
        digest = store.digest_upload({upload_id!r}, "sha256")
        print(store.commit({upload_id!r}, digest, hashed=digest).digest)
        """
    )
    env = {**os.environ, "PYTHONPATH": src}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == sha256(DATA)
    assert read_all(fs, sha256(DATA)) == DATA


def test_writer_racing_a_commit_cannot_append_to_the_blob(
    fs: FilesystemBlobStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_id = fs.begin_upload()
    fs.write(upload_id, 0, [DATA])
    other = FilesystemBlobStore(str(root))  # another process, say
    real_flock = fcntl.flock

    def commit_between_open_and_lock(fd: int, operation: int) -> None:
        monkeypatch.setattr(fcntl, "flock", real_flock)
        other.commit(upload_id, sha256(DATA))  # renames the file the writer has open
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", commit_between_open_and_lock)
    with pytest.raises(BlobUploadUnknownError):
        fs.write(upload_id, len(DATA), [b"appended to a published blob?"])
    assert read_all(fs, sha256(DATA)) == DATA


def test_upload_locked_elsewhere_is_busy(fs: FilesystemBlobStore, root: Path) -> None:
    upload_id = fs.begin_upload()
    fs.write(upload_id, 0, [b"abc"])
    fd = os.open(root / "uploads" / upload_id, os.O_RDONLY)  # another process's writer
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(RangeInvalidError) as caught:
            fs.write(upload_id, 3, [b"def"])
        assert caught.value.detail == {"size": 3}
        with pytest.raises(BlobUploadInvalidError):
            fs.commit(upload_id, sha256(b"abc"))
        with pytest.raises(BlobUploadInvalidError):
            fs.digest_upload(upload_id, "sha256")
    finally:
        os.close(fd)
    assert fs.write(upload_id, 3, [b"def"]) == 6


def test_os_errors_become_storage_errors(
    fs: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_id = fs.begin_upload()

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StorageError) as caught:
        fs.write(upload_id, 0, [b"x"])
    assert isinstance(caught.value.__cause__, OSError)


def test_short_writes_are_completed(
    fs: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def short(fd: int, data: bytes) -> int:
        return real_write(fd, memoryview(data)[:7])

    upload_id = fs.begin_upload()
    monkeypatch.setattr(os, "write", short)
    assert fs.write(upload_id, 0, [DATA[:100]]) == 100
    monkeypatch.undo()
    assert fs.commit(upload_id, sha256(DATA[:100])).size == 100


def test_iter_uploads_reports_mtime_and_skips_strangers(
    fs: FilesystemBlobStore, root: Path
) -> None:
    old, new = fs.begin_upload(), fs.begin_upload()
    os.utime(root / "uploads" / old, (1_000_000, 1_000_000))
    (root / "uploads" / "notes.txt").write_text("not an upload")
    (root / "uploads" / ("ab" * 16 + ".tmp")).write_text("nor this")
    (root / "uploads" / ("cd" * 16)).mkdir()  # a directory named like an id
    listed = dict(fs.iter_uploads())
    assert set(listed) == {old, new}
    assert listed[old] == 1_000_000
    assert listed[new] > listed[old]


def test_iter_blobs_reports_mtime_and_skips_strangers(fs: FilesystemBlobStore, root: Path) -> None:
    digest = push(fs, DATA)
    hexdigest = digest.split(":")[1]
    shard = root / "blobs" / "sha256" / hexdigest[:2]
    os.utime(shard / hexdigest, (1_000_000, 1_000_000))
    other = ("cd" if hexdigest[:2] != "cd" else "ce") * 32
    strangers = [
        shard / "notes.txt",
        shard / (hexdigest[:-1] + "0.tmp"),
        shard / other,  # named like a digest, in the wrong shard
        shard / hexdigest.upper(),
        root / "blobs" / "sha256" / "stray",
        root / "blobs" / "md5" / "ab" / ("ab" * 16),
        root / "blobs" / "sha256" / "zz" / ("zz" * 32),
    ]
    for path in strangers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not a blob")
    (root / "blobs" / "sha256" / "ef").mkdir()
    (root / "blobs" / "sha256" / "ef" / ("ef" * 32)).mkdir()  # a directory named like one
    (root / "blobs" / "sha256" / "01").symlink_to(shard)  # a link is followed only as a shard
    (shard / (hexdigest[:2] + "0" * 62)).symlink_to(shard / hexdigest)
    listed = list(fs.iter_blobs())
    assert [(info.digest, info.size, mtime) for info, mtime in listed] == [
        (digest, len(DATA), 1_000_000)
    ]


def test_a_blob_s_mtime_is_its_commit_not_the_upload_s_last_write(
    fs: FilesystemBlobStore, root: Path
) -> None:
    upload_id = fs.begin_upload()
    fs.write(upload_id, 0, [DATA])
    os.utime(root / "uploads" / upload_id, (1_000_000, 1_000_000))  # written long ago
    fs.commit(upload_id, sha256(DATA))
    ((_, mtime),) = fs.iter_blobs()
    assert mtime > 1_000_000


def test_write_updates_upload_mtime(fs: FilesystemBlobStore, root: Path) -> None:
    upload_id = fs.begin_upload()
    os.utime(root / "uploads" / upload_id, (1_000_000, 1_000_000))
    fs.write(upload_id, 0, [b"x"])
    assert dict(fs.iter_uploads())[upload_id] > 1_000_000


def test_read_of_deleted_blob_finishes_for_open_readers(fs: FilesystemBlobStore) -> None:
    digest = push(fs, DATA)
    chunks = fs.open_read(digest)
    assert fs.delete(digest) is True
    assert b"".join(chunks) == DATA


def test_uploads_on_another_filesystem_are_rejected(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_stat = os.stat

    def stat_with_other_device(path: str, *args: object, **kwargs: object) -> os.stat_result:
        result = real_stat(path)
        if str(path).endswith("uploads"):
            fields = list(result)
            fields[stat.ST_DEV] += 1
            return os.stat_result(fields)
        return result

    monkeypatch.setattr(os, "stat", stat_with_other_device)
    with pytest.raises(ConfigError, match="differ in device"):
        FilesystemBlobStore(str(root))


def test_unusable_root_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError):
        FilesystemBlobStore(str(blocker / "store"))

"""The one contract every blob-store backend passes (``store`` is parametrised over backends)."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storage_helpers import push, read_all, sha256, sha512

from cargohold.errors import (
    BlobUnknownError,
    BlobUploadInvalidError,
    BlobUploadUnknownError,
    DigestInvalidError,
    RangeInvalidError,
    SizeInvalidError,
)
from cargohold.storage import CHUNK_SIZE, BlobInfo, BlobStore, UploadState

DATA = b"hello, cargohold\n" * 1000


def test_is_a_blob_store(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)
    assert store.name in {"filesystem", "memory", "s3"}


# -- round trip -------------------------------------------------------------------------------


def test_round_trip(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    assert store.write(upload_id, 0, [DATA[:100], DATA[100:]]) == len(DATA)
    info = store.commit(upload_id, sha256(DATA))
    assert info == BlobInfo(sha256(DATA), len(DATA))
    assert store.stat(sha256(DATA)) == info
    assert read_all(store, sha256(DATA)) == DATA


def test_chunked_writes_across_calls(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    assert store.write(upload_id, 0, [DATA[:10]]) == 10
    assert store.write(upload_id, 10, iter([DATA[10:500], b"", DATA[500:]])) == len(DATA)
    assert store.upload_size(upload_id) == len(DATA)
    store.commit(upload_id, sha256(DATA))
    assert read_all(store, sha256(DATA)) == DATA


def test_write_accepts_bytes_like_chunks(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [memoryview(DATA)[:5], bytearray(DATA[5:])])  # type: ignore[list-item]
    assert store.commit(upload_id, sha256(DATA)).size == len(DATA)


def test_large_blob_reads_in_chunks_of_at_most_chunk_size(store: BlobStore) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE // 256 * 2 + 7)
    digest = push(store, data)
    chunks = list(store.open_read(digest))
    assert len(chunks) == 3
    assert all(len(c) <= CHUNK_SIZE for c in chunks)
    assert b"".join(chunks) == data


def test_empty_blob(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    assert store.upload_size(upload_id) == 0
    info = store.commit(upload_id, sha256(b""))
    assert info == BlobInfo(sha256(b""), 0)
    assert read_all(store, sha256(b"")) == b""
    assert list(store.open_read(sha256(b""))) == []


def test_sha512(store: BlobStore) -> None:
    digest = push(store, DATA, sha512(DATA))
    assert store.stat(digest) == BlobInfo(digest, len(DATA))
    assert store.stat(sha256(DATA)) is None
    assert read_all(store, digest) == DATA


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=5000), cuts=st.lists(st.integers(0, 5000), max_size=6))
def test_any_chunking_round_trips(store: BlobStore, data: bytes, cuts: list[int]) -> None:
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    upload_id = store.begin_upload()
    offset = 0
    for start, end in itertools.pairwise(bounds):
        offset = store.write(upload_id, offset, [data[start:end]])
    assert store.digest_upload(upload_id, "sha256") == sha256(data)
    assert store.commit(upload_id, sha256(data)).size == len(data)
    assert read_all(store, sha256(data)) == data


# -- stored once ------------------------------------------------------------------------------


def test_same_content_twice_is_stored_once(store: BlobStore) -> None:
    first = store.begin_upload()
    second = store.begin_upload()
    store.write(first, 0, [DATA])
    store.write(second, 0, [DATA])
    assert store.commit(first, sha256(DATA)) == store.commit(second, sha256(DATA))
    assert read_all(store, sha256(DATA)) == DATA
    assert list(store.iter_uploads()) == []
    assert store.delete(sha256(DATA)) is True
    assert store.delete(sha256(DATA)) is False  # there was one copy


def test_existing_blob_still_requires_matching_content(store: BlobStore) -> None:
    # Committing junk under a stored digest must not succeed: success is proof of content.
    digest = push(store, DATA)
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [b"not the content"])
    with pytest.raises(DigestInvalidError):
        store.commit(upload_id, digest)
    assert read_all(store, digest) == DATA


# -- digest verification ----------------------------------------------------------------------


def test_digest_mismatch_deletes_upload_and_stores_nothing(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA])
    wrong = sha256(b"something else")
    with pytest.raises(DigestInvalidError):
        store.commit(upload_id, wrong)
    assert store.stat(wrong) is None
    assert store.stat(sha256(DATA)) is None
    with pytest.raises(BlobUploadUnknownError):
        store.upload_size(upload_id)
    assert list(store.iter_uploads()) == []


def test_malformed_expected_digest_keeps_upload(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA])
    with pytest.raises(DigestInvalidError):
        store.commit(upload_id, "sha256:nothex")
    assert store.upload_size(upload_id) == len(DATA)


def test_size_mismatch_raises_and_deletes_upload(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA])
    with pytest.raises(SizeInvalidError):
        store.commit(upload_id, sha256(DATA), size=len(DATA) + 1)
    assert store.stat(sha256(DATA)) is None
    with pytest.raises(BlobUploadUnknownError):
        store.upload_size(upload_id)


def test_matching_size_commits(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA])
    assert store.commit(upload_id, sha256(DATA), size=len(DATA)).size == len(DATA)


def test_hashed_fast_path_trusts_caller_digest(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA])
    info = store.commit(upload_id, sha256(DATA), hashed=sha256(DATA), size=len(DATA))
    assert info == BlobInfo(sha256(DATA), len(DATA))
    assert read_all(store, sha256(DATA)) == DATA


def test_hashed_fast_path_rejects_mismatch(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA])
    with pytest.raises(DigestInvalidError):
        store.commit(upload_id, sha256(DATA), hashed=sha256(b"other"))
    assert store.stat(sha256(DATA)) is None
    with pytest.raises(BlobUploadUnknownError):
        store.upload_size(upload_id)


def test_hashed_fast_path_still_checks_size_and_existence(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA])
    with pytest.raises(SizeInvalidError):
        store.commit(upload_id, sha256(DATA), hashed=sha256(DATA), size=1)
    with pytest.raises(BlobUploadUnknownError):
        store.commit(upload_id, sha256(DATA), hashed=sha256(DATA))


def test_hashed_of_other_algorithm_is_a_mismatch(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA])
    with pytest.raises(DigestInvalidError):
        store.commit(upload_id, sha256(DATA), hashed=sha512(DATA))


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_digest_upload_equals_hashlib(store: BlobStore, algorithm: str) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA[:777]])
    expected_partial = f"{algorithm}:{hashlib.new(algorithm, DATA[:777]).hexdigest()}"
    assert store.digest_upload(upload_id, algorithm) == expected_partial
    # Continued by "another process": re-hash and pass the result as the trusted digest.
    store.write(upload_id, 777, [DATA[777:]])
    rehashed = store.digest_upload(upload_id, algorithm)
    assert rehashed == f"{algorithm}:{hashlib.new(algorithm, DATA).hexdigest()}"
    assert store.commit(upload_id, rehashed, hashed=rehashed).size == len(DATA)


def test_digest_upload_rejects_unknown_algorithm(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    with pytest.raises(DigestInvalidError):
        store.digest_upload(upload_id, "md5")


# -- offsets and ranges -----------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 3, 6, -1])
def test_wrong_offset_is_416_and_leaves_data_unchanged(store: BlobStore, offset: int) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [b"hello"])
    with pytest.raises(RangeInvalidError) as caught:
        store.write(upload_id, offset, [b"junk"])
    assert caught.value.status == 416
    assert caught.value.detail == {"size": 5}
    assert store.upload_size(upload_id) == 5
    assert store.digest_upload(upload_id, "sha256") == sha256(b"hello")


def test_chunks_raising_midway_keep_received_bytes(store: BlobStore) -> None:
    def disconnecting() -> Iterator[bytes]:
        yield b"abc"
        raise ConnectionResetError("client went away")

    upload_id = store.begin_upload()
    with pytest.raises(ConnectionResetError):
        store.write(upload_id, 0, disconnecting())
    assert store.upload_size(upload_id) == 3
    assert store.write(upload_id, 3, [b"def"]) == 6  # resumable, and no longer busy
    assert store.commit(upload_id, sha256(b"abcdef")).size == 6


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [(0, None, DATA), (5, None, DATA[5:]), (5, 10, DATA[5:15]), (0, 0, b""),
     (len(DATA), None, b""), (len(DATA) - 1, 1, DATA[-1:])],
)  # fmt: skip
def test_read_with_offset_and_length(
    store: BlobStore, offset: int, length: int | None, expected: bytes
) -> None:
    digest = push(store, DATA)
    assert read_all(store, digest, offset, length) == expected


@pytest.mark.parametrize(
    ("offset", "length"), [(-1, None), (0, -1), (len(DATA) + 1, None), (1, len(DATA))]
)
def test_read_outside_blob_is_range_invalid(
    store: BlobStore, offset: int, length: int | None
) -> None:
    digest = push(store, DATA)
    with pytest.raises(RangeInvalidError):
        store.open_read(digest, offset, length)


def test_open_read_of_unknown_blob_raises_before_iteration(store: BlobStore) -> None:
    with pytest.raises(BlobUnknownError):
        store.open_read(sha256(b"nope"))  # no next(): the error must be eager


def test_read_iterator_can_be_closed_early(store: BlobStore) -> None:
    data = b"x" * (CHUNK_SIZE + 1)
    digest = push(store, data)
    chunks = store.open_read(digest)
    assert len(next(chunks)) == CHUNK_SIZE
    chunks.close()  # type: ignore[attr-defined]
    assert list(chunks) == []


# -- lookups and deletion ---------------------------------------------------------------------


def test_stat_of_unknown_is_none(store: BlobStore) -> None:
    assert store.stat(sha256(b"nope")) is None
    assert store.stat(sha512(b"nope")) is None


def test_local_path_of_unknown_raises(store: BlobStore) -> None:
    with pytest.raises(BlobUnknownError):
        store.local_path(sha256(b"nope"))


def test_local_path_is_none_or_holds_the_blob(store: BlobStore) -> None:
    digest = push(store, DATA)
    path = store.local_path(digest)
    if path is not None:
        with open(path, "rb") as f:
            assert f.read() == DATA


def test_redirect_url_is_none_for_local_backends(store: BlobStore) -> None:
    assert store.redirect_url(push(store, DATA), expires_in=60) is None


def test_delete(store: BlobStore) -> None:
    digest = push(store, DATA)
    assert store.delete(digest) is True
    assert store.stat(digest) is None
    with pytest.raises(BlobUnknownError):
        store.open_read(digest)
    assert store.delete(digest) is False
    push(store, DATA)  # can be stored again
    assert read_all(store, digest) == DATA


# -- uploads ----------------------------------------------------------------------------------


def test_upload_ids_are_unique_lower_hex(store: BlobStore) -> None:
    ids = {store.begin_upload() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids)


def test_upload_state(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [b"abc"])
    assert store.upload_state(upload_id) == UploadState(upload_id, 3)


def test_cancel_is_idempotent(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA])
    store.cancel(upload_id)
    store.cancel(upload_id)
    with pytest.raises(BlobUploadUnknownError):
        store.upload_size(upload_id)
    with pytest.raises(BlobUploadUnknownError):
        store.commit(upload_id, sha256(DATA))
    assert store.stat(sha256(DATA)) is None


def test_committed_upload_is_gone(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [DATA])
    store.commit(upload_id, sha256(DATA))
    with pytest.raises(BlobUploadUnknownError):
        store.write(upload_id, len(DATA), [b"more"])
    assert read_all(store, sha256(DATA)) == DATA


UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.upload_size(UNKNOWN_ID),
        lambda s: s.upload_state(UNKNOWN_ID),
        lambda s: s.write(UNKNOWN_ID, 0, [b"x"]),
        lambda s: s.digest_upload(UNKNOWN_ID, "sha256"),
        lambda s: s.commit(UNKNOWN_ID, sha256(b"")),
    ],
    ids=["upload_size", "upload_state", "write", "digest_upload", "commit"],
)
def test_unknown_upload_id(store: BlobStore, call: Callable[[BlobStore], object]) -> None:
    with pytest.raises(BlobUploadUnknownError):
        call(store)
    store.cancel(UNKNOWN_ID)  # idempotent: unknown but well formed is fine


BAD_IDS = [
    "../../etc/passwd",
    "../blobs/sha256",
    "0123456789ABCDEF0123456789ABCDEF",
    "0123456789abcdef0123456789abcde",
    "0123456789abcdef0123456789abcdef0",
    "0123456789abcdef0123456789abcde/",
    "0123456789abcdef0123456789abcdef\n",
    "",
    ".",
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_malformed_upload_ids_are_unknown(store: BlobStore, bad_id: str) -> None:
    for call in (
        lambda: store.upload_size(bad_id),
        lambda: store.write(bad_id, 0, [b"x"]),
        lambda: store.commit(bad_id, sha256(b"x")),
        lambda: store.cancel(bad_id),
        lambda: store.digest_upload(bad_id, "sha256"),
    ):
        with pytest.raises(BlobUploadUnknownError):
            call()


BAD_DIGESTS = [
    "sha256:../../../../etc/passwd",
    "sha256:" + "A" * 64,
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha256:" + "a" * 63 + "/",
    "sha256:" + "a" * 64 + "\n",
    "sha512:" + "a" * 64,
    "md5:" + "a" * 32,
    "../sha256:" + "a" * 64,
    "a" * 64,
    "",
]


@pytest.mark.parametrize("bad", BAD_DIGESTS)
def test_malformed_digests_are_rejected(store: BlobStore, bad: str) -> None:
    upload_id = store.begin_upload()
    for call in (
        lambda: store.stat(bad),
        lambda: store.local_path(bad),
        lambda: store.open_read(bad),
        lambda: store.delete(bad),
        lambda: store.redirect_url(bad),
        lambda: store.commit(upload_id, bad),
        lambda: store.commit(upload_id, sha256(b""), hashed=bad),
    ):
        with pytest.raises(DigestInvalidError):
            call()
    assert store.upload_size(upload_id) == 0  # a malformed digest never consumes the upload


def test_iter_uploads_lists_open_uploads(store: BlobStore) -> None:
    a, b, c = store.begin_upload(), store.begin_upload(), store.begin_upload()
    store.cancel(b)
    store.write(c, 0, [b""])
    store.commit(c, sha256(b""))
    listed = dict(store.iter_uploads())
    assert set(listed) == {a}
    assert listed[a] > 0


def test_iter_blobs_lists_every_stored_blob_with_its_size_and_time(store: BlobStore) -> None:
    assert list(store.iter_blobs()) == []
    before = time.time()
    digests = [push(store, DATA), push(store, b""), push(store, DATA, sha512(DATA))]
    after = time.time()
    store.begin_upload()  # an upload in progress is not a blob
    listed = {info: mtime for info, mtime in store.iter_blobs()}
    assert set(listed) == {store.stat(d) for d in digests}
    # S3 keeps whole seconds (and its clock is the server's: here the same machine).
    assert all(before - 2 <= mtime <= after + 2 for mtime in listed.values())


def test_iter_blobs_keeps_the_first_time_of_content_stored_twice(store: BlobStore) -> None:
    digest = push(store, DATA)
    ((_, first),) = store.iter_blobs()
    push(store, DATA)  # verified, then dropped: the stored copy is kept
    assert list(store.iter_blobs()) == [(BlobInfo(digest, len(DATA)), first)]


def test_iter_blobs_survives_deleting_what_it_yielded(store: BlobStore) -> None:
    digests = {push(store, DATA + bytes([i])) for i in range(5)}
    seen = []
    for info, _ in store.iter_blobs():  # what the garbage collector does
        seen.append(info.digest)
        assert store.delete(info.digest)
    assert sorted(seen) == sorted(digests)
    assert list(store.iter_blobs()) == []


# -- concurrency ------------------------------------------------------------------------------


def test_concurrent_writers_to_two_uploads(store: BlobStore) -> None:
    payloads = {name: bytes([name]) * 100_000 for name in (1, 2)}
    ids = {name: store.begin_upload() for name in payloads}
    errors: list[BaseException] = []

    def writer(name: int) -> None:
        try:
            offset = 0
            data = payloads[name]
            for start in range(0, len(data), 1000):
                offset = store.write(ids[name], offset, [data[start : start + 1000]])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for name, data in payloads.items():
        assert store.commit(ids[name], sha256(data)).size == len(data)
        assert read_all(store, sha256(data)) == data


def test_second_writer_to_a_busy_upload_gets_416(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    inside = threading.Event()
    release = threading.Event()

    def slow_chunks() -> Iterator[bytes]:
        yield b"first"
        inside.set()
        release.wait(5)
        yield b"-done"

    thread = threading.Thread(target=store.write, args=(upload_id, 0, slow_chunks()))
    thread.start()
    try:
        assert inside.wait(5)
        with pytest.raises(RangeInvalidError) as caught:
            store.write(upload_id, 5, [b"interloper"])
        assert caught.value.status == 416
        with pytest.raises(BlobUploadInvalidError):
            store.commit(upload_id, sha256(b"first-done"))
        with pytest.raises(BlobUploadInvalidError):
            store.truncate(upload_id, 0)
        with pytest.raises(BlobUploadInvalidError):
            store.digest_upload(upload_id, "sha256")
    finally:
        release.set()
        thread.join()
    assert store.commit(upload_id, sha256(b"first-done")).size == len(b"first-done")


def test_two_stores_with_same_backend_state_agree(make_store: Callable[[], BlobStore]) -> None:
    # Separate instances are independent stores (no module-level state is shared).
    one, two = make_store(), make_store()
    digest = push(one, DATA)
    assert two.stat(digest) is None


# -- truncate ---------------------------------------------------------------------------------


def test_truncate_cuts_back_and_writing_resumes_there(store: BlobStore) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [b"hello, partial junk"])
    store.truncate(upload_id, 5)
    assert store.upload_size(upload_id) == 5
    store.truncate(upload_id, 5)  # idempotent at the current size
    with pytest.raises(RangeInvalidError):
        store.write(upload_id, 19, [b"!"])
    assert store.write(upload_id, 5, [b", world"]) == 12
    assert store.commit(upload_id, sha256(b"hello, world")).size == 12


@pytest.mark.parametrize("size", [-1, 6])
def test_truncate_outside_upload_is_range_invalid(store: BlobStore, size: int) -> None:
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [b"hello"])
    with pytest.raises(RangeInvalidError):
        store.truncate(upload_id, size)
    assert store.digest_upload(upload_id, "sha256") == sha256(b"hello")


def test_truncate_unknown_or_malformed_upload(store: BlobStore) -> None:
    with pytest.raises(BlobUploadUnknownError):
        store.truncate(UNKNOWN_ID, 0)
    with pytest.raises(BlobUploadUnknownError):
        store.truncate("../uploads", 0)

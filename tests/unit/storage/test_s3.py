"""What the S3 backend adds to the contract: segments folded to S3's part minimum, uploads
continued by another process, leases of dead writers, presigned redirects, hostile state,
settings and credentials. Runs against the SeaweedFS of ``scripts/test.sh`` (signatures on)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import obstore
import pytest
from storage_helpers import push, read_all, sha256

from cargohold.errors import (
    BlobUploadInvalidError,
    ConfigError,
    DigestInvalidError,
    RangeInvalidError,
    StorageError,
)
from cargohold.services import configured_store
from cargohold.settings import load_settings
from cargohold.storage import _sha256_state as sha256_state
from cargohold.storage import open_store
from cargohold.storage._s3_state import Lease, UploadRecord
from cargohold.storage.s3 import MIN_PART, S3BlobStore
from support.s3 import s3_options

MiB = 1024 * 1024


def make(**extra: Any) -> S3BlobStore:
    store = open_store("s3", **s3_options(**extra))
    assert isinstance(store, S3BlobStore)
    return store


def record_of(store: S3BlobStore, upload_id: str) -> UploadRecord:
    return store._load(upload_id)[0]


def blob_keys(store: S3BlobStore) -> list[str]:
    listing = obstore.list(store._obs, f"{store.prefix}blobs/")
    return [meta["path"] for batch in listing for meta in batch]


def pattern(size: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(256)) * (size // 256) + b"x" * (size % 256)


def test_small_chunks_fold_into_parts_of_at_least_the_s3_minimum() -> None:
    store = make(part_size=MIN_PART)
    data = pattern(14 * MiB + 123)
    upload_id = store.begin_upload()
    offset = 0
    for start in range(0, len(data), 3 * MiB):  # like a client's 3 MiB PATCHes
        offset = store.write(upload_id, offset, [data[start : start + 3 * MiB]])
    segments = record_of(store, upload_id).segments
    assert len(segments) > 1
    assert all(s.size >= MIN_PART for s in segments[:-1])
    assert all(s.size <= MIN_PART for s in segments)  # bounded by part_size: flat memory
    assert blob_keys(store) == []  # nothing visible before the commit
    store.commit(upload_id, sha256(data))
    assert read_all(store, sha256(data)) == data
    assert read_all(store, sha256(data), 5 * MiB - 3, 10) == data[5 * MiB - 3 : 5 * MiB + 7]


def test_another_process_continues_the_upload() -> None:
    one = make(part_size=MIN_PART)
    two = S3BlobStore(**{**s3_options(), "prefix": one.prefix, "part_size": MIN_PART})
    data = pattern(7 * MiB, seed=3)
    upload_id = one.begin_upload()
    one.write(upload_id, 0, [data[: 2 * MiB]])
    assert two.upload_size(upload_id) == 2 * MiB
    two.write(upload_id, 2 * MiB, [data[2 * MiB :]])
    assert one.digest_upload(upload_id, "sha256") == sha256(data)
    assert two.commit(upload_id, sha256(data)).size == len(data)
    assert read_all(one, sha256(data)) == data


@pytest.mark.skipif(not sha256_state.available(), reason="needs libcrypto")
def test_the_hash_state_lives_in_the_store_not_in_a_process() -> None:
    one = make()
    two = S3BlobStore(**{**s3_options(), "prefix": one.prefix})
    data = pattern(3 * MiB, seed=11)
    upload_id = one.begin_upload()
    one.write(upload_id, 0, [data[:1000]])
    two.write(upload_id, 1000, [data[1000:]])
    # Remove the bytes behind the stores' backs: a digest that still comes out right was
    # resumed from the stored state, not re-read.
    record = record_of(one, upload_id)
    obstore.delete(one._obs, [f"{one.prefix}uploads/{upload_id}/{s.name}" for s in record.segments])
    assert two.digest_upload(upload_id, "sha256") == sha256(data)


@pytest.mark.skipif(not sha256_state.available(), reason="needs libcrypto")
def test_a_forged_hash_state_is_ignored_and_the_bytes_re_read() -> None:
    store = make()
    data = b"the real content"
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [data])
    record, etag = store._load(upload_id)
    assert record.sha256 is not None
    forged = bytearray(record.sha256)
    forged[104:108] = (1000).to_bytes(4, "little")  # a block offset past OpenSSL's buffer
    store._save(upload_id, dataclasses.replace(record, sha256=bytes(forged)), etag)
    assert store.digest_upload(upload_id, "sha256") == sha256(data)
    other = hashlib.sha256(b"other content!!!")  # same length, other bytes: a valid state
    record, etag = store._load(upload_id)
    lying = sha256_state.ResumableSha256()
    lying.update(b"other content!!!")
    store._save(upload_id, dataclasses.replace(record, sha256=lying.save()), etag)
    # A well-formed state for other bytes is trusted like the caller's ``hashed`` would be:
    # the store is the trust boundary. It can only make a commit fail, never pass.
    assert store.digest_upload(upload_id, "sha256") == "sha256:" + other.hexdigest()
    with pytest.raises(DigestInvalidError):
        store.commit(upload_id, sha256(data))


def test_truncate_inside_a_folded_segment() -> None:
    store = make(part_size=MIN_PART)
    data = pattern(6 * MiB, seed=5)
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [data[: 4 * MiB]])
    store.write(upload_id, 4 * MiB, [data[4 * MiB :], b"junk from a client that went away"])
    store.truncate(upload_id, 4 * MiB + 17)
    store.write(upload_id, 4 * MiB + 17, [data[4 * MiB + 17 :]])
    assert store.commit(upload_id, sha256(data)).size == len(data)
    assert read_all(store, sha256(data)) == data


def test_a_dead_writers_lease_blocks_until_it_expires() -> None:
    store = make(lease_ttl=30.0)
    upload_id = store.begin_upload()
    record, etag = store._load(upload_id)
    # A writer that took the lease and died (its lease still runs for a while)...
    dead = UploadRecord(record.segments, Lease("dead", time.time() + 30))
    etag = store._save(upload_id, dead, etag)
    with pytest.raises(RangeInvalidError) as caught:
        store.write(upload_id, 0, [b"abc"])
    assert caught.value.status == 416
    with pytest.raises(BlobUploadInvalidError):
        store.commit(upload_id, sha256(b""))
    # ... and once it has expired, anyone may take over.
    store._save(upload_id, UploadRecord(record.segments, Lease("dead", time.time() - 1)), etag)
    assert store.write(upload_id, 0, [b"abc"]) == 3
    assert store.commit(upload_id, sha256(b"abc")).size == 3


def test_a_commit_that_died_mid_compose_shows_no_blob_and_cancel_aborts_it() -> None:
    store = make(part_size=MIN_PART)
    data = pattern(11 * MiB, seed=9)
    digest = sha256(data)
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [data])
    record, etag = store._load(upload_id)
    assert len(record.segments) == 3
    # What a commit does before it dies: open the multipart upload at the blob key, record it,
    # copy a first part. No CompleteMultipartUpload.
    client = store._composer._boto()
    dest = store._blob_key(digest)
    mpu = client.create_multipart_upload(Bucket=store.bucket, Key=dest)["UploadId"]
    store._save(upload_id, dataclasses.replace(record, compose=(digest, mpu)), etag)
    first = f"{store.prefix}uploads/{upload_id}/{record.segments[0].name}"
    client.upload_part_copy(
        Bucket=store.bucket, Key=dest, UploadId=mpu, PartNumber=1,
        CopySource={"Bucket": store.bucket, "Key": first},
    )  # fmt: skip
    assert store.stat(digest) is None
    assert blob_keys(store) == []
    assert upload_id in dict(store.iter_uploads())
    store.cancel(upload_id)
    listed = client.list_multipart_uploads(Bucket=store.bucket, Prefix=dest).get("Uploads", [])
    assert mpu not in [u["UploadId"] for u in listed]
    assert list(store.iter_uploads()) == []


def test_cancel_removes_every_object_of_the_upload() -> None:
    store = make()
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [b"a" * 1000])
    store.write(upload_id, 1000, [b"b" * 1000])
    store.cancel(upload_id)
    listing = obstore.list(store._obs, f"{store.prefix}uploads/")
    assert [meta["path"] for batch in listing for meta in batch] == []


def test_iter_blobs_skips_keys_not_named_like_blobs() -> None:
    store = make()
    digest = push(store, b"the one blob")
    hexdigest = digest.split(":")[1]
    strangers = [
        f"blobs/sha256/{hexdigest[:2]}/{hexdigest}.tmp",
        f"blobs/sha256/{hexdigest[:2]}/{hexdigest.upper()}",
        f"blobs/sha256/{'00' if hexdigest[:2] != '00' else '01'}/{hexdigest}",  # wrong shard
        f"blobs/md5/ab/{'ab' * 16}",
        f"blobs/sha256/{hexdigest[:2]}/{hexdigest}/nested",
        "blobs/notes.txt",
    ]
    for key in strangers:
        obstore.put(store._obs, store.prefix + key, b"not a blob")
    other = make()  # another prefix in the same bucket is another store
    push(other, b"elsewhere")
    assert [(info.digest, info.size) for info, _ in store.iter_blobs()] == [(digest, 12)]


@pytest.mark.parametrize(
    "segments",
    [
        [["../../blobs/sha256/x", 0, 3, ""]],
        [["0000000000000000-0000000a", 5, 3, ""]],
        [["0000000000000000-0000000a", 0, -3, ""]],
        "nope",
    ],
)
def test_tampered_state_is_a_storage_error(segments: object) -> None:
    store = make()
    upload_id = store.begin_upload()
    body = {"v": 1, "rev": "x", "segments": segments, "lease": None, "compose": None}
    obstore.put(store._obs, store._state_key(upload_id), json.dumps(body).encode())
    with pytest.raises(StorageError, match="corrupt state"):
        store.upload_size(upload_id)


def test_redirect_url_is_presigned_and_honours_range() -> None:
    store = make(redirect=True)
    data = pattern(300_000)
    digest = push(store, data)
    url = store.redirect_url(digest, expires_in=60)
    assert url is not None and "X-Amz-Signature=" in url
    request = urllib.request.Request(url, headers={"Range": "bytes=1000-1999"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 206
        assert response.read() == data[1000:2000]
    tampered = url.replace(digest.split(":")[1][:8], "00000000")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(tampered, timeout=10)


def test_wrong_secret_is_a_storage_error_that_does_not_leak_it() -> None:
    store = make(secret_access_key="not-the-secret-at-all")
    with pytest.raises(StorageError) as caught:
        store.begin_upload()
    assert "not-the-secret-at-all" not in str(caught.value)
    assert "not-the-secret-at-all" not in repr(store)


def test_a_stray_aws_session_token_in_the_environment_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # obstore reads AWS_* variables; only our settings may decide how we sign.
    monkeypatch.setenv("AWS_SESSION_TOKEN", "stray-token")
    store = make()
    assert store.stat(push(store, b"signed with our keys only")) is not None


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("bucket", "Bad_Bucket"),
        ("prefix", "a/../b"),
        ("prefix", "a b"),
        ("part_size", MIN_PART - 1),
        ("endpoint", "ftp://x"),
        ("secret_access_key", ""),
    ],
)
def test_bad_options_are_config_errors(option: str, value: object) -> None:
    with pytest.raises(ConfigError):
        S3BlobStore(**{**s3_options(), option: value})


def test_settings_build_an_s3_store_with_credentials_from_a_file(tmp_path: Path) -> None:
    options = s3_options()
    creds = tmp_path / "s3.toml"
    creds.write_text(
        f'access_key_id = "{options["access_key_id"]}"\n'
        f'secret_access_key = "{options["secret_access_key"]}"\n'
    )
    env = {
        "CARGOHOLD_STORAGE": "s3",
        "CARGOHOLD_S3_ENDPOINT": str(options["endpoint"]),
        "CARGOHOLD_S3_BUCKET": str(options["bucket"]),
        "CARGOHOLD_S3_PREFIX": str(options["prefix"]),
        "CARGOHOLD_S3_CREDENTIALS_FILE": str(creds),
        "CARGOHOLD_STORAGE_REDIRECT": "true",
    }
    settings = load_settings({"data_dir": str(tmp_path)}, environ=env)
    store = configured_store(settings)
    assert isinstance(store, S3BlobStore)
    assert store.redirect is True
    assert store.stat(push(store, b"hello")) is not None


def test_settings_hide_s3_secrets_and_require_them(tmp_path: Path) -> None:
    env = {
        "CARGOHOLD_STORAGE": "s3",
        "CARGOHOLD_S3_BUCKET": "b-1",
        "CARGOHOLD_S3_ACCESS_KEY_ID": "AKIDSHOULDNOTSHOW",
        "CARGOHOLD_S3_SECRET_ACCESS_KEY": "supersecretvalue",
    }
    settings = load_settings({"data_dir": str(tmp_path)}, environ=env)
    assert "supersecretvalue" not in repr(settings)
    assert "AKIDSHOULDNOTSHOW" not in repr(settings)
    with pytest.raises(ConfigError, match="credentials"):
        load_settings(
            {"data_dir": str(tmp_path)}, environ={**env, "CARGOHOLD_S3_ACCESS_KEY_ID": ""}
        )
    with pytest.raises(ConfigError, match="s3_bucket"):
        load_settings({"data_dir": str(tmp_path)}, environ={**env, "CARGOHOLD_S3_BUCKET": ""})
    bad_file = {"CARGOHOLD_STORAGE": "s3", "CARGOHOLD_S3_BUCKET": "b-1",
                "CARGOHOLD_S3_CREDENTIALS_FILE": str(tmp_path / "missing.toml")}  # fmt: skip
    with pytest.raises(ConfigError, match="s3_credentials_file"):
        configured_store(load_settings({"data_dir": str(tmp_path)}, environ=bad_file))

"""Helpers of the S3 backend: the multipart composer (boto3) and the read-chunk re-cutter.

``MultipartComposer`` is the only user of boto3 in cargohold: obstore 0.12 cannot create a
multipart upload whose id outlives one call, nor copy a part from another object
(``UploadPartCopy``), and committing an upload is exactly that. boto3 is imported on first use.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cargohold.errors import CargoholdError, StorageError
from cargohold.storage.protocol import CHUNK_SIZE

_COPY_THREADS = 4
"""Parts copied at once: the copies run inside the store, the threads only wait for them."""


def describe(exc: BaseException) -> str:
    """A vendor error as one short line (vendor messages hold URLs, never credentials)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"


class MultipartComposer:
    """Builds one object from others with a multipart upload of ``UploadPartCopy`` parts.

    Thread-safe; the boto3 client is made on first use. Credentials stay in the client.
    """

    def __init__(
        self,
        *,
        bucket: str,
        endpoint: str,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        path_style: bool,
    ) -> None:
        self._bucket = bucket
        self._client_options: dict[str, Any] = {
            "endpoint_url": endpoint or None,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
        }
        self._path_style = path_style
        self._lock = threading.Lock()
        self._client: Any = None

    def __repr__(self) -> str:
        return f"MultipartComposer(bucket={self._bucket!r})"

    def compose(self, dest: str, sources: Sequence[str], started: Callable[[str], None]) -> None:
        """Make ``dest`` the concatenation of the objects ``sources`` (each but the last at
        least 5 MiB). ``dest`` appears whole at the end, or not at all.

        ``started(upload_id)`` runs once the multipart upload exists and before any part is
        copied (to record it for cleanup after a crash); what it raises propagates after the
        upload is aborted. S3 errors become ``StorageError``.
        """
        client = self._boto()
        try:
            mpu: str = client.create_multipart_upload(Bucket=self._bucket, Key=dest)["UploadId"]
        except Exception as exc:
            raise StorageError(f"compose {dest}: {describe(exc)}") from exc
        try:
            started(mpu)

            def copy(numbered: tuple[int, str]) -> dict[str, Any]:
                number, source = numbered
                copied = client.upload_part_copy(
                    Bucket=self._bucket,
                    Key=dest,
                    UploadId=mpu,
                    PartNumber=number,
                    CopySource={"Bucket": self._bucket, "Key": source},
                )
                return {"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]}

            with ThreadPoolExecutor(_COPY_THREADS, thread_name_prefix="s3-copy") as pool:
                parts = list(pool.map(copy, enumerate(sources, start=1)))
            client.complete_multipart_upload(
                Bucket=self._bucket, Key=dest, UploadId=mpu, MultipartUpload={"Parts": parts}
            )
        except BaseException as exc:
            self.abort(dest, mpu)
            if isinstance(exc, Exception) and not isinstance(exc, (StorageError, CargoholdError)):
                raise StorageError(f"compose {dest}: {describe(exc)}") from exc
            raise

    def abort(self, dest: str, mpu: str) -> None:
        """Abort the multipart upload ``mpu`` of ``dest``. Best effort: it may have completed
        or gone already, and bucket lifecycle rules clean what remains."""
        with contextlib.suppress(Exception):
            self._boto().abort_multipart_upload(Bucket=self._bucket, Key=dest, UploadId=mpu)

    def _boto(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.session.Session().client(
                    "s3",
                    config=Config(
                        s3={"addressing_style": "path" if self._path_style else "virtual"},
                        retries={"max_attempts": 3, "mode": "standard"},
                        # Newer boto3 adds CRC checksums that S3-compatible stores may refuse.
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required",
                        max_pool_connections=_COPY_THREADS * 2,
                    ),
                    **self._client_options,
                )
            return self._client


class ObjectChunks:
    """Iterator over an object's byte stream, re-cut into chunks of exactly ``CHUNK_SIZE``
    (the last may be shorter), as the protocol's ``open_read`` promises."""

    def __init__(self, stream: Iterator[Any]) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._done = False

    def __iter__(self) -> ObjectChunks:
        return self

    def __next__(self) -> bytes:
        while not self._done and len(self._buffer) < CHUNK_SIZE:
            try:
                piece = next(self._stream)
            except StopIteration:
                self._done = True
                break
            except Exception as exc:
                self.close()
                raise StorageError(f"read blob: {describe(exc)}") from exc
            self._buffer += piece
        if not self._buffer:
            self.close()
            raise StopIteration
        n = min(CHUNK_SIZE, len(self._buffer))
        chunk = bytes(self._buffer[:n])
        del self._buffer[:n]
        return chunk

    def close(self) -> None:
        """Drop the stream (closing its connection). Idempotent."""
        self._done = True
        self._buffer = bytearray()
        self._stream = iter(())

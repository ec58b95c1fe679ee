"""UploadService.append: the body is read while the claim is taken, and nothing is lost or held
when either side fails."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from cargohold.errors import RangeInvalidError, StorageError
from cargohold.oci.digest import Digest
from cargohold.registry.values import Actor, Target, UploadStatus
from cargohold.services import Services, build
from support.registry_app import settings_for

ACTOR = Actor(credential_id="chp_alice1")
TARGET = Target("acme/app")


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    svc = build(settings_for(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}"), audit_writer=False)
    yield svc
    svc.close()


async def _open(svc: Services) -> str:
    status = await svc.uploads.start(TARGET, ACTOR)
    assert isinstance(status, UploadStatus)
    return status.session


async def _body(*pieces: bytes, fail: BaseException | None = None) -> AsyncIterator[bytes]:
    for piece in pieces:
        await asyncio.sleep(0)
        yield piece
    if fail is not None:
        raise fail


async def test_chunks_read_ahead_of_the_claim_are_kept_in_order(services: Services) -> None:
    session = await _open(services)
    pieces = [bytes([n]) * (300_000 + n) for n in range(40)]  # ~12 MiB in uneven pieces
    data = b"".join(pieces)
    status = await services.uploads.append(
        TARGET, ACTOR, session, _body(*pieces), span=(0, len(data) - 1), length=len(data)
    )
    assert status.size == len(data)
    digest = Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())
    blob = await services.uploads.commit(TARGET, ACTOR, session, digest)
    assert blob.size == len(data)


async def test_a_body_that_fails_during_the_claim_gives_the_claim_back(
    services: Services,
) -> None:
    # Without giving it back, the session would stay claimed by a request that is gone, and
    # the client's retry would get 416 until the claim expired.
    session = await _open(services)
    with pytest.raises(ConnectionResetError):
        await services.uploads.append(
            TARGET, ACTOR, session, _body(fail=ConnectionResetError("client gone"))
        )
    status = await services.uploads.append(TARGET, ACTOR, session, _body(b"abc"), length=3)
    assert status.size == 3


async def test_a_refused_claim_writes_nothing_it_read(services: Services) -> None:
    session = await _open(services)
    await services.uploads.append(TARGET, ACTOR, session, _body(b"12345"), length=5)
    with pytest.raises(RangeInvalidError):
        await services.uploads.append(
            TARGET, ACTOR, session, _body(b"x" * 100_000), span=(0, 99_999), length=100_000
        )
    status = await services.uploads.status(TARGET, ACTOR, session)
    assert status.size == 5
    more = await services.uploads.append(TARGET, ACTOR, session, _body(b"678"), span=(5, 7))
    digest = Digest.parse("sha256:" + hashlib.sha256(b"12345678").hexdigest())
    assert more.size == 8
    assert (await services.uploads.commit(TARGET, ACTOR, session, digest)).size == 8


async def test_an_empty_body_appends_nothing(services: Services) -> None:
    session = await _open(services)
    assert (await services.uploads.append(TARGET, ACTOR, session, _body())).size == 0


async def test_a_failed_write_leaves_the_session_as_it_was(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second batch's write fails while the third may already be queued behind it: the
    # third must write nothing, and the stored bytes go back to what the session recorded.
    session = await _open(services)
    await services.uploads.append(TARGET, ACTOR, session, _body(b"abc"), length=3)
    store = services.store
    real, calls = store.write, 0

    def failing(upload_id: str, offset: int, chunks: Iterable[bytes]) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise StorageError("disk full")
        return real(upload_id, offset, chunks)

    monkeypatch.setattr(store, "write", failing)
    big = os.urandom(3 * store.write_size + 5)
    pieces = [big[i : i + 65536] for i in range(0, len(big), 65536)]
    with pytest.raises(StorageError, match="disk full"):
        await services.uploads.append(
            TARGET, ACTOR, session, _body(*pieces), span=(3, 2 + len(big)), length=len(big)
        )
    monkeypatch.undo()
    assert calls >= 2
    assert (await services.uploads.status(TARGET, ACTOR, session)).size == 3
    await services.uploads.append(TARGET, ACTOR, session, _body(b"def"), span=(3, 5))
    digest = Digest.parse("sha256:" + hashlib.sha256(b"abcdef").hexdigest())
    assert (await services.uploads.commit(TARGET, ACTOR, session, digest)).size == 6

"""``DirectAppender``: aligned blocks go O_DIRECT, the rest buffered, the bytes always intact."""

from __future__ import annotations

import errno
import fcntl
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from cargohold.storage import _direct
from cargohold.storage._direct import ALIGN, STAGE, DirectAppender


def _pieces(data: bytes, seed: int) -> list[bytes]:
    """``data`` cut at random places, as a socket delivers it."""
    rng = random.Random(seed)
    out, at = [], 0
    while at < len(data):
        step = rng.choice([1, 7, ALIGN - 1, ALIGN, ALIGN + 1, 65536, 262_144, 3 * STAGE // 2])
        out.append(data[at : at + step])
        at += step
    return out


def _append(path: Path, appender: DirectAppender, pieces: list[bytes]) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        return appender.append(fd, os.fstat(fd).st_size, pieces)
    finally:
        os.close(fd)


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("prefix", [0, 1, ALIGN - 1, ALIGN, STAGE + 5])
@pytest.mark.parametrize("seed", [1, 2])
def test_bytes_arrive_intact_from_any_offset(
    tmp_path: Path, enabled: bool, prefix: int, seed: int
) -> None:
    path = tmp_path / "upload"
    head = os.urandom(prefix)
    path.write_bytes(head)
    body = os.urandom(2 * STAGE + 12_345)
    appender = DirectAppender(enabled)
    assert _append(path, appender, _pieces(body, seed)) == prefix + len(body)
    assert path.read_bytes() == head + body
    assert appender.enabled is enabled


def test_appends_continue_each_other(tmp_path: Path) -> None:
    path, appender, expected = tmp_path / "upload", DirectAppender(), b""
    for size in (10, ALIGN * 3, STAGE - 3, 1, STAGE * 2 + ALIGN + 9):
        chunk = os.urandom(size)
        expected += chunk
        assert _append(path, appender, [chunk]) == len(expected)
    assert path.read_bytes() == expected


def test_direct_writes_leave_o_direct_off(tmp_path: Path) -> None:
    """Later buffered writes on the same descriptor (and the commit) see a plain fd."""
    fd = os.open(tmp_path / "upload", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        DirectAppender().append(fd, 0, [os.urandom(STAGE + ALIGN)])
        assert not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
    finally:
        os.close(fd)


class Gone(Exception):
    pass


def test_source_error_keeps_every_byte_taken(tmp_path: Path) -> None:
    """The protocol's promise: what was consumed before the source failed stays written."""
    taken = [os.urandom(STAGE - 100), os.urandom(ALIGN + 3), os.urandom(77)]

    def source() -> Iterator[bytes]:
        yield from taken
        raise Gone

    path = tmp_path / "upload"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        with pytest.raises(Gone):
            DirectAppender().append(fd, 0, source())
    finally:
        os.close(fd)
    assert path.read_bytes() == b"".join(taken)


def test_filesystem_refusing_the_flag_falls_back_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where F_SETFL refuses O_DIRECT, the bytes go buffered and direct writes stop."""
    real = fcntl.fcntl

    def refuse(fd: int, cmd: int, arg: int = 0) -> int:
        if cmd == fcntl.F_SETFL and arg & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, cmd, arg)

    monkeypatch.setattr(_direct.fcntl, "fcntl", refuse)
    body = os.urandom(STAGE + ALIGN * 2 + 5)
    appender = DirectAppender()
    assert _append(tmp_path / "upload", appender, [body]) == len(body)
    assert (tmp_path / "upload").read_bytes() == body
    assert appender.enabled is False


def test_filesystem_refusing_the_io_falls_back_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filesystem that takes the flag but fails the write with EINVAL wrote nothing: the
    same bytes go buffered once, and direct writes stop."""
    real_write = os.write

    def picky(fd: int, data: memoryview) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(_direct.os, "write", picky)
    body = os.urandom(2 * STAGE + 1)
    appender = DirectAppender()
    assert _append(tmp_path / "upload", appender, _pieces(body, 3)) == len(body)
    assert (tmp_path / "upload").read_bytes() == body
    assert appender.enabled is False


def test_other_write_errors_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_direct.os, "write", full)
    with pytest.raises(OSError) as caught:
        _append(tmp_path / "upload", DirectAppender(), [os.urandom(STAGE)])
    assert caught.value.errno == errno.ENOSPC


def test_each_thread_stages_in_its_own_buffer(tmp_path: Path) -> None:
    """Threads writing different uploads at once never mix their bytes."""
    from concurrent.futures import ThreadPoolExecutor

    appender = DirectAppender()
    bodies = [os.urandom(STAGE + i * 1000 + 1) for i in range(4)]

    def run(i: int) -> int:
        return _append(tmp_path / f"u{i}", appender, _pieces(bodies[i], i))

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(run, range(4))) == [len(b) for b in bodies]
    for i, body in enumerate(bodies):
        assert (tmp_path / f"u{i}").read_bytes() == body


def test_every_buffer_type_is_staged_intact(tmp_path: Path) -> None:
    # bytes are copied into the stage by ctypes.memmove (without the GIL), anything else by a
    # slice assignment: both must land at the same place.
    body = os.urandom(STAGE + 3 * ALIGN + 7)
    pieces: list[bytes] = [
        body[:100],
        bytearray(body[100 : 2 * ALIGN]),  # type: ignore[list-item]
        memoryview(body)[2 * ALIGN : STAGE - 5],  # type: ignore[list-item]
        body[STAGE - 5 :],
    ]
    path = tmp_path / "upload"
    assert _append(path, DirectAppender(), pieces) == len(body)
    assert path.read_bytes() == body


def test_a_stage_copy_never_leaves_its_buffer() -> None:
    stage = _direct._Stage()
    stage.copy(STAGE - 2, b"xab", 1, memoryview(b"xab")[1:])
    assert stage.buffer[STAGE - 2 :] == b"ab"
    with pytest.raises(ValueError, match="out of range"):
        stage.copy(STAGE - 1, b"ab", 0, memoryview(b"ab"))
    with pytest.raises(ValueError, match="out of range"):
        stage.copy(-1, b"ab", 0, memoryview(b"ab"))

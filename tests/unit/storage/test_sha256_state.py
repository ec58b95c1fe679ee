"""The resumable SHA-256: equal to hashlib across save/resume, and a saved state is checked
against the byte count before OpenSSL sees it."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cargohold.storage._sha256_state import CTX_SIZE, ResumableSha256, available

pytestmark = pytest.mark.skipif(not available(), reason="needs libcrypto")


@given(pieces=st.lists(st.binary(max_size=300), max_size=8))
def test_save_and_resume_equals_hashlib(pieces: list[bytes]) -> None:
    hasher = ResumableSha256()
    size = 0
    for piece in pieces:
        hasher = ResumableSha256(hasher.save(), size)  # a new process at every piece
        hasher.update(memoryview(piece))
        size += len(piece)
    assert hasher.hexdigest() == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert hasher.hexdigest() == hasher.hexdigest()  # reading the digest does not finish it


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1],
        lambda raw: raw + b"\0",
        lambda raw: raw[:104] + (64).to_bytes(4, "little") + raw[108:],  # num outside the block
        lambda raw: raw[:108] + (64).to_bytes(4, "little"),  # md_len
        lambda raw: raw[:32] + (8 * 99).to_bytes(4, "little") + raw[36:],  # bit count
    ],
)
def test_states_that_do_not_fit_the_byte_count_are_refused(mangle: object) -> None:
    hasher = ResumableSha256()
    hasher.update(b"x" * 100)
    raw = hasher.save()
    assert len(raw) == CTX_SIZE
    ResumableSha256(raw, 100)
    with pytest.raises(ValueError):
        ResumableSha256(mangle(raw), 100)  # type: ignore[operator]
    with pytest.raises(ValueError):
        ResumableSha256(raw, 101)

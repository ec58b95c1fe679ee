"""SHA-256 whose running state can be saved, and resumed by another process.

hashlib cannot export its state, so an upload continued by another replica would have to be
re-read in full before its commit. This drives OpenSSL's ``SHA256_Init/Update/Final`` (the
libcrypto that CPython's hashlib uses too, at the same speed) through ctypes, and saves the
112-byte ``SHA256_CTX`` (little-endian x86-64/arm64 layout: ``h[8], Nl, Nh, data[16], num,
md_len``).

A saved state is input read back from the bucket, so it is checked before OpenSSL sees it: its
bit count must equal the bytes the upload holds, its block offset ``num`` must lie inside the
64-byte block (a forged one would make OpenSSL write out of bounds) and ``md_len`` must be 32.
Where libcrypto cannot be loaded, ``available()`` is False and callers re-read the bytes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
from functools import lru_cache
from typing import Any

CTX_SIZE = 112
_BLOCK = 64


@lru_cache(maxsize=1)
def _lib() -> Any:
    try:
        name = ctypes.util.find_library("crypto")
        if name is None:
            return None
        lib = ctypes.CDLL(name)  # CDLL releases the GIL during calls
        lib.SHA256_Init.argtypes = [ctypes.c_void_p]
        lib.SHA256_Update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        for fn in (lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final):
            fn.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return lib


def available() -> bool:
    """Whether resumable hashing works on this machine."""
    return _lib() is not None


class ResumableSha256:
    """A SHA-256 of ``size`` bytes so far. Not thread-safe; one per write."""

    def __init__(self, saved: bytes | None = None, size: int = 0) -> None:
        """A fresh hash, or the ``saved`` state of one that has consumed ``size`` bytes.

        Raises ``ValueError`` if libcrypto is missing or ``saved`` is not such a state.
        """
        lib = _lib()
        if lib is None:
            raise ValueError("libcrypto is not available")
        self._lib = lib
        if saved is None:
            self._ctx = ctypes.create_string_buffer(CTX_SIZE)
            if lib.SHA256_Init(self._ctx) != 1:
                raise ValueError("SHA256_Init failed")
            return
        if len(saved) != CTX_SIZE:
            raise ValueError("wrong state length")
        nl, nh = struct.unpack_from("<2I", saved, 32)
        num, md_len = struct.unpack_from("<2I", saved, 104)
        if (nh << 32 | nl) != size * 8 or num != size % _BLOCK or md_len != 32:
            raise ValueError("state does not describe this many bytes")
        self._ctx = ctypes.create_string_buffer(saved, CTX_SIZE)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        chunk = data if isinstance(data, bytes) else bytes(data)
        if self._lib.SHA256_Update(self._ctx, chunk, len(chunk)) != 1:
            raise ValueError("SHA256_Update failed")

    def save(self) -> bytes:
        """The state, to resume with ``ResumableSha256(saved, size)``."""
        return self._ctx.raw

    def hexdigest(self) -> str:
        """The digest of the bytes so far (the hash itself can go on)."""
        copy = ctypes.create_string_buffer(self._ctx.raw, CTX_SIZE)
        out = ctypes.create_string_buffer(32)
        if self._lib.SHA256_Final(out, copy) != 1:
            raise ValueError("SHA256_Final failed")
        return out.raw.hex()

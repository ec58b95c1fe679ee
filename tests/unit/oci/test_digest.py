from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cargohold.errors import DigestInvalidError
from cargohold.oci.digest import ALGORITHMS, Digest, new_hasher

SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA512_EMPTY = hashlib.sha512(b"").hexdigest()


def test_algorithms_table() -> None:
    assert dict(ALGORITHMS) == {"sha256": 64, "sha512": 128}


@pytest.mark.parametrize(
    ("text", "algorithm", "hex_"),
    [
        (f"sha256:{SHA256_EMPTY}", "sha256", SHA256_EMPTY),
        (f"sha512:{SHA512_EMPTY}", "sha512", SHA512_EMPTY),
        ("sha256:" + "0" * 64, "sha256", "0" * 64),
        ("sha512:" + "f" * 128, "sha512", "f" * 128),
    ],
)
def test_parse_valid(text: str, algorithm: str, hex_: str) -> None:
    digest = Digest.parse(text)
    assert (digest.algorithm, digest.hex) == (algorithm, hex_)
    assert str(digest) == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected 'algorithm:hex'"),
        (SHA256_EMPTY, "expected 'algorithm:hex'"),
        ("sha256", "expected 'algorithm:hex'"),
        ("sha256:", "64 lower-case hex"),
        ("sha256:" + SHA256_EMPTY.upper(), "64 lower-case hex"),
        ("sha256:" + SHA256_EMPTY[:-1], "64 lower-case hex"),
        ("sha256:" + SHA256_EMPTY + "0", "64 lower-case hex"),
        ("sha256:" + "g" * 64, "64 lower-case hex"),
        ("sha256:" + " " + SHA256_EMPTY[1:], "64 lower-case hex"),
        ("sha256:" + SHA256_EMPTY + "\n", "64 lower-case hex"),
        ("sha256:" + "0" * 128, "64 lower-case hex"),
        ("sha512:" + SHA256_EMPTY, "128 lower-case hex"),
        ("sha256:sha256:" + SHA256_EMPTY, "64 lower-case hex"),
        ("SHA256:" + SHA256_EMPTY, "malformed algorithm"),
        (":" + SHA256_EMPTY, "malformed algorithm"),
        ("sha-:" + SHA256_EMPTY, "malformed algorithm"),
        ("md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm 'md5'"),
        ("sha384:" + "0" * 96, "unsupported digest algorithm 'sha384'"),
        ("blake3:" + "0" * 64, "unsupported digest algorithm"),
        ("sha256+b64u:" + "0" * 64, "unsupported digest algorithm"),
    ],
)
def test_parse_invalid(text: str, fragment: str) -> None:
    with pytest.raises(DigestInvalidError) as info:
        Digest.parse(text)
    assert fragment in info.value.message
    assert info.value.status == 400
    assert info.value.code == "DIGEST_INVALID"


def test_parse_non_string() -> None:
    with pytest.raises(DigestInvalidError, match="expected a string"):
        Digest.parse(123)  # type: ignore[arg-type]


def test_error_message_truncates_huge_input() -> None:
    with pytest.raises(DigestInvalidError) as info:
        Digest.parse("x" * 100_000)
    assert len(info.value.message) < 400


def test_constructor_validates() -> None:
    with pytest.raises(DigestInvalidError):
        Digest("sha256", "abc")
    with pytest.raises(DigestInvalidError, match="unsupported"):
        Digest("md5", "0" * 32)


@pytest.mark.parametrize(
    ("data", "algorithm", "expected"),
    [
        (b"", "sha256", SHA256_EMPTY),
        (b"", "sha512", SHA512_EMPTY),
        (b"hello", "sha256", hashlib.sha256(b"hello").hexdigest()),
        (b"hello", "sha512", hashlib.sha512(b"hello").hexdigest()),
    ],
)
def test_of(data: bytes, algorithm: str, expected: str) -> None:
    assert Digest.of(data, algorithm) == Digest(algorithm, expected)


def test_of_defaults_to_sha256() -> None:
    assert Digest.of(b"").algorithm == "sha256"


def test_of_unsupported() -> None:
    with pytest.raises(DigestInvalidError, match="unsupported"):
        Digest.of(b"", "md5")


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_hasher_is_fresh_and_matches(algorithm: str) -> None:
    digest = Digest.of(b"abc", algorithm)
    first = digest.hasher()
    first.update(b"abc")
    assert first.hexdigest() == digest.hex
    assert digest.hasher().hexdigest() == Digest.of(b"", algorithm).hex
    assert Digest.from_hasher(first) == digest


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_new_hasher(algorithm: str) -> None:
    hasher = new_hasher(algorithm)
    hasher.update(b"x")
    assert hasher.hexdigest() == hashlib.new(algorithm, b"x").hexdigest()


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "SHA256", ""])
def test_new_hasher_unsupported(algorithm: str) -> None:
    with pytest.raises(DigestInvalidError, match="unsupported"):
        new_hasher(algorithm)


def test_frozen_hashable_and_equal() -> None:
    a = Digest.parse(f"sha256:{SHA256_EMPTY}")
    b = Digest.of(b"")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.hex = "0" * 64  # type: ignore[misc]


@given(st.binary(), st.sampled_from(sorted(ALGORITHMS)))
def test_round_trip(data: bytes, algorithm: str) -> None:
    digest = Digest.of(data, algorithm)
    assert Digest.parse(str(digest)) == digest
    assert len(digest.hex) == ALGORITHMS[algorithm]


@given(st.text(max_size=200))
def test_parse_accepts_only_canonical(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except DigestInvalidError:
        return
    assert str(digest) == text

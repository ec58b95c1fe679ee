from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cargohold.errors import DigestInvalidError, NameInvalidError, TagInvalidError
from cargohold.oci.digest import Digest
from cargohold.oci.names import (
    MAX_NAME_LENGTH,
    NAME_RE,
    TAG_RE,
    parse_reference,
    split_owner,
    validate_name,
    validate_tag,
)

SPEC_NAME_RE = re.compile(
    r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*"
)


@pytest.mark.parametrize(
    "name",
    [
        "a/b",
        "acme/app",
        "acme/tools/cli",
        "a0/b1/c2/d3",
        "my.org/my.app",
        "my_org/my_app",
        "my__org/my__app",
        "my-org/my---app",
        "a.b_c__d-e--f/g",
        "0/0",
        "owner/blobs/manifests",
        "x/" + "a" * (MAX_NAME_LENGTH - 2),
    ],
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "empty"),
        ("Acme/app", "lower case"),
        ("acme/App", "lower case"),
        ("acme/../etc", "path traversal"),
        ("../acme/app", "path traversal"),
        ("acme/a..b", "path traversal"),
        ("/acme/app", "empty path component"),
        ("acme/app/", "empty path component"),
        ("acme//app", "empty path component"),
        ("/", "empty path component"),
        ("app", "no owner segment"),
        ("a" * 10, "no owner segment"),
        ("x/" + "a" * (MAX_NAME_LENGTH - 1), "maximum is 255"),
        ("acme/ap p", "character ' ' is not allowed"),
        ("acme/app:tag", "character ':' is not allowed"),
        ("acme/app@x", "character '@' is not allowed"),
        ("acme/caf\u00e9", "is not allowed"),
        ("acme/app\n", "is not allowed"),
        ("acme/.app", "must start and end"),
        ("acme/app.", "must start and end"),
        ("acme/-app", "must start and end"),
        ("acme/app-", "must start and end"),
        ("acme/_app", "must start and end"),
        ("acme/a___b", "must start and end"),
        ("acme/a._b", "must start and end"),
        ("acme/.", "must start and end"),
    ],
)
def test_invalid_names(name: str, fragment: str) -> None:
    with pytest.raises(NameInvalidError) as info:
        validate_name(name)
    assert fragment in info.value.message
    assert info.value.code == "NAME_INVALID"
    assert info.value.status == 400


def test_name_length_boundary() -> None:
    name = "x/" + "a" * (MAX_NAME_LENGTH - 2)
    assert len(name) == MAX_NAME_LENGTH
    assert validate_name(name) == name
    with pytest.raises(NameInvalidError, match="256 characters"):
        validate_name(name + "a")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("acme/app", ("acme", "app")),
        ("acme/tools/cli", ("acme", "tools/cli")),
        ("a/b/c/d", ("a", "b/c/d")),
    ],
)
def test_split_owner(name: str, expected: tuple[str, str]) -> None:
    assert split_owner(name) == expected


@pytest.mark.parametrize("name", ["app", "Acme/app", "acme/"])
def test_split_owner_validates(name: str) -> None:
    with pytest.raises(NameInvalidError):
        split_owner(name)


@pytest.mark.parametrize(
    "tag",
    ["latest", "v1.2.3", "1", "_", "_private", "A", "a-b_c.d", "x" * 128, "0" + "." * 127],
)
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag
    assert TAG_RE.match(tag)


@pytest.mark.parametrize(
    ("tag", "fragment"),
    [
        ("", "empty"),
        ("x" * 129, "maximum is 128"),
        (".hidden", "must start with"),
        ("-dash", "must start with"),
        ("a:b", "character ':' is not allowed"),
        ("a/b", "character '/' is not allowed"),
        ("a b", "character ' ' is not allowed"),
        ("latest\n", "is not allowed"),
        ("v\u00e9", "is not allowed"),
    ],
)
def test_invalid_tags(tag: str, fragment: str) -> None:
    with pytest.raises(TagInvalidError) as info:
        validate_tag(tag)
    assert fragment in info.value.message
    assert not TAG_RE.match(tag)


def test_parse_reference_digest() -> None:
    digest = Digest.of(b"x")
    assert parse_reference(str(digest)) == digest


def test_parse_reference_tag() -> None:
    assert parse_reference("latest") == "latest"


@pytest.mark.parametrize("ref", ["sha256:abc", "md5:" + "0" * 32, "latest:x", ":"])
def test_parse_reference_bad_digest(ref: str) -> None:
    with pytest.raises(DigestInvalidError):
        parse_reference(ref)


@pytest.mark.parametrize("ref", ["", ".x", "a/b", "x" * 200])
def test_parse_reference_bad_tag(ref: str) -> None:
    with pytest.raises(TagInvalidError):
        parse_reference(ref)


_component = st.from_regex(r"\A[a-z0-9]{1,4}(?:(?:\.|_|__|-{1,3})[a-z0-9]{1,4}){0,2}\Z")


@given(st.lists(_component, min_size=2, max_size=4))
def test_generated_names_are_valid(components: list[str]) -> None:
    name = "/".join(components)
    assert validate_name(name) == name
    owner, rest = split_owner(name)
    assert f"{owner}/{rest}" == name


@given(st.text(alphabet="ab0._-/A:", max_size=30))
def test_validate_name_agrees_with_spec_grammar(name: str) -> None:
    spec_ok = bool(SPEC_NAME_RE.fullmatch(name)) and "/" in name
    try:
        validate_name(name)
    except NameInvalidError:
        assert not spec_ok
    else:
        assert spec_ok
        assert NAME_RE.match(name)


@given(st.text(alphabet="aZ0_.-:/ ", max_size=140))
def test_validate_tag_agrees_with_spec_grammar(tag: str) -> None:
    spec_ok = bool(re.fullmatch(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", tag))
    try:
        validate_tag(tag)
    except TagInvalidError:
        assert not spec_ok
    else:
        assert spec_ok

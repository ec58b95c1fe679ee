from __future__ import annotations

import pytest

from cargohold.errors import PaginationInvalidError
from cargohold.oci.pagination import next_link, parse_n


@pytest.mark.parametrize(
    ("value", "maximum", "expected"),
    [
        (None, 10000, None),
        ("0", 10000, 0),
        ("1", 10000, 1),
        ("100", 10000, 100),
        ("007", 10000, 7),
        ("10000", 10000, 10000),
        ("10001", 10000, 10000),
        ("99999999999999999999999999999999", 10000, 10000),
        ("9" * 5000, 10000, 10000),
        ("50", 10, 10),
        ("5", 10, 5),
    ],
)
def test_parse_n(value: str | None, maximum: int, expected: int | None) -> None:
    assert parse_n(value, maximum=maximum) == expected


def test_parse_n_default_maximum() -> None:
    assert parse_n("123456") == 10000


@pytest.mark.parametrize("value", ["", "-1", "+1", " 1", "1 ", "1.0", "abc", "0x10", "\u0663"])
def test_parse_n_invalid(value: str) -> None:
    with pytest.raises(PaginationInvalidError) as info:
        parse_n(value)
    assert info.value.code == "PAGINATION_NUMBER_INVALID"
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("path", "n", "last", "extra", "expected"),
    [
        ("/v2/_catalog", 2, "acme/app", None, '</v2/_catalog?n=2&last=acme%2Fapp>; rel="next"'),
        ("/v2/a/b/tags/list", 10, "v1.0", None, '</v2/a/b/tags/list?n=10&last=v1.0>; rel="next"'),
        (
            "/v2/a/b/tags/list",
            1,
            "a b&c=d",
            None,
            '</v2/a/b/tags/list?n=1&last=a%20b%26c%3Dd>; rel="next"',
        ),
        (
            "/v2/a/b/referrers/sha256:00",
            5,
            "x",
            {"artifactType": "application/vnd.x+json"},
            "</v2/a/b/referrers/sha256:00?n=5&last=x"
            '&artifactType=application%2Fvnd.x%2Bjson>; rel="next"',
        ),
        ("/v2/_catalog", 1, "z", {"n": "99", "last": "q"}, '</v2/_catalog?n=1&last=z>; rel="next"'),
        ("/v2/a b/tags/list", 1, "z", {}, '</v2/a%20b/tags/list?n=1&last=z>; rel="next"'),
        ("/v2/x/tags/list", 1, "z>", {}, '</v2/x/tags/list?n=1&last=z%3E>; rel="next"'),
    ],
)
def test_next_link(
    path: str, n: int, last: str, extra: dict[str, str] | None, expected: str
) -> None:
    assert next_link(path, n, last, extra) == expected

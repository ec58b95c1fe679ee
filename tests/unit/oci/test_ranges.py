from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cargohold.errors import RangeInvalidError
from cargohold.oci.ranges import parse_content_range, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-0", 100, (0, 0)),
        ("bytes=0-99", 100, (0, 99)),
        ("bytes=10-19", 100, (10, 19)),
        ("bytes=10-1000", 100, (10, 99)),
        ("bytes=10-", 100, (10, 99)),
        ("bytes=99-", 100, (99, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=-100", 100, (0, 99)),
        ("bytes=-1000", 100, (0, 99)),
        ("bytes=0-" + "9" * 30, 100, (0, 99)),
        ("bytes=-" + "9" * 30, 100, (0, 99)),
        ("BYTES=1-2", 100, (1, 2)),
        (" bytes = 1-2 ", 100, (1, 2)),
        ("bytes=1-2,", 100, (1, 2)),
        # ignored: serve the whole blob
        ("", 100, None),
        ("bytes", 100, None),
        ("bytes=", 100, None),
        ("bytes=-", 100, None),
        ("bytes=abc", 100, None),
        ("bytes=1-a", 100, None),
        ("bytes=+1-2", 100, None),
        ("bytes=1 - 2", 100, None),
        ("bytes=5-3", 100, None),
        ("items=0-1", 100, None),
        ("0-1", 100, None),
        ("bytes=0-1,5-6", 100, None),
        ("bytes=0-1, -5", 100, None),
        ("bytes=5-3", 0, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=100-", 100),
        ("bytes=100-200", 100),
        ("bytes=1000-", 100),
        ("bytes=-0", 100),
        ("bytes=0-", 0),
        ("bytes=0-0", 0),
        ("bytes=-5", 0),
        ("bytes=" + "9" * 30 + "-", 100),
    ],
)
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeInvalidError) as info:
        parse_range(header, size)
    assert info.value.status == 416
    assert info.value.code == "RANGE_INVALID"
    assert info.value.headers == {"Content-Range": f"bytes */{size}"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0-0", (0, 0)),
        ("0-99", (0, 99)),
        ("100-199", (100, 199)),
        (" 5-6 ", (5, 6)),
        ("bytes 0-99", (0, 99)),
        ("Bytes 0-99", (0, 99)),
        ("bytes 0-99/*", (0, 99)),
        ("bytes 0-99/100", (0, 99)),
        ("bytes 0-99/1000", (0, 99)),
        ("0-99/100", (0, 99)),
    ],
)
def test_parse_content_range(header: str, expected: tuple[int, int]) -> None:
    assert parse_content_range(header) == expected


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("", "malformed"),
        ("bytes=0-99", "malformed"),
        ("0-", "malformed"),
        ("-99", "malformed"),
        ("a-b", "malformed"),
        ("0 - 99", "malformed"),
        ("bytes 0-99/", "malformed"),
        ("bytes 0-99/x", "malformed"),
        ("bytes */100", "malformed"),
        ("0-1,2-3", "malformed"),
        ("10-9", "ends before it starts"),
        ("bytes 0-99/99", "past its total"),
        ("bytes 0-99/50", "past its total"),
    ],
)
def test_parse_content_range_invalid(header: str, fragment: str) -> None:
    with pytest.raises(RangeInvalidError) as info:
        parse_content_range(header)
    assert fragment in info.value.message
    assert info.value.status == 416


def test_parse_content_range_rejects_absurd_numbers() -> None:
    with pytest.raises(RangeInvalidError, match="malformed"):
        parse_content_range("0-" + "9" * 5000)


@given(st.text(max_size=40), st.integers(min_value=0, max_value=2**40))
def test_parse_range_total(header: str, size: int) -> None:
    try:
        result = parse_range(header, size)
    except RangeInvalidError as exc:
        assert exc.headers == {"Content-Range": f"bytes */{size}"}
        return
    if result is not None:
        start, end = result
        assert 0 <= start <= end < size


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(1, 10_000))
def test_parse_range_explicit(first: int, last: int, size: int) -> None:
    header = f"bytes={first}-{last}"
    if last < first:
        assert parse_range(header, size) is None
    elif first >= size:
        with pytest.raises(RangeInvalidError):
            parse_range(header, size)
    else:
        assert parse_range(header, size) == (first, min(last, size - 1))


@given(st.text(max_size=40))
def test_parse_content_range_total(header: str) -> None:
    try:
        start, end = parse_content_range(header)
    except RangeInvalidError:
        return
    assert 0 <= start <= end

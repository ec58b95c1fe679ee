"""Durations given on the command line (token lifetimes, job-token TTLs, upload sweeps)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cargohold.cli.manage import parse_duration
from cargohold.errors import InvalidRequestError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3600", timedelta(hours=1)),
        ("1", timedelta(seconds=1)),
        ("45s", timedelta(seconds=45)),
        ("90m", timedelta(minutes=90)),
        ("1h", timedelta(hours=1)),
        ("30d", timedelta(days=30)),
        (" 2h ", timedelta(hours=2)),  # stray blanks from a shell variable
    ],
)
def test_good_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0", "0s", "0m", "0h", "0d", "00"])
def test_zero_is_an_error(text: str) -> None:
    # A token that expires at once (or, worse, is read as "never") is a mistake: finding 10.
    with pytest.raises(InvalidRequestError, match="longer than 0"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["-1", "-1h", "-30d", "- 5"])
def test_negative_is_an_error(text: str) -> None:
    with pytest.raises(InvalidRequestError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text",
    ["", " ", "h", "1w", "1.5h", "1h30m", "1 h", "1H", "ten", "1e3", "0x10", "1d\n1d"],
)
def test_garbage_is_an_error_naming_the_input(text: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value)
    assert caught.value.status == 400


@pytest.mark.parametrize("text", ["\uff11h", "\u0663\u0660d"])
def test_non_ascii_digits_are_garbage(text: str) -> None:
    with pytest.raises(InvalidRequestError):
        parse_duration(text)

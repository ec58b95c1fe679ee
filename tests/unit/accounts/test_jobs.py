"""Job-token permissions follow GitHub's ``permissions:`` rules (spec section 7)."""

from __future__ import annotations

import pytest

from cargohold.accounts.jobs import resolve_permissions


@pytest.mark.parametrize(
    ("listed", "default", "fork", "expected"),
    [
        # A job that lists any permission gets none for every unlisted one.
        (
            {"packages": "write"},
            "permissive",
            False,
            {"packages": "write", "contents": "none", "metadata": "none"},
        ),
        (
            {"contents": "read"},
            "permissive",
            False,
            {"packages": "none", "contents": "read", "metadata": "none"},
        ),
        # Without a block, the owner's default applies.
        (None, "restricted", False, {"packages": "read", "contents": "read", "metadata": "read"}),
        (None, "permissive", False, {"packages": "write", "contents": "write", "metadata": "read"}),
        # An empty block is a block: every permission none (security finding 3).
        ({}, "permissive", False, {"packages": "none", "contents": "none", "metadata": "none"}),
        # Pull requests from forks get at most read.
        (None, "permissive", True, {"packages": "read", "contents": "read", "metadata": "read"}),
        (
            {"packages": "write"},
            "restricted",
            True,
            {"packages": "read", "contents": "none", "metadata": "none"},
        ),
        (
            {"packages": "none"},
            "permissive",
            True,
            {"packages": "none", "contents": "none", "metadata": "none"},
        ),
    ],
)
def test_resolve_permissions(
    listed: dict[str, str] | None, default: str, fork: bool, expected: dict[str, str]
) -> None:
    assert resolve_permissions(listed, default, fork=fork) == expected

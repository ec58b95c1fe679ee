"""Job token permissions as GitHub computes them: a table of (workflow, job, default, fork)."""

from __future__ import annotations

from typing import Any

import pytest

from cargohold.workflow import permissions as p

RESTRICTED = {"contents": "read", "packages": "read", "metadata": "read"}


def granted(perms: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in perms.items() if v != "none"}


CASES: list[tuple[str, Any, Any, str, bool, dict[str, str]]] = [
    ("no block, restricted owner", None, None, "restricted", False, RESTRICTED),
    (
        "no block, permissive owner: all write but metadata read, models read, no id-token",
        None,
        None,
        "permissive",
        False,
        {
            **{s: "write" for s in p.SCOPES if s not in ("metadata", "id-token", "models")},
            "metadata": "read",
            "models": "read",
        },
    ),
    (
        "the seed's job block: the rest is none",
        None,
        {"contents": "read", "packages": "write"},
        "restricted",
        False,
        {"contents": "read", "packages": "write", "metadata": "read"},
    ),
    (
        "job block replaces the workflow block (no merge)",
        {"packages": "write", "issues": "write"},
        {"contents": "read"},
        "permissive",
        False,
        {"contents": "read", "metadata": "read"},
    ),
    (
        "workflow block applies to a job without one",
        {"packages": "write"},
        None,
        "restricted",
        False,
        {"packages": "write", "metadata": "read"},
    ),
    ("{} means none (metadata stays read)", {}, None, "permissive", False, {"metadata": "read"}),
    (
        "job {} over a permissive workflow",
        "write-all",
        {},
        "permissive",
        False,
        {"metadata": "read"},
    ),
    (
        "contents: write only: packages none",
        None,
        {"contents": "write"},
        "permissive",
        False,
        {"contents": "write", "metadata": "read"},
    ),
    (
        "read-all: id-token cannot be read, so none",
        "read-all",
        None,
        "restricted",
        False,
        {s: "read" for s in p.SCOPES if s != "id-token"},
    ),
    (
        "write-all: models caps at read",
        None,
        "write-all",
        "restricted",
        False,
        {**{s: "write" for s in p.SCOPES}, "metadata": "read", "models": "read"},
    ),
    (
        "fork PR: write becomes read, id-token none",
        None,
        {"packages": "write", "id-token": "write", "contents": "read"},
        "restricted",
        True,
        {"packages": "read", "contents": "read", "metadata": "read"},
    ),
    (
        "fork PR with a permissive default: everything at most read",
        None,
        None,
        "permissive",
        True,
        {s: "read" for s in p.SCOPES if s != "id-token"},
    ),
]


@pytest.mark.parametrize(
    ("workflow", "job", "default", "fork", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_effective(
    workflow: Any, job: Any, default: str, fork: bool, expected: dict[str, str]
) -> None:
    perms = p.effective(workflow, job, default, fork=fork)
    assert set(perms) == set(p.SCOPES)
    assert granted(perms) == expected


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("read", "is not allowed: use read-all, write-all"),
        ({"packages": "admin"}, "packages: 'admin' is not allowed"),
        ({"package": "write"}, "unknown permission scope 'package'"),
        ({"id-token": "read"}, "id-token: 'read' is not allowed"),
        (["packages"], "must be read-all, write-all or a mapping"),
    ],
)
def test_bad_blocks_say_what_is_allowed(block: Any, message: str) -> None:
    with pytest.raises(p.PermissionsError, match=message.replace("(", r"\(")):
        p.effective(None, block, "restricted")


def test_display_lines_as_github_prints_them() -> None:
    perms = p.effective(
        None, {"contents": "read", "packages": "write", "pull-requests": "read"}, "restricted"
    )
    assert p.display_lines(perms) == [
        "Contents: read",
        "Metadata: read",
        "Packages: write",
        "PullRequests: read",
    ]


def test_for_registry_is_always_explicit() -> None:
    # The server treats an empty or absent map as "use the owner's default": the runner must
    # send every scope it knows, none included, so `permissions: {}` stays none.
    assert p.for_registry(p.effective({}, None, "permissive")) == {
        "packages": "none",
        "contents": "none",
        "metadata": "read",
    }


def test_owner_default_is_read_back_from_the_minted_token() -> None:
    assert p.owner_default_from({"packages": "write"}) == "permissive"
    assert p.owner_default_from({"packages": "read"}) == "restricted"

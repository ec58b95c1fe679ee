"""The state loader feeds the pure decision: every source of a role, on SQLite and PostgreSQL.

``test_decide`` proves the decision right for given ``PackageState`` values; nothing proved the
values right. Here one world is built through the same CLI-level functions and domain services
an operator uses (no SQL), and ``cargohold why`` (``cli.manage.why``: load the principal, load
the package state, ``effective_role``) must give each subject the *exact* role and the exact
kinds of source. So a loader that, say, maps every inherited collaborator role to ``read``, drops
team collaborators, forgets the linked repository's own jobs, or keeps a deleted repository's
grants, fails a row here.

Each subject holds one source only (unless a row says otherwise), so the role it gets names the
source that gave it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cargohold.accounts import service
from cargohold.authz.model import AccountKind
from cargohold.cli import manage
from cargohold.registry import packages
from cargohold.services import Services, build
from support.db import reset_postgres
from support.registry_app import settings_for

REPO_ROLE_MAP = {
    "read": "read",
    "triage": "read",
    "write": "write",
    "maintain": "write",
    "admin": "admin",
}
PACKAGE_ROLES = ("read", "write", "admin")


async def _package(svc: Services, name: str, **kw: Any) -> None:
    """Create a package as a first push would (owner, publisher), nothing else."""
    await svc.db.write(lambda c: packages.create(c, name, **kw))


async def _in(svc: Services, fn: Any) -> Any:
    """Run ``fn(conn)`` in one write transaction of the world's database."""
    return await svc.db.write(fn)


async def _build_world(local: Services) -> None:
    """acme (owned by olivia) and alice's namespace, with one subject per source of a role."""
    m = manage
    for user in (
        "olivia",
        "mark",
        "oscar",
        "pete",
        "alice",
        *(f"grant-{r}" for r in PACKAGE_ROLES),
        *(f"tgrant-{r}" for r in PACKAGE_ROLES),
        *(f"collab-{r}" for r in REPO_ROLE_MAP),
        *(f"tcollab-{r}" for r in REPO_ROLE_MAP),
    ):
        await m.user_create(local, user, site_admin=False)
    await m.user_create(local, "sam", site_admin=True)
    await m.org_create(local, "acme", "olivia")
    for member in ("mark", *(f"tgrant-{r}" for r in PACKAGE_ROLES)):
        await m.org_member_add(local, "acme", member, "member")
    for role in REPO_ROLE_MAP:
        await m.org_member_add(local, "acme", f"tcollab-{role}", "member")

    # Team ids and user ids come from different sequences; keep them apart, so that a loader
    # that files a user grant under teams (or the reverse) cannot be right by coincidence.
    for spare in range(40):
        await m.team_create(local, f"acme/spare-{spare}")

    for repo in ("acme/shop", "acme/other", "acme/plain", "acme/gone", "alice/tool"):
        await m.repo_create(local, repo, "private")
    for role in PACKAGE_ROLES:
        await m.repo_create(local, f"acme/ci-{role}", "private")
    for role in REPO_ROLE_MAP:
        await m.repo_collaborator_add(local, "acme/shop", f"collab-{role}", None, role)
        await m.team_create(local, f"acme/rt-{role}")
        await m.team_member_add(local, f"acme/rt-{role}", f"tcollab-{role}")
        await m.repo_collaborator_add(local, "acme/shop", None, f"acme/rt-{role}", role)

    acme = await _in(local, lambda c: service.require_account(c, "acme"))
    pete = await _in(local, lambda c: service.require_account(c, "pete", AccountKind.USER))
    alice = await _in(local, lambda c: service.require_account(c, "alice", AccountKind.USER))
    other = await _in(local, lambda c: service.repo_id(c, "acme/other"))

    # acme/shop: published by pete, linked to acme/shop with inheritance on, and every grant.
    await _package(local, "acme/shop", owner=acme, publisher_user_id=pete)
    await m.package_link(local, "acme/shop", "acme/shop", unlink=False)
    await m.package_inherit(local, "acme/shop", "on")
    for role in PACKAGE_ROLES:
        await m.package_access_add(local, "acme/shop", f"grant-{role}", None, role)
        await m.team_create(local, f"acme/pt-{role}")
        await m.team_member_add(local, f"acme/pt-{role}", f"tgrant-{role}")
        await m.package_access_add(local, "acme/shop", None, f"acme/pt-{role}", role)
        await m.package_actions_add(local, "acme/shop", f"acme/ci-{role}", role)
    # A repository granted admin and then deleted; a new one takes its name.
    await m.package_actions_add(local, "acme/shop", "acme/gone", "admin")
    await m.repo_delete(local, "acme/gone")
    await m.repo_create(local, "acme/gone", "private")

    # acme/noinherit: linked to acme/shop, inheritance off.
    await _package(local, "acme/noinherit", owner=acme, publisher_user_id=pete)
    await m.package_link(local, "acme/noinherit", "acme/shop", unlink=False)
    await m.package_inherit(local, "acme/noinherit", "off")

    # acme/orphan: linked to a repository that was deleted afterwards, inheritance on.
    await m.repo_create(local, "acme/old", "private")
    await m.repo_collaborator_add(local, "acme/old", "collab-admin", None, "admin")
    await _package(local, "acme/orphan", owner=acme, publisher_user_id=pete)
    await m.package_link(local, "acme/orphan", "acme/old", unlink=False)
    await m.package_inherit(local, "acme/orphan", "on")
    await m.repo_delete(local, "acme/old")

    # Visibility.
    for visibility in ("public", "internal", "private"):
        await _package(local, f"acme/{visibility}", owner=acme, publisher_user_id=pete)
        await m.package_visibility(local, f"acme/{visibility}", visibility)

    # Created by a job of acme/other: that repository is its publisher (and gets admin).
    await _package(local, "acme/byjob", owner=acme, publisher_repo_id=other)
    # In a user's namespace.
    await _package(local, "alice/tool", owner=alice, publisher_user_id=alice)


@dataclass(frozen=True)
class Row:
    package: str
    user: str | None = None
    repository: str | None = None
    role: str = "none"
    kinds: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        who = self.user or f"job:{self.repository}"
        return f"{who}@{self.package}={self.role}"


ROWS = [
    # Direct user grants, team grants, Actions access: each role as granted.
    *(Row("acme/shop", f"grant-{r}", role=r, kinds=("user_grant",)) for r in PACKAGE_ROLES),
    *(Row("acme/shop", f"tgrant-{r}", role=r, kinds=("team_grant",)) for r in PACKAGE_ROLES),
    *(
        Row("acme/shop", repository=f"acme/ci-{r}", role=r, kinds=("actions_access",))
        for r in PACKAGE_ROLES
    ),
    # Inheritance from the linked repository: user and team collaborators, mapped.
    *(
        Row("acme/shop", f"collab-{r}", role=p, kinds=("inherited",))
        for r, p in REPO_ROLE_MAP.items()
    ),
    *(
        Row("acme/shop", f"tcollab-{r}", role=p, kinds=("inherited",))
        for r, p in REPO_ROLE_MAP.items()
    ),
    # The linked repository's own jobs get write.
    Row("acme/shop", repository="acme/shop", role="write", kinds=("linked_repository",)),
    # Inheritance off: neither collaborators nor the linked repository's jobs get anything.
    Row("acme/noinherit", "collab-admin"),
    Row("acme/noinherit", "tcollab-maintain"),
    Row("acme/noinherit", repository="acme/shop"),
    # A deleted linked repository passes nothing on; a deleted repository's Actions access
    # does not pass to a new repository of the same name.
    Row("acme/orphan", "collab-admin"),
    Row("acme/shop", repository="acme/gone"),
    # Namespace-wide sources.
    Row("acme/shop", "olivia", role="admin", kinds=("owner",)),
    Row("acme/private", "olivia", role="admin", kinds=("owner",)),
    Row("acme/shop", "sam", role="admin", kinds=("site_admin",)),
    Row("acme/missing", "olivia", role="admin", kinds=("owner",)),
    Row("acme/missing", "sam", role="admin", kinds=("site_admin",)),
    Row("acme/missing", "mark"),
    # No such namespace: nobody owns it; only a site admin holds a role.
    Row("nobody/thing", "sam", role="admin", kinds=("site_admin",)),
    Row("nobody/thing", "olivia"),
    Row("alice/tool", "alice", role="admin", kinds=("owner", "publisher")),
    # Publishers.
    Row("acme/private", "pete", role="admin", kinds=("publisher",)),
    Row(
        "acme/byjob",
        repository="acme/other",
        role="admin",
        kinds=("publisher", "actions_access"),
    ),
    # Visibility.
    Row("acme/public", "oscar", role="read", kinds=("visibility",)),
    Row("acme/public", repository="alice/tool", role="read", kinds=("visibility",)),
    Row("acme/internal", "mark", role="read", kinds=("visibility",)),
    Row("acme/internal", repository="acme/plain", role="read", kinds=("visibility",)),
    Row("acme/internal", "oscar"),
    Row("acme/internal", repository="alice/tool"),
    Row("acme/private", "mark"),
    Row("acme/private", repository="acme/plain"),
    # Nobody's grant leaks to the next package.
    Row("acme/private", "grant-admin"),
    Row("acme/private", "collab-admin"),
    Row("acme/private", repository="acme/ci-admin"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    tmp: Path = tmp_path_factory.mktemp("loader")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'loader.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        reset_postgres(url)
    svc = build(settings_for(tmp, url), audit_writer=False, db_threads=1)
    try:
        asyncio.run(_build_world(svc))
        yield svc
    finally:
        svc.close()


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_each_source_gives_its_exact_role(world: Services, row: Row) -> None:
    answer: dict[str, Any] = asyncio.run(manage.why(world, row.package, row.user, row.repository))
    assert answer["role"] == row.role, answer
    assert tuple(sorted(s["kind"] for s in answer["sources"])) == tuple(sorted(row.kinds)), answer
    assert all(s["role"] == row.role for s in answer["sources"]), answer

"""Packages: every OCI repository path belongs to one, owned by a user or an organization.

A package is created by the first push to its name (``create``); who may create it is the
permission decision's business, not this module's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from cargohold.db import queries as q
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.tx import now


@dataclass(frozen=True, slots=True)
class PackageRow:
    id: int
    name: str
    owner_id: int
    visibility: str
    deleted: bool = False  # soft-deleted (registry.lifecycle): name reserved, not pullable


def find(db: Reader, name: str) -> PackageRow | None:
    row = db.one(q.PACKAGE_BY_NAME, name=name)
    if row is None:
        return None
    return PackageRow(row.id, name, row.owner_id, row.visibility, row.deleted_at is not None)


def owner_id(conn: Connection, login: str) -> int | None:
    return conn.execute(select(s.accounts.c.id).where(s.accounts.c.login == login)).scalar()


def ensure_owner(conn: Connection, login: str) -> int:
    """The owner account of ``login``, created as a user when missing (auth-off mode only)."""
    found = owner_id(conn, login)
    if found is not None:
        return found
    return int(
        conn.execute(
            s.accounts.insert().values(
                login=login,
                kind="user",
                site_admin=False,
                default_visibility="private",
                inherit_default=True,
                default_job_permission="restricted",
                created_at=now(),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    )


def create(
    conn: Connection,
    name: str,
    *,
    owner: int,
    visibility: str = "private",
    publisher_user_id: int | None = None,
    publisher_repo_id: int | None = None,
    linked_repo_id: int | None = None,
    inherit: bool = False,
) -> PackageRow:
    """Create the package ``name``; returns the existing one if a concurrent push won the race."""
    existing = find(Reader.over(conn), name)
    if existing is not None:
        return existing
    try:
        # A savepoint: two replicas creating the same package at once both find nothing; on
        # PostgreSQL the second INSERT waits for the first transaction, then fails on the
        # unique name. Rolling back to here and reading again returns the winner's row.
        with conn.begin_nested():
            result = conn.execute(
                s.packages.insert().values(
                    owner_id=owner,
                    name=name,
                    visibility=visibility,
                    publisher_user_id=publisher_user_id,
                    publisher_repo_id=publisher_repo_id,
                    linked_repo_id=linked_repo_id,
                    inherit=inherit,
                    created_at=now(),
                    source_link_pending=linked_repo_id is None,
                )
            )
    except IntegrityError:
        winner = find(Reader.over(conn), name)
        if winner is None:
            raise
        return winner
    package_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    if publisher_repo_id is not None:
        # A package created by a job: its repository gets admin in Actions access (spec 3).
        conn.execute(
            s.package_actions_access.insert().values(
                package_id=package_id, repo_id=publisher_repo_id, role="admin"
            )
        )
    return PackageRow(package_id, name, owner, visibility)


SOURCE_LABEL = "org.opencontainers.image.source"


def source_from_config(config: bytes) -> str | None:
    """The ``org.opencontainers.image.source`` label of an image config, if any."""
    try:
        doc = json.loads(config)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    labels = (
        (doc.get("config") or {}).get("Labels") if isinstance(doc.get("config"), dict) else None
    )
    if not isinstance(labels, dict):
        return None
    value = labels.get(SOURCE_LABEL)
    return value if isinstance(value, str) else None


def repo_from_source_url(url: str) -> tuple[str, str] | None:
    """``https://host/owner/name(.git)`` -> ("owner", "name")."""
    tail = url.split("://", 1)[-1].rstrip("/")
    parts = tail.split("/")
    if len(parts) < 3:
        return None
    owner, name = parts[1].lower(), parts[2].lower()
    name = name.removesuffix(".git")
    return (owner, name) if owner and name else None


@dataclass(frozen=True, slots=True)
class PendingLink:
    """A package still waiting for its first version: who published it, who owns it."""

    owner_id: int
    publisher_user_id: int | None
    publisher_repo_id: int | None


def pending_link(db: Reader, package_id: int) -> PendingLink | None:
    """The package's publisher if its first version may still link it by label, else None."""
    row = db.one(q.PENDING_LINK, p=package_id)
    if row is None:
        return None
    return PendingLink(row.owner_id, row.publisher_user_id, row.publisher_repo_id)


def consume_source_link(
    conn: Connection, package_id: int, owner_id: int, config: bytes | None
) -> bool:
    """The package's first version: end the pending link, then link by ``config``'s label.

    Called only for the push of the package's creator. Whoever stores the first version ends
    the pending state, so a later push (by anyone, with any label) never links or changes
    inheritance; only a package admin does that, through the package settings.
    """
    ended = conn.execute(
        s.packages.update()
        .where(s.packages.c.id == package_id, s.packages.c.source_link_pending.is_(True))
        .values(source_link_pending=False)
    ).rowcount
    if ended != 1 or config is None:
        return False
    return link_by_source_label(conn, package_id, owner_id, config)


def end_source_link(conn: Connection, package_id: int) -> None:
    """A first version by someone other than the creator: no label link, ever."""
    conn.execute(
        s.packages.update()
        .where(s.packages.c.id == package_id, s.packages.c.source_link_pending.is_(True))
        .values(source_link_pending=False)
    )


def link_by_source_label(conn: Connection, package_id: int, owner_id: int, config: bytes) -> bool:
    """Link the package to the repository its source label names.

    Only a live repository of the same owner is linked; inheritance follows the owner's default
    for new packages. Returns True when a link was made.
    """
    url = source_from_config(config)
    target = repo_from_source_url(url) if url else None
    if target is None:
        return False
    row = conn.execute(
        select(s.repositories.c.id, s.accounts.c.inherit_default)
        .join(s.accounts, s.accounts.c.id == s.repositories.c.owner_id)
        .where(
            s.accounts.c.login == target[0],
            s.repositories.c.name == target[1],
            s.repositories.c.owner_id == owner_id,
            s.repositories.c.deleted_at.is_(None),
        )
    ).first()
    if row is None:
        return False
    conn.execute(
        s.packages.update()
        .where(s.packages.c.id == package_id, s.packages.c.linked_repo_id.is_(None))
        .values(linked_repo_id=row.id, inherit=bool(row.inherit_default))
    )
    return True

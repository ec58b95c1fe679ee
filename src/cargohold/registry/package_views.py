"""Packages and versions as the management APIs show them (GitHub's "Packages" REST shapes).

A version is a manifest of the package. Its id is the first 52 bits of its digest's hex value: a
stable integer (JSON-safe) without an extra column; ids are only ever looked up within one
package, where a collision needs some 2^26 versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from cargohold.authz.model import AccountKind, Visibility
from cargohold.db import schema as s
from cargohold.db.tx import aware, now
from cargohold.errors import ManifestUnknownError

P, M, A, T, R = s.packages.c, s.manifests.c, s.accounts.c, s.tags.c, s.repositories.c
ID_HEX = 13  # 52 bits


def version_id(digest: str) -> int:
    return int(digest.partition(":")[2][:ID_HEX], 16)


@dataclass(frozen=True, slots=True)
class Owner:
    id: int
    login: str
    kind: AccountKind
    site_admin: bool = False


@dataclass(frozen=True, slots=True)
class LinkedRepo:
    id: int
    full_name: str
    visibility: Visibility


@dataclass(frozen=True, slots=True)
class PackageView:
    id: int
    name: str  # full path "owner/name[/more]"
    owner: Owner
    visibility: Visibility
    version_count: int
    created_at: datetime
    updated_at: datetime
    repository: LinkedRepo | None
    deleted_at: datetime | None

    @property
    def short_name(self) -> str:
        """The name within its owner namespace (GitHub's ``name``)."""
        return self.name.partition("/")[2]


@dataclass(frozen=True, slots=True)
class VersionView:
    id: int
    digest: str
    media_type: str
    size: int
    created_at: datetime
    tags: tuple[str, ...]
    deleted_at: datetime | None


def owner(conn: Connection, login: str) -> Owner | None:
    row = conn.execute(select(A.id, A.login, A.kind, A.site_admin).where(A.login == login)).first()
    return (
        None
        if row is None
        else Owner(row.id, row.login, AccountKind(row.kind), bool(row.site_admin))
    )


def _package_query() -> Select[Any]:
    counts = (
        select(M.package_id, func.count().label("n"), func.max(M.created_at).label("last"))
        .where(M.deleted_at.is_(None))
        .group_by(M.package_id)
        .subquery()
    )
    repo_owner = s.accounts.alias("ro")
    return select(
        P.id,
        P.name,
        P.visibility,
        P.created_at,
        P.deleted_at,
        A.id.label("owner_id"),
        A.login,
        A.kind,
        A.site_admin,
        counts.c.n,
        counts.c.last,
        R.id.label("repo_id"),
        R.name.label("repo_name"),
        R.visibility.label("repo_visibility"),
        R.deleted_at.label("repo_deleted"),
        repo_owner.c.login.label("repo_owner"),
    ).select_from(
        s.packages.join(s.accounts, A.id == P.owner_id)
        .outerjoin(counts, counts.c.package_id == P.id)
        .outerjoin(s.repositories, R.id == P.linked_repo_id)
        .outerjoin(repo_owner, repo_owner.c.id == R.owner_id)
    )


def _view(row: object) -> PackageView:
    r = row._mapping  # type: ignore[attr-defined]
    created = aware(r["created_at"]) or now()
    last = aware(r["last"])
    repo = None
    if r["repo_id"] is not None and r["repo_deleted"] is None:
        repo = LinkedRepo(
            r["repo_id"], f"{r['repo_owner']}/{r['repo_name']}", Visibility(r["repo_visibility"])
        )
    return PackageView(
        id=r["id"],
        name=r["name"],
        owner=Owner(r["owner_id"], r["login"], AccountKind(r["kind"]), bool(r["site_admin"])),
        visibility=Visibility(r["visibility"]),
        version_count=int(r["n"] or 0),
        created_at=created,
        updated_at=max(created, last) if last is not None else created,
        repository=repo,
        deleted_at=aware(r["deleted_at"]),
    )


def packages_of(conn: Connection, owner_id: int, *, deleted: bool = False) -> list[PackageView]:
    """The owner's live (or deleted) packages, by name."""
    cond = P.deleted_at.is_not(None) if deleted else P.deleted_at.is_(None)
    query = _package_query().where(P.owner_id == owner_id, cond).order_by(P.name)
    return [_view(row) for row in conn.execute(query)]


def package(conn: Connection, name: str) -> PackageView | None:
    row = conn.execute(_package_query().where(P.name == name)).first()
    return None if row is None else _view(row)


def _tags(conn: Connection, package_id: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in conn.execute(
        select(T.digest, T.name).where(T.package_id == package_id).order_by(T.name)
    ):
        out.setdefault(row.digest, []).append(row.name)
    return out


def _version(row: object, tags: dict[str, list[str]]) -> VersionView:
    r = row._mapping  # type: ignore[attr-defined]
    deleted = aware(r["deleted_at"])
    names = json.loads(r["deleted_tags"]) if deleted and r["deleted_tags"] else []
    return VersionView(
        id=version_id(r["digest"]),
        digest=r["digest"],
        media_type=r["media_type"],
        size=int(r["size"]),
        created_at=aware(r["created_at"]) or now(),
        tags=tuple(names if deleted else tags.get(r["digest"], [])),
        deleted_at=deleted,
    )


_VERSION_COLUMNS = (M.digest, M.media_type, M.size, M.created_at, M.deleted_at, M.deleted_tags)


def versions(conn: Connection, package_id: int, *, deleted: bool = False) -> list[VersionView]:
    """The package's live (or deleted) versions, newest first."""
    cond = M.deleted_at.is_not(None) if deleted else M.deleted_at.is_(None)
    rows = conn.execute(
        select(*_VERSION_COLUMNS)
        .where(M.package_id == package_id, cond)
        .order_by(M.created_at.desc(), M.digest)
    )
    tags = _tags(conn, package_id)
    return [_version(row, tags) for row in rows]


def version(conn: Connection, package_id: int, vid: int) -> VersionView:
    """The version with id ``vid`` of this package (live or deleted), or MANIFEST_UNKNOWN.

    Looked up only within ``package_id``: an id from another package finds nothing here.
    """
    prefix = format(vid, f"0{ID_HEX}x") if 0 <= vid < 16**ID_HEX else None
    if prefix is None:
        raise ManifestUnknownError(f"no version {vid}", detail={"version_id": vid})
    for row in conn.execute(
        select(*_VERSION_COLUMNS).where(
            M.package_id == package_id,
            M.digest.like(f"sha256:{prefix}%") | M.digest.like(f"sha512:{prefix}%"),
        )
    ):
        return _version(row, _tags(conn, package_id))
    raise ManifestUnknownError(f"no version {vid}", detail={"version_id": vid})

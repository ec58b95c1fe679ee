"""The package read model's queries: owners, packages and versions (``read_model`` values), and
which of them an identity may see.

Each function reads within the caller's transaction and authorizes nothing, except ``visible``,
which filters a list through the one ``decide()``. The services raise NOT_FOUND for a package
the caller may not read, so existence never leaks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeAlias

from sqlalchemy import Connection, Row, Select, func, select

from cargohold.accounts.account_service import Account, Repository
from cargohold.authz.model import AccountKind, Action, Identity, Visibility
from cargohold.authz.service import state_for
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.tx import aware, now
from cargohold.errors import ManifestUnknownError
from cargohold.registry.guard import permits
from cargohold.registry.read_model import (
    ID_HEX,
    PackageView,
    VersionView,
    version_id,
)

AnyRow: TypeAlias = Row[*tuple[Any, ...]]

P, M, A, T, R = s.packages.c, s.manifests.c, s.accounts.c, s.tags.c, s.repositories.c


# -- who may see what ---------------------------------------------------------------------------


def visible(
    conn: Connection,
    found: Iterable[PackageView],
    by: Identity | None,
    base_url: str,
    action: Action = Action.PULL,
) -> list[PackageView]:
    """Those of ``found`` that ``by`` may do ``action`` on; all of them for ``None`` (the trusted
    local operator). A listing is not an operation on each package, so it is not audited."""
    if by is None:
        return list(found)
    db = Reader.over(conn)
    return [v for v in found if permits(by, action, state_for(db, v.name), base_url)]


# -- owners and packages ------------------------------------------------------------------------


def owner(conn: Connection, login: str) -> Account | None:
    row = conn.execute(select(A.id, A.login, A.kind, A.site_admin).where(A.login == login)).first()
    return (
        None
        if row is None
        else Account(row.id, row.login, AccountKind(row.kind), bool(row.site_admin))
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


def _view(row: AnyRow) -> PackageView:
    r = row._mapping
    created = aware(r["created_at"]) or now()
    last = aware(r["last"])
    linked = None
    if r["repo_id"] is not None:
        linked = Repository(
            r["repo_id"],
            f"{r['repo_owner']}/{r['repo_name']}",
            Visibility(r["repo_visibility"]),
            deleted=r["repo_deleted"] is not None,
        )
    return PackageView(
        id=r["id"],
        name=r["name"],
        owner=Account(r["owner_id"], r["login"], AccountKind(r["kind"]), bool(r["site_admin"])),
        visibility=Visibility(r["visibility"]),
        version_count=int(r["n"] or 0),
        created_at=created,
        updated_at=max(created, last) if last is not None else created,
        linked=linked,
        deleted_at=aware(r["deleted_at"]),
    )


def packages_of(
    conn: Connection, owner_id: int | None, *, deleted: bool = False
) -> list[PackageView]:
    """The owner's (``None``: everyone's) live (or deleted) packages, by name."""
    query = _package_query().where(P.deleted_at.is_not(None) if deleted else P.deleted_at.is_(None))
    if owner_id is not None:
        query = query.where(P.owner_id == owner_id)
    return [_view(row) for row in conn.execute(query.order_by(P.name))]


def package(conn: Connection, name: str) -> PackageView | None:
    """The package named ``name``, live or deleted (``deleted_at`` says which)."""
    row = conn.execute(_package_query().where(P.name == name)).first()
    return None if row is None else _view(row)


# -- versions -----------------------------------------------------------------------------------

_VERSION_COLUMNS = (M.digest, M.media_type, M.size, M.created_at, M.deleted_at, M.deleted_tags)
_CONTENT_COLUMNS = (M.content, M.artifact_type, M.subject_digest, M.annotations)


def tags_by_digest(conn: Connection, package_id: int) -> dict[str, list[str]]:
    """digest -> the names of the tags on it, by name."""
    out: dict[str, list[str]] = {}
    for row in conn.execute(
        select(T.digest, T.name).where(T.package_id == package_id).order_by(T.name)
    ):
        out.setdefault(row.digest, []).append(row.name)
    return out


def version_rows(
    conn: Connection, package_id: int, *, deleted: bool = False, content: bool = False
) -> list[AnyRow]:
    """The package's live (or deleted) manifest rows, newest first; with ``content``, also the
    manifest body, artifact type, subject and annotations (for ``version_details``)."""
    cond = M.deleted_at.is_not(None) if deleted else M.deleted_at.is_(None)
    columns = _VERSION_COLUMNS + (_CONTENT_COLUMNS if content else ())
    return list(
        conn.execute(
            select(*columns)
            .where(M.package_id == package_id, cond)
            .order_by(M.created_at.desc(), M.digest)
        )
    )


def to_version(row: AnyRow, tags: dict[str, list[str]]) -> VersionView:
    """A version from a ``version_rows`` row and the package's ``tags_by_digest``."""
    r = row._mapping
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


def versions(conn: Connection, package_id: int, *, deleted: bool = False) -> list[VersionView]:
    """The package's live (or deleted) versions, newest first."""
    tags = tags_by_digest(conn, package_id)
    return [to_version(row, tags) for row in version_rows(conn, package_id, deleted=deleted)]


def version(conn: Connection, package_id: int, vid: int) -> VersionView:
    """The version with id ``vid`` of this package (live or deleted), or MANIFEST_UNKNOWN.

    Looked up only within ``package_id``: an id from another package finds nothing here.
    """
    prefix = format(vid, f"0{ID_HEX}x") if 0 <= vid < 16**ID_HEX else None
    if prefix is None:
        raise ManifestUnknownError(f"no version {vid}", detail={"version_id": vid})
    found: AnyRow | None = conn.execute(
        select(*_VERSION_COLUMNS).where(
            M.package_id == package_id,
            M.digest.like(f"sha256:{prefix}%") | M.digest.like(f"sha512:{prefix}%"),
        )
    ).first()
    if found is None:
        raise ManifestUnknownError(f"no version {vid}", detail={"version_id": vid})
    return to_version(found, tags_by_digest(conn, package_id))

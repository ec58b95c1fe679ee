"""Read models for the web UI: package lists, the package page, the settings page, the audit view.

``PackageViews`` answers each page with one call (one read transaction). Every answer is
authorized by the one ``decide()`` for the identity asking: a package it may not read is
reported as ``NotFoundError`` whether or not it exists (existence never leaks), and the settings
page shows its full contents only to those ``decide`` lets administer the package; others get
the package's name and who its admins are. Page views are reads, not registry operations, so
they are not written to the audit log (every change still is, by ``PackageSettingsService``).

Labels come from the image config blob (read from the blob store, at most ``CONFIG_LIMIT``
bytes); annotations from the manifest. Both are returned as plain strings: rendering them safely
is the adapter's job (the UI escapes everything).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from cargohold.accounts.credentials import load_user_principal
from cargohold.audit.log import query as audit_query
from cargohold.authz.decide import Allowed, Source, decide, effective_role
from cargohold.authz.model import (
    Action,
    Identity,
    PackageState,
    Principal,
    PrincipalKind,
    RepoRef,
    Role,
    Visibility,
)
from cargohold.authz.service import state_for
from cargohold.db import queries as q
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.runner import Database
from cargohold.db.tx import aware
from cargohold.errors import NotFoundError
from cargohold.registry.package_settings import PackageSettings, describe
from cargohold.storage.protocol import BlobStore

CONFIG_LIMIT = 1024 * 1024
MAX_VERSIONS = 100
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


@dataclass(frozen=True, slots=True)
class PackageSummary:
    name: str
    owner: str
    owner_kind: str  # "user" | "org"
    short_name: str
    visibility: Visibility
    versions: int
    updated: datetime | None


@dataclass(frozen=True, slots=True)
class Layer:
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True, slots=True)
class Platform:
    digest: str
    os: str
    architecture: str
    variant: str
    size: int


@dataclass(frozen=True, slots=True)
class Artifact:
    """A manifest attached to a version through its ``subject`` (signature, SBOM, ...)."""

    digest: str
    artifact_type: str
    created: datetime | None
    annotations: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Version:
    digest: str
    media_type: str
    size: int  # the manifest and everything it references that is known here
    created: datetime | None
    tags: tuple[str, ...]
    platforms: tuple[Platform, ...] = ()
    layers: tuple[Layer, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    artifacts: tuple[Artifact, ...] = ()

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True, slots=True)
class Access:
    """One principal's effective role on a package and every source of it."""

    who: str  # "user alice", "repository acme/shop"
    kind: str  # "user" | "repository" | "everyone"
    role: Role
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class PackagePage:
    name: str
    owner: str
    owner_kind: str
    short_name: str
    visibility: Visibility
    linked_repository: str | None
    versions: tuple[Version, ...]
    can_admin: bool
    admins: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SettingsPage:
    """The settings page; ``settings`` and ``effective`` are None for a non-admin."""

    name: str
    owner: str
    owner_kind: str
    short_name: str
    visibility: Visibility
    can_admin: bool
    admins: tuple[str, ...]
    settings: PackageSettings | None = None
    effective: tuple[Access, ...] | None = None


@dataclass(frozen=True, slots=True)
class OwnerPage:
    login: str
    kind: str
    packages: tuple[PackageSummary, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class OrgPackageSettings:
    """An organization's package settings as its members see them."""

    org: str
    member_create_visibilities: tuple[Visibility, ...]
    default_visibility: Visibility
    inherit_default: bool
    default_job_permission: str
    is_owner: bool
    owners: tuple[str, ...]


class PackageViews:
    def __init__(self, db: Database, store: BlobStore, *, base_url: str) -> None:
        self._db = db
        self._store = store
        self._base_url = base_url

    async def home(self, identity: Identity) -> tuple[PackageSummary, ...]:
        """Every package ``identity`` may read, most recently updated first."""
        return await self._db.write(lambda c: self._list(c, identity, None))

    async def owner(self, login: str, kind: str, identity: Identity) -> OwnerPage:
        """The packages of the user or organization ``login`` that ``identity`` may read.

        ``kind`` is the URL's (``"org"`` or ``"user"``); a mismatch is ``NotFoundError``.
        """

        def run(conn: Connection) -> OwnerPage:
            a = s.accounts.c
            row = conn.execute(select(a.login, a.kind).where(a.login == login)).first()
            if row is None or row.kind != kind:
                raise NotFoundError(f"no {'organization' if kind == 'org' else 'user'} {login}")
            return OwnerPage(row.login, row.kind, self._list(conn, identity, row.login))

        return await self._db.write(run)

    async def owner_kind(self, login: str) -> str:
        """``"org"`` or ``"user"`` for an existing account; ``"user"`` for an unknown one (a
        link to it then ends on the same "not found" page as any unreadable package)."""
        a = s.accounts.c

        def run(conn: Connection) -> str:
            kind = conn.execute(select(a.kind).where(a.login == login)).scalar()
            return "org" if kind == "org" else "user"

        return await self._db.write(run)

    async def org_settings(self, org: str, identity: Identity) -> OrgPackageSettings:
        """The organization's package settings ("Package creation" and defaults), for its
        members and site admins; ``NotFoundError`` for anyone else."""
        a, m = s.accounts.c, s.org_members.c

        def run(conn: Connection) -> OrgPackageSettings:
            row = conn.execute(select(s.accounts).where(a.login == org, a.kind == "org")).first()
            p = identity.principal
            if row is None or not (p.site_admin or row.id in p.org_roles):
                raise NotFoundError(f"no organization {org} that you are a member of")
            listed = row.member_create_visibilities
            owners = conn.execute(
                select(a.login)
                .join_from(s.org_members, s.accounts, a.id == m.user_id)
                .where(m.org_id == row.id, m.role == "owner")
                .order_by(a.login)
            ).scalars()
            return OrgPackageSettings(
                org=row.login,
                member_create_visibilities=tuple(
                    v for v in Visibility if listed is None or v.value in listed.split(",")
                ),
                default_visibility=Visibility(row.default_visibility),
                inherit_default=bool(row.inherit_default),
                default_job_permission=str(row.default_job_permission),
                is_owner=p.org_roles.get(row.id) == "owner",
                owners=tuple(owners),
            )

        return await self._db.write(run)

    async def package(self, name: str, identity: Identity) -> PackagePage:
        """The package page; ``NotFoundError`` unless ``identity`` may read the package."""

        def run(conn: Connection) -> PackagePage:
            db = Reader.over(conn)
            state = self._readable(db, name, identity)
            settings = describe(conn, name)
            return PackagePage(
                name=name,
                owner=state.owner.login,
                owner_kind=state.owner.kind,
                short_name=state.short_name,
                visibility=state.visibility,
                linked_repository=settings.linked_repository,
                versions=tuple(self._versions(conn, state)),
                can_admin=self._may(identity, Action.ADMIN, state),
                admins=_admins(db, state),
            )

        return await self._db.write(run)

    async def settings(self, name: str, identity: Identity) -> SettingsPage:
        """The settings page: everything for an admin; the admins' names for other readers;
        ``NotFoundError`` for anyone who may not read the package."""

        def run(conn: Connection) -> SettingsPage:
            db = Reader.over(conn)
            state = self._readable(db, name, identity)
            admin = self._may(identity, Action.ADMIN, state)
            return SettingsPage(
                name=name,
                owner=state.owner.login,
                owner_kind=state.owner.kind,
                short_name=state.short_name,
                visibility=state.visibility,
                can_admin=admin,
                admins=_admins(db, state),
                settings=describe(conn, name) if admin else None,
                effective=tuple(effective_access(db, state)) if admin else None,
            )

        return await self._db.write(run)

    async def audit(
        self, name: str, identity: Identity, limit: int = 100
    ) -> tuple[SettingsPage, list[dict[str, Any]]]:
        """The package's audit log for its admins (others get the settings page and nothing)."""

        def run(conn: Connection) -> tuple[SettingsPage, list[dict[str, Any]]]:
            db = Reader.over(conn)
            state = self._readable(db, name, identity)
            admin = self._may(identity, Action.ADMIN, state)
            page = SettingsPage(
                name=name,
                owner=state.owner.login,
                owner_kind=state.owner.kind,
                short_name=state.short_name,
                visibility=state.visibility,
                can_admin=admin,
                admins=_admins(db, state),
            )
            return page, audit_query(conn, name, limit) if admin else []

        return await self._db.write(run)

    # -- helpers --------------------------------------------------------------------------

    def _may(self, identity: Identity, action: Action, state: PackageState) -> bool:
        verdict = decide(
            identity.principal, identity.credential, action, state, base_url=self._base_url
        )
        return isinstance(verdict, Allowed) and state.exists

    def _readable(self, db: Reader, name: str, identity: Identity) -> PackageState:
        state = state_for(db, name)
        if not state.exists or not self._may(identity, Action.PULL, state):
            raise NotFoundError(f"no package {name} that you can see")
        return state

    def _list(
        self, conn: Connection, identity: Identity, owner: str | None
    ) -> tuple[PackageSummary, ...]:
        p, a, t, m = s.packages.c, s.accounts.c, s.tags.c, s.manifests.c
        query = select(p.id, p.name, a.login, a.kind, p.visibility, p.created_at).join_from(
            s.packages, s.accounts, a.id == p.owner_id
        )
        if owner is not None:
            query = query.where(a.login == owner)
        db = Reader.over(conn)
        out = []
        for row in conn.execute(query.order_by(p.name)):
            state = state_for(db, row.name)
            if not self._may(identity, Action.PULL, state):
                continue
            versions = conn.execute(
                select(m.digest).where(m.package_id == row.id, m.subject_digest.is_(None))
            ).all()
            updated = conn.execute(
                select(t.updated_at).where(t.package_id == row.id).order_by(t.updated_at.desc())
            ).scalar()
            out.append(
                PackageSummary(
                    name=row.name,
                    owner=row.login,
                    owner_kind=row.kind,
                    short_name=state.short_name,
                    visibility=Visibility(row.visibility),
                    versions=len(versions),
                    updated=aware(updated) or aware(row.created_at),
                )
            )
        out.sort(key=lambda x: x.updated or datetime.min, reverse=True)
        return tuple(out)

    def _versions(self, conn: Connection, state: PackageState) -> Iterator[Version]:
        m, t, r = s.manifests.c, s.tags.c, s.manifest_refs.c
        pid = state.id
        rows = conn.execute(
            select(
                m.digest,
                m.media_type,
                m.size,
                m.content,
                m.artifact_type,
                m.subject_digest,
                m.annotations,
                m.created_at,
            )
            .where(m.package_id == pid)
            .order_by(m.created_at.desc())
        ).all()
        tags: dict[str, list[str]] = {}
        for tag in conn.execute(select(t.name, t.digest).where(t.package_id == pid)):
            tags.setdefault(tag.digest, []).append(tag.name)
        children = {
            x.child_digest
            for x in conn.execute(
                select(r.child_digest).where(r.package_id == pid, r.kind == "manifest")
            )
        }
        by_digest = {row.digest: row for row in rows}
        blob_sizes = dict(
            conn.execute(
                select(s.blobs.c.digest, s.blobs.c.size)
                .join_from(s.package_blobs, s.blobs, s.blobs.c.digest == s.package_blobs.c.digest)
                .where(s.package_blobs.c.package_id == pid)
            ).all()
        )
        attached: dict[str, list[Artifact]] = {}
        for row in rows:
            if row.subject_digest:
                attached.setdefault(row.subject_digest, []).append(
                    Artifact(
                        digest=row.digest,
                        artifact_type=row.artifact_type or _artifact_type(row.content),
                        created=aware(row.created_at),
                        annotations=_pairs(_json(row.annotations)),
                    )
                )
        shown = 0
        for row in rows:
            if row.subject_digest or (row.digest in children and row.digest not in tags):
                continue
            shown += 1
            if shown > MAX_VERSIONS:
                break
            yield self._version(row, by_digest, blob_sizes, tags, attached)

    def _version(
        self,
        row: Any,
        by_digest: dict[str, Any],
        blob_sizes: dict[str, int],
        tags: dict[str, list[str]],
        attached: dict[str, list[Artifact]],
    ) -> Version:
        doc = _json(row.content)
        annotations = _pairs(doc.get("annotations"))
        artifacts = tuple(attached.get(row.digest, ()))
        if row.media_type in INDEX_TYPES:
            platforms = []
            total = row.size
            for entry in doc.get("manifests") or []:
                if not isinstance(entry, dict):
                    continue
                found = entry.get("platform")
                plat: dict[str, Any] = found if isinstance(found, dict) else {}
                digest = str(entry.get("digest", ""))
                child = by_digest.get(digest)
                size = _image_size(child, blob_sizes) if child is not None else 0
                total += size
                platforms.append(
                    Platform(
                        digest=digest,
                        os=str(plat.get("os", "")),
                        architecture=str(plat.get("architecture", "")),
                        variant=str(plat.get("variant", "")),
                        size=size,
                    )
                )
                artifacts += tuple(attached.get(digest, ()))
            return Version(
                row.digest, row.media_type, total, aware(row.created_at),
                tuple(sorted(tags.get(row.digest, []))), platforms=tuple(platforms),
                annotations=annotations, artifacts=artifacts,
            )  # fmt: skip
        layers = tuple(
            Layer(str(x.get("digest", "")), _int(x.get("size")), str(x.get("mediaType", "")))
            for x in doc.get("layers") or []
            if isinstance(x, dict)
        )
        found = doc.get("config")
        config: dict[str, Any] = found if isinstance(found, dict) else {}
        return Version(
            row.digest, row.media_type, _image_size(row, blob_sizes), aware(row.created_at),
            tuple(sorted(tags.get(row.digest, []))), layers=layers, annotations=annotations,
            labels=self._labels(str(config.get("digest", ""))), artifacts=artifacts,
        )  # fmt: skip

    def _labels(self, digest: str) -> tuple[tuple[str, str], ...]:
        """The image config's ``config.Labels`` (empty when absent, unreadable or too big)."""
        if not digest:
            return ()
        info = self._store.stat(digest)
        if info is None or info.size > CONFIG_LIMIT:
            return ()
        try:
            data = b"".join(self._store.open_read(digest))
        except (OSError, KeyError):
            return ()
        config = _json(data).get("config")
        return _pairs(config.get("Labels")) if isinstance(config, dict) else ()


def effective_access(db: Reader, state: PackageState) -> Iterator[Access]:
    """Every user and repository that holds a role on the package, with the sources of it.

    Candidates are everyone a source could name (site admins, the owner and its organization's
    members, grantees and their teams, the linked repository's collaborators, Actions access and
    publishing repositories); ``effective_role`` decides who really holds what.
    """
    if state.visibility is Visibility.PUBLIC:
        yield Access("everyone", "everyone", Role.READ, ())
    for uid in _candidate_users(db, state):
        principal = load_user_principal(db, uid)
        if principal is None:
            continue
        role, sources = effective_role(principal, state)
        sources = tuple(x for x in sources if not _is_public(x, state))
        if sources:
            yield Access(f"user {principal.login}", "user", role, sources)
    repos = set(state.actions_access) | {
        x for x in (state.publisher_repo_id, state.linked_repo.id if state.linked_repo else None)
        if x is not None
    }  # fmt: skip
    for rid in sorted(repos):
        row = db.one(q.REPOSITORY_BY_ID, id=rid)
        if row is None or row.deleted_at is not None:
            continue
        repo = RepoRef(row.id, f"{row.owner_login}/{row.name}", row.owner_id)
        role, sources = effective_role(Principal(PrincipalKind.REPOSITORY, repo=repo), state)
        sources = tuple(x for x in sources if not _is_public(x, state))
        if sources:
            yield Access(f"repository {repo.full_name}", "repository", role, sources)


def _is_public(source: Source, state: PackageState) -> bool:
    return source.kind == "visibility" and state.visibility is Visibility.PUBLIC


def _candidate_users(db: Reader, state: PackageState) -> list[int]:
    ids: set[int] = {row.id for row in db.all(q.SITE_ADMIN_IDS)}
    owner = state.owner
    if owner.is_org:
        ids |= {r.user_id for r in db.all(q.ORG_MEMBER_IDS, o=owner.id)}
    else:
        ids.add(owner.id)
    if state.publisher_user_id is not None:
        ids.add(state.publisher_user_id)
    ids |= set(state.user_grants) | set(state.repo_user_roles)
    for team_id in set(state.team_grants) | set(state.repo_team_roles):
        ids |= {r.user_id for r in db.all(q.TEAM_MEMBER_IDS, t=team_id)}
    return sorted(ids)


def _admins(db: Reader, state: PackageState) -> tuple[str, ...]:
    """Who can change the package's settings (users and repositories holding admin)."""
    return tuple(
        x.who for x in effective_access(db, state) if x.role is Role.ADMIN and x.kind != "everyone"
    )


def _image_size(row: Any, blob_sizes: dict[str, int]) -> int:
    doc = _json(row.content)
    total = int(row.size)
    config = doc.get("config")
    if isinstance(config, dict):
        total += _int(config.get("size"))
    for layer in doc.get("layers") or []:
        if isinstance(layer, dict):
            total += blob_sizes.get(str(layer.get("digest")), _int(layer.get("size")))
    return total


def _artifact_type(content: bytes) -> str:
    doc = _json(content)
    config = doc.get("config")
    if isinstance(config, dict) and config.get("mediaType"):
        return str(config["mediaType"])
    return str(doc.get("mediaType", ""))


def _json(data: bytes | str | None) -> dict[str, Any]:
    if not data:
        return {}
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

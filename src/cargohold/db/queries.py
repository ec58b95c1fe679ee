"""Every hot-path read, built from the schema (``cargohold.db.schema``) in this one module, and
the writes a chunked upload makes on every request (``UPLOAD_*``, run by a ``Writer``).

Each is a ``Statement``: compiled once per dialect, run on the DBAPI connection by a ``Reader``,
rows named by the labels below. Parameters are ``bindparam``\\ s named in the docstring-like
comment of each. A renamed or dropped column breaks here, at first use, by name.
"""

from __future__ import annotations

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import SelectBase

from cargohold.db import schema as s
from cargohold.db.raw import Statement

_a, _p, _r = s.accounts.c, s.packages.c, s.repositories.c


def _authz_version() -> SelectBase:
    return select(s.authz_version.c.version).where(s.authz_version.c.id == 1)


AUTHZ_VERSION = Statement("authz_version", _authz_version)
"""() -> version"""

OWNER_AND_PACKAGE = Statement(
    "owner_and_package",
    lambda: (
        select(
            _a.id.label("owner_id"),
            _a.kind,
            _a.member_create_visibilities,
            _a.default_visibility,
            _a.inherit_default,
            _p.id.label("package_id"),
            _p.visibility,
            _p.linked_repo_id,
            _p.inherit,
            _p.publisher_user_id,
            _p.publisher_repo_id,
            _p.deleted_at,
        )
        .select_from(
            s.accounts.outerjoin(
                s.packages, and_(_p.owner_id == _a.id, _p.name == bindparam("name"))
            )
        )
        .where(_a.login == bindparam("login"))
    ),
)
"""(login, name) -> the owner's settings and, if it exists, the package's own columns"""


def _package_access() -> SelectBase:
    g, x = s.package_grants.c, s.package_actions_access.c
    return union_all(
        select(
            case(
                (g.user_id.is_not(None), literal_column("'u'")), else_=literal_column("'t'")
            ).label("kind"),
            func.coalesce(g.user_id, g.team_id).label("subject"),
            g.role,
        ).where(g.package_id == bindparam("p")),
        select(literal_column("'a'").label("kind"), x.repo_id.label("subject"), x.role).where(
            x.package_id == bindparam("p")
        ),
    )


PACKAGE_ACCESS = Statement("package_access", _package_access)
"""(p) -> (kind 'u' user grant | 't' team grant | 'a' Actions access, subject id, role)"""


def _package_repos() -> SelectBase:
    x = s.package_actions_access.c
    return (
        select(_r.id, _a.login.label("owner_login"), _r.name, _r.owner_id, _r.deleted_at)
        .join_from(s.repositories, s.accounts, _a.id == _r.owner_id)
        .where(
            or_(
                _r.id.in_(select(x.repo_id).where(x.package_id == bindparam("p"))),
                _r.id == bindparam("linked", type_=Integer),
                _r.id == bindparam("publisher", type_=Integer),
            )
        )
    )


PACKAGE_REPOS = Statement("package_repos", _package_repos)
"""(p, linked, publisher) -> the repositories a package refers to: Actions access, link,
publisher"""


def _team_names() -> SelectBase:
    g, rc, t = s.package_grants.c, s.repo_collaborators.c, s.teams.c
    return (
        select(t.id, _a.login.label("org_login"), t.slug)
        .join_from(s.teams, s.accounts, _a.id == t.org_id)
        .where(
            or_(
                t.id.in_(select(g.team_id).where(g.package_id == bindparam("p"))),
                t.id.in_(select(rc.team_id).where(rc.repo_id == bindparam("r", type_=Integer))),
            )
        )
    )


TEAM_NAMES = Statement("team_names", _team_names)
"""(p, r) -> teams granted on package p or collaborating on repository r"""

REPO_COLLABORATORS = Statement(
    "repo_collaborators",
    lambda: select(
        s.repo_collaborators.c.user_id, s.repo_collaborators.c.team_id, s.repo_collaborators.c.role
    ).where(s.repo_collaborators.c.repo_id == bindparam("r")),
)
"""(r) -> collaborators of repository r"""

_c = s.credentials.c
CREDENTIAL = Statement(
    "credential",
    lambda: select(
        _c.id,
        _c.kind,
        _c.secret_hash,
        _c.user_id,
        _c.repo_id,
        _c.scopes,
        _c.permissions,
        _c.run_id,
        _c.expires_at,
        _c.revoked_at,
    ).where(_c.id == bindparam("id")),
)
"""(id) -> the credential"""

REPOSITORY = Statement(
    "repository",
    lambda: (
        select(_r.id, _r.name, _r.owner_id, _a.login.label("owner_login"))
        .join_from(s.repositories, s.accounts, _a.id == _r.owner_id)
        .where(_r.id == bindparam("id"))
    ),
)
"""(id) -> repository and its owner's login"""

ACCOUNT = Statement(
    "account",
    lambda: select(_a.login, _a.site_admin).where(
        _a.id == bindparam("id"), _a.kind == bindparam("kind")
    ),
)
"""(id, kind) -> login, site_admin"""


def _memberships() -> SelectBase:
    om, tm = s.org_members.c, s.team_members.c
    return union_all(
        select(om.org_id, om.role, null().label("team_id")).where(om.user_id == bindparam("id")),
        select(null(), null(), tm.team_id).where(tm.user_id == bindparam("id")),
    )


MEMBERSHIPS = Statement("memberships", _memberships)
"""(id) -> (org_id, role, NULL) per organization, (NULL, NULL, team_id) per team"""

PACKAGE_BY_NAME = Statement(
    "package_by_name",
    lambda: select(_p.id, _p.owner_id, _p.visibility, _p.deleted_at).where(
        _p.name == bindparam("name")
    ),
)
"""(name) -> id, owner_id, visibility, deleted_at"""

PENDING_LINK = Statement(
    "pending_link",
    lambda: select(_p.owner_id, _p.publisher_user_id, _p.publisher_repo_id).where(
        _p.id == bindparam("p"), _p.source_link_pending.is_(True)
    ),
)
"""(p) -> the publisher of a package whose first version may still link it by label"""

_pb, _b = s.package_blobs.c, s.blobs.c
BLOB_SIZE = Statement(
    "blob_size",
    lambda: (
        select(_b.size)
        .join_from(s.package_blobs, s.blobs, _b.digest == _pb.digest)
        .where(_pb.package_id == bindparam("p"), _pb.digest == bindparam("d"))
    ),
)
"""(p, d) -> size of blob d if package p links it"""

_m, _t = s.manifests.c, s.tags.c
MANIFEST_BY_DIGEST = Statement(
    "manifest_by_digest",
    lambda: select(_m.digest, _m.media_type, _m.content).where(
        _m.package_id == bindparam("p"), _m.digest == bindparam("ref"), _m.deleted_at.is_(None)
    ),
)
"""(p, ref) -> digest, media_type, content of a live (not deleted) manifest"""

MANIFEST_BY_TAG = Statement(
    "manifest_by_tag",
    lambda: (
        select(_m.digest, _m.media_type, _m.content)
        .join_from(
            s.tags, s.manifests, and_(_m.package_id == _t.package_id, _m.digest == _t.digest)
        )
        .where(_t.package_id == bindparam("p"), _t.name == bindparam("ref"))
    ),
)
"""(p, ref) -> digest, media_type, content of the manifest tag ref points at"""

TAGS_AFTER = Statement(
    "tags_after",
    lambda: (
        select(_t.name)
        .where(_t.package_id == bindparam("p"), _t.name > bindparam("last"))
        .order_by(_t.name)
    ),
)
"""(p, last) -> every tag name after last, in order"""

TAGS_PAGE = Statement(
    "tags_page",
    lambda: (
        select(_t.name)
        .where(_t.package_id == bindparam("p"), _t.name > bindparam("last"))
        .order_by(_t.name)
        .limit(bindparam("n", type_=Integer))
    ),
)
"""(p, last, n) -> the next n tag names after last"""


def _referrers(*only: ColumnElement[bool]) -> SelectBase:
    return (
        select(_m.digest, _m.media_type, _m.size, _m.artifact_type, _m.annotations)
        .where(
            _m.package_id == bindparam("p"),
            _m.subject_digest == bindparam("subject"),
            _m.deleted_at.is_(None),
            *only,
        )
        .order_by(_m.created_at, _m.digest)
    )


REFERRERS = Statement("referrers", _referrers)
"""(p, subject) -> descriptors of the manifests whose subject is subject"""

REFERRERS_OF_TYPE = Statement(
    "referrers_of_type",
    lambda: _referrers(_m.artifact_type == bindparam("artifact_type")),
)
"""(p, subject, artifact_type) -> the same, of one artifact type"""

CATALOG_PAGE = Statement(
    "catalog_page",
    lambda: (
        select(_p.name, _p.visibility)
        .where(_p.name > bindparam("last"), _p.deleted_at.is_(None))
        .order_by(_p.name)
        .limit(bindparam("n", type_=Integer))
    ),
)
"""(last, n) -> the next n package names after last (and their visibility)"""


def _catalog_for_user() -> SelectBase:
    g, tm, om = s.package_grants.c, s.team_members.c, s.org_members.c
    rc = s.repo_collaborators.c
    uid = bindparam("uid", type_=Integer)
    teams = select(tm.team_id).where(tm.user_id == uid)
    return (
        select(_p.name, _p.visibility)
        .where(
            _p.name > bindparam("last"),
            _p.deleted_at.is_(None),
            or_(
                _p.visibility == bindparam("public"),
                _p.owner_id == uid,
                _p.publisher_user_id == uid,
                _p.owner_id.in_(select(om.org_id).where(om.user_id == uid)),
                _p.id.in_(select(g.package_id).where(or_(g.user_id == uid, g.team_id.in_(teams)))),
                and_(
                    _p.inherit.is_(True),
                    _p.linked_repo_id.in_(
                        select(rc.repo_id).where(or_(rc.user_id == uid, rc.team_id.in_(teams)))
                    ),
                ),
            ),
        )
        .order_by(_p.name)
        .limit(bindparam("n", type_=Integer))
    )


CATALOG_FOR_USER = Statement("catalog_for_user", _catalog_for_user)
"""(last, n, uid, public) -> the next n names user uid might read: public ones, and those a
source of a role could reach (namespace, organization, publisher, grants, inheritance). A
superset: the decision has the last word on every one that is not public."""


def _catalog_for_repository() -> SelectBase:
    x = s.package_actions_access.c
    rid = bindparam("rid", type_=Integer)
    return (
        select(_p.name, _p.visibility)
        .where(
            _p.name > bindparam("last"),
            _p.deleted_at.is_(None),
            or_(
                _p.visibility == bindparam("public"),
                _p.publisher_repo_id == rid,
                _p.id.in_(select(x.package_id).where(x.repo_id == rid)),
                and_(_p.inherit.is_(True), _p.linked_repo_id == rid),
                _p.owner_id == bindparam("owner", type_=Integer),
            ),
        )
        .order_by(_p.name)
        .limit(bindparam("n", type_=Integer))
    )


CATALOG_FOR_REPOSITORY = Statement("catalog_for_repository", _catalog_for_repository)
"""(last, n, rid, owner, public) -> the next n names a job of repository rid might read"""

CATALOG_PUBLIC = Statement(
    "catalog_public",
    lambda: (
        select(_p.name, _p.visibility)
        .where(_p.name > bindparam("last"), _p.visibility == bindparam("public"))
        .order_by(_p.name)
        .limit(bindparam("n", type_=Integer))
    ),
)
"""(last, n, public) -> the next n public package names"""


# Cold-path reads for the web UI's effective-access table and sessions (same rules: named rows).

REPOSITORY_BY_ID = Statement(
    "repository_by_id",
    lambda: (
        select(_r.id, _a.login.label("owner_login"), _r.name, _r.owner_id, _r.deleted_at)
        .join(s.accounts, _a.id == _r.owner_id)
        .where(_r.id == bindparam("id"))
    ),
)
"""(id) -> id, owner_login, name, owner_id, deleted_at"""

SITE_ADMIN_IDS = Statement("site_admin_ids", lambda: select(_a.id).where(_a.site_admin.is_(True)))
"""() -> id of every site administrator"""

ORG_MEMBER_IDS = Statement(
    "org_member_ids",
    lambda: select(s.org_members.c.user_id).where(s.org_members.c.org_id == bindparam("o")),
)
"""(o) -> user_id of every member of organization o"""

TEAM_MEMBER_IDS = Statement(
    "team_member_ids",
    lambda: select(s.team_members.c.user_id).where(s.team_members.c.team_id == bindparam("t")),
)
"""(t) -> user_id of every member of team t"""

USER_PASSWORD_HASH = Statement(
    "user_password_hash",
    lambda: select(_a.password_hash).where(_a.id == bindparam("id"), _a.kind == "user"),
)
"""(id) -> password_hash of user id (None when the account is not a user or has none)"""

BLOB_STATE = Statement(
    "blob_state", lambda: select(s.blobs.c.state).where(s.blobs.c.digest == bindparam("d"))
)
"""(d) -> state of the blob row ("live", "deleting") for garbage collection"""


# --------------------------------------------------------------------------- upload sessions
# Every PATCH of a chunked upload claims its session, renews the claim while the body streams and
# records the new size (registry.uploads); through SQLAlchemy Core these cost more than the
# database does.

_u = s.uploads.c

UPLOAD_ROW = Statement(
    "upload_row",
    lambda: select(_u.storage_id, _u.size, _u.created_by, _u.claim, _u.claimed_at).where(
        _u.id == bindparam("session"), _u.package_id == bindparam("package_id")
    ),
)
"""(session, package_id) -> storage_id, size, created_by, claim, claimed_at"""

UPLOAD_CLAIM = Statement(
    "upload_claim",
    lambda: (
        update(s.uploads)
        .where(
            _u.id == bindparam("session"),
            _u.size == bindparam("size"),
            or_(_u.claim.is_(None), _u.claim == bindparam("seen")),
        )
        .values(claim=bindparam("token"), claimed_at=bindparam("at"))
    ),
)
"""(session, size, seen, token, at): take the claim if the session still has ``size`` bytes and
the claim is free or still the ``seen`` (expired) one; 1 row when taken"""

UPLOAD_RENEW = Statement(
    "upload_renew",
    lambda: (
        update(s.uploads)
        .where(_u.id == bindparam("session"), _u.claim == bindparam("token"))
        .values(claimed_at=bindparam("at"))
    ),
)
"""(session, token, at): extend the claim ``token``; 1 row while it is still held"""

UPLOAD_ADVANCE = Statement(
    "upload_advance",
    lambda: (
        update(s.uploads)
        .where(
            _u.id == bindparam("session"),
            _u.claim == bindparam("token"),
            _u.size == bindparam("size"),
        )
        .values(
            size=bindparam("new_size"), updated_at=bindparam("at"), claim=null(), claimed_at=null()
        )
    ),
)
"""(session, token, size, new_size, at): record the new size and free the claim; 1 row when
the claim was still held and the size unchanged"""

UPLOAD_RELEASE = Statement(
    "upload_release",
    lambda: (
        update(s.uploads)
        .where(_u.id == bindparam("session"), _u.claim == bindparam("token"))
        .values(claim=null(), claimed_at=null())
    ),
)
"""(session, token): free the claim ``token`` without changing the size"""

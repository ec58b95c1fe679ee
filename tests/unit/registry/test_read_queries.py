"""registry.read_queries over a real database (SQLite and PostgreSQL): owners, live and deleted
packages with their counts and linked repository, versions and their tags, version ids looked up
only within their package, and the listing filter through the one decision."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from cargohold.accounts import service
from cargohold.accounts.account_service import Repository
from cargohold.accounts.credentials import load_user_principal
from cargohold.authz.model import (
    ANONYMOUS_IDENTITY,
    AccountKind,
    Credential,
    CredentialKind,
    Identity,
    Visibility,
)
from cargohold.db import schema as s
from cargohold.db import tx
from cargohold.db.engine import make_engine, migrate
from cargohold.db.raw import Reader
from cargohold.errors import ManifestUnknownError
from cargohold.registry import lifecycle, packages
from cargohold.registry import read_queries as rq
from cargohold.registry.read_model import version_id
from support.fixtures import db_url

__all__ = ["db_url"]

T0 = datetime(2100, 1, 1, tzinfo=UTC)  # after the packages are created (now)
AA, BB, CC = ("sha256:" + c * 64 for c in "abc")
BASE = "http://localhost:5000"


@pytest.fixture
def conn(db_url: str, tmp_path: Path) -> Iterator[Connection]:
    (tmp_path / "data").mkdir()
    engine: Engine = make_engine(db_url)
    migrate(engine)
    with tx.write(engine) as c:
        yield c
    engine.dispose()


def _manifest(conn: Connection, pid: int, digest: str, at: datetime, *tags: str) -> None:
    conn.execute(
        s.manifests.insert().values(
            package_id=pid, digest=digest, media_type="m", size=7, content=b"{}", created_at=at
        )
    )
    for tag in tags:
        conn.execute(s.tags.insert().values(package_id=pid, name=tag, digest=digest, updated_at=at))


def _world(conn: Connection) -> dict[str, int]:
    """alice owns acme; acme/shop (linked to repo acme/shop, three versions), acme/tools (none,
    public), alice/app (one)."""
    alice = service.create_account(conn, "alice", AccountKind.USER)
    acme = service.create_org(conn, "acme", "alice")
    repo = service.create_repo(conn, "acme/shop")
    shop = packages.create(conn, "acme/shop", owner=acme, linked_repo_id=repo).id
    tools = packages.create(conn, "acme/tools", owner=acme, visibility="public").id
    app = packages.create(conn, "alice/app", owner=alice).id
    _manifest(conn, shop, AA, T0, "v1", "latest")
    _manifest(conn, shop, BB, T0 + timedelta(days=2), "v2")
    _manifest(conn, shop, CC, T0 + timedelta(days=1))
    _manifest(conn, app, AA, T0)
    return {"alice": alice, "acme": acme, "repo": repo, "shop": shop, "tools": tools, "app": app}


def test_owner_names_users_and_organizations(conn: Connection) -> None:
    ids = _world(conn)
    alice, acme = rq.owner(conn, "alice"), rq.owner(conn, "acme")
    assert alice is not None and (alice.id, alice.kind) == (ids["alice"], AccountKind.USER)
    assert acme is not None and (acme.id, acme.kind) == (ids["acme"], AccountKind.ORG)
    assert rq.owner(conn, "nobody") is None


def test_packages_are_listed_by_name_with_their_counts(conn: Connection) -> None:
    ids = _world(conn)
    listed = rq.packages_of(conn, ids["acme"])
    assert [v.name for v in listed] == ["acme/shop", "acme/tools"]
    shop, tools = listed
    assert (shop.short_name, shop.owner.login, shop.version_count) == ("shop", "acme", 3)
    assert shop.updated_at == T0 + timedelta(days=2)  # its newest version
    assert tools.version_count == 0 and tools.updated_at == tools.created_at
    assert tools.visibility is Visibility.PUBLIC
    assert [v.name for v in rq.packages_of(conn, None)] == ["acme/shop", "acme/tools", "alice/app"]


def test_deleted_packages_and_versions_are_listed_only_on_request(conn: Connection) -> None:
    ids = _world(conn)
    lifecycle.delete_package(conn, ids["tools"], "user alice", T0)
    lifecycle.delete_version(conn, ids["shop"], BB, "user alice", T0)
    assert [v.name for v in rq.packages_of(conn, ids["acme"])] == ["acme/shop"]
    (deleted,) = rq.packages_of(conn, ids["acme"], deleted=True)
    assert deleted.name == "acme/tools" and deleted.deleted_at == T0
    found = rq.package(conn, "acme/tools")
    assert found is not None and found.deleted_at == T0
    shop = rq.package(conn, "acme/shop")
    assert shop is not None and shop.version_count == 2  # the deleted version does not count
    assert [v.digest for v in rq.versions(conn, ids["shop"])] == [CC, AA]
    (gone,) = rq.versions(conn, ids["shop"], deleted=True)
    assert gone.digest == BB and gone.tags == ("v2",) and gone.deleted_at == T0  # tags it had


def test_versions_newest_first_with_their_tags_by_name(conn: Connection) -> None:
    ids = _world(conn)
    found = rq.versions(conn, ids["shop"])
    assert [(v.digest, v.tags) for v in found] == [(BB, ("v2",)), (CC, ()), (AA, ("latest", "v1"))]
    assert found[0].id == version_id(BB) and found[0].size == 7 and not found[0].is_index


def test_linked_repository_is_named_even_deleted_but_links_only_while_live(
    conn: Connection,
) -> None:
    ids = _world(conn)
    shop = rq.package(conn, "acme/shop")
    live = Repository(ids["repo"], "acme/shop", Visibility.PRIVATE)
    assert shop is not None and shop.linked == live and shop.repository == live
    service.delete_repo(conn, "acme/shop")
    shop = rq.package(conn, "acme/shop")
    assert shop is not None and shop.repository is None
    assert shop.linked == Repository(ids["repo"], "acme/shop", Visibility.PRIVATE, deleted=True)
    assert rq.package(conn, "acme/nothing") is None


def test_a_version_id_is_found_only_within_its_package(conn: Connection) -> None:
    ids = _world(conn)
    assert rq.version(conn, ids["shop"], version_id(AA)).tags == ("latest", "v1")
    assert rq.version(conn, ids["app"], version_id(AA)).tags == ()
    for pid, vid in ((ids["app"], version_id(BB)), (ids["shop"], -1), (ids["shop"], 16**13)):
        with pytest.raises(ManifestUnknownError):
            rq.version(conn, pid, vid)


def test_visible_filters_through_the_decision(conn: Connection) -> None:
    ids = _world(conn)
    service.create_account(conn, "carol", AccountKind.USER)
    every = rq.packages_of(conn, None)
    assert rq.visible(conn, every, None, BASE) == every  # the local operator
    principal = load_user_principal(Reader.over(conn), ids["alice"])
    assert principal is not None
    alice = Identity(principal, Credential(CredentialKind.SESSION))
    assert rq.visible(conn, every, alice, BASE) == every
    carol_id = service.require_account(conn, "carol", AccountKind.USER)
    carol = load_user_principal(Reader.over(conn), carol_id)
    assert carol is not None
    stranger = Identity(carol, Credential(CredentialKind.SESSION))
    assert [v.name for v in rq.visible(conn, every, stranger, BASE)] == ["acme/tools"]
    assert [v.name for v in rq.visible(conn, every, ANONYMOUS_IDENTITY, BASE)] == ["acme/tools"]

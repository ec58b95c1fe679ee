"""Finding 1: a writer must not make itself admin through the image source label.

Linking by label happens only on the first version of a package its creator pushes; a later
push (any label, any writer) never changes the link or inheritance.
"""

from __future__ import annotations

from typing import Any

from cargohold.accounts import service
from cargohold.authz.model import RepoRole, Role
from cargohold.registry import package_settings
from support.registry_app import Registry, push_blob, push_image

SANDBOX_LABEL = (
    b'{"architecture":"amd64","os":"linux","config":{"Labels":'
    b'{"org.opencontainers.image.source":"https://github.com/acme/sandbox"}}}'
)


def _acme_with_carol(reg: Registry) -> tuple[dict[str, str], dict[str, str]]:
    """alice owns org acme; carol administers repository acme/sandbox and nothing else."""
    alice, carol = reg.user("alice"), reg.user("carol")

    def setup(conn: Any) -> None:
        service.create_org(conn, "acme", "alice")
        service.create_repo(conn, "acme/sandbox")
        service.add_collaborator(conn, "acme/sandbox", RepoRole.ADMIN, user="carol")

    reg.db(setup)
    return alice, carol


async def test_a_writer_cannot_link_by_label_after_the_versions_are_gone(
    secured: Registry,
) -> None:
    c = secured.client
    alice, carol = _acme_with_carol(secured)
    digest, _ = await push_image(c, "acme/app", "v1", headers=alice)
    assert (await c.delete(f"/v2/acme/app/manifests/{digest}", headers=alice)).status == 202
    secured.db(lambda conn: package_settings.grant(conn, "acme/app", Role.WRITE, user="carol"))

    carols, _ = await push_image(
        c, "acme/app", "v2", headers=carol, config=SANDBOX_LABEL, seed=b"c"
    )

    shown = secured.db(lambda conn: package_settings.describe(conn, "acme/app"))
    assert shown.linked_repository is None
    assert shown.inherit is False
    # Still only a writer: deleting a version needs admin.
    assert (await c.delete(f"/v2/acme/app/manifests/{carols}", headers=carol)).status == 403


async def test_the_first_version_by_someone_else_than_the_creator_links_nothing(
    secured: Registry,
) -> None:
    c = secured.client
    alice, carol = _acme_with_carol(secured)
    await push_blob(c, "acme/app", b"created by alice's first blob", headers=alice)
    secured.db(lambda conn: package_settings.grant(conn, "acme/app", Role.WRITE, user="carol"))

    await push_image(c, "acme/app", "v1", headers=carol, config=SANDBOX_LABEL, seed=b"c")

    shown = secured.db(lambda conn: package_settings.describe(conn, "acme/app"))
    assert shown.linked_repository is None
    # And the pending link is over: alice's own labelled push later links nothing either.
    await push_image(c, "acme/app", "v2", headers=alice, config=SANDBOX_LABEL, seed=b"a")
    assert (
        secured.db(lambda conn: package_settings.describe(conn, "acme/app")).linked_repository
        is None
    )

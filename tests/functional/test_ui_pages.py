"""Web UI pages: who sees which package, what the package page shows, the settings page for
admins and for others, nested names, the denial messages' links, the audit view."""

from __future__ import annotations

import json

from cargohold.accounts.token_service import JobTokenRequest
from cargohold.authz.model import OrgRole, PatScope, Role, Visibility
from support.registry_app import Registry, basic, digest_of, push_blob, push_image
from support.ui import UiClient, cheap_argon2, world

__all__ = ["cheap_argon2"]

PKG = "/orgs/acme/packages/container/package/shop"
SETTINGS = "/orgs/acme/packages/container/shop/settings"


async def test_org_page_lists_only_what_each_person_may_read(secured: Registry) -> None:
    secrets = await world(secured)
    await push_image(secured.client, "acme/tools", "1", headers=basic("alice", secrets["alice"]))
    ui = UiClient(secured)
    await ui.sign_in("bob")
    status, page = await ui.get("/orgs/acme/packages")
    assert status == 200 and "acme/shop" in page and "acme/tools" not in page
    ui.sign_out()
    await ui.sign_in("carol")
    status, page = await ui.get("/orgs/acme/packages")
    assert status == 200 and "acme/shop" not in page and "No packages here" in page
    await secured.services.package_settings.set_visibility("acme/tools", Visibility.PUBLIC)
    ui.sign_out()  # anonymous visitors see public packages
    status, page = await ui.get("/orgs/acme/packages")
    assert "acme/tools" in page and "acme/shop" not in page


async def test_home_lists_every_readable_package(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("bob")
    status, page = await ui.get("/")
    assert status == 200 and 'href="/orgs/acme/packages/container/package/shop"' in page


async def test_orgs_and_users_urls_do_not_mix(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("alice")
    assert (await ui.get("/users/acme/packages"))[0] == 404
    assert (await ui.get("/orgs/alice/packages"))[0] == 404
    assert (await ui.get("/orgs/nobody/packages"))[0] == 404
    assert (await ui.get("/users/alice/packages"))[0] == 200
    assert (await ui.get("/users/acme/packages/container/package/shop"))[0] == 404
    assert (await ui.get("/users/acme/packages/container/shop/settings"))[0] == 404
    assert (await ui.get("/orgs/acme/packages/container/package/shop"))[0] == 200


async def test_package_page_shows_versions_tags_layers_and_pull_command(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("bob")
    status, page = await ui.get(PKG)
    assert status == 200
    assert '<span class="tag">v1</span>' in page
    assert "docker pull 127.0.0.1:5000/acme/shop:v1" in page
    assert "Layers (1)" in page and "sha256:" in page and "created 20" in page
    assert "not linked" in page


async def test_stranger_gets_404_for_package_settings_and_audit(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("carol")
    for url in (PKG, SETTINGS, "/orgs/acme/packages/container/shop/audit"):
        status, page = await ui.get(url)
        assert status == 404, url
        assert "Manage Actions access" not in page and "alice" not in page
    # A package that does not exist reads the same.
    status, missing = await ui.get("/orgs/acme/packages/container/package/nope")
    assert status == 404 and "that you can see" in missing


async def test_admin_sees_the_settings_button_others_see_who_can(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("alice")
    _, page = await ui.get(PKG)
    assert 'id="package-settings"' in page and "Package settings" in page
    ui.sign_out()
    await ui.sign_in("bob")
    _, page = await ui.get(PKG)
    assert 'id="package-settings"' not in page
    assert "Only admins of this package can change its settings: user alice" in page


async def test_reader_opening_settings_sees_only_who_the_admins_are(secured: Registry) -> None:
    await world(secured)
    await secured.services.package_settings.add_actions_access("acme/shop", "acme/web", Role.READ)
    ui = UiClient(secured)
    await ui.sign_in("bob")
    status, page = await ui.get(SETTINGS)
    assert status == 200
    assert "you are not an admin of it" in page and "user alice" in page
    for hidden in (
        'id="actions-access"',
        "acme/web",
        "Danger zone",
        '<form method="post" action="/orgs',
    ):
        assert hidden not in page, hidden


async def test_settings_page_has_every_section_with_its_anchor(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("alice")
    status, page = await ui.get(SETTINGS)
    assert status == 200
    for anchor in (
        "repository-source", "inherit-access", "actions-access", "manage-access",
        "effective-access", "danger-zone",
    ):  # fmt: skip
        assert f'id="{anchor}"' in page, anchor
    # Effective access names everyone with a role, and why.
    assert "owner of organization acme" in page
    assert "user bob" in page and "granted read in Manage access" in page


async def test_nested_names_work_encoded_and_plain(secured: Registry) -> None:
    secrets = await world(secured)
    await push_image(
        secured.client, "acme/tools/cli", "2", headers=basic("alice", secrets["alice"])
    )
    ui = UiClient(secured)
    await ui.sign_in("alice")
    _, listing = await ui.get("/orgs/acme/packages")
    assert 'href="/orgs/acme/packages/container/package/tools%2Fcli"' in listing
    for url in (
        "/orgs/acme/packages/container/package/tools%2Fcli",
        "/orgs/acme/packages/container/package/tools/cli",
    ):
        status, page = await ui.get(url)
        assert status == 200 and "acme/tools/cli:2" in page, url
    status, page = await ui.get("/orgs/acme/packages/container/tools%2Fcli/settings")
    assert (
        status == 200 and 'action="/orgs/acme/packages/container/tools%2Fcli/settings/link"' in page
    )


async def test_user_namespace_pages(secured: Registry) -> None:
    await world(secured)
    pat = (
        await secured.services.tokens.create_pat(
            "bob", frozenset({"read:packages", "write:packages"})
        )
    ).secret
    await push_image(secured.client, "bob/tool", "1", headers=basic("bob", pat))
    ui = UiClient(secured)
    await ui.sign_in("bob")
    assert "bob/tool" in (await ui.get("/users/bob/packages"))[1]
    status, page = await ui.get("/users/bob/packages/container/package/tool")
    assert status == 200 and 'id="package-settings"' in page
    status, page = await ui.get("/users/bob/packages/container/tool/settings")
    assert status == 200 and 'id="actions-access"' in page


async def test_denial_links_open_the_settings_section(secured: Registry) -> None:
    await world(secured)
    job = await secured.services.tokens.mint_job_token(
        JobTokenRequest("acme/web", {"packages": "write"})
    )
    resp = await secured.client.post(
        "/v2/acme/shop/blobs/uploads/", headers=basic("x", str(job["token"]))
    )
    assert resp.status == 403
    message = (await resp.json())["errors"][0]["message"]
    link = next(
        word for word in message.replace("(", " ").replace(")", " ").split() if "/settings#" in word
    )
    path, _, anchor = link.partition("http://127.0.0.1:5000")[2].partition("#")
    assert anchor == "actions-access"
    ui = UiClient(secured)
    await ui.sign_in("alice")
    resp = await secured.client.get(path, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == SETTINGS
    status, page = await ui.get(resp.headers["Location"])
    assert status == 200 and f'id="{anchor}"' in page


async def test_index_platforms_and_referrers_are_shown(secured: Registry) -> None:
    secrets = await world(secured)
    h = basic("alice", secrets["alice"])
    digests = {}
    for arch in ("amd64", "arm64"):
        config = json.dumps({"architecture": arch, "os": "linux"}).encode()
        digests[arch], body = await push_image(
            secured.client, "acme/shop", f"tmp-{arch}", headers=h, config=config, seed=arch.encode()
        )
        digests[arch + "-size"] = str(len(body))
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digests[a],
             "size": int(digests[a + "-size"]), "platform": {"os": "linux", "architecture": a}}
            for a in ("amd64", "arm64")
        ],
    }).encode()  # fmt: skip
    resp = await secured.client.put(
        "/v2/acme/shop/manifests/multi", data=index,
        headers={**h, "Content-Type": "application/vnd.oci.image.index.v1+json"},
    )  # fmt: skip
    assert resp.status == 201, await resp.text()
    empty = await push_blob(secured.client, "acme/shop", b"{}", h)
    sig = await push_blob(secured.client, "acme/shop", b"sig", h)
    artifact = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": sig, "size": 3}],
        "subject": {"mediaType": "application/vnd.oci.image.index.v1+json",
                    "digest": digest_of(index), "size": len(index)},
    }).encode()  # fmt: skip
    resp = await secured.client.put(
        f"/v2/acme/shop/manifests/{digest_of(artifact)}", data=artifact,
        headers={**h, "Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )  # fmt: skip
    assert resp.status == 201, await resp.text()
    ui = UiClient(secured)
    await ui.sign_in("alice")
    _, page = await ui.get(PKG)
    assert "multi-arch index" in page and "linux/amd64" in page and "linux/arm64" in page
    section = page[page.index("multi</span>") :]
    section = section[: section.index("</article>")]
    assert "application/vnd.dev.cosign.simplesigning.v1+json" in section  # under its version


async def test_audit_view_for_admins_only(secured: Registry) -> None:
    await world(secured)
    secured.services.audit_buffer.flush()  # type: ignore[union-attr]
    ui = UiClient(secured)
    await ui.sign_in("alice")
    status, page = await ui.get("/orgs/acme/packages/container/shop/audit")
    assert status == 200 and "user alice" in page and "push" in page
    ui.sign_out()
    await ui.sign_in("bob")
    status, page = await ui.get("/orgs/acme/packages/container/shop/audit")
    assert status == 200 and "Only admins of acme/shop can read its audit log" in page
    assert "<td>push" not in page


async def test_org_package_settings_for_members_only(secured: Registry) -> None:
    await world(secured)
    svc = secured.services
    await svc.accounts.add_org_member("acme", "bob", OrgRole.MEMBER)
    await svc.accounts.set_org_settings("acme", member_create_visibilities=frozenset())
    pat = (await svc.tokens.create_pat("bob", frozenset(PatScope))).secret
    refused = await secured.client.post("/v2/acme/new/blobs/uploads/", headers=basic("bob", pat))
    assert refused.status == 403
    message = (await refused.json())["errors"][0]["message"]
    assert "http://127.0.0.1:5000/orgs/acme/settings/packages" in message
    ui = UiClient(secured)
    await ui.sign_in("bob")
    status, page = await ui.get("/orgs/acme/settings/packages")
    assert status == 200 and 'id="package-creation"' in page
    assert "may create <strong>no</strong> packages" in " ".join(page.split())
    assert "Only owners of acme can change these settings: alice" in page
    ui.sign_out()
    await ui.sign_in("carol")
    assert (await ui.get("/orgs/acme/settings/packages"))[0] == 404


async def test_deleted_versions_and_packages_are_not_shown(secured: Registry) -> None:
    secrets = await world(secured)
    svc = secured.services
    alice = basic("alice", secrets["alice"])
    await push_image(secured.client, "acme/shop", "v2", seed=b"2", headers=alice)
    old = next(v for v in await svc.lifecycle.list_versions("acme/shop", by=None) if "v1" in v.tags)
    await svc.lifecycle.delete_version("acme/shop", old.id, by=None)
    ui = UiClient(secured)
    await ui.sign_in("alice")
    _, page = await ui.get(PKG)
    assert '<span class="tag">v2</span>' in page and old.digest not in page
    assert '<span class="tag">v1</span>' not in page
    count = (await svc.lifecycle.get_package("acme/shop", by=None)).version_count
    _, listing = await ui.get("/orgs/acme/packages")
    assert count == 1 and "1 version ·" in listing  # the REST API's count, one fact

    await svc.lifecycle.delete_package("acme/shop", by=None)
    for url in ("/", "/orgs/acme/packages"):
        assert "acme/shop" not in (await ui.get(url))[1]
    missing = "/orgs/acme/packages/container/package/nothing"
    _, expected = await ui.get(missing)
    for url in (PKG, SETTINGS, "/orgs/acme/packages/container/shop/audit"):
        status, page = await ui.get(url)
        # a deleted package reads exactly as one that never existed, even to its admin
        assert status == 404 and "no package acme/shop that you can see" in page
        assert page.replace("acme/shop", "acme/nothing") == expected
    await svc.lifecycle.restore_package("acme/shop", by=None)
    assert "acme/shop" in (await ui.get("/orgs/acme/packages"))[1]


async def test_package_page_names_its_repository_even_once_deleted(secured: Registry) -> None:
    await world(secured)
    svc = secured.services
    await svc.package_settings.link("acme/shop", "acme/shop")
    ui = UiClient(secured)
    await ui.sign_in("alice")
    _, page = await ui.get(PKG)
    assert "Repository source:\n<strong>acme/shop</strong>" in page
    repo_id = await svc.accounts.delete_repo("acme/shop")
    _, page = await ui.get(PKG)
    assert f"<strong>acme/shop (deleted, id {repo_id})</strong>" in page
    # the REST API links a live repository only
    assert (await svc.lifecycle.get_package("acme/shop", by=None)).repository is None

"""Text from pushers (labels, annotations, tags, artifact types) and from people (token notes)
is shown as text: nothing a pusher writes becomes markup in an admin's browser."""

from __future__ import annotations

import json

from support.registry_app import Registry, basic, digest_of, push_blob, push_image
from support.ui import UiClient, cheap_argon2, world

__all__ = ["cheap_argon2"]

PKG = "/orgs/acme/packages/container/package/shop"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'


async def test_html_in_labels_and_annotations_is_escaped(secured: Registry) -> None:
    secrets = await world(secured)
    h = basic("alice", secrets["alice"])
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "config": {"Labels": {SCRIPT: IMG}}}
    ).encode()
    digest, _ = await push_image(
        secured.client, "acme/shop", "v9", headers=h, config=config, seed=b"z"
    )
    empty = await push_blob(secured.client, "acme/shop", b"{}", h)
    manifest = json.loads(
        await (await secured.client.get(f"/v2/acme/shop/manifests/{digest}", headers=h)).read()
    )
    artifact = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/x-" + "evil",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": empty, "size": 2}],
        "subject": {"mediaType": manifest["mediaType"], "digest": digest,
                    "size": len(json.dumps(manifest))},
        "annotations": {"note": SCRIPT + IMG},
    }).encode()  # fmt: skip
    resp = await secured.client.put(
        f"/v2/acme/shop/manifests/{digest_of(artifact)}",
        data=artifact,
        headers={**h, "Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert resp.status == 201, await resp.text()
    ui = UiClient(secured)
    await ui.sign_in("alice")
    status, page = await ui.get(PKG)
    assert status == 200
    assert SCRIPT not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page


async def test_a_token_note_is_escaped(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("bob")
    await ui.get("/settings/tokens")
    resp = await ui.post(
        "/settings/tokens", {"name": SCRIPT, "scopes": "read:packages", "expires": "7"}
    )
    page = await resp.text()
    assert SCRIPT not in page and "&lt;script&gt;" in page


async def test_a_login_echoed_back_is_escaped(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.get("/login")
    resp = await ui.post("/login", {"login": IMG, "password": "whatever it is"})
    page = await resp.text()
    assert resp.status == 401 and "<img src=x" not in page

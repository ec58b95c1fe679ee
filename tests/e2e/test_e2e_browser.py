"""The web UI in a real browser: headless Chromium (Debian ``chromium``) driven by Playwright.

The story of issue 7: an org owner signs in, goes from the organization's packages to
``acme/shop``, opens **Package settings**, and under **Manage Actions access** adds the
repository ``acme/shop`` with Write; the release workflow's job-token push that was refused a
moment before (``denied: permission_denied: write_package``) then succeeds, with the same token.

Screenshots of the package page and the settings page are saved to ``CARGOHOLD_TEST_ARTIFACTS``
(default: ``<pytest tmp>/artifacts``). Playwright drives the system Chromium through its
executable path; no browser is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from support.containers import in_ci
from support.e2e import cli, creds, http, run, secret_of
from support.oci_layout import make_oci_index_layout
from support.server import ServerProcess, run_cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"
HOSTILE_LABEL = '<script>alert("label")</script><img src=x onerror=alert(1)>'
HOSTILE_ANNOTATION = "<b>bold</b> & <i>friends</i>"
SIG_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SBOM_TYPE = "application/spdx+json"


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go (``CARGOHOLD_TEST_*`` variables are not settings of cargohold)."""
    where = Path(os.environ.get("CARGOHOLD_TEST_ARTIFACTS") or tmp_path / "artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    if not Path(CHROMIUM).exists():
        message = "chromium is not installed (scripts/install-test-deps.sh installs it)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    profile = tmp_path / "chromium-profile"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put_blob(server: ServerProcess, secret: str, name: str, data: bytes) -> dict[str, Any]:
    digest = _digest(data)
    url = f"{server.url}/v2/{name}/blobs/uploads/?digest={digest}"
    resp = http("POST", url, secret=secret, data=data)
    assert resp.status == 201, resp.text
    return {"digest": digest, "size": len(data)}


def _put_manifest(
    server: ServerProcess, secret: str, name: str, doc: dict[str, Any], ref: str | None = None
) -> dict[str, Any]:
    body = json.dumps(doc).encode()
    digest = _digest(body)
    resp = http(
        "PUT",
        f"{server.url}/v2/{name}/manifests/{ref or digest}",
        secret=secret,
        data=body,
        headers={"Content-Type": doc["mediaType"]},
    )
    assert resp.status == 201, resp.text
    return {"mediaType": doc["mediaType"], "digest": digest, "size": len(body)}


def push_labelled_image(server: ServerProcess, secret: str) -> dict[str, Any]:
    """acme/shop:v1.0.1 with HTML in a label and an annotation, plus a signature and an SBOM
    attached to it through ``subject`` (the referrers API)."""
    name = "acme/shop"
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"org.example.note": HOSTILE_LABEL, "maintainer": "acme"}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    layer = b"web ui layer " * 200
    image = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            **_put_blob(server, secret, name, config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                **_put_blob(server, secret, name, layer),
            }
        ],
        "annotations": {"org.opencontainers.image.description": HOSTILE_ANNOTATION},
    }
    subject = _put_manifest(server, secret, name, image, "v1.0.1")
    empty = {
        "mediaType": "application/vnd.oci.empty.v1+json",
        **_put_blob(server, secret, name, b"{}"),
    }
    for artifact_type, payload in ((SIG_TYPE, b"signature"), (SBOM_TYPE, b'{"spdx": 1}')):
        _put_manifest(
            server,
            secret,
            name,
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": artifact_type,
                "config": empty,
                "layers": [
                    {"mediaType": artifact_type, **_put_blob(server, secret, name, payload)}
                ],
                "subject": subject,
                "annotations": {"org.opencontainers.image.created": "2026-11-30T12:00:00Z"},
            },
        )
    return subject


def skopeo_push(
    skopeo: str, env: dict[str, str], server: ServerProcess, layout: Path, tag: str, secret: str,
    *, ok: bool, all_images: bool = False,
) -> str:  # fmt: skip
    argv = [skopeo, "copy", "--quiet", "--dest-tls-verify=false"]
    argv += ["--all"] if all_images else []
    argv += ["--dest-creds", creds(secret, "github-actions"), f"oci:{layout}:{tag}"]
    argv += [f"docker://{server.host}/acme/shop:{tag}"]
    return run(argv, env=env, ok=ok, server=server).stderr


def test_owner_grants_actions_access_in_the_browser_and_the_job_push_succeeds(
    server: ServerProcess,
    client_env: dict[str, str],
    skopeo: str,
    browser: Any,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    cli(server, "user", "create", "alice")
    cli(server, "org", "create", "acme", "--owner", "alice")
    cli(server, "repo", "create", "acme/shop")
    set_password = run_cli("user", "password", "alice", data_dir=server.data_dir, input=PASSWORD)
    assert set_password.returncode == 0, set_password.stderr
    scopes = "read:packages,write:packages"
    pat = secret_of(cli(server, "token", "create", "--user", "alice", "--scopes", scopes))
    # alice pushes a multi-arch release, then an image with labels, annotations and referrers.
    layout = tmp_path / "release"
    make_oci_index_layout(layout, layers=2, size=2048, seed=7, tag="v1.0.0")
    skopeo_push(skopeo, client_env, server, layout, "v1.0.0", pat, ok=True, all_images=True)
    push_labelled_image(server, pat)

    # The release workflow's job token is refused: acme/shop has no Actions access yet.
    job = secret_of(
        cli(server, "job-token", "create", "--repository", "acme/shop",
            "--permissions", "packages=write,contents=read", "--run-id", "42")
    )  # fmt: skip
    layout2 = tmp_path / "release2"
    make_oci_index_layout(layout2, layers=1, size=1024, seed=8, tag="v2")
    refused = skopeo_push(skopeo, client_env, server, layout2, "v2", job, ok=False)
    assert "denied: permission_denied: write_package" in refused
    assert "#actions-access" in refused  # the denial links to the section fixed below

    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    # Sign in as the org owner.
    page.goto(f"{server.url}/")
    assert page.url.startswith(f"{server.url}/login")
    page.fill("#login", "alice")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]:has-text('Sign in')")
    assert page.locator("text=Signed in as").is_visible()

    # From the organization's packages to the package.
    page.goto(f"{server.url}/orgs/acme/packages")
    page.click("a.pkg:has-text('acme/shop')")
    assert page.url == f"{server.url}/orgs/acme/packages/container/package/shop"
    assert page.locator("text=docker pull").is_visible()
    assert page.locator("td:has-text('linux/arm64')").count() >= 1  # platforms of the index
    assert page.locator(f".tag.artifact:has-text('{SIG_TYPE}')").count() == 1
    assert page.locator(f".tag.artifact:has-text('{SBOM_TYPE}')").count() == 1
    # HTML in a label and an annotation is text, not markup.
    assert page.locator("dl.labels dd", has_text=HOSTILE_LABEL).count() == 1
    assert page.locator("dl.annotations dd", has_text=HOSTILE_ANNOTATION).count() == 1
    assert page.locator("dl.annotations b").count() == 0
    page.screenshot(path=str(artifacts / "package-page.png"), full_page=True)

    # Package settings, at the top of the page.
    settings_button = page.locator("#package-settings")
    assert settings_button.is_visible()
    settings_button.click()
    assert page.url == f"{server.url}/orgs/acme/packages/container/shop/settings"

    # Manage Actions access: add acme/shop with Write.
    section = page.locator("#actions-access")
    assert section.locator("h2", has_text="Manage Actions access").is_visible()
    section.locator("#aa-repo").fill("acme/shop")
    section.locator("#aa-role").select_option("write")
    section.locator("#aa-add").click()
    assert page.url.endswith("/orgs/acme/packages/container/shop/settings#actions-access")
    assert page.locator(".flash.ok").inner_text() == (
        "Repository acme/shop has write access to acme/shop in Actions."
    )
    row = page.locator("#actions-access table tr", has_text="acme/shop")
    assert row.locator("select").input_value() == "write"
    effective = page.locator("#effective-access tr", has_text="repository acme/shop")
    assert "granted write in Manage Actions access" in effective.inner_text()
    page.screenshot(path=str(artifacts / "settings-page.png"), full_page=True)

    # The same job token, the same push: now it succeeds.
    skopeo_push(skopeo, client_env, server, layout2, "v2", job, ok=True)
    page.goto(f"{server.url}/orgs/acme/packages/container/package/shop")
    assert page.locator(".tag", has_text=re.compile(r"^v2$")).count() == 1
    page.screenshot(path=str(artifacts / "package-page-after-push.png"), full_page=True)

    # The denial's own link opens the settings page at the right section.
    link = re.search(r"(http://\S+/settings#actions-access)", refused)
    assert link is not None, refused
    page.goto(link.group(1))
    assert page.url == f"{server.url}/orgs/acme/packages/container/shop/settings#actions-access"

    # A reader who opens the same link sees who can change the settings, and nothing more.
    cli(server, "user", "create", "bob")
    cli(server, "package", "access", "add", "acme/shop", "--user", "bob", "--role", "read")
    bob = run_cli("user", "password", "bob", data_dir=server.data_dir, input=PASSWORD)
    assert bob.returncode == 0, bob.stderr
    browser.clear_cookies()
    page.goto(f"{server.url}/login")
    page.fill("#login", "bob")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]:has-text('Sign in')")
    page.goto(link.group(1))
    assert page.locator("#package-settings").count() == 0
    assert page.locator("#actions-access").count() == 0
    notice = page.locator("#not-admin").inner_text()
    assert "you are not an admin of it" in notice and "user alice" in notice
    page.screenshot(path=str(artifacts / "settings-page-reader.png"), full_page=True)
    assert problems == [], problems  # no CSP violation, no script error

"""The scenario of issue 3, section 6, end to end: real clients, a real server, auth on.

A release workflow pushes ``acme/shop`` with its job token and meets GHCR's
``denied: permission_denied: write_package``; the fix ("Manage Actions access", role write)
makes the same push work. Around it: a job token without ``packages: write``, anonymous pulls
of a private then public package, a package created by a job (linked, its repository admin), a
deleted and re-created repository whose jobs lose access, and expired and revoked tokens.

The CI log line of step 2 (skopeo's stderr) is printed to the terminal even under capture,
and recorded as the JUnit property ``step2_skopeo_stderr``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.e2e import (
    TLS_OFF,
    cli,
    cli_json,
    creds,
    error_lines,
    http,
    manifest_status,
    run,
    secret_of,
    tags,
    wait_for,
)
from support.oci_layout import make_oci_layout, read_blob
from support.server import ServerProcess

WRITE_PACKAGE = "denied: permission_denied: write_package"
INSTALLATION_WRITE = "installation not allowed to Write organization package"
UNAUTHENTICATED = "unauthenticated: User cannot be authenticated with the token provided."
FIX = "cargohold package actions-access add acme/shop --repository acme/shop --role write"
SIZE = 4096


class World:
    """The server, the clients' environment, and the images of the scenario."""

    def __init__(
        self, server: ServerProcess, env: dict[str, str], skopeo: str, podman: str, tmp: Path
    ) -> None:
        self.server = server
        self.env = env
        self.skopeo = skopeo
        self.podman = podman
        self.tmp = tmp
        self.digests: dict[str, str] = {}
        self.refused_job = ""  # step 2's job token, reused unchanged in step 3

    def image(self, tag: str, seed: int) -> Path:
        """An OCI layout holding one small image tagged ``tag`` (distinct blobs per seed)."""
        layout = self.tmp / "images" / tag
        self.digests[tag] = make_oci_layout(layout, layers=2, size=SIZE, seed=seed, tag=tag)
        return layout

    def push(
        self, layout: Path, tag: str, name: str, secret: str, *, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``skopeo copy oci:LAYOUT:TAG docker://HOST/NAME:TAG`` as a CI job would push."""
        return run(
            [
                self.skopeo,
                "copy",
                "--quiet",
                "--preserve-digests",
                "--dest-tls-verify=false",
                "--dest-creds",
                creds(secret, "github-actions"),
                f"oci:{layout}:{tag}",
                f"docker://{self.server.host}/{name}:{tag}",
            ],
            env=self.env,
            ok=ok,
            server=self.server,
        )

    def job_token(self, repository: str, permissions: str | None, run_id: str = "42") -> str:
        args = ["job-token", "create", "--repository", repository, "--run-id", run_id]
        if permissions is not None:
            args += ["--permissions", permissions]
        secret = secret_of(cli(self.server, *args))
        assert secret.startswith("chj_"), secret
        return secret


def test_release_workflow_scenario(
    server: ServerProcess,
    client_env: dict[str, str],
    skopeo: str,
    podman: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    record_testsuite_property: Callable[[str, object], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = World(server, client_env, skopeo, podman, tmp_path)
    alice = step1_alice_pushes_and_owns_the_package(w)
    line = step2_job_token_denied_write_package(w, alice)
    # The CI log line of step 2, as skopeo prints it: on the terminal whatever the capture
    # mode, and in the JUnit XML (a test property with junit_family=legacy/xunit1, a suite
    # property with the default xunit2).
    record_property("step2_skopeo_stderr", line)
    record_testsuite_property("step2_skopeo_stderr", line)
    with capsys.disabled():
        print(f"\n[scenario step 2] skopeo stderr: {line}")
    step3_actions_access_fixes_the_push(w, alice)
    step4_job_token_without_packages_write(w)
    step5_anonymous_pull_private_then_public(w)
    step6_package_created_by_a_job_is_linked(w, alice)
    step7_deleted_and_recreated_repository(w)
    step8_expired_and_revoked_tokens(w)
    audit_lists_both_decisions(w)


def step1_alice_pushes_and_owns_the_package(w: World) -> str:
    """alice owns org acme; repo acme/shop; alice's PAT push creates a private package."""
    cli(w.server, "user", "create", "alice")
    cli(w.server, "org", "create", "acme", "--owner", "alice")
    cli(w.server, "repo", "create", "acme/shop")
    alice = secret_of(
        cli(
            w.server,
            "token",
            "create",
            "--user",
            "alice",
            "--scopes",
            "read:packages,write:packages,delete:packages",
        )
    )
    assert alice.startswith("chp_"), alice

    w.push(w.image("v0.0.9", seed=9), "v0.0.9", "acme/shop", alice)

    shown = cli_json(w.server, "package", "show", "acme/shop")
    assert shown["name"] == "acme/shop"
    assert shown["visibility"] == "private", shown
    assert shown["linked_repository"] is None, shown
    assert shown["actions_access"] == [], shown
    why = cli_json(w.server, "why", "acme/shop", "--user", "alice")
    assert why["role"] == "admin", why
    kinds = {source["kind"] for source in why["sources"]}
    assert {"owner", "publisher"} <= kinds, why
    assert tags(w.server, "acme/shop", alice) == ["v0.0.9"]
    return alice


def step2_job_token_denied_write_package(w: World, alice: str) -> str:
    """A job token of acme/shop (packages=write) pushes v0.0.10: write_package, with the fix."""
    layout = w.image("v0.0.10", seed=10)
    job = w.job_token("acme/shop", "packages=write,contents=read", run_id="42")
    failed = w.push(layout, "v0.0.10", "acme/shop", job, ok=False)

    lines = error_lines(failed.stderr, WRITE_PACKAGE)
    line = lines[0] if lines else failed.stderr.strip()
    context = f"skopeo stderr of step 2:\n{failed.stderr}"
    assert lines, context
    assert "repository acme/shop" in line, context
    assert "job token, run 42" in line, context
    assert FIX in line, context

    # Nothing of the refused push is visible: no tag, no manifest, no blob.
    assert tags(w.server, "acme/shop", alice) == ["v0.0.9"], context
    assert manifest_status(w.server, "acme/shop", w.digests["v0.0.10"], alice) == 404
    manifest = json.loads(read_blob(layout, w.digests["v0.0.10"]))
    for descriptor in [manifest["config"], *manifest["layers"]]:
        url = f"{w.server.url}/v2/acme/shop/blobs/{descriptor['digest']}"
        assert http("HEAD", url, secret=alice).status == 404, descriptor
    w.refused_job = job
    return line


def step3_actions_access_fixes_the_push(w: World, alice: str) -> None:
    """Manage Actions access: acme/shop gets write; the same push (same token) succeeds."""
    # Run the very command the denial printed.
    shown = cli_json(w.server, *FIX.removeprefix("cargohold ").split())
    access = [(a["repository"], a["role"]) for a in shown["actions_access"]]
    assert access == [("acme/shop", "write")], shown

    job = w.refused_job
    w.push(w.tmp / "images" / "v0.0.10", "v0.0.10", "acme/shop", job)
    host = w.server.host
    run(
        [
            w.skopeo,
            "copy",
            "--quiet",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            creds(job, "github-actions"),
            "--dest-creds",
            creds(job, "github-actions"),
            f"docker://{host}/acme/shop:v0.0.10",
            f"docker://{host}/acme/shop:latest",
        ],
        env=w.env,
        server=w.server,
    )
    assert sorted(tags(w.server, "acme/shop", alice)) == ["latest", "v0.0.10", "v0.0.9"]
    latest = http(
        "HEAD",
        f"{w.server.url}/v2/acme/shop/manifests/latest",
        secret=alice,
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert latest.headers.get("Docker-Content-Digest") == w.digests["v0.0.10"]


def step4_job_token_without_packages_write(w: World) -> None:
    """A job that lists only contents=read has packages: none: the installation text."""
    job = w.job_token("acme/shop", "contents=read", run_id="43")
    failed = w.push(w.image("v0.0.11", seed=11), "v0.0.11", "acme/shop", job, ok=False)
    print(f"\nstep 4, skopeo stderr:\n{failed.stderr}")
    assert f"denied: {INSTALLATION_WRITE}" in failed.stderr, failed.stderr
    assert "packages: write" in failed.stderr, failed.stderr


def step5_anonymous_pull_private_then_public(w: World) -> None:
    """Anonymous pull: 401 with a challenge while private; works (podman) once public."""
    host = w.server.host
    ref = f"{host}/acme/shop:v0.0.9"
    resp = http("GET", f"{w.server.url}/v2/acme/shop/manifests/v0.0.9")
    assert resp.status == 401, resp.text
    challenge = resp.headers.get("WWW-Authenticate", "")
    assert challenge.startswith(f'Bearer realm="{w.server.url}/token"'), challenge
    assert 'scope="repository:acme/shop:pull"' in challenge, challenge
    assert resp.json()["errors"][0]["message"].startswith("authentication required")

    refused = run(
        [w.skopeo, "inspect", TLS_OFF, "--no-creds", f"docker://{ref}"], env=w.env, ok=False
    )
    lowered = refused.stderr.lower()
    assert "authentication required" in lowered or "unauthorized" in lowered, refused.stderr
    refused = run([w.podman, "pull", "--quiet", TLS_OFF, ref], env=w.env, ok=False)
    assert "authentication required" in refused.stderr.lower(), refused.stderr

    shown = cli_json(w.server, "package", "visibility", "acme/shop", "public")
    assert shown["visibility"] == "public"

    run([w.podman, "pull", "--quiet", TLS_OFF, ref], env=w.env, server=w.server)
    run([w.skopeo, "inspect", TLS_OFF, "--no-creds", f"docker://{ref}"], env=w.env)
    resp = http("GET", f"{w.server.url}/v2/acme/shop/tags/list")
    assert resp.status == 200 and "v0.0.9" in resp.json()["tags"], resp.text


def step6_package_created_by_a_job_is_linked(w: World, alice: str) -> None:
    """The first push of acme/api by a job of acme/api: linked, inherit on, acme/api admin.

    The job token comes from the runner API, as a CI system would get it, and is revoked
    through it when the job ends.
    """
    cli(w.server, "repo", "create", "acme/api")
    runner = secret_of(cli(w.server, "runner", "create", "ci", "--serves", "acme/api"))
    minted = http(
        "POST",
        f"{w.server.url}/api/v1/job-tokens",
        headers={"Authorization": f"Bearer {runner}", "Content-Type": "application/json"},
        data=json.dumps(
            {
                "repository": "acme/api",
                "permissions": {"packages": "write", "contents": "read"},
                "ttl": 600,
                "run_id": "7",
            }
        ).encode(),
    )
    assert minted.status == 201, minted.text
    job = minted.json()["token"]
    assert job.startswith("chj_")

    w.push(w.image("v1", seed=1), "v1", "acme/api", job)

    shown = cli_json(w.server, "package", "show", "acme/api")
    assert shown["linked_repository"] == "acme/api", shown
    assert shown["inherit"] is True, shown
    assert [(a["repository"], a["role"]) for a in shown["actions_access"]] == [
        ("acme/api", "admin")
    ], shown
    assert shown["visibility"] == "private", shown
    why = cli_json(w.server, "why", "acme/api", "--repository", "acme/api")
    assert why["role"] == "admin", why
    assert tags(w.server, "acme/api", alice) == ["v1"]

    # The job ends: the runner revokes its token, which fails on its very next request.
    gone = http(
        "DELETE",
        f"{w.server.url}/api/v1/job-tokens/{minted.json()['id']}",
        headers={"Authorization": f"Bearer {runner}"},
    )
    assert gone.status == 204, gone.text
    resp = http("GET", f"{w.server.url}/v2/acme/api/tags/list", secret=job)
    assert resp.status == 401, resp.text
    assert resp.json()["errors"][0]["message"].startswith(UNAUTHENTICATED)


def step7_deleted_and_recreated_repository(w: World) -> None:
    """acme/shop deleted and re-created: its new jobs are denied again, and told why."""
    cli(w.server, "repo", "delete", "acme/shop")
    cli(w.server, "repo", "create", "acme/shop")
    job = w.job_token("acme/shop", "packages=write,contents=read", run_id="44")
    failed = w.push(w.image("v0.0.12", seed=12), "v0.0.12", "acme/shop", job, ok=False)
    print(f"\nstep 7, skopeo stderr:\n{failed.stderr}")
    lines = error_lines(failed.stderr, WRITE_PACKAGE)
    assert lines, failed.stderr
    assert "deleted" in lines[0], failed.stderr
    assert "acme/shop" in lines[0], failed.stderr

    why = cli_json(w.server, "why", "acme/shop", "--repository", "acme/shop")
    assert why["role"] == "read", why  # only what the public visibility gives anyone


def step8_expired_and_revoked_tokens(w: World) -> None:
    """An expired and a revoked token fail on the next request with the unauthenticated text."""
    host = w.server.host
    ref = f"docker://{host}/acme/shop:v0.0.9"  # public by now: no anonymous fallback either
    revoked = secret_of(
        cli(w.server, "token", "create", "--user", "alice", "--scopes", "read:packages")
    )
    run([w.skopeo, "inspect", "--raw", TLS_OFF, "--creds", creds(revoked), ref], env=w.env)
    # A bearer token obtained before the revocation dies with its credential.
    issued = http(
        "GET",
        f"{w.server.url}/token?service={host}&scope=repository:acme/shop:pull",
        secret=revoked,
    )
    assert issued.status == 200, issued.text
    bearer = issued.json()["token"]

    expiring = secret_of(
        cli(
            w.server,
            "token",
            "create",
            "--user",
            "alice",
            "--scopes",
            "read:packages",
            "--expires-in",
            "2s",
        )
    )
    started = time.monotonic()  # the token was created before this: it expires by +2 s
    # Valid until it expires (one cheap request, well inside the 2 s).
    resp = http("GET", f"{w.server.url}/v2/acme/shop/tags/list", secret=expiring)
    assert resp.status == 200, resp.text

    cli(w.server, "token", "revoke", revoked[:10])
    time.sleep(max(0.0, 3.0 - (time.monotonic() - started)))  # 2 s expiry, 1 s to spare

    for secret in (expiring, revoked):
        failed = run(
            [w.skopeo, "inspect", "--raw", TLS_OFF, "--creds", creds(secret), ref],
            env=w.env,
            ok=False,
        )
        print(f"\nstep 8, skopeo stderr:\n{failed.stderr}")
        assert UNAUTHENTICATED in failed.stderr, failed.stderr
        resp = http("GET", f"{w.server.url}/v2/acme/shop/tags/list", secret=secret)
        assert resp.status == 401, resp.text
        assert resp.json()["errors"][0]["message"].startswith(UNAUTHENTICATED), resp.text
    resp = http(
        "GET",
        f"{w.server.url}/v2/acme/shop/tags/list",
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert resp.status == 401, resp.text
    assert resp.json()["errors"][0]["message"].startswith(UNAUTHENTICATED), resp.text


def audit_lists_both_decisions(w: World) -> None:
    """``cargohold audit --package acme/shop`` holds the denials and the allowed requests."""

    def both() -> list[dict[str, Any]] | None:
        entries: list[dict[str, Any]] = cli_json(
            w.server, "audit", "--package", "acme/shop", "--limit", "500"
        )
        results = {e["result"] for e in entries}
        return entries if {"allowed", "denied"} <= results else None

    entries = wait_for(both, timeout=5.0, what="allowed and denied audit entries", step=0.3)
    denied = [e for e in entries if e["result"] == "denied"]
    assert any(e["reason"] and "write_package" in e["reason"] for e in denied), denied
    assert any(e["gate"] == "role" for e in denied), denied
    assert any(e["gate"] == "token" for e in denied), denied
    assert all(e["package"] == "acme/shop" for e in entries)
    allowed_actions = {e["action"] for e in entries if e["result"] == "allowed"}
    assert {"pull", "push"} <= allowed_actions, allowed_actions

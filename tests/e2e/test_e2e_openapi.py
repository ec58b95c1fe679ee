"""Schemathesis drives every operation of the live server's OpenAPI document: no 5xx, and
every response (status, content type, body, headers) matches the document.

Bounded: a few examples per operation, so the whole run takes a minute or two.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support.e2e import admin_token, basic, cli, http
from support.server import ServerProcess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _push(server: ServerProcess, secret: str) -> None:
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    digest = f"sha256:{hashlib.sha256(config).hexdigest()}"
    resp = http("POST", f"{server.url}/v2/acme/shop/blobs/uploads/?digest={digest}",
                secret=secret, data=config)  # fmt: skip
    assert resp.status == 201, resp.text
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest, "size": len(config)},
        "layers": [],
    }).encode()  # fmt: skip
    resp = http("PUT", f"{server.url}/v2/acme/shop/manifests/v1", secret=secret, data=manifest,
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})  # fmt: skip
    assert resp.status == 201, resp.text


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    server = ServerProcess().start(tmp_path_factory.mktemp("openapi") / "data")
    try:
        token = admin_token(server)
        cli(server, "org", "create", "acme", "--owner", "admin")
        cli(server, "repo", "create", "acme/shop")
        _push(server, token)
        yield server, token
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(live: tuple[ServerProcess, str]) -> Any:
    server, _ = live
    with urllib.request.urlopen(f"{server.url}/api/v3/openapi.json") as resp:
        document = json.load(resp)
    return schemathesis.openapi.from_dict(document)


def _anchor(case: Any, known: dict[str, str]) -> Any:
    """The case with its path parameters set to things that exist (so 2xx answers, and their
    bodies, are checked too), and ``package_type=container`` where a list needs it."""
    if case.path_parameters:
        case.path_parameters = {k: known.get(k, v) for k, v in case.path_parameters.items()}
    if case.operation.path.endswith("/packages") and case.method.upper() == "GET":
        case.query = {**(case.query or {}), "package_type": "container"}
    return case


def test_api_matches_its_document(api_schema: Any, live: tuple[ServerProcess, str]) -> None:
    server, token = live
    versions = http("GET", f"{server.url}/api/v3/orgs/acme/packages/container/shop/versions",
                    headers={"Authorization": f"token {token}"}).json()  # fmt: skip
    known = {
        "org": "acme",
        "username": "admin",
        "login": "admin",
        "package_type": "container",
        "package_name": "shop",
        "package_version_id": str(versions[0]["id"]),
        "owner": "acme",
        "repo": "shop",
        "team_slug": "devs",
    }
    failures: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # Deleting comes last, so the reads of the anchored pass see the package.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    for anchored in (False, True):
        for operation in operations:
            strategy = operation.as_strategy()
            if anchored:
                strategy = strategy.map(lambda case: _anchor(case, known))

            @given(case=strategy)
            @settings(
                max_examples=3,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                calls.append(1)
                case.call_and_validate(
                    base_url=f"{server.url}/api/v3",
                    headers={"Authorization": f"token {token}"},
                    checks=CHECKS,
                )

            try:
                check()
            except Exception as exc:  # collect every operation's failure, report them all
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert len(operations) > 50 and len(calls) >= 2 * len(operations)
    assert not failures, "\n\n".join(failures)


def test_basic_auth_header_also_works(live: tuple[ServerProcess, str]) -> None:
    server, token = live
    resp = http("GET", f"{server.url}/api/v3/user", headers={"Authorization": basic(token)})
    assert resp.status == 200 and resp.json()["login"] == "admin"

"""Security finding 12: a bearer signed with the server's key but missing a claim.

Before the fix, a token without ``exp`` verified (PyJWT only checks claims that are present)
and ``int(claims["exp"])`` raised KeyError: a 500 for whoever held a signing key, or for a
future issuer bug. Every claim the verifier relies on is now required.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from cargohold.accounts import bearer
from cargohold.services import build
from cargohold.web.app import create_app
from support.registry_app import settings_for

KEY = b"k" * 32
SERVICE = "registry.test"


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": bearer.ISSUER,
        "aud": SERVICE,
        "sub": "chp_abcdefg",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
        "scope": "repository:acme/app:pull",
    }


def _sign(claims: dict[str, Any], key: bytes = KEY) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def test_a_complete_token_verifies() -> None:
    verified = bearer.verify(KEY, SERVICE, _sign(_claims()))
    assert verified is not None
    assert verified.credential_id == "chp_abcdefg"
    assert [s.name for s in verified.scopes] == ["acme/app"]


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "aud", "iss"])
def test_a_token_missing_a_required_claim_is_refused(missing: str) -> None:
    claims = _claims()
    del claims[missing]
    assert bearer.verify(KEY, SERVICE, _sign(claims)) is None
    assert bearer.Verifier(KEY, SERVICE).verify(_sign(claims)) is None


@pytest.mark.parametrize(("claim", "value"), [("sub", 42), ("sub", ["x"]), ("scope", {"a": 1})])
def test_a_claim_of_the_wrong_type_is_refused(claim: str, value: object) -> None:
    claims = _claims()
    claims[claim] = value
    assert bearer.verify(KEY, SERVICE, _sign(claims)) is None


def test_an_empty_subject_is_anonymous() -> None:
    claims = _claims()
    claims["sub"] = ""
    verified = bearer.verify(KEY, SERVICE, _sign(claims))
    assert verified is not None and verified.credential_id is None


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], bytes, str]]:
    settings = settings_for(
        tmp_path, f"sqlite:///{tmp_path / 'data' / 'cargohold.db'}", auth_enabled=True
    )
    services = build(settings)
    test_client: TestClient[Any, Any] = TestClient(TestServer(create_app(services)))
    await test_client.start_server()
    try:
        yield test_client, services.keys.signing_key, settings.service_name
    finally:
        await test_client.close()
        services.close()


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
async def test_the_server_answers_401_not_500(
    client: tuple[TestClient[Any, Any], bytes, str], missing: str
) -> None:
    test_client, key, service = client
    claims = _claims()
    claims["aud"] = service
    del claims[missing]
    resp = await test_client.get(
        "/v2/acme/app/tags/list", headers={"Authorization": f"Bearer {_sign(claims, key)}"}
    )
    assert resp.status == 401, await resp.text()
    assert (await resp.json())["errors"][0]["code"] == "UNAUTHORIZED"

"""Extra finding: aiohttp logged the first bytes of an oversized Authorization header.

No log line may carry a credential's secret (its public 10-character id may appear).
"""

from __future__ import annotations

import logging

import pytest

from cargohold.web.loghygiene import redact
from support.registry_app import Registry

SECRET = "chp_AbCdEf" + "S3cr3tPart" * 3 + "xyz"


async def test_an_oversized_authorization_header_is_not_logged(
    secured: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    header = f"Bearer {SECRET}" + "A" * 20_000

    resp = await secured.client.get("/v2/", headers={"Authorization": header})

    assert resp.status in (400, 431)
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "S3cr3tPart" not in logged
    assert "AAAAAAAAAA" not in logged


@pytest.mark.parametrize(
    ("line", "leaked"),
    [
        (f"Authorization: Basic {SECRET}", "S3cr3tPart"),
        (f"got token {SECRET} from the client", "S3cr3tPart"),
        ("authorization=Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
    ],
)
def test_redact_masks_credentials(line: str, leaked: str) -> None:
    assert leaked not in redact(line)


def test_redact_keeps_the_public_id() -> None:
    assert "chp_AbCdEf" in redact(f"token {SECRET} revoked")

"""Finding 5: failed authentication is audited; repeated denials collapse; retention.

A revoked or expired PAT, a forged bearer and a bearer used outside its scope all get 401; each
leaves an audit row with gate ``authentication`` and the credential's public id, never the
secret. Identical denials within a flush window share one row (anonymous traffic cannot grow the
database without bound), and rows older than the retention are deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from cargohold.accounts import credentials
from cargohold.audit.log import AuditBuffer, AuditEntry
from cargohold.db import schema as s
from support.registry_app import Registry, basic


def _audit(reg: Registry) -> list[dict[str, Any]]:
    assert reg.services.audit_buffer is not None
    reg.services.audit_buffer.flush()
    return reg.db(lambda c: [dict(r._mapping) for r in c.execute(select(s.audit_log))])


async def test_a_revoked_token_forged_bearer_and_wrong_scope_are_audited(
    secured: Registry,
) -> None:
    c = secured.client
    alice = secured.user("alice")
    secret = alice["Authorization"]
    cred_id = secured.db(lambda conn: conn.execute(select(s.credentials.c.id)).scalar_one())
    secured.db(lambda conn: credentials.revoke(conn, cred_id))
    assert (await c.get("/v2/alice/app/tags/list", headers={"Authorization": secret})).status == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.forged"}
    assert (await c.get("/v2/alice/app/tags/list", headers=forged)).status == 401
    bob = secured.user("bob")
    token = await c.get(
        "/token?service=x&scope=repository:bob/a:pull",
        headers={"Authorization": bob["Authorization"]},
    )
    bearer = {"Authorization": f"Bearer {(await token.json())['token']}"}
    assert (await c.get("/v2/bob/other/tags/list", headers=bearer)).status == 401

    rows = [r for r in _audit(secured) if r["gate"] == "authentication"]
    assert {r["credential_id"] for r in rows} >= {cred_id, None}
    assert any(
        "insufficient" in (r["reason"] or "") or "scope" in (r["reason"] or "") for r in rows
    )
    plain = secret.split()[1]
    assert all(plain not in str(r) for r in rows)
    assert all(r["result"] == "denied" for r in rows)


async def test_identical_denials_share_a_row(secured: Registry) -> None:
    c = secured.client
    alice = secured.user("alice")
    for _ in range(20):
        assert (await c.get("/v2/alice/private/manifests/v1")).status == 401
    del alice
    rows = [r for r in _audit(secured) if r["result"] == "denied"]
    assert len(rows) == 1
    assert rows[0]["count"] == 20


def test_rows_older_than_the_retention_are_deleted(secured: Registry) -> None:
    engine = secured.services.engine
    old = datetime.now(UTC) - timedelta(days=10)
    buffer = AuditBuffer(engine, retention=timedelta(days=7))
    try:
        for at in (old, datetime.now(UTC)):
            buffer.add(AuditEntry(at, "anonymous", None, "a/b", "pull", "denied", "role", str(at)))
        buffer.flush()  # writes both, then prunes the old one
        buffer.add(AuditEntry(datetime.now(UTC), "x", None, None, "pull", "allowed", None, "y"))
        buffer.flush()
    finally:
        buffer.close()
    reasons = secured.db(lambda c: [r.reason for r in c.execute(select(s.audit_log))])
    assert str(old) not in reasons
    assert len(reasons) == 2


async def test_a_wrong_secret_for_a_real_id_is_audited_by_id(secured: Registry) -> None:
    alice = secured.user("alice")
    real = alice["Authorization"]
    cred_id = secured.db(lambda conn: conn.execute(select(s.credentials.c.id)).scalar_one())
    wrong = cred_id + "Z" * 34
    resp = await secured.client.get("/v2/", headers=basic("alice", wrong))
    assert resp.status == 401
    rows = [r for r in _audit(secured) if r["gate"] == "authentication"]
    assert [r["credential_id"] for r in rows] == [cred_id]
    assert wrong[10:] not in str(rows) and real.split()[1] not in str(rows)

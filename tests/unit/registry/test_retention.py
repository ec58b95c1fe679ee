"""Retention: the plan (pure) and its application (SQLite and PostgreSQL), audited per policy."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from cargohold.db import schema as s
from cargohold.db.tx import now
from cargohold.errors import InvalidRequestError
from cargohold.registry import retention
from cargohold.registry.retention import Policy, _Manifest
from support.fixtures import db_url, make_registry, registry
from support.registry_app import Registry, digest_of, push_blob, push_image

__all__ = ["db_url", "make_registry", "registry"]

T0 = datetime(2026, 1, 1, tzinfo=now().tzinfo)


def m(digest: str, day: int, *tags: str, subject: str | None = None) -> _Manifest:
    return _Manifest(digest, T0 + timedelta(days=day), subject, 0, list(tags))


def planned(
    manifests: list[_Manifest], policy: Policy, children: dict[str, set[str]] | None = None
) -> dict[str, str]:
    at = T0 + timedelta(days=100)
    out = retention.plan("acme/app", {x.digest: x for x in manifests}, children or {}, policy, at)
    return {d.digest: d.why for d in out}


def test_keep_newest_protects_matching_tags() -> None:
    versions = [m("a", 1, "v1"), m("b", 2, "nightly-2"), m("c", 3, "latest"), m("d", 4), m("e", 5)]
    policy = Policy("package", "acme/app", keep_newest=2, protect=("v*", "latest"))
    assert set(planned(versions, policy)) == {"b"}  # e, d newest; c and a protected


def test_untagged_older_than_spares_tagged_and_recent() -> None:
    versions = [m("old-untagged", 1), m("old-tagged", 1, "x"), m("new-untagged", 99)]
    policy = Policy("owner", "acme", untagged_older_than=timedelta(days=30))
    assert set(planned(versions, policy)) == {"old-untagged"}


def test_indexes_keep_children_and_referrers_follow_subjects() -> None:
    manifests = [
        m("idx-old", 1),
        m("idx-new", 2, "v2"),
        m("child-shared", 1),
        m("child-only-old", 1),
        m("sig-of-old", 3, subject="idx-old"),
        m("sbom-of-sig", 3, subject="sig-of-old"),
        m("sig-of-new", 3, subject="idx-new"),
    ]
    children = {"idx-old": {"child-shared", "child-only-old"}, "idx-new": {"child-shared"}}
    policy = Policy("package", "acme/app", keep_newest=1)
    plan = planned(manifests, policy, children)
    assert set(plan) == {"idx-old", "child-only-old", "sig-of-old", "sbom-of-sig"}
    assert plan["child-only-old"] == "child of idx-old"
    assert plan["sig-of-old"] == "referrer of idx-old"
    # A referrer never counts as a version, so it never keeps (or displaces) its subject.
    assert "sig-of-new" not in plan and "idx-new" not in plan


def test_bad_policies_are_refused() -> None:
    for bad in (
        Policy("repo", "x"),
        Policy("owner", "x", keep_newest=-1),
        Policy("owner", "x", untagged_older_than=timedelta(0)),
        Policy("owner", "x", protect=("",)),
    ):
        with pytest.raises(InvalidRequestError):
            retention.validate(bad)


async def test_run_deletes_audits_and_dry_run_changes_nothing(registry: Registry) -> None:
    services = registry.services
    digests = []
    for i, tag in enumerate(["v1", "build-1", "build-2", "build-3"]):
        digest, _ = await push_image(registry.client, "acme/app", tag, seed=str(i).encode())
        digests.append(digest)
    await push_image(registry.client, "acme/other", "build-1", seed=b"o")
    await services.retention.set(Policy("owner", "acme", keep_newest=2, protect=("v*",)))
    own = Policy("package", "acme/other", keep_newest=5)
    await services.retention.set(own)
    assert [p.kind for p in await services.retention.show()] == ["owner", "package"]

    dry = await services.retention.run(dry_run=True)
    assert [(d.package, d.digest, d.tags) for d in dry] == [("acme/app", digests[1], ("build-1",))]
    assert registry.count("manifests") == 5

    done = await services.retention.run()
    assert [d.digest for d in done] == [digests[1]]
    resp = await registry.client.get("/v2/acme/app/tags/list")
    assert sorted((await resp.json())["tags"]) == ["build-2", "build-3", "v1"]
    rows = registry.db(
        lambda c: list(c.execute(select(s.audit_log).where(s.audit_log.c.actor == "retention")))
    )
    assert len(rows) == 1 and rows[0].package == "acme/app"
    assert "keep newest 2" in rows[0].reason and digests[1] in rows[0].reason
    # The collector then reclaims what only the deleted version used.
    assert (await services.retention.run()) == []


async def test_a_version_tagged_after_planning_is_kept(registry: Registry) -> None:
    old, _ = await push_image(registry.client, "acme/app", "build-1", seed=b"1")
    await push_image(registry.client, "acme/app", "build-2", seed=b"2")
    policy = Policy("package", "acme/app", keep_newest=1)
    package_id = registry.db(lambda c: c.execute(select(s.packages.c.id)).scalar())
    manifests, children = registry.db(lambda c: retention._load(c, package_id))
    plan = retention.plan("acme/app", manifests, children, policy, now())
    assert [d.digest for d in plan] == [old]
    # Someone tags the old version again (a PUT by digest content: a new generation) ...
    resp = await registry.client.get(f"/v2/acme/app/manifests/{old}")
    body = await resp.read()
    media = json.loads(body)["mediaType"]
    put = await registry.client.put(
        "/v2/acme/app/manifests/keep-me", data=body, headers={"Content-Type": media}
    )
    assert put.status == 201
    # ... so applying the stale plan skips it.
    done = registry.db(lambda c: retention.apply(c, package_id, manifests, plan, now()))
    assert done == []
    assert (await registry.client.get(f"/v2/acme/app/manifests/{old}")).status == 200


async def test_referrers_go_with_their_subject(registry: Registry) -> None:
    subject, body = await push_image(registry.client, "acme/app", "build-1", seed=b"s")
    await push_image(registry.client, "acme/app", "build-2", seed=b"t")
    empty = await push_blob(registry.client, "acme/app", b"{}")
    sig = await push_blob(registry.client, "acme/app", b"sig")
    referrer = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.example.sig",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty,
                       "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": sig, "size": 3}],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": subject, "size": len(body)},
        }
    ).encode()  # fmt: skip
    put = await registry.client.put(
        f"/v2/acme/app/manifests/{digest_of(referrer)}",
        data=referrer,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert put.status == 201
    await registry.services.retention.set(Policy("package", "acme/app", keep_newest=1))
    done = await registry.services.retention.run()
    assert {d.digest: d.why for d in done} == {
        subject: "version 2, 1 newest kept",
        digest_of(referrer): f"referrer of {subject}",
    }

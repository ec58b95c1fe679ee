"""Retention policies: which versions of a package go, decided per owner or per package.

A policy (``retention_policies``; a package's own replaces its owner's) says any of:

- ``keep_newest`` N: the N newest versions stay, older ones go;
- ``untagged_older_than`` D: untagged versions older than D go;
- ``protect``: tag patterns (``v*``, ``latest``; fnmatch, case-sensitive): a version with a
  matching tag never goes.

A *version* is what GHCR lists: a manifest that is not a referrer and not a child of an index
(unless tagged itself). What goes with a version: the children of an index no kept manifest
lists (indexes keep their children, so a kept index keeps every platform), and every referrer
whose subject goes (signatures and SBOMs go with their subject; a referrer never keeps a
subject). Every deletion is audited with the policy that caused it (actor ``retention``).

Deleting is conditional like the collector's (``registry.gc``): a manifest re-pushed or tagged
since the plan was read has a new generation and is skipped; blobs are left to the collector.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select

from cargohold.audit.log import AuditEntry, record
from cargohold.db import schema as s
from cargohold.db.tx import aware, now, upsert
from cargohold.errors import InvalidRequestError, NotFoundError
from cargohold.registry import lifecycle

KINDS = ("owner", "package")


@dataclass(frozen=True, slots=True)
class Policy:
    kind: str
    name: str
    keep_newest: int | None = None
    untagged_older_than: timedelta | None = None
    protect: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.keep_newest is not None:
            parts.append(f"keep newest {self.keep_newest}")
        if self.untagged_older_than is not None:
            parts.append(f"untagged older than {_human(self.untagged_older_than)}")
        if self.protect:
            parts.append(f"protect {','.join(self.protect)}")
        return f"{self.kind} {self.name}: " + ("; ".join(parts) or "keeps everything")

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "keep_newest": self.keep_newest,
            "untagged_older_than": None
            if self.untagged_older_than is None
            else int(self.untagged_older_than.total_seconds()),
            "protect": list(self.protect),
        }


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class Deletion:
    package: str
    digest: str
    tags: tuple[str, ...]
    why: str  # "version 7 of 5 kept", "untagged, 40d old", "child of ...", "referrer of ..."
    policy: str

    def as_dict(self) -> dict[str, object]:
        return {
            "package": self.package,
            "digest": self.digest,
            "tags": list(self.tags),
            "why": self.why,
            "policy": self.policy,
        }


@dataclass(slots=True)
class _Manifest:
    digest: str
    created_at: datetime
    subject: str | None
    generation: int
    tags: list[str] = field(default_factory=list)


# --- policies ---------------------------------------------------------------------------------


def validate(policy: Policy) -> None:
    if policy.kind not in KINDS:
        raise InvalidRequestError(f"retention policy kind must be owner or package: {policy.kind}")
    if policy.keep_newest is not None and policy.keep_newest < 0:
        raise InvalidRequestError("keep_newest must be 0 or more")
    if policy.untagged_older_than is not None and policy.untagged_older_than <= timedelta(0):
        raise InvalidRequestError("untagged_older_than must be a positive duration")
    for pattern in policy.protect:
        if not pattern or len(pattern) > 128 or "," in pattern:
            raise InvalidRequestError(f"invalid tag pattern {pattern!r}")


def save(conn: Connection, policy: Policy) -> None:
    validate(policy)
    p = policy
    upsert(
        conn,
        s.retention_policies,
        ("kind", "name"),
        kind=p.kind,
        name=p.name,
        keep_newest=p.keep_newest,
        untagged_older_than=None
        if p.untagged_older_than is None
        else int(p.untagged_older_than.total_seconds()),
        protect=",".join(p.protect),
        updated_at=now(),
    )


def remove(conn: Connection, kind: str, name: str) -> None:
    rp = s.retention_policies.c
    gone = conn.execute(
        delete(s.retention_policies).where(rp.kind == kind, rp.name == name)
    ).rowcount
    if not gone:
        raise NotFoundError(f"no retention policy for {kind} {name}")


def load_all(conn: Connection) -> dict[tuple[str, str], Policy]:
    out: dict[tuple[str, str], Policy] = {}
    for row in conn.execute(select(s.retention_policies)):
        out[(row.kind, row.name)] = Policy(
            row.kind,
            row.name,
            row.keep_newest,
            None if row.untagged_older_than is None else timedelta(seconds=row.untagged_older_than),
            tuple(p for p in row.protect.split(",") if p),
        )
    return out


def policy_for(policies: dict[tuple[str, str], Policy], package: str) -> Policy | None:
    """The package's own policy, else its owner's, else None."""
    own = policies.get(("package", package))
    return own if own is not None else policies.get(("owner", package.split("/", 1)[0]))


# --- planning ---------------------------------------------------------------------------------


def _load(conn: Connection, package_id: int) -> tuple[dict[str, _Manifest], dict[str, set[str]]]:
    m, t, r = s.manifests.c, s.tags.c, s.manifest_refs.c
    manifests: dict[str, _Manifest] = {}
    for row in conn.execute(
        # Live versions only: a deleted one is already on its way out (restorable meanwhile).
        select(m.digest, m.created_at, m.subject_digest, m.generation).where(
            m.package_id == package_id, m.deleted_at.is_(None)
        )
    ):
        created = aware(row.created_at)
        assert created is not None
        manifests[row.digest] = _Manifest(
            row.digest, created, row.subject_digest, int(row.generation)
        )
    for tag in conn.execute(select(t.name, t.digest).where(t.package_id == package_id)):
        if tag.digest in manifests:
            manifests[tag.digest].tags.append(tag.name)
    children: dict[str, set[str]] = {}
    for edge in conn.execute(
        select(r.parent_digest, r.child_digest).where(
            r.package_id == package_id, r.kind == "manifest"
        )
    ):
        if edge.parent_digest in manifests:  # a deleted index keeps nothing alive
            children.setdefault(edge.parent_digest, set()).add(edge.child_digest)
    return manifests, children


def plan(
    package: str,
    manifests: dict[str, _Manifest],
    children: dict[str, set[str]],
    policy: Policy,
    at: datetime,
) -> list[Deletion]:
    """What ``policy`` removes from one package (pure; parents listed before their children)."""
    listed = {c for kids in children.values() for c in kids}
    versions = sorted(
        (m for m in manifests.values() if m.subject is None and (m.digest not in listed or m.tags)),
        key=lambda m: (m.created_at, m.digest),
        reverse=True,
    )
    label = policy.describe()
    out: list[Deletion] = []
    going: set[str] = set()

    def protected(m: _Manifest) -> bool:
        return any(fnmatch.fnmatchcase(t, p) for t in m.tags for p in policy.protect)

    for rank, version in enumerate(versions):
        if protected(version):
            continue
        why = None
        if policy.keep_newest is not None and rank >= policy.keep_newest:
            why = f"version {rank + 1}, {policy.keep_newest} newest kept"
        elif (
            policy.untagged_older_than is not None
            and not version.tags
            and at - version.created_at > policy.untagged_older_than
        ):
            why = f"untagged, {_human(at - version.created_at)} old"
        if why is not None:
            going.add(version.digest)
            out.append(Deletion(package, version.digest, tuple(sorted(version.tags)), why, label))
    # Children no kept manifest lists go with their index; referrers go with their subject.
    changed = True
    while changed:
        changed = False
        kept_parents = {p for p in children if p not in going and p in manifests}
        still_listed = {c for p in kept_parents for c in children[p]}
        for parent in [p for p in children if p in going]:
            for child in sorted(children[parent]):
                m = manifests.get(child)
                if m is None or child in going or child in still_listed or protected(m):
                    continue
                if m.tags:
                    continue  # a tagged child is a version of its own, planned as one
                going.add(child)
                out.append(Deletion(package, child, tuple(m.tags), f"child of {parent}", label))
                changed = True
        for m in manifests.values():
            if m.subject in going and m.digest not in going:
                going.add(m.digest)
                out.append(
                    Deletion(package, m.digest, tuple(m.tags), f"referrer of {m.subject}", label)
                )
                changed = True
    return out


# --- applying ---------------------------------------------------------------------------------


def apply(
    conn: Connection,
    package_id: int,
    manifests: dict[str, _Manifest],
    deletions: list[Deletion],
    at: datetime,
) -> list[Deletion]:
    """Delete what was planned, each manifest in a savepoint; returns what actually went.

    Deleting is the soft delete every other deletion is (``registry.lifecycle``): the version
    can be restored for the restore window, then the collector purges it. A manifest claimed
    since the plan (re-pushed, tagged: new generation) is skipped, and so is anything an index
    outside the plan lists now.
    """
    done: list[Deletion] = []
    for item in deletions:
        seen = manifests[item.digest]
        with conn.begin_nested() as savepoint:
            if lifecycle.delete_version_if_unchanged(
                conn, package_id, item.digest, seen.generation, "retention", at
            ):
                done.append(item)
            else:
                savepoint.rollback()
    record(
        conn,
        [
            AuditEntry(
                at=at,
                actor="retention",
                credential_id=None,
                package=d.package,
                action="delete_version",
                result="allowed",
                gate="retention",
                reason=f"{d.digest} ({', '.join(d.tags) or 'untagged'}): {d.why}; "
                f"policy {d.policy}",
            )
            for d in done
        ],
    )
    return done


def run_package(
    conn: Connection, package_id: int, package: str, policy: Policy, at: datetime, dry_run: bool
) -> list[Deletion]:
    manifests, children = _load(conn, package_id)
    planned = plan(package, manifests, children, policy, at)
    # The plan lists an index before the children it listed, which the deletes need.
    if dry_run or not planned:
        return planned
    return apply(conn, package_id, manifests, planned, at)

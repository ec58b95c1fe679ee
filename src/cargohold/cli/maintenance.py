"""Maintenance commands in local mode: ``gc`` (and ``retention``), one service call each.

They work on whatever database and blob store the settings name, so an operator runs them on
any machine with the replicas' configuration; a collection already running on a replica holds
the lease and this one reports ``"ran": false``.
"""

from __future__ import annotations

from typing import Any

from cargohold.cli.manage import parse_duration
from cargohold.errors import InvalidRequestError
from cargohold.oci.names import validate_name
from cargohold.registry.retention import Policy
from cargohold.services import Services


async def gc(svc: Services, dry_run: bool) -> dict[str, Any]:
    """Remove manifests, blob links, blobs and stored bytes nothing references (after the grace
    period)."""
    report = await svc.gc.collect(dry_run=dry_run)
    out: dict[str, Any] = report.as_dict()
    if dry_run:
        out["would_remove"] = {
            "manifests": [f"{p}:{d}" for p, d in report.manifests],
            "links": [f"{p}:{d}" for p, d in report.links],
            "blobs": report.blobs,
            "orphans": report.orphans,
        }
    return out


def _scope(owner: str | None, package: str | None) -> tuple[str, str]:
    if (owner is None) == (package is None):
        raise InvalidRequestError("name exactly one of --owner or --package")
    return ("owner", owner) if owner is not None else ("package", validate_name(package or ""))


async def retention_set(
    svc: Services,
    owner: str | None,
    package: str | None,
    keep: int | None,
    untagged_older_than: str | None,
    protect: str | None,
) -> dict[str, Any]:
    """Set the retention policy of an owner or a package (replaces the previous one)."""
    kind, name = _scope(owner, package)
    age = parse_duration(untagged_older_than) if untagged_older_than else None
    patterns = tuple(p.strip() for p in (protect or "").split(",") if p.strip())
    policy = await svc.retention.set(Policy(kind, name, keep, age, patterns))
    return policy.as_dict()


async def retention_show(
    svc: Services, owner: str | None, package: str | None
) -> list[dict[str, Any]]:
    """Show retention policies (all, or one owner's or package's)."""
    if owner is None and package is None:
        return [p.as_dict() for p in await svc.retention.show()]
    kind, name = _scope(owner, package)
    return [p.as_dict() for p in await svc.retention.show(kind, name)]


async def retention_remove(svc: Services, owner: str | None, package: str | None) -> str:
    """Remove the retention policy of an owner or a package."""
    kind, name = _scope(owner, package)
    await svc.retention.remove(kind, name)
    return f"removed the retention policy of {kind} {name}"


async def retention_run(svc: Services, dry_run: bool, package: str | None) -> dict[str, Any]:
    """Apply retention policies now (--dry-run: print what would go, change nothing)."""
    deletions = await svc.retention.run(dry_run=dry_run, package=package)
    return {"dry_run": dry_run, "deleted": [d.as_dict() for d in deletions]}

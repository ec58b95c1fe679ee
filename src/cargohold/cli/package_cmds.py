"""``package list/versions/delete/restore`` in local mode (the trusted operator), through the
same ``LifecycleService`` the REST API calls; GitHub-like JSON so both modes print alike."""

from __future__ import annotations

from typing import Any

from cargohold.authz.model import Visibility
from cargohold.errors import InvalidRequestError
from cargohold.oci.names import validate_name
from cargohold.registry.read_model import PackageView, VersionView
from cargohold.services import Services


def _iso(view_time: Any) -> str | None:
    return None if view_time is None else view_time.strftime("%Y-%m-%dT%H:%M:%SZ")


def package_json(view: PackageView) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.short_name,
        "package_type": "container",
        "owner": {"login": view.owner.login, "id": view.owner.id},
        "visibility": view.visibility.value,
        "version_count": view.version_count,
        "repository": None if view.repository is None else view.repository.full_name,
        "created_at": _iso(view.created_at),
        "updated_at": _iso(view.updated_at),
    }


def version_json(version: VersionView) -> dict[str, Any]:
    out = {
        "id": version.id,
        "name": version.digest,
        "created_at": _iso(version.created_at),
        "metadata": {"package_type": "container", "container": {"tags": list(version.tags)}},
        "size": version.size,
    }
    if version.deleted_at is not None:
        out["deleted_at"] = _iso(version.deleted_at)
    return out


async def package_list(svc: Services, owner: str, visibility: str | None) -> list[dict[str, Any]]:
    """List the packages of a user or organization."""
    views = await svc.lifecycle.list_packages(
        owner, by=None, visibility=Visibility(visibility) if visibility else None
    )
    return [package_json(v) for v in views]


async def package_versions(svc: Services, package: str, deleted: bool) -> list[dict[str, Any]]:
    """List a package's versions (--deleted: those restorable)."""
    found = await svc.lifecycle.list_versions(validate_name(package), by=None, deleted=deleted)
    return [version_json(v) for v in found]


async def _version_id(svc: Services, package: str, version: str) -> int:
    if version.isdigit():
        return int(version)
    for deleted in (False, True):
        for item in await svc.lifecycle.list_versions(package, by=None, deleted=deleted):
            if version == item.digest or version in item.tags:
                return item.id
    raise InvalidRequestError(f"no version {version!r} of {package} (give an id, digest or tag)")


async def package_delete(svc: Services, package: str, version: str | None) -> dict[str, Any]:
    """Delete a package, or one version (by id, digest or tag); restorable for 30 days."""
    name = validate_name(package)
    if version is None:
        await svc.lifecycle.delete_package(name, by=None)
        return {"package": package, "deleted": True}
    vid = await _version_id(svc, name, version)
    await svc.lifecycle.delete_version(name, vid, by=None)
    return {"package": package, "version": vid, "deleted": True}


async def package_restore(svc: Services, package: str, version: str | None) -> dict[str, Any]:
    """Restore a deleted package, or one deleted version."""
    name = validate_name(package)
    if version is None:
        await svc.lifecycle.restore_package(name, by=None)
        return {"package": package, "restored": True}
    vid = await _version_id(svc, name, version)
    await svc.lifecycle.restore_version(name, vid, by=None)
    return {"package": package, "version": vid, "restored": True}

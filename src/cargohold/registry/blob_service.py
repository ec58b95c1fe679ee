"""Blobs of a package: their size (for GET/HEAD) and unlinking (DELETE)."""

from __future__ import annotations

from cargohold.db.runner import Database
from cargohold.errors import BlobUnknownError
from cargohold.registry import blobs
from cargohold.registry.package_service import PackageService
from cargohold.registry.values import BlobRef, Target


class BlobService:
    def __init__(self, db: Database, packages: PackageService) -> None:
        self._db = db
        self._packages = packages

    def stat(self, target: Target, digest: str) -> BlobRef:
        """The blob as the package sees it, or BLOB_UNKNOWN. Reads inline on the event loop."""
        package_id = self._packages.existing_id(target)
        size = self._db.read_on_loop(lambda r: blobs.size_in(r, package_id, digest))
        if size is None:
            raise BlobUnknownError(detail={"digest": digest})
        return BlobRef(digest, size)

    async def delete(self, target: Target, digest: str) -> None:
        """Unlink the blob from the package; 409 while a manifest of the package uses it."""
        package_id = self._packages.existing_id(target)
        await self._db.write(lambda c: blobs.unlink(c, package_id, digest))

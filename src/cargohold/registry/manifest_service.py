"""Manifests and tags as one call each: get, put (with linking by label), delete, list."""

from __future__ import annotations

from sqlalchemy import Connection

from cargohold.db import tx
from cargohold.db.runner import Database
from cargohold.errors import DigestInvalidError
from cargohold.oci.digest import Digest
from cargohold.oci.manifest import ParsedManifest, parse_manifest
from cargohold.registry import blobs, lifecycle, manifests, packages
from cargohold.registry.manifests import StoredManifest
from cargohold.registry.package_service import PackageService
from cargohold.registry.values import Actor, PushedManifest, Target
from cargohold.storage.protocol import BlobStore

CONFIG_LABEL_LIMIT = 1024 * 1024
"""Image configs larger than this are not read for their source label."""


class ManifestService:
    def __init__(self, db: Database, store: BlobStore, packages: PackageService) -> None:
        self._db = db
        self._store = store
        self._packages = packages

    def get(self, target: Target, reference: Digest | str) -> StoredManifest:
        """The manifest by digest or tag, or MANIFEST_UNKNOWN. Reads inline on the event loop."""
        package_id = self._packages.existing_id(target)
        key, is_digest = str(reference), isinstance(reference, Digest)
        return self._db.read_on_loop(lambda r: manifests.get(r, package_id, key, is_digest))

    async def put(
        self,
        target: Target,
        actor: Actor,
        reference: Digest | str,
        body: bytes,
        content_type: str | None,
    ) -> PushedManifest:
        """Validate and store a manifest, point the tag at it; creates the package on push.

        Raises MANIFEST_INVALID (bad document, or a descriptor whose size differs from the stored
        content), DIGEST_INVALID (``reference`` is a digest the body does not have),
        MANIFEST_BLOB_UNKNOWN (something referenced is not in the package).

        The first version of a package its creator pushes links the package to the repository
        named by the image's ``org.opencontainers.image.source`` label (same owner, live);
        nothing else ever links by label.
        """
        parsed = parse_manifest(body, content_type)
        if isinstance(reference, Digest):
            digest = Digest.of(body, reference.algorithm)
            if digest != reference:
                raise DigestInvalidError(
                    f"manifest digest is {digest}, not {reference}",
                    detail={"expected": str(reference), "computed": str(digest)},
                )
            tag = None
        else:
            digest, tag = Digest.of(body), reference
        package = await self._packages.for_push(target, actor)
        package_id, key = package.id, str(digest)
        pending = self._db.read_on_loop(lambda r: packages.pending_link(r, package_id))
        publisher = (pending.publisher_user_id, pending.publisher_repo_id) if pending else None
        creator = publisher == (actor.user_id, actor.repo_id)
        config = await self._config(package_id, parsed) if creator else None

        def store(conn: Connection) -> None:
            manifests.put(conn, package_id, key, body, parsed, tag)
            if pending is None:
                return
            if creator:
                packages.consume_source_link(conn, package_id, pending.owner_id, config)
            else:
                packages.end_source_link(conn, package_id)

        await self._db.write(store)
        subject = str(parsed.subject.digest) if parsed.subject is not None else None
        return PushedManifest(key, subject)

    async def _config(self, package_id: int, parsed: ParsedManifest) -> bytes | None:
        """The image config's bytes, read up to its STORED size (never the declared one)."""
        desc = parsed.config
        if desc is None or desc.size > CONFIG_LABEL_LIMIT:
            return None
        digest = str(desc.digest)
        stored = self._db.read_on_loop(lambda r: blobs.size_in(r, package_id, digest))
        if stored is None or stored != desc.size:
            return None  # the store transaction refuses the manifest
        store = self._store
        return await self._db.blocking(lambda: b"".join(store.open_read(digest, 0, stored)))

    async def delete(self, target: Target, reference: Digest | str, by: str = "-") -> None:
        """Delete a version by digest (a soft delete, restorable: ``registry.lifecycle``; its
        tags are set aside), or just a tag. ``by`` names the actor for the record."""
        package_id = self._packages.existing_id(target)
        key = str(reference)
        if isinstance(reference, Digest):
            await self._db.write(
                lambda c: lifecycle.delete_version(c, package_id, key, by, tx.now())
            )
        else:
            await self._db.write(lambda c: manifests.delete_tag(c, package_id, key))

    def tags(self, target: Target, n: int | None, last: str | None) -> list[str]:
        """Tag names after ``last`` in order, at most ``n``. Reads inline on the event loop."""
        package_id = self._packages.existing_id(target)
        return self._db.read_on_loop(lambda r: manifests.list_tags(r, package_id, n, last))

    def referrers(
        self, target: Target, subject: str, artifact_type: str | None
    ) -> list[dict[str, object]]:
        """Descriptors of the manifests whose subject is ``subject``. Reads on the event loop."""
        package_id = self._packages.existing_id(target)
        return self._db.read_on_loop(
            lambda r: manifests.referrers(r, package_id, subject, artifact_type)
        )

"""registry.version_details: which versions a package page shows and what it says of each
(platforms, layers, sizes, labels, attached artifacts), including manifests and configs that do
not parse or are too big to read."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection

from cargohold.accounts import service
from cargohold.authz.model import AccountKind
from cargohold.db import schema as s
from cargohold.db import tx
from cargohold.db.engine import make_engine, migrate
from cargohold.registry import lifecycle, packages
from cargohold.registry import version_details as vd
from cargohold.registry.read_model import VersionDetail
from cargohold.storage.memory import MemoryBlobStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
V7 = {"variant": "v7"}
IMAGE = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Package:
    """One package's rows, written as a push would leave them."""

    def __init__(self, conn: Connection, store: MemoryBlobStore) -> None:
        owner = service.create_account(conn, "alice", AccountKind.USER)
        self.conn, self.store = conn, store
        self.id = packages.create(conn, "alice/app", owner=owner).id
        self.age = 0

    def blob(self, data: bytes, *, stored: bool = True) -> str:
        digest = _digest(data)
        if stored:
            upload = self.store.begin_upload()
            self.store.write(upload, 0, [data])
            self.store.commit(upload, digest)
        self.conn.execute(s.blobs.insert().values(digest=digest, size=len(data), created_at=T0))
        self.conn.execute(
            s.package_blobs.insert().values(package_id=self.id, digest=digest, created_at=T0)
        )
        return digest

    def manifest(self, doc: dict[str, object] | bytes, *tags: str, **columns: object) -> str:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        digest = _digest(body)
        self.age += 1  # each one newer than the last
        self.conn.execute(
            s.manifests.insert().values(
                package_id=self.id, digest=digest, media_type=columns.pop("media_type", IMAGE),
                size=len(body), content=body, created_at=T0 + timedelta(hours=self.age),
                **columns,
            )
        )  # fmt: skip
        for tag in tags:
            self.conn.execute(
                s.tags.insert().values(package_id=self.id, name=tag, digest=digest, updated_at=T0)
            )
        return digest

    def image(self, config: bytes, layer: bytes, *tags: str, stored: bool = True) -> str:
        c, layer_digest = self.blob(config, stored=stored), self.blob(layer)
        return self.manifest(
            {
                "schemaVersion": 2,
                "config": {"digest": c, "size": len(config)},
                "layers": [{"digest": layer_digest, "size": 999, "mediaType": "tar"}],
                "annotations": {"b": "2", "a": "1"},
            },
            *tags,
        )

    def child(self, parent: str, child: str) -> None:
        self.conn.execute(
            s.manifest_refs.insert().values(
                package_id=self.id, parent_digest=parent, child_digest=child, kind="manifest"
            )
        )


@pytest.fixture
def pkg(tmp_path: Path) -> Iterator[Package]:
    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(engine)
    with tx.write(engine) as conn:
        yield Package(conn, MemoryBlobStore())
    engine.dispose()


def _shown(pkg: Package) -> list[VersionDetail]:
    return list(vd.version_details(pkg.conn, pkg.store, pkg.id))


def test_an_image_shows_its_layers_labels_annotations_and_full_size(pkg: Package) -> None:
    config = b'{"config":{"Labels":{"org.x":"1","n":2}}}'
    digest = pkg.image(config, b"layer", "v1")
    (shown,) = _shown(pkg)
    assert shown.version.digest == digest and shown.version.tags == ("v1",)
    assert shown.labels == (("n", "2"), ("org.x", "1"))
    assert shown.annotations == (("a", "1"), ("b", "2"))
    assert [(x.size, x.media_type) for x in shown.layers] == [(999, "tar")]  # as declared
    # the manifest, its config, and the layer as stored (5 bytes), not as declared
    assert shown.total_size == shown.version.size + len(config) + 5


def test_an_index_lists_platforms_and_hides_untagged_platform_manifests(pkg: Package) -> None:
    amd = pkg.image(b'{"a":1}', b"amd", "only-amd")
    arm = pkg.image(b'{"a":2}', b"arm")
    index = pkg.manifest(
        {
            "manifests": [
                {"digest": amd, "platform": {"os": "linux", "architecture": "amd64"}},
                {
                    "digest": arm,
                    "platform": {"os": "linux", "architecture": "arm", "variant": "v7"},
                },
                {"digest": "sha256:" + "0" * 64, "platform": "not an object"},
                "not an entry",
            ]
        },
        "multi",
        media_type=INDEX,
    )
    pkg.child(index, amd)
    pkg.child(index, arm)
    shown = _shown(pkg)
    assert [d.version.digest for d in shown] == [index, amd]  # arm is untagged: under the index
    platforms = shown[0].platforms
    assert [(p.os, p.architecture, p.variant) for p in platforms] == [
        ("linux", "amd64", ""), ("linux", "arm", "v7"), ("", "", ""),
    ]  # fmt: skip
    assert platforms[2].size == 0  # a platform manifest that is not here
    assert shown[0].total_size == shown[0].version.size + platforms[0].size + platforms[1].size
    assert shown[0].version.is_index and shown[0].layers == ()


def test_artifacts_are_shown_under_their_subject_and_its_index(pkg: Package) -> None:
    amd = pkg.image(b'{"a":1}', b"amd")
    index = pkg.manifest({"manifests": [{"digest": amd}]}, "multi", media_type=INDEX)
    pkg.child(index, amd)
    typed = pkg.manifest(
        {"annotations": {"k": "v"}},
        artifact_type="sbom",
        subject_digest=amd,
        annotations='{"k":"v"}',
    )
    untyped = pkg.manifest({"config": {"mediaType": "sig"}}, subject_digest=index)
    bare = pkg.manifest({"mediaType": "plain"}, subject_digest=index)
    (shown,) = _shown(pkg)
    by_digest = {a.digest: a for a in shown.artifacts}
    assert set(by_digest) == {typed, untyped, bare}
    assert by_digest[typed].artifact_type == "sbom"
    assert by_digest[typed].annotations == (("k", "v"),)
    assert by_digest[untyped].artifact_type == "sig"  # from its config's media type
    assert by_digest[bare].artifact_type == "plain"  # from its own media type


def test_content_that_does_not_parse_shows_nothing_of_it(pkg: Package) -> None:
    pkg.manifest(b"not json", "broken")
    pkg.manifest(b'["a list"]', "list")
    pkg.image(b"not json either", b"layer", "bad-config")
    pkg.image(b'{"config":{"Labels":{"a":"b"}}}', b"layer2", "config-gone", stored=False)
    shown = {d.version.tags[0]: d for d in _shown(pkg)}
    for tag in ("broken", "list"):
        d = shown[tag]
        assert (d.layers, d.labels, d.annotations, d.total_size) == ((), (), (), d.version.size)
    assert shown["bad-config"].labels == () and shown["config-gone"].labels == ()


def test_a_config_over_the_limit_is_not_read(pkg: Package, monkeypatch: pytest.MonkeyPatch) -> None:
    config = b'{"config":{"Labels":{"a":"b"}}}'
    pkg.image(config, b"layer", "v1")
    assert _shown(pkg)[0].labels == (("a", "b"),)
    monkeypatch.setattr(vd, "CONFIG_LIMIT", len(config) - 1)
    assert _shown(pkg)[0].labels == ()


def test_deleted_versions_are_not_shown_and_at_most_max_versions_are(
    pkg: Package, monkeypatch: pytest.MonkeyPatch
) -> None:
    digests = [pkg.manifest({"n": n}, f"v{n}") for n in range(4)]
    lifecycle.delete_version(pkg.conn, pkg.id, digests[3], "user alice", T0)
    assert [d.version.digest for d in _shown(pkg)] == digests[2::-1]  # newest first
    monkeypatch.setattr(vd, "MAX_VERSIONS", 2)
    assert [d.version.digest for d in _shown(pkg)] == digests[2:0:-1]

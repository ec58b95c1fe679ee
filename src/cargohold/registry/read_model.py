"""The package read model: what a package, its versions and its pages are, as every adapter shows
them (the REST API and the CLI as GitHub's JSON, the UI as HTML).

Values only; ``read_queries`` builds them from the database, ``version_details`` adds what a
version's manifest and config say, ``effective_access`` who holds a role. Nothing here decides
who may see what: ``read_queries.visible`` and the services (``LifecycleService`` for the REST
API and the CLI, ``PackageViews`` for the UI) do, with the one ``decide()``.

A version is a manifest of the package. Its id is the first 52 bits of its digest's hex value: a
stable integer (JSON-safe) without an extra column; ids are only ever looked up within one
package, where a collision needs some 2^26 versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cargohold.accounts.account_service import Account, OrgSettings, Repository
from cargohold.authz.decide import Source
from cargohold.authz.model import Role, Visibility
from cargohold.registry.package_settings import PackageSettings

ID_HEX = 13  # 52 bits
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


def version_id(digest: str) -> int:
    return int(digest.partition(":")[2][:ID_HEX], 16)


@dataclass(frozen=True, slots=True)
class PackageView:
    """A package: ``version_count`` counts its live manifests (attached artifacts and the
    platform manifests of an index included, as on GitHub); ``updated_at`` is when its newest
    live version was pushed (its creation when it has none)."""

    id: int
    name: str  # full path "owner/name[/more]"
    owner: Account
    visibility: Visibility
    version_count: int
    created_at: datetime
    updated_at: datetime
    linked: Repository | None  # live or deleted (a deleted one is still named; its id says which)
    deleted_at: datetime | None

    @property
    def short_name(self) -> str:
        """The name within its owner namespace (GitHub's ``name``)."""
        return self.name.partition("/")[2]

    @property
    def repository(self) -> Repository | None:
        """The linked repository while it exists (a deleted one links nothing)."""
        return None if self.linked is None or self.linked.deleted else self.linked


@dataclass(frozen=True, slots=True)
class VersionView:
    """A version; ``size`` is the manifest's own; ``tags`` of a deleted version are those it had."""

    id: int
    digest: str
    media_type: str
    size: int
    created_at: datetime
    tags: tuple[str, ...]
    deleted_at: datetime | None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True, slots=True)
class Layer:
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True, slots=True)
class Platform:
    digest: str
    os: str
    architecture: str
    variant: str
    size: int


@dataclass(frozen=True, slots=True)
class Artifact:
    """A manifest attached to a version through its ``subject`` (signature, SBOM, ...)."""

    digest: str
    artifact_type: str
    created: datetime | None
    annotations: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class VersionDetail:
    """A version as its package page shows it: ``total_size`` is the manifest and everything it
    references that is known here. Labels and annotations are plain strings: rendering them
    safely is the adapter's job (the UI escapes everything)."""

    version: VersionView
    total_size: int
    platforms: tuple[Platform, ...] = ()
    layers: tuple[Layer, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    artifacts: tuple[Artifact, ...] = ()


@dataclass(frozen=True, slots=True)
class Access:
    """One principal's effective role on a package and every source of it."""

    who: str  # "user alice", "repository acme/shop"
    kind: str  # "user" | "repository" | "everyone"
    role: Role
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class PackagePage:
    package: PackageView
    versions: tuple[VersionDetail, ...]
    can_admin: bool
    admins: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SettingsPage:
    """The settings page; ``settings`` and ``effective`` are None for a non-admin."""

    package: PackageView
    can_admin: bool
    admins: tuple[str, ...]
    settings: PackageSettings | None = None
    effective: tuple[Access, ...] | None = None


@dataclass(frozen=True, slots=True)
class OwnerPage:
    owner: Account
    packages: tuple[PackageView, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class OrgPackageSettings:
    """An organization's package settings as its members see them."""

    settings: OrgSettings
    is_owner: bool
    owners: tuple[str, ...]

    @property
    def member_create(self) -> tuple[Visibility, ...]:
        """The visibilities members may create, in the order of ``Visibility``."""
        return tuple(v for v in Visibility if v in self.settings.member_create_visibilities)

"""The typed values the registry services take and return (the public domain API's nouns)."""

from __future__ import annotations

from dataclasses import dataclass

from cargohold.authz.model import PackageState


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs a use case: the credential (binds upload sessions) and the principal.

    ``user_id`` for a person, ``repo_id`` for a CI job acting as its repository; all None when
    authentication is off.
    """

    credential_id: str | None = None
    user_id: int | None = None
    repo_id: int | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """The package a request addresses, as the authorization step saw it.

    ``state`` is the state the decision was made on; None when authentication is off (then the
    package is looked up, and created on push, by name alone).
    """

    name: str
    state: PackageState | None = None


@dataclass(frozen=True, slots=True)
class PackageRef:
    id: int
    name: str
    created: bool = False  # this call created it


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A blob now visible in a package."""

    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class UploadStatus:
    """An open upload session: its id and how many bytes it holds."""

    session: str
    size: int


@dataclass(frozen=True, slots=True)
class Mount:
    """A cross-repository mount request whose source the caller was authorized to read."""

    digest: str
    source_id: int


@dataclass(frozen=True, slots=True)
class PushedManifest:
    digest: str
    subject: str | None

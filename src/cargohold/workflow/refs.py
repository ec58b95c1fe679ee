"""Image references as docker reads them, and ``--registry-alias`` resolution. Pure.

    parse_reference("ghcr.io/acme/shop:v1") -> ImageRef("ghcr.io", "acme/shop", "v1", None)
    parse_reference("alpine")               -> ImageRef("docker.io", "library/alpine", "latest")
    Aliases({"ghcr.io": "127.0.0.1:5000"}).target("ghcr.io") -> ("127.0.0.1:5000", insecure=True)

A name with an upper-case letter is refused as docker refuses it
(``repository name must be lowercase``); the first component is a registry when it has a dot
or a colon or is ``localhost``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Fa-f0-9]{32,}$")


class ReferenceError(ValueError):
    """An image reference docker would refuse; the message is docker's reason."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str
    name: str
    tag: str | None
    digest: str | None = None

    @property
    def reference(self) -> str:
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        out = f"{self.registry}/{self.name}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(text: str) -> ImageRef:
    ref = text.strip()
    if not ref:
        raise ReferenceError("invalid reference format: empty")
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not _DIGEST.match(digest):
            raise ReferenceError(f"invalid reference format: bad digest {digest!r}")
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ReferenceError(f"invalid reference format: bad tag {tag!r}")
    parts = ref.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, path = parts[0], parts[1:]
    else:
        registry, path = "docker.io", parts
        if len(path) == 1:
            path = ["library", *path]
    name = "/".join(path)
    if name.lower() != name:
        raise ReferenceError(
            f"invalid reference format: repository name ({name}) must be lowercase"
        )
    if not all(_COMPONENT.match(c) for c in path):
        raise ReferenceError(f"invalid reference format: {text.strip()!r}")
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(registry, name, tag, digest)


class Aliases:
    """``--registry-alias ghcr.io=HOST:PORT``: where a registry named in a workflow really is."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = dict(mapping)

    @staticmethod
    def parse(items: list[str]) -> Aliases:
        out = {}
        for item in items:
            name, sep, target = item.partition("=")
            if not sep or not name.strip() or not target.strip():
                raise ValueError(f"--registry-alias {item!r}: expected NAME=HOST:PORT")
            out[name.strip()] = target.strip()
        return Aliases(out)

    def target(self, registry: str) -> tuple[str, bool]:
        """(host, insecure): aliased hosts and loopback hosts speak plain HTTP."""
        host = self.mapping.get(registry, registry)
        if host.startswith("https://"):
            return host[len("https://") :].rstrip("/"), False
        if host.startswith("http://"):
            return host[len("http://") :].rstrip("/"), True
        if host == "docker.io":
            return "registry-1.docker.io", False
        loopback = host.split(":")[0] in ("localhost", "127.0.0.1", "::1", "[::1]")
        return host, registry in self.mapping or loopback

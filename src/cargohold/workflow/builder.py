"""The built-in daemonless image builder: Dockerfiles without ``RUN``, reproducibly.

    result = build(BuildRequest(context=Path("."), dockerfile="Dockerfile", platforms=[...]))
    result.digest        # the manifest's digest (an image index's with several platforms)
    result.blobs()       # every blob to push (base layers, our layers, configs)

Supported: ``FROM scratch`` or a base image fetched through ``fetch_base`` (the caller pulls it
from a registry), ``ARG`` (before and after FROM, ``--build-arg`` values), ``COPY`` / ``ADD`` of
local files (globs, directories, ``--chown=UID:GID``, ``--chmod``; ``ADD`` extracts local tar
archives), ``ENV``, ``LABEL``, ``WORKDIR``, ``USER``, ``EXPOSE``, ``CMD``, ``ENTRYPOINT``,
``VOLUME``, ``STOPSIGNAL``, ``SHELL``, ``.dockerignore``. ``RUN`` raises ``NeedsExecutionError``
(the runner uses buildah then, or fails saying so); anything else raises ``BuildError``.

Reproducible: a layer is a tar with entries in sorted order, owner 0:0 (or ``--chown``), empty
user and group names and every mtime set to the build's epoch (``SOURCE_DATE_EPOCH``, else 0),
gzip-compressed without a name or timestamp; the config's ``created`` and history use the same
epoch; manifests are canonical JSON. Same input, same digest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform as host_platform
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cargohold.workflow.dockerfile import (
    DockerfileError,
    Instruction,
    key_values,
    parse_dockerfile,
    split_words,
    substitute,
)
from cargohold.workflow.layers import (
    BuildContext,
    BuildError,
    NeedsExecutionError,
    archive_layer,
    file_mode,
    is_tar,
    layer_tar,
    owner_ids,
)
from cargohold.workflow.ociclient import manifest_json

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class Blob:
    digest: str
    data: bytes
    media_type: str

    @staticmethod
    def of(data: bytes, media_type: str) -> Blob:
        return Blob("sha256:" + hashlib.sha256(data).hexdigest(), data, media_type)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True, slots=True)
class BaseImage:
    """A pulled base image for one platform: its config and its (compressed) layers."""

    config: dict[str, Any]
    layers: list[Blob]


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @staticmethod
    def parse(text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise BuildError(f"invalid platform {text!r}: expected OS/ARCH[/VARIANT]")
        return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @staticmethod
    def host() -> Platform:
        machine = host_platform.machine().lower()
        arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)
        return Platform("linux", arch)

    def __str__(self) -> str:
        return "/".join(x for x in (self.os, self.architecture, self.variant) if x)

    def as_dict(self) -> dict[str, str]:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out


@dataclass(frozen=True, slots=True)
class BuildRequest:
    context: Path
    dockerfile: Path
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    platforms: Sequence[Platform] = ()
    epoch: int = 0
    fetch_base: Callable[[str, Platform], BaseImage] | None = None
    log: Callable[[str], None] = lambda line: None
    # Called before each instruction: raises to stop the build (the step was interrupted).
    check: Callable[[], None] = lambda: None


@dataclass(frozen=True, slots=True)
class BuiltImage:
    platform: Platform
    manifest: Blob
    config: Blob
    layers: list[Blob]


@dataclass(frozen=True, slots=True)
class BuildResult:
    images: list[BuiltImage]
    index: Blob | None

    @property
    def top(self) -> Blob:
        """What a tag points at: the index with several platforms, else the one manifest."""
        return self.index or self.images[0].manifest

    @property
    def digest(self) -> str:
        return self.top.digest

    @property
    def image_id(self) -> str:
        return self.images[0].config.digest

    def blobs(self) -> list[Blob]:
        """Layers and configs, each once, in push order (manifests are pushed separately)."""
        seen: dict[str, Blob] = {}
        for image in self.images:
            for blob in (*image.layers, image.config):
                seen.setdefault(blob.digest, blob)
        return list(seen.values())


def epoch_from_env(environ: Mapping[str, str]) -> int:
    """``SOURCE_DATE_EPOCH`` when set and valid, else 0 (so builds are reproducible anyway)."""
    raw = environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(raw) if raw.isdigit() else 0


def needs_execution(dockerfile_text: str) -> bool:
    """True when the Dockerfile has a ``RUN`` (the built-in builder cannot run commands)."""
    try:
        return any(i.keyword == "RUN" for i in parse_dockerfile(dockerfile_text))
    except DockerfileError:
        return False


def build(request: BuildRequest) -> BuildResult:
    """Build the image for every requested platform (the host's when none is given)."""
    try:
        text = request.dockerfile.read_text()
    except OSError as exc:
        raise BuildError(f"cannot read the Dockerfile {request.dockerfile}: {exc}") from exc
    try:
        instructions = parse_dockerfile(text)
    except DockerfileError as exc:
        raise BuildError(f"{request.dockerfile}: {exc}") from exc
    for ins in instructions:
        if ins.keyword == "RUN":
            raise NeedsExecutionError(
                f"{request.dockerfile}:{ins.line}: RUN needs a builder that executes commands; "
                "install buildah (the runner uses it when present), or build without RUN"
            )
    stages = sum(1 for i in instructions if i.keyword == "FROM")
    if stages == 0:
        first = next((i for i in instructions if i.keyword != "ARG"), instructions[0])
        raise BuildError(f"{request.dockerfile}:{first.line}: {first.keyword} before FROM")
    if stages > 1:
        raise BuildError(
            f"{request.dockerfile}: the built-in builder builds one stage (exactly one FROM); "
            "install buildah for multi-stage builds"
        )
    files = BuildContext(request.context)
    platforms = list(request.platforms) or [Platform.host()]
    images = [_Stage(request, files, p).run(instructions) for p in platforms]
    index = None
    if len(images) > 1:
        index = Blob.of(
            manifest_json(
                {
                    "schemaVersion": 2,
                    "mediaType": INDEX,
                    "manifests": [
                        {**img.manifest.descriptor(), "platform": img.platform.as_dict()}
                        for img in images
                    ],
                }
            ),
            INDEX,
        )
    return BuildResult(images, index)


class _Stage:
    def __init__(self, request: BuildRequest, files: BuildContext, plat: Platform) -> None:
        self.req = request
        self.files = files
        self.platform = plat
        self.args: dict[str, str] = {}
        self.config: dict[str, Any] = {}
        self.layers: list[Blob] = []
        self.diff_ids: list[str] = []
        self.history: list[dict[str, Any]] = []
        self.created = datetime.fromtimestamp(request.epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.shell = ["/bin/sh", "-c"]

    def auto_args(self) -> dict[str, str]:
        p = self.platform
        host = Platform.host()
        return {
            "TARGETPLATFORM": str(p),
            "TARGETOS": p.os,
            "TARGETARCH": p.architecture,
            "TARGETVARIANT": p.variant or "",
            "BUILDPLATFORM": str(host),
            "BUILDOS": host.os,
            "BUILDARCH": host.architecture,
        }

    def variables(self) -> dict[str, str]:
        env = dict(x.split("=", 1) for x in self.c.get("Env", []) if "=" in x)
        return {**self.args, **env}

    def run(self, instructions: list[Instruction]) -> BuiltImage:
        global_args: dict[str, str] = {}
        stage_started = False
        for ins in instructions:
            self.req.check()
            where = f"{self.req.dockerfile.name}:{ins.line}"
            try:
                if not stage_started:
                    if ins.keyword == "ARG":
                        for name, default in self.arg_pairs(ins, global_args):
                            global_args[name] = default
                        continue
                    if ins.keyword != "FROM":
                        raise BuildError(f"{ins.keyword} before FROM")
                    self.from_(substitute(ins.args, global_args), ins)
                    stage_started = True
                    continue
                self.step(ins)
            except (DockerfileError, BuildError) as exc:
                raise BuildError(f"{where}: {exc}") from exc
        return self.finish()

    def arg_pairs(self, ins: Instruction, scope: Mapping[str, str]) -> list[tuple[str, str]]:
        out = []
        for word in split_words(ins.args):
            name, sep, default = word.partition("=")
            value = self.req.build_args.get(name)
            if value is None:
                value = self.auto_args().get(name) if not sep else substitute(default, scope)
            out.append((name, value or ""))
        return out

    def from_(self, text: str, ins: Instruction) -> None:
        words = text.split()
        if (
            not words
            or (len(words) not in (1, 3))
            or (len(words) == 3 and words[1].lower() != "as")
        ):
            raise BuildError(f"FROM {text!r}: expected IMAGE [AS NAME]")
        image = words[0]
        if "platform" in ins.flags:
            raise BuildError("FROM --platform is not supported by the built-in builder")
        self.config = {
            "architecture": self.platform.architecture,
            "os": self.platform.os,
            "config": {},
        }
        if image == "scratch":
            return
        if self.req.fetch_base is None:
            raise BuildError(f"FROM {image}: no registry to pull base images from")
        self.req.log(f"load metadata for {image} ({self.platform})")
        base = self.req.fetch_base(image, self.platform)
        self.config["config"] = dict(base.config.get("config") or {})
        self.layers = list(base.layers)
        self.diff_ids = list((base.config.get("rootfs") or {}).get("diff_ids") or [])
        self.history = list(base.config.get("history") or [])
        if len(self.diff_ids) != len(self.layers):
            raise BuildError(f"FROM {image}: its config and manifest disagree on the layers")

    @property
    def c(self) -> dict[str, Any]:
        conf: dict[str, Any] = self.config["config"]
        return conf

    def record(self, ins: Instruction, empty: bool) -> None:
        entry: dict[str, Any] = {
            "created": self.created,
            "created_by": f"{ins.keyword} {ins.args} # buildkit",
            "comment": "buildkit.dockerfile.v0",
        }
        if empty:
            entry["empty_layer"] = True
        self.history.append(entry)

    def step(self, ins: Instruction) -> None:
        k = ins.keyword
        vars_ = self.variables()
        if k == "ARG":
            for name, value in self.arg_pairs(ins, vars_):
                self.args[name] = value
            self.record(ins, True)
            return
        if k in ("COPY", "ADD"):
            self.copy(ins, vars_)
            return
        if k == "ENV":
            env = [x for x in self.c.get("Env", [])]
            for name, value in key_values(ins.args):
                value = substitute(value, self.variables())
                env = [x for x in env if x.split("=", 1)[0] != name] + [f"{name}={value}"]
                self.c["Env"] = env
        elif k == "LABEL":
            labels = dict(self.c.get("Labels") or {})
            for name, value in key_values(ins.args):
                labels[substitute(name, vars_)] = substitute(value, vars_)
            self.c["Labels"] = labels
        elif k == "WORKDIR":
            path = substitute(ins.args.strip(), vars_)
            self.c["WorkingDir"] = posixpath.normpath(
                posixpath.join(self.c.get("WorkingDir") or "/", path)
            )
        elif k == "USER":
            self.c["User"] = substitute(ins.args.strip(), vars_)
        elif k == "EXPOSE":
            ports = dict(self.c.get("ExposedPorts") or {})
            for word in substitute(ins.args, vars_).split():
                ports[word if "/" in word else f"{word}/tcp"] = {}
            self.c["ExposedPorts"] = ports
        elif k in ("CMD", "ENTRYPOINT"):
            form = ins.json_list()
            command = form if form is not None else [*self.shell, ins.args]
            if k == "ENTRYPOINT":
                self.c["Entrypoint"] = command
                self.c.pop("Cmd", None)
            else:
                self.c["Cmd"] = command
        elif k == "VOLUME":
            form = ins.json_list() or substitute(ins.args, vars_).split()
            volumes = dict(self.c.get("Volumes") or {})
            volumes.update({v: {} for v in form})
            self.c["Volumes"] = volumes
        elif k == "STOPSIGNAL":
            self.c["StopSignal"] = substitute(ins.args.strip(), vars_)
        elif k == "SHELL":
            form = ins.json_list()
            if not form:
                raise BuildError('SHELL needs the JSON form, e.g. SHELL ["/bin/bash", "-c"]')
            self.shell = form
            self.c["Shell"] = form
        elif k == "MAINTAINER":
            self.config["author"] = ins.args.strip()
        else:
            raise BuildError(
                f"{k} is not supported by the built-in builder (supported: FROM, ARG, COPY, "
                "ADD, ENV, LABEL, WORKDIR, USER, EXPOSE, CMD, ENTRYPOINT, VOLUME, STOPSIGNAL, "
                "SHELL); install buildah for it"
            )
        self.record(ins, True)

    def copy(self, ins: Instruction, vars_: Mapping[str, str]) -> None:
        if "from" in ins.flags:
            raise BuildError(f"{ins.keyword} --from needs a multi-stage build; install buildah")
        form = ins.json_list()
        words = form if form is not None else split_words(ins.args)
        words = [substitute(w, vars_) for w in words]
        if len(words) < 2:
            raise BuildError(f"{ins.keyword} needs a source and a destination")
        *sources, dest = words
        if any(re.match(r"^[a-z]+://", s) for s in sources):
            raise BuildError(f"{ins.keyword} from a URL is not supported by the built-in builder")
        uid, gid = owner_ids(ins.flags.get("chown"))
        chmod = file_mode(ins.flags.get("chmod"))
        workdir = self.c.get("WorkingDir") or "/"
        dest_abs = posixpath.normpath(posixpath.join(workdir, dest))
        entries: dict[str, tuple[Path | None, str | None]] = {}  # image path -> (file, link)
        matched: list[str] = []
        for source in sources:
            found = self.files.match(source)
            if not found:
                raise BuildError(
                    f'{ins.keyword} failed: "{source}" not found in the build context '
                    "(or excluded by .dockerignore)"
                )
            matched.extend(found)
        into_dir = dest.endswith("/") or len(matched) > 1
        for rel in matched:
            path = self.files.root / rel if rel != "." else self.files.root
            if path.is_dir() and not path.is_symlink():
                for inner in self.files.files_under(rel):
                    sub = inner if rel == "." else inner[len(rel) + 1 :]
                    entries[posixpath.join(dest_abs, sub)] = (self.files.root / inner, None)
                continue
            target = posixpath.join(dest_abs, posixpath.basename(rel)) if into_dir else dest_abs
            if ins.keyword == "ADD" and is_tar(path):
                self.add_layer(ins, archive_layer(path, target if into_dir else dest_abs))
                return
            entries[target] = (path, None)
        data = layer_tar(entries, uid, gid, chmod, self.req.epoch)
        self.add_layer(ins, data)

    def add_layer(self, ins: Instruction, tar_bytes: bytes) -> None:
        self.diff_ids.append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
        gz = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0, compresslevel=6) as out:
            out.write(tar_bytes)
        blob = Blob.of(gz.getvalue(), LAYER)
        self.layers.append(blob)
        self.record(ins, False)
        self.req.log(f"{ins.keyword} {ins.args}: layer {blob.digest[7:19]} ({len(blob.data)} B)")

    def finish(self) -> BuiltImage:
        labels = dict(self.c.get("Labels") or {})
        labels.update(self.req.labels)
        if labels:
            self.c["Labels"] = labels
        env = list(self.c.get("Env") or [])
        if not any(x.startswith("PATH=") for x in env):
            # BuildKit gives every Linux image a PATH; a FROM scratch image included.
            self.c["Env"] = [DEFAULT_PATH, *env]
        config = {
            **self.config,
            "created": self.created,
            "rootfs": {"type": "layers", "diff_ids": self.diff_ids},
            "history": self.history,
        }
        if self.platform.variant:
            config["variant"] = self.platform.variant
        config_blob = Blob.of(manifest_json(config), CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": config_blob.descriptor(),
            "layers": [layer.descriptor() for layer in self.layers],
        }
        return BuiltImage(
            self.platform, Blob.of(manifest_json(manifest), MANIFEST), config_blob, self.layers
        )


def image_json(result: BuildResult) -> str:
    """The buildx ``metadata`` output for a build (digests of what was built)."""
    return json.dumps(
        {
            "containerimage.digest": result.digest,
            "containerimage.config.digest": result.image_id,
            "containerimage.descriptor": {
                "mediaType": result.top.media_type,
                "digest": result.digest,
                "size": len(result.top.data),
            },
        },
        indent=2,
    )

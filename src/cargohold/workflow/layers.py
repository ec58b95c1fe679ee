"""Build-context files and reproducible layer tars for the built-in builder. Pure, plus reads.

    files = BuildContext(Path("."))          # the context minus .dockerignore'd paths
    files.match("conf/*.toml")              # COPY source patterns -> context paths
    layer_tar({"/app/x": (Path("x"), None)}, uid=0, gid=0, chmod=None, epoch=0) -> bytes

A layer tar has its entries sorted, parent directories added (0755), owner ``uid:gid`` with
empty names, and every mtime set to ``epoch``: the same files give the same bytes.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from cargohold.workflow.dockerfile import ignore_matcher


class BuildError(Exception):
    """The built-in builder cannot build this Dockerfile; the message says why."""


class NeedsExecutionError(BuildError):
    """The Dockerfile runs commands (``RUN``): it needs a builder that executes (buildah)."""


class BuildContext:
    """The build context: files not excluded by ``.dockerignore``, as POSIX relative paths."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        ignore = self.root / ".dockerignore"
        excluded = ignore_matcher(ignore.read_text() if ignore.is_file() else "")
        self.paths: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(
                filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]
            ):
                rel = (Path(dirpath) / name).relative_to(self.root).as_posix()
                if not excluded(rel):
                    self.paths.append(rel)
        self.paths.sort()
        self.excluded = excluded

    def match(self, pattern: str) -> list[str]:
        """Files (and directories) named by a COPY source, relative to the context."""
        clean = posixpath.normpath(pattern.lstrip("/")) if pattern.strip("/") else "."
        if clean.startswith(".."):
            raise BuildError(f"COPY source {pattern!r} is outside the build context")
        if clean == ".":
            return ["."]
        if any(ch in clean for ch in "*?["):
            regex = re.compile(
                "^" + re.escape(clean).replace(r"\*", "[^/]*").replace(r"\?", "[^/]") + "$"
            )
            candidates = sorted(set(self.paths) | {d for p in self.paths for d in parents(p)})
            return [c for c in candidates if c and regex.match(c)]
        path = self.root / clean
        if path.is_dir() or clean in self.paths:
            return [clean]
        return []

    def files_under(self, rel: str) -> list[str]:
        if rel == ".":
            return list(self.paths)
        prefix = rel.rstrip("/") + "/"
        return [p for p in self.paths if p.startswith(prefix)]


def owner_ids(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 0
    user, _, group = text.partition(":")
    group = group or user
    if not (user.isdigit() and group.isdigit()):
        raise BuildError(
            f"--chown={text}: the built-in builder takes numeric UID:GID (it has no /etc/passwd)"
        )
    return int(user), int(group)


def file_mode(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(text, 8)
    except ValueError as exc:
        raise BuildError(f"--chmod={text}: expected an octal mode such as 755") from exc


def is_tar(path: Path) -> bool:
    try:
        return path.is_file() and tarfile.is_tarfile(path)
    except OSError:
        return False


def parents(path: str) -> Iterable[str]:
    parts = path.strip("/").split("/")[:-1]
    for i in range(len(parts)):
        yield "/".join(parts[: i + 1])


def layer_tar(
    entries: Mapping[str, tuple[Path | None, str | None]],
    uid: int,
    gid: int,
    chmod: int | None,
    epoch: int,
) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        dirs = sorted({p for dest in entries for p in parents(dest)})
        names = sorted(set(dirs) | {d.strip("/") for d in entries})
        for name in names:
            info = tarfile.TarInfo(name)
            info.mtime = epoch
            info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
            if name in dirs and "/" + name not in entries:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                continue
            src, _ = entries["/" + name]
            assert src is not None
            if src.is_symlink():
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(src)
                info.mode = 0o777
                tar.addfile(info)
                continue
            data = src.read_bytes()
            info.size = len(data)
            info.mode = chmod if chmod is not None else (src.stat().st_mode & 0o7777)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def archive_layer(path: Path, dest: str) -> bytes:
    """ADD of a local tar: its members under ``dest``, re-packed (ownership and times kept)."""
    out = io.BytesIO()
    with (
        tarfile.open(path) as src,
        tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for member in sorted(src.getmembers(), key=lambda m: m.name):
            name = posixpath.normpath(posixpath.join(dest, member.name)).lstrip("/")
            if name.startswith(".."):
                raise BuildError(f"ADD {path.name}: member {member.name!r} escapes the destination")
            clone = tarfile.TarInfo(name)
            for attr in ("size", "mode", "uid", "gid", "mtime", "type", "linkname"):
                setattr(clone, attr, getattr(member, attr))
            fileobj = src.extractfile(member) if member.isfile() else None
            tar.addfile(clone, fileobj)
    return out.getvalue()

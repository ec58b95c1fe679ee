"""docker/metadata-action's tag and label rules, as a pure function.

    meta = compute(MetaInputs(images="ghcr.io/Acme/Shop", tags="type=semver,pattern={{version}}"),
                   MetaContext(event_name="release", ref="refs/tags/v1.2.3", ...))
    meta.tags     -> ["ghcr.io/acme/shop:1.2.3", "ghcr.io/acme/shop:latest"]
    meta.version  -> "1.2.3"      (the highest-priority tag, before flavor's latest)
    meta.labels   -> {"org.opencontainers.image.source": "https://github.com/acme/shop", ...}

Rules (from the action's documentation): tag types ``schedule`` (1000), ``semver`` (900),
``match`` (800), ``edge`` (700), ``ref`` (600), ``raw`` (200), ``sha`` (100) with those default
priorities; ``priority=``, ``enable=``, ``prefix=``, ``suffix=``, ``value=`` attributes; the
default tag list ``type=schedule``, ``type=ref,event=branch``, ``type=ref,event=tag``,
``type=ref,event=pr``; a pre-release version only yields ``{{version}}``; ``flavor: latest=auto``
adds ``latest`` when a ``ref`` tag (tag event), a non-pre-release ``semver`` or a ``match`` tag
was produced; image names are lower-cased; tags are sanitised (characters outside
``[A-Za-z0-9._-]`` become ``-``, at most 128 characters).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

PRIORITY = {
    "schedule": 1000,
    "semver": 900,
    "pep440": 900,
    "match": 800,
    "edge": 700,
    "ref": 600,
    "raw": 200,
    "sha": 100,
}
DEFAULT_TAGS = "type=schedule\ntype=ref,event=branch\ntype=ref,event=tag\ntype=ref,event=pr"
_SEMVER = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)


class MetadataError(ValueError):
    """An input the action would reject (unknown type, bad attribute)."""


@dataclass(frozen=True, slots=True)
class MetaContext:
    event_name: str
    ref: str
    sha: str
    repository: str  # owner/name
    server_url: str = "https://github.com"
    description: str = ""
    license: str = ""
    pr_number: int | None = None
    default_branch: str = "main"
    created: str = "1970-01-01T00:00:00.000Z"


@dataclass(frozen=True, slots=True)
class MetaInputs:
    images: str = ""
    tags: str = ""
    flavor: str = ""
    labels: str = ""
    sep_tags: str = "\n"
    sep_labels: str = "\n"


@dataclass(frozen=True, slots=True)
class Meta:
    version: str
    tags: list[str]
    labels: dict[str, str]
    bare_tags: list[str] = field(default_factory=list)

    def outputs(self, inputs: MetaInputs) -> dict[str, str]:
        label_lines = [f"{k}={v}" for k, v in self.labels.items()]
        return {
            "version": self.version,
            "tags": inputs.sep_tags.join(self.tags),
            "labels": inputs.sep_labels.join(label_lines),
            "annotations": inputs.sep_labels.join(f"manifest:{x}" for x in label_lines),
            "json": json.dumps(
                {
                    "tags": self.tags,
                    "labels": self.labels,
                    "annotations": [f"manifest:{x}" for x in label_lines],
                },
                indent=2,
            ),
        }


def _items(text: str) -> list[str]:
    """A list input: newline- or comma-separated, ``#`` comments dropped (images)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _attrs(line: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for part in _split_csv(line):
        key, sep, value = part.partition("=")
        if not sep:
            # `type=raw,foo` and a bare `foo` line are raw values.
            attrs.setdefault("value", key.strip())
            continue
        attrs[key.strip().lower()] = value.strip()
    return attrs


def _split_csv(line: str) -> list[str]:
    parts, current, quote = [], "", ""
    for ch in line:
        if quote:
            if ch == quote:
                quote = ""
            else:
                current += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ",":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in (x.strip() for x in parts) if p]


def _bool(value: str, what: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", ""):
        return True
    if lowered == "false":
        return False
    raise MetadataError(f"{what}={value!r}: expected true or false")


def sanitize_tag(tag: str) -> str:
    """Docker's tag rule: ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``."""
    tag = re.sub(r"[^A-Za-z0-9._-]", "-", tag)
    if tag and tag[0] in ".-":
        tag = "_" + tag[1:] if tag[0] == "." else tag
    return tag[:128]


def _semver(pattern: str, version: str, raw: str) -> tuple[str, bool] | None:
    match = _SEMVER.match(version)
    if not match:
        return None
    clean = version[1:] if version.startswith("v") else version
    clean = clean.split("+", 1)[0]
    pre = match.group("pre") is not None
    if pre:
        # Pre-releases only extend {{version}} (or {{raw}}), whatever the pattern.
        return (raw if "{{raw}}" in pattern else clean), True
    out = (
        pattern.replace("{{raw}}", raw)
        .replace("{{version}}", clean)
        .replace("{{major}}", match.group("major"))
        .replace("{{minor}}", match.group("minor"))
        .replace("{{patch}}", match.group("patch"))
    )
    return out, False


@dataclass(slots=True)
class _Tag:
    value: str
    priority: int
    latest_ok: bool


def _tag_for(attrs: dict[str, str], ctx: MetaContext) -> _Tag | None:
    kind = attrs.get("type", "raw")
    if kind not in PRIORITY:
        raise MetadataError(f"unknown tag type {kind!r}; known: {', '.join(PRIORITY)}")
    if "enable" in attrs and not _bool(attrs["enable"], "enable"):
        return None
    priority = int(attrs["priority"]) if attrs.get("priority", "").isdigit() else PRIORITY[kind]
    value: str | None = None
    latest_ok = False
    is_tag = ctx.ref.startswith("refs/tags/")
    if kind == "schedule":
        if ctx.event_name != "schedule":
            return None
        value = "nightly"
    elif kind == "ref":
        event = attrs.get("event")
        if event == "branch" and ctx.ref.startswith("refs/heads/"):
            if ctx.event_name == "schedule":
                return None  # a scheduled run is tagged nightly, not by branch
            value = ctx.ref[len("refs/heads/") :]
        elif event == "tag" and is_tag:
            value = ctx.ref[len("refs/tags/") :]
            latest_ok = True
        elif event == "pr" and ctx.event_name in ("pull_request", "pull_request_target"):
            attrs.setdefault("prefix", "pr-")
            value = str(ctx.pr_number or "")
        elif event not in ("branch", "tag", "pr"):
            raise MetadataError("type=ref needs event=branch, event=tag or event=pr")
    elif kind in ("semver", "pep440"):
        source = attrs.get("value") or (ctx.ref[len("refs/tags/") :] if is_tag else "")
        if not source or "pattern" not in attrs:
            if "pattern" not in attrs:
                raise MetadataError(f"type={kind} needs a pattern, e.g. pattern={{{{version}}}}")
            return None
        result = _semver(attrs["pattern"], source, source)
        if result is None:
            return None
        value, pre = result
        latest_ok = not pre
    elif kind == "match":
        source = attrs.get("value") or (ctx.ref[len("refs/tags/") :] if is_tag else "")
        found = re.search(attrs.get("pattern", ""), source) if source else None
        if not found:
            return None
        group = int(attrs.get("group", "0") or 0)
        value = found.group(group)
        latest_ok = True
    elif kind == "edge":
        branch = attrs.get("branch", ctx.default_branch)
        if ctx.ref != f"refs/heads/{branch}":
            return None
        value = "edge"
    elif kind == "raw":
        value = attrs.get("value", "")
    elif kind == "sha":
        attrs.setdefault("prefix", "sha-")
        value = ctx.sha if attrs.get("format") == "long" else ctx.sha[:7]
    if not value:
        return None
    value = attrs.get("prefix", "") + value + attrs.get("suffix", "")
    return _Tag(sanitize_tag(value), priority, latest_ok)


def _flavor(text: str) -> dict[str, str]:
    out = {"latest": "auto", "prefix": "", "suffix": ""}
    for line in _items(text):
        for part in _split_csv(line):
            key, _, value = part.partition("=")
            key = key.strip().lower()
            if key not in ("latest", "prefix", "suffix", "onlatest", "prefix-latest"):
                raise MetadataError(f"unknown flavor {key!r}; known: latest, prefix, suffix")
            out[key] = value.strip()
    if out["latest"] not in ("auto", "true", "false"):
        raise MetadataError(f"latest={out['latest']!r}: expected auto, true or false")
    return out


def image_names(text: str) -> list[str]:
    """The ``images`` input: one name per line or comma, lower-cased (``enable=false`` dropped)."""
    names = []
    for line in _items(text):
        for part in line.split(",") if "name=" not in line else [line]:
            attrs = _attrs(part) if "=" in part else {"name": part.strip()}
            name = attrs.get("name") or attrs.get("value", "")
            if "enable" in attrs and not _bool(attrs["enable"], "enable"):
                continue
            if name:
                names.append(name.lower())
    return names


def compute(inputs: MetaInputs, ctx: MetaContext) -> Meta:
    flavor = _flavor(inputs.flavor)
    rules = _items(inputs.tags) or _items(DEFAULT_TAGS)
    produced: list[_Tag] = []
    for rule in rules:
        attrs = _attrs(rule)
        tag = _tag_for(attrs, ctx)
        if tag is not None:
            tag.value = sanitize_tag(flavor["prefix"] + tag.value + flavor["suffix"])
            if all(t.value != tag.value for t in produced):
                produced.append(tag)
    produced.sort(key=lambda t: -t.priority)
    version = produced[0].value if produced else ""
    bare = [t.value for t in produced]
    latest = flavor["latest"]
    if (latest == "true" or (latest == "auto" and any(t.latest_ok for t in produced))) and (
        "latest" not in bare
    ):
        bare.append("latest")
    images = image_names(inputs.images)
    tags = [f"{image}:{tag}" for image in images for tag in bare] if images else list(bare)
    url = f"{ctx.server_url.rstrip('/')}/{ctx.repository}"
    labels = {
        "org.opencontainers.image.title": ctx.repository.split("/")[-1],
        "org.opencontainers.image.description": ctx.description,
        "org.opencontainers.image.url": url,
        "org.opencontainers.image.source": url,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": ctx.created,
        "org.opencontainers.image.revision": ctx.sha,
        "org.opencontainers.image.licenses": ctx.license,
    }
    for line in _items(inputs.labels):
        key, sep, value = line.partition("=")
        if sep:
            labels[key.strip()] = value.strip()
    return Meta(version, tags, labels, bare)

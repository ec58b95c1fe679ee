"""docker/metadata-action's tag rules, checked against the action's documented examples."""

from __future__ import annotations

import json

import pytest

from cargohold.workflow.metadata import (
    MetaContext,
    MetadataError,
    MetaInputs,
    compute,
    sanitize_tag,
)

SHA = "860c1904a1ce19322e91ac35af1ab07466440c37"


def ctx(event: str, ref: str, **kw: object) -> MetaContext:
    return MetaContext(event_name=event, ref=ref, sha=SHA, repository="Acme/Shop", **kw)  # type: ignore[arg-type]


# The README's table for the default tags (images: name/app).
DEFAULTS = [
    (ctx("pull_request", "refs/pull/2/merge", pr_number=2), ["pr-2"]),
    (ctx("push", "refs/heads/master"), ["master"]),
    (ctx("push", "refs/heads/releases/v1"), ["releases-v1"]),
    (ctx("push", "refs/tags/v1.2.3"), ["v1.2.3", "latest"]),
    (ctx("push", "refs/tags/v2.0.8-beta.67"), ["v2.0.8-beta.67", "latest"]),
    (ctx("workflow_dispatch", "refs/heads/master"), ["master"]),
]


@pytest.mark.parametrize(("context", "tags"), DEFAULTS)
def test_default_tags(context: MetaContext, tags: list[str]) -> None:
    meta = compute(MetaInputs(images="name/app"), context)
    assert meta.tags == [f"name/app:{t}" for t in tags]


SEMVER = (
    "type=ref,event=branch\ntype=ref,event=pr\ntype=semver,pattern={{version}}\n"
    "type=semver,pattern={{major}}.{{minor}}"
)


@pytest.mark.parametrize(
    ("ref", "tags", "version"),
    [
        ("refs/tags/v1.2.3", ["1.2.3", "1.2", "latest"], "1.2.3"),
        # A pre-release only yields {{version}}, and no latest.
        ("refs/tags/v2.0.8-beta.67", ["2.0.8-beta.67"], "2.0.8-beta.67"),
        ("refs/heads/master", ["master"], "master"),
        ("refs/tags/not-semver", [], ""),
    ],
)
def test_semver_patterns(ref: str, tags: list[str], version: str) -> None:
    meta = compute(MetaInputs(images="name/app", tags=SEMVER), ctx("push", ref))
    assert meta.bare_tags == tags
    assert meta.version == version


def test_release_event_of_the_seed() -> None:
    meta = compute(
        MetaInputs(images="ghcr.io/Acme/Shop", tags="type=semver,pattern={{version}}\ntype=sha"),
        ctx("release", "refs/tags/v0.0.10"),
    )
    # Image names are lower-cased; semver (900) ranks before sha (100); latest last.
    assert meta.tags == [
        "ghcr.io/acme/shop:0.0.10",
        "ghcr.io/acme/shop:sha-860c190",
        "ghcr.io/acme/shop:latest",
    ]
    assert meta.labels["org.opencontainers.image.source"] == "https://github.com/Acme/Shop"
    assert meta.labels["org.opencontainers.image.version"] == "0.0.10"
    assert meta.labels["org.opencontainers.image.revision"] == SHA
    out = meta.outputs(MetaInputs())
    assert json.loads(out["json"])["tags"] == meta.tags
    assert out["version"] == "0.0.10"
    assert "org.opencontainers.image.title=Shop" in out["labels"].splitlines()


@pytest.mark.parametrize(
    ("tags", "flavor", "expected"),
    [
        ("type=raw,value=foo\ntype=raw,bar", "", ["foo", "bar"]),  # raw gives no latest
        ("type=raw,value=foo", "latest=true", ["foo", "latest"]),
        ("type=ref,event=tag", "latest=false", ["v1.0.0"]),
        ("type=sha,format=long", "", [f"sha-{SHA}"]),
        ("type=sha,prefix=", "", [SHA[:7]]),
        ("type=ref,event=tag,suffix=-alpine", "", ["v1.0.0-alpine", "latest"]),
        ("type=ref,event=tag", "prefix=app-", ["app-v1.0.0", "latest"]),
        ("type=raw,value=low,priority=1\ntype=raw,value=high,priority=2000", "", ["high", "low"]),
        ("type=raw,value=off,enable=false\ntype=raw,value=on,enable=true", "", ["on"]),
        ("type=match,pattern=v(\\d+)\\.\\d+,group=1", "", ["1", "latest"]),
        ("type=edge,branch=main", "", []),
    ],
)
def test_rules(tags: str, flavor: str, expected: list[str]) -> None:
    meta = compute(MetaInputs(tags=tags, flavor=flavor), ctx("push", "refs/tags/v1.0.0"))
    assert meta.bare_tags == expected


def test_edge_and_schedule() -> None:
    assert compute(MetaInputs(tags="type=edge"), ctx("push", "refs/heads/main")).bare_tags == [
        "edge"
    ]
    assert compute(MetaInputs(), ctx("schedule", "refs/heads/main")).bare_tags == ["nightly"]


@pytest.mark.parametrize(
    ("tags", "flavor", "message"),
    [
        ("type=bogus", "", "unknown tag type 'bogus'"),
        ("type=semver", "", "needs a pattern"),
        ("type=ref", "", "needs event=branch"),
        ("type=raw,value=x", "latest=maybe", "expected auto, true or false"),
        ("type=raw,value=x", "colour=blue", "unknown flavor"),
        ("type=raw,value=x,enable=perhaps", "", "expected true or false"),
    ],
)
def test_bad_inputs(tags: str, flavor: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        compute(MetaInputs(tags=tags, flavor=flavor), ctx("push", "refs/tags/v1.0.0"))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("feature/x", "feature-x"),
        ("a b@c", "a-b-c"),
        (".hidden", "_hidden"),
        ("x" * 200, "x" * 128),
    ],
)
def test_sanitize_tag(raw: str, clean: str) -> None:
    assert sanitize_tag(raw) == clean

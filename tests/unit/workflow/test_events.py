"""Events: generated payloads, ``on:`` filters, image references and registry aliases."""

from __future__ import annotations

import pytest

from cargohold.workflow.events import EventSpec, make_event, triggered
from cargohold.workflow.model import parse
from cargohold.workflow.refs import Aliases, ImageRef, ReferenceError, parse_reference


def event(name: str, **kw: object) -> object:
    return make_event(EventSpec(name=name, repository="acme/shop", actor="alice", **kw))  # type: ignore[arg-type]


def test_release_payload_as_the_seed_reads_it() -> None:
    ev = make_event(EventSpec(name="release", repository="acme/shop", actor="alice", tag="v0.0.10"))
    assert ev.payload["release"]["tag_name"] == "v0.0.10"
    assert ev.payload["action"] == "published"
    assert (ev.ref, ev.ref_name, ev.ref_type) == ("refs/tags/v0.0.10", "v0.0.10", "tag")


def test_release_needs_a_tag() -> None:
    with pytest.raises(ValueError, match="--tag"):
        make_event(EventSpec(name="release", repository="acme/shop", actor="alice"))


def test_payload_file_is_merged_over_the_generated_one() -> None:
    ev = make_event(
        EventSpec(
            name="release",
            repository="acme/shop",
            actor="alice",
            payload={"action": "created", "release": {"tag_name": "v9", "prerelease": True}},
        )
    )
    assert ev.action == "created"
    assert ev.payload["release"]["prerelease"] is True
    assert ev.ref == "refs/tags/v9"


@pytest.mark.parametrize(
    ("on", "spec", "runs"),
    [
        ("release: {types: [published]}", {"name": "release", "tag": "v1"}, True),
        ("release: {types: [created]}", {"name": "release", "tag": "v1"}, False),
        ("push: {branches: [main]}", {"name": "push"}, True),
        (
            "push: {branches: ['releases/**']}",
            {"name": "push", "ref": "refs/heads/releases/a/b"},
            True,
        ),
        (
            "push: {branches: ['releases/*']}",
            {"name": "push", "ref": "refs/heads/releases/a/b"},
            False,
        ),
        ("push: {branches: ['*', '!main']}", {"name": "push"}, False),
        ("push: {branches-ignore: [main]}", {"name": "push"}, False),
        ("push: {tags: ['v*']}", {"name": "push", "tag": "v1.0.0"}, True),
        ("push: {tags: ['v*']}", {"name": "push"}, False),  # a branch push, only tags filtered
        ("push: {branches: [main]}", {"name": "push", "tag": "v1"}, False),
        ("push: {tags-ignore: ['*-rc*']}", {"name": "push", "tag": "v1-rc1"}, False),
        ("[push, release]", {"name": "release", "tag": "v1"}, True),
        ("workflow_dispatch", {"name": "push"}, False),
        ("pull_request: {branches: [main]}", {"name": "pull_request"}, True),
    ],
)
def test_on_filters(on: str, spec: dict[str, str], runs: bool) -> None:
    wf = parse(
        f"on: {{{on}}}\njobs:\n  a: {{steps: [{{run: x}}]}}\n"
        if ":" in on and not on.startswith("[")
        else f"on: {on}\njobs:\n  a: {{steps: [{{run: x}}]}}\n"
    )
    ev = make_event(EventSpec(repository="acme/shop", actor="alice", **spec))  # type: ignore[arg-type]
    assert (triggered(wf, ev) is None) is runs, triggered(wf, ev)


def test_fork_detection() -> None:
    fork = make_event(
        EventSpec(
            name="pull_request",
            repository="acme/shop",
            actor="eve",
            payload={"pull_request": {"head": {"repo": {"full_name": "eve/shop"}}}},
        )
    )
    same = make_event(EventSpec(name="pull_request", repository="acme/shop", actor="alice"))
    assert fork.fork and not same.fork


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("ghcr.io/acme/shop:v1", ImageRef("ghcr.io", "acme/shop", "v1")),
        ("ghcr.io/acme/shop", ImageRef("ghcr.io", "acme/shop", "latest")),
        ("alpine", ImageRef("docker.io", "library/alpine", "latest")),
        ("localhost:5000/a/b/c:x", ImageRef("localhost:5000", "a/b/c", "x")),
        (
            "ghcr.io/acme/shop@sha256:" + "a" * 64,
            ImageRef("ghcr.io", "acme/shop", None, "sha256:" + "a" * 64),
        ),
    ],
)
def test_parse_reference(text: str, ref: ImageRef) -> None:
    assert parse_reference(text) == ref


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ghcr.io/Acme/Shop:v1", "must be lowercase"),
        ("ghcr.io/acme/shop:bad tag", "bad tag"),
        ("ghcr.io/acme//shop", "invalid reference format"),
        ("", "empty"),
        ("ghcr.io/acme/shop@sha256:xyz", "bad digest"),
    ],
)
def test_bad_references(text: str, message: str) -> None:
    with pytest.raises(ReferenceError, match=message):
        parse_reference(text)


def test_aliases() -> None:
    aliases = Aliases.parse(["ghcr.io=127.0.0.1:5000", "quay.io=https://mirror.example"])
    assert aliases.target("ghcr.io") == ("127.0.0.1:5000", True)
    assert aliases.target("quay.io") == ("mirror.example", False)
    assert aliases.target("docker.io") == ("registry-1.docker.io", False)
    assert aliases.target("localhost:5000") == ("localhost:5000", True)
    with pytest.raises(ValueError, match="NAME=HOST:PORT"):
        Aliases.parse(["ghcr.io"])

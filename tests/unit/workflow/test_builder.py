"""The built-in builder: reproducible digests, Dockerfile semantics, clear refusals."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from cargohold.workflow.builder import (
    BuildRequest,
    BuildResult,
    Platform,
    build,
)
from cargohold.workflow.dockerfile import ignore_matcher, parse_dockerfile, substitute
from cargohold.workflow.layers import BuildError, NeedsExecutionError

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=scratch
FROM ${BASE}
ARG VERSION=0.0.0
LABEL org.opencontainers.image.version=$VERSION \\
      description="a small image"
ENV APP_HOME=/app GREETING="hello world"
WORKDIR $APP_HOME
COPY hello.txt ./
COPY conf/ /etc/app/
ADD --chmod=755 bin/run /usr/local/bin/run
USER 1000:1000
EXPOSE 8080 53/udp
ENTRYPOINT ["/usr/local/bin/run"]
CMD ["--serve"]
"""


def make_context(root: Path) -> Path:
    (root / "conf").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "hello.txt").write_text("hello\n")
    (root / "conf" / "app.toml").write_text("x = 1\n")
    (root / "conf" / "secret.key").write_text("do not ship\n")
    (root / "bin" / "run").write_text("#!/bin/sh\n")
    (root / "notes.log").write_text("ignored\n")
    (root / ".dockerignore").write_text("*.log\n**/*.key\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    return root


def run_build(root: Path, **kw: object) -> BuildResult:
    return build(BuildRequest(context=root, dockerfile=root / "Dockerfile", **kw))  # type: ignore[arg-type]


def layer_names(result: BuildResult) -> list[list[str]]:
    out = []
    for layer in result.images[0].layers:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.data))) as tar:
            out.append(tar.getnames())
    return out


def test_same_input_same_digest(tmp_path: Path) -> None:
    a = make_context(tmp_path / "a")
    b = make_context(tmp_path / "b")
    # Different file times must not matter.
    os.utime(b / "hello.txt", (1, 1))
    first, second = run_build(a), run_build(b)
    assert first.digest == second.digest
    assert run_build(a).digest == first.digest


def test_epoch_and_args_change_the_digest(tmp_path: Path) -> None:
    root = make_context(tmp_path)
    base = run_build(root).digest
    assert run_build(root, epoch=1700000000).digest != base
    assert run_build(root, build_args={"VERSION": "1.0.0"}).digest != base


def test_config_follows_the_dockerfile(tmp_path: Path) -> None:
    result = run_build(
        make_context(tmp_path),
        build_args={"VERSION": "1.2.3"},
        labels={"extra": "yes"},
        epoch=1700000000,
    )
    config = json.loads(result.images[0].config.data)
    c = config["config"]
    assert c["Labels"] == {
        "org.opencontainers.image.version": "1.2.3",
        "description": "a small image",
        "extra": "yes",
    }
    assert "APP_HOME=/app" in c["Env"] and "GREETING=hello world" in c["Env"]
    assert any(e.startswith("PATH=") for e in c["Env"])
    assert c["WorkingDir"] == "/app"
    assert c["User"] == "1000:1000"
    assert c["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert c["Entrypoint"] == ["/usr/local/bin/run"] and c["Cmd"] == ["--serve"]
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert len(config["rootfs"]["diff_ids"]) == 3


def test_layers_honour_dockerignore_and_modes(tmp_path: Path) -> None:
    result = run_build(make_context(tmp_path))
    assert layer_names(result) == [
        ["app", "app/hello.txt"],
        ["etc", "etc/app", "etc/app/app.toml"],  # secret.key excluded by **/*.key
        ["usr", "usr/local", "usr/local/bin", "usr/local/bin/run"],
    ]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(result.images[0].layers[2].data))) as t:
        run = t.getmember("usr/local/bin/run")
        assert run.mode == 0o755 and run.mtime == 0 and run.uid == 0 and run.uname == ""


def test_multi_platform_gives_an_index(tmp_path: Path) -> None:
    result = run_build(
        make_context(tmp_path),
        platforms=[Platform.parse("linux/amd64"), Platform.parse("linux/arm64/v8")],
    )
    assert result.index is not None
    index = json.loads(result.index.data)
    assert [m["platform"] for m in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    assert result.digest == result.index.digest


@pytest.mark.parametrize(
    ("dockerfile", "error", "message"),
    [
        ("FROM scratch\nRUN echo hi\n", NeedsExecutionError, "Dockerfile:2: RUN needs"),
        ("FROM scratch\nCOPY missing.txt /\n", BuildError, '"missing.txt" not found'),
        ("FROM scratch\nCOPY notes.log /\n", BuildError, "excluded by .dockerignore"),
        ("FROM scratch\nCOPY ../etc/passwd /\n", BuildError, "outside the build context"),
        ("FROM scratch\nHEALTHCHECK NONE\n", BuildError, "HEALTHCHECK is not supported"),
        ("FROM scratch AS a\nFROM scratch\n", BuildError, "exactly one FROM"),
        ("FROM alpine\n", BuildError, "no registry to pull base images from"),
        ("COPY x /\n", BuildError, "COPY before FROM"),
        ("FROM scratch\nCOPY --chown=app hello.txt /\n", BuildError, "numeric UID:GID"),
        ("FROM scratch\nADD https://example.com/x /\n", BuildError, "from a URL"),
        ("FROM scratch\nCOPY \\\n", BuildError, "ends inside a continued line"),
    ],
)
def test_refusals_say_why(tmp_path: Path, dockerfile: str, error: type, message: str) -> None:
    root = make_context(tmp_path)
    (root / "Dockerfile").write_text(dockerfile)
    with pytest.raises(error, match=message):
        run_build(root)


def test_substitute() -> None:
    env = {"A": "x", "E": ""}
    assert substitute("$A ${A} ${B:-d} ${A:+set} ${E:-empty} \\$A", env) == "x x d set empty $A"


def test_parse_continuations_and_flags() -> None:
    ins = parse_dockerfile("FROM scratch\nCOPY --chown=1:2 \\\n  a \\\n  b /x/\n")
    assert ins[1].keyword == "COPY" and ins[1].flags == {"chown": "1:2"}
    assert ins[1].args.split() == ["a", "b", "/x/"] and ins[1].line == 2


@pytest.mark.parametrize(
    ("rules", "path", "excluded"),
    [
        ("*.log", "a.log", True),
        ("*.log", "sub/a.log", False),
        ("**/*.log", "sub/a.log", True),
        ("build", "build/x/y", True),
        ("*.md\n!README.md", "README.md", False),
        ("*.md\n!README.md", "CHANGES.md", True),
        ("./tmp/", "tmp/x", True),
        ("# comment\n\n", "x", False),
    ],
)
def test_dockerignore(rules: str, path: str, excluded: bool) -> None:
    assert ignore_matcher(rules)(path) is excluded

"""The linter's predictions, with an in-memory registry state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cargohold.workflow.access import PackageAccess
from cargohold.workflow.lint import Finding, LintOptions, lint, render
from cargohold.workflow.model import parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "workflow"


class FakeAccess:
    """Packages and the role acme/shop's jobs hold on each."""

    def __init__(self, roles: dict[str, str], default: str | None = "restricted") -> None:
        self.roles = roles
        self.default = default
        self.asked: list[tuple[str, str]] = []

    def access(self, package: str, repository: str) -> PackageAccess:
        self.asked.append((package, repository))
        if package.split("/")[0] == "ghost":
            raise LookupError("no user or organization named 'ghost'")
        role = self.roles.get(package)
        return PackageAccess(package, role is not None, role or "none", [])

    def owner_default(self, owner: str, repository: str) -> str | None:
        return self.default


def run(text: str, access: FakeAccess | None, **kw: object) -> list[Finding]:
    options = LintOptions(repository="acme/shop", access=access, tag="v0.0.10", **kw)  # type: ignore[arg-type]
    return lint(parse(text, "wf.yml"), options)


def errors(findings: list[Finding]) -> list[str]:
    return [f"{f.pos.line}:{f.code}" for f in findings if f.severity == "error"]


SEED = (FIXTURES / "release.yml").read_text()


def test_seed_against_a_package_pushed_by_a_person() -> None:
    findings = run(SEED, FakeAccess({"acme/shop": "none"}))
    assert errors(findings) == ["35:write-package", "36:write-package"]
    first = findings[0]
    assert first.image == "ghcr.io/acme/shop:v0.0.10"
    assert "would be denied: permission_denied: write_package: repository acme/shop" in (
        first.message
    )
    assert first.fix is not None and "actions-access add acme/shop --repository acme/shop" in (
        first.fix
    )


def test_seed_after_the_grant_and_for_a_new_package() -> None:
    assert errors(run(SEED, FakeAccess({"acme/shop": "write"}))) == []
    created = run(SEED, FakeAccess({}))
    assert [f.code for f in created] == ["creates", "creates"]


def test_seed_without_registry_state_checks_what_it_can() -> None:
    findings = run(SEED, None)
    assert errors(findings) == []
    assert {f.code for f in findings} == {"not-checked"}


def test_contents_only_is_refused_by_the_token_gate_at_the_permissions_line() -> None:
    text = (FIXTURES / "release-contents-only.yml").read_text()
    findings = run(text, FakeAccess({"acme/shop": "write"}))
    assert errors(findings) == ["15:token-permissions", "15:token-permissions"]
    assert "installation not allowed to Write organization package" in findings[0].message
    assert "Create" in run(text, FakeAccess({}))[0].message


WORKFLOW = """
on:
  push:
    tags: ['v*']
env:
  IMAGE: ghcr.io/${{{{ github.repository_owner }}}}/App
jobs:
  build:
{permissions}
    steps:
      - uses: docker/login-action@v3
        with:
          registry: ghcr.io
          username: x
          password: ${{{{ secrets.GITHUB_TOKEN }}}}
      - id: meta
        uses: docker/metadata-action@v5
        with:
          images: ghcr.io/acme/shop
          tags: type=semver,pattern={{{{version}}}}
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: |
            ${{{{ steps.meta.outputs.tags }}}}
            ${{{{ env.IMAGE }}}}:1
            ghcr.io/other/thing:1
            ghcr.io/acme/${{{{ vars.NAME }}}}:1
            ghcr.io/ghost/x:1
            quay.io/acme/shop:1
"""


def test_names_namespaces_and_expressions() -> None:
    text = WORKFLOW.format(permissions="    permissions: {packages: write}")
    findings = run(text, FakeAccess({"acme/shop": "write"}), event="push")
    by_code = {f.code: f for f in findings}
    # metadata-action was simulated: its tags are checked like written ones.
    allowed = [f.image for f in findings if f.code == "allowed"]
    assert allowed == ["ghcr.io/acme/shop:0.0.10", "ghcr.io/acme/shop:latest"]
    assert 'push of "ghcr.io/acme/App:1" would fail' in by_code["image-name"].message
    assert by_code["image-name"].fix is not None
    assert "create_package" in by_code["create-package"].message
    assert "vars.NAME" in by_code["unresolvable"].message
    assert "no user or organization named 'ghost'" in by_code["unknown-owner"].message
    assert "quay.io" in by_code["other-registry"].message
    assert [f.pos.line for f in findings if f.code == "image-name"] == [26]


def test_no_block_with_restricted_default_predicts_the_token_gate() -> None:
    text = WORKFLOW.format(permissions="")
    findings = run(text, FakeAccess({"acme/shop": "write"}, default="restricted"))
    assert "token-permissions" in {f.code for f in findings}
    permissive = run(text, FakeAccess({"acme/shop": "write"}, default="permissive"))
    assert "token-permissions" not in {f.code for f in permissive}
    unknown = run(text, None)
    assert "owner-default" in {f.code for f in unknown}


def test_push_without_login() -> None:
    text = (
        "on: push\njobs:\n  a:\n    steps:\n      - uses: docker/build-push-action@v6\n"
        "        with: {push: true, tags: 'ghcr.io/acme/shop:1'}\n"
    )
    assert errors(run(text, FakeAccess({}))) == ["6:no-login"]


def test_bad_permissions_block_is_an_error() -> None:
    text = "on: push\njobs:\n  a:\n    permissions: {packages: admin}\n    steps: [{run: x}]\n"
    assert errors(run(text, None)) == ["4:permissions"]


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_formats(fmt: str) -> None:
    findings = run(SEED, FakeAccess({"acme/shop": "read"}))
    out = render(findings, fmt)
    if fmt == "json":
        data = json.loads(out)
        assert data[0]["pos"] == {"file": "wf.yml", "line": 35, "col": 13}
        assert data[0]["code"] == "write-package"
    elif fmt == "github":
        assert out.splitlines()[0].startswith("::error file=wf.yml,line=35,col=13,title=")
    else:
        assert out.splitlines()[0].startswith("wf.yml:35:13: error: push of ghcr.io/acme/shop")
        assert "holds the role read" in out
        assert out.splitlines()[-1] == "2 pushes would fail"

"""``cargohold workflow run`` end to end: the seed's release.yml against a real server.

The story of the post, on one machine: the package is first pushed with a PAT; the release
workflow (unedited, ``--registry-alias ghcr.io=127.0.0.1:PORT``) then fails with
``denied: permission_denied: write_package``; after "Manage Actions access" it pushes
``v0.0.10`` and ``latest`` with the same digest, which skopeo pulls; the job token is revoked
when the job ends. A ``contents: write``-only job is refused by the token gate.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.containers import require_tool
from support.e2e import TLS_OFF, cli, creds, http, run, secret_of
from support.server import ServerProcess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "workflow"
WRITE_PACKAGE = "denied: permission_denied: write_package"
INSTALLATION_WRITE = "installation not allowed to Write organization package"
SECRET = re.compile(r"ch[jpr]_[A-Za-z0-9]{20,}")


class World:
    def __init__(self, server: ServerProcess, env: dict[str, str], tmp: Path) -> None:
        self.server = server
        self.env = env
        self.tmp = tmp
        cli(server, "user", "create", "alice")
        cli(server, "org", "create", "acme", "--owner", "alice")
        cli(server, "repo", "create", "acme/shop")
        self.pat = secret_of(
            cli(
                server,
                "token",
                "create",
                "--user",
                "alice",
                "--scopes",
                "read:packages,write:packages",
            )
        )
        self.runner = secret_of(cli(server, "runner", "create", "ci", "--serves", "acme"))
        self.context = tmp / "checkout"
        self.context.mkdir()
        # No org.opencontainers.image.source label: with it, the PAT's first push would link
        # the package to acme/shop, and the repository's jobs would inherit write (as on GHCR).
        (self.context / "Dockerfile").write_text(
            'FROM scratch\nCOPY hello.txt /hello.txt\nCMD ["/hello.txt"]\n'
        )
        (self.context / "hello.txt").write_text("hello from the release workflow\n")

    def workflow(
        self, path: Path, tag: str, *extra: str, ok: bool, repository: str = "acme/shop"
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            sys.executable, "-m", "cargohold", "workflow", "run", str(path),
            "--event", "release", "--tag", tag,
            "--repository", repository, "--actor", "alice",
            "--context", str(self.context),
            "--server", self.server.url, "--runner-token", self.runner,
            "--registry-alias", f"ghcr.io={self.server.host}",
            *extra,
        ]  # fmt: skip
        proc = run(argv, env=self.env, ok=ok, server=self.server)
        # No secret (job token, PAT, runner credential) ever reaches the log.
        assert not SECRET.search(proc.stdout + proc.stderr), proc.stdout
        return proc

    def lint(self, path: Path, *extra: str, ok: bool) -> subprocess.CompletedProcess[str]:
        argv = [
            sys.executable, "-m", "cargohold", "workflow", "lint", str(path),
            "--repository", "acme/shop", "--tag", "v0.0.10", *extra,
        ]  # fmt: skip
        return run(argv, env=self.env, ok=ok, server=self.server)

    def lint_both(self, path: Path, *, ok: bool) -> list[str]:
        """Lint through the server's API and on the data directory; the same findings."""
        remote = self.lint(path, "--server", self.server.url, "--token", self.pat, ok=ok)
        local = self.lint(path, "--data-dir", str(self.server.data_dir), ok=ok)
        assert remote.stdout == local.stdout
        return remote.stdout.splitlines()

    def inspect(self, ref: str) -> dict[str, object]:
        proc = run(
            ["skopeo", "inspect", TLS_OFF, "--creds", creds(self.pat, "alice"),
             f"docker://{self.server.host}/{ref}"],
            env=self.env,
            server=self.server,
        )  # fmt: skip
        data: dict[str, object] = json.loads(proc.stdout)
        return data


@pytest.fixture
def world(server: ServerProcess, client_env: dict[str, str], tmp_path: Path) -> World:
    return World(server, client_env, tmp_path)


def pushed_digest(log: str, ref: str) -> str:
    match = re.search(rf"^  {re.escape(ref)}@(sha256:[0-9a-f]{{64}})", log, re.MULTILINE)
    assert match, f"no pushed digest for {ref} in:\n{log}"
    return match.group(1)


def test_seed_release_workflow_denied_then_granted(
    world: World, skopeo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1. The package is first pushed by a person (the PAT variant of the same workflow).
    first = world.workflow(
        FIXTURES / "release-pat.yml", "v0.0.9", "--secret", f"CR_PAT={world.pat}", ok=True
    )
    assert "Login Succeeded" in first.stdout
    pushed_digest(first.stdout, "ghcr.io/acme/shop:v0.0.9")

    # Lint predicts the refusal, at the line of each tag, with the fix.
    predicted = world.lint_both(FIXTURES / "release.yml", ok=False)
    assert predicted[0].startswith(
        f"{FIXTURES / 'release.yml'}:35:13: error: push of "
        f"ghcr.io/acme/shop:v0.0.10 would be denied: {WRITE_PACKAGE[8:]}"
    )
    assert "actions-access add acme/shop --repository acme/shop --role write" in predicted[0]
    assert predicted[1].startswith(
        f"{FIXTURES / 'release.yml'}:36:13: error: push of ghcr.io/acme/shop:latest"
    )
    # The PAT variant is not predicted to fail (its owner's rights are not known to lint).
    assert world.lint_both(FIXTURES / "release-pat.yml", ok=True)[-1] == (
        "no push would be refused"
    )

    # 2. The seed's workflow, unedited: the job token is refused by the role gate.
    denied = world.workflow(FIXTURES / "release.yml", "v0.0.10", ok=False)
    log = denied.stdout
    assert "GITHUB_TOKEN Permissions\n  Contents: read\n  Metadata: read\n  Packages: write" in log
    assert f"ERROR: failed to push ghcr.io/acme/shop:v0.0.10: {WRITE_PACKAGE}" in log
    assert "cargohold package actions-access add acme/shop --repository acme/shop" in log
    assert re.search(r"Complete job: job token chj_\w+ revoked", log)
    with capsys.disabled():
        print("\n[workflow e2e] the failing run's push:\n" + _push_lines(log))

    # 3. The fix of the post: Manage Actions access, role write. The same run now pushes.
    cli(world.server, "package", "actions-access", "add", "acme/shop",
        "--repository", "acme/shop", "--role", "write")  # fmt: skip
    allowed = world.lint_both(FIXTURES / "release.yml", ok=True)
    assert (
        "notice: push of ghcr.io/acme/shop:v0.0.10 is allowed: acme/shop holds write"
        in (allowed[0])
    )
    ok = world.workflow(FIXTURES / "release.yml", "v0.0.10", ok=True)
    assert "pushing manifest for ghcr.io/acme/shop:v0.0.10@sha256:" in ok.stdout
    digest = pushed_digest(ok.stdout, "ghcr.io/acme/shop:v0.0.10")
    assert pushed_digest(ok.stdout, "ghcr.io/acme/shop:latest") == digest
    with capsys.disabled():
        print("[workflow e2e] the succeeding run's push:\n" + _push_lines(ok.stdout))

    # 4. Both tags pull with skopeo, with the digest the runner printed.
    assert world.inspect("acme/shop:v0.0.10")["Digest"] == digest
    assert world.inspect("acme/shop:latest")["Digest"] == digest


def _push_lines(log: str) -> str:
    return "\n".join(
        line for line in log.splitlines() if line.startswith(("#", "ERROR", "##[error]"))
    )


def test_contents_write_only_is_refused_by_the_token_gate(world: World, skopeo: str) -> None:
    world.workflow(
        FIXTURES / "release-pat.yml", "v0.0.9", "--secret", f"CR_PAT={world.pat}", ok=True
    )
    lint = world.lint_both(FIXTURES / "release-contents-only.yml", ok=False)
    assert lint[0].startswith(
        f"{FIXTURES / 'release-contents-only.yml'}:15:5: error: push of "
        f"ghcr.io/acme/shop:v0.0.10 would be denied: {INSTALLATION_WRITE}"
    )
    assert "Fix: add `packages: write` to the permissions of job build-and-push" in lint[0]
    refused = world.workflow(FIXTURES / "release-contents-only.yml", "v0.0.10", ok=False)
    assert "GITHUB_TOKEN Permissions\n  Contents: write\n  Metadata: read\n" in refused.stdout
    assert (
        "Packages:" not in refused.stdout.split("GITHUB_TOKEN Permissions")[1].split("Job token")[0]
    )
    assert f"denied: {INSTALLATION_WRITE}" in refused.stdout


TOKEN_WORKFLOW = """\
name: token
on: push
jobs:
  leak-attempt:
    runs-on: ubuntu-latest
    permissions:
      packages: write
    steps:
      - uses: actions/checkout@v4
      - run: |
          echo "token is ${{ secrets.GITHUB_TOKEN }}"
          echo "env token is $TOKEN"
          printf '%s' "$TOKEN" > "$KEEP"
        env:
          TOKEN: ${{ github.token }}
          KEEP: ${{ vars.KEEP }}
      - uses: docker/login-action@v3
        with:
          registry: ghcr.io
          username: ${{ github.actor }}
          password: ${{ secrets.GITHUB_TOKEN }}
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ghcr.io/acme/tool:1
"""


def test_job_token_is_masked_and_revoked_when_the_job_ends(
    world: World, skopeo: str, tmp_path: Path
) -> None:
    path = tmp_path / "token.yml"
    path.write_text(TOKEN_WORKFLOW)
    keep = tmp_path / "kept-token"
    argv = [
        sys.executable, "-m", "cargohold", "workflow", "run", str(path),
        "--event", "push", "--repository", "acme/shop", "--context", str(world.context),
        "--server", world.server.url, "--runner-token", world.runner,
        "--registry-alias", f"ghcr.io={world.server.host}", "--var", f"KEEP={keep}",
    ]  # fmt: skip
    proc = run(argv, env=world.env, server=world.server)
    token = keep.read_text()
    assert token.startswith("chj_")
    assert token not in proc.stdout
    assert "token is ***" in proc.stdout and "env token is ***" in proc.stdout
    # The job pushed with it (the package was created by the job) ...
    pushed_digest(proc.stdout, "ghcr.io/acme/tool:1")
    # ... and once the job ended, the same token is refused.
    layout = tmp_path / "layout"
    run(
        [skopeo, "copy", "--src-tls-verify=false", "--src-creds", creds(world.pat, "alice"),
         f"docker://{world.server.host}/acme/tool:1", f"oci:{layout}:1"],
        env=world.env,
        server=world.server,
    )  # fmt: skip
    refused = run(
        [skopeo, "copy", "--dest-tls-verify=false", "--dest-creds", creds(token),
         f"oci:{layout}:1", f"docker://{world.server.host}/acme/tool:2"],
        env=world.env,
        ok=False,
        server=world.server,
    )  # fmt: skip
    assert "unauthenticated" in refused.stderr or "authentication required" in refused.stderr


TIMEOUT_WORKFLOW = """\
name: timeout
on: push
jobs:
  hangs:
    runs-on: ubuntu-latest
    timeout-minutes: ${{ vars.LIMIT }}
    permissions:
      packages: read
    steps:
      - shell: python
        env:
          TOKEN: ${{ github.token }}
          KEEP: ${{ vars.KEEP }}
          V2: ${{ vars.V2 }}
        run: |
          import base64, os, urllib.request
          token = os.environ["TOKEN"]
          open(os.environ["KEEP"], "w").write(token)
          auth = base64.b64encode(f"x:{token}".encode()).decode()
          req = urllib.request.Request(os.environ["V2"], headers={"Authorization": "Basic " + auth})
          print("live token status", urllib.request.urlopen(req).status)
      - run: sleep 120; echo "woke-$((1 + 1))"
      - if: always()
        run: echo "cleanup-$((1 + 1)) in a ${{ job.status }} job"
"""


def test_job_timeout_cancels_the_job_and_its_token_is_revoked(world: World, tmp_path: Path) -> None:
    path = tmp_path / "timeout.yml"
    path.write_text(TIMEOUT_WORKFLOW)
    keep = tmp_path / "kept-token"
    argv = [
        sys.executable, "-m", "cargohold", "workflow", "run", str(path),
        "--event", "push", "--repository", "acme/shop", "--context", str(world.context),
        "--server", world.server.url, "--runner-token", world.runner,
        # 6 s: time for the first step; the sleep is what the limit cuts.
        "--var", "LIMIT=0.1", "--var", f"KEEP={keep}", "--var", f"V2={world.server.url}/v2/",
    ]  # fmt: skip
    proc = run(argv, env=world.env, ok=False, server=world.server)
    assert not SECRET.search(proc.stdout + proc.stderr), proc.stdout
    assert "live token status 200" in proc.stdout
    assert "exceeded the maximum execution time of 0.1 minutes (job 'hangs'" in proc.stdout
    assert "woke-2" not in proc.stdout
    assert "cleanup-2 in a cancelled job" in proc.stdout
    assert "job hangs: CANCELLED" in proc.stdout
    # The cancelled job's token was revoked when it ended, as for any job.
    assert "revoked" in proc.stdout
    assert http("GET", f"{world.server.url}/v2/", secret=keep.read_text()).status == 401


def test_builtin_builder_output_passes_skopeo_and_umoci(
    world: World, skopeo: str, tmp_path: Path
) -> None:
    umoci = require_tool("umoci")
    first = world.workflow(
        FIXTURES / "release-pat.yml", "v1.0.0", "--secret", f"CR_PAT={world.pat}", ok=True
    )
    digest = pushed_digest(first.stdout, "ghcr.io/acme/shop:v1.0.0")
    info = world.inspect("acme/shop:v1.0.0")
    assert info["Digest"] == digest
    assert info["Architecture"] and info["Os"] == "linux"
    # Reproducible: the same checkout built again gives the same digest.
    again = world.workflow(
        FIXTURES / "release-pat.yml", "v1.0.1", "--secret", f"CR_PAT={world.pat}", ok=True
    )
    assert pushed_digest(again.stdout, "ghcr.io/acme/shop:v1.0.1") == digest
    layout = tmp_path / "layout"
    run(
        [skopeo, "copy", "--src-tls-verify=false", "--src-creds", creds(world.pat, "alice"),
         f"docker://{world.server.host}/acme/shop:v1.0.0", f"oci:{layout}:v1"],
        env=world.env,
        server=world.server,
    )  # fmt: skip
    bundle = tmp_path / "bundle"
    run([umoci, "unpack", "--image", f"{layout}:v1", str(bundle)], env=world.env)
    assert (bundle / "rootfs" / "hello.txt").read_text() == "hello from the release workflow\n"
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["args"] == ["/hello.txt"]


def test_access_api_is_for_package_admins_only(world: World) -> None:
    world.workflow(
        FIXTURES / "release-pat.yml", "v0.0.9", "--secret", f"CR_PAT={world.pat}", ok=True
    )
    url = f"{world.server.url}/api/v3/packages/container/acme/shop/access?repository=acme/shop"
    assert http("GET", url).status == 401
    cli(world.server, "user", "create", "mallory")
    other = secret_of(
        cli(world.server, "token", "create", "--user", "mallory", "--scopes", "write:packages")
    )
    refused = http("GET", url, secret=other)
    assert refused.status == 403, refused.text
    answer = http("GET", url, secret=world.pat)
    assert answer.status == 200, answer.text
    data = answer.json()
    assert (data["exists"], data["role"], data["may_create"]) == (True, "none", False)
    # An unknown repository reads like one without a role: nothing leaks about it.
    ghost = http(
        "GET", url.replace("repository=acme/shop", "repository=ghost/repo"), secret=world.pat
    )
    assert ghost.status == 200 and ghost.json()["role"] == "none"
    bad = http("GET", url.replace("repository=acme/shop", "repository=nope"), secret=world.pat)
    assert bad.status == 400


def test_dockerfile_with_run_builds_with_buildah(
    world: World, skopeo: str, buildah: str, tmp_path: Path
) -> None:
    # ldconfig is statically linked: something a FROM scratch image can RUN, offline.
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    shutil.copy(ldconfig, world.context / "ldconfig")
    (world.context / "Dockerfile").write_text(
        'FROM scratch\nCOPY ldconfig /ldconfig\nRUN ["/ldconfig", "--version"]\n'
        "COPY hello.txt /hello.txt\n"
    )
    first = world.workflow(
        FIXTURES / "release-pat.yml", "v3.0.0", "--secret", f"CR_PAT={world.pat}", ok=True
    )
    assert "[buildah] bud --isolation chroot" in first.stdout
    assert "ldconfig (Debian GLIBC" in first.stdout  # the RUN ran
    digest = pushed_digest(first.stdout, "ghcr.io/acme/shop:v3.0.0")
    assert world.inspect("acme/shop:v3.0.0")["Digest"] == digest
    # The job token meets the same denial through buildah's push.
    denied = world.workflow(FIXTURES / "release.yml", "v3.0.1", ok=False)
    assert "ERROR: failed to push ghcr.io/acme/shop:v3.0.1:" in denied.stdout
    assert WRITE_PACKAGE in denied.stdout


def test_local_mode_mints_on_the_data_directory(world: World, skopeo: str) -> None:
    argv = [
        sys.executable, "-m", "cargohold", "workflow", "run", str(FIXTURES / "release.yml"),
        "--event", "release", "--tag", "v0.1.0", "--repository", "acme/shop",
        "--context", str(world.context), "--data-dir", str(world.server.data_dir),
        "--registry-alias", f"ghcr.io={world.server.host}",
    ]  # fmt: skip
    proc = run(argv, env=world.env, server=world.server)
    # No package yet: the job creates it (linked to acme/shop, which becomes its admin).
    digest = pushed_digest(proc.stdout, "ghcr.io/acme/shop:v0.1.0")
    assert world.inspect("acme/shop:latest")["Digest"] == digest
    shown = json.loads(cli(world.server, "package", "show", "acme/shop", "--json"))
    assert "acme/shop" in json.dumps(shown)
    assert re.search(r"Complete job: job token chj_\w+ revoked", proc.stdout)

"""``cargohold workflow run|lint``: run a GitHub Actions workflow here, or predict its pushes.

``run`` is a client of the registry: it mints job tokens through the runner API
(``--server URL`` with ``--runner-token`` / ``CARGOHOLD_RUNNER_TOKEN``) or, for bootstrap, on
the data directory (``--data-dir``), and pushes over the OCI HTTP API like any CI job.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cargohold.workflow.access import AccessError, AccessSource, HttpAccess, PackageAccess
from cargohold.workflow.events import EVENTS, EventSpec, github_context, make_event, triggered
from cargohold.workflow.lint import LintOptions, lint, render
from cargohold.workflow.log import Log
from cargohold.workflow.model import Workflow, parse
from cargohold.workflow.refs import Aliases
from cargohold.workflow.runner import RunEnv, run_workflow
from cargohold.workflow.source import WorkflowError
from cargohold.workflow.tokens import HttpTokenIssuer, JobToken, TokenError, TokenIssuer

if TYPE_CHECKING:
    from cargohold.registry.access_service import JobOutlook


class LocalTokenIssuer:
    """Mints and revokes job tokens on the data directory (no server needed to mint)."""

    def __init__(self, data_dir: str | None, config: str | None) -> None:
        self.data_dir = data_dir
        self.config = config

    def mint(
        self, repository: str, permissions: dict[str, str] | None, *, run_id: str, fork: bool
    ) -> JobToken:
        from cargohold.accounts.token_service import JobTokenRequest
        from cargohold.cli.local import run_local
        from cargohold.errors import CargoholdError
        from cargohold.services import Services

        request = JobTokenRequest(repository, permissions=permissions, run_id=run_id, fork=fork)

        async def act(svc: Services) -> dict[str, object]:
            return await svc.tokens.mint_job_token(request)

        try:
            data = run_local(self.data_dir, self.config, act)
        except CargoholdError as exc:
            raise TokenError(f"minting a job token failed: {exc}") from exc
        raw_perms = data["permissions"]
        assert isinstance(raw_perms, dict)
        return JobToken(
            str(data["id"]),
            str(data["token"]),
            repository,
            dict(raw_perms),
            str(data["expires_at"]),
        )

    def revoke(self, token_id: str) -> None:
        from cargohold.cli.local import run_local
        from cargohold.errors import CargoholdError, NotFoundError
        from cargohold.services import Services

        async def act(svc: Services) -> None:
            await svc.tokens.revoke_job_token(token_id)

        try:
            run_local(self.data_dir, self.config, act)
        except NotFoundError:
            return
        except CargoholdError as exc:
            raise TokenError(str(exc)) from exc


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint=what)
        out[key] = value
    return out


def _dotenv(path: str | None, what: str) -> dict[str, str]:
    """act's ``--secret-file``/``--var-file``: dotenv lines, ``#`` comments, quotes, export."""
    if not path:
        return {}
    out: dict[str, str] = {}
    text = Path(path).read_text()
    try:
        lines = text.splitlines()
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            line = line.removeprefix("export ").strip()
            key, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f"{line!r} is not NAME=VALUE")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
                if line.split("=", 1)[1].strip()[0] == '"':
                    value = value.replace("\\n", "\n")
            out[key.strip()] = value
    except ValueError as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint=what) from exc
    return out


def _git_sha(context: Path) -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", str(context), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "0" * 40
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and len(sha) == 40 else "0" * 40


def _load(path: str) -> Workflow:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc
    try:
        return parse(text, path)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("workflow")
def workflow_group() -> None:
    """Run GitHub Actions workflows with real job tokens, or lint them."""


@workflow_group.command("run")
@click.argument("workflow_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--event", "event_name", type=click.Choice(EVENTS), default=None,
    help="the triggering event (default: the first one the workflow runs on)",
)  # fmt: skip
@click.option("--tag", default=None, help="the release's or pushed tag (v0.0.10)")
@click.option("--ref", default=None, help="the git ref (refs/heads/main)")
@click.option("--input", "inputs", multiple=True, help="workflow_dispatch input NAME=VALUE")
@click.option(
    "--event-payload",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="a JSON webhook payload merged over the generated one (act's -e)",
)
@click.option("--repository", required=True, help="OWNER/NAME the workflow runs for")
@click.option("--actor", default=None, help="github.actor (default: the repository owner)")
@click.option(
    "--context",
    "context_dir",
    default=".",
    type=click.Path(file_okay=False),
    help="the checkout (default .)",
)
@click.option("--server", default=None, help="cargohold server URL (mints job tokens)")
@click.option(
    "--runner-token", default=None, help="runner credential chr_... (or CARGOHOLD_RUNNER_TOKEN)"
)
@click.option("--data-dir", default=None, help="mint job tokens on this data directory")
@click.option("--config", default=None, help="config file with --data-dir")
@click.option("--secret", "secrets", multiple=True, help="NAME=VALUE")
@click.option("--secret-file", default=None, help="dotenv file of secrets (act-compatible)")
@click.option("--var", "variables", multiple=True, help="NAME=VALUE")
@click.option("--var-file", default=None, help="dotenv file of variables")
@click.option("--job", "only_job", default=None, help="run only this job (and what it needs)")
@click.option(
    "--registry-alias",
    "aliases",
    multiple=True,
    help="REGISTRY=HOST:PORT, e.g. ghcr.io=127.0.0.1:5000",
)
@click.option(
    "--actions-source",
    default="https://github.com",
    help="git URL base for owner/repo@ref actions that are not built in",
)
@click.option("--run-id", default=None, help="github.run_id (default: random)")
@click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="matrix jobs run at once (like that many runners; strategy.max-parallel caps it)",
)
@click.option("--keep-workdir", is_flag=True, help="keep the job workspaces")
def run_cmd(
    workflow_file: str,
    event_name: str | None,
    tag: str | None,
    ref: str | None,
    inputs: tuple[str, ...],
    event_payload: str | None,
    repository: str,
    actor: str | None,
    context_dir: str,
    server: str | None,
    runner_token: str | None,
    data_dir: str | None,
    config: str | None,
    secrets: tuple[str, ...],
    secret_file: str | None,
    variables: tuple[str, ...],
    var_file: str | None,
    only_job: str | None,
    aliases: tuple[str, ...],
    actions_source: str,
    run_id: str | None,
    parallel: int,
    keep_workdir: bool,
) -> None:
    """Run WORKFLOW_FILE's jobs here, each with a real, short-lived job token."""
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise click.BadParameter("expected OWNER/NAME", param_hint="--repository")
    issuer: TokenIssuer
    if server:
        secret = runner_token or os.environ.get("CARGOHOLD_RUNNER_TOKEN", "")
        if not secret:
            raise click.UsageError(
                "--server needs a runner credential: --runner-token chr_... or "
                "CARGOHOLD_RUNNER_TOKEN (create one with `cargohold runner create NAME`)"
            )
        issuer = HttpTokenIssuer(server, secret)
    else:
        issuer = LocalTokenIssuer(data_dir, config)
    workflow = _load(workflow_file)
    if event_name is None:
        event_name = next((e for e in workflow.triggers if e in EVENTS), "push")
    payload: dict[str, Any] = {}
    if event_payload:
        try:
            payload = json.loads(Path(event_payload).read_text())
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--event-payload") from exc
        if not isinstance(payload, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--event-payload")
    context = Path(context_dir).resolve()
    if not context.is_dir():
        raise click.BadParameter(f"{context_dir} is not a directory", param_hint="--context")
    try:
        event = make_event(
            EventSpec(
                name=event_name,
                repository=repository,
                actor=actor or repository.split("/")[0],
                sha=_git_sha(context),
                tag=tag,
                ref=ref,
                inputs=_pairs(inputs, "--input"),
                payload=payload,
            )
        )
        alias_map = Aliases.parse(list(aliases))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    log = Log(terminal=sys.stdout.isatty())
    why_not = triggered(workflow, event)
    if why_not:
        log.line(f"Nothing to run: {why_not}.")
        return
    secret_values = {**_dotenv(secret_file, "--secret-file"), **_pairs(secrets, "--secret")}
    var_values = {**_dotenv(var_file, "--var-file"), **_pairs(variables, "--var")}
    run_number_id = run_id or str(uuid.uuid4().int % 10**10)
    work_root = Path(tempfile.mkdtemp(prefix="cargohold-run-"))
    epoch_text = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    renv = RunEnv(
        event=event,
        context_dir=context,
        work_root=work_root,
        issuer=issuer,
        log=log,
        aliases=alias_map,
        secrets=secret_values,
        vars=var_values,
        inputs=dict(event.payload.get("inputs") or {}),
        run_id=run_number_id,
        actions_source=actions_source,
        source_date_epoch=int(epoch_text) if epoch_text.isdigit() else None,
        only_job=only_job,
        parallel=parallel,
    )
    renv.github = github_context(
        event,
        workspace=str(work_root),
        run_id=run_number_id,
        workflow_name=workflow.name or workflow_file,
    )
    log.line(
        f"Workflow {workflow.name or workflow_file} on {event.name} ({event.ref}) "
        f"for {repository}, run {run_number_id}"
    )
    for name, target in alias_map.mapping.items():
        log.line(f"registry alias: {name} -> {target}")
    try:
        result = run_workflow(workflow, renv)
    except WorkflowError as exc:
        log.error(str(exc))
        sys.exit(1)
    finally:
        if not keep_workdir:
            shutil.rmtree(work_root, ignore_errors=True)
        else:
            log.line(f"workspaces kept in {work_root}")
    if not result.ok:
        sys.exit(1)


class LocalAccess:
    """The registry's state read on the data directory (``cargohold why`` and org settings)."""

    def __init__(self, data_dir: str | None, config: str | None) -> None:
        self.data_dir = data_dir
        self.config = config

    def _outlook(self, package: str, repository: str) -> JobOutlook:
        from cargohold.cli.local import run_local
        from cargohold.errors import CargoholdError
        from cargohold.services import Services

        async def act(svc: Services) -> JobOutlook:
            return await svc.access.job_outlook(package, repository)

        try:
            return run_local(self.data_dir, self.config, act)
        except CargoholdError as exc:
            raise LookupError(str(exc)) from exc

    def access(self, package: str, repository: str) -> PackageAccess:
        found = self._outlook(package, repository)
        return PackageAccess(
            package=package,
            exists=found.exists,
            role=found.role.label,
            sources=[f"{x.kind}: {x.description}" for x in found.sources],
        )

    def owner_default(self, owner: str, repository: str) -> str | None:
        try:
            return self._outlook(repository.lower(), repository).owner_default
        except LookupError:
            return None


@workflow_group.command("lint")
@click.argument("workflow_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--repository", required=True, help="OWNER/NAME the workflow runs for")
@click.option("--server", default=None, help="cargohold server URL to ask about packages")
@click.option(
    "--token", "api_token", default=None,
    help="credential for --server (or CARGOHOLD_TOKEN): a PAT of a package admin",
)  # fmt: skip
@click.option("--data-dir", default=None, help="ask the data directory about packages")
@click.option("--config", default=None)
@click.option(
    "--event", "event_name", type=click.Choice(EVENTS), default=None,
    help="the event to predict for (default: the first the workflow runs on)",
)  # fmt: skip
@click.option("--tag", default="v0.0.0", help="the tag release/tag expressions resolve to")
@click.option("--registry-alias", "aliases", multiple=True, help="REGISTRY=HOST:PORT")
@click.option(
    "--owner-default", type=click.Choice(["restricted", "permissive"]), default=None,
    help="the owner's default job permission, when the registry cannot say",
)  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text")
def lint_cmd(
    workflow_file: str,
    repository: str,
    server: str | None,
    api_token: str | None,
    data_dir: str | None,
    config: str | None,
    event_name: str | None,
    tag: str,
    aliases: tuple[str, ...],
    owner_default: str | None,
    fmt: str,
) -> None:
    """Predict, without running, which pushes of WORKFLOW_FILE the registry would refuse.

    Exits 1 when a push would fail (findings as file:line:col: message).
    """
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise click.BadParameter("expected OWNER/NAME", param_hint="--repository")
    access: AccessSource | None = None
    if server:
        access = HttpAccess(server, api_token or os.environ.get("CARGOHOLD_TOKEN", ""))
    elif data_dir:
        access = LocalAccess(data_dir, config)
    try:
        options = LintOptions(
            repository=repository,
            access=access,
            event=event_name,
            tag=tag,
            aliases=Aliases.parse(list(aliases)),
            owner_default=owner_default,
        )
        findings = lint(_load(workflow_file), options)
    except (ValueError, AccessError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(render(findings, fmt))
    if any(f.severity == "error" for f in findings):
        sys.exit(1)

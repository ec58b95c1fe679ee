"""The ``cargohold`` command: ``serve`` and the management commands, local or remote.

Local mode works on the data directory's database directly (the operator is trusted), so it
works while the server runs: every change takes effect on the server's next request. Remote mode
(``--server URL``, see ``cli.remote``) makes the same change through the REST API as the
signed-in user. A command that creates a secret prints it as its only stdout line; lists print
a table (``--json`` for scripts); the others print JSON. Exit codes: 2 bad input, 3 denied,
4 not found, 1 anything else.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from cargohold.authz.model import JobDefault, OrgRole, RepoRole, Visibility
from cargohold.cli import maintenance, manage, package_cmds, remote, tables
from cargohold.cli.local import run_local
from cargohold.cli.remote import RemoteError, run_remote
from cargohold.cli.workflow import workflow_group
from cargohold.errors import CargoholdError, ConfigError
from cargohold.registry.package_settings import PACKAGE_ROLES

F = TypeVar("F", bound=Callable[..., Any])


def common(fn: F) -> F:
    fn = click.option(
        "--token", "token", default=None, envvar="CARGOHOLD_TOKEN", help="token for --server"
    )(fn)
    fn = click.option(
        "--server", "server", default=None, help="a running server's URL (remote mode)"
    )(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="print JSON")(fn)
    fn = click.option("--config", "config", default=None, help="config file (TOML)")(fn)
    fn = click.option(
        "--data-dir", "data_dir", default=None, help="data directory (default ./cargohold-data)"
    )(fn)
    return fn


def emit(result: Any, as_json: bool, kind: str = "") -> None:
    if isinstance(result, manage.Secret):
        click.echo(result.value)
        return
    if isinstance(result, list) and not as_json and tables.print_table(kind, result):
        return
    if as_json or not isinstance(result, str):
        click.echo(json.dumps(result, indent=None if as_json else 2, default=str))
    else:
        click.echo(result)


def local_command(
    group: click.Group, name: str, action: Callable[..., Any], *params: Callable[[F], F]
) -> None:
    """Register ``name`` under ``group``: parse options, run ``action(services, **options)``."""

    def callback(
        data_dir: str | None,
        config: str | None,
        as_json: bool,
        server: str | None,
        token: str | None,
        **options: Any,
    ) -> None:
        try:
            if server is not None:
                result = run_remote(action.__name__, server, token, options)
            else:
                result = run_local(data_dir, config, lambda services: action(services, **options))
        except RemoteError as exc:
            click.echo(f"error: {exc.message}", err=True)
            if isinstance(exc.body, dict) and isinstance(exc.body.get("detail"), dict):
                for fix in exc.body["detail"].get("fix") or []:
                    click.echo(f"  fix: {fix}", err=True)
            sys.exit(remote.exit_code(exc.status))
        except CargoholdError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(remote.exit_code(exc.status))
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(remote.EXIT_BAD_INPUT)
        emit(result, as_json, action.__name__)

    command: Any = common(callback)
    for param in reversed(params):
        command = param(command)
    group.command(name, help=(action.__doc__ or "").strip().splitlines()[0])(command)


@click.group()
@click.version_option(package_name="cargohold")
def cli() -> None:
    """cargohold: an OCI registry with GitHub's package permission model."""


@cli.command("serve")
@click.option("--listen", default=None, help="HOST:PORT (default 127.0.0.1:5000)")
@click.option("--workers", type=int, default=None, help="worker processes")
@click.option("--data-dir", "data_dir", default=None)
@click.option("--config", "config", default=None)
@click.option("--tls-cert", "tls_cert", default=None, help="PEM certificate chain (HTTPS)")
@click.option("--tls-key", "tls_key", default=None, help="PEM private key (reloaded on SIGHUP)")
def serve_cmd(
    listen: str | None,
    workers: int | None,
    data_dir: str | None,
    config: str | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Start the registry (SQLite + filesystem under the data directory by default)."""
    from cargohold.cli.serve import serve

    try:
        serve(
            data_dir=data_dir,
            config=config,
            listen=listen,
            workers=workers,
            tls_cert=tls_cert,
            tls_key=tls_key,
        )
    except (CargoholdError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _groups() -> dict[str, click.Group]:
    groups = {}
    for name, doc in [
        ("user", "Users."),
        ("org", "Organizations."),
        ("team", "Teams of an organization."),
        ("repo", "Source repositories (the identities CI jobs run for)."),
        ("token", "Personal access tokens."),
        ("runner", "Runner credentials for CI systems."),
        ("job-token", "Short-lived CI job tokens."),
        ("package", "Package settings: visibility, link, inheritance, access."),
        ("uploads", "Upload sessions."),
    ]:
        groups[name] = click.Group(name, help=doc)
        cli.add_command(groups[name])
    groups["org member"] = click.Group("member", help="Organization members.")
    groups["org"].add_command(groups["org member"])
    groups["team member"] = click.Group("member", help="Team members.")
    groups["team"].add_command(groups["team member"])
    groups["repo collaborator"] = click.Group("collaborator", help="Repository collaborators.")
    groups["repo"].add_command(groups["repo collaborator"])
    groups["package access"] = click.Group("access", help="Manage access (users, teams).")
    groups["package"].add_command(groups["package access"])
    groups["package actions-access"] = click.Group(
        "actions-access", help="Manage Actions access (repositories)."
    )
    groups["package"].add_command(groups["package actions-access"])
    return groups


G = _groups()
arg = click.argument
opt = click.option
# Choices come from the domain's vocabularies, never from lists of their own.
ROLE = click.Choice([role.label for role in PACKAGE_ROLES])
REPO_ROLE = click.Choice([role.value for role in RepoRole])
ORG_ROLE = click.Choice([role.value for role in OrgRole])
VIS = click.Choice([v.value for v in Visibility])
JOB_DEFAULT = click.Choice([d.value for d in JobDefault])

local_command(
    G["user"], "create", manage.user_create, arg("name"), opt("--site-admin", is_flag=True)
)


@G["user"].command("password")
@arg("name")
@common
def user_password(
    name: str,
    data_dir: str | None,
    config: str | None,
    as_json: bool,
    server: str | None,
    token: str | None,
) -> None:
    """Set a user's web sign-in password, read from stdin (or asked for twice on a terminal)."""
    if server is not None:
        click.echo(
            "error: user password works on the data directory; against a server, create "
            "the user with a password (POST /api/v3/admin/users)",
            err=True,
        )
        sys.exit(remote.EXIT_BAD_INPUT)
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        run_local(data_dir, config, lambda svc: svc.signin.set_password(name, password))
    except (CargoholdError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    emit({"user": name, "password": "set"}, as_json)


local_command(G["org"], "create", manage.org_create, arg("name"), opt("--owner", required=True))
local_command(
    G["org"],
    "settings",
    manage.org_settings,
    arg("org"),
    opt(
        "--member-create",
        default=None,
        help="visibilities members may create, e.g. private,internal",
    ),
    opt("--default-visibility", type=VIS, default=None),
    opt("--inherit-default", type=click.Choice(["on", "off"]), default=None),
    opt("--default-job-permission", type=JOB_DEFAULT, default=None),
)
local_command(
    G["org member"],
    "add",
    manage.org_member_add,
    arg("org"),
    arg("user"),
    opt("--role", type=ORG_ROLE, default=OrgRole.MEMBER.value),
)
local_command(G["team"], "create", manage.team_create, arg("team"))
local_command(G["team member"], "add", manage.team_member_add, arg("team"), arg("user"))
local_command(
    G["repo"],
    "create",
    manage.repo_create,
    arg("repository"),
    opt("--visibility", type=VIS, default="private"),
)
local_command(G["repo"], "delete", manage.repo_delete, arg("repository"))
local_command(
    G["repo collaborator"],
    "add",
    manage.repo_collaborator_add,
    arg("repository"),
    opt("--user", default=None),
    opt("--team", default=None),
    opt("--role", type=REPO_ROLE, required=True),
)
local_command(
    G["token"],
    "create",
    manage.token_create,
    opt("--user", required=True),
    opt("--scopes", required=True),
    opt("--expires-in", default=None),
    opt("--name", default=None),
)
local_command(G["token"], "revoke", manage.token_revoke, arg("token_id"))
local_command(G["token"], "list", manage.token_list, opt("--user", default=None))
local_command(
    G["runner"],
    "create",
    manage.runner_create,
    arg("name"),
    opt("--serves", multiple=True, help="OWNER or OWNER/NAME the runner mints tokens for"),
)
local_command(G["runner"], "serve", manage.runner_serve, arg("runner_id"), arg("target"))
local_command(
    G["job-token"],
    "create",
    manage.job_token_create,
    opt("--repository", required=True),
    opt("--permissions", default=None),
    opt("--ttl", default=None),
    opt("--run-id", default=None),
    opt("--fork", is_flag=True, help="a pull request from a fork (at most read)"),
)
local_command(G["job-token"], "revoke", manage.job_token_revoke, arg("token_id"))
local_command(G["package"], "show", manage.package_show, arg("package"))
local_command(
    G["package"],
    "visibility",
    manage.package_visibility,
    arg("package"),
    arg("visibility", type=VIS),
)
local_command(
    G["package"],
    "link",
    manage.package_link,
    arg("package"),
    opt("--repository", default=None),
    opt("--unlink", is_flag=True),
)
local_command(
    G["package"],
    "inherit",
    manage.package_inherit,
    arg("package"),
    arg("state", type=click.Choice(["on", "off"])),
)
local_command(
    G["package access"],
    "add",
    manage.package_access_add,
    arg("package"),
    opt("--user", default=None),
    opt("--team", default=None),
    opt("--role", type=ROLE, required=True),
)
local_command(
    G["package access"],
    "remove",
    manage.package_access_remove,
    arg("package"),
    opt("--user", default=None),
    opt("--team", default=None),
)
local_command(
    G["package actions-access"],
    "add",
    manage.package_actions_add,
    arg("package"),
    opt("--repository", required=True),
    opt("--role", type=ROLE, required=True),
)
local_command(
    G["package actions-access"],
    "remove",
    manage.package_actions_remove,
    arg("package"),
    opt("--repository", required=True),
)
local_command(
    cli,
    "why",
    manage.why,
    arg("package"),
    opt("--user", default=None),
    opt("--repository", default=None),
)
local_command(G["uploads"], "sweep", manage.uploads_sweep, opt("--older-than", default=None))
local_command(
    cli,
    "audit",
    manage.audit,
    opt("--package", default=None),
    opt("--limit", type=int, default=50),
)

cli.add_command(workflow_group)

local_command(
    G["package"],
    "list",
    package_cmds.package_list,
    arg("owner"),
    opt("--visibility", type=VIS, default=None),
)
local_command(
    G["package"],
    "versions",
    package_cmds.package_versions,
    arg("package"),
    opt("--deleted", is_flag=True, help="the deleted (restorable) versions"),
)
local_command(
    G["package"],
    "delete",
    package_cmds.package_delete,
    arg("package"),
    opt("--version", "version", default=None, help="one version: id, digest or tag"),
)
local_command(
    G["package"],
    "restore",
    package_cmds.package_restore,
    arg("package"),
    opt("--version", "version", default=None, help="one version: id, digest or tag"),
)


@cli.command("login")
@click.argument("server")
@click.option("--token", default=None, envvar="CARGOHOLD_TOKEN", help="a PAT (else asked for)")
def login_cmd(server: str, token: str | None) -> None:
    """Sign in to a running server with a PAT; kept 0600 under the user's config directory."""
    secret = token or click.prompt("token", hide_input=True)
    try:
        me = remote.Client(server, secret).request("GET", "/user")
    except RemoteError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(remote.exit_code(exc.status))
    path = remote.store_login(server, secret, me["login"])
    click.echo(f"signed in to {server} as {me['login']} (token kept in {path})")


@cli.command("logout")
@click.argument("server")
def logout_cmd(server: str) -> None:
    """Forget the stored login for a server."""
    if not remote.forget_login(server):
        click.echo(f"not signed in to {server}", err=True)
        sys.exit(remote.EXIT_NOT_FOUND)
    click.echo(f"signed out of {server}")


local_command(cli, "gc", maintenance.gc, opt("--dry-run", is_flag=True))
RETENTION = click.Group("retention", help="Retention policies (per owner or package).")
cli.add_command(RETENTION)
SCOPE = (opt("--owner", default=None), opt("--package", default=None))
local_command(
    RETENTION,
    "set",
    maintenance.retention_set,
    *SCOPE,
    opt("--keep", type=int, default=None, help="keep the newest N versions"),
    opt("--untagged-older-than", default=None, help="delete untagged versions older (30d)"),
    opt("--protect", default=None, help="tag patterns never deleted (v*,latest)"),
)
local_command(RETENTION, "show", maintenance.retention_show, *SCOPE)
local_command(RETENTION, "remove", maintenance.retention_remove, *SCOPE)
local_command(
    RETENTION,
    "run",
    maintenance.retention_run,
    opt("--dry-run", is_flag=True),
    opt("--package", default=None),
)


def main() -> None:
    cli(prog_name="cargohold")


__all__ = ["cli", "main"]

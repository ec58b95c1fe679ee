"""The CLI words in remote mode: each makes the REST API call that does what the local action
does (``manage``), and returns the same kind of data (or a ``Secret``, printed once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cargohold.cli.manage import Secret, parse_duration
from cargohold.cli.remote import Client, RemoteError, quote
from cargohold.errors import InvalidRequestError


def _split(ref: str, what: str = "OWNER/NAME") -> tuple[str, str]:
    owner, sep, name = ref.partition("/")
    if not sep or not owner or not name:
        raise InvalidRequestError(f"expected {what}, got {ref!r}")
    return owner, name


def _namespace(c: Client, owner: str) -> str:
    """``/orgs/X`` or ``/users/X``, as the account's type says."""
    account = c.request("GET", f"/users/{quote(owner)}")
    return (
        f"/orgs/{quote(owner)}"
        if account.get("type") == "Organization"
        else f"/users/{quote(owner)}"
    )


def _pkg(c: Client, package: str) -> str:
    owner, name = _split(package, "OWNER/PACKAGE")
    return f"{_namespace(c, owner)}/packages/container/{quote(name)}"


def user_create(c: Client, name: str, site_admin: bool) -> Any:
    made = c.request("POST", "/admin/users", {"login": name, "site_admin": site_admin})
    return {"id": made["id"], "login": name, "site_admin": site_admin}


def org_create(c: Client, name: str, owner: str) -> Any:
    made = c.request("POST", "/admin/organizations", {"login": name, "admin": owner})
    return {"id": made["id"], "login": name, "owner": owner}


def org_settings(
    c: Client,
    org: str,
    member_create: str | None,
    default_visibility: str | None,
    inherit_default: str | None,
    default_job_permission: str | None,
) -> Any:
    body: dict[str, Any] = {}
    if member_create is not None:
        body["member_create_visibilities"] = [v.strip() for v in member_create.split(",") if v]
    if default_visibility is not None:
        body["default_visibility"] = default_visibility
    if inherit_default is not None:
        body["inherit_default"] = inherit_default == "on"
    if default_job_permission is not None:
        body["default_job_permission"] = default_job_permission
    return c.request("PATCH", f"/orgs/{quote(org)}/package-settings", body)


def org_member_add(c: Client, org: str, user: str, role: str) -> Any:
    wire = "admin" if role == "owner" else "member"
    c.request("PUT", f"/orgs/{quote(org)}/memberships/{quote(user)}", {"role": wire})
    return {"org": org, "user": user, "role": role}


def team_create(c: Client, team: str) -> Any:
    org, slug = _split(team, "ORG/TEAM")
    made = c.request("POST", f"/orgs/{quote(org)}/teams", {"name": slug})
    return {"id": made["id"], "team": team}


def team_member_add(c: Client, team: str, user: str) -> Any:
    org, slug = _split(team, "ORG/TEAM")
    c.request("PUT", f"/orgs/{quote(org)}/teams/{quote(slug)}/memberships/{quote(user)}", {})
    return {"team": team, "user": user}


def repo_create(c: Client, repository: str, visibility: str) -> Any:
    owner, name = _split(repository)
    made = c.request(
        "POST", f"/orgs/{quote(owner)}/repos", {"name": name, "visibility": visibility}
    )
    return {"id": made["id"], "repository": repository, "visibility": visibility}


def repo_delete(c: Client, repository: str) -> Any:
    owner, name = _split(repository)
    c.request("DELETE", f"/repos/{quote(owner)}/{quote(name)}")
    return {"repository": repository, "deleted": True}


def repo_collaborator_add(
    c: Client, repository: str, user: str | None, team: str | None, role: str
) -> Any:
    if (user is None) == (team is None):
        raise InvalidRequestError("give exactly one of --user or --team")
    owner, name = _split(repository)
    if user is not None:
        path = f"/repos/{quote(owner)}/{quote(name)}/collaborators/{quote(user)}"
    else:
        assert team is not None
        org, slug = _split(team, "ORG/TEAM")
        path = f"/orgs/{quote(org)}/teams/{quote(slug)}/repos/{quote(owner)}/{quote(name)}"
    c.request("PUT", path, {"permission": role})
    return {"repository": repository, "user": user, "team": team, "role": role}


def token_create(
    c: Client, user: str, scopes: str, expires_in: str | None, name: str | None
) -> Any:
    me = c.request("GET", "/user")
    if me["login"] != user:
        raise InvalidRequestError(
            f"remotely you create tokens for yourself ({me['login']}), not for {user}"
        )
    body: dict[str, Any] = {"scopes": [s.strip() for s in scopes.split(",") if s.strip()]}
    if expires_in is not None:
        seconds = parse_duration(expires_in).total_seconds()
        body["expires_in_days"] = max(1, -(-int(seconds) // 86400))
    if name is not None:
        body["name"] = name
    return Secret(c.request("POST", "/user/tokens", body)["token"])


def token_revoke(c: Client, token_id: str) -> Any:
    try:
        c.request("DELETE", f"/user/tokens/{quote(token_id)}")
    except RemoteError as err:
        if err.status != 404:
            raise
        c.request("DELETE", f"/admin/tokens/{quote(token_id)}")  # a site admin's revoke
    return {"id": token_id, "revoked": True}


def token_list(c: Client, user: str | None) -> Any:
    if user is None:
        return c.paginate("/user/tokens")
    return c.paginate("/admin/tokens", {"user": user})


def runner_create(c: Client, name: str, serves: tuple[str, ...]) -> Any:
    if not serves:
        raise InvalidRequestError("give --serves OWNER or --serves OWNER/NAME (repeatable)")
    return Secret(
        c.request("POST", "/admin/runners", {"name": name, "serves": list(serves)})["token"]
    )


def job_token_create(
    c: Client,
    repository: str,
    permissions: str | None,
    ttl: str | None,
    run_id: str | None,
    fork: bool,
) -> Any:
    """Remotely, the token is a runner credential (job tokens are minted by runners)."""
    body: dict[str, Any] = {"repository": repository, "fork": fork}
    if permissions is not None:
        pairs = [p.partition("=") for p in permissions.split(",") if p.strip()]
        body["permissions"] = {k.strip(): v.strip() for k, _, v in pairs}
    if ttl is not None:
        body["ttl"] = int(parse_duration(ttl).total_seconds())
    if run_id is not None:
        body["run_id"] = run_id
    return Secret(str(c.request("POST", "/actions/job-tokens", body)["token"]))


def job_token_revoke(c: Client, token_id: str) -> Any:
    c.request("DELETE", f"/actions/job-tokens/{quote(token_id)}")
    return {"id": token_id, "revoked": True}


def package_show(c: Client, package: str) -> Any:
    return c.request("GET", _pkg(c, package) + "/settings")


def package_visibility(c: Client, package: str, visibility: str) -> Any:
    return c.request("PUT", _pkg(c, package) + "/visibility", {"visibility": visibility})


def package_link(c: Client, package: str, repository: str | None, unlink: bool) -> Any:
    if unlink == (repository is not None):
        raise InvalidRequestError("give --repository OWNER/NAME or --unlink")
    if unlink:
        return c.request("DELETE", _pkg(c, package) + "/link")
    return c.request("PUT", _pkg(c, package) + "/link", {"repository": repository})


def package_inherit(c: Client, package: str, state: str) -> Any:
    return c.request("PUT", _pkg(c, package) + "/inheritance", {"inherit": state == "on"})


def _subject(user: str | None, team: str | None) -> str:
    if (user is None) == (team is None):
        raise InvalidRequestError("give exactly one of --user or --team")
    if user is not None:
        return f"/access/users/{quote(user)}"
    assert team is not None
    return f"/access/teams/{quote(_split(team, 'ORG/TEAM')[1])}"


def package_access_add(
    c: Client, package: str, user: str | None, team: str | None, role: str
) -> Any:
    return c.request("PUT", _pkg(c, package) + _subject(user, team), {"role": role})


def package_access_remove(c: Client, package: str, user: str | None, team: str | None) -> Any:
    return c.request("DELETE", _pkg(c, package) + _subject(user, team))


def package_actions_add(c: Client, package: str, repository: str, role: str) -> Any:
    owner, name = _split(repository)
    path = f"{_pkg(c, package)}/actions-access/{quote(owner)}/{quote(name)}"
    return c.request("PUT", path, {"role": role})


def package_actions_remove(c: Client, package: str, repository: str) -> Any:
    owner, name = _split(repository)
    return c.request("DELETE", f"{_pkg(c, package)}/actions-access/{quote(owner)}/{quote(name)}")


def why(c: Client, package: str, user: str | None, repository: str | None) -> Any:
    query = {"user": user} if user is not None else {"repository": repository or ""}
    return c.request("GET", _pkg(c, package) + "/why", query=query)


def audit(c: Client, package: str | None, limit: int) -> Any:
    if package is None:
        return c.request("GET", "/audit", query={"per_page": str(limit)})
    return c.request("GET", _pkg(c, package) + "/audit", query={"per_page": str(limit)})


def package_list(c: Client, owner: str, visibility: str | None) -> Any:
    query = {"package_type": "container"}
    if visibility is not None:
        query["visibility"] = visibility
    return c.paginate(f"{_namespace(c, owner)}/packages", query)


def package_versions(c: Client, package: str, deleted: bool) -> Any:
    return c.paginate(_pkg(c, package) + "/versions", {"state": "deleted" if deleted else "active"})


def _version_id(c: Client, package: str, version: str) -> str:
    """A version given by id, digest or tag -> its id."""
    if version.isdigit():
        return version
    for state in ("active", "deleted"):
        for item in c.paginate(_pkg(c, package) + "/versions", {"state": state}):
            if version in (item["name"], *item["metadata"]["container"]["tags"]):
                return str(item["id"])
    raise RemoteError(404, f"no version {version!r} of {package}")


def package_delete(c: Client, package: str, version: str | None) -> Any:
    if version is None:
        c.request("DELETE", _pkg(c, package))
        return {"package": package, "deleted": True}
    vid = _version_id(c, package, version)
    c.request("DELETE", f"{_pkg(c, package)}/versions/{vid}")
    return {"package": package, "version": int(vid), "deleted": True}


def package_restore(c: Client, package: str, version: str | None) -> Any:
    if version is None:
        c.request("POST", _pkg(c, package) + "/restore")
        return {"package": package, "restored": True}
    vid = _version_id(c, package, version)
    c.request("POST", f"{_pkg(c, package)}/versions/{vid}/restore")
    return {"package": package, "version": int(vid), "restored": True}


REMOTE: dict[str, Callable[..., Any]] = {
    fn.__name__: fn
    for fn in (
        user_create, org_create, org_settings, org_member_add, team_create, team_member_add,
        repo_create, repo_delete, repo_collaborator_add, token_create, token_revoke, token_list,
        runner_create, job_token_create, job_token_revoke, package_show, package_visibility,
        package_link, package_inherit, package_access_add, package_access_remove,
        package_actions_add, package_actions_remove, why, audit, package_list,
        package_versions, package_delete, package_restore,
    )
}  # fmt: skip
"""Local action name -> its remote twin; a word missing here is local only (``runner serve``,
``uploads sweep``)."""

"""GitHub's package endpoints, for an organization, a user and the authenticated user.

    GET    {ns}/packages?package_type=container&visibility=
    GET    {ns}/packages/container/{package_name}                 DELETE (204)
    POST   {ns}/packages/container/{package_name}/restore         (204)
    GET    {ns}/packages/container/{package_name}/versions?state=active|deleted
    GET    {ns}/packages/container/{package_name}/versions/{id}   DELETE (204)
    POST   {ns}/packages/container/{package_name}/versions/{id}/restore (204)

with ``{ns}`` one of ``/orgs/{org}``, ``/users/{username}``, ``/user``. Nested package names
(``tools/cli``) are written URL-encoded (``tools%2Fcli``), as on GitHub.
"""

from __future__ import annotations

from dataclasses import dataclass

from cargohold.authz.model import AccountKind, Visibility
from cargohold.errors import InvalidRequestError, NotFoundError
from cargohold.registry.read_model import PackageView
from cargohold.web.api import shapes
from cargohold.web.api.framework import PAGE_PARAMS, ApiRoute, Call, Handler, Param, Reply, paginate


@dataclass(frozen=True, slots=True)
class Namespace:
    prefix: str  # "/orgs/{org}"
    key: str | None  # path parameter naming the owner; None: the authenticated user
    kind: AccountKind | None
    label: str  # for summaries

    def owner(self, call: Call) -> str:
        if self.key is None:
            login = call.signed_in().principal.login
            if login is None:
                raise NotFoundError("Not Found")
            return login
        return call.path[self.key]

    def params(self) -> tuple[Param, ...]:
        if self.key is None:
            return ()
        return (Param(self.key, "path", shapes.STR, True),)


NAMESPACES = (
    Namespace("/orgs/{org}", "org", AccountKind.ORG, "an organization"),
    Namespace("/users/{username}", "username", AccountKind.USER, "a user"),
    Namespace("/user", None, None, "the authenticated user"),
)

TYPE_PARAM = Param("package_type", "path", {"enum": ["container"]}, True)
NAME_PARAM = Param("package_name", "path", shapes.STR, True)
VERSION_PARAM = Param("package_version_id", "path", {"type": "integer", "minimum": 0}, True)


def package_name(ns: Namespace, call: Call) -> str:
    """The full package path the request names; only container packages exist here."""
    if call.path.get("package_type") != "container":
        raise NotFoundError("Not Found")
    name = call.path["package_name"]
    return f"{ns.owner(call)}/{name}"


def _check_kind(ns: Namespace, view: PackageView) -> None:
    # /orgs/x names an organization and /users/x a user: the other kind is not found.
    if ns.kind is not None and view.owner.kind is not ns.kind:
        raise NotFoundError("Not Found")


def _version_id(call: Call) -> int:
    raw = call.path["package_version_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFoundError("Not Found")
    return int(raw)


def _base(call: Call) -> str:
    return call.services.settings.external_url


def handlers(ns: Namespace) -> dict[str, Handler]:
    async def list_packages(call: Call) -> Reply:
        if call.query.get("package_type") != "container":
            if not call.query.get("package_type"):
                raise InvalidRequestError("the query parameter package_type is required")
            return Reply(200, [])
        raw = call.query.get("visibility")
        try:
            visibility = Visibility(raw) if raw else None
        except ValueError:
            raise InvalidRequestError("visibility must be public, private or internal") from None
        views = await call.services.lifecycle.list_packages(
            ns.owner(call), by=call.by, visibility=visibility
        )
        if views and ns.kind is not None:
            _check_kind(ns, views[0])
        page, headers = paginate(call, views)
        return Reply(200, [shapes.package_json(v, _base(call)) for v in page], headers)

    async def get_package(call: Call) -> Reply:
        view = await call.services.lifecycle.get_package(package_name(ns, call), by=call.by)
        _check_kind(ns, view)
        return Reply(200, shapes.package_json(view, _base(call)))

    async def delete_package(call: Call) -> Reply:
        name = package_name(ns, call)
        view = await call.services.lifecycle.get_package(name, by=call.by)
        _check_kind(ns, view)
        await call.services.lifecycle.delete_package(name, by=call.by)
        return Reply(204)

    async def restore_package(call: Call) -> Reply:
        await call.services.lifecycle.restore_package(package_name(ns, call), by=call.by)
        return Reply(204)

    async def list_versions(call: Call) -> Reply:
        state = call.query.get("state", "active")
        if state not in ("active", "deleted"):
            raise InvalidRequestError("state must be active or deleted")
        name = package_name(ns, call)
        lifecycle = call.services.lifecycle
        view = await lifecycle.get_package(name, by=call.by)
        _check_kind(ns, view)
        versions = await lifecycle.list_versions(name, by=call.by, deleted=state == "deleted")
        page, headers = paginate(call, versions)
        return Reply(200, [shapes.version_json(v, view, _base(call)) for v in page], headers)

    async def get_version(call: Call) -> Reply:
        name = package_name(ns, call)
        lifecycle = call.services.lifecycle
        view = await lifecycle.get_package(name, by=call.by)
        _check_kind(ns, view)
        version = await lifecycle.get_version(name, _version_id(call), by=call.by)
        return Reply(200, shapes.version_json(version, view, _base(call)))

    async def delete_version(call: Call) -> Reply:
        name = package_name(ns, call)
        await call.services.lifecycle.delete_version(name, _version_id(call), by=call.by)
        return Reply(204)

    async def restore_version(call: Call) -> Reply:
        name = package_name(ns, call)
        await call.services.lifecycle.restore_version(name, _version_id(call), by=call.by)
        return Reply(204)

    return {
        "list_packages": list_packages,
        "get_package": get_package,
        "delete_package": delete_package,
        "restore_package": restore_package,
        "list_versions": list_versions,
        "get_version": get_version,
        "delete_version": delete_version,
        "restore_version": restore_version,
    }


ERRORS = {401: shapes.ERROR, 403: shapes.ERROR, 404: shapes.ERROR}


def routes() -> list[ApiRoute]:
    out: list[ApiRoute] = []
    for ns in NAMESPACES:
        h = handlers(ns)
        base = ns.params()
        pkg = f"{ns.prefix}/packages/{{package_type}}/{{package_name}}"
        pkg_params = (*base, TYPE_PARAM, NAME_PARAM)
        ver_params = (*pkg_params, VERSION_PARAM)
        tag = "packages"
        out += [
            ApiRoute(
                "GET",
                f"{ns.prefix}/packages",
                h["list_packages"],
                f"List packages of {ns.label}",
                tag,
                (
                    *base,
                    Param("package_type", "query", {"enum": ["container", "npm", "maven"]}, True),
                    Param("visibility", "query", {"enum": ["public", "private", "internal"]}),
                    *PAGE_PARAMS,
                ),
                responses={200: shapes.array(shapes.PACKAGE), 400: shapes.ERROR, **ERRORS},
                paginated=True,
            ),
            ApiRoute(
                "GET",
                pkg,
                h["get_package"],
                f"Get a package of {ns.label}",
                tag,
                pkg_params,
                responses={200: shapes.PACKAGE, **ERRORS},
            ),
            ApiRoute(
                "DELETE",
                pkg,
                h["delete_package"],
                f"Delete a package of {ns.label} (restorable for the restore window)",
                tag,
                pkg_params,
                responses={204: None, **ERRORS},
            ),
            ApiRoute(
                "POST",
                f"{pkg}/restore",
                h["restore_package"],
                f"Restore a deleted package of {ns.label}",
                tag,
                pkg_params,
                responses={204: None, 409: shapes.ERROR, **ERRORS},
            ),
            ApiRoute(
                "GET",
                f"{pkg}/versions",
                h["list_versions"],
                f"List versions of a package of {ns.label}",
                tag,
                (
                    *pkg_params,
                    Param("state", "query", {"enum": ["active", "deleted"], "default": "active"}),
                    *PAGE_PARAMS,
                ),
                responses={200: shapes.array(shapes.VERSION), 400: shapes.ERROR, **ERRORS},
                paginated=True,
            ),
            ApiRoute(
                "GET",
                f"{pkg}/versions/{{package_version_id}}",
                h["get_version"],
                f"Get a version of a package of {ns.label}",
                tag,
                ver_params,
                responses={200: shapes.VERSION, **ERRORS},
            ),
            ApiRoute(
                "DELETE",
                f"{pkg}/versions/{{package_version_id}}",
                h["delete_version"],
                f"Delete a version of a package of {ns.label} (restorable)",
                tag,
                ver_params,
                responses={204: None, 409: shapes.ERROR, **ERRORS},
            ),
            ApiRoute(
                "POST",
                f"{pkg}/versions/{{package_version_id}}/restore",
                h["restore_version"],
                f"Restore a deleted version of a package of {ns.label}",
                tag,
                ver_params,
                responses={204: None, 409: shapes.ERROR, **ERRORS},
            ),
        ]
    return out

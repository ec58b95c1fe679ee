"""Pages that show: home, an owner's packages, a package, its settings, its audit log.

Each handler parses the URL, makes one ``PackageViews`` call for the signed-in identity and
renders the read model's values (``registry.read_model``); ``PackageViews`` decides what that
identity may see.
"""

from __future__ import annotations

from aiohttp import web

from cargohold.authz.model import AccountKind
from cargohold.errors import NotFoundError
from cargohold.web.pipeline import SERVICES
from cargohold.web.ui import urls
from cargohold.web.ui.auth import require_user
from cargohold.web.ui.security import identity, render


def _kind(request: web.Request) -> tuple[str, AccountKind]:
    """(owner login, its kind) from ``/orgs/{owner}`` or ``/users/{owner}``."""
    if "org" in request.match_info:
        return request.match_info["org"], AccountKind.ORG
    return request.match_info["user"], AccountKind.USER


def _same_kind(request: web.Request, owner_kind: AccountKind) -> None:
    """``/users/acme/...`` for an organization's package (or the reverse) is not its page."""
    if _kind(request)[1] != owner_kind:
        raise NotFoundError(f"no package {_name(request)} that you can see")


def _name(request: web.Request) -> str:
    owner, _ = _kind(request)
    return f"{owner}/{request.match_info['name'].strip('/')}"


async def home(request: web.Request) -> web.StreamResponse:
    await require_user(request)
    found = await request.app[SERVICES].views.home(await identity(request))
    return await render(request, "home.html", packages=found, urls=urls)


async def owner_packages(request: web.Request) -> web.StreamResponse:
    owner, kind = _kind(request)
    page = await request.app[SERVICES].views.owner(owner, kind, await identity(request))
    return await render(request, "owner.html", page=page, urls=urls)


async def package(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    page = await services.views.package(_name(request), await identity(request))
    _same_kind(request, page.package.owner.kind)
    return await render(
        request, "package.html", page=page, urls=urls, host=services.settings.service_name
    )


async def settings(request: web.Request) -> web.StreamResponse:
    page = await request.app[SERVICES].views.settings(_name(request), await identity(request))
    _same_kind(request, page.package.owner.kind)
    return await render(request, "settings.html", page=page, urls=urls)


async def audit(request: web.Request) -> web.StreamResponse:
    page, entries = await request.app[SERVICES].views.audit(_name(request), await identity(request))
    _same_kind(request, page.package.owner.kind)
    return await render(request, "audit.html", page=page, entries=entries, urls=urls)


async def org_settings(request: web.Request) -> web.StreamResponse:
    """``/orgs/{org}/settings/packages``: where a "create_package" denial sends members."""
    await require_user(request)
    org = request.match_info["org"]
    found = await request.app[SERVICES].views.org_settings(org, await identity(request))
    return await render(request, "org_settings.html", org=found, urls=urls)


async def denial_link(request: web.Request) -> web.StreamResponse:
    """``/{owner}/packages/{name}/settings``, the form ``authz.denials`` writes, -> the settings
    page. The browser keeps the ``#section`` of the link across the redirect."""
    owner, name = request.match_info["owner"], request.match_info["name"].strip("/")
    kind = await request.app[SERVICES].views.owner_kind(owner)
    raise web.HTTPFound(urls.settings(owner, kind, name))

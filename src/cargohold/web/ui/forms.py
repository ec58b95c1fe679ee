"""The settings page's forms: one POST each, one ``PackageSettingsService`` call each.

The service authorizes every change for the signed-in identity (``Action.ADMIN`` through the
one ``decide``) and audits it; a refusal is shown as a 403 page with the decision's own words.
Bad input (an unknown repository, a team of another organization, a wrong confirmation) comes
back as a message at the top of the page, at the section the form belongs to (Post/Redirect/Get).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from cargohold.authz.model import Identity, Role, Visibility
from cargohold.errors import CargoholdError, DeniedError, InvalidRequestError, UnauthorizedError
from cargohold.registry.package_settings import PACKAGE_ROLES
from cargohold.services import Services
from cargohold.web.pipeline import SERVICES
from cargohold.web.ui import urls
from cargohold.web.ui.pages import _kind, _name
from cargohold.web.ui.security import flash, identity

Form = MultiDictProxy[Any]
Change = Callable[[Services, str, Form, Identity], Awaitable[str]]


def _field(form: Form, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def _role(form: Form) -> Role:
    text = _field(form, "role")
    for role in PACKAGE_ROLES:
        if role.label == text:
            return role
    raise InvalidRequestError("choose a role: read, write or admin")


def _subject(form: Form) -> dict[str, str]:
    kind, who = _field(form, "kind"), _field(form, "principal")
    if not who:
        raise InvalidRequestError("name a user (alice) or a team (acme/developers)")
    if kind == "team" or (kind != "user" and "/" in who):
        return {"team": who}
    return {"user": who}


def _confirmed(form: Form, name: str) -> None:
    typed = _field(form, "confirm")
    if typed not in (name, name.partition("/")[2]):
        raise InvalidRequestError(
            f"type the package name {name} to confirm (you typed {typed!r})"
            if typed
            else f"type the package name {name} to confirm"
        )


async def _link(svc: Services, name: str, form: Form, by: Identity) -> str:
    repo = _field(form, "repository") or None
    await svc.package_settings.link(name, repo, by=by)
    return f"Linked {name} to {repo}." if repo else f"Unlinked {name} from its repository."


async def _unlink(svc: Services, name: str, form: Form, by: Identity) -> str:
    await svc.package_settings.link(name, None, by=by)
    return f"Unlinked {name} from its repository."


async def _inherit(svc: Services, name: str, form: Form, by: Identity) -> str:
    on = _field(form, "inherit") == "on"
    await svc.package_settings.set_inherit(name, on, by=by)
    return f"{name} {'now inherits' if on else 'no longer inherits'} access from its repository."


async def _actions_add(svc: Services, name: str, form: Form, by: Identity) -> str:
    repo, role = _field(form, "repository"), _role(form)
    if not repo:
        raise InvalidRequestError("name a repository (owner/name)")
    await svc.package_settings.add_actions_access(name, repo, role, by=by)
    return f"Repository {repo} has {role.label} access to {name} in Actions."


async def _actions_remove(svc: Services, name: str, form: Form, by: Identity) -> str:
    repo = _field(form, "repository")
    await svc.package_settings.remove_actions_access(name, repo, by=by)
    return f"Repository {repo} no longer has Actions access to {name}."


async def _access_add(svc: Services, name: str, form: Form, by: Identity) -> str:
    subject, role = _subject(form), _role(form)
    await svc.package_settings.grant(name, role, by=by, **subject)
    who = " ".join(next(iter(subject.items())))
    return f"{who} has {role.label} access to {name}."


async def _access_remove(svc: Services, name: str, form: Form, by: Identity) -> str:
    subject = _subject(form)
    await svc.package_settings.revoke_grant(name, by=by, **subject)
    return f"{' '.join(next(iter(subject.items())))} no longer has access to {name}."


async def _visibility(svc: Services, name: str, form: Form, by: Identity) -> str:
    _confirmed(form, name)
    try:
        visibility = Visibility(_field(form, "visibility"))
    except ValueError:
        raise InvalidRequestError("choose public, private or internal") from None
    await svc.package_settings.set_visibility(name, visibility, by=by)
    return f"{name} is now {visibility.value}."


async def _delete(svc: Services, name: str, form: Form, by: Identity) -> str:
    _confirmed(form, name)
    # A soft delete through the lifecycle service: restorable for the restore window.
    await svc.lifecycle.delete_package(name, by=by)
    days = svc.settings.restore_window_days
    return f"Deleted {name}. An admin can restore it within {days} days."


CHANGES: dict[str, tuple[Change, str]] = {
    "link": (_link, "repository-source"),
    "unlink": (_unlink, "repository-source"),
    "inherit": (_inherit, "inherit-access"),
    "actions-access": (_actions_add, "actions-access"),
    "actions-access/remove": (_actions_remove, "actions-access"),
    "access": (_access_add, "manage-access"),
    "access/remove": (_access_remove, "manage-access"),
    "visibility": (_visibility, "danger-zone"),
    "delete": (_delete, "danger-zone"),
}


async def change(request: web.Request) -> web.StreamResponse:
    found = CHANGES.get(request.match_info["action"])
    if found is None:
        raise web.HTTPNotFound()
    run, section = found
    services = request.app[SERVICES]
    owner, kind = _kind(request)
    name = _name(request)
    short = name.partition("/")[2]
    form = await request.post()
    try:
        message = await run(services, name, form, await identity(request))
    except (DeniedError, UnauthorizedError):
        raise
    except CargoholdError as err:
        await flash(request, "error", err.message, section)
        raise web.HTTPSeeOther(urls.settings(owner, kind, short, section)) from None
    await flash(request, "ok", message, "" if run is _delete else section)
    if run is _delete:
        raise web.HTTPSeeOther(urls.packages(owner, kind))
    raise web.HTTPSeeOther(urls.settings(owner, kind, short, section))

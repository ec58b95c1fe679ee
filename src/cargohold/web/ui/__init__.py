"""The web UI: server-rendered pages (Jinja2, autoescaped) over the domain services.

URLs are shaped like GitHub's (see ``urls``). ``setup`` is the one call ``web.app`` makes. The
handlers are thin: parse, one domain call, render. Sessions, CSRF, headers and error pages are
``security``'s; what may be seen and changed is ``decide``'s, through the services.

    /                                              packages you can see (signed in)
    /login  /logout                                sign in (password or token), sign out
    /orgs/{org}/packages                           an organization's packages (/users/... too)
    /orgs/{org}/packages/container/package/{name}  a package (name may be nested or %2F-encoded)
    /orgs/{org}/packages/container/{name}/settings its settings, with #anchors per section
    /orgs/{org}/packages/container/{name}/audit    its audit log (admins)
    /settings/tokens                               your personal access tokens
    /orgs/{org}/settings/packages                  the organization's package settings (members)
    /{owner}/packages/{name}/settings              the denial messages' links -> the settings page
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from cargohold.web.pipeline import SERVICES
from cargohold.web.ui import auth, forms, pages, tokens
from cargohold.web.ui.security import STORAGES, make_storages, ui_middleware

STATIC = Path(__file__).parent / "static"


def _size(value: int) -> str:
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else "—"


def setup(app: web.Application) -> None:
    """Add the UI's routes, templates, static files and middleware to the registry's app."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("cargohold.web.ui", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["size"] = _size
    env.filters["when"] = _when
    env.filters["short"] = lambda digest: str(digest).split(":")[-1][:12]
    app[STORAGES] = make_storages(app[SERVICES].keys)
    app.middlewares.append(ui_middleware)
    r = app.router
    r.add_static("/-/static", STATIC, name="ui.static", append_version=False)
    r.add_get("/", pages.home, name="ui.home")
    r.add_get("/login", auth.login_form, name="ui.login_form")
    r.add_post("/login", auth.login, name="ui.login")
    r.add_post("/logout", auth.logout, name="ui.logout")
    r.add_get("/settings/tokens", tokens.tokens, name="ui.tokens")
    r.add_post("/settings/tokens", tokens.create, name="ui.tokens_create")
    r.add_post("/settings/tokens/{token_id}/revoke", tokens.revoke, name="ui.tokens_revoke")
    for kind in ("org", "user"):
        base = f"/{kind}s/{{{kind}}}/packages"
        r.add_get(base, pages.owner_packages, name=f"ui.{kind}_packages")
        r.add_get(f"{base}/container/package/{{name:.+}}", pages.package, name=f"ui.{kind}_pkg")
        r.add_get(
            f"{base}/container/{{name:.+}}/settings", pages.settings, name=f"ui.{kind}_settings"
        )
        r.add_post(
            f"{base}/container/{{name:.+}}/settings/{{action:[a-z-]+(?:/remove)?}}",
            forms.change,
            name=f"ui.{kind}_change",
        )
        r.add_get(f"{base}/container/{{name:.+}}/audit", pages.audit, name=f"ui.{kind}_audit")
    r.add_get("/orgs/{org}/settings/packages", pages.org_settings, name="ui.org_package_creation")
    r.add_get("/{owner}/packages/{name:.+}/settings", pages.denial_link, name="ui.denial_link")

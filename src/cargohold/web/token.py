"""The Docker token endpoint: ``GET /token?service=&scope=`` (and the OAuth2 POST form).

It authenticates only: a bad secret gets 401 ``unauthenticated`` here already; a good one (or
none) gets a short-lived signed token naming the credential and the requested scopes. Whether the
request may pull or push is decided per registry request, so the clear denial shows up there.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from cargohold.accounts import bearer
from cargohold.accounts.authn import Presented
from cargohold.oci.scopes import parse_scopes
from cargohold.web.pipeline import SERVICES, json_body, presented


async def token(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    settings = services.settings
    p = presented(request)
    scopes_raw = request.query.getall("scope", [])
    secret = p.secret
    if request.method == "POST":
        form = await request.post()
        scopes_raw = [str(v) for v in form.getall("scope", [])] or scopes_raw
        if form.get("grant_type") == "password":
            secret = str(form.get("password", ""))
    cred_id = None
    if secret is not None:
        given = Presented(secret=secret)
        identity = services.read_on_loop(lambda r: services.authn.authenticate(r, given, None))
        cred_id = identity.credential.id
    scopes = parse_scopes(scopes_raw)
    value, issued, ttl = bearer.issue(
        services.keys.signing_key, settings.service_name, cred_id, scopes, settings.bearer_ttl
    )
    body = {
        "token": value,
        "access_token": value,
        "expires_in": ttl,
        "issued_at": datetime.fromtimestamp(issued, UTC).isoformat().replace("+00:00", "Z"),
    }
    return json_body(body)

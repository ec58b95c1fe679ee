"""The OpenAPI 3.1 document, generated from the route table the server registers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cargohold.web.api import shapes
from cargohold.web.api.framework import PREFIX, ApiRoute

REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad input",
    401: "Requires authentication",
    403: "Denied: who, what was held, what is needed and the fix",
    404: "Not found (also when the caller may not see it)",
    409: "Conflict",
}


def _operation(route: ApiRoute) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{route.method.lower()}{route.path.replace('/', '_')}".replace("{", "")
        .replace("}", "")
        .replace("-", "_"),
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "schema": p.schema,
                **({"description": p.description} if p.description else {}),
            }
            for p in route.params
        ],
        "responses": {},
    }
    if route.runner:
        op["security"] = [{"runner": []}]
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body}},
        }
    for status, schema in sorted(route.responses.items()):
        response: dict[str, Any] = {"description": REASONS.get(status, "")}
        if schema is not None:
            response["content"] = {"application/json": {"schema": schema}}
        if route.paginated and status == 200:
            response["headers"] = {
                "Link": {"schema": shapes.STR, "description": "GitHub's pagination links"}
            }
        op["responses"][str(status)] = response
    if "500" not in op["responses"]:
        op["responses"]["default"] = {
            "description": "error",
            "content": {"application/json": {"schema": shapes.ERROR}},
        }
    return op


def document(routes: Iterable[ApiRoute], server_url: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    paths.setdefault("/openapi.json", {})["get"] = {
        "operationId": "get_openapi",
        "summary": "This document",
        "tags": ["meta"],
        "security": [],
        "responses": {"200": {"description": "OK", "content": {"application/json": {}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cargohold REST API",
            "version": "1",
            "description": "GitHub Enterprise Server's package endpoints, plus package settings,"
            " effective access, the audit log and administration.",
        },
        "servers": [{"url": server_url.rstrip("/") + PREFIX}],
        "security": [{"token": []}, {}],
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a PAT: Authorization: Bearer X or token X",
                },
                "runner": {"type": "http", "scheme": "bearer", "description": "runner secret"},
            }
        },
        "paths": paths,
    }

"""Fixtures that drive the aiohttp app in-process, on SQLite and on PostgreSQL.

Imported by the conftest of every folder that uses them (functional, security).
``registry`` (auth off) and ``secured`` (auth on) give a ``Registry`` handle: an aiohttp test
client plus the services (engine, store), so tests can check that the store is unchanged after
bad input, and create users and tokens through the same domain services the CLI uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cargohold.services import Services, build
from cargohold.web.app import create_app
from support.db import reset_postgres
from support.registry_app import Registry, settings_for


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'cargohold.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    reset_postgres(url)
    yield url


@pytest.fixture
async def make_registry(tmp_path: Path, db_url: str) -> AsyncIterator[Any]:
    made: list[tuple[TestClient[Any, Any], Services]] = []

    async def factory(**overrides: Any) -> Registry:
        services = build(settings_for(tmp_path, db_url, **overrides))
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(services)))
        await client.start_server()
        made.append((client, services))
        return Registry(client, services)

    yield factory
    for client, services in made:
        await client.close()
        services.close()


@pytest.fixture
async def registry(make_registry: Any) -> Registry:
    """Auth off: the pure OCI behaviour."""
    reg: Registry = await make_registry(auth_enabled=False)
    return reg


@pytest.fixture
async def secured(make_registry: Any) -> Registry:
    """Auth on."""
    reg: Registry = await make_registry(auth_enabled=True)
    return reg

"""End-to-end tests: real clients (skopeo, podman, buildah) against a real server process.

Every test in this folder gets the ``e2e`` marker (select with ``-m e2e`` or ``-m "not e2e"``).
A test that asks for the ``skopeo``, ``podman`` or ``buildah`` fixture is skipped when the
binary is missing, and fails instead under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from support.containers import containers_env, require_tool
from support.server import ServerProcess

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item, not only this folder's.
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def skopeo() -> str:
    """Path of skopeo."""
    return require_tool("skopeo")


@pytest.fixture
def podman() -> str:
    """Path of podman."""
    return require_tool("podman")


@pytest.fixture
def buildah() -> str:
    """Path of buildah."""
    return require_tool("buildah")


StartServer = Callable[..., ServerProcess]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start ``cargohold serve`` processes; all are stopped at teardown.

    ``start_server(env={...}, extra_args=[...], data_dir=...)``; the data directory defaults
    to a fresh folder under ``tmp_path``. On a failing test, the server logs are in that folder.
    """
    servers: list[ServerProcess] = []

    def start(
        *,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        data_dir: Path | None = None,
    ) -> ServerProcess:
        directory = data_dir or tmp_path / f"server{len(servers)}"
        server = ServerProcess()
        servers.append(server)
        return server.start(directory, env=env, extra_args=extra_args)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: StartServer) -> ServerProcess:
    """One running ``cargohold serve`` with default settings and a fresh data directory."""
    return start_server()


@pytest.fixture
def client_env(tmp_path: Path, server: ServerProcess) -> dict[str, str]:
    """Environment for skopeo/podman/buildah: private vfs storage, ``server`` as insecure."""
    return containers_env(tmp_path / "clients", server.host)

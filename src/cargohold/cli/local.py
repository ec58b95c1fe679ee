"""Local mode: the CLI works on the data directory's database, through the domain services."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from cargohold.services import Services, build
from cargohold.settings import load_settings

T = TypeVar("T")


def run_local(
    data_dir: str | None, config: str | None, fn: Callable[[Services], Coroutine[Any, Any, T]]
) -> T:
    """Build the services on the data directory (migrating it), run ``fn``, close them."""
    settings = load_settings({"data_dir": data_dir}, config_file=config)
    services = build(settings, audit_writer=False, db_threads=1)
    try:
        return asyncio.run(fn(services))
    finally:
        services.close()

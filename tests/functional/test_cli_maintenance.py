"""``cargohold gc`` and ``cargohold retention``: output contract and errors (local mode)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cargohold.cli.main import cli
from support.registry_app import Registry, digest_of, push_blob


@pytest.fixture
def run(tmp_path: Path) -> Any:
    runner = CliRunner()
    data = str(tmp_path / "data")

    def invoke(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(cli, [*args, "--data-dir", data, "--json"])
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.output)
        assert result.exit_code != 0, result.output
        return result.output

    return invoke


def test_gc_dry_run_and_run_on_an_empty_registry(run: Any) -> None:
    report = run("gc", "--dry-run")
    assert report["dry_run"] is True and report["would_remove"]["blobs"] == []
    assert report["would_remove"]["orphans"] == []
    report = run("gc")
    assert (report["ran"], report["blobs"], report["bytes"]) == (True, 0, 0)
    assert (report["orphans"], report["orphan_bytes"]) == (0, 0)


async def test_gc_collects_old_bytes_no_row_knows_and_keeps_the_rest(
    registry: Registry, tmp_path: Path, db_url: str
) -> None:
    """Bytes in the store with no database row (a push that died before linking them) go once
    older than the grace period (a day by default); younger ones, and any blob with a row
    however old its bytes, stay."""
    store = registry.services.store
    linked = await push_blob(registry.client, "acme/app", b"a linked layer")

    def place(data: bytes) -> str:
        upload_id = store.begin_upload()
        store.write(upload_id, 0, [data])
        return store.commit(upload_id, digest_of(data)).digest

    def age(digest: str, seconds: float) -> None:
        path = store.local_path(digest)
        assert path is not None
        then = time.time() - seconds
        os.utime(path, (then, then))

    old, young = place(b"left by a push that died"), place(b"about to be linked")
    age(old, 2 * 86400)
    age(linked, 2 * 86400)
    config = tmp_path / "cargohold.toml"
    config.write_text(f"data_dir = {str(tmp_path / 'data')!r}\ndatabase_url = {db_url!r}\n")

    def gc(*flags: str) -> Any:
        args = ["gc", *flags, "--config", str(config), "--json"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    dry = await asyncio.to_thread(gc, "--dry-run")
    assert dry["would_remove"]["orphans"] == [old] and dry["orphans"] == 1
    assert store.stat(old) is not None
    report = await asyncio.to_thread(gc)
    assert (report["orphans"], report["orphan_bytes"], report["blobs"]) == (1, 24, 0)
    assert store.stat(old) is None
    assert store.stat(young) is not None and store.stat(linked) is not None
    resp = await registry.client.get(f"/v2/acme/app/blobs/{linked}")
    assert resp.status == 200 and await resp.read() == b"a linked layer"


def test_retention_set_show_run_remove(run: Any) -> None:
    policy = run(
        "retention", "set", "--owner", "acme", "--keep", "5",
        "--untagged-older-than", "30d", "--protect", "v*,latest",
    )  # fmt: skip
    assert policy == {
        "kind": "owner",
        "name": "acme",
        "keep_newest": 5,
        "untagged_older_than": 30 * 86400,
        "protect": ["v*", "latest"],
    }
    run("retention", "set", "--package", "acme/app", "--keep", "2")
    assert [p["kind"] for p in run("retention", "show")] == ["owner", "package"]
    assert run("retention", "show", "--package", "acme/app")[0]["keep_newest"] == 2
    assert run("retention", "run", "--dry-run") == {"dry_run": True, "deleted": []}
    run("retention", "remove", "--package", "acme/app")
    assert run("retention", "show", "--package", "acme/app") == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("retention", "set", "--keep", "1"), "exactly one of --owner or --package"),
        (("retention", "set", "--owner", "a", "--package", "a/b"), "exactly one"),
        (("retention", "set", "--owner", "acme", "--keep", "-1"), "keep_newest"),
        (("retention", "set", "--owner", "acme", "--untagged-older-than", "soon"), "duration"),
        (("retention", "set", "--package", "Bad Name"), "invalid"),
        (("retention", "remove", "--owner", "nobody"), "no retention policy"),
    ],
)
def test_retention_errors_are_clear(run: Any, args: tuple[str, ...], needle: str) -> None:
    assert needle in run(*args, ok=False)

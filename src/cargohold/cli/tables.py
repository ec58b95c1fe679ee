"""Tables for people (rich); scripts use ``--json``."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

# list command -> (column title, how to read it from one item)
COLUMNS: dict[str, list[tuple[str, Any]]] = {
    "package_list": [
        ("NAME", lambda p: p["name"]),
        ("VISIBILITY", lambda p: p["visibility"]),
        ("VERSIONS", lambda p: str(p["version_count"])),
        ("UPDATED", lambda p: p["updated_at"]),
    ],
    "package_versions": [
        ("ID", lambda v: str(v["id"])),
        ("TAGS", lambda v: ", ".join(v["metadata"]["container"]["tags"])),
        ("DIGEST", lambda v: v["name"]),
        ("CREATED", lambda v: v["created_at"]),
        ("DELETED", lambda v: v.get("deleted_at") or ""),
    ],
    "token_list": [
        ("ID", lambda t: t["id"]),
        ("KIND", lambda t: t["kind"]),
        ("NAME", lambda t: t.get("name") or ""),
        ("SCOPES", lambda t: t.get("scopes") or t.get("permissions") or ""),
        ("EXPIRES", lambda t: t.get("expires_at") or "never"),
        ("REVOKED", lambda t: t.get("revoked_at") or ""),
    ],
    "audit": [
        ("AT", lambda e: e["at"]),
        ("ACTOR", lambda e: e["actor"]),
        ("PACKAGE", lambda e: e.get("package") or ""),
        ("ACTION", lambda e: e["action"]),
        ("RESULT", lambda e: e["result"]),
        ("REASON", lambda e: e.get("reason") or ""),
    ],
}


def print_table(kind: str, items: list[dict[str, Any]]) -> bool:
    """Print ``items`` as a table if ``kind`` has one; False when it has none."""
    columns = COLUMNS.get(kind)
    if columns is None:
        return False
    table = Table(box=None, header_style="bold", pad_edge=False)
    for title, _ in columns:
        table.add_column(title, overflow="fold")
    for item in items:
        table.add_row(*(str(read(item)) for _, read in columns))
    Console(soft_wrap=False, width=200).print(table)
    return True

"""Retention policies as one call each: set, show, remove, run (or dry-run)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from cargohold.db import schema as s
from cargohold.db.runner import Database
from cargohold.db.tx import now
from cargohold.registry import retention
from cargohold.registry.retention import Deletion, Policy


class RetentionService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, policy: Policy) -> Policy:
        """Create or replace the policy of an owner or a package (INVALID_REQUEST if bad)."""
        retention.validate(policy)
        await self._db.write(lambda c: retention.save(c, policy))
        return policy

    async def remove(self, kind: str, name: str) -> None:
        await self._db.write(lambda c: retention.remove(c, kind, name))

    async def show(self, kind: str | None = None, name: str | None = None) -> list[Policy]:
        """Every policy, or the one named (an empty list if it has none)."""

        def read(conn: Connection) -> list[Policy]:
            policies = retention.load_all(conn)
            return [
                p
                for key, p in sorted(policies.items())
                if (kind is None or key[0] == kind) and (name is None or key[1] == name)
            ]

        return await self._db.write(read)

    async def run(self, dry_run: bool = False, package: str | None = None) -> list[Deletion]:
        """Apply every package's policy (or just ``package``'s); each package in one
        transaction, each deletion audited. With ``dry_run``, what would go."""
        at = now()

        def targets(conn: Connection) -> list[tuple[int, str, Policy]]:
            policies = retention.load_all(conn)
            p = s.packages.c
            query = select(p.id, p.name)
            if package is not None:
                query = query.where(p.name == package)
            out = []
            for row in conn.execute(query):
                policy = retention.policy_for(policies, row.name)
                if policy is not None:
                    out.append((int(row.id), str(row.name), policy))
            return out

        deletions: list[Deletion] = []
        for package_id, name, policy in await self._db.write(targets):

            def one(
                conn: Connection, i: int = package_id, n: str = name, pol: Policy = policy
            ) -> list[Deletion]:
                return retention.run_package(conn, i, n, pol, at, dry_run)

            deletions += await self._db.write(one)
        return deletions

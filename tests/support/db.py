"""Database helpers for tests."""

from __future__ import annotations

from sqlalchemy import create_engine, text


def reset_postgres(url: str) -> None:
    """Empty the throwaway PostgreSQL database (drop and re-create the public schema)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()

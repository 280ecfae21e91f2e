"""The store's backends in tests: every parametrised store test runs on each of `BACKENDS`.

SQLite: a file under the test's tmp_path. PostgreSQL (the `postgres_url` fixture in
tests/conftest.py): one database per test session with a unique name, dropped at the end
(`DROP DATABASE ... WITH (FORCE)`), and a fresh schema per test (its URL sets `search_path`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from edge.settings import Settings
from edge.store import Database, open_database
from edge.store.database import Row

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def sqlite_overrides(tmp_path: Path) -> dict[str, Any]:
    return {"database": str(tmp_path / "kx-edge.sqlite3")}


def with_schema(url: str, schema: str) -> str:
    """`url` with every connection's search_path set to `schema` (libpq's `options`)."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-c search_path={schema}')}"


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def opened(settings: Settings) -> Database:
    return await open_database(settings)


async def all_rows(db: Database, table: str) -> list[Row]:
    return await db.fetch_all(f"SELECT * FROM {table}")  # noqa: S608 (table names from the test)


async def table_columns(db: Database) -> dict[str, set[str]]:
    """Every table of the schema and its columns, on either backend."""
    if db.dialect.name == "sqlite":
        tables = [r[0] for r in await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = {}
        for table in tables:
            if table.startswith("sqlite_"):
                continue
            found[table] = {r[1] for r in await db.fetch_all(f"PRAGMA table_info({table})")}
        return found
    rows = await db.fetch_all(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
    )
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    return columns


async def dump(db: Database) -> str:
    """Every value of every table, as text: what a database dump would reveal."""
    parts = []
    for table in await table_columns(db):
        parts += [repr(row) for row in await all_rows(db, table)]
    return "\n".join(parts)


def admin_connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, autocommit=True, connect_timeout=2)


def postgres_answers(url: str) -> bool:
    try:
        with admin_connect(url) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def database_url(server_url: str, name: str) -> str:
    """`server_url` (any database of the server) pointed at the database `name`."""
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"

"""Migrations: a fresh database, an up-to-date one, a partial one, a newer one, both dialects alike."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from edge.store import Database, SiteRecord, SqlSiteStore
from edge.store.migrations import MIGRATIONS
from edge.store.postgres_db import PostgresDatabase
from edge.store.sqlite_db import SqliteDatabase, schema_version
from tests.databases import table_columns


def _site() -> SiteRecord:
    return SiteRecord("site_1", "Shop", "pk_1", "h1", "enc", ("https://a.example",), 1, 10, 10)


async def test_migrations_build_every_table(database: Database) -> None:
    assert await database.migrate() == len(MIGRATIONS)  # again: nothing to do
    tables = await table_columns(database)
    assert {
        "sites",
        "experiences",
        "klaviyo_connections",
        "oauth_flows",
        "event_outbox",
        "admin_sessions",
    } <= set(tables)


async def test_both_dialects_define_the_same_columns(tmp_path: Path, database: Database) -> None:
    sqlite = SqliteDatabase(tmp_path / "reference.sqlite3")
    await sqlite.migrate()
    expected = await table_columns(sqlite)
    await sqlite.close()
    found = await table_columns(database)
    # PostgreSQL names SQLite's implicit insertion order: the only extra column it may have.
    assert {t: c - {"rowid"} for t, c in found.items() if t != "kx_schema_version"} == expected


async def test_migrations_are_safe_on_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = SqliteDatabase(path)
    await first.migrate()
    await SqlSiteStore(first).create_site(_site())
    await first.close()
    again = SqliteDatabase(path)
    assert await again.migrate() == len(MIGRATIONS)
    assert (await SqlSiteStore(again).get_site("site_1")) == _site()
    assert await again.fetch_one("PRAGMA journal_mode") == ("wal",)
    await again.close()


async def test_processes_starting_together_migrate_once(tmp_path: Path, database: Database) -> None:
    # Four "nodes" opening one fresh database at once (SQLite: a file; PostgreSQL: the schema).
    others: list[Database]
    if isinstance(database, PostgresDatabase):
        nodes = [PostgresDatabase(database.url) for _ in range(4)]
        await asyncio.gather(*(db.open() for db in nodes))
        # As if nothing had run yet: no tables, no functions, no triggers.
        await database.execute("DROP SCHEMA public CASCADE")
        await database.execute("CREATE SCHEMA public")
        others = list(nodes)
    else:
        others = [SqliteDatabase(tmp_path / "together.sqlite3") for _ in range(4)]
    try:
        assert await asyncio.gather(*(db.migrate() for db in others)) == [len(MIGRATIONS)] * 4
        assert (
            await table_columns(others[0]) == await table_columns(database)
            or database.dialect.name == "sqlite"
        )
    finally:
        await asyncio.gather(*(db.close() for db in others))


def test_a_partial_schema_is_migrated_forward(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for statement in MIGRATIONS[0].sqlite:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")

    async def migrate() -> int:
        db = SqliteDatabase(path)
        try:
            return await db.migrate()
        finally:
            await db.close()

    assert asyncio.run(migrate()) == len(MIGRATIONS)
    assert schema_version(conn) == len(MIGRATIONS)
    conn.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    db = SqliteDatabase(path)
    with pytest.raises(RuntimeError, match="newer"):
        await db.migrate()
    await db.close()

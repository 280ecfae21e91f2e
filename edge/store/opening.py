"""Which backend the settings name, opened and migrated."""

from __future__ import annotations

from edge.settings import Settings
from edge.store.database import Database
from edge.store.postgres_db import PostgresDatabase
from edge.store.sqlite_db import SqliteDatabase


async def open_database(settings: Settings) -> Database:
    """The app's database, migrated to the current schema: PostgreSQL when `database_url` is
    set, else the SQLite file of `settings.database_path` (the zero-configuration default).
    `database_timeout_s` bounds every wait on the database (SQLite's busy timeout, PostgreSQL's
    wait for a pooled connection)."""
    db: SqliteDatabase | PostgresDatabase
    if settings.database_url:
        db = PostgresDatabase(
            settings.database_url,
            pool_size=settings.database_pool_size,
            timeout_s=settings.database_timeout_s,
        )
        await db.open()
    else:
        db = SqliteDatabase(settings.database_path, busy_timeout_s=settings.database_timeout_s)
    try:
        await db.migrate()
    except BaseException:
        await db.close()
        raise
    return db

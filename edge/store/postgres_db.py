"""The fleet backend: PostgreSQL through psycopg 3 and its async connection pool.

Statements are the stores' portable SQL; `?` placeholders become psycopg's `%s` here (the only
rewriting: the stores never write `%` or a literal `?`). Connections are autocommit; a
`transaction()` is an explicit BEGIN/COMMIT on one pooled connection.

Failing fast: a connection is checked before use (a server restarted since leaves a dead
connection in the pool), waiting for one is bounded by `timeout_s`, and every driver error that
means "the server is not there" (connection refused or lost, pool timeout, admin shutdown) leaves
as `StoreUnavailable`. The pool reconnects by itself in the background, so the stores answer
again as soon as the server does. The URL (it may hold a password) is never logged or put in an
error message: `edge.settings.loading.masked_url` is what may be shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from edge.settings.loading import masked_url
from edge.store.database import POSTGRES, Params, Queries, Row
from edge.store.errors import ConstraintViolation, StoreUnavailable
from edge.store.migrations import MIGRATIONS

T = TypeVar("T")
# pg_advisory_xact_lock key for migrations: any constant that no other lock user of the database picks.
_MIGRATION_LOCK = 0x6B78_6564_6765  # "kxedge"
Conn = psycopg.AsyncConnection[tuple[Any, ...]]


@lru_cache(maxsize=512)
def _sql(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, psycopg.errors.IntegrityError):
        return ConstraintViolation(str(exc).splitlines()[0])
    if isinstance(exc, PoolTimeout | psycopg.OperationalError | psycopg.errors.AdminShutdown):
        return StoreUnavailable(f"PostgreSQL does not answer ({type(exc).__name__})")
    return exc


class _Statements:
    dialect = POSTGRES

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = await self._conn.execute(_sql(sql), params)
        return await cursor.fetchall()

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        cursor = await self._conn.execute(_sql(sql), params)
        return await cursor.fetchone()

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(_sql(sql), params)
        return cursor.rowcount

    async def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(_sql(sql), rows)


class PostgresDatabase:
    dialect = POSTGRES

    def __init__(self, url: str, *, pool_size: int = 10, timeout_s: float = 2.0) -> None:
        self.url = url
        self._timeout_s = timeout_s
        self._pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=timeout_s,
            check=AsyncConnectionPool.check_connection,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(timeout_s))},
            name="kx-edge",
        )

    @property
    def backend(self) -> str:
        return "postgres"

    async def open(self) -> None:
        """Connect (waiting at most the timeout for the first connection)."""
        try:
            await self._pool.open(wait=True, timeout=self._timeout_s)
        except Exception:
            await self._pool.close()
            raise StoreUnavailable(f"PostgreSQL at {masked_url(self.url)} does not answer") from None

    async def _use(self, work: Callable[[_Statements], Awaitable[T]]) -> T:
        try:
            async with self._pool.connection() as conn:
                return await work(_Statements(conn))
        except Exception as exc:
            translated = _translate(exc)
            if translated is exc:
                raise
            raise translated from None

    async def migrate(self) -> int:
        """Each migration in its own transaction under a transaction-level advisory lock: of the
        nodes starting together one applies it, the others wait, re-read the version, skip it."""
        target = len(MIGRATIONS)
        while True:
            async with self.transaction() as tx:
                await tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
                await tx.execute("CREATE TABLE IF NOT EXISTS kx_schema_version (version BIGINT NOT NULL)")
                row = await tx.fetch_one("SELECT max(version) FROM kx_schema_version")
                current = int(row[0]) if row is not None and row[0] is not None else 0
                if current > target:
                    raise RuntimeError(
                        f"the database schema is version {current}, newer than this kx-edge ({target})"
                    )
                if current == target:
                    return current
                for statement in MIGRATIONS[current].postgres:
                    await tx.execute(statement)
                await tx.execute("DELETE FROM kx_schema_version")
                await tx.execute("INSERT INTO kx_schema_version (version) VALUES (?)", (current + 1,))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Queries]:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                yield _Statements(conn)
        except Exception as exc:
            translated = _translate(exc)
            if translated is exc:
                raise
            raise translated from None

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._use(lambda s: s.fetch_all(sql, params))

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return await self._use(lambda s: s.fetch_one(sql, params))

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self._use(lambda s: s.execute(sql, params))

    async def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        await self._use(lambda s: s.execute_many(sql, rows))

    async def ping(self) -> bool:
        row = await self.fetch_one("SELECT 1")
        return row is not None and row[0] == 1

    async def close(self) -> None:
        await self._pool.close()

"""The embedded backend: one SQLite file in WAL mode, never touched from the event loop.

Each connection lives in a thread of its own (a one-worker executor) and every statement is
handed to that thread, so a statement that waits on SQLite's lock (another process writing:
up to `busy_timeout_s`) blocks that thread, never the event loop: the storefront keeps
answering from memory while a configuration write waits. Two connections:

- the writer: every transaction and every single write, one at a time (an `asyncio.Lock` keeps
  a transaction's statements together). `BEGIN IMMEDIATE` takes the write lock first, so a
  transaction never fails halfway on a lock it could not upgrade;
- the reader: single reads outside a transaction. WAL readers never wait for the writer, so a
  slow write (or another process holding the lock) does not hold up reads.

Each hand-off costs a thread switch (tens of microseconds): the stores batch their statements
(`execute_many`, `IN (...)`) rather than issuing one per row. A lock held past the busy timeout
surfaces as `StoreUnavailable`, as PostgreSQL being down does.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from edge.store.database import SQLITE, Params, Queries, Row
from edge.store.errors import ConstraintViolation, StoreUnavailable
from edge.store.migrations import MIGRATIONS

T = TypeVar("T")


class _Connection:
    """One sqlite3 connection and the thread that alone uses it."""

    def __init__(self, path: str, name: str, busy_timeout_s: float) -> None:
        self._path = path
        self._busy_ms = int(busy_timeout_s * 1000)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"kx-sqlite-{name}")
        self._conn: sqlite3.Connection | None = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, work)

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._conn = conn
        try:
            return work(self._conn)
        except sqlite3.IntegrityError as exc:
            raise ConstraintViolation(str(exc)) from None
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreUnavailable(f"the SQLite file is locked: {exc}") from None
            raise

    async def close(self) -> None:
        def close(conn: sqlite3.Connection) -> None:
            conn.close()
            self._conn = None

        if self._conn is not None:
            await self.run(close)
        self._executor.shutdown(wait=True)


def _fetch_all(sql: str, params: Params) -> Callable[[sqlite3.Connection], list[Row]]:
    return lambda conn: [tuple(row) for row in conn.execute(sql, params).fetchall()]


def _fetch_one(sql: str, params: Params) -> Callable[[sqlite3.Connection], Row | None]:
    def work(conn: sqlite3.Connection) -> Row | None:
        row = conn.execute(sql, params).fetchone()
        return None if row is None else tuple(row)

    return work


def _execute(sql: str, params: Params) -> Callable[[sqlite3.Connection], int]:
    return lambda conn: int(conn.execute(sql, params).rowcount)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # SQLite rolls back by itself after some errors
        conn.execute("ROLLBACK")


def _execute_many(sql: str, rows: Sequence[Params]) -> Callable[[sqlite3.Connection], None]:
    def work(conn: sqlite3.Connection) -> None:
        conn.executemany(sql, rows)

    return work


class _Statements:
    """Statements run on one connection (the writer inside a transaction)."""

    dialect = SQLITE

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._conn.run(_fetch_all(sql, params))

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return await self._conn.run(_fetch_one(sql, params))

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self._conn.run(_execute(sql, params))

    async def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            await self._conn.run(_execute_many(sql, rows))


class SqliteDatabase:
    dialect = SQLITE

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        memory = str(path) == ":memory:"
        if not memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = _Connection(str(path), "writer", busy_timeout_s)
        # In memory there is one database per connection: the writer reads too.
        self._reader = self._writer if memory else _Connection(str(path), "reader", busy_timeout_s)
        self._write_lock = asyncio.Lock()
        self._in_writer = _Statements(self._writer)
        self._in_reader = _Statements(self._reader)

    @property
    def backend(self) -> str:
        return "sqlite"

    async def migrate(self) -> int:
        async with self._write_lock:
            return await self._writer.run(_migrate)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Queries]:
        async with self._write_lock:
            # A cancelled caller must never leave the connection inside a transaction: a statement
            # handed to the thread runs to its end whatever happens to its caller, so the
            # ROLLBACK (shielded, queued behind it on the same thread) undoes it.
            try:
                await asyncio.shield(self._in_writer.execute("BEGIN IMMEDIATE"))
                yield self._in_writer
                await asyncio.shield(self._in_writer.execute("COMMIT"))
            except BaseException:
                await asyncio.shield(self._writer.run(_rollback))
                raise

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._in_reader.fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return await self._in_reader.fetch_one(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self._write_lock:
            return await self._in_writer.execute(sql, params)

    async def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        async with self._write_lock:
            await self._in_writer.execute_many(sql, rows)

    async def ping(self) -> bool:
        row = await self.fetch_one("SELECT 1")
        return row is not None and row[0] == 1

    async def close(self) -> None:
        async with self._write_lock:
            await self._writer.close()
            if self._reader is not self._writer:
                await self._reader.close()


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration the file has not seen, each in its own transaction (a start-up that
    dies halfway leaves the file at a clean version); the version is `PRAGMA user_version`.

    `BEGIN IMMEDIATE` takes the write lock first, so two processes starting together cannot
    both apply the same migration: the second waits, re-reads the version and skips it.
    """
    target = len(MIGRATIONS)
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(conn)
            if current > target:
                raise RuntimeError(
                    f"the database schema is version {current}, newer than this kx-edge ({target})"
                )
            if current == target:
                conn.execute("COMMIT")
                return current
            for statement in MIGRATIONS[current].sqlite:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

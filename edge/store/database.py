"""The one async database interface every store is written against, and its two backends.

    Database            SqliteDatabase (embedded: one thread per connection)
                        PostgresDatabase (a fleet: psycopg 3 over an async pool)

Why one adapter rather than a store class per backend: the stores' SQL is the same on both
(`?` placeholders, `INSERT ... ON CONFLICT`, `RETURNING`, `LIMIT`), so each store is written once
and both backends run the same statements; what differs is small and lives here (`Dialect`) or in
the migrations, which are written once per dialect (`edge.store.migrations`).

Rows are plain tuples in the order the statement selects. Errors leave the adapter as the store's
own (`ConstraintViolation`, `StoreUnavailable`), never as a driver's, so the stores and the API
handle both backends the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

Row = tuple[Any, ...]
Params = Sequence[Any]


@dataclass(frozen=True, slots=True)
class Dialect:
    """What portable SQL cannot say the same way on both backends.

    `for_update` ends a SELECT that reads a row it will change in the same transaction: PostgreSQL
    locks the row (READ COMMITTED would let two writers read the same version); SQLite needs
    nothing, a write transaction holds the database's write lock from its first statement.
    `skip_locked` ends the SELECT of a claim: concurrent claimers take different rows.
    """

    name: str
    for_update: str
    skip_locked: str


SQLITE = Dialect("sqlite", for_update="", skip_locked="")
POSTGRES = Dialect("postgres", for_update=" FOR UPDATE", skip_locked=" FOR UPDATE SKIP LOCKED")


class Queries(Protocol):
    """Statements, inside a transaction or each on its own (autocommit).

    Outside a transaction `fetch_*` are reads (SQLite serves them from its reader connection):
    a statement that writes and returns rows (`DELETE ... RETURNING`) runs in `transaction()`.
    """

    dialect: Dialect

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None: ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    async def execute_many(self, sql: str, rows: Sequence[Params]) -> None: ...


class Database(Queries, Protocol):
    async def migrate(self) -> int:
        """Apply every migration the database has not seen (once, however many processes start
        together); return the schema version."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Queries]:
        """One write transaction: committed when the block ends, rolled back when it raises."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def placeholders(count: int) -> str:
    """`?, ?, ?` for an `IN (...)` of `count` values (both backends cap the number of bound
    values per statement: callers pass at most `MAX_IN` at a time)."""
    return ", ".join("?" * count)


MAX_IN = 500


def chunks(values: Sequence[Any], size: int = MAX_IN) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]

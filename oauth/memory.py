"""In-process implementations of the storage and lock protocols.

Useful in tests and in a single process; they are also the reference semantics the edge's
SQLite and Redis implementations follow. Each operation runs without awaiting anything in the
middle, which makes it atomic under asyncio.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from oauth.connection import Connection
from oauth.errors import LockTimeout
from oauth.storage import FlowState


class MemoryConnectionStore:
    """`ConnectionStore` over a dict."""

    def __init__(self) -> None:
        self._rows: dict[str, Connection] = {}

    async def get(self, site_id: str) -> Connection | None:
        return self._rows.get(site_id)

    async def save(self, connection: Connection) -> Connection:
        previous = self._rows.get(connection.site_id)
        stored = dataclasses.replace(connection, generation=(previous.generation if previous else 0) + 1)
        self._rows[connection.site_id] = stored
        return stored

    async def update(self, connection: Connection) -> bool:
        current = self._rows.get(connection.site_id)
        if current is None or current.generation != connection.generation:
            return False
        self._rows[connection.site_id] = connection
        return True

    async def disconnect(self, site_id: str) -> Connection | None:
        previous = self._rows.get(site_id)
        if previous is not None:
            self._rows[site_id] = previous.as_disconnected()
        return previous

    def records(self) -> list[dict[str, Any]]:
        """Every stored record as a store would serialise it (what a database dump shows)."""
        return [row.to_record() for row in self._rows.values()]


class MemoryFlowStateStore:
    """`FlowStateStore` over a dict; records are dropped `grace_s` after they expire."""

    def __init__(self, *, clock: Callable[[], float] = time.time, grace_s: float = 3600.0) -> None:
        self._clock = clock
        self._grace_s = grace_s
        self._rows: dict[str, FlowState] = {}

    async def put(self, record: FlowState) -> None:
        horizon = self._clock() - self._grace_s
        for state in [s for s, r in self._rows.items() if r.expires_at < horizon]:
            del self._rows[state]
        self._rows[record.state] = record

    async def take(self, state: str) -> FlowState | None:
        return self._rows.pop(state, None)

    def __len__(self) -> int:
        return len(self._rows)


class MemoryLockProvider:
    """`LockProvider` with one asyncio lock per name, within one event loop.

    `ttl_s` is not needed here: a task that ends or is cancelled releases what it holds.
    Locks nobody holds or waits for are forgotten (weak references), so names do not pile up.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def lock(self, name: str, ttl_s: float, wait_s: float) -> AsyncIterator[None]:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        try:
            async with asyncio.timeout(max(wait_s, 0.0)):
                await lock.acquire()
        except TimeoutError:
            raise LockTimeout(name, wait_s) from None
        try:
            yield
        finally:
            lock.release()

"""The embedded backend never blocks the event loop: a write waiting on another process's lock
waits in its own thread while reads (and everything else on the loop) go on."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from edge.store import SiteRecord, SqlSiteStore, StoreUnavailable
from edge.store.sqlite_db import SqliteDatabase


def _site(site_id: str = "site_1") -> SiteRecord:
    return SiteRecord(site_id, "Shop", f"pk_{site_id}", f"h_{site_id}", "enc", (), 1, 10, 10)


async def test_a_write_waiting_on_another_processes_lock_leaves_the_loop_free(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = SqliteDatabase(path)
    await db.migrate()
    store = SqlSiteStore(db)
    await store.create_site(_site("site_0"))
    other = sqlite3.connect(path, isolation_level=None)  # another process's connection
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        write = asyncio.create_task(store.create_site(_site()))
        await asyncio.sleep(0)  # the write reaches its thread and waits there on the lock
        # The loop is free: reads answer (WAL readers never wait for a writer).
        assert [s.id for s in await store.list_sites()] == ["site_0"]
        assert not write.done()
    finally:
        other.execute("COMMIT")
        other.close()
    await write
    assert await store.get_site("site_1") == _site()
    await db.close()


async def test_a_lock_held_past_the_busy_timeout_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = SqliteDatabase(path, busy_timeout_s=0.05)
    await db.migrate()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable):
            await SqlSiteStore(db).create_site(_site())
    finally:
        other.execute("ROLLBACK")
        other.close()
    await SqlSiteStore(db).create_site(_site())  # the transaction left nothing behind
    assert await SqlSiteStore(db).get_site("site_1") == _site()
    await db.close()


async def test_a_cancelled_transaction_leaves_the_connection_usable(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "db.sqlite3")
    await db.migrate()
    started = asyncio.Event()

    async def slow() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO sites (id, name, public_key, api_key_hash, signing_secret_enc, "
                             "allowed_origins, created_at, updated_at) VALUES ('s', 'S', 'p', 'h', 'e', '[]', 1, 1)")  # fmt: skip
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await SqlSiteStore(db).get_site("s") is None  # rolled back
    await SqlSiteStore(db).create_site(_site())  # and a new transaction starts cleanly
    await db.close()

"""The storage protocols `oauth/` declares (`ConnectionStore`, `FlowStateStore`), over either backend.

Connections are kept as the record oauth/ defines (its tokens are already ciphertext). A change
that the storefront must see (connect, disconnect, a status change) bumps the site's
`config_version` in the same transaction, so every worker reloads the site's runtime.

Pending flows are keyed by SHA-256 of their `state`, and the PKCE verifier is encrypted: a
database dump reveals neither.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from edge.store.database import Database, Queries
from edge.store.sites import bump_config_version
from oauth.connection import Connection
from oauth.crypto import TokenCipher
from oauth.storage import FlowState


class SqlConnectionStore:
    """`on_change(site_id)` is awaited after any write the storefront must see (connect,
    disconnect, a status change), so this process applies it at once; other processes notice the
    bumped config_version.

    Read-modify-write transactions lock the site's row first (`for_update`; SQLite's write lock
    does the same), so two connects of one site at once get generations n+1 and n+2."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self.on_change: Callable[[str], Awaitable[object]] | None = None

    async def _changed(self, site_id: str) -> None:
        if self.on_change is not None:
            await self.on_change(site_id)

    async def get(self, site_id: str) -> Connection | None:
        row = await self._db.fetch_one("SELECT record FROM klaviyo_connections WHERE site_id = ?", (site_id,))
        return None if row is None else Connection.from_record(json.loads(row[0]))

    async def save(self, connection: Connection) -> Connection:
        now = int(self._clock())
        async with self._db.transaction() as tx:
            await _lock_site(tx, connection.site_id)
            row = await tx.fetch_one(
                "SELECT generation FROM klaviyo_connections WHERE site_id = ?", (connection.site_id,)
            )
            generation = 1 if row is None else int(row[0]) + 1
            stored = replace(connection, generation=generation)
            await _write(tx, stored, now)
            await bump_config_version(tx, connection.site_id, now)
        await self._changed(connection.site_id)
        return stored

    async def update(self, connection: Connection) -> bool:
        now = int(self._clock())
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                f"SELECT generation, status FROM klaviyo_connections WHERE site_id = ?{tx.dialect.for_update}",
                (connection.site_id,),
            )
            if row is None or int(row[0]) != connection.generation:
                return False
            await _write(tx, connection, now)
            status_changed = row[1] != connection.status.value
            if status_changed:
                await bump_config_version(tx, connection.site_id, now)
        if status_changed:
            await self._changed(connection.site_id)
        return True

    async def disconnect(self, site_id: str) -> Connection | None:
        now = int(self._clock())
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                f"SELECT record FROM klaviyo_connections WHERE site_id = ?{tx.dialect.for_update}", (site_id,)
            )
            if row is None:
                return None
            previous = Connection.from_record(json.loads(row[0]))
            await _write(tx, previous.as_disconnected(), now)
            await bump_config_version(tx, site_id, now)
        await self._changed(site_id)
        return previous


async def _lock_site(tx: Queries, site_id: str) -> None:
    await tx.fetch_one(f"SELECT id FROM sites WHERE id = ?{tx.dialect.for_update}", (site_id,))


async def _write(tx: Queries, connection: Connection, now: int) -> None:
    await tx.execute(
        "INSERT INTO klaviyo_connections (site_id, generation, status, record, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_id) DO UPDATE SET generation = excluded.generation, "
        "status = excluded.status, record = excluded.record, updated_at = excluded.updated_at",
        (
            connection.site_id,
            connection.generation,
            connection.status.value,
            json.dumps(connection.to_record()),
            now,
        ),
    )


class SqlFlowStateStore:
    def __init__(self, db: Database, cipher: TokenCipher, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._cipher = cipher
        self._clock = clock

    async def put(self, record: FlowState) -> None:
        document = record.to_record()
        document["state"] = ""
        document["code_verifier"] = self._cipher.encrypt(record.code_verifier)
        async with self._db.transaction() as tx:
            # Expired flows are swept on the way in: the table stays as small as the live flows.
            await tx.execute("DELETE FROM oauth_flows WHERE expires_at < ?", (int(self._clock()) - 3600,))
            await tx.execute(
                "INSERT INTO oauth_flows (state_hash, site_id, record, expires_at) VALUES (?, ?, ?, ?)",
                (_hash(record.state), record.site_id, json.dumps(document), record.expires_at),
            )

    async def take(self, state: str) -> FlowState | None:
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "DELETE FROM oauth_flows WHERE state_hash = ? RETURNING record", (_hash(state),)
            )
        if row is None:
            return None
        document = json.loads(row[0])
        document["state"] = state
        document["code_verifier"] = self._cipher.decrypt(document["code_verifier"])
        return FlowState.from_record(document)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()

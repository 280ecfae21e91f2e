"""SQLite implementations of the storage protocols `oauth/` declares.

Connections are kept as the record oauth/ defines (its tokens are already ciphertext). A change
that the storefront must see (connect, disconnect, a status change) bumps the site's
`config_version` in the same transaction, so every worker reloads the site's runtime.

Pending flows are keyed by SHA-256 of their `state`, and the PKCE verifier is encrypted: a
database dump reveals neither.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from edge.store.sqlite import SqliteStore
from oauth.connection import Connection
from oauth.crypto import TokenCipher
from oauth.storage import FlowState


class SqliteConnectionStore:
    """`on_change(site_id)` is awaited after any write the storefront must see (connect,
    disconnect, a status change), so this process applies it at once; other processes notice the
    bumped config_version."""

    def __init__(self, store: SqliteStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self.on_change: Callable[[str], Awaitable[object]] | None = None

    async def _changed(self, site_id: str) -> None:
        if self.on_change is not None:
            await self.on_change(site_id)

    async def get(self, site_id: str) -> Connection | None:
        row = self._store.connection.execute(
            "SELECT record FROM klaviyo_connections WHERE site_id = ?", (site_id,)
        ).fetchone()
        return None if row is None else Connection.from_record(json.loads(row[0]))

    async def save(self, connection: Connection) -> Connection:
        now = int(self._clock())
        with self._store.transaction() as conn:
            row = conn.execute(
                "SELECT generation FROM klaviyo_connections WHERE site_id = ?", (connection.site_id,)
            ).fetchone()
            generation = 1 if row is None else int(row[0]) + 1
            stored = replace(connection, generation=generation)
            self._write(stored, now)
            _bump(conn, connection.site_id, now)
        await self._changed(connection.site_id)
        return stored

    async def update(self, connection: Connection) -> bool:
        now = int(self._clock())
        with self._store.transaction() as conn:
            row = conn.execute(
                "SELECT generation, status FROM klaviyo_connections WHERE site_id = ?", (connection.site_id,)
            ).fetchone()
            if row is None or int(row[0]) != connection.generation:
                return False
            self._write(connection, now)
            status_changed = row[1] != connection.status.value
            if status_changed:
                _bump(conn, connection.site_id, now)
        if status_changed:
            await self._changed(connection.site_id)
        return True

    async def disconnect(self, site_id: str) -> Connection | None:
        now = int(self._clock())
        with self._store.transaction() as conn:
            row = conn.execute(
                "SELECT record FROM klaviyo_connections WHERE site_id = ?", (site_id,)
            ).fetchone()
            if row is None:
                return None
            previous = Connection.from_record(json.loads(row[0]))
            self._write(previous.as_disconnected(), now)
            _bump(conn, site_id, now)
        await self._changed(site_id)
        return previous

    def _write(self, connection: Connection, now: int) -> None:
        self._store.connection.execute(
            "INSERT INTO klaviyo_connections (site_id, generation, status, record, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(site_id) DO UPDATE SET generation = excluded.generation, "
            "status = excluded.status, record = excluded.record, updated_at = excluded.updated_at",
            (
                connection.site_id,
                connection.generation,
                connection.status.value,
                json.dumps(connection.to_record()),
                now,
            ),
        )


class SqliteFlowStateStore:
    def __init__(
        self, store: SqliteStore, cipher: TokenCipher, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._cipher = cipher
        self._clock = clock

    async def put(self, record: FlowState) -> None:
        document = record.to_record()
        document["state"] = ""
        document["code_verifier"] = self._cipher.encrypt(record.code_verifier)
        with self._store.transaction() as conn:
            # Expired flows are swept on the way in: the table stays as small as the live flows.
            conn.execute("DELETE FROM oauth_flows WHERE expires_at < ?", (int(self._clock()) - 3600,))
            conn.execute(
                "INSERT INTO oauth_flows (state_hash, site_id, record, expires_at) VALUES (?, ?, ?, ?)",
                (_hash(record.state), record.site_id, json.dumps(document), record.expires_at),
            )

    async def take(self, state: str) -> FlowState | None:
        with self._store.transaction() as conn:
            row = conn.execute(
                "DELETE FROM oauth_flows WHERE state_hash = ? RETURNING record", (_hash(state),)
            ).fetchone()
        if row is None:
            return None
        document = json.loads(row[0])
        document["state"] = state
        document["code_verifier"] = self._cipher.decrypt(document["code_verifier"])
        return FlowState.from_record(document)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def _bump(conn: sqlite3.Connection, site_id: str, now: int) -> None:
    conn.execute(
        "UPDATE sites SET config_version = config_version + 1, updated_at = ? WHERE id = ?", (now, site_id)
    )

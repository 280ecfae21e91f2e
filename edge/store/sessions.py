"""The merchant page's sessions (`admin_sessions`, migration 4): the `AdminSessionStore`."""

from __future__ import annotations

from edge.store.database import Database
from edge.store.records import AdminSession

_COLUMNS = "id_hash, site_id, csrf_token, created_at, last_seen_at"


class SqlAdminSessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, session: AdminSession, *, expired_before: tuple[float, float]) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "DELETE FROM admin_sessions WHERE last_seen_at <= ? OR created_at <= ?", expired_before
            )
            await tx.execute(
                f"INSERT INTO admin_sessions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (session.id_hash, session.site_id, session.csrf_token, session.created_at,
                 session.last_seen_at),
            )  # fmt: skip

    async def get(self, id_hash: str) -> AdminSession | None:
        row = await self._db.fetch_one(f"SELECT {_COLUMNS} FROM admin_sessions WHERE id_hash = ?", (id_hash,))
        if row is None:
            return None
        return AdminSession(str(row[0]), str(row[1]), str(row[2]), float(row[3]), float(row[4]))

    async def touch(self, id_hash: str, now: float) -> None:
        await self._db.execute("UPDATE admin_sessions SET last_seen_at = ? WHERE id_hash = ?", (now, id_hash))

    async def delete(self, id_hash: str) -> None:
        await self._db.execute("DELETE FROM admin_sessions WHERE id_hash = ?", (id_hash,))

    async def count(self, site_id: str) -> int:
        row = await self._db.fetch_one("SELECT COUNT(*) FROM admin_sessions WHERE site_id = ?", (site_id,))
        return 0 if row is None else int(row[0])

    async def delete_for_site(self, site_id: str, *, keep: str | None = None) -> int:
        return await self._db.execute(
            "DELETE FROM admin_sessions WHERE site_id = ? AND id_hash <> ?", (site_id, keep or "")
        )

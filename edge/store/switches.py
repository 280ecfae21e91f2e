"""Each site's event trigger switches (`event_triggers`, migration 3): the `SwitchStore`."""

from __future__ import annotations

from edge.store.base import SwitchValues
from edge.store.database import Database, Row

SWITCHES = ("entered_test", "saw_personalization", "profile_sync")
"""The switch columns: one per trigger (`edge.events.triggers.Trigger` values)."""
_SELECT = f"SELECT site_id, {', '.join(SWITCHES)}, updated_at FROM event_triggers "


class SqlSwitchStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, site_id: str) -> SwitchValues | None:
        row = await self._db.fetch_one(_SELECT + "WHERE site_id = ?", (site_id,))
        return None if row is None else _values(row)

    async def changed_since(self, updated_at: int) -> list[tuple[str, SwitchValues, int]]:
        rows = await self._db.fetch_all(_SELECT + "WHERE updated_at >= ?", (updated_at,))
        return [(str(row[0]), _values(row), int(row[-1])) for row in rows]

    async def put(self, site_id: str, changes: dict[str, bool], now: int) -> SwitchValues:
        unknown = set(changes) - set(SWITCHES)
        if unknown:
            raise ValueError(f"no such switches: {sorted(unknown)}")
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(_SELECT + f"WHERE site_id = ?{tx.dialect.for_update}", (site_id,))
            current = _values(row) if row is not None else dict.fromkeys(SWITCHES, False)
            values = {name: changes.get(name, current[name]) for name in SWITCHES}
            await tx.execute(
                f"INSERT INTO event_triggers (site_id, {', '.join(SWITCHES)}, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_id) DO UPDATE SET "
                + ", ".join(f"{name} = excluded.{name}" for name in SWITCHES)
                + ", updated_at = excluded.updated_at",
                (site_id, *(int(values[name]) for name in SWITCHES), now),
            )
        return values


def _values(row: Row) -> SwitchValues:
    return {name: bool(row[1 + i]) for i, name in enumerate(SWITCHES)}

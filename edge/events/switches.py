"""Each site's trigger switches: stored in `event_triggers`, mirrored in memory for the observer.

The observer runs on every assignment and may not touch the store, so it reads `active` (the
sites with any trigger on) and `get`. A change made in this process is mirrored at once; changes
made by other workers arrive with `refresh`, which re-reads the rows changed in the last seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from edge.events.triggers import OFF, Switches, Trigger
from edge.store import SqliteStore

_SELECT = "SELECT site_id, entered_test, saw_personalization, profile_sync, updated_at FROM event_triggers "
_OVERLAP_S = 2  # re-read rows this much older than the newest seen: same-second writers


class SwitchBook:
    def __init__(self, store: SqliteStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._by_site: dict[str, Switches] = {}
        self.active: frozenset[str] = frozenset()
        self.generation = 0  # grows whenever any site's switches change
        self._newest = 0
        self.refresh()

    def get(self, site_id: str) -> Switches:
        return self._by_site.get(site_id, OFF)

    def refresh(self) -> None:
        """Mirror rows changed since the last refresh (all of them the first time)."""
        rows = self._store.connection.execute(
            _SELECT + "WHERE updated_at >= ?", (self._newest - _OVERLAP_S,)
        ).fetchall()
        changed = False
        for row in rows:
            switches = Switches(bool(row[1]), bool(row[2]), bool(row[3]))
            if self._by_site.get(row[0]) != switches:
                self._by_site[row[0]] = switches
                changed = True
            self._newest = max(self._newest, int(row[4]))
        if changed:
            self._changed()

    def _changed(self) -> None:
        self.active = frozenset(site for site, s in self._by_site.items() if s.any)
        self.generation += 1

    async def read(self, site_id: str) -> Switches:
        """The stored switches (every worker agrees on these)."""
        row = self._store.connection.execute(_SELECT + "WHERE site_id = ?", (site_id,)).fetchone()
        return OFF if row is None else Switches(bool(row[1]), bool(row[2]), bool(row[3]))

    async def put(self, site_id: str, changes: Mapping[Trigger, bool]) -> Switches:
        """Switch the given triggers; the others keep their value."""
        now = int(self._clock())
        with self._store.transaction() as conn:
            row = conn.execute(_SELECT + "WHERE site_id = ?", (site_id,)).fetchone()
            current = OFF if row is None else Switches(bool(row[1]), bool(row[2]), bool(row[3]))
            values = {t: changes.get(t, current.on(t)) for t in Trigger}
            updated = Switches(*(values[t] for t in Trigger))
            conn.execute(
                "INSERT INTO event_triggers (site_id, entered_test, saw_personalization, profile_sync, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_id) DO UPDATE "
                "SET entered_test = excluded.entered_test, saw_personalization = excluded.saw_personalization, "
                "profile_sync = excluded.profile_sync, updated_at = excluded.updated_at",
                (site_id, *(int(values[t]) for t in Trigger), now),
            )
        self._by_site[site_id] = updated
        self._changed()
        self._newest = max(self._newest, now)
        return updated

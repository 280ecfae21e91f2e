"""Each site's trigger switches: stored by the `SwitchStore`, mirrored in memory for the observer.

The observer runs on every assignment and may not touch the store, so it reads `active` (the
sites with any trigger on) and `get`. A change made in this process is mirrored at once; changes
made by other workers arrive with `refresh`, which re-reads the rows changed in the last seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from edge.events.triggers import OFF, Switches, Trigger
from edge.store.base import SwitchStore, SwitchValues

_OVERLAP_S = 2  # re-read rows this much older than the newest seen: same-second writers


class SwitchBook:
    def __init__(self, store: SwitchStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._by_site: dict[str, Switches] = {}
        self.active: frozenset[str] = frozenset()
        self.generation = 0  # grows whenever any site's switches change
        self._newest = 0

    def get(self, site_id: str) -> Switches:
        return self._by_site.get(site_id, OFF)

    async def refresh(self) -> None:
        """Mirror rows changed since the last refresh (all of them the first time)."""
        changed = False
        for site_id, values, updated_at in await self._store.changed_since(self._newest - _OVERLAP_S):
            switches = _switches(values)
            if self._by_site.get(site_id) != switches:
                self._by_site[site_id] = switches
                changed = True
            self._newest = max(self._newest, updated_at)
        if changed:
            self._changed()

    def _changed(self) -> None:
        self.active = frozenset(site for site, s in self._by_site.items() if s.any)
        self.generation += 1

    async def read(self, site_id: str) -> Switches:
        """The stored switches (every worker agrees on these)."""
        values = await self._store.get(site_id)
        return OFF if values is None else _switches(values)

    async def put(self, site_id: str, changes: Mapping[Trigger, bool]) -> Switches:
        """Switch the given triggers; the others keep their value."""
        now = int(self._clock())
        updated = _switches(await self._store.put(site_id, {t.value: on for t, on in changes.items()}, now))
        self._by_site[site_id] = updated
        self._changed()
        self._newest = max(self._newest, now)
        return updated


def _switches(values: SwitchValues) -> Switches:
    return Switches(*(values[t.value] for t in Trigger))

"""Exposure and bot counters: an in-memory increment on the request path, batched to the store.

`ExposureCounter.observed` (an `AssignObserver`) runs after every answered assignment. A return
visit costs two attribute reads (no first exposure, not a bot); a first exposure costs a dict
increment per counted experience, keyed by its cell (site, experience, variation, audience,
entry day: the cohort the token now carries); a bot's request adds one to each experience's
bot count of the day. Nothing is awaited: `CountFlusher` writes the counters every
`interval_s` in one transaction, at shutdown once more, and keeps them in memory (merged with
what arrives meanwhile) while the store does not answer.

Bounded: at most `max_keys` distinct cells wait in memory; increments of a waiting cell are
always kept, a new cell beyond the bound is dropped and counted in `dropped` (logged). A hard
kill loses at most the last interval's counts (exposures are statistics, not money: orders are
written before they are acknowledged, see writer.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from edge.sites.runtime import SiteRuntime
from edge.store.results import BotKey, CellKey, SqlResultsStore, day_of
from edge.store.results_records import CUSTOM_AUDIENCE
from edge.storefront.identity import VisitorIdentity
from targeting import Reason, SiteDecision, StickyEntry

logger = logging.getLogger("kx_edge.results")
MAX_KEYS = 100_000
K = TypeVar("K", CellKey, BotKey)


def audience_label(entry: StickyEntry) -> str:
    """The cell's audience: the admitting advanced audience's index as text, or `custom`."""
    return CUSTOM_AUDIENCE if entry.audience is None else str(entry.audience)


class ExposureCounter:
    __slots__ = ("_clock", "bots", "dropped", "exposures", "max_keys")

    def __init__(self, *, clock: Callable[[], float] = time.time, max_keys: int = MAX_KEYS) -> None:
        self._clock = clock
        self.max_keys = max_keys
        self.exposures: dict[CellKey, int] = {}
        self.bots: dict[BotKey, int] = {}
        self.dropped = 0  # increments lost to the bound, since start

    def observed(
        self,
        runtime: SiteRuntime,
        visitor_id: str,
        who: VisitorIdentity,
        decision: SiteDecision,
        url: str | None,
    ) -> Awaitable[object] | None:
        counted = decision.counted
        if counted:
            self._count(runtime.site.id, decision, counted)
        elif decision.decisions and decision.decisions[0].reason is Reason.BOT:
            self._count_bot(runtime.site.id, decision)
        return None

    def _count(self, site_id: str, decision: SiteDecision, counted: tuple[str, ...]) -> None:
        # `_add` and `audience_label` inlined: every first visit counts here (2 cells on
        # bench.assign's site), and the calls were a third of the observer's cost in-process.
        today = day_of(self._clock())
        sticky = decision.sticky
        exposures = self.exposures
        for experience_id in counted:
            entry = sticky[experience_id]
            assert entry.variation_id is not None
            key = (
                site_id,
                experience_id,
                entry.variation_id,
                CUSTOM_AUDIENCE if entry.audience is None else str(entry.audience),
                today if entry.day is None else entry.day,
            )
            known = exposures.get(key)
            if known is not None:
                exposures[key] = known + 1
            elif len(exposures) + len(self.bots) < self.max_keys:
                exposures[key] = 1
            else:
                self.dropped += 1

    def _count_bot(self, site_id: str, decision: SiteDecision) -> None:
        today = day_of(self._clock())
        for one in decision.decisions:
            self._add(self.bots, (site_id, one.experience_id, today))

    def _add(self, table: dict[K, int], key: K) -> None:
        self._merge(table, key, 1)

    def take(self) -> tuple[dict[CellKey, int], dict[BotKey, int]]:
        exposures, bots = self.exposures, self.bots
        self.exposures, self.bots = {}, {}
        return exposures, bots

    def put_back(self, exposures: dict[CellKey, int], bots: dict[BotKey, int]) -> None:
        """Counts a failed write did not store: merged back, within the bound."""
        for key, n in exposures.items():
            self._merge(self.exposures, key, n)
        for bot_key, n in bots.items():
            self._merge(self.bots, bot_key, n)

    def _merge(self, table: dict[K, int], key: K, n: int) -> None:
        known = table.get(key)
        if known is not None:
            table[key] = known + n
        elif len(self.exposures) + len(self.bots) < self.max_keys:
            table[key] = n
        else:
            self.dropped += n


class CountFlusher:
    """Writes the counters every `interval_s` until stopped, then once more."""

    def __init__(self, counter: ExposureCounter, store: SqlResultsStore, *, interval_s: float = 1.0) -> None:
        self._counter = counter
        self._store = store
        self._interval_s = interval_s
        self._stopping = asyncio.Event()
        self._reported_drops = 0

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval_s)
            await self.flush_or_keep()
        await self.flush_or_keep()

    def stop(self) -> None:
        self._stopping.set()

    async def flush_or_keep(self) -> bool:
        """Write what is counted; True when written (or nothing to write)."""
        exposures, bots = self._counter.take()
        if self._counter.dropped > self._reported_drops:
            logger.warning(
                "results counters full: increments dropped",
                extra={"dropped": self._counter.dropped - self._reported_drops},
            )
            self._reported_drops = self._counter.dropped
        if not exposures and not bots:
            return True
        try:
            await self._store.add_counts(exposures, bots)
        except Exception:
            logger.exception("writing results counts failed; kept in memory, retrying")
            self._counter.put_back(exposures, bots)
            return False
        return True

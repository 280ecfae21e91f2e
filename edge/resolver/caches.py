"""The resolver's caches as one object: L1, L2, `_kx` -> profile id, the per-account filter flag.

Membership found per visit goes to L1 and L2 with its TTL. Index answers go to L1 only, stamped
(see `index.py`). Profile ids go to the in-process `ProfileIdCache` and to L2, both for
`profile_id_cache_ttl_s`. A failed L2 write marks the outcome `keep_lock`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable

from edge.resolver.config import ResolverConfig
from edge.resolver.l1 import Interner, Kind, L1Cache, Membership
from edge.resolver.l2 import L2Entry, L2Store
from edge.resolver.metrics import ResolverMetrics
from edge.resolver.outcome import Outcome
from edge.resolver.pids import ProfileIdCache
from edge.resolver.redis_guard import RedisDown, RedisGuard
from klaviyo import ConnectionRef

logger = logging.getLogger("kx_edge.resolver")


class Caches:
    def __init__(
        self,
        config: ResolverConfig,
        guard: RedisGuard,
        prefix: str,
        metrics: ResolverMetrics,
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self.l1 = L1Cache(config.l1_max_entries, clock)
        self.pids = ProfileIdCache(config.profile_id_l1_max_entries, clock)
        self.l2 = L2Store(guard, prefix)
        self._interner = Interner()
        self._filter_refused: dict[str, float] = {}

    def now(self) -> float:
        return self._clock()

    def fill_from_l2(
        self, conn: ConnectionRef, kx: str, entry: L2Entry | None, ttl_s: float | None
    ) -> Membership | None:
        """An L2 entry as an L1 value, stored in L1 with what is left of its TTL."""
        if entry is None or ttl_s is None:
            return None
        try:
            kind = Kind(entry.kind)
        except ValueError:
            return None
        now = self._clock()
        value = self._interner.membership(
            conn.account_id, conn.generation, kind, entry.members, entry.checked, now + ttl_s, now
        )
        if value.expires > now:
            self.l1.put(kx, value)
        return value

    async def store(
        self,
        conn: ConnectionRef,
        kx: str,
        kind: Kind,
        members: Iterable[str],
        checked: Iterable[str] | None,
        ttl_s: float,
        out: Outcome,
        *,
        profile_id: str | None = None,
    ) -> None:
        """A per-visit answer, to L1 and L2."""
        now = self._clock()
        value = self._interner.membership(
            conn.account_id, conn.generation, kind, members, checked, now + ttl_s, now
        )
        self.l1.put(kx, value)
        out.entry = value
        entry = L2Entry(
            int(kind), sorted(value.members), None if checked is None else sorted(value.checked or ())
        )
        try:
            await self.l2.write(
                conn, kx, entry, ttl_s,
                profile_id=profile_id, profile_id_ttl_s=self._config.profile_id_cache_ttl_s,
            )  # fmt: skip
        except RedisDown:
            out.keep_lock = True

    def store_index_answer(
        self, conn: ConnectionRef, kx: str, members: frozenset[str], targeted: frozenset[str], stamp: int
    ) -> Membership:
        """An index answer, to L1 only, valid while the index keeps `stamp`."""
        now = self._clock()
        value = self._interner.membership(
            conn.account_id, conn.generation, Kind.PARTIAL, members, targeted,
            now + self._config.segment_cache_ttl_s, now, stamp,
        )  # fmt: skip
        self.l1.put(kx, value)
        return value

    def profile_id(self, conn: ConnectionRef, kx: str) -> str | None:
        return self.pids.get(conn.account_id, conn.generation, kx)

    def keep_profile_id(self, conn: ConnectionRef, kx: str, profile_id: str) -> None:
        self.pids.put(conn.account_id, conn.generation, kx, profile_id, self._config.profile_id_cache_ttl_s)

    async def write_profile_id(
        self, conn: ConnectionRef, kx: str, profile_id: str | None, out: Outcome
    ) -> None:
        """Keep (or, with None, forget) the profile id in the process and in L2."""
        if profile_id is None:
            self.pids.forget(conn.account_id, conn.generation, kx)
        else:
            self.keep_profile_id(conn, kx, profile_id)
        try:
            await self.l2.write_profile_id(conn, kx, profile_id, self._config.profile_id_cache_ttl_s)
        except RedisDown:
            out.keep_lock = True

    async def release(self, conn: ConnectionRef, kx: str, token: str) -> None:
        with contextlib.suppress(RedisDown):  # else it expires by itself after lock_ttl_ms
            await self.l2.release_lock(conn, kx, token)

    def filter_refused_here(self, account_id: str) -> bool:
        until = self._filter_refused.get(account_id)
        if until is None:
            return False
        if until <= self._clock():
            del self._filter_refused[account_id]
            return False
        return True

    async def remember_filter_refused(self, account_id: str) -> None:
        ttl = self._config.filter_refusal_ttl_s
        self._filter_refused[account_id] = self._clock() + ttl
        self._metrics.inc("filter_refused")
        logger.warning("klaviyo refused the per-segment _kx filter; using the profile path")
        with contextlib.suppress(RedisDown):
            await self.l2.remember_filter_refused(account_id, ttl)

    async def forget_account(self, account_id: str) -> None:
        """Drop every cached membership and profile id of an account, in L1 and L2."""
        self.l1.forget_account(account_id)
        self.pids.forget_account(account_id)
        with contextlib.suppress(RedisDown):
            await self.l2.forget_account(account_id)

"""Which segments to sync: the union, per account, of what connected sites' live experiences target.

Each worker learns its sites' targets from the app (`SegmentSync.set_site_targets`, called when a
site's runtime changes). With Redis it publishes them, one hash field per site under the account,
so the account's syncer sees every site even when it never loaded some of them; entries are
re-published every `targets_refresh_s` and ignored once `targets_expiry_s` old (a site whose
workers all went away). Without Redis the process's own view is the whole truth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

from edge.fleet.redis_client import RedisClient
from edge.resolver.redis_guard import RedisDown, RedisGuard
from edge.sync import keys
from edge.sync.config import SyncConfig
from klaviyo import ConnectionRef

logger = logging.getLogger("kx_edge.sync")


class _Published(msgspec.Struct, frozen=True):
    generation: int
    segments: list[str]
    at: float


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(_Published).decode


@dataclass(frozen=True, slots=True)
class AccountTargets:
    segments: frozenset[str]
    conn: ConnectionRef | None  # a connected site of the account: its token pays for the calls


class TargetBoard:
    def __init__(
        self, guard: RedisGuard, prefix: str, config: SyncConfig, clock: Callable[[], float]
    ) -> None:
        self._guard = guard
        self._prefix = prefix
        self._config = config
        self._clock = clock
        self.local: dict[str, tuple[ConnectionRef, frozenset[str]]] = {}  # site id -> targets
        self._dirty: dict[str, str] = {}  # site id -> account id to (re)write or delete it under
        self._published_at = float("-inf")

    def set_site(self, site_id: str, conn: ConnectionRef | None, segment_ids: Iterable[str]) -> set[str]:
        """Record a site's targets (None / no segments: it targets nothing); the accounts touched."""
        previous = self.local.get(site_id)
        segments = frozenset(segment_ids)
        touched = set()
        if previous is not None:
            touched.add(previous[0].account_id)
            if conn is None or previous[0].account_id != conn.account_id:
                self._dirty[site_id + "\0" + previous[0].account_id] = previous[0].account_id
        if conn is None or not segments:
            self.local.pop(site_id, None)
        else:
            self.local[site_id] = (conn, segments)
            touched.add(conn.account_id)
            self._dirty[site_id + "\0" + conn.account_id] = conn.account_id
        return touched

    def local_accounts(self) -> set[str]:
        return {conn.account_id for conn, _ in self.local.values()}

    def _local_targets(self, account_id: str) -> AccountTargets:
        mine = [(conn, segs) for conn, segs in self.local.values() if conn.account_id == account_id]
        segments = frozenset().union(*(segs for _, segs in mine))
        conn = min((c for c, _ in mine), key=lambda c: c.site_id, default=None)
        return AccountTargets(segments, conn)

    async def publish(self) -> None:
        """Write the changed sites (every site once per `targets_refresh_s`) to Redis."""
        if not self._guard.configured:
            self._dirty.clear()
            return
        now = self._clock()
        if now - self._published_at >= self._config.targets_refresh_s:
            for site_id, (conn, _) in self.local.items():
                self._dirty[site_id + "\0" + conn.account_id] = conn.account_id
            self._published_at = now
        if not self._dirty:
            return
        writes: list[tuple[str, str, bytes | None]] = []
        for marker, account_id in self._dirty.items():
            site_id = marker.split("\0", 1)[0]
            entry = self.local.get(site_id)
            if entry is not None and entry[0].account_id == account_id:
                body = _Published(entry[0].generation, sorted(entry[1]), now)
                writes.append((account_id, site_id, _encode(body)))
            else:
                writes.append((account_id, site_id, None))
        ttl_ms = int(self._config.targets_expiry_s * 2000)
        prefix = self._prefix

        async def command(r: RedisClient) -> None:
            pipe = r.pipeline(transaction=False)
            for account_id, site_id, body in writes:
                name = keys.targets(prefix, account_id)
                if body is None:
                    pipe.hdel(name, site_id)
                else:
                    pipe.hset(name, site_id, body)
                    pipe.pexpire(name, ttl_ms)
            await pipe.execute()

        try:
            await self._guard.run(command, timeout_s=self._config.redis_write_timeout_s)
        except RedisDown:
            return  # kept dirty: published once Redis answers
        self._dirty.clear()

    async def targets(self, account_id: str) -> AccountTargets | None:
        """What the account's sites target, fleet-wide; None when that cannot be known now
        (Redis failed: then nothing may be dropped on its account)."""
        local = self._local_targets(account_id)
        if not self._guard.configured:
            return local
        name = keys.targets(self._prefix, account_id)

        async def command(r: RedisClient) -> dict[bytes | str, bytes | str]:
            result: dict[bytes | str, bytes | str] = await r.hgetall(name)
            return result

        try:
            raw = await self._guard.run(command, timeout_s=self._config.redis_write_timeout_s)
        except RedisDown:
            return None
        oldest = self._clock() - self._config.targets_expiry_s
        segments = set(local.segments)
        conn = local.conn
        for field, value in sorted(raw.items()):
            try:
                entry = _decode(value)
            except msgspec.DecodeError:
                continue
            if entry.at < oldest:
                continue
            segments.update(entry.segments)
            if conn is None:
                site_id = field.decode() if isinstance(field, bytes) else str(field)
                conn = ConnectionRef(site_id, account_id, entry.generation)
        return AccountTargets(frozenset(segments), conn)

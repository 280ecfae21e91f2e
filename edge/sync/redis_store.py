"""The shared index in Redis: one set of profile ids per account and segment, and the records.

A full sync fills `members-next:{account}:<segment>` page by page, then one script swaps it over
`members:{account}:<segment>` (UNLINK the old set, so it is freed off the main thread, then
RENAME): readers see the whole old index or the whole new one. Incremental passes SADD into the
live set. Every write the holder makes is fenced by its lease token (`lease.py`). Lookups on the
request path are one pipelined SISMEMBER per targeted segment, with a short timeout; a failure
answers None and the resolver resolves per visit. Sets expire 48 h after their last full sync
(unused after 24 h anyway), an unfinished next set 15 minutes after its last page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from edge.fleet.redis_client import RedisClient
from edge.resolver.redis_guard import RedisDown, RedisGuard
from edge.sync import keys
from edge.sync.config import SyncConfig
from edge.sync.records import SegmentRecord, decode_record, encode_record

_T = TypeVar("_T")
_NEXT_TTL_MS = 15 * 60 * 1000

# KEYS: lease, next, live. ARGV: token, live TTL (ms). -1 = lease lost, else the new size.
_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.call('UNLINK', KEYS[2])
  return -1
end
redis.call('UNLINK', KEYS[3])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
end
return redis.call('SCARD', KEYS[3])
"""
# KEYS: lease, records. ARGV: token, segment, record ('' = delete it), records TTL (ms).
_WRITE_RECORD = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[2], ARGV[2])
else
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return 1
"""
# KEYS: lease, live, next.
_DROP = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('UNLINK', KEYS[2], KEYS[3])
return 1
"""


class RedisFullWrite:
    def __init__(self, store: RedisStore, account_id: str, segment_id: str, fence: str | None) -> None:
        self._store = store
        self._fence = fence or ""
        p = store.prefix
        self._lease = keys.lease(p, account_id)
        self._next = keys.members_next(p, account_id, segment_id)
        self._live = keys.members(p, account_id, segment_id)
        self._started = False

    async def add(self, profile_ids: list[str]) -> None:
        first, self._started = not self._started, True
        next_key = self._next

        async def command(r: RedisClient) -> None:
            pipe = r.pipeline(transaction=False)
            if first:  # a set left by a holder that died mid-sync
                pipe.execute_command("UNLINK", next_key)  # queued, on a cluster pipeline too
            if profile_ids:
                pipe.sadd(next_key, *profile_ids)
            pipe.pexpire(next_key, _NEXT_TTL_MS)
            await pipe.execute()

        await self._store.write(command)

    async def commit(self) -> int | None:
        """Swap the new set in; its size, or None when this worker no longer holds the lease."""
        live_ttl = int(self._store.config.max_age_s * 2000)
        args = (self._lease, self._next, self._live, self._fence, live_ttl)
        if not self._started:  # an empty segment: commit drops the live set
            await self.add([])

        async def command(r: RedisClient) -> object:
            return await r.eval(_COMMIT, 3, *args)

        size = await self._store.write(command)
        return None if not isinstance(size, int) or size < 0 else size

    async def abort(self) -> None:
        next_key = self._next

        async def command(r: RedisClient) -> object:
            return await r.unlink(next_key)

        with contextlib.suppress(RedisDown):  # else it expires by itself
            await self._store.write(command)


class RedisStore:
    def __init__(self, guard: RedisGuard, prefix: str, config: SyncConfig) -> None:
        self.guard = guard
        self.prefix = prefix
        self.config = config

    async def write(self, command: Callable[[RedisClient], Awaitable[_T]]) -> _T:
        """Run a command of the sync (not of the request path): a longer timeout."""
        return await self.guard.run(command, timeout_s=self.config.redis_write_timeout_s)

    def begin_full(self, account_id: str, segment_id: str, fence: str | None) -> RedisFullWrite:
        return RedisFullWrite(self, account_id, segment_id, fence)

    async def add(self, account_id: str, segment_id: str, profile_ids: list[str]) -> int:
        """Add members to the live set (an incremental pass); the number that were new."""
        if not profile_ids:
            return 0
        live = keys.members(self.prefix, account_id, segment_id)
        ttl = int(self.config.max_age_s * 2000)

        async def command(r: RedisClient) -> int:
            pipe = r.pipeline(transaction=False)
            pipe.sadd(live, *profile_ids)
            pipe.pexpire(live, ttl, nx=True)
            result: list[int] = await pipe.execute()
            return result[0]

        return await self.write(command)

    async def drop(self, account_id: str, segment_id: str, fence: str | None, *, forget: bool) -> bool:
        """Delete a segment's sets; with `forget`, its record too. False: the lease was lost."""
        p = self.prefix
        lease, live = keys.lease(p, account_id), keys.members(p, account_id, segment_id)
        next_key = keys.members_next(p, account_id, segment_id)
        token = fence or ""

        async def command(r: RedisClient) -> object:
            return await r.eval(_DROP, 3, lease, live, next_key, token)

        dropped = bool(await self.write(command))
        if dropped and forget:
            dropped = await self._record(account_id, segment_id, b"", fence)
        return dropped

    async def members(
        self, account_id: str, segment_ids: frozenset[str], profile_id: str
    ) -> frozenset[str] | None:
        """Which of the segments the profile is in: one round trip. None when Redis fails."""
        ordered = sorted(segment_ids)
        names = [keys.members(self.prefix, account_id, s) for s in ordered]

        async def command(r: RedisClient) -> list[object]:
            pipe = r.pipeline(transaction=False)
            for name in names:
                pipe.sismember(name, profile_id)
            result: list[object] = await pipe.execute()
            return result

        try:
            found = await self.guard.run(command, timeout_s=self.config.redis_timeout_s)
        except RedisDown:
            return None
        return frozenset(s for s, hit in zip(ordered, found, strict=True) if hit)

    async def write_record(
        self, account_id: str, segment_id: str, record: SegmentRecord, fence: str | None
    ) -> bool:
        """Store a segment's record; False when this worker no longer holds the lease."""
        return await self._record(account_id, segment_id, encode_record(record), fence)

    async def _record(self, account_id: str, segment_id: str, body: bytes, fence: str | None) -> bool:
        p = self.prefix
        args = (keys.lease(p, account_id), keys.records(p, account_id), fence or "", segment_id, body)
        ttl = int(self.config.max_age_s * 2000)

        async def command(r: RedisClient) -> object:
            return await r.eval(_WRITE_RECORD, 2, *args, ttl)

        return bool(await self.write(command))

    async def read_records(self, account_id: str) -> dict[str, SegmentRecord]:
        """Every segment record of the account (raises `RedisDown`)."""
        name = keys.records(self.prefix, account_id)

        async def command(r: RedisClient) -> dict[bytes | str, bytes | str]:
            result: dict[bytes | str, bytes | str] = await r.hgetall(name)
            return result

        raw = await self.write(command)
        found: dict[str, SegmentRecord] = {}
        for field, value in raw.items():
            record = decode_record(value)
            if record is not None:
                found[field.decode() if isinstance(field, bytes) else str(field)] = record
        return found

    async def index_bytes(self, account_id: str, segment_id: str) -> int | None:
        """`MEMORY USAGE` of the live set (every element counted), for the benchmark."""
        name = keys.members(self.prefix, account_id, segment_id)

        async def command(r: RedisClient) -> object:
            return await r.memory_usage(name, samples=0)

        used = await self.write(command)
        return used if isinstance(used, int) else None

"""One syncer per account across the fleet: a Redis lease.

A worker takes it with `SET key token NX PX ttl` and, while it holds it, renews it every tick
with a script that extends it only if it still holds its token. A holder that dies stops renewing;
the lease expires after `lease_ttl_s` and the next worker to try takes it. Every write of the
holder's (records, the index swap) is fenced by the same token, so a holder that lost the lease
without noticing (a long pause) cannot overwrite its successor's work. Without Redis there is no
fleet: the process always holds the lease.
"""

from __future__ import annotations

import contextlib
import secrets

import redis.asyncio as aioredis

from edge.resolver.redis_guard import RedisDown, RedisGuard

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LocalLease:
    """The embedded mode's lease: always held, nothing to fence."""

    @property
    def token(self) -> str | None:
        return None

    async def hold(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class RedisLease:
    def __init__(self, guard: RedisGuard, key: str, ttl_s: float) -> None:
        self._guard = guard
        self._key = key
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._token = secrets.token_hex(8)
        self._held = False

    @property
    def token(self) -> str:
        return self._token

    async def hold(self) -> bool:
        """Renew the lease if held, else try to take it; False when another worker holds it or
        Redis does not answer (then this worker must stop syncing)."""
        key, token, ttl = self._key, self._token, self._ttl_ms

        async def renew(r: aioredis.Redis) -> bool:
            return bool(await r.eval(_RENEW, 1, key, token, ttl))

        async def take(r: aioredis.Redis) -> bool:
            return bool(await r.set(key, token, nx=True, px=ttl))

        try:
            if self._held and await self._guard.run(renew):
                return True
            self._held = await self._guard.run(take)
        except RedisDown:
            self._held = False
        return self._held

    async def release(self) -> None:
        """Give the lease up at once (graceful shutdown): another worker takes over next tick."""
        self._held = False
        key, token = self._key, self._token

        async def command(r: aioredis.Redis) -> object:
            return await r.eval(_RELEASE, 1, key, token)

        with contextlib.suppress(RedisDown):
            await self._guard.run(command)

"""One syncer per account across the fleet: a Redis lease.

The lease is redis-py's `Lock` with a TTL, taken without waiting (`SET key token NX PX ttl`)
and, while held, renewed every tick by `reacquire` (a script that resets the TTL only if the key
still holds this worker's token). A holder that dies stops renewing; the lease expires after
`lease_ttl_s` and the next worker to try takes it. Every write of the holder's (records, the
index swap) is fenced by the same token, so a holder that lost the lease without noticing (a long
pause) cannot overwrite its successor's work. Without Redis there is no fleet: the process always
holds the lease.
"""

from __future__ import annotations

import contextlib
import secrets

from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from edge.fleet.redis_client import RedisClient
from edge.resolver.redis_guard import RedisDown, RedisGuard


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
        self._ttl_s = max(ttl_s, 0.001)
        self._token = secrets.token_hex(8)
        self._lock: Lock | None = None

    @property
    def token(self) -> str:
        return self._token

    async def hold(self) -> bool:
        """Renew the lease if held, else try to take it; False when another worker holds it or
        Redis does not answer (then this worker must stop syncing)."""
        try:
            if self._lock is not None and await self._guard.run(self._renew):
                return True
            self._lock = None
            if await self._guard.run(self._take):
                return True
        except RedisDown:
            pass
        self._lock = None
        return False

    async def release(self) -> None:
        """Give the lease up at once (graceful shutdown): another worker takes over next tick."""
        lock, self._lock = self._lock, None
        if lock is None:
            return

        async def command(r: RedisClient) -> None:
            with contextlib.suppress(LockError):  # expired or taken meanwhile: nothing to give up
                await lock.release()

        with contextlib.suppress(RedisDown):
            await self._guard.run(command)

    async def _renew(self, redis: RedisClient) -> bool:
        assert self._lock is not None
        try:
            return bool(await self._lock.reacquire())
        except LockError:  # not ours any more (it expired, or someone took it)
            return False

    async def _take(self, redis: RedisClient) -> bool:
        lock = Lock(redis, self._key, timeout=self._ttl_s, thread_local=False)
        if not await lock.acquire(blocking=False, token=self._token):
            return False
        self._lock = lock
        return True

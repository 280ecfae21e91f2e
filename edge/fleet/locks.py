"""The lock implementations the edge supplies to oauth/ (and uses itself): local and Redis.

`RedisLockProvider` is redis-py's `Lock` (`SET key token NX PX ttl` to take it, a Lua
compare-and-delete to release it, so only the owner's token deletes the key), polling every
`poll_interval_s` until the wait runs out. Its waiters poll: that is fine here, where the lock
guards a token refresh (one an hour per connection) and is contended only while one runs. The
key lives `lease_s` at a time and its holder renews it every third of that while it runs, up to
the caller's TTL: a holder that is killed (a node's SIGKILL) blocks the others for one lease, not
for the whole TTL (at least 30 s for a refresh), while one that is only slow keeps its lock. Keys
look like `{prefix}lock:{<name>}`, a Cluster hash tag around the name. When Redis fails, locking
degrades to this process's local lock for a while (logged once per interval): callers keep
working, with exclusion only inside the process until Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError, RedisError

from edge.fleet.redis_client import RedisClient
from oauth.errors import LockTimeout
from oauth.memory import MemoryLockProvider

logger = logging.getLogger(__name__)


class LocalLockProvider(MemoryLockProvider):
    """Per-name asyncio locks with a wait timeout: exclusion within one process."""


class RedisLockProvider:
    """`LockProvider` over Redis, shared by every process that uses the same Redis and prefix.

    Each Redis command is bounded by the client's own socket timeout (the app's client has one);
    `op_timeout_s` bounds the release and, beyond the wait and one poll, the taking. After a Redis
    failure the provider uses `fallback` alone for `retry_after_s`.
    """

    def __init__(
        self,
        redis: RedisClient,
        prefix: str,
        *,
        fallback: LocalLockProvider | None = None,
        poll_interval_s: float = 0.05,
        lease_s: float = 5.0,
        op_timeout_s: float = 0.5,
        retry_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._fallback = fallback if fallback is not None else LocalLockProvider()
        self._poll_interval_s = poll_interval_s
        self._lease_s = lease_s
        self._op_timeout_s = op_timeout_s
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._down_until = float("-inf")

    def key(self, name: str) -> str:
        return f"{self._prefix}lock:{{{name}}}"

    @asynccontextmanager
    async def lock(self, name: str, ttl_s: float, wait_s: float) -> AsyncIterator[None]:
        wait_s = max(wait_s, 0.0)
        deadline = self._clock() + wait_s
        lock = Lock(
            self._redis,
            self.key(name),
            timeout=max(min(ttl_s, self._lease_s), 0.001),
            sleep=self._poll_interval_s,
            thread_local=False,  # one event loop: the lock object itself holds the token
        )
        acquired = False
        degraded = self._clock() < self._down_until
        if not degraded:
            try:
                async with asyncio.timeout(wait_s + self._poll_interval_s + self._op_timeout_s):
                    acquired = await lock.acquire(blocking=wait_s > 0, blocking_timeout=wait_s)
            except (RedisError, OSError, TimeoutError) as exc:
                self._redis_failed(exc)
                degraded = True
        if degraded:
            async with self._fallback.lock(name, ttl_s, max(deadline - self._clock(), 0.0)):
                yield
            return
        if not acquired:
            raise LockTimeout(name, wait_s)
        renewing = asyncio.create_task(self._renew(lock, self._clock() + ttl_s))
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await self._release(lock, name, ttl_s)

    async def _renew(self, lock: Lock, until: float) -> None:
        """Extend the key to one more lease every third of a lease, until `until` (the TTL)."""
        while True:
            await asyncio.sleep(self._lease_s / 3)
            left = until - self._clock()
            if left <= 0:
                return  # held past its TTL: the key expires, and the release says so
            try:
                async with asyncio.timeout(self._op_timeout_s):
                    await lock.extend(min(self._lease_s, left), replace_ttl=True)
            except LockNotOwnedError:
                return
            except (RedisError, OSError, TimeoutError):
                continue  # the key still has the rest of its lease; try again

    async def _release(self, lock: Lock, name: str, ttl_s: float) -> None:
        try:
            async with asyncio.timeout(self._op_timeout_s):
                await lock.release()
        except LockNotOwnedError:
            # The key expired (and someone else may hold it now): the body outlived the TTL.
            logger.warning("lock %r was held longer than its %gs TTL and had expired", name, ttl_s)
        except (RedisError, OSError, TimeoutError) as exc:
            # The key expires after its TTL; nothing else to do.
            self._redis_failed(exc)

    def _redis_failed(self, exc: BaseException) -> None:
        now = self._clock()
        if now >= self._down_until:
            logger.warning(
                "Redis lock unavailable (%s: %s); using process-local locks for %.0fs",
                type(exc).__name__,
                exc,
                self._retry_after_s,
            )
        self._down_until = now + self._retry_after_s

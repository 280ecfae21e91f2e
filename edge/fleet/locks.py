"""The lock implementations the edge supplies to oauth/ (and uses itself): local and Redis.

`RedisLockProvider` is a single-instance Redis lock: `SET key token NX PX ttl` to take it, a Lua
compare-and-delete to release it (only the owner's token deletes the key), polling until the
wait runs out. Keys look like `{prefix}lock:{<name>}`, a Cluster hash tag around the name. When
Redis fails, locking degrades to this process's local lock for a while (logged once per
interval): callers keep working, with exclusion only inside the process until Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from oauth.errors import LockTimeout
from oauth.memory import MemoryLockProvider

logger = logging.getLogger(__name__)

_RELEASE = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""


class LocalLockProvider(MemoryLockProvider):
    """Per-name asyncio locks with a wait timeout: exclusion within one process."""


class RedisLockProvider:
    """`LockProvider` over Redis, shared by every process that uses the same Redis and prefix.

    `op_timeout_s` bounds each Redis command (the client's own retries can take seconds);
    after a Redis failure the provider uses `fallback` alone for `retry_after_s`.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        *,
        fallback: LocalLockProvider | None = None,
        poll_interval_s: float = 0.05,
        op_timeout_s: float = 0.5,
        retry_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._fallback = fallback if fallback is not None else LocalLockProvider()
        self._poll_interval_s = poll_interval_s
        self._op_timeout_s = op_timeout_s
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._release_script = redis.register_script(_RELEASE)
        self._down_until = float("-inf")

    def key(self, name: str) -> str:
        return f"{self._prefix}lock:{{{name}}}"

    @asynccontextmanager
    async def lock(self, name: str, ttl_s: float, wait_s: float) -> AsyncIterator[None]:
        deadline = self._clock() + max(wait_s, 0.0)
        key = self.key(name)
        token = secrets.token_hex(16)
        acquired = False
        degraded = self._clock() < self._down_until
        if not degraded:
            try:
                acquired = await self._acquire(key, token, ttl_s, deadline)
            except (RedisError, OSError, TimeoutError) as exc:
                self._redis_failed(exc)
                degraded = True
        if degraded:
            async with self._fallback.lock(name, ttl_s, max(deadline - self._clock(), 0.0)):
                yield
            return
        if not acquired:
            raise LockTimeout(name, wait_s)
        try:
            yield
        finally:
            await self._release(key, token)

    async def _acquire(self, key: str, token: str, ttl_s: float, deadline: float) -> bool:
        ttl_ms = max(int(ttl_s * 1000), 1)
        while True:
            async with asyncio.timeout(self._op_timeout_s):
                if await self._redis.set(key, token, nx=True, px=ttl_ms):
                    return True
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            # Jitter keeps waiters from polling in lockstep.
            pause = self._poll_interval_s * random.uniform(0.5, 1.5)
            await asyncio.sleep(min(pause, remaining))

    async def _release(self, key: str, token: str) -> None:
        try:
            async with asyncio.timeout(self._op_timeout_s):
                await self._release_script(keys=[key], args=[token])
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

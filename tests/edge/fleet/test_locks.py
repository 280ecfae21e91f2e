"""The lock providers: local asyncio locks, and Redis locks shared across clients and processes."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from edge.fleet.locks import LocalLockProvider, RedisLockProvider
from edge.fleet.redis_client import RedisClient
from oauth.errors import LockTimeout, OAuthError
from oauth.storage import LockProvider
from tests.cluster import RedisServer
from tests.waiting import free_port, wait_until_async


async def max_concurrent_holders(providers: list[LockProvider], name: str, tasks: int) -> int:
    """Run `tasks` critical sections over the providers in turn; the most that overlapped."""
    inside = 0
    most = 0

    async def critical(provider: LockProvider) -> None:
        nonlocal inside, most
        async with provider.lock(name, 5.0, 10.0):
            inside += 1
            most = max(most, inside)
            for _ in range(3):
                await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(critical(providers[i % len(providers)]) for i in range(tasks)))
    return most


async def hold(
    provider: LockProvider, name: str, *, ttl_s: float = 5.0
) -> tuple[asyncio.Task[None], asyncio.Event]:
    """A task holding `name` until the returned event is set."""
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with provider.lock(name, ttl_s, 1.0):
            held.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.wait_for(held.wait(), 5)
    return task, release


async def test_local_lock_is_mutually_exclusive() -> None:
    locks = LocalLockProvider()
    assert await max_concurrent_holders([locks], "site-1", 10) == 1


async def test_local_lock_times_out_and_names_are_independent() -> None:
    locks = LocalLockProvider()
    task, release = await hold(locks, "a")
    with pytest.raises(LockTimeout) as caught:
        async with locks.lock("a", 5.0, 0.05):
            pass
    assert isinstance(caught.value, OAuthError)
    assert caught.value.code == "lock_timeout"
    async with locks.lock("b", 5.0, 0.0):
        pass
    waiter = asyncio.create_task(_enter(locks, "a", wait_s=5.0))
    release.set()
    await task
    await asyncio.wait_for(waiter, 5)


async def _enter(provider: LockProvider, name: str, *, wait_s: float, ttl_s: float = 5.0) -> None:
    async with provider.lock(name, ttl_s, wait_s):
        pass


@pytest.fixture
async def clients(redis_server: RedisServer) -> AsyncIterator[tuple[RedisClient, RedisClient]]:
    first = redis_server.client()
    second = redis_server.client()
    try:
        yield first, second
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.redis
async def test_redis_lock_excludes_across_clients(
    clients: tuple[RedisClient, RedisClient], redis_prefix: str
) -> None:
    one = RedisLockProvider(clients[0], redis_prefix)
    two = RedisLockProvider(clients[1], redis_prefix)
    key = one.key("oauth-refresh:site_1")
    assert key == f"{redis_prefix}lock:{{oauth-refresh:site_1}}"

    async with one.lock("oauth-refresh:site_1", 5.0, 1.0):
        assert 0 < await clients[1].pttl(key) <= 5000
        with pytest.raises(LockTimeout):
            async with two.lock("oauth-refresh:site_1", 5.0, 0.1):
                pass
    assert await clients[0].exists(key) == 0
    async with two.lock("oauth-refresh:site_1", 5.0, 0.0):
        pass
    assert await max_concurrent_holders([one, two], "busy", 12) == 1


@pytest.mark.redis
async def test_a_dead_holder_releases_after_its_ttl(
    clients: tuple[RedisClient, RedisClient], redis_prefix: str
) -> None:
    locks = RedisLockProvider(clients[0], redis_prefix)
    key = locks.key("site")
    # A process took the lock and died: nobody will ever release it.
    await clients[1].set(key, "token-of-a-dead-process", px=200)
    with pytest.raises(LockTimeout):
        async with locks.lock("site", 5.0, 0.0):
            pass
    async with locks.lock("site", 5.0, 5.0):
        assert await clients[1].get(key) not in (None, b"token-of-a-dead-process")


@pytest.mark.redis
async def test_only_the_owner_releases(clients: tuple[RedisClient, RedisClient], redis_prefix: str) -> None:
    one = RedisLockProvider(clients[0], redis_prefix)
    two = RedisLockProvider(clients[1], redis_prefix)
    key = one.key("site")
    async with AsyncExitStack() as stack:
        async with one.lock("site", 0.2, 1.0):
            # `one` overran its TTL; `two` takes the lock meanwhile.

            async def expired() -> bool:
                return await clients[0].exists(key) == 0

            await wait_until_async(expired, timeout=5, what="the first holder's TTL")
            await stack.enter_async_context(two.lock("site", 5.0, 0.0))
            owner = await clients[0].get(key)
        # `one` released on the way out, but that must not delete `two`'s lock.
        assert await clients[0].get(key) == owner
        with pytest.raises(LockTimeout):
            async with one.lock("site", 5.0, 0.0):
                pass
    assert await clients[0].exists(key) == 0


@pytest.mark.redis
async def test_the_body_raising_still_releases(
    clients: tuple[RedisClient, RedisClient], redis_prefix: str
) -> None:
    locks = RedisLockProvider(clients[0], redis_prefix)
    with pytest.raises(RuntimeError):
        async with locks.lock("site", 5.0, 0.0):
            raise RuntimeError("boom")
    assert await clients[0].exists(locks.key("site")) == 0


async def test_unreachable_redis_degrades_to_the_local_lock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    try:
        locks = RedisLockProvider(dead, "kxtest:", op_timeout_s=0.3, retry_after_s=60)
        with caplog.at_level(logging.WARNING, logger="edge.fleet.locks"):
            async with locks.lock("site", 5.0, 1.0):
                # Still exclusive within the process.
                with pytest.raises(LockTimeout):
                    async with locks.lock("site", 5.0, 0.05):
                        pass
            assert await max_concurrent_holders([locks], "site", 6) == 1
        warnings = [r for r in caplog.records if r.name == "edge.fleet.locks"]
        assert len(warnings) == 1  # logged once per interval, not once per lock
        assert "process-local" in warnings[0].getMessage()
    finally:
        await dead.aclose()


class FlakyRedis(aioredis.Redis):
    """A real Redis client whose SET fails while `down` is true."""

    down = True

    async def set(self, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            raise RedisConnectionError("Redis is restarting")
        return await super().set(*args, **kwargs)


@pytest.mark.redis
async def test_redis_is_tried_again_after_the_retry_interval(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    flaky = FlakyRedis.from_url(redis_url)
    assert isinstance(flaky, FlakyRedis)
    try:
        locks = RedisLockProvider(flaky, redis_prefix, retry_after_s=5, clock=lambda: now[0])
        key = locks.key("site")
        with caplog.at_level(logging.WARNING, logger="edge.fleet.locks"):
            async with locks.lock("site", 5.0, 1.0):
                pass
            flaky.down = False
            now[0] += 4  # still inside the interval: local only, Redis untouched
            async with locks.lock("site", 5.0, 1.0):
                assert await flaky.exists(key) == 0
            now[0] += 1
            async with locks.lock("site", 5.0, 1.0):
                assert await flaky.exists(key) == 1
        assert len([r for r in caplog.records if r.name == "edge.fleet.locks"]) == 1
    finally:
        await flaky.aclose()


@pytest.mark.redis
async def test_a_body_that_outlives_its_ttl_is_reported_and_deletes_nothing(
    clients: tuple[RedisClient, RedisClient], redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    locks = RedisLockProvider(clients[0], redis_prefix)
    key = locks.key("site")
    with caplog.at_level(logging.WARNING, logger="edge.fleet.locks"):
        async with locks.lock("site", 0.1, 1.0):

            async def expired() -> bool:
                return await clients[0].exists(key) == 0

            await wait_until_async(expired, timeout=5, what="the TTL")
            await clients[1].set(key, "the next holder", px=5000)
    assert await clients[0].get(key) == b"the next holder"
    warnings = [r.getMessage() for r in caplog.records if r.name == "edge.fleet.locks"]
    assert warnings == ["lock 'site' was held longer than its 0.1s TTL and had expired"]
    # Not a Redis failure: the next lock still goes through Redis.
    await clients[0].delete(key)
    async with locks.lock("site", 5.0, 0.0):
        assert await clients[1].exists(key) == 1


ROOT = Path(__file__).resolve().parents[3]
_HOLDER = """
import asyncio, sys
from edge.fleet.locks import RedisLockProvider
from tests.cluster import RedisServer

async def main() -> None:
    client = RedisServer(sys.argv[1], cluster=sys.argv[2] == "cluster").client()
    locks = RedisLockProvider(client, sys.argv[3], lease_s=0.5)
    async with locks.lock("site", 30.0, 1.0):
        print("held", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.mark.redis
async def test_a_killed_holder_blocks_the_others_for_a_lease_not_its_ttl(
    redis_server: RedisServer, clients: tuple[RedisClient, RedisClient], redis_prefix: str
) -> None:
    """A node killed while it holds a 30 s lock: the others get it once its 0.5 s lease runs out.
    While it lived, it kept the lock past several leases."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLDER, redis_server.url, redis_server.name, redis_prefix,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"held\n"
        locks = RedisLockProvider(clients[0], redis_prefix, lease_s=0.5)
        with pytest.raises(LockTimeout):  # three leases long: renewed meanwhile
            async with locks.lock("site", 30.0, 1.5):
                pass
        holder.kill()
        await asyncio.wait_for(holder.wait(), 10)
        async with locks.lock("site", 30.0, 5.0):  # without leases: held for 30 s more
            assert await clients[1].pttl(locks.key("site")) <= 500
    finally:
        if holder.returncode is None:
            holder.kill()
            await asyncio.wait_for(holder.wait(), 10)

"""The resolver with a real Redis: L2 values and TTLs, the fleet-wide lock and budget, and Redis
going away and coming back."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
from collections.abc import Iterator

import httpx
import msgspec
import pytest
import redis.asyncio as aioredis
import respx

from edge.fleet.redis_client import RedisClient
from edge.resolver import Identified, Pending, PendingReason, Source, Unidentified, WaitedFor
from edge.resolver.keys import profile_id, segments
from klaviyo import Tier
from tests.edge.resolver.conftest import (
    CONN,
    FOUR,
    KX,
    PROFILE_SEGMENTS,
    SEGMENT_MEMBERS,
    MakeResolver,
    ManualClock,
    ids,
)
from tests.waiting import free_port, port_answers, wait_until, wait_until_async

pytestmark = pytest.mark.redis
DAY_MS = 86_400_000


def seg_key(prefix: str, kx: str = KX) -> str:
    return segments(prefix, CONN.account_id, CONN.generation, kx)


async def stored(client: RedisClient, key: str) -> object:
    raw = await client.get(key)
    assert isinstance(raw, bytes)
    return msgspec.json.decode(raw)


async def test_l2_values_and_ttls(
    klaviyo: respx.MockRouter,
    make_resolver: MakeResolver,
    redis_client: RedisClient,
    redis_prefix: str,
) -> None:
    klaviyo.get("/api/profiles").mock(side_effect=[ids("profile", "P1"), ids("profile")])
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S3", "S1"))
    resolver = make_resolver(redis=redis_client, prefix=redis_prefix)
    assert isinstance(await resolver.resolve(CONN, KX, FOUR), Identified)

    assert seg_key(redis_prefix).startswith(f"{redis_prefix}seg:{{ACCT1}}:1:")
    assert await stored(redis_client, seg_key(redis_prefix)) == [1, ["S1", "S3"], None]
    assert DAY_MS - 5000 < await redis_client.pttl(seg_key(redis_prefix)) <= DAY_MS
    pid_key = profile_id(redis_prefix, CONN.account_id, CONN.generation, KX)
    assert await redis_client.get(pid_key) == b"P1"
    assert 30 * DAY_MS - 5000 < await redis_client.pttl(pid_key) <= 30 * DAY_MS
    assert await redis_client.keys(f"{redis_prefix}lock:*") == []

    unknown = "UNKNOWNVISITOR==.x"
    assert isinstance(await resolver.resolve(CONN, unknown, FOUR), Unidentified)
    assert await stored(redis_client, seg_key(redis_prefix, unknown)) == [0, [], None]
    assert 3_595_000 < await redis_client.pttl(seg_key(redis_prefix, unknown)) <= 3_600_000


async def test_an_l2_hit_fills_l1_with_the_remaining_ttl(
    klaviyo: respx.MockRouter,
    make_resolver: MakeResolver,
    redis_client: RedisClient,
    redis_prefix: str,
    clock: ManualClock,
) -> None:
    await redis_client.set(seg_key(redis_prefix), b'[1,["S1"],null]', px=100_000)
    resolver = make_resolver(redis=redis_client, prefix=redis_prefix)
    first = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(first, Identified) and first.segment_ids == {"S1"}
    assert first.info.source is Source.L2
    hit = await resolver.resolve(CONN, KX, FOUR)
    assert hit.info.source is Source.L1
    assert hit.info.cache_age_s is not None and 86_299 <= hit.info.cache_age_s <= 86_301
    clock.now += 100.5  # past the remaining TTL: L1 forgets it (a fresh 24 h would not)
    assert (await resolver.resolve(CONN, KX, FOUR)).info.source is Source.L2


async def test_another_process_reads_l2_without_calling_klaviyo(
    klaviyo: respx.MockRouter,
    make_resolver: MakeResolver,
    redis_client: RedisClient,
    redis_prefix: str,
) -> None:
    profiles = klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1"))
    first = make_resolver(redis=redis_client, prefix=redis_prefix)
    second = make_resolver(redis=redis_client, prefix=redis_prefix)
    await first.resolve(CONN, KX, FOUR)
    result = await second.resolve(CONN, KX, FOUR)
    assert isinstance(result, Identified) and result.info.source is Source.L2
    assert profiles.call_count == 1


async def test_the_lock_makes_others_wait_for_the_l2_value(
    klaviyo: respx.MockRouter,
    make_resolver: MakeResolver,
    redis_client: RedisClient,
    redis_prefix: str,
) -> None:
    called, release = asyncio.Event(), asyncio.Event()

    async def slow_profile(request: httpx.Request) -> httpx.Response:
        called.set()
        await release.wait()
        return ids("profile", "P1")

    profiles = klaviyo.get("/api/profiles").mock(side_effect=slow_profile)
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1"))
    holder = make_resolver(redis=redis_client, prefix=redis_prefix)
    waiter = make_resolver(redis=redis_client, prefix=redis_prefix)
    first = asyncio.create_task(holder.resolve(CONN, KX, FOUR, deadline_s=5))
    await asyncio.wait_for(called.wait(), timeout=5)
    second = asyncio.create_task(waiter.resolve(CONN, KX, FOUR, deadline_s=5))
    await wait_until_async(
        lambda: _true_when(waiter.metrics.counters["lock_wait"] == 1), what="the waiter to wait"
    )
    release.set()
    held, waited = await asyncio.gather(first, second)
    assert isinstance(held, Identified) and held.info.source is Source.KLAVIYO
    assert isinstance(waited, Identified) and waited.segment_ids == {"S1"}
    assert waited.info.source is Source.L2 and waited.info.waited_for is WaitedFor.LOCK
    assert waited.info.klaviyo_calls == {}
    assert profiles.call_count == 1


async def _true_when(condition: bool) -> bool:
    return condition


async def test_the_budget_and_retry_after_are_shared_fleet_wide(
    make_resolver: MakeResolver, redis_client: RedisClient, redis_prefix: str
) -> None:
    one = make_resolver(redis=redis_client, prefix=redis_prefix)
    two = make_resolver(redis=redis_client, prefix=redis_prefix)
    assert await one.gate.take("ACCT1", Tier.PROFILE_SEGMENTS) is None
    assert await two.gate.take("ACCT1", Tier.PROFILE_SEGMENTS) is None
    refused = await two.gate.take("ACCT1", Tier.PROFILE_SEGMENTS)  # 2 a second, fleet-wide
    assert refused is not None and not refused.throttled and 0 < refused.retry_after_s <= 1
    assert await one.gate.take("ACCT2", Tier.PROFILE_SEGMENTS) is None  # per account

    await one.gate.block("ACCT3", 30)
    blocked = await two.gate.take("ACCT3", Tier.PROFILES)
    assert blocked is not None and blocked.throttled and 29 < blocked.retry_after_s <= 30


async def test_a_refused_filter_is_remembered_fleet_wide(
    klaviyo: respx.MockRouter,
    make_resolver: MakeResolver,
    redis_client: RedisClient,
    redis_prefix: str,
) -> None:
    klaviyo.get("/api/profiles").mock(side_effect=[ids("profile", "P1"), ids("profile", "P1")])
    refused = klaviyo.get(path__regex=SEGMENT_MEMBERS).mock(return_value=httpx.Response(400))
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1"))
    one = make_resolver(redis=redis_client, prefix=redis_prefix)
    two = make_resolver(redis=redis_client, prefix=redis_prefix)
    assert isinstance(await one.resolve(CONN, KX, frozenset({"S1"})), Identified)
    other = await two.resolve(CONN, "ANOTHERVISITOR==.y", frozenset({"S1"}))
    assert isinstance(other, Identified) and other.info.klaviyo_calls == {
        "profiles": 1,
        "profile_segments": 1,
    }
    assert refused.call_count == 1


async def test_a_budget_refusal_in_redis_mode_is_pending_and_queued(
    klaviyo: respx.MockRouter,
    make_resolver: MakeResolver,
    redis_client: RedisClient,
    redis_prefix: str,
) -> None:
    resolver = make_resolver(redis=redis_client, prefix=redis_prefix)
    await resolver.gate.block(CONN.account_id, 30)
    result = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(result, Pending) and result.reason is PendingReason.RATE_LIMITED
    assert resolver.queued == 1
    assert await redis_client.exists(seg_key(redis_prefix)) == 0


class ThrowawayRedis:
    """A redis-server this test owns, to stop and start again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(lambda: port_answers(self.port), what="redis-server to listen")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


@pytest.fixture
def throwaway_redis(redis_url: str) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()


async def test_redis_goes_away_and_comes_back(
    klaviyo: respx.MockRouter,
    make_resolver: MakeResolver,
    throwaway_redis: ThrowawayRedis,
    redis_prefix: str,
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1"))
    client = aioredis.Redis(
        host="127.0.0.1", port=throwaway_redis.port, socket_timeout=0.5, socket_connect_timeout=0.5
    )
    try:
        resolver = make_resolver(
            redis=client,
            prefix=redis_prefix,
            redis_retry_interval_s=0.05,
            redis_timeout_s=0.3,
            redis_down_after_s=0.5,
        )
        assert isinstance(await resolver.resolve(CONN, KX, FOUR), Identified)
        assert await client.exists(seg_key(redis_prefix)) == 1

        throwaway_redis.stop()

        async def served_without_redis() -> bool:
            # While the client's own retries hang, a timeout only means "busy" (pending), until
            # no command has succeeded for redis_down_after_s: then Redis is down and skipped.
            during = await resolver.resolve(CONN, "DURINGOUTAGE==.x", FOUR, deadline_s=2)
            if isinstance(during, Pending):
                assert during.reason is PendingReason.OVERLOADED
                return False
            assert isinstance(during, Identified) and during.info.source is Source.KLAVIYO
            return True

        await wait_until_async(served_without_redis, what="the resolver to go on without Redis")
        assert resolver.metrics.counters["redis_error"] >= 1
        assert (await resolver.resolve(CONN, KX, FOUR)).info.source is Source.L1

        throwaway_redis.start()
        fresh = (f"AFTEROUTAGE{n:04d}==.x" for n in itertools.count())

        async def written_to_redis_again() -> bool:
            kx = next(fresh)
            result = await resolver.resolve(CONN, kx, FOUR, deadline_s=2)
            if isinstance(result, Pending):  # polling spends the 2/s budget: that is fine
                return False
            return bool(await client.exists(seg_key(redis_prefix, kx)))

        await wait_until_async(written_to_redis_again, what="the resolver to use Redis again")
        assert await client.keys(f"{redis_prefix}rl:*")  # and the fleet budget too
    finally:
        await client.aclose()

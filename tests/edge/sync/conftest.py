"""Fixtures for the segment sync: the fake Klaviyo on a real socket (real rate limits), a wall
clock the tests move, and a factory for a started resolver + sync pair, in-process or on Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from edge.fleet.redis_client import RedisClient
from edge.resolver import Resolver, ResolverConfig
from edge.sync import SegmentSync, SyncConfig
from klaviyo import ConnectionRef
from sandbox import SandboxState, running_fake_klaviyo
from tests.cluster import RedisServer
from tests.waiting import wait_until_async

ACCOUNT = "ACCSYNC"
CLIENT_ID = "kx-edge-sync-test"
SEG_A = "SegAAA"  # 250 members: three pages
SEG_B = "SegBBB"  # 30 members
CONN = ConnectionRef("site-1", ACCOUNT, 1)
T0 = 1_900_000_020.0  # the sync's wall clock at the start of every test
MEMBERS_ROUTE = "/api/segments/{id}/relationships/profiles"


class WallClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def kx_of(i: int) -> str:
    return f"SYNCVISITOR{i:05d}==.abc"


class StaticTokens:
    def __init__(self, token: str) -> None:
        self.token = token

    async def access_token(self, site_id: str) -> str:
        return self.token

    async def refresh_after_unauthorized(self, site_id: str, rejected: str) -> str:
        return self.token


@dataclass
class Sandbox:
    state: SandboxState
    url: str
    token: str
    profiles: list[str]  # profile id of visitor i (kx_of(i)); 0-249 in SEG_A, 250-279 in SEG_B, 280+ in none

    def members_calls(self) -> int:
        return self.state.calls.count(MEMBERS_ROUTE)


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    state = SandboxState()
    state.add_account("Sync Outfitters", account_id=ACCOUNT)
    state.add_client(CLIENT_ID, "secret", ["http://127.0.0.1/cb"], account_id=ACCOUNT)
    state.add_segment(ACCOUNT, "VIP", segment_id=SEG_A)
    state.add_segment(ACCOUNT, "Wholesale", segment_id=SEG_B)
    profiles = [state.add_profile(ACCOUNT, kx=kx_of(i)).id for i in range(300)]
    state.add_members(SEG_A, {pid: T0 - 86400 + i for i, pid in enumerate(profiles[:250])})
    state.add_members(SEG_B, {pid: T0 - 3600 + i for i, pid in enumerate(profiles[250:280])})
    token = state.issue_tokens(CLIENT_ID, ACCOUNT, ["profiles:read", "segments:read"]).access_token
    with running_fake_klaviyo(state) as url:
        yield Sandbox(state, url, token, profiles)


@pytest.fixture(
    params=[
        "local",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.redis),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """Where the index lives (in process, one Redis, a Redis Cluster); with Redis, its prefix is
    set up before (and torn down after) the syncs that use it."""
    if request.param == "redis":
        request.getfixturevalue("redis_prefix")
    if request.param == "cluster":
        request.getfixturevalue("redis_cluster_url")
        prefix = request.getfixturevalue("redis_prefix")
        server = RedisServer(request.getfixturevalue("redis_cluster_url"), cluster=True)
        request.addfinalizer(lambda: server.delete_prefix(prefix))
    return str(request.param)


SYNC_DEFAULTS: dict[str, Any] = {
    "tick_s": 0.02,
    "lease_ttl_s": 1.0,
    "retry_base_s": 1.0,
    "page_retry_base_s": 0.01,
}


@dataclass
class Pair:
    resolver: Resolver
    sync: SegmentSync
    redis: RedisClient | None
    prefix: str

    async def status(self, segment_id: str) -> dict[str, Any]:
        return (await self.sync.status(ACCOUNT, [segment_id]))[0]

    async def wait_status(self, segment_id: str, what: str, check: Callable[[dict[str, Any]], bool]) -> None:
        async def done() -> bool:
            return check(await self.status(segment_id))

        self.sync.poke()
        await wait_until_async(done, timeout=15, what=what)


MakePair = Callable[..., Awaitable[Pair]]


@pytest.fixture
async def make_pair(
    sandbox: Sandbox, wall: WallClock, backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[MakePair]:
    """`await make_pair(resolver={...config}, **sync_config)`: a started resolver and sync sharing
    one budget, on the test's `backend` (Redis: every pair of a test shares one prefix)."""
    made: list[Pair] = []
    clients: list[RedisClient] = []
    http = httpx.AsyncClient()

    async def make(*, resolver: dict[str, Any] | None = None, **config: Any) -> Pair:
        redis: RedisClient | None = None
        prefix = "kxe:"
        if backend in {"redis", "cluster"}:
            url = request.getfixturevalue("redis_url" if backend == "redis" else "redis_cluster_url")
            redis = RedisServer(url, cluster=backend == "cluster").client()
            clients.append(redis)
            prefix = request.getfixturevalue("redis_prefix")
        tokens = StaticTokens(sandbox.token)
        options: dict[str, Any] = {"api_base": sandbox.url, "backoff_base_s": 0.001}
        options.update(resolver or {})
        res = Resolver(http, tokens, config=ResolverConfig(**options), redis=redis, prefix=prefix)
        sync = SegmentSync(
            http,
            tokens,
            config=SyncConfig(**{**SYNC_DEFAULTS, **config}),
            redis=redis,
            prefix=prefix,
            api_base=sandbox.url,
            clock=wall,
        )
        res.index = sync.index
        sync.share_budget(res.gate)
        await res.start()
        await sync.start()
        pair = Pair(res, sync, redis, prefix)
        made.append(pair)
        return pair

    yield make
    for pair in made:
        await pair.sync.aclose()
        await pair.resolver.aclose()
    for client in clients:
        await client.aclose()
    await http.aclose()


def fresh(status: dict[str, Any]) -> bool:
    return status["state"] == "fresh" and status["in_progress"] is None

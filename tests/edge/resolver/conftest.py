"""Fixtures for resolver tests: respx at the Klaviyo boundary, a manual clock, a resolver factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from edge.fleet.redis_client import RedisClient
from edge.resolver import Resolver, ResolverConfig
from klaviyo import ConnectionRef
from tests.cluster import RedisServer
from tests.klaviyo.conftest import API, FakeTokens, http, ids, klaviyo, tokens

__all__ = ["API", "FakeTokens", "http", "ids", "klaviyo", "tokens"]

CONN = ConnectionRef("site1", "ACCT1", 1)
KX = "ABCDEFGHIJKLMNOP==.UHFmv9"
PROFILE_SEGMENTS = "/api/profiles/P1/relationships/segments"
SEGMENT_MEMBERS = r"/api/segments/(?P<segment_id>[^/]+)/relationships/profiles"
FOUR = frozenset({"S1", "S2", "S3", "S4"})  # more than 3 targeted: the profile path


class ManualClock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


MakeResolver = Callable[..., Resolver]


@pytest.fixture
async def make_resolver(
    http: httpx.AsyncClient, tokens: FakeTokens, clock: ManualClock
) -> AsyncIterator[MakeResolver]:
    """`make_resolver(redis=..., prefix=..., **config)`: a started resolver, closed afterwards."""
    made: list[Resolver] = []

    def make(*, redis: RedisClient | None = None, prefix: str = "kxe:", **config: Any) -> Resolver:
        options: dict[str, Any] = {"api_base": API, "backoff_base_s": 0.001}
        options.update(config)
        resolver = Resolver(
            http, tokens, config=ResolverConfig(**options), redis=redis, prefix=prefix, clock=clock
        )
        made.append(resolver)
        return resolver

    yield make
    for resolver in made:
        await resolver.aclose()


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[RedisClient]:
    """A client of each kind of Redis in turn: one server, then a cluster. Connected before the
    test: a cold cluster client's first command maps the slots and connects to every node, which
    on a loaded machine can outlast the guard's 250 ms (a busy answer that is not what these tests
    are about)."""
    client = redis_server.client()
    await client.ping()
    yield client
    await client.aclose()

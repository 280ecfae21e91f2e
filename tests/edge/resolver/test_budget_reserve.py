"""The fleet-wide budget with a reserve: background work (the segment sync) shares the windows
with visitors but stops at (1 - reserve) of them, and its refusals never make visitors wait."""

from __future__ import annotations

import pytest

from edge.fleet.redis_client import RedisClient
from edge.resolver.budget import FleetRateGate
from edge.resolver.metrics import ResolverMetrics
from edge.resolver.redis_guard import RedisGuard
from klaviyo import LocalRateGate, Tier, TierLimit

pytestmark = pytest.mark.redis


async def test_background_calls_stop_at_the_reserve_visitors_do_not(
    redis_client: RedisClient, redis_prefix: str
) -> None:
    limits = {tier: TierLimit(10, 100) for tier in Tier}
    gate = FleetRateGate(RedisGuard(redis_client, ResolverMetrics()), redis_prefix, limits, LocalRateGate())
    admitted = 0
    while await gate.take("A", Tier.SEGMENT_MEMBERS, reserve=0.3) is None:
        admitted += 1
    assert admitted == 7
    assert gate.peek("A", Tier.SEGMENT_MEMBERS, reserve=0.3) is not None  # remembered for the sync
    assert gate.peek("A", Tier.SEGMENT_MEMBERS) is None  # but not for visitors
    for _ in range(3):
        assert await gate.take("A", Tier.SEGMENT_MEMBERS) is None
    refused = await gate.take("A", Tier.SEGMENT_MEMBERS)
    assert refused is not None and 0 < refused.retry_after_s <= 1
    assert await gate.take("A", Tier.PROFILES) is None  # other tiers are separate

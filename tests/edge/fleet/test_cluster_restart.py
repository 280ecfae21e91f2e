"""A Redis Cluster node restarted under the resolver: while the node that holds the account's
slot is down the resolver goes on from Klaviyo and its in-process cache (as in a Redis outage),
and once the node is back it uses the cluster again by itself, with no restart of ours."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator

import pytest
import respx

from edge.fleet.redis_client import RedisClient
from edge.resolver import Identified, Pending, PendingReason, Source
from tests.cluster import ClusterNode, RedisServer, cluster_node_for_key
from tests.edge.resolver.conftest import (
    CONN,
    FOUR,
    KX,
    PROFILE_SEGMENTS,
    MakeResolver,
    ManualClock,
    http,
    ids,
    klaviyo,
    make_resolver,
    tokens,
)
from tests.edge.resolver.test_redis import seg_key
from tests.waiting import wait_until_async

pytestmark = [pytest.mark.redis, pytest.mark.slow]
__all__ = ["http", "klaviyo", "make_resolver", "tokens"]  # the resolver tests' fixtures


class RealClock(ManualClock):
    """This test waits in real time for a node to go and come back: a budget refusal the resolver
    remembers must run out in real time too (on a frozen clock it never would)."""

    def __call__(self) -> float:
        return time.monotonic()


@pytest.fixture
def clock() -> ManualClock:
    return RealClock()


@pytest.fixture
def cluster(redis_cluster_url: str, redis_prefix: str) -> RedisServer:
    return RedisServer(redis_cluster_url, cluster=True)


@pytest.fixture
async def cluster_client(cluster: RedisServer, redis_prefix: str) -> AsyncIterator[RedisClient]:
    # The app's own options (edge.fleet.redis_client): short timeouts, a node may be missing.
    client = cluster.client(socket_timeout=0.5, socket_connect_timeout=0.5, require_full_coverage=False)
    yield client
    await client.aclose()
    cluster.delete_prefix(redis_prefix)


@pytest.fixture
def account_node(cluster: RedisServer, redis_prefix: str) -> ClusterNode:
    return cluster_node_for_key(cluster, seg_key(redis_prefix))


async def test_a_cluster_node_restart_degrades_and_recovers(
    klaviyo: respx.MockRouter,
    make_resolver: MakeResolver,
    cluster_client: RedisClient,
    account_node: ClusterNode,
    redis_prefix: str,
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1"))
    resolver = make_resolver(
        redis=cluster_client,
        prefix=redis_prefix,
        redis_retry_interval_s=0.05,
        redis_timeout_s=0.3,
        redis_down_after_s=0.5,
    )
    assert isinstance(await resolver.resolve(CONN, KX, FOUR), Identified)
    assert await cluster_client.exists(seg_key(redis_prefix)) == 1

    account_node.stop()
    try:

        async def served_without_redis() -> bool:
            during = await resolver.resolve(CONN, "DURINGOUTAGE==.x", FOUR, deadline_s=2)
            if isinstance(during, Pending):  # "busy" until nothing has succeeded for a while
                assert during.reason is PendingReason.OVERLOADED
                return False
            assert isinstance(during, Identified) and during.info.source is Source.KLAVIYO
            return True

        await wait_until_async(
            served_without_redis, timeout=20, what="the resolver to go on without the node"
        )
        assert resolver.metrics.counters["redis_error"] >= 1
        assert (await resolver.resolve(CONN, KX, FOUR)).info.source is Source.L1
    finally:
        account_node.start()  # the shared cluster is whole again whatever happened

    fresh = (f"AFTEROUTAGE{n:04d}==.x" for n in itertools.count())
    asking = [next(fresh)]

    async def written_to_redis_again() -> bool:
        # One visitor at a time: a pending one is asked again (its resolution is queued for the
        # budget), a new one only once it is resolved, so the polling never floods the queue
        # that the budget drains.
        kx = asking[0]
        result = await resolver.resolve(CONN, kx, FOUR, deadline_s=2)
        if isinstance(result, Pending):
            return False
        asking[0] = next(fresh)  # resolved, maybe while the node was still settling: try another
        try:
            return bool(await cluster_client.exists(seg_key(redis_prefix, kx)))
        except Exception:  # the cluster is still settling: not yet
            return False

    await wait_until_async(written_to_redis_again, timeout=30, what="the resolver to use the cluster again")

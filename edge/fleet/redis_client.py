"""The app's Redis client, built from the settings: one Redis, or a Redis Cluster.

With `redis_cluster = true`, `redis_url` is a seed node and redis-py's cluster client
(`redis.asyncio.cluster.RedisCluster`) finds the others, routes each command to the node that
owns its key's hash slot and follows the cluster when slots move or a node fails over. Every key
the edge writes carries a hash tag (`{account}`, `{name}` of a lock, `{kxe-events}`), so each
script, transaction-free pipeline and multi-key command stays within one slot.
"""

from __future__ import annotations

from typing import TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from edge.settings import Settings

# What every Redis user of the edge is handed: the commands they use exist on both.
RedisClient: TypeAlias = aioredis.Redis | RedisCluster


def connect_redis(settings: Settings) -> RedisClient | None:
    """A client that connects lazily (start-up never waits for Redis) over bounded connections:
    when every connection is busy a caller waits briefly (one Redis) or is refused at once (a
    cluster node) and then degrades, instead of unbounded growth. None when no Redis is
    configured."""
    if settings.redis_url is None:
        return None
    if settings.redis_cluster:
        return RedisCluster.from_url(
            settings.redis_url,
            max_connections=64,  # per node
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            health_check_interval=10,
            # A node that is down fails only the commands for its slots, not every command.
            require_full_coverage=False,
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=64,
        timeout=0.2,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=10,
    )
    return aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes its connections

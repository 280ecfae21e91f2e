"""The app's Redis client, built from the settings."""

from __future__ import annotations

import redis.asyncio as aioredis

from edge.settings import Settings


def connect_redis(settings: Settings) -> aioredis.Redis | None:
    """A client that connects lazily (start-up never waits for Redis) over a bounded pool: when
    every connection is busy a caller waits briefly and then degrades, instead of the default
    pool's unbounded growth or instant failure. None when no Redis is configured."""
    if settings.redis_url is None:
        return None
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=64,
        timeout=0.2,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=10,
    )
    return aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes its connections

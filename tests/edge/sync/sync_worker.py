"""One "worker of the fleet" for the lease hand-over test: a segment sync on a shared Redis.

    python -m tests.edge.sync.sync_worker API_BASE REDIS_URL PREFIX TOKEN

Syncs segment SegAAA of account ACCSYNC (incremental passes every 0.2 s, lease TTL 1 s). Prints
`ready <token>` once started, then `holder` or `standby` whenever that changes, until killed.
"""

from __future__ import annotations

import asyncio
import sys

import httpx

from edge.resolver import Resolver, ResolverConfig
from edge.sync import SegmentSync, SyncConfig
from klaviyo import ConnectionRef
from tests.cluster import RedisServer
from tests.edge.sync.conftest import ACCOUNT, SEG_A, StaticTokens

CONFIG = SyncConfig(tick_s=0.05, lease_ttl_s=1.0, incremental_interval_s=0.2, page_retry_base_s=0.01)


async def main(api_base: str, redis_url: str, prefix: str, token: str, cluster: str = "single") -> None:
    redis = RedisServer(redis_url, cluster=cluster == "cluster").client()
    async with httpx.AsyncClient() as http:
        tokens = StaticTokens(token)
        resolver = Resolver(
            http, tokens, config=ResolverConfig(api_base=api_base), redis=redis, prefix=prefix
        )
        sync = SegmentSync(http, tokens, config=CONFIG, redis=redis, prefix=prefix, api_base=api_base)
        resolver.index = sync.index
        sync.share_budget(resolver.gate)
        await redis.ping()
        await sync.start()
        sync.set_site_targets("site-1", ConnectionRef("site-1", ACCOUNT, 1), {SEG_A})
        print("ready", flush=True)
        holding: bool | None = None
        while True:
            now = sync.holds(ACCOUNT)
            if now != holding:
                holding = now
                print("holder" if now else "standby", flush=True)
            await asyncio.sleep(0.02)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))

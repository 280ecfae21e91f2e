"""One "process of the fleet" for the cross-process test: a resolver on a shared Redis.

    python -m tests.edge.resolver.worker_process API_BASE REDIS_URL PREFIX KX

Prints `ready`, waits for a line on stdin, resolves KX once and prints the result as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx

from edge.resolver import Identified, Resolver, ResolverConfig
from klaviyo import ConnectionRef
from tests.cluster import RedisServer

CONN = ConnectionRef("site1", "ACCT1", 1)
TARGETED = frozenset({"S1", "S2", "S3", "S4"})


class StaticTokens:
    async def access_token(self, site_id: str) -> str:
        return "token"

    async def refresh_after_unauthorized(self, site_id: str, rejected: str) -> str:
        return "token"


async def main(api_base: str, redis_url: str, prefix: str, kx: str, cluster: str = "single") -> None:
    redis = RedisServer(redis_url, cluster=cluster == "cluster").client()
    async with httpx.AsyncClient() as http:
        resolver = Resolver(
            http, StaticTokens(), config=ResolverConfig(api_base=api_base), redis=redis, prefix=prefix
        )
        await resolver.start()
        await redis.ping()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        result = await resolver.resolve(CONN, kx, TARGETED, deadline_s=10)
        await resolver.aclose()
    await redis.aclose()
    print(
        json.dumps(
            {
                "type": type(result).__name__,
                "segments": sorted(result.segment_ids) if isinstance(result, Identified) else None,
                "source": result.info.source,
                "waited_for": result.info.waited_for,
                "calls": dict(result.info.klaviyo_calls),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))

"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge.services import Services, services
from edge.web.http import json_response


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the store answers and, where Redis is configured, Redis answers too."""
    checks = await check(services(request))
    ready = all(value == "ok" for value in checks.values())
    return json_response({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


async def check(svc: Services) -> dict[str, str]:
    """Each check, "ok" or "failing": the store and, where configured, Redis (also read by /metrics)."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(1.0):
            checks["store"] = "ok" if await svc.store.ping() else "failing"
    except Exception:
        checks["store"] = "failing"
    if svc.redis is not None:
        try:
            async with asyncio.timeout(0.5):
                checks["redis"] = "ok" if await svc.redis.ping() else "failing"
        except Exception:
            checks["redis"] = "failing"
    return checks


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]

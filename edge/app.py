"""The ASGI application: routes of the three surfaces, the lifespan that owns shared objects."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from edge.errors import exception_handlers
from edge.middleware import RequestContextMiddleware
from edge.routes import health, sites
from edge.services import Services
from edge.settings import Settings
from edge.store import SqliteStore, Store
from oauth.crypto import TokenCipher

logger = logging.getLogger("kx_edge.app")


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
    http_transport: httpx.AsyncBaseTransport | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Build the app. `store`, `clock` and `http_transport` are the seams tests use."""
    if not settings.secret_key:
        raise ValueError("settings.secret_key is required (ensure_local_secrets fills it locally)")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        assert settings.secret_key is not None
        own_store = store or SqliteStore(settings.database_path)
        http = httpx.AsyncClient(
            transport=http_transport,
            timeout=httpx.Timeout(settings.klaviyo_timeout_s, connect=min(2.0, settings.klaviyo_timeout_s)),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        redis_client = _redis(settings)
        svc = Services(
            settings=settings,
            store=own_store,
            cipher=TokenCipher(settings.secret_key, settings.secret_key_old),
            http=http,
            redis=redis_client,
            clock=clock,
        )
        logger.info(
            "kx-edge ready",
            extra={"env": settings.env or "local", "redis": redis_client is not None},
        )
        try:
            yield {"services": svc}
        finally:
            await http.aclose()
            if redis_client is not None:
                await redis_client.aclose()
            if store is None:
                await own_store.close()
            logger.info("kx-edge stopped")

    return Starlette(
        routes=[*health.routes, *sites.routes, *extra_routes],
        middleware=[Middleware(RequestContextMiddleware, access_log=settings.access_log)],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )


def _redis(settings: Settings) -> aioredis.Redis | None:
    """A client that connects lazily: start-up never waits for (or fails on) Redis."""
    if settings.redis_url is None:
        return None
    return aioredis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=10,
        retry_on_timeout=False,
    )

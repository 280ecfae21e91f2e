"""The ASGI application: routes of the three surfaces, the lifespan that owns shared objects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import httpx
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Route, request_response

from edge.admin.routes import routes as admin_routes
from edge.config_api import openapi
from edge.errors import exception_handlers
from edge.events import build_events
from edge.events import routes as events_routes
from edge.klaviyo_link import build_klaviyo_link
from edge.middleware import RequestContextMiddleware
from edge.routes import experiences, explain, health, segments, sites
from edge.routes import klaviyo as klaviyo_routes
from edge.runtime import SiteRuntimes
from edge.services import Services
from edge.settings import Settings
from edge.snippet import snippet_response
from edge.store import SqliteStore
from edge.store.connections import SqliteConnectionStore, SqliteFlowStateStore
from edge.storefront.assign import EdgeApp
from edge.storefront.identity import SegmentResolver
from oauth.crypto import TokenCipher

logger = logging.getLogger("kx_edge.app")


def create_app(
    settings: Settings,
    *,
    store: SqliteStore | None = None,
    clock: Callable[[], float] = time.time,
    http_transport: httpx.AsyncBaseTransport | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    resolver: SegmentResolver | None = None,
    on_ready: Callable[[Services], Coroutine[Any, Any, None]] | None = None,
) -> Starlette:
    """Build the app. `store`, `clock`, `http_transport` and `resolver` are the seams tests use;
    `on_ready` runs as a task once start-up is done (the demo uses it to seed itself)."""
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
        cipher = TokenCipher(settings.secret_key, settings.secret_key_old)
        connections = SqliteConnectionStore(own_store, clock=clock)
        runtimes = SiteRuntimes(own_store, connections, cipher, clock=clock)
        connections.on_change = runtimes.reload
        klaviyo = build_klaviyo_link(
            settings,
            http=http,
            redis=redis_client,
            connections=connections,
            flows=SqliteFlowStateStore(own_store, cipher, clock=clock),
            cipher=cipher,
            clock=clock,
        )
        if klaviyo is not None:
            await klaviyo.resolver.start()
        svc = Services(
            settings=settings,
            store=own_store,
            connections=connections,
            klaviyo=klaviyo,
            cipher=cipher,
            http=http,
            redis=redis_client,
            runtimes=runtimes,
            clock=clock,
            resolver=resolver if resolver is not None else (klaviyo.resolver if klaviyo else None),
        )
        events = build_events(svc)
        svc.events = events
        svc.assign_observers.append(events.observer)
        svc.events_scope_hooks.append(events.uses_events)
        await events.start()
        sync = klaviyo.segment_sync if klaviyo is not None else None
        if sync is not None:
            runtimes.on_install = lambda rt: sync.set_site_targets(
                rt.site.id, rt.connection_ref, rt.compiled.targeted_segments
            )
            runtimes.on_forget = lambda site_id: sync.set_site_targets(site_id, None, ())
            for site in await own_store.list_sites():  # every worker publishes every site's targets
                await runtimes.reload(site.id)
            await sync.start()
        runtimes.start()
        ready_task: asyncio.Task[None] | None = None
        if on_ready is not None:
            ready_task = asyncio.create_task(on_ready(svc), name="kx-edge on_ready")
        logger.info(
            "kx-edge ready",
            extra={"env": settings.env or "local", "redis": redis_client is not None},
        )
        try:
            yield {"services": svc}
        finally:
            if ready_task is not None:
                ready_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ready_task
            if svc.events is not None:
                await svc.events.aclose()  # flushes the buffer to the outbox: SIGTERM loses nothing
            await runtimes.stop()
            if klaviyo is not None:
                await klaviyo.aclose()
            await http.aclose()
            if redis_client is not None:
                await redis_client.aclose()
            if store is None:
                await own_store.close()
            logger.info("kx-edge stopped")

    return EdgeApp(
        routes=[
            *health.routes,
            *storefront_routes(),
            *sites.routes,
            *klaviyo_routes.routes,
            *experiences.routes,
            *segments.routes,
            *explain.routes,
            *openapi.routes,
            *admin_routes,
            *events_routes,
            *extra_routes,
        ],
        middleware=[Middleware(RequestContextMiddleware, access_log=settings.access_log)],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )


def storefront_routes() -> list[BaseRoute]:
    """`/v1/assign` is served by `EdgeApp` before any middleware; the snippet is a route,
    gzipped here only (the JSON answers are small and sent uncompressed, on purpose)."""
    snippet = GZipMiddleware(request_response(snippet_response), minimum_size=500)
    return [Route("/v1/snippet.js", snippet, methods=["GET", "HEAD"])]


def _redis(settings: Settings) -> aioredis.Redis | None:
    """A client that connects lazily (start-up never waits for Redis) over a bounded pool: when
    every connection is busy a caller waits briefly and then degrades, instead of the default
    pool's unbounded growth or instant failure."""
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

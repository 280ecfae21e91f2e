"""The ASGI application: routes of the three surfaces, the lifespan that owns shared objects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from edge.admin.routes import routes as admin_routes
from edge.config_api.routes import routes as config_api_routes
from edge.connect.link import build_klaviyo_link
from edge.connect.routes import routes as connect_routes
from edge.events import build_events
from edge.fleet.config_push import ConfigChange, ConfigListener
from edge.fleet.redis_client import connect_redis
from edge.metrics.export import Exporter, Sources
from edge.metrics.routes import routes as metrics_routes
from edge.metrics.traffic import RouteTraffic
from edge.ops.health import check as health_check
from edge.ops.health import routes as health_routes
from edge.results.component import build_results
from edge.results.routes import routes as results_routes
from edge.results.track import TRACK_PATH, track
from edge.services import Services
from edge.settings import Settings
from edge.sites.runtime import SiteRuntime, SiteRuntimes
from edge.store import Database, SqlSiteStore, open_database
from edge.store.connections import SqlConnectionStore, SqlFlowStateStore
from edge.store.outbox_records import Backlog
from edge.store.sessions import SqlAdminSessionStore
from edge.storefront.assign import EdgeApp
from edge.storefront.identity import SegmentResolver
from edge.storefront.routes import routes as storefront_routes
from edge.web.errors import exception_handlers
from edge.web.middleware import RequestContextMiddleware
from klaviyo import ConnectionRef
from oauth.crypto import TokenCipher

logger = logging.getLogger("kx_edge.app")


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Callable[[], float] = time.time,
    http_transport: httpx.AsyncBaseTransport | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    resolver: SegmentResolver | None = None,
    on_ready: Callable[[Services], Coroutine[Any, Any, None]] | None = None,
) -> Starlette:
    """Build the app. `database`, `clock`, `http_transport` and `resolver` are the seams tests use;
    `on_ready` runs as a task once start-up is done (the demo uses it to seed itself)."""
    if not settings.secret_key:
        raise ValueError("settings.secret_key is required (ensure_local_secrets fills it locally)")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        assert settings.secret_key is not None
        db = database or await open_database(settings)
        own_store = SqlSiteStore(db)
        http = httpx.AsyncClient(
            transport=http_transport,
            timeout=httpx.Timeout(settings.klaviyo_timeout_s, connect=min(2.0, settings.klaviyo_timeout_s)),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        redis_client = connect_redis(settings)
        cipher = TokenCipher(settings.secret_key, settings.secret_key_old)
        connections = SqlConnectionStore(db, clock=clock)
        runtimes = SiteRuntimes(
            own_store, connections, cipher, clock=clock, poll_interval_s=settings.config_poll_interval_s
        )
        connections.on_change = runtimes.reload
        klaviyo = build_klaviyo_link(
            settings,
            http=http,
            redis=redis_client,
            connections=connections,
            flows=SqlFlowStateStore(db, cipher, clock=clock),
            cipher=cipher,
            clock=clock,
        )
        if klaviyo is not None:
            await klaviyo.resolver.start()
        route_traffic = RouteTraffic(route_labels)
        svc = Services(
            settings=settings,
            database=db,
            store=own_store,
            connections=connections,
            sessions=SqlAdminSessionStore(db),
            klaviyo=klaviyo,
            cipher=cipher,
            http=http,
            redis=redis_client,
            runtimes=runtimes,
            clock=clock,
            resolver=resolver if resolver is not None else (klaviyo.resolver if klaviyo else None),
            route_traffic=route_traffic,
        )
        events = build_events(svc)
        svc.events = events
        svc.assign_observers.append(events.observer)
        svc.events_scope_hooks.append(events.uses_events)
        await events.start()
        results = build_results(svc)
        await results.start()
        sync = klaviyo.segment_sync if klaviyo is not None else None
        exporter = _exporter(svc, events.outbox.backlog)
        svc.metrics = exporter
        runtimes.lag.observers.append(exporter.observe_propagation)
        targets: dict[str, tuple[ConnectionRef, frozenset[str]]] = {}
        exporter.sources.targets = lambda: list(targets.values())

        def installed(rt: SiteRuntime) -> None:
            if rt.connection_ref is None:
                targets.pop(rt.site.id, None)
            else:
                targets[rt.site.id] = (rt.connection_ref, frozenset(rt.compiled.targeted_segments))
            if sync is not None:
                sync.set_site_targets(rt.site.id, rt.connection_ref, rt.compiled.targeted_segments)

        def forgotten(site_id: str) -> None:
            targets.pop(site_id, None)
            if sync is not None:
                sync.set_site_targets(site_id, None, ())

        runtimes.on_install = installed
        runtimes.on_forget = forgotten
        # Every site in memory: the storefront never waits on the store (and, with segment sync,
        # every worker publishes every site's targets).
        await runtimes.load_all()
        if sync is not None:
            await sync.start()
        runtimes.start()
        exporter.start()
        push = config_listener(settings, runtimes)
        if push is not None:
            push.start()
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
            if push is not None:
                await push.stop()
            await results.aclose()  # writes the counters and queued conversions
            await runtimes.stop()
            await exporter.aclose()
            if klaviyo is not None:
                await klaviyo.aclose()
            await http.aclose()
            if redis_client is not None:
                await redis_client.aclose()
            if database is None:
                await db.close()
            logger.info("kx-edge stopped")

    all_routes = [
        *health_routes,
        *metrics_routes,
        *storefront_routes,
        *config_api_routes,
        *results_routes,
        *connect_routes,
        *admin_routes,
        *extra_routes,
    ]
    route_labels: dict[object, str] = {r.endpoint: r.path for r in all_routes if isinstance(r, Route)}
    return EdgeApp(
        routes=all_routes,
        middleware=[
            Middleware(
                RequestContextMiddleware,
                access_log=settings.access_log,
                hsts=settings.public_url.startswith("https://"),
            )
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
        fast_paths={TRACK_PATH: track},
    )


def config_listener(settings: Settings, runtimes: SiteRuntimes) -> ConfigListener | None:
    """The push of configuration changes between nodes (PostgreSQL only; `config_push`)."""
    if settings.database_url is None or not settings.config_push:
        return None

    async def on_change(change: ConfigChange) -> None:
        await runtimes.apply_push(change.site, change.version, change.at)

    async def on_connect() -> None:
        await runtimes.refresh_changed()

    listener = ConfigListener(settings.database_url, on_change, on_connect)
    runtimes.push = listener
    return listener


def _exporter(svc: Services, backlog: Callable[[float], Coroutine[Any, Any, Backlog]]) -> Exporter:
    """The metrics exporter over this app's parts (docs/metrics.md)."""
    link = svc.klaviyo
    sync = link.segment_sync if link is not None else None
    return Exporter(
        Sources(
            routes=svc.route_traffic,
            assign=svc.assign_traffic,
            resolver_counts=link.resolver.metrics if link is not None else None,
            sync_counts=sync.metrics
            if sync is not None and link is not None and sync.metrics is not link.resolver.metrics
            else None,
            klaviyo_calls=link.api.stats.calls if link is not None else None,
            gate=link.resolver.gate if link is not None else None,
            sync_records=sync.store if sync is not None else None,
            health=lambda: health_check(svc),
            backlog=backlog,
        ),
        clock=svc.clock,
    )

"""The objects one app instance shares, built in the lifespan and reached through request.state.

Nothing here is a module-level singleton: tests build as many apps as they like side by side.
`Services` sits low in the import graph: it names the parts that have one implementation by
their class and the others through small protocols (`SegmentResolver`, `EventTriggers`), so the
components that are handed a `Services` (event triggers, routes) can import it without any of
them being imported back.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from starlette.requests import Request

from edge.connect.link import KlaviyoLink
from edge.fleet.redis_client import RedisClient
from edge.metrics.traffic import RouteTraffic
from edge.results.bots import BotCheck
from edge.results.writer import ConversionWriter
from edge.settings import Settings
from edge.sites.runtime import SiteRuntimes
from edge.store import AdminSessionStore, Database, Store
from edge.store.connections import SqlConnectionStore
from edge.store.results import SqlResultsStore
from edge.storefront.identity import SegmentResolver
from edge.storefront.observers import AssignObserver
from edge.storefront.traffic import AssignTraffic
from edge.storefront.visit import DeviceCache
from edge.web.request_ids import RequestIds
from oauth.crypto import TokenCipher


class EventTriggers(Protocol):
    """What the rest of the app needs of the event triggers component (`edge.events.Events`):
    forgetting a deleted site, closing it at shutdown. Its routes reach the component itself
    through `edge.events.events_of`."""

    async def forget_site(self, site_id: str) -> None: ...

    async def aclose(self) -> None: ...


class MetricsExposition(Protocol):
    """What `GET /metrics` needs of the exporter (`edge.metrics.export.Exporter`)."""

    async def exposition(self) -> tuple[bytes, str]: ...


@dataclass(slots=True)
class Services:
    settings: Settings
    database: Database  # what every store is built on (docs/storage.md: adding a store)
    store: Store
    connections: SqlConnectionStore
    sessions: AdminSessionStore
    cipher: TokenCipher
    http: httpx.AsyncClient
    redis: RedisClient | None
    runtimes: SiteRuntimes
    clock: Callable[[], float] = time.time
    resolver: SegmentResolver | None = None
    klaviyo: KlaviyoLink | None = None
    # Async predicates "does this site use event triggers?" (the connect flow then asks for events:write).
    events_scope_hooks: list[Callable[[str], Awaitable[bool]]] = field(default_factory=list)
    assign_observers: list[AssignObserver] = field(default_factory=list)
    events: EventTriggers | None = None
    conversions: ConversionWriter | None = None  # results' group commit (edge.results)
    request_ids: RequestIds = field(default_factory=RequestIds)  # made in the serving process
    route_traffic: RouteTraffic = field(default_factory=RouteTraffic)  # the other routes' counts
    metrics: MetricsExposition | None = None
    assign_traffic: AssignTraffic = field(init=False)  # `/v1/assign`'s counters and access log
    # The results tables, on `database`: their writes and the `ResultsReader` protocol.
    results_store: SqlResultsStore = field(init=False)
    bots: BotCheck = field(init=False)  # is a user agent a known crawler? (setting bot_check)
    devices: DeviceCache = field(default_factory=DeviceCache)  # User-Agent -> device, bounded
    country_header: bytes = field(init=False)  # `country_header`, as headers arrive (lower-case)

    def __post_init__(self) -> None:
        mode = self.settings.assign_access_log if self.settings.access_log else "off"
        self.assign_traffic = AssignTraffic(mode)
        self.results_store = SqlResultsStore(self.database)
        self.bots = BotCheck(enabled=self.settings.bot_check)
        self.country_header = self.settings.country_header.lower().encode("latin-1")

    def now(self) -> int:
        return int(self.clock())


def services(request: Request) -> Services:
    found: Services = request.state.services
    return found

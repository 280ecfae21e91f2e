"""The objects one app instance shares, built in the lifespan and reached through request.state.

Nothing here is a module-level singleton: tests build as many apps as they like side by side.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import redis.asyncio as aioredis
from starlette.requests import Request

from edge.klaviyo_link import KlaviyoLink

if TYPE_CHECKING:
    from edge.events import Events
from edge.runtime import SiteRuntimes
from edge.settings import Settings
from edge.store import SqliteStore
from edge.store.connections import SqliteConnectionStore
from edge.storefront.identity import SegmentResolver
from edge.storefront.observers import AssignObserver
from oauth.crypto import TokenCipher


@dataclass(slots=True)
class Services:
    settings: Settings
    store: SqliteStore
    connections: SqliteConnectionStore
    cipher: TokenCipher
    http: httpx.AsyncClient
    redis: aioredis.Redis | None
    runtimes: SiteRuntimes
    clock: Callable[[], float] = time.time
    resolver: SegmentResolver | None = None
    klaviyo: KlaviyoLink | None = None
    # Async predicates "does this site use event triggers?" (the connect flow then asks for events:write).
    events_scope_hooks: list[Callable[[str], Awaitable[bool]]] = field(default_factory=list)
    assign_observers: list[AssignObserver] = field(default_factory=list)
    events: Events | None = None

    def now(self) -> int:
        return int(self.clock())


def services(request: Request) -> Services:
    found: Services = request.state.services
    return found

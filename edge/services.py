"""The objects one app instance shares, built in the lifespan and reached through request.state.

Nothing here is a module-level singleton: tests build as many apps as they like side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis.asyncio as aioredis
from starlette.requests import Request

from edge.settings import Settings
from edge.store import Store
from oauth.crypto import TokenCipher


@dataclass(slots=True)
class Services:
    settings: Settings
    store: Store
    cipher: TokenCipher
    http: httpx.AsyncClient
    redis: aioredis.Redis | None
    clock: Callable[[], float] = time.time
    # Filled by the parts that are wired in later (resolver, token manager, outbox ...).
    extras: dict[str, Any] = field(default_factory=dict)

    def now(self) -> int:
        return int(self.clock())


def services(request: Request) -> Services:
    found: Services = request.state.services
    return found

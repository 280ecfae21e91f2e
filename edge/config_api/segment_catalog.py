"""The connected account's segment list, fetched from Klaviyo and kept 60 seconds.

One `SegmentCatalog` per app serves the segments endpoint, the segment checks on experience
writes and the names `explain` shows, so a merchant paging through the editor costs Klaviyo one
`GET /api/segments` (all pages) a minute per account. Entries are keyed by (account, connection
generation): reconnecting, even to the same account, never serves the old list. Concurrent
misses for one key share a single fetch.

Until `Services` carries it, the catalog lives on the Starlette app's state, created on first
use (`catalog_of`); there is no module-level state.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from cachetools import TTLCache
from starlette.requests import Request

from edge.services import services
from edge.web.errors import ServiceUnavailable
from klaviyo import KlaviyoClient
from klaviyo import errors as klaviyo_errors
from klaviyo.models import KlaviyoSegment
from klaviyo.types import ConnectionRef

TTL_S: Final = 60.0
MAX_ACCOUNTS: Final = 4096
_STATE_ATTRIBUTE: Final = "segment_catalog"

Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    segments: tuple[KlaviyoSegment, ...]
    fetched_at: float

    def by_id(self) -> dict[str, KlaviyoSegment]:
        return {s.id: s for s in self.segments}


class SegmentCatalog:
    def __init__(
        self, clock: Callable[[], float], *, ttl_s: float = TTL_S, maxsize: int = MAX_ACCOUNTS
    ) -> None:
        self._clock = clock
        self._entries: TTLCache[Key, CatalogEntry] = TTLCache(maxsize=maxsize, ttl=ttl_s, timer=clock)
        self._inflight: dict[Key, asyncio.Task[CatalogEntry]] = {}

    @staticmethod
    def _key(conn: ConnectionRef) -> Key:
        return (conn.account_id, conn.generation)

    def peek(self, conn: ConnectionRef) -> CatalogEntry | None:
        """The cached list, never calling Klaviyo."""
        return self._entries.get(self._key(conn))

    async def get(self, client: KlaviyoClient, conn: ConnectionRef) -> CatalogEntry:
        """The cached list, or every page fetched now. Raises the client's `KlaviyoError`s."""
        key = self._key(conn)
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch(client, conn, key))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        # Shielded: a caller that goes away does not cancel the fetch the others wait on.
        return await asyncio.shield(task)

    async def _fetch(self, client: KlaviyoClient, conn: ConnectionRef, key: Key) -> CatalogEntry:
        segments = await client.list_segments(conn)
        entry = CatalogEntry(tuple(segments), self._clock())
        self._entries[key] = entry
        return entry


def catalog_of(request: Request) -> SegmentCatalog:
    """This app's catalog (on `request.app.state`, created on first use)."""
    state = request.app.state
    catalog: SegmentCatalog | None = getattr(state, _STATE_ATTRIBUTE, None)
    if catalog is None:
        catalog = SegmentCatalog(services(request).clock)
        setattr(state, _STATE_ATTRIBUTE, catalog)
    return catalog


def klaviyo_unavailable(exc: klaviyo_errors.KlaviyoError, doing: str) -> ServiceUnavailable:
    """503 for a Klaviyo failure, saying when trying again can help (`Retry-After`)."""
    details: dict[str, object] = {"reason": exc.code}
    headers: dict[str, str] = {}
    if isinstance(exc, klaviyo_errors.Unauthorized | klaviyo_errors.TokenUnavailable):
        message = (
            f"Klaviyo refused this site's connection while {doing}. Reconnect Klaviyo "
            "(Integrations -> Klaviyo -> Sign in with Klaviyo) and try again."
        )
    elif exc.retry_after_s is not None:
        wait = max(1, math.ceil(exc.retry_after_s))
        details["retry_after_s"] = wait
        headers["Retry-After"] = str(wait)
        message = f"Klaviyo is rate limiting this account, so kx-edge could not finish {doing}. Try again in {wait} s."
    else:
        message = f"Klaviyo did not answer while {doing}; try again in a minute."
    return ServiceUnavailable(message, code="klaviyo_unavailable", details=details, headers=headers)

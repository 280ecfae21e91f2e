"""The durable outbox between the storefront and Klaviyo: the protocol both backends implement
(`edge.store.outbox.SqlOutbox` in the app's database, `RedisOutbox` when Redis is configured)
and its records (defined with the store, re-exported here).

Life of an event: `append` (deduplicated by unique_id per UTC day; the oldest pending events are
dropped beyond the cap, counted) -> `claim` (leased to one sender for `lease_s`; a sender that
dies leaves the lease to run out, then another sender claims the event again) -> `settle`: sent
(removed, counted), failed permanently (kept with its reason, counted) or pending again at a
later time (backoff, Retry-After, budget). Delivery is at least once; Klaviyo's unique_id
dedupe makes it count once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from edge.store.outbox_records import (
    AppendResult,
    Backlog,
    Claimed,
    NewEvent,
    OutboxStats,
    ProfileWrite,
    Retry,
    SkipCounts,
    TriggerStats,
    VisitWrite,
)

__all__ = [
    "AppendResult",
    "Backlog",
    "Claimed",
    "NewEvent",
    "Outbox",
    "OutboxStats",
    "ProfileWrite",
    "Retry",
    "SkipCounts",
    "TriggerStats",
    "VisitWrite",
]


class Outbox(Protocol):
    backend: str
    cap: int

    async def append(self, visits: Sequence[VisitWrite], skips: SkipCounts, now: float) -> AppendResult: ...

    async def claim(self, limit: int, now: float) -> list[Claimed]: ...

    async def settle(
        self,
        now: float,
        *,
        sent: Sequence[Claimed] = (),
        failed: Sequence[tuple[Claimed, str]] = (),
        retry: Sequence[Retry] = (),
    ) -> None: ...

    async def seen(self, unique_ids: Sequence[str], day: int) -> set[str]:
        """Which of these unique ids were already enqueued on `day` (for explain)."""
        ...

    async def stats(self, site_id: str, now: float) -> OutboxStats: ...

    async def backlog(self, now: float) -> Backlog:
        """Events not sent yet (waiting or retrying) across every site, and the oldest one's age."""
        ...

    async def prune(self, now: float) -> None:
        """Forget what no longer matters: old dedupe days, counters, failed events."""
        ...

    async def forget_site(self, site_id: str, now: float) -> None:
        """A deleted site's counters and trigger state, where the store's `delete_site` does not
        reach them; events already queued for it are dropped by the sender (no connection)."""
        ...

    async def aclose(self) -> None: ...

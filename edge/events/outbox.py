"""The durable outbox between the storefront and Klaviyo: its records and the protocol both
backends implement (`SqliteOutbox` embedded, `RedisOutbox` when Redis is configured).

Life of an event: `append` (deduplicated by unique_id per UTC day; the oldest pending events are
dropped beyond the cap, counted) -> `claim` (leased to one sender for `lease_s`; a sender that
dies leaves the lease to run out, then another sender claims the event again) -> `settle`: sent
(removed, counted), failed permanently (kept with its reason, counted) or pending again at a
later time (backoff, Retry-After, budget). Delivery is at least once; Klaviyo's unique_id
dedupe makes it count once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from edge.events.triggers import Trigger

SkipCounts = Mapping[tuple[str, Trigger, str], int]
"""(site id, trigger, reason) -> events not produced, for the status counters."""


@dataclass(frozen=True, slots=True)
class NewEvent:
    site_id: str
    trigger: Trigger
    unique_id: str
    attributes: bytes  # the event's JSON:API `attributes` without `profile`, JSON
    profile: bytes  # its `profile` object, JSON
    created_at: float

    @property
    def deduplicated(self) -> bool:
        """Kept once per unique_id (per UTC day) across workers and restarts: saw_personalization,
        which fires on every page view. A test entry fires once by itself (`first_assignment`);
        a repeat (a visitor who lost their token) carries the same unique_id and Klaviyo keeps
        one. Sparing that write halves the outbox's cost per event."""
        return self.trigger is Trigger.SAW_PERSONALIZATION


@dataclass(frozen=True, slots=True)
class ProfileWrite:
    """profile_sync: the visitor's experiences now. When they differ from the last recorded and
    none of the visit's events was enqueued (they would carry the property), `event` is."""

    kx_hash: str
    experiences_hash: str
    event: NewEvent


@dataclass(frozen=True, slots=True)
class VisitWrite:
    site_id: str
    day: int
    events: tuple[NewEvent, ...]
    profile: ProfileWrite | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    enqueued: int = 0
    duplicates: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Claimed:
    ref: str  # the row id (SQLite) or the stream entry id (Redis)
    site_id: str
    trigger: Trigger
    unique_id: str
    attributes: bytes
    profile: bytes
    attempts: int
    created_at: float


@dataclass(frozen=True, slots=True)
class Retry:
    event: Claimed
    at: float
    error: str | None  # None: not a failure (budget or Retry-After wait), no attempt counted


@dataclass(slots=True)
class TriggerStats:
    counts: dict[str, int] = field(default_factory=dict)  # outcome -> n over the last 24 h
    pending: int = 0
    last_sent_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None


@dataclass(slots=True)
class OutboxStats:
    triggers: dict[Trigger, TriggerStats]
    size: int  # pending events of the whole app (what the cap bounds)


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

    async def prune(self, now: float) -> None:
        """Forget what no longer matters: old dedupe days, counters, failed events."""
        ...

    async def aclose(self) -> None: ...

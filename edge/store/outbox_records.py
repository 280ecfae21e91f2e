"""What the event outbox keeps, as frozen values: shared by its backends (`SqlOutbox` here,
`edge.events.redis_outbox.RedisOutbox`) and the events component (`edge.events.outbox` names
the protocol). Triggers are their names (`edge.events.triggers.Trigger` values are str)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SkipCounts = Mapping[tuple[str, str, str], int]
"""(site id, trigger, reason) -> events not produced, for the status counters."""


@dataclass(frozen=True, slots=True)
class NewEvent:
    site_id: str
    trigger: str
    unique_id: str
    attributes: bytes  # the event's JSON:API `attributes` without `profile`, JSON
    profile: bytes  # its `profile` object, JSON
    created_at: float
    deduplicated: bool = False
    """Kept once per unique_id (per UTC day) across workers and restarts (see
    `edge.events.observer` for which triggers are)."""


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
    ref: str  # the row id (SQL) or the stream entry id (Redis)
    site_id: str
    trigger: str
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
    triggers: dict[str, TriggerStats]
    size: int  # pending events of the whole app (what the cap bounds)


@dataclass(slots=True)
class Backlog:
    """Events waiting to be sent, for /metrics: how many, and the age of the oldest (None: none)."""

    depth: int
    oldest_age_s: float | None

"""What `Resolver.resolve` answers, each result carrying how it was obtained (for `explain`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Source(StrEnum):
    L1 = "l1"
    L2 = "l2"
    KLAVIYO = "klaviyo"
    INDEX = "index"
    NONE = "none"


class WaitedFor(StrEnum):
    SINGLE_FLIGHT = "single_flight"  # shared another request's resolution in this process
    LOCK = "lock"  # another process held the resolution lock; its L2 value answered


class ResolutionPath(StrEnum):
    PROFILE = "profile"  # profile by _kx, then the profile's segments (3/s, 60/min)
    PER_SEGMENT = "per_segment"  # one `_kx` membership check per targeted segment (75/s)
    INDEX = "index"  # profile id by `_kx` (75/s, cached 30 days), membership from the synced index


class UnidentifiedReason(StrEnum):
    NO_KX = "no_kx"
    MALFORMED_KX = "kx_malformed"
    NOT_FOUND = "not_found"
    NOTHING_TARGETED = "nothing_targeted"  # no live experience needs a segment: not resolved


class PendingReason(StrEnum):
    DEADLINE = "deadline"  # still resolving; the cache fills in the background
    BUDGET = "budget"  # our per-account budget is spent; queued
    RATE_LIMITED = "rate_limited"  # Klaviyo's Retry-After; queued
    KLAVIYO_ERROR = "klaviyo_error"  # 5xx, timeouts, unreadable answers: a later request retries
    UNAUTHORIZED = "unauthorized"  # 401 even after a refresh
    TOKEN_UNAVAILABLE = "token_unavailable"  # noqa: S105 (a reason code, not a secret)
    OVERLOADED = "overloaded"  # too much work in flight, or Redis busy: try again shortly
    ERROR = "error"  # a bug: logged


_NO_CALLS: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ResolutionInfo:
    """How an answer was obtained. `klaviyo_calls` counts HTTP requests by endpoint tier."""

    source: Source = Source.NONE
    klaviyo_calls: Mapping[str, int] = field(default_factory=lambda: _NO_CALLS)
    waited_for: WaitedFor | None = None
    cache_age_s: float | None = None
    path: ResolutionPath | None = None
    detail: str | None = None


NO_INFO = ResolutionInfo()


@dataclass(frozen=True, slots=True)
class Identified:
    """A known profile; `segment_ids` holds only its targeted segments."""

    segment_ids: frozenset[str]
    info: ResolutionInfo = NO_INFO


@dataclass(frozen=True, slots=True)
class Unidentified:
    reason: UnidentifiedReason
    info: ResolutionInfo = NO_INFO


@dataclass(frozen=True, slots=True)
class Pending:
    """Not known within the deadline; `retry_after_ms` suggests when asking again may help."""

    retry_after_ms: int | None
    reason: PendingReason = PendingReason.DEADLINE
    info: ResolutionInfo = NO_INFO


Resolution = Identified | Unidentified | Pending

"""Klaviyo's rate limits: per account and endpoint tier, a burst (1 s) and a steady (1 min)
fixed window; a request counts only when both windows still have room.

The table is the fake's own, from Klaviyo's published limits, not the service's (`klaviyo/`):
a fake that read the service's table could never catch a mistake in it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from sandbox.records import Clock

BURST_WINDOW_S = 1
STEADY_WINDOW_S = 60


class Tier(StrEnum):
    ACCOUNTS = "accounts"
    PROFILES = "profiles"
    """Profiles list and profile by id without `include`."""
    PROFILE_WITH_SEGMENTS = "profile_with_segments"
    """`GET /api/profiles/{id}?include=segments` (or lists)."""
    PROFILE_SEGMENTS = "profile_segments"
    """A profile's segments, ids or full: one budget for both routes."""
    SEGMENTS = "segments"
    SEGMENT_MEMBERS = "segment_members"
    """A segment's profiles, ids or full: one budget for both routes."""
    EVENTS = "events"
    BULK_EVENTS = "bulk_events"


@dataclass(frozen=True, slots=True)
class TierLimit:
    burst: int
    steady: int


DEFAULT_LIMITS: Mapping[Tier, TierLimit] = MappingProxyType(
    {
        Tier.ACCOUNTS: TierLimit(1, 15),
        Tier.PROFILES: TierLimit(75, 750),
        Tier.PROFILE_WITH_SEGMENTS: TierLimit(1, 15),
        Tier.PROFILE_SEGMENTS: TierLimit(3, 60),
        Tier.SEGMENTS: TierLimit(75, 750),
        Tier.SEGMENT_MEMBERS: TierLimit(75, 700),
        Tier.EVENTS: TierLimit(350, 3500),
        Tier.BULK_EVENTS: TierLimit(10, 150),
    }
)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    """The steady limit, answered as `RateLimit-Limit`."""
    remaining: int
    reset_s: int
    """Seconds until the steady window resets (`RateLimit-Reset`)."""
    retry_after_s: int
    """When refused: whole seconds until the exhausted window resets (`Retry-After`)."""

    def headers(self) -> dict[str, str]:
        if not self.allowed:
            return {"Retry-After": str(self.retry_after_s)}
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }


class RateLimiter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._limits: dict[Tier, TierLimit] = dict(DEFAULT_LIMITS)
        self._windows: dict[tuple[str, Tier, int], tuple[int, int]] = {}  # -> (window, used)

    def limit(self, tier: Tier) -> TierLimit:
        return self._limits[tier]

    def override(self, tier: Tier, burst: int, steady: int) -> None:
        """Change one tier's limits (for tests that want a tiny budget)."""
        self._limits[tier] = TierLimit(burst, steady)

    def check(self, account_id: str, tier: Tier) -> Verdict:
        """Count one request of `account_id` against `tier`, unless a window is full."""
        now = self._clock()
        limits = self._limits[tier]
        with self._lock:
            burst = self._used(account_id, tier, BURST_WINDOW_S, now)
            steady = self._used(account_id, tier, STEADY_WINDOW_S, now)
            steady_reset = _until_next(now, STEADY_WINDOW_S)
            if steady >= limits.steady or burst >= limits.burst:
                wait = steady_reset if steady >= limits.steady else _until_next(now, BURST_WINDOW_S)
                retry = max(1, math.ceil(wait))
                return Verdict(False, limits.steady, 0, math.ceil(steady_reset), retry)
            self._bump(account_id, tier, BURST_WINDOW_S, now)
            self._bump(account_id, tier, STEADY_WINDOW_S, now)
            remaining = limits.steady - steady - 1
            return Verdict(True, limits.steady, remaining, math.ceil(steady_reset), 0)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def _used(self, account_id: str, tier: Tier, size: int, now: float) -> int:
        window, used = self._windows.get((account_id, tier, size), (-1, 0))
        return used if window == int(now // size) else 0

    def _bump(self, account_id: str, tier: Tier, size: int, now: float) -> None:
        used = self._used(account_id, tier, size, now)
        self._windows[(account_id, tier, size)] = (int(now // size), used + 1)


def _until_next(now: float, size: int) -> float:
    return (math.floor(now / size) + 1) * size - now

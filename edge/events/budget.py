"""The sender's own budget for Klaviyo's event endpoints, per account, and Retry-After blocks.

Klaviyo limits `POST /api/events` to 350/s and 3,500/min and the bulk endpoint to 10/s and
150/min per account (docs/KLAVIYO.md). The budget spends `fraction` of that (times `share` when
several processes send for the same accounts) in sliding windows, so it stays under Klaviyo's
fixed windows wherever they fall. A 429 blocks both event tiers of the account for Retry-After;
the resolver's tiers are untouched (Klaviyo's limits are per endpoint tier).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum


class EventTier(StrEnum):
    EVENTS = "events"  # POST /api/events
    BULK = "bulk_events"  # POST /api/event-bulk-create-jobs


KLAVIYO_EVENT_LIMITS: dict[EventTier, tuple[int, int]] = {
    EventTier.EVENTS: (350, 3500),
    EventTier.BULK: (10, 150),
}


class EventsBudget:
    def __init__(
        self, *, fraction: float = 0.8, share: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = {
            tier: (max(1, int(s * fraction * share)), max(1, int(m * fraction * share)))
            for tier, (s, m) in KLAVIYO_EVENT_LIMITS.items()
        }
        self._clock = clock
        self._calls: dict[tuple[str, EventTier], deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def limits(self, tier: EventTier) -> tuple[int, int]:
        return self._limits[tier]

    def blocked_for(self, account: str) -> float:
        left = self._blocked_until.get(account, 0.0) - self._clock()
        return left if left > 0 else 0.0

    def take(self, account: str, tier: EventTier) -> float | None:
        """Take one call; None to go now, else the seconds to wait before asking again."""
        blocked = self.blocked_for(account)
        if blocked > 0:
            return blocked
        now = self._clock()
        per_second, per_minute = self._limits[tier]
        calls = self._calls.setdefault((account, tier), deque())
        while calls and calls[0] <= now - 60.0:
            calls.popleft()
        wait = 0.0
        if len(calls) >= per_minute:
            wait = calls[len(calls) - per_minute] + 60.0 - now
        if len(calls) >= per_second and calls[len(calls) - per_second] > now - 1.0:
            wait = max(wait, calls[len(calls) - per_second] + 1.0 - now)
        if wait > 0:
            return wait
        calls.append(now)
        return None

    def block(self, account: str, seconds: float) -> None:
        """Klaviyo answered 429: no event call for this account for `seconds` (never shortened)."""
        until = self._clock() + seconds
        if until > self._blocked_until.get(account, 0.0):
            self._blocked_until[account] = until

"""An in-process `RateGate`: sliding-window budgets per account and tier, and Retry-After blocks.

One limiter for every Klaviyo budget of a process: the resolver's (the fleet gate's fallback) and
the event sender's are both a `LocalRateGate`, each with its own windows and blocks.

A sliding window (a log of recent call times) bounds the calls in *every* window of 1 s and 60 s,
whatever their alignment, so it stays under Klaviyo's fixed windows however theirs are placed.

Background work (the segment sync) shares the same windows but passes a `reserve`: it is admitted
only while the calls already in the window stay below `(1 - reserve)` of the limit, so visitors
always have `reserve` of every window to themselves. `ReservedGate` is that view of a gate.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from klaviyo.types import KLAVIYO_LIMITS, Refusal, ReservingGate, Tier, TierLimit


def budget_limits(
    fractions: Mapping[Tier, float] | float, *, share: float = 1.0, tiers: Iterable[Tier] | None = None
) -> dict[Tier, TierLimit]:
    """Klaviyo's limits (of `tiers`, default all) scaled by a fraction per tier (or one for all)
    and by `share`."""
    result = {}
    for tier in KLAVIYO_LIMITS if tiers is None else tiers:
        fraction = fractions if isinstance(fractions, float | int) else fractions.get(tier, 0.8)
        result[tier] = KLAVIYO_LIMITS[tier].scaled(float(fraction) * share)
    return result


class LocalRateGate:
    """The budget of one process. Its memory is one deque of timestamps per account and tier."""

    def __init__(
        self,
        limits: Mapping[Tier, TierLimit] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = dict(limits or budget_limits(0.8))
        self._clock = clock
        self._calls: dict[tuple[str, Tier], deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def limit(self, tier: Tier) -> TierLimit:
        """The budget of one tier (per account), as given."""
        return self._limits[tier]

    def blocked_for(self, account_key: str) -> float:
        """Seconds left of a Retry-After block on this account (0 when none)."""
        until = self._blocked_until.get(account_key)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._blocked_until[account_key]
            return 0.0
        return left

    async def take(self, account_key: str, tier: Tier, *, reserve: float = 0.0) -> Refusal | None:
        return self.take_now(account_key, tier, reserve=reserve)

    async def left(self, account_key: str, tier: Tier) -> int:
        """Calls of the tier's 60 s window still open to this account now (0 while blocked)."""
        if self.blocked_for(account_key) > 0:
            return 0
        calls = self._calls.get((account_key, tier))
        now = self._clock()
        used = 0 if calls is None else sum(1 for stamp in calls if stamp > now - 60.0)
        return max(0, self._limits[tier].per_minute - used)

    def take_now(self, account_key: str, tier: Tier, *, reserve: float = 0.0) -> Refusal | None:
        """The synchronous form of `take`."""
        return self._admit(account_key, tier, consume=True, reserve=reserve)

    def peek(self, account_key: str, tier: Tier, *, reserve: float = 0.0) -> Refusal | None:
        """What `take` would answer, without taking anything."""
        return self._admit(account_key, tier, consume=False, reserve=reserve)

    def _admit(self, account_key: str, tier: Tier, *, consume: bool, reserve: float) -> Refusal | None:
        blocked = self.blocked_for(account_key)
        if blocked > 0:
            return Refusal(blocked, throttled=True)
        now = self._clock()
        limit = reserved(self._limits[tier], reserve)
        calls = self._calls.setdefault((account_key, tier), deque())
        while calls and calls[0] <= now - 60.0:
            calls.popleft()
        wait = 0.0
        if len(calls) >= limit.per_minute:
            wait = calls[len(calls) - limit.per_minute] + 60.0 - now
        in_last_second = 0
        for stamp in reversed(calls):
            if stamp <= now - 1.0:
                break
            in_last_second += 1
        if in_last_second >= limit.per_second:
            wait = max(wait, calls[len(calls) - limit.per_second] + 1.0 - now)
        if wait > 0:
            return Refusal(wait, throttled=False)
        if consume:
            calls.append(now)
        return None

    async def block(self, account_key: str, seconds: float) -> None:
        self.block_now(account_key, seconds)

    def block_now(self, account_key: str, seconds: float) -> None:
        """The synchronous form of `block`; a shorter block never shortens a longer one."""
        until = self._clock() + seconds
        if until > self._blocked_until.get(account_key, 0.0):
            self._blocked_until[account_key] = until


def reserved(limit: TierLimit, reserve: float) -> TierLimit:
    """What background work may fill of `limit` when `reserve` of it is kept for visitors (never
    below one call per window, so background work cannot starve for good)."""
    if reserve <= 0:
        return limit
    return limit.scaled(1.0 - reserve)


class ReservedGate:
    """A `RateGate` for background work over a shared gate: its calls count in the same windows,
    but it is refused while less than `reserve` of a window is left, so visitors come first."""

    def __init__(self, gate: ReservingGate, reserve: float) -> None:
        if not 0 <= reserve < 1:
            raise ValueError("reserve must be in [0, 1)")
        self.gate = gate
        self.reserve = reserve

    async def take(self, account_key: str, tier: Tier) -> Refusal | None:
        return await self.gate.take(account_key, tier, reserve=self.reserve)

    async def block(self, account_key: str, seconds: float) -> None:
        await self.gate.block(account_key, seconds)

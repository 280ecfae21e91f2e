"""The fleet-wide Klaviyo budget: a `RateGate` shared by every process through Redis.

One Lua script per call takes a slot atomically from a sliding-window log (a sorted set of call
times per account and tier, Redis' own clock) under both of Klaviyo's windows, 1 s and 60 s, and
honours a Retry-After block on the account. When Redis is down the process falls back to its own
`LocalRateGate` (with `local_budget_share` of the budget); when it is merely busy the call is
refused for a moment instead, so a slow Redis never lets the fleet overspend. A refusal is remembered in-process
until it runs out, so a burst of pending visitors does not become a burst of Redis calls.

Background work (the segment sync) passes a `reserve`: the same script admits it against limits
shrunk by that fraction, in the same windows, so visitors keep `reserve` of every window. Its
refusals are remembered apart: a sync waiting for room never makes a visitor wait.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Mapping

from edge.fleet.redis_client import RedisClient
from edge.resolver import keys
from edge.resolver.redis_guard import RedisBusy, RedisDown, RedisGuard
from klaviyo import LocalRateGate, Refusal, Tier, TierLimit
from klaviyo.gate import reserved

BUSY_RETRY_S = 0.1

# KEYS: block key, window key. ARGV: per second, per minute, unique member suffix.
# Returns {admitted (0/1), wait in ms, throttled (0/1)}.
_TAKE = """
local blocked = redis.call('PTTL', KEYS[1])
if blocked > 0 then return {0, blocked, 1} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
local per_second = tonumber(ARGV[1])
local per_minute = tonumber(ARGV[2])
local total = redis.call('ZCARD', KEYS[2])
local wait = 0
if total >= per_minute then
  local e = redis.call('ZRANGE', KEYS[2], total - per_minute, total - per_minute, 'WITHSCORES')
  wait = tonumber(e[2]) + 60000 - now
end
local recent = redis.call('ZCOUNT', KEYS[2], '(' .. (now - 1000), '+inf')
if recent >= per_second then
  local e = redis.call('ZRANGE', KEYS[2], total - per_second, total - per_second, 'WITHSCORES')
  local w = tonumber(e[2]) + 1000 - now
  if w > wait then wait = w end
end
if wait > 0 then return {0, wait, 0} end
redis.call('ZADD', KEYS[2], now, now .. ':' .. ARGV[3])
redis.call('PEXPIRE', KEYS[2], 61000)
return {1, 0, 0}
"""


class FleetRateGate:
    def __init__(
        self,
        guard: RedisGuard,
        prefix: str,
        limits: Mapping[Tier, TierLimit],
        fallback: LocalRateGate,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._guard = guard
        self._prefix = prefix
        self._limits = dict(limits)
        self.fallback = fallback
        self._clock = clock
        # (account, tier, background?) -> (refused until, throttled)
        self._refused_until: dict[tuple[str, Tier, bool], tuple[float, bool]] = {}

    def peek(self, account_key: str, tier: Tier, *, reserve: float = 0.0) -> Refusal | None:
        """A refusal this process already got and that has not run out: no Redis call needed.
        Background work (`reserve` > 0) also waits out the visitors' refusals, never the reverse."""
        blocked = self.fallback.blocked_for(account_key)
        if blocked > 0:
            return Refusal(blocked, throttled=True)
        found = self._memo(account_key, tier, False)
        if found is None and reserve > 0:
            found = self._memo(account_key, tier, True)
        return found

    def _memo(self, account_key: str, tier: Tier, background: bool) -> Refusal | None:
        key = (account_key, tier, background)
        memo = self._refused_until.get(key)
        if memo is None:
            return None
        left = memo[0] - self._clock()
        if left <= 0:
            del self._refused_until[key]
            return None
        return Refusal(left, throttled=memo[1])

    async def take(self, account_key: str, tier: Tier, *, reserve: float = 0.0) -> Refusal | None:
        known = self.peek(account_key, tier, reserve=reserve)
        if known is not None:
            return known
        limit = reserved(self._limits[tier], reserve)
        block_key = keys.blocked(self._prefix, account_key)
        window_key = keys.budget(self._prefix, account_key, tier)
        member = secrets.token_hex(6)

        async def command(r: RedisClient) -> list[int]:
            result: list[int] = await r.eval(
                _TAKE, 2, block_key, window_key, limit.per_second, limit.per_minute, member
            )
            return result

        try:
            admitted, wait_ms, throttled = await self._guard.run(command)
        except RedisBusy:
            return Refusal(BUSY_RETRY_S, throttled=False)  # never spend past the fleet budget
        except RedisDown:
            return self.fallback.take_now(account_key, tier, reserve=reserve)
        if admitted:
            return None
        wait = max(0.001, int(wait_ms) / 1000)
        self._refused_until[(account_key, tier, reserve > 0)] = (self._clock() + wait, bool(throttled))
        return Refusal(wait, throttled=bool(throttled))

    async def left(self, account_key: str, tier: Tier) -> int:
        """Calls of the tier's fleet-wide 60 s window still open to the account (0 while blocked);
        this process' own view when Redis is down. The window is read with this machine's clock."""
        block_key = keys.blocked(self._prefix, account_key)
        window_key = keys.budget(self._prefix, account_key, tier)
        since_ms = int((time.time() - 60.0) * 1000)

        async def command(r: RedisClient) -> tuple[int, int]:
            blocked = await r.pttl(block_key)
            used = await r.zcount(window_key, f"({since_ms}", "+inf")
            return int(blocked), int(used)

        try:
            blocked, used = await self._guard.run(command)
        except RedisDown:
            return await self.fallback.left(account_key, tier)
        if blocked > 0:
            return 0
        return max(0, self._limits[tier].per_minute - used)

    async def block(self, account_key: str, seconds: float) -> None:
        self.fallback.block_now(account_key, seconds)
        key = keys.blocked(self._prefix, account_key)
        millis = max(1, int(seconds * 1000))

        async def command(r: RedisClient) -> object:
            # Never shorten a longer block another process has set.
            current = await r.pttl(key)
            if isinstance(current, int) and current >= millis:
                return None
            return await r.set(key, b"1", px=millis)

        with contextlib.suppress(RedisDown):
            await self._guard.run(command)

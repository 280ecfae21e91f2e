"""The shared outbox: a Redis stream read by a consumer group, for apps with Redis configured.

Every key sits under one hash tag (`<prefix>{kxe-events}:`), so the scripts that touch several
keys run on Redis Cluster. An entry is in exactly one place at a time:

- the stream `outbox`: new, or claimed by a sender (in the group's pending list). A sender that
  dies leaves its entries there; after `lease_s` idle, `XAUTOCLAIM` hands them to another sender;
- the sorted set `retry` (score = when it may go again): after a failure or a Retry-After wait;
  `claim` moves due members back into the stream first.

Sent and failed entries are acknowledged and deleted in one script with their counters. Dedupe
keys are a set per UTC day (`seen:<day>`, expiring after two days); the profile_sync state is a
key per visitor (`profile:<site>:<kx hash>`, 30 days). Counters are hashes per site and hour
(26 h). The cap bounds stream + retry; the oldest stream entries are dropped beyond it, counted.

A Redis that restarts empty loses the consumer group: the first claim that meets `NOGROUP`
creates it again (from the stream's start, so every event appended since is delivered).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from collections import Counter
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ResponseError

from edge.events.outbox import (
    AppendResult,
    Backlog,
    Claimed,
    NewEvent,
    OutboxStats,
    Retry,
    SkipCounts,
    TriggerStats,
    VisitWrite,
)
from edge.events.payload import digest
from edge.events.triggers import Trigger
from edge.fleet.redis_client import RedisClient

GROUP = "senders"
logger = logging.getLogger("kx_edge.events")
EMPTY_EXPERIENCES = digest()
HOUR_S = 3600
_DAY_S = 86_400
_SEEN_TTL_S = 2 * _DAY_S
_PROFILE_TTL_S = 30 * _DAY_S
_COUNTS_TTL_S = 26 * HOUR_S
_KEEP_FAILED = 10_000

# KEYS: stream, retry. ARGV: base, cap, hour. Drops the oldest stream entries beyond the cap.
_CAP = """
local size = redis.call('XLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2])
local excess = size - tonumber(ARGV[2])
if excess <= 0 then return 0 end
local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
for _, entry in ipairs(gone) do
  local f = {}
  for i = 1, #entry[2], 2 do f[entry[2][i]] = entry[2][i + 1] end
  redis.call('XDEL', KEYS[1], entry[1])
  redis.call('HINCRBY', ARGV[1] .. 'pending:' .. f.site, f.trigger, -1)
  local counts = ARGV[1] .. 'counts:' .. f.site .. ':' .. ARGV[3]
  redis.call('HINCRBY', counts, f.trigger .. '|dropped', 1)
  redis.call('EXPIRE', counts, 93600)
end
return #gone
"""

# KEYS: retry, stream. ARGV: now, limit. Moves due retries back into the stream.
_REQUEUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local e = cjson.decode(member)
  redis.call('XADD', KEYS[2], '*', 'site', e.site, 'trigger', e.trigger, 'uid', e.uid, 'body', e.body,
             'profile', e.profile, 'created', e.created, 'attempts', e.attempts)
  redis.call('ZREM', KEYS[1], member)
end
return #due
"""

# KEYS: stream, retry, failed. ARGV: base, group, now, hour, then 6 per event:
# kind (s|f|r), id, site, trigger, reason or retry member, retry score.
_SETTLE = """
local base, group, now, hour = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
for i = 5, #ARGV, 6 do
  local kind, id, site, trigger, text, score = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5]
  redis.call('XACK', KEYS[1], group, id)
  local present = redis.call('XDEL', KEYS[1], id) == 1
  local counts = base .. 'counts:' .. site .. ':' .. hour
  local state = base .. 'state:' .. site
  if kind == 'r' then
    if present then redis.call('ZADD', KEYS[2], tonumber(score), text) end
    local error = cjson.decode(text).error
    if error and error ~= cjson.null then
      redis.call('HSET', state, trigger .. '|last_error', error .. ' (will retry)', trigger .. '|last_error_at', now)
    end
  else
    -- Counted once, also when two senders settle it (the first one's lease had run out).
    if present then
      redis.call('HINCRBY', base .. 'pending:' .. site, trigger, -1)
      redis.call('HINCRBY', counts, trigger .. '|' .. (kind == 's' and 'sent' or 'failed'), 1)
    end
    if kind == 's' then
      redis.call('HSET', state, trigger .. '|last_sent_at', now)
    else
      redis.call('HSET', state, trigger .. '|last_error', text, trigger .. '|last_error_at', now)
      redis.call('LPUSH', KEYS[3], cjson.encode({site = site, trigger = trigger, id = id, reason = text, at = now}))
    end
    redis.call('EXPIRE', counts, 93600)
  end
end
redis.call('LTRIM', KEYS[3], 0, 9999)
return 1
"""


class RedisOutbox:
    backend = "redis"

    def __init__(self, redis: RedisClient, prefix: str, *, cap: int = 100_000, lease_s: float = 30.0) -> None:
        self._redis = redis
        self.base = f"{prefix}{{kxe-events}}:"
        self.cap = cap
        self.lease_s = lease_s
        self.stream = self.base + "outbox"
        self.retry_key = self.base + "retry"
        self.failed_key = self.base + "failed"
        self.consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._group_ready = False
        self._cap = redis.register_script(_CAP)
        self._requeue = redis.register_script(_REQUEUE)
        self._settle = redis.register_script(_SETTLE)

    async def aclose(self) -> None:
        """The Redis client belongs to the app: nothing of ours to close."""

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    # --- writing -----------------------------------------------------------------------------

    async def append(self, visits: Sequence[VisitWrite], skips: SkipCounts, now: float) -> AppendResult:
        await self._ensure_group()
        checks = self._redis.pipeline(transaction=False)
        days: set[int] = set()
        for visit in visits:
            days.add(visit.day)
            for event in visit.events:
                if event.deduplicated:
                    checks.sadd(f"{self.base}seen:{visit.day}", event.unique_id)
            if visit.profile is not None:
                key = f"{self.base}profile:{visit.site_id}:{visit.profile.kx_hash}"
                checks.set(key, visit.profile.experiences_hash, ex=_PROFILE_TTL_S, get=True)
        for day in days:
            checks.expire(f"{self.base}seen:{day}", _SEEN_TTL_S)
        answers = iter(await checks.execute() if len(checks) else [])
        fresh: list[NewEvent] = []
        duplicates = 0
        for visit in visits:
            carried = False
            for event in visit.events:
                if not event.deduplicated or next(answers):
                    fresh.append(event)
                    carried = True
                else:
                    duplicates += 1
            if visit.profile is not None:
                previous = next(answers)
                previous = (
                    previous.decode() if isinstance(previous, bytes) else (previous or EMPTY_EXPERIENCES)
                )
                if previous != visit.profile.experiences_hash and not carried:
                    fresh.append(visit.profile.event)
        hour = int(now // HOUR_S)
        writes = self._redis.pipeline(transaction=False)
        for event in fresh:
            writes.xadd(self.stream, _fields(event))
            writes.hincrby(f"{self.base}pending:{event.site_id}", event.trigger, 1)
        counts: Counter[tuple[str, str]] = Counter()
        for (site_id, trigger, reason), n in skips.items():
            counts[(site_id, f"{trigger}|skipped:{reason}")] += n
        self._add_counts(writes, counts, hour)
        if len(writes):
            await writes.execute()
        dropped = int(await self._cap(keys=[self.stream, self.retry_key], args=[self.base, self.cap, hour]))
        return AppendResult(enqueued=len(fresh), duplicates=duplicates, dropped=dropped)

    def _add_counts(self, pipe: Any, counts: Counter[tuple[str, str]], hour: int) -> None:
        for (site_id, field), n in counts.items():
            key = f"{self.base}counts:{site_id}:{hour}"
            pipe.hincrby(key, field, n)
            pipe.expire(key, _COUNTS_TTL_S)

    # --- sending -----------------------------------------------------------------------------

    async def claim(self, limit: int, now: float) -> list[Claimed]:
        await self._ensure_group()
        try:
            return await self._claim(limit, now)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        # Redis lost the group (it restarted empty, or the stream was deleted): make it again,
        # reading from the stream's start, and claim at once rather than at the next poll.
        logger.warning("the events consumer group was gone from Redis; recreating it")
        self._group_ready = False
        await self._ensure_group()
        return await self._claim(limit, now)

    async def _claim(self, limit: int, now: float) -> list[Claimed]:
        await self._requeue(keys=[self.retry_key, self.stream], args=[now, limit])
        entries: list[Any] = []
        reclaimed = await self._redis.xautoclaim(
            self.stream,
            GROUP,
            self.consumer,
            min_idle_time=int(self.lease_s * 1000),
            start_id="0-0",
            count=limit,
        )
        entries += [e for e in reclaimed[1] if e and e[1]]
        if len(entries) < limit:
            answer: Any = await self._redis.xreadgroup(
                GROUP, self.consumer, {self.stream: ">"}, count=limit - len(entries)
            )
            for _stream, items in answer or []:
                entries += items
        return [_claimed(entry_id, fields) for entry_id, fields in entries]

    async def settle(
        self,
        now: float,
        *,
        sent: Sequence[Claimed] = (),
        failed: Sequence[tuple[Claimed, str]] = (),
        retry: Sequence[Retry] = (),
    ) -> None:
        args: list[Any] = [self.base, GROUP, now, int(now // HOUR_S)]
        for event in sent:
            args += ["s", event.ref, event.site_id, event.trigger, "", 0]
        for event, reason in failed:
            args += ["f", event.ref, event.site_id, event.trigger, reason[:500], 0]
        for item in retry:
            e = item.event
            member = {**_fields(e, e.attempts + (0 if item.error is None else 1)), "error": item.error}
            args += ["r", e.ref, e.site_id, e.trigger, json.dumps(member), item.at]
        if len(args) > 4:
            await self._settle(keys=[self.stream, self.retry_key, self.failed_key], args=args)

    # --- reading and upkeep --------------------------------------------------------------------

    async def seen(self, unique_ids: Sequence[str], day: int) -> set[str]:
        if not unique_ids:
            return set()
        found = await self._redis.smismember(f"{self.base}seen:{day}", list(unique_ids))
        return {uid for uid, hit in zip(unique_ids, found, strict=True) if hit}

    async def stats(self, site_id: str, now: float) -> OutboxStats:
        hour = int(now // HOUR_S)
        pipe = self._redis.pipeline(transaction=False)
        for h in range(hour - 23, hour + 1):
            pipe.hgetall(f"{self.base}counts:{site_id}:{h}")
        pipe.hgetall(f"{self.base}pending:{site_id}")
        pipe.hgetall(f"{self.base}state:{site_id}")
        pipe.xlen(self.stream)
        pipe.zcard(self.retry_key)
        *hours, pending, state, length, retrying = await pipe.execute()
        triggers: dict[str, TriggerStats] = {t.value: TriggerStats() for t in Trigger}
        for bucket in hours:
            for field, n in bucket.items():
                trigger, _, outcome = field.decode().partition("|")
                counts = triggers[Trigger(trigger)].counts
                counts[outcome] = counts.get(outcome, 0) + int(n)
        for trigger, n in pending.items():
            triggers[Trigger(trigger.decode())].pending = max(0, int(n))
        for field, value in state.items():
            trigger, _, name = field.decode().partition("|")
            text = value.decode()
            stats = triggers[Trigger(trigger)]
            if name == "last_sent_at":
                stats.last_sent_at = float(text)
            elif name == "last_error":
                stats.last_error = text
            elif name == "last_error_at":
                stats.last_error_at = float(text)
        return OutboxStats(triggers=triggers, size=int(length) + int(retrying))

    async def forget_site(self, site_id: str, now: float) -> None:
        """The site's pending counts, trigger state and the counters of the hours `stats` reads.
        Older counters expire on their own (26 h); queued stream entries go to the sender, which
        drops them because the site has no connection any more."""
        hour = int(now // HOUR_S)
        keys = [f"{self.base}pending:{site_id}", f"{self.base}state:{site_id}"]
        keys += [f"{self.base}counts:{site_id}:{h}" for h in range(hour - 26, hour + 1)]
        await self._redis.delete(*keys)

    async def backlog(self, now: float) -> Backlog:
        """The stream's entries and the retry set's; the age is the oldest stream entry's (sent
        entries are deleted from the stream, so its first entry is the oldest unsent one)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.xlen(self.stream)
        pipe.zcard(self.retry_key)
        pipe.xrange(self.stream, count=1)
        length, retrying, first = await pipe.execute()
        oldest = None
        if first:
            fields = first[0][1]
            created = fields.get(b"created", fields.get("created"))
            if created is not None:
                oldest = max(0.0, now - float(created))
        return Backlog(int(length) + int(retrying), oldest)

    async def prune(self, now: float) -> None:
        """Dedupe sets, counters and profile states expire by themselves; failed is trimmed."""
        await self._redis.ltrim(self.failed_key, 0, _KEEP_FAILED - 1)


def _fields(event: NewEvent | Claimed, attempts: int = 0) -> dict[Any, Any]:
    """A stream entry's fields (and, with `error`, a retry member's)."""
    created = event.created_at
    return {
        "site": event.site_id, "trigger": str(event.trigger), "uid": event.unique_id,
        "body": event.attributes.decode("utf-8"), "profile": event.profile.decode("utf-8"),
        "created": repr(created), "attempts": str(attempts),
    }  # fmt: skip


def _claimed(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Claimed:
    f = {k.decode(): v.decode() for k, v in fields.items()}
    return Claimed(
        ref=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        site_id=f["site"],
        trigger=Trigger(f["trigger"]),
        unique_id=f["uid"],
        attributes=f["body"].encode("utf-8"),
        profile=f["profile"].encode("utf-8"),
        attempts=int(f["attempts"]),
        created_at=float(f["created"]),
    )

"""`Resolver.resolve`: `_kx` -> the visitor's targeted Klaviyo segments, within a deadline.

Order of lookups: L1 (in-process) -> L2 (Redis) -> the membership index -> Klaviyo. One
resolution per (account, generation, kx) runs at a time: in a process, concurrent callers share one
task; across processes a short Redis lock makes the others wait for the L2 value. The caller waits
at most its deadline; the resolution goes on in the background and fills both caches. A refused
call (budget spent, Retry-After) leaves the visitor pending and queues the resolution. Klaviyo
failures are never cached; "no such profile" is, for `negative_cache_ttl_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType

import httpx
import redis.asyncio as aioredis

from edge.klaviyo import (
    ConnectionRef,
    KlaviyoClient,
    LocalRateGate,
    Refusal,
    Tier,
    TokenSource,
    budget_limits,
    errors,
)
from edge.resolver.budget import FleetRateGate
from edge.resolver.config import ResolverConfig
from edge.resolver.index import MembershipIndex, NoMembershipIndex
from edge.resolver.kx import is_valid_kx
from edge.resolver.l1 import Interner, Kind, L1Cache, Membership
from edge.resolver.l2 import L2Entry, L2Store
from edge.resolver.metrics import ResolverMetrics
from edge.resolver.queue import BackgroundQueue, QueuedResolution
from edge.resolver.redis_guard import RedisBusy, RedisDown, RedisGuard
from edge.resolver.results import (
    Identified,
    Pending,
    PendingReason,
    Resolution,
    ResolutionInfo,
    ResolutionPath,
    Source,
    Unidentified,
    UnidentifiedReason,
    WaitedFor,
)

logger = logging.getLogger("kx_edge.resolver")
Key = tuple[str, int, str]
_REQUEUE = frozenset({PendingReason.BUDGET, PendingReason.RATE_LIMITED})
_PENDING_PIDS_MAX = 50_000


@dataclass(slots=True)
class _Outcome:
    """What one resolution (a shared task) found; turned into a `Resolution` per caller."""

    entry: Membership | None = None
    source: Source = Source.NONE
    pending: PendingReason | None = None
    retry_after_s: float | None = None
    calls: Counter[str] = field(default_factory=Counter)
    waited_for: WaitedFor | None = None
    path: ResolutionPath | None = None
    detail: str | None = None
    # An L2 write failed: keep the lock until it expires, so that no other process repeats
    # Klaviyo calls whose results it cannot see.
    keep_lock: bool = False


class Resolver:
    """One per app, built in the lifespan; `start()` before use, `aclose()` at shutdown.

    `redis` None = embedded mode (L1, local single-flight, local budget). `klaviyo` is the REST
    client sharing this resolver's budget, for the other parts of the app that call Klaviyo.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        config: ResolverConfig | None = None,
        redis: aioredis.Redis | None = None,
        prefix: str = "kxe:",
        index: MembershipIndex | None = None,
        metrics: ResolverMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = cfg = config or ResolverConfig()
        self.metrics = metrics or ResolverMetrics()
        self._clock = clock
        self._guard = RedisGuard(
            redis,
            self.metrics,
            timeout_s=cfg.redis_timeout_s,
            retry_interval_s=cfg.redis_retry_interval_s,
            log_interval_s=cfg.redis_log_interval_s,
            down_after_s=cfg.redis_down_after_s,
        )
        fractions = cfg.budget_fractions
        gate: FleetRateGate | LocalRateGate
        if redis is None:
            gate = LocalRateGate(budget_limits(fractions))
        else:
            fallback = LocalRateGate(budget_limits(fractions, share=cfg.local_budget_share))
            gate = FleetRateGate(self._guard, prefix, budget_limits(fractions), fallback)
        self.gate = gate
        self.klaviyo = KlaviyoClient(
            http,
            tokens,
            gate=gate,
            api_base=cfg.api_base,
            revision=cfg.revision,
            request_timeout_s=cfg.request_timeout_s,
            max_attempts=cfg.max_attempts,
            backoff_base_s=cfg.backoff_base_s,
        )
        self._l1 = L1Cache(cfg.l1_max_entries, clock)
        self._interner = Interner()
        self._l2 = L2Store(self._guard, prefix)
        self._index: MembershipIndex = index or NoMembershipIndex()
        self._inflight: dict[Key, asyncio.Task[_Outcome]] = {}
        self._queue = BackgroundQueue(self._run_queued, self.metrics, max_size=cfg.background_queue_max)
        self._filter_refused: dict[str, float] = {}
        self._pending_pids: dict[Key, str] = {}
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    async def aclose(self) -> None:
        """Stop background work: queued resolutions are dropped, running ones cancelled."""
        self._closed = True
        await self._queue.aclose()
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def l1_size(self) -> int:
        return len(self._l1)

    # --- the request path --------------------------------------------------------------

    async def resolve(
        self,
        conn: ConnectionRef,
        kx: str | None,
        targeted: frozenset[str],
        deadline_s: float | None = None,
    ) -> Resolution:
        """The visitor's targeted segments, or why not (yet). Waits at most `deadline_s`
        (default `resolve_deadline_ms`). `kx` is already decoded: see `parse_kx`."""
        if kx is None:
            return Unidentified(UnidentifiedReason.NO_KX)
        if not is_valid_kx(kx):
            self.metrics.inc("kx_malformed")
            return Unidentified(UnidentifiedReason.MALFORMED_KX)
        entry = self._l1.get(conn.account_id, conn.generation, kx)
        if entry is not None and entry.answers(targeted):
            self.metrics.inc("l1_hit")
            return _answer(entry, targeted, ResolutionInfo(Source.L1, cache_age_s=self._age(entry)))
        if not targeted:
            return Unidentified(UnidentifiedReason.NOTHING_TARGETED)
        self.metrics.inc("l1_miss")
        wait_s = self.config.resolve_deadline_ms / 1000 if deadline_s is None else deadline_s
        loop = asyncio.get_running_loop()
        give_up = loop.time() + wait_s
        key = (conn.account_id, conn.generation, kx)
        for _ in range(3):  # a shared task may have resolved other segments than ours
            task = self._inflight.get(key)
            joined = task is not None
            if task is None:
                if len(self._inflight) >= self.config.max_inflight:
                    self.metrics.inc("background_dropped")
                    return self._count(Pending(None, PendingReason.OVERLOADED))
                task = self._start(conn, kx, targeted)
            else:
                self.metrics.inc("single_flight_join")
            remaining = give_up - loop.time()
            if remaining > 0:
                await asyncio.wait({task}, timeout=remaining)
            if not task.done():
                info = ResolutionInfo(waited_for=WaitedFor.SINGLE_FLIGHT if joined else None)
                return self._count(Pending(None, PendingReason.DEADLINE, info))
            if task.cancelled():
                return self._count(Pending(None, PendingReason.ERROR))
            resolution = self._resolution(task.result(), targeted, joined)
            if resolution is not None:
                return self._count(resolution)
        return self._count(Pending(None, PendingReason.DEADLINE))

    def _resolution(self, out: _Outcome, targeted: frozenset[str], joined: bool) -> Resolution | None:
        info = ResolutionInfo(
            source=out.source,
            klaviyo_calls=MappingProxyType({} if joined else dict(out.calls)),
            waited_for=WaitedFor.SINGLE_FLIGHT if joined else out.waited_for,
            cache_age_s=None if out.entry is None else self._age(out.entry),
            path=out.path,
            detail=out.detail,
        )
        if out.pending is not None:
            retry_ms = None if out.retry_after_s is None else max(1, int(out.retry_after_s * 1000))
            return Pending(retry_ms, out.pending, info)
        if out.entry is None or not out.entry.answers(targeted):
            return None
        return _answer(out.entry, targeted, info)

    def _count(self, resolution: Resolution) -> Resolution:
        if isinstance(resolution, Pending):
            self.metrics.inc(f"pending.{resolution.reason}")
        else:
            self.metrics.inc(type(resolution).__name__.lower())
        return resolution

    def _age(self, entry: Membership) -> float:
        ttl = self.config.negative_cache_ttl_s if entry.kind is Kind.ABSENT else None
        full = ttl or self.config.segment_cache_ttl_s
        return max(0.0, round(full - (entry.expires - self._clock()), 3))

    # --- one resolution ----------------------------------------------------------------

    def _start(self, conn: ConnectionRef, kx: str, targeted: frozenset[str]) -> asyncio.Task[_Outcome]:
        key = (conn.account_id, conn.generation, kx)
        task = asyncio.create_task(self._job(conn, kx, targeted, key), name="kx-resolve")
        self._inflight[key] = task
        return task

    async def _job(self, conn: ConnectionRef, kx: str, targeted: frozenset[str], key: Key) -> _Outcome:
        out = _Outcome()
        try:
            await self._resolve_once(conn, kx, targeted, key, out)
        except Exception:
            logger.exception("segment resolution failed")
            out.pending = PendingReason.ERROR
        finally:
            if self._inflight.get(key) is asyncio.current_task():
                del self._inflight[key]
        if out.pending in _REQUEUE and not self._closed:
            self._queue.offer(QueuedResolution(conn, kx, targeted))
        return out

    async def _resolve_once(
        self, conn: ConnectionRef, kx: str, targeted: frozenset[str], key: Key, out: _Outcome
    ) -> None:
        cfg = self.config
        deadline = time.monotonic() + cfg.background_deadline_s
        base = self._l1.get(conn.account_id, conn.generation, kx)
        if base is not None and base.answers(targeted):
            out.entry, out.source = base, Source.L1
            return
        use_redis = self._guard.available
        profile_id = self._pending_pids.get(key)
        refused = self._filter_refused_here(conn.account_id)
        if use_redis:
            try:
                snapshot = await self._l2.read(conn, kx)
            except RedisBusy:
                out.pending, out.detail = PendingReason.OVERLOADED, "redis busy"
                return
            except RedisDown:
                use_redis = False
            else:
                found = self._fill_from_l2(conn, kx, snapshot.entry, snapshot.ttl_s)
                if found is not None and found.answers(targeted):
                    self.metrics.inc("l2_hit")
                    out.entry, out.source = found, Source.L2
                    return
                self.metrics.inc("l2_miss")
                base = found or base
                profile_id = snapshot.profile_id or profile_id
                refused = refused or snapshot.filter_refused
        if profile_id is not None and await self._from_index(conn, profile_id, targeted, out):
            return

        plan_per_segment = (
            not refused
            and (base is None or base.kind is Kind.PARTIAL)
            and len(_missing(base, targeted)) <= cfg.per_segment_max_segments
        )
        if profile_id is None and base is None:
            first_tier = Tier.PROFILES
        else:
            first_tier = Tier.SEGMENT_MEMBERS if plan_per_segment else Tier.PROFILE_SEGMENTS
        known = self.gate.peek(conn.account_id, first_tier)
        if known is not None:  # refused already: no lock, no Redis budget call
            _refused(out, known)
            return

        token: str | None = None
        if use_redis:
            polled = False
            while True:
                try:
                    token, entry, ttl_s, pid = await self._l2.lock_and_read(conn, kx, cfg.lock_ttl_ms)
                except RedisBusy:
                    out.pending, out.detail = PendingReason.OVERLOADED, "redis busy"
                    return
                except RedisDown:
                    break  # degrade: this process' single-flight only
                profile_id = pid or profile_id
                found = self._fill_from_l2(conn, kx, entry, ttl_s)
                if found is not None and found.answers(targeted):
                    if token is not None:
                        await self._release(conn, kx, token)
                    out.entry, out.source = found, Source.L2
                    return
                base = found or base
                if token is not None:
                    break
                if not polled:
                    polled = True
                    out.waited_for = WaitedFor.LOCK
                    self.metrics.inc("lock_wait")
                if time.monotonic() + cfg.lock_poll_s >= deadline:
                    out.pending, out.detail = PendingReason.DEADLINE, "another process is resolving"
                    return
                await asyncio.sleep(cfg.lock_poll_s)
        try:
            await self._from_klaviyo(conn, kx, targeted, key, base, profile_id, refused, deadline, out)
        finally:
            if token is not None and not out.keep_lock:
                await self._release(conn, kx, token)

    async def _from_klaviyo(
        self,
        conn: ConnectionRef,
        kx: str,
        targeted: frozenset[str],
        key: Key,
        base: Membership | None,
        profile_id: str | None,
        refused: bool,
        deadline: float,
        out: _Outcome,
    ) -> None:
        cfg = self.config
        client = self.klaviyo
        calls = out.calls
        out.source = Source.KLAVIYO
        self.metrics.inc("klaviyo_resolution")
        missing = _missing(base, targeted)
        per_segment = (
            not refused
            and (base is None or base.kind is Kind.PARTIAL)
            and len(missing) <= cfg.per_segment_max_segments
        )
        try:
            if profile_id is None and base is None:
                profile_id = await client.find_profile_id(conn, kx, deadline=deadline, calls=calls)
                if profile_id is None:
                    await self._store(conn, kx, key, Kind.ABSENT, (), None, cfg.negative_cache_ttl_s, out)
                    return
                self._remember_pid(key, profile_id)
                await self._write_pid(conn, kx, profile_id, out)
                if await self._from_index(conn, profile_id, targeted, out):
                    out.source = Source.INDEX
                    return
            if per_segment:
                out.path = ResolutionPath.PER_SEGMENT
                answers = await self._check_segments(conn, kx, missing, deadline, out)
                if answers is not None:
                    members = set(base.members if base else ()) | {s for s, m in answers.items() if m}
                    checked = set(base.checked or () if base else ()) | set(answers)
                    ttl = float(cfg.segment_cache_ttl_s)
                    if base is not None:
                        ttl = min(ttl, base.expires - self._clock())
                    await self._store(conn, kx, key, Kind.PARTIAL, members, checked, ttl, out)
                    return
            out.path = ResolutionPath.PROFILE
            if profile_id is None:
                profile_id = await client.find_profile_id(conn, kx, deadline=deadline, calls=calls)
                if profile_id is None:
                    await self._store(conn, kx, key, Kind.ABSENT, (), None, cfg.negative_cache_ttl_s, out)
                    return
                self._remember_pid(key, profile_id)
            segment_ids = await client.profile_segment_ids(conn, profile_id, deadline=deadline, calls=calls)
            await self._store(
                conn, kx, key, Kind.FULL, segment_ids, None, cfg.segment_cache_ttl_s, out,
                profile_id=profile_id,
            )  # fmt: skip
        except errors.NotFound:
            # The profile was deleted since its id was cached: the visitor is unknown now.
            self._pending_pids.pop(key, None)
            await self._write_pid(conn, kx, None, out)
            await self._store(conn, kx, key, Kind.ABSENT, (), None, cfg.negative_cache_ttl_s, out)
        except (errors.CallRefused, errors.RateLimited) as exc:
            throttled = not isinstance(exc, errors.BudgetExhausted)
            _refused(out, Refusal(exc.retry_after_s or 1.0, throttled=throttled))
        except errors.TokenUnavailable as exc:
            out.pending, out.detail = PendingReason.TOKEN_UNAVAILABLE, str(exc)
        except errors.Unauthorized as exc:
            out.pending, out.detail = PendingReason.UNAUTHORIZED, str(exc)
        except errors.KlaviyoError as exc:
            out.pending, out.detail = PendingReason.KLAVIYO_ERROR, f"{exc.code}: {exc}"

    async def _check_segments(
        self,
        conn: ConnectionRef,
        kx: str,
        segment_ids: frozenset[str],
        deadline: float,
        out: _Outcome,
    ) -> dict[str, bool] | None:
        """Per-segment `_kx` checks, concurrently. None = Klaviyo refused the filter (400): the
        account uses the profile path from now on."""
        ordered = sorted(segment_ids)
        results = await asyncio.gather(
            *(self.klaviyo.segment_has_kx(conn, s, kx, deadline=deadline, calls=out.calls) for s in ordered),
            return_exceptions=True,
        )
        answers: dict[str, bool] = {}
        failure: BaseException | None = None
        for segment_id, result in zip(ordered, results, strict=True):
            if isinstance(result, bool):
                answers[segment_id] = result
            elif isinstance(result, errors.NotFound):
                answers[segment_id] = False  # the segment is gone: nobody is in it
            elif isinstance(result, errors.BadRequest):
                await self._remember_filter_refused(conn.account_id)
                return None
            elif failure is None:
                failure = result
        if failure is not None:
            raise failure
        return answers

    async def _from_index(
        self, conn: ConnectionRef, profile_id: str, targeted: frozenset[str], out: _Outcome
    ) -> bool:
        """Answer from the synced index when it knows every targeted segment (not cached)."""
        index = self._index
        if not index.enabled:
            return False
        members = []
        for segment_id in targeted:
            known = await index.lookup(conn.account_id, conn.generation, segment_id, profile_id)
            if known is None:
                return False
            if known:
                members.append(segment_id)
        now = self._clock()
        out.entry = Membership(
            conn.account_id, conn.generation, Kind.PARTIAL, frozenset(members), targeted, now
        )
        out.source = Source.INDEX
        return True

    # --- caches --------------------------------------------------------------------------

    def _fill_from_l2(
        self, conn: ConnectionRef, kx: str, entry: L2Entry | None, ttl_s: float | None
    ) -> Membership | None:
        """An L2 entry as an L1 value, stored in L1 with what is left of its TTL."""
        if entry is None or ttl_s is None:
            return None
        try:
            kind = Kind(entry.kind)
        except ValueError:
            return None
        now = self._clock()
        value = self._interner.membership(
            conn.account_id, conn.generation, kind, entry.members, entry.checked, now + ttl_s, now
        )
        if value.expires > now:
            self._l1.put(kx, value)
        return value

    async def _store(
        self,
        conn: ConnectionRef,
        kx: str,
        key: Key,
        kind: Kind,
        members: frozenset[str] | set[str] | tuple[()],
        checked: set[str] | None,
        ttl_s: float,
        out: _Outcome,
        *,
        profile_id: str | None = None,
    ) -> None:
        now = self._clock()
        value = self._interner.membership(
            conn.account_id, conn.generation, kind, members, checked, now + ttl_s, now
        )
        self._l1.put(kx, value)
        self._pending_pids.pop(key, None)
        out.entry = value
        entry = L2Entry(int(kind), sorted(value.members), None if checked is None else sorted(checked))
        try:
            await self._l2.write(
                conn, kx, entry, ttl_s,
                profile_id=profile_id, profile_id_ttl_s=self.config.profile_id_cache_ttl_s,
            )  # fmt: skip
        except RedisDown:
            out.keep_lock = True

    async def _write_pid(self, conn: ConnectionRef, kx: str, profile_id: str | None, out: _Outcome) -> None:
        try:
            await self._l2.write_profile_id(conn, kx, profile_id, self.config.profile_id_cache_ttl_s)
        except RedisDown:
            out.keep_lock = True

    def _remember_pid(self, key: Key, profile_id: str) -> None:
        # Kept until membership is cached, so a retry after a refusal skips the profile lookup
        # even without Redis.
        if len(self._pending_pids) >= _PENDING_PIDS_MAX:
            self._pending_pids.clear()
        self._pending_pids[key] = profile_id

    async def _release(self, conn: ConnectionRef, kx: str, token: str) -> None:
        with contextlib.suppress(RedisDown):  # else it expires by itself after lock_ttl_ms
            await self._l2.release_lock(conn, kx, token)

    def _filter_refused_here(self, account_id: str) -> bool:
        until = self._filter_refused.get(account_id)
        if until is None:
            return False
        if until <= self._clock():
            del self._filter_refused[account_id]
            return False
        return True

    async def _remember_filter_refused(self, account_id: str) -> None:
        ttl = self.config.filter_refusal_ttl_s
        self._filter_refused[account_id] = self._clock() + ttl
        self.metrics.inc("filter_refused")
        logger.warning("klaviyo refused the per-segment _kx filter; using the profile path")
        with contextlib.suppress(RedisDown):
            await self._l2.remember_filter_refused(account_id, ttl)

    async def forget_account(self, account_id: str) -> None:
        """Drop every cached membership of an account, in L1 and L2 (on disconnect)."""
        self._l1.forget_account(account_id)
        with contextlib.suppress(RedisDown):
            await self._l2.forget_account(account_id)

    # --- the background queue ------------------------------------------------------------

    async def _run_queued(self, item: QueuedResolution) -> float | None:
        conn, kx, targeted = item.conn, item.kx, item.targeted
        cached = self._l1.get(conn.account_id, conn.generation, kx)
        if cached is not None and cached.answers(targeted):
            return None
        key = (conn.account_id, conn.generation, kx)
        task = self._inflight.get(key) or self._start(conn, kx, targeted)
        await asyncio.wait({task})
        if task.cancelled():
            return None
        out = task.result()
        if out.pending in _REQUEUE:
            return out.retry_after_s if out.retry_after_s is not None else 1.0
        return None


def _missing(base: Membership | None, targeted: frozenset[str]) -> frozenset[str]:
    if base is None or base.checked is None:
        return targeted
    return targeted - base.checked


def _refused(out: _Outcome, refusal: Refusal) -> None:
    out.pending = PendingReason.RATE_LIMITED if refusal.throttled else PendingReason.BUDGET
    out.retry_after_s = refusal.retry_after_s


def _answer(entry: Membership, targeted: frozenset[str], info: ResolutionInfo) -> Resolution:
    if entry.kind is Kind.ABSENT:
        return Unidentified(UnidentifiedReason.NOT_FOUND, info)
    return Identified(entry.members & targeted, info)

"""One resolution as an explicit chain: L1 -> L2 -> synced index -> Klaviyo.

`Chain.run` tries each step in turn; a step either settles the resolution (the `Outcome` is
final) or adds what it learnt to `Known` (a per-visit answer to extend, one to fall back on, the
profile id, the account's filter flag) and hands over:

1. `l1`: this process' membership and profile id. Answers when its value is usable.
2. `l2`: Redis, one round trip. Answers when its value is usable; a busy Redis is `overloaded`.
3. the budget, once: `plan` picks Klaviyo's cheapest path for what is known (a profile lookup
   first, per-segment checks, or the profile's segments) and a refusal this process already
   holds for its first tier ends the chain before any lock or budget call.
4. `lock`: the fleet-wide resolution lock (Redis). While another process holds it, its L2 value
   is polled until the deadline.
5. `klaviyo`: the plan, as HTTP calls; it is chosen again from what is known after the lock,
   because the lock's read may have brought a newer per-visit answer to extend.

The synced index answers from any step at which a profile id is known while the index covers
the targeted segments (`_index`): after L1, after L2, under the lock, after a profile lookup.
A per-visit answer that the index made stale is kept as the fallback and served when the index
cannot answer after all, or when Klaviyo cannot be asked now.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from edge.resolver.budget import FleetRateGate
from edge.resolver.caches import Caches
from edge.resolver.config import ResolverConfig
from edge.resolver.index import MembershipIndex
from edge.resolver.l1 import Kind, Membership
from edge.resolver.metrics import ResolverMetrics
from edge.resolver.outcome import Outcome, missing, usable
from edge.resolver.redis_guard import RedisBusy, RedisDown, RedisGuard
from edge.resolver.results import PendingReason, ResolutionPath, Source, WaitedFor
from klaviyo import ConnectionRef, KlaviyoClient, LocalRateGate, Refusal, Tier, errors

logger = logging.getLogger("kx_edge.resolver")


@dataclass(slots=True)
class Known:
    """What the chain knows about the visitor so far."""

    stamp: int | None  # the index's stamp while it may answer, else None
    base: Membership | None = None  # a per-visit answer to extend (never an index answer)
    fallback: Membership | None = None  # a per-visit answer for every targeted segment
    profile_id: str | None = None
    filter_refused: bool = False  # Klaviyo refused the per-segment filter for this account

    def learn(self, entry: Membership | None, targeted: frozenset[str], *, as_fallback: bool = True) -> None:
        """A cached value that could not answer on its own: the base to extend, and the
        fallback when it knows every targeted segment (L1's and L2's plain reads)."""
        if entry is None or entry.stamp is not None:
            return  # an index answer under an older stamp is no base for per-visit answers
        self.base = entry
        if as_fallback and self.fallback is None and entry.answers(targeted):
            self.fallback = entry


@dataclass(frozen=True, slots=True)
class Plan:
    """Klaviyo's cheapest path for what is known: `find_profile` first when the profile id is
    needed and unknown, then per-segment checks or the profile's segments."""

    find_profile: bool
    per_segment: bool

    @property
    def first_tier(self) -> Tier:
        if self.find_profile:
            return Tier.PROFILES
        return Tier.SEGMENT_MEMBERS if self.per_segment else Tier.PROFILE_SEGMENTS


def plan(known: Known, targeted: frozenset[str], per_segment_max: int) -> Plan:
    base = known.base
    per_segment = (
        not known.filter_refused
        and (base is None or base.kind is Kind.PARTIAL)
        and len(missing(base, targeted)) <= per_segment_max
    )
    # The profile id is needed first when nothing is cached yet (to cache "not found" without
    # a membership call) or when the index may answer once it is known.
    find_profile = known.profile_id is None and (base is None or known.stamp is not None)
    return Plan(find_profile, per_segment)


class Chain:
    """One resolution of (conn, kx) for `targeted`, filling `out`. Built per resolution."""

    def __init__(
        self,
        *,
        conn: ConnectionRef,
        kx: str,
        targeted: frozenset[str],
        config: ResolverConfig,
        caches: Caches,
        guard: RedisGuard,
        index: MembershipIndex,
        gate: FleetRateGate | LocalRateGate,
        klaviyo: KlaviyoClient,
        metrics: ResolverMetrics,
        stamp: int | None,
    ) -> None:
        self.conn, self.kx, self.targeted = conn, kx, targeted
        self.config = config
        self.caches = caches
        self.guard = guard
        self.index = index
        self.gate = gate
        self.client = klaviyo
        self.metrics = metrics
        self.known = Known(stamp)
        self.out = Outcome()
        self.deadline = time.monotonic() + config.background_deadline_s
        self.use_redis = guard.available

    async def run(self) -> Outcome:
        if await self.l1() or await self.l2():
            return self.out
        chosen = plan(self.known, self.targeted, self.config.per_segment_max_segments)
        refusal = self.gate.peek(self.conn.account_id, chosen.first_tier)
        if refusal is not None:  # refused already: no lock, no Redis budget call
            if self.known.fallback is not None:
                self.out.answered(self.known.fallback, Source.L1)
            else:
                self.out.refused(refusal)
            return self.out
        settled, token = await self.lock()
        if settled:
            return self.out
        try:
            await self.klaviyo()
        finally:
            if token is not None and not self.out.keep_lock:
                await self.caches.release(self.conn, self.kx, token)
        if self.out.pending is not None and self.known.fallback is not None:
            self.out.pending, self.out.retry_after_s, self.out.detail = None, None, None
            self.out.answered(self.known.fallback, Source.L1)
        return self.out

    # --- the steps: True when the resolution is settled ------------------------------------

    async def l1(self) -> bool:
        conn, known = self.conn, self.known
        entry = self.caches.l1.get(conn.account_id, conn.generation, self.kx)
        if self._answers(entry, Source.L1):
            return True
        known.learn(entry, self.targeted)
        known.profile_id = self.caches.profile_id(conn, self.kx)
        known.filter_refused = self.caches.filter_refused_here(conn.account_id)
        return await self._index_or_fallback()

    async def l2(self) -> bool:
        if not self.use_redis:
            return False
        conn, known = self.conn, self.known
        try:
            snapshot = await self.caches.l2.read(conn, self.kx)
        except RedisBusy:
            self.out.pending, self.out.detail = PendingReason.OVERLOADED, "redis busy"
            return True
        except RedisDown:
            self.use_redis = False
            return False
        found = self.caches.fill_from_l2(conn, self.kx, snapshot.entry, snapshot.ttl_s)
        if self._answers(found, Source.L2):
            self.metrics.inc("l2_hit")
            return True
        self.metrics.inc("l2_miss")
        known.learn(found, self.targeted)
        self._learn_profile_id(snapshot.profile_id)
        known.filter_refused = known.filter_refused or snapshot.filter_refused
        return await self._index_or_fallback()

    async def lock(self) -> tuple[bool, str | None]:
        """(settled, the lock's token). Settled while waiting: another process' value, the
        index, a busy Redis, the deadline. No token without Redis: this process' single flight
        only."""
        if not self.use_redis:
            return False, None
        conn, kx, known, cfg = self.conn, self.kx, self.known, self.config
        polled = False
        while True:
            try:
                token, entry, ttl_s, pid = await self.caches.l2.lock_and_read(conn, kx, cfg.lock_ttl_ms)
            except RedisBusy:
                self.out.pending, self.out.detail = PendingReason.OVERLOADED, "redis busy"
                return True, None
            except RedisDown:
                return False, None  # degrade: this process' single flight only
            self._learn_profile_id(pid)
            found = self.caches.fill_from_l2(conn, kx, entry, ttl_s)
            if self._answers(found, Source.L2):
                if token is not None:
                    await self.caches.release(conn, kx, token)
                return True, None
            if known.stamp is not None and known.profile_id is not None:
                if token is not None:
                    await self.caches.release(conn, kx, token)
                if await self._index_or_fallback():
                    return True, None
                continue  # the index could not answer: take the lock again for Klaviyo
            known.learn(found, self.targeted, as_fallback=False)
            if token is not None:
                return False, token
            if not polled:
                polled = True
                self.out.waited_for = WaitedFor.LOCK
                self.metrics.inc("lock_wait")
            if time.monotonic() + cfg.lock_poll_s >= self.deadline:
                self.out.pending, self.out.detail = PendingReason.DEADLINE, "another process is resolving"
                return True, None
            await asyncio.sleep(cfg.lock_poll_s)

    async def klaviyo(self) -> None:
        """Klaviyo by the plan; every failure becomes a pending reason, never a cached miss."""
        conn, kx, known, out, cfg = self.conn, self.kx, self.known, self.out, self.config
        caches, calls, deadline = self.caches, out.calls, self.deadline
        out.source = Source.KLAVIYO
        self.metrics.inc("klaviyo_resolution")
        chosen = plan(known, self.targeted, cfg.per_segment_max_segments)
        try:
            if chosen.find_profile:
                known.profile_id = await self._find_profile()
                if known.profile_id is None:
                    return
                await caches.write_profile_id(conn, kx, known.profile_id, out)
                if await self._index():
                    return
                out.source = Source.KLAVIYO
            if chosen.per_segment and await self._per_segment():
                return
            out.path = ResolutionPath.PROFILE
            profile_id = known.profile_id
            if profile_id is None:
                profile_id = known.profile_id = await self._find_profile()
                if profile_id is None:
                    return
                caches.keep_profile_id(conn, kx, profile_id)
            segment_ids = await self.client.profile_segment_ids(
                conn, profile_id, deadline=deadline, calls=calls
            )
            await caches.store(
                conn, kx, Kind.FULL, segment_ids, None, cfg.segment_cache_ttl_s, out, profile_id=profile_id
            )
        except errors.NotFound:
            # The profile was deleted since its id was cached: the visitor is unknown now.
            await caches.write_profile_id(conn, kx, None, out)
            await self._store_absent()
        except (errors.CallRefused, errors.RateLimited) as exc:
            throttled = not isinstance(exc, errors.BudgetExhausted)
            out.refused(Refusal(exc.retry_after_s or 1.0, throttled=throttled))
        except errors.TokenUnavailable as exc:
            out.pending, out.detail = PendingReason.TOKEN_UNAVAILABLE, str(exc)
        except errors.Unauthorized as exc:
            out.pending, out.detail = PendingReason.UNAUTHORIZED, str(exc)
        except errors.KlaviyoError as exc:
            out.pending, out.detail = PendingReason.KLAVIYO_ERROR, f"{exc.code}: {exc}"

    # --- helpers ---------------------------------------------------------------------------

    def _answers(self, entry: Membership | None, source: Source) -> bool:
        if entry is not None and entry.answers(self.targeted) and usable(entry, self.known.stamp):
            self.out.answered(entry, source)
            return True
        return False

    def _learn_profile_id(self, profile_id: str | None) -> None:
        if profile_id is not None and self.known.profile_id is None:
            self.known.profile_id = profile_id
            self.caches.keep_profile_id(self.conn, self.kx, profile_id)

    async def _index_or_fallback(self) -> bool:
        """The index's answer when it may give one; else the fallback once the index is out."""
        if await self._index():
            return True
        if self.known.fallback is not None and self.known.stamp is None:
            self.out.answered(self.known.fallback, Source.L1)
            return True
        return False

    async def _index(self) -> bool:
        """Answer from the synced index (memoised in L1 under its stamp) when it covers the
        targeted segments and the profile id is known. When it cannot answer, it is out of the
        chain for this resolution (`stamp` None)."""
        known = self.known
        if known.stamp is None or known.profile_id is None:
            return False
        try:
            members = await self.index.members(self.conn.account_id, self.targeted, known.profile_id)
        except Exception:
            logger.exception("the membership index failed")
            members = None
        if members is None:
            self.metrics.inc("index_unavailable")
            known.stamp = None
            return False
        entry = self.caches.store_index_answer(self.conn, self.kx, members, self.targeted, known.stamp)
        self.out.answered(entry, Source.INDEX)
        return True

    async def _find_profile(self) -> str | None:
        """The profile id by `_kx`; None (and "not found" cached) when there is none."""
        found = await self.client.find_profile_id(
            self.conn, self.kx, deadline=self.deadline, calls=self.out.calls
        )
        if found is None:
            await self._store_absent()
        return found

    async def _per_segment(self) -> bool:
        """Per-segment `_kx` checks for the segments not known yet; False when Klaviyo refused
        the filter (the profile path follows)."""
        known, out, cfg = self.known, self.out, self.config
        out.path = ResolutionPath.PER_SEGMENT
        base = known.base
        answers = await self._check_segments(missing(base, self.targeted))
        if answers is None:
            return False
        members = set(base.members if base else ()) | {s for s, m in answers.items() if m}
        checked = set(base.checked or () if base else ()) | set(answers)
        ttl = float(cfg.segment_cache_ttl_s)
        if base is not None:
            ttl = min(ttl, base.expires - self.caches.now())
        await self.caches.store(self.conn, self.kx, Kind.PARTIAL, members, checked, ttl, out)
        return True

    async def _check_segments(self, segment_ids: frozenset[str]) -> dict[str, bool] | None:
        """Concurrent checks. None = Klaviyo refused the filter (400): the account uses the
        profile path from now on."""
        ordered = sorted(segment_ids)
        results = await asyncio.gather(
            *(
                self.client.segment_has_kx(
                    self.conn, s, self.kx, deadline=self.deadline, calls=self.out.calls
                )
                for s in ordered
            ),
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
                await self.caches.remember_filter_refused(self.conn.account_id)
                return None
            elif failure is None:
                failure = result
        if failure is not None:
            raise failure
        return answers

    async def _store_absent(self) -> None:
        await self.caches.store(
            self.conn, self.kx, Kind.ABSENT, (), None, self.config.negative_cache_ttl_s, self.out
        )

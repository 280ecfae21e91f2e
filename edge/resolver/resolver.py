"""`Resolver.resolve`: `_kx` -> the visitor's targeted Klaviyo segments, within a deadline.

Order of lookups: L1 (in-process) -> L2 (Redis) -> the membership index -> Klaviyo, as the
explicit chain of `chain.py`, one step after the other. One resolution per (account,
generation, kx) runs at a time: in a process, concurrent callers share one
task; across processes a short Redis lock makes the others wait for the L2 value. The caller waits
at most its deadline; the resolution goes on in the background and fills both caches. A refused
call (budget spent, Retry-After) leaves the visitor pending and queues the resolution. Klaviyo
failures are never cached; "no such profile" is, for `negative_cache_ttl_s`.

When the synced index covers every targeted segment (`index.py`), a visitor costs its profile id
(in-process and L2, 30 days; one 75/s call the first time) and the index answers; such answers
are memoised in L1 under the index's stamp only, never frozen into the 24 h membership cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import MappingProxyType

import httpx

from edge.bounded import BoundedMap
from edge.fleet.redis_client import RedisClient
from edge.resolver.budget import FleetRateGate
from edge.resolver.caches import Caches
from edge.resolver.chain import Chain
from edge.resolver.config import ResolverConfig
from edge.resolver.index import MembershipIndex, NoMembershipIndex
from edge.resolver.kx import is_valid_kx
from edge.resolver.l1 import Kind, Membership
from edge.resolver.metrics import ResolverMetrics
from edge.resolver.outcome import Outcome, answer
from edge.resolver.queue import BackgroundQueue, QueuedResolution
from edge.resolver.redis_guard import RedisGuard
from edge.resolver.results import (
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
from klaviyo import (
    ConnectionRef,
    KlaviyoClient,
    LocalRateGate,
    TokenSource,
    budget_limits,
)

logger = logging.getLogger("kx_edge.resolver")
Key = tuple[str, int, str]
_REQUEUE = frozenset({PendingReason.BUDGET, PendingReason.RATE_LIMITED})
_INDEX_INFO = ResolutionInfo(Source.INDEX, path=ResolutionPath.INDEX)
_L1_INFO = ResolutionInfo(Source.L1)
_MAX_HIT_ANSWERS = 4096  # (cached value, targeted set) pairs


class Resolver:
    """One per app, built in the lifespan; `start()` before use, `aclose()` at shutdown.

    `redis` None = embedded mode (L1, local single-flight, local budget). `klaviyo` is the REST
    client sharing this resolver's budget, for the other parts of the app that call Klaviyo;
    `gate` is that budget (the segment sync takes its calls from it, visitors first).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        config: ResolverConfig | None = None,
        redis: RedisClient | None = None,
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
        self._caches = Caches(cfg, self._guard, prefix, self.metrics, clock)
        self._l1 = self._caches.l1
        self.index: MembershipIndex = index or NoMembershipIndex()
        self._inflight: dict[Key, asyncio.Task[Outcome]] = {}
        self._hit_answers: BoundedMap[tuple[Membership, frozenset[str]], Resolution] = BoundedMap(
            _MAX_HIT_ANSWERS
        )
        self._queue = BackgroundQueue(self._run_queued, self.metrics, max_size=cfg.background_queue_max)
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

    @property
    def profile_ids_cached(self) -> int:
        return len(self._caches.pids)

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
        # Only valid `_kx` values are ever cached, so a hit needs no second validation.
        entry = self._l1_answer(conn, kx, targeted)
        if entry is not None:
            self.metrics.counters["l1_hit"] += 1
            if entry.stamp is not None:
                return answer(entry, targeted, _INDEX_INFO)
            return answer(entry, targeted, ResolutionInfo(Source.L1, cache_age_s=self._age(entry)))
        if not is_valid_kx(kx):
            self.metrics.inc("kx_malformed")
            return Unidentified(UnidentifiedReason.MALFORMED_KX)
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

    def cached(self, conn: ConnectionRef, kx: str, targeted: frozenset[str]) -> Resolution | None:
        """`resolve` when L1 answers (no I/O, no await), else None; without the cache age.

        For the storefront's hot path. Cached values are shared between visitors (see
        `l1.Interner`), so the answer for each (value, targeted) pair is built once and shared too;
        a shared answer also keeps one segment set, whose hash Python caches.
        """
        entry = self._l1_answer(conn, kx, targeted)
        if entry is None:
            return None
        self.metrics.counters["l1_hit"] += 1
        key = (entry, targeted)
        known = self._hit_answers.get(key)
        if known is None:
            info = _INDEX_INFO if entry.stamp is not None else _L1_INFO
            known = answer(entry, targeted, info)
            self._hit_answers.put(key, known)
        return known

    def _stamp(self, conn: ConnectionRef, targeted: frozenset[str]) -> int | None:
        index = self.index
        return index.stamp(conn.account_id, targeted) if index.enabled and targeted else None

    def _l1_answer(self, conn: ConnectionRef, kx: str, targeted: frozenset[str]) -> Membership | None:
        """The L1 value that may answer for `targeted` now, if any."""
        entry = self._l1.get(conn.account_id, conn.generation, kx)
        if entry is None or not entry.answers(targeted):
            return None
        if entry.kind is not Kind.ABSENT and entry.stamp != self._stamp(conn, targeted):
            return None
        return entry

    def _resolution(self, out: Outcome, targeted: frozenset[str], joined: bool) -> Resolution | None:
        entry = out.entry
        info = ResolutionInfo(
            source=out.source,
            klaviyo_calls=MappingProxyType({} if joined else dict(out.calls)),
            waited_for=WaitedFor.SINGLE_FLIGHT if joined else out.waited_for,
            cache_age_s=None if entry is None or entry.stamp is not None else self._age(entry),
            path=out.path,
            detail=out.detail,
        )
        if out.pending is not None:
            retry_ms = None if out.retry_after_s is None else max(1, int(out.retry_after_s * 1000))
            return Pending(retry_ms, out.pending, info)
        if out.entry is None or not out.entry.answers(targeted):
            return None
        return answer(out.entry, targeted, info)

    def _count(self, resolution: Resolution) -> Resolution:
        if isinstance(resolution, Pending):
            self.metrics.inc(f"pending.{resolution.reason}")
        else:
            self.metrics.inc(type(resolution).__name__.lower())
            if resolution.info.source is Source.INDEX:
                self.metrics.inc("index_answer")
        return resolution

    def _age(self, entry: Membership) -> float:
        ttl = self.config.negative_cache_ttl_s if entry.kind is Kind.ABSENT else None
        full = ttl or self.config.segment_cache_ttl_s
        return max(0.0, round(full - (entry.expires - self._clock()), 3))

    # --- one resolution ----------------------------------------------------------------

    def _start(self, conn: ConnectionRef, kx: str, targeted: frozenset[str]) -> asyncio.Task[Outcome]:
        key = (conn.account_id, conn.generation, kx)
        task = asyncio.create_task(self._job(conn, kx, targeted, key), name="kx-resolve")
        self._inflight[key] = task
        return task

    def chain(self, conn: ConnectionRef, kx: str, targeted: frozenset[str]) -> Chain:
        """One resolution's steps (see `chain.py`), for `_job` and for testing a step alone."""
        return Chain(
            conn=conn, kx=kx, targeted=targeted, config=self.config, caches=self._caches,
            guard=self._guard, index=self.index, gate=self.gate, klaviyo=self.klaviyo,
            metrics=self.metrics, stamp=self._stamp(conn, targeted),
        )  # fmt: skip

    async def _job(self, conn: ConnectionRef, kx: str, targeted: frozenset[str], key: Key) -> Outcome:
        chain = self.chain(conn, kx, targeted)
        try:
            out = await chain.run()
        except Exception:
            logger.exception("segment resolution failed")
            out = chain.out
            out.pending = PendingReason.ERROR
        finally:
            if self._inflight.get(key) is asyncio.current_task():
                del self._inflight[key]
        if out.pending in _REQUEUE and not self._closed:
            self._queue.offer(QueuedResolution(conn, kx, targeted))
        return out

    async def forget_account(self, account_id: str) -> None:
        """Drop every cached membership and profile id of an account, in L1 and L2 (on disconnect)."""
        self._hit_answers.clear()
        await self._caches.forget_account(account_id)

    # --- the background queue ------------------------------------------------------------

    async def _run_queued(self, item: QueuedResolution) -> float | None:
        conn, kx, targeted = item.conn, item.kx, item.targeted
        if self._l1_answer(conn, kx, targeted) is not None:
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

"""From the storefront to the outbox: the observer (on the request path) and the flusher (not).

`EventsObserver.observed` runs after every answered assignment. It does only what cannot wait:
a set lookup (does this site use triggers?), a dict lookup (is this a return visit with the same
decision, by value, already planned today?) and an append of the visit to an in-memory buffer.
`Flusher` wakes when the buffer fills, waits `interval_s` so one transaction carries many
visits, plans each visit (`plan.py`), drops what this process already enqueued today, builds
the payloads and appends them to the outbox in one write.

Durability (a group commit): the answer to a visit that was buffered waits until the write that
carries it has committed. `observed` returns the buffer's batch future; the storefront awaits it
before it answers. The flusher writes whenever visits are waiting and it is not already writing,
so the visits that arrive during one write go together in the next: under load batches grow by
themselves, and a first visit's answer waits for one or two outbox writes (SQLite: a commit in
WAL mode; Redis: a pipeline; PostgreSQL: a round trip and a commit). A return visit with the
same decision buffers nothing and waits for nothing. The wait is bounded (`durable_wait_s`): an
outbox that stalls (another process holding SQLite's write lock, Redis or PostgreSQL failing over)
lets the answer go, counted in `answered_before_durable`, and the visit is written when the
outbox answers (lost only if the process is killed meanwhile). A hard kill (SIGKILL, OOM) after
an answer therefore loses none of its events; a normal shutdown (SIGTERM -> lifespan shutdown ->
`Events.aclose`) flushes what is buffered. The buffer is bounded: when the outbox cannot be
written for long, the oldest visits are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from edge.bounded import BoundedMap
from edge.events.outbox import AppendResult, NewEvent, Outbox, ProfileWrite, VisitWrite
from edge.events.payload import (
    IsoTimes,
    digest,
    encode,
    event_attributes,
    event_profile,
    experience_properties,
    profile_sync_properties,
)
from edge.events.plan import DAY_S, SkipReason, Visit, plan_visit, unique_id
from edge.events.switches import SwitchBook
from edge.events.triggers import Trigger
from edge.sites.runtime import SiteRuntime
from edge.storefront.identity import VisitorIdentity
from targeting import SiteDecision

logger = logging.getLogger("kx_edge.events")
SkipKey = tuple[str, str, str]  # (site, trigger, reason)
DEDUPLICATED = frozenset({Trigger.SAW_PERSONALIZATION})
"""Triggers whose events the outbox keeps once per unique_id (per UTC day) across workers and
restarts: saw_personalization, which fires on every page view. A test entry fires once by itself
(`first_assignment`); a repeat (a visitor who lost their token) carries the same unique_id and
Klaviyo keeps one. Sparing that write halves the outbox's cost per event."""


class EventsObserver:
    """The `AssignObserver` of event triggers: quick, never blocks, never raises."""

    def __init__(
        self,
        switches: SwitchBook,
        *,
        clock: Callable[[], float] = time.time,
        buffer_max: int = 50_000,
        flush_at: int = 512,
    ) -> None:
        self._switches = switches
        self._clock = clock
        self.buffer_max = buffer_max
        self._flush_at = flush_at
        self.buffer: deque[Visit] = deque()
        self.wake = asyncio.Event()
        self.overflow = 0  # visits dropped because the buffer was full
        self.owner: object | None = None  # the `Events` it feeds (how routes find it)
        # Set while the flusher runs (`Events.start`): how long an answer waits for its write.
        self.durable_wait_s: float | None = None
        self.answered_before_durable = 0  # answers the bound let go before their write
        self._batch: asyncio.Future[bool] | None = None  # done when the buffered visits are written
        # (site, visitor, kx) -> (decision, UTC day, switches generation) last planned.
        self._handled: BoundedMap[tuple[str, str, str | None], tuple[SiteDecision, int, int]] = BoundedMap(
            100_000
        )

    def observed(
        self,
        runtime: SiteRuntime,
        visitor_id: str,
        who: VisitorIdentity,
        decision: SiteDecision,
        url: str | None,
    ) -> asyncio.Future[bool] | None:
        """Buffer the visit when it may produce events; then return what the answer should
        await: done (True) once the visit is in the outbox, or (False) after `durable_wait_s`."""
        site_id = runtime.site.id
        if site_id not in self._switches.active:
            return None
        at = self._clock()
        done = self._handled.get((site_id, visitor_id, who.kx))
        if (
            done is not None
            and done[0] == decision
            and done[1] == int(at // DAY_S)
            and done[2] == self._switches.generation
        ):
            return None  # a return visit with the same decision, already planned today
        buffer = self.buffer
        if len(buffer) >= self.buffer_max:
            buffer.popleft()
            self.overflow += 1
        buffer.append(Visit(runtime, visitor_id, who.kx, decision, url, at))
        size = len(buffer)
        if size == 1 or size == self._flush_at:
            self.wake.set()
        return self._durable()

    def _durable(self) -> asyncio.Future[bool] | None:
        if self.durable_wait_s is None:
            return None
        batch = self._batch
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._batch = loop.create_future()
            loop.call_later(self.durable_wait_s, self._let_go, batch)
        # Shielded: a client that goes away cancels its own wait, never the batch's.
        return asyncio.shield(batch)

    def _let_go(self, batch: asyncio.Future[bool]) -> None:
        if not batch.done():
            batch.set_result(False)
            self.answered_before_durable += 1

    def handled(self, visit: Visit, day: int, generation: int) -> None:
        """The flusher planned `visit`: the same visitor, `_kx` and decision (compared by value)
        again would produce nothing new today under the same switches, so `observed` may skip it."""
        self._handled.put(
            (visit.runtime.site.id, visit.visitor_id, visit.kx), (visit.decision, day, generation)
        )

    def take(self) -> tuple[list[Visit], asyncio.Future[bool] | None]:
        """The buffered visits and the future their answers wait on (resolve it once written)."""
        batch, self._batch = self._batch, None
        if not self.buffer:
            return [], batch
        taken = list(self.buffer)
        self.buffer.clear()
        return taken, batch


class Flusher:
    def __init__(
        self,
        observer: EventsObserver,
        switches: SwitchBook,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.time,
        interval_s: float = 0.02,
        recent_max: int = 200_000,
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self._observer = observer
        self._switches = switches
        self._outbox = outbox
        self._clock = clock
        self._interval_s = interval_s
        self._on_enqueued = on_enqueued
        self._day = -1
        # Keys rather than unique ids: a visit already enqueued today costs no hashing.
        self._enqueued_today: BoundedMap[tuple[str, str, str, Trigger], bool] = BoundedMap(recent_max)
        self._skipped_today: BoundedMap[tuple[str, str, str, Trigger, SkipReason], bool] = BoundedMap(
            recent_max
        )
        self._profiles: BoundedMap[str, str] = BoundedMap(
            recent_max
        )  # kx hash -> experiences hash last written
        self._times = IsoTimes()
        self._unwritten: list[VisitWrite] = []
        self._unwritten_skips: Counter[SkipKey] = Counter()
        self._unwritten_waiters: list[asyncio.Future[bool]] = []
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Flush whenever visits arrive, until `stop`. Never cancelled mid-write: an outbox write
        that runs on in its thread while being retried here would enqueue events twice."""
        wake = self._observer.wake
        while not self._stopping.is_set():
            await wake.wait()
            if self._interval_s > 0:
                with contextlib.suppress(TimeoutError):  # gather visits for interval_s, unless stopping
                    await asyncio.wait_for(self._stopping.wait(), self._interval_s)
            wake.clear()
            try:
                await self.flush()
            except Exception:
                logger.exception("writing events to the outbox failed; kept in memory, retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 0.5)
                wake.set()

    def stop(self) -> None:
        """Let `run` finish its current write, flush once more and return."""
        self._stopping.set()
        self._observer.wake.set()

    async def flush(self) -> AppendResult:
        """Write every buffered visit's events to the outbox now (one outbox write)."""
        visits, batch = self._observer.take()
        writes, skips, waiters = self._unwritten, self._unwritten_skips, self._unwritten_waiters
        self._unwritten, self._unwritten_skips, self._unwritten_waiters = [], Counter(), []
        if batch is not None:
            waiters.append(batch)
        for visit in visits:
            self._prepare(visit, writes, skips)
        if not writes and not skips:
            _written(waiters)
            return AppendResult()
        try:
            result = await self._outbox.append(writes, skips, self._clock())
        except BaseException:
            self._keep(writes, skips, waiters)
            raise
        _written(waiters)
        if result.enqueued:
            self._on_enqueued()
        return result

    def _keep(
        self, writes: list[VisitWrite], skips: Counter[SkipKey], waiters: list[asyncio.Future[bool]]
    ) -> None:
        excess = len(writes) - self._observer.buffer_max
        if excess > 0:
            writes = writes[excess:]
            self._observer.overflow += excess
        # Answers still waiting keep waiting (their bound lets them go): the next write is theirs.
        self._unwritten, self._unwritten_skips = writes, skips
        self._unwritten_waiters = [w for w in waiters if not w.done()]

    def _prepare(self, visit: Visit, writes: list[VisitWrite], skips: Counter[SkipKey]) -> None:
        runtime = visit.runtime
        site_id = runtime.site.id
        day = int(visit.at // DAY_S)
        if day != self._day:
            self._day = day
            self._enqueued_today.clear()
            self._skipped_today.clear()
        generation = self._switches.generation
        plan = plan_visit(visit, self._switches.get(site_id))
        self._observer.handled(visit, day, generation)
        for skip in plan.skips:
            key = (site_id, visit.visitor_id, skip.experience_id, skip.trigger, skip.reason)
            if key not in self._skipped_today:
                self._skipped_today.put(key, True)
                skips[(site_id, skip.trigger, skip.reason.value)] += 1
        if not plan.candidates and plan.experiences is None:
            return
        experiences = plan.experiences
        profile_json = encode(event_profile(visit.kx, experiences)) if visit.kx is not None else b""
        events: list[NewEvent] = []
        for candidate in plan.candidates:
            decision = candidate.decision
            enqueued = (site_id, visit.visitor_id, decision.experience_id, candidate.trigger)
            if enqueued in self._enqueued_today:
                continue
            self._enqueued_today.put(enqueued, True)
            uid = unique_id(site_id, visit.visitor_id, decision.experience_id, candidate.trigger, day)
            properties = experience_properties(
                decision, runtime.experiences.get(decision.experience_id), runtime.site.name, visit.url
            )
            events.append(self._event(visit, candidate.trigger, uid, properties, profile_json))
        profile: ProfileWrite | None = None
        if experiences is not None and visit.kx is not None:
            kx_hash, experiences_hash = digest(site_id, visit.kx), digest(*experiences)
            if self._profiles.get(kx_hash) != experiences_hash:
                self._profiles.put(kx_hash, experiences_hash)
                change = f"{experiences_hash}@{int(visit.at * 1000)}"
                uid = unique_id(site_id, visit.visitor_id, change, Trigger.PROFILE_SYNC, day)
                properties = profile_sync_properties(experiences, runtime.site.name, visit.url)
                event = self._event(visit, Trigger.PROFILE_SYNC, uid, properties, profile_json)
                profile = ProfileWrite(kx_hash, experiences_hash, event)
        if events or profile is not None:
            writes.append(VisitWrite(site_id, day, tuple(events), profile))

    def _event(
        self, visit: Visit, trigger: Trigger, uid: str, properties: dict[str, Any], profile: bytes
    ) -> NewEvent:
        time_text = self._times(visit.at)
        attributes = encode(event_attributes(trigger, unique_id=uid, time=time_text, properties=properties))
        return NewEvent(
            visit.runtime.site.id, trigger, uid, attributes, profile, visit.at,
            deduplicated=trigger in DEDUPLICATED,
        )  # fmt: skip


def _written(waiters: list[asyncio.Future[bool]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(True)

"""The sync of one Klaviyo account, as one worker sees it: holder of the account's lease or not.

Every tick (`tick_s`, or at once when woken) the worker renews or tries the lease and refreshes
its copy of the account's segment records (from Redis, or from the process). The holder also
reads the account's targets and starts the passes that are due (at most `max_concurrent` run
at once; never-synced segments first) and drops the segments nobody targets any more (index
freed, Redis keys deleted, record forgotten). A worker that loses the lease cancels its passes;
their fenced writes could not land anyway.

`stamp` and `members` serve the resolver (`edge.resolver.index`): the stamp is this process's
version of the account's records, bumped whenever a segment's contents or usability changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from edge.resolver.metrics import ResolverMetrics
from edge.resolver.redis_guard import RedisDown
from edge.sync.config import SyncConfig
from edge.sync.lease import LocalLease, RedisLease
from edge.sync.passes import PassContext, Store, run_pass
from edge.sync.records import Pass, SegmentRecord, SegmentState
from edge.sync.targets import AccountTargets, TargetBoard
from klaviyo import KlaviyoClient

logger = logging.getLogger("kx_edge.sync")
_MAX_REMEMBERED_STAMPS = 256  # distinct targeted-segment sets; a site has one per config version


@dataclass(frozen=True, slots=True)
class AccountDeps:
    """What every account's sync shares, built once by `SegmentSync`."""

    config: SyncConfig
    store: Store
    board: TargetBoard
    client: KlaviyoClient
    clock: Callable[[], float]
    metrics: ResolverMetrics
    next_version: Callable[[], int]


class AccountSync:
    def __init__(self, account_id: str, deps: AccountDeps, lease: LocalLease | RedisLease) -> None:
        self.account_id = account_id
        self._deps = deps
        self._lease = lease
        self.holding = False
        self.records: dict[str, SegmentRecord] = {}
        self.version = deps.next_version()
        self._stamps: dict[frozenset[str], tuple[int, float]] = {}  # segment set -> (stamp, good until)
        self._fingerprint: dict[str, tuple[SegmentState, int]] = {}
        self._passes: dict[str, tuple[asyncio.Task[None], PassContext]] = {}
        self._slots = asyncio.Semaphore(deps.config.max_concurrent)
        self.idle = False  # the holder found nothing targeted and dropped everything

    # --- for the resolver ------------------------------------------------------------------

    def stamp(self, segment_ids: frozenset[str]) -> int | None:
        """Runs on every identified request: the answer is remembered per segment set until the
        records change or the oldest full sync among them ages out."""
        now = self._deps.clock()
        known = self._stamps.get(segment_ids)
        if known is not None and now < known[1]:
            return known[0]
        max_age = self._deps.config.max_age_s
        records = self.records
        good_until = float("inf")
        for segment_id in segment_ids:
            record = records.get(segment_id)
            if record is None or not record.usable(now, max_age):
                return None
            assert record.full_at is not None  # usable() checked it
            good_until = min(good_until, record.full_at + max_age)
        if len(self._stamps) >= _MAX_REMEMBERED_STAMPS:
            self._stamps.clear()
        self._stamps[segment_ids] = (self.version, good_until)
        return self.version

    async def members(self, segment_ids: frozenset[str], profile_id: str) -> frozenset[str] | None:
        if self.stamp(segment_ids) is None:
            return None
        return await self._deps.store.members(self.account_id, segment_ids, profile_id)

    # --- one tick ------------------------------------------------------------------------------

    async def step(self) -> None:
        held = await self._lease.hold()
        changed = held != self.holding
        if changed:
            self._deps.metrics.inc("sync.lease_acquired" if held else "sync.lease_lost")
            logger.info(
                "segment sync of account %s %s", self.account_id, "taken over here" if held else "lost"
            )
            if not held:
                await self._cancel_passes()
        self.holding = held
        # The holder's own (fenced) writes are the truth while it holds the lease: a read racing
        # one of its passes' writes must not bring an older record back.
        if not held or changed:
            await self.refresh()
        if held:
            targets = await self._deps.board.targets(self.account_id)
            if targets is not None:
                await self._schedule(targets)

    async def refresh(self) -> None:
        try:
            records = await self._deps.store.read_records(self.account_id)
        except RedisDown:
            return  # keep the last copy: stamps still age out by the clock
        self._install(records)

    def _install(self, records: dict[str, SegmentRecord]) -> None:
        fingerprint = {s: (r.state, r.data_version) for s, r in records.items()}
        if fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            self.version = self._deps.next_version()
        self.records = records
        self._stamps = {}

    async def _publish(self, segment_id: str, record: SegmentRecord) -> bool:
        written = await self._deps.store.write_record(self.account_id, segment_id, record, self._lease.token)
        if written:
            self._install({**self.records, segment_id: record})
        return written

    async def _schedule(self, targets: AccountTargets) -> None:
        deps = self._deps
        for segment_id in sorted(set(self.records) | set(self._passes)):
            if segment_id not in targets.segments:
                await self._drop(segment_id)
        self.idle = not targets.segments
        conn = targets.conn
        if conn is None:
            return
        now = deps.clock()
        due: list[tuple[bool, str, Pass, SegmentRecord]] = []
        for segment_id in targets.segments:
            if segment_id in self._passes:
                continue
            record = self.records.get(segment_id) or SegmentRecord()
            kind = record.due(now, deps.config)
            if kind is not None:
                due.append((record.state is SegmentState.FRESH, segment_id, kind, record))
            elif record.running is not None:  # left by a holder that died mid-pass
                await self._publish(segment_id, msgspec.structs.replace(record, running=None))
        for _, segment_id, kind, record in sorted(due, key=lambda d: (d[0], d[1])):
            ctx = PassContext(
                self.account_id, conn, deps.client, deps.store, deps.config, deps.clock, deps.metrics,
                self._lease.token, functools.partial(self._publish, segment_id),
            )  # fmt: skip
            task = asyncio.create_task(self._run(ctx, segment_id, kind, record), name=f"kx-sync-{segment_id}")
            self._passes[segment_id] = (task, ctx)
            task.add_done_callback(functools.partial(self._finished, segment_id))

    async def _run(self, ctx: PassContext, segment_id: str, kind: Pass, record: SegmentRecord) -> None:
        async with self._slots:
            try:
                await run_pass(ctx, segment_id, kind, record)
            except RedisDown as exc:
                logger.warning("segment sync of %s stopped: Redis failed (%s)", segment_id, exc)
            except Exception:
                logger.exception("segment sync of %s failed", segment_id)

    def _finished(self, segment_id: str, task: asyncio.Task[None]) -> None:
        running = self._passes.get(segment_id)
        if running is not None and running[0] is task:
            del self._passes[segment_id]

    async def _drop(self, segment_id: str) -> None:
        """No site targets the segment any more: free its index and forget it."""
        running = self._passes.pop(segment_id, None)
        if running is not None:
            await _stop([running])
        try:
            await self._deps.store.drop(self.account_id, segment_id, self._lease.token, forget=True)
        except RedisDown:
            return  # next tick
        self._deps.metrics.inc("sync.dropped")
        records = dict(self.records)
        records.pop(segment_id, None)
        self._install(records)

    @property
    def running(self) -> frozenset[str]:
        return frozenset(self._passes)

    async def _cancel_passes(self) -> None:
        running = list(self._passes.values())
        self._passes.clear()
        await _stop(running)

    async def aclose(self) -> None:
        """Stop: cancel the passes, and give the lease up so another worker takes over at once."""
        await self._cancel_passes()
        if self.holding:
            self.holding = False
            with contextlib.suppress(Exception):
                await self._lease.release()


async def _stop(running: list[tuple[asyncio.Task[None], PassContext]]) -> None:
    """Stop passes: mark them stopped (checked before every request) and cancel them, again
    while one lingers, since a cancellation can be swallowed mid-request (see `passes.py`)."""
    pending = set()
    for task, ctx in running:
        ctx.stopped = True
        pending.add(task)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)

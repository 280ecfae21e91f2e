"""One sync pass over one segment: full (every member, swapped in at the end) or incremental
(members who joined since the previous pass, added in place).

Pages are read one after another, `page[size]=100`, oldest `joined_group_at` first, following
`links.next`. Every request takes its call from the shared budget through a `ReservedGate`: when
it is refused (visitors' reserve reached, or Klaviyo's Retry-After) the pass waits as long as the
refusal says and asks again, so it never competes with visitors and never draws a 429 on purpose.
Transient failures (5xx, timeouts) retry the same page with backoff, `page_attempts` times.

A pass also stops when its context is marked `stopped`, checked before every request: httpx can
swallow a task cancellation that lands while it reads a response, so cancelling alone does not
reliably stop a loop of requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import msgspec

from edge.resolver.metrics import ResolverMetrics
from edge.sync.config import SyncConfig
from edge.sync.local_store import LocalStore
from edge.sync.records import Pass, SegmentRecord, SegmentState
from edge.sync.redis_store import RedisStore
from klaviyo import ConnectionRef, KlaviyoClient, errors

Store = LocalStore | RedisStore
Publish = Callable[[SegmentRecord], Awaitable[bool]]


class TooLarge(Exception):
    def __init__(self, seen: int) -> None:
        super().__init__(f"more than {seen - 1} members")
        self.seen = seen


@dataclass(slots=True)
class PassContext:
    """What a pass needs: the account's client and store, and how to publish a record (fenced by
    the lease: False means this worker no longer syncs the account, so the pass stops)."""

    account_id: str
    conn: ConnectionRef
    client: KlaviyoClient
    store: Store
    config: SyncConfig
    clock: Callable[[], float]
    metrics: ResolverMetrics
    fence: str | None
    publish: Publish
    stopped: bool = False

    def check(self) -> None:
        if self.stopped:
            raise asyncio.CancelledError("the pass was stopped")


class LeaseLost(Exception):
    """A fenced write was refused: another worker syncs this account now."""


async def member_pages(
    ctx: PassContext, segment_id: str, joined_after: float | None
) -> AsyncIterator[list[str]]:
    """The segment's member ids, page by page, waiting for the budget as needed."""
    cfg, metrics = ctx.config, ctx.metrics
    next_url: str | None = None
    failures = 0
    while True:
        ctx.check()
        try:
            page = await ctx.client.segment_members_page(
                ctx.conn,
                segment_id,
                next_url=next_url,
                joined_after=joined_after,
                page_size=cfg.page_size,
                deadline=time.monotonic() + cfg.request_timeout_s,
            )
        except (errors.CallRefused, errors.RateLimited) as exc:
            metrics.inc("sync.budget_wait")
            await asyncio.sleep(max(0.01, exc.retry_after_s or 1.0))
            continue
        except (errors.KlaviyoUnavailable, errors.DeadlineExceeded):
            failures += 1
            if failures >= cfg.page_attempts:
                raise
            metrics.inc("sync.page_retry")
            await asyncio.sleep(min(30.0, cfg.page_retry_base_s * 2**failures))
            continue
        ctx.check()
        failures = 0
        metrics.inc("sync.pages")
        metrics.inc("sync.members_read", len(page.profile_ids))
        yield page.profile_ids
        if page.next_url is None:
            return
        next_url = page.next_url


async def _publish(ctx: PassContext, record: SegmentRecord) -> SegmentRecord:
    if not await ctx.publish(record):
        raise LeaseLost
    return record


def _replace(record: SegmentRecord, **changes: object) -> SegmentRecord:
    return msgspec.structs.replace(record, **changes)


async def full_pass(ctx: PassContext, segment_id: str, record: SegmentRecord) -> SegmentRecord:
    """Read every member into a new index and swap it in; the record as published."""
    cfg = ctx.config
    started = ctx.clock()
    record = await _publish(ctx, _replace(record, running=Pass.FULL, progress=0))
    write = ctx.store.begin_full(ctx.account_id, segment_id, ctx.fence)
    seen = 0
    try:
        pages = 0
        async for ids in member_pages(ctx, segment_id, None):
            seen += len(ids)
            if seen > cfg.max_members:
                raise TooLarge(seen)
            await write.add(ids)
            pages += 1
            if pages % cfg.progress_every_pages == 0:
                await _publish(ctx, _replace(record, progress=seen))
        size = await write.commit()
    except BaseException:
        await write.abort()
        raise
    if size is None:
        raise LeaseLost
    ctx.metrics.inc("sync.full_ok")
    return await _publish(
        ctx,
        _replace(
            record,
            state=SegmentState.FRESH,
            members=size,
            full_at=started,
            incremental_at=started,
            watermark=started - cfg.overlap_s,
            data_version=record.data_version + 1,
            running=None,
            progress=0,
            failures=0,
            retry_at=None,
        ),
    )


async def incremental_pass(ctx: PassContext, segment_id: str, record: SegmentRecord) -> SegmentRecord:
    """Add the members who joined since the previous pass (removals wait for a full sync)."""
    cfg = ctx.config
    started = ctx.clock()
    since = record.watermark
    if since is None:
        since = (record.full_at or started) - cfg.overlap_s
    added = 0
    async for ids in member_pages(ctx, segment_id, since):
        added += await ctx.store.add(ctx.account_id, segment_id, ids)
        if record.members + added > cfg.max_members:
            raise TooLarge(record.members + added)
    ctx.metrics.inc("sync.incremental_ok")
    ctx.metrics.inc("sync.members_added", added)
    return await _publish(
        ctx,
        _replace(
            record,
            members=record.members + added,
            incremental_at=started,
            watermark=started - cfg.overlap_s,
            data_version=record.data_version + (1 if added else 0),
            failures=0,
            retry_at=None,
        ),
    )


async def run_pass(ctx: PassContext, segment_id: str, kind: Pass, record: SegmentRecord) -> None:
    """Run one pass and record how it ended; a pass that fails leaves an index that is still
    usable in place (until 24 h after its last full sync) and retries with backoff."""
    cfg, now = ctx.config, ctx.clock
    try:
        if kind is Pass.FULL:
            await full_pass(ctx, segment_id, record)
        else:
            await incremental_pass(ctx, segment_id, record)
    except LeaseLost:
        ctx.metrics.inc("sync.lease_lost_in_pass")
    except TooLarge as exc:
        ctx.metrics.inc("sync.too_large")
        await ctx.store.drop(ctx.account_id, segment_id, ctx.fence, forget=False)
        await ctx.publish(
            _replace(
                record,
                state=SegmentState.TOO_LARGE,
                members=exc.seen,
                data_version=record.data_version + 1,
                running=None,
                progress=0,
                error=f"too_large: more than {cfg.max_members} members; not synced (per-visit resolution)",
                error_at=now(),
                retry_at=now() + cfg.max_age_s,
            )
        )
    except errors.NotFound:
        ctx.metrics.inc("sync.segment_gone")
        await ctx.store.drop(ctx.account_id, segment_id, ctx.fence, forget=False)
        await ctx.publish(
            _replace(
                record,
                state=SegmentState.ERROR,
                members=0,
                data_version=record.data_version + 1,
                running=None,
                progress=0,
                error="segment_not_found: Klaviyo answered 404 (deleted?); dropped from the index",
                error_at=now(),
                failures=record.failures + 1,
                retry_at=now() + cfg.interval_s,
            )
        )
    except errors.KlaviyoError as exc:
        ctx.metrics.inc(f"sync.{kind}_failed")
        failures = record.failures + 1
        backoff = min(cfg.retry_max_s, cfg.retry_base_s * 2 ** (failures - 1))
        state = record.state if record.state is SegmentState.FRESH else SegmentState.ERROR
        await ctx.publish(
            _replace(
                record,
                state=state,
                running=None,
                progress=0,
                error=f"{exc.code}: {exc}"[:300],
                error_at=now(),
                failures=failures,
                retry_at=now() + backoff,
            )
        )

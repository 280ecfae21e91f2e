"""Resolutions waiting for budget: bounded, one drain loop per account, oldest first.

A visitor whose resolution was refused (budget spent, Retry-After) is queued once; the account's
loop retries the head when the refusal runs out, so the budget is spent as soon as it refills and
never faster. Work past `max_size` is dropped and counted: the visitor's next request queues it
again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from edge.resolver.metrics import ResolverMetrics
from klaviyo import ConnectionRef

logger = logging.getLogger("kx_edge.resolver")


@dataclass(frozen=True, slots=True)
class QueuedResolution:
    conn: ConnectionRef
    kx: str
    targeted: frozenset[str]

    @property
    def key(self) -> Hashable:
        return (self.conn.account_id, self.conn.generation, self.kx)


# Runs one queued resolution: None when it is settled, else seconds until it may be retried.
Runner = Callable[[QueuedResolution], Awaitable[float | None]]


class BackgroundQueue:
    def __init__(
        self,
        run: Runner,
        metrics: ResolverMetrics,
        *,
        max_size: int,
        min_wait_s: float = 0.02,
        max_wait_s: float = 30.0,
    ) -> None:
        self._run = run
        self._metrics = metrics
        self._max = max_size
        self._min_wait = min_wait_s
        self._max_wait = max_wait_s
        self._queues: dict[str, deque[QueuedResolution]] = {}
        self._queued: set[Hashable] = set()
        self._drains: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def __len__(self) -> int:
        return len(self._queued)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._queued

    def offer(self, item: QueuedResolution) -> bool:
        """Queue `item` unless it is queued already; False when it had to be dropped."""
        if item.key in self._queued:
            return True
        if self._closed or len(self._queued) >= self._max:
            self._metrics.inc("background_dropped")
            return False
        account = item.conn.account_id
        self._queues.setdefault(account, deque()).append(item)
        self._queued.add(item.key)
        self._metrics.inc("background_queued")
        if account not in self._drains:
            self._drains[account] = asyncio.create_task(
                self._drain(account), name=f"kx-resolver-drain-{account}"
            )
        return True

    async def _drain(self, account: str) -> None:
        queue = self._queues[account]
        try:
            while queue:
                item = queue[0]
                try:
                    wait = await self._run(item)
                except Exception:
                    logger.exception("queued resolution failed")
                    wait = None
                if wait is None:
                    queue.popleft()
                    self._queued.discard(item.key)
                    continue
                await asyncio.sleep(min(self._max_wait, max(self._min_wait, wait)))
        finally:
            self._drains.pop(account, None)
            if not queue:
                self._queues.pop(account, None)

    async def aclose(self) -> None:
        self._closed = True
        drains = list(self._drains.values())
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)
        self._queues.clear()
        self._queued.clear()

"""The group commit of conversions: a conversion is acknowledged once its transaction committed.

`ConversionWriter.submit` queues a conversion and returns a future; one task writes whatever is
queued in one transaction (`SqlResultsStore.record_conversions`), so under load batches grow by
themselves and each request waits for about one commit. The future resolves to whether the
conversion was a duplicate, or fails with the store's error: the caller then answers 503 and
the client may send it again (an order id counts once however often it comes). The queue is
bounded (`max_queued`): beyond it a conversion is refused at once (503), never dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from edge.store.results import Conversion, SqlResultsStore

logger = logging.getLogger("kx_edge.results")
MAX_BATCH = 500


class WriterFull(Exception):
    """More conversions wait than the writer keeps."""


class ConversionWriter:
    def __init__(
        self, store: SqlResultsStore, *, clock: Callable[[], float] = time.time, max_queued: int = 10_000
    ) -> None:
        self._store = store
        self._clock = clock
        self.max_queued = max_queued
        self._queue: list[tuple[Conversion, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self.written = 0

    def submit(self, conversion: Conversion) -> asyncio.Future[bool]:
        if len(self._queue) >= self.max_queued or self._stopping:
            raise WriterFull
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((conversion, future))
        self._wake.set()
        return future

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._write(self._queue[:MAX_BATCH])
            if self._stopping:
                return

    def stop(self) -> None:
        """Write what is queued, then end `run`."""
        self._stopping = True
        self._wake.set()

    async def _write(self, batch: list[tuple[Conversion, asyncio.Future[bool]]]) -> None:
        del self._queue[: len(batch)]
        try:
            duplicates = await self._store.record_conversions([c for c, _ in batch], self._clock())
        except Exception as failed:
            logger.warning("writing conversions failed", extra={"conversions": len(batch)})
            for _, future in batch:
                if not future.done():
                    future.set_exception(failed)
                    future.exception()  # retrieved here: a caller that left raises no warning
            return
        self.written += len(batch)
        for (_, future), duplicate in zip(batch, duplicates, strict=True):
            if not future.done():
                future.set_result(duplicate)

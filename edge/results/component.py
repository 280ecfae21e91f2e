"""Results for one app: the exposure counter (an assign observer), its flusher, the conversion
writer; started and stopped by the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib

from edge.results.counting import CountFlusher, ExposureCounter
from edge.results.writer import ConversionWriter
from edge.services import Services


class Results:
    def __init__(self, svc: Services) -> None:
        self.enabled = svc.settings.results_enabled
        self.counter = ExposureCounter(clock=svc.clock)
        self.flusher = CountFlusher(
            self.counter, svc.results_store, interval_s=svc.settings.results_flush_interval_s
        )
        self.writer = ConversionWriter(svc.results_store, clock=svc.clock)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.flusher.run(), name="kx-edge results counts"),
            asyncio.create_task(self.writer.run(), name="kx-edge results conversions"),
        ]

    async def aclose(self) -> None:
        """Write what is counted and queued (SIGTERM loses nothing), then stop."""
        self.flusher.stop()
        self.writer.stop()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)


def build_results(svc: Services) -> Results:
    """Build results and plug them into `svc` (the counter observes assignments when enabled)."""
    results = Results(svc)
    svc.conversions = results.writer
    if results.enabled:
        svc.assign_observers.append(results.counter)
    return results

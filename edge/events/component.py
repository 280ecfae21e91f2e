"""`Events`: event triggers as one component the app builds in its lifespan and wires in.

    events = build_events(svc)
    svc.assign_observers.append(events.observer)     # visits -> in-memory buffer
    svc.events_scope_hooks.append(events.uses_events)  # connect asks for events:write
    await events.start()                             # flusher, sender, upkeep
    ...
    await events.aclose()                            # flush, release claims, stop

Routes (`edge.config_api.triggers`) find the component through `events_of(svc)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from edge.connect.link import ManagedTokens
from edge.events.api import EventsApi
from edge.events.budget import EventsBudget
from edge.events.observer import EventsObserver, Flusher
from edge.events.outbox import AppendResult, Outbox
from edge.events.payload import digest
from edge.events.sender import ConnectionLookup, Sender, SenderConfig
from edge.events.switches import SwitchBook
from edge.events.triggers import Trigger
from edge.services import Services
from edge.settings import Settings
from edge.store.database import Database
from edge.store.outbox import SqlOutbox
from edge.store.switches import SqlSwitchStore

logger = logging.getLogger("kx_edge.events")


@dataclass(frozen=True, slots=True)
class EventsConfig:
    outbox_max: int = 100_000  # pending events per app; the oldest are dropped beyond it
    buffer_max: int = 50_000  # visits held in memory while the outbox cannot be written
    flush_interval_s: float = 0.0  # > 0: gather visits this long before each write (answers wait too)
    durable_wait_s: float = 0.1  # an answer waits this long at most for its events' write; 0: never
    flush_at: int = 512
    lease_s: float = 30.0  # a claimed event goes out again this long after its sender died
    send: bool = True  # False: enqueue only (another process sends)
    use_redis: bool = True  # with Redis configured, the outbox is a Redis stream
    sender: SenderConfig = field(default_factory=SenderConfig)
    budget_fraction: float = 0.8  # of Klaviyo's event rate limits
    budget_share: float | None = None  # this process's share; None: 1 / settings.worker_processes
    request_timeout_s: float = 10.0
    switches_refresh_s: float = 1.0
    prune_interval_s: float = 600.0


class Events:
    def __init__(
        self,
        *,
        switches: SwitchBook,
        outbox: Outbox,
        observer: EventsObserver,
        flusher: Flusher,
        sender: Sender | None,
        connections: ConnectionLookup,
        config: EventsConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.switches = switches
        self.outbox = outbox
        self.observer = observer
        self.flusher = flusher
        self.sender = sender
        self.connections = connections
        self.config = config
        self.clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._closed = False
        observer.owner = self

    async def start(self) -> None:
        """Start the flusher, the sender (unless `send` is off) and the upkeep loop."""
        if self._tasks or self._flushing is not None:
            return
        await self.switches.refresh()
        self._flushing = asyncio.create_task(self.flusher.run(), name="kx-edge events flusher")
        self.observer.durable_wait_s = self.config.durable_wait_s or None
        if self.sender is not None:
            self._spawn(self.sender.run(), "kx-edge events sender")
        self._spawn(self._upkeep(), "kx-edge events upkeep")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    async def aclose(self) -> None:
        """Stop: write what is buffered, give claimed events back, close the outbox. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.observer.durable_wait_s = None  # answers from now on do not wait
        if self._flushing is not None:
            self.flusher.stop()
            with contextlib.suppress(Exception):
                await self._flushing
            self._flushing = None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await self.flusher.flush()
        except Exception:
            logger.exception("could not write the last buffered events to the outbox")
        if self.sender is not None:
            with contextlib.suppress(Exception):
                await self.sender.release_in_flight()
        await self.outbox.aclose()

    async def flush(self) -> AppendResult:
        """Write buffered visits to the outbox now (tests, shutdown)."""
        return await self.flusher.flush()

    async def forget_site(self, site_id: str) -> None:
        """A deleted site: what the outbox keeps for it outside the store's tables."""
        await self.outbox.forget_site(site_id, self.clock())

    async def uses_events(self, site_id: str) -> bool:
        """For `Services.events_scope_hooks`: any trigger on, so connect asks for events:write."""
        return (await self.switches.read(site_id)).any

    async def _upkeep(self) -> None:
        last_prune = 0.0
        while True:
            await asyncio.sleep(self.config.switches_refresh_s)
            try:
                await self.switches.refresh()
                if time.monotonic() - last_prune >= self.config.prune_interval_s:
                    last_prune = time.monotonic()
                    await self.outbox.prune(self.clock())
            except Exception:
                logger.exception("event trigger upkeep failed; trying again")


def events_config(settings: Settings) -> EventsConfig:
    """The component's configuration from the app's settings (the rest: defaults)."""
    return EventsConfig(lease_s=settings.events_lease_s, durable_wait_s=settings.events_durable_wait_s)


def build_events(svc: Services, config: EventsConfig | None = None) -> Events:
    """The component for an app's services. Sends only when Klaviyo is configured."""
    config = config or events_config(svc.settings)
    switches = SwitchBook(SqlSwitchStore(svc.database), clock=svc.clock)
    outbox = _outbox(svc, config)
    observer = EventsObserver(
        switches, clock=svc.clock, buffer_max=config.buffer_max, flush_at=config.flush_at
    )
    sender: Sender | None = None
    if config.send and svc.klaviyo is not None:
        api = EventsApi(
            svc.http,
            ManagedTokens(svc.klaviyo.tokens),
            EventsBudget(fraction=config.budget_fraction, share=_share(config, svc)),
            api_base=svc.settings.klaviyo_api_base,
            revision=svc.settings.klaviyo_revision,
            timeout_s=config.request_timeout_s,
        )
        sender = Sender(outbox, api, svc.connections.get, config.sender, clock=svc.clock)
    flusher = Flusher(
        observer,
        switches,
        outbox,
        clock=svc.clock,
        interval_s=config.flush_interval_s,
        on_enqueued=sender.wake if sender is not None else lambda: None,
    )
    return Events(
        switches=switches,
        outbox=outbox,
        observer=observer,
        flusher=flusher,
        sender=sender,
        connections=svc.connections.get,
        config=config,
        clock=svc.clock,
    )


def _share(config: EventsConfig, svc: Services) -> float:
    # Every worker runs a sender; together they stay within the account's budget.
    if config.budget_share is not None:
        return config.budget_share
    return 1.0 / max(1, svc.settings.worker_processes)


def sql_outbox(db: Database, *, cap: int = 100_000, lease_s: float = 30.0) -> SqlOutbox:
    """The outbox in the app's database (either backend), for every trigger."""
    return SqlOutbox(
        db, triggers=[t.value for t in Trigger], empty_experiences=digest(), cap=cap, lease_s=lease_s
    )


def _outbox(svc: Services, config: EventsConfig) -> Outbox:
    if svc.redis is not None and config.use_redis:
        from edge.events.redis_outbox import RedisOutbox

        return RedisOutbox(
            svc.redis, svc.settings.redis_prefix, cap=config.outbox_max, lease_s=config.lease_s
        )
    return sql_outbox(svc.database, cap=config.outbox_max, lease_s=config.lease_s)


async def replace_events(svc: Services, config: EventsConfig) -> Events:
    """Stop and unhook the app's component, if it has one, and wire a new one built with
    `config` in its place (tests and benchmarks that need other timings). Not started."""
    existing = events_of(svc)
    if existing is not None:
        await existing.aclose()
        svc.assign_observers.remove(existing.observer)
        if existing.uses_events in svc.events_scope_hooks:
            svc.events_scope_hooks.remove(existing.uses_events)
    events = build_events(svc, config)
    svc.events = events
    svc.assign_observers.append(events.observer)
    svc.events_scope_hooks.append(events.uses_events)
    return events


def events_of(svc: Services) -> Events | None:
    """The app's `Events` component, when it has one."""
    return svc.events if isinstance(svc.events, Events) else None

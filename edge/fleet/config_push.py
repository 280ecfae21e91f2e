"""Configuration changes pushed to every node: PostgreSQL LISTEN/NOTIFY.

Why PostgreSQL and not Redis pub/sub: a fleet always has PostgreSQL (it is where the change is
written), Redis is optional; the notification is sent by a trigger on `sites` (migration 6) in
the same transaction as the change, so it is sent for every kind of change, only once it is
committed, and never for a change that rolled back; and it needs no Redis Cluster pub/sub.

The listener holds one connection of its own (outside the pool) and runs `LISTEN kx_config`.
Each notification names the site, its new `config_version` (None: the site was deleted) and the
time of the change. A lost connection is retried every `retry_s`; on every (re)connection
`on_connect` runs first, so changes missed while not listening are caught up. The version poll
(`SiteRuntimes`) still runs behind this: a missed message costs at most one poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec
import psycopg

from edge.settings.loading import masked_url

logger = logging.getLogger("kx_edge.fleet")
CHANNEL = "kx_config"


class ConfigChange(msgspec.Struct, frozen=True):
    site: str
    version: int | None
    at: float  # when the change was made, seconds since the epoch (the database's clock)


_decode = msgspec.json.Decoder(ConfigChange).decode


@dataclass(slots=True)
class ListenerState:
    connected: bool = False
    received: int = 0  # notifications received since start
    reconnects: int = 0


class ConfigListener:
    def __init__(
        self,
        url: str,
        on_change: Callable[[ConfigChange], Awaitable[None]],
        on_connect: Callable[[], Awaitable[None]],
        *,
        retry_s: float = 1.0,
        connect_timeout_s: float = 2.0,
    ) -> None:
        self._url = url
        self._on_change = on_change
        self._on_connect = on_connect
        self._retry_s = retry_s
        self._connect_timeout_s = connect_timeout_s
        self._task: asyncio.Task[None] | None = None
        self.state = ListenerState()
        self.listening = asyncio.Event()  # set while LISTEN is in place (tests wait on it)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="kx-edge config listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused or lost: retry; the poll covers meanwhile
                if not failing:
                    logger.warning(
                        "configuration push from %s unavailable (%s); retrying, the version check covers",
                        masked_url(self._url),
                        type(exc).__name__,
                    )
                failing = True
            else:
                failing = False
            self.state.connected = False
            self.listening.clear()
            self.state.reconnects += 1
            await asyncio.sleep(self._retry_s)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._url,
            autocommit=True,
            connect_timeout=max(1, round(self._connect_timeout_s)),
            # A server that vanished without closing the socket is noticed within ~20 s.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=2,
        )
        async with conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            self.state.connected = True
            self.listening.set()
            with contextlib.suppress(Exception):  # the store may still be coming back: the poll retries
                await self._on_connect()
            async for notify in conn.notifies():
                self.state.received += 1
                try:
                    change = _decode(notify.payload)
                except msgspec.DecodeError:
                    logger.warning("ignored a malformed %s notification", CHANNEL)
                    continue
                try:
                    await self._on_change(change)
                except Exception:
                    logger.exception("could not apply the pushed change of site %s", change.site)

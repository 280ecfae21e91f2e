"""`SegmentSync`: the component the app builds, starts and closes.

    sync = build_segment_sync(settings, http=http, tokens=tokens, redis=redis)
    resolver = Resolver(..., index=sync.index)   # the resolver answers from the index
    sync.share_budget(resolver.gate)              # one budget per account, visitors first
    await sync.start()
    sync.set_site_targets(site_id, conn, segment_ids)   # whenever a site's runtime changes
    await sync.status(account_id, segment_ids)          # for GET /v1/sites/{site_id}/klaviyo
    await sync.aclose()

One loop per process ticks every `tick_s` (or at once after `set_site_targets`): it publishes the
sites' targets, then steps every account this worker knows (`account.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from edge.fleet.redis_client import RedisClient
from edge.resolver.metrics import ResolverMetrics
from edge.resolver.redis_guard import RedisDown, RedisGuard
from edge.settings import Settings
from edge.sync import keys
from edge.sync.account import AccountDeps, AccountSync
from edge.sync.config import MAX_INDEX_AGE_S, SyncConfig
from edge.sync.lease import LocalLease, RedisLease
from edge.sync.local_store import LocalStore
from edge.sync.passes import Store
from edge.sync.records import SegmentRecord, status_view
from edge.sync.redis_store import RedisStore
from edge.sync.targets import TargetBoard
from klaviyo import ConnectionRef, KlaviyoClient, ReservedGate, ReservingGate, TokenSource

logger = logging.getLogger("kx_edge.sync")


class SyncedIndex:
    """The `MembershipIndex` the resolver reads: this process's view of every account's sync."""

    def __init__(self, accounts: Mapping[str, AccountSync]) -> None:
        self._accounts = accounts

    @property
    def enabled(self) -> bool:
        return True

    def stamp(self, account_id: str, segment_ids: frozenset[str]) -> int | None:
        account = self._accounts.get(account_id)
        return None if account is None else account.stamp(segment_ids)

    async def members(
        self, account_id: str, segment_ids: frozenset[str], profile_id: str
    ) -> frozenset[str] | None:
        account = self._accounts.get(account_id)
        return None if account is None else await account.members(segment_ids, profile_id)


class SegmentSync:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        config: SyncConfig | None = None,
        redis: RedisClient | None = None,
        prefix: str = "kxe:",
        api_base: str = "https://a.klaviyo.com",
        revision: str = "2026-10-15",
        clock: Callable[[], float] = time.time,
        metrics: ResolverMetrics | None = None,
    ) -> None:
        self.config = cfg = config or SyncConfig()
        self.metrics = metrics or ResolverMetrics()
        self._http = http
        self._tokens = tokens
        self._api_base = api_base
        self._revision = revision
        self._clock = clock
        self._prefix = prefix
        self._guard = RedisGuard(redis, self.metrics, timeout_s=cfg.redis_timeout_s, clock=time.monotonic)
        self.store: Store = LocalStore() if redis is None else RedisStore(self._guard, prefix, cfg)
        self._board = TargetBoard(self._guard, prefix, cfg, clock)
        self._accounts: dict[str, AccountSync] = {}
        self.index = SyncedIndex(self._accounts)
        self._versions = itertools.count(1)
        self._deps: AccountDeps | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._wake = asyncio.Event()

    @property
    def client(self) -> KlaviyoClient:
        """The sync's Klaviyo client (its `stats` count the sync's requests)."""
        if self._deps is None:
            raise RuntimeError("call share_budget(resolver.gate) first")
        return self._deps.client

    def share_budget(self, gate: ReservingGate) -> None:
        """Take every call from `gate` (the resolver's), leaving visitors `reserve_fraction`."""
        cfg = self.config
        client = KlaviyoClient(
            self._http,
            self._tokens,
            gate=ReservedGate(gate, cfg.reserve_fraction),
            api_base=self._api_base,
            revision=self._revision,
            request_timeout_s=cfg.attempt_timeout_s,
        )
        self._deps = AccountDeps(
            cfg, self.store, self._board, client, self._clock, self.metrics, lambda: next(self._versions)
        )

    async def start(self) -> None:
        if self._deps is None:
            raise RuntimeError("call share_budget(resolver.gate) before start()")
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._loop(), name="kx-segment-sync")

    async def aclose(self) -> None:
        """Stop syncing; leases are given up so another worker takes over at once."""
        self._closing = True
        task, self._task = self._task, None
        while task is not None and not task.done():
            # Again while it lingers: a cancellation that lands mid-request can be swallowed
            # (see `passes.py`); the loop also stops at its next tick on `_closing`.
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
        accounts = list(self._accounts.values())
        self._accounts.clear()
        for account in accounts:
            await account.aclose()

    def set_site_targets(self, site_id: str, conn: ConnectionRef | None, segment_ids: Iterable[str]) -> None:
        """A site's runtime changed: `conn` is its active connection (None when disconnected) and
        `segment_ids` what its live experiences target. Cheap; the work happens on the next tick,
        which this call brings forward."""
        self._board.set_site(site_id, conn, segment_ids)
        self._wake.set()

    def poke(self) -> None:
        """Tick now (tests move their clock, then poke)."""
        self._wake.set()

    async def status(self, account_id: str, segment_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Per segment: state, members, last full and incremental sync, next full sync, last
        error, progress, for `GET /v1/sites/{site_id}/klaviyo`."""
        records: dict[str, SegmentRecord]
        try:
            records = await self.store.read_records(account_id)
        except RedisDown:
            account = self._accounts.get(account_id)
            records = account.records if account is not None else {}
        now = self._clock()
        return [status_view(s, records.get(s), now, self.config) for s in sorted(set(segment_ids))]

    def holds(self, account_id: str) -> bool:
        """Whether this worker syncs the account now."""
        account = self._accounts.get(account_id)
        return account is not None and account.holding

    async def index_bytes(self, account_id: str, segment_id: str) -> int | None:
        """Memory one segment's index takes (in-process, or `MEMORY USAGE` in Redis)."""
        return await self.store.index_bytes(account_id, segment_id)

    # --- the loop ------------------------------------------------------------------------------

    async def step(self) -> None:
        """One tick for every account this worker knows."""
        deps = self._deps
        if deps is None:
            raise RuntimeError("call share_budget(resolver.gate) first")
        await self._board.publish()
        local = self._board.local_accounts()
        for account_id in sorted(local | set(self._accounts)):
            account = self._accounts.get(account_id)
            if account is None:
                account = self._accounts[account_id] = AccountSync(account_id, deps, self._lease(account_id))
            try:
                await account.step()
            except Exception:
                logger.exception("segment sync of account %s failed a tick", account_id)
                continue
            if account_id not in local and (not account.holding or (account.idle and not account.running)):
                del self._accounts[account_id]
                await account.aclose()

    def _lease(self, account_id: str) -> LocalLease | RedisLease:
        if not self._guard.configured:
            return LocalLease()
        return RedisLease(self._guard, keys.lease(self._prefix, account_id), self.config.lease_ttl_s)

    async def _loop(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                await self.step()
            except Exception:
                logger.exception("segment sync tick failed")
            # Not asyncio.wait_for: on 3.11 it can swallow a cancellation that arrives as the
            # event is set, and this loop would then outlive aclose().
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.tick_s):
                    await self._wake.wait()


def sync_config(settings: Settings) -> SyncConfig:
    return SyncConfig(
        interval_s=min(float(settings.segment_sync_interval_s), MAX_INDEX_AGE_S),
        max_members=settings.segment_sync_max_members,
    )


def build_segment_sync(
    settings: Settings,
    *,
    http: httpx.AsyncClient,
    tokens: TokenSource,
    redis: RedisClient | None,
    clock: Callable[[], float] = time.time,
) -> SegmentSync:
    """The app's segment sync, from its settings; call `share_budget` and `start` next."""
    return SegmentSync(
        http,
        tokens,
        config=sync_config(settings),
        redis=redis,
        prefix=settings.redis_prefix,
        api_base=settings.klaviyo_api_base,
        revision=settings.klaviyo_revision,
        clock=clock,
    )

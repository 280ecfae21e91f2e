"""Each site's storefront runtime: compiled experiences, signing secret, origins, connection.

The storefront's hot path reads only this: one dict lookup by public key, no store, no Redis.
A runtime is built once per `config_version` and replaced whole (an atomic reference swap), so a
request sees either the old configuration or the new one, never a mix. Every site is loaded at
start-up (`load_all`) and sites created elsewhere are loaded by the watcher, so the storefront
does not wait on the store even for a site's first visit. Changes made in this process are
applied at once (`reload`); changes made by other nodes are pushed here (`apply_push`, from
PostgreSQL's LISTEN/NOTIFY: edge/fleet/config_push.py) and, as the safety net behind the push
(and the only path on SQLite), the watcher compares every site's `config_version` every
`poll_interval_s`. While the store does not answer the watcher says so once, keeps the runtimes
it has, and catches up when the store is back. `lag` measures how long pushed changes took.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cachetools import TTLCache

from edge.fleet.config_push import ConfigListener
from edge.sites.keys import signing_secret
from edge.sites.propagation import PropagationLag
from edge.store import SiteRecord, Store, StoreUnavailable
from edge.storefront.memo import MemoTables, StorefrontMemo
from klaviyo.types import ConnectionRef
from oauth.connection import Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.storage import ConnectionStore
from targeting import CompiledSite, Experience, ValidationError, compile_site, parse_experience

logger = logging.getLogger("kx_edge.runtime")


@dataclass(frozen=True, slots=True)
class SiteRuntime:
    site: SiteRecord
    compiled: CompiledSite
    experiences: dict[str, Experience]
    secret: bytes
    origins: frozenset[str]
    connection: Connection | None
    memo: StorefrontMemo
    # The connection the resolver may use: only an active one with an account.
    connection_ref: ConnectionRef | None = field(init=False)

    def __post_init__(self) -> None:
        conn, ref = self.connection, None
        if conn is not None and conn.status is ConnectionStatus.ACTIVE and conn.account_id:
            ref = ConnectionRef(conn.site_id, conn.account_id, conn.generation)
        object.__setattr__(self, "connection_ref", ref)

    @property
    def config_version(self) -> int:
        return self.site.config_version


class SiteRuntimes:
    def __init__(
        self,
        store: Store,
        connections: ConnectionStore,
        cipher: TokenCipher,
        *,
        clock: Callable[[], float],
        poll_interval_s: float = 0.5,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._connections = connections
        self._cipher = cipher
        self._clock = clock
        self._poll_interval_s = poll_interval_s
        self._wall_clock = wall_clock  # compared with the database's stamp on a pushed change
        self.lag = PropagationLag()
        # Every site's storefront memo keeps its entries here, within the process' bounds.
        self.memo_tables = MemoTables()
        self._by_key: dict[str, SiteRuntime] = {}
        self._by_query: dict[bytes, SiteRuntime] = {}  # b"site=<public key>": the snippet's query
        self._by_id: dict[str, SiteRuntime] = {}
        # Unknown public keys are remembered briefly so garbage keys cannot hammer the store.
        self._unknown: TTLCache[str, bool] = TTLCache(maxsize=10_000, ttl=5.0)
        self._loading: dict[str, asyncio.Task[SiteRuntime | None]] = {}
        self._watcher: asyncio.Task[None] | None = None
        # Told whenever a site's runtime is installed or forgotten (segment sync follows targets).
        self.on_install: Callable[[SiteRuntime], None] | None = None
        self.on_forget: Callable[[str], None] | None = None
        # The push from the database, when there is one (set by the app): its state for /readyz
        # and the metrics.
        self.push: ConfigListener | None = None

    def cached(self, public_key: str) -> SiteRuntime | None:
        return self._by_key.get(public_key)

    def by_query_string(self, query_string: bytes) -> SiteRuntime | None:
        """The site in memory whose public key is the whole query, `site=<public key>` exactly as
        the snippet sends it; None for anything else (parse it)."""
        return self._by_query.get(query_string)

    async def by_public_key(self, public_key: str) -> SiteRuntime | None:
        runtime = self._by_key.get(public_key)
        if runtime is not None:
            return runtime
        if public_key in self._unknown:
            return None
        task = self._loading.get(public_key)
        if task is None:
            task = asyncio.ensure_future(self._load_by_key(public_key))
            self._loading[public_key] = task
            task.add_done_callback(lambda _: self._loading.pop(public_key, None))
        return await asyncio.shield(task)

    async def by_site_id(self, site_id: str) -> SiteRuntime | None:
        runtime = self._by_id.get(site_id)
        if runtime is not None:
            return runtime
        site = await self._store.get_site(site_id)
        return None if site is None else await self.reload(site.id)

    async def reload(self, site_id: str) -> SiteRuntime | None:
        """Rebuild a site's runtime from the store now and swap it in."""
        site = await self._store.get_site(site_id)
        if site is None:
            self._forget(site_id)
            return None
        runtime = await self._build(site)
        self._install(runtime)
        return runtime

    async def apply_push(self, site_id: str, version: int | None, changed_at: float) -> bool:
        """A change another node made (`version` None: the site was deleted). Reloads the site
        unless this process already has that version (its own change, or the poll got there
        first); a change that installs here is measured in `lag`. True when it installed."""
        current = self._version(site_id)
        if version is not None and current is not None and current >= version:
            return False
        if version is None and current is None:
            return False
        runtime = await self.reload(site_id)
        if runtime is None and current is None:
            return False  # a site of another schema or already gone: nothing of ours changed
        if runtime is not None and version is not None and runtime.config_version < version:
            return False  # read before the commit was visible: the poll catches up
        self.lag.observe(self._wall_clock() - changed_at)
        return True

    async def _load_by_key(self, public_key: str) -> SiteRuntime | None:
        site = await self._store.get_site_by_public_key(public_key)
        if site is None:
            self._unknown[public_key] = True
            return None
        runtime = await self._build(site)
        self._install(runtime)
        return runtime

    async def _build(self, site: SiteRecord) -> SiteRuntime:
        experiences: dict[str, Experience] = {}
        for record in await self._store.list_experiences(site.id):
            try:
                experiences[record.id] = parse_experience(record.body)
            except ValidationError as exc:
                # Stored documents were validated on write; this only happens across an
                # incompatible upgrade. Skip the experience rather than the whole site.
                logger.error("stored experience %s of %s no longer validates: %s", record.id, site.id, exc)
        secret = signing_secret(site, self._cipher)
        compiled = compile_site(experiences.values())
        return SiteRuntime(
            site=site,
            compiled=compiled,
            experiences=experiences,
            secret=secret,
            origins=frozenset(site.allowed_origins),
            connection=await self._connections.get(site.id),
            memo=StorefrontMemo(compiled, secret, site.id, self.memo_tables),
        )

    def _install(self, runtime: SiteRuntime) -> None:
        current = self._by_id.get(runtime.site.id)
        if current is not None and current.config_version > runtime.config_version:
            return  # a slower, older load must not replace a newer one
        if current is not None and current.site.public_key != runtime.site.public_key:
            self._by_key.pop(current.site.public_key, None)
            self._by_query.pop(_query(current.site.public_key), None)
        self._by_id[runtime.site.id] = runtime
        self._by_key[runtime.site.public_key] = runtime
        self._by_query[_query(runtime.site.public_key)] = runtime
        if self.on_install is not None:
            self.on_install(runtime)

    def _forget(self, site_id: str) -> None:
        runtime = self._by_id.pop(site_id, None)
        if runtime is not None:
            self._by_key.pop(runtime.site.public_key, None)
            self._by_query.pop(_query(runtime.site.public_key), None)
        if self.on_forget is not None:
            self.on_forget(site_id)

    async def load_all(self) -> None:
        """Every stored site in memory (start-up)."""
        await self.refresh_changed()

    async def refresh_changed(self) -> list[str]:
        """Load every site that is new, changed (config_version) or gone in the store. A site
        that cannot be built (logged) does not hold up the others; a store that does not answer
        ends the round (`StoreUnavailable`), the runtimes in memory stay as they are."""
        versions = await self._store.site_versions()
        changed = [site_id for site_id, version in versions.items() if self._version(site_id) != version]
        changed += [site_id for site_id in list(self._by_id) if site_id not in versions]
        for site_id in changed:
            try:
                await self.reload(site_id)
            except StoreUnavailable:
                raise
            except Exception:
                logger.exception("could not load site %s; keeping what is in memory", site_id)
        return changed

    def _version(self, site_id: str) -> int | None:
        runtime = self._by_id.get(site_id)
        return None if runtime is None else runtime.config_version

    def start(self) -> None:
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="kx-edge config watcher")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def _watch(self) -> None:
        store_down = False
        while True:
            await asyncio.sleep(self._poll_interval_s)
            try:
                await self.refresh_changed()
            except StoreUnavailable:
                if not store_down:
                    logger.warning("the store does not answer: serving the configuration in memory")
                store_down = True
                continue
            except Exception:
                logger.exception("config watcher failed; retrying")
                continue
            if store_down:
                logger.warning("the store answers again: configuration caught up")
            store_down = False


def _query(public_key: str) -> bytes:
    # Public keys are URL-safe by construction: the query needs no escaping.
    return b"site=" + public_key.encode("ascii")

"""The Prometheus series of one app, and how they are filled (docs/metrics.md lists them).

Two kinds of numbers:
- Counts kept in process by the parts that own them (requests per route, the resolver's and the
  segment sync's counters, the Klaviyo client's calls). The request path only adds to plain
  dicts; `flush()` copies what grew since the last flush into prometheus-client's counters and
  histograms, every `FLUSH_INTERVAL_S` and before every scrape. Under `kx-edge serve --workers N`
  prometheus-client's multiprocess mode keeps those values in files under
  `PROMETHEUS_MULTIPROC_DIR`, and the scrape sums every worker's.
- Shared state read when scraped (`refresh()`): outbox depth and oldest age, segment sync lag and
  size, Klaviyo budget left, store and Redis health. Any worker reads the same store and Redis,
  so these gauges keep the most recent value in multiprocess mode.

Label values are bounded: routes are path templates, statuses HTTP codes, tiers Klaviyo's,
counter names the code's own; segments and accounts appear only for segments that live
experiences target (configuration, never visitor data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from edge.metrics.traffic import RouteTraffic
from edge.storefront.traffic import BUCKETS_MS, AssignTraffic
from edge.sync.records import SegmentRecord
from klaviyo import ConnectionRef, Tier

logger = logging.getLogger("kx_edge.metrics")
FLUSH_INTERVAL_S = 1.0
ASSIGN_ROUTE = "/v1/assign"
# The tiers visitors' resolutions spend: their budget left is exported.
BUDGET_TIERS = (Tier.PROFILES, Tier.PROFILE_SEGMENTS, Tier.SEGMENT_MEMBERS)
# Resolver counter -> outcome label (`pending.*` are summed into "pending").
_OUTCOMES = {
    "l1_hit": "l1",
    "l2_hit": "l2",
    "index_answer": "index",
    "klaviyo_resolution": "klaviyo",
    "pending.deadline": "deadline_missed",
}


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multiprocess mode, when it is on (`serve --workers`)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Counted(Protocol):
    """Named cumulative counters (`ResolverMetrics`)."""

    def snapshot(self) -> dict[str, int]: ...


class BudgetGate(Protocol):
    async def left(self, account_key: str, tier: Tier) -> int: ...


class SyncRecords(Protocol):
    async def read_records(self, account_id: str) -> Mapping[str, SegmentRecord]: ...


@dataclass(slots=True)
class Sources:
    """Where the numbers come from; absent parts (no Klaviyo app configured) are None."""

    routes: RouteTraffic
    assign: AssignTraffic
    resolver_counts: Counted | None = None
    sync_counts: Counted | None = None
    klaviyo_calls: Mapping[tuple[str, str], int] | None = None
    gate: BudgetGate | None = None
    sync_records: SyncRecords | None = None
    health: Callable[[], Any] | None = None  # async () -> {"store": "ok" | "failing", ...}
    backlog: Callable[[float], Any] | None = None  # async (now) -> Backlog
    targets: Callable[[], Iterable[tuple[ConnectionRef, Iterable[str]]]] | None = None


class Exporter:
    """One per app (built in the lifespan, never module-level)."""

    def __init__(self, sources: Sources, *, clock: Callable[[], float] = time.time) -> None:
        self.sources = sources
        self._clock = clock
        self._sent: dict[tuple[str, ...], float] = {}
        self._task: asyncio.Task[None] | None = None
        self.registry = registry = CollectorRegistry(auto_describe=True)
        seconds = [ms / 1000 for ms in BUCKETS_MS]
        self.requests = Counter(
            "kx_edge_http_requests", "HTTP requests answered, per route template and status.",
            ["route", "status"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "kx_edge_http_request_duration_seconds", "Time to answer, per route template.",
            ["route"], buckets=seconds, registry=registry,
        )  # fmt: skip
        self.resolver_outcomes = Counter(
            "kx_edge_resolver_outcomes", "Segment resolutions by how they were answered.",
            ["outcome"], registry=registry,
        )  # fmt: skip
        self.resolver_events = Counter(
            "kx_edge_resolver_events", "Every counter of the segment resolver, by name.",
            ["event"], registry=registry,
        )  # fmt: skip
        self.sync_events = Counter(
            "kx_edge_segment_sync_events", "Every counter of the segment sync, by name.",
            ["event"], registry=registry,
        )  # fmt: skip
        self.klaviyo_calls = Counter(
            "kx_edge_klaviyo_calls", "Klaviyo API calls by rate tier and how they ended "
            "(HTTP status, timeout, transport_error, or refused by our own budget).",
            ["tier", "status"], registry=registry,
        )  # fmt: skip
        self.klaviyo_429 = Counter(
            "kx_edge_klaviyo_rate_limited", "Klaviyo answers 429 (the account pauses for Retry-After).",
            ["tier"], registry=registry,
        )  # fmt: skip
        self.propagation = Histogram(
            "kx_edge_config_propagation_seconds",
            "From a configuration change on any node to its runtime serving here.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0), registry=registry,
        )  # fmt: skip

        def shared(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
            return Gauge(name, doc, labels, multiprocess_mode="mostrecent", registry=registry)

        self.budget_left = shared(
            "kx_edge_klaviyo_budget_left", "Fewest calls left in the 60 s window over the connected "
            "accounts, per tier visitors spend.", ["tier"],
        )  # fmt: skip
        self.blocked_accounts = shared(
            "kx_edge_klaviyo_blocked_accounts", "Connected accounts with no budget left in some tier "
            "(e.g. paused by a 429's Retry-After).",
        )  # fmt: skip
        self.sync_lag = shared(
            "kx_edge_segment_sync_lag_seconds", "Since the last full or incremental sync of a "
            "targeted segment began (absent: never synced).", ["account", "segment"],
        )  # fmt: skip
        self.sync_members = shared(
            "kx_edge_segment_sync_members", "Members in a targeted segment's synced index.",
            ["account", "segment"],
        )  # fmt: skip
        self.outbox_depth = shared(
            "kx_edge_outbox_depth", "Events waiting to be sent to Klaviyo.",
        )  # fmt: skip
        self.outbox_oldest = shared(
            "kx_edge_outbox_oldest_age_seconds", "Age of the oldest event waiting (0: none).",
        )  # fmt: skip
        self.up = shared(
            "kx_edge_up", "1 when the component answers its health check, else 0.",
            ["component"],
        )  # fmt: skip
        self.last_lag = shared(
            "kx_edge_config_propagation_last_seconds", "The last configuration change's propagation lag.",
        )  # fmt: skip
        self._sync_labels: set[tuple[str, str]] = set()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="kx-edge metrics flush")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()
        directory = multiprocess_dir()
        if directory is not None:
            multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            try:
                self.flush()
            except Exception:
                logger.exception("metrics flush failed")

    def observe_propagation(self, lag_s: float) -> None:
        """Told of each configuration change installed here (`PropagationLag.observers`)."""
        self.propagation.observe(lag_s)
        self.last_lag.set(lag_s)

    # --- the in-process counts ------------------------------------------------------------------

    def _grow(self, key: tuple[str, ...], total: float) -> float:
        """What `total` (cumulative) grew by since it was last sent."""
        delta = total - self._sent.get(key, 0.0)
        if delta:
            self._sent[key] = total
        return delta

    def flush(self) -> None:
        """Send what every in-process count grew by since the last flush."""
        src = self.sources
        for (route, code), n in list(src.routes.by_status.items()):
            self._count(self.requests.labels(route, str(code)), ("req", route, str(code)), n)
        for route, buckets in list(src.routes.buckets.items()):
            self._histogram(route, buckets, src.routes.sums.get(route, 0.0))
        for status, n in list(src.assign.by_status.items()):
            self._count(
                self.requests.labels(ASSIGN_ROUTE, str(status)), ("req", ASSIGN_ROUTE, str(status)), n
            )
        self._histogram(ASSIGN_ROUTE, src.assign.latency_buckets, src.assign.duration_sum_s)
        if src.resolver_counts is not None:
            outcomes: dict[str, int] = {label: 0 for label in (*_OUTCOMES.values(), "pending")}
            for name, n in src.resolver_counts.snapshot().items():
                self._count(self.resolver_events.labels(name), ("res", name), n)
                if name in _OUTCOMES:
                    outcomes[_OUTCOMES[name]] += n
                if name.startswith("pending."):
                    outcomes["pending"] += n
            for label, n in outcomes.items():
                self._count(self.resolver_outcomes.labels(label), ("out", label), n)
        if src.sync_counts is not None:
            for name, n in src.sync_counts.snapshot().items():
                event = name.removeprefix("sync.")
                self._count(self.sync_events.labels(event), ("sync", event), n)
        if src.klaviyo_calls is not None:
            for (tier, outcome), n in list(src.klaviyo_calls.items()):
                self._count(self.klaviyo_calls.labels(tier, outcome), ("kl", tier, outcome), n)
                if outcome == "429":
                    self._count(self.klaviyo_429.labels(tier), ("429", tier), n)

    def _count(self, child: Any, key: tuple[str, ...], total: float) -> None:
        delta = self._grow(key, total)
        if delta > 0:
            child.inc(delta)

    def _histogram(self, route: str, counts: list[int], total_s: float) -> None:
        """Adds bucket counts kept in process to the histogram. prometheus-client observes one
        value at a time; its per-bucket values (`_buckets`, non-cumulative, +Inf last, the same
        bounds as `BUCKETS_MS`) and `_sum` are incremented directly instead, which its
        multiprocess files store the same way (tests/edge/metrics checks the exposition)."""
        child = self.latency.labels(route)
        for index, n in enumerate(counts):
            delta = self._grow(("lat", route, str(index)), n)
            if delta > 0:
                child._buckets[index].inc(delta)
        delta_s = self._grow(("lat_sum", route), total_s)
        if delta_s > 0:
            child._sum.inc(delta_s)

    # --- shared state, read when scraped --------------------------------------------------------

    async def refresh(self) -> None:
        src = self.sources
        now = self._clock()
        if src.health is not None:
            for component, state in (await src.health()).items():
                self.up.labels(component).set(1 if state == "ok" else 0)
        if src.backlog is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    backlog = await src.backlog(now)
                self.outbox_depth.set(backlog.depth)
                self.outbox_oldest.set(backlog.oldest_age_s or 0.0)
        targets = list(src.targets()) if src.targets is not None else []
        accounts: dict[str, set[str]] = {}
        for ref, segments in targets:
            accounts.setdefault(ref.account_id, set()).update(segments)
        if src.gate is not None:
            await self._budget(src.gate, sorted(accounts))
        if src.sync_records is not None:
            await self._sync(src.sync_records, accounts, now)

    async def _budget(self, gate: BudgetGate, accounts: list[str]) -> None:
        if not accounts:
            return
        lowest: dict[Tier, int] = {}
        blocked = 0
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                for account in accounts:
                    empty = False
                    for tier in BUDGET_TIERS:
                        left = await gate.left(account, tier)
                        lowest[tier] = min(left, lowest.get(tier, left))
                        empty = empty or left == 0
                    blocked += empty
        for tier, left in lowest.items():
            self.budget_left.labels(str(tier)).set(left)
        self.blocked_accounts.set(blocked)

    async def _sync(self, store: SyncRecords, accounts: Mapping[str, set[str]], now: float) -> None:
        seen: set[tuple[str, str]] = set()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                for account, segments in sorted(accounts.items()):
                    records = await store.read_records(account)
                    for segment in sorted(segments):
                        record = records.get(segment)
                        labels = (account, segment)
                        seen.add(labels)
                        if record is None:
                            continue
                        self.sync_members.labels(*labels).set(record.members)
                        began = max(record.full_at or 0.0, record.incremental_at or 0.0)
                        if began:
                            self.sync_lag.labels(*labels).set(max(0.0, now - began))
        for labels in self._sync_labels - seen:  # no longer targeted: the series goes
            for gauge in (self.sync_members, self.sync_lag):
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)
        self._sync_labels = seen

    # --- the exposition -------------------------------------------------------------------------

    async def exposition(self) -> tuple[bytes, str]:
        """The text format (and its content type): this process' counts flushed first, shared
        state refreshed, and under multiprocess mode every worker's values combined."""
        self.flush()
        await self.refresh()
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(combined), CONTENT_TYPE_LATEST

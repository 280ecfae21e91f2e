"""The background sender: claims due events from the outbox, sends them, settles the results.

Per cycle it claims up to `claim_max` events and sends each site's share: one `POST /api/events`
per event when at most `bulk_threshold` are waiting for the site, bulk jobs of up to `bulk_max`
when more are. Sites are sent concurrently; each site's connection is read fresh (status, scopes,
account), so a disconnect or a lost scope is seen at once. Results are settled in one outbox
write: sent; failed (4xx other than 429, with Klaviyo's reason, or no connection); or pending
again: after backoff with jitter (5xx, timeouts), after Retry-After or the budget's wait (not
counted as an attempt). An event still failing `max_age_s` after it was enqueued is failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from edge.events.api import EventsApi, Outcome, PostResult
from edge.events.outbox import Claimed, Outbox, Retry
from edge.events.payload import bulk_body, single_body
from oauth.connection import Connection, ConnectionStatus
from oauth.scopes import EVENTS_SCOPE

logger = logging.getLogger("kx_edge.events.sender")
ConnectionLookup = Callable[[str], Awaitable[Connection | None]]


@dataclass(frozen=True, slots=True)
class SenderConfig:
    claim_max: int = 1000
    bulk_threshold: int = 5  # more than this many waiting for one site: the bulk endpoint
    bulk_max: int = 1000  # Klaviyo's limit per bulk job
    single_concurrency: int = 8
    backoff_base_s: float = 0.5
    backoff_max_s: float = 300.0
    max_age_s: float = 86_400.0
    poll_interval_s: float = 0.25
    reconnect_wait_s: float = 60.0  # a connection that needs the merchant: look again after this


@dataclass(slots=True)
class _Results:
    sent: list[Claimed] = field(default_factory=list)
    failed: list[tuple[Claimed, str]] = field(default_factory=list)
    retry: list[Retry] = field(default_factory=list)

    def extend(self, other: _Results) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.retry += other.retry


class Sender:
    def __init__(
        self,
        outbox: Outbox,
        api: EventsApi,
        connections: ConnectionLookup,
        config: SenderConfig = SenderConfig(),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._outbox = outbox
        self._api = api
        self._connections = connections
        self.config = config
        self._clock = clock
        self._wake = asyncio.Event()
        self._in_flight: list[Claimed] = []

    def wake(self) -> None:
        """New events were enqueued: send them now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                handled = await self.run_once()
                failures = 0
            except Exception:
                logger.exception("the event sender failed; trying again")
                failures += 1
                handled = 0
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
            if handled < self.config.claim_max:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_interval_s)

    async def release_in_flight(self) -> None:
        """Shutting down mid-batch: make the claimed events claimable again at once."""
        if self._in_flight:
            now = self._clock()
            held, self._in_flight = self._in_flight, []
            await self._outbox.settle(now, retry=[Retry(c, now, None) for c in held])

    async def run_once(self) -> int:
        """One cycle: claim, send, settle. Returns how many events were claimed."""
        now = self._clock()
        claimed = await self._outbox.claim(self.config.claim_max, now)
        if not claimed:
            return 0
        self._in_flight = claimed
        by_site: dict[str, list[Claimed]] = {}
        for event in claimed:
            by_site.setdefault(event.site_id, []).append(event)
        results = _Results()
        for part in await asyncio.gather(*(self._site(site, events) for site, events in by_site.items())):
            results.extend(part)
        await self._outbox.settle(
            self._clock(), sent=results.sent, failed=results.failed, retry=results.retry
        )
        self._in_flight = []
        return len(claimed)

    async def _site(self, site_id: str, events: list[Claimed]) -> _Results:
        results = _Results()
        conn = await self._connections(site_id)
        if conn is None or conn.status is ConnectionStatus.DISCONNECTED or not conn.account_id:
            results.failed += [(e, "not_connected: the site has no Klaviyo connection") for e in events]
        elif conn.status is not ConnectionStatus.ACTIVE:
            error = f"the Klaviyo connection is {conn.status.value}: the merchant must reconnect"
            at = self._clock() + self.config.reconnect_wait_s
            self._again(results, events, PostResult(Outcome.RETRY, error), at)
        elif EVENTS_SCOPE not in conn.scopes:
            reason = f"scope_missing: the connection lacks {EVENTS_SCOPE}; reconnect Klaviyo to grant it"
            results.failed += [(e, reason) for e in events]
        elif len(events) > self.config.bulk_threshold:
            for start in range(0, len(events), self.config.bulk_max):
                await self._bulk(
                    site_id, conn.account_id, events[start : start + self.config.bulk_max], results
                )
        else:
            await self._singles(site_id, conn.account_id, events, results)
        return results

    async def _singles(self, site_id: str, account: str, events: list[Claimed], results: _Results) -> None:
        limit = asyncio.Semaphore(self.config.single_concurrency)

        async def one(event: Claimed) -> PostResult:
            async with limit:
                return await self._api.post_event(
                    site_id, account, single_body(event.attributes, event.profile)
                )

        for event, result in zip(events, await asyncio.gather(*(one(e) for e in events)), strict=True):
            self._apply(results, [event], result)

    async def _bulk(self, site_id: str, account: str, chunk: list[Claimed], results: _Results) -> None:
        # Klaviyo refuses a whole job that repeats a unique_id for one profile and metric.
        unique: dict[str, Claimed] = {}
        for event in chunk:
            if event.unique_id in unique:
                results.sent.append(event)  # the same event, sent with its twin
            else:
                unique[event.unique_id] = event
        chunk = list(unique.values())
        while chunk:
            result = await self._api.post_bulk(
                site_id, account, bulk_body([(e.attributes, e.profile) for e in chunk])
            )
            bad = result.bad_entry
            if (
                result.outcome is Outcome.FAILED
                and bad is not None
                and 0 <= bad < len(chunk)
                and len(chunk) > 1
            ):
                # One event spoiled the job: fail it alone and send the others again.
                results.failed.append((chunk[bad], result.error or "refused by Klaviyo"))
                chunk = chunk[:bad] + chunk[bad + 1 :]
                continue
            self._apply(results, chunk, result)
            return

    def _apply(self, results: _Results, events: Sequence[Claimed], result: PostResult) -> None:
        now = self._clock()
        if result.outcome is Outcome.SENT:
            results.sent += events
        elif result.outcome is Outcome.FAILED:
            results.failed += [(e, result.error or "refused by Klaviyo") for e in events]
        elif result.outcome is Outcome.WAIT:
            results.retry += [Retry(e, now + result.wait_s, None) for e in events]
        else:
            self._again(results, events, result, None)

    def _again(
        self, results: _Results, events: Sequence[Claimed], result: PostResult, at: float | None
    ) -> None:
        """Pending again after a failure, or failed for good once the event is too old."""
        now = self._clock()
        error = result.error or "failed"
        for event in events:
            step = min(self.config.backoff_max_s, self.config.backoff_base_s * 2**event.attempts)
            when = at if at is not None else now + step / 2 + random.uniform(0, step / 2)
            if when - event.created_at > self.config.max_age_s:
                results.failed.append((event, f"gave up after {event.attempts + 1} attempts: {error}"))
            else:
                results.retry.append(Retry(event, when, error))

"""Demo traffic: the seeded plan's visitors played through the real storefront over a socket.

Once the demo is seeded and connected, `play` sends every planned visitor to `POST /v1/assign`
as the snippet does (text/plain JSON `{"visitor_id", "kx"?, "sticky"?, "url"}`, the site's own
Origin, a browser's or a crawler's User-Agent; a `pending` answer is asked again with its sticky
token, as the snippet retries), then, for those the plan says buy, `POST /v1/track` with the
sticky token the answer gave and `order_id`, `value`, `currency`. So the Results tab of a fresh
`kx-edge serve --demo` has numbers, counted by exactly the code that counts a shop's.

At most `plan.concurrency` visitors are in flight (workers pulling from the plan's generator),
so memory stays bounded whatever the plan's size. `KX_DEMO_TRAFFIC=0` turns it off; a number sets
how many visitors are played.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import httpx

from demo.traffic_plan import DEMO_TEST, Kind, PlannedVisit, TrafficPlan

logger = logging.getLogger("kx_edge.demo")
ENV = "KX_DEMO_TRAFFIC"
MAX_VISITORS = 100_000
MAX_RETRIES = 5  # the snippet's
_OFF = {"0", "false", "off", "no"}
_ON = {"", "1", "true", "on", "yes"}


def traffic_from_environment(environ: Mapping[str, str] = os.environ) -> TrafficPlan | None:
    """The plan `KX_DEMO_TRAFFIC` asks for: unset or `1` the default, `0` none, N that many."""
    raw = environ.get(ENV, "").strip().lower()
    if raw in _OFF:
        return None
    if raw in _ON:
        return TrafficPlan()
    if raw.isdigit() and 0 < int(raw) <= MAX_VISITORS:
        return replace(TrafficPlan(), visitors=int(raw))
    raise ValueError(f"{ENV} must be 0, 1 or a number of visitors up to {MAX_VISITORS}, not {raw!r}")


@dataclass(slots=True)
class Tally:
    visitors: int = 0
    orders: int = 0
    revenue: float = 0.0


@dataclass(slots=True)
class TrafficReport:
    """What was sent, updated as it goes; `finished` once done (`stopped` says why, if early)."""

    visitors: int = 0  # humans answered (bots are not visitors)
    bots: int = 0
    orders: int = 0
    duplicates: int = 0
    revenue: float = 0.0
    failed: int = 0
    stopped: str | None = None  # why it stopped before the end of the plan
    variations: dict[str, Tally] = field(default_factory=dict)  # of DEMO_TEST
    finished: bool = False


class _Player:
    def __init__(
        self,
        client: httpx.AsyncClient,
        plan: TrafficPlan,
        public_key: str,
        origin: str,
        report: TrafficReport,
    ) -> None:
        self._client = client
        self._plan = plan
        self._query = {"site": public_key}
        self._origin = origin
        self._report = report

    async def work(self, visits: Iterator[PlannedVisit]) -> None:
        report = self._report
        for visit in visits:  # the generator is shared: each worker takes the next visitor
            if report.stopped is not None:
                return
            try:
                await self._play(visit)
            except httpx.TransportError as failed:  # the server is gone, or shutting down
                report.failed += 1
                report.stopped = f"the storefront did not answer ({_described(failed)})"
                return
            except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as failed:
                report.failed += 1
                if report.failed == 1:
                    logger.warning("demo traffic: a visit failed: %s", _described(failed))

    async def _play(self, visit: PlannedVisit) -> None:
        headers = {
            "Origin": self._origin,
            "User-Agent": visit.user_agent,
            "Content-Type": "text/plain;charset=UTF-8",
        }
        landing = (
            f"{self._origin}/?_kx={quote(visit.kx, safe='')}&utm_source=klaviyo"
            if visit.kx
            else self._origin + "/"
        )
        body: dict[str, Any] = {"visitor_id": visit.visitor_id, "url": landing}
        if visit.kx is not None:
            body["kx"] = visit.kx
        answer = await self._post("/v1/assign", body, headers)
        for _ in range(MAX_RETRIES):
            if not _pending(answer):
                break
            await asyncio.sleep(min(max(int(answer.get("retry_after_ms") or 800), 200), 1000) / 1000)
            answer = await self._post("/v1/assign", {**body, "sticky": answer["sticky"]}, headers)
        report = self._report
        if visit.kind is Kind.BOT:
            report.bots += 1
            return
        variation = next((e["variation_id"] for e in answer["experiences"] if e["id"] == DEMO_TEST), None)
        tally = report.variations.setdefault(str(variation), Tally())
        report.visitors += 1
        tally.visitors += 1
        if not visit.orders(self._plan.rates, variation):
            return
        order = {
            "visitor_id": answer["visitor_id"],
            "sticky": answer["sticky"],
            "event": "order",
            "order_id": visit.order_id,
            "value": visit.order_value,
            "currency": self._plan.currency,
        }
        accepted = await self._post("/v1/track", order, headers)
        if accepted.get("duplicate"):
            report.duplicates += 1
            return
        report.orders += 1
        report.revenue += visit.order_value
        tally.orders += 1
        tally.revenue += visit.order_value

    async def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        # Encoded here, so the Content-Type stays the snippet's text/plain (a CORS simple request).
        content = json.dumps(body, separators=(",", ":")).encode()
        response = await self._client.post(path, params=self._query, content=content, headers=headers)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


def _described(failed: Exception) -> str:
    return f"{type(failed).__name__}: {failed}" if str(failed) else type(failed).__name__


def _pending(answer: Mapping[str, Any]) -> bool:
    return answer.get("identity") == "pending" or any(
        e.get("status") == "pending" for e in answer.get("experiences", ())
    )


async def play(
    plan: TrafficPlan,
    *,
    base_url: str,
    public_key: str,
    origin: str,
    report: TrafficReport | None = None,
) -> TrafficReport:
    """Send every visitor of `plan` to the storefront at `base_url`; log one line when done."""
    report = report if report is not None else TrafficReport()
    limits = httpx.Limits(max_connections=plan.concurrency, max_keepalive_connections=plan.concurrency)
    visits = plan.visits()
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0, limits=limits) as client:
        player = _Player(client, plan, public_key, origin, report)
        async with asyncio.TaskGroup() as group:
            for n in range(plan.concurrency):
                group.create_task(player.work(visits), name=f"kx-edge demo traffic {n}")
    report.finished = True
    if report.stopped is not None:
        logger.warning(
            "demo traffic stopped after %d visitors and %d orders: %s",
            report.visitors, report.orders, report.stopped,
        )  # fmt: skip
        return report
    logger.info(
        "demo traffic sent: %d visitors (and %d bots) and %d orders (%.2f %s)%s",
        report.visitors, report.bots, report.orders, report.revenue, plan.currency,
        f", {report.failed} visits failed" if report.failed else "",
        extra={"visitors": report.visitors, "bots": report.bots, "orders": report.orders, "failed": report.failed},
    )  # fmt: skip
    return report

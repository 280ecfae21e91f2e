"""The sender's decisions with a scripted Klaviyo: bulk or single, one bad event in a job, the
connection's state, giving up on old events; and the budget it spends."""

from __future__ import annotations

import json

import httpx
import pytest

from edge.events.api import EventsApi, Outcome, PostResult
from edge.events.budget import EventsBudget
from edge.events.component import sql_outbox
from edge.events.outbox import NewEvent, VisitWrite
from edge.events.sender import Sender, SenderConfig
from edge.events.triggers import Trigger
from edge.store import Database
from edge.store.outbox import SqlOutbox
from klaviyo import Tier, TierLimit
from oauth.connection import Connection, ConnectionStatus
from tests.edge.events.conftest import WITH_EVENTS, WITHOUT_EVENTS

NOW = 1_800_000_000.0


class ScriptedApi(EventsApi):
    """Answers each call from a script; records what was sent."""

    def __init__(self, *answers: PostResult) -> None:
        super().__init__(httpx.AsyncClient(), _NoTokens(), EventsBudget())
        self.answers = list(answers)
        self.singles: list[str] = []
        self.bulks: list[list[str]] = []

    async def post_event(self, site_id: str, account: str, body: bytes) -> PostResult:
        self.singles.append(json.loads(body)["data"]["attributes"]["unique_id"])
        return self.answers.pop(0) if self.answers else PostResult(Outcome.SENT)

    async def post_bulk(self, site_id: str, account: str, body: bytes) -> PostResult:
        entries = json.loads(body)["data"]["attributes"]["events-bulk-create"]["data"]
        self.bulks.append([e["attributes"]["events"]["data"][0]["attributes"]["unique_id"] for e in entries])
        return self.answers.pop(0) if self.answers else PostResult(Outcome.SENT)


class _NoTokens:
    async def access_token(self, site_id: str) -> str:
        raise AssertionError("not called")

    async def refresh_after_unauthorized(self, site_id: str, rejected: str) -> str:
        raise AssertionError("not called")


class Clock:
    now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def outbox(database: Database) -> SqlOutbox:
    return sql_outbox(database)


async def enqueue(outbox: SqlOutbox, n: int, prefix: str = "u") -> None:
    writes = []
    for i in range(n):
        uid = f"{prefix}{i}"
        profile = b'{"data":{"type":"profile","attributes":{"_kx":"K"}}}'
        event = NewEvent(
            "site_1", Trigger.ENTERED_TEST, uid, json.dumps({"unique_id": uid}).encode(), profile, NOW
        )
        writes.append(VisitWrite("site_1", int(NOW // 86_400), (event,)))
    await outbox.append(writes, {}, NOW)


def connection(
    status: ConnectionStatus = ConnectionStatus.ACTIVE, scopes: tuple[str, ...] = WITH_EVENTS
) -> Connection:
    return Connection(site_id="site_1", status=status, account_id="ACCT", scopes=scopes)


def sender(
    outbox: SqlOutbox, api: ScriptedApi, conn: Connection | None, clock: Clock | None = None
) -> Sender:
    async def lookup(site_id: str) -> Connection | None:
        return conn

    return Sender(
        outbox, api, lookup, SenderConfig(bulk_threshold=3, backoff_base_s=1.0), clock=clock or Clock()
    )


async def counts(outbox: SqlOutbox) -> dict[str, int]:
    stats = (await outbox.stats("site_1", NOW)).triggers[Trigger.ENTERED_TEST]
    return {**stats.counts, "pending": stats.pending}


async def test_few_waiting_go_one_by_one_more_go_in_one_bulk_job(outbox: SqlOutbox) -> None:
    api = ScriptedApi()
    await enqueue(outbox, 3)
    assert await sender(outbox, api, connection()).run_once() == 3
    assert (sorted(api.singles), api.bulks) == (["u0", "u1", "u2"], [])
    await enqueue(outbox, 4, prefix="b")
    await sender(outbox, api, connection()).run_once()
    assert api.bulks == [["b0", "b1", "b2", "b3"]]
    assert await counts(outbox) == {"sent": 7, "pending": 0}


async def test_one_refused_event_fails_alone_and_the_job_is_sent_again(outbox: SqlOutbox) -> None:
    refused = PostResult(Outcome.FAILED, "HTTP 400 from Klaviyo: bad (at /data/.../data/2/x)", bad_entry=2)
    api = ScriptedApi(refused)
    await enqueue(outbox, 5)
    await sender(outbox, api, connection()).run_once()
    assert api.bulks == [["u0", "u1", "u2", "u3", "u4"], ["u0", "u1", "u3", "u4"]]
    assert await counts(outbox) == {"sent": 4, "failed": 1, "pending": 0}
    failed = (await outbox.stats("site_1", NOW)).triggers[Trigger.ENTERED_TEST]
    assert failed.last_error is not None and "HTTP 400" in failed.last_error


async def test_a_wait_is_not_an_attempt_and_a_retry_backs_off(outbox: SqlOutbox) -> None:
    clock = Clock()
    api = ScriptedApi(
        PostResult(Outcome.WAIT, wait_s=2.0), PostResult(Outcome.RETRY, "HTTP 502 from Klaviyo")
    )
    await enqueue(outbox, 1)
    send = sender(outbox, api, connection(), clock)
    await send.run_once()
    assert await outbox.claim(10, NOW + 1.9) == []
    clock.now = NOW + 2.0
    assert await send.run_once() == 1  # Retry-After waited out; now a 502
    [retried] = await outbox.claim(10, NOW + 2.0 + 1.0)  # backoff: 0.5 to 1 s after the first failure
    assert retried.attempts == 1


async def test_an_event_still_failing_after_max_age_is_given_up(outbox: SqlOutbox) -> None:
    clock = Clock()
    clock.now = NOW + 86_400
    await enqueue(outbox, 1)
    await sender(outbox, ScriptedApi(PostResult(Outcome.RETRY, "timeout")), connection(), clock).run_once()
    assert await counts(outbox) == {"failed": 1, "pending": 0}
    reason = (await outbox.stats("site_1", NOW)).triggers[Trigger.ENTERED_TEST].last_error
    assert reason == "gave up after 1 attempts: timeout"


@pytest.mark.parametrize(
    ("conn", "expected", "error"),
    [
        (None, {"failed": 1, "pending": 0}, "not_connected"),
        (connection(ConnectionStatus.DISCONNECTED), {"failed": 1, "pending": 0}, "not_connected"),
        (connection(scopes=WITHOUT_EVENTS), {"failed": 1, "pending": 0}, "scope_missing"),
        (connection(ConnectionStatus.NEEDS_REAUTH), {"pending": 1}, "needs_reauth"),
    ],
)
async def test_the_connection_decides_before_anything_is_sent(
    outbox: SqlOutbox, conn: Connection | None, expected: dict[str, int], error: str
) -> None:
    api = ScriptedApi()
    await enqueue(outbox, 1)
    await sender(outbox, api, conn).run_once()
    assert api.singles == [] and api.bulks == []
    assert await counts(outbox) == expected
    last_error = (await outbox.stats("site_1", NOW)).triggers[Trigger.ENTERED_TEST].last_error
    assert last_error is not None and error in last_error


def test_the_budget_keeps_under_klaviyo_limits_and_honours_retry_after() -> None:
    clock = Clock()
    budget = EventsBudget(fraction=0.8, clock=clock)
    assert budget.limit(Tier.BULK_EVENTS) == TierLimit(8, 120)
    assert all(budget.take_now("A", Tier.BULK_EVENTS) is None for _ in range(8))
    refusal = budget.take_now("A", Tier.BULK_EVENTS)
    assert refusal is not None and 0 < refusal.retry_after_s <= 1.0
    assert budget.take_now("B", Tier.BULK_EVENTS) is None  # per account
    clock.now += 1.0
    assert budget.take_now("A", Tier.BULK_EVENTS) is None
    budget.block_now("A", 5.0)
    blocked = budget.take_now("A", Tier.EVENTS)
    assert blocked is not None and blocked.retry_after_s == pytest.approx(5.0)
    budget.block_now("A", 1.0)  # a shorter block never shortens a longer one
    assert budget.blocked_for("A") == pytest.approx(5.0)

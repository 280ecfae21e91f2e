"""The Redis stream outbox: the app's path when Redis is configured, against a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge.events.outbox import NewEvent, ProfileWrite, Retry, VisitWrite
from edge.events.redis_outbox import RedisOutbox
from edge.events.triggers import Trigger
from edge.fleet.redis_client import RedisClient
from sandbox import SandboxState
from tests.cluster import RedisServer
from tests.edge.events.conftest import ALL_ON, VIP, klaviyo_settings, shop
from tests.waiting import wait_until_async

pytestmark = pytest.mark.redis
NOW = 1_800_000_000.0
DAY = int(NOW // 86_400)


def visit(uid: str, site: str = "site_a") -> VisitWrite:
    return VisitWrite(
        site,
        DAY,
        (
            NewEvent(
                site,
                Trigger.SAW_PERSONALIZATION,
                uid,
                b'{"u":"' + uid.encode() + b'"}',
                b"{}",
                NOW,
                deduplicated=True,
            ),
        ),
    )


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[RedisClient]:
    opened = redis_server.client()
    yield opened
    await opened.aclose()


def outbox(client: RedisClient, prefix: str, **options: float) -> RedisOutbox:
    return RedisOutbox(client, prefix, cap=int(options.pop("cap", 100)), lease_s=options.pop("lease_s", 30.0))


async def test_events_flow_through_the_stream_to_klaviyo(
    tmp_path: Path, fake_klaviyo: str, sandbox: SandboxState, redis_url: str, redis_prefix: str
) -> None:
    settings = klaviyo_settings(tmp_path, fake_klaviyo, redis_url=redis_url, redis_prefix=redis_prefix)
    async with shop(settings, sandbox, triggers=ALL_ON) as s:
        assert s.events.outbox.backend == "redis"
        await s.assign("r" * 22, kx=VIP.kx)
        await s.assign("r" * 22, kx=VIP.kx)  # the same visit again: nothing new

        async def delivered() -> bool:
            return len(sandbox.events()) == 2 and await s.pending() == 0

        await wait_until_async(delivered)
        await s.events.flush()
        status = await s.status()
    assert {e.metric_name for e in sandbox.events()} == {
        "kx-edge: Entered Test",
        "kx-edge: Saw Personalization",
    }
    assert status["outbox"]["backend"] == "redis" and status["outbox"]["pending"] == 0
    for trigger in ("entered_test", "saw_personalization"):
        t = status["triggers"][trigger]
        assert (t["sent"], t["pending"], t["failed"]) == (1, 0, 0) and t["last_sent_at"]


async def test_dedupe_is_shared_and_the_profile_event_is_sent_once(
    client: RedisClient, redis_prefix: str
) -> None:
    one, other = outbox(client, redis_prefix), outbox(client, redis_prefix)  # two workers
    assert (await one.append([visit("u1")], {}, NOW)).enqueued == 1
    assert (await other.append([visit("u1"), visit("u2")], {}, NOW)).enqueued == 1
    assert await other.seen(["u1", "u2", "u3"], DAY) == {"u1", "u2"}
    profile_event = NewEvent("site_a", Trigger.PROFILE_SYNC, "p1", b"{}", b"{}", NOW)
    change = VisitWrite("site_a", DAY, (), ProfileWrite("kx1", "h1", profile_event))
    assert (await one.append([change], {}, NOW)).enqueued == 1
    assert (await other.append([change], {}, NOW)).enqueued == 0  # already recorded as h1


async def test_beyond_the_cap_the_oldest_are_dropped_and_counted(
    client: RedisClient, redis_prefix: str
) -> None:
    capped = outbox(client, redis_prefix, cap=3)
    result = await capped.append([visit(f"u{i}") for i in range(5)], {}, NOW)
    assert (result.enqueued, result.dropped) == (5, 2)
    assert [c.unique_id for c in await capped.claim(10, NOW)] == ["u2", "u3", "u4"]
    stats = await capped.stats("site_a", NOW)
    assert stats.size == 3
    assert stats.triggers[Trigger.SAW_PERSONALIZATION].counts == {"dropped": 2}
    assert stats.triggers[Trigger.SAW_PERSONALIZATION].pending == 3


async def test_a_dead_senders_claim_goes_to_another_after_the_lease(
    client: RedisClient, redis_prefix: str
) -> None:
    dead, alive = outbox(client, redis_prefix, lease_s=0.2), outbox(client, redis_prefix, lease_s=0.2)
    await dead.append([visit("u1"), visit("u2")], {}, NOW)
    assert len(await dead.claim(10, NOW)) == 2  # ... and it dies holding them
    assert await alive.claim(10, NOW) == []

    async def reclaimed() -> bool:
        claimed = await alive.claim(10, NOW)
        return sorted(c.unique_id for c in claimed) == ["u1", "u2"]

    await wait_until_async(reclaimed)


async def test_settling_sends_fails_and_schedules_retries(client: RedisClient, redis_prefix: str) -> None:
    box = outbox(client, redis_prefix)
    await box.append(
        [visit("sent"), visit("failed"), visit("later")],
        {("site_a", Trigger.SAW_PERSONALIZATION, "no_kx"): 2},
        NOW,
    )
    sent, failed, later = await box.claim(10, NOW)
    await box.settle(
        NOW,
        sent=[sent],
        failed=[(failed, "HTTP 400 from Klaviyo")],
        retry=[Retry(later, NOW + 30, "HTTP 503")],
    )
    stats = await box.stats("site_a", NOW)
    entered = stats.triggers[Trigger.SAW_PERSONALIZATION]
    assert entered.counts == {"sent": 1, "failed": 1, "skipped:no_kx": 2}
    assert (entered.pending, stats.size, entered.last_sent_at) == (1, 1, NOW)
    assert entered.last_error == "HTTP 503 (will retry)"
    assert await box.claim(10, NOW + 29) == []
    [again] = await box.claim(10, NOW + 30)
    assert (again.unique_id, again.attempts) == ("later", 1)
    await box.settle(NOW + 30, sent=[again])
    await box.settle(NOW + 30, sent=[again])  # twice (a lease ran out): counted once
    stats = await box.stats("site_a", NOW + 30)
    entered = stats.triggers[Trigger.SAW_PERSONALIZATION]
    assert (stats.size, entered.pending, entered.counts["sent"]) == (0, 0, 2)

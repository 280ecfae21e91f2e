"""The SQLite outbox on its own: dedupe, cap, leases, settling, across reopenings of the file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge.events.outbox import NewEvent, Retry, VisitWrite
from edge.events.sqlite_outbox import SqliteOutbox
from edge.events.triggers import Trigger
from edge.store import SqliteStore

NOW = 1_800_000_000.0
DAY = int(NOW // 86_400)


def visit(uid: str, site: str = "site_a", trigger: Trigger = Trigger.SAW_PERSONALIZATION) -> VisitWrite:
    event = NewEvent(site, trigger, uid, b'{"unique_id":"' + uid.encode() + b'"}', b'{"data":{}}', NOW)
    return VisitWrite(site, DAY, (event,))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "kx-edge.sqlite3"


@pytest.fixture
async def outbox(path: Path) -> AsyncIterator[SqliteOutbox]:
    opened = SqliteOutbox(path, cap=5, lease_s=10.0)
    yield opened
    await opened.aclose()


async def test_the_outbox_lives_in_the_app_database(path: Path, outbox: SqliteOutbox) -> None:
    await outbox.append([visit("u1")], {}, NOW)
    store = SqliteStore(path)  # the app's store sees migration 3's table
    assert store.connection.execute("SELECT unique_id FROM event_outbox").fetchall()[0][0] == "u1"
    await store.close()


async def test_an_event_is_enqueued_once_per_unique_id_also_after_reopening(
    path: Path, outbox: SqliteOutbox
) -> None:
    first = await outbox.append([visit("u1"), visit("u1"), visit("u2")], {}, NOW)
    assert (first.enqueued, first.duplicates) == (2, 1)
    await outbox.aclose()
    reopened = SqliteOutbox(path, cap=5)
    again = await reopened.append([visit("u1")], {}, NOW + 60)
    assert (again.enqueued, again.duplicates) == (0, 1)
    assert await reopened.seen(["u1", "u2", "u3"], DAY) == {"u1", "u2"}
    await reopened.aclose()


async def test_a_test_entry_is_left_to_klaviyo_to_deduplicate(outbox: SqliteOutbox) -> None:
    # Entries fire once by themselves (first_assignment); a repeat the same day (a visitor who
    # lost their token) has the same unique_id, and Klaviyo keeps one. No dedupe write for them.
    entered = await outbox.append([visit("e1", trigger=Trigger.ENTERED_TEST)] * 2, {}, NOW)
    assert (entered.enqueued, entered.duplicates) == (2, 0)
    assert await outbox.seen(["e1"], DAY) == set()


async def test_beyond_the_cap_the_oldest_are_dropped_and_counted(outbox: SqliteOutbox) -> None:
    result = await outbox.append([visit(f"u{i}") for i in range(1, 9)], {}, NOW)
    assert (result.enqueued, result.dropped) == (8, 3)
    claimed = await outbox.claim(100, NOW)
    assert [c.unique_id for c in claimed] == ["u4", "u5", "u6", "u7", "u8"]
    stats = await outbox.stats("site_a", NOW)
    assert stats.size == 5
    assert stats.triggers[Trigger.SAW_PERSONALIZATION].counts == {"dropped": 3}
    assert stats.triggers[Trigger.SAW_PERSONALIZATION].pending == 5


async def test_a_claim_is_leased_and_comes_back_when_the_lease_runs_out(outbox: SqliteOutbox) -> None:
    await outbox.append([visit("u1"), visit("u2")], {}, NOW)
    assert [c.unique_id for c in await outbox.claim(1, NOW)] == ["u1"]
    assert [c.unique_id for c in await outbox.claim(10, NOW + 1)] == ["u2"]
    assert await outbox.claim(10, NOW + 5) == []
    assert [c.unique_id for c in await outbox.claim(10, NOW + 10)] == ["u1"]  # its sender died


async def test_settling_counts_and_marks_each_event(outbox: SqliteOutbox) -> None:
    await outbox.append([visit("sent"), visit("failed"), visit("later"), visit("waiting")], {}, NOW)
    sent, failed, later, waiting = await outbox.claim(10, NOW)
    await outbox.settle(
        NOW,
        sent=[sent],
        failed=[(failed, "HTTP 400 from Klaviyo: bad time")],
        retry=[Retry(later, NOW + 30, "HTTP 503 from Klaviyo"), Retry(waiting, NOW + 1, None)],
    )
    stats = await outbox.stats("site_a", NOW)
    entered = stats.triggers[Trigger.SAW_PERSONALIZATION]
    assert entered.counts == {"sent": 1, "failed": 1}
    assert (entered.pending, stats.size, entered.last_sent_at) == (2, 2, NOW)
    assert entered.last_error == "HTTP 503 from Klaviyo (will retry)"
    [waited] = await outbox.claim(10, NOW + 1)
    assert waited.unique_id == "waiting" and waited.attempts == 0  # a wait is not an attempt
    await outbox.settle(NOW + 1, sent=[waited])
    [again] = await outbox.claim(10, NOW + 30)
    assert (again.unique_id, again.attempts) == ("later", 1)
    # Settling an event twice (two senders after a lease ran out) changes nothing more.
    await outbox.settle(NOW, sent=[sent])
    stats = await outbox.stats("site_a", NOW)
    assert (stats.size, stats.triggers[Trigger.SAW_PERSONALIZATION].counts["sent"]) == (1, 2)


async def test_skips_are_counted_per_reason_for_24_hours(outbox: SqliteOutbox) -> None:
    await outbox.append([], {("site_a", Trigger.SAW_PERSONALIZATION, "no_kx"): 3}, NOW)
    counts = (await outbox.stats("site_a", NOW)).triggers[Trigger.SAW_PERSONALIZATION].counts
    assert counts == {"skipped:no_kx": 3}
    later = (await outbox.stats("site_a", NOW + 25 * 3600)).triggers[Trigger.SAW_PERSONALIZATION].counts
    assert later == {}
    await outbox.prune(NOW + 3 * 86_400)
    assert await outbox.seen(["u1"], DAY) == set()

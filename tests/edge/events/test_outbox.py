"""The outbox in the app's database on its own, on each backend: dedupe, cap, leases, settling,
across reopenings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.events.component import sql_outbox
from edge.events.outbox import NewEvent, ProfileWrite, Retry, VisitWrite
from edge.events.payload import digest
from edge.events.triggers import Trigger
from edge.store import Database
from edge.store.outbox import SqlOutbox
from tests.apps import make_settings
from tests.databases import all_rows, opened

NOW = 1_800_000_000.0
DAY = int(NOW // 86_400)


def event(uid: str, site: str = "site_a", trigger: Trigger = Trigger.SAW_PERSONALIZATION) -> NewEvent:
    body = b'{"unique_id":"' + uid.encode() + b'"}'
    return NewEvent(
        site, trigger, uid, body, b'{"data":{}}', NOW, deduplicated=trigger is Trigger.SAW_PERSONALIZATION
    )


def visit(uid: str, site: str = "site_a", trigger: Trigger = Trigger.SAW_PERSONALIZATION) -> VisitWrite:
    return VisitWrite(site, DAY, (event(uid, site, trigger),))


@pytest.fixture
def outbox(database: Database) -> SqlOutbox:
    return sql_outbox(database, cap=5, lease_s=10.0)


async def test_the_outbox_lives_in_the_app_database(database: Database, outbox: SqlOutbox) -> None:
    await outbox.append([visit("u1")], {}, NOW)
    assert [row[3] for row in await all_rows(database, "event_outbox")] == ["u1"]
    assert outbox.backend == database.dialect.name


async def test_an_event_is_enqueued_once_per_unique_id_also_after_reopening(
    tmp_path: Path, store_overrides: dict[str, Any]
) -> None:
    settings = make_settings(tmp_path, **store_overrides)
    db = await opened(settings)
    first = await sql_outbox(db, cap=5).append([visit("u1"), visit("u1"), visit("u2")], {}, NOW)
    assert (first.enqueued, first.duplicates) == (2, 1)
    await db.close()
    db = await opened(settings)
    reopened = sql_outbox(db, cap=5)
    again = await reopened.append([visit("u1")], {}, NOW + 60)
    assert (again.enqueued, again.duplicates) == (0, 1)
    assert await reopened.seen(["u1", "u2", "u3"], DAY) == {"u1", "u2"}
    await db.close()


async def test_a_test_entry_is_left_to_klaviyo_to_deduplicate(outbox: SqlOutbox) -> None:
    # Entries fire once by themselves (first_assignment); a repeat the same day (a visitor who
    # lost their token) has the same unique_id, and Klaviyo keeps one. No dedupe write for them.
    entered = await outbox.append([visit("e1", trigger=Trigger.ENTERED_TEST)] * 2, {}, NOW)
    assert (entered.enqueued, entered.duplicates) == (2, 0)
    assert await outbox.seen(["e1"], DAY) == set()


async def test_a_profile_event_goes_only_when_the_experiences_changed_and_nothing_carried_them(
    outbox: SqlOutbox,
) -> None:
    def profile_visit(uid: str, experiences: str, *carried: NewEvent) -> VisitWrite:
        profile = ProfileWrite("kx_hash", digest(experiences), event(uid, trigger=Trigger.PROFILE_SYNC))
        return VisitWrite("site_a", DAY, carried, profile)

    nothing = await outbox.append([profile_visit("p0", "")], {}, NOW)  # no experiences, none on record
    first = await outbox.append([profile_visit("p1", "banner")], {}, NOW)
    same = await outbox.append([profile_visit("p2", "banner")], {}, NOW)
    carried = await outbox.append([profile_visit("p3", "checkout", event("c1"))], {}, NOW)
    gone = await outbox.append([profile_visit("p4", "")], {}, NOW)  # back to none: a change
    assert [r.enqueued for r in (nothing, first, same, carried, gone)] == [0, 1, 0, 1, 1]
    assert [c.unique_id for c in await outbox.claim(10, NOW)] == ["p1", "c1", "p4"]


async def test_beyond_the_cap_the_oldest_are_dropped_and_counted(outbox: SqlOutbox) -> None:
    result = await outbox.append([visit(f"u{i}") for i in range(1, 9)], {}, NOW)
    assert (result.enqueued, result.dropped) == (8, 3)
    claimed = await outbox.claim(100, NOW)
    assert [c.unique_id for c in claimed] == ["u4", "u5", "u6", "u7", "u8"]
    stats = await outbox.stats("site_a", NOW)
    assert stats.size == 5
    assert stats.triggers[Trigger.SAW_PERSONALIZATION].counts == {"dropped": 3}
    assert stats.triggers[Trigger.SAW_PERSONALIZATION].pending == 5


async def test_a_claim_is_leased_and_comes_back_when_the_lease_runs_out(outbox: SqlOutbox) -> None:
    await outbox.append([visit("u1"), visit("u2")], {}, NOW)
    assert [c.unique_id for c in await outbox.claim(1, NOW)] == ["u1"]
    assert [c.unique_id for c in await outbox.claim(10, NOW + 1)] == ["u2"]
    assert await outbox.claim(10, NOW + 5) == []
    assert [c.unique_id for c in await outbox.claim(10, NOW + 10)] == ["u1"]  # its sender died


async def test_settling_counts_and_marks_each_event(outbox: SqlOutbox) -> None:
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


async def test_skips_are_counted_per_reason_for_24_hours(outbox: SqlOutbox) -> None:
    await outbox.append([], {("site_a", Trigger.SAW_PERSONALIZATION, "no_kx"): 3}, NOW)
    counts = (await outbox.stats("site_a", NOW)).triggers[Trigger.SAW_PERSONALIZATION].counts
    assert counts == {"skipped:no_kx": 3}
    later = (await outbox.stats("site_a", NOW + 25 * 3600)).triggers[Trigger.SAW_PERSONALIZATION].counts
    assert later == {}
    await outbox.prune(NOW + 3 * 86_400)
    assert await outbox.seen(["u1"], DAY) == set()

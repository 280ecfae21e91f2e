"""Events reach the sandbox Klaviyo (real socket, strict validation, dedupe by unique_id)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from edge.events import PROFILE_PROPERTY, Trigger, unique_id
from edge.events.plan import utc_day
from edge.settings import Settings
from sandbox import DEMO_ACCOUNT_ID, FaultKind, RecordedEvent, SandboxState
from tests.apps import put_experience
from tests.edge.events.conftest import (
    ALL_ON,
    NOT_VIP,
    VIP,
    WITHOUT_EVENTS,
    LoseAnswers,
    ManualClock,
    Shop,
    fast_config,
    shop,
)
from tests.targeting.factories import doc
from tests.waiting import wait_until_async

ENTERED = "kx-edge: Entered Test"
SAW = "kx-edge: Saw Personalization"
UPDATED = "kx-edge: Experiences Updated"
EVENTS_ROUTE = "/api/events"
BULK_ROUTE = "/api/event-bulk-create-jobs"


async def _until_events(
    sandbox: SandboxState, n: int, what: str = "events in the sandbox"
) -> list[RecordedEvent]:
    async def arrived() -> bool:
        return len(sandbox.events()) >= n

    await wait_until_async(arrived, what=what)
    return sandbox.events()


async def _until_settled(s: Shop) -> None:
    async def empty() -> bool:
        return await s.pending() == 0 and not s.events.observer.buffer

    await wait_until_async(empty, what="the outbox to empty")


async def test_events_arrive_in_the_documented_shape(running: Shop) -> None:
    s, site_id = running, running.site["id"]
    answer = await s.assign("v" * 22, kx=VIP.kx, url="https://shop.example.com/cart")
    by_id = {e["id"]: e for e in answer["experiences"]}
    assert by_id["free-shipping"]["variation_id"] == "banner"
    checkout = by_id["checkout"]["variation_id"]
    events = {e.metric_name: e for e in await _until_events(s.sandbox, 2)}
    assert set(events) == {ENTERED, SAW}  # the trigger events carry the profile property
    day = utc_day(datetime.now().timestamp())
    experiences = sorted(["free-shipping:banner", f"checkout:{checkout}"])

    saw = events[SAW]
    assert saw.account_id == DEMO_ACCOUNT_ID and saw.profile_id == VIP.profile_id
    assert saw.unique_id == unique_id(site_id, "v" * 22, "free-shipping", Trigger.SAW_PERSONALIZATION, day)
    assert saw.backfill is False and "backfill" not in saw.body["data"]["attributes"]
    assert saw.properties == {
        "Experience": "Experience free-shipping", "Experience ID": "free-shipping", "Variation": "BANNER",
        "Variation ID": "banner", "Is Control": False, "Site": "Shop", "Page URL": "https://shop.example.com/cart",
    }  # fmt: skip
    assert abs(saw.time - datetime.now().timestamp()) < 60
    assert saw.body["data"]["attributes"]["profile"] == {
        "data": {
            "type": "profile",
            "attributes": {"_kx": VIP.kx, "properties": {PROFILE_PROPERTY: experiences}},
        }
    }
    entered = events[ENTERED]
    assert entered.unique_id == unique_id(site_id, "v" * 22, "checkout", Trigger.ENTERED_TEST, day)
    assert entered.properties["Experience ID"] == "checkout"
    assert entered.properties["Variation ID"] == checkout
    assert entered.properties["Is Control"] is (checkout == "control")
    profile = s.sandbox.profile(VIP.profile_id)
    assert profile is not None and profile.properties[PROFILE_PROPERTY] == experiences

    await _until_settled(s)
    status = await s.status()
    for trigger in ("entered_test", "saw_personalization"):
        t = status["triggers"][trigger]
        assert (t["enabled"], t["sent"], t["failed"], t["pending"], t["last_error"]) == (True, 1, 0, 0, None)
        assert t["last_sent_at"] is not None
    assert status["triggers"]["profile_sync"]["sent"] == 0  # rode along, no event of its own
    assert s.sandbox.calls.count(EVENTS_ROUTE) == 2 and s.sandbox.calls.count(BULK_ROUTE) == 0


async def test_a_returning_visitor_sends_nothing_new_the_same_day(running: Shop) -> None:
    s = running
    sticky: str | None = None
    for _ in range(3):
        body = await s.assign("r" * 22, kx=VIP.kx)
        assert sticky is None or body["sticky"]
        sticky = body["sticky"]
    await s.events.flush()
    await _until_settled(s)
    assert Counter(e.metric_name for e in s.sandbox.events()) == {ENTERED: 1, SAW: 1}


async def test_saw_personalization_fires_once_per_visitor_per_utc_day(
    settings: Settings, sandbox: SandboxState
) -> None:
    clock = ManualClock()
    triggers = {"saw_personalization": {"enabled": True}}
    async with shop(settings, sandbox, triggers=triggers, clock=clock) as s:
        for _ in range(3):
            await s.assign("d" * 22, kx=VIP.kx)
        await _until_events(sandbox, 1)
        clock.now += 86_400
        await s.assign("d" * 22, kx=VIP.kx)
        await s.assign("e" * 22, kx=VIP.kx)  # another visitor (device) of the same profile
        events = await _until_events(sandbox, 3)
        await _until_settled(s)
    assert [e.metric_name for e in events] == [SAW] * 3
    assert len({e.unique_id for e in events}) == 3


async def test_profile_sync_alone_sends_an_update_only_when_the_experiences_change(
    settings: Settings, sandbox: SandboxState
) -> None:
    async with shop(settings, sandbox, triggers={"profile_sync": {"enabled": True}}) as s:
        await s.assign("p" * 22, kx=VIP.kx)
        [first] = await _until_events(sandbox, 1)
        await s.assign("p" * 22, kx=VIP.kx)
        await s.events.flush()
        await _until_settled(s)
        assert len(sandbox.events()) == 1
        await put_experience(s.client, s.site["id"], doc("sizing", variation_ids=("control", "chart")))
        await s.assign("p" * 22, kx=VIP.kx)
        second = (await _until_events(sandbox, 2))[1]
        await _until_settled(s)
        status = await s.status()
    assert first.metric_name == second.metric_name == UPDATED
    assert first.properties["Experiences"] == sorted(
        ["free-shipping:banner", first.properties["Experiences"][0]]
    )
    assert len(second.properties["Experiences"]) == 3
    profile = sandbox.profile(VIP.profile_id)
    assert profile is not None and profile.properties[PROFILE_PROPERTY] == second.properties["Experiences"]
    assert status["triggers"]["profile_sync"]["sent"] == 2


async def test_a_visitor_without_kx_is_skipped_and_counted(running: Shop) -> None:
    s = running
    await s.assign("a" * 22)  # enters the test, but Klaviyo could not tell who it is
    await s.assign("b" * 22, kx=NOT_VIP.kx)  # identified, not a VIP: entered the test only
    [event] = await _until_events(s.sandbox, 1)
    await _until_settled(s)
    assert event.metric_name == ENTERED and event.identifiers == {"_kx": NOT_VIP.kx}
    status = await s.status()
    assert status["triggers"]["entered_test"]["skipped_by_reason"] == {"no_kx": 1}
    assert status["triggers"]["profile_sync"]["skipped_by_reason"] == {"no_kx": 1}
    assert any("_kx" in p for p in status["problems"])


async def test_many_waiting_events_go_out_in_bulk_jobs(settings: Settings, sandbox: SandboxState) -> None:
    async with shop(settings, sandbox, triggers=ALL_ON, start=False) as s:
        for i in range(30):
            await s.assign(f"bulk{i:02d}".ljust(22, "x"), kx=VIP.kx)
        assert (await s.events.flush()).enqueued == 60
        await s.events.start()
        events = await _until_events(sandbox, 60)
        await _until_settled(s)
        status = await s.status()
    assert sandbox.calls.count(EVENTS_ROUTE) == 0
    assert sandbox.calls.count(BULK_ROUTE) == 1
    assert all(e.bulk for e in events)
    assert status["triggers"]["saw_personalization"]["sent"] == 30


async def test_a_429_is_waited_out_for_retry_after_and_nothing_is_lost(
    settings: Settings, sandbox: SandboxState
) -> None:
    sandbox.faults.inject(EVENTS_ROUTE, FaultKind.THROTTLED, retry_after_s=1)
    async with shop(settings, sandbox, triggers={"entered_test": {"enabled": True}}) as s:
        await s.assign("t" * 22, kx=VIP.kx)
        [event] = await _until_events(sandbox, 1)
        await _until_settled(s)
        status = await s.status()
    throttled, accepted = sandbox.calls.records(EVENTS_ROUTE)
    assert (throttled.status, accepted.status) == (429, 202)
    assert accepted.at - throttled.at >= 0.95  # Retry-After: 1
    assert event.metric_name == ENTERED
    t = status["triggers"]["entered_test"]
    assert (t["sent"], t["failed"], t["pending"], t["last_error"]) == (1, 0, 0, None)


async def test_server_errors_are_retried_with_backoff(settings: Settings, sandbox: SandboxState) -> None:
    sandbox.faults.inject(EVENTS_ROUTE, FaultKind.UNAVAILABLE, times=2)
    async with shop(settings, sandbox, triggers={"entered_test": {"enabled": True}}) as s:
        await s.assign("u" * 22, kx=VIP.kx)
        await _until_events(sandbox, 1)
        await _until_settled(s)
        status = await s.status()
    assert [c.status for c in sandbox.calls.records(EVENTS_ROUTE)] == [503, 503, 202]
    t = status["triggers"]["entered_test"]
    assert (t["sent"], t["failed"]) == (1, 0)
    assert "503" in t["last_error"]["message"] and "will retry" in t["last_error"]["message"]


async def test_an_event_klaviyo_got_but_whose_answer_was_lost_is_counted_once(
    settings: Settings, sandbox: SandboxState
) -> None:
    lossy = LoseAnswers(EVENTS_ROUTE, times=2)
    async with shop(
        settings, sandbox, triggers={"entered_test": {"enabled": True}}, http_transport=lossy
    ) as s:
        await s.assign("h" * 22, kx=VIP.kx)
        await _until_events(sandbox, 1)
        await _until_settled(s)
        status = await s.status()
    assert sandbox.calls.count(EVENTS_ROUTE) == 3  # received three times ...
    [event] = sandbox.events()  # ... recorded once: the same unique_id each time
    assert event.metric_name == ENTERED
    assert status["triggers"]["entered_test"]["sent"] == 1


async def test_a_send_that_times_out_is_sent_again(settings: Settings, sandbox: SandboxState) -> None:
    sandbox.faults.inject(EVENTS_ROUTE, FaultKind.HANG, hang_s=1.0)
    config = fast_config(request_timeout_s=0.3)
    async with shop(settings, sandbox, triggers={"entered_test": {"enabled": True}}, config=config) as s:
        await s.assign("h" * 22, kx=VIP.kx)
        [event] = await _until_events(sandbox, 1)
        await _until_settled(s)
        status = await s.status()
    assert event.metric_name == ENTERED
    assert "timeout" in status["triggers"]["entered_test"]["last_error"]["message"]


async def test_an_expired_token_is_refreshed_once(settings: Settings, sandbox: SandboxState) -> None:
    async with shop(settings, sandbox, triggers={"entered_test": {"enabled": True}}, start=False) as s:
        sandbox.expire_access_tokens()
        await s.assign("k" * 22, kx=VIP.kx)
        await s.events.start()
        await _until_events(sandbox, 1)
        await _until_settled(s)
    assert [c.status for c in sandbox.calls.records(EVENTS_ROUTE)] == [401, 202]
    assert sandbox.calls.count("/oauth/token") == 1


async def test_an_event_klaviyo_refuses_fails_with_its_reason(
    settings: Settings, sandbox: SandboxState
) -> None:
    clock = ManualClock(start=datetime.now().timestamp() + 3 * 366 * 86_400)  # "time" too far ahead
    async with shop(settings, sandbox, triggers={"entered_test": {"enabled": True}}, clock=clock) as s:
        await s.assign("f" * 22, kx=VIP.kx)

        async def failed() -> bool:
            return bool((await s.status())["triggers"]["entered_test"]["failed"] == 1)

        await wait_until_async(failed)
        status = await s.status()
    assert sandbox.events() == []
    assert sandbox.calls.count(EVENTS_ROUTE) == 1  # a 400 is never retried
    error = status["triggers"]["entered_test"]["last_error"]["message"]
    assert "HTTP 400" in error and "/data/attributes/time" in error


async def test_nothing_is_sent_without_events_write(settings: Settings, sandbox: SandboxState) -> None:
    async with shop(settings, sandbox, triggers=ALL_ON, scopes=WITHOUT_EVENTS) as s:
        await s.assign("s" * 22, kx=VIP.kx)
        await s.events.flush()
        await _until_settled(s)
        status = await s.status()
    assert sandbox.calls.count(EVENTS_ROUTE) == sandbox.calls.count(BULK_ROUTE) == 0
    assert status["events_scope_missing"] is True
    for trigger in ("entered_test", "saw_personalization", "profile_sync"):
        assert status["triggers"][trigger]["skipped_by_reason"] == {"scope_missing": 1}
        assert status["triggers"][trigger]["sent"] == 0


async def test_dedupe_holds_across_a_restart(settings: Settings, sandbox: SandboxState) -> None:
    async with shop(settings, sandbox, triggers={"saw_personalization": {"enabled": True}}) as first:
        await first.assign("z" * 22, kx=VIP.kx)
        await _until_events(sandbox, 1)
        await _until_settled(first)
        site = first.site
    async with shop(settings, sandbox, site=site) as again:  # a new process, the same file
        assert (await again.status())["triggers"]["saw_personalization"]["enabled"] is True
        await again.assign("z" * 22, kx=VIP.kx)  # answered once its write (a duplicate) is done
        assert await again.pending() == 0
        await _until_settled(again)
    assert sandbox.calls.count(EVENTS_ROUTE) == 1 and len(sandbox.events()) == 1

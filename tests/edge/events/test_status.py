"""Troubleshooting: the status endpoint, explain's events, the cap seen from the API, shutdown."""

from __future__ import annotations

from typing import Any

from edge.events import explain_events
from edge.events.component import sql_outbox
from edge.settings import Settings
from edge.storefront.identity import identify
from sandbox import SandboxState
from targeting import explain
from tests.databases import opened
from tests.edge.events.conftest import ALL_ON, NOT_VIP, VIP, WITHOUT_EVENTS, Shop, fast_config, shop
from tests.waiting import wait_until_async


async def _explain(s: Shop, visitor_id: str, kx: str | None) -> list[dict[str, Any]]:
    runtime = await s.svc.runtimes.by_site_id(s.site["id"])
    assert runtime is not None
    who = await identify(runtime, kx, s.svc.resolver)
    traces = explain(runtime.compiled, visitor_id, who.identity, {})  # as the explain endpoint has them
    return await explain_events(s.svc, s.site["id"], runtime, visitor_id, who, [t.decision for t in traces])


def _reasons(items: list[dict[str, Any]]) -> dict[tuple[str, str | None], str]:
    return {(i["trigger"], i["experience_id"]): i["reason"] for i in items}


async def test_explain_says_which_events_a_visit_sends_and_why_not(
    settings: Settings, sandbox: SandboxState
) -> None:
    async with shop(settings, sandbox, triggers={"saw_personalization": {"enabled": True}}) as s:
        assert _reasons(await _explain(s, "x" * 22, VIP.kx)) == {
            ("entered_test", "checkout"): "trigger_off",
            ("saw_personalization", "free-shipping"): "sends",
            ("profile_sync", None): "trigger_off",
        }
        assert (
            _reasons(await _explain(s, "y" * 22, None))[("saw_personalization", "free-shipping")]
            == "not_entered"
        )
        await s.assign("x" * 22, kx=VIP.kx)

        async def sent() -> bool:
            return len(sandbox.events()) == 1

        await wait_until_async(sent)
        items = await _explain(s, "x" * 22, VIP.kx)
        assert _reasons(items)[("saw_personalization", "free-shipping")] == "already_sent_today"
        assert sandbox.calls.count("/api/events") == 1  # explaining never sends


async def test_explain_names_the_missing_scope_and_the_missing_kx(
    settings: Settings, sandbox: SandboxState
) -> None:
    async with shop(settings, sandbox, triggers=ALL_ON, scopes=WITHOUT_EVENTS) as s:
        reasons = _reasons(await _explain(s, "x" * 22, VIP.kx))
        assert set(reasons.values()) == {"scope_missing"}
    async with shop(settings, sandbox, triggers=ALL_ON) as s:
        reasons = _reasons(await _explain(s, "x" * 22, None))
        assert reasons[("entered_test", "checkout")] == "no_kx"
        assert reasons[("saw_personalization", "free-shipping")] == "not_entered"  # not a VIP without _kx


async def test_status_of_a_site_with_nothing_switched_on(settings: Settings, sandbox: SandboxState) -> None:
    async with shop(settings, sandbox) as s:
        status = await s.status()
    assert status["connection_status"] == "active" and status["events_scope_missing"] is False
    assert status["problems"][0].startswith("Every trigger is off")
    assert {name: t["enabled"] for name, t in status["triggers"].items()} == {
        "entered_test": False, "saw_personalization": False, "profile_sync": False,
    }  # fmt: skip
    empty = {
        "sent": 0,
        "failed": 0,
        "pending": 0,
        "skipped": 0,
        "dropped": 0,
        "last_error": None,
        "last_sent_at": None,
    }
    for t in status["triggers"].values():
        assert {k: t[k] for k in empty} == empty


async def test_the_cap_drops_the_oldest_and_the_status_counts_them(
    settings: Settings, sandbox: SandboxState
) -> None:
    config = fast_config(outbox_max=3, send=False)
    async with shop(settings, sandbox, triggers={"entered_test": {"enabled": True}}, config=config) as s:
        for i in range(5):
            await s.assign(f"cap{i}".ljust(22, "x"), kx=VIP.kx)
        assert not s.events.observer.buffer  # each answer waited for its write
        status = await s.status()
    t = status["triggers"]["entered_test"]
    assert (t["pending"], t["dropped"]) == (3, 2)
    assert status["outbox"] == {
        "backend": "sqlite", "pending": 3, "cap": 3, "buffered": 0, "dropped_from_memory": 0, "sending": False,
    }  # fmt: skip


async def test_shutdown_writes_what_is_buffered(settings: Settings, sandbox: SandboxState) -> None:
    config = fast_config(flush_interval_s=3600.0, send=False)  # the flusher never gets to it alone
    async with shop(settings, sandbox, triggers={"entered_test": {"enabled": True}}, config=config) as s:
        await s.assign("bye".ljust(22, "x"), kx=VIP.kx)
        assert len(s.events.observer.buffer) == 1
    db = await opened(settings)
    assert (await sql_outbox(db).stats(s.site["id"], 0.0)).size == 1
    await db.close()


async def test_a_full_buffer_drops_the_oldest_visit_and_counts_it(
    settings: Settings, sandbox: SandboxState
) -> None:
    config = fast_config(flush_interval_s=3600.0, send=False, buffer_max=2)
    async with shop(settings, sandbox, triggers={"entered_test": {"enabled": True}}, config=config) as s:
        for i in range(3):
            await s.assign(f"full{i}".ljust(22, "x"), kx=VIP.kx)
        assert [v.visitor_id[:5] for v in s.events.observer.buffer] == ["full1", "full2"]
        assert (await s.status())["outbox"]["dropped_from_memory"] == 1


async def test_a_return_visit_with_the_same_decision_is_not_buffered_again(
    settings: Settings, sandbox: SandboxState
) -> None:
    config = fast_config(send=False, durable_wait_s=0)  # answers do not wait: the buffer shows
    async with shop(
        settings, sandbox, triggers={"saw_personalization": {"enabled": True}}, config=config
    ) as s:
        first = await s.assign("m" * 22, kx=VIP.kx)
        await s.events.flush()
        for _ in range(3):  # the storefront memo hands back the very same decision object
            await s.assign("m" * 22, kx=VIP.kx, url="https://shop.example.com/other")
        assert len(s.events.observer.buffer) == 0
        await s.assign("m" * 22, kx=NOT_VIP.kx)  # another _kx: planned again
        assert len(s.events.observer.buffer) == 1
        await s.events.flush()
        await s.put_triggers({"entered_test": {"enabled": True}})
        await s.assign("m" * 22, kx=VIP.kx)  # the same decision, but the switches changed
        assert len(s.events.observer.buffer) == 1
        await s.events.flush()
        await s.assign("m" * 22, kx=VIP.kx, sticky=first["sticky"])  # another decision
        assert len(s.events.observer.buffer) == 1

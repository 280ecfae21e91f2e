"""The segments endpoint and segment checks on experience writes, against the sandbox Klaviyo on a
real socket, reached with real sandbox tokens."""

from __future__ import annotations

import httpx

from sandbox import DEMO_ACCOUNT_ID, FaultKind, SandboxState
from tests.apps import services_of
from tests.edge.config_api.support import (
    LAPSED,
    NEWSLETTER,
    VIP,
    WHOLESALE,
    Clock,
    Shop,
    codes,
    connect_to_sandbox,
    error,
    etag_of,
)
from tests.targeting.factories import doc, not_seg

SEGMENTS_ROUTE = "/api/segments"


def _seg(segment_id: str) -> dict[str, str]:
    return {"attribute": "klaviyo_segment", "operator": "equals", "value": segment_id}


async def _segments(shop: Shop, query: str = "") -> httpx.Response:
    return await shop.client.get(f"/v1/sites/{shop.site_id}/klaviyo/segments{query}", headers=shop.auth)


async def test_segments_come_starred_first_then_by_name(connected: Shop) -> None:
    response = await _segments(connected)
    assert response.status_code == 200, response.text
    assert response.json()["segments"] == [
        {"id": VIP, "name": "VIP", "is_active": True, "is_starred": True},
        {"id": WHOLESALE, "name": "Wholesale", "is_active": True, "is_starred": True},
        {"id": LAPSED, "name": "Lapsed", "is_active": True, "is_starred": False},
        {"id": NEWSLETTER, "name": "Newsletter", "is_active": True, "is_starred": False},
    ]


async def test_q_filters_names_case_insensitively(connected: Shop) -> None:
    names = [s["name"] for s in (await _segments(connected, "?q=LE")).json()["segments"]]
    assert names == ["Wholesale", "Newsletter"]
    assert (await _segments(connected, "?q=nothing-like-it")).json()["segments"] == []
    too_long = await _segments(connected, "?q=" + "x" * 201)
    assert too_long.status_code == 400 and error(too_long)["code"] == "bad_query"


async def test_the_list_is_fetched_once_a_minute_per_account(
    connected: Shop, sandbox: SandboxState, clock: Clock
) -> None:
    first = await _segments(connected)
    assert sandbox.calls.count(SEGMENTS_ROUTE) == 1
    second = await _segments(connected, "?q=vip")
    third = await _segments(connected)
    assert sandbox.calls.count(SEGMENTS_ROUTE) == 1  # answered from the cache
    assert third.json() == first.json() and len(second.json()["segments"]) == 1

    sandbox.add_segment(DEMO_ACCOUNT_ID, "Big spenders", segment_id="BIGSPD")
    clock.advance(59)
    assert "BIGSPD" not in [s["id"] for s in (await _segments(connected)).json()["segments"]]
    clock.advance(2)
    refreshed = await _segments(connected)
    assert sandbox.calls.count(SEGMENTS_ROUTE) == 2
    assert "BIGSPD" in [s["id"] for s in refreshed.json()["segments"]]


async def test_every_page_is_read(connected: Shop, sandbox: SandboxState) -> None:
    for i in range(15):
        sandbox.add_segment(DEMO_ACCOUNT_ID, f"Cohort {i:02d}", segment_id=f"COH{i:03d}")
    segments = (await _segments(connected)).json()["segments"]
    assert len(segments) == 19
    assert sandbox.calls.count(SEGMENTS_ROUTE) == 2  # the sandbox answers 10 a page


async def test_a_reconnect_does_not_serve_the_old_list(connected: Shop, sandbox: SandboxState) -> None:
    await _segments(connected)
    await connect_to_sandbox(connected.client, connected.site_id, sandbox, generation=2)
    await _segments(connected)
    assert sandbox.calls.count(SEGMENTS_ROUTE) == 2


async def test_not_connected_is_409_and_not_configured_503(unconnected: Shop, shop: Shop) -> None:
    response = await _segments(unconnected)
    assert response.status_code == 409 and error(response)["code"] == "klaviyo_not_connected"
    assert error(response)["details"] == {"status": "disconnected"}
    response = await _segments(shop)
    assert response.status_code == 503 and error(response)["code"] == "klaviyo_not_configured"


async def test_klaviyo_rate_limiting_says_when_to_retry(connected: Shop, sandbox: SandboxState) -> None:
    sandbox.faults.inject(SEGMENTS_ROUTE, FaultKind.THROTTLED, retry_after_s=7)
    response = await _segments(connected)
    assert response.status_code == 503
    assert error(response)["code"] == "klaviyo_unavailable"
    assert response.headers["retry-after"] == "7"
    assert error(response)["details"] == {"reason": "rate_limited", "retry_after_s": 7}
    assert "try again in 7 s" in error(response)["message"].lower()


async def test_klaviyo_failing_is_503_and_nothing_is_cached(connected: Shop, sandbox: SandboxState) -> None:
    sandbox.faults.inject(SEGMENTS_ROUTE, FaultKind.UNAVAILABLE, times=3)
    response = await _segments(connected)
    assert response.status_code == 503 and error(response)["code"] == "klaviyo_unavailable"
    assert "retry-after" not in response.headers
    assert (await _segments(connected)).status_code == 200


async def test_an_unknown_segment_is_422_naming_it_and_its_path(connected: Shop) -> None:
    body = doc("vip", status="draft", rules={"any": [_seg(VIP), {"all": [_seg("NOPE12"), not_seg(LAPSED)]}]})
    response = await connected.create(body)
    assert response.status_code == 422
    assert error(response)["code"] == "unknown_segment"
    assert error(response)["details"] == [
        {
            "path": "targeting.rules.any[1].all[0].value",
            "message": "no segment NOPE12 in the connected Klaviyo account",
        }
    ]
    assert "NOPE12" in error(response)["message"]
    advanced = doc("adv", status="draft", audiences=[
        {"rules": _seg(VIP), "action": "random"},
        {"rules": {"any": [_seg("GONE99")]}, "action": "exclude"},
    ])  # fmt: skip
    response = await connected.create(advanced)
    assert error(response)["details"][0]["path"] == "targeting.audiences[1].rules.any[0].value"


async def test_known_segments_save_and_go_live_with_the_cached_list(
    connected: Shop, sandbox: SandboxState
) -> None:
    body = doc("vip", status="draft", rules={"any": [_seg(VIP), _seg(WHOLESALE)]})
    created = await connected.create(body)
    assert created.status_code == 201, created.text
    assert codes(created) == []
    started = await connected.act("vip", "start", if_match=etag_of(created))
    assert started.status_code == 200 and started.json()["status"] == "live"
    assert sandbox.calls.count(SEGMENTS_ROUTE) == 1


async def test_an_inactive_segment_is_allowed_with_a_warning(connected: Shop, sandbox: SandboxState) -> None:
    sandbox.update_segment(LAPSED, is_active=False)
    created = await connected.create(doc("lapsed", status="draft", rules=_seg(LAPSED)))
    assert codes(created) == ["segment_inactive"]
    assert "Lapsed" in created.json()["warnings"][0]["message"]


async def test_without_a_connection_drafts_save_unverified_but_nothing_goes_live(unconnected: Shop) -> None:
    body = doc("vip", status="draft", rules=_seg("ANYID1"))
    created = await unconnected.create(body)
    assert created.status_code == 201 and codes(created) == ["segments_unverified"]
    started = await unconnected.act("vip", "start", if_match=etag_of(created))
    assert started.status_code == 409 and error(started)["code"] == "klaviyo_not_connected"
    put_live = await unconnected.put("vip", doc("vip", status="live", rules=_seg("ANYID1")), if_match='"1"')
    assert put_live.status_code == 409
    created_live = await unconnected.create(doc("vip2", status="live", rules=_seg("ANYID1")))
    assert created_live.status_code == 409 and error(created_live)["details"] == {"segments": ["ANYID1"]}
    # Targeting no segment needs no Klaviyo at all.
    assert (await unconnected.create(doc("everyone", status="live"))).status_code == 201


async def test_when_klaviyo_fails_a_draft_still_saves_but_going_live_waits(
    connected: Shop, sandbox: SandboxState
) -> None:
    sandbox.faults.inject(SEGMENTS_ROUTE, FaultKind.SERVER_ERROR, times=3)
    created = await connected.create(doc("vip", status="draft", rules=_seg(VIP)))
    assert created.status_code == 201, created.text
    assert codes(created) == ["segments_unverified"]
    sandbox.faults.inject(SEGMENTS_ROUTE, FaultKind.SERVER_ERROR, times=3)
    started = await connected.act("vip", "start", if_match=etag_of(created))
    assert started.status_code == 503 and error(started)["code"] == "klaviyo_unavailable"
    assert (await connected.get("vip")).json()["status"] == "draft"  # nothing saved
    started = await connected.act("vip", "start", if_match=etag_of(created))
    assert started.status_code == 200 and started.json()["status"] == "live"


async def test_segment_checks_and_the_endpoint_share_one_fetch(
    connected: Shop, sandbox: SandboxState
) -> None:
    assert services_of(connected.client).klaviyo is not None
    await connected.create(doc("a", status="draft", rules=_seg(VIP)))
    await connected.create(doc("b", status="draft", rules=_seg(WHOLESALE)))
    await _segments(connected)
    assert sandbox.calls.count(SEGMENTS_ROUTE) == 1


async def test_a_segment_deleted_in_klaviyo_blocks_going_live_but_never_pausing(
    connected: Shop, sandbox: SandboxState, clock: Clock
) -> None:
    created = await connected.create(doc("vip", status="live", rules=_seg(VIP)))
    assert created.status_code == 201, created.text
    sandbox.remove_segment(VIP)
    clock.advance(61)  # the cached list has expired
    paused = await connected.act("vip", "pause", if_match=etag_of(created))
    assert paused.status_code == 200 and codes(paused) == []
    assert sandbox.calls.count(SEGMENTS_ROUTE) == 1  # pausing did not even look
    renamed = await connected.put(
        "vip", doc("vip", status="paused", rules=_seg(VIP), name="VIPs"), if_match='"2"'
    )
    assert renamed.status_code == 200
    restarted = await connected.act("vip", "start", if_match=etag_of(renamed))
    assert restarted.status_code == 422 and error(restarted)["code"] == "unknown_segment"
    assert error(restarted)["details"][0]["path"] == "targeting.rules.value"


async def test_a_draft_edit_checks_only_the_segments_it_adds(unconnected: Shop) -> None:
    created = await unconnected.create(doc("vip", status="draft", rules={"any": [_seg("OLD001")]}))
    assert codes(created) == ["segments_unverified"]
    same = await unconnected.put(
        "vip", doc("vip", status="draft", rules={"any": [_seg("OLD001")]}), if_match='"1"'
    )
    assert codes(same) == []
    added = await unconnected.put(
        "vip", doc("vip", status="draft", rules={"any": [_seg("OLD001"), _seg("NEW002")]}), if_match='"2"'
    )
    assert codes(added) == ["segments_unverified"]
    assert "NEW002" in added.json()["warnings"][0]["message"]
    assert "OLD001" not in added.json()["warnings"][0]["message"]

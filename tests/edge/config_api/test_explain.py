"""`explain`: for each kind of identity, how it was obtained, and a trace a merchant can read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from edge.resolver.results import (
    Pending,
    PendingReason,
    ResolutionInfo,
    WaitedFor,
)
from edge.settings import Settings
from sandbox import DEMO_PEOPLE, SandboxState
from tests.apps import connect_directly, put_experience
from tests.edge.config_api.support import VIP, WHOLESALE, Shop, config_app, error, etag_of, open_shop
from tests.edge.scripted_resolver import ScriptedResolver
from tests.targeting.factories import doc

AVA = next(p for p in DEMO_PEOPLE if p.first_name == "Ava")  # VIP
CHLOE = next(p for p in DEMO_PEOPLE if p.first_name == "Chloe")  # Wholesale
GEORGE = next(p for p in DEMO_PEOPLE if p.first_name == "George")  # in no segment
VISITOR = "visitor-0123456789abcdef"
PROFILE_ROUTES = ("/api/profiles", "/api/profiles/{id}/relationships/segments",
                  "/api/segments/{id}/relationships/profiles")  # fmt: skip


def _seg(segment_id: str) -> dict[str, str]:
    return {"attribute": "klaviyo_segment", "operator": "equals", "value": segment_id}


BANNER = doc("free-shipping", type="personalization", status="live", rules={"any": [_seg(VIP)]},
             variation_ids=("no-banner", "banner"), name="VIP free shipping")  # fmt: skip
BULK = doc("bulk", status="live", rules={"all": [_seg(WHOLESALE)]}, variation_ids=("list", "bulk"),
           name="Bulk pricing")  # fmt: skip
HERO = doc("hero", status="live", variation_ids=("outdoors", "further"), name="Hero headline")


def _profile_calls(sandbox: SandboxState) -> int:
    return sum(sandbox.calls.count(route) for route in PROFILE_ROUTES)


def _by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in body["experiences"]}


@pytest.fixture
async def live_shop(connected: Shop) -> Shop:
    for body in (BANNER, BULK, HERO):
        response = await connected.create(body)
        assert response.status_code == 201, response.text
    return connected


async def test_an_identified_vip_sees_the_banner_and_why(live_shop: Shop, sandbox: SandboxState) -> None:
    response = await live_shop.explain({"kx": AVA.kx, "visitor_id": VISITOR})
    assert response.status_code == 200, response.text
    body = response.json()
    identity = body["identity"]
    assert identity["kind"] == "identified"
    assert identity["kx"] == AVA.kx
    assert identity["matched_segments"] == [{"id": VIP, "name": "VIP"}]
    assert {s["id"] for s in identity["targeted_segments"]} == {VIP, WHOLESALE}
    assert identity["resolution"]["source"] == "klaviyo"
    assert sum(identity["resolution"]["klaviyo_calls"].values()) == _profile_calls(sandbox) > 0
    assert identity["summary"].startswith("identified (from Klaviyo, asked just now")
    assert f"in VIP ({VIP})" in identity["summary"]

    banner = _by_id(body)["free-shipping"]
    assert banner["decision"]["variation_id"] == "banner" and banner["decision"]["reason"] == "rules_matched"
    assert banner["summary"].startswith(
        f"VIP free shipping: matched `klaviyo_segment equals VIP ({VIP})`; hash 0."
    )
    assert banner["summary"].endswith("-> banner (rules_matched)")
    assert banner["trace"]["rules"]["conditions"][0]["path"] == "targeting.rules.any[0]"
    assert banner["trace"]["bucket"]["used"] is True
    bulk = _by_id(body)["bulk"]
    assert bulk["summary"] == (
        f"Bulk pricing: did not match: `klaviyo_segment equals Wholesale ({WHOLESALE})` is false "
        "-> list (rules_not_matched)"
    )
    assert body["visitor_id"] == VISITOR and body["visitor_id_placeholder"] is False
    assert body["notes"] == []


async def test_a_cached_visitor_costs_no_klaviyo_call(live_shop: Shop, sandbox: SandboxState) -> None:
    stored = await live_shop.assign({"kx": CHLOE.kx, "visitor_id": VISITOR})
    assert stored.json()["identity"] == "identified"
    calls = _profile_calls(sandbox)
    response = await live_shop.explain({"kx": CHLOE.kx, "visitor_id": VISITOR})
    identity = response.json()["identity"]
    assert _profile_calls(sandbox) == calls
    assert identity["resolution"]["source"] == "l1"
    assert identity["resolution"]["klaviyo_calls"] == {}
    assert identity["resolution"]["cache_age_s"] is not None
    assert "from this process's cache" in identity["summary"]
    assert [s["name"] for s in identity["matched_segments"]] == ["Wholesale"]


async def test_explain_decides_exactly_as_the_storefront(live_shop: Shop) -> None:
    for person in (AVA, CHLOE, GEORGE):
        for i in range(5):
            visitor = f"{person.first_name.lower()}-visitor-{i:04d}"
            assigned = await live_shop.assign({"kx": person.kx, "visitor_id": visitor})
            explained = await live_shop.explain({"kx": person.kx, "visitor_id": visitor})
            storefront = {e["id"]: e for e in assigned.json()["experiences"]}
            explained_decisions = {
                e["id"]: {
                    k: v for k, v in e["decision"].items() if k not in {"first_assignment", "experience_id"}
                }
                for e in explained.json()["experiences"]
            }
            assert explained_decisions == {
                i: {k: v for k, v in d.items() if k != "id"} for i, d in storefront.items()
            }


async def test_an_anonymous_visitor_is_unidentified_because_there_is_no_kx(live_shop: Shop) -> None:
    body = (await live_shop.explain({"visitor_id": VISITOR})).json()
    assert body["identity"]["kind"] == "unidentified"
    assert body["identity"]["not_resolved_because"] == "no_kx"
    assert body["identity"]["resolution"] is None
    assert (
        body["identity"]["summary"] == "unidentified: no kx was given, so the visitor is anonymous to Klaviyo"
    )
    assert _by_id(body)["free-shipping"]["summary"] == (
        "VIP free shipping: unidentified visitors match no segment condition -> no-banner (unidentified)"
    )


async def test_a_profile_klaviyo_does_not_know(live_shop: Shop) -> None:
    identity = (await live_shop.explain({"kx": "UNKNOWNUNKNOWNUN==.zzz999"})).json()["identity"]
    assert identity["kind"] == "unidentified"
    assert identity["reason"] == "not_found"
    assert identity["not_resolved_because"] is None
    assert identity["summary"].startswith("unidentified: Klaviyo has no profile with this kx")


async def test_a_malformed_kx_is_explained_and_never_sent_to_klaviyo(
    live_shop: Shop, sandbox: SandboxState
) -> None:
    calls = _profile_calls(sandbox)
    identity = (await live_shop.explain({"kx": "not a kx; DROP TABLE"})).json()["identity"]
    assert identity["kind"] == "unidentified"
    assert identity["not_resolved_because"] == "kx_malformed"
    assert identity["warnings"] == ["kx_malformed"]
    assert identity["kx"] is None
    assert "malformed" in identity["summary"]
    assert _profile_calls(sandbox) == calls


async def test_a_disconnected_site_explains_why_vips_lost_the_banner(live_shop: Shop) -> None:
    disconnected = await live_shop.client.delete(
        f"/v1/sites/{live_shop.site_id}/klaviyo", headers=live_shop.auth
    )
    assert disconnected.status_code == 200, disconnected.text
    body = (await live_shop.explain({"kx": AVA.kx, "visitor_id": VISITOR})).json()
    assert body["identity"]["not_resolved_because"] == "klaviyo_not_connected"
    assert body["identity"]["warnings"] == ["klaviyo_not_connected"]
    assert "not connected to Klaviyo" in body["identity"]["summary"]
    assert _by_id(body)["free-shipping"]["decision"]["variation_id"] == "no-banner"


async def test_nothing_targeted_means_nothing_resolved(connected: Shop, sandbox: SandboxState) -> None:
    await connected.create(HERO)
    identity = (await connected.explain({"kx": AVA.kx})).json()["identity"]
    assert identity["not_resolved_because"] == "nothing_targeted"
    assert _profile_calls(sandbox) == 0


async def test_without_a_visitor_id_the_placeholder_is_named(live_shop: Shop) -> None:
    body = (await live_shop.explain({"kx": AVA.kx})).json()
    assert body["visitor_id"] == "kx-explain-visitor" and body["visitor_id_placeholder"] is True
    assert len(body["notes"]) == 1 and "placeholder visitor kx-explain-visitor" in body["notes"][0]


async def test_sticky_entries_are_shown_and_honoured(live_shop: Shop) -> None:
    first = await live_shop.assign({"kx": CHLOE.kx, "visitor_id": VISITOR})
    token = first.json()["sticky"]
    body = (await live_shop.explain({"visitor_id": VISITOR, "sticky": token})).json()
    assert body["sticky"]["status"] == "valid"
    bulk_variation = {e["id"]: e for e in first.json()["experiences"]}["bulk"]["variation_id"]
    entry = body["sticky"]["entries"]["bulk"]
    assert entry == {
        "outcome": "entered",
        "variation_id": bulk_variation,
        "day": entry["day"],
        "audience": None,
    }
    assert isinstance(entry["day"], int)
    bulk = _by_id(body)["bulk"]
    assert bulk["decision"]["reason"] == "sticky"
    assert (
        bulk["summary"] == f"Bulk pricing: kept from the visitor's sticky token -> {bulk_variation} (sticky)"
    )

    foreign = (await live_shop.explain({"visitor_id": "someone-else-entirely", "sticky": token})).json()
    assert foreign["sticky"]["status"] == "ignored" and foreign["sticky"]["entries"] == {}
    none = (await live_shop.explain({"visitor_id": VISITOR})).json()
    assert none["sticky"]["status"] == "none"


async def test_experiences_that_are_not_live_are_listed_with_what_that_means(live_shop: Shop) -> None:
    hero = await live_shop.get("hero")
    await live_shop.act("hero", "pause", if_match=etag_of(hero))
    body = (await live_shop.explain({})).json()
    assert "hero" not in _by_id(body)
    assert body["not_live"] == [
        {"id": "hero", "name": "Hero headline", "status": "paused",
         "summary": "Hero headline: paused: nobody sees it now; visitors keep their sticky assignment for when "
                    "it resumes"}
    ]  # fmt: skip


async def test_bad_requests_are_4xx(live_shop: Shop) -> None:
    bad_id = await live_shop.explain({"visitor_id": "not an id!"})
    assert bad_id.status_code == 422 and error(bad_id)["details"][0]["path"] == "visitor_id"
    unknown = await live_shop.explain({"kx": AVA.kx, "cookie": "x"})
    assert unknown.status_code == 422
    not_json = await live_shop.client.post(
        f"/v1/sites/{live_shop.site_id}/explain", content=b"kx=1", headers=live_shop.auth
    )
    assert not_json.status_code == 400


@pytest.fixture
async def pending_shop(settings: Settings) -> AsyncIterator[tuple[Shop, ScriptedResolver]]:
    info = ResolutionInfo(waited_for=WaitedFor.SINGLE_FLIGHT)
    resolver = ScriptedResolver(
        default=Pending(retry_after_ms=400, reason=PendingReason.RATE_LIMITED, info=info)
    )
    async with open_shop(config_app(settings, resolver=resolver), settings) as shop:
        await connect_directly(shop.client, shop.site_id)
        for body in (BANNER, BULK):
            await put_experience(shop.client, shop.site_id, body)
        yield shop, resolver


async def test_a_pending_identity_says_what_it_waits_for(pending_shop: tuple[Shop, ScriptedResolver]) -> None:
    shop, resolver = pending_shop
    body = (await shop.explain({"kx": AVA.kx, "visitor_id": VISITOR})).json()
    assert resolver.asked == [AVA.kx]
    identity = body["identity"]
    assert identity["kind"] == "pending"
    assert identity["reason"] == "rate_limited" and identity["retry_after_ms"] == 400
    assert identity["resolution"]["waited_for"] == "single_flight"
    assert identity["summary"].startswith("pending: not known yet (rate_limited, retry in 400 ms)")
    banner = _by_id(body)["free-shipping"]
    assert banner["decision"]["status"] == "pending"
    assert banner["summary"] == (
        f"VIP free shipping: identity pending, so `klaviyo_segment equals {VIP}` is unknown -> no-banner (pending)"
    )
    bulk = _by_id(body)["bulk"]  # a custom test gives the default at once while pending
    assert bulk["decision"]["status"] == "decided" and bulk["decision"]["variation_id"] == "list"


async def test_an_unidentified_answer_from_the_resolver(settings: Settings) -> None:
    resolver = ScriptedResolver()
    async with open_shop(config_app(settings, resolver=resolver), settings) as shop:
        await connect_directly(shop.client, shop.site_id)
        await put_experience(shop.client, shop.site_id, BANNER)
        response = await shop.explain({"kx": GEORGE.kx})
    assert response.json()["identity"]["reason"] == "not_found"


async def test_explain_needs_the_sites_key(live_shop: Shop) -> None:
    response = await live_shop.client.post(f"/v1/sites/{live_shop.site_id}/explain", json={})
    assert response.status_code == 401
    assert isinstance(response, httpx.Response)

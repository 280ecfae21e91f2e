"""Visit conditions over HTTP: `/v1/assign` builds the `Visit` from the body and the request, and
every attribute decides as documented (an absent or unknown value never matches)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.app import create_app
from edge.resolver.results import Identified
from edge.settings import Settings
from edge.storefront.visit import MAX_USER_AGENT, DeviceCache, device_class
from targeting import Device
from tests.apps import app_client, connect_directly, create_site, make_settings, put_experience, services_of
from tests.edge.scripted_resolver import ScriptedResolver
from tests.targeting.factories import doc, seg

SHOP = "https://shop.example.com"
VIP_KX = "VIPVIPVIPVIPVIPV==.abc123"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.0 Mobile/15E148 Safari/604.1"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def cond(attribute: str, operator: str, value: str | None = None) -> dict[str, str]:
    condition = {"attribute": attribute, "operator": operator}
    if value is not None:
        condition["value"] = value
    return condition


def personalization(exp_id: str, *conditions: dict[str, str]) -> dict[str, Any]:
    return doc(exp_id, type="personalization", rules={"all": list(conditions)}, variation_ids=("off", "on"))


EXPERIENCES = [
    personalization("url-sale", cond("url", "starts_with", "/collections/sale")),
    personalization("landing", cond("landing_url", "equals", "/pages/summer")),
    personalization("campaign", cond("utm_campaign", "equals", "summer-sale")),
    personalization("not-newsletter", cond("utm_source", "not_equals", "newsletter")),
    personalization("ref-param", cond("query_param:ref", "exists")),
    personalization("paid-social", cond("traffic_source", "equals", "paid_social")),
    personalization("desktop", cond("device", "equals", "desktop")),
    personalization("not-mobile", cond("device", "not_equals", "mobile")),
    personalization("new", cond("visitor", "equals", "new")),
    personalization("returning", cond("visitor", "equals", "returning")),
    personalization("france", cond("country", "equals", "fr")),
    personalization("not-france", cond("country", "not_equals", "FR")),
    personalization("consent", cond("cookie:consent", "equals", "yes")),
    personalization("vip-summer", seg("VIP"), cond("utm_campaign", "equals", "summer-sale")),
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, country_header="X-Test-Country")


@pytest.fixture
async def shop(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    resolver = ScriptedResolver({VIP_KX: Identified(frozenset({"VIP"}))})
    async with app_client(create_app(settings, resolver=resolver)) as client:
        site = await create_site(client, settings, origins=[SHOP])
        for body in EXPERIENCES:
            await put_experience(client, site["id"], body)
        await connect_directly(client, site["id"])
        yield client, site


async def entered(
    client: httpx.AsyncClient, site: dict[str, Any], body: dict[str, Any], **headers: str
) -> set[str]:
    response = await client.post(
        f"/v1/assign?site={site['public_key']}",
        json={"visitor_id": "visitor-1", **body},
        headers={"user-agent": "", **headers},
    )
    assert response.status_code == 200, response.text
    return {e["id"] for e in response.json()["experiences"] if e["entered"]}


async def test_a_visit_that_tells_nothing_matches_no_visit_condition(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    # not_equals too: an absent UTM, device or country is unknown, and unknown never matches.
    assert await entered(client, site, {}) == set()


async def test_the_page_url_path_and_its_utms_and_parameters(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    url = f"{SHOP}/collections/sale/shoes?utm_campaign=Summer-Sale&utm_source=ig&ref=friend"
    assert await entered(client, site, {"url": url}) == {
        "url-sale",
        "campaign",
        "not-newsletter",
        "ref-param",
    }
    other = f"{SHOP}/products/x?utm_source=newsletter"
    assert await entered(client, site, {"url": other}) == set()


async def test_the_session_utms_landing_page_and_referrer_from_the_snippet(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    body = {
        "url": f"{SHOP}/products/x",  # the second page of the visit: no UTM on it
        "landing_url": f"{SHOP}/pages/summer?utm_campaign=summer-sale",
        "utm": {"utm_campaign": "summer-sale", "utm_source": "facebook", "utm_medium": "paid"},
        "referrer": "https://m.facebook.com/",
    }
    assert await entered(client, site, body) == {"landing", "campaign", "not-newsletter", "paid-social"}
    # Organic: the same referrer without the paid medium.
    organic = {"url": f"{SHOP}/", "referrer": "https://m.facebook.com/"}
    assert await entered(client, site, organic) == set()


async def test_a_segment_and_a_visit_condition_together(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    url = f"{SHOP}/?utm_campaign=summer-sale"
    assert "vip-summer" in await entered(client, site, {"url": url, "kx": VIP_KX})
    assert "vip-summer" not in await entered(client, site, {"url": url})  # not identified
    assert "vip-summer" not in await entered(client, site, {"url": f"{SHOP}/", "kx": VIP_KX})


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (WINDOWS, {"desktop", "not-mobile"}),
        (MAC, {"desktop", "not-mobile"}),
        (IPHONE, set()),
        (ANDROID_PHONE, set()),
        (IPAD, {"not-mobile"}),
        (ANDROID_TABLET, {"not-mobile"}),
        (GOOGLEBOT, set()),  # a crawler has no device: unknown
        ("", set()),
        (WINDOWS + " " * MAX_USER_AGENT, set()),  # over the bound: not parsed
    ],
)
async def test_the_device_from_the_user_agent(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], user_agent: str, expected: set[str]
) -> None:
    client, site = shop
    assert await entered(client, site, {}, **{"user-agent": user_agent}) == expected


async def test_new_and_returning_visitors(shop: tuple[httpx.AsyncClient, dict[str, Any]]) -> None:
    client, site = shop
    assert await entered(client, site, {"visitor": "returning"}) == {"returning"}
    assert await entered(client, site, {"visitor": "new"}) == {"new"}
    assert await entered(client, site, {"visitor": "sometimes"}) == set()
    # No visitor id sent: a new visitor, whatever the body says.
    response = await client.post(
        f"/v1/assign?site={site['public_key']}", json={"visitor": "returning"}, headers={"user-agent": ""}
    )
    assert {e["id"] for e in response.json()["experiences"] if e["entered"]} == {"new"}


async def test_the_country_from_the_configured_header(shop: tuple[httpx.AsyncClient, dict[str, Any]]) -> None:
    client, site = shop
    assert await entered(client, site, {}, **{"x-test-country": "FR"}) == {"france"}
    assert await entered(client, site, {}, **{"x-test-country": "de"}) == {"not-france"}
    assert await entered(client, site, {}, **{"x-test-country": "XX"}) == set()  # Cloudflare's unknown
    # Another CDN's header is not the configured one: unknown.
    assert await entered(client, site, {}, **{"cf-ipcountry": "FR"}) == set()


async def test_named_cookies(shop: tuple[httpx.AsyncClient, dict[str, Any]]) -> None:
    client, site = shop
    assert await entered(client, site, {"cookies": {"consent": "yes"}}) == {"consent"}
    assert await entered(client, site, {"cookies": {"consent": "no"}}) == set()
    assert await entered(client, site, {"cookies": {"other": "yes"}}) == set()


async def test_visit_fields_of_the_wrong_type_are_a_422(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    response = await client.post(f"/v1/assign?site={site['public_key']}", json={"utm": ["summer"]})
    assert response.status_code == 422
    assert "utm" in response.json()["error"]["message"]


async def test_a_returning_visitor_is_remembered_per_visit_signature_not_per_url(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    first = await client.post(f"/v1/assign?site={site['public_key']}", json={"visitor_id": "memo-1"})
    token = first.json()["sticky"]
    tables = services_of(client).runtimes.memo_tables
    before = len(tables.answers)
    for i in range(20):  # twenty URLs, all on sale pages: one signature
        url = f"{SHOP}/collections/sale/item-{i}"
        body = {"visitor_id": "memo-1", "sticky": token, "url": url}
        response = await client.post(f"/v1/assign?site={site['public_key']}", json=body)
        assert "url-sale" in {e["id"] for e in response.json()["experiences"] if e["entered"]}
    assert len(tables.answers) == before + 1
    body = {"visitor_id": "memo-1", "sticky": token, "url": f"{SHOP}/products/x"}
    response = await client.post(f"/v1/assign?site={site['public_key']}", json=body)
    assert "url-sale" not in {e["id"] for e in response.json()["experiences"] if e["entered"]}
    assert len(tables.answers) == before + 2


async def test_identical_return_visits_answer_alike_and_each_visit_field_still_decides(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    """A returning visitor's answer is found without building the visit when its verified token
    comes with the same body and headers; a cache keyed too coarsely (by the token only, or by
    the body but not the headers the visit reads) would answer a changed visit like the last."""
    client, site = shop
    path = f"/v1/assign?site={site['public_key']}"
    first = await client.post(path, json={"visitor_id": "memo-2", "kx": VIP_KX})
    token = first.json()["sticky"]
    body = {
        "visitor_id": "memo-2",
        "kx": VIP_KX,
        "sticky": token,
        "url": f"{SHOP}/collections/sale/shoes?ref=friend",
        "landing_url": f"{SHOP}/pages/summer",
        "utm": {"utm_campaign": "summer-sale", "utm_source": "facebook", "utm_medium": "paid_social"},
        "referrer": "https://m.facebook.com/",
        "cookies": {"consent": "yes"},
        "visitor": "returning",
    }
    headers = {"user-agent": WINDOWS, "x-test-country": "FR"}

    async def answer(changed: dict[str, Any], **changed_headers: str) -> tuple[bytes, set[str]]:
        response = await client.post(path, json={**body, **changed}, headers={**headers, **changed_headers})
        assert response.status_code == 200, response.text
        return response.content, {e["id"] for e in response.json()["experiences"] if e["entered"]}

    everything = {
        "url-sale", "landing", "campaign", "not-newsletter", "ref-param", "paid-social", "desktop",
        "not-mobile", "returning", "france", "consent", "vip-summer",
    }  # fmt: skip
    once, entered_once = await answer({})
    assert entered_once == everything
    tables = services_of(client).runtimes.memo_tables
    visits = len(tables.visits)
    for _ in range(3):
        assert await answer({}) == (once, entered_once)  # byte for byte
    # Every field a condition reads, changed alone, with the same token: decided again.
    assert (await answer({"url": f"{SHOP}/products/x?ref=friend"}))[1] == everything - {"url-sale"}
    assert (await answer({"landing_url": f"{SHOP}/"}))[1] == everything - {"landing"}
    assert (await answer({"utm": {**body["utm"], "utm_campaign": "winter"}}))[1] == everything - {
        "campaign",
        "vip-summer",
    }
    assert (await answer({"referrer": None, "utm": {"utm_campaign": "summer-sale"}}))[1] == everything - {
        "not-newsletter",
        "paid-social",
    }
    assert (await answer({"cookies": {"consent": "no"}}))[1] == everything - {"consent"}
    assert (await answer({"visitor": "new"}))[1] == everything - {"returning"} | {"new"}
    assert (await answer({}, **{"user-agent": IPHONE}))[1] == everything - {"desktop", "not-mobile"}
    assert (await answer({}, **{"x-test-country": "DE"}))[1] == everything - {"france"} | {"not-france"}
    assert (await answer({"kx": None}))[1] == everything - {"vip-summer"}  # another identity
    assert await answer({}) == (once, entered_once)  # and back
    # One remembered visit per (visitor, identity, token): the last; what the client varies
    # replaces it rather than adding entries.
    assert len(tables.visits) <= visits + 1


async def test_a_site_without_visit_conditions_builds_no_visit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with app_client(create_app(settings, resolver=ScriptedResolver({}))) as client:
        site = await create_site(client, settings, origins=[SHOP])
        await put_experience(client, site["id"], doc("plain", rules={"all": [seg("VIP")]}))
        svc = services_of(client)
        assert not svc.runtimes.cached(site["public_key"]).compiled.visit_needs.any  # type: ignore[union-attr]
        response = await client.post(
            f"/v1/assign?site={site['public_key']}", json={"url": f"{SHOP}/"}, headers={"user-agent": WINDOWS}
        )
        assert response.status_code == 200
        assert len(svc.devices) == 0  # the User-Agent was not even parsed


def test_the_device_cache_remembers_verdicts_within_its_bound() -> None:
    cache = DeviceCache(max_entries=3)
    assert cache.device(IPHONE) == "mobile" and cache.device(IPHONE) == "mobile"
    for agent in (WINDOWS, MAC, IPAD, ANDROID_PHONE, GOOGLEBOT):
        cache.device(agent)
    assert len(cache) <= 3
    assert cache.device(GOOGLEBOT) is None
    assert cache.device("x" * (MAX_USER_AGENT + 1)) is None and cache.device(None) is None
    assert device_class(ANDROID_TABLET) is Device.TABLET

"""Results over HTTP: a scripted population through /v1/assign and /v1/track, the orders API,
the Shopify webhook, bots; the cells the store ends with are exactly the expected ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.app import create_app
from edge.settings import Settings
from edge.store.results import day_of
from edge.store.results_records import CUSTOM_AUDIENCE, ResultCell
from tests.apps import app_client, create_site, make_settings, put_experience, services_of
from tests.edge.results.fixtures import shopify_order
from tests.targeting.factories import doc
from tests.waiting import wait_until_async

SHOP = "https://shop.example.com"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HERO = doc("hero", variation_ids=("control", "b"), weights=(1, 1))
BANNER = doc("banner", type="personalization", variation_ids=("plain", "gold"), traffic_percent=50)
SECRET = "shpss_0123456789abcdef0123456789abcdef"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, results_flush_interval_s=0.02)


@pytest.fixture
async def shop(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    async with app_client(create_app(settings)) as client:
        site = await create_site(client, settings, origins=[SHOP])
        await put_experience(client, site["id"], HERO)
        await put_experience(client, site["id"], BANNER)
        yield client, site


async def _assign(
    client: httpx.AsyncClient, site: dict[str, Any], body: dict[str, Any], **headers: str
) -> Any:
    response = await client.post(
        f"/v1/assign?site={site['public_key']}", content=json.dumps(body), headers={"origin": SHOP, **headers}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _track(client: httpx.AsyncClient, site: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    return await client.post(
        f"/v1/track?site={site['public_key']}", content=json.dumps(body), headers={"origin": SHOP}
    )


async def _cells(client: httpx.AsyncClient, site_id: str, experience_id: str) -> list[ResultCell]:
    return await services_of(client).results_store.result_cells(
        site_id, experience_id, first_day=None, last_day=None
    )


async def _settled(
    client: httpx.AsyncClient, site_id: str, experience_id: str, visitors: int
) -> list[ResultCell]:
    async def counted() -> bool:
        return sum(c.visitors for c in await _cells(client, site_id, experience_id)) >= visitors

    await wait_until_async(counted, what=f"{visitors} visitors of {experience_id} in the store")
    return await _cells(client, site_id, experience_id)


async def test_a_scripted_population_gives_exactly_the_expected_cells(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    today = day_of(services_of(client).clock())
    visitors: dict[str, tuple[str, str]] = {}  # visitor id -> (hero variation, token)
    for n in range(40):
        answer = await _assign(client, site, {})
        hero = {e["id"]: e for e in answer["experiences"]}["hero"]
        assert hero["entered"] and hero["reason"] == "everyone"
        visitors[answer["visitor_id"]] = (hero["variation_id"], answer["sticky"])
        if n % 3 == 0:  # a return visit counts nothing more
            again = await _assign(
                client, site, {"visitor_id": answer["visitor_id"], "sticky": answer["sticky"]}
            )
            assert {e["id"]: e for e in again["experiences"]}["hero"]["reason"] == "sticky"
    for _ in range(5):
        bot = await _assign(client, site, {}, **{"user-agent": GOOGLEBOT})
        assert {(e["id"], e["reason"], e["is_control"], e["entered"]) for e in bot["experiences"]} == {
            ("hero", "bot", True, False),
            ("banner", "bot", True, False),
        }
    # Orders: every third visitor buys once or twice; one order id is sent twice.
    expected: dict[str, Counter[str]] = {"control": Counter(), "b": Counter()}
    per_visitor: dict[str, list[float]] = {}
    for n, (visitor_id, (variation, token)) in enumerate(sorted(visitors.items())):
        if n % 3:
            continue
        values = [10.0 + n] if n % 2 else [10.0 + n, 2.5]
        for k, value in enumerate(values):
            body = {"visitor_id": visitor_id, "sticky": token, "event": "order", "order_id": f"o{n}-{k}",
                    "value": value, "currency": "usd"}  # fmt: skip
            answered = await _track(client, site, body)
            assert answered.status_code == 202 and answered.json() == {"accepted": True, "duplicate": False}
            if k == 0:
                repeat = await _track(client, site, body)
                assert repeat.json() == {"accepted": True, "duplicate": True}
        per_visitor[visitor_id] = values
        expected[variation]["converters"] += 1
        expected[variation]["orders"] += len(values)
    shown = Counter(variation for variation, _ in visitors.values())
    cells = {c.variation_id: c for c in await _settled(client, site["id"], "hero", len(visitors))}
    assert set(cells) == {v for v in shown}
    for variation, cell in cells.items():
        assert (cell.audience, cell.day) == (CUSTOM_AUDIENCE, _date(today))
        assert cell.visitors == shown[variation]
        assert (cell.converters, cell.orders) == (
            expected[variation]["converters"],
            expected[variation]["orders"],
        )
        mine = [values for v, values in per_visitor.items() if visitors[v][0] == variation]
        assert cell.revenue == pytest.approx(sum(sum(x) for x in mine))
        assert cell.revenue_sq == pytest.approx(sum(sum(x) ** 2 for x in mine))
        assert cell.orders_sq == pytest.approx(sum(len(x) ** 2 for x in mine))
        assert cell.revenue_orders == pytest.approx(sum(sum(x) * len(x) for x in mine))
    store = services_of(client).results_store
    assert await store.bots_excluded(site["id"], "hero", first_day=None, last_day=None) == 5
    assert await store.currencies(site["id"], "hero") == ["USD"]
    # The personalization: every matching visitor counted once, the holdout under the control.
    banner = await _settled(client, site["id"], "banner", len(visitors))
    assert sum(c.visitors for c in banner) == len(visitors)
    assert {c.variation_id for c in banner} <= {"plain", "gold"}


def _date(day: int) -> Any:
    from edge.store.results import to_date

    return to_date(day)


async def test_attribution_follows_the_sticky_token(shop: tuple[httpx.AsyncClient, dict[str, Any]]) -> None:
    client, site = shop
    first = await _assign(client, site, {})
    other = await _assign(client, site, {})
    variation = {e["id"]: e for e in first["experiences"]}["hero"]["variation_id"]
    await _settled(client, site["id"], "hero", 2)
    # Someone else's token, a garbled one, none: accepted, attributed to nothing.
    for token in (other["sticky"], "garbled", None):
        body = {"visitor_id": first["visitor_id"], "sticky": token, "event": "order", "order_id": f"x{token}",
                "value": 99.0}  # fmt: skip
        assert (await _track(client, site, body)).json() == {"accepted": True, "duplicate": False}
    assert sum(c.orders for c in await _cells(client, site["id"], "hero")) == 0
    body = {"visitor_id": first["visitor_id"], "sticky": first["sticky"], "event": "order", "order_id": "mine",
            "value": 7.0}  # fmt: skip
    assert (await _track(client, site, body)).status_code == 202
    [bought] = [c for c in await _cells(client, site["id"], "hero") if c.orders]
    assert (bought.variation_id, bought.orders, bought.revenue) == (variation, 1, 7.0)
    # A non-order event is counted per variation and event name.
    event = {"visitor_id": first["visitor_id"], "sticky": first["sticky"], "event": "add_to_cart"}
    assert (await _track(client, site, event)).json() == {"accepted": True, "duplicate": False}
    counts = await services_of(client).results_store.event_counts(site["id"], "hero")
    assert counts == {(variation, "add_to_cart"): 1}


@pytest.mark.parametrize("visitor_id", ["12345678", "cust-4242", "shop:" + "7" * 123])
async def test_a_merchants_own_visitor_id_converts(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], visitor_id: str
) -> None:
    """Every id /v1/assign accepts (1-128 characters) is one /v1/track takes too."""
    client, site = shop
    answer = await _assign(client, site, {"visitor_id": visitor_id})
    assert answer["visitor_id"] == visitor_id
    variation = {e["id"]: e for e in answer["experiences"]}["hero"]["variation_id"]
    body = {"visitor_id": visitor_id, "sticky": answer["sticky"], "event": "order", "order_id": visitor_id,
            "value": 5.0}  # fmt: skip
    assert (await _track(client, site, body)).json() == {"accepted": True, "duplicate": False}
    [bought] = [c for c in await _settled(client, site["id"], "hero", 1) if c.orders]
    assert (bought.variation_id, bought.orders, bought.revenue) == (variation, 1, 5.0)


@pytest.mark.parametrize(
    "body",
    [
        {"event": "order", "order_id": "o", "value": 1},  # no visitor id
        {"visitor_id": "v" * 22, "event": "order", "value": 1},  # an order without its id
        {"visitor_id": "v" * 22, "event": "order", "order_id": "o"},  # ... or its value
        {"visitor_id": "v" * 22, "event": "order", "order_id": "o", "value": -1},
        {"visitor_id": "v" * 22, "event": "order", "order_id": "o", "value": 1e12},
        {"visitor_id": "v" * 22, "event": "order", "order_id": "o", "value": 1, "currency": "dollars"},
        {"visitor_id": "v" * 22, "event": "order", "order_id": "", "value": 1},
        {"visitor_id": "v" * 22, "event": "order", "order_id": "o" * 129, "value": 1},
        {"visitor_id": "v" * 22, "event": "bad name!"},
        {"visitor_id": "v" * 22, "event": "add_to_cart", "order_id": "o"},
        {"visitor_id": "v" * 22, "event": "order", "order_id": "o", "value": 1, "extra": 1},
        {"visitor_id": "not a visitor id", "event": "add_to_cart"},
        {"visitor_id": "v" * 129, "event": "add_to_cart"},
    ],
)
async def test_bad_track_requests_are_refused_and_store_nothing(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], body: dict[str, Any]
) -> None:
    client, site = shop
    answered = await _track(client, site, body)
    assert answered.status_code == 400, answered.text
    assert answered.json()["error"]["code"] in {"invalid_body", "order_incomplete", "invalid_visitor_id"}
    assert await services_of(client).results_store.event_counts(site["id"], "hero") == {}


async def test_track_refuses_other_origins_answers_preflights_and_bad_json(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    url = f"/v1/track?site={site['public_key']}"
    refused = await client.post(url, content="{}", headers={"origin": "https://evil.example"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "origin_not_allowed"
    preflight = await client.options(url, headers={"origin": SHOP})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == SHOP
    assert (await client.post(url, content="{nope")).json()["error"]["code"] == "invalid_json"
    assert (await client.post("/v1/track?site=pk_unknown", content="{}")).status_code == 404
    assert (await client.get(url)).status_code == 405


async def test_the_orders_api_counts_an_order_once(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], settings: Settings
) -> None:
    client, site = shop
    visitor = await _assign(client, site, {})
    await _settled(client, site["id"], "hero", 1)
    url = f"/v1/sites/{site['id']}/orders"
    key = {"Authorization": f"Bearer {site['api_key']}"}
    body = {"visitor_id": visitor["visitor_id"], "sticky": visitor["sticky"], "order_id": "A-1", "value": 12.5,
            "currency": "EUR"}  # fmt: skip
    assert (await client.post(url, json=body)).status_code == 401
    first = await client.post(url, json=body, headers=key)
    assert first.status_code == 202 and first.json() == {"accepted": True, "duplicate": False}
    assert (await client.post(url, json=body, headers=key)).json()["duplicate"] is True
    assert (await client.post(url, json={**body, "value": "x"}, headers=key)).status_code == 422
    assert sum(c.orders for c in await _cells(client, site["id"], "hero")) == 1


def _signed(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def test_the_shopify_webhook_verifies_its_signature(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    visitor = await _assign(client, site, {})
    variation = {e["id"]: e for e in visitor["experiences"]}["hero"]["variation_id"]
    await _settled(client, site["id"], "hero", 1)
    key = {"Authorization": f"Bearer {site['api_key']}"}
    hook = f"/v1/sites/{site['id']}/webhooks/shopify/orders"
    raw = shopify_order(820982911946154508, "199.65", "USD", visitor["visitor_id"], visitor["sticky"])
    # No secret yet, a wrong signature, a missing one: 401 and nothing stored.
    assert (
        await client.post(hook, content=raw, headers={"x-shopify-hmac-sha256": _signed(raw, SECRET)})
    ).status_code == 401
    put = await client.put(f"/v1/sites/{site['id']}/webhooks/shopify", json={"secret": SECRET}, headers=key)
    assert put.status_code == 200 and SECRET not in put.text
    for signature in (
        _signed(raw, "another secret of the same size!!"),
        "",
        "not base64!",
        _signed(raw + b" ", SECRET),
    ):
        refused = await client.post(hook, content=raw, headers={"x-shopify-hmac-sha256": signature})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_signature"
    assert sum(c.orders for c in await _cells(client, site["id"], "hero")) == 0
    accepted = await client.post(hook, content=raw, headers={"x-shopify-hmac-sha256": _signed(raw, SECRET)})
    assert accepted.status_code == 202 and accepted.json() == {"accepted": True, "duplicate": False}
    again = await client.post(hook, content=raw, headers={"x-shopify-hmac-sha256": _signed(raw, SECRET)})
    assert again.json()["duplicate"] is True
    [bought] = [c for c in await _cells(client, site["id"], "hero") if c.orders]
    assert (bought.variation_id, bought.orders, bought.revenue) == (variation, 1, 199.65)
    # Rotation: the previous secret still verifies during the grace.
    newer = "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"
    assert (
        await client.put(f"/v1/sites/{site['id']}/webhooks/shopify", json={"secret": newer}, headers=key)
    ).status_code == 200
    other = shopify_order(820982911946154509, "5.00", "USD", visitor["visitor_id"], visitor["sticky"])
    for secret in (SECRET, newer):
        body = other if secret == SECRET else shopify_order(1, "1.00", "USD", None, None)
        assert (
            await client.post(hook, content=body, headers={"x-shopify-hmac-sha256": _signed(body, secret)})
        ).status_code == 202
    assert sum(c.orders for c in await _cells(client, site["id"], "hero")) == 2  # the last has no visitor
    assert await services_of(client).results_store.currencies(site["id"], "hero") == ["USD"]


async def test_results_off_counts_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, results_enabled=False, results_flush_interval_s=0.02)
    async with app_client(create_app(settings)) as client:
        site = await create_site(client, settings, origins=[SHOP])
        await put_experience(client, site["id"], HERO)
        answer = await _assign(client, site, {})
        body = {"visitor_id": answer["visitor_id"], "sticky": answer["sticky"], "event": "order", "order_id": "o",
                "value": 1.0}  # fmt: skip
        assert (await _track(client, site, body)).json() == {"accepted": False, "duplicate": False}
    async with app_client(create_app(settings)) as client:
        assert await _cells(client, site["id"], "hero") == []

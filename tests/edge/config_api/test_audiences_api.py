"""Exclusion groups, personalization modes and visit conditions through the configuration API and
the storefront: 422s naming the field, and a group honoured over HTTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.apps import make_settings
from tests.edge.config_api.support import Shop, config_app, error, open_shop
from tests.targeting.factories import doc

VISITORS = 10_000


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    settings = make_settings(tmp_path)
    async with open_shop(config_app(settings), settings) as opened:
        yield opened


def grouped(exp_id: str, weight: float) -> dict[str, Any]:
    return doc(exp_id, exclusion_group="homepage", exclusion_weight=weight)


def paths(response: Any) -> list[str]:
    return [p["path"] for p in error(response)["details"]]


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"exclusion_group": "a b"}, "exclusion_group"),
        ({"exclusion_group": "g", "exclusion_weight": 0}, "exclusion_weight"),
        ({"exclusion_weight": 2}, "exclusion_weight"),
        ({"mode": "temporary", "evaluate_every_days": 3}, "mode"),  # a test has no mode
    ],
)
async def test_bad_test_fields_are_a_422_naming_them(shop: Shop, extra: dict[str, Any], path: str) -> None:
    response = await shop.create(doc("t", status="draft", **extra))
    assert response.status_code == 422, response.text
    assert path in paths(response)


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ({"attribute": "shoe_size", "operator": "equals", "value": "42"}, "shoe_size"),
        ({"attribute": "device", "operator": "contains", "value": "mob"}, "contains"),
        ({"attribute": "device", "operator": "equals", "value": "fridge"}, "mobile, tablet, desktop"),
        ({"attribute": "cookie:a b", "operator": "exists"}, "cookie name"),
    ],
)
async def test_unknown_attributes_operators_and_values_are_a_422_naming_them(
    shop: Shop, condition: dict[str, str], words: str
) -> None:
    response = await shop.create(doc("t", status="draft", rules={"all": [condition]}))
    assert response.status_code == 422, response.text
    problems = error(response)["details"]
    assert any(words in p["message"] or words in p.get("path", "") for p in problems), problems


async def test_the_fields_are_stored_and_answered(shop: Shop) -> None:
    created = await shop.create(grouped("a-test", 3) | {"status": "draft"})
    assert created.status_code == 201, created.text
    assert (created.json()["exclusion_group"], created.json()["exclusion_weight"]) == ("homepage", 3)
    offer = doc(
        "offer",
        type="personalization",
        status="draft",
        mode="link",
        link_param="kx_offer",
        link_value="spring",
    )
    body = (await shop.create(offer)).json()
    assert (body["mode"], body["link_param"], body["link_value"]) == ("link", "kx_offer", "spring")
    plain = (await shop.create(doc("plain", status="draft"))).json()
    assert "exclusion_group" not in plain and "mode" not in plain


async def test_ten_thousand_visitors_each_enter_exactly_one_test_of_the_group(shop: Shop) -> None:
    for exp_id, weight in (("a-test", 1), ("b-test", 2), ("c-test", 1)):
        assert (await shop.create(grouped(exp_id, weight))).status_code == 201
    shares: Counter[str] = Counter()
    for i in range(VISITORS):
        response = await shop.assign({"visitor_id": f"visitor-{i}"})
        entered = [e["id"] for e in response.json()["experiences"] if e["entered"]]
        assert len(entered) == 1, entered
        shares[entered[0]] += 1
    for exp_id, share in (("a-test", 0.25), ("b-test", 0.5), ("c-test", 0.25)):
        assert abs(shares[exp_id] / VISITORS - share) < 0.01, shares
    # explain names the test of the group the visitor was given.
    explained = (await shop.explain({"visitor_id": "visitor-0"})).json()
    given = {e["id"] for e in explained["experiences"] if e["decision"]["entered"]}
    (test,) = given
    for item in explained["experiences"]:
        if item["id"] == test:
            assert "exclusion group homepage: the visitor was given this test" in item["summary"]
        else:
            assert f"the visitor was given {test}" in item["summary"]


async def test_a_link_personalization_over_http(shop: Shop) -> None:
    offer = doc(
        "offer", type="personalization", variation_ids=("off", "on"), mode="link",
        link_param="kx_offer", link_value="spring",
    )  # fmt: skip
    assert (await shop.create(offer)).status_code == 201

    async def sees(body: dict[str, Any]) -> bool:
        response = await shop.assign({"visitor_id": "link-visitor", **body})
        return bool(response.json()["experiences"][0]["entered"])

    assert await sees({"url": "https://shop.example.com/?kx_offer=spring"})
    assert await sees({"url": "https://shop.example.com/cart", "links": {"kx_offer": "spring"}})
    assert not await sees({"url": "https://shop.example.com/cart"})

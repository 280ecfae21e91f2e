"""The results API over HTTP on the real app, reading an in-memory results reader."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from edge.config_api import results as results_module
from edge.services import Services
from edge.settings import Settings
from edge.store.results import Attribution, Conversion, to_day
from stats import Arm, VariationData, analyze_experience
from tests.apps import services_of
from tests.edge.config_api.support import Shop, config_app, open_shop
from tests.fakes.results import DAY, FakeResults, cohort

FREE_SHIPPING: dict[str, Any] = {
    "id": "free-shipping-test",
    "type": "test",
    "name": "Free shipping over 50",
    "status": "live",
    "targeting": {"mode": "custom", "rules": {}},
    "variations": [
        {"id": "control", "name": "Standard shipping", "weight": 1, "is_control": True},
        {"id": "free", "name": "Free shipping", "weight": 1},
    ],
}
ADVANCED: dict[str, Any] = FREE_SHIPPING | {
    "id": "by-audience",
    "targeting": {
        "mode": "advanced",
        "audiences": [
            {"rules": {"all": [{"attribute": "device", "operator": "equals", "value": "mobile"}]},
             "action": "random"},
            {"rules": {}, "action": "random"},
        ],
    },
}  # fmt: skip
VARIATION_FIELDS = {
    "variation_id", "is_control", "visitors", "converters", "orders", "revenue", "conversion_rate",
    "revenue_per_visitor", "average_order_value", "chance_to_beat_control", "lift",
}  # fmt: skip


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeResults:
    found = FakeResults()

    def reader(svc: Services) -> FakeResults:
        return found

    monkeypatch.setattr(results_module, "results_reader", reader)
    return found


@pytest.fixture
async def shop(settings: Settings, fake: FakeResults) -> AsyncIterator[Shop]:
    async with open_shop(config_app(settings), settings) as opened:
        for body in (FREE_SHIPPING, ADVANCED):
            created = await opened.create(body)
            assert created.status_code == 201, created.text
        yield opened


async def results(shop: Shop, experience_id: str = "free-shipping-test", **query: str) -> Any:
    response = await shop.client.get(shop.url(f"/{experience_id}/results"), params=query, headers=shop.auth)
    assert response.status_code == 200, response.text
    return response.json()


def by_id(answer: dict[str, Any]) -> dict[str, Any]:
    return {v["variation_id"]: v for v in answer["variations"]}


async def test_the_answer_has_the_contract_fields_and_the_engines_numbers(
    shop: Shop, fake: FakeResults
) -> None:
    cells = [cohort("control", 1000, 50, 80.0), cohort("free", 1000, 80, 80.0)]
    fake.add(shop.site_id, "free-shipping-test", *cells)
    fake.add_bots(shop.site_id, "free-shipping-test", 12)
    answer = await results(shop)
    assert {"experience_id", "variations", "srm", "bots_excluded", "warnings"} <= set(answer)
    assert answer["experience_id"] == "free-shipping-test"
    assert answer["bots_excluded"] == 12 and answer["warnings"] == []
    assert set(answer["srm"]) == {"p_value", "mismatch"} and answer["srm"]["mismatch"] is False
    control, free = by_id(answer)["control"], by_id(answer)["free"]
    assert set(control) >= VARIATION_FIELDS and control["is_control"] is True
    assert control["lift"] is None and control["chance_to_beat_control"] is None
    assert (control["visitors"], control["orders"], control["revenue"]) == (1000, 50, 4000.0)
    assert free["conversion_rate"] == pytest.approx(0.08) and free["average_order_value"] == pytest.approx(
        80.0
    )
    lift = free["lift"]["conversion_rate"]
    assert lift["value"] == pytest.approx(0.6)
    assert lift["ci_low"] < lift["value"] < lift["ci_high"]
    assert set(free["lift"]["revenue_per_visitor"]) >= {"value", "ci_low", "ci_high"}
    assert free["chance_to_beat_control"] > 0.95
    expected = analyze_experience(
        "free-shipping-test",
        [Arm("control", 1, True), Arm("free", 1)],
        [VariationData(c.variation_id, c.visitors, c.converters, c.orders, c.revenue, c.revenue_sq,
                       c.orders_sq, c.revenue_orders) for c in cells],
        bots_excluded=12,
    )  # fmt: skip
    assert free["lift"]["revenue_per_visitor"]["ci_low"] == pytest.approx(
        expected.variations[1].lift.revenue_per_visitor.ci_low  # type: ignore[union-attr]
    )
    assert answer["variation_names"] == {"control": "Standard shipping", "free": "Free shipping"}


async def test_a_skewed_split_is_flagged_and_a_fair_one_is_not(shop: Shop, fake: FakeResults) -> None:
    fake.add(
        shop.site_id, "free-shipping-test", cohort("control", 1000, 60, 50.0), cohort("free", 850, 60, 50.0)
    )
    skewed = await results(shop)
    assert skewed["srm"]["mismatch"] is True and skewed["srm"]["p_value"] < 0.001
    assert "sample_ratio_mismatch" in skewed["warnings"]
    fake.add(shop.site_id, "by-audience", cohort("control", 1000, 60, 50.0), cohort("free", 1010, 60, 50.0))
    fair = await results(shop, "by-audience")
    assert fair["srm"]["mismatch"] is False and fair["srm"]["p_value"] > 0.5
    assert fair["warnings"] == []


async def test_the_split_is_checked_against_the_configured_weights(shop: Shop, fake: FakeResults) -> None:
    body = FREE_SHIPPING | {"id": "two-to-one", "variations": [
        {"id": "control", "name": "A", "weight": 2, "is_control": True}, {"id": "free", "name": "B", "weight": 1}]}  # fmt: skip
    assert (await shop.create(body)).status_code == 201
    fake.add(shop.site_id, "two-to-one", cohort("control", 2000, 100, 40.0), cohort("free", 1000, 50, 40.0))
    assert (await results(shop, "two-to-one"))["srm"]["mismatch"] is False


async def test_a_personalization_compares_the_shown_variation_with_its_holdout(
    shop: Shop, fake: FakeResults
) -> None:
    body = {
        "id": "vip-banner", "type": "personalization", "name": "VIP banner", "status": "live",
        "traffic_percent": 80, "targeting": {"mode": "custom", "rules": {}},
        "variations": [{"id": "none", "name": "No banner", "weight": 1, "is_control": True},
                       {"id": "banner", "name": "Banner", "weight": 1}],
    }  # fmt: skip
    assert (await shop.create(body)).status_code == 201, (await shop.create(body)).text
    fake.add(shop.site_id, "vip-banner", cohort("none", 200, 10, 60.0), cohort("banner", 800, 60, 60.0))
    answer = await results(shop, "vip-banner")
    assert answer["srm"]["mismatch"] is False  # 20% held out, as configured
    assert by_id(answer)["banner"]["lift"]["conversion_rate"]["value"] == pytest.approx(0.5)
    fake.add(shop.site_id, "vip-banner", cohort("none", 300))
    assert (await results(shop, "vip-banner"))["srm"]["mismatch"] is True


async def test_an_experience_without_data_shows_zeros_and_says_so(shop: Shop) -> None:
    answer = await results(shop)
    assert answer["warnings"] == ["not_enough_data"]
    assert [(v["visitors"], v["orders"], v["revenue"]) for v in answer["variations"]] == [(0, 0, 0.0)] * 2
    assert all(v["conversion_rate"] is None for v in answer["variations"])
    assert answer["bots_excluded"] == 0 and answer["srm"]["mismatch"] is False


async def test_few_visitors_warn_and_many_bots_warn(shop: Shop, fake: FakeResults) -> None:
    fake.add(shop.site_id, "free-shipping-test", cohort("control", 50, 5, 20.0), cohort("free", 50, 5, 20.0))
    fake.add_bots(shop.site_id, "free-shipping-test", 100)
    fake.currency[(shop.site_id, "free-shipping-test")] = ["USD", "EUR"]
    assert (await results(shop))["warnings"] == ["not_enough_data", "many_bots_excluded", "mixed_currencies"]


async def test_breakdown_by_audience_reports_each_audience(shop: Shop, fake: FakeResults) -> None:
    fake.add(
        shop.site_id, "by-audience",
        cohort("control", 300, 10, 50.0, audience="1"), cohort("free", 300, 12, 50.0, audience="1"),
        cohort("control", 200, 10, 50.0, audience="0"), cohort("free", 200, 30, 50.0, audience="0"),
    )  # fmt: skip
    answer = await results(shop, "by-audience", breakdown="audience")
    assert [(a["audience"], a["name"]) for a in answer["audiences"]] == [
        ("0", "Audience 1"),
        ("1", "Audience 2"),
    ]
    first = {v["variation_id"]: v for v in answer["audiences"][0]["variations"]}
    assert first["free"]["visitors"] == 200 and first["free"]["lift"]["conversion_rate"][
        "value"
    ] == pytest.approx(2.0)
    assert first["control"]["lift"] is None
    assert by_id(answer)["free"]["visitors"] == 500  # the whole report is still there
    assert "series" not in answer and "audiences" not in await results(shop, "by-audience")


async def test_breakdown_by_day_is_cumulative_and_from_to_select_entry_days(
    shop: Shop, fake: FakeResults
) -> None:
    days = [DAY + timedelta(days=n) for n in range(3)]
    for n, day in enumerate(days):
        fake.add(shop.site_id, "free-shipping-test",
                 cohort("control", 100, 5, 10.0, day=day), cohort("free", 100, 5 + n, 10.0, day=day))  # fmt: skip
        fake.add_bots(shop.site_id, "free-shipping-test", 1, day=day)
    answer = await results(shop, breakdown="day")
    free = next(line for line in answer["series"] if line["variation_id"] == "free")
    assert [p["day"] for p in free["points"]] == [d.isoformat() for d in days]
    assert [p["visitors"] for p in free["points"]] == [100, 200, 300]
    assert [p["converters"] for p in free["points"]] == [5, 11, 18]
    narrowed = await results(shop, **{"from": days[1].isoformat(), "to": days[1].isoformat()})
    assert by_id(narrowed)["free"]["visitors"] == 100 and by_id(narrowed)["free"]["converters"] == 6
    assert narrowed["bots_excluded"] == 1
    assert (narrowed["from"], narrowed["to"]) == (days[1].isoformat(), days[1].isoformat())
    since = await results(shop, **{"from": days[1].isoformat()})
    assert by_id(since)["control"]["visitors"] == 200


async def csv_of(shop: Shop, **query: str) -> tuple[Any, list[dict[str, str]]]:
    response = await shop.client.get(
        shop.url("/free-shipping-test/results.csv"), params=query, headers=shop.auth
    )
    assert response.status_code == 200, response.text
    return response, list(csv.DictReader(io.StringIO(response.text)))


async def test_the_csv_export_has_a_row_per_variation(shop: Shop, fake: FakeResults) -> None:
    fake.add(shop.site_id, "free-shipping-test", cohort("control", 1000, 50, 80.0), cohort("free", 1000, 80, 80.0),
             cohort("free", 10, 1, 80.0, audience="vip", day=DAY + timedelta(days=1)))  # fmt: skip
    response, rows = await csv_of(shop)
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="free-shipping-test-results.csv"'
    assert [(r["variation_id"], r["variation_name"], r["is_control"]) for r in rows] == [
        ("control", "Standard shipping", "true"), ("free", "Free shipping", "false")]  # fmt: skip
    assert rows[0]["conversion_rate_lift_value"] == "" and rows[0]["chance_to_beat_control"] == ""
    assert rows[1]["visitors"] == "1010" and float(rows[1]["conversion_rate_lift_value"]) > 0
    response, by_audience = await csv_of(shop, breakdown="audience", to=DAY.isoformat())
    assert "-to-" not in response.headers["content-disposition"]
    assert response.headers["content-disposition"].endswith(f'-{DAY.isoformat()}-by-audience.csv"')
    assert [(r["audience"], r["variation_id"]) for r in by_audience] == [
        ("custom", "control"),
        ("custom", "free"),
    ]
    _, daily = await csv_of(shop, breakdown="day")
    assert [(r["day"], r["variation_id"], r["visitors"]) for r in daily] == [
        (DAY.isoformat(), "control", "1000"), (DAY.isoformat(), "free", "1000"),
        ((DAY + timedelta(days=1)).isoformat(), "control", "1000"),
        ((DAY + timedelta(days=1)).isoformat(), "free", "1010"),
    ]  # fmt: skip


@pytest.mark.parametrize("suffix", ["/results", "/results.csv"])
async def test_unknown_experiences_and_other_sites_are_404(
    shop: Shop, settings: Settings, suffix: str
) -> None:
    missing = await shop.client.get(shop.url(f"/nope{suffix}"), headers=shop.auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "experience_not_found"
    assert (await shop.client.get(shop.url(f"/free-shipping-test{suffix}"))).status_code == 401
    other = await shop.client.post(
        "/v1/sites", json={"name": "Other", "allowed_origins": []},
        headers={"Authorization": f"Bearer {settings.operator_token}"},
    )  # fmt: skip
    foreign = {"Authorization": f"Bearer {other.json()['api_key']}"}
    assert (
        await shop.client.get(shop.url(f"/free-shipping-test{suffix}"), headers=foreign)
    ).status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "20261102"}, "from"),
        ({"from": "2026-11-05", "to": "2026-11-01"}, "to"),
        ({"breakdown": "week"}, "breakdown"),
    ],
)
@pytest.mark.parametrize("suffix", ["/results", "/results.csv"])
async def test_bad_query_parameters_are_422_naming_the_field(
    shop: Shop, query: dict[str, str], field: str, suffix: str
) -> None:
    response = await shop.client.get(
        shop.url(f"/free-shipping-test{suffix}"), params=query, headers=shop.auth
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_query" and error["details"][0]["path"] == field
    assert field in error["message"]


async def test_the_real_results_store_answers_through_the_api(settings: Settings) -> None:
    """No fake: visitors and orders written with `SqlResultsStore`, read back over HTTP."""
    async with open_shop(config_app(settings), settings) as shop:
        assert (await shop.create(ADVANCED)).status_code == 201
        store = services_of(shop.client).results_store
        site, day = shop.site_id, to_day(DAY)
        await store.add_counts(
            {(site, "by-audience", "control", "0", day): 3, (site, "by-audience", "free", "0", day): 2,
             (site, "by-audience", "free", "1", day + 1): 1},
            {(site, "by-audience", day): 4},
        )  # fmt: skip
        orders = [
            Conversion(site, "v1", "order", (Attribution("by-audience", "free", "0", day),), "o-1", 30.0, "USD"),
            Conversion(site, "v1", "order", (Attribution("by-audience", "free", "0", day),), "o-2", 10.0, "USD"),
            Conversion(site, "v1", "order", (Attribution("by-audience", "free", "0", day),), "o-1", 30.0, "USD"),
            Conversion(site, "v2", "order", (Attribution("by-audience", "control", "0", day),), "o-3", 20.0, "USD"),
        ]  # fmt: skip
        assert await store.record_conversions(orders, now=0) == [False, False, True, False]
        answer = await results(shop, "by-audience", breakdown="audience")
        free, control = by_id(answer)["free"], by_id(answer)["control"]
        assert (free["visitors"], free["converters"], free["orders"], free["revenue"]) == (3, 1, 2, 40.0)
        assert (control["visitors"], control["orders"], control["revenue"]) == (3, 1, 20.0)
        assert answer["bots_excluded"] == 4 and answer["warnings"][0] == "not_enough_data"
        assert [(a["audience"], a["name"]) for a in answer["audiences"]] == [
            ("0", "Audience 1"),
            ("1", "Audience 2"),
        ]
        narrowed = await results(shop, "by-audience", to=DAY.isoformat())
        assert by_id(narrowed)["free"]["visitors"] == 2


async def test_an_assign_audience_is_checked_against_its_fixed_variation(
    shop: Shop, fake: FakeResults
) -> None:
    body = ADVANCED | {"id": "wholesale", "targeting": {"mode": "advanced", "audiences": [
        {"rules": {"all": [{"attribute": "device", "operator": "equals", "value": "desktop"}]},
         "action": "assign", "variation_id": "free"},
        {"rules": {}, "action": "random"}]}}  # fmt: skip
    assert (await shop.create(body)).status_code == 201
    fake.add(shop.site_id, "wholesale", cohort("free", 600, 30, 40.0, audience="0"),
             cohort("control", 200, 10, 40.0, audience="1"), cohort("free", 205, 10, 40.0, audience="1"))  # fmt: skip
    answer = await results(shop, "wholesale", breakdown="audience")
    assert answer["srm"]["mismatch"] is False  # 805 vs 200 is what the targeting asks for
    assert [a["srm"]["mismatch"] for a in answer["audiences"]] == [False, False]
    fake.add(shop.site_id, "wholesale", cohort("control", 50, audience="0"))
    assert (await results(shop, "wholesale", breakdown="audience"))["audiences"][0]["srm"]["mismatch"] is True

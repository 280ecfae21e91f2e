"""`GET /metrics`: the operator token only, Prometheus' text format, counters that move."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.settings import Settings
from sandbox import DEMO_PEOPLE, SandboxState, running_fake_klaviyo
from tests.apps import make_settings, operator
from tests.edge.config_api.support import (
    VIP,
    Shop,
    config_app,
    connect_to_sandbox,
    klaviyo_settings,
    open_shop,
    sandbox_state,
)
from tests.targeting.factories import doc

AVA = next(p for p in DEMO_PEOPLE if p.first_name == "Ava")  # VIP
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(shop: Shop, settings: Settings) -> Samples:
    response = await shop.client.get("/metrics", headers=operator(settings))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def shop(settings: Settings) -> AsyncIterator[Shop]:
    async with open_shop(config_app(settings), settings) as opened:
        yield opened


async def test_metrics_need_the_operator_token(shop: Shop, settings: Settings) -> None:
    assert (await shop.client.get("/metrics")).status_code == 401
    refused = await shop.client.get("/metrics", headers=shop.auth)  # a site's api key is not enough
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    assert "kx_edge" not in refused.text


async def test_assign_and_config_api_requests_are_counted_per_route(shop: Shop, settings: Settings) -> None:
    before = await scrape(shop, settings)
    for _ in range(3):
        assert (await shop.assign({})).status_code == 200
    assert (await shop.client.post("/v1/assign?site=nope", json={})).status_code == 404
    assert (await shop.create(doc("hero"))).status_code == 201
    assert (await shop.get("hero")).status_code == 200
    assert (await shop.get("missing")).status_code == 404
    after = await scrape(shop, settings)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("kx_edge_http_requests_total", route="/v1/assign", status="200") == 3
    assert grew("kx_edge_http_requests_total", route="/v1/assign", status="404") == 1
    experience = "/v1/sites/{site_id}/experiences/{experience_id}"
    assert grew("kx_edge_http_requests_total", route=experience, status="200") == 1
    assert grew("kx_edge_http_requests_total", route=experience, status="404") == 1
    assert grew("kx_edge_http_requests_total", route="/v1/sites/{site_id}/experiences", status="201") == 1
    # Histograms: every request in the +Inf bucket and the count; the sum grows.
    assert grew("kx_edge_http_request_duration_seconds_count", route="/v1/assign") == 4
    assert grew("kx_edge_http_request_duration_seconds_bucket", route="/v1/assign", le="+Inf") == 4
    assert grew("kx_edge_http_request_duration_seconds_sum", route="/v1/assign") > 0
    assert grew("kx_edge_http_request_duration_seconds_count", route=experience) == 2
    # Raw paths (with ids) never become label values.
    assert not any(shop.site_id in dict(labels).get("route", "") for _, labels in after)


async def test_health_and_outbox_are_exported(shop: Shop, settings: Settings) -> None:
    samples = await scrape(shop, settings)
    assert value(samples, "kx_edge_up", component="store") == 1
    assert ("kx_edge_outbox_depth", frozenset()) in samples
    assert value(samples, "kx_edge_outbox_oldest_age_seconds") == 0


@pytest.fixture
def sandbox() -> SandboxState:
    return sandbox_state()


@pytest.fixture
def sandbox_url(sandbox: SandboxState) -> Iterator[str]:
    with running_fake_klaviyo(sandbox) as url:
        yield url


async def test_a_resolver_miss_against_klaviyo_moves_resolver_and_klaviyo_counters(
    tmp_path: Path, sandbox_url: str, sandbox: SandboxState
) -> None:
    settings = klaviyo_settings(tmp_path, sandbox_url)
    async with open_shop(config_app(settings), settings) as shop:
        await connect_to_sandbox(shop.client, shop.site_id, sandbox)
        rules = {"any": [{"attribute": "klaviyo_segment", "operator": "equals", "value": VIP}]}
        assert (await shop.create(doc("vip", rules=rules))).status_code == 201
        before = await scrape(shop, settings)
        first = await shop.assign({"kx": AVA.kx, "visitor_id": "visitor-1"})
        assert first.json()["identity"] == "identified"
        again = await shop.assign({"kx": AVA.kx, "visitor_id": "visitor-1"})
        assert again.json()["identity"] == "identified"
        after = await scrape(shop, settings)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("kx_edge_resolver_outcomes_total", outcome="klaviyo") == 1
    assert grew("kx_edge_resolver_outcomes_total", outcome="l1") >= 1
    assert grew("kx_edge_resolver_events_total", event="l1_miss") == 1
    assert grew("kx_edge_resolver_outcomes_total", outcome="deadline_missed") == 0
    calls = sum(
        v - value(before, name, **dict(labels))
        for (name, labels), v in after.items()
        if name == "kx_edge_klaviyo_calls_total" and dict(labels)["status"] == "200"
    )
    assert calls >= 1
    assert grew("kx_edge_klaviyo_calls_total", tier="profiles", status="200") >= 1
    # The connected account's budget is exported per tier, below Klaviyo's limit of 750 a minute.
    assert 0 < value(after, "kx_edge_klaviyo_budget_left", tier="profiles") < 750


async def test_the_metrics_route_is_cheap_to_scrape_repeatedly(shop: Shop, settings: Settings) -> None:
    """Scrapes do not count anything twice: totals only grow by what happened in between."""
    await shop.assign({})
    first = await scrape(shop, settings)
    second = await scrape(shop, settings)
    key = ("kx_edge_http_requests_total", frozenset({("route", "/v1/assign"), ("status", "200")}))
    assert first[key] == second[key] == 1

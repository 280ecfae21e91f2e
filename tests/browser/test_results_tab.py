"""The Results tab in a real Chromium: from the experience list to the table, the verdict, the
chart (and its metric switch), the audience breakdown and the CSV download, with a screenshot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from edge.app import create_app
from edge.config_api import results as results_module
from edge.services import Services
from tests.apps import make_settings
from tests.browser.live_server import live_server
from tests.fakes.results import DAY, FakeResults, cohort

pytestmark = pytest.mark.browser

TEST: dict[str, Any] = {
    "id": "free-shipping-test",
    "type": "test",
    "name": "Free shipping for VIPs",
    "status": "live",
    "targeting": {"mode": "advanced", "audiences": [
        {"rules": {"all": [{"attribute": "device", "operator": "equals", "value": "mobile"}]}, "action": "random"},
        {"rules": {}, "action": "random"}]},
    "variations": [
        {"id": "control", "name": "Standard shipping", "weight": 1, "is_control": True},
        {"id": "free", "name": "Free shipping", "weight": 1},
    ],
}  # fmt: skip


@dataclass
class World:
    base: str
    site: dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    fake = FakeResults()
    with pytest.MonkeyPatch.context() as patch:

        def reader(svc: Services) -> FakeResults:
            return fake

        patch.setattr(results_module, "results_reader", reader)
        settings = make_settings(tmp_path_factory.mktemp("results-tab"))
        with live_server(create_app(settings), lifespan="on") as port:
            base = f"http://127.0.0.1:{port}"
            operator = {"Authorization": f"Bearer {settings.operator_token}"}
            site = httpx.post(
                f"{base}/v1/sites",
                json={"name": "Sandbox Outfitters", "allowed_origins": [base]},
                headers=operator,
            ).json()
            auth = {"Authorization": f"Bearer {site['api_key']}"}
            created = httpx.post(f"{base}/v1/sites/{site['id']}/experiences", json=TEST, headers=auth)
            assert created.status_code == 201, created.text
            for n in range(14):
                day = DAY + timedelta(days=n)
                fake.add(site["id"], "free-shipping-test",
                         cohort("control", 120, 4, 58.0, audience="0", day=day),
                         cohort("free", 118, 9, 61.0, audience="0", day=day),
                         cohort("control", 80, 3, 55.0, audience="1", day=day),
                         cohort("free", 82, 3, 54.0, audience="1", day=day))  # fmt: skip
            fake.add_bots(site["id"], "free-shipping-test", 140)
            yield World(base, site)


@pytest.fixture
def merchant(browser: Browser, world: World) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(error.message))
    page.goto(f"{world.base}/admin/sign-in")
    page.get_by_label("Api key").fill(world.site["api_key"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{world.base}/admin/integrations")
    try:
        yield page
        assert errors == []
    finally:
        context.close()


def test_the_results_tab_shows_the_winner_the_chart_and_the_audiences(
    merchant: Page, world: World, tmp_path: Path
) -> None:
    page = merchant
    page.goto(f"{world.base}/admin/experiences")
    row = page.locator('[data-experience-id="free-shipping-test"]')
    expect(row.locator('[data-column="visitors"]')).to_have_text("5,600")
    expect(row.locator('[data-column="running_since"]')).to_have_text(DAY.isoformat())
    row.get_by_role("link", name="Results").click()
    expect(page).to_have_url(f"{world.base}/admin/experiences/free-shipping-test/results")

    expect(page.locator("#verdict")).to_contain_text("Free shipping is winning")
    free = page.locator('#results-table tr[data-variation-id="free"]')
    expect(free.locator('[data-column="visitors"]')).to_have_text("2,800")
    expect(free.locator('[data-column="orders"]')).to_have_text("168")
    expect(free.locator('[data-column="cr_lift"]')).to_contain_text(" to ")
    control = page.locator('#results-table tr[data-variation-id="control"]')
    expect(control.locator('[data-column="chance"]')).to_have_text("")
    expect(page.locator("[data-warning]")).to_have_count(0)

    chart = page.locator("#results-chart svg")
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("data-metric", "revenue_per_visitor")
    expect(chart.locator("g.series")).to_have_count(2)
    box = chart.bounding_box()
    assert box is not None and box["width"] > 500 and box["height"] > 150

    expect(page.locator('h3[data-audience="0"]')).to_have_text("Audience 1")
    expect(page.locator('table[data-audience="1"] tr[data-variation-id="free"] td').first).to_have_text(
        "1,148"
    )

    shot = tmp_path / "results-tab.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    with page.expect_download() as download:
        page.locator("#csv-link").click()
    saved = tmp_path / "results.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0].startswith("variation_id,variation_name,is_control,visitors") and len(lines) == 3

    page.get_by_role("link", name="Conversion rate").click()
    expect(page.locator("#results-chart svg")).to_have_attribute("data-metric", "conversion_rate")
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("#name")).to_have_value("Free shipping for VIPs")
    page.locator("#results-tab").click()
    expect(page.locator("#results-h")).to_have_text("Free shipping for VIPs")


def test_a_range_narrows_the_numbers(merchant: Page, world: World) -> None:
    page = merchant
    page.goto(f"{world.base}/admin/experiences/free-shipping-test/results")
    page.locator("#from").fill(DAY.isoformat())
    page.locator("#to").fill(DAY.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator('#results-table tr[data-variation-id="free"] [data-column="visitors"]')).to_have_text(
        "200"
    )
    expect(page.locator("[data-warning='not_enough_data']")).to_be_visible()

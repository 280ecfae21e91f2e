"""`kx-edge serve --demo` with its demo traffic, in a real Chromium: a newcomer signs in to the
merchant page (the demo's key is filled in) and the demo test's Results tab names the winner,
with the numbers the traffic sent and no "not enough data" warning; with a screenshot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from demo.setup import create_demo_app
from demo.traffic import TrafficReport
from demo.traffic_plan import DEMO_TEST, TREATMENT, TrafficPlan
from tests.apps import make_settings
from tests.browser.live_server import live_server
from tests.demo.expected import demo_test
from tests.waiting import free_port, wait_until

pytestmark = pytest.mark.browser


@dataclass
class Demo:
    base: str
    site: dict[str, Any]
    report: TrafficReport


def _counted(demo: Demo) -> int:
    response = httpx.get(
        f"{demo.base}/v1/sites/{demo.site['id']}/experiences/{DEMO_TEST}/results",
        headers={"Authorization": f"Bearer {demo.site['api_key']}"},
        timeout=5,
    )
    return sum(v["visitors"] for v in response.json()["variations"]) if response.status_code == 200 else -1


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path_factory.mktemp("demo-results"), public_url=base)
    app = create_demo_app(settings, traffic=TrafficPlan())
    with live_server(app, port=port, lifespan="on"):
        report: TrafficReport = app.state.demo_traffic
        wait_until(lambda: report.finished, timeout=90, what="the demo traffic to be played")
        found = Demo(base, app.state.demo_site, report)
        wait_until(lambda: _counted(found) == report.visitors, timeout=15, what="the visitors to be written")
        yield found


def test_the_demo_results_tab_names_the_winner_with_its_numbers(
    page: Page, page_errors: list[str], demo: Demo, artifacts_dir: Path
) -> None:
    page.goto(f"{demo.base}/admin/sign-in")
    expect(page.get_by_label("Api key")).to_have_value(demo.site["api_key"])  # filled in by the demo
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{demo.base}/admin/integrations")

    page.goto(f"{demo.base}/admin/experiences")
    row = page.locator(f'[data-experience-id="{DEMO_TEST}"]')
    expect(row.locator('[data-column="visitors"]')).to_have_text(f"{demo.report.visitors:,}")
    row.get_by_role("link", name="Results").click()
    expect(page).to_have_url(f"{demo.base}/admin/experiences/{DEMO_TEST}/results")

    names = {v["id"]: v["name"] for v in demo_test()["variations"]}
    expect(page.locator("#verdict")).to_contain_text(f"{names[TREATMENT]} is winning")
    expect(page.locator("[data-warning]")).to_have_count(0)
    for variation, sent in demo.report.variations.items():
        table_row = page.locator(f'#results-table tr[data-variation-id="{variation}"]')
        expect(table_row.locator('[data-column="visitors"]')).to_have_text(f"{sent.visitors:,}")
        expect(table_row.locator('[data-column="orders"]')).to_have_text(f"{sent.orders:,}")
    treatment = page.locator(f'#results-table tr[data-variation-id="{TREATMENT}"]')
    expect(treatment.locator('[data-column="rpv_lift"]')).to_contain_text(" to ")
    expect(treatment.locator('[data-column="chance"]')).not_to_have_text("")
    expect(page.locator("#results-chart svg")).to_be_visible()

    shot = artifacts_dir / "demo-results-tab.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert page_errors == []

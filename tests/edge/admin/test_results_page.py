"""The Results tab and the experience list's results columns, over HTTP with a chosen results reader."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from edge.admin.charts import cumulative_chart
from edge.config_api import results as results_module
from edge.services import Services
from stats import Arm, DailyRow, cumulative_series
from tests.edge.admin.support import sign_in
from tests.fakes.results import DAY, FakeResults, cohort

TEST: dict[str, Any] = {
    "id": "free-shipping-test",
    "type": "test",
    "name": "Free shipping over 50",
    "status": "live",
    "targeting": {"mode": "advanced", "audiences": [{"rules": {}, "action": "random"}]},
    "variations": [
        {"id": "control", "name": "Standard shipping", "weight": 1, "is_control": True},
        {"id": "free", "name": "Free shipping", "weight": 1},
    ],
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeResults:
    found = FakeResults()

    def reader(svc: Services) -> FakeResults:
        return found

    monkeypatch.setattr(results_module, "results_reader", reader)
    return found


@pytest.fixture
async def signed_in(client: httpx.AsyncClient, site: dict[str, Any], fake: FakeResults) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {site['api_key']}"}
    created = await client.post(f"/v1/sites/{site['id']}/experiences", json=TEST, headers=auth)
    assert created.status_code == 201, created.text
    await sign_in(client, site["api_key"])
    return site


def winning(fake: FakeResults, site_id: str) -> None:
    for n in range(3):
        day = DAY + timedelta(days=n)
        fake.add(site_id, "free-shipping-test",
                 cohort("control", 400, 12, 60.0, audience="0", day=day),
                 cohort("free", 400, 30, 62.0, audience="0", day=day))  # fmt: skip


async def test_the_results_tab_names_the_winner_with_its_numbers(
    client: httpx.AsyncClient, signed_in: dict[str, Any], fake: FakeResults
) -> None:
    winning(fake, signed_in["id"])
    page = await client.get("/admin/experiences/free-shipping-test/results")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Free shipping is winning" in html and "chance to beat the control" in html
    assert 'data-variation-id="free"' in html and "1,200" in html  # visitors, all three days
    assert "7.50%" in html and "3.00%" in html  # conversion rates
    assert "+150.0% (" in html  # the conversion lift with its interval
    assert html.count('class="series"') == 2 and "<polyline" in html
    assert 'data-audience="0"' in html and "Audience 1" in html
    assert "Not enough data yet" not in html
    assert f"/v1/sites/{signed_in['id']}/experiences/free-shipping-test/results.csv" in html


async def test_the_results_tab_says_what_a_warning_means(
    client: httpx.AsyncClient, signed_in: dict[str, Any], fake: FakeResults
) -> None:
    fake.add(
        signed_in["id"],
        "free-shipping-test",
        cohort("control", 2000, 90, 50.0),
        cohort("free", 1500, 80, 50.0),
    )
    html = (await client.get("/admin/experiences/free-shipping-test/results")).text
    assert "Something is wrong with the split: do not trust this test" in html
    assert 'id="verdict"' not in html


async def test_an_empty_test_shows_zeros_and_asks_for_patience(
    client: httpx.AsyncClient, signed_in: dict[str, Any]
) -> None:
    html = (await client.get("/admin/experiences/free-shipping-test/results")).text
    assert "Not enough data yet" in html and 'id="results-chart-empty"' in html and 'id="verdict"' not in html


async def test_a_bad_range_is_explained_and_every_day_is_shown(
    client: httpx.AsyncClient, signed_in: dict[str, Any], fake: FakeResults
) -> None:
    winning(fake, signed_in["id"])
    html = (await client.get("/admin/experiences/free-shipping-test/results?from=soon")).text
    assert 'id="range-problem"' in html and "1,200" in html
    narrowed = (await client.get(f"/admin/experiences/free-shipping-test/results?from={DAY.isoformat()}&to={DAY.isoformat()}")).text  # fmt: skip
    assert "1,200" not in narrowed and ">400<" in narrowed


async def test_unknown_experiences_are_404_and_signed_out_visitors_sign_in(
    client: httpx.AsyncClient, signed_in: dict[str, Any]
) -> None:
    assert (await client.get("/admin/experiences/nope/results")).status_code == 404
    client.cookies.clear()
    answer = await client.get("/admin/experiences/free-shipping-test/results")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/sign-in")


async def test_the_list_shows_visitors_and_running_since(
    client: httpx.AsyncClient, signed_in: dict[str, Any], fake: FakeResults
) -> None:
    winning(fake, signed_in["id"])
    html = (await client.get("/admin/experiences")).text
    assert '<td data-column="visitors" data-label="Visitors" class="num">2,400</td>' in html
    assert f'<span title="The first day a visitor entered">{DAY.isoformat()}</span>' in html
    assert 'href="/admin/experiences/free-shipping-test/results"' in html


def test_the_chart_escapes_names_and_breaks_lines_where_nothing_is_known() -> None:
    arms = [Arm("a", 1, True), Arm("b", 1)]
    rows = [DailyRow(DAY, "a", 10, 1), DailyRow(DAY + timedelta(days=1), "a", 10, 1),
            DailyRow(DAY + timedelta(days=1), "b", 10, 3)]  # fmt: skip
    svg = str(cumulative_chart(cumulative_series(arms, rows), "conversion_rate", {"b": "<script>x</script>"}))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1  # b has one known day
    assert str(cumulative_chart((), "conversion_rate", {})) == ""

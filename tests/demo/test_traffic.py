"""The demo traffic: the demo on a real socket plays its seeded plan through `/v1/assign` and
`/v1/track`, and the results API then reports what the plan says it should (recomputed from the
plan, not written down), with the treatment winning."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from demo.setup import create_demo_app
from demo.traffic import ENV, MAX_VISITORS, TrafficReport, traffic_from_environment
from demo.traffic_plan import BOT_USER_AGENTS, BROWSER_USER_AGENTS, DEMO_TEST, TREATMENT, Kind, TrafficPlan
from edge.results.bots import BotCheck
from tests.apps import make_settings
from tests.browser.live_server import live_server
from tests.demo.expected import Expected, expected, expected_results
from tests.waiting import free_port, wait_until

PLAN = TrafficPlan()  # what `kx-edge serve --demo` plays


@dataclass
class Played:
    base: str
    site: dict[str, Any]
    report: TrafficReport

    def results(self, experience_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.base}/v1/sites/{self.site['id']}/experiences/{experience_id}/results",
            headers={"Authorization": f"Bearer {self.site['api_key']}"},
            timeout=5,
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


def connected(played: Played) -> bool:
    """Whether the demo is seeded: its site connected to the sandbox Klaviyo (the last step)."""
    try:
        response = httpx.get(
            f"{played.base}/v1/sites/{played.site['id']}/klaviyo",
            headers={"Authorization": f"Bearer {played.site['api_key']}"},
            timeout=2,
        )
    except httpx.TransportError:
        return False
    return response.status_code == 200 and response.json()["status"] == "active"


def visitors_counted(played: Played, experience_id: str) -> int:
    return sum(v["visitors"] for v in played.results(experience_id)["variations"])


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_demo_app(make_settings(tmp_path_factory.mktemp("traffic"), public_url=base), traffic=PLAN)
    with live_server(app, port=port, lifespan="on"):
        report: TrafficReport = app.state.demo_traffic
        wait_until(lambda: report.finished, timeout=90, what="the demo traffic to be played")
        found = Played(base, app.state.demo_site, report)
        # Exposures reach the store in batches (results_flush_interval_s): wait for the last one.
        wait_until(
            lambda: visitors_counted(found, DEMO_TEST) == report.visitors,
            timeout=15,
            what="the counted visitors to be written",
        )
        yield found


@pytest.fixture(scope="module")
def plan_says() -> Expected:
    return expected(PLAN)


def test_the_plan_is_deterministic_and_mixes_vips_anonymous_visitors_and_bots() -> None:
    first, again = list(PLAN.visits()), list(PLAN.visits())
    assert first == again and len(first) == PLAN.visitors
    assert {v.kind for v in first} == set(Kind)
    assert len({v.visitor_id for v in first}) == len(first)
    assert list(replace(PLAN, seed=PLAN.seed + 1).visits()) != first


def test_the_crawler_list_calls_the_bots_bots_and_the_browsers_visitors() -> None:
    check = BotCheck()
    assert all(check.is_bot(ua.encode()) for ua in BOT_USER_AGENTS)
    assert not any(check.is_bot(ua.encode()) for ua in BROWSER_USER_AGENTS)


def test_kx_demo_traffic_turns_it_off_or_sizes_it() -> None:
    assert traffic_from_environment({}) == TrafficPlan()
    assert traffic_from_environment({ENV: "1"}) == TrafficPlan()
    assert traffic_from_environment({ENV: "0"}) is None
    assert traffic_from_environment({ENV: "off"}) is None
    assert traffic_from_environment({ENV: "500"}) == replace(TrafficPlan(), visitors=500)
    for bad in ("lots", "-3", str(MAX_VISITORS + 1)):
        with pytest.raises(ValueError, match=ENV):
            traffic_from_environment({ENV: bad})


def test_the_traffic_sent_what_the_plan_says(played: Played, plan_says: Expected) -> None:
    report = played.report
    assert report.failed == 0 and report.duplicates == 0 and report.stopped is None
    assert report.visitors == plan_says.humans
    assert report.bots == plan_says.bots
    assert report.orders == plan_says.orders
    assert {k: (t.visitors, t.orders) for k, t in report.variations.items()} == {
        k: (g.visitors, g.orders) for k, g in plan_says.groups.items()
    }


def test_the_results_count_every_visitor_but_no_bot(played: Played, plan_says: Expected) -> None:
    results = played.results(DEMO_TEST)
    rows = {v["variation_id"]: v for v in results["variations"]}
    assert sum(v["visitors"] for v in rows.values()) == PLAN.visitors - plan_says.bots
    assert results["bots_excluded"] == plan_says.bots
    assert sum(v["orders"] for v in rows.values()) == plan_says.orders
    for variation, group in plan_says.groups.items():
        assert (rows[variation]["visitors"], rows[variation]["orders"]) == (group.visitors, group.orders)
        assert rows[variation]["converters"] == group.orders  # one order per buyer in the plan
        assert math.isclose(rows[variation]["revenue"], group.revenue, rel_tol=1e-9)


def test_the_treatment_wins_as_the_plan_predicts(played: Played, plan_says: Expected) -> None:
    results = played.results(DEMO_TEST)
    assert results["warnings"] == [] and results["srm"]["mismatch"] is False
    treatment = next(v for v in results["variations"] if v["variation_id"] == TREATMENT)
    predicted = next(v for v in expected_results(PLAN, plan_says).variations if v.variation_id == TREATMENT)
    assert predicted.chance_to_beat_control is not None and predicted.lift is not None
    assert math.isclose(treatment["chance_to_beat_control"], predicted.chance_to_beat_control, rel_tol=1e-9)
    assert treatment["chance_to_beat_control"] > 0.95
    lift = treatment["lift"]["revenue_per_visitor"]
    assert lift["value"] > 0 and lift["ci_low"] > 0
    assert treatment["lift"]["conversion_rate"]["value"] > 0
    # The lift is the VIPs': in the plan, VIPs buy more often with the treatment.
    vips = plan_says.vip_groups
    control = next(k for k in vips if k != TREATMENT)
    assert vips[TREATMENT].orders / vips[TREATMENT].visitors > vips[control].orders / vips[control].visitors


def test_the_vips_were_recognised_by_their_kx(played: Played, plan_says: Expected) -> None:
    """Only VIPs see the free-shipping personalization: its counts are the plan's VIPs."""
    wait_until(
        lambda: visitors_counted(played, "free-shipping") == plan_says.vips,
        timeout=15,
        what="every VIP to be counted in free-shipping",
    )
    rows = {v["variation_id"]: v for v in played.results("free-shipping")["variations"]}
    assert rows["banner"]["visitors"] == plan_says.vips
    assert rows["banner"]["orders"] == plan_says.vip_orders
    assert rows["no-banner"]["visitors"] == 0


def test_without_traffic_the_demo_results_are_empty(tmp_path_factory: pytest.TempPathFactory) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path_factory.mktemp("no-traffic"), public_url=base)
    app = create_demo_app(settings, traffic=traffic_from_environment({ENV: "0"}))
    with live_server(app, port=port, lifespan="on"):
        assert app.state.demo_traffic is None
        empty = Played(base, app.state.demo_site, TrafficReport())
        wait_until(lambda: connected(empty), timeout=30, what="the demo to be seeded and connected")
        results = empty.results(DEMO_TEST)
        assert [v["visitors"] for v in results["variations"]] == [0, 0]
        assert results["bots_excluded"] == 0 and "not_enough_data" in results["warnings"]

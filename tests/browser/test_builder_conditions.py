"""The targeting builder's conditions beyond Klaviyo segments, in real Chromium against
`kx-edge serve --demo` (Klaviyo connected, so segments have names): "VIP AND device mobile AND
country DE OR utm_campaign equals summer" built, saved, stored as exactly that tree, read in
words and shown again on reopening; the operators and choices it offers are the server's; an
invalid condition shows its error at the field and saves nothing; the exclusion group and the
personalization modes round-trip. Screenshots go to test-artifacts/builder-*.png.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from demo.setup import create_demo_app
from sandbox import demo_segment_id
from targeting.attributes import ATTRIBUTES
from targeting.channels import TrafficSource
from targeting.registry import Attribute, resolve
from targeting.visit import Device, VisitorKind
from tests.apps import make_settings
from tests.browser.live_server import live_server
from tests.waiting import free_port, wait_until

pytestmark = pytest.mark.browser

VIP = demo_segment_id("VIP")
SENTENCE = (
    "(Klaviyo segment equals VIP AND device is mobile AND country is Germany (DE))"
    " OR UTM campaign equals summer"
)
RULES = {
    "any": [
        {
            "all": [
                {"attribute": "klaviyo_segment", "operator": "equals", "value": VIP},
                {"attribute": "device", "operator": "equals", "value": "mobile"},
                {"attribute": "country", "operator": "equals", "value": "DE"},
            ]
        },
        {"all": [{"attribute": "utm_campaign", "operator": "equals", "value": "summer"}]},
    ]
}


class Demo:
    def __init__(self, base: str, site: dict[str, Any]) -> None:
        self.base = base
        self.site = site
        self.api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {site['api_key']}"})

    def path(self, rest: str) -> str:
        return f"/v1/sites/{self.site['id']}{rest}"

    def experience(self, experience_id: str) -> dict[str, Any]:
        response = self.api.get(self.path(f"/experiences/{experience_id}"))
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def experience_names(self) -> list[str]:
        response = self.api.get(self.path("/experiences"))
        assert response.status_code == 200, response.text
        return [e["name"] for e in response.json()["experiences"]]


def _connected(base: str, site: dict[str, str]) -> bool:
    request = urllib.request.Request(
        f"{base}/v1/sites/{site['id']}/klaviyo", headers={"Authorization": f"Bearer {site['api_key']}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(json.loads(response.read())["status"] == "active")
    except OSError:
        return False


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_demo_app(make_settings(tmp_path_factory.mktemp("builder"), public_url=base))
    with live_server(app, port=port, lifespan="on"):
        wait_until(lambda: _connected(base, app.state.demo_site), timeout=30, what="the demo to connect")
        found = Demo(base, app.state.demo_site)
        try:
            yield found
        finally:
            found.api.close()


def new_experience(page: Page, demo: Demo, name: str, *, sign_in: bool = True) -> None:
    if sign_in:
        page.goto(f"{demo.base}/admin/sign-in")
        page.get_by_label("Api key").fill(demo.site["api_key"])
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page).to_have_url(f"{demo.base}/admin/integrations")
    page.goto(f"{demo.base}/admin/experiences/new")
    page.get_by_label("Name", exact=True).fill(name)


def options(page: Page, selector: str) -> list[str]:
    values: list[str] = page.locator(f"{selector} option").evaluate_all(
        "(nodes) => nodes.map((n) => n.value)"
    )
    return values


def test_build_segment_device_country_or_utm_save_and_reopen(
    page: Page, page_errors: list[str], demo: Demo, artifacts_dir: Path
) -> None:
    new_experience(page, demo, "Mobile VIPs in Germany or the summer email")
    page.get_by_role("button", name="+ Add condition").click()
    expect(page.locator("#custom-g0-c0-segment")).to_be_focused()
    page.locator("#custom-g0-c0-segment").select_option(label="VIP")

    page.get_by_role("button", name="+AND Condition to group 1").click()
    page.locator("#custom-g0-c1-type").select_option("device")
    expect(page.locator("#custom-g0-c1-type")).to_be_focused()
    expect(page.get_by_label("Device type")).to_have_count(1)
    page.locator("#custom-g0-c1-value").select_option("mobile")

    page.get_by_role("button", name="+AND Condition to group 1").click()
    page.locator("#custom-g0-c2-type").select_option("country")
    page.locator("#custom-g0-c2-value").select_option(label="Germany (DE)")

    page.get_by_role("button", name="+OR Condition").click()
    page.locator("#custom-g1-c0-type").select_option("utm_campaign")
    page.locator("#custom-g1-c0-value").fill("summer")
    expect(page.locator("#custom-sentence")).to_have_text(SENTENCE)

    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-message")).to_contain_text("Created as a draft.")
    expect(page).to_have_url(re.compile(r"/admin/experiences/[^/]+$"))
    experience_id = page.url.rsplit("/", 1)[1]
    assert demo.experience(experience_id)["targeting"] == {"mode": "custom", "rules": RULES}

    page.reload()
    expect(page.locator("#custom-sentence")).to_have_text(SENTENCE)
    expect(page.locator("#custom-g0-c0-segment")).to_have_value(VIP)
    expect(page.locator("#custom-g0-c1-type")).to_have_value("device")
    expect(page.locator("#custom-g0-c1-operator")).to_have_value("equals")
    expect(page.locator("#custom-g0-c1-value")).to_have_value("mobile")
    expect(page.locator("#custom-g0-c2-type")).to_have_value("country")
    expect(page.locator("#custom-g0-c2-value")).to_have_value("DE")
    expect(page.locator("#custom-g1-c0-type")).to_have_value("utm_campaign")
    expect(page.locator("#custom-g1-c0-value")).to_have_value("summer")
    expect(page.locator("#custom-json")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "builder-conditions.png"), full_page=True)
    assert page_errors == []


def _server_attribute(kind: str) -> Attribute:
    name = {"segment": "klaviyo_segment", "query_param": "query_param:ref", "cookie": "cookie:consent"}
    found = resolve(ATTRIBUTES, name.get(kind, kind))
    assert isinstance(found, Attribute), found
    return found


def test_every_attribute_offers_exactly_the_servers_operators_and_choices(
    page: Page, page_errors: list[str], demo: Demo
) -> None:
    new_experience(page, demo, "Operators")
    page.get_by_role("button", name="+ Add condition").click()
    kinds = options(page, "#custom-g0-c0-type")
    attributes = {_server_attribute(kind).name.partition(":")[0] for kind in kinds}
    # Every attribute the server knows is offered (families by their prefix), and only those.
    assert attributes == {key.partition(":")[0] for key in ATTRIBUTES}
    choices = {
        "traffic_source": {str(s) for s in TrafficSource},
        "device": {str(d) for d in Device},
        "visitor": {str(v) for v in VisitorKind},
    }
    for kind in kinds:
        page.locator("#custom-g0-c0-type").select_option(kind)
        offered = options(page, "#custom-g0-c0-operator")
        assert sorted(offered) == sorted(_server_attribute(kind).operators), kind
        if kind in choices:
            assert set(options(page, "#custom-g0-c0-value")) - {""} == choices[kind], kind
        if kind == "country":
            codes = set(options(page, "#custom-g0-c0-value")) - {""}
            assert {"DE", "US", "GB", "FR", "JP"} <= codes
            assert len(codes) == 249 and all(re.fullmatch(r"[A-Z]{2}", code) for code in codes)
        if "exists" in offered:
            page.locator("#custom-g0-c0-operator").select_option("exists")
            expect(page.locator("#custom-g0-c0-value")).to_have_count(0)
    page.locator("#custom-g0-c0-type").select_option("cookie")
    page.get_by_label("Cookie name").fill("consent")
    page.locator("#custom-g0-c0-operator").select_option("exists")
    expect(page.locator("#custom-sentence")).to_have_text("cookie consent is present")
    assert page_errors == []


def test_an_invalid_condition_shows_its_error_at_the_field_and_saves_nothing(
    page: Page, page_errors: list[str], demo: Demo, artifacts_dir: Path
) -> None:
    name = "Partners by link parameter"
    new_experience(page, demo, name)
    page.get_by_role("button", name="+ Add condition").click()
    page.locator("#custom-g0-c0-type").select_option("query_param")
    page.locator("#custom-g0-c0-value").fill("partner-42")
    errors = page.locator("#errors")

    # No name: the builder says so before anything is sent.
    page.get_by_role("button", name="Save").click()
    expect(errors).to_contain_text("Targeting, group 1, condition 1: enter the parameter name")
    name_field = page.locator("#custom-g0-c0-name")
    expect(name_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-condition='0.0'] .field-error")).to_have_text("enter the parameter name")

    # A name the server refuses: its 422 lands on the same field.
    name_field.fill("utm campaign")
    page.get_by_role("button", name="Save").click()
    expect(errors).to_contain_text("a query parameter name must be 1-64 characters")
    expect(name_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-condition='0.0'] .field-error")).to_contain_text("a query parameter name")
    page.screenshot(path=str(artifacts_dir / "builder-invalid.png"), full_page=True)
    assert name not in demo.experience_names()
    expect(page).to_have_url(f"{demo.base}/admin/experiences/new")
    assert page_errors == []


def test_exclusion_group_and_personalization_modes_round_trip(
    page: Page, page_errors: list[str], demo: Demo
) -> None:
    new_experience(page, demo, "Homepage hero test")
    expect(page.locator("#personalization-options")).to_be_hidden()
    expect(page.get_by_label("Share of the group")).to_be_hidden()
    page.get_by_label("Exclusion group (optional)").fill("homepage")
    page.get_by_label("Share of the group").fill("3")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-message")).to_contain_text("Created as a draft.")
    stored = demo.experience(page.url.rsplit("/", 1)[1])
    assert (stored["exclusion_group"], stored["exclusion_weight"]) == ("homepage", 3)
    page.reload()
    expect(page.get_by_label("Exclusion group (optional)")).to_have_value("homepage")
    expect(page.get_by_label("Share of the group")).to_have_value("3")

    new_experience(page, demo, "Spring offer by link", sign_in=False)
    page.get_by_label("Type").select_option("personalization")
    expect(page.locator("#test-options")).to_be_hidden()
    page.get_by_label("How long it lasts").select_option("link")
    expect(page.get_by_label("Decide again every (days)")).to_be_hidden()
    page.get_by_label("Link parameter").fill("kx_offer")
    page.get_by_label("Link value").fill("spring")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-message")).to_contain_text("Created as a draft.")
    experience_id = page.url.rsplit("/", 1)[1]
    stored = demo.experience(experience_id)
    assert (stored["mode"], stored["link_param"], stored["link_value"]) == ("link", "kx_offer", "spring")
    assert "exclusion_group" not in stored

    page.reload()
    expect(page.get_by_label("How long it lasts")).to_have_value("link")
    expect(page.get_by_label("Link parameter")).to_have_value("kx_offer")
    page.get_by_label("How long it lasts").select_option("temporary")
    expect(page.get_by_label("Link parameter")).to_be_hidden()
    page.get_by_label("Decide again every (days)").fill("0")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Decide again every (days)")).to_have_attribute("aria-invalid", "true")
    assert demo.experience(experience_id)["mode"] == "link"
    page.get_by_label("Decide again every (days)").fill("7")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-message")).to_contain_text("Saved.")
    stored = demo.experience(experience_id)
    assert (stored["mode"], stored["evaluate_every_days"]) == ("temporary", 7)
    assert "link_param" not in stored
    assert page_errors == []

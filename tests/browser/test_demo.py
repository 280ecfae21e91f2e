"""`kx-edge serve --demo` in a real Chromium: the VIP, the cookied VIP and the anonymous visitor."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route

from demo.setup import create_demo_app
from tests.apps import make_settings
from tests.browser.live_server import live_server
from tests.waiting import free_port, wait_until

pytestmark = pytest.mark.browser


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
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path_factory.mktemp("demo"), public_url=base)
    app = create_demo_app(settings)
    with live_server(app, port=port, lifespan="on"):
        wait_until(
            lambda: _connected(base, app.state.demo_site), timeout=30, what="the demo to connect Klaviyo"
        )
        yield base


FINAL = "() => window.kxEdge && window.kxEdge.decisions.length > 0 && window.kxEdge.identity !== 'pending'"


def _visit(page: Page, demo: str, who: str) -> None:
    """Open a visit link and wait for the final answer: on a loaded machine the first one may be
    `pending` (the page shows its default), and the snippet's retry brings the decision."""
    page.goto(f"{demo}/demo/visit/{who}")
    page.wait_for_function(FINAL)


def test_a_vip_from_a_klaviyo_email_sees_free_shipping(page: Page, demo: str, artifacts_dir: Path) -> None:
    _visit(page, demo, "vip")
    assert "_kx=" in page.url
    assert page.get_attribute("html", "data-kx-free-shipping") == "banner"
    assert page.is_visible("#free-shipping-banner")
    assert page.text_content("#identity") == "identified"
    page.screenshot(path=str(artifacts_dir / "demo-vip.png"), full_page=True)


def test_an_anonymous_visitor_sees_the_control(page: Page, demo: str, artifacts_dir: Path) -> None:
    _visit(page, demo, "anonymous")
    assert page.get_attribute("html", "data-kx-free-shipping") == "no-banner"
    assert not page.is_visible("#free-shipping-banner")
    assert page.text_content("#identity") == "unidentified"
    page.screenshot(path=str(artifacts_dir / "demo-anonymous.png"), full_page=True)


def test_a_vip_cookied_by_klaviyo_is_recognised_without_an_email_click(page: Page, demo: str) -> None:
    _visit(page, demo, "cookied-vip")
    assert "_kx" not in page.url
    assert page.get_attribute("html", "data-kx-free-shipping") == "banner"
    assert page.is_visible("#free-shipping-banner")


def test_wholesale_and_lapsed_wholesale_get_different_pricing(
    page: Page, demo: str, artifacts_dir: Path
) -> None:
    _visit(page, demo, "wholesale")
    assert page.get_attribute("html", "data-kx-wholesale-pricing") == "bulk-pricing"
    assert page.is_visible("#bulk-price") and not page.is_visible("#list-price")
    page.screenshot(path=str(artifacts_dir / "demo-wholesale.png"), full_page=True)
    _visit(page, demo, "lapsed-wholesale")  # Wholesale AND NOT Lapsed: not this one
    assert page.get_attribute("html", "data-kx-wholesale-pricing") is None
    assert page.is_visible("#list-price") and not page.is_visible("#bulk-price")


def test_the_page_changes_come_from_the_variations_alone(page: Page, demo: str) -> None:
    page_html = urllib.request.urlopen(f"{demo}/", timeout=5).read().decode()
    for word in ("free-shipping", "wholesale-pricing", "hero-copy", "Gear that goes further", "bulk-price"):
        assert word not in page_html  # nothing on the page knows an experience
    _visit(page, demo, "vip")
    headline = {"further": "Gear that goes further", "outdoors": "Built for the outdoors"}
    assert page.text_content("#hero") == headline[page.get_attribute("html", "data-kx-hero-copy") or ""]
    assert page.evaluate("() => window.kxEdge.get('free-shipping').payload") == {"free_shipping": True}
    _visit(page, demo, "wholesale")
    assert page.evaluate("() => window.kxEdge.get('wholesale-pricing').payload")["tiers"][1] == [10, 159]
    assert page.text_content("#bulk-price td:nth-child(2)") == "$189.00"


def test_the_decision_sticks_across_page_views(page: Page, demo: str) -> None:
    _visit(page, demo, "vip")
    first = page.get_attribute("html", "data-kx-hero-copy")
    visitor = page.evaluate("() => window.kxEdge.visitorId")
    page.goto(f"{demo}/")
    page.wait_for_function(FINAL)
    assert page.evaluate("() => window.kxEdge.visitorId") == visitor
    assert page.get_attribute("html", "data-kx-hero-copy") == first
    assert page.get_attribute("html", "data-kx-free-shipping") == "banner"  # _kx remembered


def test_a_server_error_leaves_the_page_usable(
    page: Page, page_errors: list[str], demo: str, artifacts_dir: Path
) -> None:
    def fail(route: Route) -> None:
        route.fulfill(
            status=500, content_type="application/json", body='{"error": {"code": "internal_error"}}'
        )

    page.route("**/v1/assign**", fail)
    page.goto(f"{demo}/demo/visit/vip")
    page.wait_for_function("() => window.kxEdge && window.kxEdge.ready")
    page.evaluate("() => window.kxEdge.ready")
    page.wait_for_function("() => getComputedStyle(document.documentElement).opacity === '1'")
    assert page.get_attribute("html", "data-kx-free-shipping") is None
    assert not page.is_visible("#free-shipping-banner")
    assert page.is_visible("#list-price")
    assert page.is_visible("#hero")
    assert page_errors == []
    page.screenshot(path=str(artifacts_dir / "demo-server-error.png"), full_page=True)

"""The merchant page on a phone (390 px wide, in real Chromium): no page scrolls sideways, and the
experience list answers "what is running and how is it doing" as cards; plus the favicon."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from edge.app import create_app
from tests.apps import make_settings
from tests.browser.live_server import live_server
from tests.targeting.factories import doc

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
PAGES = ("/admin/integrations", "/admin/experiences", "/admin/experiences/new", "/admin/preview")


@dataclass(frozen=True)
class World:
    base: str
    site: dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = make_settings(tmp_path_factory.mktemp("phone"))
    with live_server(create_app(settings), lifespan="on") as port:
        base = f"http://127.0.0.1:{port}"
        operator = {"Authorization": f"Bearer {settings.operator_token}"}
        site = httpx.post(
            f"{base}/v1/sites",
            json={"name": "Sandbox Outfitters with a rather long shop name", "allowed_origins": [base]},
            headers=operator,
        ).json()
        auth = {"Authorization": f"Bearer {site['api_key']}"}
        for body in (
            doc("free-shipping-for-our-most-loyal-vip-customers", type="personalization", status="live"),
            doc("hero-copy", status="draft", name="Hero copy: a headline test with a long, long name"),
            doc("wholesale-pricing", status="live", traffic_percent=50),
        ):
            created = httpx.post(f"{base}/v1/sites/{site['id']}/experiences", json=body, headers=auth)
            assert created.status_code == 201, created.text
        yield World(base, site)


@pytest.fixture
def phone(browser: Browser, world: World) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{world.base}/admin/sign-in")
    page.get_by_label("Api key").fill(world.site["api_key"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{world.base}/admin/integrations")
    try:
        yield page
    finally:
        context.close()


def _overflow(page: Page) -> list[str]:
    """The page's width beyond the viewport, and the elements that stick out past its right edge."""
    return list(
        page.evaluate(
            """() => {
              const width = document.documentElement.clientWidth;
              const out = [];
              if (document.documentElement.scrollWidth > width) out.push(`page ${document.documentElement.scrollWidth}px`);
              // An element inside a box that scrolls (or clips) sideways is that box's business.
              const clipped = (el) => {
                for (let up = el.parentElement; up && up !== document.body; up = up.parentElement)
                  if (getComputedStyle(up).overflowX !== "visible") return true;
                return false;
              };
              for (const el of document.querySelectorAll("body *")) {
                const box = el.getBoundingClientRect();
                if (box.width && box.right > width + 1 && getComputedStyle(el).position !== "absolute" && !clipped(el))
                  out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} right=${Math.round(box.right)}`);
              }
              return out.slice(0, 10);
            }"""
        )
    )


@pytest.mark.parametrize("path", PAGES)
def test_no_merchant_page_scrolls_sideways_on_a_phone(
    phone: Page, world: World, path: str, artifacts_dir: Path
) -> None:
    phone.goto(world.base + path)
    phone.wait_for_load_state("networkidle")
    name = path.strip("/").replace("/", "-")
    phone.screenshot(path=str(artifacts_dir / f"phone-{name}.png"), full_page=True)
    problems = _overflow(phone)
    assert problems == [], "\n".join(problems)


def test_the_sign_in_page_fits_a_phone(browser: Browser, world: World) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(f"{world.base}/admin/sign-in")
        assert _overflow(page) == []
    finally:
        context.close()


def test_the_experience_list_says_what_runs_and_how_it_is_doing(
    phone: Page, world: World, artifacts_dir: Path
) -> None:
    phone.goto(f"{world.base}/admin/experiences")
    row = phone.locator('[data-experience-id="wholesale-pricing"]')
    expect(row.locator('[data-column="status"]')).to_have_text("Live")
    expect(row.locator('[data-column="type"]')).to_have_text("Test")
    expect(row.locator('[data-column="updated"]')).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2}"))
    expect(row.locator('[data-column="traffic"]')).to_have_text("50%")
    expect(row.locator('[data-column="visitors"]')).to_have_text("0")  # nobody has entered yet
    expect(row.locator('[data-column="running_since"]')).to_have_text("—")
    live_first = phone.locator("[data-experience-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.experienceId)"
    )
    assert live_first[-1] == "hero-copy"  # what runs comes first
    phone.screenshot(path=str(artifacts_dir / "phone-experience-list.png"), full_page=True)


def test_every_page_has_a_favicon(page: Page, world: World) -> None:
    for path in ("/admin/sign-in", "/docs"):
        page.goto(world.base + path)
        href = page.locator('link[rel="icon"]').get_attribute("href")
        assert href is not None
        icon = httpx.get(world.base + href)
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")

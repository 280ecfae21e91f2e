"""The merchant page edits what variations do, previews them on the store, and copies, starts and
deletes experiences, in real Chromium against `kx-edge serve --demo` (whose store is on the same
origin, so the live preview frames it)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from demo.setup import create_demo_app
from tests.apps import make_settings
from tests.browser.live_server import live_server
from tests.waiting import free_port, wait_until

pytestmark = pytest.mark.browser


class Demo:
    def __init__(self, base: str, site: dict[str, Any]) -> None:
        self.base = base
        self.site = site
        self.api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {site['api_key']}"})

    def experience(self, experience_id: str) -> httpx.Response:
        return self.api.get(f"/v1/sites/{self.site['id']}/experiences/{experience_id}")


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
    app = create_demo_app(make_settings(tmp_path_factory.mktemp("admin-changes"), public_url=base))
    with live_server(app, port=port, lifespan="on"):
        wait_until(lambda: _connected(base, app.state.demo_site), timeout=30, what="the demo to connect")
        found = Demo(base, app.state.demo_site)
        try:
            yield found
        finally:
            found.api.close()


def sign_in(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.base}/admin/sign-in")
    page.get_by_label("Api key").fill(demo.site["api_key"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{demo.base}/admin/integrations")


def test_edit_a_variations_changes_and_preview_it_on_the_store(
    page: Page, demo: Demo, page_errors: list[str], artifacts_dir: Path
) -> None:
    sign_in(page, demo)
    page.goto(f"{demo.base}/admin/experiences/hero-copy")
    variant = page.locator("details.changes[data-variation='1']")
    variant.locator("summary").click()
    expect(page.locator("#variation-1-changes-dom-0-selector")).to_have_value("#hero")
    page.locator("#variation-1-changes-dom-0-value").fill("Gear that goes even further")
    page.locator("#variation-1-changes-css").fill("#hero { color: rgb(20, 83, 45) }")
    page.locator("#variation-1-changes-payload").fill('{"headline": 2}')
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-message")).to_contain_text("Saved.")
    stored = demo.experience("hero-copy").json()["variations"][1]["changes"]
    assert stored == {
        "css": "#hero { color: rgb(20, 83, 45) }",
        "dom": [{"selector": "#hero", "action": "set_text", "value": "Gear that goes even further"}],
        "payload": {"headline": 2},
    }

    # The live preview: the demo store in a frame, forced to this variation.
    link = page.locator("[data-preview-link='further']")
    expect(link).to_have_attribute(
        "href", re.compile(re.escape(demo.base) + r"/\?kx_preview=hero-copy:further~\d+~[\w-]+$")
    )
    page.get_by_role("button", name="Show Gear that goes further").click()
    store = page.frame_locator("#preview-frame")
    expect(store.locator("#hero")).to_have_text("Gear that goes even further")
    expect(store.locator("[data-kx-preview]")).to_contain_text("hero-copy: further")
    page.screenshot(path=str(artifacts_dir / "admin-changes-preview.png"), full_page=True)

    # A selector the browser cannot use is refused, next to its field.
    page.get_by_role("button", name="Add a change").first.click()
    page.locator("#variation-1-changes-dom-1-selector").fill("div[")
    page.locator("#variation-1-changes-dom-1-value").fill("x")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#errors")).to_contain_text(
        "Variation 2, change 2 selector: is not a valid CSS selector"
    )
    expect(page.locator("#variation-1-changes-dom-1-selector")).to_have_attribute("aria-invalid", "true")
    page.locator("#variation-1-changes-payload").fill("{not json")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#errors")).to_contain_text("Variation 2, payload: must be JSON")
    assert page_errors == []


def test_duplicate_start_after_confirmation_pause_and_delete(
    page: Page, demo: Demo, page_errors: list[str]
) -> None:
    sign_in(page, demo)
    page.goto(f"{demo.base}/admin/experiences/wholesale-pricing")
    page.get_by_role("button", name="Duplicate").click()
    expect(page).to_have_url(
        f"{demo.base}/admin/experiences/copy-of-bulk-pricing-for-active-wholesale-buyers?copied=1"
    )
    expect(page.locator("#save-message")).to_contain_text("Copied as a new draft")
    copy_id = "copy-of-bulk-pricing-for-active-wholesale-buyers"
    copied = demo.experience(copy_id).json()
    original = demo.experience("wholesale-pricing").json()
    assert copied["status"] == "draft" and copied["variations"] == original["variations"]

    page.get_by_role("button", name="Start").click()
    expect(page.locator("#start-confirm")).to_be_visible()
    page.get_by_role("button", name="Cancel").first.click()
    expect(page.locator("#start-confirm")).to_be_hidden()
    assert demo.experience(copy_id).json()["status"] == "draft"  # nothing started without a yes
    page.get_by_role("button", name="Start").click()
    page.get_by_role("button", name="Yes, start").click()
    expect(page.locator("#save-message")).to_contain_text("Started")
    assert demo.experience(copy_id).json()["status"] == "live"
    expect(page.get_by_role("button", name="Delete")).to_be_hidden()  # not while live

    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#status-badge")).to_have_text("Paused")
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page).to_have_url(f"{demo.base}/admin/experiences?deleted=1")
    assert demo.experience(copy_id).status_code == 404
    assert page_errors == []


def test_integrations_shows_the_snippet_tag_to_copy(
    context: BrowserContext, page: Page, demo: Demo, page_errors: list[str]
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.base)
    sign_in(page, demo)
    tag = page.locator("#snippet-tag")
    expected = f'<script src="{demo.base}/v1/snippet.js?site={demo.site["public_key"]}"></script>'
    expect(tag).to_have_text(expected)
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#snippet-message")).to_contain_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == expected
    assert page_errors == []

"""The merchant page's "Rotate key" in a real Chromium: confirmed, the new key shown once with a
Copy button and the grace period; the old key still opens the API within the grace, the rotating
session stays signed in and another session of the site is signed out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from edge.app import create_app
from tests.apps import make_settings
from tests.browser.live_server import live_server

pytestmark = pytest.mark.browser

GRACE_S = 2 * 3600


@dataclass(frozen=True)
class World:
    base: str
    site: dict[str, Any]

    def status(self, key: str) -> int:
        url = f"{self.base}/v1/sites/{self.site['id']}"
        return httpx.get(url, headers={"Authorization": f"Bearer {key}"}).status_code


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = make_settings(tmp_path_factory.mktemp("api-key"), key_rotation_grace_s=GRACE_S)
    with live_server(create_app(settings), lifespan="on") as port:
        base = f"http://127.0.0.1:{port}"
        site = httpx.post(
            f"{base}/v1/sites",
            json={"name": "Sandbox Outfitters", "allowed_origins": [base]},
            headers={"Authorization": f"Bearer {settings.operator_token}"},
        ).json()
        yield World(base, site)


def _sign_in(page: Page, world: World) -> None:
    page.goto(f"{world.base}/admin/sign-in")
    page.get_by_label("Api key").fill(world.site["api_key"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{world.base}/admin/integrations")
    page.wait_for_load_state()  # the page's scripts have run: its buttons answer clicks


def test_rotate_key_shows_the_new_key_once_with_copy_and_the_grace(
    page: Page, context: BrowserContext, browser: Browser, page_errors: list[str], world: World
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=world.base)
    other = browser.new_context()
    try:
        other_page = other.new_page()
        _sign_in(other_page, world)  # a second session of the same site, e.g. a colleague's
        _sign_in(page, world)

        card = page.locator("#api-key-card")
        expect(page.locator("#api-key-new")).to_be_hidden()
        card.get_by_role("button", name="Rotate key").click()
        expect(page.locator("#api-key-confirm")).to_be_visible()
        card.get_by_role("button", name="Cancel").click()
        expect(page.locator("#api-key-confirm")).to_be_hidden()
        assert world.status(world.site["api_key"]) == 200
        card.get_by_role("button", name="Rotate key").click()
        card.get_by_role("button", name="Yes, rotate").click()

        key = page.locator("#api-key-value")
        expect(key).to_have_text(re.compile(r"^sk_[A-Za-z0-9_-]{40,}$"))
        new_key = key.text_content()
        assert new_key is not None and new_key != world.site["api_key"]
        expect(page.locator("#api-key-grace")).to_contain_text("keeps working for 2 hours")
        card.get_by_role("button", name="Copy").click()
        expect(page.locator("#api-key-message")).to_contain_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == new_key

        assert world.status(new_key) == 200
        assert world.status(world.site["api_key"]) == 200  # within the grace period

        page.reload()  # shown once: gone after a reload, and this session is still signed in
        expect(page).to_have_url(f"{world.base}/admin/integrations")
        expect(page.locator("#api-key-new")).to_be_hidden()
        other_page.reload()  # the other session ended with the rotation
        expect(other_page).to_have_url(re.compile(r"/admin/sign-in"))
        assert page_errors == []
    finally:
        other.close()

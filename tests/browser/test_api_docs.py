"""`/docs` in real Chromium with no network beyond this machine: Swagger UI, served by kx-edge
itself, renders every operation of `/openapi.json` with its examples, and asks no other host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Route, expect

from edge.app import create_app
from edge.config_api.openapi import OPERATIONS
from tests.apps import make_settings
from tests.browser.live_server import live_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = make_settings(tmp_path_factory.mktemp("docs"))
    with live_server(create_app(settings), lifespan="on") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def offline(context: BrowserContext) -> list[str]:
    """Every request to a host other than this machine is refused; the list says which were tried."""
    refused: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_local)
    return refused


def test_the_api_reference_renders_every_operation_with_no_network(
    page: Page, base: str, offline: list[str], page_errors: list[str], artifacts_dir: Path
) -> None:
    console: list[ConsoleMessage] = []
    page.on("console", lambda message: console.append(message))
    page.goto(f"{base}/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock")).to_have_count(len(OPERATIONS))
    expect(page.locator(".info .title")).to_contain_text("kx-edge")
    expect(page.locator(".servers")).to_contain_text("http://testserver")  # the settings' public_url

    operation = page.locator("#operations-sites-createSite")
    operation.locator(".opblock-summary").click()
    example = operation.locator(".body-param__example, .highlight-code").first
    expect(example).to_contain_text("Sandbox Outfitters")
    expect(operation.locator(".responses-table")).to_contain_text("sk_")  # the answer's example
    page.screenshot(path=str(artifacts_dir / "api-docs.png"), full_page=False)

    assert offline == []  # nothing asked of a CDN, a validator or any other host
    assert page_errors == []
    problems = [m.text for m in console if m.type == "error"]
    assert problems == []  # no Content-Security-Policy violation, no failed asset


def test_the_api_reference_links_back_and_shows_health(page: Page, base: str, offline: list[str]) -> None:
    page.goto(f"{base}/docs#/meta/readyz")
    expect(page.locator("#operations-meta-readyz")).to_be_visible()
    expect(page.get_by_role("banner").get_by_role("link", name="/openapi.json")).to_have_attribute(
        "href", "/openapi.json"
    )
    assert offline == []

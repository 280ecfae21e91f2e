"""A shop page on an origin its site does not allow: the snippet says why in the console, once,
and the access log names the code (real kx-edge, real Chromium, two origins)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from edge.app import create_app
from tests.apps import make_settings
from tests.browser.live_server import live_server

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class World:
    api: str  # kx-edge
    shop: str  # the shop's page, on another origin
    site: dict[str, Any]
    operator_token: str


def _shop_page(api: str, public_key: str) -> Starlette:
    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(
            f'<!doctype html><title>Shop</title><script src="{api}/v1/snippet.js?site={public_key}"></script>'
            "<p>Shop</p>"
        )

    return Starlette(routes=[Route("/", home)])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = make_settings(tmp_path_factory.mktemp("cors"), access_log=True, assign_access_log="every")
    assert settings.operator_token is not None
    with live_server(create_app(settings), lifespan="on") as api_port:
        api = f"http://127.0.0.1:{api_port}"
        created = httpx.post(
            f"{api}/v1/sites",
            json={"name": "Shop", "allowed_origins": ["https://shop.example.com"]},
            headers={"Authorization": f"Bearer {settings.operator_token}"},
        )
        assert created.status_code == 201, created.text
        site = created.json()
        with live_server(_shop_page(api, site["public_key"])) as shop_port:
            yield World(api, f"http://127.0.0.1:{shop_port}", site, settings.operator_token)


def _allow(world: World, origins: list[str]) -> None:
    response = httpx.patch(
        f"{world.api}/v1/sites/{world.site['id']}",
        json={"allowed_origins": origins},
        headers={"Authorization": f"Bearer {world.site['api_key']}"},
    )
    assert response.status_code == 200, response.text


def _open(page: Page, world: World) -> list[ConsoleMessage]:
    seen: list[ConsoleMessage] = []
    page.on("console", lambda message: seen.append(message))
    page.goto(world.shop)
    page.wait_for_function("() => window.kxEdge && window.kxEdge.ready")
    page.evaluate("() => window.kxEdge.ready")
    return seen


def test_a_page_on_a_refused_origin_gets_one_console_warning_naming_the_origin_and_setting(
    page: Page, world: World, caplog: pytest.LogCaptureFixture, artifacts_dir: Path
) -> None:
    _allow(world, ["https://shop.example.com"])
    with caplog.at_level(logging.INFO, logger="kx_edge.access"):
        seen = _open(page, world)
        page.evaluate("() => window.kxEdge.refresh()")  # a second refused call: still one warning
    warnings = [m.text for m in seen if m.type == "warning" and m.text.startswith("kx-edge")]
    assert len(warnings) == 1, [m.text for m in seen]
    assert f"Origin {world.shop} is not in this site's allowed_origins" in warnings[0]
    assert "origin_not_allowed" in warnings[0]
    assert world.site["public_key"] in warnings[0]
    assert page.evaluate("() => window.kxEdge.decisions") == []  # failed open: the page is as it was
    lines = [r.getMessage() for r in caplog.records if r.name == "kx_edge.access"]
    assert "POST /v1/assign 403 origin_not_allowed" in lines
    page.screenshot(path=str(artifacts_dir / "cors-warning.png"))


def test_once_the_origin_is_allowed_the_page_gets_decisions_and_no_warning(page: Page, world: World) -> None:
    _allow(world, ["https://shop.example.com", world.shop])
    try:
        seen = _open(page, world)
        assert not [m for m in seen if m.type == "warning"], [m.text for m in seen]
        assert page.evaluate("() => window.kxEdge.visitorId")
    finally:
        _allow(world, ["https://shop.example.com"])

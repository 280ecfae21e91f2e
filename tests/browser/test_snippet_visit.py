"""The snippet's visit collection in real Chromium: it sends only what the site's needs name, and
keeps the landing page, referrer, UTMs and new/returning for the session, link parameters
across sessions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge.storefront.snippet import MEDIA_TYPE, site_snippet
from targeting import VisitNeeds
from tests.browser.live_server import live_server
from tests.browser.stub_storefront import SITE_KEY, AssignStub, Storefront, assignment

pytestmark = pytest.mark.browser

NEEDS = VisitNeeds(
    url=True,
    landing_url=True,
    referrer=True,
    utm=True,
    visitor=True,
    query_params=frozenset({"kx_offer"}),
    cookies=frozenset({"consent", "ab.test"}),
    links=frozenset({"kx_offer"}),
)


class Servers:
    def __init__(self, stub: AssignStub, page_origin: str, api_origin: str) -> None:
        self.stub, self.page_origin, self.api_origin = stub, page_origin, api_origin
        self.needs = NEEDS


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    stub = AssignStub()
    storefront = Storefront()
    holder: dict[str, Servers] = {}

    async def snippet(request: Request) -> Response:
        return Response(site_snippet({}, holder["servers"].needs).body, media_type=MEDIA_TYPE)

    api = stub.app()
    api.router.routes.insert(0, Route("/v1/snippet.js", snippet))
    with live_server(api) as api_port, live_server(storefront.app()) as shop_port:
        stub.allowed_origin = f"http://localhost:{shop_port}"
        holder["servers"] = Servers(stub, stub.allowed_origin, f"http://127.0.0.1:{api_port}")
        storefront.configure(f"http://127.0.0.1:{api_port}/v1/snippet.js?site={SITE_KEY}")
        yield holder["servers"]


def last_body(servers: Servers, page: Page) -> dict[str, Any]:
    page.wait_for_function("() => !!(window.kxEdge && window.kxEdge.ready)")
    page.evaluate("() => window.kxEdge.ready")
    body: dict[str, Any] = servers.stub.assigns()[-1].json()
    return body


def test_the_session_is_kept_and_sent(servers: Servers, page: Page, context: BrowserContext) -> None:
    servers.needs = NEEDS
    servers.stub.reset(assignment(visitor_id="v_server_1"))
    context.add_cookies(
        [
            {"name": "consent", "value": "yes", "url": servers.page_origin},
            {"name": "ab.test", "value": "x y", "url": servers.page_origin},
            {"name": "other", "value": "secret", "url": servers.page_origin},
        ]
    )
    landing = servers.page_origin + "/pages/summer?utm_campaign=summer-sale&utm_source=Email&kx_offer=spring"
    page.goto(landing, referer="https://www.facebook.com/")
    first = last_body(servers, page)
    assert first["landing_url"] == landing and first["url"] == landing
    assert first["referrer"] == "https://www.facebook.com/"
    assert first["utm"] == {"utm_campaign": "summer-sale", "utm_source": "Email"}
    assert first["visitor"] == "new"
    assert first["cookies"] == {"consent": "yes", "ab.test": "x y"}  # only the named ones
    assert first["links"] == {"kx_offer": "spring"}

    page.goto(servers.page_origin + "/products/tee")
    second = last_body(servers, page)
    assert second["url"].endswith("/products/tee")
    assert second["landing_url"] == landing and second["referrer"] == "https://www.facebook.com/"
    assert second["utm"] == first["utm"]  # kept for the session
    assert second["visitor"] == "new"  # the session began without a visitor id
    assert second["links"] == {"kx_offer": "spring"}

    # A new session (sessionStorage cleared) with the visitor id cookie: returning; the link stays.
    page.evaluate("() => sessionStorage.clear()")
    page.goto(servers.page_origin + "/")
    third = last_body(servers, page)
    assert third["visitor"] == "returning" and third["referrer"] == ""
    assert "utm" not in third and third["links"] == {"kx_offer": "spring"}


def test_a_site_without_visit_needs_sends_nothing_more(servers: Servers, page: Page) -> None:
    servers.needs = VisitNeeds()
    servers.stub.reset(assignment())
    page.goto(
        servers.page_origin + "/pages/summer?utm_campaign=summer-sale", referer="https://www.facebook.com/"
    )
    body = last_body(servers, page)
    assert set(body) <= {"url", "kx", "visitor_id", "sticky"}

"""The storefront snippet in real headless Chromium, against a scripted `/v1/assign` stand-in.

The page lives on http://localhost:PORT and the API on http://127.0.0.1:PORT2, so every request
the snippet makes is a real cross-origin request with real CORS rules.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from playwright.sync_api import BrowserContext, Page, Route

from edge.storefront.snippet import load_snippet
from tests.browser.live_server import live_server
from tests.browser.stub_storefront import (
    PAGE,
    SITE_KEY,
    Answer,
    AssignStub,
    Storefront,
    assignment,
    experience,
)
from tests.waiting import free_port

pytestmark = pytest.mark.browser

YEAR = 31_536_000
VIP = experience("free-shipping", "banner")


@dataclass
class Shop:
    stub: AssignStub
    storefront: Storefront
    page_origin: str
    api_origin: str

    def url(self, path: str = "/") -> str:
        return self.page_origin + path


@pytest.fixture(scope="module")
def servers() -> Iterator[Shop]:
    stub = AssignStub()
    storefront = Storefront()
    with live_server(stub.app()) as api_port, live_server(storefront.app()) as shop_port:
        stub.allowed_origin = f"http://localhost:{shop_port}"
        yield Shop(stub, storefront, stub.allowed_origin, f"http://127.0.0.1:{api_port}")


@pytest.fixture
def shop(servers: Shop) -> Shop:
    servers.stub.reset(assignment(VIP))
    servers.storefront.configure(f"{servers.api_origin}/v1/snippet.js?site={SITE_KEY}")
    return servers


def ready(page: Page) -> Any:
    """Wait for the snippet to load and for `kxEdge.ready`; return what it resolved with."""
    page.wait_for_function("() => !!(window.kxEdge && window.kxEdge.ready)")
    return page.evaluate("() => window.kxEdge.ready")


def events(page: Page, count: int) -> list[dict[str, Any]]:
    """The `kxedge:decided` details, once at least `count` have fired."""
    page.wait_for_function("n => window.__events.length >= n", arg=count)
    return list(page.evaluate("() => window.__events"))


def html_state(page: Page) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
                const root = document.documentElement;
                return {
                    classes: [...root.classList].filter((c) => c.startsWith("kx-")).sort(),
                    attrs: Object.fromEntries([...root.attributes]
                        .filter((a) => a.name.startsWith("data-kx-"))
                        .map((a) => [a.name, a.value])),
                };
            }"""
        )
    )


def cookies(context: BrowserContext, origin: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: dict(c) for c in context.cookies(origin)}


def kla_id(payload: object) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def assert_control_shown(page: Page) -> None:
    assert page.locator("#control").is_visible()
    assert not page.locator("#variant").is_visible()
    assert html_state(page) == {"classes": [], "attrs": {}}


# --- the request ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "kx"),
    [
        ("_kx=ABC+def==.xyz", "ABC+def==.xyz"),
        ("_kx=ABCDEFGHIJKLMNOP%3D%3D.UHFmv9", "ABCDEFGHIJKLMNOP==.UHFmv9"),
        ("utm_source=email&_kx=Ab%2Bc%2Fd%3D%3D.Q9&utm_medium=x", "Ab+c/d==.Q9"),
        ("_kx=Zm9v/YmFy+Yg==.a_b-c&x=1", "Zm9v/YmFy+Yg==.a_b-c"),
    ],
    ids=["raw-plus", "percent-encoded", "among-utm", "slash-plus-equals"],
)
def test_sends_one_simple_request_with_the_kx_from_the_url_intact(
    shop: Shop, page: Page, page_errors: list[str], query: str, kx: str
) -> None:
    page.goto(shop.url(f"/products/tee?{query}"))
    ready(page)

    (request,) = shop.stub.requests  # one round trip, and no OPTIONS preflight before it
    assert request.method == "POST"
    assert request.path == "/v1/assign"
    assert request.query == f"site={SITE_KEY}"
    assert request.headers["content-type"] == "text/plain;charset=UTF-8"
    assert request.headers["origin"] == shop.page_origin
    assert "cookie" not in request.headers
    assert request.json() == {"kx": kx, "url": page.url}
    assert page.url.endswith(query)
    assert page_errors == []


def test_a_first_anonymous_visit_sends_only_the_url(shop: Shop, page: Page) -> None:
    page.goto(shop.url("/"))
    ready(page)
    assert [r.json() for r in shop.stub.requests] == [{"url": shop.url("/")}]


@pytest.mark.parametrize(
    "encode",
    [
        lambda raw: base64.b64encode(raw).decode(),
        lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("="),
        lambda raw: quote(base64.b64encode(raw).decode(), safe=""),
    ],
    ids=["standard", "url-safe-unpadded", "percent-encoded"],
)
def test_reads_the_exchange_id_from_klaviyos_cookie(
    shop: Shop, context: BrowserContext, page: Page, page_errors: list[str], encode: Any
) -> None:
    # Long enough that every encoding variant has padding or +/ to get wrong.
    payload = {"$exchange_id": "EXCH4ngeID+/ab==.Q1x", "$referrer": {"ts": 1700000000}, "x": "?>"}
    value = encode(json.dumps(payload).encode())
    context.add_cookies([{"name": "__kla_id", "value": value, "url": shop.page_origin}])
    page.goto(shop.url("/"))
    ready(page)
    assert shop.stub.assigns()[0].json()["kx"] == "EXCH4ngeID+/ab==.Q1x"
    assert page_errors == []


@pytest.mark.parametrize(
    "value",
    [
        "%%%not-base64",
        base64.b64encode(b"not json").decode(),
        kla_id({"cid": "abc"}),
        kla_id({"$exchange_id": 42}),
        kla_id({"$exchange_id": "<script>alert(1)</script>"}),
        base64.b64encode(b"x")[:1].decode(),
    ],
    ids=["not-base64", "not-json", "no-exchange-id", "not-a-string", "bad-charset", "truncated"],
)
def test_ignores_a_garbled_klaviyo_cookie(
    shop: Shop, context: BrowserContext, page: Page, page_errors: list[str], value: str
) -> None:
    context.add_cookies([{"name": "__kla_id", "value": value, "url": shop.page_origin}])
    page.goto(shop.url("/"))
    ready(page)
    assert "kx" not in shop.stub.assigns()[0].json()
    assert page_errors == []


def test_the_url_beats_the_klaviyo_cookie(shop: Shop, context: BrowserContext, page: Page) -> None:
    cookie = kla_id({"$exchange_id": "FROMcookie==.c"})
    context.add_cookies([{"name": "__kla_id", "value": cookie, "url": shop.page_origin}])
    page.goto(shop.url("/?_kx=FROMurl%3D%3D.u"))
    ready(page)
    assert shop.stub.assigns()[0].json()["kx"] == "FROMurl==.u"


def test_data_api_points_the_snippet_at_another_origin(shop: Shop, page: Page) -> None:
    shop.storefront.configure(f"/v1/snippet.js?site={SITE_KEY}", data_api=shop.api_origin + "/")
    page.goto(shop.url("/"))
    assert ready(page)[0]["id"] == "free-shipping"
    assert len(shop.stub.assigns()) == 1


# --- cookies -------------------------------------------------------------------------------


def test_keeps_visitor_sticky_and_kx_in_first_party_cookies(
    shop: Shop, context: BrowserContext, page: Page
) -> None:
    sticky = "eyJ2IjoxfQ==.sig/+_-"
    shop.stub.reset(assignment(VIP, visitor_id="v_server_1", sticky=sticky))
    page.goto(shop.url("/?_kx=ABC%2Bdef%3D%3D.xyz"))
    ready(page)

    jar = cookies(context, shop.page_origin)
    assert {name: unquote(jar[name]["value"]) for name in ("kx_vid", "kx_st", "kx_kx")} == {
        "kx_vid": "v_server_1",
        "kx_st": sticky,
        "kx_kx": "ABC+def==.xyz",
    }
    for name in ("kx_vid", "kx_st", "kx_kx"):
        cookie = jar[name]
        assert cookie["path"] == "/"
        assert cookie["sameSite"] == "Lax"
        assert cookie["secure"] is False  # http page; the https test below checks Secure
        assert cookie["httpOnly"] is False
        assert abs(cookie["expires"] - (time.time() + YEAR)) < 120
        assert cookie["domain"] == "localhost"  # the shop's own host, not the API's

    # The next page, without the parameter, sends everything back.
    page.goto(shop.url("/cart"))
    ready(page)
    second = shop.stub.assigns()[1]
    assert second.json() == {
        "visitor_id": "v_server_1",
        "kx": "ABC+def==.xyz",
        "sticky": sticky,
        "url": shop.url("/cart"),
    }
    assert "cookie" not in second.headers
    assert page.evaluate("() => window.kxEdge.visitorId") == "v_server_1"


def test_takes_the_visitor_id_the_server_returns(shop: Shop, context: BrowserContext, page: Page) -> None:
    context.add_cookies([{"name": "kx_vid", "value": "bad!!id", "url": shop.page_origin}])
    shop.stub.reset(assignment(VIP, visitor_id="v_fresh"))
    page.goto(shop.url("/"))
    ready(page)
    assert shop.stub.assigns()[0].json()["visitor_id"] == "bad!!id"
    assert cookies(context, shop.page_origin)["kx_vid"]["value"] == "v_fresh"
    assert page.evaluate("() => window.kxEdge.visitorId") == "v_fresh"


def test_cookies_are_secure_on_an_https_shop(
    context: BrowserContext, page: Page, page_errors: list[str]
) -> None:
    shop_origin, api_origin = "https://shop.example", "https://kx.example"
    answer = assignment(VIP).body
    bodies: list[str | None] = []

    def handle(route: Route) -> None:
        url = route.request.url
        cors = {"Access-Control-Allow-Origin": shop_origin}
        if url.startswith(api_origin + "/v1/snippet.js"):
            route.fulfill(body=load_snippet().body, content_type="application/javascript")
        elif url.startswith(api_origin + "/v1/assign"):
            bodies.append(route.request.post_data)
            route.fulfill(json=answer, headers=cors)
        else:
            src = f"{api_origin}/v1/snippet.js?site={SITE_KEY}"
            route.fulfill(body=PAGE.format(src=src, attrs=""), content_type="text/html")

    context.route(re.compile(r"^https://(shop|kx)\.example/"), handle)
    page.goto(shop_origin + "/?_kx=ABC%3D%3D.x")
    ready(page)
    assert len(bodies) == 1
    jar = cookies(context, shop_origin)
    assert {jar[name]["secure"] for name in ("kx_vid", "kx_st", "kx_kx")} == {True}
    assert page.locator("#variant").is_visible()
    assert page_errors == []


# --- applying decisions --------------------------------------------------------------------


def test_applies_decided_variations_to_the_page(
    shop: Shop, page: Page, page_errors: list[str], artifacts_dir: Path
) -> None:
    shop.stub.reset(
        assignment(
            VIP,
            experience("Hero Test/2", "B", type="test"),
            experience("not-entered", None),
            visitor_id="v_42",
        )
    )
    page.goto(shop.url("/"))
    decisions = ready(page)

    assert [d["id"] for d in decisions] == ["free-shipping", "Hero Test/2", "not-entered"]
    assert html_state(page) == {
        "classes": ["kx-free-shipping-banner", "kx-hero-test-2-b"],
        "attrs": {"data-kx-free-shipping": "banner", "data-kx-hero-test-2": "B"},
    }
    assert page.locator("#variant").is_visible()
    assert not page.locator("#control").is_visible()

    api = page.evaluate(
        """() => ({
            hero: window.kxEdge.get("Hero Test/2"),
            missing: window.kxEdge.get("nope"),
            count: window.kxEdge.decisions.length,
            identity: window.kxEdge.identity,
            visitorId: window.kxEdge.visitorId,
        })"""
    )
    assert api["hero"]["variation_id"] == "B"
    assert api["missing"] is None
    assert (api["count"], api["identity"], api["visitorId"]) == (3, "identified", "v_42")

    (event,) = events(page, 1)
    assert event["final"] is True
    assert (event["identity"], event["visitor_id"]) == ("identified", "v_42")
    assert event["decisions"] == decisions
    # Without data-anti-flicker nothing was ever hidden.
    assert page.evaluate("() => window.__styles") == []
    assert page_errors == []
    page.screenshot(path=str(artifacts_dir / "snippet-storefront-variant.png"))


def test_pending_shows_the_control_first_then_updates(
    shop: Shop, context: BrowserContext, page: Page, page_errors: list[str]
) -> None:
    shop.stub.reset(
        assignment(
            experience("hero", "a", type="test"),
            experience("free-shipping", None, status="pending"),
            identity="pending",
            retry_after_ms=400,
            sticky="st.pending",
        ),
        assignment(experience("hero", "b", type="test"), VIP, sticky="st.decided"),
    )
    page.goto(shop.url("/?_kx=ABC%3D%3D.x"))
    first = ready(page)
    assert [d["status"] for d in first] == ["decided", "pending"]

    updates = events(page, 2)
    assert [(e["identity"], e["final"]) for e in updates] == [
        ("pending", False),
        ("identified", True),
    ]
    seen = page.evaluate("() => window.__seen")
    assert seen[0]["cls"] == "kx-hero-a"  # the default first ...
    assert sorted(seen[1]["cls"].split()) == ["kx-free-shipping-banner", "kx-hero-b"]  # ... then
    assert html_state(page)["attrs"] == {"data-kx-hero": "b", "data-kx-free-shipping": "banner"}
    assert page.locator("#variant").is_visible()

    initial, retry = shop.stub.assigns()
    assert retry.json()["sticky"] == "st.pending"
    assert retry.json()["kx"] == "ABC==.x"
    assert retry.at - initial.at >= 0.35
    assert cookies(context, shop.page_origin)["kx_st"]["value"] == "st.decided"
    assert page_errors == []


def test_retries_while_pending_are_bounded(shop: Shop, page: Page, page_errors: list[str]) -> None:
    # retry_after_ms 0 is clamped up to 200 ms; the answer never stops being pending.
    shop.stub.reset(
        assignment(
            experience("free-shipping", None, status="pending"),
            identity="pending",
            retry_after_ms=0,
            sticky="st.p",
        )
    )
    page.goto(shop.url("/"))
    page.wait_for_function("() => window.__events.some((e) => e.final)")

    sent = shop.stub.assigns()
    assert len(sent) == 6  # the first call and five retries, then it settles for the control
    assert all(r.json()["sticky"] == "st.p" for r in sent[1:])
    assert min(b.at - a.at for a, b in itertools.pairwise(sent)) >= 0.18
    assert [e["final"] for e in events(page, 2)] == [False, True]
    assert_control_shown(page)
    assert page_errors == []


def test_refresh_reruns_the_assignment_after_a_spa_navigation(shop: Shop, page: Page) -> None:
    shop.stub.reset(assignment(VIP), assignment(experience("hero", "b")))
    page.goto(shop.url("/"))
    ready(page)
    decisions = page.evaluate(
        """async () => {
            history.pushState({}, "", "/cart?_kx=NEW%3D%3D.k");
            return await window.kxEdge.refresh();
        }"""
    )
    assert [d["id"] for d in decisions] == ["hero"]
    second = shop.stub.assigns()[1].json()
    assert (second["url"], second["kx"]) == (shop.url("/cart?_kx=NEW%3D%3D.k"), "NEW==.k")
    # free-shipping is gone from the answer, so its class and attribute are gone too.
    assert html_state(page) == {"classes": ["kx-hero-b"], "attrs": {"data-kx-hero": "b"}}


# --- anti-flicker --------------------------------------------------------------------------

OPACITY = "() => getComputedStyle(document.documentElement).opacity"


def test_anti_flicker_hides_the_page_until_the_decision(
    shop: Shop, page: Page, page_errors: list[str]
) -> None:
    shop.storefront.configure(f"{shop.api_origin}/v1/snippet.js?site={SITE_KEY}", data_anti_flicker="5000")
    shop.stub.reset(Answer(assignment(VIP).body, delay=1.5))
    page.goto(shop.url("/"))
    page.wait_for_function(f"() => ({OPACITY})() === '0'", timeout=1200)
    assert page.evaluate("() => window.__events.length") == 0

    ready(page)
    (seen,) = page.evaluate("() => window.__seen")
    assert seen == {"cls": "kx-free-shipping-banner", "opacity": "1"}  # revealed with the variant
    assert page.evaluate(OPACITY) == "1"
    assert page_errors == []


def test_anti_flicker_reveals_on_its_timeout_when_the_server_hangs(
    shop: Shop, page: Page, page_errors: list[str]
) -> None:
    shop.storefront.configure(
        f"{shop.api_origin}/v1/snippet.js?site={SITE_KEY}",
        data_anti_flicker="300",
        data_timeout="2500",
    )
    shop.stub.reset(Answer(assignment(VIP).body, delay=6.0))
    page.goto(shop.url("/"))
    page.wait_for_function(f"() => ({OPACITY})() === '1'", timeout=2000)
    assert page.evaluate("() => window.__styles") == ["html{opacity:0!important}"]
    assert page.evaluate("() => window.__events.length") == 0  # still waiting on the server
    page.locator("#buy").click()
    assert page.locator("#buy").text_content() == "Added to cart"

    assert ready(page) == []  # the request gave up after data-timeout
    (event,) = events(page, 1)
    assert (event["final"], event["error"]) == (True, True)
    assert_control_shown(page)
    assert page_errors == []


# --- failing open --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    ["server-error", "garbage-json", "wrong-shape", "closed-port"],
)
def test_fails_open_and_leaves_the_page_usable(
    shop: Shop, page: Page, page_errors: list[str], failure: str
) -> None:
    src = f"{shop.api_origin}/v1/snippet.js?site={SITE_KEY}"
    shop.storefront.configure(src, data_anti_flicker="8000")
    if failure == "server-error":
        shop.stub.reset(Answer({"error": {"code": "boom", "message": "boom"}}, status=500))
    elif failure == "garbage-json":
        shop.stub.reset(Answer(b"<html>not json{", status=200))
    elif failure == "wrong-shape":
        shop.stub.reset(Answer({"experiences": "free-shipping"}))
    else:
        closed = f"http://127.0.0.1:{free_port()}"
        shop.storefront.configure(src, data_anti_flicker="8000", data_api=closed)

    page.goto(shop.url("/?_kx=ABC%3D%3D.x"))
    assert ready(page) == []
    (event,) = events(page, 1)
    assert (event["final"], event["error"], event["decisions"]) == (True, True, [])
    assert page.evaluate(OPACITY) == "1"  # anti-flicker let go at once, not after 8 s
    assert page.evaluate("() => window.kxEdge.get('free-shipping')") is None
    assert_control_shown(page)
    page.locator("#buy").click()
    assert page.locator("#buy").text_content() == "Added to cart"
    assert page_errors == []

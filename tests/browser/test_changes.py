"""A variation's `changes` applied by the snippet in real Chromium, against a real kx-edge.

Experiences go in through the configuration API; the shop's pages stream in chunks and sample
what they show on every animation frame (`changes_shop.py`), which is how the anti-flicker
promise is checked: no frame shows the control of an element a variation changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route

from tests.browser.changes_shop import ChangesShop, ShopPage, changes_shop, frames

pytestmark = pytest.mark.browser

CONTROL_TEXT = "Built for the outdoors"
VARIANT_TEXT = "Gear that goes further"
HERO_CHANGE = {"selector": "#hero", "action": "set_text", "value": VARIANT_TEXT}


def personalization(exp_id: str, changes: dict[str, Any], *, traffic: float = 100) -> dict[str, Any]:
    """Everyone matches; with traffic 100 everyone sees the variation, with 0 everyone the control."""
    return {
        "id": exp_id,
        "type": "personalization",
        "name": exp_id,
        "status": "live",
        "targeting": {"mode": "custom"},
        "traffic_percent": traffic,
        "variations": [
            {"id": "control", "name": "Control", "weight": 1, "is_control": True},
            {"id": "variant", "name": "Variant", "weight": 1, "changes": changes},
        ],
    }


FLICKER_PAGE = ShopPage(
    [
        f'<p id="intro" data-watch="intro">Welcome</p><h1 id="hero" data-watch="hero">{CONTROL_TEXT}</h1>',
        "<p>Our jackets</p>",
        "<p>Our boots</p>",
        '<p data-watch="footer">Footer</p>',
    ],
    pause_s=0.25,
)


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChangesShop]:
    with changes_shop(tmp_path_factory.mktemp("changes")) as shop:
        yield shop


@pytest.fixture
def shop(shop_server: ChangesShop) -> ChangesShop:
    shop_server.delete_all()
    shop_server.gate.delay_s = 0.0
    shop_server.snippet_attrs = {}
    shop_server.pages = {"/shop/f": FLICKER_PAGE}
    return shop_server


def decided(page: Page) -> None:
    page.wait_for_function("() => window.__decidedAt !== null")


def seen(page: Page, name: str) -> list[dict[str, Any]]:
    """Each sampled frame's view of `[data-watch=name]`, for the frames where it existed."""
    return [f["seen"][name] | {"t": f["t"]} for f in frames(page) if name in f["seen"]]


# --- every action ---------------------------------------------------------------------------

ALL_ACTIONS = {
    "css": "#price { color: rgb(1, 2, 3) }",
    "dom": [
        HERO_CHANGE,
        {"selector": "#price", "action": "set_html", "value": "<strong>$159</strong>"},
        {"selector": "#cta", "action": "set_attribute", "attribute": "href", "value": "/shop/sale"},
        {"selector": "#main", "action": "add_class", "value": "kx-sale wide"},
        {"selector": "#promo", "action": "remove_class", "value": "hidden"},
        {"selector": "#old", "action": "hide"},
        {"selector": "#main", "action": "insert_before", "value": '<p class="note">Before main</p>'},
        {"selector": "#main", "action": "insert_after", "value": '<p class="note">After main</p>'},
        {"selector": ".late", "action": "set_text", "value": "late, changed"},
    ],
    "payload": {"discount": 10, "labels": ["a"]},
}
ACTIONS_PAGE = ShopPage(
    [
        f'<h1 id="hero">{CONTROL_TEXT}</h1><p id="price">$189</p><a id="cta" href="/shop/old">Shop</a>'
        '<div id="promo" class="promo hidden">Promo</div><div id="old">Old banner</div>'
        '<main id="main"><p>Main</p></main><ul id="list"></ul>',
        # The theme adds an element after load and later re-renders the headline.
        "<script>setTimeout(() => { const li = document.createElement('li'); li.className = 'late';"
        " li.textContent = 'late, original'; document.getElementById('list').appendChild(li);"
        " window.__late = true; }, 300);"
        " setTimeout(() => { document.getElementById('hero').outerHTML = '<h1 id=\"hero\">Re-rendered</h1>';"
        " window.__rerendered = true; }, 600);</script>",
    ]
)


def test_every_action_applies_also_to_elements_added_later(
    shop: ChangesShop, page: Page, page_errors: list[str], artifacts_dir: Path
) -> None:
    shop.put_live(personalization("all-actions", ALL_ACTIONS))
    shop.pages["/shop/a"] = ACTIONS_PAGE
    page.goto(shop.url("/shop/a"))
    decided(page)
    page.wait_for_function("() => window.__late && window.__rerendered")
    page.wait_for_function(
        "t => document.querySelector('.late').textContent === 'late, changed'"
        " && document.getElementById('hero').textContent === t",
        arg=VARIANT_TEXT,
    )
    state = page.evaluate(
        """() => {
            const $ = (s) => document.querySelector(s);
            const main = $("#main");
            return {
                price: $("#price").innerHTML,
                color: getComputedStyle($("#price")).color,
                href: $("#cta").getAttribute("href"),
                main: [...main.classList].sort(),
                promo: [...$("#promo").classList],
                old: getComputedStyle($("#old")).display,
                before: main.previousElementSibling.textContent,
                after: main.nextElementSibling.textContent,
                payload: window.kxEdge.get("all-actions").payload,
                root: document.documentElement.getAttribute("data-kx-all-actions"),
            };
        }"""
    )
    assert state == {
        "price": "<strong>$159</strong>",
        "color": "rgb(1, 2, 3)",
        "href": "/shop/sale",
        "main": ["kx-sale", "wide"],
        "promo": ["promo"],
        "old": "none",
        "before": "Before main",
        "after": "After main",
        "payload": {"discount": 10, "labels": ["a"]},
        "root": "variant",
    }
    assert page_errors == []
    page.screenshot(path=str(artifacts_dir / "changes-all-actions.png"))


def test_a_broken_change_on_a_live_page_never_stops_the_others(
    shop: ChangesShop, page: Page, page_errors: list[str]
) -> None:
    shop.put_live(personalization("hero", {"dom": [HERO_CHANGE]}))
    shop.pages["/shop/a"] = ACTIONS_PAGE

    def break_some(route: Route) -> None:
        # As a browser that rejects a selector the server accepted would see the answer.
        answer = route.fetch()
        body = answer.json()
        for element in body["experiences"]:
            element["changes"]["dom"] = [
                {"selector": "a[", "action": "set_text", "value": "x"},
                {"selector": "#old", "action": "explode", "value": "x"},
                {"selector": "#old", "action": "set_attribute", "attribute": "bad name", "value": "x"},
                *element["changes"]["dom"],
                {"selector": "#promo", "action": "add_class", "value": "after-the-broken-ones"},
            ]
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/v1/assign**", break_some)
    page.goto(shop.url("/shop/a"))
    decided(page)
    page.wait_for_function("t => document.getElementById('hero').textContent === t", arg=VARIANT_TEXT)
    assert "after-the-broken-ones" in (page.get_attribute("#promo", "class") or "")
    assert page.text_content("#old") == "Old banner"
    assert page_errors == []


# --- anti-flicker ---------------------------------------------------------------------------


def test_a_first_visit_hides_only_what_changes_until_the_answer(
    shop: ChangesShop, page: Page, page_errors: list[str]
) -> None:
    shop.put_live(personalization("hero", {"dom": [HERO_CHANGE]}))
    shop.gate.delay_s = 0.6  # a slow network: the page paints for a while before the answer
    page.goto(shop.url("/shop/f"))
    decided(page)
    page.wait_for_function("() => window.__frames.some((f) => f.seen.footer)")
    hero = seen(page, "hero")
    intro = seen(page, "intro")
    assert hero, "the hero was never sampled"
    # No frame ever showed the control's headline ...
    assert [f for f in hero if f["shown"] and f["text"] != VARIANT_TEXT] == []
    # ... while it was hidden the rest of the page showed (element-level, not the whole page) ...
    hidden_at = {f["t"] for f in hero if not f["shown"]}
    assert hidden_at, "the answer came before the first frame: no hiding was observed"
    assert all(f["shown"] for f in intro if f["t"] in hidden_at)
    # ... and it showed the variation once decided.
    assert hero[-1] == hero[-1] | {"shown": True, "text": VARIANT_TEXT}
    assert page_errors == []


def test_the_hard_timeout_reveals_when_the_answer_is_late(
    shop: ChangesShop, page: Page, page_errors: list[str]
) -> None:
    shop.put_live(personalization("hero", {"dom": [HERO_CHANGE]}))
    shop.snippet_attrs = {"data-hide-timeout": "300"}
    shop.gate.delay_s = 2.0
    page.goto(shop.url("/shop/f"))
    # Revealed (as the control) by the timeout, well before the answer ...
    page.wait_for_function(
        "t => window.__frames.some((f) => f.seen.hero && f.seen.hero.shown && f.seen.hero.text === t)"
        " && window.__decidedAt === null",
        arg=CONTROL_TEXT,
    )
    # ... then the answer still applies.
    decided(page)
    page.wait_for_function("t => document.getElementById('hero').textContent === t", arg=VARIANT_TEXT)
    assert page_errors == []


def test_a_returning_visitors_first_paint_is_already_the_variation(
    shop: ChangesShop, page: Page, page_errors: list[str]
) -> None:
    shop.put_live(personalization("hero", {"dom": [HERO_CHANGE]}))
    page.goto(shop.url("/shop/f"))
    decided(page)

    shop.gate.delay_s = 0.8  # the network is slow on the next page view
    page.goto(shop.url("/shop/f"))
    decided(page)
    decided_at = page.evaluate("() => window.__decidedAt")
    hero = seen(page, "hero")
    assert [f for f in hero if f["shown"] and f["text"] != VARIANT_TEXT] == []
    first = hero[0]
    assert first["shown"] and first["text"] == VARIANT_TEXT  # at its first frame, not hidden
    assert first["t"] < decided_at  # from the kept answer, before the network answered
    assert page_errors == []


def test_a_kept_answer_the_network_contradicts_is_undone(
    shop: ChangesShop, page: Page, page_errors: list[str]
) -> None:
    shop.put_live(personalization("hero", {"dom": [HERO_CHANGE], "css": "#intro { color: rgb(9, 9, 9) }"}))
    page.goto(shop.url("/shop/f"))
    decided(page)
    assert page.text_content("#hero") == VARIANT_TEXT

    # Everyone now sees the control (traffic 0 is all holdout).
    shop.put_live(personalization("hero", {"dom": [HERO_CHANGE]}, traffic=0))
    page.goto(shop.url("/shop/f"))
    decided(page)
    page.wait_for_function("t => document.getElementById('hero').textContent === t", arg=CONTROL_TEXT)
    assert page.evaluate("() => getComputedStyle(document.getElementById('intro')).color") != "rgb(9, 9, 9)"
    assert page.get_attribute("html", "data-kx-hero") == "control"
    assert page_errors == []


# --- redirects ------------------------------------------------------------------------------


def test_a_redirect_counts_the_exposure_and_lands_with_the_query_kept(
    shop: ChangesShop, context: BrowserContext, page: Page, page_errors: list[str]
) -> None:
    split = personalization("split", {"redirect": "/shop/b", "pages": ["/shop/a"]})
    shop.put_live(split)
    shop.pages["/shop/a"] = ShopPage(['<h1 id="page" data-watch="page">Page A</h1>'])
    shop.pages["/shop/b"] = ShopPage(['<h1 id="page" data-watch="page">Page B</h1>'])
    shop.pages["/shop/c"] = ShopPage(['<h1 id="page" data-watch="page">Page C</h1>'])
    before = len(shop.exposures.all())

    page.goto(shop.url("/shop/a?utm_source=mail&x=a+b%2Bc#top"))
    page.wait_for_url("**/shop/b**")
    decided(page)
    assert page.url == shop.url("/shop/b?utm_source=mail&x=a+b%2Bc#top")
    assert page.text_content("#page") == "Page B"
    first, landed = shop.exposures.all()[before:]
    visitor, url, decisions = first
    assert url == shop.url("/shop/a?utm_source=mail&x=a+b%2Bc#top")
    assert decisions == {"split": "variant"}  # answered (counted) before the page left
    assert landed[0] == visitor and landed[1] == page.url

    # A returning visitor is sent on from the kept answer, without waiting for (or asking) the
    # network; the exposure was counted when they entered.
    page.goto(shop.url("/shop/c"))
    decided(page)
    shop.gate.delay_s = 1.0
    counted = len(shop.exposures.all())
    page.goto(shop.url("/shop/a?again=1"))
    page.wait_for_url("**/shop/b?again=1")
    decided(page)
    assert [e[1] for e in shop.exposures.all()[counted:]] == [shop.url("/shop/b?again=1")]
    assert page_errors == []


# --- preview --------------------------------------------------------------------------------


def test_preview_links_force_and_release_a_variation(
    shop: ChangesShop, context: BrowserContext, page: Page, page_errors: list[str], artifacts_dir: Path
) -> None:
    shop.put_live(personalization("hero", {"dom": [HERO_CHANGE]}, traffic=0))  # visitors: the control
    links = shop.preview_links("hero", "/shop/f")

    page.goto(links["variant"])
    decided(page)
    page.wait_for_function("t => document.getElementById('hero').textContent === t", arg=VARIANT_TEXT)
    badge = page.locator("[data-kx-preview]")
    assert badge.is_visible() and "hero: variant" in (badge.text_content() or "")
    page.screenshot(path=str(artifacts_dir / "changes-preview.png"))

    # Forced for this browser on every page until released ...
    page.goto(shop.url("/shop/f"))
    decided(page)
    page.wait_for_function("t => document.getElementById('hero').textContent === t", arg=VARIANT_TEXT)
    # ... and nowhere else: another browser (context) on the same URL sees the control.
    other = context.browser.new_context()  # type: ignore[union-attr]
    try:
        stranger = other.new_page()
        stranger.goto(shop.url("/shop/f"))
        decided(stranger)
        assert stranger.text_content("#hero") == CONTROL_TEXT
        assert stranger.locator("[data-kx-preview]").count() == 0
    finally:
        other.close()

    page.locator("[data-kx-preview]").click()
    page.wait_for_function(
        "() => window.__decidedAt !== null && !document.querySelector('[data-kx-preview]')"
    )
    assert "kx_preview" not in page.url
    assert page.text_content("#hero") == CONTROL_TEXT
    assert page_errors == []


def test_a_forged_preview_link_forces_nothing(shop: ChangesShop, page: Page, page_errors: list[str]) -> None:
    shop.put_live(personalization("hero", {"dom": [HERO_CHANGE]}, traffic=0))
    links = shop.preview_links("hero", "/shop/f")
    forged = links["variant"].rsplit("~", 1)[0] + "~AAAAAAAAAAAAAAAAAAAAAA"
    page.goto(forged)
    decided(page)
    page.wait_for_selector("[data-kx-preview]")
    assert "not valid" in (page.text_content("[data-kx-preview]") or "")
    assert page.text_content("#hero") == CONTROL_TEXT
    assert page_errors == []

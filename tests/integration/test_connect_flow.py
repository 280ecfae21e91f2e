"""Sign in with Klaviyo end to end: kx-edge and a fake Klaviyo on real sockets, HTTP only.

connect (api key) -> our one-time link, opened by the merchant's browser (binding cookie) ->
authorize (consent page) -> Allow -> 302 to our callback -> token exchange with PKCE (verified by
the fake) -> GET /api/accounts -> status active; then token expiry, disconnect. Each
`httpx.Client` is one browser: its cookie jar is what binds it to a flow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from edge.app import create_app
from edge.store import SqlSiteStore
from edge.store.sqlite_db import SqliteDatabase
from sandbox import (
    DEMO_PEOPLE,
    FaultKind,
    SandboxState,
    demo_segment_id,
    demo_state,
    running_fake_klaviyo,
)
from targeting import parse_experience
from tests.apps import BROWSER_UA, sandbox_settings
from tests.browser.live_server import live_server
from tests.targeting.factories import doc
from tests.waiting import free_port

CLIENT_ID, CLIENT_SECRET = "kx-edge-test-client", "test-client-secret-0123456789"


class _Form(HTMLParser):
    """The consent page's form, read the way a browser would submit it."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag in ("input", "select") and values.get("type") != "submit" and "name" in values:
            self.fields.setdefault(values["name"], values.get("value", ""))


@dataclass
class World:
    base: str
    klaviyo: str
    sandbox: SandboxState
    client: httpx.Client
    site: dict[str, str]

    def site_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.site['api_key']}"}

    def status(self) -> dict[str, object]:
        response = self.client.get(f"/v1/sites/{self.site['id']}/klaviyo", headers=self.site_headers())
        assert response.status_code == 200
        body: dict[str, object] = response.json()
        return body

    def authorize_url(self) -> str:
        """What the API answers a connect with: a one-time link on kx-edge's own origin."""
        response = self.client.post(
            f"/v1/sites/{self.site['id']}/klaviyo/connect", headers=self.site_headers()
        )
        assert response.status_code == 200, response.text
        url: str = response.json()["authorize_url"]
        assert url.startswith(f"{self.base}/oauth/klaviyo/start?link=")
        return url

    def klaviyo_url(self, browser: httpx.Client | None = None) -> str:
        """A new connect link opened (and its button pressed) in `browser` (default: the
        merchant's): where kx-edge sends that browser at Klaviyo."""
        browser = browser or self.client
        link = self.authorize_url()
        assert browser.get(link).status_code == 200  # the page with the button
        response = browser.post(link)
        assert response.status_code == 303, response.text
        location: str = response.headers["location"]
        assert location.startswith(f"{self.klaviyo}/oauth/authorize?")
        return location

    def consent(self, url: str, decision: str) -> httpx.Response:
        """Open the consent page and press Allow or Deny; answers Klaviyo's redirect."""
        page = httpx.get(url)
        assert page.status_code == 200 and "Sandbox Outfitters" in page.text
        form = _Form()
        form.feed(page.text)
        response = httpx.post(form.action, data={**form.fields, "decision": decision})
        assert response.status_code in (302, 303), response.text
        return response


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sandbox = demo_state(CLIENT_ID, CLIENT_SECRET, f"{base}/oauth/klaviyo/callback")
    with running_fake_klaviyo(sandbox) as klaviyo:
        settings = sandbox_settings(
            tmp_path, klaviyo, CLIENT_ID, CLIENT_SECRET, public_url=base, resolve_deadline_ms=2000
        )
        with (
            live_server(create_app(settings), port=port, lifespan="on"),
            # A browser's user agent: httpx's own is on the crawler list, whose kx is never looked up.
            httpx.Client(base_url=base, headers={"User-Agent": BROWSER_UA}) as client,
        ):
            response = client.post(
                "/v1/sites",
                json={"name": "Shop", "allowed_origins": ["https://shop.example.com"]},
                headers={"Authorization": f"Bearer {settings.operator_token}"},
            )
            assert response.status_code == 201
            site = response.json()
            asyncio.run(_store_vip_experience(settings.database_path, site["id"]))
            yield World(base, klaviyo, sandbox, client, site)


def _connect(world: World) -> None:
    redirect = world.consent(world.klaviyo_url(), "allow")
    callback = world.client.get(redirect.headers["location"])
    assert callback.status_code == 303
    assert callback.headers["location"].startswith("/oauth/klaviyo/result?outcome=connected")
    result = world.client.get(callback.headers["location"])
    assert "Active" in result.text and "Sandbox Outfitters" in result.text
    # Started through the API: the page stays (no session to return to) and links the card.
    assert 'href="/admin/integrations?klaviyo=connected#klaviyo-card"' in result.text
    assert 'http-equiv="refresh"' not in result.text


def test_a_merchant_connects_and_sees_active_with_the_account_name(world: World) -> None:
    assert world.status()["status"] == "disconnected"
    url = world.klaviyo_url()
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["accounts:read profiles:read segments:read"]
    assert query["redirect_uri"] == [f"{world.base}/oauth/klaviyo/callback"]
    redirect = world.consent(url, "allow")
    callback_url = redirect.headers["location"]
    assert callback_url.startswith(f"{world.base}/oauth/klaviyo/callback?")
    callback = world.client.get(callback_url)
    assert callback.status_code == 303
    status = world.status()
    assert status["status"] == "active"
    assert status["account_name"] == "Sandbox Outfitters"
    assert status["scopes"] == ["accounts:read", "profiles:read", "segments:read"]
    assert status["missing_scopes"] == []
    assert isinstance(status["connected_at"], int)
    assert "token" not in str(status).lower()
    assert world.sandbox.calls.count("/oauth/token", status=200) == 1
    assert world.sandbox.calls.count("/api/accounts") == 1

    # The same callback again (a refresh, a replay): refused, nothing changes.
    replay = world.client.get(callback_url)
    assert replay.status_code == 400
    assert "already used" in replay.text
    assert world.status()["generation"] == status["generation"]


def test_declining_leaves_the_status_unchanged_with_a_friendly_message(world: World) -> None:
    redirect = world.consent(world.klaviyo_url(), "deny")
    callback = world.client.get(redirect.headers["location"])
    assert callback.status_code == 303
    page = world.client.get(callback.headers["location"])
    assert "was not connected" in page.text and "access_denied" in page.text
    assert world.status()["status"] == "disconnected"
    assert world.sandbox.calls.count("/oauth/token") == 0


def test_a_forged_state_is_refused_and_nothing_is_stored(world: World) -> None:
    response = world.client.get("/oauth/klaviyo/callback?code=anything&state=forged-state")
    assert response.status_code == 400
    assert "not valid" in response.text
    assert world.status()["status"] == "disconnected"
    assert world.sandbox.calls.count("/oauth/token") == 0


def test_an_expired_access_token_is_refreshed_without_the_merchant_noticing(world: World) -> None:
    _connect(world)
    vip = DEMO_PEOPLE[0]
    world.sandbox.expire_access_tokens()
    assign = _assign_vip(world, vip.kx)
    assert assign["identity"] == "identified"
    assert world.sandbox.calls.count("/oauth/token", status=200) == 2  # the exchange, one refresh
    status = world.status()
    assert status["status"] == "active" and status["last_refresh_at"] is not None


def test_an_uninstalled_app_ends_in_needs_reauth_not_a_retry_storm(world: World) -> None:
    _connect(world)
    world.sandbox.uninstall()
    for _ in range(3):
        assert _assign_vip(world, DEMO_PEOPLE[0].kx)["identity"] in ("unidentified", "pending")
    status = world.status()
    assert status["status"] == "needs_reauth"
    assert status["last_error"]
    assert world.sandbox.calls.count("/oauth/token", status=400) == 1  # one refusal, no storm
    assert _assign_vip(world, DEMO_PEOPLE[1].kx)["warnings"] == ["klaviyo_not_connected"]


def test_disconnect_revokes_forgets_and_stops_resolution(world: World) -> None:
    _connect(world)
    assert _assign_vip(world, DEMO_PEOPLE[0].kx)["identity"] == "identified"
    response = world.client.delete(f"/v1/sites/{world.site['id']}/klaviyo", headers=world.site_headers())
    assert response.status_code == 200
    assert response.json()["status"] == "disconnected" and response.json()["revoked"] is True
    assert world.sandbox.calls.count("/oauth/revoke", status=200) == 1
    after = _assign_vip(world, DEMO_PEOPLE[0].kx)
    assert after["identity"] == "unidentified" and after["warnings"] == ["klaviyo_not_connected"]


def test_disconnect_forgets_tokens_even_when_klaviyo_does_not_answer(world: World) -> None:
    _connect(world)
    world.sandbox.faults.inject("/oauth/revoke", FaultKind.UNAVAILABLE, times=5)
    response = world.client.delete(f"/v1/sites/{world.site['id']}/klaviyo", headers=world.site_headers())
    assert response.status_code == 200
    assert response.json()["status"] == "disconnected" and response.json()["revoked"] is False


def _assign_vip(world: World, kx: str) -> dict[str, object]:
    response = world.client.post(
        f"/v1/assign?site={world.site['public_key']}", json={"kx": kx, "visitor_id": "v" * 22}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def _store_vip_experience(database: Path, site_id: str) -> None:
    """A live personalization for VIP, written to the service's SQLite file beside it."""
    experience = parse_experience(
        doc(
            "vip-banner",
            type="personalization",
            rules={
                "any": [
                    {"attribute": "klaviyo_segment", "operator": "equals", "value": demo_segment_id("VIP")}
                ]
            },
            variation_ids=("none", "banner"),
        )
    )
    db = SqliteDatabase(database)
    try:
        await SqlSiteStore(db).create_experience(
            site_id, experience.id, type="personalization", status="live", body=experience.to_dict(), now=1
        )
    finally:
        await db.close()


def test_reconnecting_within_a_second_waits_for_the_accounts_budget(world: World) -> None:
    """`GET /api/accounts` allows one call a second: a quick reconnect waits instead of failing.

    The account is unknown until that call answers, so its budget cannot be known in advance;
    at most one 429 comes back and its Retry-After is honoured."""
    _connect(world)
    _connect(world)
    assert world.status()["status"] == "active"
    assert world.status()["generation"] == 2
    assert world.sandbox.calls.count("/api/accounts", status=429) <= 1
    assert world.sandbox.calls.count("/api/accounts", status=200) == 2


def test_a_stolen_authorize_url_approved_in_another_browser_is_refused(world: World) -> None:
    """The merchant's browser opened the link; the Klaviyo URL it was sent to leaks, and someone
    approves it in their own browser, with their own Klaviyo account: nothing is connected."""
    stolen = world.klaviyo_url()
    with httpx.Client(base_url=world.base) as intruder:
        redirect = world.consent(stolen, "allow")
        page = intruder.get(redirect.headers["location"])
    assert page.status_code == 403
    assert "started in another browser" in page.text and "Nothing was connected" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert world.sandbox.calls.count("/oauth/token") == 0  # the code was never even exchanged
    status = world.status()
    assert status["status"] == "disconnected" and status["account_name"] is None


def test_a_link_is_bound_to_the_first_browser_that_opens_it(world: World) -> None:
    link = world.authorize_url()
    with httpx.Client(base_url=world.base) as other:
        assert other.get(link).status_code == 200  # showing the page (a link preview) uses nothing
        assert world.client.post(link).status_code == 303  # the merchant's browser claims it
        late = other.post(link)
    assert late.status_code == 400 and "already used" in late.text
    assert "kx_connect" not in late.headers.get("set-cookie", "")


def test_a_link_posted_from_another_website_is_not_followed(world: World) -> None:
    link = world.authorize_url()
    response = world.client.post(link, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "another website" in response.text
    assert world.client.post(link, headers={"Origin": world.base}).status_code == 303  # still usable


def test_the_result_page_shows_nothing_to_another_browser(world: World) -> None:
    redirect = world.consent(world.klaviyo_url(), "allow")
    callback = world.client.get(redirect.headers["location"])
    result_url = callback.headers["location"]
    assert "Sandbox Outfitters" in world.client.get(result_url).text
    with httpx.Client(base_url=world.base) as other:
        foreign = other.get(result_url)
    assert foreign.status_code == 403 and "Sandbox Outfitters" not in foreign.text
    guessed = world.client.get(f"/oauth/klaviyo/result?outcome=connected&site_id={world.site['id']}")
    assert (
        guessed.status_code == 403
        and "Sandbox Outfitters" not in guessed.text
        and "Active" not in guessed.text
    )
    tampered = world.client.get(result_url.replace(world.site["id"], "site_other"))
    assert tampered.status_code == 403


def test_a_code_replayed_with_another_flows_state_says_why_it_was_refused(world: World) -> None:
    first = world.consent(world.klaviyo_url(), "allow").headers["location"]
    code = parse_qs(urlsplit(first).query)["code"][0]
    other_state = parse_qs(urlsplit(world.klaviyo_url()).query)["state"][0]
    page = world.client.get("/oauth/klaviyo/callback", params={"code": code, "state": other_state})
    assert page.status_code == 400
    assert "Klaviyo refused this authorization" in page.text
    assert "belongs to another connection attempt" in page.text, page.text
    assert "did not answer" not in page.text
    assert world.status()["status"] == "disconnected"


def test_every_oauth_page_forbids_scripts_framing_and_referrers(world: World) -> None:
    link = world.authorize_url()
    redirect = world.consent(world.klaviyo_url(), "allow")
    answers = [
        world.client.get(link),  # the start page
        world.client.get(redirect.headers["location"]),  # the callback's redirect
        world.client.get("/oauth/klaviyo/callback?code=x&state=forged"),  # a problem page
        world.client.get("/oauth/klaviyo/result"),  # the result page, refused
    ]
    for answer in answers:
        csp = answer.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'none'" and "script-src" not in directives
        assert directives["frame-ancestors"] == "'none'"
        assert directives["form-action"] == f"'self' {world.klaviyo}"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        assert "<script" not in answer.text and "style=" not in answer.text

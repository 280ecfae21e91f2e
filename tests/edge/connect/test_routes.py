"""The connect surface in the app: the merchant page's connect binds its own browser, the pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from edge.access.sessions import SessionStore
from edge.app import create_app
from edge.connect.binding import COOKIE, SECURE_COOKIE
from edge.settings import Settings
from sandbox import SandboxState, demo_state, running_fake_klaviyo
from tests.apps import app_client, create_site, make_settings, sandbox_settings, services_of

CLIENT_ID, CLIENT_SECRET = "kx-edge-connect-test", "connect-test-secret-0123456789"


@pytest.fixture
def sandbox() -> SandboxState:
    state = demo_state(CLIENT_ID, CLIENT_SECRET, "http://testserver/oauth/klaviyo/callback")
    state.oauth.auto_approve = True  # the consent page answers with its redirect at once
    return state


@pytest.fixture
def klaviyo(sandbox: SandboxState) -> Iterator[str]:
    with running_fake_klaviyo(sandbox) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, klaviyo: str) -> Settings:
    return sandbox_settings(tmp_path, klaviyo, CLIENT_ID, CLIENT_SECRET)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(settings)) as client:
        yield client


async def _signed_in(client: httpx.AsyncClient, settings: Settings) -> tuple[dict[str, Any], dict[str, str]]:
    """A site, and this client signed in to its merchant page: the CSRF header the page sends."""
    site = await create_site(client, settings)
    svc = services_of(client)
    session_id, session = await SessionStore(svc.sessions, svc.clock).create(site["id"])
    client.cookies.set("kx_admin", session_id)
    return site, {"X-CSRF-Token": session.csrf_token}


async def _approve(authorize_url: str) -> str:
    """Klaviyo's consent page (approving at once): where it sends the browser back."""
    async with httpx.AsyncClient() as klaviyo_side:
        location: str = (await klaviyo_side.get(authorize_url)).headers["location"]
    return location


async def test_the_merchant_page_connect_binds_its_own_browser_and_goes_straight_to_klaviyo(
    client: httpx.AsyncClient, settings: Settings, klaviyo: str, sandbox: SandboxState
) -> None:
    site, csrf = await _signed_in(client, settings)
    started = await client.post(f"/v1/sites/{site['id']}/klaviyo/connect", headers=csrf)
    assert started.status_code == 200, started.text
    url = started.json()["authorize_url"]
    assert url.startswith(f"{klaviyo}/oauth/authorize?")
    cookie = started.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    secret = client.cookies[COOKIE]

    # A second connect from the same browser keeps its secret (two tabs both work).
    again = await client.post(f"/v1/sites/{site['id']}/klaviyo/connect", headers=csrf)
    assert client.cookies[COOKIE] == secret
    second_url = again.json()["authorize_url"]
    assert parse_qs(urlsplit(second_url).query)["state"] != parse_qs(urlsplit(url).query)["state"]

    # Approved, but arriving back in a browser without the cookie: refused.
    elsewhere = await _approve(second_url)
    client.cookies.delete(COOKIE)
    assert (await client.get(elsewhere)).status_code == 403
    client.cookies.set(COOKIE, secret)

    callback = await client.get(await _approve(url))
    assert callback.status_code == 303
    page = await client.get(callback.headers["location"])
    assert page.status_code == 200
    assert "Klaviyo is connected" in page.text and "Sandbox Outfitters" in page.text
    assert sandbox.calls.count("/oauth/token", status=200) == 1


async def test_without_its_csrf_token_the_page_cannot_start_a_connect(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    site, _ = await _signed_in(client, settings)
    refused = await client.post(f"/v1/sites/{site['id']}/klaviyo/connect")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    assert COOKIE not in client.cookies


async def test_an_api_connect_answers_a_link_and_sets_no_cookie(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    site = await create_site(client, settings)
    started = await client.post(
        f"/v1/sites/{site['id']}/klaviyo/connect", headers={"Authorization": f"Bearer {site['api_key']}"}
    )
    assert started.status_code == 200
    assert started.json()["authorize_url"].startswith("http://testserver/oauth/klaviyo/start?link=")
    assert started.json()["expires_in"] == 600
    assert "set-cookie" not in started.headers


async def test_over_https_the_binding_cookie_is_secure_and_host_only(tmp_path: Path, klaviyo: str) -> None:
    settings = sandbox_settings(tmp_path, klaviyo, CLIENT_ID, CLIENT_SECRET, public_url="https://kx.example")
    async with app_client(create_app(settings), base_url="https://kx.example") as client:
        site = await create_site(client, settings)
        svc = services_of(client)
        session_id, session = await SessionStore(svc.sessions, svc.clock).create(site["id"])
        client.cookies.set("__Host-kx_admin", session_id)
        started = await client.post(
            f"/v1/sites/{site['id']}/klaviyo/connect", headers={"X-CSRF-Token": session.csrf_token}
        )
    cookie = started.headers["set-cookie"]
    assert cookie.startswith(f"{SECURE_COOKIE}=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("code=x&state=never-issued", 400, "not valid"),
        ("code=x&state=" + "s" * 5000, 400, "not valid"),
        ("error=access_denied&state=never-issued", 400, "not valid"),
        ("state=never-issued", 400, "without a code or an error"),
        ("", 400, "without a code or an error"),
    ],
)
async def test_the_callback_explains_what_went_wrong_in_a_page(
    client: httpx.AsyncClient, query: str, status: int, words: str
) -> None:
    page = await client.get(f"/oauth/klaviyo/callback?{query}")
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert words in page.text and "What to do" in page.text


async def test_without_klaviyo_credentials_the_pages_say_so(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with app_client(create_app(settings)) as client:
        for path in ("/oauth/klaviyo/callback?code=x&state=y", "/oauth/klaviyo/start?link=x"):
            page = await client.get(path)
            assert page.status_code == 503 and "KLAVIYO_CLIENT_ID" in page.text
            assert page.headers["x-frame-options"] == "DENY"

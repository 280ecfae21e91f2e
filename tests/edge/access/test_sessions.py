"""Signing in to the merchant page: the session, its cookie, its timeouts, signing out."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx

from edge.access.sessions import ABSOLUTE_TIMEOUT_S, COOKIE, IDLE_TIMEOUT_S, SECURE_COOKIE
from edge.admin.limits import LIMIT
from tests.apps import app_client, create_site, make_settings, services_of
from tests.databases import all_rows, dump
from tests.edge.admin.support import FakeClock, admin_app, csrf_of, sign_in, sign_in_token_of


async def _rows(client: httpx.AsyncClient) -> list[tuple[Any, ...]]:
    return [row[:3] for row in await all_rows(services_of(client).database, "admin_sessions")]


async def _post_sign_in(client: httpx.AsyncClient, api_key: str, **extra: str) -> httpx.Response:
    form = await client.get("/admin/sign-in")
    data = {"api_key": api_key, "signin_token": sign_in_token_of(form.text), **extra}
    return await client.post("/admin/sign-in", data=data)


async def test_signing_in_makes_a_server_side_session_with_a_strict_http_only_cookie(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    response = await _post_sign_in(client, site["api_key"])
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/integrations"
    cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith(f"{COOKIE}="))
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # plain http here; see the https test
    session_id = cookie.split(";")[0].split("=", 1)[1]
    rows = await _rows(client)
    assert len(rows) == 1
    assert rows[0][0] == hashlib.sha256(session_id.encode()).hexdigest()  # only the hash is stored
    assert rows[0][1] == site["id"]
    assert session_id not in await dump(services_of(client).database)


async def test_over_https_the_cookie_is_secure_and_host_prefixed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, public_url="https://edge.example.com")
    async with app_client(admin_app(settings), base_url="https://edge.example.com") as client:
        site = await create_site(client, settings)
        response = await _post_sign_in(client, site["api_key"])
        assert response.status_code == 303
        cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith(f"{SECURE_COOKIE}="))
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert {"secure", "httponly", "samesite=strict", "path=/"} <= set(attributes)
        assert not any(a.startswith("domain=") for a in attributes)
        page = await client.get("/admin/integrations")
        assert page.status_code == 200


async def test_a_wrong_key_gets_a_friendly_error_and_no_session(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    response = await _post_sign_in(client, "sk_not-the-key")
    assert response.status_code == 401
    assert "does not open any site" in response.text
    assert 'aria-invalid="true"' in response.text
    assert not any(v.startswith(f"{COOKIE}=") for v in response.headers.get_list("set-cookie"))
    assert (await _rows(client)) == []
    assert (await client.get("/admin/integrations")).status_code == 303


async def test_failed_sign_ins_are_limited_per_client_address(
    client: httpx.AsyncClient, site: dict[str, Any], clock: FakeClock
) -> None:
    for _ in range(LIMIT):
        assert (await _post_sign_in(client, "sk_wrong")).status_code == 401
    blocked = await _post_sign_in(client, site["api_key"])  # even the right key waits
    assert blocked.status_code == 429
    assert "paused" in blocked.text
    assert int(blocked.headers["retry-after"]) == 60
    assert (await _rows(client)) == []
    clock.advance(61)
    assert (await _post_sign_in(client, site["api_key"])).status_code == 303


async def test_a_session_ends_after_the_idle_timeout(
    client: httpx.AsyncClient, site: dict[str, Any], clock: FakeClock
) -> None:
    await sign_in(client, site["api_key"])
    clock.advance(IDLE_TIMEOUT_S - 120)
    assert (await client.get("/admin/experiences")).status_code == 200  # activity moves last-seen
    clock.advance(IDLE_TIMEOUT_S - 120)
    assert (await client.get(f"/v1/sites/{site['id']}/experiences")).status_code == 200
    clock.advance(IDLE_TIMEOUT_S)
    page = await client.get("/admin/experiences")
    assert page.status_code == 303
    assert page.headers["location"] == "/admin/sign-in?next=%2Fadmin%2Fexperiences"
    assert (await client.get(f"/v1/sites/{site['id']}/experiences")).status_code == 401
    assert (await _rows(client)) == []  # the expired session was deleted


async def test_a_session_ends_after_the_absolute_timeout_even_when_used(
    client: httpx.AsyncClient, site: dict[str, Any], clock: FakeClock
) -> None:
    await sign_in(client, site["api_key"])
    elapsed = 0
    while elapsed + IDLE_TIMEOUT_S // 2 < ABSOLUTE_TIMEOUT_S:
        clock.advance(IDLE_TIMEOUT_S // 2)
        elapsed += IDLE_TIMEOUT_S // 2
        assert (await client.get("/admin/experiences")).status_code == 200
    clock.advance(ABSOLUTE_TIMEOUT_S - elapsed)
    assert (await client.get("/admin/experiences")).status_code == 303


async def test_signing_out_deletes_the_session_server_side(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    csrf = await sign_in(client, site["api_key"])
    stolen = client.cookies.get(COOKIE)
    assert stolen
    response = await client.post("/admin/sign-out", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/sign-in?signed_out=1"
    assert (await _rows(client)) == []
    # The old cookie, replayed, opens nothing: not the pages, not the API.
    assert client.cookies.get(COOKIE) is None
    client.cookies.set(COOKIE, stolen)
    assert (await client.get("/admin/integrations")).status_code == 303
    assert (await client.get(f"/v1/sites/{site['id']}/experiences")).status_code == 401


async def test_signing_in_again_goes_where_the_merchant_was_going(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    redirect = await client.get("/admin/preview")
    assert redirect.status_code == 303
    form = await client.get(redirect.headers["location"])
    assert 'name="next" value="/admin/preview"' in form.text
    response = await _post_sign_in(client, site["api_key"], next="/admin/preview")
    assert response.headers["location"] == "/admin/preview"
    for evil in ("https://evil.example/admin", "//evil.example/admin", "/admin\\@evil", "/v1/sites"):
        client.cookies.clear()
        response = await _post_sign_in(client, site["api_key"], next=evil)
        assert response.headers["location"] in ("/admin/integrations",), evil


async def test_the_pages_show_the_session_csrf_token_and_strict_headers(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    csrf = await sign_in(client, site["api_key"])
    page = await client.get("/admin/integrations")
    assert csrf_of(page.text) == csrf == (await _rows(client))[0][2]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

"""The configuration API with the page's session: one site, and a CSRF token on every change."""

from __future__ import annotations

from typing import Any

import httpx

from edge.access.csrf import SIGN_IN_COOKIE
from edge.settings import Settings
from tests.apps import create_site
from tests.edge.admin.support import sign_in, sign_in_token_of

EXPERIENCE = {
    "type": "personalization",
    "name": "Free shipping for VIPs",
    "targeting": {"mode": "custom"},
    "variations": [
        {"id": "off", "name": "No banner", "weight": 1, "is_control": True},
        {"id": "on", "name": "Banner", "weight": 1, "is_control": False},
    ],
}


async def test_without_a_session_pages_redirect_to_sign_in_and_the_api_answers_401(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    for path in (
        "/admin",
        "/admin/integrations",
        "/admin/experiences",
        "/admin/experiences/new",
        "/admin/preview",
    ):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/admin/sign-in?next="), path
    response = await client.get(f"/v1/sites/{site['id']}/experiences")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert (await client.get("/admin/sign-in")).status_code == 200


async def test_a_change_needs_the_sessions_csrf_token(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    csrf = await sign_in(client, site["api_key"])
    url = f"/v1/sites/{site['id']}/experiences"
    for headers in ({}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": csrf[:-1]}):
        response = await client.post(url, json=EXPERIENCE, headers=headers)
        assert response.status_code == 403, headers
        assert response.json()["error"]["code"] == "csrf_failed"
    assert (await client.get(url)).json() == {"experiences": []}  # nothing was created
    created = await client.post(url, json=EXPERIENCE, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    item = f"{url}/{created.json()['id']}"
    stale = await client.put(item, json=EXPERIENCE, headers={"If-Match": created.headers["etag"]})
    assert stale.status_code == 403  # PUT, DELETE and the lifecycle actions too
    deleted = await client.delete(item, headers={"If-Match": created.headers["etag"], "X-CSRF-Token": "x"})
    assert deleted.status_code == 403
    started = await client.post(f"{item}/start", headers={"If-Match": created.headers["etag"]})
    assert started.status_code == 403
    assert (await client.get(item)).json()["status"] == "draft"


async def test_a_session_opens_only_its_own_site(
    client: httpx.AsyncClient, site: dict[str, Any], settings: Settings
) -> None:
    other = await create_site(client, settings, name="Other shop")
    csrf = await sign_in(client, site["api_key"])
    for method, path in (("GET", ""), ("GET", "/experiences"), ("POST", "/experiences"), ("GET", "/klaviyo")):
        response = await client.request(
            method, f"/v1/sites/{other['id']}{path}", json=EXPERIENCE if method == "POST" else None,
            headers={"X-CSRF-Token": csrf},
        )  # fmt: skip
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "site_not_found"


async def test_an_authorization_header_is_judged_alone_even_with_a_session(
    client: httpx.AsyncClient, site: dict[str, Any], settings: Settings
) -> None:
    await sign_in(client, site["api_key"])
    url = f"/v1/sites/{site['id']}"
    assert (await client.get(url, headers={"Authorization": "Bearer sk_wrong"})).status_code == 401
    assert (await client.get(url, headers={"Authorization": "Basic abc"})).status_code == 401
    # Bearer calls need no CSRF token (scripts), exactly as before.
    bearer = {"Authorization": f"Bearer {site['api_key']}"}
    created = await client.post(f"{url}/experiences", json=EXPERIENCE, headers=bearer)
    assert created.status_code == 201
    operator = {"Authorization": f"Bearer {settings.operator_token}"}
    assert (await client.get(url, headers=operator)).status_code == 200


async def test_sign_in_is_guarded_by_a_double_submit_token_and_the_origin(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    form = await client.get("/admin/sign-in")
    token = sign_in_token_of(form.text)
    assert client.cookies.get(SIGN_IN_COOKIE) == token
    for data, headers in (
        ({"api_key": site["api_key"]}, {}),  # no token in the form
        ({"api_key": site["api_key"], "signin_token": "forged"}, {}),  # not the cookie's
        ({"api_key": site["api_key"], "signin_token": token}, {"Origin": "https://evil.example"}),
    ):
        response = await client.post("/admin/sign-in", data=data, headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
    client.cookies.delete(SIGN_IN_COOKIE)  # a cross-site form carries no cookie of ours
    response = await client.post("/admin/sign-in", data={"api_key": site["api_key"], "signin_token": token})
    assert response.status_code == 403
    fresh = sign_in_token_of((await client.get("/admin/sign-in")).text)
    assert fresh != token
    response = await client.post(
        "/admin/sign-in",
        data={"api_key": site["api_key"], "signin_token": fresh},
        headers={"Origin": "http://testserver"},
    )
    assert response.status_code == 303


async def test_signing_out_needs_the_form_token(client: httpx.AsyncClient, site: dict[str, Any]) -> None:
    csrf = await sign_in(client, site["api_key"])
    for data in ({}, {"csrf_token": "wrong"}):
        response = await client.post("/admin/sign-out", data=data)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
    assert (await client.get("/admin/integrations")).status_code == 200  # still signed in
    assert (await client.post("/admin/sign-out", data={"csrf_token": csrf})).status_code == 303
    assert (await client.get("/admin/integrations")).status_code == 303

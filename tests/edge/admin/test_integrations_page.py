"""The Integrations card: Klaviyo not configured on this server, and the way back from Klaviyo."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.apps import app_client, connect_directly, create_site, sandbox_settings
from tests.edge.admin.support import admin_app, sign_in


async def test_without_klaviyo_credentials_sign_in_with_klaviyo_is_disabled_and_says_who_fixes_it(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    await sign_in(client, site["api_key"])
    page = await client.get("/admin/integrations")
    button = re.search(r'<button[^>]*id="klaviyo-connect"[^>]*>', page.text)
    assert button is not None
    assert " disabled" in button.group(0) and 'data-action="connect"' not in button.group(0)
    assert 'aria-describedby="klaviyo-unconfigured"' in button.group(0)
    assert "Klaviyo is not configured on this kx-edge server" in page.text
    assert "operator" in page.text and "KLAVIYO_CLIENT_SECRET" in page.text
    assert "Click <strong>Sign in with Klaviyo</strong>" not in page.text  # no steps that cannot work


async def test_with_klaviyo_credentials_the_button_works(tmp_path: Path) -> None:
    settings = sandbox_settings(tmp_path, "http://127.0.0.1:9", "client-id", "client-secret-0123456789")
    async with app_client(admin_app(settings)) as client:
        site = await create_site(client, settings)
        await sign_in(client, site["api_key"])
        page = await client.get("/admin/integrations")
    assert 'data-action="connect" id="klaviyo-connect">Sign in with Klaviyo</button>' in page.text
    assert "klaviyo-unconfigured" not in page.text


async def test_back_from_klaviyo_the_card_says_connected_only_when_it_is(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    await sign_in(client, site["api_key"])
    claimed = await client.get("/admin/integrations?klaviyo=connected")
    assert "klaviyo-outcome" not in claimed.text  # a crafted link cannot claim a connection
    await connect_directly(client, site["id"])
    back = await client.get("/admin/integrations?klaviyo=connected")
    assert (
        '<p class="live" role="status" id="klaviyo-outcome" data-kind="ok">Klaviyo is connected.</p>'
        in back.text
    )
    assert 'id="klaviyo-status">Active</span>' in back.text


async def test_back_from_klaviyo_after_declining_the_card_says_why(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    await sign_in(client, site["api_key"])
    page = await client.get("/admin/integrations?klaviyo=denied&error=access_denied")
    assert "Klaviyo was not connected: permission was not granted (access_denied)" in page.text
    odd = await client.get("/admin/integrations?klaviyo=denied&error=%3Cscript%3E")
    assert "<script>" not in odd.text and "&lt;script&gt;" in odd.text


async def test_a_browser_without_a_session_signs_in_and_lands_on_the_card(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    response = await client.get("/admin/integrations?klaviyo=connected")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/sign-in?next=%2Fadmin%2Fintegrations%3Fklaviyo%3Dconnected"

"""What the server-rendered pages show, read over plain HTTP."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from oauth.connection import ConnectionStatus
from tests.apps import connect_directly, services_of
from tests.edge.access.test_csrf import EXPERIENCE
from tests.edge.admin.support import sign_in


async def test_integrations_shows_a_disconnected_klaviyo_with_sign_in(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    await sign_in(client, site["api_key"])
    page = await client.get("/admin/integrations")
    assert 'id="klaviyo-status">Disconnected</span>' in page.text
    assert ">Sign in with Klaviyo</button>" in page.text
    assert "KLAVIYO_CLIENT_ID" in page.text  # this app has no Klaviyo credentials: the page says so
    assert 'id="klaviyo-disconnect"' not in page.text


async def test_integrations_shows_an_active_connection_with_account_and_scopes(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    await connect_directly(client, site["id"], account_id="acct_123")
    await sign_in(client, site["api_key"])
    page = await client.get("/admin/integrations")
    assert 'id="klaviyo-status">Active</span>' in page.text
    assert "Test account" in page.text and "acct_123" in page.text
    for scope in ("accounts:read", "profiles:read", "segments:read"):
        assert f"<code>{scope}</code>" in page.text
    assert 'id="klaviyo-disconnect"' in page.text
    assert 'id="klaviyo-missing" hidden' in page.text


async def test_integrations_shows_needs_reconnecting_with_the_reason(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    await connect_directly(client, site["id"])
    connections = services_of(client).connections
    connection = await connections.get(site["id"])
    assert connection is not None
    await connections.update(
        dataclasses.replace(
            connection, status=ConnectionStatus.NEEDS_REAUTH, last_error="invalid_grant: revoked"
        )
    )
    await sign_in(client, site["api_key"])
    page = await client.get("/admin/integrations")
    assert 'id="klaviyo-status">Needs reconnecting</span>' in page.text
    assert "invalid_grant: revoked" in page.text
    assert (
        'id="klaviyo-connect" disabled aria-describedby="klaviyo-unconfigured">Reconnect</button>'
        in page.text
    )


async def test_integrations_lists_missing_scopes(client: httpx.AsyncClient, site: dict[str, Any]) -> None:
    await connect_directly(client, site["id"])

    async def uses_events(site_id: str) -> bool:
        return True

    services_of(client).events_scope_hooks.insert(0, uses_events)
    await sign_in(client, site["api_key"])
    page = await client.get("/admin/integrations")
    assert 'id="klaviyo-missing" hidden' not in page.text
    assert "Missing permissions" in page.text and "<code>events:write</code>" in page.text


async def test_the_experiences_list_shows_type_status_traffic_and_updated(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    csrf = await sign_in(client, site["api_key"])
    empty = await client.get("/admin/experiences")
    assert "No experiences yet" in empty.text
    body = {**EXPERIENCE, "id": "free-shipping", "traffic_percent": 50}
    created = await client.post(
        f"/v1/sites/{site['id']}/experiences", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert created.status_code == 201, created.text
    page = await client.get("/admin/experiences")
    assert '<a href="/admin/experiences/free-shipping">Free shipping for VIPs</a>' in page.text
    assert 'data-label="Type">Personalization</td>' in page.text
    assert "badge-draft" in page.text and ">Draft<" in page.text
    assert ">50%<" in page.text
    assert " UTC</td>" in page.text


async def test_the_editor_page_boots_with_the_experience_id_or_says_it_is_missing(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    await sign_in(client, site["api_key"])
    new = await client.get("/admin/experiences/new")
    assert new.status_code == 200
    assert '"experience_id": null' in new.text
    assert "For tests, use Advanced to avoid default assignment" in new.text
    missing = await client.get("/admin/experiences/nope")
    assert missing.status_code == 404
    assert "No experience" in missing.text


async def test_the_preview_lists_sandbox_profiles_only_in_the_demo(
    client: httpx.AsyncClient, site: dict[str, Any]
) -> None:
    await sign_in(client, site["api_key"])
    page = await client.get("/admin/preview")
    assert page.status_code == 200
    assert 'id="kx"' in page.text
    assert "Sandbox profile" not in page.text

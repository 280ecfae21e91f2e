"""Driving a kx-edge app in tests: real lifespan, real routing, no network."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from edge.services import Services
from edge.settings import Settings


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Local settings with a database under tmp_path and fresh secrets."""
    base = Settings(
        data_dir=str(tmp_path / "var"),
        public_url="http://testserver",
        secret_key=secrets.token_urlsafe(32),
        operator_token="op_" + secrets.token_urlsafe(24),
        log_format="text",
        access_log=False,
    )
    return replace(base, **overrides)


# A browser's user agent: httpx's own ("python-httpx/...") is on the crawler list, and a known
# crawler gets every test's control (reason `bot`), so the test clients speak as a browser.
BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


@contextlib.asynccontextmanager
async def app_client(app: Starlette, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client bound to `app` with its lifespan running (as uvicorn would run it)."""
    async with app.router.lifespan_context(app) as state:
        lifespan_state = dict(state or {})

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            scope["state"] = dict(lifespan_state)
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        headers = {"user-agent": BROWSER_UA}
        async with httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers) as client:
            client.services = lifespan_state["services"]  # type: ignore[attr-defined]
            yield client


def services_of(client: httpx.AsyncClient) -> Services:
    found: Services = client.services  # type: ignore[attr-defined]
    return found


def operator(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.operator_token}"}


async def create_site(
    client: httpx.AsyncClient, settings: Settings, name: str = "Shop", origins: list[str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/v1/sites",
        json={"name": name, "allowed_origins": origins or ["https://shop.example.com"]},
        headers=operator(settings),
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def put_experience(client: httpx.AsyncClient, site_id: str, body: dict[str, Any]) -> None:
    """Store a validated experience directly and reload the site (until the config API exists)."""
    from targeting import parse_experience

    svc = services_of(client)
    experience = parse_experience(body)
    await svc.store.create_experience(
        site_id,
        experience.id,
        type=experience.type.value,
        status=experience.status.value,
        body=experience.to_dict(),
        now=svc.now(),
    )
    await svc.runtimes.reload(site_id)


async def connect_directly(client: httpx.AsyncClient, site_id: str, account_id: str = "acct_TEST") -> None:
    """Store an active connection without the OAuth flow (for tests about what comes after it)."""
    from oauth.connection import Connection, ConnectionStatus

    svc = services_of(client)
    await svc.connections.save(
        Connection(
            site_id=site_id,
            status=ConnectionStatus.ACTIVE,
            account_id=account_id,
            account_name="Test account",
            scopes=("accounts:read", "profiles:read", "segments:read"),
            access_token_enc=svc.cipher.encrypt("access"),
            refresh_token_enc=svc.cipher.encrypt("refresh"),
            expires_at=svc.now() + 3600,
            connected_at=svc.now(),
        )
    )
    await svc.runtimes.reload(site_id)


def sandbox_settings(
    tmp_path: Path, base_url: str, client_id: str, client_secret: str, **overrides: Any
) -> Settings:
    """Settings whose Klaviyo endpoints are a sandbox Klaviyo at `base_url`.

    Segment sync is off unless asked for: suites that count the Klaviyo calls of one feature
    (configuration API, events) would otherwise also see the sync's member pages.
    """
    values: dict[str, Any] = {
        "klaviyo_client_id": client_id,
        "klaviyo_client_secret": client_secret,
        "klaviyo_api_base": base_url,
        "klaviyo_authorize_url": base_url + "/oauth/authorize",
        "klaviyo_token_url": base_url + "/oauth/token",
        "klaviyo_revoke_url": base_url + "/oauth/revoke",
        "segment_sync_enabled": False,
    }
    return make_settings(tmp_path, **(values | overrides))

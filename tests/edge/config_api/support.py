"""Apps with the configuration API routes, sites, experiences and a sandbox Klaviyo, for these tests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from edge.app import create_app
from edge.settings import Settings
from edge.storefront.identity import SegmentResolver
from oauth.connection import Connection, ConnectionStatus
from sandbox import DEMO_ACCOUNT_ID, SandboxState, demo_segment_id, demo_state
from tests.apps import app_client, create_site, sandbox_settings, services_of

CLIENT_ID = "kx-edge-config-test"
CLIENT_SECRET = "config-test-secret-0123456789"
SCOPES = ("accounts:read", "profiles:read", "segments:read")
VIP = demo_segment_id("VIP")
WHOLESALE = demo_segment_id("Wholesale")
LAPSED = demo_segment_id("Lapsed")
NEWSLETTER = demo_segment_id("Newsletter")


def config_app(
    settings: Settings, *, resolver: SegmentResolver | None = None, clock: Callable[[], float] = time.time
) -> Starlette:
    """The app as `edge/app.py` builds it, with a resolver and a clock of the test's choice."""
    return create_app(settings, resolver=resolver, clock=clock)


def sandbox_state() -> SandboxState:
    return demo_state(CLIENT_ID, CLIENT_SECRET, "http://testserver/oauth/klaviyo/callback")


def klaviyo_settings(tmp_path: Path, base_url: str, **overrides: Any) -> Settings:
    """Settings whose Klaviyo endpoints are the sandbox at `base_url` (segment sync off)."""
    # A loaded machine must not turn a sandbox answer into `pending`.
    return sandbox_settings(
        tmp_path, base_url, CLIENT_ID, CLIENT_SECRET, **({"resolve_deadline_ms": 5000} | overrides)
    )


async def connect_to_sandbox(
    client: httpx.AsyncClient, site_id: str, state: SandboxState, generation: int = 1
) -> None:
    """An active connection holding real sandbox tokens (as the OAuth flow would store them)."""
    svc = services_of(client)
    tokens = state.issue_tokens(CLIENT_ID, DEMO_ACCOUNT_ID, SCOPES)
    await svc.connections.save(
        Connection(
            site_id=site_id,
            status=ConnectionStatus.ACTIVE,
            generation=generation,
            account_id=DEMO_ACCOUNT_ID,
            account_name="Sandbox Outfitters",
            scopes=SCOPES,
            access_token_enc=svc.cipher.encrypt(tokens.access_token),
            refresh_token_enc=svc.cipher.encrypt(tokens.refresh_token),
            expires_at=svc.now() + tokens.expires_in,
            connected_at=svc.now(),
        )
    )
    await svc.runtimes.reload(site_id)


@dataclass
class Shop:
    client: httpx.AsyncClient
    site: dict[str, Any]

    @property
    def site_id(self) -> str:
        return str(self.site["id"])

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.site['api_key']}"}

    def url(self, suffix: str = "") -> str:
        return f"/v1/sites/{self.site_id}/experiences{suffix}"

    async def create(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(self.url(), json=body, headers=self.auth)

    async def get(self, experience_id: str, **headers: str) -> httpx.Response:
        return await self.client.get(self.url(f"/{experience_id}"), headers=self.auth | headers)

    async def put(self, experience_id: str, body: dict[str, Any], if_match: str | None) -> httpx.Response:
        headers = self.auth | ({"If-Match": if_match} if if_match is not None else {})
        return await self.client.put(self.url(f"/{experience_id}"), json=body, headers=headers)

    async def delete(self, experience_id: str, if_match: str | None) -> httpx.Response:
        headers = self.auth | ({"If-Match": if_match} if if_match is not None else {})
        return await self.client.delete(self.url(f"/{experience_id}"), headers=headers)

    async def act(self, experience_id: str, action: str, if_match: str | None) -> httpx.Response:
        headers = self.auth | ({"If-Match": if_match} if if_match is not None else {})
        return await self.client.post(self.url(f"/{experience_id}/{action}"), headers=headers)

    async def explain(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"/v1/sites/{self.site_id}/explain", json=body, headers=self.auth)

    async def assign(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"/v1/assign?site={self.site['public_key']}", json=body)


@contextlib.asynccontextmanager
async def open_shop(app: Starlette, settings: Settings, name: str = "Shop") -> AsyncIterator[Shop]:
    async with app_client(app) as client:
        yield Shop(client, await create_site(client, settings, name=name))


def etag_of(response: httpx.Response) -> str:
    return response.headers["etag"]


def codes(response: httpx.Response) -> list[str]:
    return [w["code"] for w in response.json()["warnings"]]


def error(response: httpx.Response) -> dict[str, Any]:
    found: dict[str, Any] = response.json()["error"]
    return found


def ids(items: Sequence[dict[str, Any]]) -> list[str]:
    return [str(item["id"]) for item in items]


@dataclass
class Clock:
    """The app's clock, moved by hand (starts at the real time, so tokens look fresh)."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

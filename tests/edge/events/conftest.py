"""Event triggers end to end: the real app and lifespan, a ScriptedResolver for identities, and
the sandbox Klaviyo on a real socket, which validates every event body and dedupes by unique_id.

`shop(...)` runs an app with the `Events` component wired as app.py wires it (with test timings), a site with
a personalization (VIPs see a banner) and a test everyone enters, connected with real tokens the
sandbox issued (with or without events:write).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.app import create_app
from edge.events import Events, EventsConfig, SenderConfig, replace_events
from edge.resolver.results import Identified
from edge.services import Services
from edge.settings import Settings
from oauth.connection import Connection, ConnectionStatus
from sandbox import (
    DEMO_ACCOUNT_ID,
    DEMO_PEOPLE,
    SandboxState,
    demo_segment_id,
    demo_state,
    running_fake_klaviyo,
)
from tests.apps import app_client, create_site, put_experience, sandbox_settings, services_of
from tests.edge.scripted_resolver import ScriptedResolver
from tests.targeting.factories import doc, seg

CLIENT_ID = "kx-edge-events-test"
CLIENT_SECRET = "events-test-client-secret"
VIP = DEMO_PEOPLE[0]  # Ava: in the VIP segment
NOT_VIP = DEMO_PEOPLE[6]  # George: in no segment
WITH_EVENTS = ("accounts:read", "profiles:read", "segments:read", "events:write")
WITHOUT_EVENTS = ("accounts:read", "profiles:read", "segments:read")
ALL_ON = {
    "entered_test": {"enabled": True},
    "saw_personalization": {"enabled": True},
    "profile_sync": {"enabled": True},
}
BANNER = doc(
    "free-shipping",
    type="personalization",
    rules={"any": [seg(demo_segment_id("VIP"))]},
    variation_ids=("no-banner", "banner"),
)
CHECKOUT = doc("checkout", variation_ids=("control", "one-page"), weights=(1, 1))


class ManualClock:
    """Wall-clock time that a test moves (the sandbox checks event times against its own clock)."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now


class LoseAnswers(httpx.AsyncBaseTransport):
    """Sends for real, then loses the first `times` answers from `path` as a read timeout would:
    Klaviyo got the event, the sender never learnt it."""

    def __init__(self, path: str, times: int = 1) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.path = path
        self.times = times

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path == self.path and self.times > 0:
            self.times -= 1
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def fast_config(**overrides: Any) -> EventsConfig:
    """Test timings: flush at once, poll often, back off briefly."""
    sender = SenderConfig(poll_interval_s=0.02, backoff_base_s=0.05, backoff_max_s=0.2)
    base: dict[str, Any] = {"flush_interval_s": 0.001, "sender": sender}
    base.update(overrides)
    return EventsConfig(**base)


@dataclass
class Shop:
    client: httpx.AsyncClient
    site: dict[str, Any]
    events: Events
    sandbox: SandboxState

    @property
    def svc(self) -> Services:
        return services_of(self.client)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.site['api_key']}"}

    async def assign(
        self, visitor_id: str, kx: str | None = None, url: str | None = None, sticky: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"visitor_id": visitor_id}
        if kx is not None:
            body["kx"] = kx
        if url is not None:
            body["url"] = url
        if sticky is not None:
            body["sticky"] = sticky
        response = await self.client.post(
            f"/v1/assign?site={self.site['public_key']}",
            content=httpx.Request("POST", "/", json=body).content,
            headers={"content-type": "text/plain;charset=UTF-8"},
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def put_triggers(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.put(
            f"/v1/sites/{self.site['id']}/klaviyo/triggers", json=body, headers=self.headers
        )

    async def status(self) -> dict[str, Any]:
        response = await self.client.get(
            f"/v1/sites/{self.site['id']}/klaviyo/triggers/status", headers=self.headers
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def pending(self) -> int:
        return (await self.events.outbox.stats(self.site["id"], time.time())).size


@pytest.fixture
def sandbox() -> SandboxState:
    return demo_state(CLIENT_ID, CLIENT_SECRET, "http://testserver/oauth/klaviyo/callback")


@pytest.fixture
def fake_klaviyo(sandbox: SandboxState) -> Iterator[str]:
    with running_fake_klaviyo(sandbox) as base_url:
        yield base_url


def klaviyo_settings(tmp_path: Path, base_url: str, **overrides: Any) -> Settings:
    # A loaded machine must not turn a sandbox answer into `pending` (which sends no event).
    return sandbox_settings(
        tmp_path, base_url, CLIENT_ID, CLIENT_SECRET, **({"resolve_deadline_ms": 5000} | overrides)
    )


@pytest.fixture
def settings(tmp_path: Path, fake_klaviyo: str) -> Settings:
    return klaviyo_settings(tmp_path, fake_klaviyo)


async def connect_with_tokens(
    svc: Services, sandbox: SandboxState, site_id: str, scopes: tuple[str, ...]
) -> None:
    """An active connection holding real sandbox tokens, as the OAuth callback would store it."""
    tokens = sandbox.issue_tokens(CLIENT_ID, DEMO_ACCOUNT_ID, scopes)
    await svc.connections.save(
        Connection(
            site_id=site_id,
            status=ConnectionStatus.ACTIVE,
            account_id=DEMO_ACCOUNT_ID,
            account_name="Sandbox Outfitters",
            scopes=scopes,
            access_token_enc=svc.cipher.encrypt(tokens.access_token),
            refresh_token_enc=svc.cipher.encrypt(tokens.refresh_token),
            expires_at=svc.now() + 3600,
            connected_at=svc.now(),
        )
    )
    await svc.runtimes.reload(site_id)


@contextlib.asynccontextmanager
async def shop(
    settings: Settings,
    sandbox: SandboxState,
    *,
    config: EventsConfig | None = None,
    scopes: tuple[str, ...] | None = WITH_EVENTS,
    triggers: dict[str, Any] | None = None,
    start: bool = True,
    clock: ManualClock | None = None,
    site: dict[str, Any] | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Shop]:
    """An app with events wired; `site` reuses a site created by an earlier run on the same file."""
    resolver = ScriptedResolver({VIP.kx: Identified(frozenset({demo_segment_id("VIP")}))})
    app = create_app(
        settings,
        resolver=resolver,
        clock=clock or time.time,
        http_transport=http_transport,
    )
    async with app_client(app) as client:
        svc = services_of(client)
        events = await replace_events(svc, config or fast_config())  # as app.py wires it
        try:
            if site is None:
                site = await create_site(client, settings)
                for body in (BANNER, CHECKOUT):
                    await put_experience(client, site["id"], body)
                if scopes is not None:
                    await connect_with_tokens(svc, sandbox, site["id"], scopes)
            the_shop = Shop(client, site, events, sandbox)
            if triggers:
                assert (await the_shop.put_triggers(triggers)).status_code == 200
            if start:
                await events.start()
            yield the_shop
        finally:
            await events.aclose()


@pytest.fixture
async def running(settings: Settings, sandbox: SandboxState) -> AsyncIterator[Shop]:
    """A shop with every trigger on, sending."""
    async with shop(settings, sandbox, triggers=ALL_ON) as started:
        yield started

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from sandbox import DEMO_ACCOUNT_ID, SandboxState, create_fake_klaviyo, demo_state
from tests.sandbox.support import ALL_SCOPES, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, REVISION, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SandboxState:
    return demo_state(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, clock=clock)


@pytest.fixture
def app(state: SandboxState) -> Starlette:
    return create_fake_klaviyo(state)


@pytest.fixture
def headers(state: SandboxState) -> dict[str, str]:
    """Headers of an installed app holding every scope kx-edge asks for."""
    tokens = state.issue_tokens(CLIENT_ID, DEMO_ACCOUNT_ID, ALL_SCOPES)
    return {"revision": REVISION, "Authorization": f"Bearer {tokens.access_token}"}


@pytest.fixture
async def client(app: Starlette, headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake", headers=headers) as c:
        yield c

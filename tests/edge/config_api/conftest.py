from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from edge.settings import Settings
from sandbox import SandboxState, running_fake_klaviyo
from tests.apps import make_settings
from tests.edge.config_api.support import (
    Clock,
    Shop,
    config_app,
    connect_to_sandbox,
    klaviyo_settings,
    open_shop,
    sandbox_state,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, max_body_bytes=4096)


@pytest.fixture
async def shop(settings: Settings) -> AsyncIterator[Shop]:
    """A site on an app without Klaviyo configured (so: never connected)."""
    async with open_shop(config_app(settings), settings) as opened:
        yield opened


@pytest.fixture
def sandbox() -> SandboxState:
    """The fake Klaviyo's state: the demo account (VIP and Wholesale starred, Lapsed, Newsletter)."""
    return sandbox_state()


@pytest.fixture
def sandbox_url(sandbox: SandboxState) -> Iterator[str]:
    """The fake Klaviyo on a real socket."""
    with running_fake_klaviyo(sandbox) as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def klaviyo_configured(tmp_path: Path, sandbox_url: str) -> Settings:
    return klaviyo_settings(tmp_path, sandbox_url)


@pytest.fixture
async def unconnected(klaviyo_configured: Settings, clock: Clock) -> AsyncIterator[Shop]:
    """A site on an app whose Klaviyo is the sandbox, not connected yet."""
    async with open_shop(config_app(klaviyo_configured, clock=clock), klaviyo_configured) as opened:
        yield opened


@pytest.fixture
async def connected(unconnected: Shop, sandbox: SandboxState) -> Shop:
    """The same site, connected to the sandbox's demo account with real sandbox tokens."""
    await connect_to_sandbox(unconnected.client, unconnected.site_id, sandbox)
    return unconnected

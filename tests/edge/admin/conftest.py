from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.settings import Settings
from tests.apps import app_client, create_site, make_settings
from tests.edge.admin.support import FakeClock, admin_app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(admin_app(settings, clock=clock)) as client:
        yield client


@pytest.fixture
async def site(client: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    return await create_site(client, settings, name="Sandbox Outfitters")

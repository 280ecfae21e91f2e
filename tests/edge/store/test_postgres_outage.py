"""PostgreSQL down and back under a running app: the storefront keeps answering from memory, the
configuration API answers 503 `store_unavailable`, and once PostgreSQL answers again everything
catches up by itself, including a change another node made meanwhile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.app import create_app
from edge.store import SqlSiteStore, StoreUnavailable
from edge.store.postgres_db import PostgresDatabase
from targeting import parse_experience
from tests.apps import app_client, create_site, make_settings, put_experience
from tests.edge.store.tcp_proxy import TcpProxy
from tests.targeting.factories import doc
from tests.waiting import free_port, wait_until_async

pytestmark = pytest.mark.postgres


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    running = TcpProxy(5432)
    await running.start()
    yield running
    await running.stop()


async def _assign(client: httpx.AsyncClient, site: dict[str, Any]) -> list[str]:
    response = await client.post(f"/v1/assign?site={site['public_key']}", json={"visitor_id": "v" * 22})
    assert response.status_code == 200, response.text
    return sorted(e["id"] for e in response.json()["experiences"])


async def test_the_storefront_rides_out_an_outage_and_the_app_catches_up(
    tmp_path: Path, postgres_schema_url: str, proxy: TcpProxy
) -> None:
    through_proxy = postgres_schema_url.replace(":5432/", f":{proxy.port}/")
    settings = make_settings(tmp_path, database_url=through_proxy, database_timeout_s=0.5)
    async with app_client(create_app(settings)) as client:
        site = await create_site(client, settings)
        headers = {"Authorization": f"Bearer {site['api_key']}"}
        await put_experience(client, site["id"], doc("checkout"))
        assert await _assign(client, site) == ["checkout"]

        await proxy.stop()
        assert await _assign(client, site) == ["checkout"]  # from memory
        down = await client.get(f"/v1/sites/{site['id']}/experiences", headers=headers)
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "store_unavailable"
        assert down.headers["retry-after"] == "1"
        assert (await client.get("/readyz")).status_code == 503
        # Meanwhile another node (PostgreSQL itself is up for it) adds an experience.
        other = PostgresDatabase(postgres_schema_url)
        await other.open()
        banner = parse_experience(doc("banner", type="personalization", variation_ids=("none", "shown")))
        await SqlSiteStore(other).create_experience(
            site["id"], "banner", type="personalization", status="live", body=banner.to_dict(), now=1
        )
        await other.close()
        assert await _assign(client, site) == ["checkout"]  # still the configuration in memory

        await proxy.start()

        async def caught_up() -> bool:
            return await _assign(client, site) == ["banner", "checkout"]

        await wait_until_async(caught_up, timeout=30, what="the watcher to reload the site")
        listed = await client.get(f"/v1/sites/{site['id']}/experiences", headers=headers)
        assert listed.status_code == 200
        assert sorted(e["id"] for e in listed.json()["experiences"]) == ["banner", "checkout"]
        assert (await client.get("/readyz")).status_code == 200


async def test_a_server_that_never_answers_fails_fast_with_the_password_masked() -> None:
    db = PostgresDatabase(f"postgresql://kx:s3cret@127.0.0.1:{free_port()}/kx", timeout_s=0.3)
    with pytest.raises(StoreUnavailable) as refused:
        await db.open()
    assert "s3cret" not in str(refused.value) and "kx:****@" in str(refused.value)

"""A change made through one app instance reaches `/v1/assign` on another that shares the SQLite
file, through the runtime watcher (every 0.5 s), without a restart."""

from __future__ import annotations

from pathlib import Path

from edge.settings import Settings
from tests.apps import app_client, make_settings
from tests.edge.config_api.support import Shop, config_app, etag_of, open_shop
from tests.targeting.factories import doc
from tests.waiting import wait_until_async

BOUND_S = 10.0  # the watcher polls every 0.5 s; the bound only stops a broken watcher hanging the test


async def test_a_change_in_one_worker_reaches_assignment_in_another(tmp_path: Path) -> None:
    settings: Settings = make_settings(tmp_path)
    async with open_shop(config_app(settings), settings) as writer, app_client(config_app(settings)) as other:
        reader = Shop(other, writer.site)
        visitor = {"visitor_id": "w" * 22}

        async def live_ids() -> list[str]:
            response = await reader.assign(visitor)
            assert response.status_code == 200, response.text
            return [e["id"] for e in response.json()["experiences"]]

        assert await live_ids() == []  # the reader has loaded the site: a stale copy is possible now

        created = await writer.create(doc("hero", status="live", variation_ids=("a", "b")))
        assert created.status_code == 201

        async def reader_sees_hero() -> bool:
            return await live_ids() == ["hero"]

        await wait_until_async(
            reader_sees_hero, timeout=BOUND_S, what="the other worker to see the new experience"
        )

        paused = await writer.act("hero", "pause", if_match=etag_of(created))
        assert paused.status_code == 200

        async def reader_drops_hero() -> bool:
            return await live_ids() == []

        await wait_until_async(
            reader_drops_hero, timeout=BOUND_S, what="the other worker to drop the paused one"
        )

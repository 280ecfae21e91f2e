"""A 202 from /v1/track means the order is in the store: a real server killed (SIGKILL) right
after answering loses no counted order, and its id still counts once after a restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from edge.app import create_app
from edge.settings import Settings
from edge.store import open_database
from edge.store.results import SqlResultsStore
from tests.apps import BROWSER_UA, app_client, create_site, make_settings, put_experience
from tests.targeting.factories import doc
from tests.waiting import free_port, port_answers, wait_until

ROOT = Path(__file__).resolve().parents[3]
KX_EDGE = str(Path(sys.executable).with_name("kx-edge"))
SHOP = "https://shop.example.com"


async def _seed(settings: Settings) -> dict[str, Any]:
    async with app_client(create_app(settings)) as client:
        site = await create_site(client, settings, origins=[SHOP])
        await put_experience(client, site["id"], doc("hero", variation_ids=("control", "b"), weights=(1, 1)))
        return site


def _environment(settings: Settings) -> dict[str, str]:
    assert settings.secret_key is not None and settings.operator_token is not None
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
    return clean | {
        "KX_EDGE_DATABASE": str(settings.database_path),
        "KX_EDGE_DATA_DIR": settings.data_dir,
        "KX_EDGE_SECRET_KEY": settings.secret_key,
        "KX_EDGE_OPERATOR_TOKEN": settings.operator_token,
        "KX_EDGE_SEGMENT_SYNC_ENABLED": "false",
        "KX_EDGE_ACCESS_LOG": "false",
        "KX_EDGE_RESULTS_FLUSH_INTERVAL_S": "3600",  # exposures stay in memory: only orders are durable
    }


def _post(port: int, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "text/plain;charset=UTF-8", "user-agent": BROWSER_UA, "origin": SHOP},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _serve(port: int, environment: dict[str, str]) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [KX_EDGE, "serve", "--port", str(port)], cwd=ROOT, env=environment,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_until(lambda: port_answers(port), timeout=30, what="the server to listen")
    return server


async def _orders(settings: Settings, site_id: str) -> tuple[int, float]:
    db = await open_database(settings)
    try:
        cells = await SqlResultsStore(db).result_cells(site_id, "hero", first_day=None, last_day=None)
    finally:
        await db.close()
    return sum(c.orders for c in cells), sum(c.revenue for c in cells)


@pytest.mark.slow
def test_a_server_killed_right_after_a_202_loses_no_order(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    site = asyncio.run(_seed(settings))
    environment = _environment(settings)
    track = f"/v1/track?site={site['public_key']}"
    port = free_port()
    server = _serve(port, environment)
    try:
        status, visitor = _post(port, f"/v1/assign?site={site['public_key']}", {})
        assert status == 200
        for n in range(5):
            order = {"visitor_id": visitor["visitor_id"], "sticky": visitor["sticky"], "event": "order",
                     "order_id": f"kill-{n}", "value": 10.0 + n, "currency": "USD"}  # fmt: skip
            assert _post(port, track, order) == (202, {"accepted": True, "duplicate": False})
        server.send_signal(signal.SIGKILL)  # right after the last 202: no shutdown, no flush
    finally:
        server.kill()
        server.wait(timeout=10)
    assert asyncio.run(_orders(settings, site["id"])) == (5, 60.0)

    port = free_port()
    again = _serve(port, environment)
    try:
        order["value"] = 99.0
        assert _post(port, track, order) == (202, {"accepted": True, "duplicate": True})
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=20)
    assert asyncio.run(_orders(settings, site["id"])) == (5, 60.0)

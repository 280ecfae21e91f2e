"""`POST /v1/track` throughput: orders acknowledged once durable (group commit), on SQLite.

Run from the repository root: `.venv/bin/python -m bench.track [--duration 10] [--connections 32]`.

A temp SQLite file holds a site with one live test; `kx-edge serve` (one worker) serves it. Each
of `--connections` clients assigns a visitor once, then sends orders with fresh order ids (each
a new converter's first order on its first pass, later orders of the same visitors after) for
`--duration` seconds, and one repeat of a known id per 50 requests (a duplicate). Every answer
must be a 202; the figures are requests per second and latency percentiles, then the store is
read to check that every acknowledged order is there exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from edge.app import create_app
from edge.settings import Settings, load_settings
from edge.store import open_database
from edge.store.results import SqlResultsStore

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "https://shop.example.com"
BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
HEADERS = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN, "User-Agent": BROWSER_UA}
TEST = {
    "id": "hero",
    "name": "Hero",
    "type": "test",
    "status": "live",
    "targeting": {"mode": "custom", "rules": {"all": []}},
    "variations": [
        {"id": "control", "name": "Control", "weight": 1, "is_control": True},
        {"id": "b", "name": "B", "weight": 1},
    ],
}


async def seed(settings: Settings) -> dict[str, Any]:
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        svc = dict(state or {})["services"]
        transport = httpx.ASGITransport(app=lambda s, r, c: app({**s, "state": {"services": svc}}, r, c))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            operator = {"Authorization": f"Bearer {settings.operator_token}"}
            made = await client.post(
                "/v1/sites", json={"name": "Bench", "allowed_origins": [ORIGIN]}, headers=operator
            )
            site: dict[str, Any] = made.json()
            key = {"Authorization": f"Bearer {site['api_key']}"}
            put = await client.post(f"/v1/sites/{site['id']}/experiences", json=TEST, headers=key)
            if put.status_code >= 300:
                raise RuntimeError(put.text)
            await client.post(f"/v1/sites/{site['id']}/experiences/hero/start", headers=key)
    return site


async def load(base: str, public_key: str, connections: int, duration: float) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    duplicates = 0
    sent = 0
    deadline = time.monotonic() + duration

    async def client(n: int) -> None:
        nonlocal duplicates, sent
        async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=10) as http:
            answer = (await http.post(f"/v1/assign?site={public_key}", content="{}")).json()
            i = 0
            while time.monotonic() < deadline:
                i += 1
                order_id = f"c{n}-{i}" if i % 50 else f"c{n}-1"
                body = {"visitor_id": answer["visitor_id"], "sticky": answer["sticky"], "event": "order",
                        "order_id": order_id, "value": 10.0, "currency": "USD"}  # fmt: skip
                started = time.perf_counter()
                response = await http.post(f"/v1/track?site={public_key}", content=json.dumps(body))
                latencies.append(time.perf_counter() - started)
                if response.status_code != 202:
                    raise RuntimeError(f"{response.status_code}: {response.text}")
                sent += 1
                duplicates += response.json()["duplicate"]

    await asyncio.gather(*(client(n) for n in range(connections)))
    return latencies, sent, duplicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kx-bench-track-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
        env.update(
            KX_EDGE_DATA_DIR=tmp, KX_EDGE_DATABASE=str(Path(tmp) / "kx.sqlite3"),
            KX_EDGE_SECRET_KEY=secrets.token_urlsafe(32), KX_EDGE_OPERATOR_TOKEN=secrets.token_urlsafe(24),
            KX_EDGE_SEGMENT_SYNC_ENABLED="false", KX_EDGE_ACCESS_LOG="false",
        )  # fmt: skip
        settings = load_settings(environ=env).settings
        site = asyncio.run(seed(settings))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        kx_edge = str(Path(sys.executable).with_name("kx-edge"))
        server = subprocess.Popen([kx_edge, "serve", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(base + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)  # bounded by the deadline
            latencies, sent, duplicates = asyncio.run(
                load(base, site["public_key"], args.connections, args.duration)
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)

        async def stored() -> int:
            db = await open_database(settings)
            try:
                cells = await SqlResultsStore(db).result_cells(
                    site["id"], "hero", first_day=None, last_day=None
                )
            finally:
                await db.close()
            return sum(c.orders for c in cells)

        orders = asyncio.run(stored())
    latencies.sort()

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    print(f"/v1/track, SQLite, {args.connections} connections, {args.duration:.0f} s, one kx-edge worker")
    print(f"  requests: {sent}  ({sent / args.duration:,.0f}/s), duplicates answered: {duplicates}")
    print(
        f"  latency ms: p50 {pick(0.5):.2f}  p90 {pick(0.9):.2f}  p99 {pick(0.99):.2f}  max {latencies[-1] * 1000:.2f}"
    )
    print(
        f"  orders in the store: {orders} (expected {sent - duplicates}): {'ok' if orders == sent - duplicates else 'MISMATCH'}"
    )
    if orders != sent - duplicates:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

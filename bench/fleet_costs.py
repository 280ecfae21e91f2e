"""What one page view costs the shared stores: Redis commands and PostgreSQL writes per visit.

Run from the repository root: `.venv/bin/python -m bench.fleet_costs [--visits 200]
[--redis redis://127.0.0.1:6379/11] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]`.

Two nodes (two apps with their own processes' state: L1, memo) on one PostgreSQL database (made
for the run, dropped after) and one Redis (a key prefix of the run), a sandbox Klaviyo on a real
socket, one site connected to it with a live test on the VIP segment and the `entered_test`
event trigger on. Redis commands are counted with `MONITOR`, keeping only commands that name
the run's prefix (other users of the same Redis do not count); PostgreSQL rows written are the
`pg_stat_database` insert, update and delete deltas of the run's own database (read after a
`pg_stat_clear_snapshot`, and after waiting for the statistics to be flushed). Printed per visit:
- first visit, `_kx` never seen (a Klaviyo resolution on node A),
- return visit on the same node (sticky token, L1 warm),
- first sight of an already resolved `_kx` on the other node (L2 hit on node B),
- anonymous first visit.
These are the figures docs/deploy.md's sizing table multiplies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import psycopg
import redis

from edge.app import create_app
from edge.services import Services
from edge.settings import Settings
from oauth.connection import Connection, ConnectionStatus
from sandbox import DEMO_ACCOUNT_ID, DEMO_PEOPLE, demo_segment_id, demo_state, running_fake_klaviyo

CLIENT_ID = "kx-edge-costs"
CLIENT_SECRET = "costs-secret-0123456789abcdef"  # noqa: S105 (the sandbox Klaviyo's, made up)
SCOPES = ("accounts:read", "profiles:read", "segments:read", "events:write")
# A shopper's browser: a crawler's user agent (httpx's own) enters no test, sends no event and is
# not counted in results, which would leave those writes out of the figures.
SHOPPER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


class RedisCounter:
    """Counts the MONITOR lines that name `prefix`, in a thread."""

    def __init__(self, url: str, prefix: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._prefix = prefix
        self.count = 0
        self.commands: dict[str, int] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RedisCounter:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._client.ping()  # a line for the monitor to wake on
        self._thread.join(5)

    def _run(self) -> None:
        with self._client.monitor() as monitor:  # type: ignore[no-untyped-call]
            self._ready.set()
            for event in monitor.listen():
                if self._stop.is_set():
                    return
                command = str(event.get("command", ""))
                if self._prefix in command:
                    self.count += 1
                    name = command.split(" ", 1)[0].upper()
                    self.commands[name] = self.commands.get(name, 0) + 1


def pg_rows(admin_url: str, dbname: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = %s",
            (dbname,),
        ).fetchone()
        return int(row[0]) if row else 0


@contextlib.asynccontextmanager
async def node(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        lifespan = dict(state or {})

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            scope["state"] = dict(lifespan)
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers={"User-Agent": SHOPPER_UA}
        ) as client:
            yield client, lifespan["services"]


async def measure(
    label: str,
    visits: int,
    body: Callable[[int], dict[str, Any]],
    client: httpx.AsyncClient,
    public_key: str,
    counter: RedisCounter,
    pg: Callable[[], int],
    idle: tuple[int, int] = (0, 0),
) -> tuple[int, int]:
    """Redis commands and PostgreSQL rows of the scenario, net of `idle` (what the same time costs
    with no visit at all: the background loops' polling); printed per visit."""
    await asyncio.sleep(1.0)  # let the previous scenario's background work end
    redis_before, rows_before = counter.count, pg()
    for i in range(visits):
        response = await client.post(f"/v1/assign?site={public_key}", json=body(i))
        assert response.status_code == 200, response.text
    await asyncio.sleep(1.5)  # the events flush (0.5 s) and PostgreSQL's statistics flush
    redis_ops = counter.count - redis_before - idle[0]
    rows = pg() - rows_before - idle[1]
    if visits:
        print(
            f"{label:55s} Redis commands/visit {redis_ops / visits:6.2f}   PostgreSQL rows/visit {rows / visits:6.2f}"
        )
    else:
        print(f"{label:55s} Redis commands {redis_ops}   PostgreSQL rows {rows}")
    return redis_ops, rows


async def run(args: argparse.Namespace) -> None:
    prefix = f"kxcost:{secrets.token_hex(4)}:"
    dbname = f"kx_costs_{secrets.token_hex(4)}"
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    db_url = args.postgres.rsplit("/", 1)[0] + f"/{dbname}"
    state = demo_state(CLIENT_ID, CLIENT_SECRET, "http://testserver/oauth/klaviyo/callback")
    people = [p for p in DEMO_PEOPLE if p.kx]
    try:
        with TemporaryDirectory() as tmp, running_fake_klaviyo(state) as klaviyo_url:
            common: dict[str, Any] = {
                "public_url": "http://testserver", "secret_key": secrets.token_urlsafe(32),
                "operator_token": "op_" + secrets.token_urlsafe(16), "log_format": "text", "access_log": False,
                "klaviyo_client_id": CLIENT_ID, "klaviyo_client_secret": CLIENT_SECRET,
                "klaviyo_api_base": klaviyo_url, "klaviyo_authorize_url": klaviyo_url + "/oauth/authorize",
                "klaviyo_token_url": klaviyo_url + "/oauth/token", "klaviyo_revoke_url": klaviyo_url + "/oauth/revoke",
                "segment_sync_enabled": False, "resolve_deadline_ms": 5000,
                "database_url": db_url, "redis_url": args.redis, "redis_prefix": prefix,
            }  # fmt: skip
            a_settings = Settings(data_dir=str(Path(tmp) / "a"), **common)
            b_settings = Settings(data_dir=str(Path(tmp) / "b"), **common)
            op = {"Authorization": f"Bearer {common['operator_token']}"}
            async with node(a_settings) as (a, svc), node(b_settings) as (b, _):
                site = (
                    await a.post("/v1/sites", json={"name": "Shop", "allowed_origins": []}, headers=op)
                ).json()
                key = {"Authorization": f"Bearer {site['api_key']}"}
                tokens = state.issue_tokens(CLIENT_ID, DEMO_ACCOUNT_ID, SCOPES)
                await svc.connections.save(
                    Connection(
                        site_id=site["id"], status=ConnectionStatus.ACTIVE, account_id=DEMO_ACCOUNT_ID,
                        account_name="Sandbox", scopes=SCOPES,
                        access_token_enc=svc.cipher.encrypt(tokens.access_token),
                        refresh_token_enc=svc.cipher.encrypt(tokens.refresh_token),
                        expires_at=svc.now() + tokens.expires_in, connected_at=svc.now(),
                    )
                )  # fmt: skip
                await svc.runtimes.reload(site["id"])
                rules = {
                    "any": [
                        {
                            "attribute": "klaviyo_segment",
                            "operator": "equals",
                            "value": demo_segment_id("VIP"),
                        }
                    ]
                }
                experience = {
                    "id": "hero", "type": "test", "name": "Hero", "status": "live",
                    "targeting": {"mode": "custom", "rules": rules}, "traffic_percent": 100,
                    "variations": [{"id": "control", "name": "A", "weight": 1, "is_control": True},
                                   {"id": "b", "name": "B", "weight": 1, "is_control": False}],
                }  # fmt: skip
                assert (
                    await a.post(f"/v1/sites/{site['id']}/experiences", json=experience, headers=key)
                ).status_code == 201
                put = await a.put(
                    f"/v1/sites/{site['id']}/klaviyo/triggers",
                    json={"entered_test": {"enabled": True}},
                    headers=key,
                )
                assert put.status_code == 200, put.text
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:  # node B sees the site
                    if (await b.post(f"/v1/assign?site={site['public_key']}", json={})).status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                pk = site["public_key"]
                kxs = [p.kx for p in people][: args.visits]
                n = len(kxs)
                sticky: dict[int, str] = {}
                with RedisCounter(args.redis, prefix) as counter:
                    pg = lambda: pg_rows(args.postgres, dbname)  # noqa: E731

                    def first(i: int) -> dict[str, Any]:
                        return {"visitor_id": f"v{i:06d}", "kx": kxs[i]}

                    async def remember() -> None:
                        for i in range(n):
                            answer = (await a.post(f"/v1/assign?site={pk}", json=first(i))).json()
                            sticky[i] = answer["sticky"]

                    idle = await measure("idle, both nodes (subtracted below)", 0, first, a, pk, counter, pg)
                    await measure(
                        "first visit, new _kx (Klaviyo resolution), node A",
                        n,
                        first,
                        a,
                        pk,
                        counter,
                        pg,
                        idle,
                    )
                    await remember()
                    await measure(
                        "return visit, same node (L1 warm, sticky token)", n,
                        lambda i: first(i) | {"sticky": sticky[i]}, a, pk, counter, pg, idle,
                    )  # fmt: skip
                    await measure(
                        "first visit of a resolved _kx on node B (L2 hit)", n,
                        lambda i: {"visitor_id": f"w{i:06d}", "kx": kxs[i]}, b, pk, counter, pg, idle,
                    )  # fmt: skip
                    await measure(
                        "anonymous first visit",
                        args.visits,
                        lambda i: {"visitor_id": f"anon{i:06d}"},
                        a,
                        pk,
                        counter,
                        pg,
                        idle,
                    )
                    print(f"Redis commands seen by name: {dict(sorted(counter.commands.items()))}")
                print(f"(identified visitors measured: {n}; the sandbox holds {len(people)} with a _kx)")
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        client = redis.Redis.from_url(args.redis)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--visits", type=int, default=200)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

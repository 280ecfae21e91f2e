"""Two processes, one Redis, one connection store: an expiring token is refreshed exactly once.

Each worker process has its own TokenManager over a shared SQLite-file ConnectionStore (written
here: the edge's store is its own concern) and a RedisLockProvider on the same prefix. The
token endpoint is a real HTTP server in this process that counts calls; it holds its answer
until the other worker is seen waiting for the refresh lock, so the two refreshes overlap.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, closing
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from edge.fleet.locks import RedisLockProvider
from oauth.client import KlaviyoOAuthClient
from oauth.connection import Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.errors import LockTimeout
from oauth.settings import KlaviyoOAuthConfig
from oauth.storage import LockProvider
from oauth.tokens import TokenManager
from tests.cluster import RedisServer
from tests.oauth.support import BASIC, CLIENT_ID, CLIENT_SECRET, SECRET_KEY, SITE, token_answer
from tests.waiting import free_port, wait_until

SPAWN = multiprocessing.get_context("spawn")


class SqliteConnectionStore:
    """A `ConnectionStore` over one SQLite file, safe across processes (JSON records)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        with closing(self._connect()) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS connections"
                " (site_id TEXT PRIMARY KEY, generation INTEGER NOT NULL, record TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    async def get(self, site_id: str) -> Connection | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT record FROM connections WHERE site_id = ?", (site_id,)).fetchone()
        return None if row is None else Connection.from_record(json.loads(row[0]))

    async def save(self, connection: Connection) -> Connection:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT generation FROM connections WHERE site_id = ?", (connection.site_id,)
            ).fetchone()
            stored = Connection.from_record(
                {**connection.to_record(), "generation": (row[0] if row else 0) + 1}
            )
            db.execute(
                "INSERT OR REPLACE INTO connections VALUES (?, ?, ?)",
                (stored.site_id, stored.generation, json.dumps(stored.to_record())),
            )
            db.execute("COMMIT")
        return stored

    async def update(self, connection: Connection) -> bool:
        with closing(self._connect()) as db:
            cursor = db.execute(
                "UPDATE connections SET record = ? WHERE site_id = ? AND generation = ?",
                (json.dumps(connection.to_record()), connection.site_id, connection.generation),
            )
            return cursor.rowcount == 1

    async def disconnect(self, site_id: str) -> Connection | None:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT record FROM connections WHERE site_id = ?", (site_id,)).fetchone()
            previous = None if row is None else Connection.from_record(json.loads(row[0]))
            if previous is not None:
                gone = previous.as_disconnected()
                db.execute(
                    "UPDATE connections SET generation = ?, record = ? WHERE site_id = ?",
                    (gone.generation, json.dumps(gone.to_record()), site_id),
                )
            db.execute("COMMIT")
        return previous

    def dump(self) -> str:
        with closing(self._connect()) as db:
            return json.dumps(db.execute("SELECT * FROM connections").fetchall())


class ContentionSignal:
    """Wraps a LockProvider and sets `contended` when a caller finds the lock taken."""

    def __init__(self, inner: LockProvider, contended: Event) -> None:
        self._inner = inner
        self._contended = contended

    @asynccontextmanager
    async def lock(self, name: str, ttl_s: float, wait_s: float) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self._inner.lock(name, ttl_s, 0.0))
            except LockTimeout:
                self._contended.set()
                await stack.enter_async_context(self._inner.lock(name, ttl_s, wait_s))
            yield


@dataclass
class WorkerSetup:
    db_path: Path
    redis: RedisServer
    redis_prefix: str
    token_url: str


def worker(setup: WorkerSetup, start: Barrier, contended: Event, results: Any) -> None:
    """One process: its own client, lock provider and TokenManager; asks for a token once."""

    async def main() -> str:
        redis = setup.redis.client()
        config = KlaviyoOAuthConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri="https://kx.example/oauth/klaviyo/callback",
            token_url=setup.token_url,
            revoke_url=setup.token_url.replace("token", "revoke"),
        )
        try:
            async with KlaviyoOAuthClient(config) as client:
                locks = ContentionSignal(RedisLockProvider(redis, setup.redis_prefix), contended)
                manager = TokenManager(
                    SqliteConnectionStore(setup.db_path), TokenCipher(SECRET_KEY), client, locks
                )
                start.wait(30)
                return await manager.get_access_token(SITE)
        finally:
            await redis.aclose()

    try:
        results.put(("ok", asyncio.run(main())))
    except BaseException as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))


@dataclass
class TokenEndpoint:
    """Klaviyo's token endpoint, counting calls; answers once the other worker waits."""

    contended: Event
    forms: list[dict[str, str]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)

    async def handle(self, request: Request) -> JSONResponse:
        form = await request.form()
        self.forms.append({key: str(value) for key, value in form.items()})
        self.authorizations.append(request.headers.get("authorization", ""))
        number = len(self.forms)
        # Bounded: if the other worker never waits (say it refreshed too), answer anyway.
        await asyncio.to_thread(self.contended.wait, 30)
        return JSONResponse(token_answer(access=f"access-NEW-{number}", refresh=f"refresh-NEW-{number}"))


@pytest.fixture
def token_endpoint() -> Iterator[tuple[TokenEndpoint, str]]:
    endpoint = TokenEndpoint(contended=SPAWN.Event())
    app = Starlette(routes=[Route("/oauth/token", endpoint.handle, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=10, what="the token endpoint to start")
        yield endpoint, f"http://127.0.0.1:{port}/oauth/token"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.redis
async def test_two_processes_refresh_an_expiring_token_once(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_prefix: str,
    token_endpoint: tuple[TokenEndpoint, str],
) -> None:
    endpoint, token_url = token_endpoint
    cipher = TokenCipher(SECRET_KEY)
    store = SqliteConnectionStore(tmp_path / "connections.sqlite3")
    now = int(time.time())
    await store.save(
        Connection(
            site_id=SITE,
            status=ConnectionStatus.ACTIVE,
            account_id="acct_A",
            account_name="Acme Outdoors",
            scopes=("accounts:read",),
            access_token_enc=cipher.encrypt("access-OLD"),
            refresh_token_enc=cipher.encrypt("refresh-OLD"),
            expires_at=now - 1,  # expired: both workers need a fresh token
            connected_at=now - 3600,
        )
    )
    setup = WorkerSetup(tmp_path / "connections.sqlite3", redis_server, redis_prefix, token_url)
    start = SPAWN.Barrier(2)
    results = SPAWN.Queue()
    workers = [
        SPAWN.Process(target=worker, args=(setup, start, endpoint.contended, results)) for _ in range(2)
    ]
    for process in workers:
        process.start()
    try:
        outcomes = [await asyncio.to_thread(results.get, True, 60) for _ in workers]
    finally:
        for process in workers:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join(5)
    results.close()
    results.join_thread()

    assert outcomes == [("ok", "access-NEW-1"), ("ok", "access-NEW-1")]
    assert endpoint.forms == [{"grant_type": "refresh_token", "refresh_token": "refresh-OLD"}]
    assert endpoint.authorizations == [BASIC]
    stored = await store.get(SITE)
    assert stored is not None and stored.refresh_token_enc is not None
    assert cipher.decrypt(stored.refresh_token_enc) == "refresh-NEW-1"
    dump = store.dump()
    assert "access-NEW-1" not in dump
    assert "refresh-NEW-1" not in dump

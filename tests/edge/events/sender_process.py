"""One kx-edge process's event sender, for the crash test: the real component over a SQLite file.

    python -m tests.edge.events.sender_process DB API_BASE SECRET_KEY CLIENT_ID CLIENT_SECRET
        LEASE_S CLAIM_MAX [stall]

Builds the app's services the way the lifespan does, starts `Events` and prints `ready`; then
sends until it is killed. With `stall`, every answer from the bulk endpoint is received and
then never acted on: the process looks hung after Klaviyo accepted the batch.
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx

from edge.connect.link import build_klaviyo_link
from edge.events import EventsConfig, SenderConfig, build_events
from edge.services import Services
from edge.settings import Settings
from edge.sites.runtime import SiteRuntimes
from edge.store import SqlSiteStore, open_database
from edge.store.connections import SqlConnectionStore, SqlFlowStateStore
from edge.store.sessions import SqlAdminSessionStore
from oauth.crypto import TokenCipher


class StallAfterBulk(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path.endswith("/api/event-bulk-create-jobs"):
            await response.aread()
            print(f"accepted {response.status_code}", flush=True)
            await asyncio.Event().wait()  # hung for good, before settling anything
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def main(db: str, api_base: str, secret: str, client_id: str, client_secret: str, lease_s: str,
               claim_max: str, *mode: str) -> None:  # fmt: skip
    settings = Settings(
        database=db,
        secret_key=secret,
        klaviyo_client_id=client_id,
        klaviyo_client_secret=client_secret,
        klaviyo_api_base=api_base,
        klaviyo_token_url=api_base + "/oauth/token",
        klaviyo_revoke_url=api_base + "/oauth/revoke",
        public_url="http://testserver",
    )
    database = await open_database(settings)
    store = SqlSiteStore(database)
    cipher = TokenCipher(secret)
    connections = SqlConnectionStore(database)
    transport = StallAfterBulk() if "stall" in mode else None
    async with httpx.AsyncClient(transport=transport) as http:
        link = build_klaviyo_link(
            settings, http=http, redis=None, connections=connections,
            flows=SqlFlowStateStore(database, cipher), cipher=cipher,
        )  # fmt: skip
        svc = Services(
            settings=settings, database=database, store=store, connections=connections,
            sessions=SqlAdminSessionStore(database), cipher=cipher, http=http, redis=None,
            runtimes=SiteRuntimes(store, connections, cipher, clock=time.time), klaviyo=link,
        )  # fmt: skip
        sender = SenderConfig(claim_max=int(claim_max), poll_interval_s=0.05, backoff_base_s=0.05)
        events = build_events(svc, EventsConfig(lease_s=float(lease_s), sender=sender))
        await events.start()
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))

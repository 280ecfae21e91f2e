"""A real uvicorn server in a background thread, for tests that need a browser to reach an app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

from tests.waiting import wait_until


@contextmanager
def live_server(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    lifespan: Literal["auto", "on", "off"] = "auto",
) -> Iterator[int]:
    """Serve `app` on `host` and `port` (0: one the OS picks, no race with other tests); yield the port.

    The server runs on the plain asyncio loop with h11 and no websockets: what a test needs, and
    nothing that could emit warnings (which this suite turns into errors). It stops on exit,
    giving open requests one second.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan=lifespan,
        loop="asyncio",
        http="h11",
        ws="none",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{id(app):x}", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), timeout=15, what="uvicorn start")
    if not server.started:
        raise RuntimeError("uvicorn did not start (see the log above)")
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=15)

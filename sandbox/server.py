"""The fake Klaviyo on a real socket: uvicorn in a background thread, optionally over TLS."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from sandbox.app import create_fake_klaviyo
from sandbox.state import SandboxState
from sandbox.tls import write_self_signed


@dataclass(frozen=True, slots=True)
class FakeServer:
    base_url: str
    """`http(s)://127.0.0.1:PORT`, no trailing slash."""
    ca_file: Path | None
    """With TLS: the CA that signed the server's certificate (trust it, don't skip checks)."""


class _Server(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Drop every connection first: a client that keeps a TLS connection open (the official
        # SDK does) would otherwise hold the shutdown for the whole grace period and leak its
        # transport when the loop closes.
        for connection in list(self.server_state.connections):
            transport: Any = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        await super().shutdown(sockets)


@contextmanager
def serve_fake_klaviyo(
    state: SandboxState,
    *,
    latency_s: float = 0.0,
    enforce_rate_limits: bool = True,
    tls: bool = False,
    startup_timeout_s: float = 10.0,
) -> Iterator[FakeServer]:
    """Serve the fake on a free 127.0.0.1 port until the block ends; yields its URL and CA."""
    app = create_fake_klaviyo(state, latency_s=latency_s, enforce_rate_limits=enforce_rate_limits)
    with tempfile.TemporaryDirectory(prefix="kx-sandbox-tls-") as directory:
        files = write_self_signed(Path(directory)) if tls else None
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
            ssl_certfile=str(files.cert_file) if files else None,
            ssl_keyfile=str(files.key_file) if files else None,
        )
        server = _Server(config)
        thread = threading.Thread(target=server.run, name="fake-klaviyo", daemon=True)
        thread.start()
        deadline = time.monotonic() + startup_timeout_s
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)  # polling the started flag, bounded by the deadline
        try:
            if not server.started:
                raise RuntimeError("the fake Klaviyo server did not start")
            port = server.servers[0].sockets[0].getsockname()[1]
            scheme = "https" if tls else "http"
            ca_file = files.ca_file if files else None
            yield FakeServer(f"{scheme}://127.0.0.1:{port}", ca_file)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@contextmanager
def running_fake_klaviyo(
    state: SandboxState,
    *,
    latency_s: float = 0.0,
    enforce_rate_limits: bool = True,
    tls: bool = False,
) -> Iterator[str]:
    """Serve the fake on a free 127.0.0.1 port; yields its base URL. With `tls=True` the
    certificate is self-signed: use `serve_fake_klaviyo` to get the CA file to trust."""
    with serve_fake_klaviyo(
        state, latency_s=latency_s, enforce_rate_limits=enforce_rate_limits, tls=tls
    ) as server:
        yield server.base_url

"""An answered visit's events are durable: a server killed (SIGKILL) right after its last answer,
then a new server over the same database, and every event reaches Klaviyo once (the sandbox
counts them by unique_id)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from edge.settings import Settings
from sandbox import SandboxState
from tests.apps import BROWSER_UA
from tests.edge.events.conftest import CLIENT_ID, CLIENT_SECRET, VIP, fast_config, shop
from tests.waiting import free_port, port_answers, wait_until

ROOT = Path(__file__).resolve().parents[3]
KX_EDGE = str(Path(sys.executable).with_name("kx-edge"))
TRIGGERS = {"entered_test": {"enabled": True}, "saw_personalization": {"enabled": True}}


def _environment(settings: Settings, api_base: str) -> dict[str, str]:
    assert settings.secret_key is not None and settings.operator_token is not None
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
    return clean | {
        "KX_EDGE_DATABASE": str(settings.database_path),
        "KX_EDGE_DATA_DIR": settings.data_dir,
        "KX_EDGE_SECRET_KEY": settings.secret_key,
        "KX_EDGE_OPERATOR_TOKEN": settings.operator_token,
        "KLAVIYO_CLIENT_ID": CLIENT_ID,
        "KLAVIYO_CLIENT_SECRET": CLIENT_SECRET,
        "KX_EDGE_KLAVIYO_API_BASE": api_base,
        "KX_EDGE_KLAVIYO_AUTHORIZE_URL": api_base + "/oauth/authorize",
        "KX_EDGE_KLAVIYO_TOKEN_URL": api_base + "/oauth/token",
        "KX_EDGE_KLAVIYO_REVOKE_URL": api_base + "/oauth/revoke",
        "KX_EDGE_PUBLIC_URL": "http://testserver",
        "KX_EDGE_RESOLVE_DEADLINE_MS": "5000",
        "KX_EDGE_SEGMENT_SYNC_ENABLED": "false",
        "KX_EDGE_LOG_FORMAT": "text",
        "KX_EDGE_ACCESS_LOG": "false",
    }


def _assign(port: int, public_key: str, visitor_id: str) -> int:
    body = json.dumps({"visitor_id": visitor_id, "kx": VIP.kx}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/assign?site={public_key}", data=body,
        headers={"content-type": "text/plain;charset=UTF-8", "user-agent": BROWSER_UA}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        status: int = response.status
        return status


async def _seed(settings: Settings, sandbox: SandboxState) -> str:
    """The site, its experiences, a connection with real sandbox tokens, the triggers: on file."""
    async with shop(settings, sandbox, triggers=TRIGGERS, config=fast_config(send=False), start=False) as s:
        public_key: str = s.site["public_key"]
    return public_key


@pytest.mark.slow
def test_a_server_killed_right_after_answering_loses_no_event(
    settings: Settings, sandbox: SandboxState, fake_klaviyo: str
) -> None:
    public_key = asyncio.run(_seed(settings, sandbox))
    environment = _environment(settings, fake_klaviyo)

    port = free_port()
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.edge.events.serve_process", str(port)],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "ready"
        wait_until(lambda: port_answers(port), what="the first server to listen")
        for i in range(5):  # five identified VIP visits: each enters the test and sees the banner
            assert _assign(port, public_key, f"durable{i}".ljust(22, "x")) == 200
        first.send_signal(signal.SIGKILL)  # right after the last answer: no shutdown, no flush
    finally:
        first.kill()
        first.wait(timeout=10)
        if first.stdout is not None:
            first.stdout.close()
    assert sandbox.events() == []  # the first server sent nothing: all ten come from the outbox

    port = free_port()
    second = subprocess.Popen(
        [KX_EDGE, "serve", "--port", str(port)],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: len(sandbox.events()) >= 10, timeout=60, what="the ten events to reach Klaviyo")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    received = Counter(e.unique_id for e in sandbox.events())
    assert len(received) == 10 and set(received.values()) == {1}
    assert Counter(e.metric_name for e in sandbox.events()) == {
        "kx-edge: Entered Test": 5,
        "kx-edge: Saw Personalization": 5,
    }

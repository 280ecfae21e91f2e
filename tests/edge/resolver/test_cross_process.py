"""Two processes, one shared Redis, one local fake Klaviyo that counts calls: the same `_kx`
requested by both at once is looked up exactly once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.cluster import RedisServer
from tests.waiting import free_port, port_answers, wait_until

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[3]
LATENCY_S = 0.3


def counting_klaviyo(calls: Counter[str]) -> Starlette:
    async def profiles(request: Request) -> JSONResponse:
        calls["profiles"] += 1
        await asyncio.sleep(LATENCY_S)
        return JSONResponse({"data": [{"type": "profile", "id": "P1"}], "links": {}})

    async def profile_segments(request: Request) -> JSONResponse:
        calls["profile_segments"] += 1
        await asyncio.sleep(LATENCY_S)
        return JSONResponse({"data": [{"type": "segment", "id": "S2"}], "links": {}})

    return Starlette(
        routes=[
            Route("/api/profiles", profiles),
            Route("/api/profiles/{profile_id}/relationships/segments", profile_segments),
        ]
    )


@pytest.fixture
def fake_klaviyo() -> Iterator[tuple[str, Counter[str]]]:
    calls: Counter[str] = Counter()
    port = free_port()
    config = uvicorn.Config(
        counting_klaviyo(calls), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: port_answers(port), what="the fake Klaviyo to listen")
    yield f"http://127.0.0.1:{port}", calls
    server.should_exit = True
    thread.join(timeout=10)


def test_two_processes_resolve_one_kx_once(
    fake_klaviyo: tuple[str, Counter[str]], redis_server: RedisServer, redis_prefix: str
) -> None:
    base, calls = fake_klaviyo
    kx = "CROSSPROCESSVISITOR==.abc"
    command = [sys.executable, "-m", "tests.edge.resolver.worker_process"]
    workers = [
        subprocess.Popen(
            [*command, base, redis_server.url, redis_prefix, kx, redis_server.name],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:  # both start together
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = []
        for worker in workers:
            out, _ = worker.communicate(timeout=30)
            assert worker.returncode == 0
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert calls == {"profiles": 1, "profile_segments": 1}
    assert [r["type"] for r in results] == ["Identified", "Identified"]
    assert all(r["segments"] == ["S2"] for r in results)
    resolved, waited = sorted(results, key=lambda r: r["source"] == "l2")
    assert resolved["calls"] == {"profiles": 1, "profile_segments": 1}
    assert (waited["source"], waited["waited_for"], waited["calls"]) == ("l2", "lock", {})

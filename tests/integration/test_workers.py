"""Two worker processes (`kx-edge serve --workers 2`, Redis configured): a configuration change
made through one reaches assignment in every worker within a bound."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from edge.web.request_ids import worker_of
from tests.targeting.factories import doc
from tests.waiting import free_port, port_answers, wait_until

KX_EDGE = str(Path(sys.executable).with_name("kx-edge"))
pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _call(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    status, answer, _ = _call_worker(url, method, body, headers)
    return status, answer


def _call_worker(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, str]:
    """One request on a new connection, so the kernel may hand it to either worker."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Connection": "close", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return (
                response.status,
                json.loads(response.read() or b"null"),
                worker_of(response.headers.get("x-request-id", "")),
            )
    except urllib.error.HTTPError as error:
        return (
            error.code,
            json.loads(error.read() or b"null"),
            worker_of(error.headers.get("x-request-id", "")),
        )


@pytest.fixture
def fleet(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
    env |= {
        "KX_EDGE_REDIS_URL": redis_url,
        "KX_EDGE_REDIS_PREFIX": redis_prefix,
        "KX_EDGE_ACCESS_LOG": "false",
    }
    process = subprocess.Popen(
        [KX_EDGE, "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(lambda: port_answers(port), timeout=30, what="two workers to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _every_worker_sees(base: str, public_key: str, experience_ids: set[str], batch: int = 24) -> bool:
    """A batch of concurrent requests (so both workers accept some) all answer `experience_ids`,
    and at least two different workers answered."""
    with ThreadPoolExecutor(max_workers=batch) as pool:
        answers = list(
            pool.map(lambda _: _call_worker(f"{base}/v1/assign?site={public_key}", "POST", {}), range(batch))
        )
    workers = {worker for _, _, worker in answers}
    seen = all(
        status == 200 and {e["id"] for e in body["experiences"]} == experience_ids
        for status, body, _ in answers
    )
    return seen and len(workers) >= 2


def test_a_change_reaches_every_worker(fleet: str, tmp_path: Path) -> None:
    token = (tmp_path / "var" / "operator-token").read_text().strip()
    status, site = _call(
        f"{fleet}/v1/sites",
        "POST",
        {"name": "Shop", "allowed_origins": []},
        {"Authorization": f"Bearer {token}"},
    )
    assert status == 201
    key = {"Authorization": f"Bearer {site['api_key']}"}
    # Load the site into both workers before changing it, so the change must propagate.
    wait_until(lambda: _every_worker_sees(fleet, site["public_key"], set()), timeout=10, what="both workers")

    status, created = _call(
        f"{fleet}/v1/sites/{site['id']}/experiences", "POST", doc("hero", status="live"), key
    )
    assert status == 201, created
    wait_until(
        lambda: _every_worker_sees(fleet, site["public_key"], {"hero"}), timeout=5, what="the new test"
    )

    status, _ = _call(
        f"{fleet}/v1/sites/{site['id']}/experiences/hero/pause", "POST", None, {**key, "If-Match": '"1"'}
    )
    assert status == 200
    wait_until(lambda: _every_worker_sees(fleet, site["public_key"], set()), timeout=5, what="the pause")

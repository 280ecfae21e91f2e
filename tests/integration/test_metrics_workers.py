"""`kx-edge serve --workers 2`: /metrics, scraped from either worker, sums both workers' counts
(prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_workers import KX_EDGE, _call, _call_worker
from tests.waiting import free_port, port_answers, wait_until

pytestmark = [pytest.mark.slow]


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"left over from an earlier run")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
    env |= {"KX_EDGE_ACCESS_LOG": "false", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    process = subprocess.Popen(
        [KX_EDGE, "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(lambda: port_answers(port), timeout=30, what="two workers to listen")
        yield f"http://127.0.0.1:{port}", metrics_dir
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _assign_total(base: str, token: str, status: str) -> float:
    request = urllib.request.Request(
        f"{base}/metrics", headers={"Authorization": f"Bearer {token}", "Connection": "close"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "kx_edge_http_requests_total" and sample.labels == {
                "route": "/v1/assign",
                "status": status,
            }:
                return sample.value
    return 0.0


def test_two_workers_counts_are_summed(two_workers: tuple[str, Path], tmp_path: Path) -> None:
    base, metrics_dir = two_workers
    assert not (metrics_dir / "counter_99999.db").exists()  # an earlier run's values never count
    token = (tmp_path / "var" / "operator-token").read_text().strip()
    status, site = _call(
        f"{base}/v1/sites",
        "POST",
        {"name": "Shop", "allowed_origins": []},
        {"Authorization": f"Bearer {token}"},
    )
    assert status == 201
    url = f"{base}/v1/assign?site={site['public_key']}"
    sent = 0
    workers: set[str] = set()

    def batch_reaches_both_workers() -> bool:
        # The second worker may start listening a moment after the first: send batches of new
        # connections until both have answered some, counting every request sent.
        nonlocal sent
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda _: _call_worker(url, "POST", {}), range(24)))
        sent += len(answers)
        assert all(status == 200 for status, _, _ in answers)
        workers.update(worker for _, _, worker in answers)
        return len(workers) == 2

    wait_until(batch_reaches_both_workers, timeout=30, what="both workers to answer some assigns")
    # The scraping worker flushes its own counts at once, the other within its flush interval.
    wait_until(
        lambda: _assign_total(base, token, "200") == sent, timeout=10, what="both workers' assigns summed"
    )

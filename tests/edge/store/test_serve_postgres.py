"""`kx-edge serve` as a real process on PostgreSQL (`KX_EDGE_DATABASE_URL`), and `config check`
never showing the URL's password."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.targeting.factories import doc
from tests.waiting import free_port, port_answers, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
KX_EDGE = str(Path(sys.executable).with_name("kx-edge"))


def _env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
    return clean | extra


def _call(url: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_serve_keeps_sites_and_experiences_in_postgres(tmp_path: Path, postgres_schema_url: str) -> None:
    port = free_port()
    process = subprocess.Popen(
        [KX_EDGE, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_env(KX_EDGE_DATABASE_URL=postgres_schema_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: port_answers(port) or process.poll() is not None, timeout=30, what="kx-edge")
        assert process.poll() is None
        base = f"http://127.0.0.1:{port}"
        operator = (tmp_path / "var" / "operator-token").read_text().strip()
        status, site = _call(
            f"{base}/v1/sites", operator, {"name": "Shop", "allowed_origins": ["https://s.example"]}
        )
        assert status == 201
        status, created = _call(f"{base}/v1/sites/{site['id']}/experiences", site["api_key"], doc("checkout"))
        assert status == 201 and created["id"] == "checkout"
        status, listed = _call(f"{base}/v1/sites/{site['id']}/experiences", site["api_key"])
        assert [e["id"] for e in listed["experiences"]] == ["checkout"]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert "kx-edge stopped" in output
    assert not (tmp_path / "var" / "kx-edge.sqlite3").exists()  # nothing went to SQLite


def test_config_check_masks_the_database_password(tmp_path: Path) -> None:
    url = "postgresql://kx:s3cret-pw@db.internal:5432/kx?sslmode=require&password=other-secret"
    result = subprocess.run(
        [KX_EDGE, "config", "check"], cwd=tmp_path, env=_env(KX_EDGE_DATABASE_URL=url),
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)["settings"]
    assert shown["database_url"] == "postgresql://kx:****@db.internal:5432/kx?sslmode=require&password=****"
    assert shown["database_backend"] == "postgres"
    assert "s3cret" not in result.stdout + result.stderr and "other-secret" not in result.stdout


def test_a_wrong_database_url_is_refused_without_echoing_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [KX_EDGE, "config", "check"], cwd=tmp_path, env=_env(KX_EDGE_DATABASE_URL="mysql://u:hunter2@h/db"),
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "KX_EDGE_DATABASE_URL" in result.stderr and "hunter2" not in result.stderr

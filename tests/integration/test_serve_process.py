"""`kx-edge serve` as a real process, as a newcomer runs it."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import stat
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.waiting import free_port, port_answers, wait_until

KX_EDGE = str(Path(sys.executable).with_name("kx-edge"))


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}


class _Terminal:
    """A pseudo-terminal for a child's stdout and stderr, read in the background (a child that
    fills the terminal's buffer would otherwise block)."""

    def __init__(self) -> None:
        self.main, self.child = pty.openpty()
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.main, 4096)
            except OSError:  # EIO once the child side is closed and drained
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    def output(self) -> str:
        os.close(self.child)
        self._reader.join(timeout=10)
        os.close(self.main)
        return b"".join(self._chunks).decode(errors="replace")


def _serve(tmp_path: Path, port: int, terminal: _Terminal | None) -> subprocess.Popen[bytes]:
    out: int | None = terminal.child if terminal else subprocess.PIPE
    return subprocess.Popen(
        [KX_EDGE, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=out,
        stderr=terminal.child if terminal else subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status reports it.
    assert process.returncode in (0, -signal.SIGTERM)
    return (output or b"").decode(errors="replace")


@pytest.mark.slow
def test_serve_starts_with_zero_configuration_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    terminal = _Terminal()
    process = _serve(tmp_path, port, terminal)
    try:
        wait_until(
            lambda: port_answers(port) or process.poll() is not None, timeout=30, what="kx-edge to listen"
        )
        assert process.poll() is None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
            assert json.loads(response.read()) == {"status": "ok"}
        token = (tmp_path / "var" / "operator-token").read_text().strip()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/sites",
            data=b'{"name": "Shop", "allowed_origins": ["https://shop.example.com"]}',
            headers={"Authorization": f"Bearer {token}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 201
    finally:
        _stop(process)
    output = terminal.output()
    assert "Application shutdown complete" in output
    assert "kx-edge stopped" in output
    assert output.count(token) == 1  # shown once, on the terminal, at the start that created it
    assert (tmp_path / "var" / "kx-edge.sqlite3").exists()

    # A later start, its output a log stream (a pipe): the token is only said to be kept.
    port = free_port()
    process = _serve(tmp_path, port, None)
    try:
        wait_until(lambda: port_answers(port) or process.poll() is not None, timeout=30, what="kx-edge again")
    finally:
        output = _stop(process)
    assert token not in output
    assert f"operator token: kept in {Path('var') / 'operator-token'}" in output


def test_a_first_start_into_a_log_stream_keeps_the_new_token_out_of_it(tmp_path: Path) -> None:
    port = free_port()
    process = _serve(tmp_path, port, None)
    try:
        wait_until(lambda: port_answers(port) or process.poll() is not None, timeout=30, what="kx-edge")
    finally:
        output = _stop(process)
    token = (tmp_path / "var" / "operator-token").read_text().strip()
    assert token not in output
    assert "operator token: new, kept in" in output and "not shown: stderr is not a terminal" in output


def test_a_missing_secret_under_production_stops_start_up_naming_it(tmp_path: Path) -> None:
    shutil.copytree(Path(__file__).parents[2] / "wrangler-like-config", tmp_path / "wrangler-like-config")
    result = subprocess.run(
        [KX_EDGE, "serve", "--env", "production", "--port", str(free_port())],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "KX_EDGE_SECRET_KEY" in result.stderr
    assert not (tmp_path / "var").exists()


def test_sites_create_from_the_shell(tmp_path: Path) -> None:
    result = subprocess.run(
        [KX_EDGE, "sites", "create", "--name", "Shell Shop", "--origin", "https://shop.example.com"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["name"] == "Shell Shop" and created["api_key"].startswith("sk_")
    bad = subprocess.run(
        [KX_EDGE, "sites", "create", "--name", "Bad", "--origin", "not-an-origin"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "allowed_origins[0]" in bad.stderr


def test_config_check_masks_secrets_and_fails_on_problems(tmp_path: Path) -> None:
    shutil.copytree(Path(__file__).parents[2] / "wrangler-like-config", tmp_path / "wrangler-like-config")
    env = {
        **_clean_env(),
        "KX_EDGE_SECRET_KEY": "a-very-secret-key-value-0001",
        "KX_EDGE_OPERATOR_TOKEN": "op-token-0002",
        "KLAVIYO_CLIENT_ID": "cid",
        "KLAVIYO_CLIENT_SECRET": "klaviyo-client-secret-0003",
    }
    ok = subprocess.run(
        [KX_EDGE, "config", "check", "--env", "production"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stderr
    shown = json.loads(ok.stdout)["settings"]
    assert shown["secret_key"] == "**** (set)" and shown["redis_url"] == "redis://127.0.0.1:6379/0"
    for secret in ("a-very-secret-key-value-0001", "op-token-0002", "klaviyo-client-secret-0003"):
        assert secret not in ok.stdout + ok.stderr
    typo = subprocess.run(
        [KX_EDGE, "config", "check", "--env", "production"],
        cwd=tmp_path,
        env={**env, "KX_EDGE_SEGMENT_TTL": "5"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert typo.returncode == 1 and "KX_EDGE_SEGMENT_TTL" in typo.stderr


@pytest.mark.slow
def test_the_demo_keeps_its_api_key_in_a_file_not_in_its_output(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [KX_EDGE, "serve", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    key_file = tmp_path / "var" / "demo-api-key"
    try:
        # Written right before the ready banner, in the same step: once it exists, so does the banner.
        wait_until(lambda: key_file.exists() or process.poll() is not None, timeout=60, what="the demo")
    finally:
        output = _stop(process)
    api_key = key_file.read_text().strip()
    assert api_key.startswith("sk_")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "kx-edge demo is ready" in output
    assert f"kept in {Path('var') / 'demo-api-key'}" in output
    assert api_key not in output

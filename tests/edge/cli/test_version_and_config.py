"""`kx-edge --version` and `kx-edge config check`, as processes."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

from tests.edge.cli.conftest import KX_EDGE, clean_env


def _run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KX_EDGE, *args], cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=60
    )


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    result = _run(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"kx-edge {metadata.version('kx-edge')}"


def test_config_check_warns_that_merchants_cannot_connect_klaviyo(tmp_path: Path) -> None:
    result = _run(tmp_path, "config", "check", KX_EDGE_PUBLIC_URL="https://edge.example.com")
    assert result.returncode == 0, result.stderr
    assert "settings OK" not in result.stderr
    assert (
        "warning: Klaviyo is not configured (KLAVIYO_CLIENT_ID and KLAVIYO_CLIENT_SECRET not set)"
        in result.stderr
    )
    assert "merchants cannot connect Klaviyo" in result.stderr
    assert "https://edge.example.com/oauth/klaviyo/callback" in result.stderr  # the redirect URI to register
    assert "accounts:read profiles:read segments:read" in result.stderr


def test_config_check_names_the_missing_half_of_the_credentials(tmp_path: Path) -> None:
    result = _run(tmp_path, "config", "check", KLAVIYO_CLIENT_ID="kx-app")
    assert "(KLAVIYO_CLIENT_SECRET not set)" in result.stderr
    assert "http://127.0.0.1:8787/oauth/klaviyo/callback (the default address" in result.stderr


def test_config_check_is_ok_with_klaviyo_credentials(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        "config",
        "check",
        KLAVIYO_CLIENT_ID="kx-app",
        KLAVIYO_CLIENT_SECRET="klaviyo-secret-value-0001",
        KX_EDGE_PUBLIC_URL="https://edge.example.com",
    )
    assert result.returncode == 0, result.stderr
    assert "Klaviyo is not configured" not in result.stderr
    assert (
        "Klaviyo redirect URI (as registered in the Klaviyo app): https://edge.example.com/oauth/klaviyo/callback"
        in result.stderr
    )
    assert result.stderr.rstrip().endswith("settings OK")
    assert "klaviyo-secret-value-0001" not in result.stdout + result.stderr

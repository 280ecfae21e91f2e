"""Baseline headers every answer of the app carries, and HSTS when the public URL is https."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.app import create_app
from tests.apps import app_client, make_settings


@pytest.mark.parametrize("path", ["/healthz", "/admin/sign-in", "/oauth/klaviyo/result", "/v1/sites/x"])
async def test_an_https_public_url_turns_on_hsts_everywhere(tmp_path: Path, path: str) -> None:
    settings = make_settings(tmp_path, public_url="https://kx.example")
    async with app_client(create_app(settings), base_url="https://kx.example") as client:
        response = await client.get(path)
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_plain_http_public_url_sends_no_hsts(tmp_path: Path) -> None:
    async with app_client(create_app(make_settings(tmp_path, public_url="http://127.0.0.1:8787"))) as client:
        response = await client.get("/healthz")
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"

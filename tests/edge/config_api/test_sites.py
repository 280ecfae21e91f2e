from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from edge.app import create_app
from edge.settings import Settings
from edge.web.request_ids import worker_of
from tests.apps import app_client, create_site, make_settings, operator, services_of
from tests.databases import dump


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, max_body_bytes=2048)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(settings)) as client:
        yield client


async def test_operator_creates_a_site_and_gets_its_keys_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await create_site(client, settings, name="Sandbox Outfitters")
    assert created["id"].startswith("site_")
    assert created["public_key"].startswith("pk_")
    assert created["api_key"].startswith("sk_")
    assert created["allowed_origins"] == ["https://shop.example.com"]
    again = await client.get(f"/v1/sites/{created['id']}", headers=_key(created))
    assert again.status_code == 200
    assert "api_key" not in again.json()
    assert again.json()["public_key"] == created["public_key"]


async def test_the_api_key_is_stored_hashed(client: httpx.AsyncClient, settings: Settings) -> None:
    created = await create_site(client, settings)
    svc = services_of(client)
    site = await svc.store.get_site(created["id"])
    assert site is not None
    assert site.api_key_hash == hashlib.sha256(created["api_key"].encode()).hexdigest()
    assert created["api_key"] not in await dump(svc.database)


async def test_creating_a_site_needs_the_operator_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}):
        response = await client.post("/v1/sites", json={"name": "Shop"}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_sites_key_never_opens_another_site(client: httpx.AsyncClient, settings: Settings) -> None:
    first = await create_site(client, settings, name="First")
    second = await create_site(client, settings, name="Second")
    own = await client.get(f"/v1/sites/{first['id']}", headers=_key(first))
    assert own.status_code == 200
    foreign = await client.get(f"/v1/sites/{second['id']}", headers=_key(first))
    missing = await client.get("/v1/sites/site_doesnotexist", headers=_key(first))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["code"] == missing.json()["error"]["code"] == "site_not_found"
    patched = await client.patch(f"/v1/sites/{second['id']}", json={"name": "Mine"}, headers=_key(first))
    assert patched.status_code == 404
    unchanged = await client.get(f"/v1/sites/{second['id']}", headers=_key(second))
    assert unchanged.json()["name"] == "Second"


async def test_a_wrong_api_key_is_unauthorized(client: httpx.AsyncClient, settings: Settings) -> None:
    created = await create_site(client, settings)
    response = await client.get(f"/v1/sites/{created['id']}", headers={"Authorization": "Bearer sk_wrong"})
    assert response.status_code == 401
    assert (await client.get(f"/v1/sites/{created['id']}")).status_code == 401


async def test_the_operator_can_read_and_list_every_site(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    first = await create_site(client, settings, name="First")
    await create_site(client, settings, name="Second")
    assert (await client.get(f"/v1/sites/{first['id']}", headers=operator(settings))).status_code == 200
    listed = await client.get("/v1/sites", headers=operator(settings))
    assert [site["name"] for site in listed.json()["sites"]] == ["First", "Second"]


async def test_patch_changes_name_and_origins_and_bumps_the_config_version(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await create_site(client, settings)
    response = await client.patch(
        f"/v1/sites/{created['id']}",
        json={"allowed_origins": ["https://a.example", "http://localhost:3000"]},
        headers=_key(created),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["allowed_origins"] == ["https://a.example", "http://localhost:3000"]
    assert body["name"] == "Shop"
    assert body["config_version"] == created["config_version"] + 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"name": "Shop",', 400, "malformed_json"),
        (b"not json at all", 400, "malformed_json"),
        (b"", 400, "empty_body"),
        (b'{"name": 42}', 422, "validation_failed"),
        (b'["a list"]', 422, "validation_failed"),
        (b'{"name": "Shop", "allowed_origins": "https://a.example"}', 422, "validation_failed"),
        (b'{"name": "Shop", "colour": "blue"}', 422, "validation_failed"),
        (b'{"name": "   "}', 422, "validation_failed"),
        (b'{"name": "Shop", "allowed_origins": ["https://a.example/path"]}', 422, "validation_failed"),
        (b'{"name": "Shop", "allowed_origins": ["javascript:alert(1)"]}', 422, "validation_failed"),
    ],
)
async def test_bad_input_gets_a_json_4xx(
    client: httpx.AsyncClient, settings: Settings, body: bytes, status: int, code: str
) -> None:
    response = await client.post("/v1/sites", content=body, headers=operator(settings))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    listed = await client.get("/v1/sites", headers=operator(settings))
    assert listed.json()["sites"] == []  # nothing was stored


async def test_validation_names_the_offending_field(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.post(
        "/v1/sites",
        json={"name": "Shop", "allowed_origins": ["https://ok.example", "ftp://x"]},
        headers=operator(settings),
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "allowed_origins[1]"


async def test_an_oversized_body_is_413_declared_or_streamed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    big = b'{"name": "' + b"x" * 4096 + b'"}'
    declared = await client.post("/v1/sites", content=big, headers=operator(settings))
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 512

    streamed = await client.post("/v1/sites", content=chunks(), headers=operator(settings))
    assert streamed.status_code == 413


async def test_unknown_routes_and_methods_answer_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = await client.delete("/v1/sites")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc12345-given"})
    assert response.headers["x-request-id"] == "abc12345-given"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert worker_of(generated.headers["x-request-id"]) == services_of(client).request_ids.worker


async def test_readyz_reports_the_store(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {"store": "ok"}}


async def test_readyz_is_503_when_redis_does_not_answer(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url="redis://127.0.0.1:1/0")
    async with app_client(create_app(settings)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"store": "ok", "redis": "failing"}


@pytest.mark.redis
async def test_readyz_checks_redis_when_configured(tmp_path: Path, redis_url: str) -> None:
    async with app_client(create_app(make_settings(tmp_path, redis_url=redis_url))) as client:
        response = await client.get("/readyz")
    assert response.json() == {"ready": True, "checks": {"store": "ok", "redis": "ok"}}


def _key(site: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {site['api_key']}"}

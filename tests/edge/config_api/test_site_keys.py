"""Api key rotation: a new key shown once, the old one valid for the grace period, then refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from edge.access.sessions import SessionStore
from edge.settings import Settings, SettingsError, load_settings
from tests.apps import app_client, create_site, make_settings, operator, services_of
from tests.databases import dump
from tests.edge.config_api.support import Clock, config_app

GRACE_S = 3_600


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, key_rotation_grace_s=GRACE_S)


@pytest.fixture
async def client(settings: Settings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(config_app(settings, clock=clock)) as client:
        yield client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _rotate(client: httpx.AsyncClient, site_id: str, headers: dict[str, str]) -> httpx.Response:
    return await client.post(f"/v1/sites/{site_id}/rotate-key", headers=headers)


async def _status(client: httpx.AsyncClient, site_id: str, key: str) -> int:
    return (await client.get(f"/v1/sites/{site_id}", headers=_bearer(key))).status_code


async def test_the_old_key_works_within_the_grace_period_and_is_refused_after(
    client: httpx.AsyncClient, settings: Settings, clock: Clock
) -> None:
    site = await create_site(client, settings)
    old_key = site["api_key"]
    rotated = await _rotate(client, site["id"], _bearer(old_key))
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new_key = rotated.json()["api_key"]
    assert new_key.startswith("sk_") and new_key != old_key
    assert rotated.json()["grace_s"] == GRACE_S
    assert rotated.json()["previous_key_valid_until"] == int(clock.now) + GRACE_S
    assert new_key not in await dump(services_of(client).database)  # stored hashed only

    assert await _status(client, site["id"], new_key) == 200
    assert await _status(client, site["id"], old_key) == 200
    shown = (await client.get(f"/v1/sites/{site['id']}", headers=_bearer(new_key))).json()
    assert shown["previous_key_valid_until"] == int(clock.now) + GRACE_S
    clock.advance(GRACE_S - 1)
    assert await _status(client, site["id"], old_key) == 200
    clock.advance(1)
    refused = await client.get(f"/v1/sites/{site['id']}", headers=_bearer(old_key))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    assert "grace period has ended" in refused.json()["error"]["message"]
    assert await _status(client, site["id"], new_key) == 200


async def test_a_second_rotation_keeps_only_the_immediately_previous_key(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    site = await create_site(client, settings)
    first = site["api_key"]
    second = (await _rotate(client, site["id"], _bearer(first))).json()["api_key"]
    third = (await _rotate(client, site["id"], _bearer(second))).json()["api_key"]
    assert await _status(client, site["id"], first) == 401
    assert await _status(client, site["id"], second) == 200
    assert await _status(client, site["id"], third) == 200


async def test_the_replaced_key_cannot_rotate(client: httpx.AsyncClient, settings: Settings) -> None:
    site = await create_site(client, settings)
    new_key = (await _rotate(client, site["id"], _bearer(site["api_key"]))).json()["api_key"]
    refused = await _rotate(client, site["id"], _bearer(site["api_key"]))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "current_key_required"
    assert await _status(client, site["id"], new_key) == 200  # the refusal changed nothing


async def test_the_operator_rotates_and_other_sites_keys_cannot(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    site = await create_site(client, settings, name="First")
    other = await create_site(client, settings, name="Other")
    assert (await _rotate(client, site["id"], _bearer(other["api_key"]))).status_code == 404
    assert (await _rotate(client, site["id"], {})).status_code == 401
    assert (await _rotate(client, "site_unknown", operator(settings))).status_code == 404
    by_operator = await _rotate(client, site["id"], operator(settings))
    assert by_operator.status_code == 200
    assert await _status(client, site["id"], by_operator.json()["api_key"]) == 200
    assert await _status(client, other["id"], other["api_key"]) == 200


async def test_a_zero_grace_refuses_the_old_key_at_once(tmp_path: Path, clock: Clock) -> None:
    settings = make_settings(tmp_path, key_rotation_grace_s=0)
    async with app_client(config_app(settings, clock=clock)) as client:
        site = await create_site(client, settings)
        rotated = await _rotate(client, site["id"], _bearer(site["api_key"]))
        assert rotated.json()["grace_s"] == 0
        assert await _status(client, site["id"], site["api_key"]) == 401
        assert await _status(client, site["id"], rotated.json()["api_key"]) == 200


async def test_rotation_ends_the_sites_other_merchant_page_sessions(
    client: httpx.AsyncClient, settings: Settings, clock: Clock
) -> None:
    site = await create_site(client, settings)
    other = await create_site(client, settings, name="Other")
    svc = services_of(client)
    sessions = SessionStore(svc.sessions, clock)
    rotating_id, _ = await sessions.create(site["id"])
    left_id, _ = await sessions.create(site["id"])
    other_id, _ = await sessions.create(other["id"])
    # The merchant page rotates with its session cookie and CSRF token.
    rotating = await sessions.get(rotating_id)
    assert rotating is not None
    client.cookies.set("kx_admin", rotating_id)
    answer = await client.post(
        f"/v1/sites/{site['id']}/rotate-key",
        headers={"X-CSRF-Token": rotating.csrf_token, "Origin": settings.public_url},
    )
    client.cookies.clear()
    assert answer.status_code == 200, answer.text
    assert answer.json()["sessions_ended"] == 1
    assert await sessions.get(rotating_id) is not None
    assert await sessions.get(left_id) is None
    assert await sessions.get(other_id) is not None


def test_the_grace_period_is_a_checked_setting(tmp_path: Path) -> None:
    config = tmp_path / "kx-edge.toml"
    config.write_text("")
    assert load_settings(config_path=config, environ={}).settings.key_rotation_grace_s == 86_400
    loaded = load_settings(config_path=config, environ={"KX_EDGE_KEY_ROTATION_GRACE_S": "0"})
    assert loaded.settings.key_rotation_grace_s == 0
    with pytest.raises(SettingsError, match=r"KEY_ROTATION_GRACE_S\): from 0"):
        load_settings(config_path=config, environ={"KX_EDGE_KEY_ROTATION_GRACE_S": "-1"})

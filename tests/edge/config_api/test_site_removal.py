"""`DELETE /v1/sites/{site_id}`: the Klaviyo connection revoked at Klaviyo, the data gone, the
storefront answering 404 for the site."""

from __future__ import annotations

from typing import Any

from edge.settings import Settings
from sandbox import SandboxState
from tests.apps import create_site, operator, services_of
from tests.databases import all_rows, table_columns
from tests.edge.config_api.support import Shop

TEST = {
    "id": "hero",
    "type": "test",
    "name": "Hero",
    "targeting": {"mode": "custom", "rules": None},
    "variations": [
        {"id": "control", "name": "Control", "weight": 50, "is_control": True},
        {"id": "b", "name": "B", "weight": 50, "is_control": False},
    ],
}


async def _rows_of(shop: Shop, site_id: str) -> dict[str, int]:
    db = services_of(shop.client).database
    found = {}
    for table, columns in (await table_columns(db)).items():
        if "site_id" in columns or table == "sites":
            found[table] = sum(1 for row in await all_rows(db, table) if site_id in row)
    return found


async def test_deleting_a_site_revokes_klaviyo_and_deletes_its_data(
    connected: Shop, klaviyo_configured: Settings, sandbox: SandboxState
) -> None:
    shop, settings = connected, klaviyo_configured
    svc = services_of(shop.client)
    other = await create_site(shop.client, settings, name="Other")
    created = await shop.create(TEST)
    assert created.status_code == 201, created.text
    started = await shop.act("hero", "start", created.headers["etag"])
    assert started.status_code == 200, started.text
    assert (await shop.assign({"visitor_id": "v1"})).status_code == 200
    connection = await svc.connections.get(shop.site_id)
    assert connection is not None and connection.access_token_enc is not None
    access_token = svc.cipher.decrypt(connection.access_token_enc)
    assert sandbox.oauth.grant_for_access(access_token) is not None

    deleted = await shop.client.delete(f"/v1/sites/{shop.site_id}", headers=operator(settings))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {
        "id": shop.site_id,
        "deleted": True,
        "klaviyo": {"was_connected": True, "revoked": True},
    }
    assert sandbox.calls.count("/oauth/revoke", status=200) == 1
    assert sandbox.oauth.grant_for_access(access_token) is None  # Klaviyo forgot the installation
    assert set((await _rows_of(shop, shop.site_id)).values()) == {0}
    assert (await _rows_of(shop, other["id"]))["sites"] == 1
    # The storefront and the API forget the site at once.
    gone = await shop.assign({"visitor_id": "v1"})
    assert gone.status_code == 404
    assert (await shop.client.get(f"/v1/sites/{shop.site_id}", headers=operator(settings))).status_code == 404
    assert (await shop.client.get(f"/v1/sites/{shop.site_id}", headers=shop.auth)).status_code == 401
    again = await shop.client.delete(f"/v1/sites/{shop.site_id}", headers=operator(settings))
    assert (again.status_code, again.json()["error"]["code"]) == (404, "site_not_found")


async def test_only_the_operator_deletes_a_site(shop: Shop, settings: Settings) -> None:
    for headers in ({}, shop.auth):
        refused = await shop.client.delete(f"/v1/sites/{shop.site_id}", headers=headers)
        assert refused.status_code == 401
    assert (await shop.client.get(f"/v1/sites/{shop.site_id}", headers=shop.auth)).status_code == 200


async def test_a_site_without_klaviyo_is_deleted_too(shop: Shop, settings: Settings) -> None:
    deleted = await shop.client.delete(f"/v1/sites/{shop.site_id}", headers=operator(settings))
    answer: dict[str, Any] = deleted.json()
    assert (deleted.status_code, answer["klaviyo"]) == (200, {"was_connected": False, "revoked": False})
    listed = await shop.client.get("/v1/sites", headers=operator(settings))
    assert listed.json() == {"sites": []}

"""Preview links: signed by the configuration API, checked by `GET /v1/preview`, never forgeable."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from edge.app import create_app
from edge.storefront.preview import preview_value, verify_preview
from targeting import parse_experience
from tests.apps import app_client, create_site, make_settings, put_experience, services_of

SECRET = b"s" * 32
SHOP = "https://shop.example.com"
CHANGES = {"dom": [{"selector": "h1", "action": "set_text", "value": "Gear that goes further"}], "payload": 7}


def _hero(status: str = "draft", exp_id: str = "hero") -> dict[str, Any]:
    return {
        "id": exp_id,
        "type": "test",
        "name": "Hero",
        "status": status,
        "targeting": {"mode": "custom"},
        "variations": [
            {"id": "control", "name": "Control", "weight": 1, "is_control": True},
            {"id": "further", "name": "Further", "weight": 1, "changes": CHANGES},
        ],
    }


def test_a_value_verifies_once_and_only_as_signed() -> None:
    experiences = {"hero": parse_experience(_hero())}
    value = preview_value(SECRET, "site_1", "hero", "further", 2_000)
    assert value.startswith("hero:further~2000~")
    forced = verify_preview(SECRET, "site_1", value, experiences, now=1_000)
    assert forced is not None and forced[0].id == "hero" and forced[1] == "further"

    head, expires, signature = value.split("~")
    tampered = [
        value.replace("further", "control"),  # another variation, same signature
        f"{head}~{int(expires) + 1}~{signature}",  # a later expiry
        f"{head}~{expires}~{signature[:-1]}A",
        f"{head}~{expires}",
        "hero:further",
        "x" * 400,
    ]
    for bad in tampered:
        assert verify_preview(SECRET, "site_1", bad, experiences, now=1_000) is None, bad
    assert verify_preview(SECRET, "site_2", value, experiences, now=1_000) is None  # another site
    assert verify_preview(b"t" * 32, "site_1", value, experiences, now=1_000) is None  # another secret
    assert verify_preview(SECRET, "site_1", value, experiences, now=2_001) is None  # expired
    assert verify_preview(SECRET, "site_1", value, {}, now=1_000) is None  # experience gone


def test_ids_with_colons_split_where_the_signature_says() -> None:
    body = _hero(exp_id="a:b") | {"variations": [
        {"id": "control", "name": "Control", "weight": 1, "is_control": True},
        {"id": "c:d", "name": "CD", "weight": 1},
    ]}  # fmt: skip
    experiences = {"a:b": parse_experience(body)}
    forced = verify_preview(SECRET, "s", preview_value(SECRET, "s", "a:b", "c:d", 9), experiences, now=1)
    assert forced is not None and (forced[0].id, forced[1]) == ("a:b", "c:d")


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    return make_settings(tmp_path)


async def test_links_force_the_variation_through_the_storefront_endpoint(settings: Any) -> None:
    async with app_client(create_app(settings)) as client:
        site = await create_site(client, settings, origins=[SHOP])
        await put_experience(client, site["id"], _hero())
        auth = {"Authorization": f"Bearer {site['api_key']}"}
        made = await client.post(
            f"/v1/sites/{site['id']}/experiences/hero/preview-links",
            json={"url": SHOP + "/products/tee?x=1"},
            headers=auth,
        )
        assert made.status_code == 200, made.text
        body = made.json()
        assert [link["variation_id"] for link in body["links"]] == ["control", "further"]
        link = body["links"][1]
        url = urlsplit(link["url"])
        assert (url.scheme + "://" + url.netloc, url.path) == (SHOP, "/products/tee")
        assert parse_qs(url.query) == {"x": ["1"], "kx_preview": [link["kx_preview"]]}
        assert body["expires_at"] == int(services_of(client).clock()) + 7 * 86_400

        forced = await client.get(
            "/v1/preview",
            params={"site": site["public_key"], "p": link["kx_preview"]},
            headers={"Origin": SHOP},
        )
        assert forced.status_code == 200, forced.text
        assert forced.headers["access-control-allow-origin"] == SHOP
        assert forced.headers["cache-control"] == "no-store"
        assert forced.json() == {
            "experience": {
                "id": "hero",
                "type": "test",
                "status": "decided",
                "entered": True,
                "variation_id": "further",
                "is_control": False,
                "reason": "preview",
                "changes": CHANGES,
            }
        }
        elsewhere = await client.get(
            "/v1/preview", params={"site": site["public_key"], "p": link["kx_preview"]},
            headers={"Origin": "https://evil.example"},
        )  # fmt: skip
        assert "access-control-allow-origin" not in elsewhere.headers

        forged = await client.get(
            "/v1/preview", params={"site": site["public_key"], "p": "hero:further~9999999999~x"}
        )
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "preview_invalid"
        unknown = await client.get("/v1/preview", params={"site": "pk_nobody", "p": link["kx_preview"]})
        assert unknown.status_code == 404
        missing = await client.get("/v1/preview", params={"site": site["public_key"]})
        assert missing.status_code == 400


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"url": "https://elsewhere.example/"}, 422, "validation_failed"),
        ({"url": "javascript:alert(1)"}, 422, "validation_failed"),
        ({"ttl_s": 5}, 422, "validation_failed"),
        ({"extra": 1}, 422, "validation_failed"),
    ],
)
async def test_bad_link_requests_are_refused(settings: Any, body: Any, status: int, code: str) -> None:
    async with app_client(create_app(settings)) as client:
        site = await create_site(client, settings, origins=[SHOP])
        await put_experience(client, site["id"], _hero())
        answer = await client.post(
            f"/v1/sites/{site['id']}/experiences/hero/preview-links",
            json=body,
            headers={"Authorization": f"Bearer {site['api_key']}"},
        )
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["code"] == code


async def test_links_default_to_the_first_origin_and_refuse_ended_or_unknown(settings: Any) -> None:
    async with app_client(create_app(settings)) as client:
        site = await create_site(client, settings, origins=[SHOP])
        await put_experience(client, site["id"], _hero())
        await put_experience(client, site["id"], _hero("ended", "old"))
        auth = {"Authorization": f"Bearer {site['api_key']}"}
        made = await client.post(f"/v1/sites/{site['id']}/experiences/hero/preview-links", headers=auth)
        assert made.status_code == 200
        assert made.json()["links"][0]["url"].startswith(SHOP + "/?kx_preview=hero:control~")
        ended = await client.post(f"/v1/sites/{site['id']}/experiences/old/preview-links", headers=auth)
        assert ended.status_code == 409
        missing = await client.post(f"/v1/sites/{site['id']}/experiences/nope/preview-links", headers=auth)
        assert missing.status_code == 404

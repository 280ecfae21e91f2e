"""Export a site's experiences as one document and import it into another site."""

from __future__ import annotations

from typing import Any

from edge.settings import Settings
from tests.apps import create_site
from tests.edge.config_api.support import VIP, Shop, error
from tests.targeting.factories import doc, seg

STAGING_SET_UP = [
    doc("free-shipping", type="personalization", status="live", seed="fs-2026"),
    doc("hero-copy", status="draft", traffic_percent=40, variation_ids=("control", "further")),
    doc("ended-one", status="ended"),
]


async def _seeded(shop: Shop, documents: list[dict[str, Any]]) -> None:
    for document in documents:
        status = document["status"]
        created = await shop.create(document | {"status": "draft" if status == "ended" else status})
        assert created.status_code == 201, created.text
        if status == "ended":
            ended = await shop.act(document["id"], "end", if_match=created.headers["etag"])
            assert ended.status_code == 200, ended.text


async def _export(shop: Shop) -> dict[str, Any]:
    response = await shop.client.get(f"/v1/sites/{shop.site_id}/export", headers=shop.auth)
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    body: dict[str, Any] = response.json()
    return body


async def _import(shop: Shop, site: dict[str, Any], document: Any, query: str = "") -> Any:
    return await shop.client.post(
        f"/v1/sites/{site['id']}/import{query}",
        json=document,
        headers={"Authorization": f"Bearer {site['api_key']}"},
    )


async def _documents(shop: Shop, site: dict[str, Any]) -> dict[str, dict[str, Any]]:
    listed = await shop.client.get(
        f"/v1/sites/{site['id']}/experiences", headers={"Authorization": f"Bearer {site['api_key']}"}
    )
    return {e["id"]: e for e in listed.json()["experiences"]}


def _content(experience: dict[str, Any]) -> dict[str, Any]:
    skip = {"status", "version", "created_at", "updated_at", "warnings"}
    return {k: v for k, v in experience.items() if k not in skip}


async def test_an_export_imports_into_another_site_as_drafts(shop: Shop, settings: Settings) -> None:
    await _seeded(shop, STAGING_SET_UP)
    exported = await _export(shop)
    assert exported["format"] == "kx-edge.experiences/1"
    assert exported["site"] == {"id": shop.site_id, "name": "Shop"}
    assert [e["id"] for e in exported["experiences"]] == ["free-shipping", "hero-copy", "ended-one"]
    assert all("version" not in e and "created_at" not in e for e in exported["experiences"])

    production = await create_site(shop.client, settings, name="Production")
    imported = await _import(shop, production, exported)
    assert imported.status_code == 200, imported.text
    assert imported.json() == {
        "created": ["free-shipping", "hero-copy", "ended-one"],
        "replaced": [],
        "skipped": [],
        "warnings": [],
    }
    source, copied = await _documents(shop, shop.site), await _documents(shop, production)
    assert {k: _content(v) for k, v in copied.items()} == {k: _content(v) for k, v in source.items()}
    assert {e["status"] for e in copied.values()} == {"draft"}  # nothing serves by surprise
    assert copied["free-shipping"]["seed"] == "fs-2026"  # same seed: same buckets on both sites


async def test_keep_status_starts_what_was_live_and_follows_the_lifecycle(
    shop: Shop, settings: Settings
) -> None:
    await _seeded(shop, STAGING_SET_UP[:2])
    production = await create_site(shop.client, settings, name="Production")
    kept = await _import(shop, production, await _export(shop), "?status=keep")
    assert kept.status_code == 200, kept.text
    statuses = {k: v["status"] for k, v in (await _documents(shop, production)).items()}
    assert statuses == {"free-shipping": "live", "hero-copy": "draft"}
    answer = await shop.client.post(f"/v1/assign?site={production['public_key']}", json={})
    assert [e["id"] for e in answer.json()["experiences"]] == ["free-shipping"]

    ended = {"experiences": [doc("ended-one", status="ended")]}
    refused = await _import(shop, production, ended, "?status=keep")
    assert refused.status_code == 409 and error(refused)["code"] == "invalid_transition"
    assert "experiences[0] (ended-one)" in error(refused)["message"]


async def test_existing_ids_fail_by_default_and_can_be_skipped_or_replaced(
    shop: Shop, settings: Settings
) -> None:
    await _seeded(shop, STAGING_SET_UP[:2])
    exported = await _export(shop)
    production = await create_site(shop.client, settings, name="Production")
    await _import(shop, production, {"experiences": [exported["experiences"][1] | {"name": "Old hero"}]})

    clash = await _import(shop, production, exported)
    assert clash.status_code == 409 and error(clash)["code"] == "experiences_exist"
    assert error(clash)["details"] == {"ids": ["hero-copy"]}
    assert set(await _documents(shop, production)) == {"hero-copy"}  # nothing was written

    skipped = await _import(shop, production, exported, "?on_conflict=skip")
    assert skipped.json()["created"] == ["free-shipping"] and skipped.json()["skipped"] == ["hero-copy"]
    assert (await _documents(shop, production))["hero-copy"]["name"] == "Old hero"

    replaced = await _import(shop, production, exported, "?on_conflict=replace")
    assert replaced.json()["replaced"] == ["free-shipping", "hero-copy"]
    copied = await _documents(shop, production)
    assert copied["hero-copy"]["name"] == exported["experiences"][1]["name"]
    assert copied["hero-copy"]["version"] == 2


async def test_an_invalid_document_names_every_problem_and_imports_nothing(
    shop: Shop, settings: Settings
) -> None:
    production = await create_site(shop.client, settings, name="Production")
    bad = {
        "experiences": [
            doc("fine"),
            doc("broken", traffic_percent=150),
            doc("fine"),
            "not an object",
        ]
    }
    refused = await _import(shop, production, bad)
    assert refused.status_code == 422 and error(refused)["code"] == "validation_failed"
    paths = {p["path"] for p in error(refused)["details"]}
    assert paths == {"experiences[1].traffic_percent", "experiences[2].id", "experiences[3]"}
    assert await _documents(shop, production) == {}
    wrong = await _import(shop, production, {"format": "something-else/9", "experiences": []})
    assert wrong.status_code == 422 and error(wrong)["details"][0]["path"] == "format"
    option = await _import(shop, production, {"experiences": []}, "?on_conflict=sometimes")
    assert option.status_code == 400 and error(option)["code"] == "bad_query"


async def test_segments_are_checked_against_the_target_sites_klaviyo_account(connected: Shop) -> None:
    other_account = {"experiences": [doc("vip-only", rules=seg("SEGMENT_OF_ANOTHER_ACCOUNT"))]}
    refused = await _import(connected, connected.site, other_account)
    assert refused.status_code == 422 and error(refused)["code"] == "unknown_segment"
    assert error(refused)["details"][0]["path"] == "experiences[0].targeting.rules.value"
    same_account = {"experiences": [doc("vip-only", rules=seg(VIP))]}
    accepted = await _import(connected, connected.site, same_account)
    assert accepted.status_code == 200 and accepted.json()["created"] == ["vip-only"]


async def test_another_sites_key_cannot_export_or_import(shop: Shop, settings: Settings) -> None:
    other = await create_site(shop.client, settings, name="Other")
    headers = {"Authorization": f"Bearer {other['api_key']}"}
    exported = await shop.client.get(f"/v1/sites/{shop.site_id}/export", headers=headers)
    imported = await shop.client.post(
        f"/v1/sites/{shop.site_id}/import", json={"experiences": []}, headers=headers
    )
    assert exported.status_code == imported.status_code == 404

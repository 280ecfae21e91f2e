"""Experiences CRUD: round trips, ETags and If-Match with concurrent editors, validation."""

from __future__ import annotations

import asyncio
from typing import Any

from edge.settings import Settings
from tests.apps import create_site
from tests.edge.config_api.support import Shop, error, etag_of, ids
from tests.targeting.factories import doc, seg, variations

HERO = doc("hero", status="draft", variation_ids=("control", "bold"))


def _without_meta(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in {"version", "created_at", "updated_at", "warnings"}}


async def test_create_read_replace_delete_round_trip(shop: Shop) -> None:
    created = await shop.create(HERO)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/v1/sites/{shop.site_id}/experiences/hero"
    assert etag_of(created) == '"1"'
    body = created.json()
    assert body["version"] == 1 and body["warnings"] == []
    # The canonical form: a missing `rules` is stored as {"all": []} (matches everyone).
    assert _without_meta(body) == HERO | {"seed": None, "targeting": {"mode": "custom", "rules": {"all": []}}}

    read = await shop.get("hero")
    assert read.status_code == 200 and etag_of(read) == '"1"'
    assert read.json() == body

    changed = HERO | {"name": "Hero headline", "traffic_percent": 50}
    replaced = await shop.put("hero", changed, if_match='"1"')
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2 and etag_of(replaced) == '"2"'
    assert (await shop.get("hero")).json()["name"] == "Hero headline"

    deleted = await shop.delete("hero", if_match='"2"')
    assert deleted.status_code == 204 and deleted.content == b""
    missing = await shop.get("hero")
    assert missing.status_code == 404 and error(missing)["code"] == "experience_not_found"


async def test_create_without_an_id_takes_a_slug_of_the_name_unique_in_the_site(shop: Shop) -> None:
    body = {k: v for k, v in HERO.items() if k != "id"} | {"name": "Free shipping: VIPs & Café!"}
    first, second = await shop.create(body), await shop.create(body)
    assert first.status_code == second.status_code == 201
    assert (first.json()["id"], second.json()["id"]) == (
        "free-shipping-vips-cafe",
        "free-shipping-vips-cafe-2",
    )
    assert first.headers["location"].endswith("/free-shipping-vips-cafe")
    assert (await shop.get("free-shipping-vips-cafe-2")).status_code == 200


async def test_a_name_without_letters_or_digits_gets_a_random_id(shop: Shop) -> None:
    body = {k: v for k, v in HERO.items() if k != "id"} | {"name": "!!! ???"}
    first, second = await shop.create(body), await shop.create(body)
    generated = first.json()["id"]
    assert generated.startswith("exp_") and len(generated) == 16 and generated != second.json()["id"]


async def test_creating_an_existing_id_is_a_conflict(shop: Shop) -> None:
    assert (await shop.create(HERO)).status_code == 201
    again = await shop.create(HERO)
    assert again.status_code == 409 and error(again)["code"] == "experience_exists"


async def test_list_filters_by_status_and_type(shop: Shop) -> None:
    await shop.create(HERO)
    await shop.create(doc("banner", type="personalization", status="draft", variation_ids=("none", "banner")))
    await shop.create(doc("everyone", status="live"))
    listed = await shop.client.get(shop.url(), headers=shop.auth)
    assert ids(listed.json()["experiences"]) == ["hero", "banner", "everyone"]
    assert all("version" in e for e in listed.json()["experiences"])
    drafts = await shop.client.get(shop.url("?status=draft"), headers=shop.auth)
    assert ids(drafts.json()["experiences"]) == ["hero", "banner"]
    tests = await shop.client.get(shop.url("?status=draft&type=test"), headers=shop.auth)
    assert ids(tests.json()["experiences"]) == ["hero"]
    bad = await shop.client.get(shop.url("?status=running"), headers=shop.auth)
    assert bad.status_code == 400 and error(bad)["code"] == "bad_query"
    assert "draft, live, paused, ended" in error(bad)["message"]


async def test_if_none_match_answers_304_while_current(shop: Shop) -> None:
    await shop.create(HERO)
    assert (await shop.get("hero", **{"If-None-Match": '"1"'})).status_code == 304
    assert (await shop.get("hero", **{"If-None-Match": 'W/"1"'})).status_code == 304
    assert (await shop.get("hero", **{"If-None-Match": "*"})).status_code == 304
    await shop.put("hero", HERO | {"name": "Renamed"}, if_match='"1"')
    stale = await shop.get("hero", **{"If-None-Match": '"1"'})
    assert stale.status_code == 200 and etag_of(stale) == '"2"' and stale.json()["name"] == "Renamed"
    unchanged = await shop.get("hero", **{"If-None-Match": '"1", "2"'})
    assert unchanged.status_code == 304 and etag_of(unchanged) == '"2"' and unchanged.content == b""


async def test_the_list_answers_304_until_any_experience_changes(shop: Shop) -> None:
    await shop.create(HERO)
    listed = await shop.client.get(shop.url(), headers=shop.auth)
    tag = etag_of(listed)
    again = await shop.client.get(shop.url(), headers=shop.auth | {"If-None-Match": tag})
    assert again.status_code == 304 and etag_of(again) == tag and again.content == b""
    await shop.create(doc("banner", type="personalization", status="draft", variation_ids=("none", "banner")))
    changed = await shop.client.get(shop.url(), headers=shop.auth | {"If-None-Match": tag})
    assert changed.status_code == 200 and etag_of(changed) != tag
    assert ids(changed.json()["experiences"]) == ["hero", "banner"]
    await shop.put("hero", HERO | {"name": "Renamed"}, if_match='"1"')  # an edit changes it too
    edited = await shop.client.get(shop.url(), headers=shop.auth | {"If-None-Match": etag_of(changed)})
    assert edited.status_code == 200 and edited.json()["experiences"][0]["name"] == "Renamed"


async def test_two_editors_first_put_wins_second_gets_412_with_the_current_version(shop: Shop) -> None:
    await shop.create(HERO)
    alice_read, bob_read = await shop.get("hero"), await shop.get("hero")
    alice_tag, bob_tag = etag_of(alice_read), etag_of(bob_read)
    assert alice_tag == bob_tag == '"1"'

    alice = await shop.put("hero", HERO | {"name": "Alice's headline"}, if_match=alice_tag)
    bob = await shop.put("hero", HERO | {"name": "Bob's headline"}, if_match=bob_tag)
    assert alice.status_code == 200
    assert bob.status_code == 412
    assert error(bob)["code"] == "version_mismatch"
    assert error(bob)["details"] == {"current_version": 2}
    assert etag_of(bob) == '"2"'
    assert "changed by someone else" in error(bob)["message"]
    assert (await shop.get("hero")).json()["name"] == "Alice's headline"  # Bob overwrote nothing

    # Bob reloads, reapplies his edit with the new version, and it goes through.
    retried = await shop.put("hero", HERO | {"name": "Bob's headline"}, if_match=etag_of(bob))
    assert retried.status_code == 200 and retried.json()["version"] == 3


async def test_concurrent_puts_with_the_same_version_let_exactly_one_through(shop: Shop) -> None:
    await shop.create(HERO)
    answers = await asyncio.gather(
        *(shop.put("hero", HERO | {"name": f"Editor {i}"}, if_match='"1"') for i in range(5))
    )
    assert sorted(a.status_code for a in answers) == [200, 412, 412, 412, 412]
    assert (await shop.get("hero")).json()["version"] == 2


async def test_put_and_delete_require_if_match(shop: Shop) -> None:
    await shop.create(HERO)
    put = await shop.put("hero", HERO, if_match=None)
    assert put.status_code == 428 and error(put)["code"] == "if_match_required"
    assert error(put)["details"] == {"current_version": 1} and 'If-Match: "1"' in error(put)["message"]
    delete = await shop.delete("hero", if_match=None)
    assert delete.status_code == 428
    stale_delete = await shop.delete("hero", if_match='"7"')
    assert stale_delete.status_code == 412 and error(stale_delete)["details"] == {"current_version": 1}
    weak = await shop.put("hero", HERO, if_match='W/"1"')
    assert weak.status_code == 412  # If-Match compares strongly
    assert (await shop.put("hero", HERO, if_match="*")).status_code == 200
    assert (await shop.put("hero", HERO, if_match="2")).status_code == 200  # bare number, for curl
    assert (await shop.delete("hero", if_match='"1", "3"')).status_code == 204


async def test_validation_lists_every_problem_with_its_path(shop: Shop) -> None:
    bad = doc("hero", status="draft", traffic_percent=150, colour="red") | {
        "variations": [
            {"id": "a", "name": "A", "weight": -1, "is_control": True},
            {"id": "a", "name": "", "weight": 1, "is_control": True},
        ],
        "targeting": {
            "mode": "custom",
            "rules": {"any": [{"attribute": "klaviyo_segment", "operator": "in"}]},
        },
    }
    response = await shop.create(bad)
    assert response.status_code == 422
    body = error(response)
    assert body["code"] == "validation_failed"
    paths = {problem["path"] for problem in body["details"]}
    assert {
        "colour",
        "traffic_percent",
        "variations[0].weight",
        "variations[1].id",
        "variations[1].name",
        "variations",
        "targeting.rules.any[0].value",
    } <= paths
    assert any(p["path"] == "colour" and p["message"] == "unknown field" for p in body["details"])
    assert (await shop.get("hero")).status_code == 404


async def test_malformed_bodies_are_4xx_never_5xx(shop: Shop) -> None:
    post = shop.client.post
    not_json = await post(shop.url(), content=b"{nope", headers=shop.auth)
    assert not_json.status_code == 400 and error(not_json)["code"] == "malformed_json"
    array = await post(shop.url(), content=b"[1, 2]", headers=shop.auth)
    assert array.status_code == 422
    empty = await post(shop.url(), content=b"", headers=shop.auth)
    assert empty.status_code == 400
    huge = await post(shop.url(), content=b"{" + b" " * 5000 + b"}", headers=shop.auth)
    assert huge.status_code == 413 and error(huge)["code"] == "payload_too_large"
    too_big_number = await post(shop.url(), content=b'{"traffic_percent": 1e400}', headers=shop.auth)
    assert too_big_number.status_code == 422


async def test_the_body_id_must_match_the_url_on_put(shop: Shop) -> None:
    await shop.create(HERO)
    other = await shop.put("hero", HERO | {"id": "villain"}, if_match='"1"')
    assert other.status_code == 422 and error(other)["details"][0]["path"] == "id"
    without = await shop.put("hero", {k: v for k, v in HERO.items() if k != "id"}, if_match='"1"')
    assert without.status_code == 200 and without.json()["id"] == "hero"


async def test_the_version_in_a_body_is_ignored(shop: Shop) -> None:
    created = await shop.create(HERO | {"version": 41})
    assert created.json()["version"] == 1
    replaced = await shop.put("hero", HERO | {"version": 99}, if_match='"1"')
    assert replaced.json()["version"] == 2


async def test_another_sites_key_sees_nothing(shop: Shop, settings: Settings) -> None:
    await shop.create(HERO)
    other = await create_site(shop.client, settings, name="Other")
    foreign = {"Authorization": f"Bearer {other['api_key']}"}
    for method, suffix in (("GET", ""), ("GET", "/hero"), ("DELETE", "/hero"), ("POST", "/hero/start")):
        response = await shop.client.request(method, shop.url(suffix), headers=foreign | {"If-Match": "*"})
        assert response.status_code == 404, (method, suffix)
        assert error(response)["code"] == "site_not_found"
    unauthenticated = await shop.client.get(shop.url())
    assert unauthenticated.status_code == 401


async def test_wrong_methods_answer_405_with_the_paths_methods(shop: Shop) -> None:
    response = await shop.client.patch(shop.url("/hero"), headers=shop.auth)
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "PUT", "DELETE"}


async def test_a_write_reaches_the_storefront_at_once(shop: Shop) -> None:
    visitor = {"visitor_id": "v" * 22}
    before = await shop.assign(visitor)
    assert before.json()["experiences"] == []
    await shop.create(doc("everyone", status="live", variation_ids=("control", "b")))
    after = await shop.assign(visitor)
    assert [e["id"] for e in after.json()["experiences"]] == ["everyone"]
    await shop.act("everyone", "pause", if_match='"1"')
    assert (await shop.assign(visitor)).json()["experiences"] == []


async def test_rules_round_trip_in_canonical_form(shop: Shop) -> None:
    rules = {"any": [seg("VIP"), {"all": [seg("Wholesale"), {"attribute": "klaviyo_segment",
                                                              "operator": "not_equals", "value": "Lapsed"}]}]}  # fmt: skip
    body = doc("vip", status="draft", rules=rules, variations=variations("control", "vip", weights=(3, 1)))
    created = await shop.create(body)
    assert created.status_code == 201, created.text
    assert created.json()["targeting"] == {"mode": "custom", "rules": rules}
    assert [v["weight"] for v in created.json()["variations"]] == [3, 1]

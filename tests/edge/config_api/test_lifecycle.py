"""The lifecycle draft -> live -> paused -> live -> ended, by PUT and by the start/pause/end actions,
and what editing a running test warns about."""

from __future__ import annotations

from typing import Any

import pytest

from tests.edge.config_api.support import Shop, codes, error, etag_of
from tests.targeting.factories import doc, seg

EXP = "checkout"
# How to bring a new experience to each status: the create status, then actions.
_PATHS: dict[str, tuple[str, tuple[str, ...]]] = {
    "draft": ("draft", ()),
    "live": ("live", ()),
    "paused": ("live", ("pause",)),
    "ended": ("draft", ("end",)),
}


def _doc(status: str, **extra: Any) -> dict[str, Any]:
    return doc(EXP, status=status, variation_ids=("control", "b", "c"), **extra)


async def _at(shop: Shop, status: str) -> str:
    """Create the experience and walk it to `status`; the current ETag."""
    initial, actions = _PATHS[status]
    response = await shop.create(_doc(initial))
    assert response.status_code == 201, response.text
    tag = etag_of(response)
    for action in actions:
        response = await shop.act(EXP, action, if_match=tag)
        assert response.status_code == 200, response.text
        tag = etag_of(response)
    assert response.json()["status"] == status
    return tag


ALLOWED = [("draft", "live"), ("draft", "ended"), ("live", "paused"), ("live", "ended"),
           ("paused", "live"), ("paused", "ended")]  # fmt: skip
FORBIDDEN = [("draft", "paused"), ("live", "draft"), ("paused", "draft"), ("ended", "live"),
             ("ended", "draft"), ("ended", "paused")]  # fmt: skip


@pytest.mark.parametrize(("start", "target"), ALLOWED)
async def test_every_allowed_transition_by_put(shop: Shop, start: str, target: str) -> None:
    tag = await _at(shop, start)
    response = await shop.put(EXP, _doc(target), if_match=tag)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == target
    assert (await shop.get(EXP)).json()["status"] == target


@pytest.mark.parametrize(("start", "target"), FORBIDDEN)
async def test_forbidden_transitions_are_409_naming_from_to_and_the_allowed_ones(
    shop: Shop, start: str, target: str
) -> None:
    tag = await _at(shop, start)
    response = await shop.put(EXP, _doc(target), if_match=tag)
    assert response.status_code == 409
    body = error(response)
    if start == "ended":
        assert body["code"] == "experience_ended"
        assert "final" in body["message"]
    else:
        assert body["code"] == "invalid_transition"
        assert body["details"]["from"] == start and body["details"]["to"] == target
        assert body["details"]["allowed"] == {"draft": ["live", "ended"], "live": ["paused", "ended"],
                                              "paused": ["live", "ended"]}[start]  # fmt: skip
        assert f"cannot go from {start} to {target}" in body["message"]
    assert (await shop.get(EXP)).json()["status"] == start  # nothing changed


@pytest.mark.parametrize(
    ("start", "action", "target"),
    [("draft", "start", "live"), ("paused", "start", "live"), ("live", "pause", "paused"),
     ("draft", "end", "ended"), ("live", "end", "ended"), ("paused", "end", "ended")],
)  # fmt: skip
async def test_every_action(shop: Shop, start: str, action: str, target: str) -> None:
    tag = await _at(shop, start)
    response = await shop.act(EXP, action, if_match=tag)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == target
    assert int(etag_of(response).strip('"')) == int(tag.strip('"')) + 1


@pytest.mark.parametrize(
    ("start", "action", "code"),
    [("live", "start", "invalid_transition"), ("draft", "pause", "invalid_transition"),
     ("paused", "pause", "invalid_transition"), ("ended", "start", "experience_ended"),
     ("ended", "end", "experience_ended")],
)  # fmt: skip
async def test_actions_that_do_not_apply_are_409(shop: Shop, start: str, action: str, code: str) -> None:
    tag = await _at(shop, start)
    response = await shop.act(EXP, action, if_match=tag)
    assert response.status_code == 409 and error(response)["code"] == code


async def test_actions_need_if_match_and_a_current_version(shop: Shop) -> None:
    await _at(shop, "draft")
    assert (await shop.act(EXP, "start", if_match=None)).status_code == 428
    stale = await shop.act(EXP, "start", if_match='"9"')
    assert stale.status_code == 412 and error(stale)["details"] == {"current_version": 1}
    assert (await shop.act("nope", "start", if_match="*")).status_code == 404


async def test_ended_is_final_even_for_an_edit_that_keeps_the_status(shop: Shop) -> None:
    tag = await _at(shop, "ended")
    response = await shop.put(EXP, _doc("ended", name="Renamed"), if_match=tag)
    assert response.status_code == 409 and error(response)["code"] == "experience_ended"


async def test_a_new_experience_starts_as_draft_or_live(shop: Shop) -> None:
    for status in ("paused", "ended"):
        response = await shop.create(_doc(status))
        assert response.status_code == 409
        assert error(response)["details"] == {"from": None, "to": status, "allowed": ["draft", "live"]}


async def test_the_type_cannot_change(shop: Shop) -> None:
    tag = await _at(shop, "draft")
    response = await shop.put(EXP, _doc("draft", type="personalization"), if_match=tag)
    assert response.status_code == 409 and error(response)["code"] == "type_immutable"


async def test_a_live_experience_cannot_be_deleted_until_paused_or_ended(shop: Shop) -> None:
    tag = await _at(shop, "live")
    refused = await shop.delete(EXP, if_match=tag)
    assert refused.status_code == 409 and error(refused)["code"] == "experience_live"
    paused = await shop.act(EXP, "pause", if_match=tag)
    assert (await shop.delete(EXP, if_match=etag_of(paused))).status_code == 204


async def test_an_ended_experience_can_be_deleted(shop: Shop) -> None:
    tag = await _at(shop, "ended")
    assert (await shop.delete(EXP, if_match=tag)).status_code == 204


async def test_editing_a_live_test_warns_about_visitors_who_entered(shop: Shop) -> None:
    tag = await _at(shop, "live")
    edited = _doc("live", traffic_percent=50) | {
        "variations": [
            {"id": "control", "name": "Control", "weight": 2, "is_control": True},
            {"id": "b", "name": "B", "weight": 1, "is_control": False},
            {"id": "d", "name": "D", "weight": 1, "is_control": False},
        ],
        "targeting": {"mode": "advanced", "audiences": [{"rules": {}, "action": "random"}]},
        "seed": "checkout-2",
    }
    response = await shop.put(EXP, edited, if_match=tag)
    assert response.status_code == 200, response.text
    warnings = {w["code"]: w["message"] for w in response.json()["warnings"]}
    assert set(warnings) >= {"variation_removed", "variation_added", "weights_changed", "traffic_changed",
                             "targeting_changed", "seed_changed"}  # fmt: skip
    assert "visitors who entered c are decided afresh" in warnings["variation_removed"]
    assert "visitors who already entered keep their variation" in warnings["weights_changed"]
    # The warnings belong to the write: reading it back shows none.
    assert (await shop.get(EXP)).json()["warnings"] == []


async def test_a_live_test_cannot_target_segments_while_klaviyo_is_not_connected(shop: Shop) -> None:
    tag = await _at(shop, "live")
    response = await shop.put(EXP, _doc("live", rules={"any": [seg("VIP")]}), if_match=tag)
    assert response.status_code == 409 and error(response)["code"] == "klaviyo_not_connected"


async def test_moving_the_control_of_a_paused_test_says_who_sees_the_new_one(shop: Shop) -> None:
    tag = await _at(shop, "paused")
    edited = _doc("paused") | {
        "variations": [
            {"id": "control", "name": "Control", "weight": 1, "is_control": False},
            {"id": "b", "name": "B", "weight": 1, "is_control": True},
            {"id": "c", "name": "C", "weight": 1, "is_control": False},
        ]
    }
    response = await shop.put(EXP, edited, if_match=tag)
    assert codes(response) == ["control_changed"]


async def test_drafts_and_personalizations_get_no_visitor_warnings(shop: Shop) -> None:
    tag = await _at(shop, "draft")
    response = await shop.put(EXP, _doc("draft", traffic_percent=10), if_match=tag)
    assert codes(response) == []
    created = await shop.create(
        doc("banner", type="personalization", status="live", variation_ids=("off", "on"))
    )
    changed = doc("banner", type="personalization", status="live", variation_ids=("off", "on2"))
    assert codes(await shop.put("banner", changed, if_match=etag_of(created))) == []


async def test_an_unchanged_live_test_gets_no_warnings(shop: Shop) -> None:
    tag = await _at(shop, "live")
    assert codes(await shop.put(EXP, _doc("live", name="Renamed only"), if_match=tag)) == []

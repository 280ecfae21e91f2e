"""`POST /api/events` and bulk jobs: strict shape, 202, dedupe, profile properties."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from sandbox import DEMO_ACCOUNT_ID, DEMO_PEOPLE, SandboxState

AVA = DEMO_PEOPLE[0]


def event_body(
    metric: str = "Entered Test", profile: dict[str, Any] | None = None, **attributes: Any
) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"Experience": "exp-1", "Variation": "B"},
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {"data": {"type": "profile", "attributes": profile or {"_kx": AVA.kx}}},
                **attributes,
            },
        }
    }


def bulk_body(entries: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> dict[str, Any]:
    return {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {
                "events-bulk-create": {
                    "data": [
                        {
                            "type": "event-bulk-create",
                            "attributes": {
                                "profile": {"data": {"type": "profile", "attributes": profile}},
                                "events": {"data": [{"type": "event", "attributes": e} for e in events]},
                            },
                        }
                        for profile, events in entries
                    ]
                }
            },
        }
    }


def bulk_event(metric: str = "Saw Personalization", **attributes: Any) -> dict[str, Any]:
    return {
        "properties": {"Variation": "A"},
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        **attributes,
    }


async def test_should_accept_an_event_with_202_and_an_empty_body(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    body = event_body(unique_id="u-1", value=12.5, time="2027-01-15T10:00:00Z")
    response = await client.post("/api/events", json=body)
    assert response.status_code == 202
    assert response.content == b""
    [event] = state.events()
    assert (event.metric_name, event.profile_id, event.unique_id) == (
        "Entered Test", AVA.profile_id, "u-1",
    )  # fmt: skip
    assert event.properties == {"Experience": "exp-1", "Variation": "B"}
    assert event.value == 12.5
    assert event.body == body
    assert event.identifiers == {"_kx": AVA.kx}


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, last = path.split("/")
    target = changed
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return changed


_DELETE = object()
_A = "data/attributes"


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        ("data/type", "events", "/data/type"),
        (f"{_A}/properties", _DELETE, "/data/attributes/properties"),
        (f"{_A}/properties", [], "/data/attributes/properties"),
        (f"{_A}/metric/data/attributes/name", "x" * 128, "/data/attributes/metric/data/attributes/name"),
        (f"{_A}/metric/data/attributes/name", "", "/data/attributes/metric/data/attributes/name"),
        (f"{_A}/metric/data/type", "event", "/data/attributes/metric/data/type"),
        (f"{_A}/profile/data/attributes", {"first_name": "A"}, "/data/attributes/profile/data/attributes"),
        (f"{_A}/profile/data/attributes", {"_kx": 5}, "/data/attributes/profile/data/attributes/_kx"),
        (f"{_A}/profile/data/attributes/id", "01X", "/data/attributes/profile/data/attributes/id"),
        (f"{_A}/profile", _DELETE, "/data/attributes/profile"),
        (f"{_A}/value", "12", "/data/attributes/value"),
        (f"{_A}/time", "yesterday", "/data/attributes/time"),
        (f"{_A}/time", "1989-12-31T00:00:00Z", "/data/attributes/time"),
        (f"{_A}/unique_id", 7, "/data/attributes/unique_id"),
        (f"{_A}/backfill", "no", "/data/attributes/backfill"),
        (f"{_A}/uniqueid", "typo", "/data/attributes/uniqueid"),
    ],
)
async def test_should_refuse_malformed_events_naming_the_member(
    client: httpx.AsyncClient, state: SandboxState, path: str, value: Any, pointer: str
) -> None:
    response = await client.post("/api/events", json=_set(event_body(), path, value))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": pointer}
    assert state.events() == []


async def test_should_accept_a_127_character_metric_name_and_other_identifiers(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    assert (await client.post("/api/events", json=event_body("m" * 127))).status_code == 202
    by_id = event_body(profile={})
    by_id["data"]["attributes"]["profile"]["data"]["id"] = AVA.profile_id
    assert (await client.post("/api/events", json=by_id)).status_code == 202
    by_email = event_body("Other", profile={"email": AVA.email})
    assert (await client.post("/api/events", json=by_email)).status_code == 202
    assert [e.profile_id for e in state.events()] == [AVA.profile_id] * 3


async def test_should_refuse_non_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/events", content=b"{nope")
    assert response.status_code == 400


async def test_should_record_a_duplicate_unique_id_once(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    for _ in range(3):
        response = await client.post("/api/events", json=event_body(unique_id="same"))
        assert response.status_code == 202
    other_metric = event_body("Saw Personalization", unique_id="same")
    assert (await client.post("/api/events", json=other_metric)).status_code == 202
    other_profile = event_body(unique_id="same", profile={"email": DEMO_PEOPLE[1].email})
    assert (await client.post("/api/events", json=other_profile)).status_code == 202
    assert len(state.events()) == 3
    assert len(state.events(metric_name="Entered Test")) == 2


async def test_should_dedupe_events_without_unique_id_by_the_second(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await client.post("/api/events", json=event_body())
    await client.post("/api/events", json=event_body())
    assert len(state.events()) == 1
    state.event_log.dedupe_by_second = False
    await client.post("/api/events", json=event_body())
    assert len(state.events()) == 2


async def test_should_store_profile_properties_and_create_new_profiles(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    profile = {"_kx": AVA.kx, "properties": {"kx_variation": "B"}}
    assert (await client.post("/api/events", json=event_body(profile=profile))).status_code == 202
    ava = state.profile(AVA.profile_id)
    assert ava is not None
    assert ava.properties["kx_variation"] == "B"
    assert ava.properties["Favorite Category"] == "Outerwear"

    new = {"email": "new.shopper@example.com", "first_name": "Nora", "properties": {"a": 1}}
    await client.post("/api/events", json=event_body(profile=new))
    created = state.profile_by(DEMO_ACCOUNT_ID, "email", "new.shopper@example.com")
    assert created is not None
    assert (created.first_name, created.properties) == ("Nora", {"a": 1})

    unknown_kx = event_body(profile={"_kx": "Tm9ib2R5SGVyZQ==.abc123"})
    assert (await client.post("/api/events", json=unknown_kx)).status_code == 202
    assert state.events()[-1].profile_id is None


async def test_should_accept_a_bulk_job(client: httpx.AsyncClient, state: SandboxState) -> None:
    body = bulk_body(
        [
            ({"_kx": AVA.kx}, [bulk_event(unique_id="b1"), bulk_event("Entered Test", unique_id="b2")]),
            ({"email": DEMO_PEOPLE[1].email}, [bulk_event(unique_id="b1")]),
        ]
    )
    response = await client.post("/api/event-bulk-create-jobs", json=body)
    assert response.status_code == 202
    assert response.content == b""
    events = state.events()
    assert [(e.profile_id, e.metric_name, e.bulk) for e in events] == [
        (AVA.profile_id, "Saw Personalization", True),
        (AVA.profile_id, "Entered Test", True),
        (DEMO_PEOPLE[1].profile_id, "Saw Personalization", True),
    ]
    again = await client.post("/api/event-bulk-create-jobs", json=body)
    assert again.status_code == 202
    assert len(state.events()) == 3


async def test_should_refuse_bulk_jobs_too_big_malformed_or_repeating_a_unique_id(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    many = [bulk_event(unique_id=str(i)) for i in range(501)]
    too_big = bulk_body([({"_kx": AVA.kx}, many), ({"email": AVA.email}, many)])
    response = await client.post("/api/event-bulk-create-jobs", json=too_big)
    assert response.status_code == 400
    assert "1000" in response.json()["errors"][0]["detail"]

    exactly = bulk_body([({"email": f"p{i}@example.com"}, many[:100]) for i in range(10)])
    assert (await client.post("/api/event-bulk-create-jobs", json=exactly)).status_code == 202
    assert len(state.events()) == 1000

    repeated = bulk_body([({"_kx": AVA.kx}, [bulk_event(unique_id="r"), bulk_event(unique_id="r")])])
    response = await client.post("/api/event-bulk-create-jobs", json=repeated)
    assert response.status_code == 400
    assert len(state.events()) == 1000

    no_profile_id = bulk_body([({"first_name": "X"}, [bulk_event()])])
    response = await client.post("/api/event-bulk-create-jobs", json=no_profile_id)
    assert response.status_code == 400
    pointer = "/data/attributes/events-bulk-create/data/0/attributes/profile/data/attributes"
    assert response.json()["errors"][0]["source"] == {"pointer": pointer}

    wrong_type = bulk_body([({"_kx": AVA.kx}, [bulk_event()])])
    wrong_type["data"]["type"] = "event-bulk-create"
    assert (await client.post("/api/event-bulk-create-jobs", json=wrong_type)).status_code == 400

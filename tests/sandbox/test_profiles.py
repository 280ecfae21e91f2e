"""Profiles by `_kx` (and email), a profile's segments, profile by id."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sandbox import DEMO_ACCOUNT_ID, DEMO_PEOPLE, SandboxState, demo_segment_id
from tests.sandbox.support import FakeClock

AVA, DANIEL, GEORGE = DEMO_PEOPLE[0], DEMO_PEOPLE[3], DEMO_PEOPLE[6]


def kx_filter(kx: str) -> str:
    return f"equals(_kx,{json.dumps(kx)})"


async def find(client: httpx.AsyncClient, filter_: str, **params: str) -> httpx.Response:
    return await client.get("/api/profiles", params={"filter": filter_, **params})


async def test_should_find_a_profile_by_kx(client: httpx.AsyncClient) -> None:
    response = await find(client, kx_filter(AVA.kx), **{"fields[profile]": "id", "page[size]": "1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.api+json"
    body = response.json()
    assert [p["id"] for p in body["data"]] == [AVA.profile_id]
    assert body["data"][0]["attributes"] == {}
    assert "next" not in body["links"]


async def test_should_answer_empty_data_for_an_unknown_kx(client: httpx.AsyncClient) -> None:
    response = await find(client, kx_filter("QUJDREVGR0hJSktMTU5PUA==.nope12"))
    assert response.status_code == 200
    assert response.json()["data"] == []


async def test_should_find_by_email_and_return_attributes(client: httpx.AsyncClient) -> None:
    response = await find(client, f'equals(email,"{AVA.email}")')
    [profile] = response.json()["data"]
    assert profile["attributes"]["first_name"] == "Ava"
    assert profile["attributes"]["email"] == AVA.email
    assert "_kx" not in profile["attributes"]
    assert profile["links"]["self"] == f"http://fake/api/profiles/{AVA.profile_id}/"


@pytest.mark.parametrize(
    "value",
    [
        'x","email","' + AVA.email,
        f'nope"),equals(email,"{AVA.email}"',
        '") ,any(email,["' + AVA.email + '"])',
        f'{AVA.kx}" ',
        AVA.kx + "\\",
        "*",
        "",
    ],
)
async def test_should_never_match_other_profiles_with_hostile_kx_values(
    client: httpx.AsyncClient, value: str
) -> None:
    quoted = await find(client, kx_filter(value))  # what a careful client sends
    assert quoted.status_code == 200
    assert quoted.json()["data"] == []
    pasted = await find(client, f'equals(_kx,"{value}")')  # what a careless one would
    assert pasted.status_code == 400 or pasted.json()["data"] == []


@pytest.mark.parametrize(
    ("filter_", "fragment"),
    [
        ('equals(_kx,"unterminated)', "unterminated"),
        ("equals(_kx,unquoted)", "quoted"),
        ('equals(_kx,"a"', "expected ')'"),
        ('any(_kx,["a"])', "operator"),
        ('equals(first_name,"Ava")', "not a valid field"),
        ('or(equals(email,"a"),equals(email,"b"))', "not supported"),
        ('equals(email,"a") trailing', "unexpected"),
        ("equals(email,true)", "string"),
    ],
)
async def test_should_refuse_a_malformed_filter_naming_the_parameter(
    client: httpx.AsyncClient, filter_: str, fragment: str
) -> None:
    response = await find(client, filter_)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert set(error) >= {"id", "code", "title", "detail", "source"}
    assert error["source"] == {"parameter": "filter"}
    assert fragment in error["detail"]


async def test_should_page_profiles_with_cursors(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    url: str | None = "/api/profiles?page[size]=5"
    while url:
        body = (await client.get(url)).json()
        assert len(body["data"]) <= 5
        seen += [p["id"] for p in body["data"]]
        url = body["links"].get("next")
    assert seen == sorted(p.profile_id for p in DEMO_PEOPLE)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"page[size]": "101"}, "page[size]"),
        ({"page[size]": "0"}, "page[size]"),
        ({"page[cursor]": "%%%"}, "page[cursor]"),
        ({"fields[profile]": "nonsense"}, "fields[profile]"),
        ({"include": "segments"}, "include"),
    ],
)
async def test_should_refuse_bad_list_parameters(
    client: httpx.AsyncClient, params: dict[str, str], parameter: str
) -> None:
    response = await client.get("/api/profiles", params=params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["parameter"] == parameter


async def test_should_list_a_profiles_segment_ids(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/profiles/{DANIEL.profile_id}/relationships/segments")
    assert response.status_code == 200
    expected = sorted(demo_segment_id(n) for n in ("Wholesale", "Lapsed"))
    assert response.json()["data"] == [{"type": "segment", "id": s} for s in expected]


async def test_should_list_a_profiles_segments_in_full_with_sparse_fields(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        f"/api/profiles/{DANIEL.profile_id}/segments", params={"fields[segment]": "name"}
    )
    names = sorted(s["attributes"]["name"] for s in response.json()["data"])
    assert names == ["Lapsed", "Wholesale"]
    assert all(set(s["attributes"]) == {"name"} for s in response.json()["data"])
    full = (await client.get(f"/api/profiles/{DANIEL.profile_id}/segments/")).json()["data"][0]
    assert set(full["attributes"]) == {
        "name", "created", "updated", "is_active", "is_processing", "is_starred",
    }  # fmt: skip


async def test_should_answer_no_segments_for_an_unsegmented_profile(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/api/profiles/{GEORGE.profile_id}/relationships/segments")
    assert response.json()["data"] == []


async def test_should_answer_404_for_unknown_or_foreign_profiles(
    client: httpx.AsyncClient, state: SandboxState, clock: FakeClock
) -> None:
    state.add_account("Other", account_id="Other1")
    foreign = state.add_profile("Other1", email="x@example.com")
    for profile_id in ("01UNKNOWN", foreign.id):
        for path in ("", "/relationships/segments", "/segments"):
            clock.advance(1)  # stay inside the 3/s burst of a profile's segments
            response = await client.get(f"/api/profiles/{profile_id}{path}")
            assert response.status_code == 404
            assert response.json()["errors"][0]["code"] == "not_found"


async def test_should_include_segments_on_a_profile_at_the_slow_tier(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    response = await client.get(f"/api/profiles/{DANIEL.profile_id}", params={"include": "segments"})
    body: dict[str, Any] = response.json()
    assert response.headers["RateLimit-Limit"] == "15"
    related = body["data"]["relationships"]["segments"]["data"]
    assert {s["id"] for s in related} == {s["id"] for s in body["included"]}
    assert len(related) == 2
    plain = await client.get(f"/api/profiles/{DANIEL.profile_id}")
    assert plain.headers["RateLimit-Limit"] == "750"
    assert "included" not in plain.json()
    assert state.calls.count("/api/profiles/{id}", account_id=DEMO_ACCOUNT_ID) == 2

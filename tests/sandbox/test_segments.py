"""The segment list, and a segment's members: pages, sort, filters, the `_kx` switch."""

from __future__ import annotations

import json
from datetime import datetime

import httpx
import pytest
from starlette.applications import Starlette

from sandbox import (
    DEMO_ACCOUNT_ID,
    DEMO_PEOPLE,
    SandboxState,
    bulk_state,
    create_fake_klaviyo,
    demo_segment_id,
)
from tests.sandbox.support import ALL_SCOPES, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, REVISION

VIP = demo_segment_id("VIP")
VIPS = [p for p in DEMO_PEOPLE if "VIP" in p.segments]


async def collect(client: httpx.AsyncClient, url: str, **params: str) -> list[list[str]]:
    """The ids of every page, following `links.next`."""
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url:
        response = await client.get(next_url, params=params if not pages else None)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["data"]])
        next_url = body["links"].get("next")
    return pages


async def names(client: httpx.AsyncClient, filter_: str) -> list[str]:
    response = await client.get("/api/segments", params={"filter": filter_})
    assert response.status_code == 200, response.text
    return sorted(s["attributes"]["name"] for s in response.json()["data"])


async def test_should_page_segments_ten_at_most(client: httpx.AsyncClient, state: SandboxState) -> None:
    for i in range(25):
        state.add_segment(DEMO_ACCOUNT_ID, f"Extra {i}")
    pages = await collect(client, "/api/segments")
    assert [len(p) for p in pages] == [10, 10, 9]
    ids = [s for page in pages for s in page]
    assert ids == sorted(s.id for s in state.segments(DEMO_ACCOUNT_ID))
    small = await collect(client, "/api/segments", **{"page[size]": "2"})
    assert [len(p) for p in small] == [2] * 14 + [1]
    too_big = await client.get("/api/segments", params={"page[size]": "11"})
    assert too_big.status_code == 400


async def test_should_filter_segments(client: httpx.AsyncClient, state: SandboxState) -> None:
    assert await names(client, 'any(name,["VIP","Wholesale"])') == ["VIP", "Wholesale"]
    assert await names(client, "any(name,['VIP','Lapsed'])") == ["Lapsed", "VIP"]  # SDK quoting
    assert await names(client, 'equals(name,"VIP")') == ["VIP"]
    assert await names(client, "equals(is_starred,true)") == ["VIP", "Wholesale"]
    state.update_segment(demo_segment_id("Lapsed"), is_active=False)
    assert await names(client, "equals(is_active,true)") == ["Newsletter", "VIP", "Wholesale"]
    assert await names(client, 'equals(is_active,false),equals(name,"Lapsed")') == ["Lapsed"]
    assert await names(client, 'and(equals(is_starred,true),equals(name,"VIP"))') == ["VIP"]
    refused = await client.get("/api/segments", params={"filter": 'equals(is_starred,"true")'})
    assert refused.status_code == 400


async def test_should_list_members_as_ids_and_in_full(client: httpx.AsyncClient) -> None:
    ids = await collect(client, f"/api/segments/{VIP}/relationships/profiles", **{"page[size]": "3"})
    assert [len(p) for p in ids] == [3, 1]
    assert sorted(i for p in ids for i in p) == sorted(p.profile_id for p in VIPS)
    body = (await client.get(f"/api/segments/{VIP}/relationships/profiles")).json()
    assert body["data"][0] == {"type": "profile", "id": body["data"][0]["id"]}

    full = (await client.get(f"/api/segments/{VIP}/profiles")).json()["data"]
    assert {m["type"] for m in full} == {"profile"}
    joined = [datetime.fromisoformat(m["attributes"]["joined_group_at"]) for m in full]
    assert joined == sorted(joined)
    emails = {m["attributes"]["email"] for m in full}
    assert emails == {p.email for p in VIPS}


async def test_should_sort_and_filter_members_by_joined_group_at(
    client: httpx.AsyncClient,
) -> None:
    url = f"/api/segments/{VIP}/profiles"
    newest_first = (await client.get(url, params={"sort": "-joined_group_at"})).json()["data"]
    oldest_first = (await client.get(url, params={"sort": "joined_group_at"})).json()["data"]
    assert [m["id"] for m in newest_first] == [m["id"] for m in reversed(oldest_first)]
    middle = oldest_first[1]["attributes"]["joined_group_at"].replace("+00:00", "Z")
    later = await client.get(url, params={"filter": f"greater-than(joined_group_at,{middle})"})
    assert [m["id"] for m in later.json()["data"]] == [m["id"] for m in oldest_first[2:]]
    not_before = await client.get(url, params={"filter": f"greater-or-equal(joined_group_at,{middle})"})
    assert len(not_before.json()["data"]) == 3
    quoted = await client.get(url, params={"filter": f'greater-than(joined_group_at,"{middle}")'})
    assert quoted.status_code == 400
    assert (await client.get(url, params={"sort": "email"})).status_code == 400


async def test_should_filter_members_by_profile_id_and_email(client: httpx.AsyncClient) -> None:
    url = f"/api/segments/{VIP}/relationships/profiles"
    ava, chloe = DEMO_PEOPLE[0], DEMO_PEOPLE[2]

    async def ids(filter_: str) -> list[str]:
        response = await client.get(url, params={"filter": filter_})
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["data"]]

    assert await ids(f'equals(profile_id,"{ava.profile_id}")') == [ava.profile_id]
    assert await ids(f'equals(profile_id,"{chloe.profile_id}")') == []
    assert await ids(f'any(profile_id,["{ava.profile_id}","{chloe.profile_id}"])') == [ava.profile_id]
    assert await ids(f'equals(email,"{ava.email}")') == [ava.profile_id]


async def test_should_check_one_visitor_with_the_kx_filter_and_refuse_it_when_switched(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    url = f"/api/segments/{VIP}/relationships/profiles"
    ava, chloe = DEMO_PEOPLE[0], DEMO_PEOPLE[2]

    async def get(kx: str) -> httpx.Response:
        return await client.get(url, params={"filter": f"equals(_kx,{json.dumps(kx)})"})

    assert (await get(ava.kx)).json()["data"] == [{"type": "profile", "id": ava.profile_id}]
    assert (await get(chloe.kx)).json()["data"] == []
    assert (await get("QUJD==.unknown")).json()["data"] == []
    state.refuse_kx_member_filter = True
    refused = await get(ava.kx)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["source"] == {"parameter": "filter"}
    assert (await client.get(url)).status_code == 200


async def test_should_answer_404_for_unknown_or_foreign_segments(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    state.add_account("Other", account_id="Other1")
    foreign = state.add_segment("Other1", "Theirs")
    for segment_id in ("nope00", foreign.id):
        for path in ("relationships/profiles", "profiles"):
            response = await client.get(f"/api/segments/{segment_id}/{path}")
            assert response.status_code == 404


async def test_should_page_many_members_completely_both_ways() -> None:
    state = bulk_state(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, members=1_000)
    tokens = state.issue_tokens(CLIENT_ID, DEMO_ACCOUNT_ID, ALL_SCOPES)
    headers = {"revision": REVISION, "Authorization": f"Bearer {tokens.access_token}"}
    app: Starlette = create_fake_klaviyo(state, enforce_rate_limits=False)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://f", headers=headers) as c:
        url = f"/api/segments/{VIP}/relationships/profiles"
        forward = await collect(c, url, **{"page[size]": "100"})
        backward = await collect(c, url, **{"page[size]": "100", "sort": "-joined_group_at"})
    expected = [pid for _, pid in state.member_order(VIP)]
    assert len(expected) == 250 + len(VIPS)
    assert [len(p) for p in forward] == [100, 100, 54]
    assert [i for p in forward for i in p] == expected
    assert [i for p in backward for i in p] == expected[::-1]


@pytest.mark.parametrize("size", ["0", "101", "ten"])
async def test_should_refuse_member_page_sizes_out_of_range(client: httpx.AsyncClient, size: str) -> None:
    response = await client.get(f"/api/segments/{VIP}/profiles", params={"page[size]": size})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "page[size]"}

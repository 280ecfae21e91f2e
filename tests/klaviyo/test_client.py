from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest
import respx

from klaviyo import (
    JSON_API,
    ConnectionRef,
    KlaviyoClient,
    LocalRateGate,
    Tier,
    budget_limits,
    errors,
    retry_after_seconds,
)
from tests.klaviyo.conftest import API, FakeTokens, ids

CONN = ConnectionRef("site1", "ACCT1", 1)
KX = "ABCDEFGHIJKLMNOP==.UHFmv9"


def make_client(http: httpx.AsyncClient, tokens: FakeTokens, **kwargs: object) -> KlaviyoClient:
    options: dict[str, object] = {"api_base": API, "backoff_base_s": 0.001}
    options.update(kwargs)
    return KlaviyoClient(http, tokens, **options)  # type: ignore[arg-type]


def soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


async def test_profile_lookup_sends_revision_accept_bearer_and_a_quoted_filter(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    route = klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    client = make_client(http, tokens)
    calls: Counter[str] = Counter()
    assert await client.find_profile_id(CONN, KX, deadline=soon(), calls=calls) == "P1"
    request = route.calls.last.request
    assert request.headers["revision"] == "2026-10-15"
    assert request.headers["accept"] == JSON_API
    assert request.headers["authorization"] == "Bearer t1"
    assert request.url.params["filter"] == f'equals(_kx,"{KX}")'
    assert request.url.params["fields[profile]"] == "id"
    assert calls == {"profiles": 1}


async def test_no_profile_is_none(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=ids("profile"))
    assert await make_client(http, tokens).find_profile_id(CONN, KX) is None


async def test_profile_segments_follow_links_next_and_count_only_segments(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    path = "/api/profiles/P1/relationships/segments"
    route = klaviyo.get(path).mock(
        side_effect=[
            ids("segment", "S1", "S2", next_url=f"{API}{path}?page%5Bcursor%5D=abc"),
            httpx.Response(
                200,
                json={"data": [{"type": "segment", "id": "S3"}, {"type": "list", "id": "L1"}]},
            ),
        ]
    )
    found = await make_client(http, tokens).profile_segment_ids(CONN, "P1")
    assert found == {"S1", "S2", "S3"}
    assert route.call_count == 2
    assert route.calls.last.request.url.params["page[cursor]"] == "abc"


async def test_links_next_to_another_host_is_not_followed(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    klaviyo.get("/api/profiles/P1/relationships/segments").mock(
        return_value=ids("segment", "S1", next_url="https://evil.test/steal")
    )
    with pytest.raises(errors.ProtocolError):
        await make_client(http, tokens).profile_segment_ids(CONN, "P1")


async def test_path_ids_are_escaped(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    route = klaviyo.get(url__regex=r".*/api/segments/.*").mock(return_value=ids("profile"))
    assert not await make_client(http, tokens).segment_has_kx(CONN, "a/../b?x", KX)
    assert route.calls.last.request.url.raw_path.startswith(b"/api/segments/a%2F..%2Fb%3Fx/")


async def test_429_blocks_the_whole_account_for_retry_after(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    route = klaviyo.get("/api/profiles").mock(return_value=httpx.Response(429, headers={"Retry-After": "30"}))
    client = make_client(http, tokens)
    with pytest.raises(errors.RateLimited) as raised:
        await client.find_profile_id(CONN, KX)
    assert raised.value.retry_after_s == 30
    # Any tier of the same account is now refused without a request.
    with pytest.raises(errors.AccountThrottled) as refused:
        await client.profile_segment_ids(CONN, "P1")
    assert 29 < (refused.value.retry_after_s or 0) <= 30
    assert route.call_count == 1


async def test_5xx_is_retried_with_backoff_then_succeeds(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    route = klaviyo.get("/api/profiles").mock(
        side_effect=[httpx.Response(503), httpx.Response(500), ids("profile", "P1")]
    )
    assert await make_client(http, tokens).find_profile_id(CONN, KX, deadline=soon(1)) == "P1"
    assert route.call_count == 3


async def test_timeouts_exhaust_the_attempts(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    route = klaviyo.get("/api/profiles").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(errors.KlaviyoUnavailable):
        await make_client(http, tokens, max_attempts=2).find_profile_id(CONN, KX)
    assert route.call_count == 2


async def test_no_retry_when_the_deadline_has_no_room(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    route = klaviyo.get("/api/profiles").mock(return_value=httpx.Response(500))
    client = make_client(http, tokens, backoff_base_s=10.0, backoff_max_s=10.0)
    with pytest.raises(errors.KlaviyoUnavailable):
        await client.find_profile_id(CONN, KX, deadline=soon(1))
    assert route.call_count == 1


async def test_401_refreshes_once_and_retries(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    route = klaviyo.get("/api/profiles").mock(side_effect=[httpx.Response(401), ids("profile", "P1")])
    assert await make_client(http, tokens).find_profile_id(CONN, KX) == "P1"
    assert tokens.refreshes == ["t1"]
    assert route.calls.last.request.headers["authorization"] == "Bearer t2"


async def test_401_after_refresh_is_unauthorized(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    route = klaviyo.get("/api/profiles").mock(return_value=httpx.Response(401))
    with pytest.raises(errors.Unauthorized):
        await make_client(http, tokens).find_profile_id(CONN, KX)
    assert route.call_count == 2
    assert tokens.refreshes == ["t1"]


async def test_a_broken_token_source_means_no_call(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    tokens.broken = True
    with pytest.raises(errors.TokenUnavailable):
        await make_client(http, tokens).find_profile_id(CONN, KX)


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, errors.BadRequest), (404, errors.NotFound), (403, errors.UnexpectedStatus)],
)
async def test_client_errors_are_typed(
    klaviyo: respx.MockRouter,
    http: httpx.AsyncClient,
    tokens: FakeTokens,
    status: int,
    error: type[errors.KlaviyoError],
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=httpx.Response(status, json={"errors": [{"code": "x"}]}))
    with pytest.raises(error):
        await make_client(http, tokens).find_profile_id(CONN, KX)


async def test_unreadable_answer_is_a_protocol_error(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=httpx.Response(200, text="<html>"))
    with pytest.raises(errors.ProtocolError):
        await make_client(http, tokens).find_profile_id(CONN, KX)


async def test_an_empty_budget_refuses_without_a_request(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    gate = LocalRateGate(budget_limits(0.8))
    for _ in range(2):  # profile-segments: 3/s * 0.8 = 2 a second
        assert gate.take_now("ACCT1", Tier.PROFILE_SEGMENTS) is None
    with pytest.raises(errors.BudgetExhausted) as refused:
        await make_client(http, tokens, gate=gate).profile_segment_ids(CONN, "P1")
    assert 0 < (refused.value.retry_after_s or 0) <= 1


async def test_get_account_and_list_segments(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    klaviyo.get("/api/accounts").mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {
                        "type": "account",
                        "id": "ACCT1",
                        "attributes": {
                            "test_account": False,
                            "contact_information": {"organization_name": "Shop"},
                        },
                    }
                ]
            },
        )
    )
    segment = {"type": "segment", "attributes": {"name": "VIP", "is_active": True}}
    route = klaviyo.get("/api/segments").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "data": [{**segment, "id": "S1"}],
                    "links": {"next": f"{API}/api/segments?page%5Bcursor%5D=2"},
                },
            ),
            httpx.Response(200, json={"data": [{**segment, "id": "S2"}], "links": {}}),
        ]
    )
    client = make_client(http, tokens)
    account = await client.get_account("site1")
    assert (account.id, account.organization_name) == ("ACCT1", "Shop")
    found = await client.list_segments(CONN, names=['VIP "gold"'])
    assert [s.id for s in found] == ["S1", "S2"]
    assert found[0].name == "VIP" and found[0].is_active and not found[0].is_starred
    assert route.calls[0].request.url.params["filter"] == 'any(name,["VIP \\"gold\\""])'


@pytest.mark.parametrize(
    ("header", "expected"), [("7", 7.0), (None, 1.0), ("soon", 1.0), ("-3", 0.0), ("99999", 3600)]
)
def test_retry_after_parsing(header: str | None, expected: float) -> None:
    assert retry_after_seconds(header, 1.0) == expected


async def test_segment_member_pages_sort_filter_and_follow_links(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    path = "/api/segments/S%2F1/relationships/profiles"
    route = klaviyo.get(path).mock(
        side_effect=[
            ids("profile", "P1", "P2", next_url=f"{API}{path}?page%5Bcursor%5D=abc"),
            ids("profile", "P3"),
        ]
    )
    client = make_client(http, tokens)
    calls: Counter[str] = Counter()
    page = await client.segment_members_page(CONN, "S/1", joined_after=1_767_225_600.9, calls=calls)
    assert page.profile_ids == ["P1", "P2"] and page.next_url is not None
    sent = route.calls[0].request.url.params
    assert sent["page[size]"] == "100" and sent["sort"] == "joined_group_at"
    assert sent["filter"] == "greater-than(joined_group_at,2026-01-01T00:00:00Z)"  # unquoted, whole s
    last = await client.segment_members_page(CONN, "S/1", next_url=page.next_url, calls=calls)
    assert last.profile_ids == ["P3"] and last.next_url is None
    assert dict(route.calls[1].request.url.params) == {"page[cursor]": "abc"}
    assert calls == {Tier.SEGMENT_MEMBERS: 2}


async def test_segment_member_pages_never_follow_a_link_to_another_host(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    client = make_client(http, tokens)
    with pytest.raises(errors.ProtocolError):
        await client.segment_members_page(CONN, "S1", next_url="https://evil.test/api/x")


async def test_a_deleted_segment_is_not_found(
    klaviyo: respx.MockRouter, http: httpx.AsyncClient, tokens: FakeTokens
) -> None:
    klaviyo.get("/api/segments/GONE/relationships/profiles").mock(return_value=httpx.Response(404))
    with pytest.raises(errors.NotFound):
        await make_client(http, tokens).segment_members_page(CONN, "GONE")

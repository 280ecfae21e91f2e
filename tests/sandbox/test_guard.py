"""What every `/api/` call goes through: revision, bearer token, scopes, rate limits, latency,
injected faults, the call log; and links under a mount prefix."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from sandbox import (
    DEMO_ACCOUNT_ID,
    DEMO_PEOPLE,
    FaultKind,
    SandboxState,
    Tier,
    create_fake_klaviyo,
    demo_segment_id,
)
from tests.sandbox.support import CLIENT_ID, REVISION, FakeClock

PROFILE = DEMO_PEOPLE[0].profile_id
RATE_HEADERS = {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"}


def asgi(app: Starlette, headers: dict[str, str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://fake", headers=headers)


async def test_should_require_the_revision_header(app: Starlette, headers: dict[str, str]) -> None:
    async with asgi(app, {"Authorization": headers["Authorization"]}) as client:
        response = await client.get("/api/accounts")
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/vnd.api+json"
        assert response.json()["errors"][0]["source"] == {"parameter": "revision"}
        bad = await client.get("/api/accounts", headers={"revision": "latest"})
        assert bad.status_code == 400


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer unknown", "Klaviyo-API-Key pk_x"])
async def test_should_answer_401_without_a_valid_bearer_token(
    app: Starlette, authorization: str | None
) -> None:
    headers = {"revision": REVISION}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with asgi(app, headers) as client:
        response = await client.get("/api/accounts")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("scopes", "method", "path"),
    [
        (("profiles:read",), "GET", f"/api/profiles/{PROFILE}/relationships/segments"),
        (("profiles:read",), "GET", f"/api/segments/{demo_segment_id('VIP')}/profiles"),
        (("segments:read",), "GET", "/api/profiles"),
        (("profiles:read", "segments:read"), "GET", "/api/accounts"),
        (("accounts:read", "profiles:read", "segments:read"), "POST", "/api/events"),
        (("accounts:read", "profiles:read", "segments:read"), "POST", "/api/event-bulk-create-jobs"),
        (("profiles:read",), "GET", f"/api/profiles/{PROFILE}?include=segments"),
    ],
)
async def test_should_answer_403_when_the_token_lacks_a_scope(
    app: Starlette, state: SandboxState, scopes: tuple[str, ...], method: str, path: str
) -> None:
    token = state.issue_tokens(CLIENT_ID, DEMO_ACCOUNT_ID, scopes).access_token
    async with asgi(app, {"revision": REVISION, "Authorization": f"Bearer {token}"}) as client:
        response = await client.request(method, path, json={})
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"


async def test_should_count_the_burst_and_steady_windows_per_account(
    client: httpx.AsyncClient, clock: FakeClock, state: SandboxState
) -> None:
    first = await client.get("/api/accounts")
    assert first.status_code == 200
    assert {k: first.headers[k] for k in RATE_HEADERS} == {
        "ratelimit-limit": "15", "ratelimit-remaining": "14", "ratelimit-reset": "60",
    }  # fmt: skip
    burst = await client.get("/api/accounts")
    assert burst.status_code == 429
    assert burst.headers["Retry-After"] == "1"
    assert not RATE_HEADERS & set(burst.headers)
    assert burst.json()["errors"][0]["code"] == "throttled"

    for second in range(1, 15):
        clock.advance(1)
        response = await client.get("/api/accounts")
        assert response.status_code == 200, second
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.headers["ratelimit-reset"] == "46"
    clock.advance(1)
    steady = await client.get("/api/accounts")
    assert (steady.status_code, steady.headers["Retry-After"]) == (429, "45")
    clock.advance(45)
    assert (await client.get("/api/accounts")).status_code == 200

    other_tier = await client.get("/api/profiles")  # another tier has its own windows
    assert other_tier.headers["ratelimit-limit"] == "750"
    assert state.calls.count("/api/accounts", status=429) == 2


async def test_should_share_one_budget_for_a_profiles_segments_ids_and_full(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    paths = [f"/api/profiles/{PROFILE}/relationships/segments", f"/api/profiles/{PROFILE}/segments"]
    statuses = [(await client.get(paths[i % 2])).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    clock.advance(1)
    assert (await client.get(paths[0])).headers["ratelimit-limit"] == "60"


async def test_should_let_tests_shrink_a_tier_and_switch_limits_off(
    state: SandboxState, headers: dict[str, str]
) -> None:
    state.limiter.override(Tier.SEGMENT_MEMBERS, burst=2, steady=700)
    url = f"/api/segments/{demo_segment_id('VIP')}/relationships/profiles"
    async with asgi(create_fake_klaviyo(state), headers) as client:
        assert [(await client.get(url)).status_code for _ in range(3)] == [200, 200, 429]
    async with asgi(create_fake_klaviyo(state, enforce_rate_limits=False), headers) as client:
        responses = [await client.get(url) for _ in range(5)]
    assert {r.status_code for r in responses} == {200}
    assert not RATE_HEADERS & set(responses[0].headers)


async def test_should_add_latency_to_api_calls(state: SandboxState, headers: dict[str, str]) -> None:
    async with asgi(create_fake_klaviyo(state, latency_s=0.05), headers) as client:
        started = time.perf_counter()
        await client.get("/api/profiles")
        assert time.perf_counter() - started >= 0.05


async def test_should_inject_server_errors_for_the_next_calls(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    state.faults.inject("/api/profiles", FaultKind.UNAVAILABLE, times=2)
    state.faults.inject("/api/profiles", FaultKind.SERVER_ERROR)
    statuses = [(await client.get("/api/profiles")).status_code for _ in range(4)]
    assert statuses == [503, 503, 500, 200]
    assert (await client.get("/api/segments")).status_code == 200
    assert state.faults.pending() == []


async def test_should_inject_a_429_with_retry_after(client: httpx.AsyncClient, state: SandboxState) -> None:
    state.faults.inject("*", FaultKind.THROTTLED, retry_after_s=7)
    response = await client.get("/api/segments")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    assert not RATE_HEADERS & set(response.headers)


async def test_should_inject_a_hang(client: httpx.AsyncClient, state: SandboxState) -> None:
    state.faults.inject("/api/profiles", FaultKind.HANG, hang_s=30)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get("/api/profiles"), timeout=0.1)
    state.faults.inject("/api/profiles", FaultKind.HANG, hang_s=0.02)
    assert (await client.get("/api/profiles")).status_code == 200


async def test_should_inject_faults_into_the_token_endpoint(state: SandboxState, app: Starlette) -> None:
    state.faults.inject("/oauth/token", FaultKind.UNAVAILABLE, method="POST")
    async with asgi(app, {}) as client:
        response = await client.post("/oauth/token", data={"grant_type": "refresh_token"})
        assert response.status_code == 503
        assert (await client.post("/oauth/token", data={})).status_code == 401


async def test_should_log_every_call(client: httpx.AsyncClient, state: SandboxState) -> None:
    await client.get("/api/profiles")
    await client.get(f"/api/profiles/{PROFILE}/segments/")
    await client.get("/api/profiles/unknown/segments")
    assert state.calls.counts() == {
        ("GET", "/api/profiles"): 1,
        ("GET", "/api/profiles/{id}/segments"): 2,
    }
    [missing] = state.calls.records(status=404)
    assert (missing.account_id, missing.revision) == (DEMO_ACCOUNT_ID, REVISION)
    state.reset_counters()
    assert state.calls.count() == 0


async def test_should_answer_json_api_404_for_unknown_endpoints(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/lists")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


async def test_should_build_links_under_a_mount_prefix(state: SandboxState, headers: dict[str, str]) -> None:
    outer = Starlette(routes=[Mount("/_sandbox/klaviyo", create_fake_klaviyo(state))])
    async with asgi(outer, headers) as client:
        body = (await client.get("/_sandbox/klaviyo/api/segments", params={"page[size]": "1"})).json()
        assert body["links"]["next"].startswith("http://fake/_sandbox/klaviyo/api/segments?")
        assert body["data"][0]["links"]["self"].startswith("http://fake/_sandbox/klaviyo/api/segments/")
        following = await client.get(body["links"]["next"])
        assert following.status_code == 200
        page = await client.get(
            "/_sandbox/klaviyo/oauth/authorize",
            params={
                "response_type": "code", "client_id": CLIENT_ID,
                "redirect_uri": next(iter(state.oauth.client(CLIENT_ID).redirect_uris)),  # type: ignore[union-attr]
                "scope": "accounts:read", "code_challenge_method": "S256", "code_challenge": "x" * 43,
            },
        )  # fmt: skip
        assert "action='http://fake/_sandbox/klaviyo/oauth/authorize'" in page.text

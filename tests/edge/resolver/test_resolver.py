"""The resolver against respx-mocked Klaviyo answers (embedded mode: no Redis)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from edge.resolver import (
    Identified,
    Pending,
    PendingReason,
    ResolutionPath,
    Source,
    Unidentified,
    UnidentifiedReason,
    WaitedFor,
)
from klaviyo import ConnectionRef, Tier
from tests.edge.resolver.conftest import (
    CONN,
    FOUR,
    KX,
    PROFILE_SEGMENTS,
    SEGMENT_MEMBERS,
    FakeTokens,
    MakeResolver,
    ManualClock,
    ids,
)
from tests.waiting import wait_until_async


def profile_path(klaviyo: respx.MockRouter, *segments: str) -> tuple[respx.Route, respx.Route]:
    profiles = klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    memberships = klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", *segments))
    return profiles, memberships


async def test_found_then_served_from_l1(klaviyo: respx.MockRouter, make_resolver: MakeResolver) -> None:
    profiles, memberships = profile_path(klaviyo, "S1", "S3", "S9")
    resolver = make_resolver()
    first = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(first, Identified)
    assert first.segment_ids == {"S1", "S3"}  # only the targeted ones
    assert first.info.source is Source.KLAVIYO
    assert first.info.path is ResolutionPath.PROFILE
    assert first.info.klaviyo_calls == {"profiles": 1, "profile_segments": 1}

    again = await resolver.resolve(CONN, KX, frozenset({"S9", "S7"}))  # another targeted set
    assert isinstance(again, Identified) and again.segment_ids == {"S9"}
    assert again.info.source is Source.L1 and again.info.klaviyo_calls == {}
    assert (profiles.call_count, memberships.call_count) == (1, 1)


async def test_found_is_cached_for_the_segment_ttl(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver, clock: ManualClock
) -> None:
    _, memberships = profile_path(klaviyo, "S1")
    resolver = make_resolver()
    await resolver.resolve(CONN, KX, FOUR)
    clock.now += 86400 - 61  # expiry is rounded down to the minute, never later
    hit = await resolver.resolve(CONN, KX, FOUR)
    assert hit.info.source is Source.L1
    assert hit.info.cache_age_s is not None and 86339 <= hit.info.cache_age_s <= 86400
    clock.now += 61
    assert (await resolver.resolve(CONN, KX, FOUR)).info.source is Source.KLAVIYO
    assert memberships.call_count == 2


async def test_not_found_is_cached_for_the_negative_ttl(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver, clock: ManualClock
) -> None:
    route = klaviyo.get("/api/profiles").mock(return_value=ids("profile"))
    resolver = make_resolver(negative_cache_ttl_s=600)
    result = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(result, Unidentified) and result.reason is UnidentifiedReason.NOT_FOUND
    clock.now += 599
    cached = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(cached, Unidentified) and cached.info.source is Source.L1
    assert route.call_count == 1
    clock.now += 1
    assert (await resolver.resolve(CONN, KX, FOUR)).info.source is Source.KLAVIYO
    assert route.call_count == 2


async def test_paginated_segments_are_all_read(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    next_url = f"https://klaviyo.test{PROFILE_SEGMENTS}?page%5Bcursor%5D=2"
    klaviyo.get(PROFILE_SEGMENTS).mock(
        side_effect=[ids("segment", "S1", next_url=next_url), ids("segment", "S4")]
    )
    result = await make_resolver().resolve(CONN, KX, FOUR)
    assert isinstance(result, Identified) and result.segment_ids == {"S1", "S4"}
    assert result.info.klaviyo_calls == {"profiles": 1, "profile_segments": 2}


async def test_429_blocks_the_account_and_answers_pending(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    route = klaviyo.get("/api/profiles").mock(return_value=httpx.Response(429, headers={"Retry-After": "20"}))
    resolver = make_resolver()
    result = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(result, Pending) and result.reason is PendingReason.RATE_LIMITED
    assert result.retry_after_ms == 20_000
    other_visitor = await resolver.resolve(CONN, "ZZZZZZZZZZZZ==.abc", FOUR)
    assert isinstance(other_visitor, Pending) and other_visitor.reason is PendingReason.RATE_LIMITED
    assert 19_000 < (other_visitor.retry_after_ms or 0) <= 20_000
    assert route.call_count == 1  # no call until Retry-After has passed
    assert resolver.queued == 2  # both wait for the block to end, not cached as anything


async def test_500_then_success_within_the_deadline(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    klaviyo.get("/api/profiles").mock(side_effect=[httpx.Response(500), ids("profile", "P1")])
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S2"))
    result = await make_resolver().resolve(CONN, KX, FOUR, deadline_s=1.0)
    assert isinstance(result, Identified) and result.segment_ids == {"S2"}
    assert result.info.klaviyo_calls == {"profiles": 2, "profile_segments": 1}


async def test_timeouts_leave_the_visitor_pending_and_nothing_cached(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    route = klaviyo.get("/api/profiles").mock(side_effect=httpx.ConnectTimeout("no answer"))
    resolver = make_resolver(max_attempts=2)
    result = await resolver.resolve(CONN, KX, FOUR, deadline_s=2.0)
    assert isinstance(result, Pending) and result.reason is PendingReason.KLAVIYO_ERROR
    assert route.call_count == 2
    again = await resolver.resolve(CONN, KX, FOUR, deadline_s=2.0)
    assert isinstance(again, Pending)  # tried again: a failure is never "not found"
    assert route.call_count == 4
    assert resolver.queued == 0


async def test_401_refresh_then_success(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver, tokens: FakeTokens
) -> None:
    klaviyo.get("/api/profiles").mock(side_effect=[httpx.Response(401), ids("profile", "P1")])
    _, memberships = None, klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1"))
    result = await make_resolver().resolve(CONN, KX, FOUR)
    assert isinstance(result, Identified) and result.segment_ids == {"S1"}
    assert tokens.refreshes == ["t1"]
    assert memberships.calls.last.request.headers["authorization"] == "Bearer t2"


async def test_401_twice_is_pending_and_not_cached(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver, tokens: FakeTokens
) -> None:
    route = klaviyo.get("/api/profiles").mock(return_value=httpx.Response(401))
    resolver = make_resolver()
    result = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(result, Pending) and result.reason is PendingReason.UNAUTHORIZED
    assert route.call_count == 2
    await resolver.resolve(CONN, KX, FOUR)
    assert route.call_count == 4


async def test_a_failing_token_source_is_pending_not_cached(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver, tokens: FakeTokens
) -> None:
    tokens.broken = True
    resolver = make_resolver()
    result = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(result, Pending) and result.reason is PendingReason.TOKEN_UNAVAILABLE
    tokens.broken = False
    profile_path(klaviyo, "S1")
    assert isinstance(await resolver.resolve(CONN, KX, FOUR), Identified)


async def test_few_targeted_segments_use_per_segment_checks(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    members = {"S1": ["P1"], "S2": [], "S3": ["P1"]}

    def answer(request: httpx.Request, segment_id: str) -> httpx.Response:
        assert request.url.params["filter"] == f'equals(_kx,"{KX}")'
        return ids("profile", *members[segment_id])

    route = klaviyo.get(path__regex=SEGMENT_MEMBERS).mock(side_effect=answer)
    resolver = make_resolver()
    result = await resolver.resolve(CONN, KX, frozenset({"S1", "S2"}))
    assert isinstance(result, Identified) and result.segment_ids == {"S1"}
    assert result.info.path is ResolutionPath.PER_SEGMENT
    assert result.info.klaviyo_calls == {"profiles": 1, "segment_members": 2}

    more = await resolver.resolve(CONN, KX, frozenset({"S1", "S3"}))  # only S3 is new
    assert isinstance(more, Identified) and more.segment_ids == {"S1", "S3"}
    assert more.info.klaviyo_calls == {"segment_members": 1}
    assert route.call_count == 3
    cached = await resolver.resolve(CONN, KX, frozenset({"S2", "S3"}))
    assert cached.info.source is Source.L1 and route.call_count == 3


async def test_per_segment_filter_refused_falls_back_and_is_remembered(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    klaviyo.get("/api/profiles").mock(side_effect=[ids("profile", "P1"), ids("profile", "P2")])
    refused = klaviyo.get(path__regex=SEGMENT_MEMBERS).mock(
        return_value=httpx.Response(400, json={"errors": [{"code": "invalid"}]})
    )
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1"))
    klaviyo.get("/api/profiles/P2/relationships/segments").mock(return_value=ids("segment"))
    resolver = make_resolver()
    result = await resolver.resolve(CONN, KX, frozenset({"S1"}))
    assert isinstance(result, Identified) and result.segment_ids == {"S1"}
    assert result.info.path is ResolutionPath.PROFILE
    second = await resolver.resolve(CONN, "SECONDVISITOR==.x", frozenset({"S1"}))
    assert isinstance(second, Identified) and second.segment_ids == frozenset()
    assert second.info.klaviyo_calls == {"profiles": 1, "profile_segments": 1}
    assert refused.call_count == 1
    assert resolver.metrics.counters["filter_refused"] == 1


@pytest.mark.parametrize("kx", ["short", "has space==.x", 'quote"==.abcdef', "x" * 301, "é" * 10])
async def test_malformed_kx_never_reaches_klaviyo(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver, kx: str
) -> None:
    # No route is mocked: respx fails any request.
    result = await make_resolver().resolve(CONN, kx, FOUR)
    assert isinstance(result, Unidentified) and result.reason is UnidentifiedReason.MALFORMED_KX


async def test_no_kx_and_nothing_targeted_cost_nothing(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    resolver = make_resolver()
    none = await resolver.resolve(CONN, None, FOUR)
    assert isinstance(none, Unidentified) and none.reason is UnidentifiedReason.NO_KX
    idle = await resolver.resolve(CONN, KX, frozenset())
    assert isinstance(idle, Unidentified) and idle.reason is UnidentifiedReason.NOTHING_TARGETED


async def test_an_empty_budget_is_pending_without_calling_klaviyo(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    resolver = make_resolver()
    while await resolver.gate.take(CONN.account_id, Tier.PROFILES) is None:
        pass
    result = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(result, Pending) and result.reason is PendingReason.BUDGET
    assert result.retry_after_ms is not None and 0 < result.retry_after_ms <= 1000
    assert result.info.klaviyo_calls == {}
    assert resolver.queued == 1  # resolved when the budget refills, not as a burst


async def test_a_queued_resolution_runs_when_budget_returns(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    profile_path(klaviyo, "S1")
    resolver = make_resolver()
    while await resolver.gate.take(CONN.account_id, Tier.PROFILES) is None:
        pass
    assert isinstance(await resolver.resolve(CONN, KX, FOUR), Pending)

    async def identified() -> bool:
        return isinstance(await resolver.resolve(CONN, KX, FOUR, deadline_s=0), Identified)

    await wait_until_async(identified, timeout=5, what="the queued resolution")
    assert resolver.queued == 0


async def test_100_concurrent_requests_share_one_resolution(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    async def slow_profile(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)  # the fake's latency, so the requests overlap
        return ids("profile", "P1")

    profiles = klaviyo.get("/api/profiles").mock(side_effect=slow_profile)
    memberships = klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S2"))
    resolver = make_resolver()
    results = await asyncio.gather(*(resolver.resolve(CONN, KX, FOUR, deadline_s=5) for _ in range(100)))
    assert all(isinstance(r, Identified) and r.segment_ids == {"S2"} for r in results)
    assert (profiles.call_count, memberships.call_count) == (1, 1)
    shared = [r for r in results if r.info.waited_for is WaitedFor.SINGLE_FLIGHT]
    assert len(shared) == 99


async def test_slow_answer_is_pending_now_and_cached_later(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    release = asyncio.Event()

    async def slow_profile(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return ids("profile", "P1")

    klaviyo.get("/api/profiles").mock(side_effect=slow_profile)
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1"))
    resolver = make_resolver(resolve_deadline_ms=30)
    result = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(result, Pending) and result.reason is PendingReason.DEADLINE
    release.set()

    async def cached() -> bool:
        hit = await resolver.resolve(CONN, KX, FOUR, deadline_s=0)
        return isinstance(hit, Identified) and hit.info.source is Source.L1

    await wait_until_async(cached, timeout=5, what="the background resolution to fill L1")


async def test_reconnect_never_serves_old_membership(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    klaviyo.get("/api/profiles").mock(
        side_effect=[ids("profile", "P1"), ids("profile", "P2"), ids("profile", "P3")]
    )
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1"))
    klaviyo.get("/api/profiles/P2/relationships/segments").mock(return_value=ids("segment", "S2"))
    klaviyo.get("/api/profiles/P3/relationships/segments").mock(return_value=ids("segment", "S3"))
    resolver = make_resolver()
    old = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(old, Identified) and old.segment_ids == {"S1"}
    other_account = ConnectionRef(CONN.site_id, "ACCT2", CONN.generation + 1)
    new = await resolver.resolve(other_account, KX, FOUR)
    assert isinstance(new, Identified) and new.segment_ids == {"S2"}
    assert new.info.source is Source.KLAVIYO
    same_account_reconnected = ConnectionRef(CONN.site_id, CONN.account_id, CONN.generation + 5)
    again = await resolver.resolve(same_account_reconnected, KX, FOUR)
    assert isinstance(again, Identified) and again.segment_ids == {"S3"}


async def test_a_deleted_profile_is_not_found(klaviyo: respx.MockRouter, make_resolver: MakeResolver) -> None:
    klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=httpx.Response(404))
    result = await make_resolver().resolve(CONN, KX, FOUR)
    assert isinstance(result, Unidentified) and result.reason is UnidentifiedReason.NOT_FOUND


async def test_membership_index_answers_without_the_scarce_call(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    class Index:
        enabled = True

        def stamp(self, account_id: str, segment_ids: frozenset[str]) -> int | None:
            return 1

        async def members(
            self, account_id: str, segment_ids: frozenset[str], profile_id: str
        ) -> frozenset[str] | None:
            return segment_ids & {"S1", "S2"} if profile_id == "P1" else frozenset()

    klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    resolver = make_resolver()
    resolver.index = Index()
    result = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(result, Identified) and result.segment_ids == {"S1", "S2"}
    assert result.info.source is Source.INDEX
    assert result.info.klaviyo_calls == {"profiles": 1}


async def test_cached_answers_l1_hits_without_io_and_shares_them(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver, clock: ManualClock
) -> None:
    """The storefront's synchronous path: the same answers as `resolve`, nothing past L1."""
    klaviyo.get("/api/profiles").mock(side_effect=[ids("profile", "P1"), ids("profile")])
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1", "S9"))
    resolver = make_resolver(negative_cache_ttl_s=600)
    assert resolver.cached(CONN, KX, FOUR) is None  # a miss: resolving needs Klaviyo
    resolved = await resolver.resolve(CONN, KX, FOUR)
    hit = resolver.cached(CONN, KX, FOUR)
    assert isinstance(resolved, Identified) and isinstance(hit, Identified)
    assert hit.segment_ids == resolved.segment_ids == {"S1"}
    assert hit.info.source is Source.L1 and hit.info.cache_age_s is None
    assert resolver.cached(CONN, KX, FOUR) is hit  # one shared answer per cached value
    assert (
        resolver.cached(ConnectionRef(CONN.site_id, CONN.account_id, CONN.generation + 1), KX, FOUR) is None
    )

    other = "b" * 20
    await resolver.resolve(CONN, other, FOUR)
    absent = resolver.cached(CONN, other, FOUR)
    assert isinstance(absent, Unidentified) and absent.reason is UnidentifiedReason.NOT_FOUND
    clock.now += 600
    assert resolver.cached(CONN, other, FOUR) is None  # expired like any L1 value
    assert resolver.metrics.counters["l1_hit"] == 3


async def test_cached_index_answers_end_when_a_sync_lands(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    class Index:
        enabled = True
        current = 1

        def stamp(self, account_id: str, segment_ids: frozenset[str]) -> int | None:
            return self.current

        async def members(
            self, account_id: str, segment_ids: frozenset[str], profile_id: str
        ) -> frozenset[str] | None:
            return segment_ids & {"S1"}

    klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    resolver = make_resolver()
    index = Index()
    resolver.index = index
    await resolver.resolve(CONN, KX, FOUR)
    hit = resolver.cached(CONN, KX, FOUR)
    assert isinstance(hit, Identified) and hit.info.source is Source.INDEX
    index.current = 2  # a sync landed: the memo of the old index must not answer
    assert resolver.cached(CONN, KX, FOUR) is None

"""Visitors resolved through the index: one profile lookup, no profile-segments call; the 24 h
fallback to per-visit resolution; per-visit answers cached before the index was ready."""

from __future__ import annotations

from edge.resolver import Identified, ResolutionPath, Source
from klaviyo import Tier
from sandbox import FaultKind
from tests.edge.sync.conftest import (
    CONN,
    MEMBERS_ROUTE,
    SEG_A,
    SEG_B,
    MakePair,
    Sandbox,
    WallClock,
    fresh,
    kx_of,
)

AB = frozenset({SEG_A, SEG_B})
PROFILES = "/api/profiles"
PROFILE_SEGMENTS = "/api/profiles/{id}/relationships/segments"


async def test_a_decision_from_the_index_costs_one_profile_lookup(
    make_pair: MakePair, sandbox: Sandbox
) -> None:
    pair = await make_pair()
    pair.sync.set_site_targets(CONN.site_id, CONN, AB)
    await pair.wait_status(SEG_A, "segment A", fresh)
    await pair.wait_status(SEG_B, "segment B", fresh)
    sync_calls = sandbox.members_calls()

    result = await pair.resolver.resolve(CONN, kx_of(3), AB)
    assert isinstance(result, Identified) and result.segment_ids == {SEG_A}
    assert result.info.source is Source.INDEX and result.info.path is ResolutionPath.INDEX
    assert result.info.klaviyo_calls == {Tier.PROFILES: 1}
    calls = sandbox.state.calls
    assert calls.count(PROFILES) == 1
    assert calls.count(PROFILE_SEGMENTS) == 0
    assert sandbox.members_calls() == sync_calls  # no per-segment `_kx` check either

    again = await pair.resolver.resolve(CONN, kx_of(3), AB)  # memoised in L1 under the stamp
    assert isinstance(again, Identified) and again.segment_ids == {SEG_A}
    assert again.info.source is Source.INDEX and again.info.klaviyo_calls == {}
    other = await pair.resolver.resolve(CONN, kx_of(255), AB)
    assert isinstance(other, Identified) and other.segment_ids == {SEG_B}
    assert calls.count(PROFILES) == 2 and calls.count(PROFILE_SEGMENTS) == 0
    assert pair.resolver.metrics.snapshot()["index_answer"] == 2  # the third was an L1 hit


async def test_a_stale_index_hands_over_to_per_visit_resolution(
    make_pair: MakePair, sandbox: Sandbox, wall: WallClock
) -> None:
    pair = await make_pair(resolver={"per_segment_max_segments": 0})  # the 3/s path
    pair.sync.set_site_targets(CONN.site_id, CONN, AB)
    await pair.wait_status(SEG_A, "segment A", fresh)
    await pair.wait_status(SEG_B, "segment B", fresh)
    indexed = await pair.resolver.resolve(CONN, kx_of(3), AB)
    assert indexed.info.source is Source.INDEX

    # Klaviyo stops answering the members endpoint: no sync can land any more.
    sandbox.state.faults.inject(MEMBERS_ROUTE, FaultKind.UNAVAILABLE, times=1000)
    wall.advance(3600)
    await pair.wait_status(SEG_A, "a failed re-sync", lambda s: s["last_error"] is not None)
    still = await pair.resolver.resolve(CONN, kx_of(3), AB)
    assert still.info.source is Source.INDEX  # within 24 h of the last full sync: still used
    assert (await pair.status(SEG_A))["state"] == "fresh"
    at_hand = pair.resolver.cached(CONN, kx_of(3), AB)  # the storefront's synchronous path
    assert at_hand is not None and at_hand.info.source is Source.INDEX

    wall.advance(86400 - 3600)
    status = await pair.status(SEG_A)
    assert status["state"] == "stale" and status["used_for_visitors"] is False
    assert pair.resolver.cached(CONN, kx_of(3), AB) is None  # the remembered stamp aged out too
    per_visit = await pair.resolver.resolve(CONN, kx_of(3), AB)
    assert isinstance(per_visit, Identified) and per_visit.segment_ids == {SEG_A}
    assert per_visit.info.source is Source.KLAVIYO and per_visit.info.path is ResolutionPath.PROFILE
    # The profile id is still cached: only the scarce segments call was needed.
    assert per_visit.info.klaviyo_calls == {Tier.PROFILE_SEGMENTS: 1}
    assert sandbox.state.calls.count(PROFILE_SEGMENTS) == 1


async def test_the_index_wins_over_per_visit_answers_cached_before_it(
    make_pair: MakePair, sandbox: Sandbox, wall: WallClock
) -> None:
    pair = await make_pair(resolver={"per_segment_max_segments": 0})
    before = await pair.resolver.resolve(CONN, kx_of(290), AB)  # nothing synced yet: per visit
    assert isinstance(before, Identified) and before.segment_ids == frozenset()
    assert before.info.source is Source.KLAVIYO

    sandbox.state.add_member(SEG_A, sandbox.profiles[290], joined_at=wall.now - 10)
    pair.sync.set_site_targets(CONN.site_id, CONN, AB)
    await pair.wait_status(SEG_A, "segment A", fresh)
    await pair.wait_status(SEG_B, "segment B", fresh)
    # The per-visit answer is cached for 24 h, but the index is fresher and covers the targets.
    after = await pair.resolver.resolve(CONN, kx_of(290), AB)
    assert isinstance(after, Identified) and after.segment_ids == {SEG_A}
    assert after.info.source is Source.INDEX and after.info.klaviyo_calls == {}


async def test_visitors_without_a_profile_stay_negatively_cached(
    make_pair: MakePair, sandbox: Sandbox
) -> None:
    pair = await make_pair()
    pair.sync.set_site_targets(CONN.site_id, CONN, AB)
    await pair.wait_status(SEG_A, "segment A", fresh)
    await pair.wait_status(SEG_B, "segment B", fresh)
    for _ in range(3):
        result = await pair.resolver.resolve(CONN, "NOBODYHERE==.xyz", AB)
        assert type(result).__name__ == "Unidentified"
    assert sandbox.state.calls.count(PROFILES) == 1

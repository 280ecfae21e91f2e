"""The resolver with a membership index (a fake one here; the real one is `edge.sync`): answers
memoised in L1 under the index's stamp only, never frozen for 24 h; profile ids cached in the
process (embedded mode too); per-visit resolution whenever the index cannot answer."""

from __future__ import annotations

import respx

from edge.resolver import Identified, ResolutionPath, Source
from klaviyo import Tier
from tests.edge.resolver.conftest import CONN, FOUR, KX, PROFILE_SEGMENTS, MakeResolver, ids


class FakeIndex:
    def __init__(self) -> None:
        self.current_stamp: int | None = 1
        self.answer: frozenset[str] | None = frozenset({"S1"})
        self.lookups = 0

    @property
    def enabled(self) -> bool:
        return True

    def stamp(self, account_id: str, segment_ids: frozenset[str]) -> int | None:
        return self.current_stamp

    async def members(
        self, account_id: str, segment_ids: frozenset[str], profile_id: str
    ) -> frozenset[str] | None:
        self.lookups += 1
        return None if self.answer is None else self.answer & segment_ids


async def test_index_answers_follow_the_stamp(klaviyo: respx.MockRouter, make_resolver: MakeResolver) -> None:
    profiles = klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    index = FakeIndex()
    resolver = make_resolver()
    resolver.index = index

    first = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(first, Identified) and first.segment_ids == {"S1"}
    assert first.info.source is Source.INDEX and first.info.path is ResolutionPath.INDEX
    assert first.info.klaviyo_calls == {Tier.PROFILES: 1}
    hit = await resolver.resolve(CONN, KX, FOUR)
    assert hit.info.source is Source.INDEX and index.lookups == 1  # memoised in L1

    index.answer, index.current_stamp = frozenset({"S2"}), 2  # a sync landed
    moved = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(moved, Identified) and moved.segment_ids == {"S2"}
    assert moved.info.klaviyo_calls == {} and index.lookups == 2
    assert profiles.call_count == 1  # the profile id stays cached in the process


async def test_a_stale_index_hands_over_to_per_visit_resolution(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    profiles = klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    segments = klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S3"))
    index = FakeIndex()
    resolver = make_resolver()
    resolver.index = index
    assert (await resolver.resolve(CONN, KX, FOUR)).info.source is Source.INDEX

    index.current_stamp = None  # older than 24 h, or a segment no longer synced
    per_visit = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(per_visit, Identified) and per_visit.segment_ids == {"S3"}  # nothing of S1
    assert per_visit.info.source is Source.KLAVIYO
    assert per_visit.info.klaviyo_calls == {Tier.PROFILE_SEGMENTS: 1}
    assert (profiles.call_count, segments.call_count) == (1, 1)
    assert (await resolver.resolve(CONN, KX, FOUR)).info.source is Source.L1


async def test_an_index_that_cannot_answer_serves_the_cached_per_visit_answer(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S3"))
    index = FakeIndex()
    index.current_stamp = None
    resolver = make_resolver()
    resolver.index = index
    assert (await resolver.resolve(CONN, KX, FOUR)).info.source is Source.KLAVIYO

    index.current_stamp, index.answer = 5, None  # covers the segments, but its store fails
    again = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(again, Identified) and again.segment_ids == {"S3"}
    assert again.info.source is Source.L1 and again.info.klaviyo_calls == {}
    assert resolver.metrics.snapshot()["index_unavailable"] == 1


async def test_a_per_visit_answer_gives_way_to_the_index_without_a_profile_lookup(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    # Embedded mode (no Redis): the profile id learnt per visit is kept after membership is
    # cached, so the index can answer later with no Klaviyo call.
    profiles = klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S3"))
    index = FakeIndex()
    index.current_stamp = None
    resolver = make_resolver()
    resolver.index = index
    await resolver.resolve(CONN, KX, FOUR)
    assert resolver.profile_ids_cached == 1

    index.current_stamp = 7
    now = await resolver.resolve(CONN, KX, FOUR)
    assert isinstance(now, Identified) and now.segment_ids == {"S1"}
    assert now.info.source is Source.INDEX and now.info.klaviyo_calls == {}
    assert profiles.call_count == 1

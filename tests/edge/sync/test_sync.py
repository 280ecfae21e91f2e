"""Full and incremental sync against the fake Klaviyo, in-process and on Redis: pagination,
members added and removed between full syncs, a deleted segment, a too-large one, segments that
start or stop being targeted."""

from __future__ import annotations

from edge.fleet.redis_client import RedisClient
from edge.resolver import Identified, Source
from edge.sync import keys
from tests.edge.sync.conftest import (
    ACCOUNT,
    CONN,
    SEG_A,
    SEG_B,
    MakePair,
    Pair,
    Sandbox,
    WallClock,
    fresh,
    iso,
    kx_of,
)

A = frozenset({SEG_A})


async def in_index(pair: Pair, segment_id: str, profile_id: str) -> bool:
    found = await pair.sync.index.members(ACCOUNT, frozenset({segment_id}), profile_id)
    assert found is not None
    return segment_id in found


async def test_full_sync_reads_every_page(make_pair: MakePair, sandbox: Sandbox, wall: WallClock) -> None:
    pair = await make_pair()
    pair.sync.set_site_targets(CONN.site_id, CONN, {SEG_A})
    await pair.wait_status(SEG_A, "the first full sync", fresh)

    status = await pair.status(SEG_A)
    assert status["members"] == 250 and status["used_for_visitors"] is True
    assert status["last_full_sync_at"] == iso(wall.now)
    assert status["next_full_sync_at"] == iso(wall.now + 3600)
    assert status["last_error"] is None
    assert sandbox.members_calls() == 3  # 100 + 100 + 50, following links.next
    assert pair.sync.metrics.snapshot()["sync.members_read"] == 250
    for i in (0, 99, 100, 249):
        assert await in_index(pair, SEG_A, sandbox.profiles[i])
    assert not await in_index(pair, SEG_A, sandbox.profiles[260])
    assert pair.sync.index.stamp(ACCOUNT, A) is not None
    assert pair.sync.index.stamp(ACCOUNT, frozenset({SEG_A, SEG_B})) is None  # B is not synced


async def test_a_member_added_between_full_syncs_is_picked_up_incrementally(
    make_pair: MakePair, sandbox: Sandbox, wall: WallClock
) -> None:
    pair = await make_pair()
    pair.sync.set_site_targets(CONN.site_id, CONN, {SEG_A})
    await pair.wait_status(SEG_A, "the first full sync", fresh)
    newcomer = sandbox.profiles[290]
    first = await pair.resolver.resolve(CONN, kx_of(290), A)
    assert isinstance(first, Identified) and first.segment_ids == frozenset()
    assert first.info.source is Source.INDEX

    wall.advance(61)
    sandbox.state.add_member(SEG_A, newcomer, joined_at=wall.now - 5)
    calls = sandbox.members_calls()
    await pair.wait_status(
        SEG_A, "an incremental pass", lambda s: s["last_incremental_sync_at"] == iso(wall.now)
    )

    assert await in_index(pair, SEG_A, newcomer)
    status = await pair.status(SEG_A)
    assert status["members"] == 251
    assert status["last_full_sync_at"] == iso(wall.now - 61)  # no full sync: one small page
    assert sandbox.members_calls() == calls + 1
    # The visitor answered from the index a minute ago sees the change on the next request, with
    # no Klaviyo call at all (its profile id is cached).
    again = await pair.resolver.resolve(CONN, kx_of(290), A)
    assert isinstance(again, Identified) and again.segment_ids == A
    assert again.info.source is Source.INDEX and again.info.klaviyo_calls == {}


async def test_a_member_removed_between_full_syncs_disappears_at_the_next_full_sync(
    make_pair: MakePair, sandbox: Sandbox, wall: WallClock
) -> None:
    pair = await make_pair()
    pair.sync.set_site_targets(CONN.site_id, CONN, {SEG_A})
    await pair.wait_status(SEG_A, "the first full sync", fresh)
    leaver = sandbox.profiles[7]
    sandbox.state.remove_member(SEG_A, leaver)

    wall.advance(61)
    await pair.wait_status(
        SEG_A, "an incremental pass", lambda s: s["last_incremental_sync_at"] == iso(wall.now)
    )
    assert await in_index(pair, SEG_A, leaver)  # removals are not visible incrementally
    assert "stay in the index until the next full sync" in (await pair.status(SEG_A))["note"]

    wall.advance(3600)
    await pair.wait_status(SEG_A, "the next full sync", lambda s: s["last_full_sync_at"] == iso(wall.now))
    assert not await in_index(pair, SEG_A, leaver)
    assert (await pair.status(SEG_A))["members"] == 249
    gone = await pair.resolver.resolve(CONN, kx_of(7), A)
    assert isinstance(gone, Identified) and gone.segment_ids == frozenset()


async def test_a_segment_deleted_in_klaviyo_is_an_error_and_leaves_the_index(
    make_pair: MakePair, sandbox: Sandbox, wall: WallClock
) -> None:
    pair = await make_pair()
    pair.sync.set_site_targets(CONN.site_id, CONN, {SEG_A, SEG_B})
    await pair.wait_status(SEG_B, "the first full sync", fresh)
    await pair.wait_status(SEG_A, "the first full sync", fresh)
    sandbox.state.remove_segment(SEG_B)

    wall.advance(61)
    await pair.wait_status(SEG_B, "the 404", lambda s: s["state"] == "error")
    status = await pair.status(SEG_B)
    assert status["used_for_visitors"] is False and status["members"] == 0
    assert status["last_error"].startswith("segment_not_found")
    assert status["last_error_at"] == iso(wall.now)
    assert await pair.sync.index.members(ACCOUNT, frozenset({SEG_B}), sandbox.profiles[255]) is None
    assert pair.sync.index.stamp(ACCOUNT, frozenset({SEG_B})) is None
    assert pair.sync.index.stamp(ACCOUNT, A) is not None  # the other segment is untouched
    if pair.redis is not None:
        assert await pair.redis.exists(keys.members(pair.prefix, ACCOUNT, SEG_B)) == 0


async def test_a_segment_over_the_cap_is_not_synced_and_says_so(
    make_pair: MakePair, sandbox: Sandbox
) -> None:
    pair = await make_pair(max_members=120)
    pair.sync.set_site_targets(CONN.site_id, CONN, {SEG_A})
    await pair.wait_status(SEG_A, "the cap", lambda s: s["state"] == "too_large")
    status = await pair.status(SEG_A)
    assert status["used_for_visitors"] is False
    assert status["members"] > 120 and "too_large" in status["last_error"]
    assert sandbox.members_calls() == 2  # stopped paging once past the cap
    assert pair.sync.index.stamp(ACCOUNT, A) is None
    assert await pair.sync.index_bytes(ACCOUNT, SEG_A) is None


async def test_targets_follow_the_sites(make_pair: MakePair, sandbox: Sandbox, wall: WallClock) -> None:
    pair = await make_pair()
    pair.sync.set_site_targets(CONN.site_id, CONN, {SEG_A})
    await pair.wait_status(SEG_A, "the first full sync", fresh)

    # A segment added to a live experience is synced at once, without moving the clock.
    pair.sync.set_site_targets(CONN.site_id, CONN, {SEG_A, SEG_B})
    await pair.wait_status(SEG_B, "the new segment", fresh)
    assert (await pair.status(SEG_B))["members"] == 30

    # One no longer targeted is dropped: index freed, record and Redis keys gone.
    pair.sync.set_site_targets(CONN.site_id, CONN, {SEG_B})
    await pair.wait_status(SEG_A, "the drop", lambda s: s["state"] == "not_synced")
    assert await pair.sync.index_bytes(ACCOUNT, SEG_A) is None
    assert pair.sync.index.stamp(ACCOUNT, A) is None
    if pair.redis is not None:
        left = await pair.redis.keys(f"{pair.prefix}members*{SEG_A}*")
        assert left == []

    # A site that disconnects takes its segments with it.
    pair.sync.set_site_targets(CONN.site_id, None, ())
    await pair.wait_status(SEG_B, "the drop", lambda s: s["state"] == "not_synced")
    if pair.redis is not None:
        await _no_index_keys(pair.redis, pair.prefix)


async def _no_index_keys(redis: RedisClient, prefix: str) -> None:
    assert await redis.keys(f"{prefix}members*") == []

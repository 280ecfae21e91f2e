"""Each step of one resolution alone (`edge.resolver.chain`): L1, L2, the plan and the budget,
the lock, the index, Klaviyo. The whole chain is covered by test_resolver, test_index and
test_redis; these pin what each step decides on its own."""

from __future__ import annotations

import httpx
import msgspec
import pytest
import respx

from edge.fleet.redis_client import RedisClient
from edge.resolver.chain import Known, Plan, plan
from edge.resolver.keys import segments
from edge.resolver.l1 import Kind, Membership
from edge.resolver.l2 import L2Entry
from edge.resolver.results import PendingReason, ResolutionPath, Source, WaitedFor
from klaviyo import Tier
from tests.edge.resolver.conftest import CONN, FOUR, KX, PROFILE_SEGMENTS, SEGMENT_MEMBERS, MakeResolver, ids
from tests.edge.resolver.test_index import FakeIndex

TWO = frozenset({"S1", "S2"})
FAR = 10**9


def _entry(
    kind: Kind, members: set[str], checked: set[str] | None = None, stamp: int | None = None
) -> Membership:
    return Membership(
        CONN.account_id, CONN.generation, kind, frozenset(members),
        None if checked is None else frozenset(checked), FAR, stamp,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("known", "targeted", "expected", "tier"),
    [
        (Known(None), TWO, Plan(find_profile=True, per_segment=True), Tier.PROFILES),
        (Known(None), FOUR, Plan(find_profile=True, per_segment=False), Tier.PROFILES),
        (Known(None, profile_id="P1"), TWO, Plan(False, True), Tier.SEGMENT_MEMBERS),
        (Known(None, profile_id="P1"), FOUR, Plan(False, False), Tier.PROFILE_SEGMENTS),
        (Known(None, filter_refused=True, profile_id="P1"), TWO, Plan(False, False), Tier.PROFILE_SEGMENTS),
        # A partial answer only needs the segments it lacks: one more check is per-segment.
        (
            Known(None, base=_entry(Kind.PARTIAL, {"S1"}, {"S1", "S2", "S3"})),
            FOUR,
            Plan(False, True),
            Tier.SEGMENT_MEMBERS,
        ),
        (Known(None, base=_entry(Kind.FULL, {"S1"})), TWO, Plan(False, False), Tier.PROFILE_SEGMENTS),
        # The index covers the segments: the profile id first, so that the index can answer.
        (Known(1, base=_entry(Kind.FULL, {"S1"})), TWO, Plan(True, False), Tier.PROFILES),
    ],
)
def test_the_plan_is_klaviyos_cheapest_path_for_what_is_known(
    known: Known, targeted: frozenset[str], expected: Plan, tier: Tier
) -> None:
    chosen = plan(known, targeted, per_segment_max=3)
    assert chosen == expected and chosen.first_tier is tier


def test_what_a_step_learns_becomes_base_and_fallback_but_never_an_index_answer() -> None:
    known = Known(1)
    known.learn(_entry(Kind.PARTIAL, {"S1"}, {"S1"}, stamp=0), TWO)  # an index answer, older stamp
    assert known.base is None and known.fallback is None
    partial = _entry(Kind.PARTIAL, {"S1"}, {"S1"})
    known.learn(partial, TWO)
    assert known.base is partial and known.fallback is None  # it does not know S2
    full = _entry(Kind.FULL, {"S1"})
    known.learn(full, TWO, as_fallback=False)
    assert known.base is full and known.fallback is None
    known.learn(full, TWO)
    assert known.fallback is full


async def test_the_l1_step_answers_a_usable_value(make_resolver: MakeResolver) -> None:
    resolver = make_resolver()
    resolver._caches.l1.put(KX, _entry(Kind.FULL, {"S1", "S9"}))
    chain = resolver.chain(CONN, KX, TWO)
    assert await chain.l1()
    assert chain.out.source is Source.L1 and chain.out.entry is not None


async def test_the_l1_step_passes_on_what_it_knows(make_resolver: MakeResolver) -> None:
    resolver = make_resolver()
    resolver._caches.l1.put(KX, _entry(Kind.PARTIAL, {"S1"}, {"S1"}))
    resolver._caches.keep_profile_id(CONN, KX, "P1")
    chain = resolver.chain(CONN, KX, TWO)
    assert not await chain.l1()
    assert chain.known.base is not None and chain.known.profile_id == "P1" and chain.out.entry is None


async def test_the_l1_step_serves_a_per_visit_answer_once_the_index_cannot_answer(
    make_resolver: MakeResolver,
) -> None:
    resolver = make_resolver()
    index = FakeIndex()
    index.answer = None  # it covers the segments but cannot answer now
    resolver.index = index
    resolver._caches.l1.put(KX, _entry(Kind.FULL, {"S2"}))
    resolver._caches.keep_profile_id(CONN, KX, "P1")
    chain = resolver.chain(CONN, KX, TWO)
    assert await chain.l1()
    assert index.lookups == 1 and chain.known.stamp is None
    assert chain.out.source is Source.L1 and chain.out.entry is not None and chain.out.entry.members == {"S2"}


async def test_the_index_step_answers_when_the_profile_id_is_known(make_resolver: MakeResolver) -> None:
    resolver = make_resolver()
    resolver.index = FakeIndex()
    chain = resolver.chain(CONN, KX, TWO)
    assert not await chain._index()  # no profile id yet
    chain.known.profile_id = "P1"
    assert await chain._index()
    assert chain.out.source is Source.INDEX and chain.out.path is ResolutionPath.INDEX
    assert chain.out.entry is not None and chain.out.entry.members == {"S1"} and chain.out.entry.stamp == 1


async def test_the_l2_step_is_skipped_without_redis(make_resolver: MakeResolver) -> None:
    chain = make_resolver().chain(CONN, KX, TWO)
    assert not await chain.l2()
    assert (await chain.lock()) == (False, None)


@pytest.mark.redis
async def test_the_l2_step_answers_from_redis_and_fills_l1(
    make_resolver: MakeResolver, redis_client: RedisClient, redis_prefix: str
) -> None:
    resolver = make_resolver(redis=redis_client, prefix=redis_prefix, redis_timeout_s=2.0)  # a loaded machine
    key = segments(redis_prefix, CONN.account_id, CONN.generation, KX)
    await redis_client.set(key, msgspec.json.encode(L2Entry(int(Kind.FULL), ["S2"])), px=60_000)
    chain = resolver.chain(CONN, KX, TWO)
    assert await chain.l2()
    assert chain.out.source is Source.L2 and resolver.metrics.counters["l2_hit"] == 1
    assert resolver._caches.l1.get(CONN.account_id, CONN.generation, KX) is chain.out.entry


@pytest.mark.redis
async def test_the_lock_step_waits_for_the_holder_until_the_deadline(
    make_resolver: MakeResolver, redis_client: RedisClient, redis_prefix: str
) -> None:
    holder = make_resolver(redis=redis_client, prefix=redis_prefix)
    settled, token = await holder.chain(CONN, KX, TWO).lock()
    assert not settled and token is not None
    waiter = make_resolver(
        redis=redis_client, prefix=redis_prefix, background_deadline_s=0.1, lock_poll_s=0.02
    )
    chain = waiter.chain(CONN, KX, TWO)
    assert await chain.lock() == (True, None)
    assert chain.out.pending is PendingReason.DEADLINE and chain.out.waited_for is WaitedFor.LOCK


async def test_the_klaviyo_step_checks_few_segments_one_by_one(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))

    def answer(request: httpx.Request, segment_id: str) -> httpx.Response:
        return ids("profile", *(["P1"] if segment_id == "S2" else []))

    klaviyo.get(path__regex=SEGMENT_MEMBERS).mock(side_effect=answer)
    chain = make_resolver().chain(CONN, KX, TWO)
    await chain.klaviyo()
    assert chain.out.path is ResolutionPath.PER_SEGMENT and chain.out.source is Source.KLAVIYO
    assert (
        chain.out.entry is not None
        and chain.out.entry.members == {"S2"}
        and chain.out.entry.kind is Kind.PARTIAL
    )
    assert chain.out.calls == {"profiles": 1, "segment_members": 2}


async def test_the_klaviyo_step_reads_the_profiles_segments_for_many(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=ids("profile", "P1"))
    klaviyo.get(PROFILE_SEGMENTS).mock(return_value=ids("segment", "S1", "S9"))
    chain = make_resolver().chain(CONN, KX, FOUR)
    await chain.klaviyo()
    assert chain.out.path is ResolutionPath.PROFILE
    assert chain.out.entry is not None and chain.out.entry.kind is Kind.FULL
    assert chain.known.profile_id == "P1"


async def test_the_klaviyo_step_turns_a_failure_into_pending_and_caches_nothing(
    klaviyo: respx.MockRouter, make_resolver: MakeResolver
) -> None:
    klaviyo.get("/api/profiles").mock(return_value=httpx.Response(503))
    resolver = make_resolver()
    chain = resolver.chain(CONN, KX, FOUR)
    await chain.klaviyo()
    assert chain.out.pending is PendingReason.KLAVIYO_ERROR and chain.out.entry is None
    assert resolver.l1_size == 0

from __future__ import annotations

import sandbox
from klaviyo import KLAVIYO_LIMITS, LocalRateGate, ReservedGate, Tier, TierLimit, budget_limits
from klaviyo.gate import reserved


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_budgets_sit_below_klaviyo_limits() -> None:
    limits = budget_limits(0.8)
    for tier, limit in limits.items():
        assert limit.per_second <= KLAVIYO_LIMITS[tier].per_second
        assert limit.per_minute < KLAVIYO_LIMITS[tier].per_minute
    assert limits[Tier.PROFILE_SEGMENTS] == TierLimit(2, 48)


def test_sliding_windows_bound_every_second_and_minute() -> None:
    clock = Clock()
    gate = LocalRateGate({Tier.PROFILE_SEGMENTS: TierLimit(2, 5)}, clock=clock)
    taken: list[float] = []
    for _ in range(2000):  # 100 s in steps of 50 ms, taking whenever allowed
        if gate.take_now("A", Tier.PROFILE_SEGMENTS) is None:
            taken.append(clock.now)
        clock.now += 0.05
    for start in taken:
        assert sum(start <= t < start + 1 for t in taken) <= 2
        assert sum(start <= t < start + 60 for t in taken) <= 5
    assert len(taken) >= 5


def test_refusal_says_when_to_come_back() -> None:
    clock = Clock()
    gate = LocalRateGate({Tier.PROFILES: TierLimit(1, 10)}, clock=clock)
    assert gate.take_now("A", Tier.PROFILES) is None
    clock.now += 0.25
    refusal = gate.take_now("A", Tier.PROFILES)
    assert refusal is not None and abs(refusal.retry_after_s - 0.75) < 1e-9
    assert gate.peek("B", Tier.PROFILES) is None  # other accounts are separate
    clock.now += 0.75
    assert gate.take_now("A", Tier.PROFILES) is None


def test_a_block_refuses_every_tier_until_it_runs_out() -> None:
    clock = Clock()
    gate = LocalRateGate(clock=clock)
    gate.block_now("A", 30)
    gate.block_now("A", 5)  # never shortened
    refusal = gate.take_now("A", Tier.SEGMENTS)
    assert refusal is not None and refusal.throttled and refusal.retry_after_s == 30
    clock.now += 30
    assert gate.take_now("A", Tier.SEGMENTS) is None


async def test_background_work_leaves_visitors_their_reserve() -> None:
    clock = Clock()
    gate = LocalRateGate({Tier.SEGMENT_MEMBERS: TierLimit(10, 100)}, clock=clock)
    background = ReservedGate(gate, 0.3)
    admitted = 0
    while await background.take("A", Tier.SEGMENT_MEMBERS) is None:
        admitted += 1
    assert admitted == 7  # 70% of the second's 10 calls
    refusal = await background.take("A", Tier.SEGMENT_MEMBERS)
    assert refusal is not None and not refusal.throttled and 0 < refusal.retry_after_s <= 1
    for _ in range(3):  # visitors still get the rest of the window
        assert gate.take_now("A", Tier.SEGMENT_MEMBERS) is None
    assert gate.take_now("A", Tier.SEGMENT_MEMBERS) is not None
    clock.now += 1
    assert await background.take("A", Tier.SEGMENT_MEMBERS) is None


async def test_background_work_waits_out_a_block_too() -> None:
    clock = Clock()
    gate = LocalRateGate(clock=clock)
    background = ReservedGate(gate, 0.3)
    await background.block("A", 10)  # a 429 seen by the sync blocks the whole account
    assert gate.take_now("A", Tier.PROFILES) is not None
    refusal = await background.take("A", Tier.SEGMENT_MEMBERS)
    assert refusal is not None and refusal.throttled


def test_a_reserve_never_leaves_background_work_without_any_call() -> None:
    assert reserved(TierLimit(1, 3), 0.5) == TierLimit(1, 1)
    assert reserved(TierLimit(60, 560), 0.3) == TierLimit(42, 392)
    assert reserved(TierLimit(60, 560), 0.0) == TierLimit(60, 560)


def test_our_one_limits_table_agrees_with_the_sandboxs_own_copy() -> None:
    """The sandbox (the fake Klaviyo) keeps its table apart on purpose, so that a mistake in ours
    cannot hide in the fake too; they must say the same for every tier we call."""
    for tier, limit in KLAVIYO_LIMITS.items():
        theirs = sandbox.DEFAULT_LIMITS[sandbox.Tier(tier.value)]
        assert (limit.per_second, limit.per_minute) == (theirs.burst, theirs.steady), tier


def test_a_budget_can_be_cut_for_some_tiers_only() -> None:
    limits = budget_limits(0.5, share=0.5, tiers=(Tier.EVENTS, Tier.BULK_EVENTS))
    assert limits == {Tier.EVENTS: TierLimit(87, 875), Tier.BULK_EVENTS: TierLimit(2, 37)}
    gate = LocalRateGate(limits, clock=Clock())
    assert gate.limit(Tier.EVENTS) == TierLimit(87, 875)

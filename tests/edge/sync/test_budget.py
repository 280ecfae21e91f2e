"""Budget sharing: the sync takes its calls from the resolver's per-account budget, and visitors
come first: with the sync's share of the window spent, a visitor's lookup still goes through
while the sync waits for room."""

from __future__ import annotations

from edge.resolver import Identified, ResolutionPath
from edge.resolver.budget import FleetRateGate
from klaviyo import LocalRateGate, Tier
from tests.edge.sync.conftest import ACCOUNT, CONN, SEG_A, MakePair, Sandbox, fresh, kx_of
from tests.waiting import wait_until_async

A = frozenset({SEG_A})


async def test_visitors_first_the_sync_waits(make_pair: MakePair, sandbox: Sandbox) -> None:
    # Segment-members budget: 7/s and 70/min; the sync may fill 70% of it (4/s, 49/min).
    pair = await make_pair(resolver={"budget_fractions": {Tier.SEGMENT_MEMBERS: 0.1}}, reserve_fraction=0.3)
    gate = pair.resolver.gate
    for _ in range(4):  # the sync's share of this second is spent
        if isinstance(gate, LocalRateGate):
            assert gate.take_now(ACCOUNT, Tier.SEGMENT_MEMBERS) is None
        else:
            assert isinstance(gate, FleetRateGate)
            assert await gate.take(ACCOUNT, Tier.SEGMENT_MEMBERS) is None

    pair.sync.set_site_targets(CONN.site_id, CONN, A)

    async def sync_waiting() -> bool:
        return pair.sync.metrics.snapshot().get("sync.budget_wait", 0) >= 1

    await wait_until_async(sync_waiting, timeout=5, what="the sync to be refused")
    assert sandbox.members_calls() == 0

    # The visitor is resolved per visit (the index is not ready): its per-segment check takes a
    # call from the same tier's reserve and goes through.
    visitor = await pair.resolver.resolve(CONN, kx_of(3), A, deadline_s=2)
    assert isinstance(visitor, Identified) and visitor.segment_ids == A
    assert visitor.info.path is ResolutionPath.PER_SEGMENT
    assert visitor.info.klaviyo_calls == {Tier.PROFILES: 1, Tier.SEGMENT_MEMBERS: 1}
    assert sandbox.members_calls() == 1  # the visitor's; the sync still waits

    # Once the window slides on, the sync reads its three pages.
    await pair.wait_status(SEG_A, "the sync after the wait", fresh)
    assert sandbox.members_calls() == 4
    assert sandbox.state.calls.count(status=429) == 0
